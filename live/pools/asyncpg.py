"""A real asyncpg Pool.

The pool connects through the `connect=` hook, so every connect is traced
by the connector; closes are heard through each connection's termination
listener. What the library decides internally is inferred from what it can
only have been: an idle connection the library terminates is its inactivity
timer (`max_inactive_connection_lifetime`); one closed while being returned
after `max_queries` statements is the query limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import asyncpg

from live.pools.base import Failed, LivePool, connect_failure
from live.recorder import REQUEST, Tracked
from sim.pools import AsyncpgPool
from sim.trace import Ev, Why


def installed_version() -> str:
    """The installed asyncpg's pool as the model names it: 0.32's, or the one before it (0.29 to 0.31)."""
    major, minor = (int(part) for part in asyncpg.__version__.split(".")[:2])
    return "0.32" if (major, minor) >= (0, 32) else "0.31"


_log = logging.getLogger(__name__)


class LiveAsyncpgPool(LivePool):
    cfg: AsyncpgPool

    @classmethod
    def as_installed(cls, cfg: AsyncpgPool) -> AsyncpgPool:
        version = installed_version()
        if cfg.version == version:
            return cfg
        init_size = None if version == "0.31" else cfg.init_size   # 0.31 has no init_size
        return dataclasses.replace(cfg, version=version, init_size=init_size)

    async def start(self) -> None:
        cfg = self.cfg
        extra = {"init_size": cfg.init_size} if cfg.init_size is not None else {}   # 0.32 only (as_installed)
        self.pool = await asyncpg.create_pool(
            min_size=cfg.min_size, max_size=cfg.max_size, max_queries=cfg.max_queries,
            max_inactive_connection_lifetime=self.wall(cfg.max_inactive_connection_lifetime),
            command_timeout=self.wall(cfg.command_timeout), connect=self._connect, **extra)

    async def _connect(self, *args: Any, **kwargs: Any) -> asyncpg.Connection:
        if asyncio.current_task() is getattr(getattr(self, "pool", None), "_maintenance_task", None):
            # 0.32 refills min_size in a task of its own, started in whatever context noticed the loss
            # (a request's, long returned): the pool's own connect, charged to no request
            REQUEST.set(-1)
        return await self.connector.connect(self.instance, self._closed, **kwargs)

    def _closed(self, tracked: Tracked) -> None:
        if tracked.pending is None:
            if tracked.dead or tracked.out:
                tracked.pending = Why.BROKEN
            else:
                # asyncpg terminates an idle connection only when its inactivity timer fires;
                # an idle one that is merely lost (not aborted by the library) was broken
                tracked.pending = Why.IDLE if getattr(tracked.conn, "_aborted", False) else Why.BROKEN
        self.recorder.terminated(tracked, Why.BROKEN)

    async def acquire(self, request: int) -> tuple[Any, Tracked]:
        # no holder left in the queue: the request waits (asyncpg keeps free holders in _queue)
        waited = self.pool._queue.empty()
        if waited:
            self.emit(request, -1, Ev.WAIT)
        try:
            proxy = await self.pool.acquire(timeout=self.wall(self.cfg.timeout))
        except TimeoutError:
            raise Failed(Ev.TIMEOUT) from None
        except Exception as e:
            raise connect_failure(e) from None
        tracked = self.recorder.by_pid(proxy.get_server_pid())
        self.recorder.acquired(tracked, request, waited)
        return proxy, tracked

    async def release(self, handle: Any, tracked: Tracked) -> None:
        request = tracked.user
        if tracked.queries >= self.cfg.max_queries:
            tracked.pending = Why.MAX_QUERIES   # release closes it instead of resetting it
        else:
            tracked.queries += 1                # the reset query counts too
        try:
            await self.pool.release(handle)
        except Exception as e:   # a failed reset terminated it: its close is already traced
            _log.debug("releasing connection %d failed: %s: %s", tracked.id, type(e).__name__, e)
        self.recorder.released(tracked, request)

    async def close(self) -> None:
        self.pool.terminate()
