"""PgBouncer in front of the server: its settings as it names them, and its model.

Followed from PgBouncer's source (master @13a344f2; the live lab runs
Debian's 1.18, and where the two differ the model follows 1.18); the notes,
with every rule's source, are in `docs/pgbouncer-semantics.md`:

* one pool (one database, one user): a FIFO of waiting clients and a LIFO
  stack of idle server connections (`objects.c` `change_client_state`
  appends, `release_server` prepends); a released server goes straight to
  the oldest waiter (`reuse_on_release`), so nobody barges past a waiter;
* a client's login takes no server (`finish_client_login` answers from the
  cached welcome), except the pool's very first, which waits for one;
  `max_client_conn` refuses the login past it (`client.c`
  `decide_startup_pool`): FATAL `no more connections allowed (max_client_conn)`;
* a server is assigned at a client's first packet (`handle_client_work` →
  `find_server`) and released at ReadyForQuery 'I' (`server_proto`):
  after every transaction in transaction mode, every statement in
  statement mode, and only when the client disconnects in session mode,
  after `DISCARD ALL` (`server_reset_query`, run in session mode only);
  a transaction block in statement mode closes the client and the server:
  FATAL `transaction blocks not allowed in statement pooling mode`;
  every packet needs a server, so a driver's ping or reset on return is a
  short transaction of its own in transaction mode;
* servers open one at a time (`launch_new_connection`: one login in flight
  per pool), up to `default_pool_size`, counting the one logging in; when
  the oldest client has waited `reserve_pool_timeout`, up to
  `reserve_pool_size` more (`taking connection from reserve_pool`);
  `max_db_connections` caps them too, and at that cap a client waits, with
  no error; after a failed login none is tried for `server_login_retry`,
  and a client that needs a server while the pool has none is refused:
  `server login has been failing, try again later (server_login_retry)`
  (1.18 relays the server's own text instead for the pool's very first
  login; the model uses this one text for both);
* the janitor runs three times a second (`janitor.c` `do_full_maint`): a
  client waiting `query_wait_timeout` (from its query's first packet) gets
  FATAL `query_wait_timeout` and its connection is closed; idle servers
  past `server_idle_timeout` close (never below `min_pool_size`), and past
  `server_lifetime`; `min_pool_size` is topped up one at a time while the
  pool has clients; a client idle (holding no server) past
  `client_idle_timeout` is closed;
* a server idle longer than `server_check_delay` (30 s) runs its check
  query before it is handed out: one more round trip (`launch_recheck`);
* the hop: each round trip of the app's passes PgBouncer, `hop_ms` more;
* prepared statements (transaction and statement modes): a driver that
  prepares a named statement (SQLAlchemy over asyncpg; asyncpg's own pool
  sends its statements unprepared here) does it in a transaction of its
  own, so its Execute may land on a server that lacks the statement
  (SQLSTATE 26000, `does not exist`) or its Parse on one that has the name
  already from another process (42P05, `already exists`); each server keeps
  its statements until it closes. With `app_statement_cache = false`
  (`statement_cache_size=0`, the fix) every statement is re-parsed, one
  round trip more and no errors.

Left out: several pools (databases or users), cancel requests, TLS, the
admin console's PAUSE and RELOAD, `query_timeout` and `idle_transaction_timeout`
(the app's own statements here never idle inside a transaction).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim.connection import FIN, Conn
from sim.errors import CLOSED_MID_OPERATION, LibraryError
from sim.poolers.base import PoolerSettings, ShowPools
from sim.server import ConnectFailed, QueryFailed, Server
from sim.spec import setting
from sim.trace import Ev, Trace, Why

MODES = ("session", "transaction", "statement")
JANITOR_S = 1.0 / 3.0        # main.c: full_maint_period = USEC / 3
SERVER_CHECK_DELAY_S = 30.0  # server_check_delay's default: older idle servers are checked before use
LOGIN_MS = 0.2               # a client's login to PgBouncer: no fork, the cached welcome (measured 1.0 ms
#                              connect through it, against 3.6-4.2 ms direct, most of it the client's own)

QUERY_WAIT_TIMEOUT = "query_wait_timeout"
MAX_CLIENT_CONN = "no more connections allowed (max_client_conn)"
LOGIN_FAILING = "server login has been failing, try again later (server_login_retry)"
STATEMENT_MODE = "transaction blocks not allowed in statement pooling mode"
TEXTS = {Why.QUERY_WAIT_TIMEOUT: QUERY_WAIT_TIMEOUT, Why.MAX_CLIENT_CONN: MAX_CLIENT_CONN,
         Why.LOGIN_FAILING: LOGIN_FAILING, Why.STATEMENT_MODE: STATEMENT_MODE}
"""PgBouncer's own refusals, verbatim: each is sent as FATAL with SQLSTATE 08P01 and closes the client."""

