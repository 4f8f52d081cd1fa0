"""The pool libraries, each in one module: its settings as it names them, its texts, and its model.

This registry is the only place that lists them; everything else looks a
library up here by `pool.kind` and asks its settings or its model.
"""

from sim.pools.asyncpg import AsyncpgPool, HolderPool
from sim.pools.base import AcquireTimeout, Pool, PoolSettings, RequestFailed
from sim.pools.go import GoDB, GoPool
from sim.pools.hikari import HikariBag, HikariPool
from sim.pools.none import ConnectEach, NoPool
from sim.pools.sqlalchemy import QueuePool, SQLAlchemyPool

PoolConfig = SQLAlchemyPool | AsyncpgPool | HikariPool | GoPool | NoPool
"""One library's settings: what a scenario's `[pool]` table becomes."""

POOL_KINDS: dict[str, type[PoolConfig]] = {
    c.kind: c for c in (SQLAlchemyPool, AsyncpgPool, HikariPool, GoPool, NoPool)}
"""The settings of each library, by `pool.kind`."""

POOL_MODELS: dict[str, type[Pool]] = {
    "sqlalchemy": QueuePool,
    "asyncpg": HolderPool,
    "hikari": HikariBag,
    "go": GoDB,
    "none": ConnectEach,
}
"""The simulation of each library, by `pool.kind`."""

__all__ = ["POOL_KINDS", "POOL_MODELS", "AcquireTimeout", "AsyncpgPool", "GoPool", "HikariPool", "NoPool",
           "Pool", "PoolConfig", "PoolSettings", "RequestFailed", "SQLAlchemyPool"]
