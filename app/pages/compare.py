"""Compare: a scenario simulated and run live, side by side, each figure judged against its tolerance.

The two taxi stands are one animation (`app.pair`), simulation left and live
right: one Play and one slider move both in the browser, so they are seen at
the same moment of the scenario's clock. The levels charts, still figures,
take a moment from a slider of the page's own.
"""

import functools
import math
import os
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app import i18n, pair
from app.figure import STILL, draw
from app.frame import preset_picker
from app.live_panel import finished, follow, refuse_unrunnable, run_button
from app.numbers_table import column_width, value_text
from app.results import FRAMES, chart_figure, metric_cards, metric_label
from app.taxi import frame_times
from app.ui import lang, num, plain, t
from live.compare import SideBySide, Verdict, side_by_side, verdicts
from live.runner import LiveResult
from live.session import Snapshot
from live.worker import RemoteSession

ss = st.session_state

RED = "#B3261E"      # only for a figure outside its tolerance
ROW_PX = 35          # a dataframe row's height: the table is as tall as its rows, never scrolled
PLOT_PX = 960        # both stands' plot area across a 1280 px page with Streamlit's padding (row labels left)


@st.cache_resource(max_entries=4, show_spinner=False)
def simulated_beside(run_name: str, _live: LiveResult) -> SideBySide:
    """The simulation of a finished live run, once per run (every rerun of this page needs it)."""
    return side_by_side(_live)


def verdict_text(v: Verdict) -> str:
    """"agrees" / "differs by 12%" in the page's language."""
    return v.says(i18n.texts(lang(), "verdict"), functools.partial(i18n.number, lang()),
                  functools.partial(i18n.percent, lang()))


def verdict_table(judged: list[Verdict]) -> None:
    """One row per figure: both values, the difference, the tolerance and the verdict; red only outside it."""
    import pandas as pd

    cols = {c: t(f"compare.col.{c}") for c in ("what", "sim", "live", "diff", "tolerance", "verdict")}
    frame = pd.DataFrame([{
        cols["what"]: metric_label(v.figure.path),
        cols["sim"]: value_text(v.figure, v.sim),
        cols["live"]: value_text(v.figure, v.live),
        cols["diff"]: value_text(v.figure, v.difference, signed=True),
        cols["tolerance"]: "±" + value_text(v.figure, v.allowance),
        cols["verdict"]: ("✓ " if v.agrees else "✗ ") + verdict_text(v),
    } for v in judged])
    outside = [not v.agrees for v in judged]
    alarm = f"color: {RED}; background-color: #FBE9E7"

    def paint(column: pd.Series) -> list[str]:
        if column.name not in (cols["diff"], cols["verdict"]):
            return [""] * len(column)
        return [alarm if out else "" for out in outside]

    # Widths from the longest text of each column, so no name, number or verdict is cut at 1280 px.
    config: dict[str, Any] = {
        name: st.column_config.TextColumn(
            name, width=column_width([name, *frame[name]]),
            alignment="left" if key in ("what", "verdict") else "right",
            help=t("compare.col.tolerance_help") if key == "tolerance" else None)
        for key, name in cols.items()}
    st.dataframe(frame.style.apply(paint), hide_index=True, width="content", column_config=config,
                 height=ROW_PX * (len(frame) + 1) + 3, key="compare.table")


def levels_at(figure: go.Figure, at_s: float, top: float | None) -> go.Figure:
    """A levels chart with a line at `at_s`, on a shared connection axis so the two read alike."""
    whole = figure.to_dict()
    layout = whole["layout"]
    layout["shapes"] = [*layout.get("shapes", []), {
        "type": "line", "x0": at_s, "x1": at_s, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
        "line": {"color": "#333333", "width": 1.5, "dash": "dot"}}]
    if top is not None:
        layout["yaxis"] = {**layout.get("yaxis", {}), "range": [0, top]}
    return go.Figure(data=whole["data"], layout=layout, _validate=False)


def axis_top(figure: go.Figure) -> float | None:
    y_range = figure.layout.yaxis.range
    return None if y_range is None else float(y_range[1])


