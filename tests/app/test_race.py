"""A against B: two stands merged into one animation, side B held as changes to A, and the page in AppTest.

The merged figure is read back as the browser gets it (its JSON): one
slider and one Play for both, every frame moving both sides' points, B on
the second axes. The page is opened by link, as a teacher's would be.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app import pair, sides
from app.numbers_table import verdict
from app.taxi import build_taxi_figure
from sim.measures import measure
from sim.model import run
from sim.scenario import load_preset
from tests.app.opened import figures

pytestmark = pytest.mark.app

ENTRY = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
A = load_preset("burst-into-overflow")   # its burst at 30 s calls in extra taxis, scrapped on return
B = A.with_overrides(["pool.pool_size=20", "pool.max_overflow=0"])
EXAMPLE = ["pool.pool_size=20", "pool.max_overflow=0"]


def side(scenario: Any, end_s: float | None = None, frames: int = 40) -> dict[str, Any]:
    ran = run(scenario)
    return build_taxi_figure(ran.trace, scenario, end_s or ran.end_s, max_frames=frames, height=pair.HEIGHT,
                             plot_px=pair.half_px(pair.PAGE_PLOT_PX)).to_dict()


@pytest.fixture(scope="module")
def merged() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A's figure, B's, and the two merged, as JSON: what the browser is sent."""
    a, b = side(A), side(B)
    figure = json.loads(json.dumps(pair.merge(a, b, ("A: <b>x</b>", "B: pool_size 20")).to_dict()))
    return a, b, figure


def test_the_merged_figure_has_one_slider_one_play_and_one_speed_menu(merged: Any) -> None:
    a, _, figure = merged
    layout = figure["layout"]
    assert len(layout["sliders"]) == 1
    labels = [button["label"] for menu in layout["updatemenus"] for button in menu["buttons"]]
    assert labels == [button["label"] for menu in a["layout"]["updatemenus"] for button in menu["buttons"]]
    assert sum(label.endswith("Play") for label in labels) == 1
    steps = [step["args"][0][0] for step in layout["sliders"][0]["steps"]]
    assert steps == [frame["name"] for frame in figure["frames"]]   # each step shows one frame of both


def test_b_is_drawn_on_the_second_axes_beside_a(merged: Any) -> None:
    a, b, figure = merged
    data, layout = figure["data"], figure["layout"]
    assert len(data) == len(a["data"]) + len(b["data"])
    assert all("xaxis" not in trace for trace in data[:len(a["data"])])
    assert all(trace["xaxis"] == "x2" and trace["yaxis"] == "y2" for trace in data[len(a["data"]):])
    (a0, a1), (b0, b1) = layout["xaxis"]["domain"], layout["xaxis2"]["domain"]
    assert 0 <= a0 < a1 < b0 < b1 <= 1
    assert layout["xaxis2"]["anchor"] == "y2" and layout["yaxis2"]["anchor"] == "x2"
    assert layout["yaxis2"]["ticktext"] == b["layout"]["yaxis"]["ticktext"]   # B's rows named beside B
    theirs = [s for s in layout["shapes"] if s.get("xref") == "x2"]
    assert len(theirs) == len(b["layout"]["shapes"]) and all(s["yref"] == "y2" for s in theirs)
    assert layout["showlegend"] is False


def test_each_frame_moves_the_points_of_both_sides(merged: Any) -> None:
    a, b, figure = merged
    shift = len(a["data"])
    frames = figure["frames"]
    assert len(frames) == len(a["frames"]) == len(b["frames"])
    for frame in frames:
        assert len(frame["traces"]) == len(frame["data"])
        assert any(i < shift for i in frame["traces"]) and any(i >= shift for i in frame["traces"])
    clock_a = next(i for i, tr in enumerate(data_of(figure)) if i < shift and is_clock(tr))
    clock_b = next(i for i, tr in enumerate(data_of(figure)) if i >= shift and is_clock(tr))
    first, last = frames[0], frames[-1]
    for clock in (clock_a, clock_b):
        assert moved(first, clock)["text"][0] != moved(last, clock)["text"][0]   # both clocks run
    assert moved(last, clock_a)["text"][0] == moved(last, clock_b)["text"][0]    # at the same moment
    # A scraps extra taxis on return (no bay for them); B, a pool of 20 without overflow, never does
    assert any(points(f, index_of(a, "scrapped")) for f in frames)
    assert not any(points(f, shift + index_of(b, "scrapped")) for f in frames)


def data_of(figure: dict[str, Any]) -> list[dict[str, Any]]:
    return list(figure["data"])


def is_clock(trace: dict[str, Any]) -> bool:
    return trace.get("mode") == "text" and isinstance(trace.get("textposition"), list)


