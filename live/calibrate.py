"""What this server really costs: a connect, and a round trip.

The model's `database.connect_ms` is the server's own part of a connect (a
backend process, authentication), its round trips excluded; `rtt_ms` is one
request/response. Both are measured here as medians of a few samples, after
one warm-up, so the simulation can be given the costs the live run actually
pays (`compare` does that), and the live run can add what the scenario asks
for on top of what the server costs by itself.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from sim.server import CONNECT_ROUND_TRIPS


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


async def measure(connect: Callable[[], Awaitable[asyncpg.Connection]], samples: int = 7) -> Costs:
    """Median connect and round-trip times of connections made by `connect`, in wall-clock ms."""
    connects = []
    for i in range(samples + 1):
        started = time.perf_counter()
        conn = await connect()
        elapsed = time.perf_counter() - started
        if i:  # the first connect warms caches on both sides
            connects.append(elapsed)
        if i < samples:
            await conn.close()
    try:
        await conn.fetchval("SELECT 1")
        rtts = []
        for _ in range(samples * 3):
            started = time.perf_counter()
            await conn.fetchval("SELECT 1")
            rtts.append(time.perf_counter() - started)
    finally:
        await conn.close()
    rtt = statistics.median(rtts)
    total = statistics.median(connects)
    return Costs(max(total - CONNECT_ROUND_TRIPS * rtt, 0.0) * 1000.0, rtt * 1000.0, samples)