DATABASE_URL = os.environ.get("DATABASE_URL") or None

st.title(t("compare.title"))
st.caption(t("compare.intro"))
picker, start = st.columns([3, 1], vertical_alignment="bottom")
with picker:
    preset_picker("compare")
scenario = ss.scenario
st.markdown(t("live.scenario", name=plain(scenario.name), kind=scenario.pool.kind,
              duration=num(scenario.duration_s, 1)))
refuse_unrunnable(scenario, DATABASE_URL)
with start:
    running = run_button("compare", t("compare.run"), scenario, DATABASE_URL, measure_costs=True)


def stop_button(session: RemoteSession, snap: Snapshot) -> None:
    if st.button(t("live.stop"), key="compare.stop", disabled=snap.phase == "stopping"):
        session.stop()


follow("compare", running, stop_button)
session = finished("compare")
if session is None:
    st.stop()
live, snap = session.result, session.snapshot()
if live is None or snap.phase == "failed":
    st.error(plain(snap.error) if snap.error else t("live.failed"))
    st.stop()
if snap.phase == "cancelled":
    st.warning(t("compare.cancelled"))   # half a live run beside a whole simulation compares nothing
    st.stop()

both = simulated_beside(live.application_name, live)
fed, sim_metrics, live_metrics = both.fed, both.sim_metrics, both.live_metrics
if session.scenario != scenario:   # the page's scenario was changed since this run
    st.info(t("compare.other_scenario", name=plain(live.scenario.name)), icon=":material/history:")
st.caption(t("compare.costs", connect=num(fed.database.connect_ms, 2), rtt=num(fed.database.rtt_ms, 2),
             server=plain(live.server)))

judged = verdicts(sim_metrics, live_metrics)
agree = sum(v.agrees for v in judged)
st.markdown(t("compare.summary", agree=num(agree, 0), total=num(len(judged), 0)))
verdict_table(judged)

@st.fragment
def in_time(both: SideBySide, live: LiveResult) -> None:
    """The two runs in time: the taxi stands as one animation, or the levels charts with a line at a moment.

    A fragment: switching the view, or moving the levels' slider, redraws this part, not the page.
    """
    name, sim = live.application_name, both.sim
    views = ["stands", "levels"]
    view = st.segmented_control(t("compare.view"), views, default="stands", key="compare.view",
                                format_func=lambda v: t(f"compare.view_{v}"),
                                label_visibility="collapsed") or "stands"
    end = max(pair.run_end(sim.trace, sim.end_s), pair.run_end(live.trace, live.end_s))
    runs = [(f"{name}.sim", sim.trace, both.fed, "sim"), (name, live.trace, live.scenario, "live")]
    if view == "stands":   # both over the later end, so frame k is the same moment on both sides
        figure = pair.pair_figure((runs[0][0], runs[1][0]), lang(), ((runs[0][:3]), (runs[1][:3])), end,
                                  (t("compare.sim"), t("compare.live")), plot_px=PLOT_PX)
        draw(figure, "compare.stands", STILL)
        return
    step = float(frame_times(end, FRAMES)[0])
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    at_s = st.slider(t("compare.time"), 0.0, float(end), value=round(end / 2 / step) * step, step=step,
                     format=f"%.{digits}f", key=f"compare.at.{name}")
    charts = [chart_figure("levels", key, lang(), trace, scen, pair.run_end(trace, end_s))
              for (key, trace, scen, _), end_s in zip(runs, (sim.end_s, live.end_s), strict=True)]
    tops = [top for top in map(axis_top, charts) if top is not None]
    for col, chart, (*_, side) in zip(st.columns(2), charts, runs, strict=True):
        with col:
            st.markdown(f"**{t(f'compare.{side}')}**")
            draw(levels_at(chart, at_s, max(tops) if tops else None), f"compare.{side}.levels", STILL)


in_time(both, live)

with st.expander(t("compare.cards")):
    for side, metrics in (("sim", sim_metrics), ("live", live_metrics)):
        st.markdown(f"**{t(f'compare.{side}')}**")
        metric_cards(metrics)   # no deltas: the table above judges the differences, red only outside
