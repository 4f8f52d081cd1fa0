"""SQLAlchemy's QueuePool (AsyncAdaptedQueuePool over asyncpg).

Covers what surprises people about it, all from `pool/impl.py` and
`pool/base.py`:

* it starts empty and connects inline, in the request, only when no idle
  connection is queued, even below pool_size;
* `pool_size` is the size of the idle queue, not a minimum: a returned
  connection is closed ("overflow") only when pool_size are already idle;
* `pool_timeout` bounds only the wait for a checkin at the cap; connect,
  recycle and pre-ping time come on top;
* waiters are woken only by a checkin;
* `pool_recycle` is checked at checkout, against the time the connect began;
* a failed pre-ping, or a disconnect in a statement, invalidates every
  connection made before it: each reconnects, unpinged, at its next checkout;
* over asyncpg, statements go through asyncpg's per-connection cache of
  prepared statements: the first run of the request's statement, and the
  first pre-ping's ";", on a connection cost one more round trip.

An idle slot may hold an empty record (`None`): an invalidated connection
keeps its slot and reconnects lazily.

A leak here is a session somebody still holds a reference to (a long-lived
service object, a global): it is never returned. A session that is merely
dropped is different: the garbage collector returns its slot, empty, with a
warning, which is why the leaks that drain real pools are the held ones.

With `pool_size=0` the pool is unbounded and counts no overflow: `_overflow`
still counts its records, but `overflow()` (and `status()`'s "Current
Overflow") is 0 whenever the queue's maxsize is 0, so `overflow_base` is None.

Its error texts follow the release installed (2.1 when none is): every one
ends with its "Background on this error" link under `/e/<major><minor>/`,
on the same line for the pool's own TimeoutError, on a line of its own for
a driver error it wraps. 2.1 wraps asyncpg's errors of a failed connect
(`DBAPIError`, "(sqlalchemy.dialects.postgresql.asyncpg.Error) <text>"),
2.0 let them through unwrapped; in a statement both wrap them, 2.0 with the
driver's class before the text ("<class 'asyncpg.exceptions....'>: "). A
connection killed under a statement is a `DBAPIError`; one the server had
closed before is an `InterfaceError` ("connection is closed"). OS errors
(a server that is down) pass through as they are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sim.connection import Conn
from sim.errors import LibraryError, PoolState, installed_version
from sim.pools.base import TIMED_OUT, AcquireTimeout, Pool, PoolSettings, RequestFailed
from sim.server import first_time
from sim.signs import Sign, Symptom
from sim.spec import setting
from sim.trace import Ev, Why

PING_ROUND_TRIPS = 3  # the asyncpg dialect pings with BEGIN; SELECT; ROLLBACK
RESET_ROUND_TRIPS = 1  # reset_on_return="rollback"
DIALECT = "sqlalchemy.dialects.postgresql.asyncpg"   # the asyncpg dialect's module, which its errors name


def sqlalchemy_version() -> tuple[int, int]:
    """The installed release (2.1, the newest these texts know, when it is not installed)."""
    return installed_version("sqlalchemy", (2, 1))


def background(code: str) -> str:
    """The line every SQLAlchemy error with a code ends with; the link's /e/21/ is the release's."""
    major, minor = sqlalchemy_version()
    return f"(Background on this error at: https://sqlalche.me/e/{major}{minor}/{code})"


@dataclass(frozen=True)
class SQLAlchemyPool(PoolSettings):
    """SQLAlchemy's QueuePool / AsyncAdaptedQueuePool, as `create_engine` names it."""

    kind = "sqlalchemy"
    library = "SQLAlchemy QueuePool"
    transactions = True   # the DBAPI begins before the first statement; the pool rolls back on return
    size_names = ("pool_size", "pool_size + max_overflow")
    markers = r"sqlalchemy|create_(?:async_)?engine|QueuePool|\bmax_overflow\b|\bpool_(?:size|pre_ping)\b"
    signs = (Sign("queuepool_timeout",
                  r"QueuePool limit of size (?P<pool_size>\d+) overflow (?P<max_overflow>-?\d+) reached, "
                  r"connection timed out, timeout (?P<pool_timeout>\d+(?:\.\d+)?)",
                  Symptom.TIMEOUT, "04-timeouts"),)
    pool_size: int = setting(5, int, 0, 1000, doc="idle connections kept; 0 = unlimited, never discarded",
                             slider_max=100)
    max_overflow: int = setting(10, int, -1, 1000, doc="connections allowed beyond pool_size; -1 = unlimited",
                                slider_max=100)
    pool_timeout: float = setting(30.0, float, 0, 3600, unit="s",
                                  doc="how long a checkout waits at the cap before TimeoutError",
                                  slider_max=60)
    pool_recycle: float = setting(-1.0, float, 1, 604_800, unit="s", off=-1,
                                  doc="reconnect at checkout when older than this; -1 = never",
                                  slider_max=3_600)
    pool_pre_ping: bool = setting(False, bool, doc="test the connection at checkout")
    pool_use_lifo: bool = setting(False, bool, doc="reuse the most recently returned connection first")

    @property
    def cap(self) -> int | None:
        if self.pool_size == 0 or self.max_overflow == -1:
            return None
        return self.pool_size + self.max_overflow

    @property
    def base(self) -> int:
        return self.pool_size

    @property
    def overflow_base(self) -> int | None:
        """pool_size=0 is unbounded, and `overflow()` then always reports 0."""
        return self.pool_size or None

    @property
    def counter_base(self) -> int | None:
        """`_overflow` starts at -pool_size and counts every connection made, so `overflow()` (and
        `status()`'s "Current Overflow") reads open - pool_size: -10 for an empty pool of 10."""
        return self.pool_size or None

    def acquire_timeout(self) -> AcquireTimeout:
        return AcquireTimeout("pool_timeout", self.pool_timeout, "s")

    def sized(self, n: int) -> dict[str, Any]:
        return {"pool.pool_size": n, "pool.max_overflow": 0}

    def patient_for(self, seconds: float) -> dict[str, Any]:
        return {"pool.pool_timeout": seconds}

    def queue(self) -> tuple[int, float] | None:
        """Overflow connections come and go: only a pool without them is a fixed set of servers."""
        return None if self.cap is None or self.max_overflow else (self.cap, self.pool_timeout)

    def timeout_error(self, reason: str, state: PoolState) -> LibraryError:
        # it prints overflow() at that moment, which is max_overflow: it times out only there
        return LibraryError(
            "sqlalchemy.exc.TimeoutError",
            f"QueuePool limit of size {self.pool_size} overflow {self.max_overflow} reached, "
            f"connection timed out, timeout {self.pool_timeout:0.2f} {background('3o7r')}")

    def connect_error(self, driver: LibraryError) -> LibraryError:
        # 2.1 translates the driver's PostgresError (one with a SQLSTATE); OS errors pass as they are
        if not driver.sqlstate or sqlalchemy_version() < (2, 1):
            return driver
        return LibraryError("sqlalchemy.exc.DBAPIError",
                            f"({DIALECT}.Error) {driver.message}\n{background('dbapi')}", driver.sqlstate)

    def statement_error(self, driver: LibraryError) -> LibraryError:
        interface = driver.exception.endswith(".InterfaceError")
        name, exception, code = (("InterfaceError", "sqlalchemy.exc.InterfaceError", "rvf5") if interface
                                 else ("Error", "sqlalchemy.exc.DBAPIError", "dbapi"))
        driver_class = f"<class '{driver.exception}'>: " if sqlalchemy_version() < (2, 1) else ""
        message = f"({DIALECT}.{name}) {driver_class}{driver.message}"
        return LibraryError(exception, f"{message}\n{background(code)}", driver.sqlstate)


