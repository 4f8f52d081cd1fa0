"""The live lab in Streamlit's AppTest, on the real embedded PostgreSQL: what it shows during and after a run.

AppTest runs the whole page at each `run()`, the polling fragment included,
so a test sees what a visitor sees at each poll: during the run the stand of
the trace so far beside the server's own table, after it the results and the
server they were recorded on.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.opened import figures, opened

pytestmark = pytest.mark.app

HANG_S = 120.0   # a deadline against a hang, not a timing


def live_lab(**query: Any) -> AppTest:
    return opened("app/pages/live_lab.py", 60, **query)


def run_button(at: AppTest) -> Any:
    return next(b for b in at.button if b.key == "live.run")


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_the_stand_while_running_is_the_last_frame_of_the_finished_runs_animation_standing_still() -> None:
    from app import i18n, taxi
    from app.live_panel import LIVE_FRAMES, still_stand
    from live.recorder import LiveTrace
    from sim.model import run
    from sim.scenario import load_preset
    from sim.trace import EV_NAMES, WHY_NAMES

    scenario = load_preset("rush-hour")
    whole = run(scenario).trace
    trace = LiveTrace()   # the rows a run had written by 35 s
    for t, instance, request, conn, kind, reason in whole.rows():
        if t <= 35.0:
            trace.emit(t, instance, request, conn, EV_NAMES.index(kind), WHY_NAMES.index(reason))
    still = still_stand(trace, scenario, 35.0, "en").to_plotly_json()
    assert not still["layout"].get("sliders") and not still["layout"].get("updatemenus")
    assert still["layout"]["legend"]["orientation"] == "h"
    moving = taxi.build_taxi_figure(trace, scenario, 35.0, text=i18n.texts("en", "taxi"),
                                    max_frames=LIVE_FRAMES, number=lambda x: i18n.number("en", x, 0),
                                    plural=lambda n: i18n.plural("en", n)).to_dict()
    last = taxi.drawn_at(moving["data"], moving["frames"][-1])
    def texts(data: list[dict[str, Any]]) -> list[list[str]]:
        return [[str(x) for x in d.get("text") or []] for d in data]

    assert any("Time 35 s" in text for group in texts(still["data"]) for text in group)
    assert texts(last) == texts(still["data"])   # the same moment, drawn by the same code


def test_a_slow_stand_is_built_again_only_after_twice_its_build_time() -> None:
    """Polls come every 0.5 s; a build of 0.4 s may take at most half of them, one of 1 s one in four."""
    from app.live_panel import _Drawn, _due
    from live.session import Snapshot, TraceSoFar

    def snap(now_s: float) -> Snapshot:
        return Snapshot("running", now_s, 10.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, False, "", "")

    so_far = TraceSoFar()
    assert _due(None, so_far, snap(1.0), 100.0)
    quick = _Drawn(session=None, figure=None, built_at=100.0, build_s=0.1, rows=0, end_s=1.0)  # type: ignore[arg-type]
    assert _due(quick, so_far, snap(1.5), 100.5) and not _due(quick, so_far, snap(1.5), 100.2)
    assert not _due(quick, so_far, snap(1.0), 105.0)   # nothing moved: the figure drawn stays
    slow = _Drawn(session=None, figure=None, built_at=100.0, build_s=1.0, rows=0, end_s=1.0)  # type: ignore[arg-type]
    assert not _due(slow, so_far, snap(2.0), 101.5) and _due(slow, so_far, snap(2.5), 102.0)


def test_the_run_button_says_how_long_the_run_will_take_at_the_time_scale() -> None:
    at = live_lab(preset="pooled", set=["duration_s=20"])
    assert run_button(at).label == "Run on PostgreSQL (≈ 20 s)"
    next(s for s in at.select_slider if s.key == "live.scale").set_value(8.0).run()
    assert run_button(at).label == "Run on PostgreSQL (≈ 2.5 s)"
    at = live_lab(preset="pooled", set=["duration_s=600"], lang="ru")
    assert run_button(at).label == "Запустить на PostgreSQL (≈ 10 мин)"


@pytest.mark.live
def test_during_a_run_the_stand_stands_beside_the_servers_view_and_after_it_the_server_is_named() -> None:
    at = live_lab(preset="pooled", set=["duration_s=6"])
    run_button(at).click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + HANG_S
    during: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if any("Recorded on PostgreSQL" in c for c in captions(at)):
            break
        charts = figures(at)
        progress = at.get("progress")
        stand = any(re.match(r"The stand at [\d.]+ s, drawn from the [\d,]+ events", c) for c in captions(at))
        if during is None and charts and progress and "Running" in progress[0].proto.text and stand:
            assert len(at.dataframe) == 1, "the server's own view beside the stand"
            assert any(c.startswith("The server's own view") for c in captions(at))
            during = charts[0]
        time.sleep(0.5)
    assert during is not None, "no stand drawn while the run went on"
    layout = during["layout"]
    assert not layout.get("sliders") and not layout.get("updatemenus") and not during.get("frames")
    texts = [t for d in during["data"] if d.get("mode") == "text" for t in d.get("text") or []]
    assert any(str(t).startswith("Time ") for t in texts), texts   # drawn by the taxi code: its clock
    recorded = [c for c in captions(at) if "Recorded on PostgreSQL" in c]
    assert recorded and re.fullmatch(r"Recorded on PostgreSQL \d+(\.\d+)?.*, embedded",
                                     recorded[0].replace(":material/database: ", "")), recorded
    assert len(at.metric) >= 6 and figures(at)   # the results, drawn like a model run's
    done = [s.value for s in at.success]   # the sandbox named in the page's words, not the worker's English
    assert any(d.startswith("Ran on the embedded PostgreSQL as ") for d in done), done
