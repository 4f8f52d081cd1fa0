"""PgBouncer's rules, as its source has them (docs/pgbouncer-semantics.md), held by the model.

Each test places a few requests by hand and reads the trace (the app's side),
the backend trace (PgBouncer's own server connections) and the SHOW POOLS
readings, so a rule that broke shows as the row or the count that changed.
"""

from __future__ import annotations

import itertools
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from sim.lifecycle import check
from sim.metrics import summarize_run
from sim.model import RunResult, run
from sim.poolers.pgbouncer import JANITOR_S, LOGIN_FAILING, LOGIN_MS, PgBouncer
from sim.scenario import ScenarioError, load_preset
from tests.conftest import at, events, play, tiny

ASYNCPG = {"kind": "asyncpg", "min_size": 0, "max_size": 10}


def through(mode: str = "transaction", pool: dict[str, Any] | None = None,
            database: dict[str, Any] | None = None, faults: list[dict[str, Any]] | None = None,
            **pooler: Any) -> Any:
    """Five app instances (their own pools, their own client connections) through PgBouncer, no hop cost."""
    return tiny(pool or ASYNCPG, database, app={"instances": 5}, faults=faults or [],
                pooler={"kind": "pgbouncer", "pool_mode": mode, "hop_ms": 0.0, **pooler})


def backend(result: RunResult, kind: str) -> list[tuple[float, int]]:
    """(t, conn) of PgBouncer's server connections' rows of this kind."""
    assert result.trace.backend is not None
    return [(round(t, 6), conn) for t, _i, _r, conn, k, _why in result.trace.backend.rows() if k == kind]


def readings(result: RunResult) -> Any:
    assert result.trace.show_pools is not None
    return result.trace.show_pools.columns()


def ended(result: RunResult, kind: str) -> list[tuple[float, int, str]]:
    return [(t, req, why) for t, req, _c, _k, why in events(result, kinds=(kind,))]


# ---------------------------------------------------------------- transaction mode

def test_transaction_mode_lends_few_server_connections_to_many_clients() -> None:
    result = play(through(default_pool_size=2, database={"connect_ms": 1.0}),
                  at(*[0.1 + 0.001 * i for i in range(6)], hold=0.2, instance=0))
    assert len(backend(result, "open")) == 2                 # six clients, two servers
    assert max(readings(result)["sv_active"]) == 2
    assert max(readings(result)["cl_waiting"]) >= 3
    assert len(ended(result, "query_end")) == 6              # and everyone is served, in turn


def test_waiting_clients_are_served_first_come_first_served() -> None:
    result = play(through(default_pool_size=1), at(0.1, 0.2, 0.3, 0.4, hold=0.5, instance=[0, 1, 2, 3]))
    # one server: it goes from client to client in the order they asked, nobody barges
    starts = [req for _t, req, _c, _k, _w in events(result, kinds=("query_end",))]
    assert starts == [0, 1, 2, 3]


def test_the_last_released_server_is_the_next_one_used_so_the_other_idles_out() -> None:
    # two servers, then one request every 0.5 s: taken from the top of the stack, the same server serves them
    # all, and the one beneath idles past server_idle_timeout (taken in turn, each would be idle only 1 s)
    later = [1.0 + 0.5 * i for i in range(8)]
    result = play(through(default_pool_size=2, server_idle_timeout=1.5),
                  at(0.1, 0.1, *later, hold=[0.2, 0.2] + [0.01] * 8, instance=[0, 1] + [0] * 8))
    assert len(backend(result, "open")) == 2
    closes = [t for t, _c in backend(result, "close")]
    assert 1.8 <= closes[0] <= 1.82 + JANITOR_S                 # the one beneath, idle since 0.32
    assert closes[1:] == [pytest.approx(6.0, abs=JANITOR_S + 0.02)]  # the top one, after the last request


def test_server_connections_open_one_at_a_time() -> None:
    result = play(through(default_pool_size=5, database={"connect_ms": 10.0}),
                  at(*[0.1] * 5, hold=1.0, instance=[0, 1, 2, 3, 4]))
    opened = [t for t, _c in backend(result, "open")]
    assert len(opened) == 5
    gaps = [b - a for a, b in itertools.pairwise(opened)]
    assert all(g == pytest.approx(0.010, abs=1e-6) for g in gaps)   # one login in flight, each 10 ms
    assert max(readings(result)["sv_login"]) == 1