def index_of(figure: dict[str, Any], kind: str) -> int:
    """The trace frames move for one kind of object (the legend's entry is another); none: out of reach."""
    nowhere = -len(figure["data"]) - 1
    return next((i for i, tr in enumerate(figure["data"])
                 if tr.get("legendgroup") == kind and tr.get("showlegend") is False), nowhere)


def moved(frame: dict[str, Any], trace: int) -> dict[str, Any]:
    return frame["data"][frame["traces"].index(trace)]


def points(frame: dict[str, Any], trace: int) -> list[float]:
    """The x of the points a frame draws in one trace (a trace no frame moves draws none)."""
    return [x for x in moved(frame, trace)["x"] if x is not None] if trace in frame["traces"] else []


def test_panel_titles_are_text_never_markup(merged: Any) -> None:
    _, _, figure = merged
    titles = [n["text"] for n in figure["layout"]["annotations"]]
    assert titles[-2:] == ["<b>A: &lt;b&gt;x&lt;/b&gt;</b>", "<b>B: pool_size 20</b>"]


def test_two_runs_that_end_apart_are_drawn_over_the_later_end() -> None:
    short = A.with_overrides({"duration_s": 20})
    end = max(run(A).end_s, run(short).end_s)
    figure = pair.merge(side(A, end), side(short, end), ("A", "B")).to_dict()
    assert len(figure["frames"]) == len(side(A, end)["frames"])
    texts = [t for d in figure["frames"][-1]["data"] for t in d.get("text") or []]
    last_clock = [t for t in texts if str(t).startswith("Time")]
    assert last_clock and all(t == "Time 50 s" for t in last_clock), last_clock


def test_b_is_a_with_its_changes_and_a_bad_change_is_named_and_left_out() -> None:
    b, kept, problems = sides.changed(A, [*EXAMPLE, "pool.pool_size=-1", "pool.nope=3", "nonsense", "seed=8"])
    assert b == B and kept == EXAMPLE
    assert any(p.startswith("pool.pool_size = -1: must be a whole number from 0 to 1000") for p in problems)
    assert any(p.startswith("pool.nope: not a setting") and "pool_size" in p for p in problems)
    assert sides.SAME_SEED in problems and b.seed == A.seed     # the settings differ, never the passengers
    assert len(problems) == 4
    assert sides.differences(A, b) == ["pool.pool_size", "pool.max_overflow"]
    assert sides.titles(A, b, str) == ("pool_size 10 · max_overflow 10", "pool_size 20 · max_overflow 0")
    assert sides.titles(A, A, str) is None


def test_b_follows_a_and_a_changed_table_is_named_once() -> None:
    restart = load_preset("restart")
    b, kept, _ = sides.changed(restart, ["faults.count=0", "pool.pool_size=8"])
    assert kept == ["pool.pool_size=8", "faults.count=0"] and not b.faults
    assert sides.differences(restart, b) == ["pool.pool_size", "faults"]
    assert sides.titles(restart, b, str, most=1, more=lambda n: f"+{n} more") == (
        f"pool_size {restart.pool.pool_size} · +1 more", "pool_size 8 · +1 more")


def test_which_side_is_better_follows_the_figures_direction() -> None:
    assert verdict(measure("connects"), 74, 20) == "better"
    assert verdict(measure("completed"), 74, 20) == "worse"
    assert verdict(measure("wait_ms.p95"), 1.0, 1.001) == "same"    # equal as the table writes them
    assert verdict(measure("requests"), 10, 12) == ""               # neither: the same traffic, or not


# ------------------------------------------------------------------ the page

def race(**query: Any) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("app/pages/race.py").run()
    assert not at.exception, at.exception
    return at


def figure_of(at: AppTest) -> dict[str, Any]:
    drawn = figures(at)
    assert len(drawn) == 1
    return drawn[0]


def numbers(at: AppTest) -> dict[str, dict[str, str]]:
    frame = at.dataframe[0].value
    return {row[frame.columns[0]]: dict(row) for row in frame.to_dict("records")}


def param(at: AppTest, key: str) -> list[str]:
    """A URL parameter's values (AppTest holds one value as a string, several as a list)."""
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def test_a_link_opens_both_sides_with_bs_changes_applied() -> None:
    at = race(preset="burst-into-overflow", b=EXAMPLE)
    assert at.session_state.scenario == load_preset("burst-into-overflow")
    assert at.session_state["race.b"] == EXAMPLE
    figure = figure_of(at)
    titles = [n["text"] for n in figure["layout"]["annotations"]]
    assert "<b>A: pool_size 10 · max_overflow 10</b>" in titles
    assert "<b>B: pool_size 20 · max_overflow 0</b>" in titles
    assert len(figure["layout"]["sliders"]) == 1 and "xaxis2" in figure["layout"]
    rows = numbers(at)
    assert rows["Requests"]["A"] == rows["Requests"]["B"]        # the same seed: the same passengers
    assert int(rows["Connects"]["B"]) < int(rows["Connects"]["A"])   # no extra taxis scrapped, called again
    assert rows["Connects"]["B is"] == "better"
    assert param(at, "b") == EXAMPLE and param(at, "preset") == ["burst-into-overflow"]


