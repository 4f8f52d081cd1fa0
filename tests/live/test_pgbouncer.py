"""Debian's PgBouncer in front of the embedded server, as docs/pgbouncer-semantics.md describes it.

The live tests run the real binary (skipped, with `available()`'s reason,
where it is not installed) on a sandbox server lent for the module, and pin
what the clients really see: queueing inside PgBouncer rather than on the
server, the exact exceptions of its limits, what transaction mode does to
prepared statements, and that `stop()` leaves nothing behind, also when
cancelled. The pure tests (the ini, the SHOW POOLS parser) run everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import asyncpg
import psutil
import pytest
import pytest_asyncio

from live.poolers import pgbouncer
from live.poolers.pgbouncer import Bouncer, available, ini_text, parse_show_pools, setting_text
from live.server import SANDBOX, Lease, LiveError, Target, external

WHY_NOT = available()
F = TypeVar("F", bound=Callable[..., Any])
Start = Callable[..., Awaitable[Bouncer]]
APP_BACKENDS = ("SELECT count(*) FROM pg_stat_activity WHERE usename = 'poolstand' "
                "AND backend_type = 'client backend'")


def live(test: F) -> F:
    """A test of the real binary on the sandbox server: skipped with the reason where there is none."""
    for mark in (pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.asyncio,
                 pytest.mark.live):
        test = mark(test)
    return test


# -- the ini and the parser (pure) ----------------------------------------------------------------------


def test_the_ini_carries_the_settings_as_pgbouncer_reads_them(tmp_path: Path) -> None:
    text = ini_text({"pool_mode": "transaction", "default_pool_size": 2, "query_wait_timeout": 1.5,
                     "server_lifetime": 0, "reserve_pool_timeout": "0.25", "max_client_conn": 10.0},
                    listen_port=6432, workdir=tmp_path, upstream="/tmp/pg sock", dbname="postgres",
                    user="poolstand", password="it's", run_as="postgres")
    lines = text.splitlines()
    assert "postgres = host='/tmp/pg sock' port=5432 dbname='postgres' user='poolstand' password='it''s'" \
        in lines
    for line in ("pool_mode = transaction", "default_pool_size = 2", "query_wait_timeout = 1.5",
                 "server_lifetime = 0", "reserve_pool_timeout = 0.25", "max_client_conn = 10",
                 "listen_port = 6432", f"unix_socket_dir = {tmp_path}", "user = postgres", "auth_type = md5"):
        assert line in lines


@pytest.mark.parametrize(("seconds", "written"), [(1, "1"), (0.1, "0.1"), (2.0000004, "2.000001"),
                                                  (1e-9, "0.000001"), (0, "0"), (3e-6, "0.000003")])
def test_seconds_are_kept_to_the_microsecond_and_never_rounded_to_never(seconds: float, written: str) -> None:
    assert setting_text("query_wait_timeout", seconds) == written


@pytest.mark.parametrize(("key", "value"), [
    ("pool_mode", "transaction\nadmin_users = x"), ("pool_mode", "Session"), ("default_pool_size", 2.5),
    ("default_pool_size", -1), ("default_pool_size", True), ("query_wait_timeout", float("nan")),
    ("query_wait_timeout", "1\n"), ("query_wait_timeout", "1e3"), ("listen_addr", "0.0.0.0"),
    ("server_lifetime", float("inf")), ("max_client_conn", 2**31)])
def test_a_value_that_could_break_the_ini_is_refused(key: str, value: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ini_text({key: value}, listen_port=6432, workdir=tmp_path, upstream=("db", 5432), dbname="postgres",
                 user="poolstand")


def test_a_password_that_would_end_the_line_is_refused_without_being_quoted(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as caught:
        ini_text({}, listen_port=6432, workdir=tmp_path, upstream=("db", 5432), dbname="postgres",
                 user="poolstand", password="s3\ncr3t")
    assert "s3" not in str(caught.value)


def test_show_pools_rows_become_numbers_with_maxwait_in_seconds() -> None:
    columns = ["database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "maxwait", "maxwait_us",
               "pool_mode"]
    rows = [("pgbouncer", "pgbouncer", 1, 0, 0, 0, 0, 0, "statement"),
            ("postgres", "poolstand", "6", "4", "2", "0", "1", "250000", "transaction")]
    pools = parse_show_pools(columns, rows)
    assert pools[("postgres", "poolstand")] == {"cl_active": 6, "cl_waiting": 4, "sv_active": 2, "sv_idle": 0,
                                                "maxwait": 1.25}
    assert pools[("pgbouncer", "pgbouncer")]["maxwait"] == 0


# -- the real thing: fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def lease() -> Iterator[Lease]:
    if WHY_NOT is not None:
        pytest.skip(WHY_NOT)
    with SANDBOX.lease() as lent:
        yield lent


@pytest_asyncio.fixture
async def bouncer(lease: Lease) -> AsyncIterator[Start]:
    """Start PgBouncers in front of the module's server; every one is stopped after the test."""
    started: list[Bouncer] = []

    async def start(**settings: Any) -> Bouncer:
        b = await Bouncer.start(settings, lease.target)
        started.append(b)
        return b

    yield start
    for b in started:
        await b.stop()


