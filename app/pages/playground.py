"""Playground: every setting of one scenario, and its simulated run, redrawn on every change.

The first screen (1280 x 720, a projector) holds the whole taxi stand with
the open group's controls beside it and the run's six numbers under it, so a
slider and its effect are seen together; the prose, the charts and the
downloads follow. `?present=1` is the classroom layout: the stand across the
screen, the two or three controls the link names (`&controls=pool.pool_size,...`)
under it, no prose, large type.
"""

import streamlit as st

from app import exercise, frame, taxi
from app.controls import field_controls, grouped_controls, key_fields
from app.results import details, metric_cards, stand
from app.runs import refuse, simulate_scenario, spinner
from app.state import field_spec
from app.ui import num, plain, t
from sim.budget import TooMuchWork
from sim.scenario import Scenario, load_preset

ss = st.session_state

# The first screen has no room for Streamlit's 6 rem of padding above the page and 5 rem beside it; a
# phone's (under 700 px) has room for 0.75 rem beside it: the stand is drawn for that (taxi.NARROW_PLOT_PX).
NARROW_CSS = """
@media (max-width: 699.98px) {
  [data-testid="stMainBlockContainer"] { padding-left: 0.75rem; padding-right: 0.75rem; }
}"""
PAGE_CSS = f"""<style>
[data-testid="stMainBlockContainer"] {{ padding-top: 4.25rem; padding-left: 2rem; padding-right: 2rem; }}
{NARROW_CSS}
</style>"""
# Large type for a projector; a phone keeps its own.
PRESENT_CSS = f"""<style>
[data-testid="stMainBlockContainer"] {{ padding-top: 4.25rem; padding-left: 1rem; padding-right: 1rem; }}
@media (min-width: 700px) {{
[data-testid="stMainBlockContainer"] [data-testid="stWidgetLabel"] p {{ font-size: 1.6rem; }}
[data-testid="stMainBlockContainer"] [data-testid="stSliderThumbValue"],
[data-testid="stMainBlockContainer"] [data-testid="stSliderTickBar"] {{ font-size: 1.4rem; }}
[data-testid="stMainBlockContainer"] [data-testid="stMetricValue"] {{ font-size: 3rem; }}
[data-testid="stMainBlockContainer"] [data-testid="stMetricLabel"] p {{ font-size: 1.3rem; }}
[data-testid="stMainBlockContainer"] button p {{ font-size: 1.3rem; }}
}}
{NARROW_CSS}
</style>"""


def run(scenario: Scenario) -> tuple | None:   # type: ignore[type-arg]
    """The simulated run of the scenario, or None, said why, when it is more work than a page may ask for."""
    try:
        with spinner(scenario):
            return simulate_scenario(scenario)
    except TooMuchWork as e:
        refuse(e, scenario, key="pg")
        return None


def scene_buttons(scenario: Scenario, key: str) -> None:
    """The scenario's scenes as numbered buttons, and the caption of the one picked (`picked_moment`)."""
    if not scenario.scenes:
        return
    scenes = scenario.scenes
    own = scenes == load_preset(ss.preset).scenes   # the preset's own scenes have translated captions
    picked = st.segmented_control(t("scenes.label"), range(len(scenes)), format_func=lambda i: str(i + 1),
                                  key=f"{key}.scene", help=t("scenes.help"))
    if picked is not None:
        caption = t(f"preset.{ss.preset}.scene{picked}") if own else scenes[picked].caption
        st.markdown(f"**{num(scenes[picked].at_s, 1)} s** · {plain(caption)}")


def picked_moment(scenario: Scenario, key: str) -> float | None:
    """The moment of the scene picked with `scene_buttons` (the stand jumps there); readable before they are
    drawn, as a widget's value is the session's from the start of the rerun."""
    picked = ss.get(f"{key}.scene")
    return scenario.scenes[picked].at_s if isinstance(picked, int) and picked < len(scenario.scenes) else None


def reset_to_preset() -> None:
    frame.load(ss.preset)


