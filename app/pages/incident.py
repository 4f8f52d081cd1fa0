"""Bring your incident: a pasted error, log excerpt or pool configuration, read, explained and run again.

What is pasted is only ever read (`sim.diagnose`, regular expressions) and
shown back as text (`st.code`, `st.text`, `plain()`): never executed, never
drawn as Markdown or HTML. It is not written into the URL either (a pasted
configuration may hold a password); a link may bring a short text (`?text=`,
at most `incident.PREFILL_MAX` characters), as the glossary's does.
"""

from typing import Any

import streamlit as st

from app import i18n, incident, opening
from app.lessons import lesson_list
from app.results import error_texts, metric_cards, stand
from app.runs import refuse, simulate_scenario, spinner
from app.ui import lang, num, plain, t
from sim.budget import TooMuchWork
from sim.diagnose import MAX_TEXT, Diagnosis
from sim.pools import POOL_KINDS
from sim.scenario import from_dict

ss = st.session_state
TEXT = incident.TEXT_KEY
STAND_LEAD_S = 2.0   # the stand starts this long before the first failure: the queue that led to it
# Streamlit's 6 rem above the page would push what it recognised below a 720 px screen
PAGE_CSS = """<style>[data-testid="stMainBlockContainer"] { padding-top: 4.25rem; }</style>"""


def with_lang(**params: str) -> dict[str, str]:
    return params | ({} if lang() == i18n.DEFAULT else {"lang": lang()})


def fill(name: str) -> None:
    ss[TEXT] = incident.SAMPLES[name]


def examples() -> None:
    """One button per kind of text people bring; a click puts a sample in the box."""
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.caption(t("incident.examples"), width="content")
    for name in incident.SAMPLES:
        row.button(t(f"incident.example.{name}"), key=f"incident.example.{name}", on_click=fill, args=(name,),
                   type="secondary", width="content")


def what_it_can_read() -> None:
    """Each library's errors (their meanings quote the text looked for) and settings, as a list."""
    for r in incident.readable():
        name = r.library or t("incident.read_app")
        lines = [t(f"diagnose.sign.{key}") for key in r.signs]
        if r.settings:
            lines.append(t("incident.read_settings", names=", ".join(f"`{s}`" for s in r.settings)))
        st.markdown(f"**{name}**\n" + "\n".join(f"- {line}" for line in lines))


def recognised(diagnosis: Diagnosis) -> None:
    """Each text it recognised, shown as pasted, with what it means and the settings read from it."""
    for found in diagnosis.found:
        with st.container(border=True):
            st.code(found.excerpt, language=None, wrap_lines=True)
            st.markdown(t(f"diagnose.sign.{found.key}"))
            if found.settings:
                read = ", ".join(f"{path.split('.', 1)[1]} = {incident.value_text(v)}"
                                 for path, v in found.settings.items())
                st.caption(t("incident.read_from_it", settings=plain(read)))


def settings_meaning(diagnosis: Diagnosis) -> None:
    """The library, and each setting read in its own name with what it does."""
    st.markdown(t("incident.library", library=POOL_KINDS[diagnosis.kind].library))
    settings = incident.settings_read(diagnosis)
    if not settings:
        st.caption(t("incident.no_settings"))
        return
    st.markdown("\n".join(f"- `{path.split('.', 1)[1]} = {incident.value_text(value)}` — "
                          f"{t(f'field.{path}', _default='')}" for path, value in settings.items()))


