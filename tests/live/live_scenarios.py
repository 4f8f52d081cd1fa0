"""Short scenarios for the live tests: a few seconds of light traffic, local costs only."""

from __future__ import annotations

from typing import Any

from sim.scenario import Scenario, from_dict


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