async def watch(b: Bouncer, target: Target, work: Awaitable[Any]
                ) -> tuple[list[dict[str, int | float]], list[int]]:
    """Poll SHOW POOLS and the server's app backends every 20 ms until `work` is done."""
    task = asyncio.ensure_future(work)
    pools: list[dict[str, int | float]] = []
    backends: list[int] = []
    admin = await asyncpg.connect(target.admin_dsn)
    try:
        while not task.done():
            pools.append(await b.show_pools())
            backends.append(int(await admin.fetchval(APP_BACKENDS)))
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    await task
    return pools, backends


async def connect(b: Bouncer, n: int) -> list[asyncpg.Connection]:
    return [await asyncpg.connect(b.dsn, statement_cache_size=0) for _ in range(n)]


async def close(conns: list[asyncpg.Connection]) -> None:
    for c in conns:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.close(), 1.0)
        c.terminate()


def failure(e: BaseException) -> str:
    return f"{type(e).__module__}.{type(e).__qualname__}: {e}"


async def left_for_the_app(target: Target, within_s: float = 3.0) -> int:
    """The app role's backends on the server, once they are gone or `within_s` has passed."""
    admin = await asyncpg.connect(target.admin_dsn)
    try:
        deadline = time.monotonic() + within_s
        while (n := int(await admin.fetchval(APP_BACKENDS))) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return n
    finally:
        await admin.close()


def gone(b: Bouncer) -> None:
    """Nothing of it is left: no process by its pid, no directory, its port free."""
    assert b.proc is not None and b.proc.poll() is not None
    assert b.pid is not None
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(b.pid).name() != "pgbouncer"
    assert b.workdir is not None and not b.workdir.exists()
    with socket.socket() as s:      # free for a listener (its clients' closed sockets may be in TIME_WAIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", b.port))
        s.listen()


def our_pgbouncers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name() == "pgbouncer"]


# -- the real thing: what clients see -------------------------------------------------------------------


@live
async def test_transaction_mode_queues_clients_in_pgbouncer_not_on_the_server(bouncer: Start,
                                                                              lease: Lease) -> None:
    b = await bouncer(pool_mode="transaction", default_pool_size=2)
    clients = await connect(b, 6)
    try:
        began = time.monotonic()
        pools, backends = await watch(b, lease.target, asyncio.gather(
            *(c.execute("SELECT pg_sleep(0.2)") for c in clients)))
        took = time.monotonic() - began
    finally:
        await close(clients)
    assert max(p["cl_waiting"] for p in pools) > 0
    assert max(p["sv_active"] for p in pools) <= 2
    assert max(p["maxwait"] for p in pools) > 0
    assert max(backends) <= 2          # the server never sees more than the pool
    assert took >= 0.55                # three waves of two


