"""The PostgreSQL server as the pools meet it.

Five things about the server shape what a pool does, so those five are
modelled and nothing else: a new connection costs a fork and an
authentication (plus round trips across the network); every statement costs
a round trip; backend slots are limited and shared by every application
instance, with the last few reserved for superusers; CPU cores are
finite, so queries beyond the core count wait for one; and, when a scenario
asks for it (`contention`, `coherency`, fitted to a real server), a crowded
server is slower for every query (`Crowding`).

A connect over the limit is refused the way PostgreSQL refuses it: after
the full startup cost, with SQLSTATE 53300.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from sim.connection import ALIVE, FIN, SILENT, Conn
from sim.trace import Ev, Trace, Why

if TYPE_CHECKING:   # the scenario imports the pool libraries, which import this
    from sim.scenario import Database

CONNECT_ROUND_TRIPS = 2  # TCP handshake, then startup packet to ReadyForQuery (trust auth)


@dataclass(frozen=True)
class Crowding:
    """How a crowded server slows each query: the Universal Scalability Law's two terms.

    With n statements under way (this one included), a query takes
    1 + sigma (n - 1) + kappa n (n - 1) times as long as alone, so n busy
    connections complete n / that many queries per query-time: Gunther's
    X(n) = X(1) n / (1 + sigma (n - 1) + kappa n (n - 1)). sigma is queueing
    for something shared (a hot row's lock, WAL insertion); kappa is the cost
    of keeping shared state coherent, which makes throughput fall past a
    peak at n = sqrt((1 - sigma) / kappa). The load is counted when the
    statement starts, a snapshot: a closed loop of n clients sees exactly n.
    Both 0 (the default): nothing changes, every run stays as it was.
    """

    sigma: float = 0.0
    kappa: float = 0.0

    def slowdown(self, n: int) -> float:
        return 1.0 + self.sigma * (n - 1) + self.kappa * n * (n - 1)

    def throughput(self, n: float) -> float:
        """Relative to one client's."""
        return n / (1.0 + self.sigma * (n - 1) + self.kappa * n * (n - 1))

    @property
    def peak(self) -> float | None:
        """The concurrency of highest throughput; None when it only levels off."""
        return math.sqrt((1 - self.sigma) / self.kappa) if self.kappa > 0 else None


class Front(Protocol):
    """What an application's pool meets: the server itself, or a pooler in front of it (`sim.poolers`)."""

    rtt: float
    connect_s: float
    up: bool
    on_dead: Callable[[Conn], None]
    on_idle: Callable[[Conn], None]

    def connect(self, instance: int, request: int) -> Generator[Any, Any, Conn]: ...

    def open_at_start(self, instance: int) -> Conn: ...

    def disconnect(self, conn: Conn) -> None: ...

    def query(self, conn: Conn, hold_s: float, cpu_s: float = 0.0, command_timeout: float | None = None,
              round_trips: int = 1, prepares: bool = False) -> Generator[Any, Any, None]: ...

    def roundtrips(self, conn: Conn, n: int, count_queries: int = 0) -> Generator[Any, Any, bool]: ...


KEEPS_CONNECTION = frozenset({Why.QUERY_TIMEOUT, Why.PREPARED_MISSING, Why.PREPARED_EXISTS})
"""Statement failures after which the connection is still good: the pool gets it back as usual."""


class ConnectFailed(Exception):
    def __init__(self, reason: Why) -> None:
        super().__init__(reason.name)
        self.reason = reason


class QueryFailed(Exception):
    def __init__(self, reason: Why) -> None:
        super().__init__(reason.name)
        self.reason = reason


class Server:
    def __init__(self, env: simpy.Environment, trace: Trace, db: Database) -> None:
        self.env = env
        self.trace = trace
        self.rtt = db.rtt_ms / 1000.0
        self.connect_s = db.connect_ms / 1000.0 + CONNECT_ROUND_TRIPS * self.rtt
        self.max_connections = db.max_connections
        self.role_limit = db.role_limit
        self.cores = simpy.Resource(env, db.cores) if db.cores else None
        self.crowding = Crowding(db.contention, db.coherency)
        self.active = 0                  # statements under way, every instance's
        self.used = 0                    # backend slots taken, connecting ones included
        self.up = True
        self.epoch = 0                   # bumped by every restart: connects in flight fail
        self.restarting: simpy.Event | None = None   # fires when the restart under way is over
        self.alive: dict[int, Conn] = {}
        self.next_id = 0
        self.on_dead: Callable[[Conn], None] = lambda conn: None  # the owning pool's reaction
        self.on_idle: Callable[[Conn], None] = lambda conn: None  # a firewall's watch, if any

    # ------------------------------------------------------------ connecting

    def connect(self, instance: int, request: int) -> Generator[Any, Any, Conn]:
        """Open a connection; raise ConnectFailed the way the server would refuse it."""
        env = self.env
        conn = self.new_conn(instance, request)
        if not self.up:
            yield env.timeout(self.rtt)
            return self._refuse(conn, request, Why.REFUSED)
        over = self.used >= self.role_limit
        if self.used >= self.max_connections:
            yield env.timeout(self.connect_s)   # no slot at all: refused after startup
            return self._refuse(conn, request, Why.TOO_MANY_CLIENTS)
        self.used += 1                          # the backend holds a slot while it starts
        epoch = self.epoch
        if self.connect_s:
            yield env.timeout(self.connect_s)
        if over or epoch != self.epoch:
            self.used -= 1
            return self._refuse(conn, request, Why.TOO_MANY_CLIENTS if over else Why.REFUSED)
        self._admit(conn, request)
        return conn

    def open_at_start(self, instance: int) -> Conn:
        """A connection made before the scenario clock starts (a pool's warm-up); ConnectFailed if refused."""
        conn = self.new_conn(instance, -1)
        if self.used >= self.role_limit:
            self._refuse(conn, -1, Why.TOO_MANY_CLIENTS)
        self.used += 1
        self._admit(conn, -1)
        return conn

    def new_conn(self, instance: int, request: int, trace: Trace | None = None) -> Conn:
        """A connection starting its connect, its CONNECT row written (into `trace`: a pooler's clients').

        Ids come from here for a pooler's clients too, so none is used twice in a run.
        """
        conn = Conn(self.next_id, instance, self.env.now)
        self.next_id += 1
        (self.trace if trace is None else trace).emit(self.env.now, instance, request, conn.id, Ev.CONNECT)
        return conn

    def _admit(self, conn: Conn, request: int) -> None:
        conn.slot = True
        conn.last_io = self.env.now
        self.alive[conn.id] = conn
        self.trace.emit(self.env.now, conn.instance, request, conn.id, Ev.OPEN)

    def _refuse(self, conn: Conn, request: int, reason: Why) -> Conn:
        self.trace.emit(self.env.now, conn.instance, request, conn.id, Ev.CONNECT_FAIL, reason)
        raise ConnectFailed(reason)

    def disconnect(self, conn: Conn) -> None:
        """The client closed it: the backend exits and frees its slot."""
        if conn.slot:
            conn.slot = False
            self.used -= 1
            del self.alive[conn.id]

    # -------------------------------------------------------------- statements

    def query(self, conn: Conn, hold_s: float, cpu_s: float = 0.0,
              command_timeout: float | None = None, round_trips: int = 1,
              prepares: bool = False) -> Generator[Any, Any, None]:
        """One statement: its round trips plus the hold, the CPU share waiting for a core.

        `prepares`: the driver prepares a statement the first time a connection runs it.
        """
        env = self.env
        if conn.dead:
            yield from self._fail_dead(conn)
        conn.queries += 1
        conn.user = env.active_process
        self.active += 1
        hold_s *= self.crowding.slowdown(self.active)
        duration = self.rtt * (round_trips + first_time(conn, "query", prepares)) + hold_s
        try:
            if command_timeout is not None and duration > command_timeout:
                yield env.timeout(command_timeout)  # asyncpg cancels it; the connection stays usable
                raise QueryFailed(Why.QUERY_TIMEOUT)
            if self.cores is not None and cpu_s > 0:
                with self.cores.request() as core:
                    yield core
                    yield env.timeout(cpu_s)
                yield env.timeout(duration - cpu_s)
            else:
                yield env.timeout(duration)
        except simpy.Interrupt:
            raise QueryFailed(Why.BROKEN) from None
        finally:
            self.active -= 1
            conn.user = None
            conn.last_io = env.now

    def roundtrips(self, conn: Conn, n: int, count_queries: int = 0) -> Generator[Any, Any, bool]:
        """A ping or a reset: n round trips; False if the connection turns out dead."""
        if conn.dead == FIN:
            return False                    # the library already knows the socket is closed
        if conn.dead == SILENT:
            yield self.env.timeout(self.rtt)  # the first packet meets a reset
            return False
        if n and self.rtt:
            yield self.env.timeout(n * self.rtt)
            if conn.dead:
                return False                # it died while the packets were on the way
        conn.queries += count_queries
        conn.last_io = self.env.now
        return True

    def _fail_dead(self, conn: Conn) -> Generator[Any, Any, None]:
        if conn.dead == SILENT:
            yield self.env.timeout(self.rtt)
        raise QueryFailed(Why.BROKEN)

    # ------------------------------------------------------------------ faults

    def kill(self, conn: Conn, reason: Why, how: int = FIN) -> None:
        """The server side goes away: terminated, restarted, or cut off by a firewall."""
        if conn.dead != ALIVE or conn.closed:
            return
        conn.dead = how
        if conn.slot:
            conn.slot = False
            self.used -= 1
            del self.alive[conn.id]
        self.trace.emit(self.env.now, conn.instance, -1, conn.id, Ev.DEAD, reason)
        if conn.user is not None and how == FIN:
            conn.user.interrupt(reason)
        self.on_dead(conn)

    def restart(self, down_s: float) -> Generator[Any, Any, None]:
        """Down for `down_s`, then up; a restart that comes while another is under way follows it.

        As in the live lab (`live.faults.restart_now`): two restarts never
        overlap, so the second is not cut short by the first coming up.
        """
        env = self.env
        while self.restarting is not None:
            yield self.restarting
        self.restarting = env.event()
        self.up = False
        self.epoch += 1
        self.trace.emit(env.now, -1, -1, -1, Ev.SERVER, Why.DOWN)
        for conn in list(self.alive.values()):
            self.kill(conn, Why.RESTART)
        yield env.timeout(down_s)
        self.up = True
        self.trace.emit(env.now, -1, -1, -1, Ev.SERVER, Why.UP)
        done, self.restarting = self.restarting, None
        done.succeed()


def first_time(conn: Conn, statement: str, prepares: bool) -> int:
    """1 the first time a preparing driver runs `statement` on `conn`, 0 after, and 0 if it does not prepare.

    asyncpg keeps a cache of prepared statements per connection: the first run
    of a statement on a connection sends Parse/Describe and waits for the
    answer before Bind/Execute, one more round trip (measured through a
    0.3 ms proxy: a ping 9.7 against 7.3 ms, a query 5.4 against 2.7 ms).
    """
    if not prepares or statement in conn.prepared:
        return 0
    conn.prepared.add(statement)
    return 1
