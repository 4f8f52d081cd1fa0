"""Playground: every setting of one scenario, and its simulated run, redrawn on every change."""

import streamlit as st

from app import frame
from app.controls import grouped_controls
from app.results import show_results
from app.runs import refuse, simulate_scenario
from app.ui import plain, t
from sim.budget import TooMuchWork

ss = st.session_state
st.title(t("playground.title"))
st.caption(t("playground.intro"))
for problem in ss.get("url_problems", []):
    st.warning(t("playground.url_problem", problem=plain(problem)))

frame.preset_picker("pg")
st.caption(plain(frame.preset_description(ss.preset, ss.scenario)))

with st.container(border=True):
    scenario, error = grouped_controls(ss.scenario, key=f"pg.v{ss.version}", t=t, tabs_key="pg.group")
if scenario is None:
    st.error(t("playground.invalid", message=plain(error)))
    st.stop()
frame.remember(scenario)
try:
    with st.spinner(t("playground.running")):
        trace, end_s, metrics = simulate_scenario(scenario)
except TooMuchWork as e:
    refuse(e, scenario, key="pg")
    st.stop()
show_results(trace, scenario, end_s, metrics, key="pg")