@live
async def test_session_mode_holds_a_server_until_the_client_leaves(bouncer: Start) -> None:
    b = await bouncer(pool_mode="session", default_pool_size=2)
    first, second, third = clients = await connect(b, 3)
    try:
        assert await first.fetchval("SELECT 1") == 1 and await second.fetchval("SELECT 2") == 2
        waiting = asyncio.ensure_future(third.fetchval("SELECT 3"))
        deadline = time.monotonic() + 2.0
        while (pools := await b.show_pools())["cl_waiting"] != 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert (pools["cl_waiting"], pools["sv_active"], pools["cl_active"]) == (1, 2, 2), pools
        await asyncio.sleep(0.3)
        assert not waiting.done()      # idle, but each holds its server for the whole session
        await first.close()
        assert await asyncio.wait_for(waiting, 2.0) == 3
        assert (await b.show_pools())["cl_waiting"] == 0
    finally:
        await close(clients)


@live
async def test_query_wait_timeout_closes_the_waiting_client(bouncer: Start) -> None:
    b = await bouncer(pool_mode="transaction", default_pool_size=1, query_wait_timeout=1)
    holder, waiter = clients = await connect(b, 2)
    try:
        held = asyncio.ensure_future(holder.execute("SELECT pg_sleep(3)"))
        await asyncio.sleep(0.1)
        began = time.monotonic()
        with pytest.raises(asyncpg.ConnectionDoesNotExistError) as caught:
            await waiter.fetchval("SELECT 1")
        waited = time.monotonic() - began
        assert str(caught.value) == "connection was closed in the middle of operation: query_wait_timeout"
        assert 1.0 <= waited < 1.6     # checked 3 times a second
        assert waiter.is_closed()
        await held                     # the holder is not disturbed
    finally:
        await close(clients)


@live
async def test_max_client_conn_refuses_the_next_login_and_the_console_is_not_counted(bouncer: Start) -> None:
    b = await bouncer(pool_mode="transaction", max_client_conn=3)
    clients = await connect(b, 3)      # the console connection polling SHOW POOLS is one more, allowed for
    try:
        with pytest.raises(asyncpg.ProtocolViolationError) as caught:
            clients += await connect(b, 1)
        assert str(caught.value) == "no more connections allowed (max_client_conn)"
        assert caught.value.sqlstate == "08P01"
        assert (await b.show_pools())["cl_active"] == 3
    finally:
        await close(clients)


@live
async def test_statement_mode_closes_a_client_that_begins_a_transaction(bouncer: Start) -> None:
    b = await bouncer(pool_mode="statement")
    (conn,) = await connect(b, 1)
    try:
        with pytest.raises(asyncpg.ConnectionDoesNotExistError) as caught:
            async with conn.transaction():
                await conn.execute("SELECT 1")
        assert str(caught.value) == ("connection was closed in the middle of operation: "
                                     "transaction blocks not allowed in statement pooling mode")
    finally:
        await close([conn])


@live
@pytest.mark.parametrize("connect_args", [{}, {"statement_cache_size": 0}], ids=["default", "no-cache"])
async def test_transaction_mode_breaks_sqlalchemys_prepared_statements_unless_asyncpg_caches_none(
        bouncer: Start, connect_args: dict[str, Any]) -> None:
    from sqlalchemy import exc, text
    from sqlalchemy.ext.asyncio import create_async_engine

    b = await bouncer(pool_mode="transaction", default_pool_size=2)
    engine = create_async_engine(b.dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
                                 connect_args=connect_args)
    failures: list[BaseException] = []
    query = text("SELECT CAST(:i AS integer), pg_sleep(random() * 0.02)")

    async def transactions(i: int) -> None:
        for _ in range(5):   # random sleeps shuffle which client gets which server next
            try:
                async with engine.begin() as conn:
                    await conn.execute(query, {"i": i})
            except Exception as e:
                failures.append(e)
    try:
        await asyncio.gather(*(transactions(i) for i in range(6)))
    finally:
        await engine.dispose()
    if connect_args:
        assert failures == []
        return
    assert failures, "6 clients x 5 transactions on 2 servers: some land on a server without their statement"
    for e in failures:
        assert isinstance(e, exc.DBAPIError)
        assert isinstance(e.orig.__cause__, asyncpg.InvalidSQLStatementNameError)   # type: ignore[union-attr]
        assert str(e).startswith('(sqlalchemy.dialects.postgresql.asyncpg.Error) prepared statement '
                                 '"__asyncpg_stmt_')
        assert str(e).splitlines()[0].endswith('__" does not exist')


