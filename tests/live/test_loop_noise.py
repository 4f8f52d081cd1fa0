"""A live run's end does not print asyncpg's orphaned connection failures, and hides nothing else."""

import asyncio
import gc
from typing import Any

import asyncpg

from live.loop import hush_lost_connections


def _orphan(exc: BaseException) -> list[dict[str, Any]]:
    """What reaches the loop's handler (the one before the hush) when a future failed with `exc` is
    dropped unread, after `hush_lost_connections` was installed."""
    seen: list[dict[str, Any]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: seen.append(context))
        hush_lost_connections(loop)
        hush_lost_connections(loop)   # a second run on the loop adds nothing
        future = loop.create_future()
        future.set_exception(exc)
        del future
        gc.collect()

    asyncio.run(main())
    return seen


def test_a_release_on_a_closed_connection_is_not_printed() -> None:
    closed = asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    assert _orphan(closed) == []


def test_a_reply_awaited_on_a_lost_socket_is_not_printed() -> None:
    assert _orphan(ConnectionError("unexpected connection_lost() call")) == []


def test_any_other_orphaned_failure_still_reaches_the_handler() -> None:
    seen = _orphan(RuntimeError("a real bug"))
    assert len(seen) == 1 and isinstance(seen[0]["exception"], RuntimeError)
    seen = _orphan(ConnectionError("refused"))
    assert len(seen) == 1
