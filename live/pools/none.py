"""No pool: `asyncpg.connect` for every request, closed when it is done."""

from __future__ import annotations

import logging
from typing import Any

from live.pools.base import LivePool, connect_failure
from live.recorder import Tracked
from sim.trace import Why

_log = logging.getLogger(__name__)


class LiveNoPool(LivePool):
    async def acquire(self, request: int) -> tuple[Any, Tracked]:
        try:
            conn = await self.connector.connect(self.instance, self._closed)
        except Exception as e:
            raise connect_failure(e) from None
        tracked = self.recorder.of(conn)
        self.recorder.acquired(tracked, request, False)
        return conn, tracked

    def _closed(self, tracked: Tracked) -> None:
        self.recorder.terminated(tracked, Why.BROKEN)

    async def release(self, handle: Any, tracked: Tracked) -> None:
        tracked.pending = Why.DONE
        self.recorder.released(tracked)
        try:
            await handle.close()
        except Exception as e:
            _log.debug("closing connection %d failed (%s: %s); terminated", tracked.id, type(e).__name__, e)
            handle.terminate()