# -- the real thing: start, poll, stop ------------------------------------------------------------------


@live
async def test_show_pools_is_cheap_enough_to_poll_every_100_ms(bouncer: Start) -> None:
    b = await bouncer(pool_mode="transaction")
    assert (await b.show_pools())["cl_active"] == 0    # no client yet: the pool's row is zeros
    began = time.perf_counter()
    for _ in range(200):
        await b.show_pools()
    each = (time.perf_counter() - began) / 200
    assert each < 0.005, f"{each * 1e3:.2f} ms per SHOW POOLS"


@live
@pytest.mark.parametrize("mode", ["transaction", "session"])
async def test_stop_leaves_no_process_no_directory_and_no_server_connection(
        bouncer: Start, lease: Lease, mode: str) -> None:
    b = await bouncer(pool_mode=mode, default_pool_size=2)
    clients = await connect(b, 3)
    try:
        for c in clients[:2]:          # in session mode these hold their servers: SIGINT waits for them
            await c.fetchval("SELECT 1")
        assert await left_for_the_app(lease.target, 0) == (2 if mode == "session" else 1)
        began = time.monotonic()
        await b.stop()
        took = time.monotonic() - began
        gone(b)
        assert took < (4.5 if mode == "session" else 1.5)
        assert await left_for_the_app(lease.target) == 0
        with pytest.raises(LiveError):
            await b.show_pools()
        await b.stop()                 # twice is harmless
    finally:
        await close(clients)


@live
async def test_a_cancelled_stop_still_leaves_nothing(bouncer: Start, lease: Lease) -> None:
    b = await bouncer(pool_mode="session", default_pool_size=1)
    (conn,) = await connect(b, 1)
    try:
        await conn.fetchval("SELECT 1")   # holds the server: SIGINT alone would not end it
        stopping = asyncio.ensure_future(b.stop())
        await asyncio.sleep(0.2)
        stopping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopping
        gone(b)
        assert await left_for_the_app(lease.target) == 0
    finally:
        await close([conn])


@live
async def test_a_cancelled_start_leaves_nothing(lease: Lease) -> None:
    for delay in (0.0, 0.03, 0.06):
        starting = asyncio.ensure_future(Bouncer.start({"pool_mode": "transaction"}, lease.target))
        await asyncio.sleep(delay)
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            b = await starting
            await b.stop()             # it was up before the cancel arrived
        assert our_pgbouncers() == []
        assert not pgbouncer._RUNNING


@live
async def test_a_failed_start_says_why_from_the_log_and_leaves_nothing(
        lease: Lease, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pgbouncer.ini_text
    monkeypatch.setattr(pgbouncer, "ini_text", lambda *a, **k: real(*a, **k) + "no_such_setting = 1\n")
    with pytest.raises(LiveError) as caught:
        await Bouncer.start({"pool_mode": "transaction"}, lease.target)
    assert str(caught.value).startswith("PgBouncer exited at start (status 1): ")
    assert "no_such_setting" in str(caught.value)
    assert our_pgbouncers() == []
    assert not pgbouncer._RUNNING


@live
async def test_a_database_url_target_logs_in_with_its_password_which_is_never_shown(lease: Lease) -> None:
    password = "it's a s3cret"        # quoted in the ini's connection string; the sandbox trusts anyway
    url = f"postgresql://poolstand:{quote(password, safe='')}@/postgres?host={lease.target.socket_dir}"
    async with await Bouncer.start({"pool_mode": "session"}, external(url)) as b:
        (conn,) = await connect(b, 1)
        try:
            who = await conn.fetchval("SELECT current_user || '@' || current_database()")
            assert who == "poolstand@postgres"
        finally:
            await close([conn])
        assert b.workdir is not None
        assert "password='it''s a s3cret'" in (b.workdir / "pgbouncer.ini").read_text()
        shown = " ".join([b.display, *b.log_lines(100), b.redact(b.dsn)])
        assert "s3cret" not in shown and "s3cret" not in b.redact(url)
    gone(b)