FIRST_STATEMENT = 12  # an app statement's first number in a process: SQLAlchemy 2.1 names 11 before (live)
STATEMENT_NAME = f"__asyncpg_stmt_{FIRST_STATEMENT:x}__"
"""The name of a process's first statement of its own: asyncpg counts them per process, in hex."""


@dataclass(frozen=True)
class PgBouncer(PoolerSettings):
    """PgBouncer's settings, with its names, units (seconds) and defaults (`main.c` `bouncer_params`)."""

    kind = "pgbouncer"
    product = "PgBouncer"
    pool_mode: str = setting("session", str, choices=MODES,
                             doc="when a server connection goes back: session: when the client disconnects; "
                                 "transaction: after each transaction; statement: after each statement")
    default_pool_size: int = setting(20, int, 1, 10_000, doc="server connections of the pool", slider_max=100)
    min_pool_size: int = setting(0, int, 0, 10_000, doc="server connections kept open while clients are "
                                 "connected", slider_max=100)
    reserve_pool_size: int = setting(0, int, 0, 10_000, doc="extra server connections once a client has "
                                     "waited reserve_pool_timeout", slider_max=50)
    reserve_pool_timeout: float = setting(5.0, float, 0.001, 3600, unit="s", off=0,
                                          doc="wait after which the reserve may open; 0 = never",
                                          slider_max=30)
    max_client_conn: int = setting(100, int, 1, 100_000, doc="client connections PgBouncer accepts",
                                   slider_max=1000)
    max_db_connections: int = setting(0, int, 1, 100_000, off=0,
                                      doc="server connections to the database, all pools; 0 = no limit",
                                      slider_max=200)
    server_idle_timeout: float = setting(600.0, float, 0.001, 86_400, unit="s", off=0,
                                         doc="close a server connection idle this long; 0 = never",
                                         slider_max=900)
    server_lifetime: float = setting(3600.0, float, 0.001, 86_400, unit="s", off=0,
                                     doc="close a server connection this old when it is next free; 0 = never",
                                     slider_max=7200)
    query_wait_timeout: float = setting(120.0, float, 0.001, 86_400, unit="s", off=0,
                                        doc="a client waiting this long for a server is disconnected; "
                                            "0 = wait for ever", slider_max=300)
    client_idle_timeout: float = setting(0.0, float, 0.001, 86_400, unit="s", off=0,
                                         doc="disconnect a client idle this long; 0 = never", slider_max=900)
    server_login_retry: float = setting(15.0, float, 0.001, 3600, unit="s",
                                        doc="after a failed server login, wait this long before the next",
                                        slider_max=60)
    hop_ms: float = setting(0.1, float, 0, 1000, unit="ms",
                            doc="what passing PgBouncer adds to each round trip (calibrate it per host)",
                            slider_max=5)
    app_statement_cache: bool = setting(False, bool,
                                        doc="the app's driver keeps named prepared statements (asyncpg's "
                                            "statement_cache_size=100); false: statement_cache_size=0, as "
                                            "transaction and statement modes need")

    def driver_error(self, reason: str) -> tuple[bool, LibraryError] | None:
        """asyncpg's exception for each of PgBouncer's refusals (FATAL 08P01, which closes the connection)
        and for a prepared statement lost between servers."""
        why = Why[reason.upper()] if reason.upper() in Why.__members__ else None
        if why == Why.MAX_CLIENT_CONN:
            return True, LibraryError("asyncpg.exceptions.ProtocolViolationError", MAX_CLIENT_CONN, "08P01")
        if why in TEXTS:
            return False, LibraryError("asyncpg.exceptions.ConnectionDoesNotExistError",
                                       f"{CLOSED_MID_OPERATION}: {TEXTS[why]}")
        # asyncpg's own str() adds a HINT about pgbouncer; SQLAlchemy's dialect, the one library here
        # that prepares named statements, shows the server's message alone
        if why == Why.PREPARED_MISSING:
            return False, LibraryError("asyncpg.exceptions.InvalidSQLStatementNameError",
                                       f'prepared statement "{STATEMENT_NAME}" does not exist', "26000")
        if why == Why.PREPARED_EXISTS:
            return False, LibraryError("asyncpg.exceptions.DuplicatePreparedStatementError",
                                       f'prepared statement "{STATEMENT_NAME}" already exists', "42P05")
        return None

    @property
    def releases_per_statement(self) -> bool:
        """The server goes back after each transaction or statement, not at the client's disconnect."""
        return self.pool_mode != "session"

    def ini(self) -> dict[str, str]:
        """Its [pgbouncer] settings as the live lab writes them into pgbouncer.ini."""
        out: dict[str, str] = {}
        for name in ("pool_mode", "default_pool_size", "min_pool_size", "reserve_pool_size",
                     "reserve_pool_timeout", "max_client_conn", "max_db_connections", "server_idle_timeout",
                     "server_lifetime", "query_wait_timeout", "client_idle_timeout", "server_login_retry"):
            value = getattr(self, name)
            out[name] = f"{value:g}" if isinstance(value, float) else str(value)
        return out