def presentation_fields(scenario: Scenario) -> tuple[str, ...]:
    """The controls the link names that this scenario has (each unknown one is said once), else the open
    group's first two."""
    known = []
    for path in ss.get("present_controls", []):
        try:
            field_spec(scenario, path)
            known.append(path)
        except KeyError:
            st.warning(t("present.unknown_control", path=plain(path)))
    return tuple(known) or key_fields(scenario, ss.get("pg.group.name", "pool"))


def presentation() -> None:
    st.html(PRESENT_CSS)
    scenario = ss.scenario
    only = presentation_fields(scenario)
    stand_slot = st.container()
    controls, leave = st.columns([4, 1], vertical_alignment="bottom")
    with leave:
        if st.button(t("present.leave"), icon=":material/close_fullscreen:", key="pg.present.leave"):
            frame.present(False)
            st.rerun()
    with controls:
        scene_buttons(scenario, "pr")
        at_s = picked_moment(scenario, "pr")
        changed, error = field_controls(scenario, f"pr.v{ss.version}", t, only)
    if changed is None:
        st.error(t("playground.invalid", message=plain(error)))
        st.stop()
    frame.remember(changed)
    result = run(changed)
    if result is None:
        st.stop()
    trace, end_s, metrics = result
    with stand_slot:
        stand(trace, changed, end_s, key="pg", height=taxi.PRESENT_HEIGHT, plot_px=taxi.PRESENT_PLOT_PX,
              at_s=at_s)
    metric_cards(metrics)


def playground() -> None:
    st.html(PAGE_CSS)
    if frame.narrow():   # a phone: the stand across the screen, its numbers under it, then the controls
        stand_col, cards, side = st.container(), st.container(), st.container()
    else:   # the stand beside the controls on the first screen, the numbers under both
        stand_col, beside = st.columns([3.4, 1])
        side, cards = beside.container(height=taxi.STAND_HEIGHT, border=False), st.container()
    with side:
        # Above the controls, but drawn after the stand: a browser that lays out each element as it comes
        # redrew the stand some 35 ms later after a slider moved with these six sent before it. The
        # exercise's chip and link are then this run's too, the URL written for it (`frame.remember`).
        top = st.container()
        scenario, error = grouped_controls(ss.scenario, key=f"pg.v{ss.version}", t=t, tabs_key="pg.group",
                                           compact=True)
    result = None
    if scenario is not None:
        frame.remember(scenario)
        with stand_col:
            result = run(scenario)
            if result is not None:
                trace, end_s, metrics = result
                stand(trace, scenario, end_s, key="pg", height=taxi.STAND_HEIGHT, plot_px=taxi.PLOT_PX,
                      at_s=picked_moment(scenario, "pg"))
        if result is not None:
            with cards:
                metric_cards(metrics)
    with top:
        frame.preset_picker("pg")
        if st.button(t("present.button"), icon=":material/co_present:", help=t("present.help"),
                     key="pg.present"):
            frame.present(True, list(key_fields(ss.scenario, ss.get("pg.group.name", "pool"))))
            st.rerun()
        if st.button(t("playground.compare_with"), icon=":material/join:", help=t("playground.compare_help"),
                     key="pg.compare_with"):
            st.switch_page("app/pages/race.py")   # A is this scenario; B, a copy to change (or as last left)
        exercise.panel(ss.preset, ss.scenario, "pg.exercise", reset_to_preset)   # after `frame.remember`
        scene_buttons(ss.scenario, "pg")
    if scenario is None:
        with stand_col:
            st.error(t("playground.invalid", message=plain(error)))
        st.stop()
    if result is None:   # refused, and said why
        st.stop()

    st.title(t("playground.title"))
    st.caption(t("playground.intro"))
    st.caption(plain(frame.preset_description(ss.preset, ss.scenario)))
    details(trace, scenario, end_s, metrics, key="pg")


for problem in ss.get("url_problems", []):
    st.warning(t("playground.url_problem", problem=plain(problem)))


@st.fragment
def body() -> None:
    """The page's body reruns alone when one of its controls moves: the navigation row, the language
    picker and the width probe around it are neither rebuilt on the server nor re-rendered in the browser
    (a slider's change redrew the stand some 20 ms sooner, interleaved A/B, 20 changes each). Everything
    that depends on the run (stand, numbers, charts, the link in the address) is inside it."""
    if ss.get("present"):
        presentation()
    else:
        playground()


body()
