"""Every failure the model prints a text for, provoked on the embedded server through each live runner.

Each run's requests record the exception they really caught (`LiveResult.messages`);
the model's text for the same trace rows (the metrics' `messages`) must be the
same class and the same text, to the character, once SQLAlchemy's lines naming
the application's own statement are left out (`sim.errors.without_statement`).
Figures inside a text come from the same scenario on both sides. The only
freedom: a connect in the few milliseconds while the server is shutting down
meets the server's own "the database system is shutting down" instead of the
transport's error for a server that is gone, and either may come first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from live_scenarios import short

from live import faults
from live.runner import LiveResult, LiveRun, run
from sim.errors import SHUTTING_DOWN, LibraryError, without_statement
from sim.metrics import summarize
from sim.trace import Trace, Why

pytestmark = [pytest.mark.live, pytest.mark.asyncio]

SQLALCHEMY = {"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 1, "pool_timeout": 0.2}
ASYNCPG = {"kind": "asyncpg", "min_size": 0, "max_size": 3, "timeout": 0.2}
NONE = {"kind": "none"}
RUNNERS = [SQLALCHEMY, ASYNCPG, NONE]
IDS = [p["kind"] for p in RUNNERS]
LONG = {"rate_per_s": 12, "hold": {"dist": "constant", "mean_ms": 400}}


def same_texts(result: LiveResult, *wanted: str) -> dict[str, dict[str, Any]]:
    """Assert that each real failure's class and text are the model's for the same rows; by reason."""
    metrics = summarize(result.trace, result.scenario, result.end_s)
    model = {(m["kind"], m["reason"]): m for m in metrics["messages"]}
    real = {(c["kind"], c["reason"]): c for c in result.messages}
    assert set(real) == set(model), "every failure row has a real exception, and only those"
    for key, caught in real.items():
        ours = model[key]
        assert caught["count"] == ours["count"], key
        seen = LibraryError(caught["exception"], without_statement(caught["message"]))
        expected = {LibraryError(ours["exception"], ours["message"])}
        if key == ("error", "refused"):
            expected.add(result.scenario.pool.connect_error(SHUTTING_DOWN))
        assert seen in expected, f"{key}: really {seen!s}\n model {ours['exception']}: {ours['message']}"
    by_reason = {reason: caught for (_, reason), caught in real.items()}
    assert set(wanted) <= set(by_reason), f"wanted {wanted}, got {sorted(by_reason)}"
    return by_reason


@pytest.mark.parametrize("pool", [SQLALCHEMY, ASYNCPG], ids=["sqlalchemy", "asyncpg"])
async def test_a_pool_timeout(pool: dict[str, Any]) -> None:
    result = await run(short(pool, workload={"rate_per_s": 20, "hold": {"dist": "constant", "mean_ms": 500}}))
    texts = same_texts(result, "none")
    if pool["kind"] == "sqlalchemy":   # the figures are the scenario's: size, overflow, timeout
        assert texts["none"]["message"].startswith("QueuePool limit of size 2 overflow 1 reached, connection "
                                                   "timed out, timeout 0.20 (Background on this error at: ")


@pytest.mark.parametrize("pool", RUNNERS, ids=IDS)
async def test_too_many_clients(pool: dict[str, Any]) -> None:
    sized = pool | ({"pool_size": 4, "max_overflow": 0} if pool["kind"] == "sqlalchemy" else
                    {"max_size": 4, "timeout": None} if pool["kind"] == "asyncpg" else {})
    scenario = short(sized, database={"max_connections": 5, "superuser_reserved_connections": 3},
                     workload={"rate_per_s": 40, "hold": {"dist": "constant", "mean_ms": 200}})
    texts = same_texts(await run(scenario), "too_many_clients")
    assert "remaining connection slots are reserved" in texts["too_many_clients"]["message"]


async def kill_in_flight(live: LiveRun, at_s: float) -> int:
    """pg_terminate_backend, at `at_s`, on every connection of the run whose statement is under way."""
    while not live.live:
        await asyncio.sleep(0.01)
    await faults.sleep_until(live.recorder, at_s)
    victims = [c for c in live.recorder.open_connections() if c.querying and not c.dead]
    for tracked in victims:   # written first: the statement's error must come after its death
        live.recorder.died(tracked, Why.KILLED)
    admin = await faults.admin_connect(live.target.admin_dsn, 5.0)
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
                            [c.pid for c in victims])
    finally:
        await admin.close()
    return len(victims)


@pytest.mark.parametrize("pool", RUNNERS, ids=IDS)
async def test_a_connection_killed_under_its_statement(pool: dict[str, Any]) -> None:
    live = LiveRun(short(pool | ({"max_size": 8} if pool["kind"] == "asyncpg" else {}), workload=LONG))
    going = asyncio.ensure_future(live.go())
    killed = await kill_in_flight(live, 0.9)
    result = await going
    assert killed >= 1
    texts = same_texts(result, "broken")
    assert texts["broken"]["count"] == killed
    assert "connection was closed in the middle of operation" in texts["broken"]["message"]
    if pool["kind"] == "sqlalchemy":
        assert texts["broken"]["exception"] == "sqlalchemy.exc.DBAPIError"   # not an InterfaceError


RESTART = [{"kind": "restart", "at_s": 0.8, "down_s": 0.6}]
# no statement under way when the restart begins: the trace writes a restart's dead rows as the stop
# begins, some milliseconds before the server really ends its backends, and a statement sent in between
# meets the server's goodbye although its connection's death is written before it began; the quiet
# reaches 0.2 s either side of the restart, as a loaded machine's stop and event loop lag that long
# (0.1 s either side failed in CI at a load average of 8)
QUIET_AT_THE_RESTART = {"rate_per_s": 40, "hold": {"dist": "constant", "mean_ms": 20},
                        "phases": [{"at_s": 0.6, "rate_per_s": 0}, {"at_s": 1.0, "rate_per_s": 40}]}


@pytest.mark.parametrize("rtt_ms", [0.0, 2.0], ids=["unix", "proxy"])
@pytest.mark.parametrize("pool", RUNNERS, ids=IDS)
async def test_a_server_that_is_down(pool: dict[str, Any], rtt_ms: float) -> None:
    """Straight to the embedded server's unix socket, or through the lab's TCP proxy (a round trip to add)."""
    scenario = short(pool | ({"pool_size": 3, "max_overflow": 3} if pool["kind"] == "sqlalchemy" else {}),
                     duration_s=2.0, database={"connect_ms": 0, "rtt_ms": rtt_ms}, faults=RESTART,
                     workload=QUIET_AT_THE_RESTART)
    result = await run(scenario)
    assert result.scenario.database.transport == ("proxy" if rtt_ms else "unix")
    texts = same_texts(result, "refused")
    if "shutting down" not in texts["refused"]["message"]:
        assert texts["refused"]["exception"] == ("ConnectionResetError" if rtt_ms else "FileNotFoundError")


async def test_asyncpgs_command_timeout() -> None:
    scenario = short({"kind": "asyncpg", "min_size": 1, "max_size": 2, "command_timeout": 0.05},
                     workload={"rate_per_s": 10, "hold": {"dist": "constant", "mean_ms": 200}})
    texts = same_texts(await run(scenario, max_requests=6), "query_timeout")
    assert (texts["query_timeout"]["exception"], texts["query_timeout"]["message"]) == ("TimeoutError", "")


QUIET_GAP = {"rate_per_s": 30, "hold": {"dist": "constant", "mean_ms": 20},
             "phases": [{"at_s": 0.5, "rate_per_s": 0}, {"at_s": 1.5, "rate_per_s": 30}]}


async def test_sqlalchemy_using_a_connection_the_server_had_closed_while_idle() -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 3, "max_overflow": 0}, workload=QUIET_GAP,
                     faults=[{"kind": "kill_idle", "at_s": 1.0}])
    texts = same_texts(await run(scenario), "broken")
    assert texts["broken"]["exception"] == "sqlalchemy.exc.InterfaceError"   # "connection is closed"


@pytest.mark.parametrize("pool", [{"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 0},
                                  {"kind": "asyncpg", "min_size": 2, "max_size": 2}],
                         ids=["sqlalchemy", "asyncpg"])
async def test_a_connection_cut_silently_while_idle(pool: dict[str, Any]) -> None:
    scenario = short(pool, duration_s=2.5, workload=QUIET_GAP,
                     faults=[{"kind": "idle_cut", "at_s": 0.0, "idle_cut_after_s": 0.6}])
    result = await run(scenario)
    assert result.scenario.database.transport == "proxy"
    same_texts(result, "broken")


async def test_the_real_texts_travel_with_the_trace_to_the_app_and_into_live_runs_json() -> None:
    import pickle

    from live.compare import live_info
    from live.recorder import caught_messages

    result = await run(short(SQLALCHEMY, workload={"rate_per_s": 20, "hold": {"dist": "constant",
                                                                               "mean_ms": 500}}))
    assert result.messages and live_info(result)["messages"] == result.messages
    again = pickle.loads(pickle.dumps(result))   # as the worker sends it to the app
    assert caught_messages(again.trace) == result.messages
    assert caught_messages(Trace()) is None   # a model's trace has none


async def test_live_run_prints_the_real_texts_beside_the_models() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    sets = ["duration_s=1.5", "pool.kind=sqlalchemy", "pool.pool_size=1", "pool.max_overflow=0",
            "pool.pool_timeout=0.1", "workload.rate_per_s=20", "workload.hold.dist=constant",
            "workload.hold.mean_ms=300", "database.rtt_ms=0"]
    args = [sys.executable, "-m", "live", "run", "--preset", "pooled", *(f"--set={s}" for s in sets)]
    root = Path(__file__).resolve().parents[2]
    table, as_json = [await asyncio.to_thread(subprocess.run, args + extra, cwd=root, capture_output=True,
                                              text=True, timeout=240) for extra in ([], ["--json"])]
    assert table.returncode == as_json.returncode == 0, table.stderr + as_json.stderr
    out = json.loads(as_json.stdout)
    (model,), (real,) = out["messages"], out["live"]["messages"]
    assert (real["kind"], real["reason"], real["count"]) == (model["kind"], model["reason"], model["count"])
    assert (real["exception"], real["message"]) == (model["exception"], model["message"])
    assert real["message"].startswith("QueuePool limit of size 1 overflow 0 reached, connection timed out, "
                                      "timeout 0.10 (Background on this error at: https://sqlalche.me/e/")
    assert "really raised in this run:" in table.stdout
