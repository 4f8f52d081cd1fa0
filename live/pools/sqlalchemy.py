"""A real SQLAlchemy AsyncAdaptedQueuePool over asyncpg, traced by its own pool events.

Connections come from the connector through `async_creator`. SQLAlchemy
announces checkin and close, and the close handler tells why from the
record's state at that moment, exactly as the pool itself just decided:
invalidated after a disconnect (broken), older than `pool_recycle`, older
than a pool-wide invalidation, or, at checkin with the idle queue full,
overflow. A failed pre-ping is seen by wrapping this engine's dialect's
`do_ping`.

Unlike asyncpg, SQLAlchemy does not notice a connection that died while
idle until it uses it, so closes are written when SQLAlchemy closes, not
when the socket dies.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, cast

from sqlalchemy import event, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import QueuePool

from live.pools.base import Failed, LivePool, bounded, connect_failure, query_failure, statement
from live.recorder import REQUEST, Tracked, untraced
from sim.scenario import SQLAlchemyPool
from sim.trace import Ev, Why

_log = logging.getLogger(__name__)


class LiveSQLAlchemyPool(LivePool):
    cfg: SQLAlchemyPool

    async def start(self) -> None:
        cfg = self.cfg
        self.leaked: list[AsyncConnection] = []
        self.engine = create_async_engine(
            "postgresql+asyncpg://", async_creator=self._connect, connect_args=self._statement_names(),
            pool_size=cfg.pool_size, max_overflow=cfg.max_overflow,
            pool_timeout=self.wall(cfg.pool_timeout),
            pool_recycle=-1 if cfg.pool_recycle < 0 else self.wall(cfg.pool_recycle),
            pool_pre_ping=cfg.pool_pre_ping, pool_use_lifo=cfg.pool_use_lifo)
        # the dialect reads the server's version on its first connection: do that now, untraced,
        # so the first request does not pay for it, then start from an empty pool as an app does
        with untraced():   # in this instance's task only: the others start at the same time
            async with self.engine.connect():
                pass
            await self.engine.dispose()
        pool = cast(QueuePool, self.engine.sync_engine.pool)  # AsyncAdaptedQueuePool is one
        self.pool = pool
        event.listen(pool, "checkin", self._on_checkin)
        event.listen(pool, "close", self._on_close)
        event.listen(pool, "close_detached", self._on_close_detached)
        event.listen(pool, "invalidate", self._on_invalidate)
        dialect = self.engine.sync_engine.dialect
        ping = dialect.do_ping

        def traced_ping(dbapi_connection: Any) -> bool:
            tracked = self.recorder.of(dbapi_connection.driver_connection)
            try:
                alive = bool(ping(dbapi_connection))
            except BaseException:
                alive = False
                raise
            finally:
                self.emit(REQUEST.get(), tracked.id, Ev.PING, Why.OK if alive else Why.FAIL)
            return alive

        dialect.do_ping = traced_ping  # type: ignore[method-assign]

    def _statement_names(self) -> dict[str, Any]:
        """Each instance names its prepared statements from a counter of its own, as asyncpg does in a
        process of its own (every instance here shares one process, and asyncpg's one counter).

        A name matters only where connections share a server's statements: behind a pooler in
        transaction mode, processes that count alike collide ("already exists"). With the driver's
        statement cache off (statement_cache_size=0), asyncpg's statements are unnamed, and so left.
        """
        if self.connector.driver_kwargs.get("statement_cache_size", 100) == 0:
            return {}
        numbers = itertools.count(1)
        return {"prepared_statement_name_func": lambda: f"__asyncpg_stmt_{next(numbers):x}__"}

    async def _connect(self) -> Any:
        return await self.connector.connect(self.instance)

    # -- pool events (synchronous, inside SQLAlchemy's greenlet)
    def _tracked(self, dbapi_connection: Any) -> Tracked | None:
        if dbapi_connection is None:
            return None
        return self.recorder.of(dbapi_connection.driver_connection)

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        tracked = self._tracked(dbapi_connection)
        if tracked is None:
            return  # invalidated while out: its release was written with its close
        self.recorder.released(tracked)
        size = self.pool.size()
        if size and self.pool.checkedin() >= size:
            tracked.pending = Why.OVERFLOW  # the idle queue is full: _do_return_conn closes it next

    def _on_invalidate(self, dbapi_connection: Any, record: Any, exception: BaseException | None) -> None:
        tracked = self._tracked(dbapi_connection)
        if tracked is not None:
            tracked.pending = Why.BROKEN

    def _on_close(self, dbapi_connection: Any, record: Any) -> None:
        tracked = self._tracked(dbapi_connection)
        if tracked is None:
            return
        if tracked.pending is None:
            recycle = self.pool._recycle
            if recycle > -1 and time.time() - record.starttime > recycle:
                tracked.pending = Why.RECYCLE
            elif self.pool._invalidate_time > record.starttime:
                tracked.pending = Why.INVALIDATED
            else:
                tracked.pending = Why.OTHER
        self.recorder.terminated(tracked, Why.OTHER)

    def _on_close_detached(self, dbapi_connection: Any) -> None:
        tracked = self._tracked(dbapi_connection)
        if tracked is not None:
            self.recorder.terminated(tracked, Why.OTHER)

    # -- the request's steps
    def _waits(self) -> bool:
        """At the cap with nothing idle: `connect()` will queue for a checkin."""
        cfg = self.cfg
        return (cfg.pool_size > 0 and cfg.max_overflow > -1 and self.pool.checkedin() == 0
                and self.pool.overflow() >= cfg.max_overflow)

    async def acquire(self, request: int) -> tuple[Any, Tracked]:
        waited = self._waits()
        if waited:
            self.emit(request, -1, Ev.WAIT)
        try:
            conn = await self.engine.connect()
        except PoolTimeout:
            raise Failed(Ev.TIMEOUT) from None
        except Exception as e:
            raise connect_failure(e) from None
        raw = await conn.get_raw_connection()
        tracked = self.recorder.of(raw.driver_connection)
        self.recorder.acquired(tracked, request, waited)
        return conn, tracked

    async def query(self, handle: AsyncConnection, tracked: Tracked, hold_s: float, cpu_s: float) -> None:
        # bound parameters: the dialect prepares each distinct text once per connection and reuses it
        sql = text(statement(hold_s, cpu_s, sleep=":sleep", cpu=":cpu"))
        params = {"sleep": max(hold_s - cpu_s, 0.0)} | ({"cpu": cpu_s} if cpu_s > 0 else {})
        try:
            await handle.execute(sql, params)
        except Exception as e:
            raise query_failure(e) from None

    async def release(self, handle: AsyncConnection, tracked: Tracked) -> None:
        # rollback, then checkin (traced by the events); a rollback that meets a dead connection
        # has SQLAlchemy invalidate it, and that close is traced too
        try:
            await handle.close()
        except Exception as e:
            _log.debug("returning connection %d failed: %s: %s", tracked.id, type(e).__name__, e)

    def abandon(self, handle: AsyncConnection, tracked: Tracked) -> None:
        super().abandon(handle, tracked)
        self.leaked.append(handle)

    async def close(self) -> None:
        for handle in self.leaked:
            await bounded(handle.invalidate(), 1.0)  # terminates it and tells the pool
        await bounded(self.engine.dispose(), 5.0)
