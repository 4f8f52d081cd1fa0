"""One connect before any work, so a server that cannot be used is reported at once and plainly.

Without it a wrong DATABASE_URL surfaced deep inside a run, as the library's
exception name (`TimeoutError:` after asyncpg's default 60 s when a host
accepts TCP and never answers), and only after the run's cleanup had spent
its own seconds looking for connections that never existed. Here one connect
with a short timeout says, in one line, where it tried and what went wrong:
nothing listening, no such host, a login or database the server refuses, no
answer. Runs, `compare`, `calibrate` and the worker's measurements all start
with it.
"""

from __future__ import annotations

import asyncio
import socket

import asyncpg

from live.limits import CONNECT_TIMEOUT_S
from live.server import LiveError, Target, address

PREFLIGHT_NAME = "poolstand-preflight"   # its application_name: never counted as a run's connection


async def reach(target: Target, timeout_s: float = CONNECT_TIMEOUT_S) -> str:
    """Connect once to `target` as the runs will, and close; LiveError (one line) if that fails.

    Returns what the server says it is (`SHOW server_version`, "" if it will
    not say), so a result can name the server it was recorded on.
    """
    where = address(target.dsn)
    try:
        # asyncpg's own timeout covers the whole connect; wait_for bounds whatever it does not
        conn = await asyncio.wait_for(
            asyncpg.connect(target.dsn, timeout=timeout_s,
                            server_settings={"application_name": PREFLIGHT_NAME}), timeout_s + 1.0)
    except TimeoutError:
        raise LiveError(f"no answer from {where} in {timeout_s:g} s; "
                        "is a PostgreSQL server listening there?") from None
    except Exception as e:
        raise LiveError(why_not(e, where)) from None
    try:
        version = await conn.fetchval("SHOW server_version", timeout=timeout_s)
    except Exception:   # a proxy or pooler in front that does not pass SHOW: the run goes on unnamed
        version = ""
    finally:
        await conn.close(timeout=timeout_s)
    return str(version or "")


def why_not(e: Exception, where: str) -> str:
    """One line saying why a connect to `where` failed, in the user's terms rather than the library's."""
    if isinstance(e, ConnectionRefusedError):
        return f"nothing accepts connections at {where} (connection refused)"
    if isinstance(e, FileNotFoundError):
        return f"nothing accepts connections at {where} (no such socket)"
    if isinstance(e, socket.gaierror):
        return f"cannot find the host of {where} ({e.strerror or 'name lookup failed'})"
    if isinstance(e, asyncpg.InvalidPasswordError):
        return f"the server at {where} refused the login: {e} (wrong password)"
    if isinstance(e, asyncpg.InvalidCatalogNameError):
        return f"the server at {where} has no such database: {e}"
    if isinstance(e, asyncpg.PostgresError):   # another role, pg_hba.conf, a full or starting server
        return f"the server at {where} refused the connection: {e}"
    if isinstance(e, OSError):
        return f"cannot connect to {where} ({e.strerror or type(e).__name__})"
    text = " ".join(str(e).split())
    return f"cannot connect to {where}: {type(e).__name__}" + (f": {text}" if text else "")
