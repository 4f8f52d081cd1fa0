"""A lesson: its Markdown, each embedded scenario run, each sweep tabled, each quiz answerable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import frame, i18n, lessons
from app.background import live_worker
from app.controls import field_controls
from app.lessons import Block, Figures
from app.results import metric_cards, metric_label, stand
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
    return lessons.fill(text, figs, lambda v, d: num(v, d), lambda v: pct(v),
                        lambda noun, value, written: i18n.counted(lang(), noun, value, written))


def figure_text(block: Block, value: float | None) -> str:
    """The answer's figure as the learner compares it with a guess: a share as a percentage."""
    spec = block.data["predict"]
    if value is not None and ("of" in spec or measure(spec["metric"]).unit == "share"):
        return pct(value)
    return shown(value)


def prediction(block: Block, key: str, figs: Figures) -> bool:
    """Ask for the learner's prediction until it is committed; True once the run may be shown.

    The guess is kept in the session, so the page can set it beside the run's
    figure, and it survives a moved slider and a change of language.
    """
    data, spec = block.data, block.data["predict"]
    ss = st.session_state
    if f"{key}.guess" in ss:
        return True
    if "pick" in spec:
        labels = list(figs[block.id])
        names = sweep_names(block)
        guess: Any = st.radio(t("lessons.your_pick"), labels, index=None, format_func=names.__getitem__,
                              key=f"{key}.choice", horizontal=True)
    elif "bounds" in spec:
        choices = [filled(c, figs) for c in data["choices"]]
        guess = st.radio(t("lessons.your_choice"), range(len(choices)), index=None,
                         format_func=choices.__getitem__, key=f"{key}.choice")
    else:
        label = metric_label(spec["metric"])
        guess = st.number_input(t("lessons.your_number", figure=label), min_value=0.0, value=None,
                                step=1.0, key=f"{key}.number", format="%g")
    row = st.container(horizontal=True)
    if row.button(t("lessons.commit"), key=f"{key}.commit", type="primary", disabled=guess is None,
                  icon=":material/lock:"):
        ss[f"{key}.guess"] = guess
        st.rerun()
    if row.button(t("lessons.skip"), key=f"{key}.skip"):
        ss[f"{key}.guess"] = None
        st.rerun()
    st.caption(t("lessons.hidden"))
    return False


def verdict(block: Block, key: str, figs: Figures) -> None:
    """The committed guess beside the figure of the run on screen, and a way to predict again."""
    data, spec = block.data, block.data["predict"]
    guess = st.session_state.get(f"{key}.guess")
    found = lessons.answer(block, figs)
    figure = figure_text(block, found.value)
    label = metric_label(spec["metric"])
    if "pick" in spec:
        names = sweep_names(block)
        text = t(f"lessons.verdict_pick_{spec['pick']}", guess=plain(names.get(str(guess), "–")),
                 run=plain(names.get(str(found.right), "–")), figure=label, value=figure)
    elif "bounds" in spec:
        text = t("lessons.verdict_choice", guess=filled(data["choices"][guess], figs) if guess is not None
                 else "–", answer=filled(data["choices"][found.right], figs) if found.right is not None
                 else "–", figure=label, value=figure)
    else:
        text = t("lessons.verdict_number", guess=num(guess, 0 if float(guess or 0).is_integer() else 1)
                 if guess is not None else "–", figure=label, value=figure)
    right = guess is not None and found.right is not None and guess == found.right
    if guess is None:
        st.info(t("lessons.verdict_skipped", figure=label, value=figure), icon=":material/visibility:")
    elif found.right is None:
        st.info(text, icon=":material/compare_arrows:")
    elif right:
        st.success(text, icon=":material/check_circle:")
    else:
        st.warning(text, icon=":material/lightbulb:")
    if st.button(t("lessons.again"), key=f"{key}.again", type="tertiary", icon=":material/replay:"):
        for suffix in (".guess", ".choice", ".number"):
            st.session_state.pop(f"{key}{suffix}", None)
        st.rerun()


def as_written(block: Block, key: str, figs: Figures, mine: Figures, explained: list[str]) -> None:
    """Where the learner's run is not the one the text describes: say so, with both runs' figures."""
    paths = lessons.cited(block.id, explained)
    rows = [{t("lessons.col.figure"): metric_label(path),
             t("lessons.col.as_written"): shown(lessons.lookup(figs, f"{block.id}.{path}")),
             t("lessons.col.your_run"): shown(lessons.lookup(mine, f"{block.id}.{path}"))}
            for path in paths]
    broken = [c for c in block.data.get("claims", []) if lessons.claim_holds(c, figs)
              and lessons.claim_holds(c, mine) is False]
    with st.container(border=True):
        st.markdown(t("lessons.as_written_note"))
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        for claim in broken:
            st.warning(t("lessons.claim_broken", claim=claim_text(claim, mine)), icon=":material/warning:")
        st.button(t("lessons.reset"), key=f"{key}.reset", icon=":material/restart_alt:",
                  on_click=reset_controls, args=(key, tuple(block.data.get("controls", []))))


