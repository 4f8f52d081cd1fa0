"""HikariCP's pool (ConcurrentBag and HikariPool, 6.0 source).

Covers what sets it apart:

* a request never connects: one background creator adds connections one at
  a time, pausing 30 ms after each, while idle < minimumIdle or more
  requests wait than connections are idle; a burst queues behind it;
* borrowers take idle connections in creation order and wait in a fair
  (FIFO) line; a connection idle more than 500 ms is validated first,
  inside the connectionTimeout budget;
* nothing is closed on return for being "too many idle": the housekeeper,
  every 30 s, closes those idle past idleTimeout down to minimumIdle;
* maxLifetime retires each connection at its own (slightly varied) age,
  never while it is in use;
* the leak detector only logs; a leaked connection is lost.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sim.connection import Conn
from sim.errors import IN_FLIGHT, TOO_MANY_SQLSTATE, LibraryError, PoolState
from sim.pools.base import TIMED_OUT, AcquireTimeout, Pool, PoolSettings, RequestFailed
from sim.server import ConnectFailed
from sim.signs import Sign, Symptom
from sim.spec import setting
from sim.trace import Ev, Why

ALIVE_BYPASS_S = 0.5        # com.zaxxer.hikari.aliveBypassWindowMs
CREATE_PAUSE_S = 0.030      # after each successful add
BACKOFF_FIRST_S = 0.010     # after a failed add, doubling ...
BACKOFF_MAX_S = 5.0         # ... up to this
HOUSEKEEPING_S = 30.0
FIRST_HOUSEKEEPING_S = 0.1


@dataclass(frozen=True)
class HikariPool(PoolSettings):
    """HikariCP, as HikariConfig names it (milliseconds)."""

    kind = "hikari"
    library = "HikariCP"
    size_names = ("minimumIdle", "maximumPoolSize")
    simulation_only = "HikariCP is a Java library"
    markers = r"hikari|maximum-?pool-?size|minimum-?idle|spring\.datasource"
    # total is what the pool held when the request gave up: at a timeout that is its maximumPoolSize
    signs = (Sign("hikari_timeout",
                  r"Connection is not available, request timed out after (?P<connectionTimeout>\d+)\s*ms"
                  r"(?:\.?\s*\(total=(?P<maximumPoolSize>\d+), active=\d+, idle=\d+, waiting=\d+\))?",
                  Symptom.TIMEOUT, "04-timeouts"),)
    maximumPoolSize: int = setting(10, int, 1, 1000, doc="hard cap on connections",  # noqa: N815
                                   slider_max=100)
    minimumIdle: int | None = setting(None, int, 0, 1000, optional=True,  # noqa: N815
                                      doc="idle connections to keep; none = maximumPoolSize", slider_max=100)
    connectionTimeout: int = setting(30_000, int, 250, 3_600_000, unit="ms",  # noqa: N815
                                     doc="how long getConnection waits before failing", slider_max=60_000)
    idleTimeout: int = setting(600_000, int, 10_000, 604_800_000, unit="ms", off=0,  # noqa: N815
                               doc="close idle connections above minimumIdle after this; 0 = never",
                               slider_max=1_800_000)
    maxLifetime: int = setting(1_800_000, int, 30_000, 604_800_000, unit="ms", off=0,  # noqa: N815
                               doc="retire a connection at this age; 0 = never", slider_max=3_600_000)
    keepaliveTime: int = setting(0, int, 30_000, 604_800_000, unit="ms", off=0,  # noqa: N815
                                 doc="ping idle connections this often; 0 = off", slider_max=600_000)
    leakDetectionThreshold: int = setting(0, int, 2000, 604_800_000, unit="ms", off=0,  # noqa: N815
                                          doc="warn when a connection is out this long; 0 = off",
                                          slider_max=600_000)
    validationTimeout: int = setting(5000, int, 250, 3_600_000, unit="ms",  # noqa: N815
                                     doc="how long a liveness check may take", slider_max=30_000)

    @property
    def min_idle(self) -> int:
        m = self.minimumIdle
        return self.maximumPoolSize if m is None or m > self.maximumPoolSize else m

    @property
    def cap(self) -> int:
        return self.maximumPoolSize

    @property
    def base(self) -> int:
        return self.min_idle

    def check(self, path: str) -> str | None:
        if self.minimumIdle is not None and self.minimumIdle > self.maximumPoolSize:
            return (f"{path}.minimumIdle = {self.minimumIdle}: must not exceed "
                    f"{path}.maximumPoolSize ({self.maximumPoolSize})")
        return None

    def acquire_timeout(self) -> AcquireTimeout:
        return AcquireTimeout("connectionTimeout", float(self.connectionTimeout), "ms")

    def sized(self, n: int) -> dict[str, Any]:
        return {"pool.maximumPoolSize": n}   # minimumIdle unset: a fixed pool, as HikariCP advises

    def timeout_error(self, reason: str, state: PoolState) -> LibraryError:
        def n(v: int | None) -> str:
            return "?" if v is None else str(v)
        return LibraryError(
            "java.sql.SQLTransientConnectionException",
            f"HikariPool-1 - Connection is not available, request timed out after "
            f"{self.connectionTimeout}ms (total={n(state.total)}, active={n(state.active)}, "
            f"idle={n(state.idle)}, waiting={n(state.waiting)})",
            TOO_MANY_SQLSTATE if reason == "too_many_clients" else "")

    def broken_error(self, how: str = IN_FLIGHT) -> LibraryError:
        return LibraryError("org.postgresql.util.PSQLException",
                            "An I/O error occurred while sending to the backend.", "08006")


class HikariBag(Pool):
    cfg: HikariPool

    def start(self) -> None:
        self.total = 0
        self.idle: dict[int, Conn] = {}
        self.order: list[tuple[int, Conn]] = []   # idle ones by creation order (lazy heap)
        self.last_failure = Why.NONE
        self.wakeup = self.env.event()
        with contextlib.suppress(ConnectFailed):   # a refused first connect is left to the creator
            self.add(self.server.open_at_start(self.instance))  # checkFailFast: one at construction
        self.env.process(self.creator())
        self.env.process(self.housekeeper())

    # ------------------------------------------------------------- borrowing

    def acquire(self, request: int) -> Generator[Any, Any, Conn]:
        env = self.env
        deadline = env.now + self.cfg.connectionTimeout / 1000.0
        waited = False
        while True:
            conn = self.take_idle()
            if conn is None:
                self.wake_creator()
                got = yield from self.wait(request, max(0.0, deadline - env.now))
                if got is TIMED_OUT:
                    raise RequestFailed(Ev.TIMEOUT, self.last_failure)
                conn, waited = got, True
            if conn.evicted:
                self.close(conn, Why.LIFETIME, request)
                continue
            if env.now - conn.idle_since > ALIVE_BYPASS_S:
                alive = yield from self.server.roundtrips(conn, 1)
                self.emit(request, conn.id, Ev.PING, Why.OK if alive else Why.FAIL)
                if not alive:
                    self.close(conn, Why.BROKEN, request)
                    continue
            self.handed(conn, request, waited)
            self.watch_for_leak(conn, request)
            return conn

    def take_idle(self) -> Conn | None:
        while self.order:
            _, conn = heapq.heappop(self.order)
            if self.idle.pop(conn.id, None) is not None:
                return conn
        return None

    def release(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        if conn.evicted:
            self.discard(conn, request, Why.LIFETIME)
        else:
            self.emit(request, conn.id, Ev.RELEASE)
            self.went_idle(conn)
            self.offer(conn)
        yield from ()

    def offer(self, conn: Conn) -> None:
        if not self.hand_to_waiter(conn):
            self.idle[conn.id] = conn
            heapq.heappush(self.order, (conn.id, conn))

    def close(self, conn: Conn, reason: Why, request: int = -1) -> None:
        super().close(conn, reason, request)
        self.total -= 1
        self.idle.pop(conn.id, None)
        self.wake_creator()  # fillPool runs after every close

    # -------------------------------------------------------------- creating

    def wake_creator(self) -> None:
        if not self.wakeup.triggered:
            self.wakeup.succeed()

    def should_create(self) -> bool:
        idle = len(self.idle)
        return self.total < self.cfg.maximumPoolSize and (
            idle < self.cfg.min_idle or self.waiting > idle)

    def creator(self) -> Generator[Any, Any, None]:
        """The single "connection adder" thread."""
        env = self.env
        backoff = BACKOFF_FIRST_S
        while True:
            if not self.should_create():
                self.wakeup = env.event()
                yield self.wakeup
                continue
            try:
                conn = yield from self.server.connect(self.instance, -1)
            except ConnectFailed as e:
                self.last_failure = e.reason
                yield env.timeout(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)
                continue
            backoff = BACKOFF_FIRST_S
            self.last_failure = Why.NONE
            self.add(conn)
            yield env.timeout(CREATE_PAUSE_S)

    def add(self, conn: Conn) -> None:
        self.total += 1
        cfg = self.cfg
        if cfg.maxLifetime:
            life = cfg.maxLifetime / 1000.0
            if life > 10:
                life -= self.rng.uniform(0, life / 40)  # 2.5 % variance, so they do not all retire at once
            self.env.timeout(life).callbacks.append(lambda _: self.retire(conn))
        if cfg.keepaliveTime:
            self.env.process(self.keepalive(conn))
        self.went_idle(conn)
        self.offer(conn)

    # -------------------------------------------------------- timers, upkeep

    def retire(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.evicted = True
        if not conn.out:
            self.close(conn, Why.LIFETIME)

    def keepalive(self, conn: Conn) -> Generator[Any, Any, None]:
        period = self.cfg.keepaliveTime / 1000.0
        while not conn.closed:
            yield self.env.timeout(period - self.rng.uniform(0, period / 10))
            if conn.closed or self.idle.pop(conn.id, None) is None:
                continue  # only an idle connection can be reserved for the check
            alive = yield from self.server.roundtrips(conn, 1)
            self.emit(-1, conn.id, Ev.PING, Why.OK if alive else Why.FAIL)
            if alive:
                self.offer(conn)
                self.server.on_idle(conn)
            else:
                self.close(conn, Why.BROKEN)

    def housekeeper(self) -> Generator[Any, Any, None]:
        env = self.env
        cfg = self.cfg
        yield env.timeout(FIRST_HOUSEKEEPING_S)
        while True:
            if cfg.idleTimeout and cfg.min_idle < cfg.maximumPoolSize:
                limit = cfg.idleTimeout / 1000.0
                spare = len(self.idle) - cfg.min_idle
                for conn in sorted(self.idle.values(), key=lambda c: -c.id):
                    if spare <= 0:
                        break
                    if env.now - conn.idle_since > limit:
                        self.close(conn, Why.IDLE)
                        spare -= 1
            self.wake_creator()
            yield env.timeout(HOUSEKEEPING_S)

    def watch_for_leak(self, conn: Conn, request: int) -> None:
        threshold = self.cfg.leakDetectionThreshold
        if threshold:
            gen = conn.gen

            def check(_: Any) -> None:
                if conn.gen == gen and conn.out and not conn.closed:
                    self.emit(request, conn.id, Ev.LEAK_WARNING)
            self.env.timeout(threshold / 1000.0).callbacks.append(check)
