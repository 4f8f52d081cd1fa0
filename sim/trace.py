"""The trace: the event log that the simulation and the live lab both write.

Everything a learner sees (metrics, charts, the taxi stand) is computed from
this log, so a simulated and a live run are compared by one piece of code
(contract 2 of the design notes). One row per event: time on the scenario
clock, instance, request id, connection id, kind and reason.

Rows are kept in typed columns (`array.array`), not as objects: a run of a
million requests writes a few million rows, and six machine-typed columns
cost about 22 bytes a row where a tuple per row would cost ten times that.
"""

from __future__ import annotations

import csv
import io
from array import array
from enum import IntEnum
from typing import IO, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.poolers.base import ShowPools


class Ev(IntEnum):
    """What happened. A request ends with exactly one of QUERY_END, TIMEOUT, ERROR.

    With retries a request makes several attempts, but still ends once: an
    attempt that fails and will be retried writes BACKOFF (its reason says
    why it failed) instead of TIMEOUT or ERROR, and RETRY when the next one
    starts. So TIMEOUT and ERROR rows count requests that failed for good,
    as they always did, and BACKOFF rows count the attempts that were retried.
    """

    ARRIVE = 0        # a request arrives at an instance
    WAIT = 1          # it queues: the pool is at its cap (the wait lasts until its next event)
    ACQUIRE = 2       # it holds a usable connection
    CONNECT = 3       # a physical connect starts (request -1 when the pool connects on its own)
    OPEN = 4          # that connect succeeded: the connection exists on the server
    CONNECT_FAIL = 5  # that connect failed (reason says why)
    PING = 6          # a liveness check (reason ok / fail)
    QUERY_START = 7
    QUERY_END = 8     # the request got its answer: completed
    RELEASE = 9       # the connection is back in the pool (after its reset)
    CLOSE = 10        # the pool closed a connection (reason says why)
    LEAK = 11         # the request keeps its connection for ever
    TIMEOUT = 12      # the request gave up waiting for a connection
    ERROR = 13        # the request failed (reason says why)
    DEAD = 14         # the server side of a connection is gone (killed, cut, restart)
    SERVER = 15       # the server went down / came up (reason)
    LEAK_WARNING = 16  # HikariCP's leak detector logged a warning (it never reclaims)
    # app.workers and workload.retries (written only when a scenario uses them, so that a scenario
    # without them writes the very rows it always did; readers that switch on kinds ignore them)
    QUEUE = 17        # it queues for a worker: every one of its instance's `app.workers` is busy
    WORKER = 18       # it got a worker after queuing (its worker wait: from arrive to here)
    BACKOFF = 19      # an attempt failed (reason: why) and the request will retry after its backoff;
    #                   it stands in for the TIMEOUT or ERROR row that would otherwise end the request
    RETRY = 20        # the backoff is over: another attempt starts (its pool wait is counted from here)


class Why(IntEnum):
    """Why: the reason column, shared by every kind of event that has one."""

    NONE = 0
    OK = 1
    FAIL = 2
    OVERFLOW = 3        # closed on return because the idle slots were full (SQLAlchemy)
    RECYCLE = 4         # pool_recycle age reached at checkout (SQLAlchemy)
    IDLE = 5            # idle too long (asyncpg inactive lifetime, Hikari idleTimeout, Go ConnMaxIdleTime)
    LIFETIME = 6        # too old (Hikari maxLifetime, Go ConnMaxLifetime)
    MAX_QUERIES = 7     # asyncpg max_queries
    BROKEN = 8          # found dead (ping, failed query, closed socket)
    MAX_IDLE = 9        # Go: returned while MaxIdleConns were already idle
    INVALIDATED = 10    # SQLAlchemy: older than a pool-wide invalidation
    DONE = 11           # no pool: closed after its one request
    TOO_MANY_CLIENTS = 12  # PostgreSQL SQLSTATE 53300
    REFUSED = 13        # the server is down
    QUERY_TIMEOUT = 14  # asyncpg command_timeout
    OTHER = 15
    KILLED = 16         # pg_terminate_backend
    CUT = 17            # a firewall dropped it silently
    RESTART = 18        # the server restarted
    DOWN = 19
    UP = 20
    WAITED = 21         # ACQUIRE after a WAIT
    CONTEXT = 22        # Go: the caller's context deadline
    DEADLINE = 23       # the request's own deadline (workload.deadline_ms) passed waiting for a worker or,
                        # in SQLAlchemy's queue, for a connection: the app's asyncio.timeout, not QueuePool's
    TIMEOUT = 24        # a BACKOFF row's reason when the attempt timed out waiting for a connection
    # a server-side pooler in front of the server ([pooler], sim.poolers): its own refusals, which close
    # the client's connection (PgBouncer's FATAL 08P01), and what its transaction mode does to a driver's
    # prepared statements
    QUERY_WAIT_TIMEOUT = 25  # PgBouncer: waited query_wait_timeout for a server connection
    MAX_CLIENT_CONN = 26     # PgBouncer: no more connections allowed (max_client_conn)
    LOGIN_FAILING = 27       # PgBouncer: its server login failed within server_login_retry
    STATEMENT_MODE = 28      # PgBouncer: transaction blocks not allowed in statement pooling mode
    PREPARED_MISSING = 29    # SQLSTATE 26000: the server connection behind the pooler lacks the statement
    PREPARED_EXISTS = 30     # SQLSTATE 42P05: the server connection already has a statement of that name


