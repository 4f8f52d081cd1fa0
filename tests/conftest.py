"""Shared helpers: tiny scenarios with hand-placed requests, and readable event lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sim.lifecycle import check
from sim.model import RunResult, run
from sim.scenario import Scenario, from_dict
from sim.workload import Chunk


def tiny(pool: dict[str, Any], database: dict[str, Any] | None = None, **top: Any) -> Scenario:
    """A scenario whose traffic the test places by hand; connect 10 ms, no network delay."""
    raw: dict[str, Any] = {
        "name": "tiny", "seed": 1, "duration_s": 10.0,
        "pool": pool,
        "database": {"connect_ms": 10.0, "rtt_ms": 0.0, **(database or {})},
    }
    raw.update(top)
    return from_dict(raw)


def qp(**kw: Any) -> dict[str, Any]:
    """A SQLAlchemy QueuePool with its defaults, as the rule tests start from."""
    return {"kind": "sqlalchemy", "pool_size": 5, "max_overflow": 10, "pool_timeout": 30.0, **kw}


def at(*times: float, hold: float | list[float] = 0.1, instance: int | list[int] = 0,
       leak: bool | list[bool] = False) -> list[Chunk]:
    """Requests arriving at exactly these times (seconds), in one chunk."""
    n = len(times)
    as_list = lambda v: list(v) if isinstance(v, list) else [v] * n  # noqa: E731
    return [Chunk(0, list(times), as_list(instance), as_list(hold), as_list(leak))]


def play(scenario: Scenario, arrivals: list[Chunk]) -> RunResult:
    return run(scenario, arrivals=arrivals)


def events(result: RunResult, request: int | None = None, conn: int | None = None,
           kinds: tuple[str, ...] = ()) -> list[tuple[float, int, int, str, str]]:
    """(t, request, conn, kind, reason) rows, time rounded to the microsecond, filtered."""
    out = []
    for t, _inst, req, cid, kind, reason in result.trace.rows():
        if request is not None and req != request:
            continue
        if conn is not None and cid != conn:
            continue
        if kinds and kind not in kinds:
            continue
        out.append((round(t, 6), req, cid, kind, reason))
    return out


@pytest.fixture(autouse=True)
def live_traces_pass_the_checker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every live run a live test makes (here, in a background loop, or in the worker) passes
    `sim.lifecycle.check` on its trace, whatever else the test asserts about it."""
    if request.node.get_closest_marker("live") is None:
        yield
        return
    from live.runner import LiveRun
    from live.worker import RemoteSession

    results: list[Any] = []
    build, fetched = LiveRun._result, RemoteSession.result

    def recorded(self: LiveRun, *args: Any, **kwargs: Any) -> Any:
        result = build(self, *args, **kwargs)
        results.append(result)
        return result

    def fetched_and_recorded(self: RemoteSession) -> Any:
        result = fetched.fget(self) if fetched.fget is not None else None
        if result is not None and all(result is not seen for seen in results):
            results.append(result)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LiveRun, "_result", recorded)
        patch.setattr(RemoteSession, "result", property(fetched_and_recorded))
        yield
    for result in results:
        problems = check(result.trace)
        assert not problems, f"the live trace of {result.application_name}:\n" + "\n".join(problems)
