"""app.workers and workload.retries / retry_backoff_ms / retry_jitter / deadline_ms in the model.

Hand-placed requests pin the semantics (who waits for what, when a retry
starts, what ends a request); hypothesis checks the invariants on random
scenarios that use them; and the defaults are checked to leave every preset's
trace exactly as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import numpy as np
import pytest
from conftest import at, events, qp, tiny
from hypothesis import given
from hypothesis import strategies as st
from test_properties import PROFILE, raw_scenarios

from sim.cli import main
from sim.lifecycle import check
from sim.metrics import summarize_run
from sim.model import run
from sim.scenario import ScenarioError, from_dict, load_preset
from sim.trace import COLUMNS, Ev
from sim.workload import Backoff

RESTART = [{"kind": "restart", "at_s": 0.5, "down_s": 1.0}]   # the server is down from 0.5 s to 1.5 s
NO_POOL = {"kind": "none"}


def figures(result: Any) -> dict[str, Any]:
    return dict(summarize_run(result))


def retrying(jitter: str = "none", retries: int = 3, backoff_ms: float = 200.0, **more: Any
             ) -> dict[str, Any]:
    return {"retries": retries, "retry_backoff_ms": backoff_ms, "retry_jitter": jitter, **more}


# ------------------------------------------------------------------- workers

def test_one_worker_serialises_two_requests_and_its_wait_is_latency_not_pool_wait():
    result = run(tiny(qp(), app={"workers": 1}), arrivals=at(1.0, 1.0, hold=0.1))
    first, second = events(result, request=0), events(result, request=1)
    start_2 = next(e[0] for e in second if e[3] == "query_start")
    end_1 = next(e[0] for e in first if e[3] == "query_end")
    assert start_2 >= end_1                                        # never two statements at once
    assert [e[3] for e in second[:3]] == ["arrive", "queue", "worker"]
    assert "queue" not in [e[3] for e in first]
    m = figures(result)
    assert m["peak"]["worker_queue"] == 1
    assert m["worker_wait_ms"]["max"] == pytest.approx((start_2 - 1.0) * 1000, abs=1.0)
    assert m["worker_wait_ms"]["p50"] == pytest.approx(m["worker_wait_ms"]["max"] / 2, rel=0.01)  # 0 and it
    # the worker wait is in the second request's latency, and not in its wait for a connection
    assert m["wait_ms"]["max"] == pytest.approx(10.0)             # the first one's connect, 10 ms
    assert m["latency_ms"]["max"] >= m["worker_wait_ms"]["max"] + 100.0
    assert check(result.trace) == []


def test_workers_free_themselves_however_a_request_ends_even_a_leaked_one():
    result = run(tiny(qp(), app={"workers": 1}), arrivals=at(1.0, 1.1, hold=0.1, leak=[True, False]))
    m = figures(result)
    assert m["completed"] == 2 and m["leaked"] == 1
    worker = [e for e in events(result, request=1) if e[3] == "worker"]
    assert worker and worker[0][0] == pytest.approx(1.11)   # as the leaking one ends: 10 ms connect, 100 ms


def test_a_worker_cap_is_per_instance():
    result = run(tiny(qp(), app={"instances": 2, "workers": 1}), arrivals=at(1.0, 1.0, instance=[0, 1]))
    assert figures(result)["peak"]["worker_queue"] == 0


def test_without_workers_nobody_queues_for_one_and_the_worker_wait_is_zero():
    m = figures(run(load_preset("exhaustion-timeouts")))
    assert m["peak"]["worker_queue"] == 0
    assert m["worker_wait_ms"]["max"] == 0.0


# ------------------------------------------------------------------- retries

def test_a_refused_request_retries_after_each_backoff_until_the_server_is_up():
    # refused at 1.0, retry at 1.2 (refused), at 1.6 (up since 1.5): 0.2 then 0.4 s, doubling
    result = run(tiny(NO_POOL, workload=retrying(), faults=RESTART), arrivals=at(1.0))
    rows = [(t, kind, why) for t, _, _, kind, why in events(result, request=0)
            if kind in ("backoff", "retry", "query_end", "error")]
    assert rows == [(1.0, "backoff", "refused"), (1.2, "retry", "none"), (1.2, "backoff", "refused"),
                    (1.6, "retry", "none"), (pytest.approx(1.7, abs=0.02), "query_end", "none")]
    m = figures(result)
    assert (m["completed"], m["retries"], m["retried_completed"], m["retried_failed"]) == (1, 2, 1, 0)
    assert m["errors"]["refused"] == 0           # a retried failure is not the request's error
    assert check(result.trace) == []


def test_a_request_that_runs_out_of_retries_is_one_error_not_one_per_attempt():
    result = run(tiny(NO_POOL, workload=retrying(retries=1), faults=RESTART), arrivals=at(1.0))
    m = figures(result)
    assert (m["errors"]["refused"], m["retries"], m["retried_failed"], m["in_flight"]) == (1, 1, 1, 0)
    assert [e[3] for e in events(result, request=0, kinds=("backoff", "retry", "error"))] == [
        "backoff", "retry", "error"]


def test_a_query_timeout_is_not_retried():
    pool = {"kind": "asyncpg", "min_size": 1, "max_size": 1, "command_timeout": 0.05}
    m = figures(run(tiny(pool, workload=retrying()), arrivals=at(1.0, hold=0.2)))
    assert (m["errors"]["query_timeout"], m["retries"]) == (1, 0)


def test_a_broken_statement_gives_its_connection_back_then_retries():
    pool = qp(pool_size=1, max_overflow=0)
    faults = [{"kind": "restart", "at_s": 1.05, "down_s": 0.1}]
    result = run(tiny(pool, workload=retrying(), faults=faults), arrivals=at(1.0, hold=0.2))
    kinds = [e[3] for e in events(result, request=0)]
    i = kinds.index("backoff")
    assert kinds[i:i + 3] == ["backoff", "release", "close"]
    assert kinds[-2:] == ["query_end", "release"]
    assert figures(result)["retried_completed"] == 1
    assert check(result.trace) == []


def test_no_jitter_brings_the_retries_of_one_fault_back_together_full_jitter_spreads_them():
    arrivals = at(*([1.0] * 8))
    together = run(tiny(NO_POOL, workload=retrying("none"), faults=RESTART), arrivals=arrivals)
    spread = run(tiny(NO_POOL, workload=retrying("full"), faults=RESTART), arrivals=arrivals)
    first = lambda r: sorted(e[0] for e in events(r, kinds=("retry",)))[:8]  # noqa: E731
    assert first(together) == [1.2] * 8
    assert len(set(first(spread))) == 8 and all(1.0 <= t <= 1.2 for t in first(spread))


def test_full_jitter_is_uniform_under_the_backoff_and_the_same_for_a_seed():
    scenario = from_dict({"workload": retrying("full", backoff_ms=100.0)})
    backoff = Backoff(scenario.workload, 7)
    delays = np.array([backoff.delay_s(r, 3) for r in range(4000)])
    assert delays.min() >= 0 and delays.max() < 0.4                  # third retry: up to 100 * 2**2 ms
    assert delays.mean() == pytest.approx(0.2, rel=0.05)
    assert [Backoff(scenario.workload, 7).delay_s(r, 3) for r in range(5)] == delays[:5].tolist()
    assert Backoff(scenario.workload, 8).delay_s(0, 3) != delays[0]


def test_the_same_seed_gives_the_same_retries():
    scenario = load_preset("retry-jitter")
    a, b = run(scenario).trace.columns(), run(scenario).trace.columns()
    assert all(np.array_equal(a[c], b[c]) for c in COLUMNS)


# ------------------------------------------------------------------ deadline

def test_no_attempt_starts_after_the_deadline():
    # retries at 1.2 and 1.6 would be due, but the deadline is 1.5: the refusal at 1.2 is the last
    result = run(tiny(NO_POOL, workload=retrying(deadline_ms=500.0), faults=RESTART), arrivals=at(1.0))
    assert [(e[0], e[3]) for e in events(result, request=0, kinds=("backoff", "retry", "error"))] == [
        (1.0, "backoff"), (1.2, "retry"), (1.2, "error")]
    assert figures(result)["retried_failed"] == 1


def test_a_deadline_ends_a_wait_for_a_connection_with_the_apps_timeout_not_queuepools():
    """The app's asyncio.timeout cancels the checkout (as the live runner's does): a bare TimeoutError,
    not QueuePool's "limit of size 1 overflow 0 reached", which only its own pool_timeout raises."""
    pool = qp(pool_size=1, max_overflow=0, pool_timeout=30.0)
    result = run(tiny(pool, workload={"deadline_ms": 500.0}), arrivals=at(1.0, 1.0, hold=2.0))
    assert events(result, request=1)[-1][3:] == ("timeout", "deadline")
    assert events(result, request=1)[-1][0] == pytest.approx(1.5)
    assert figures(result)["messages"][0]["exception"] == "TimeoutError"
    own = run(tiny(qp(pool_size=1, max_overflow=0, pool_timeout=0.5)), arrivals=at(1.0, 1.0, hold=2.0))
    assert figures(own)["messages"][0]["exception"] == "sqlalchemy.exc.TimeoutError"


