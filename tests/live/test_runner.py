"""The live runners against the real embedded PostgreSQL: traffic, faults, errors, and cleanup.

Each scenario is a few seconds long; assertions are about what happened
(counts, reasons, connections left on the server), never about how long it took.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from typing import Any

import asyncpg
import pytest
from live_scenarios import short

from live import faults
from live.connector import Connector
from live.pools.base import bounded
from live.recorder import Recorder, untraced
from live.runner import LiveResult, LiveRun, run
from live.server import SANDBOX, LiveError
from sim import workload
from sim.lifecycle import check
from sim.metrics import summarize
from sim.scenario import Scenario
from sim.trace import Ev, Why

pytestmark = [pytest.mark.live, pytest.mark.asyncio]


def metrics(result: LiveResult) -> dict[str, Any]:
    return summarize(result.trace, result.scenario, result.end_s)


def kinds(result: LiveResult, kind: Ev) -> list[tuple[int, int, str]]:
    """(request, conn, reason) of every row of this kind."""
    return [(r[2], r[3], r[5]) for r in result.trace.rows() if r[4] == kind.name.lower()]


async def backends(prefix: str) -> int:
    """Connections whose application_name starts with `prefix`, on every sandbox server."""
    total = 0
    for target in SANDBOX.targets():
        admin = await asyncpg.connect(target.admin_dsn)
        try:
            total += await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1", prefix + "%")
        finally:
            await admin.close()
    return total


@pytest.mark.parametrize("pool", [
    {"kind": "sqlalchemy", "pool_size": 3, "max_overflow": 2},
    {"kind": "asyncpg", "min_size": 2, "max_size": 5},
    {"kind": "none"},
])
async def test_each_runner_serves_the_drawn_traffic_and_leaves_nothing(pool: dict[str, Any]) -> None:
    scenario = short(pool)
    result = await run(scenario, max_requests=30)   # the run ends when the 30th has ended
    m = metrics(result)
    assert m["requests"] == m["completed"] == 30
    drawn = [t for chunk in workload.draw(scenario, 30) for t in chunk.t]
    assert m["errors"] == dict.fromkeys(m["errors"], 0) and m["timed_out"] == 0
    # the requests are the draw's, in its order
    assert [r for r, _, _ in kinds(result, Ev.ARRIVE)] == list(range(len(drawn)))
    assert result.left_open == 0
    assert await backends(result.application_name) == 0
    if pool["kind"] == "none":
        assert m["connects"] == m["requests"] and m["closes"]["done"] == m["requests"]
    else:
        assert 1 <= m["peak"]["open"] <= 5 and m["connects"] < m["requests"]
    if pool["kind"] == "asyncpg":  # min_size connects before the clock starts, at t = 0
        assert [row[0] for row in result.trace.rows() if row[4] == "open"][:2] == [0.0, 0.0]


class RealOpens:
    """Connections really opened while the scenario clock ran, counted where the pools get them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        raw = Connector.raw_connect

        async def counted(connector: Connector, **kwargs: Any) -> Any:
            conn = await raw(connector, **kwargs)
            if connector.recorder.started and not connector.recorder.stopped:
                self.count += 1
            return conn

        monkeypatch.setattr(Connector, "raw_connect", counted)


