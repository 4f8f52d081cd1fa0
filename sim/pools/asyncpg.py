"""asyncpg's Pool.

Covers, from `asyncpg/pool.py`:

* `max_size` holders on a LIFO stack; the warm ones are reused first, and
  only `min_size` are connected when the pool is created, never refilled;
* `acquire(timeout)` bounds the wait for a holder plus its connect; with no
  timeout it waits for ever; a timeout is a bare `TimeoutError`;
* on release, a reset query costs a round trip before the holder is back,
  and a connection that reached `max_queries` is closed instead;
* each idle connection has its own inactivity timer that closes it even
  below `min_size`, so a quiet pool can shrink to nothing;
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
from sim.spec import setting
from sim.trace import Ev, Why

RESET_ROUND_TRIPS = 1  # SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;


@dataclass(frozen=True)
class AsyncpgPool(PoolSettings):
    """asyncpg's Pool, as `asyncpg.create_pool` and `pool.acquire` name it."""

    kind = "asyncpg"
    library = "asyncpg Pool"
    size_names = ("min_size", "max_size")
    min_size: int = setting(10, int, 0, 1000, doc="connections opened when the pool is created (not kept)",
                            slider_max=100)
    max_size: int = setting(10, int, 1, 1000, doc="holders in the pool: the hard cap", slider_max=100)
    max_queries: int = setting(50_000, int, 1, 10_000_000, doc="close a connection after this many queries",
                               slider_max=100_000)
    max_inactive_connection_lifetime: float = setting(
        300.0, float, 0.001, 604_800, unit="s", off=0,
        doc="close a connection idle this long, even below min_size; 0 = never", slider_max=900)
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
        return self.min_size

    def check(self, path: str) -> str | None:
        if self.min_size > self.max_size:
            return f"{path}.min_size = {self.min_size}: must not exceed {path}.max_size ({self.max_size})"
        return None

    def acquire_timeout(self) -> AcquireTimeout:
        return AcquireTimeout("timeout", self.timeout, "s")

    def queue(self) -> tuple[int, float]:
        return self.cap, math.inf if self.timeout is None else self.timeout


class HolderPool(Pool):
    cfg: AsyncpgPool

    def start(self) -> None:
        cfg = self.cfg
        self.command_timeout = cfg.command_timeout
        self.stack: list[Conn | None] = [None] * (cfg.max_size - cfg.min_size)
        for _ in range(cfg.min_size):
            conn = self.server.open_at_start(self.instance)
            self.stack.append(conn)
            if conn is not None:
                self.went_idle(conn)
                self.arm_idle_timer(conn)

    def acquire(self, request: int) -> Generator[Any, Any, Conn]:
        timeout = self.cfg.timeout
        env = self.env
        deadline = None if timeout is None else env.now + timeout
        waited = False
        if self.stack:
            holder = self.stack.pop()
        else:
            holder = yield from self.wait(request, timeout)
            waited = True
            if holder is TIMED_OUT:
                raise RequestFailed(Ev.TIMEOUT)
        if holder is None or holder.closed:
            if deadline is not None and env.now + self.server.connect_s > deadline:
                # wait_for cancels the connect when the acquire timeout runs out
                yield env.timeout(deadline - env.now)
                self.put_back(None)
                raise RequestFailed(Ev.TIMEOUT)
            try:
                holder = yield from self.connect(request)
            except RequestFailed:
                self.put_back(None)
                raise
        return self.handed(holder, request, waited)

    def release(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        if conn.queries >= self.cfg.max_queries:
            self.discard(conn, request, Why.MAX_QUERIES)
            self.put_back(None)
            return
        if (yield from self.reset_and_return(conn, request, RESET_ROUND_TRIPS, count_queries=1)):
            self.arm_idle_timer(conn)
            self.put_back(conn)

    def broken(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        if conn.closed and not conn.out:
            return  # its holder already went back when the connection died
        self.discard(conn, request, Why.BROKEN)
        self.put_back(None)
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
            self.close(conn, Why.IDLE)
