"""The compare page in AppTest, on a finished "live" run that needs no server.

The live run is stood in for by a simulation of the same scenario with
requests that hold their connection three times as long: its traffic is the
same, its latencies are not, so the page must say "agrees" where the two
are within tolerance and name the percentage where they are not, in the
page's language, and paint only those rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import i18n
from live.runner import LiveResult
from live.session import Snapshot
from sim.measures import measure
from sim.metrics import summarize, summarize_run
from sim.model import run
from sim.scenario import Scenario, load_preset
from tests.app.opened import figures

pytestmark = pytest.mark.app

MINUS = "\u2212"
ENTRY = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")

SCENARIO = load_preset("pooled").with_overrides({"duration_s": 5})
SLOWER = SCENARIO.with_overrides({"workload.hold.mean_ms": SCENARIO.workload.hold.mean_ms * 3})


class FinishedRun:
    """What the page reads of a live run that has ended: its scenario, its result, its last snapshot."""

    def __init__(self, scenario: Scenario, result: LiveResult) -> None:
        self.scenario, self.result = scenario, result

    def snapshot(self) -> Snapshot:
        return Snapshot("done", self.result.end_s, self.scenario.duration_s, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                        False, self.result.server, self.result.application_name)


@pytest.fixture(scope="module")
def slower_live() -> LiveResult:
    ran = run(SLOWER)
    return LiveResult(SCENARIO, ran.trace, 0, ran.end_s, 1.0, "a stand-in server", "poolstand-test-compare",
                      1.0, 0)


def compared(live: LiveResult, lang: str = "en") -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.query_params["preset"] = "pooled"
    at.query_params["set"] = ["duration_s=5"]
    at.query_params["lang"] = lang
    at.run()
    at.switch_page("app/pages/compare.py")
    at.session_state["compare.session"] = FinishedRun(SCENARIO, live)
    at.run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest) -> dict[str, dict[str, str]]:
    """The verdict table's rows by figure name, each {column: text}."""
    frame = at.dataframe[0].value
    return {row[frame.columns[0]]: dict(row) for row in frame.to_dict("records")}


def red_rows(at: AppTest) -> set[int]:
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    return {int(r) for r in re.findall(r"_row(\d+)_col\d+", styles) if "#B3261E" in styles}


def relative(path: str, live: LiveResult) -> float:
    sim_value = measure(path).read(summarize_run(run(SCENARIO)))
    live_value = measure(path).read(summarize(live.trace, SCENARIO, live.end_s))
    assert sim_value and live_value is not None
    return abs(live_value - sim_value) / sim_value


@pytest.mark.parametrize(("lang", "agrees", "differs"), [
    ("en", "✓ agrees", "✗ differs by {}"),
    ("ru", "✓ совпадает", "✗ расходится на {}"),
])
def test_each_row_says_agrees_within_tolerance_and_names_the_percentage_outside_it(
        slower_live: LiveResult, lang: str, agrees: str, differs: str) -> None:
    at = compared(slower_live, lang)
    rows = table(at)
    verdict = i18n.tr(lang, "compare.col.verdict")
    label = lambda path: i18n.tr(lang, f"metric.{path}")  # noqa: E731
    assert rows[label("requests")][verdict] == agrees                 # the same traffic
    assert rows[label("wait_ms.p50")][verdict] == agrees              # both about 0 ms: no alarm
    share = relative("latency_ms.p50", slower_live)
    assert share > 0.5                                                # three times the hold: far outside
    assert rows[label("latency_ms.p50")][verdict] == differs.format(i18n.percent(lang, share, 0))
    outside = {i for i, row in enumerate(rows.values()) if row[verdict].startswith("✗")}
    assert outside and red_rows(at) == outside                        # red only outside the tolerance


def test_a_tolerance_and_a_difference_are_in_every_row(slower_live: LiveResult) -> None:
    rows = table(compared(slower_live))
    for name, row in rows.items():
        assert row["Tolerance"].startswith("±"), name
        difference = row[i18n.tr("en", "compare.col.diff")]
        assert difference == "0" or difference[0] in ("+", MINUS), name


def test_one_slider_and_one_play_move_both_stands_in_the_browser(slower_live: LiveResult) -> None:
    """The stands are one animation, simulation left and live right: no slider of the page's own."""
    at = compared(slower_live)
    charts = figures(at)
    assert len(charts) == 1
    assert not [s for s in at.slider if s.key and s.key.startswith("compare.at.")]
    figure = charts[0]
    layout = figure["layout"]
    assert len(layout["sliders"]) == 1
    plays = [b for menu in layout["updatemenus"] for b in menu["buttons"] if b["label"].endswith("Play")]
    assert len(plays) == 1
    titles = [n["text"] for n in layout["annotations"]]
    assert "<b>Simulation</b>" in titles and "<b>Live</b>" in titles
    live_traces = {i for i, trace in enumerate(figure["data"]) if trace.get("xaxis") == "x2"}
    assert live_traces and len(live_traces) < len(figure["data"])
    for frame in figure["frames"]:   # every frame moves both stands
        assert set(frame["traces"]) & live_traces and set(frame["traces"]) - live_traces


def test_the_levels_view_marks_the_moment_its_slider_picks_on_both_charts(slower_live: LiveResult) -> None:
    at = compared(slower_live)
    at.session_state["compare.view"] = "levels"
    at.run()
    assert not at.exception, at.exception
    moment = next(s for s in at.slider if s.key and s.key.startswith("compare.at."))
    moment.set_value(1.0).run()
    shapes = [chart["layout"]["shapes"] for chart in figures(at)]
    assert len(shapes) == 2
    assert all(any(s.get("x0") == 1.0 and s.get("x1") == 1.0 for s in chart) for chart in shapes)


def test_the_page_picks_a_scenario_and_says_when_the_results_are_of_another(slower_live: LiveResult) -> None:
    at = compared(slower_live)
    assert not at.info
    picker = next(w for w in at.selectbox if w.key and w.key.startswith("compare.preset."))
    picker.set_value("slow-leak").run()
    assert at.session_state.scenario == load_preset("slow-leak")
    assert any("pooled" in i.value for i in at.info)                  # the table is still the old run's
