"""A TCP proxy between the pools and PostgreSQL that makes the network real.

Two things in a real network decide how much pool reuse and `pre_ping` are
worth, and a server on a unix socket has neither:

* a round trip: every request/response costs one `rtt_ms`, so a fresh connect
  (several round trips) and a ping (one) have the price they have in
  production, and reusing a connection saves it;
* an idle cut: a NAT or firewall forgets a connection on which nothing has
  crossed for a while. The server side is closed (the backend exits, its slot
  is free), but the application never hears of it: its socket stays open and
  silent, and the next thing it sends is answered with a reset. That is the
  parked taxi whose engine died, which only a ping before the ride notices.

The proxy listens on 127.0.0.1 and forwards each accepted connection to one
upstream: a unix socket (a directory plus port, as libpq spells it, or a full
path) or a TCP (host, port). Each direction delays its bytes by rtt/2 through
its own queue of (due time, bytes) and a writer task, so byte order holds and
pipelined data is delayed once, not once per chunk. `close()` closes the
listener and both sides of every proxied connection and waits for its tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path

Upstream = str | os.PathLike[str] | tuple[str, int]
"""A unix socket directory or path, or a TCP (host, port)."""

_log = logging.getLogger(__name__)

READ_SIZE = 65536
QUEUE_CHUNKS = 256       # per-direction queue bound: reading waits when this much is in flight


@dataclass(frozen=True)
class Cut:
    """One idle cut: the proxied connection's index and when (seconds on the proxy clock)."""

    conn: int
    t: float


@dataclass
class ConnInfo:
    """What the proxy knows about one proxied connection; times on the proxy clock."""

    index: int
    client_port: int                 # the client's local port: how a caller matches its own socket
    opened_at: float
    closed_at: float | None = None
    cut_at: float | None = None      # when the upstream side was cut for idleness
    reset_at: float | None = None    # when the client was reset for sending after the cut
    bytes_up: int = 0                # client -> server
    bytes_down: int = 0              # server -> client


def unix_socket_path(upstream: str | os.PathLike[str], port: int = 5432) -> str:
    """The socket file for a unix upstream: a directory gets `.s.PGSQL.<port>` appended, as in libpq."""
    path = Path(upstream)
    if path.is_dir():
        path = path / f".s.PGSQL.{port}"
    return str(path)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close abruptly: SO_LINGER 0 makes the kernel send RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _closed(writer: asyncio.StreamWriter | None) -> None:
    if writer is None:
        return
    writer.close()
    try:
        await writer.wait_closed()
    except Exception as e:   # closed all the same: a reset peer, say
        _log.debug("a proxied socket closed with %s: %s", type(e).__name__, e)


