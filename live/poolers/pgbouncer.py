"""Debian's PgBouncer in front of the lab's server, for one live run.

The model of PgBouncer (docs/pgbouncer-semantics.md) is checked against the
real thing, so a live run can put the real binary between the app's pools and
the server: `Bouncer.start` runs `pgbouncer` in the foreground as a child
process, with a private temporary directory of its own (ini, auth file, unix
socket, log), on a free loopback port, and `stop` ends it whatever state it
is in. Nothing is shared between runs: two runs at once get two PgBouncers.

How it is set up, and why:

* As root (the lab runs as root on its machines), PgBouncer refuses to run
  ("PgBouncer should not run as root"), so it drops to another user: the owner
  of the server's socket directory when it has one (the sandbox's is 0700 and
  only its owner may reach the socket), else `postgres`, else `nobody`.
* One pool: the `[databases]` line forces the target's own user (and password,
  for a DATABASE_URL), so every client lands in the pool SHOW POOLS reports as
  (database, that user), and the server sees the same role as without it.
* Clients log in with md5 and a password made up for this run (in `dsn`):
  PgBouncer listens on 127.0.0.1, and `trust` there would hand the server to
  any local user while the run lasts. md5, not SCRAM: a connect through a
  pooler should cost what it costs in production, not a PBKDF2.
* The admin console (SHOW POOLS) speaks the simple query protocol only; asyncpg
  cannot read rows that way, so one persistent psycopg connection (with
  `prepare_threshold=None`, or psycopg would switch to prepared statements
  after five runs and the console would close it) polls it over the unix socket.
* PgBouncer counts that console connection among its clients for
  `max_client_conn` (it counts every console client), so the ini allows one
  more than the run's setting: the app gets exactly the number it was given.
* It shares the lab's process group, so a Ctrl-C in a terminal reaches it too
  (its safe shutdown). A lab killed outright (SIGKILL) runs no exit hook: the
  next start, in any process, reaps what it left (`reap_orphans`).
* Settings are PgBouncer's own names and values (`ini_text`). Every time
  setting of 1.18 is read as fractional seconds (`cf_set_time_usec`: strtod,
  kept in microseconds), so 1.5 means 1.5 s; counts must be whole numbers.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib.util
import json
import logging
import math
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from live.connector import chain
from live.server import LiveError, Target, _userinfo, one_line_of, redact
from sim.poolers.pgbouncer import TEXTS, PgBouncer
from sim.trace import Why

if TYPE_CHECKING:
    import psycopg

_log = logging.getLogger(__name__)

WORK_PREFIX = "poolstand-pgb-"   # each PgBouncer's private directory, in the system's temporary directory
ADMIN_USER = "poolstand_admin"   # the console user (admin_users); never a role on the server
LISTEN_HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0           # from spawn until it takes console logins and listens on its port
STOP_GRACE_S = 2.0               # after SIGINT (safe shutdown), and again after SIGTERM, before SIGKILL
SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/usr/bin:/usr/local/bin"  # sbin is not on a user's PATH
NOT_INSTALLED = ("pgbouncer is not installed (apt-get install pgbouncer); "
                 "pooler scenarios run in the model only")

Upstream = str | tuple[str, int]
"""Where PgBouncer connects: a unix socket directory (port 5432), or (host or socket directory, port)."""

POOL_MODES = ("session", "transaction", "statement")
COUNTS = ("default_pool_size", "min_pool_size", "reserve_pool_size", "max_client_conn", "max_db_connections")
SECONDS = ("reserve_pool_timeout", "server_idle_timeout", "server_lifetime", "query_wait_timeout",
           "client_idle_timeout", "server_login_retry")
SETTINGS = ("pool_mode", *COUNTS, *SECONDS)
"""The settings a run may give, by PgBouncer's own names; the rest keep PgBouncer's defaults."""

_NUMBER = re.compile(r"\d+(\.\d+)?")
_INI_KEY = re.compile(r"[A-Za-z0-9_.-]+")   # what libusual's ini parser reads as a key
_LOG_PREFIX = re.compile(r"^\S+ \S+ \S+ \[\d+\] ")   # "2026-12-07 01:51:34.171 UTC [3691] "


# -- is there one --------------------------------------------------------------------------------------


@functools.cache
def _probe() -> tuple[str, str, str | None]:
    """(path, version, why not): what `pgbouncer --version` says, once per process."""
    path = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:{SEARCH_PATH}")
    if path is None:
        return "", "", NOT_INSTALLED
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        return path, "", f"{path} does not run ({one_line_of(e)}); pooler scenarios run in the model only"
    found = re.search(r"PgBouncer (\S+)", out.stdout)
    if out.returncode != 0 or found is None:
        said = " ".join((out.stderr or out.stdout).split())[:200] or f"exit status {out.returncode}"
        return path, "", f"{path} --version failed ({said}); pooler scenarios run in the model only"
    if importlib.util.find_spec("psycopg") is None:
        return path, found[1], ("the PgBouncer lab reads SHOW POOLS with psycopg, which is not installed "
                                "(pip install -r requirements.txt); pooler scenarios run in the model only")
    return path, found[1], None


def available() -> str | None:
    """None when a runnable pgbouncer is here; otherwise one line saying why not."""
    return _probe()[2]


def version() -> str:
    """The installed PgBouncer's version ("1.18.0"), or "" if there is none."""
    return _probe()[1]