def test_a_client_login_takes_no_server_once_the_pool_has_logged_in() -> None:
    scenario = through(default_pool_size=2, database={"connect_ms": 10.0})
    result = play(scenario, at(0.1, 0.5, hold=0.01, instance=[0, 1]))
    # the first client's login waits for the pool's first server; the second's takes LOGIN_MS only
    connects = [(t, conn) for t, _r, conn, _k, _w in events(result, kinds=("connect",))]
    opens = {conn: t for t, _r, conn, _k, _w in events(result, kinds=("open",))}
    first, second = connects
    assert opens[first[1]] - first[0] >= 0.010
    assert opens[second[1]] - second[0] == pytest.approx(LOGIN_MS / 1000.0, abs=1e-6)
    assert len(backend(result, "open")) == 1


def test_max_client_conn_refuses_the_login_past_it() -> None:
    result = play(through(max_client_conn=2), at(0.1, 0.1, 0.1, hold=1.0, instance=[0, 1, 2]))
    failed = ended(result, "error")
    assert failed == [(pytest.approx(0.1 + LOGIN_MS / 1000.0), 2, "max_client_conn")]
    metrics = summarize_run(result)
    assert metrics["errors"]["max_client_conn"] == 1
    message = next(m for m in metrics["messages"] if m["reason"] == "max_client_conn")
    assert message["message"] == "no more connections allowed (max_client_conn)"
    assert message["sqlstate"] == "08P01"


def test_query_wait_timeout_fires_at_the_janitors_next_round_and_closes_the_client() -> None:
    result = play(through(default_pool_size=1, query_wait_timeout=1.0),
                  at(0.1, 0.2, hold=[3.0, 0.1], instance=[0, 1]))
    (t, req, why), = ended(result, "error")
    assert (req, why) == (1, "query_wait_timeout")
    assert 1.2 <= t <= 1.2 + JANITOR_S + 1e-9   # waited from 0.2; the janitor runs 3 times a second
    assert [k for *_r, k, w in events(result, request=-1, kinds=("dead",))] == ["dead"]
    message = summarize_run(result)["messages"][0]
    assert message["message"].endswith("query_wait_timeout")
    assert message["exception"] == "asyncpg.exceptions.ConnectionDoesNotExistError"


def test_the_reserve_opens_once_the_oldest_client_has_waited_reserve_pool_timeout() -> None:
    scenario = through(default_pool_size=1, reserve_pool_size=1, reserve_pool_timeout=0.5)
    result = play(scenario, at(0.1, 0.2, hold=[2.0, 0.1], instance=[0, 1]))
    opened = [t for t, _c in backend(result, "open")]
    assert len(opened) == 2
    assert 0.7 <= opened[1] <= 0.7 + JANITOR_S + 0.011       # 0.2 + 0.5, at the janitor's next round
    assert ended(result, "query_end")[0][1] == 1             # the reserve served the waiter before the holder


def test_at_max_db_connections_a_client_waits_without_an_error() -> None:
    result = play(through(default_pool_size=5, max_db_connections=1), at(0.1, 0.1, hold=0.5, instance=[0, 1]))
    assert len(backend(result, "open")) == 1
    assert not ended(result, "error") and len(ended(result, "query_end")) == 2


def test_an_idle_server_killed_behind_the_pooler_costs_the_app_nothing() -> None:
    scenario = through(default_pool_size=2, faults=[{"kind": "kill_idle", "at_s": 1.0}])
    result = play(scenario, at(0.1, 0.1, 2.0, 2.0, hold=0.1, instance=[0, 1, 0, 1]))
    assert len(backend(result, "dead")) == 2                 # PgBouncer's idle servers died
    assert not ended(result, "error")                        # the clients never knew: new servers were opened
    assert len(ended(result, "query_end")) == 4
    assert len(backend(result, "open")) == 4


