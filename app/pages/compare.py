"""Compare: the session's scenario simulated and run live, side by side, the differences marked."""

import os

import streamlit as st

from app import charts
from app.live_panel import finished, follow, refuse_simulation_only, run_button
from app.results import metric_cards
from app.ui import num, t, texts
from live.compare import ROWS, diff, pick, sim_inputs
from live.session import Snapshot
from live.worker import RemoteSession
from sim.metrics import summarize, summarize_run
from sim.model import run as simulate

ss = st.session_state
DATABASE_URL = os.environ.get("DATABASE_URL") or None

st.title(t("compare.title"))
st.caption(t("compare.intro"))
scenario = ss.scenario
st.markdown(t("live.scenario", name=scenario.name, kind=scenario.pool.kind,
              duration=num(scenario.duration_s, 1)))
refuse_simulation_only(scenario)
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
    st.error(snap.error or t("live.failed"))
    st.stop()
if snap.phase == "cancelled":
    st.warning(t("compare.cancelled"))   # half a live run beside a whole simulation compares nothing
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
                                                 text=texts("charts")), key="compare.sim.levels",
                    theme=None)
with right:
    st.plotly_chart(charts.connections_over_time(live.trace, live.scenario, live.end_s,
                                                 text=texts("charts")), key="compare.live.levels",
                    theme=None)
