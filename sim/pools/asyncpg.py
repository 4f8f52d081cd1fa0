"""asyncpg's Pool, as 0.31 and as 0.32 have it (`pool.version`).

Covers, from `asyncpg/pool.py`:

* `max_size` holders on a LIFO stack; the warm ones are reused first;
* `create_pool` connects `min_size` of them (0.32: `init_size`, default
  `min_size`) and raises if one of those connects fails: an instance whose
  pool cannot be created serves nothing;
* `acquire(timeout)` bounds the wait for a holder plus its connect; with no
  timeout it waits for ever; a timeout is a bare `TimeoutError`; against a
  server that is down the connect is refused at once, so acquire fails fast;
* on release, a reset query costs a round trip before the holder is back,
  and a connection that reached `max_queries` is closed instead;
* each idle connection has its own inactivity timer. In 0.31 it closes the
  connection even below `min_size`, so a quiet pool shrinks to nothing and
  nothing refills it. In 0.32 `min_size` is a floor: the timer leaves a
  connection alone while `min_size` or fewer are connected, and when a
  holder below the floor loses its connection (max_queries, a server kill,
  a failed connect in acquire) one background task reconnects empty
  holders one at a time, retrying after 1 s, doubling up to 60 s, while
  the server refuses (`_maintain_min_size`); and `acquire` takes a
  connected holder before an empty one (`_PoolConnectionHolderQueue`);
* there is no pre-ping: a connection the server closed (with a goodbye) is
  noticed and replaced at acquire, one cut silently fails its first query.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sim.connection import FIN, Conn
from sim.pools.base import TIMED_OUT, AcquireTimeout, Pool, PoolSettings, RequestFailed
from sim.server import ConnectFailed
from sim.signs import Sign, Symptom
from sim.spec import setting
from sim.trace import Ev, Why

RESET_ROUND_TRIPS = 1  # SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;
VERSIONS = ("0.31", "0.32")
REFILL_FIRST_S = 1.0   # 0.32's _maintain_min_size: the wait after a failed reconnect, doubling ...
REFILL_MAX_S = 60.0    # ... up to this


@dataclass(frozen=True)
class AsyncpgPool(PoolSettings):
    """asyncpg's Pool, as `asyncpg.create_pool` and `pool.acquire` name it."""

    kind = "asyncpg"
    library = "asyncpg Pool"
    size_names = ("min_size", "max_size")
    markers = r"asyncpg|create_pool|\bmin_size\b|\bmax_size\b|max_inactive_connection_lifetime"
    # the driver's texts: SQLAlchemy over asyncpg passes them on too
    signs = (Sign("asyncpg_too_many", r"TooManyConnectionsError", Symptom.TOO_MANY, "07-server-limit",
                  names_pool=False),
             Sign("asyncpg_closed",
                  r"connection was closed in the middle of operation|ConnectionDoesNotExistError",
                  Symptom.BROKEN, "06-stale-connections", names_pool=False))
    version: str = setting(VERSIONS[-1], str, choices=VERSIONS,
                           doc="the asyncpg release modelled: 0.32 keeps min_size connected and refills it")
    min_size: int = setting(10, int, 0, 1000,
                            doc="0.31: opened at creation, not kept; 0.32: a floor kept connected",
                            slider_max=100)
    max_size: int = setting(10, int, 1, 1000, doc="holders in the pool: the hard cap", slider_max=100)
    init_size: int | None = setting(None, int, 0, 1000, optional=True,
                                    doc="0.32: connections opened at creation; none = min_size",
                                    slider_max=100)
    max_queries: int = setting(50_000, int, 1, 10_000_000, doc="close a connection after this many queries",
                               slider_max=100_000)
    max_inactive_connection_lifetime: float = setting(
        300.0, float, 0.001, 604_800, unit="s", off=0,
        doc="close a connection idle this long (0.31: even below min_size); 0 = never", slider_max=900)
    timeout: float | None = setting(None, float, 0.001, 3600, unit="s", optional=True,
                                    doc="acquire timeout, connect included; none = wait forever",
                                    slider_max=60)
    command_timeout: float | None = setting(None, float, 0.001, 3600, unit="s", optional=True,
                                            doc="per-query timeout; none = no limit", slider_max=60)

    @property
    def cap(self) -> int:
        return self.max_size

    @property
    def base(self) -> int:
        return self.initial if not self.floor else max(self.min_size, self.initial)

    def check(self, path: str) -> str | None:
        if self.min_size > self.max_size:
            return f"{path}.min_size = {self.min_size}: must not exceed {path}.max_size ({self.max_size})"
        if self.init_size is not None:
            if self.version == "0.31":
                return f"{path}.init_size: asyncpg 0.31 has no init_size (it is new in 0.32)"
            if not self.min_size <= self.init_size <= self.max_size:
                return (f"{path}.init_size = {self.init_size}: must be from {path}.min_size "
                        f"({self.min_size}) to {path}.max_size ({self.max_size}), as create_pool requires")
        return None

    @property
    def floor(self) -> bool:
        """min_size is kept connected (0.32), not only opened at creation (0.31)."""
        return self.version != "0.31"

    @property
    def initial(self) -> int:
        """Connections create_pool opens."""
        return self.init_size if self.init_size is not None else self.min_size

    def acquire_timeout(self) -> AcquireTimeout:
        return AcquireTimeout("timeout", self.timeout, "s")

    def sized(self, n: int) -> dict[str, Any]:
        return {"pool.min_size": n, "pool.max_size": n}

    def patient_for(self, seconds: float) -> dict[str, Any]:
        return {"pool.timeout": seconds}   # pool.acquire(timeout=...)

    def queue(self) -> tuple[int, float]:
        return self.cap, math.inf if self.timeout is None else self.timeout


