"""How a real server slows down when crowded: throughput of n clients at once, n = 1, 2, 4 ... 64.

`[database] contention` and `coherency` (`sim.server.Crowding`) must come
from measurements, not taste. Each level runs a closed loop: n connections,
each doing one transaction after another for a few seconds, and counts the
transactions finished. The transaction has the two parts that make a real
server's curve bend: an `UPDATE` of one of a few hot rows, whose row lock is
held to the commit, so clients truly queue for each other (sigma), and a
CPU part (summing a generated series) that competes for the server's cores.

It works in a table of its own, created for the measurement and dropped
after it, and closes every connection it opened whatever happens, so it may
be pointed at DATABASE_URL as well as at the sandbox.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from live.limits import CONNECT_TIMEOUT_S
from live.reach import reach
from live.server import LiveError, Target

LEVELS = (1, 2, 4, 8, 16, 32, 64)
HOT_ROWS = 4            # rows the clients update: few enough that they queue for their locks
CPU_SERIES = 20_000     # numbers summed in each transaction: about a millisecond of one core
WARM_UP_S = 0.3         # started transactions before this are not counted
LEVEL_S = 2.0           # each level's counted time


@dataclass(frozen=True)
class Point:
    concurrency: int
    throughput_per_s: float   # transactions finished per second, all clients
    latency_ms: float         # their mean time, from BEGIN to COMMIT's answer
    transactions: int


def table_name() -> str:
    return f"pool_stand_crowding_{os.getpid()}"


async def _transaction(conn: asyncpg.Connection, table: str) -> None:
    async with conn.transaction():
        await conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = $1", random.randrange(HOT_ROWS))
        await conn.fetchval("SELECT sum(i) FROM generate_series(1, $1) AS i", CPU_SERIES)


async def _client(conn: asyncpg.Connection, table: str, start: float, end: float,
                  times: list[float]) -> None:
    """Transactions back to back until `end`; those begun after `start` and done by `end` are counted."""
    while (began := time.perf_counter()) < end:
        await _transaction(conn, table)
        done = time.perf_counter()
        if began >= start and done <= end:
            times.append(done - began)


async def level(target: Target, n: int, table: str, seconds: float = LEVEL_S,
                connect_timeout_s: float = CONNECT_TIMEOUT_S) -> Point:
    """One closed loop of n clients."""
    conns: list[asyncpg.Connection] = []
    try:
        for _ in range(n):
            conns.append(await asyncpg.connect(target.dsn, timeout=connect_timeout_s))
        start = time.perf_counter() + WARM_UP_S
        times: list[float] = []
        await asyncio.gather(*(_client(c, table, start, start + seconds, times) for c in conns))
    finally:
        await asyncio.gather(*(c.close(timeout=5) for c in conns), return_exceptions=True)
    if not times:
        raise LiveError(f"no transaction finished within {seconds:g} s at concurrency {n}")
    return Point(n, len(times) / seconds, 1000.0 * sum(times) / len(times), len(times))


async def measure(target: Target, levels: Sequence[int] = LEVELS, seconds: float = LEVEL_S,
                  connect_timeout_s: float = CONNECT_TIMEOUT_S) -> list[Point]:
    """Every level, in its own table, dropped afterwards."""
    await reach(target, connect_timeout_s)
    table = table_name()
    admin = await asyncpg.connect(target.admin_dsn, timeout=connect_timeout_s)   # the app role may not create
    try:
        await admin.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)")
        await admin.execute(f"INSERT INTO {table} (id) SELECT generate_series(0, {HOT_ROWS - 1})")
        await admin.execute(f"GRANT SELECT, UPDATE ON {table} TO PUBLIC")
        return [await level(target, n, table, seconds, connect_timeout_s) for n in levels]
    finally:
        try:
            await admin.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await admin.close(timeout=5)
