"""Short scenarios for the live tests (light traffic, local costs only), and waiting on them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from live.session import Snapshot
from sim.scenario import Scenario, from_dict

HANG_S = 90.0                        # a guard against a hung test, not a measurement
PASSWORD = "hunter2-never-shown"     # in the database URLs of tests that check it is never shown


class Watched(Protocol):
    def snapshot(self) -> Snapshot: ...


def until(session: Watched, wanted: Callable[[Snapshot], bool], what: str) -> Snapshot:
    """Poll snapshots as a UI fragment does, until one is `wanted` (a LiveSession or the worker's)."""
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        snap = session.snapshot()
        if wanted(snap):
            return snap
        assert not snap.finished, f"the run ended before {what}: {snap}"
        time.sleep(0.02)
    raise AssertionError(f"no snapshot with {what}: {session.snapshot()}")


def short(pool: dict[str, Any], *, name: str = "live-test", seed: int = 3, rate: float = 20,
          hold_ms: float = 20, **top: Any) -> Scenario:
    """`top` sections are merged into the defaults (a partial `workload` keeps the rest)."""
    raw: dict[str, Any] = {
        "name": name, "seed": seed, "duration_s": 2.0,
        "workload": {"rate_per_s": rate, "hold": {"dist": "constant", "mean_ms": hold_ms}},
        "pool": pool,
        "database": {"connect_ms": 0, "rtt_ms": 0},
    }
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return from_dict(raw)
