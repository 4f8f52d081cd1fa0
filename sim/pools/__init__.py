"""One model per pool library, each following that library's source."""

from sim.pools.asyncpg import HolderPool
from sim.pools.base import Pool, RequestFailed
from sim.pools.go import GoDB
from sim.pools.hikari import HikariBag
from sim.pools.none import NoPool
from sim.pools.sqlalchemy import QueuePool

POOL_MODELS: dict[str, type[Pool]] = {
    "sqlalchemy": QueuePool,
    "asyncpg": HolderPool,
    "hikari": HikariBag,
    "go": GoDB,
    "none": NoPool,
}

__all__ = ["POOL_MODELS", "Pool", "RequestFailed"]