def test_a_bad_b_in_the_link_is_said_as_plain_text_and_the_rest_opens() -> None:
    at = race(preset="burst-into-overflow",
              b=["pool.pool_size=20", "pool.pool_size=99999", "pool.**x**=3", "seed=3", "[x](http://e.vil)",
                 "pool.max_overflow=<b>1</b>"])
    assert at.session_state["race.b"] == ["pool.pool_size=20"]
    said = " ".join(w.value for w in at.warning)
    text = unescaped(said)
    assert "pool.pool_size = 99999: must be a whole number from 0 to 1000" in text
    assert "pool.'**x**': not a setting" in text and "seed" in text and "[x](http://e.vil)" in text
    assert "pool.max_overflow = '<b>1</b>': must be a whole number" in text
    assert "\\*\\*x\\*\\*" in said and "\\[x\\]\\(http" in said and "\\<b\\>" in said   # never Markdown, HTML
    assert figure_of(at) and numbers(at)


def test_a_change_to_b_moves_b_only_and_the_link_follows() -> None:
    at = race(preset="burst-into-overflow")
    assert at.session_state["race.b"] == []
    assert "<b>B: a copy of A (change B's settings above)</b>" in \
        [n["text"] for n in figure_of(at)["layout"]["annotations"]]
    size = next(s for s in at.slider if s.key and s.key.endswith("pool.pool_size"))
    size.set_value(4).run()
    assert not at.exception
    assert at.session_state["race.b"] == ["pool.pool_size=4"]
    assert at.session_state.scenario == load_preset("burst-into-overflow")   # A is untouched
    assert param(at, "b") == ["pool.pool_size=4"]
    rows = numbers(at)
    assert rows["Peak connections"]["A"] == "20" and rows["Peak connections"]["B"] == "14"   # 4 + overflow 10


def test_the_example_is_one_click_away() -> None:
    at = race(preset="slow-leak")
    next(b for b in at.button if b.key == "race.example").click().run()
    assert not at.exception, at.exception
    assert at.session_state.scenario == load_preset("burst-into-overflow")
    assert at.session_state["race.b"] == EXAMPLE
    assert {s.key.rsplit(".", 1)[-1]: s.value for s in at.slider if s.key and s.key.startswith("race.b.")} \
        == {"pool_size": 20, "max_overflow": 0, "pool_timeout": 30.0}


def test_the_teacher_picks_bs_controls_and_makes_b_a_copy_of_a_again() -> None:
    at = race(preset="burst-into-overflow", b=["pool.pool_timeout=2.0"])
    shown = [s.key.rsplit(".", 1)[-1] for s in at.slider if s.key and s.key.startswith("race.b.")]
    assert shown == ["pool_timeout", "pool_size", "max_overflow"]        # what B changes comes first
    picker = next(m for m in at.multiselect if m.key and m.key.startswith("race.fields."))
    picker.set_value(["pool.pool_size", "workload.rate_per_s"]).run()
    assert not at.exception, at.exception
    assert [n.key.rsplit(".", 1)[-1] for n in at.number_input if n.key and n.key.startswith("race.b.")] \
        == ["rate_per_s"]
    assert at.session_state["race.b"] == ["pool.pool_timeout=2.0"]     # out of sight, still B's
    next(b for b in at.button if b.key == "race.reset").click().run()
    assert at.session_state["race.b"] == [] and param(at, "b") == []


def test_the_playground_opens_a_against_b_with_its_scenario_as_a() -> None:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.query_params["preset"] = "slow-leak"
    at.query_params["set"] = ["pool.pool_size=3"]
    at.run()
    at.switch_page("app/pages/playground.py").run()
    next(b for b in at.button if b.key == "pg.compare_with").click().run()
    assert not at.exception, at.exception
    assert at.session_state.scenario == load_preset("slow-leak").with_overrides(["pool.pool_size=3"])
    assert at.session_state["race.b"] == []
    assert param(at, "set") == ["pool.pool_size=3"] and param(at, "b") == []
    assert len(figures(at)) == 1


def test_a_side_beyond_the_budget_is_refused_and_nothing_runs() -> None:
    at = race(preset="burst-into-overflow", b=["duration_s=86400", "workload.rate_per_s=100000"])
    assert not figures(at)
    assert any("python -m sim run" in c.value for c in at.code)


@pytest.mark.parametrize("lang", ["zh-TW", "zh-CN", "ru"])
def test_the_page_shows_no_english_sentence(lang: str) -> None:
    from tests.app.test_translation import english, normal, render

    forbidden = english(lang)
    shown = normal(" \n ".join(render(lang, "race")))
    assert [where for sentence, where in forbidden.items() if sentence in shown] == []
