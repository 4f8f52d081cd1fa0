"""The live runners against the real embedded PostgreSQL: traffic, faults, errors, and cleanup.

Each scenario is a few seconds long; assertions are about what happened
(counts, reasons, connections left on the server), never about how long it took.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from live_scenarios import short

from live.runner import LiveResult, run
from live.server import SANDBOX, LiveError
from sim import workload
from sim.metrics import summarize
from sim.scenario import Scenario
from sim.trace import Ev

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