def assumption_lines(assumed: dict[str, Any]) -> list[str]:
    """What the text did not say and the scenario chose, one Markdown line each (numbers only: nothing
    pasted)."""
    rest = dict(assumed)
    rate, phases = rest.pop("workload.rate_per_s", None), rest.pop("workload.phases", None) or []
    faults, notes = rest.pop("faults", None) or [], rest.pop("note", None) or []
    lines = []
    if rate is not None:
        steps = [t("incident.traffic_from", rate=num(rate, 0))]
        steps += [t("incident.traffic_step", at=num(p["at_s"], 0), rate=num(p["rate_per_s"], 0))
                  for p in phases]
        lines.append(t("incident.traffic", steps="; ".join(steps)))
    for path, value in rest.items():
        meaning = t(f"field.{path}", _default="")
        lines.append(f"`{path} = {incident.value_text(value)}`" + (f" — {meaning}" if meaning else ""))
    for fault in faults:
        if fault.get("kind") == "idle_cut":
            lines.append(t("incident.fault_idle_cut", after=num(fault.get("idle_cut_after_s", 0), 0)))
        else:
            lines.append(t("incident.fault", kind=plain(fault.get("kind", "?"))))
    for note in notes:
        lines.append(t("incident.note_pre_ping") if str(note).startswith("pool_pre_ping") else plain(note))
    return lines


def next_steps(diagnosis: Diagnosis) -> None:
    """What went wrong, in a sentence; the lesson that explains it; the button that opens it to play with."""
    st.markdown(t(f"incident.symptom.{diagnosis.symptom.value if diagnosis.symptom else 'none'}"))
    titles = dict(lesson_list(lang()))
    st.page_link("app/pages/lessons.py", label=t("incident.lesson", title=titles.get(diagnosis.lesson,
                                                                                      diagnosis.lesson)),
                 icon=":material/school:", query_params=with_lang(lesson=diagnosis.lesson))
    if st.button(t("incident.open"), type="primary", icon=":material/tune:", key="incident.open",
                 help=t("incident.open_help")):
        opening.open_in_playground(incident.session_scenario(diagnosis, t("incident.description")),
                                   prefer=incident.base_preset(diagnosis))


def simulated(diagnosis: Diagnosis) -> None:
    """The diagnosed scenario's run: its numbers, the errors the library would print, the stand."""
    scenario = from_dict(diagnosis.scenario)
    try:
        with spinner(scenario):
            trace, end_s, metrics = simulate_scenario(scenario)
    except TooMuchWork as e:
        refuse(e, scenario, key="incident")
        return
    metric_cards(metrics)
    with st.expander(t("incident.errors"), expanded=True):
        error_texts(metrics)
    first = incident.first_failure_s(trace)
    at_s = first - STAND_LEAD_S if first is not None and first > STAND_LEAD_S else None
    if at_s is not None:
        st.caption(t("incident.stand_at", at=num(at_s, 1)))
    stand(trace, scenario, end_s, key="incident", at_s=at_s)


st.html(PAGE_CSS)
st.title(t("incident.title"))
st.caption(t("incident.intro"))

asked = incident.prefill(st.query_params.get("text"))
if asked is not None:   # a link's text, once: afterwards the box is the visitor's
    ss[TEXT] = asked
    st.query_params.pop("text", None)

examples()
text = st.text_area(t("incident.paste"), key=TEXT, height=140, max_chars=MAX_TEXT,
                    placeholder=t("incident.placeholder"))
if not (text or "").strip():
    with st.expander(t("incident.can_read")):
        what_it_can_read()
    st.stop()

diagnosis = incident.read(text)
if diagnosis is None:
    st.warning(t("incident.unreadable"), icon=":material/help:")
    what_it_can_read()
    st.stop()

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader(t("incident.recognised"))
    recognised(diagnosis)
with right:
    st.subheader(t("incident.meaning"))
    next_steps(diagnosis)
    settings_meaning(diagnosis)

if diagnosis.problems:
    st.subheader(t("incident.problems"))
    for problem in diagnosis.problems:
        st.text(problem)
st.subheader(t("incident.assumed"))
st.caption(t("incident.assumed_help"))
st.markdown("\n".join(f"- {line}" for line in assumption_lines(diagnosis.assumptions)))

st.subheader(t("incident.simulated"))
st.caption(t("incident.simulated_help", seconds=num(from_dict(diagnosis.scenario).duration_s, 0)))
simulated(diagnosis)