def claim_text(claim: str, figs: Figures) -> str:
    """A claim in the page's words: each figure by its name and value in this run."""
    def side(s: lessons.Side) -> str:
        if s.figure is None:
            return num(s.number, 1)
        _, _, figure = lessons.locate(figs, s.figure)
        factor = f"{num(s.factor, 0 if s.factor.is_integer() else 1)} × " if s.factor != 1 else ""
        return f"{factor}{metric_label(figure.path)} {shown(lessons.lookup(figs, s.figure))}"
    parts = lessons.claim_parts(claim)
    assert parts is not None   # the checker refused malformed claims before the page drew
    left, op, right = parts
    return f"{side(left)} {op} {side(right)}"


def reset_controls(key: str, controls: tuple[str, ...]) -> None:
    for path in controls:
        st.session_state.pop(f"{key}.{path}", None)


def scenario_block(block: Block, slug: str, figs: Figures, explained: list[str]) -> bool:
    """Question, controls, prediction; once predicted, the run and the guess beside it.

    True when the run is shown (the prose under the block may then be read).
    """
    data = block.data
    key = f"lesson.{slug}.{block.id}"
    with st.container(border=True):
        st.markdown(f"**{t('lessons.predict')}** {filled(data['question'], figs)}")
        base = lessons.runs(block)[""]
        only = tuple(data.get("controls", []))
        scenario, error = field_controls(base, key=key, t=t, only=only) if only else (base, None)
        if scenario is None:
            st.error(plain(error))
            return False
        if not prediction(block, key, figs):
            return False
        try:
            trace, end_s, metrics = simulate_scenario(scenario)
        except TooMuchWork as e:
            refuse(e, scenario, key)
            return False
        mine = {**figs, block.id: {"": metrics}}
        verdict(block, key, mine)
        metric_cards(metrics)
        if scenario != base:
            as_written(block, key, figs, mine, explained)
        cols = st.columns(3)
        show = cols[0].toggle(t("lessons.show_taxi"), key=f"{key}.taxi")
        if cols[1].button(t("lessons.open_playground"), key=f"{key}.open", icon=":material/tune:"):
            frame.open_scenario(data["preset"], scenario, "app/pages/playground.py")
        if data.get("live") and cols[2].button(t("lessons.open_live"), key=f"{key}.live",
                                               icon=":material/database:"):
            frame.open_scenario(data["preset"], scenario, "app/pages/live_lab.py")
        if show:
            stand(trace, scenario, end_s, key=f"{key}.run")   # drawn for a phone on a phone
    return True


def sweep_names(block: Block) -> dict[str, str]:
    """Each run's label -> the name the table shows for it (the value varied, or the run's `name`)."""
    if "vary" in block.data:
        return {label: label.replace("_", ".") for label in lessons.runs(block)}
    return {str(r["label"]): str(r.get("name", r["label"])) for r in block.data.get("runs", [])}


def sweep_block(block: Block, slug: str, figs: Figures) -> bool:
    """The sweep's table; where it asks a question, only after the learner has answered it."""
    data = block.data
    paths = list(data.get("metrics", []))
    if "predict" in data:
        key = f"lesson.{slug}.{block.id}"
        with st.container(border=True):
            st.markdown(f"**{t('lessons.predict')}** {filled(data['question'], figs)}")
            if not prediction(block, key, figs):
                return False
            verdict(block, key, figs)
    first = data.get("vary", t("lessons.run"))
    rows = []
    names = sweep_names(block)
    for label, metrics in figs[block.id].items():
        row: dict[str, Any] = {first: names[label]}
        for figure in map(measure, paths):
            value = figure.read(metrics)   # None where it does not apply (Erlang C for this pool)
            row[metric_label(figure.path)] = pct(value) if value is not None and figure.unit == "share" \
                else shown(value)
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(t("lessons.sweep_caption"))
    return True


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
    hidden = False   # the prose under a block that is waiting for a prediction
    for n, segment in enumerate(segments):
        try:
            if isinstance(segment, str):
                explained, rest = lessons.explanation(segment) if hidden else ("", segment)
                if explained.strip():
                    st.caption(t("lessons.explanation_hidden"))
                if rest.strip():
                    st.markdown(filled(rest, figs))
                hidden = False
            elif segment.kind == "scenario":
                after = segments[n + 1] if n + 1 < len(segments) else ""
                under = [lessons.explanation(after)[0]] if isinstance(after, str) else []
                hidden = not scenario_block(segment, slug, figs, under + lessons.words(segment))
            elif segment.kind == "sweep":
                hidden = not sweep_block(segment, slug, figs)
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
asked = st.query_params.get("lesson") or st.session_state.get("lessons.last")   # else the last one read
slug = st.selectbox(t("lessons.pick"), slugs, index=slugs.index(asked) if asked in slugs else 0,
                    format_func=lambda s: lessons.title_of(files[s]), key=f"lesson.pick.{lang()}")
st.session_state["lessons.last"] = slug
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
