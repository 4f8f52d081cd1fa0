"""Scenes: named moments of a run a teacher clicks through; labels only, and true to the run they name."""

from __future__ import annotations

import numpy as np
import pytest

from app.runs import WEB_LIMIT
from sim import budget
from sim.lifecycle import levels
from sim.metrics import summarize_run
from sim.model import run
from sim.scenario import ScenarioError, load_preset
from sim.trace import Ev


def test_scenes_are_read_kept_and_written_back() -> None:
    scenario = load_preset("burst-into-overflow").with_overrides(
        {"scenes": [{"at_s": 20, "caption": "the burst starts"}, {"at_s": 30, "caption": "it ends"}]})
    assert [(s.at_s, s.caption) for s in scenario.scenes] == [(20.0, "the burst starts"), (30.0, "it ends")]
    assert 'caption = "the burst starts"' in scenario.to_toml()
    assert load_preset("pooled").to_dict().get("scenes") is None   # no scenes, nothing written: links stay


@pytest.mark.parametrize(("scenes", "complaint"), [
    ([{"at_s": 60, "caption": "late"}], "scenes.0.at_s = 60: must be within the run"),
    ([{"at_s": 30, "caption": "b"}, {"at_s": 20, "caption": "a"}], "scenes.1.at_s = 20: scenes must be in"),
    ([{"at_s": 1, "caption": "x" * 201}], "scenes.0.caption"),
    ([{"at_s": 1, "caption": "a", "colour": "red"}], "colour"),
])
def test_a_bad_scene_is_refused_with_its_field(scenes: list[dict[str, object]], complaint: str) -> None:
    with pytest.raises(ScenarioError, match=complaint.replace("(", r"\(").replace(".", r"\.")):
        load_preset("burst-into-overflow").with_overrides({"scenes": scenes})


def test_scenes_never_change_a_run() -> None:
    plain = load_preset("rush-hour").with_overrides({"scenes": []})
    a, b = run(load_preset("rush-hour")).trace.columns(), run(plain).trace.columns()
    assert all(np.array_equal(a[c], b[c]) for c in a)


def test_the_rush_hour_scenes_name_what_the_run_does_then() -> None:
    """Each caption's event starts within a second after its scene: overflow, the cap, a growing
    queue, the first timeout, the end of the rush, in that order, in one run."""
    scenario = load_preset("rush-hour")
    result = run(scenario)
    cols = result.trace.columns()
    lv = levels(cols, scenario.pool.overflow_base)
    t = cols["t"]

    def first(mask: np.ndarray, after: float = 0.0) -> float:
        hits = np.flatnonzero(mask & (t >= after))
        return float(t[hits[0]]) if hits.size else float("inf")

    at = [s.at_s for s in scenario.scenes]
    cap = scenario.pool.pool_size + scenario.pool.max_overflow
    assert lv["overflow"][t < at[1]].max(initial=0) == 0 and lv["waiting"][t < at[2]].max(initial=0) == 0
    assert at[1] <= first(lv["overflow"] > 0) <= at[1] + 1
    assert at[2] <= first(lv["open"] >= cap) <= at[2] + 1
    assert at[2] <= first(lv["waiting"] > 0) <= at[2] + 1
    before, during = (t >= at[2]) & (t < at[3]), (t >= at[3]) & (t < at[4])
    assert lv["waiting"][during].max() > 10 * lv["waiting"][before].mean()   # the queue grows from at[3]
    assert at[4] <= first(cols["kind"] == Ev.TIMEOUT) <= at[4] + 1
    assert first((lv["waiting"] == 0) & (lv["overflow"] == 0), after=at[5]) < scenario.duration_s  # drained
    metrics = summarize_run(result)
    assert metrics["timed_out"] > 0 and metrics["peak"]["overflow"] == scenario.pool.max_overflow
    budget.check(scenario, WEB_LIMIT)   # a classroom opens it on the shared server: it must not be refused
