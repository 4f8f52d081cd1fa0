"""What every live pool shares: how a request's statement is spent, and how failures are named.

A live pool wraps one real library pool for one app instance and offers the
runner the same four steps as a simulated pool: acquire, query, release (or,
after a failed statement, give it back as the library does), and abandon a
leaked connection at the end without waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from live.connector import Connector, chain, reason_of
from live.recorder import Recorder, Tracked
from sim.trace import Ev, Why

_log = logging.getLogger(__name__)


class Failed(Exception):
    """The request ends here: kind is Ev.TIMEOUT or Ev.ERROR, as in the simulation."""

    def __init__(self, kind: Ev, reason: Why = Why.NONE) -> None:
        super().__init__(f"{kind.name} {reason.name}")
        self.kind = kind
        self.reason = reason

    @property
    def caught(self) -> BaseException | None:
        """The library's own exception this failure stands for: each pool raises Failed (`from None`,
        so that a traceback shows only it) in the block that caught that exception, its context."""
        return self.__context__


_BROKEN = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
           asyncpg.AdminShutdownError, asyncpg.CrashShutdownError, asyncpg.CannotConnectNowError,
           ConnectionError, OSError)


def query_failure(exc: BaseException) -> Failed:
    """Name a failed statement: cancelled by command_timeout, a dead connection, or something else."""
    from live.poolers import reason  # its modules read `chain` from live.connector

    by_pooler = reason(exc)
    if by_pooler is not None:
        return Failed(Ev.ERROR, by_pooler)
    errors = chain(exc)
    if any(isinstance(e, (TimeoutError, asyncpg.QueryCanceledError)) for e in errors):
        return Failed(Ev.ERROR, Why.QUERY_TIMEOUT)
    if any(isinstance(e, _BROKEN) or getattr(e, "connection_invalidated", False) for e in errors):
        return Failed(Ev.ERROR, Why.BROKEN)
    return Failed(Ev.ERROR, Why.OTHER)


def connect_failure(exc: BaseException) -> Failed:
    """A connect inside acquire failed: the request fails with the connect's reason."""
    return Failed(Ev.ERROR, reason_of(exc) or Why.OTHER)


SLEEP = "SELECT pg_sleep({sleep})"
SPIN_THEN_SLEEP = (
    "WITH RECURSIVE spin(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM spin WHERE "
    "clock_timestamp() < statement_timestamp() + make_interval(secs => {cpu})) "
    "SELECT count(*), pg_sleep({sleep}) FROM spin")


def statement(hold_s: float, cpu_s: float, sleep: str = "", cpu: str = "") -> str:
    """One statement that takes `hold_s` inside the server, the first `cpu_s` of it on a core.

    The CPU part spins a recursive query until its time is up, so it really
    occupies a core (and queues for one when there are more of them than
    cores); the rest sleeps. By default the values are literals, which keeps
    it to one round trip (asyncpg's simple query protocol); `sleep` and `cpu`
    put parameter placeholders there instead, for a driver that prepares.
    """
    sleep = sleep or f"{max(hold_s - cpu_s, 0.0):.6f}"
    if cpu_s <= 0:
        return SLEEP.format(sleep=sleep)
    return SPIN_THEN_SLEEP.format(sleep=sleep, cpu=cpu or f"{cpu_s:.6f}")


class LivePool:
    """One instance's real pool; times given to it are already in wall-clock seconds."""

    def __init__(self, instance: int, cfg: Any, connector: Connector, recorder: Recorder,
                 scale: float) -> None:
        self.instance = instance
        self.cfg = cfg
        self.connector = connector
        self.recorder = recorder
        self.scale = scale

    @classmethod
    def as_installed(cls, cfg: Any) -> Any:
        """The pool's settings as the installed library runs them (the same, unless it says otherwise)."""
        return cfg

    def wall(self, scenario_s: float | None) -> float | None:
        return None if scenario_s is None else scenario_s / self.scale

    def emit(self, request: int, conn: int, kind: Ev, reason: Why = Why.NONE) -> None:
        self.recorder.emit(self.instance, request, conn, kind, reason)

    async def start(self) -> None:
        """Create the pool (asyncpg's min_size connect here, before the clock starts)."""

    async def acquire(self, request: int) -> tuple[Any, Tracked]:
        raise NotImplementedError

    async def query(self, handle: Any, tracked: Tracked, hold_s: float, cpu_s: float) -> None:
        """Run the request's statement on an asyncpg connection (or a pool's proxy for one)."""
        tracked.queries += 1
        try:
            await handle.execute(statement(hold_s, cpu_s))
        except Exception as e:
            raise query_failure(e) from None

    async def release(self, handle: Any, tracked: Tracked) -> None:
        raise NotImplementedError

    def abandon(self, handle: Any, tracked: Tracked) -> None:
        """A leaked connection at the end of the run: close it now, without waiting for anybody."""
        if not tracked.conn.is_closed():
            tracked.conn.terminate()

    async def close(self) -> None:
        """Close the pool without waiting for connections that were never given back."""


async def bounded(coro: Any, seconds: float) -> None:
    """Await a cleanup step, but never for longer than `seconds`; a failure is logged, not raised.

    The cleanup goes on whatever one step does; what went wrong is in the log.
    """
    name = getattr(coro, "__qualname__", repr(coro))
    try:
        await asyncio.wait_for(coro, seconds)
    except TimeoutError:
        _log.warning("cleanup step %s did not end within %g s", name, seconds)
    except Exception as e:
        _log.warning("cleanup step %s failed: %s: %s", name, type(e).__name__, e)