def test_a_deadline_ends_a_wait_for_a_worker():
    result = run(tiny(qp(), app={"workers": 1}, workload={"deadline_ms": 500.0}),
                 arrivals=at(1.0, 1.0, hold=2.0))
    assert events(result, request=1)[-1] == (1.5, 1, -1, "timeout", "deadline")
    m = figures(result)
    assert m["timed_out"] == 1 and m["messages"][0]["exception"] == "TimeoutError"
    assert check(result.trace) == []


# ---------------------------------------------------------------- defaults

@pytest.mark.parametrize("name", ["exhaustion-timeouts", "restart", "too-many-clients", "go-random-waiters",
                                  "asyncpg-lifespan-pool", "hikari-burst", "slow-leak"])
def test_the_defaults_written_out_give_the_very_same_trace(name: str):
    scenario = load_preset(name)
    explicit = scenario.with_overrides({"app.workers": 0, "workload.retries": 0,
                                        "workload.retry_backoff_ms": 100.0, "workload.retry_jitter": "full"})
    a, b = run(scenario), run(explicit)
    assert all(np.array_equal(a.trace.columns()[c], b.trace.columns()[c]) for c in COLUMNS)
    ma, mb = figures(a), figures(b)
    ma.pop("sim_seconds"), mb.pop("sim_seconds")
    assert ma == mb
    assert ma["retries"] == ma["retried_completed"] == ma["retried_failed"] == 0