class HolderPool(Pool):
    cfg: AsyncpgPool

    def start(self) -> None:
        cfg = self.cfg
        self.command_timeout = cfg.command_timeout
        self.connected: set[Conn] = set()        # holders with a live connection, in use or idle (get_size)
        self.refilling = False                   # 0.32's one maintenance task is running
        self.failed_start: Why | None = None     # create_pool raised: the instance never served
        self.stack: list[Conn | None] = [None] * (cfg.max_size - cfg.initial)
        for _ in range(cfg.initial):
            try:
                conn = self.server.open_at_start(self.instance)
            except ConnectFailed as refused:
                self.failed_start = refused.reason
                # create_pool terminates what it had opened, in the order it opened them (a set's own
                # order follows the objects' addresses, which differ from run to run)
                for opened in sorted(self.connected, key=lambda c: c.id):
                    self.close(opened, Why.OTHER)
                self.stack = []
                return
            self.stack.append(conn)
            self.connected.add(conn)
            self.went_idle(conn)
            self.arm_idle_timer(conn)

    def acquire(self, request: int) -> Generator[Any, Any, Conn]:
        if self.failed_start is not None:   # the app instance never got its pool
            raise RequestFailed(Ev.ERROR, self.failed_start)
        timeout = self.cfg.timeout
        env = self.env
        deadline = None if timeout is None else env.now + timeout
        waited = False
        if self.stack:
            holder = self.stack.pop(self.take_index())
        else:
            holder = yield from self.wait(request, timeout)
            waited = True
            if holder is TIMED_OUT:
                raise RequestFailed(Ev.TIMEOUT)
        if holder is None or holder.closed:
            if deadline is not None and self.server.up and env.now + self.server.connect_s > deadline:
                # wait_for cancels the connect when the acquire timeout runs out (a server that is
                # down refuses at once, and the acquire fails with that instead)
                yield env.timeout(deadline - env.now)
                self.put_back(None)
                raise RequestFailed(Ev.TIMEOUT)
            try:
                holder = yield from self.connect(request)
            except RequestFailed:
                self.put_back(None)
                self.below_floor()
                raise
            self.connected.add(holder)
        return self.handed(holder, request, waited)

    def take_index(self) -> int:
        """Which holder acquire takes: the top of the stack; 0.32 takes the topmost connected one first."""
        if self.cfg.floor:
            for i in range(len(self.stack) - 1, -1, -1):
                holder = self.stack[i]
                if holder is not None and not holder.closed:
                    return i
        return len(self.stack) - 1

    def release(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        if conn.queries >= self.cfg.max_queries:
            self.discard(conn, request, Why.MAX_QUERIES)
            self.put_back(None)
            self.below_floor()
            return
        if (yield from self.reset_and_return(conn, request, RESET_ROUND_TRIPS, count_queries=1)):
            self.arm_idle_timer(conn)
            self.put_back(conn)

    def broken(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        if conn.closed and not conn.out:
            return  # its holder already went back when the connection died
        self.discard(conn, request, Why.BROKEN)
        self.put_back(None)
        self.below_floor()
        yield from ()

    def on_dead(self, conn: Conn) -> None:
        # the event loop sees the EOF at once: an idle connection is marked closed, and a
        # checked-out one not running a statement (a leak, a reset) gives its holder back
        if conn.dead != FIN or conn.closed:
            return
        if not conn.out:
            self.close(conn, Why.BROKEN)
        elif conn.user is None:
            self.discard(conn, -1, Why.BROKEN)
            self.put_back(None)
        self.below_floor()

    def put_back(self, holder: Conn | None) -> None:
        if not self.hand_to_waiter(holder):
            self.stack.append(holder)

    def arm_idle_timer(self, conn: Conn) -> None:
        lifetime = self.cfg.max_inactive_connection_lifetime
        if lifetime > 0:
            gen = conn.gen
            self.env.timeout(lifetime).callbacks.append(lambda _: self.expire(conn, gen))

    def expire(self, conn: Conn, gen: int) -> None:
        if conn.gen == gen and not conn.out and not conn.closed:
            if self.cfg.floor and len(self.connected) <= self.cfg.min_size:
                return   # a floor connection: no more inactivity checks until it is used again
            self.close(conn, Why.IDLE)
            self.below_floor()

    def close(self, conn: Conn, reason: Why, request: int = -1) -> None:
        self.connected.discard(conn)
        super().close(conn, reason, request)

    # -- 0.32: the floor, kept by one background task
    def below_floor(self) -> None:
        """A holder lost its connection: in 0.32, start the refill if the pool is below min_size."""
        if self.cfg.floor and not self.refilling and len(self.connected) < self.cfg.min_size:
            self.refilling = True
            self.env.process(self.refill())

    def refill(self) -> Generator[Any, Any, None]:
        """`_maintain_min_size`: reconnect empty idle holders one at a time until min_size are connected."""
        delay = REFILL_FIRST_S
        try:
            while len(self.connected) < self.cfg.min_size:
                empty = next((i for i in range(len(self.stack) - 1, -1, -1)
                              if self.stack[i] is None or self.stack[i].closed), None)  # type: ignore[union-attr]
                if empty is None:
                    return   # acquirers are connecting the remaining holders themselves
                self.stack.pop(empty)
                try:
                    conn = yield from self.connect(-1)
                except RequestFailed:
                    self.put_back(None)
                    yield self.env.timeout(delay)
                    delay = min(delay * 2, REFILL_MAX_S)
                    continue
                delay = REFILL_FIRST_S
                self.connected.add(conn)
                self.went_idle(conn)
                self.arm_idle_timer(conn)
                self.put_back(conn)
        finally:
            self.refilling = False
