"""A lesson: its Markdown, each embedded scenario run, each sweep tabled, each quiz answerable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import frame, lessons
from app.background import live_worker
from app.controls import field_controls
from app.lessons import Block, Figures
from app.results import metric_cards, metric_label, taxi_figure
from app.runs import refuse, simulate_scenario
from app.ui import lang, num, pct, plain, shown, t
from live.server import LiveError
from sim.budget import TooMuchWork
from sim.measures import measure
from sim.metrics import Metrics
from sim.scenario import Scenario, ScenarioError

MEASURE_DELAYS_MS = (0.0, 1.0, 10.0)   # a socket on this machine, a datacentre, a region away
MEASURE_SAMPLES = 7


def metrics_of(scenario: Scenario) -> Metrics:
    return simulate_scenario(scenario)[2]


def filled(text: str, figs: Figures) -> str:
    return lessons.fill(text, figs, lambda v, d: num(v, d), lambda v: pct(v))


def scenario_block(block: Block, slug: str, figs: Figures) -> None:
    data = block.data
    key = f"lesson.{slug}.{block.id}"
    with st.container(border=True):
        st.markdown(f"**{t('lessons.predict')}** {filled(data['question'], figs)}")
        base = lessons.runs(block)[""]
        only = tuple(data.get("controls", []))
        scenario, error = field_controls(base, key=key, t=t, only=only) if only else (base, None)
        if scenario is None:
            st.error(plain(error))
            return
        try:
            trace, end_s, metrics = simulate_scenario(scenario)
        except TooMuchWork as e:
            refuse(e, scenario, key)
            return
        metric_cards(metrics)
        cols = st.columns(3)
        show = cols[0].toggle(t("lessons.show_taxi"), key=f"{key}.taxi")
        if cols[1].button(t("lessons.open_playground"), key=f"{key}.open", icon=":material/tune:"):
            frame.open_scenario(data["preset"], scenario, "app/pages/playground.py")
        if data.get("live") and cols[2].button(t("lessons.open_live"), key=f"{key}.live",
                                               icon=":material/database:"):
            frame.open_scenario(data["preset"], scenario, "app/pages/live_lab.py")
        if show:
            st.plotly_chart(taxi_figure(scenario.to_toml(), lang(), trace, scenario, end_s),
                            key=f"{key}.figure", theme=None, config={"displayModeBar": False})


def sweep_block(block: Block, figs: Figures) -> None:
    data = block.data
    paths = list(data.get("metrics", []))
    first = data.get("vary", t("lessons.run"))
    rows = []
    names = {str(r["label"]): r.get("name", r["label"]) for r in data.get("runs", [])}
    for label, metrics in figs[block.id].items():
        row: dict[str, Any] = {first: label.replace("_", ".") if "vary" in data else names[label]}
        for figure in map(measure, paths):
            value = figure.read(metrics)   # None where it does not apply (Erlang C for this pool)
            row[metric_label(figure.path)] = pct(value) if value is not None and figure.unit == "share" \
                else shown(value)
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(t("lessons.sweep_caption"))


def quiz_block(block: Block, slug: str, figs: Figures, order: list[int]) -> None:
    """The question and its options in `order` (`lessons.quiz_orders`); the feedback once one is picked."""
    data = block.data
    options = [filled(o, figs) for o in data["options"]]
    with st.container(border=True):
        picked = st.radio(filled(data["question"], figs), order, index=None,
                          format_func=lambda i: options[i], key=f"lesson.{slug}.{block.id}")
        if picked is None:
            return
        feedback = filled(data["feedback"][picked], figs)
        if picked == data["answer"]:
            st.success(f"**{t('lessons.right')}** {feedback}", icon=":material/check_circle:")
        else:
            st.error(f"**{t('lessons.wrong')}** {feedback}", icon=":material/cancel:")


def measure_block(block: Block, slug: str) -> None:
    """Real connects and queries on this machine's server: the figures lesson 1 sets beside the seeds'."""
    key = f"lesson.{slug}.{block.id}"
    with st.container(border=True):
        st.markdown(t("lessons.measure_intro"))
        if st.button(t("lessons.measure"), key=f"{key}.go", icon=":material/speed:"):
            url = os.environ.get("DATABASE_URL") or None
            with st.spinner(t("lessons.measuring")):
                try:
                    st.session_state[key] = live_worker().measure(url, MEASURE_DELAYS_MS, MEASURE_SAMPLES)
                except LiveError as e:
                    st.session_state[key] = str(e)
        result = st.session_state.get(key)
        if isinstance(result, str):
            st.error(t("lessons.measure_failed", message=plain(result)))
        elif result is not None:
            server, rows = result
            st.dataframe(pd.DataFrame([{
                t("lessons.col.delay"): num(r.added_rtt_ms, 0),
                t("lessons.col.connect"): num(r.connect_ms, 2),
                t("lessons.col.query"): num(r.query_ms, 2),
                t("lessons.col.ratio"): num(r.connect_ms / r.query_ms if r.query_ms else 0.0, 0),
            } for r in rows]), hide_index=True, width="stretch")
            st.caption(t("lessons.measured", server=plain(server), samples=MEASURE_SAMPLES,
                         queries=3 * MEASURE_SAMPLES))


def show_lesson(slug: str, path: Path) -> None:
    try:
        segments = lessons.parse(path.read_text(encoding="utf-8"))
        problems = lessons.problems(segments)
        if problems:
            raise ValueError("; ".join(problems))
        figs = lessons.figures(segments, metrics_of)
        orders = lessons.quiz_orders(slug, segments)
    except (ValueError, ScenarioError, KeyError, TypeError) as e:
        st.error(t("lessons.bad_file", message=plain(e)))
        return
    for segment in segments:
        try:
            if isinstance(segment, str):
                st.markdown(filled(segment, figs))
            elif segment.kind == "scenario":
                scenario_block(segment, slug, figs)
            elif segment.kind == "sweep":
                sweep_block(segment, figs)
            elif segment.kind == "quiz":
                quiz_block(segment, slug, figs, orders[segment.id])
            elif segment.kind == "measure":
                measure_block(segment, slug)
        except KeyError as e:
            st.error(t("lessons.bad_figure", message=plain(e.args[0])))
        except Exception as e:  # one broken block must not take the lesson down
            st.error(t("lessons.bad_block", n=getattr(segment, "id", "?"),
                       message=plain(f"{type(e).__name__}: {e}")))


files = lessons.lesson_files(lang())
if not files:
    st.info(t("lessons.none"))
    st.stop()
slugs = list(files)
asked = st.query_params.get("lesson")
slug = st.selectbox(t("lessons.pick"), slugs, index=slugs.index(asked) if asked in slugs else 0,
                    format_func=lambda s: lessons.title_of(files[s]), key=f"lesson.pick.{lang()}")
if st.query_params.get("lesson") != slug:
    st.query_params["lesson"] = slug
show_lesson(slug, files[slug])

st.divider()
here = slugs.index(slug)
back, _, forward = st.columns([2, 1, 2])
for col, other, text in ((back, here - 1, "lessons.previous"), (forward, here + 1, "lessons.next")):
    if 0 <= other < len(slugs) and col.button(t(text, title=lessons.title_of(files[slugs[other]])),
                                              key=f"lesson.go.{other}", width="stretch"):
        st.query_params["lesson"] = slugs[other]
        del st.session_state[f"lesson.pick.{lang()}"]
        st.rerun()