def test_retries_with_no_failure_change_nothing():
    scenario = load_preset("pooled")
    plain, retried = run(scenario), run(scenario.with_overrides({"workload.retries": 5}))
    assert all(np.array_equal(plain.trace.columns()[c], retried.trace.columns()[c]) for c in COLUMNS)


# ---------------------------------------------------------------- the fields

@pytest.mark.parametrize(("assignment", "said"), [
    ("app.workers=-1", "app.workers = -1: must be a whole number from 0 to 100000"),
    ("app.workers=100001", "app.workers"),
    ("workload.retries=21", "workload.retries = 21: must be a whole number from 0 to 20"),
    ("workload.retry_jitter=equal", "workload.retry_jitter = 'equal': must be one of none, full"),
    ("workload.deadline_ms=0", "workload.deadline_ms = 0"),
    ("workload.retry_backoff_ms=-5", "workload.retry_backoff_ms"),
])
def test_the_new_fields_are_validated_by_name(assignment: str, said: str):
    with pytest.raises(ScenarioError, match=said.replace("(", r"\(").replace(")", r"\)")):
        load_preset("pooled").with_overrides([assignment])


def test_retry_jitter_none_is_a_choice_not_a_missing_value():
    scenario = load_preset("pooled").with_overrides(["workload.retry_jitter=none"])
    assert scenario.workload.retry_jitter == "none"
    assert load_preset("retry-storm").workload.retry_jitter == "none"


def test_the_command_line_takes_the_new_fields():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", "--preset", "restart", "--set", "app.workers=4", "--set", "workload.retries=3",
                     "--set", "workload.retry_jitter=none", "--set", "workload.deadline_ms=5000",
                     "--json"]) == 0
    m = json.loads(buf.getvalue())
    assert m["retries"] > 0 and m["peak"]["worker_queue"] > 0 and "p95" in m["worker_wait_ms"]