# -- the ini -------------------------------------------------------------------------------------------


def _line_safe(value: str, what: str) -> str:
    """A value that cannot end its ini line early or be cut by trimming; never quotes it (a password)."""
    if any(c in value for c in "\r\n\0") or value != value.strip():
        raise ValueError(f"{what} holds a line break or surrounding blanks, which PgBouncer's ini "
                         "cannot carry")
    return value


def _quoted(value: str, what: str) -> str:
    """A `[databases]` connection-string value, quoted as PgBouncer's loader unquotes it ('' is ')."""
    if not value:
        raise ValueError(f"{what} is empty, which PgBouncer's connection string refuses")
    return "'" + _line_safe(value, what).replace("'", "''") + "'"


def _number(key: str, value: str | int | float) -> float:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{key} must be a number (got {type(value).__name__})")
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value):
            raise ValueError(f"{key} must be a plain non-negative number (got {value[:40]!r})")
        value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} must be a finite number >= 0 (got {value})")
    return float(value)


def setting_text(key: str, value: str | int | float) -> str:
    """One setting's value as the ini says it; ValueError for a name or value it must not carry."""
    if key == "pool_mode":
        if value not in POOL_MODES:
            raise ValueError(f"pool_mode must be one of {', '.join(POOL_MODES)} (got {str(value)[:40]!r})")
        return str(value)
    number = _number(key, value)
    if key in COUNTS:
        if number != int(number) or number > 2**31 - 1:
            raise ValueError(f"{key} must be a whole number below 2^31 (got {value})")
        return str(int(number))          # never "010": PgBouncer reads counts with strtol base 0 (octal)
    if key in SECONDS:
        # kept in microseconds: round a fraction of one up, so that a tiny positive timeout never
        # becomes 0, which PgBouncer reads as "never"
        micros = math.ceil(round(number * 1e6, 3))
        whole, frac = divmod(micros, 1_000_000)
        return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")
    raise ValueError(f"unknown PgBouncer setting {key[:40]!r} (the lab sets {', '.join(SETTINGS)})")


def alias(dbname: str) -> str:
    """The name clients give PgBouncer for the database: its own, if the ini can carry it as a key."""
    return dbname if _INI_KEY.fullmatch(dbname) and dbname != "pgbouncer" else "db"