def test_a_login_refused_by_the_server_fails_fast_while_the_pool_has_no_server() -> None:
    full = {"max_connections": 4, "superuser_reserved_connections": 3}   # one slot for the app's role
    scenario = through(database=full, faults=[{"kind": "restart", "at_s": 0.5, "down_s": 5.0}])
    result = play(scenario, at(0.1, 1.0, 2.0, hold=0.1, instance=[0, 0, 0]))
    errors = ended(result, "error")
    assert [why for *_x, why in errors] == ["login_failing", "login_failing"]
    messages = summarize_run(result)["messages"]
    assert messages[0]["message"].endswith(LOGIN_FAILING)


# ------------------------------------------------------------------- session mode

def test_session_mode_keeps_a_server_per_client_until_it_disconnects() -> None:
    pool = {"kind": "asyncpg", "min_size": 3, "max_size": 3}
    result = play(through("session", pool, default_pool_size=2, query_wait_timeout=0),
                  at(0.1, 0.1, 0.1, hold=0.2, instance=0))
    assert len(backend(result, "open")) == 2
    assert max(readings(result)["sv_active"]) == 2
    waited = [t for t, *_ in ended(result, "query_end")]
    assert len(waited) == 2                                   # the third client never gets one: nobody leaves
    assert readings(result)["cl_waiting"][-1] == 1


def test_a_session_server_is_reset_before_the_next_client_gets_it() -> None:
    pool = {"kind": "none"}                                   # each request connects and disconnects
    result = play(through("session", pool, default_pool_size=1, database={"rtt_ms": 1.0}),
                  at(0.1, 0.1, hold=0.1, instance=[0, 1]))
    assert max(readings(result)["sv_tested"]) == 1            # DISCARD ALL between the two clients
    (t0, *_), (t1, *_) = ended(result, "query_end")
    assert t1 - t0 >= 0.1 + 0.001                              # the second waited the hold and the reset


# ------------------------------------------------------------------- what breaks