class QueuePool(Pool):
    cfg: SQLAlchemyPool
    query_round_trips = 2  # the asyncpg dialect sends BEGIN before a connection's first statement
    prepares = True        # through asyncpg, whose statement cache the dialect uses

    def start(self) -> None:
        cfg = self.cfg
        self.idle: deque[Conn | None] = deque()
        self.unbounded = cfg.pool_size == 0
        self.overflow = -cfg.pool_size      # = records - pool_size, as `_overflow` counts
        self.max_overflow = -1 if self.unbounded else cfg.max_overflow
        self.invalidated_at = float("-inf")
        self.take = self.idle.pop if cfg.pool_use_lifo else self.idle.popleft

    def acquire(self, request: int) -> Generator[Any, Any, Conn]:
        waited = new = False
        if self.idle:
            record = self.take()
        elif self.max_overflow == -1 or self.overflow < self.max_overflow:
            self.overflow += 1
            record, new = None, True
        else:
            record = yield from self.wait(request, self.cfg.pool_timeout)
            waited = True
            if record is TIMED_OUT:
                # a timed-out waiter looks once more: a slot freed without a checkin counts; not when
                # the request's own deadline ended the wait (asyncio.timeout cancels, nothing looks again)
                if self.past_deadline(request):   # the app's asyncio.timeout, not QueuePool's own message
                    raise RequestFailed(Ev.TIMEOUT, Why.DEADLINE)
                if self.overflow >= self.max_overflow:
                    raise RequestFailed(Ev.TIMEOUT)
                self.overflow += 1
                record, new = None, True
        conn = yield from self.checkout(record, request, new)
        return self.handed(conn, request, waited)

    def checkout(self, record: Conn | None, request: int, new: bool) -> Generator[Any, Any, Conn]:
        """Turn a queued record into a live connection: reconnect, recycle, pre-ping."""
        cfg = self.cfg
        now = self.env.now
        fresh = False
        if record is not None:
            if cfg.pool_recycle > 0 and now - record.born > cfg.pool_recycle:
                self.close(record, Why.RECYCLE, request)
                record = None
            elif record.born < self.invalidated_at:
                self.close(record, Why.INVALIDATED, request)
                record = None
        if record is None:
            record = yield from self.reconnect(request, new)
            fresh = True
        if cfg.pool_pre_ping and not fresh:
            trips = PING_ROUND_TRIPS + first_time(record, "ping", True)   # its ";" is prepared too
            alive = yield from self.server.roundtrips(record, trips)
            self.emit(request, record.id, Ev.PING, Why.OK if alive else Why.FAIL)
            if not alive:
                self.close(record, Why.BROKEN, request)
                self.invalidated_at = self.env.now
                record = yield from self.reconnect(request, new=False)
        return record

    def reconnect(self, request: int, new: bool) -> Generator[Any, Any, Conn]:
        try:
            return (yield from self.connect(request))
        except RequestFailed:
            if new:
                self.overflow -= 1  # the new record is given up; nobody waiting is woken
            else:
                self.checkin(None)  # an existing record goes back empty, keeping its slot
            raise

    def release(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        if (yield from self.reset_and_return(conn, request, RESET_ROUND_TRIPS)):
            self.checkin(conn)

    def broken(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        # a disconnect seen in a statement invalidates the whole pool, lazily
        self.discard(conn, request, Why.BROKEN)
        self.invalidated_at = self.env.now
        self.checkin(None)
        yield from ()

    def checkin(self, record: Conn | None) -> None:
        if self.hand_to_waiter(record):
            return
        if self.unbounded or len(self.idle) < self.cfg.pool_size:
            self.idle.append(record)
        else:
            if record is not None:
                self.close(record, Why.OVERFLOW)
            self.overflow -= 1
