"""Live runs through the real PgBouncer in front of the real embedded PostgreSQL.

The scenario's `[pooler]` puts Debian's pgbouncer between the pools and the
server; its SHOW POOLS goes into the trace, its refusals are named as the
model names them, with the texts the model prints, and nothing of it is left
running or connected afterwards.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from live_scenarios import short

from live import poolers
from live.poolers import pgbouncer
from live.runner import LiveError, LiveResult, LiveRun, run
from sim.errors import without_statement
from sim.metrics import summarize, summarize_run
from sim.model import run as simulate

pytestmark = [pytest.mark.live, pytest.mark.asyncio,
              pytest.mark.skipif(pgbouncer.available() is not None, reason=str(pgbouncer.available()))]


def metrics(result: LiveResult) -> dict[str, Any]:
    return summarize(result.trace, result.scenario, result.end_s)


def through(pool: dict[str, Any], workload: dict[str, Any] | None = None, **pooler: Any) -> Any:
    """Four app instances through PgBouncer (transaction mode unless `pooler` says otherwise)."""
    more = {"workload": workload} if workload else {}
    return short(pool, name="pooler-test", duration_s=3.0, app={"instances": 4}, **more,
                 pooler={"kind": "pgbouncer", "pool_mode": "transaction", **pooler})


def gone(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_transaction_mode_serves_every_client_on_its_few_server_connections() -> None:
    scenario = through({"kind": "asyncpg", "min_size": 3, "max_size": 3}, default_pool_size=2)
    result = await run(scenario)
    m = metrics(result)
    assert m["completed"] == m["requests"] > 30
    assert m["peak"]["open"] == 12                 # the app's 4 x 3 connections, all to PgBouncer
    assert 1 <= m["peak"]["server"] <= 2           # the server met PgBouncer's two at most
    assert m["pooler"]["cl_active"] == 12
    readings = result.trace.show_pools
    assert readings is not None and len(readings) >= 10   # polled through the run
    assert result.left_open == 0


async def test_query_wait_timeout_is_named_and_worded_as_the_model_words_it() -> None:
    scenario = through({"kind": "asyncpg", "min_size": 2, "max_size": 2}, default_pool_size=1,
                       query_wait_timeout=0.3,
                       workload={"rate_per_s": 30.0, "hold": {"dist": "constant", "mean_ms": 200.0}})
    result = await run(scenario)
    live = metrics(result)
    assert live["errors"]["query_wait_timeout"] > 0
    model = summarize_run(simulate(result.scenario))
    assert model["errors"]["query_wait_timeout"] > 0
    caught = next(m for m in result.messages if m["reason"] == "query_wait_timeout")
    printed = next(m for m in model["messages"] if m["reason"] == "query_wait_timeout")
    assert (caught["exception"], caught["message"]) == (printed["exception"], printed["message"])
    assert result.left_open == 0


async def test_a_prepared_statement_lost_between_servers_is_named_and_the_cache_off_fixes_it() -> None:
    sqlalchemy = {"kind": "sqlalchemy", "pool_size": 3, "max_overflow": 0}
    load = {"rate_per_s": 60.0, "hold": {"dist": "exponential", "mean_ms": 10.0}}
    broken = await run(through(sqlalchemy, default_pool_size=2, app_statement_cache=True, workload=load))
    errors = metrics(broken)["errors"]
    assert errors["prepared_missing"] + errors["prepared_exists"] > 0
    caught = next(m for m in broken.messages if m["reason"].startswith("prepared_"))
    assert without_statement(caught["message"]).startswith(
        "(sqlalchemy.dialects.postgresql.asyncpg.Error) prepared statement \"__asyncpg_stmt_")
    fixed = await run(through(sqlalchemy, default_pool_size=2, workload=load))
    m = metrics(fixed)
    assert sum(m["errors"].values()) == 0 and m["completed"] > 30
    assert broken.left_open == fixed.left_open == 0


async def test_nothing_of_pgbouncer_is_left_after_a_run_even_a_cancelled_one() -> None:
    scenario = through({"kind": "asyncpg", "min_size": 2, "max_size": 2}, pool_mode="session")
    live_run = LiveRun(scenario)
    task = asyncio.ensure_future(live_run.go())
    while live_run.pooler is None or not live_run.live:
        await asyncio.sleep(0.02)
    pid = live_run.pooler.pid
    assert not gone(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(pid)
    assert live_run.result is not None and live_run.result.left_open == 0


async def test_without_pgbouncer_a_pooler_scenario_is_refused_in_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgbouncer, "available", lambda: pgbouncer.NOT_INSTALLED)
    scenario = through({"kind": "asyncpg", "min_size": 1, "max_size": 1})
    assert poolers.unavailable(scenario) == f"pooler.kind = pgbouncer: {pgbouncer.NOT_INSTALLED}"
    with pytest.raises(LiveError, match=r"^pooler\.kind = pgbouncer: pgbouncer is not installed") as err:
        await run(scenario)
    assert "\n" not in str(err.value)