def test_statement_mode_refuses_a_library_that_opens_transactions() -> None:
    sqlalchemy = {"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 0}
    result = play(through("statement", sqlalchemy), at(0.1, hold=0.1))
    assert [why for *_x, why in ended(result, "error")] == ["statement_mode"]
    autocommit = play(through("statement"), at(0.1, hold=0.1))
    assert len(ended(autocommit, "query_end")) == 1          # asyncpg's pool sends statements alone: fine


def test_named_prepared_statements_break_in_transaction_mode_and_the_fix_holds() -> None:
    def scenario(cache: bool) -> Any:
        return tiny({"kind": "sqlalchemy", "pool_size": 4, "max_overflow": 0},
                    {"connect_ms": 2.0, "rtt_ms": 0.2}, duration_s=4.0, app={"instances": 2},
                    workload={"rate_per_s": 100.0, "hold": {"mean_ms": 10.0}},
                    pooler={"kind": "pgbouncer", "pool_mode": "transaction", "default_pool_size": 2,
                            "app_statement_cache": cache})
    broken = summarize_run(run(scenario(True)))
    # each process (instance) names its statements from its own counter: a name another process used is on a
    # server already, and a statement prepared on one server is missing from the other
    assert broken["errors"]["prepared_missing"] > 0 and broken["errors"]["prepared_exists"] > 0
    message = next(m for m in broken["messages"] if m["reason"] == "prepared_missing")
    assert message["message"].startswith('(sqlalchemy.dialects.postgresql.asyncpg.Error) prepared statement '
                                         '"__asyncpg_stmt_c__" does not exist')
    fixed = summarize_run(run(scenario(False)))
    assert sum(fixed["errors"].values()) == 0 and fixed["completed"] + fixed["in_flight"] == fixed["requests"]


# --------------------------------------------------------------- the presets

def test_the_three_presets_tell_direct_transaction_and_session_apart() -> None:
    direct, transaction, session = (summarize_run(run(load_preset(f"pgbouncer-{name}")))
                                    for name in ("direct", "transaction", "session"))
    assert direct["errors"]["too_many_clients"] > 0 and "pooler" not in direct
    assert transaction["errors"]["too_many_clients"] == 0 and transaction["completed"] >= 0.99 * transaction[
        "requests"]
    assert transaction["peak"]["server"] <= 20 and transaction["pooler"]["cl_active"] == 320
    assert session["pooler"]["sv_active"] == 20 and session["pooler"]["cl_waiting"] > 150
    assert session["pooler"]["maxwait_ms"] > 10_000                     # clients wait the whole run


def test_query_wait_timeout_preset_fires() -> None:
    metrics = summarize_run(run(load_preset("pgbouncer-query-wait-timeout")))
    assert metrics["errors"]["query_wait_timeout"] > 0
    assert metrics["peak"]["server"] == 2   # PgBouncer's two, however many clients wait


# ------------------------------------------------------------------- validation

@pytest.mark.parametrize(("change", "expected"), [
    ({"pooler.kind": "odyssey"}, "pooler.kind = 'odyssey': must be one of none, pgbouncer"),
    ({"pooler.kind": "pgbouncer", "pooler.pool_mode": "txn"},
     "pooler.pool_mode = 'txn': must be one of session, transaction, statement"),
    ({"pooler.kind": "pgbouncer", "pooler.default_pool_size": 0},
     "pooler.default_pool_size = 0: must be a whole number from 1 to 10000"),
    ({"pooler.kind": "pgbouncer", "pooler.pool_size": 5},
     "pooler.pool_size: not a setting of pooler.kind = 'pgbouncer'"),
    ({"pooler.query_wait_timeout": 5}, "pooler.query_wait_timeout: not a setting of pooler.kind = 'none'"),
])
def test_pooler_fields_are_checked_with_their_names_and_ranges(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_preset("pooled").with_overrides(change)


def test_a_scenario_without_a_pooler_writes_no_pooler_table_and_one_with_it_round_trips() -> None:
    assert "pooler" not in load_preset("pooled").to_dict()
    scenario = load_preset("pgbouncer-transaction")
    assert scenario.to_dict()["pooler"]["kind"] == "pgbouncer"
    assert scenario.with_overrides({}) == scenario
    assert isinstance(scenario.pooler, PgBouncer) and scenario.pooler.ini()["pool_mode"] == "transaction"


# -------------------------------------------------------------------- invariants

@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(["session", "transaction"]), size=st.integers(1, 6), reserve=st.integers(0, 3),
       max_db=st.integers(0, 8), instances=st.integers(1, 6), rate=st.floats(5, 200),
       qwt=st.sampled_from([0.0, 0.5, 2.0]), kind=st.sampled_from(["asyncpg", "sqlalchemy", "none"]))
def test_pgbouncer_never_opens_past_its_limits_and_its_counts_add_up(
        mode: str, size: int, reserve: int, max_db: int, instances: int, rate: float, qwt: float, kind: str,
) -> None:
    pool = {"asyncpg": {"kind": "asyncpg", "min_size": 0, "max_size": 4},
            "sqlalchemy": {"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 2, "pool_timeout": 5.0},
            "none": {"kind": "none"}}[kind]
    scenario = tiny(pool, {"connect_ms": 2.0, "rtt_ms": 0.1}, duration_s=4.0,
                    app={"instances": instances}, workload={"rate_per_s": rate, "hold": {"mean_ms": 30.0}},
                    pooler={"kind": "pgbouncer", "pool_mode": mode, "default_pool_size": size,
                            "reserve_pool_size": reserve, "reserve_pool_timeout": 0.5,
                            "max_db_connections": max_db, "query_wait_timeout": qwt})
    result = run(scenario)
    cols = readings(result)
    limit = size + reserve if not max_db else min(size + reserve, max_db)
    assert cols["servers"].max(initial=0) <= limit
    assert (cols["cl_waiting"] >= 0).all() and (cols["cl_active"] >= 0).all()
    assert (cols["sv_active"] <= cols["servers"]).all()
    assert check(result.trace) == []
    assert result.trace.backend is not None and check(result.trace.backend) == []
    metrics = summarize_run(result)
    ends = metrics["completed"] + metrics["timed_out"] + sum(metrics["errors"].values())
    assert metrics["requests"] == ends + metrics["in_flight"]
