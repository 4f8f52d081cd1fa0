"""A lesson: its Markdown, with each embedded scenario drawn live on the page."""

import streamlit as st

from app import frame
from app.controls import scenario_controls
from app.lessons import Block, lesson_files, parse, title_of
from app.results import metric_cards
from app.runs import simulate_scenario
from app.state import apply
from app.ui import lang, t
from sim.scenario import ScenarioError, load_preset

files = lesson_files(lang())
if not files:
    st.info(t("lessons.none"))
    st.stop()
slugs = list(files)
asked = st.query_params.get("lesson")
slug = st.selectbox(t("lessons.pick"), slugs, index=slugs.index(asked) if asked in slugs else 0,
                    format_func=lambda s: title_of(files[s]), key="lesson.pick")
if st.query_params.get("lesson") != slug:
    st.query_params["lesson"] = slug


def scenario_block(block: Block, n: int) -> None:
    data = block.data
    with st.container(border=True):
        if data.get("question"):
            st.markdown(f"**{t('lessons.predict')}** {data['question']}")
        try:
            base = apply(load_preset(data["preset"]), list(data.get("set", [])))
        except (KeyError, ScenarioError) as e:
            st.error(t("lessons.bad_block", n=n, message=str(e)))
            return
        only = tuple(data.get("controls", []))
        scenario, error = scenario_controls(base, key=f"lesson.{slug}.{n}", t=t, only=only) if only \
            else (base, None)
        if scenario is None:
            st.error(error)
            return
        _, _, metrics = simulate_scenario(scenario)
        metric_cards(metrics)
        cols = st.columns(2)
        if cols[0].button(t("lessons.open_playground"), key=f"lesson.{slug}.{n}.open"):
            frame.open_scenario(data["preset"], scenario, "app/pages/playground.py")
        if data.get("live") and cols[1].button(t("lessons.open_live"), key=f"lesson.{slug}.{n}.live"):
            frame.open_scenario(data["preset"], scenario, "app/pages/live_lab.py")


try:
    segments = parse(files[slug].read_text(encoding="utf-8"))
except ValueError as e:
    st.error(t("lessons.bad_file", message=str(e)))
    st.stop()
blocks = 0
for segment in segments:
    if isinstance(segment, Block):
        blocks += 1
        if segment.kind == "scenario":
            scenario_block(segment, blocks)
    else:
        st.markdown(segment)