class _Link:
    """One proxied connection: the client's socket, the upstream's, and a pump each way."""

    def __init__(self, proxy: Proxy, info: ConnInfo,
                 client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.info = info
        self.client_r = client_r
        self.client_w = client_w
        self.up_r: asyncio.StreamReader | None = None
        self.up_w: asyncio.StreamWriter | None = None
        self.last_activity = proxy._loop_time()
        self.in_flight = 0           # chunks read but not yet delivered, both directions
        self.cut = False
        self.connecting = True
        self.handler: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.upstream_tasks: list[asyncio.Task[None]] = []
        self.tasks: list[asyncio.Task[None]] = []

    def touch(self) -> None:
        self.last_activity = self.proxy._loop_time()

    def idle_for(self, now: float) -> float:
        """Seconds since a byte last crossed; 0 while data is in flight or before the upstream is up."""
        if self.in_flight or self.up_w is None or self.cut:
            return 0.0
        return now - self.last_activity

    def _spawn(self, coro: Coroutine[object, object, None], name: str, upstream: bool) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"proxy-{self.info.index}-{name}")
        self.tasks.append(task)
        if upstream:
            self.upstream_tasks.append(task)

    async def run(self) -> None:
        try:
            up_r, up_w = await asyncio.wait_for(self.proxy._open_upstream(), self.proxy.connect_timeout_s)
        except OSError:  # TimeoutError included
            self.proxy.upstream_failures += 1
            _reset(self.client_w)
            return
        finally:
            self.connecting = False
        self.up_r, self.up_w = up_r, up_w
        self.touch()
        delay = self.proxy.rtt_ms / 2000.0
        up_q: asyncio.Queue[tuple[float, bytes]] | None = None
        down_q: asyncio.Queue[tuple[float, bytes]] | None = None
        if delay > 0:
            up_q = asyncio.Queue(QUEUE_CHUNKS)
            down_q = asyncio.Queue(QUEUE_CHUNKS)
            self._spawn(self._deliver(up_q, up_w), "up-writer", upstream=True)
            self._spawn(self._deliver(down_q, self.client_w), "down-writer", upstream=False)
        self._spawn(self._read_client(up_q, delay), "up-reader", upstream=False)
        self._spawn(self._read_upstream(down_q, delay), "down-reader", upstream=True)
        await self.done.wait()

    async def _read_client(self, queue: asyncio.Queue[tuple[float, bytes]] | None, delay: float) -> None:
        assert self.up_w is not None
        try:
            while True:
                data = await self.client_r.read(READ_SIZE)
                if self.cut:
                    # the firewall has forgotten this flow: whatever comes next is answered with a reset,
                    # which reaches the client one round trip after it sent (as `sim.server` charges it)
                    if data:
                        await asyncio.sleep(2 * delay)
                        self.info.reset_at = self.proxy.clock()
                        self.proxy.resets += 1
                        _reset(self.client_w)
                    break
                self.touch()
                self.info.bytes_up += len(data)
                await self._forward(data, queue, delay, self.up_w)
                if not data:
                    if queue is not None:
                        return  # the writer ends the link once the end of stream is delivered
                    break
        except OSError:
            pass
        self.done.set()

    async def _read_upstream(self, queue: asyncio.Queue[tuple[float, bytes]] | None, delay: float) -> None:
        assert self.up_r is not None
        try:
            while True:
                data = await self.up_r.read(READ_SIZE)
                if self.cut:
                    return
                self.touch()
                self.info.bytes_down += len(data)
                await self._forward(data, queue, delay, self.client_w)
                if not data:
                    if queue is not None:
                        return
                    break
        except OSError:
            if self.cut:
                return
        self.done.set()

    async def _forward(self, data: bytes, queue: asyncio.Queue[tuple[float, bytes]] | None,
                       delay: float, dst: asyncio.StreamWriter) -> None:
        """Send now (rtt 0) or queue for delivery in `delay` seconds; b"" marks the end of the stream."""
        if queue is not None:
            self.in_flight += 1
            await queue.put((self.proxy._loop_time() + delay, data))
        elif data:
            self.in_flight += 1
            try:
                dst.write(data)
                await dst.drain()
            finally:
                self.in_flight -= 1
            self.touch()

    async def _deliver(self, queue: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter) -> None:
        """Write each chunk at its due time, in order; the end of the stream ends the link."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await queue.get()
                while (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                dst.write(data)
                await dst.drain()
                self.in_flight -= 1
                self.touch()
        except OSError:
            pass
        self.done.set()

    def mark_cut(self, t: float) -> None:
        """Forget the flow: stop the server side's pumps; the client's socket stays open and unanswered."""
        self.cut = True
        self.info.cut_at = t
        for task in self.upstream_tasks:
            task.cancel()

    async def close_upstream(self) -> None:
        """After `mark_cut`: close the server's socket, so its backend sees EOF and exits."""
        await asyncio.gather(*self.upstream_tasks, return_exceptions=True)
        await _closed(self.up_w)

    async def close(self) -> None:
        current = asyncio.current_task()
        others = [t for t in self.tasks if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await _closed(self.up_w)
        await _closed(self.client_w)


class Proxy:
    """A TCP proxy with a round-trip delay and a NAT-like idle cut.

    `upstream` is a unix socket directory (joined with `.s.PGSQL.<upstream_port>`)
    or socket path, or a TCP (host, port). `rtt_ms` is the added round trip:
    rtt/2 each way. With `idle_cut_after_s` set, from `idle_cut_from_s` on (proxy
    clock) a connection on which nothing has crossed for longer than that is cut:
    see the module's docstring. The proxy clock runs from `start()` or the last
    `start_clock()`.
    """

    def __init__(self, upstream: Upstream, *, rtt_ms: float = 0.0,
                 idle_cut_after_s: float | None = None, idle_cut_from_s: float = 0.0,
                 on_cut: Callable[[int, float], None] | None = None,
                 upstream_port: int = 5432, host: str = "127.0.0.1", port: int = 0,
                 connect_timeout_s: float = 10.0) -> None:
        if rtt_ms < 0:
            raise ValueError(f"rtt_ms must be >= 0 (got {rtt_ms})")
        if idle_cut_after_s is not None and idle_cut_after_s < 0:
            raise ValueError(f"idle_cut_after_s must be >= 0 or None (got {idle_cut_after_s})")
        if isinstance(upstream, tuple):
            self.upstream: str | tuple[str, int] = (upstream[0], int(upstream[1]))
        else:
            self.upstream = unix_socket_path(upstream, upstream_port)
        self.rtt_ms = float(rtt_ms)
        self.idle_cut_after_s = idle_cut_after_s
        self.idle_cut_from_s = float(idle_cut_from_s)
        self.on_cut = on_cut
        self.host = host
        self.port = port
        self.connect_timeout_s = connect_timeout_s

        self.accepted = 0            # client connections accepted so far
        self.upstream_failures = 0   # accepted connections whose upstream could not be reached
        self.resets = 0              # clients reset for sending on a cut connection
        self.cuts: list[Cut] = []
        self.conns: list[ConnInfo] = []
        self._links: dict[int, _Link] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._closing = False

    # -- clock and counters -------------------------------------------------------

    def _loop_time(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def start_clock(self) -> None:
        """Set the proxy clock's zero (the scenario's start) to now, for cut times and `idle_cut_from_s`."""
        self._t0 = self._loop_time()

    def clock(self) -> float:
        """Seconds on the proxy clock."""
        return self._loop_time() - self._t0

    @property
    def open_count(self) -> int:
        """Proxied connections open now (client side not yet closed)."""
        return len(self._links)

    @property
    def cut_count(self) -> int:
        return len(self.cuts)

    def index_of_client_port(self, port: int) -> int | None:
        """The index of the open connection whose client uses this local port, if any."""
        for index, link in self._links.items():
            if link.info.client_port == port:
                return index
        return None

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Listen on `host` at a free port (or the one given); `.port` tells which."""
        if self._server is not None:
            raise RuntimeError("proxy already started")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._t0 = self._loop.time()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.idle_cut_after_s is not None:
            self._watcher = self._loop.create_task(self._watch(self.idle_cut_after_s), name="proxy-watcher")

    async def close(self) -> None:
        """Stop listening and close both sides of every proxied connection; wait for all tasks."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        await asyncio.sleep(0)  # handlers of connections accepted just before see `_closing`
        for link in list(self._links.values()):
            link.done.set()
            if link.connecting and link.handler is not None:
                link.handler.cancel()   # still waiting for the upstream: give up on it
        if self._handlers:
            await asyncio.gather(*list(self._handlers), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if isinstance(self.upstream, tuple):
            return await asyncio.open_connection(*self.upstream)
        return await asyncio.open_unix_connection(self.upstream)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self._closing:
            _reset(writer)
            return
        index = self.accepted
        task.set_name(f"proxy-{index}")
        self._handlers.add(task)
        self.accepted += 1
        peer = writer.get_extra_info("peername")
        info = ConnInfo(index, peer[1] if isinstance(peer, tuple) else 0, self.clock())
        self.conns.append(info)
        link = _Link(self, info, reader, writer)
        link.handler = task
        self._links[index] = link
        try:
            await link.run()
        finally:
            await link.close()
            info.closed_at = self.clock()
            del self._links[index]
            self._handlers.discard(task)

    # -- the idle cut ------------------------------------------------------------

    async def cut_idle(self, min_idle_s: float = 0.0) -> list[int]:
        """Cut every open connection idle for longer than `min_idle_s` now; the indexes cut.

        The periodic cut uses this; a caller may also use it for a one-off
        "firewall forgets idle connections" fault.
        """
        now = self._loop_time()
        victims = [link for link in self._links.values()
                   if not link.done.is_set() and link.idle_for(now) > min_idle_s]
        t = now - self._t0
        cuts = []
        for link in victims:        # marked before any await, so a concurrent call skips them
            link.mark_cut(t)
            cuts.append(Cut(link.info.index, t))
        self.cuts.extend(cuts)
        await asyncio.gather(*(link.close_upstream() for link in victims))
        if self.on_cut is not None:
            for cut in cuts:
                try:
                    self.on_cut(cut.conn, cut.t)
                except Exception:  # a caller's bug must not stop the cutting or the cleanup
                    _log.exception("on_cut callback failed for connection %d", cut.conn)
        return [cut.conn for cut in cuts]

    async def _watch(self, after_s: float) -> None:
        step = min(0.05, max(0.005, after_s / 10))
        while True:
            await asyncio.sleep(step)
            if self.clock() >= self.idle_cut_from_s:
                await self.cut_idle(after_s)
