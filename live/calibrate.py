"""What this server really costs: a connect, and a round trip.

The model's `database.connect_ms` is the server's own part of a connect (a
backend process, authentication), its round trips excluded; `rtt_ms` is one
request/response. Both are measured here as medians of a few samples, after
one warm-up, so the simulation can be given the costs the live run actually
pays (`compare` does that), and the live run can add what the scenario asks
for on top of what the server costs by itself.

A round trip is timed after a short pause, as a request meets its
connection after a query or an idle spell: back to back, the client, the
proxy and the backend stay awake and answer about 0.5 ms sooner on this kind
of machine (2.4 against 2.9 ms through a 0.5 ms proxy), a speed no request
of a scenario sees, which made the model's pings and waits too short.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from live.limits import CONNECT_TIMEOUT_S, check_samples
from live.proxy import Proxy
from live.reach import reach
from live.server import Target, upstream
from sim.server import CONNECT_ROUND_TRIPS

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Costs:
    connect_ms: float   # the server's part of a connect: the whole connect minus its round trips
    rtt_ms: float       # one statement's round trip (SELECT 1)
    samples: int

    def as_database(self) -> dict[str, float]:
        return {"connect_ms": round(self.connect_ms, 3), "rtt_ms": round(self.rtt_ms, 3)}

    def scaled(self, factor: float) -> Costs:
        """The same costs seen on a scenario clock running `factor` times faster than the wall."""
        return Costs(self.connect_ms * factor, self.rtt_ms * factor, self.samples)


RTT_PAUSE_S = 0.02   # before each round trip timed: see the module's docstring


async def measure(connect: Callable[[], Awaitable[asyncpg.Connection]], samples: int = 7) -> Costs:
    """Median connect and round-trip times of connections made by `connect`, in wall-clock ms."""
    connects = []
    for i in range(samples + 1):
        started = time.perf_counter()
        conn = await _uncut(connect)
        elapsed = time.perf_counter() - started
        if i:  # the first connect warms caches on both sides
            connects.append(elapsed)
        if i < samples:
            await conn.close()
    try:
        await conn.fetchval("SELECT 1")
        rtts = []
        for _ in range(samples * 3):
            await asyncio.sleep(RTT_PAUSE_S)
            started = time.perf_counter()
            await conn.fetchval("SELECT 1")
            rtts.append(time.perf_counter() - started)
    finally:
        await conn.close()
    rtt = statistics.median(rtts)
    total = statistics.median(connects)
    return Costs(max(total - CONNECT_ROUND_TRIPS * rtt, 0.0) * 1000.0, rtt * 1000.0, samples)


async def _uncut(connect: Callable[[], Awaitable[asyncpg.Connection]]) -> asyncpg.Connection:
    """A connect that a cancel (Ctrl-C, SIGTERM, Stop) lets finish, then closes, then goes on with.

    asyncpg cut in the middle of a connect leaves a future whose exception
    nobody retrieves, and asyncio prints it at exit after the one-line message.
    """
    task = asyncio.ensure_future(connect())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            (await task).terminate()
        except BaseException as e:   # the connect failed, or this wait was cancelled again: nothing to close
            _log.debug("a connect cut short by a cancel ended with %s: %s", type(e).__name__, e)
        raise


@dataclass(frozen=True)
class Oversleep:
    """How much longer than asked the server's `pg_sleep` lasts, and the ask that makes up for it.

    `pg_sleep` waits on a timer of whole milliseconds, its remaining time
    rounded up, and then wakes: on this machine `pg_sleep(0.0030)` held 4.4 ms
    and `pg_sleep(0.0070)` 8.5 ms, about 0.9 ms more than asked on average.
    Every live statement sleeps for its hold, so without this every hold
    was a millisecond long, and a pool near its cap queued far more than the
    model of the same holds (the FastAPI sizing case's p99 wait, 4.5 ms in
    the model, measured 7 to 17 ms live). Asking for the overshoot less
    makes each hold right to within half a millisecond, and right on average.
    """

    ms: float

    def ask(self, hold_s: float, cpu_s: float) -> float:
        """The hold to ask of the statement so that it holds `hold_s`: its sleep shortened, never below
        nothing (a sleep shorter than the overshoot is left out); the CPU part is exact already."""
        sleep = hold_s - cpu_s
        if sleep <= 0:
            return hold_s
        return cpu_s + max(sleep - self.ms / 1000.0, 0.0)


OVERSLEEP_SAMPLES = 10


async def oversleep(conn: asyncpg.Connection, rtt_ms: float, samples: int = OVERSLEEP_SAMPLES) -> Oversleep:
    """The mean overshoot of `pg_sleep` on this connection's server, over asks whose fractions of a
    millisecond are spread evenly (the rounding up depends on them), less the round trip. Each sleep
    is a pause of its own, so the statements need none between them (about 35 ms in all)."""
    extra = []
    for i in range(samples):
        asked = 0.002 + (i + 0.5) / samples / 1000.0
        started = time.perf_counter()
        await conn.execute(f"SELECT pg_sleep({asked:.6f})")
        extra.append((time.perf_counter() - started) * 1000.0 - rtt_ms - asked * 1000.0)
    return Oversleep(max(statistics.fmean(extra), 0.0))


@dataclass(frozen=True)
class Delay:
    """What a connect and a query cost with `added_rtt_ms` of network between app and server."""

    added_rtt_ms: float
    costs: Costs

    @property
    def connect_ms(self) -> float:
        """A whole connect as the application waits for it: the server's part plus its round trips."""
        return self.costs.connect_ms + CONNECT_ROUND_TRIPS * self.costs.rtt_ms

    @property
    def query_ms(self) -> float:
        return self.costs.rtt_ms


async def over_delays(target: Target, delays_ms: Sequence[float], samples: int = 7,
                      connect_timeout_s: float = CONNECT_TIMEOUT_S) -> list[Delay]:
    """Connect and query costs on `target`, directly (0) and through a proxy adding each delay.

    Why a pool pays off depends on the network as much as on the server: the
    connect needs several round trips, a pooled query one. This measures both
    on the real server, so a lesson can show this machine's figures. A server
    that cannot be reached is a LiveError in one line, within `connect_timeout_s`.
    """
    check_samples(samples)
    await reach(target, connect_timeout_s)
    out = []
    for delay in delays_ms:
        proxy = Proxy(upstream(target), rtt_ms=delay) if delay > 0 else None
        via: dict[str, Any] = {}
        if proxy is not None:
            await proxy.start()
            via = {"host": "127.0.0.1", "port": proxy.port}
        try:
            costs = await measure(functools.partial(asyncpg.connect, target.dsn, **via), samples)
        finally:
            if proxy is not None:
                await proxy.close()
        out.append(Delay(delay, costs))
    return out