def ini_text(settings: Mapping[str, str | int | float], *, listen_port: int, workdir: Path,
             upstream: Upstream, dbname: str, user: str, password: str | None = None,
             run_as: str | None = None, server_tls_sslmode: str | None = None) -> str:
    """The pgbouncer.ini of one run: one database, its server login forced, the run's settings.

    Pure. `workdir` holds the unix socket and `userlist.txt` (see `userlist_text`);
    `upstream` is the server's socket directory or (host or socket directory, port);
    `password` is the server login's (DATABASE_URL's), `run_as` PgBouncer's
    `user` when started as root. Raises ValueError for an unknown setting or a
    value that could break the file; its messages never quote a password.
    """
    host, port = (upstream, 5432) if isinstance(upstream, str) else upstream
    if not 0 < int(listen_port) < 65536 or not 0 < int(port) < 65536:
        raise ValueError("ports must be between 1 and 65535")
    login = [f"host={_quoted(str(host), 'the server host')}", f"port={int(port)}",
             f"dbname={_quoted(dbname, 'the database name')}", f"user={_quoted(user, 'the user name')}"]
    if password:
        login.append(f"password={_quoted(password, 'the password')}")
    work = _line_safe(str(workdir), "the work directory")
    lines = [
        ";; one live run's PgBouncer, written by live/poolers/pgbouncer.py; deleted when it stops",
        "[databases]",
        f"{alias(dbname)} = {' '.join(login)}",
        "",
        "[pgbouncer]",
        f"listen_addr = {LISTEN_HOST}",
        f"listen_port = {int(listen_port)}",
        f"unix_socket_dir = {work}",
        "auth_type = md5",
        f"auth_file = {work}/userlist.txt",
        f"admin_users = {ADMIN_USER}",
    ]
    if run_as:
        lines.append(f"user = {_line_safe(run_as, 'the user to run as')}")
    if server_tls_sslmode:
        if server_tls_sslmode not in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"):
            raise ValueError(f"unknown sslmode {server_tls_sslmode[:20]!r}")
        lines.append(f"server_tls_sslmode = {server_tls_sslmode}")
    lines += [f"{key} = {setting_text(key, value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def userlist_text(logins: Mapping[str, str]) -> str:
    """The auth file: `"user" "password"` lines, a double quote doubled."""
    def q(s: str) -> str:
        return '"' + _line_safe(s, "a user name or password").replace('"', '""') + '"'
    return "".join(f"{q(user)} {q(password)}\n" for user, password in logins.items())


# -- SHOW POOLS ----------------------------------------------------------------------------------------


def parse_show_pools(columns: Sequence[str], rows: Iterable[Sequence[Any]]
                     ) -> dict[tuple[str, str], dict[str, int | float]]:
    """SHOW POOLS as numbers, by (database, user): every count column, and `maxwait` in seconds.

    Pure. `maxwait` and `maxwait_us` are one age split in two columns; they
    come back as one float. Text columns (pool_mode, master's
    load_balance_hosts) are left out. Values may be ints or their text (psql).
    """
    out: dict[tuple[str, str], dict[str, int | float]] = {}
    for row in rows:
        fields = dict(zip(columns, row, strict=True))
        numbers: dict[str, int | float] = {}
        for name, value in fields.items():
            if name in ("database", "user") or value is None:
                continue
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                numbers[name] = int(value)
        if "maxwait" in numbers:
            numbers["maxwait"] = numbers["maxwait"] + numbers.pop("maxwait_us", 0) / 1e6
        out[(str(fields["database"]), str(fields["user"]))] = numbers
    return out


def _no_pool(columns: Sequence[str]) -> dict[str, int | float]:
    """The row of a pool that does not exist yet: nobody in it."""
    numbers: dict[str, int | float] = {c: 0 for c in columns
                                       if c not in ("database", "user", "pool_mode", "maxwait_us",
                                                    "load_balance_hosts")}
    numbers["maxwait"] = 0.0
    return numbers


# -- the target ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Login:
    """How PgBouncer logs in to the server: what the target's dsn says."""

    user: str
    password: str
    dbname: str
    upstream: tuple[str, int]
    sslmode: str | None


def _login(target: Target) -> _Login:
    parts = _userinfo(target.dsn)
    if parts is None:
        raise LiveError(f"cannot put PgBouncer in front of {target.display}: not a postgresql:// URL")
    _scheme, userinfo, rest = parts
    user, _, password = userinfo.partition(":")
    try:
        split = urlsplit(f"postgresql://{rest}")
        port = split.port
    except ValueError:
        raise LiveError(f"cannot put PgBouncer in front of {target.display}: bad host or port") from None
    query = {k: v[-1] for k, v in parse_qs(split.query).items()}
    user = unquote(user) or query.get("user") or os.environ.get("PGUSER") or pwd.getpwuid(os.getuid()).pw_name
    password = unquote(password) or query.get("password", "")
    dbname = unquote(split.path.lstrip("/")) or query.get("dbname") or user
    host = target.socket_dir or split.hostname or query.get("host") or "/var/run/postgresql"
    port = port or int(query.get("port", "0") or 0)
    if not port:
        port = _socket_port(host) if host.startswith("/") else 5432
    return _Login(user, password, dbname, (host, port), query.get("sslmode"))


def _socket_port(directory: str) -> int:
    """The port of the one server socket in a directory (the sandbox's), else 5432."""
    with contextlib.suppress(OSError):
        ports = [p.name.rsplit(".", 1)[1] for p in Path(directory).glob(".s.PGSQL.*")
                 if not p.name.endswith(".lock")]
        if len(ports) == 1 and ports[0].isdigit():
            return int(ports[0])
    return 5432


def _run_as(upstream: tuple[str, int]) -> pwd.struct_passwd | None:
    """Who PgBouncer runs as: nobody else when we are not root (it runs as us)."""
    if os.geteuid() != 0:
        return None
    host = upstream[0]
    if host.startswith("/"):
        with contextlib.suppress(OSError, KeyError):
            owner = pwd.getpwuid(os.stat(host).st_uid)
            if owner.pw_uid != 0:
                return owner
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise LiveError("PgBouncer refuses to run as root, and this machine has no user postgres or nobody "
                    "to run it as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LISTEN_HOST, 0))
        return int(s.getsockname()[1])


# -- the process ---------------------------------------------------------------------------------------


class Bouncer:
    """One PgBouncer for one run: `await Bouncer.start(settings, target)`, then `dsn`, `show_pools`, `stop`.

    Also `async with await Bouncer.start(...) as bouncer:`. The app connects to
    `dsn`: the target's user and database, through PgBouncer, with this run's
    password in it (show it only through `redact`). `upstream` lets the
    server login go elsewhere than the target's own address (through the
    network proxy), still as the target's user.
    """

    def __init__(self, settings: Mapping[str, str | int | float], target: Target,
                 upstream: Upstream | None = None) -> None:
        self.settings = dict(settings)
        for key, value in self.settings.items():
            setting_text(key, value)   # a ValueError for a bad setting now, before any process or file
        # the console connection that reads SHOW POOLS is a client too: one more, so that the app
        # gets exactly the max_client_conn it was given (PgBouncer's default is 100)
        clients = int(setting_text("max_client_conn", self.settings.get("max_client_conn", 100)))
        self.settings["max_client_conn"] = clients + 1
        self.target = target
        login = _login(target)
        if upstream is not None:
            login = _Login(login.user, login.password, login.dbname,
                           (upstream, 5432) if isinstance(upstream, str) else upstream, login.sslmode)
        self.login = login
        self.dbname = alias(login.dbname)   # what clients ask PgBouncer for, and SHOW POOLS's database
        self.user = login.user              # SHOW POOLS's user: the forced server login
        self.port = 0
        self.workdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._client_password = secrets.token_hex(16)
        self._admin_password = secrets.token_hex(16)
        self._admin: psycopg.AsyncConnection[Any] | None = None
        self._columns: list[str] = []
        self._stopping: asyncio.Task[None] | None = None
        self.started_s = 0.0   # how long start took
        self.stopped_s = 0.0   # how long stop took

    # -- what the app sees ----------------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """The app's connection string: the target's user and database, through PgBouncer over TCP."""
        return (f"postgresql://{quote(self.user, safe='')}:{self._client_password}@{LISTEN_HOST}:{self.port}/"
                f"{quote(self.dbname, safe='')}")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def display(self) -> str:
        """Safe to show."""
        return f"PgBouncer {version()} on {LISTEN_HOST}:{self.port}, in front of {self.target.display}"

    def redact(self, text: str) -> str:
        """A text with this PgBouncer's passwords and the target's hidden."""
        for secret in (self._client_password, self._admin_password):
            text = text.replace(secret, "***")
        return redact(text, self.target.dsn)

    # -- start ------------------------------------------------------------------------------------------

    @classmethod
    async def start(cls, settings: Mapping[str, str | int | float], target: Target, *,
                    upstream: Upstream | None = None, timeout_s: float = START_TIMEOUT_S) -> Bouncer:
        """A running PgBouncer in front of `target`, taking logins; LiveError (one line) if it cannot start.

        ValueError for a setting it must not be given. Cancelled or failed
        half-way, it leaves no process and no directory behind.
        """
        why = available()
        if why:
            raise LiveError(why)
        _reap_once()
        bouncer = cls(settings, target, upstream)
        began = time.monotonic()
        try:
            await bouncer._start(time.monotonic() + timeout_s)
        except BaseException:
            bouncer._kill_now()
            raise
        bouncer.started_s = time.monotonic() - began
        return bouncer

    async def _start(self, deadline: float) -> None:
        path = _probe()[0]
        run_as = _run_as(self.login.upstream)
        self.workdir = work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
        _RUNNING.add(self)
        self._write_owner()
        (work / "userlist.txt").write_text(userlist_text({self.user: self._client_password,
                                                          ADMIN_USER: self._admin_password}))
        for attempt in range(3):   # a free port can be taken between choosing it and PgBouncer's bind
            self.port = _free_port()
            try:
                login = self.login
                ini = ini_text(self.settings, listen_port=self.port, workdir=work, upstream=login.upstream,
                               dbname=login.dbname, user=login.user, password=login.password or None,
                               run_as=run_as.pw_name if run_as else None, server_tls_sslmode=login.sslmode)
            except ValueError as e:   # the settings were checked: it is the target's address or login
                raise LiveError(f"cannot put PgBouncer in front of {self.target.display}: {e}") from None
            (work / "pgbouncer.ini").write_text(ini)
            for file in work.iterdir():
                file.chmod(0o600)
            work.chmod(0o700)
            if run_as is not None:
                for p in (work, *work.iterdir()):
                    os.chown(p, run_as.pw_uid, run_as.pw_gid)
            with open(work / "pgbouncer.log", "ab") as log:   # it logs to stderr in the foreground
                self.proc = subprocess.Popen([path, str(work / "pgbouncer.ini")], cwd=work,
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            self._write_owner()
            if await self._until_ready(deadline):
                return
            _log.info("PgBouncer could not listen on port %d (attempt %d); trying another", self.port,
                      attempt + 1)
            await self._end_process()
        raise LiveError(f"PgBouncer found no free port to listen on: {self.last_log_line()}")

    async def _until_ready(self, deadline: float) -> bool:
        """Wait until it takes a console login and listens on its TCP port; False if the port was taken."""
        assert self.proc is not None and self.workdir is not None
        import psycopg

        listening = f"listening on {LISTEN_HOST}:{self.port}"
        while True:
            if self.proc.poll() is not None:
                raise LiveError(f"PgBouncer exited at start (status {self.proc.returncode}): "
                                f"{self.last_log_line()}")
            try:
                self._admin = await psycopg.AsyncConnection.connect(
                    host=str(self.workdir), port=self.port, dbname="pgbouncer", user=ADMIN_USER,
                    password=self._admin_password, autocommit=True, prepare_threshold=None,
                    connect_timeout=2)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise LiveError(f"PgBouncer did not take logins within the start's time: "
                                    f"{self.last_log_line()}") from None
                await asyncio.sleep(0.02)
                continue
            log = self._log_text()
            if listening in log:
                return True
            await self._close_admin()
            if f"cannot listen on {LISTEN_HOST}:{self.port}" in log:
                return False
            raise LiveError(f"PgBouncer does not listen on {LISTEN_HOST}:{self.port}: {self.last_log_line()}")

    def _write_owner(self) -> None:
        """Who owns this directory and which process runs in it: what `reap_orphans` judges by."""
        assert self.workdir is not None
        me = _identity(os.getpid())
        child = _identity(self.proc.pid) if self.proc is not None else None
        (self.workdir / "owner.json").write_text(json.dumps({"owner": me, "child": child}))

    # -- the log ----------------------------------------------------------------------------------------

    def _log_text(self) -> str:
        if self.workdir is None:
            return ""
        try:
            return (self.workdir / "pgbouncer.log").read_text(errors="replace")
        except OSError:
            return ""

    def log_lines(self, last: int = 20) -> list[str]:
        """Its log's last lines, without their time and pid, passwords hidden."""
        lines = [_LOG_PREFIX.sub("", line) for line in self._log_text().splitlines() if line.strip()]
        return [self.redact(line) for line in lines[-last:]]

    def last_log_line(self) -> str:
        """What its log said last: its last errors (a FATAL comes after the ERROR that says why), or
        its last line."""
        lines = self.log_lines(5)
        errors = [line for line in lines if line.startswith(("ERROR ", "FATAL "))]
        return "; ".join(errors) if errors else lines[-1] if lines else "(its log is empty)"

    # -- SHOW POOLS -------------------------------------------------------------------------------------

    async def show_pools(self) -> dict[str, int | float]:
        """The run's pool's SHOW POOLS row as numbers (`parse_show_pools`); zeros before its first client."""
        if self._admin is None:
            raise LiveError("PgBouncer is not running")
        import psycopg

        try:
            cur = await self._admin.execute("SHOW POOLS")
            rows = await cur.fetchall()
        except psycopg.Error as e:
            raise LiveError(f"PgBouncer's console failed ({self.redact(one_line_of(e))}); "
                            f"its log: {self.last_log_line()}") from None
        self._columns = self._columns or [d.name for d in cur.description or ()]
        return parse_show_pools(self._columns, rows).get((self.dbname, self.user)) or _no_pool(self._columns)

    # -- stop -------------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """End it: SIGINT (safe shutdown), ≤2 s, SIGTERM, ≤2 s, SIGKILL; then delete its directory.

        Always leaves no process of it, also when cancelled (then at once, with
        SIGKILL) or called twice. Its clients' connections are closed by it.
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        try:
            await asyncio.shield(self._stopping)
        except asyncio.CancelledError:
            self._kill_now()
            raise

    async def _stop(self) -> None:
        began = time.monotonic()
        await self._close_admin()
        await self._end_process()
        self._forget()
        self.stopped_s = time.monotonic() - began

    async def _close_admin(self) -> None:
        """Close the console connection; a failure to do so politely only drops it (never raised)."""
        admin, self._admin = self._admin, None
        if admin is None:
            return
        try:
            await asyncio.wait_for(admin.close(), 1.0)
        except asyncio.CancelledError:
            admin.pgconn.finish()
            raise
        except Exception as e:
            _log.debug("closing PgBouncer's console connection: %s", one_line_of(e))
            admin.pgconn.finish()

    async def _end_process(self) -> None:
        proc = self.proc
        if proc is None:
            return
        for how, grace in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, STOP_GRACE_S),
                           (signal.SIGKILL, 10.0)):
            if proc.poll() is not None:
                break
            if how != signal.SIGINT:
                _log.info("PgBouncer (pid %d) still runs %g s after the last signal: %s", proc.pid, grace,
                          how.name)
            proc.send_signal(how)   # Popen does nothing once it has reaped the process: never another's pid
            end = time.monotonic() + grace
            while proc.poll() is None and time.monotonic() < end:
                await asyncio.sleep(0.01)
        if proc.poll() is None:
            _log.warning("PgBouncer (pid %d) survived SIGKILL", proc.pid)

    def _kill_now(self) -> None:
        """The synchronous end: for a cancelled start or stop, and at exit."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.pgconn.finish()
            self._admin = None
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10.0)
        self._forget()

    def _forget(self) -> None:
        _RUNNING.discard(self)
        if self.workdir is not None and (self.proc is None or self.proc.poll() is not None):
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def __aenter__(self) -> Bouncer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


# -- what a killed process leaves ------------------------------------------------------------------------


_RUNNING: set[Bouncer] = set()


@atexit.register
def _stop_all() -> None:
    """At exit, whatever a run left: no pgbouncer outlives the process that started it."""
    for bouncer in list(_RUNNING):
        bouncer._kill_now()


def _identity(pid: int) -> list[float] | None:
    """(pid, start time): a pid alone may be reused by the time somebody reads it."""
    import psutil

    try:
        return [pid, psutil.Process(pid).create_time()]
    except psutil.Error:
        return None


def _alive(identity: list[float] | None) -> Any:
    """The process of this identity if it still runs, else None."""
    import psutil

    if not identity:
        return None
    try:
        proc = psutil.Process(int(identity[0]))
        return proc if proc.create_time() == identity[1] and proc.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def reap_orphans(parent: Path | None = None) -> list[Path]:
    """Kill the PgBouncers whose starting process is gone (it was SIGKILLed) and delete their directories.

    A directory without its owner file is being set up by somebody, or is
    not ours: left alone.
    """
    reaped = []
    for work in sorted(Path(parent or tempfile.gettempdir()).glob(WORK_PREFIX + "*")):
        try:
            owner = json.loads((work / "owner.json").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner.get("owner")) is not None:
            continue
        child = _alive(owner.get("child"))
        if child is not None:
            with contextlib.suppress(Exception):
                child.kill()
                child.wait(5)
        shutil.rmtree(work, ignore_errors=True)
        reaped.append(work)
    return reaped


@functools.cache
def _reap_once() -> None:
    try:
        reaped = reap_orphans()
    except Exception as e:   # never a reason to refuse a run
        _log.warning("could not reap orphaned PgBouncers: %s", e)
        return
    if reaped:
        _log.info("reaped %d orphaned PgBouncer(s)", len(reaped))


# -- what a live run asks of it ----------------------------------------------------------------------------


def run_settings(cfg: PgBouncer, time_scale: float) -> dict[str, str | int | float]:
    """The scenario's [pooler] as this run's ini: every time setting divided by the time scale.

    What cannot be scaled: the janitor's third of a second, and the real cost
    of a server login (as for the server itself, see `live.runner`).
    """
    out: dict[str, str | int | float] = {}
    for key in SETTINGS:
        value = getattr(cfg, key)
        out[key] = value / time_scale if key in SECONDS and value else value
    return out


def driver_kwargs(cfg: PgBouncer) -> dict[str, Any]:
    """asyncpg's connect arguments through it: the statement cache off, as its docs ask for transaction and
    statement modes, unless the scenario leaves it on to show what breaks (`app_statement_cache`)."""
    return {} if cfg.app_statement_cache else {"statement_cache_size": 0}


_TEXTS = {text: why for why, text in TEXTS.items()}
_SQLSTATES = {"26000": Why.PREPARED_MISSING, "42P05": Why.PREPARED_EXISTS}


def reason(exc: BaseException) -> Why | None:
    """PgBouncer's refusals (its FATAL texts, verbatim in the model) and a prepared statement lost between
    servers, as the trace names them; None for anything else."""
    for e in chain(exc):
        sqlstate = getattr(e, "sqlstate", None)
        if sqlstate in _SQLSTATES:
            return _SQLSTATES[sqlstate]
        text = str(e)
        for known, why in _TEXTS.items():
            if text == known or text.endswith(f": {known}"):
                return why
    return None
