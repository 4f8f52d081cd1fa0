"""Compare: the session's scenario simulated and run live, side by side, the differences marked."""

import os

import streamlit as st

from app.live_panel import finished, follow, refuse_unrunnable, run_button
from app.results import chart_figure, metric_cards, metric_label
from app.ui import lang, num, plain, t
from live.compare import SideBySide, rows_for, side_by_side
from live.runner import LiveResult
from live.session import Snapshot
from live.worker import RemoteSession
from sim.measures import measure

ss = st.session_state


@st.cache_resource(max_entries=4, show_spinner=False)
def simulated_beside(run_name: str, _live: LiveResult) -> SideBySide:
    """The simulation of a finished live run, once per run (every rerun of this page needs it)."""
    return side_by_side(_live)

DATABASE_URL = os.environ.get("DATABASE_URL") or None

st.title(t("compare.title"))
st.caption(t("compare.intro"))
scenario = ss.scenario
st.markdown(t("live.scenario", name=plain(scenario.name), kind=scenario.pool.kind,
              duration=num(scenario.duration_s, 1)))
refuse_unrunnable(scenario, DATABASE_URL)
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
st.caption(t("compare.costs", connect=num(fed.database.connect_ms, 2), rtt=num(fed.database.rtt_ms, 2),
             server=plain(live.server)))

left, right = st.columns(2)
with left:
    st.subheader(t("compare.sim"))
    metric_cards(sim_metrics)
with right:
    st.subheader(t("compare.live"))
    metric_cards(live_metrics, other=sim_metrics)

rows = []
for figure in map(measure, rows_for(sim_metrics, live_metrics)):
    a, b, d = figure.read(sim_metrics), figure.read(live_metrics), figure.read(both.diff)
    rows.append({t("compare.col.what"): metric_label(figure.path),
                 t("compare.col.sim"): a, t("compare.col.live"): b, t("compare.col.diff"): d})
st.dataframe(rows, hide_index=True, width="stretch",
             column_config={t("compare.col.diff"): st.column_config.NumberColumn(format="%+.2f")})

name, sim = live.application_name, both.sim
for col, figure, key in zip(st.columns(2), [
        chart_figure("levels", f"{name}.sim", lang(), sim.trace, fed, sim.end_s),
        chart_figure("levels", name, lang(), live.trace, live.scenario, live.end_s)],
        ["compare.sim.levels", "compare.live.levels"], strict=True):
    col.plotly_chart(figure, key=key, theme=None)
