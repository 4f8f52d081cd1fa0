"""An asyncio event loop in a thread of its own, for callers that are not async themselves.

A Streamlit script runs in a fresh thread on every rerun, and an asyncpg pool
belongs to the event loop that created it: a run that outlives one rerun
cannot live on the script's loop. So a live run's whole life (its pools, its
tasks, its faults, its cleanup) is on one `BackgroundLoop`, and the UI thread
only submits coroutines to it and reads snapshots.

`stop()` first cancels what was submitted and gives it time to clean up (a
live run closes its connections when cancelled), then cancels whatever is
left, and closes the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")
_log = logging.getLogger(__name__)

GRACE_S = 30.0   # how long `stop()` lets submitted work clean up after its cancel


class BackgroundLoop:
    """A daemon thread running its own event loop until `stop()`."""

    def __init__(self, name: str = "poolstand-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._submitted: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    @property
    def running(self) -> bool:
        return not self._stopping and self._thread.is_alive()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self._close()

    def _close(self) -> None:
        """On the loop's thread, after it stopped: end what is left, then close it."""
        loop = self.loop
        left = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in left:
            task.cancel()
        try:
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=1.0))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        except Exception as e:   # the loop is closed all the same
            _log.warning("ending the background loop's last tasks failed: %s: %s", type(e).__name__, e)
        loop.close()

    # -- from any other thread
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coro` on the loop; its future (cancelling that cancels the coroutine's task)."""
        with self._lock:
            if self._stopping:
                coro.close()
                raise RuntimeError("the background loop has been stopped")
            return asyncio.run_coroutine_threadsafe(self._tracked(coro), self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for its result (TimeoutError cancels it)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("BackgroundLoop.run() would wait for itself: await the coroutine instead")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self, grace_s: float = GRACE_S) -> None:
        """Cancel what was submitted, let it clean up for up to `grace_s`, close the loop; idempotent."""
        with self._lock:
            first = not self._stopping
            self._stopping = True
        if first and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                asyncio.run_coroutine_threadsafe(self._shutdown(grace_s), self.loop)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- on the loop
    async def _tracked(self, coro: Coroutine[Any, Any, T]) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._submitted.add(task)
        try:
            return await coro
        finally:
            self._submitted.discard(task)

    async def _shutdown(self, grace_s: float) -> None:
        """Cancel each submitted coroutine (not the tasks it guards), wait for them, stop the loop."""
        submitted = [t for t in self._submitted if not t.done()]
        for task in submitted:
            task.cancel()
        if submitted:
            await asyncio.wait(submitted, timeout=grace_s)
        self.loop.stop()


def _lost_without_a_reader(context: dict[str, Any]) -> bool:
    """A connection's failure that nothing awaited any more: asyncpg's pool releasing (in a task of its
    own, shielded) a connection the run's end closed, or a reply awaited on a socket that closed."""
    e = context.get("exception")
    if "never retrieved" not in str(context.get("message", "")):
        return False
    return isinstance(e, asyncpg.ConnectionDoesNotExistError) or (
        type(e) is ConnectionError and "connection_lost" in str(e))


def hush_lost_connections(loop: asyncio.AbstractEventLoop) -> None:
    """Log at debug, not print, the failures of connections a live run closed under work it had given up.

    A run ends by cancelling the requests still in flight and closing the
    pools: asyncpg then finishes a release or a reply on a closed socket in
    a task nobody awaits, and asyncio printed "Future exception was never
    retrieved" with a traceback after every such run, which reads as a
    crash. Every other exception reaches the handler the loop had; the
    filter is installed once per loop.
    """
    previous = loop.get_exception_handler()
    if getattr(previous, "hushes_lost_connections", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _lost_without_a_reader(context):
            _log.debug("%s: %r", context.get("message"), context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.hushes_lost_connections = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
