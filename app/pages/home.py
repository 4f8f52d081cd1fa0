"""Home: the stand at work and three ways in on the first screen; below, what a pool is and where to start."""

from typing import Any

import streamlit as st

from app import frame, i18n, taxi
from app.figure import STILL, draw
from app.lessons import lesson_list
from app.results import stand_words
from app.runs import simulate_scenario
from app.ui import lang, t
from sim.scenario import Scenario, load_preset

LOOP_PRESET = "burst-into-overflow"
# The preset's burst, cut to a loop: 4 s of calm, 6 s of burst with extra taxis, 6 s settling back.
LOOP_SETS = ["duration_s=16", "workload.phases.0.at_s=4", "workload.phases.1.at_s=10"]
LOOP_FRAMES = 80        # 0.2 s of the run per frame: at 1x the loop plays in real time
LOOP_HEIGHT = 470       # px: the stand and the three ways in share the first 720 px
LOOP_MARGIN_BOTTOM = 40  # px under the plot: Play and Pause
LOOP_PAUSE_MS = 1500    # the last frame stays this long before the loop starts again
FAIL_PRESET = "exhaustion-timeouts"
TEACH_PRESET = "burst-into-overflow"

# The first screen has room for the stand and the three ways in only without Streamlit's 8 rem above the page.
STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 4.25rem; }
.st-key-home-ways button { min-height: 3.5rem; }
.st-key-home-ways button p { font-size: 1.2rem; font-weight: 600; }
.st-key-home-stand [data-testid="stElementContainer"]:has([data-testid="stHtml"]) { display: none; }
</style>"""

LOOP_JS = f"""<script>
/* Play the stand, and again from the start {LOOP_PAUSE_MS} ms after it stops, until the visitor
   touches it (then its Play and Pause are theirs); never for a reduced-motion setting. Plotly has
   no autoplay of its own: the script presses the figure's own Play button, which plays from the
   first frame again once the last one is shown. One timer for the browser tab: it also restarts
   a figure redrawn (another language stops its animation) or drawn anew (Home opened again). */
(() => {{
  if (window.homeStandLoop) return;
  if (window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  window.homeStandLoop = setInterval(() => {{
    const gd = document.querySelector(".st-key-home-stand .js-plotly-plot");
    const button = gd && gd.on && gd.querySelector(".updatemenu-button");
    if (!button) return;
    if (!gd.homeLoop) {{
      gd.homeLoop = {{touched: false, tick: 0}};
      gd.addEventListener("pointerdown", () => {{ gd.homeLoop.touched = true; }}, {{capture: true}});
      gd.on("plotly_animatingframe", () => {{ gd.homeLoop.tick = Date.now(); }});
    }}
    if (gd.homeLoop.touched || Date.now() - gd.homeLoop.tick < {LOOP_PAUSE_MS}) return;
    gd.homeLoop.tick = Date.now();
    button.dispatchEvent(new MouseEvent("click", {{bubbles: true}}));
  }}, 500);
}})();
</script>"""


def with_lang(**params: str) -> dict[str, str]:
    """A link's query parameters with the session's language, so the page it opens speaks it too."""
    return params | ({} if lang() == i18n.DEFAULT else {"lang": lang()})


def loop_scenario() -> Scenario:
    return load_preset(LOOP_PRESET).with_overrides(LOOP_SETS)


@st.cache_resource(max_entries=8, show_spinner=False)
def loop_figure(in_lang: str, narrow: bool = False) -> Any:
    """The short run's stand, in the language; one per language for every visitor (a few ms to build).

    A loop needs Play and Pause only: no speeds and no time slider, so the
    figure is built as tall as its plot area plus the room those take below
    (taxis, rows and clock sized for that plot area), then given back that room.
    """
    scenario = loop_scenario()
    trace, end_s, _ = simulate_scenario(scenario)
    figure = taxi.build_taxi_figure(
        trace, scenario, end_s, **stand_words(in_lang), max_frames=LOOP_FRAMES,
        height=LOOP_HEIGHT + taxi.MARGIN_BOTTOM - LOOP_MARGIN_BOTTOM, plot_px=taxi.WIDE_PLOT_PX,
        narrow=narrow)
    if narrow:   # a phone's: as tall as its rows need
        return taxi.play_only(figure)
    figure.layout.updatemenus = figure.layout.updatemenus[:1]
    figure.layout.sliders = ()
    figure.update_layout(height=LOOP_HEIGHT, margin_b=LOOP_MARGIN_BOTTOM)
    return figure


def ways_in() -> None:
    """Three buttons, one per reason to come: see a failure, bring an error, show a class."""
    fail, error, teach = st.columns(3)
    if fail.button(t("home.way_fail"), icon=":material/warning:", help=t("home.way_fail_help"),
                   key="home.way.fail", width="stretch", type="primary"):
        frame.load(FAIL_PRESET)
        st.switch_page("app/pages/playground.py", query_params=with_lang(preset=FAIL_PRESET))
    if error.button(t("home.way_error"), icon=":material/search:", help=t("home.way_error_help"),
                    key="home.way.error", width="stretch"):
        st.switch_page("app/pages/incident.py", query_params=with_lang())
    if teach.button(t("home.way_teach"), icon=":material/co_present:", help=t("home.way_teach_help"),
                    key="home.way.teach", width="stretch"):
        frame.load(TEACH_PRESET)
        frame.present(True)
        st.switch_page("app/pages/playground.py", query_params=with_lang(present="1", preset=TEACH_PRESET))


st.html(STYLE)
st.title(t("home.title"))
with st.container(key="home-ways"):
    ways_in()
with st.container(key="home-stand"):
    draw(loop_figure(lang(), frame.narrow()), "home.stand", STILL)
    st.html(LOOP_JS, unsafe_allow_javascript=True)
st.caption(t("home.stand_caption"))

st.markdown(t("home.lead"))
cols = st.columns([3, 2])
with cols[0]:
    st.markdown(t("home.picture"))
with cols[1]:
    st.markdown(t("home.mapping"))

st.subheader(t("home.start"))
PRESETS = ["no-pool", "pooled", "burst-into-overflow", "exhaustion-timeouts", "slow-leak",
           "idle-cut-no-pre-ping", "too-many-clients", "bigger-pool-not-faster"]
buttons = st.columns(4)
for i, name in enumerate(PRESETS):
    with buttons[i % 4]:
        if st.button(frame.preset_title(name), key=f"home.{name}", width="stretch"):
            frame.load(name)
            st.switch_page("app/pages/playground.py", query_params=with_lang())

st.subheader(t("home.lessons"))
for slug, title in lesson_list(lang()):
    st.page_link("app/pages/lessons.py", label=title, query_params=with_lang(lesson=slug))
