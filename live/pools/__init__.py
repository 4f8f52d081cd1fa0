"""The real pools the live lab drives, one class per pool kind that has a Python implementation."""

from live.pools.asyncpg import LiveAsyncpgPool
from live.pools.base import Failed, LivePool
from live.pools.none import LiveNoPool
from live.pools.sqlalchemy import LiveSQLAlchemyPool

LIVE_POOLS: dict[str, type[LivePool]] = {
    "sqlalchemy": LiveSQLAlchemyPool,
    "asyncpg": LiveAsyncpgPool,
    "none": LiveNoPool,
}

__all__ = ["LIVE_POOLS", "Failed", "LivePool"]
