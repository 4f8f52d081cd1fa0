"""The trace so far, as the live lab follows a run, and the server a result was recorded on.

The page draws the stand during a run from rows it fetches from the worker a
stretch at a time; these tests hold that those stretches, put together, are
the finished trace's own rows (a prefix while the run goes on, all of them at
the end), that each poll sends only the rows it has not sent before and at
most its limit, and that a result names its server as the server itself said.
Assertions are about what happened; the only clocks are deadlines against a hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import live_scenarios
import pytest
from live_scenarios import HANG_S, PASSWORD, until

from live.poolers import pgbouncer
from live.recorder import LiveTrace
from live.runner import LiveResult, run
from live.server import APP_ROLE, SANDBOX, Target, address
from live.session import TraceSoFar
from live.worker import RemoteSession, Worker
from sim.scenario import Scenario
from sim.trace import Trace

ROW_BYTES = 8 + 2 + 8 + 8 + 1 + 1   # t, instance, request, conn, kind, reason


def busy(**top: Any) -> Scenario:
    """Enough rows a second that a poll every 50 ms sees the trace grow."""
    return live_scenarios.short({"kind": "asyncpg", "min_size": 2, "max_size": 4}, name="so-far-test",
                                rate=150, hold_ms=5, **top)


def rows(trace: Trace, stop: int | None = None) -> list[tuple[float, int, int, int, str, str]]:
    return trace.rows(0, stop)


# ------------------------------------------------------------------ without a server

def test_rows_since_hands_out_bounded_stretches_that_put_together_are_the_trace() -> None:
    source = LiveTrace()
    for i in range(250):
        source.emit(i / 100, i % 3, i, i % 7, i % 21, i % 25)
    so_far = TraceSoFar()
    sizes = []
    while len(so_far.trace) < len(source):
        before = so_far.received
        so_far.pull(source.rows_since, 64)
        sizes.append(so_far.received - before)
    assert sizes == [64 * ROW_BYTES] * 3 + [58 * ROW_BYTES]
    assert rows(so_far.trace) == rows(source) and so_far.behind == 0 and so_far.last_s == 2.49
    empty = source.rows_since(len(source), 64)
    assert (empty.count, empty.written, empty.nbytes) == (0, 250, 0)
    with pytest.raises(ValueError, match="cannot follow"):
        so_far.trace.append(source.rows_since(10, 5))   # a gap or an overlap is never put together


# ------------------------------------------------------------------ a run in the live lab's worker

@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    assert w.close()


@pytest.mark.live
def test_the_trace_so_far_grows_during_a_run_and_is_the_finished_traces_prefix(worker: Worker) -> None:
    session = worker.session(busy(duration_s=3.0))
    session.start()
    until(session, lambda s: s.completed > 0, "a completed request")
    seen: list[int] = [0]
    prefixes: list[list[tuple[float, int, int, int, str, str]]] = []
    deadline = time.monotonic() + HANG_S
    while not session.snapshot().finished and time.monotonic() < deadline:
        so_far = session.trace_so_far(limit=200)
        assert len(so_far.trace) - seen[-1] <= 200   # a poll brings at most its limit
        if len(so_far.trace) > seen[-1]:
            seen.append(len(so_far.trace))
            prefixes.append(rows(so_far.trace))
        time.sleep(0.05)
    assert session.wait(HANG_S)
    result = session.result
    assert result is not None and not result.cancelled
    growing = [n for n in seen[1:] if n < len(result.trace)]   # polls before the last rows were written
    assert len(growing) >= 3, f"the trace so far did not grow while the run went on: {seen}"
    assert seen == sorted(seen) and seen[-1] <= len(result.trace)
    finished = rows(result.trace)
    for prefix in prefixes:
        assert prefix == finished[:len(prefix)]
    so_far = session.trace_so_far(limit=len(result.trace))   # after the end: all of it, in one stretch
    assert rows(so_far.trace) == finished and so_far.behind == 0
    assert len(session.trace_so_far().trace) == len(result.trace)   # and no more


@pytest.mark.live
def test_each_poll_sends_only_the_rows_it_has_not_sent_before(worker: Worker) -> None:
    """The bytes that cross the pipe over a whole run are its rows once, whatever the number of polls."""
    session = worker.session(busy(duration_s=2.0))
    session.start()
    polls = 0
    while not session.snapshot().finished:
        session.trace_so_far()
        polls += 1
        time.sleep(0.02)
    so_far = session.trace_so_far()
    assert polls > 20
    assert so_far.received == len(so_far.trace) * ROW_BYTES and so_far.behind == 0
    assert session.result is not None and len(so_far.trace) == len(session.result.trace)
    assert len(session.trace_so_far(limit=0).trace) == 0   # the result fetched, its copy is let go


# ------------------------------------------------------------------ the server it was recorded on

async def server_version(target: Target) -> str:
    admin = await asyncpg.connect(target.admin_dsn)
    try:
        return str(await admin.fetchval("SHOW server_version"))
    finally:
        await admin.close()


@pytest.mark.live
def test_a_result_carries_the_server_version_the_server_itself_shows() -> None:
    result: LiveResult = asyncio.run(run(busy(duration_s=0.5)))
    target = next(t for t in SANDBOX.targets() if t.display == result.server)
    said = asyncio.run(server_version(target))
    assert said and result.server_version == said
    assert result.sandbox and result.server_address == ""
    assert result.server == target.display   # the field the compare page shows keeps its meaning


@pytest.mark.live
def test_on_database_url_the_result_names_its_address_and_never_its_password() -> None:
    target = SANDBOX.target()
    url = f"postgresql://{APP_ROLE}:{PASSWORD}@/postgres?host={target.socket_dir}"
    result: LiveResult = asyncio.run(run(busy(duration_s=0.5), database_url=url))
    assert result.server_version == asyncio.run(server_version(target))
    assert not result.sandbox and result.server_address == address(url)
    assert result.server_address == f"{target.socket_dir}/.s.PGSQL.5432"
    assert all(PASSWORD not in text for text in (result.server, result.server_address, result.server_version))


@pytest.mark.live
def test_the_result_a_remote_session_fetches_carries_the_server_version(worker: Worker) -> None:
    session: RemoteSession = worker.session(busy(duration_s=0.5))
    session.start()
    assert session.wait(HANG_S)
    result = session.result
    assert result is not None and result.sandbox
    target = next(t for t in worker.targets() if t.display == result.server)
    assert result.server_version == target.version   # what its start asked with psql, SHOW server_version


@pytest.mark.live
@pytest.mark.skipif(pgbouncer.available() is not None, reason=str(pgbouncer.available()))
def test_through_a_pooler_its_show_pools_readings_come_along_once_each(worker: Worker) -> None:
    """The stand's depot is drawn from SHOW POOLS: during the run its readings grow on the page, and at
    the end the page has every reading of the result, none twice."""
    session = worker.session(busy(duration_s=2.0, pooler={"kind": "pgbouncer", "pool_mode": "transaction",
                                                           "default_pool_size": 2}))
    session.start()
    counts = []
    while not session.snapshot().finished:
        readings = session.trace_so_far().trace.show_pools
        counts.append(0 if readings is None else len(readings))
        time.sleep(0.05)
    so_far = session.trace_so_far().trace
    result = session.result
    assert result is not None and result.trace.show_pools is not None and so_far.show_pools is not None
    assert any(0 < n < len(result.trace.show_pools) for n in counts)   # it grew while the run went on
    assert list(so_far.show_pools.t) == list(result.trace.show_pools.t)
    assert list(so_far.show_pools.sv_active) == list(result.trace.show_pools.sv_active)