TIMED_OUT = object()
REFUSED = object()


class Waiter:
    __slots__ = ("event", "since")

    def __init__(self, event: simpy.Event, since: float) -> None:
        self.event = event
        self.since = since


class Bouncer:
    """The model of one PgBouncer pool: what the app's pools meet in place of the server.

    It answers the calls a pool makes of a server (`connect`, `query`,
    `roundtrips`, `disconnect`, ...) for the app's connections, which end
    here, and makes those of its own server connections to the real server.
    It writes the app's connections' rows into the run's trace, as a server
    would, and its state as SHOW POOLS readings into `show_pools`.

    `transactions`: the app's library wraps its statements in a transaction
    (SQLAlchemy: BEGIN before the statement, ROLLBACK on return), so in
    transaction mode a server is held from the statement to the reset after
    it; a driver in autocommit (asyncpg's pool) gives it back after each.
    """

    def __init__(self, env: simpy.Environment, trace: Trace, server: Server, cfg: PgBouncer,
                 transactions: bool) -> None:
        self.env = env
        self.trace = trace
        self.server = server
        self.cfg = cfg
        self.transactions = transactions
        self.hop = cfg.hop_ms / 1000.0
        self.rtt = server.rtt + self.hop
        self.connect_s = 2 * self.hop + LOGIN_MS / 1000.0
        self.up = True                      # PgBouncer itself is never down in these scenarios
        self.on_dead: Callable[[Conn], None] = lambda conn: None   # the app pool owning a client
        self.on_idle: Callable[[Conn], None] = lambda conn: None   # no firewall between app and PgBouncer
        self.show_pools = ShowPools()
        self.clients = 0                    # logging in or logged in: what max_client_conn counts
        self.conns: dict[int, Conn] = {}    # logged-in clients
        self.waiters: deque[Waiter] = deque()   # only clients still waiting: the ones given up are removed
        self.idle: list[Conn] = []          # a stack: the last released is taken first
        self.servers: set[int] = set()      # connected server connections' ids
        self.holding: dict[int, Conn] = {}  # client id -> the server it holds now
        self.tested = 0                     # servers running DISCARD ALL or the check query
        self.logging_in = 0
        self.failed_at: float | None = None  # when the last server login failed
        self.welcomed = False               # a server login has succeeded once: logins need no server now
        self.login_waiters = 0              # clients whose login waits for the pool's first server
        self.statements: dict[int, int] = {}   # per app instance (a process): the last statement number used
        self.names: dict[int, str] = {}     # client id -> the name of its prepared statement
        server.on_dead = self._server_died
        env.process(self._janitor())

    # ---------------------------------------------------------------- SHOW POOLS

    def reading(self) -> None:
        """A SHOW POOLS row now: at every change, and once at the end of the run.

        `sv_used` stays 0: a server idle past server_check_delay stays on the idle stack here and pays
        its check query when it is next handed out, where PgBouncer moves it to sv_used meanwhile.
        """
        waiting = len(self.waiters)
        maxwait = self.env.now - self.waiters[0].since if waiting else 0.0
        active = len(self.conns) - waiting + self.login_waiters
        self.show_pools.add(self.env.now, (active, waiting, len(self.holding), len(self.idle), 0, self.tested,
                                           self.logging_in), maxwait)

    # ------------------------------------------------------------------ clients

    def connect(self, instance: int, request: int) -> Generator[Any, Any, Conn]:
        """A client's login: refused past max_client_conn; the pool's first login waits for a server."""
        conn = self.server.new_conn(instance, request, self.trace)
        if self.clients >= self.cfg.max_client_conn:
            yield self.env.timeout(self.connect_s)
            return self._refuse(conn, request, Why.MAX_CLIENT_CONN)
        self.clients += 1
        yield self.env.timeout(self.connect_s)
        if not self.welcomed:
            self.login_waiters += 1
            try:
                server = yield from self._assign(conn)   # the first login waits for the pool's first server
            except QueryFailed as failed:
                self.clients -= 1
                return self._refuse(conn, request, failed.reason)
            finally:
                self.login_waiters -= 1
            self.holding.pop(conn.id, None)
            self._release(server)
        self._admit(conn, request)
        return conn

    def open_at_start(self, instance: int) -> Conn:
        """A client connected before the clock starts; its pool's first server too, if it was the first."""
        conn = self.server.new_conn(instance, -1, self.trace)
        if self.clients >= self.cfg.max_client_conn:
            self._refuse(conn, -1, Why.MAX_CLIENT_CONN)
        if not self.welcomed:
            try:
                server = self.server.open_at_start(0)
            except ConnectFailed:
                self._refuse(conn, -1, Why.LOGIN_FAILING)
            self.servers.add(server.id)
            self.welcomed = True
            self._push_idle(server)
        self.clients += 1
        self._admit(conn, -1)
        return conn

    def _admit(self, conn: Conn, request: int) -> None:
        conn.last_io = self.env.now
        self.conns[conn.id] = conn
        self.trace.emit(self.env.now, conn.instance, request, conn.id, Ev.OPEN)
        self.reading()

    def _refuse(self, conn: Conn, request: int, reason: Why) -> Conn:
        self.trace.emit(self.env.now, conn.instance, request, conn.id, Ev.CONNECT_FAIL, reason)
        raise ConnectFailed(reason)

    def disconnect(self, conn: Conn) -> None:
        """The client is gone: its server goes back after DISCARD ALL (session mode), or is closed if
        it was mid-transaction ("client disconnect while server was not ready")."""
        if self.conns.pop(conn.id, None) is None:
            return
        conn.dead = conn.dead or FIN
        self.clients -= 1
        server = self.holding.pop(conn.id, None)
        if server is not None:
            if server.user is not None or server.dead or self.cfg.releases_per_statement:
                self._close_server(server)
                self._grow()
            else:
                self.env.process(self._discard_all(server))
        self.reading()

    def _kill_client(self, conn: Conn, reason: Why) -> None:
        """PgBouncer closes a client (its FATAL): the app learns it at its next use, or at once if in use."""
        if conn.id not in self.conns:
            return
        self.trace.emit(self.env.now, conn.instance, -1, conn.id, Ev.DEAD, reason)
        self.disconnect(conn)
        self.on_dead(conn)

    # --------------------------------------------------------------- statements

    def query(self, conn: Conn, hold_s: float, cpu_s: float = 0.0, command_timeout: float | None = None,
              round_trips: int = 1, prepares: bool = False) -> Generator[Any, Any, None]:
        """The app's statement: a server for it, then the server's work, plus the hop each way."""
        env, cfg = self.env, self.cfg
        if conn.dead:
            yield env.timeout(self.rtt)
            raise QueryFailed(Why.BROKEN)
        conn.queries += 1
        conn.user = env.active_process
        per_statement = cfg.releases_per_statement
        try:
            server = yield from self._server_for(conn)
            if cfg.pool_mode == "statement" and self.transactions:
                yield env.timeout(self.rtt)   # BEGIN comes back 'T': PgBouncer closes both ends
                self._close_server(self.holding.pop(conn.id))
                self._kill_client(conn, Why.STATEMENT_MODE)
                raise QueryFailed(Why.STATEMENT_MODE)
            extra = 0
            if prepares and per_statement:
                yield from self._prepared(conn, server)
                extra = 0 if cfg.app_statement_cache else 1   # an unnamed statement is parsed every time
            yield from self.server.query(server, hold_s, cpu_s, command_timeout, round_trips + extra,
                                         prepares and not per_statement)
            yield env.timeout(self.hop * (round_trips + extra))
        except QueryFailed as failed:
            if failed.reason == Why.BROKEN:   # its server died under it: PgBouncer closes the client too
                self._kill_client(conn, Why.BROKEN)
            raise
        finally:
            conn.user = None
            conn.last_io = env.now
            if per_statement and not self.transactions:
                self._done_with(conn)

    def _prepared(self, conn: Conn, server: Conn) -> Generator[Any, Any, None]:
        """A named statement through a pooler that hands out servers per transaction.

        The driver prepares the statement once per connection of its own, under
        a name from its process's counter, and then believes it prepared; the
        server it lands on holds only the names it was given. Every process
        counts alike, so a name may be on a server already from another
        process (42P05 at the Parse), or missing from the one this time
        (26000 at the Bind).
        """
        if not self.cfg.app_statement_cache:
            return
        name = self.names.get(conn.id)
        if name is None:
            number = self.statements.get(conn.instance, FIRST_STATEMENT - 1) + 1
            self.statements[conn.instance] = number
            name = f"__asyncpg_stmt_{number:x}__"
            yield self.env.timeout(self.rtt)   # Parse/Describe
            if name in server.prepared:
                raise QueryFailed(Why.PREPARED_EXISTS)
            server.prepared.add(name)
            self.names[conn.id] = name
        elif name not in server.prepared:
            yield self.env.timeout(self.rtt)   # Bind meets the error
            raise QueryFailed(Why.PREPARED_MISSING)

    def roundtrips(self, conn: Conn, n: int, count_queries: int = 0) -> Generator[Any, Any, bool]:
        """A ping or a reset from the app: a server for it, unless the client holds one already."""
        if conn.dead:
            if conn.dead != FIN:
                yield self.env.timeout(self.rtt)
            return False
        if n == 0:
            return True
        try:
            server = yield from self._server_for(conn)
        except QueryFailed:
            return False
        ok = yield from self.server.roundtrips(server, n)
        if ok:
            yield self.env.timeout(n * self.hop)
        conn.queries += count_queries
        conn.last_io = self.env.now
        if not ok:
            self._kill_client(conn, Why.BROKEN)
        elif self.cfg.releases_per_statement:
            self._done_with(conn)    # a reset or a ping ends its transaction
        return ok

    def _server_for(self, conn: Conn) -> Generator[Any, Any, Conn]:
        """The server the client holds (session mode, or inside a transaction), or one assigned now."""
        server = self.holding.get(conn.id)
        if server is not None:
            return server
        try:
            server = yield from self._assign(conn)
        except QueryFailed as failed:
            self._kill_client(conn, failed.reason)
            raise
        if conn.id not in self.conns:     # the client went while it waited
            self._release(server)
            raise QueryFailed(Why.BROKEN)
        self.holding[conn.id] = server
        self.reading()
        return server

    def _done_with(self, conn: Conn) -> None:
        """The transaction is over: the server goes back."""
        server = self.holding.pop(conn.id, None)
        if server is not None:
            self._release(server)

    # ------------------------------------------------------------------ servers

    def _assign(self, client: Conn) -> Generator[Any, Any, Conn]:
        """The top idle server, or a place at the end of the queue (QueryFailed if PgBouncer gives up)."""
        env = self.env
        server = self._pop_idle()
        if server is None:
            if self.failed_at is not None and not self.servers and not self.logging_in \
                    and env.now - self.failed_at < self.cfg.server_login_retry:
                raise QueryFailed(Why.LOGIN_FAILING)
            waiter = Waiter(env.event(), env.now)
            self.waiters.append(waiter)
            self.reading()
            self._grow()
            got = yield waiter.event
            if got is TIMED_OUT:
                raise QueryFailed(Why.QUERY_WAIT_TIMEOUT)
            if got is REFUSED:
                raise QueryFailed(Why.LOGIN_FAILING)
            server = got
        server.out = True
        if env.now - server.idle_since > SERVER_CHECK_DELAY_S:
            self.tested += 1
            ok = yield from self.server.roundtrips(server, 1)   # server_check_query
            self.tested -= 1
            if not ok:
                self._close_server(server, Why.BROKEN)
                return (yield from self._assign(client))
        return server

    def _pop_idle(self) -> Conn | None:
        while self.idle:
            server = self.idle.pop()
            if not server.dead:
                return server
        return None

    def _push_idle(self, server: Conn) -> None:
        server.out = False
        server.idle_since = self.env.now
        self.idle.append(server)
        self.server.on_idle(server)

    def _release(self, server: Conn) -> None:
        """Back from a client: closed if too old, else to the oldest waiter, else on the idle stack."""
        lifetime = self.cfg.server_lifetime
        if server.dead or server.id not in self.servers:
            self.servers.discard(server.id)
            self._grow()
        elif lifetime and self.env.now - server.born >= lifetime:
            self._close_server(server, Why.LIFETIME)
            self._grow()
        elif not self._hand(server):
            self._push_idle(server)
        self.reading()

    def _hand(self, server: Conn) -> bool:
        """Give the server to the longest-waiting client."""
        if not self.waiters:
            return False
        self.reading()             # the reading that carries this waiter's whole wait
        self.waiters.popleft().event.succeed(server)
        return True

    def _discard_all(self, server: Conn) -> Generator[Any, Any, None]:
        """Session mode: the reset query before the server is anybody else's (sv_tested meanwhile)."""
        self.tested += 1
        self.reading()
        ok = yield from self.server.roundtrips(server, 1)
        self.tested -= 1
        server.prepared.clear()
        if ok:
            self._release(server)
        else:
            self._close_server(server, Why.BROKEN)
            self._grow()

    def _close_server(self, server: Conn, reason: Why = Why.OTHER) -> None:
        """PgBouncer closes one of its server connections (its CLOSE row goes to the backend trace)."""
        if server.id in self.servers:
            self.servers.discard(server.id)
            server.closed = True
            self.server.trace.emit(self.env.now, server.instance, -1, server.id, Ev.CLOSE, reason)
            if server in self.idle:
                self.idle.remove(server)
            self.server.disconnect(server)
            self.reading()

    def _server_died(self, server: Conn) -> None:
        """The server ended one of PgBouncer's connections (a kill, a restart): it is dropped, and a client
        holding it is closed with it."""
        if server.id not in self.servers:
            return
        self.servers.discard(server.id)
        if server in self.idle:
            self.idle.remove(server)
        for client_id, held in list(self.holding.items()):
            if held is server:
                del self.holding[client_id]
                self._kill_client(self.conns[client_id], Why.BROKEN)
        self._grow()
        self.reading()

    def _limit(self) -> int:
        cfg = self.cfg
        limit = cfg.default_pool_size
        if cfg.reserve_pool_size and cfg.reserve_pool_timeout and self.waiters \
                and self.env.now - self.waiters[0].since >= cfg.reserve_pool_timeout:
            limit += cfg.reserve_pool_size
        if cfg.max_db_connections:
            limit = min(limit, cfg.max_db_connections)
        return limit

    def _grow(self) -> None:
        """Open one server connection if a client waits, none is logging in, and the limits allow."""
        if self.waiters and len(self.servers) < self._limit():
            self._launch()

    def _launch(self) -> None:
        if self.logging_in or (self.failed_at is not None
                               and self.env.now - self.failed_at < self.cfg.server_login_retry):
            return
        self.logging_in = 1
        self.reading()
        self.env.process(self._login())

    def _login(self) -> Generator[Any, Any, None]:
        try:
            server = yield from self.server.connect(0, -1)
        except ConnectFailed:
            self.logging_in = 0
            self.failed_at = self.env.now
            if not self.servers:    # nothing to wait for: every waiting client is told
                waiters, self.waiters = self.waiters, deque()
                for waiter in waiters:
                    waiter.event.succeed(REFUSED)
            self.reading()
            return
        self.logging_in = 0
        self.failed_at = None
        self.welcomed = True
        self.servers.add(server.id)
        if not self._hand(server):
            self._push_idle(server)
        self.reading()
        self._grow()

    # ------------------------------------------------------------------ janitor

    def _janitor(self) -> Generator[Any, Any, None]:
        """Three times a second: waits past query_wait_timeout, idle and old servers, the minimum."""
        env, cfg = self.env, self.cfg
        while True:
            yield env.timeout(JANITOR_S)
            now = env.now
            if cfg.query_wait_timeout and self.waiters \
                    and now - self.waiters[0].since >= cfg.query_wait_timeout:
                self.reading()
                while self.waiters and now - self.waiters[0].since >= cfg.query_wait_timeout:
                    self.waiters.popleft().event.succeed(TIMED_OUT)
                self.reading()
            self._expire_servers(now)
            if cfg.client_idle_timeout:
                for client in list(self.conns.values()):
                    if client.user is None and client.id not in self.holding \
                            and now - client.last_io >= cfg.client_idle_timeout:
                        self._kill_client(client, Why.IDLE)
            if self.conns and len(self.servers) < min(cfg.min_pool_size, cfg.default_pool_size):
                self._launch()
            self._grow()

    def _expire_servers(self, now: float) -> None:
        cfg = self.cfg
        for server in list(self.idle):   # the bottom of the stack first: the least recently used
            too_old = cfg.server_lifetime and now - server.born >= cfg.server_lifetime
            if len(self.servers) <= cfg.min_pool_size and not too_old:
                break
            if too_old or (cfg.server_idle_timeout and now - server.idle_since >= cfg.server_idle_timeout):
                self._close_server(server, Why.LIFETIME if too_old else Why.IDLE)
