"""Compare: the session's scenario simulated and run live, side by side, the differences marked."""

import os

import streamlit as st

from app import charts
from app.background import background_loop
from app.results import metric_cards
from app.ui import num, t, texts
from live.compare import ROWS, diff, pick, sim_inputs
from live.runner import SIMULATION_ONLY
from live.session import LiveSession
from sim.metrics import summarize, summarize_run
from sim.model import run as simulate

ss = st.session_state
DATABASE_URL = os.environ.get("DATABASE_URL") or None

st.title(t("compare.title"))
st.caption(t("compare.intro"))
scenario = ss.scenario
st.markdown(t("live.scenario", name=scenario.name, kind=scenario.pool.kind,
              duration=num(scenario.duration_s, 1)))
if scenario.pool.kind in SIMULATION_ONLY:
    st.warning(t("live.simulation_only", kind=scenario.pool.kind))
    st.stop()

session: LiveSession | None = ss.get("compare.session")
running = session is not None and not session.snapshot().finished
if st.button(t("compare.run"), type="primary", disabled=running, key="compare.run"):
    session = LiveSession(scenario, background_loop(), DATABASE_URL, measure_costs=True)
    session.start()
    ss["compare.session"] = session
    running = True


@st.fragment(run_every=0.5 if running else None)
def progress() -> None:
    session = ss.get("compare.session")
    if session is None:
        return
    snap = session.snapshot()
    if snap.finished:
        if ss.get("compare.drawn") is not session:
            ss["compare.drawn"] = session
            st.rerun(scope="app")
        return
    st.progress(snap.progress, text=t("live.progress", now=num(snap.now_s, 1), total=num(snap.duration_s, 1),
                                      phase=t(f"live.phase.{snap.phase}")))
    if st.button(t("live.stop"), key="compare.stop"):
        session.stop()


progress()
session = ss.get("compare.session")
if session is None or not session.snapshot().finished:
    st.stop()
live = session.result
if live is None or session.snapshot().phase == "failed":
    st.error(session.snapshot().error or t("live.failed"))
    st.stop()

fed = sim_inputs(live.scenario, live)
sim_result = simulate(fed)
sim_metrics = summarize_run(sim_result)
live_metrics = summarize(live.trace, live.scenario, live.end_s)
st.caption(t("compare.costs", connect=num(fed.database.connect_ms, 2), rtt=num(fed.database.rtt_ms, 2),
             server=live.server))

left, right = st.columns(2)
with left:
    st.subheader(t("compare.sim"))
    metric_cards(sim_metrics)
with right:
    st.subheader(t("compare.live"))
    metric_cards(live_metrics, other=sim_metrics)

differences = diff(live_metrics, sim_metrics)
rows = []
for path, label in ROWS:
    a, b, d = pick(sim_metrics, path), pick(live_metrics, path), pick(differences, path)
    rows.append({t("compare.col.what"): t(f"compare.row.{path}", _default=label),
                 t("compare.col.sim"): a, t("compare.col.live"): b, t("compare.col.diff"): d})
st.dataframe(rows, hide_index=True, width="stretch",
             column_config={t("compare.col.diff"): st.column_config.NumberColumn(format="%+.2f")})

left, right = st.columns(2)
with left:
    st.plotly_chart(charts.connections_over_time(sim_result.trace, fed, sim_result.end_s,
                                                 text=charts.EN | texts("charts")), key="compare.sim.levels",
                    theme=None)
with right:
    st.plotly_chart(charts.connections_over_time(live.trace, live.scenario, live.end_s,
                                                 text=charts.EN | texts("charts")), key="compare.live.levels",
                    theme=None)
