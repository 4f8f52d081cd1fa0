"""Shared helpers: tiny scenarios with hand-placed requests, and readable event lists."""

from __future__ import annotations

from typing import Any

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