SEVERAL_POOLS = [
    {"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 1, "pool_timeout": 0.2},
    {"kind": "asyncpg", "min_size": 1, "max_size": 3, "timeout": 0.2},
    {"kind": "none"},
]


@pytest.mark.parametrize("instances", [1, 6])
@pytest.mark.parametrize("pool", SEVERAL_POOLS, ids=[p["kind"] for p in SEVERAL_POOLS])
async def test_each_runner_with_one_or_several_instances_writes_a_trace_that_passes_the_checker(
        pool: dict[str, Any], instances: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The instances' pools start side by side; none of their warm-ups shows in the trace.

    A SQLAlchemy pool's warm-up (the dialect's first connect) once set a
    run-wide pause that another instance cleared: in 2 of 6 runs with six
    instances the trace kept warm-up opens that were never closed.
    """
    opens = RealOpens(monkeypatch)
    scenario = short(pool, app={"instances": instances}, rate=60, hold_ms=30,
                     database={"max_connections": 50}, workload={"leak_probability": 0.05},
                     faults=[{"kind": "kill_idle", "at_s": 1.0}])
    result = await run(scenario)
    assert check(result.trace) == []
    m = metrics(result)
    before_clock = instances * pool.get("min_size", 0)   # asyncpg's min_size, connected at t = 0
    assert m["connects"] == opens.count + before_clock
    assert m["completed"] > 0 and result.left_open == 0
    opened = {c for _, c, _ in kinds(result, Ev.OPEN)}
    assert {c for _, c, _ in kinds(result, Ev.DEAD)} <= opened   # only connections of the scenario die
    if pool["kind"] != "asyncpg":   # the others never connect on their own
        assert all(r >= 0 for r, _, _ in kinds(result, Ev.CONNECT))


async def test_a_leaking_run_closes_its_leaked_connections_without_waiting_for_them() -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 2, "pool_timeout": 0.3},
                     workload={"leak_probability": 0.5})
    result = await run(scenario)
    m = metrics(result)
    assert m["leaked"] == 4          # the cap: after four leaks every request times out
    assert m["timed_out"] > 0
    assert m["peak"]["checked_out"] == 4
    assert result.left_open == 0
    assert await backends(result.application_name) == 0


async def test_a_cancelled_run_leaves_no_connection() -> None:
    scenario = short({"kind": "asyncpg", "min_size": 3, "max_size": 6}, name="cancel-me", duration_s=30,
                     workload={"leak_probability": 0.3})
    task = asyncio.create_task(run(scenario))
    for _ in range(200):
        await asyncio.sleep(0.05)
        if await backends("poolstand:cancel-me:") >= 3:
            break
    assert await backends("poolstand:cancel-me:") >= 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await backends("poolstand:cancel-me:") == 0


async def test_kill_idle_breaks_the_next_query_without_pre_ping_and_not_with_it() -> None:
    base = {"kind": "sqlalchemy", "pool_size": 5, "max_overflow": 0}
    faults = [{"kind": "kill_idle", "at_s": 1.0}]
    # busy, then quiet while the connections are killed (none is being checked out), then busy again
    traffic = {"rate_per_s": 40, "hold": {"dist": "constant", "mean_ms": 60},
               "phases": [{"at_s": 0.7, "rate_per_s": 0}, {"at_s": 1.3, "rate_per_s": 40}]}
    without = await run(short(base | {"pool_pre_ping": False}, workload=traffic, faults=faults))
    with_ping = await run(short(base | {"pool_pre_ping": True}, workload=traffic, faults=faults))
    m_without, m_with = metrics(without), metrics(with_ping)
    assert any(reason == "killed" for _, _, reason in kinds(without, Ev.DEAD))
    assert m_without["errors"]["broken"] >= 1             # the real error reached a request
    assert m_with["errors"]["broken"] == 0                # pre-ping caught it first
    assert m_with["pings"]["fail"] >= 1
    assert sum(m_with["errors"].values()) == m_with["timed_out"] == 0
    assert without.left_open == with_ping.left_open == 0


async def test_too_many_clients_is_postgresqls_own_refusal() -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 3, "max_overflow": 3}, app={"instances": 3},
                     database={"max_connections": 8, "superuser_reserved_connections": 3},
                     workload={"rate_per_s": 150, "hold": {"dist": "constant", "mean_ms": 100}})
    result = await run(scenario)
    m = metrics(result)
    assert m["errors"]["too_many_clients"] > 0
    assert m["connect_failures"]["too_many_clients"] == m["errors"]["too_many_clients"]
    assert m["peak"]["server"] <= 5                       # 8 - 3 reserved
    assert result.left_open == 0


async def test_the_refusal_is_sqlstate_53300_from_the_server() -> None:
    with SANDBOX.lease(max_connections=4, superuser_reserved_connections=3) as lease:
        first = await asyncpg.connect(lease.target.dsn)
        try:
            with pytest.raises(asyncpg.TooManyConnectionsError) as refused:
                await asyncpg.connect(lease.target.dsn)
        finally:
            await first.close()
    assert refused.value.sqlstate == "53300"


async def test_an_idle_cut_fails_the_first_query_on_a_cut_connection() -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 0}, duration_s=3.0,
                     workload={"rate_per_s": 0, "phases": [{"at_s": 0.0, "rate_per_s": 20},
                                                           {"at_s": 0.5, "rate_per_s": 0},
                                                           {"at_s": 2.0, "rate_per_s": 20}]},
                     faults=[{"kind": "idle_cut", "at_s": 0.0, "idle_cut_after_s": 0.8}])
    result = await run(scenario)
    m = metrics(result)
    cuts = [c for _, c, reason in kinds(result, Ev.DEAD) if reason == "cut"]
    assert cuts, "the proxy cut the idle connections"
    assert m["errors"]["broken"] >= 1
    assert result.left_open == 0


async def test_restart_kills_every_connection_and_the_pool_recovers() -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 3, "max_overflow": 0, "pool_pre_ping": True},
                     duration_s=3.0, faults=[{"kind": "restart", "at_s": 1.0, "down_s": 0.3}])
    result = await run(scenario)
    m = metrics(result)
    server = [reason for _, _, reason in kinds(result, Ev.SERVER)]
    assert server == ["down", "up"]
    assert any(reason == "restart" for _, _, reason in kinds(result, Ev.DEAD))
    after = [r for r, _, _ in kinds(result, Ev.QUERY_END)]
    assert max(after) > len(after) // 2                  # requests complete again after the restart
    assert m["completed"] > 0 and result.left_open == 0


async def test_two_runs_at_once_do_not_disturb_each_other() -> None:
    a = short({"kind": "asyncpg", "min_size": 1, "max_size": 4}, name="twin-a",
              database={"max_connections": 10})
    b = short({"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 1}, name="twin-b",
              faults=[{"kind": "restart", "at_s": 1.0, "down_s": 0.2}])
    ra, rb = await asyncio.gather(run(a, max_requests=30), run(b, max_requests=30))
    ma = metrics(ra)
    assert ma["completed"] == ma["requests"]               # b's restart happened on another server
    assert not kinds(ra, Ev.DEAD)
    assert ra.left_open == rb.left_open == 0


async def test_a_time_scale_runs_faster_and_reports_on_the_scenario_clock() -> None:
    scenario = short({"kind": "asyncpg", "min_size": 1, "max_size": 4}, duration_s=4.0)
    result = await run(scenario, time_scale=4.0)
    m = metrics(result)
    assert result.end_s == pytest.approx(4.0, abs=0.5)
    assert result.wall_seconds < 4.0
    assert m["requests"] == sum(len(c.t) for c in workload.draw(scenario))


async def test_pool_kinds_without_python_implementation_are_refused_in_one_line() -> None:
    with pytest.raises(LiveError, match=r"^pool\.kind = hikari: HikariCP is a Java library") as err:
        await run(Scenario().with_overrides(["pool.kind=hikari"]))
    assert "\n" not in str(err.value)


QUIET_GAP = {"rate_per_s": 30, "hold": {"dist": "constant", "mean_ms": 50},
             "phases": [{"at_s": 0.6, "rate_per_s": 0}, {"at_s": 1.4, "rate_per_s": 30}]}


@pytest.mark.parametrize(("pool", "reason"), [
    ({"kind": "asyncpg", "min_size": 1, "max_size": 4, "max_queries": 3}, "max_queries"),
    ({"kind": "asyncpg", "min_size": 1, "max_size": 4, "max_inactive_connection_lifetime": 0.3}, "idle"),
    ({"kind": "sqlalchemy", "pool_size": 1, "max_overflow": 4}, "overflow"),
    ({"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 0, "pool_recycle": 1}, "recycle"),
])
async def test_the_library_closes_connections_for_its_own_reasons(pool: dict[str, Any], reason: str) -> None:
    result = await run(short(pool, workload=QUIET_GAP))
    m = metrics(result)
    assert m["closes"][reason] >= 1
    assert m["closes"]["broken"] == 0 and sum(m["errors"].values()) == 0
    assert result.left_open == 0


async def test_asyncpg_command_timeout_cancels_the_statement_and_keeps_the_connection() -> None:
    scenario = short({"kind": "asyncpg", "min_size": 1, "max_size": 2, "command_timeout": 0.05},
                     workload={"rate_per_s": 10, "hold": {"dist": "constant", "mean_ms": 200}})
    result = await run(scenario, max_requests=8)
    m = metrics(result)
    assert m["errors"]["query_timeout"] == 8
    assert m["closes"]["broken"] == 0 and m["connects"] <= 2


async def test_a_run_that_ends_while_its_restart_keeps_the_server_down_brings_it_up_first() -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 0}, duration_s=2.0,
                     faults=[{"kind": "restart", "at_s": 1.0, "down_s": 600}])
    result = await run(scenario)
    assert result.left_open == 0              # checked on a server that is up again
    with SANDBOX.lease() as lease:            # and the next run can use it
        conn = await asyncpg.connect(lease.target.dsn)
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()


# ------------------------------------------------ the recorder, the faults on demand

class FakeConn:
    """Enough of an asyncpg Connection for the recorder."""

    def is_closed(self) -> bool:
        return False

    def terminate(self) -> None:
        pass


def rows_of(recorder: Recorder) -> list[tuple[int, int, str, str]]:
    return [(r[2], r[3], r[4], r[5]) for r in recorder.trace.rows()]


async def test_a_warm_up_is_untraced_in_its_own_task_only() -> None:
    """Two instances start side by side: the end of one's warm-up never hides or shows the other's rows."""
    rec = Recorder()
    a_warming, b_wrote = asyncio.Event(), asyncio.Event()

    async def warming_instance() -> None:
        with untraced():
            rec.emit(0, -1, 0, Ev.CONNECT)
            a_warming.set()
            await b_wrote.wait()          # the other instance writes while this one is warming up
            rec.emit(0, -1, 0, Ev.OPEN)
        rec.emit(0, -1, 1, Ev.CONNECT)    # after its warm-up: traced

    async def working_instance() -> None:
        await a_warming.wait()
        rec.emit(1, -1, 2, Ev.CONNECT)
        b_wrote.set()

    await asyncio.gather(warming_instance(), working_instance())
    assert rows_of(rec) == [(-1, 2, "connect", "none"), (-1, 1, "connect", "none")]


async def test_a_close_during_a_statement_is_written_after_the_statements_error() -> None:
    """SQLAlchemy closes a connection that died under a statement before the error reaches the request."""
    rec = Recorder()
    rec.start()
    tracked = rec.track(rec.new_id(), 0, FakeConn(), 1234, 0)
    rec.emit(0, 7, tracked.id, Ev.OPEN)
    rec.acquired(tracked, 7, False)
    rec.query_started(tracked, 7)
    tracked.pending = Why.BROKEN
    rec.terminated(tracked, Why.OTHER)    # the library's close, inside the failing statement
    assert rows_of(rec)[-1] == (7, 0, "query_start", "none")
    rec.query_ended(tracked, 7, Ev.ERROR, Why.BROKEN)
    assert rows_of(rec)[-3:] == [(7, 0, "error", "broken"), (7, 0, "release", "none"),
                                 (7, 0, "close", "broken")]
    rec.terminated(tracked, Why.OTHER)    # once only
    assert len(rec.trace) == 6


async def test_kill_idle_writes_dead_rows_only_for_the_backends_it_terminated() -> None:
    with SANDBOX.lease() as lease:
        rec = Recorder()
        rec.start()
        real = await asyncpg.connect(lease.target.dsn)
        try:
            alive = rec.track(rec.new_id(), 0, real, real.get_server_pid(), 0)
            not_a_backend = rec.track(rec.new_id(), 0, FakeConn(), os.getpid(), 0)  # the kill fails for it
            assert await faults.kill_idle_now(rec, lease.target.admin_dsn) == 1
            assert rows_of(rec) == [(-1, alive.id, "dead", "killed")]
            assert not not_a_backend.dead
            # and a kill that cannot be done at all writes nothing
            with pytest.raises((OSError, asyncpg.PostgresError)):
                await faults.kill_idle_now(rec, f"postgresql://nobody@127.0.0.1:{unused_port()}/none")
            assert rows_of(rec) == [(-1, alive.id, "dead", "killed")]
        finally:
            real.terminate()


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SlowLease:
    """A sandbox lease whose restart takes `seconds` in its thread, or fails."""

    def __init__(self, seconds: float, fails: bool = False) -> None:
        self.seconds, self.fails = seconds, fails
        self.restarted = threading.Event()

    def restart(self, down_s: float) -> None:
        time.sleep(self.seconds)
        self.restarted.set()
        if self.fails:
            raise RuntimeError("pg_ctl failed")


@pytest.mark.parametrize("fails", [False, True])
async def test_restart_now_returns_once_the_server_is_going_down(fails: bool) -> None:
    """It waits on an event set by the fault, not in a loop of sleep(0) turns."""
    lr = LiveRun(short({"kind": "sqlalchemy"}))
    lease = SlowLease(0.5, fails)
    lr.lease = lease  # type: ignore[assignment]
    lr.recorder.start()
    await asyncio.wait_for(lr.restart_now(down_s=0.5), 5.0)
    assert not lease.restarted.is_set() and lr.server_work    # returned while it is down
    assert [r[5] for r in lr.recorder.trace.rows() if r[4] == "server"] == ["down"]
    done = await asyncio.gather(*lr.background, return_exceptions=True)
    assert isinstance(done[0], RuntimeError) if fails else done == [None]
    ups = [r[5] for r in lr.recorder.trace.rows() if r[4] == "server"]
    assert ups == (["down"] if fails else ["down", "up"])


async def test_a_cleanup_step_that_fails_is_logged_and_the_cleanup_goes_on(caplog: pytest.LogCaptureFixture
                                                                          ) -> None:
    async def refused() -> None:
        raise ConnectionResetError("the server went away")

    async def stuck() -> None:
        await asyncio.sleep(10)

    with caplog.at_level(logging.WARNING, logger="live.pools.base"):
        await bounded(refused(), 1.0)
        await bounded(stuck(), 0.05)
    said = [r.getMessage() for r in caplog.records]
    assert any("refused" in m and "ConnectionResetError: the server went away" in m for m in said), said
    assert any("stuck" in m and "did not end within 0.05 s" in m for m in said), said