EV_NAMES = [e.name.lower() for e in Ev]
WHY_NAMES = [w.name.lower() for w in Why]

COLUMNS = ("t", "instance", "request", "conn", "kind", "reason")


class Trace:
    """An append-only event log in six typed columns."""

    __slots__ = ("_t", "_instance", "_request", "_conn", "_kind", "_reason", "backend", "show_pools")

    def __init__(self) -> None:
        # with a pooler ([pooler]) the rows are the app's connections to it; its own server connections
        # are traced in `backend`, and its state, as SHOW POOLS reports it, in `show_pools`
        self.backend: Trace | None = None
        self.show_pools: ShowPools | None = None
        self._t = array("d")
        self._instance = array("h")
        self._request = array("q")
        self._conn = array("q")
        self._kind = array("B")
        self._reason = array("B")

    def emit(self, t: float, instance: int, request: int, conn: int, kind: int, reason: int = 0) -> None:
        self._t.append(t)
        self._instance.append(instance)
        self._request.append(request)
        self._conn.append(conn)
        self._kind.append(kind)
        self._reason.append(reason)

    def __len__(self) -> int:
        return len(self._t)

    @property
    def nbytes(self) -> int:
        """The memory its rows take (what a cache of runs counts)."""
        return sum(col.itemsize * len(col) for col in (self._t, self._instance, self._request, self._conn,
                                                          self._kind, self._reason))

    def in_time_order(self) -> bool:
        """Whether the rows were written in time order, as the model and the live recorder write them."""
        t = np.frombuffer(self._t, dtype=np.float64) if len(self._t) else np.zeros(0)
        ordered = bool(len(t) < 2 or np.all(t[1:] >= t[:-1]))
        del t   # a numpy view of the array would keep it from growing
        return ordered

    def columns(self) -> dict[str, np.ndarray]:
        """Zero-copy numpy views of the columns, sorted by time if they are not already."""
        typed = (("t", self._t, np.float64), ("instance", self._instance, np.int16),
                 ("request", self._request, np.int64), ("conn", self._conn, np.int64),
                 ("kind", self._kind, np.uint8), ("reason", self._reason, np.uint8))
        cols: dict[str, np.ndarray] = {
            name: np.frombuffer(col, dtype=dtype) if len(col) else np.zeros(0, dtype)
            for name, col, dtype in typed}
        t = cols["t"]
        if len(t) > 1 and np.any(t[1:] < t[:-1]):
            order = np.argsort(t, kind="stable")
            cols = {k: v[order] for k, v in cols.items()}
        return cols

    def rows(self, start: int = 0, stop: int | None = None) -> list[tuple[float, int, int, int, str, str]]:
        """Readable rows (kind and reason as names) for tests and small tables."""
        stop = len(self) if stop is None else stop
        return [(self._t[i], self._instance[i], self._request[i], self._conn[i],
                 EV_NAMES[self._kind[i]], WHY_NAMES[self._reason[i]])
                for i in range(start, stop)]

    def write_csv(self, out: IO[str]) -> None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        cols = self.columns()
        for t, inst, req, conn, kind, why in zip(*(cols[name].tolist() for name in COLUMNS), strict=True):
            writer.writerow((f"{t:.6f}", inst, req, conn, EV_NAMES[kind], WHY_NAMES[why]))

    def to_csv(self) -> str:
        buf = io.StringIO()
        self.write_csv(buf)
        return buf.getvalue()

    @classmethod
    def read_csv(cls, src: IO[str]) -> Trace:
        trace = cls()
        ev = {n: i for i, n in enumerate(EV_NAMES)}
        why = {n: i for i, n in enumerate(WHY_NAMES)}
        reader = csv.reader(src)
        header = next(reader)
        if tuple(header) != COLUMNS:
            raise ValueError(f"not a Pool Stand trace: header {header}")
        for t, inst, req, conn, kind, reason in reader:
            trace.emit(float(t), int(inst), int(req), int(conn), ev[kind], why[reason])
        return trace