@pytest.mark.parametrize("name", ["fastapi-threads", "asyncio-unbounded", "asyncio-semaphore",
                                  "retry-storm", "retry-jitter"])
def test_the_lesson_presets_show_what_they_say(name: str):
    m = figures(run(load_preset(name)))
    if name == "fastapi-threads":
        assert m["peak"]["checked_out"] == 15 and m["peak"]["waiting"] == 25   # 40 threads, 15 connections
        assert m["peak"]["worker_queue"] > 100 and m["worker_wait_ms"]["p95"] > m["wait_ms"]["p95"]
    elif name == "asyncio-unbounded":
        assert m["peak"]["waiting"] > 300 and m["timed_out"] > 300 and m["peak"]["worker_queue"] == 0
    elif name == "asyncio-semaphore":
        assert m["peak"]["waiting"] == 0 and m["timed_out"] == 0 and m["peak"]["worker_queue"] > 300
    else:
        storm, jitter = figures(run(load_preset("retry-storm"))), figures(run(load_preset("retry-jitter")))
        assert storm["retries"] > 500 and jitter["retries"] > 500
        assert storm["peak"]["waiting"] > jitter["peak"]["waiting"]
        assert storm["latency_ms"]["p99"] > jitter["latency_ms"]["p99"]


# ---------------------------------------------------------------- properties

@st.composite
def app_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A random scenario (test_properties' own) with workers, retries and a deadline drawn too."""
    raw = draw(raw_scenarios())
    raw["app"]["workers"] = draw(st.integers(0, 4))
    raw["workload"]["retries"] = draw(st.integers(0, 4))
    raw["workload"]["retry_backoff_ms"] = draw(st.sampled_from([0.0, 10.0, 100.0]))
    raw["workload"]["retry_jitter"] = draw(st.sampled_from(["none", "full"]))
    deadline = draw(st.one_of(st.none(), st.floats(1.0, 2000.0)))
    if deadline is not None:
        raw["workload"]["deadline_ms"] = round(deadline, 1)
    return raw


@PROFILE
@given(app_scenarios())
def test_invariants_with_workers_retries_and_deadlines(raw: dict[str, Any]):
    scenario = from_dict(raw)
    result = run(scenario)
    assert check(result.trace) == []
    m = figures(result)
    failed = m["timed_out"] + sum(m["errors"].values())
    assert m["completed"] + failed + m["in_flight"] == m["requests"]
    assert m["in_flight"] >= 0 and m["retried_completed"] + m["retried_failed"] <= m["requests"]
    if scenario.app.workers == 0:
        assert m["peak"]["worker_queue"] == 0
    else:   # never more statements under way on an instance than it has workers
        assert m["peak"]["checked_out"] - m["leaked"] <= scenario.app.workers * scenario.app.instances
    cols = result.trace.columns()
    retry_rows = cols["request"][cols["kind"] == Ev.RETRY]
    attempts = np.bincount(retry_rows, minlength=1) + 1 if retry_rows.size else np.ones(1, dtype=int)
    assert attempts.max() <= scenario.workload.retries + 1
    assert m["retries"] == retry_rows.size
    if scenario.workload.deadline_ms is not None and m["retries"]:
        arrived = {int(r): t for t, r, k in zip(cols["t"], cols["request"], cols["kind"], strict=True)
                   if k == Ev.ARRIVE}
        starts = cols["t"][cols["kind"] == Ev.RETRY] - np.array([arrived[int(r)] for r in retry_rows])
        assert starts.max() < scenario.workload.deadline_ms / 1000.0 + 1e-9
    if m["worker_wait_ms"]["max"] is not None:
        assert m["worker_wait_ms"]["max"] >= 0 and (m["wait_ms"]["max"] or 0) >= 0


def test_compare_adds_the_worker_and_retry_rows_only_to_runs_that_have_them():
    from live.compare import RETRY_ROWS, ROWS, WORKER_ROWS, rows_for
    assert rows_for(figures(run(load_preset("pooled")))) == ROWS
    assert rows_for(figures(run(load_preset("retry-storm")))) == ROWS + RETRY_ROWS
    assert rows_for(figures(run(load_preset("fastapi-threads")))) == ROWS + WORKER_ROWS
