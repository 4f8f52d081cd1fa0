"""app.workers and workload.retries against the real embedded PostgreSQL, beside the model's run.

The live runner plays a worker cap as an asyncio.Semaphore per instance and
the retries as a loop around acquire + statement with the model's backoff;
these check that a run of each writes the rows the model writes, and that
the figures a lesson reads point the same way in both.
"""

from __future__ import annotations

from typing import Any

import pytest
from live_scenarios import short

from live.runner import LiveResult, run
from sim import model
from sim.lifecycle import check
from sim.metrics import summarize, summarize_run
from sim.trace import Ev

pytestmark = [pytest.mark.live, pytest.mark.asyncio]


def metrics(result: LiveResult) -> dict[str, Any]:
    return dict(summarize(result.trace, result.scenario, result.end_s))


def rows(result: LiveResult, kind: Ev) -> list[tuple[float, int, str]]:
    """(t, request, reason) of every row of this kind."""
    return [(r[0], r[2], r[5]) for r in result.trace.rows() if r[4] == kind.name.lower()]


async def test_one_worker_serialises_the_requests_live_as_in_the_model() -> None:
    # 20 requests a second of 100 ms each, one worker: never two statements at once, a queue for it
    scenario = short({"kind": "asyncpg", "min_size": 1, "max_size": 5}, rate=20, hold_ms=100,
                     app={"workers": 1})
    result = await run(scenario, max_requests=12)
    m, sim = metrics(result), dict(summarize_run(model.run(scenario, max_requests=12)))
    assert check(result.trace) == []
    for figures in (m, sim):
        assert figures["completed"] == 12
        assert figures["peak"]["checked_out"] == 1          # the pool has 5; the worker lets one through
        assert figures["peak"]["worker_queue"] >= 1
        assert figures["worker_wait_ms"]["max"] > 0
    assert rows(result, Ev.QUEUE) and len(rows(result, Ev.QUEUE)) == len(rows(result, Ev.WORKER))
    assert result.left_open == 0


async def test_a_retry_loop_retries_too_many_clients_after_its_backoff_live_as_in_the_model() -> None:
    # four backends for the app role and a pool of ten: a burst is refused; without jitter each
    # retry starts exactly its backoff after the failure (200 ms, then 400 ms)
    scenario = short({"kind": "asyncpg", "min_size": 0, "max_size": 10}, rate=60, hold_ms=150,
                     database={"max_connections": 7, "superuser_reserved_connections": 3},
                     workload={"retries": 2, "retry_backoff_ms": 200, "retry_jitter": "none"})
    result = await run(scenario, max_requests=40)
    m, sim = metrics(result), dict(summarize_run(model.run(scenario, max_requests=40)))
    assert check(result.trace) == []
    for figures in (m, sim):
        assert figures["retries"] > 0 and figures["retried_completed"] > 0
        assert figures["requests"] == 40
        assert figures["completed"] + figures["timed_out"] + sum(figures["errors"].values()) == 40
    backoffs, retries = rows(result, Ev.BACKOFF), rows(result, Ev.RETRY)
    assert {reason for _, _, reason in backoffs} == {"too_many_clients"}
    assert len(retries) == m["retries"] <= len(backoffs)
    # each request's n-th retry comes 200 * 2**(n-1) ms after its n-th failed attempt
    for request in {r for _, r, _ in retries}:
        failed = [t for t, r, _ in backoffs if r == request]
        again = [t for t, r, _ in retries if r == request]
        for n, (t_fail, t_again) in enumerate(zip(failed, again, strict=False), start=1):
            assert t_again - t_fail == pytest.approx(0.2 * 2 ** (n - 1), abs=0.05)
    assert result.left_open == 0
