"""The live lab's own limits: a run beyond them is refused in one line before any server work."""

from __future__ import annotations

import math

import pytest
from live_scenarios import short

from live.limits import LIVE_LIMIT, LimitError, check_run
from live.loop import BackgroundLoop
from live.runner import LiveRun
from live.session import LiveSession
from sim.budget import work
from sim.scenario import load_preset, preset_names

pytestmark = pytest.mark.live

POOLED = {"kind": "sqlalchemy", "pool_size": 5, "max_overflow": 10}


FASTER_THAN_LIVE = {"bigger-pool-slower": "its server's fitted 2.83 ms transactions at 560-900 a second; "
                                          "lesson 8 runs it live at half speed"}
"""Presets the live lab refuses on purpose, and why: the live copy is elsewhere."""


def test_every_preset_that_runs_live_is_within_the_limits() -> None:
    for name in preset_names():
        scenario = load_preset(name)
        if scenario.pool.simulation_only:
            continue
        if name in FASTER_THAN_LIVE:   # refused before any server work, naming the rate and the limit
            with pytest.raises(LimitError, match=r"workload\.rate_per_s.*500/s per instance"):
                check_run(scenario)
            continue
        check_run(scenario)
        assert work(scenario).units <= LIVE_LIMIT.units


@pytest.mark.parametrize(("overrides", "options", "named"), [
    ({"workload": {"rate_per_s": 100_000}, "duration_s": 86_400}, {}, "60,000"),
    ({"workload": {"rate_per_s": 2_000}}, {}, "workload.rate_per_s"),          # 4,000 requests, but 2,000/s
    ({"duration_s": 3_000, "workload": {"rate_per_s": 1}}, {}, "duration_s"),  # 50 minutes of wall clock
    ({"duration_s": 3_000, "workload": {"rate_per_s": 1}}, {"time_scale": 2}, "duration_s"),
    ({"database": {"max_connections": 5_000}}, {}, "database.max_connections"),
    ({"app": {"instances": 30}}, {}, "app.instances x pool.pool_size + pool.max_overflow = 30 x 15"),
    ({"app": {"instances": 5}, "kind": "none"}, {}, "app.instances x database.max_connections = 5 x 100"),
    ({}, {"max_requests": 1_000_000}, "--requests"),
    ({}, {"max_requests": 0}, "--requests = 0"),
    ({}, {"time_scale": 1e-300}, "--time-scale = 1e-300"),
    ({}, {"time_scale": math.inf}, "--time-scale = inf"),
    ({}, {"time_scale": math.nan}, "--time-scale = nan"),
    ({}, {"time_scale": 1000}, "--time-scale = 1000"),
])
def test_a_run_beyond_the_limits_is_refused_in_one_line_when_it_is_made(
        overrides: dict[str, object], options: dict[str, float], named: str) -> None:
    overrides = dict(overrides)
    pool = {"kind": overrides.pop("kind")} if "kind" in overrides else POOLED
    scenario = short(pool, **overrides)
    with pytest.raises(LimitError) as err:
        LiveRun(scenario, **options)   # type: ignore[arg-type]  # made, never started: no server yet
    text = str(err.value)
    assert named in text and "\n" not in text
    if "--" not in named:
        assert "python -m sim run" in text


def test_the_worker_side_session_shows_the_refusal_as_it_is() -> None:
    loop = BackgroundLoop()
    try:
        session = LiveSession(short(POOLED, workload={"rate_per_s": 5_000}), loop)
        session.start()
        assert session.wait(5.0)
        snap = session.snapshot()
        assert snap.phase == "failed" and snap.error.startswith("workload.rate_per_s: ")
        assert snap.arrived == 0 and session.result is None
    finally:
        loop.stop()
