"""What every page shares: the language, the scenario held for the session, the URL that reopens it.

The entry point calls `setup()` on every rerun before routing. Language and
scenario are read from the URL once per session (a shared link opens what
its author saw) and written back whenever they change, by hand rather than
with widget binding, which drops URL values set in the entry point under
st.navigation.
"""

from __future__ import annotations

import streamlit as st

from app import exercise, i18n
from app.state import DEFAULT_PRESET, from_url, overrides
from app.ui import t
from sim.scenario import Scenario, load_preset, preset_names

TOPICS: dict[str, tuple[str, ...]] = {
    "basics": ("no-pool", "pooled"),
    "bursts": ("rush-hour", "burst-into-overflow", "burst-past-cap", "exhaustion-timeouts",
               "too-many-clients"),
    "sizing": ("bigger-pool-not-faster", "bigger-pool-slower", "right-sized-pool", "erlang-c-check"),
    "failures": ("slow-leak", "idle-cut-no-pre-ping", "idle-cut-pre-ping", "kill-idle", "restart", "recycle"),
    "libraries": ("asyncpg-idle-shrink", "asyncpg-idle-floor", "hikari-burst", "go-random-waiters"),
    "concurrency": ("fastapi-threads", "asyncio-unbounded", "asyncio-semaphore", "retry-storm",
                    "retry-jitter"),
    "pooler": ("pgbouncer-direct", "pgbouncer-transaction", "pgbouncer-session",
               "pgbouncer-query-wait-timeout"),
    "real": ("fastapi-engine", "fastapi-integration-engine", "read-replica-engine", "vabhub-async-engine",
             "asyncpg-lifespan-pool", "go-database-sql"),
}
"""The presets by topic, in the picker's order; a preset in no topic is listed last, under its file name."""


def setup() -> None:
    ss = st.session_state
    if "lang" not in ss:
        accept = st.context.headers.get("Accept-Language") if st.context.headers else None
        ss.lang = i18n.resolve(st.query_params.get("lang"), st.context.locale or accept)
    if "scenario" not in ss:
        scenario, preset, problems = from_url(st.query_params.get("preset"), st.query_params.get_all("set"))
        ss.scenario, ss.preset, ss.url_problems = scenario, preset, problems
        ss.version = 0
    if "present" not in ss:
        ss.present = st.query_params.get("present") == "1"
        ss.present_controls = control_paths(st.query_params.get("controls"))
    if "note" not in ss:
        ss.note = exercise.note(st.query_params.get("note"))   # the exercise's question, kept in the URL


PRESENT_CONTROLS = 3
"""At most this many controls in presentation mode: the stand keeps the screen."""


def control_paths(text: str | None) -> list[str]:
    """The field paths a presentation link names (`pool.pool_size,workload.rate_per_s`), as written."""
    paths = [p.strip()[:60] for p in (text or "").split(",") if p.strip()]
    return list(dict.fromkeys(paths))[:PRESENT_CONTROLS]


def present(on: bool, controls: list[str] | None = None) -> None:
    """Enter or leave presentation mode; the URL says so, with the controls it shows."""
    ss = st.session_state
    ss.present = on
    ss.present_controls = list(controls or [])[:PRESENT_CONTROLS] if on else []
    ss.version = ss.get("version", 0) + 1   # each mode's controls start afresh from the scenario
    write_url(ss.get("scenario"))


WIDTH_COOKIE = "pool-stand-width"
NARROW_PX = 700
"""A window narrower than this (px) gets the phone's layout."""


def narrow() -> bool:
    """Whether this session's window was narrower than `NARROW_PX` (a phone) when the session began.

    Streamlit tells the server no viewport width, and the taxi stand's markers are sized
    in px when its figure is built, so the browser says it with a cookie (`width_probe`),
    which Streamlit hands over when the session connects.
    """
    return st.context.cookies.get(WIDTH_COOKIE) == "narrow"


WIDTH_KEY = "width-probe"
WIDTH_CSS = f"""<style>
[data-testid="stLayoutWrapper"]:has(> .st-key-{WIDTH_KEY}), .st-key-{WIDTH_KEY} {{ display: none; }}
</style>"""
WIDTH_JS = f"""<script>
/* Keep the cookie `narrow()` reads in step with the window (under {NARROW_PX} px: narrow), and reload
   the page once when it was drawn for the other width: the server reads cookies when a session
   begins. Nothing when cookies are off; the guard in sessionStorage stops a second reload for
   the same width, should the cookie not reach the server (an embedding page that blocks it). */
(() => {{
  const served = "@served@", name = "{WIDTH_COOKIE}", guard = "{WIDTH_COOKIE}-reloaded";
  const check = () => {{
    const want = window.innerWidth < {NARROW_PX} ? "narrow" : "wide";
    try {{
      if (want === served) {{ sessionStorage.removeItem(guard); return; }}
      if (!navigator.cookieEnabled || sessionStorage.getItem(guard) === want) return;
      document.cookie = `${{name}}=${{want}}; path=/; max-age=31536000; SameSite=Lax`;
      if (!document.cookie.split("; ").includes(`${{name}}=${{want}}`)) return;
      sessionStorage.setItem(guard, want);
      location.reload();
    }} catch (e) {{ /* storage refused: the page stays as drawn */ }}
  }};
  check();
  window.removeEventListener("resize", window.poolStandWidth || check);
  let timer = 0;
  window.poolStandWidth = () => {{ clearTimeout(timer); timer = setTimeout(check, 500); }};
  window.addEventListener("resize", window.poolStandWidth);
}})();
</script>"""


def width_probe() -> None:
    """The script that keeps `narrow()` true to the window, on every page and drawn nowhere."""
    st.html(WIDTH_CSS)
    with st.container(key=WIDTH_KEY):
        st.html(WIDTH_JS.replace("@served@", "narrow" if narrow() else "wide"), unsafe_allow_javascript=True)


PICKER_KEY = "nav-language"
"""The picker's container; its CSS class (`st-key-nav-language`) is what the style below places."""

PICKER_CSS = f"""<style>
/* The language picker sits in the navigation row, at its right end before the app menu, instead of
   taking a row of the page: Streamlit's top navigation holds no widgets, so the picker's container is
   lifted out of the page's flow into the header (3.75rem high, above the page: z-index 999990). */
[data-testid="stLayoutWrapper"]:has(> .st-key-{PICKER_KEY}), .st-key-{PICKER_KEY} {{
  position: fixed; top: 0.625rem; right: 3.25rem; z-index: 999991; width: auto; margin: 0;
}}
/* the links keep clear of it: a narrower menu folds its last links into "N more" */
[data-testid="stTopNav"] {{ margin-right: 11rem; }}
</style>"""


def language_picker() -> None:
    """The session's language, in the navigation row of every page; the URL keeps it so a link opens in it.

    Not in the sidebar: a sidebar for one control took 300 px from the taxi
    stand, which needs the width at 1280 x 720; and not in a row of its own
    above each page, which took 70 px of the first screen. The URL says the
    language on every page, also after the navigation menu or a page link
    dropped it, so an address copied from any page opens in the same language.
    """
    ss = st.session_state
    codes = list(i18n.LANGUAGES)
    st.html(PICKER_CSS)   # style only: Streamlit draws it nowhere
    with st.container(key=PICKER_KEY, horizontal=True, vertical_alignment="center", gap="small",
                      width="content"):
        st.markdown(":material/translate:", help=t("app.language_help"), width="content")
        picked = st.selectbox(t("app.language"), codes, index=codes.index(ss.lang),
                              format_func=i18n.LANGUAGES.__getitem__, key="app.language",
                              label_visibility="collapsed", width=150)
    changed = picked != ss.lang
    ss.lang = picked
    wanted = None if picked == i18n.DEFAULT else picked
    if st.query_params.get("lang") != wanted:
        if wanted is None:
            st.query_params.pop("lang", None)
        else:
            st.query_params["lang"] = wanted
    if changed:
        st.rerun()   # the pages' titles were made before the picker, in the old language


def load(preset: str) -> None:
    """Start from a preset: every control is drawn afresh from it."""
    st.session_state.scenario = load_preset(preset)
    st.session_state.preset = preset
    st.session_state.version = st.session_state.get("version", 0) + 1
    st.session_state.url_problems = []


def preset_title(name: str) -> str:
    """A preset's title in the session's language (its file name if no catalog has one)."""
    return t(f"preset.{name}.title", _default=name)


def preset_description(name: str, scenario: Scenario) -> str:
    """What the scenario shows, in the session's language while it still says what its preset says."""
    if scenario.description == load_preset(name).description:
        return t(f"preset.{name}.description", _default=scenario.description)
    return scenario.description   # written by whoever made the link: shown as written


def topic_of(name: str) -> str | None:
    return next((topic for topic, names in TOPICS.items() if name in names), None)


def preset_picker(key: str) -> None:
    """Pick a preset to start from, listed by topic; picking one redraws every control from it.

    One list, not a topic box and a preset box: a select box has no groups, so
    each entry is prefixed with its topic, and the topics follow one another.
    """
    ss = st.session_state
    known = preset_names()
    names = [n for group in TOPICS.values() for n in group if n in known]
    names += [n for n in known if n not in names]

    labels = {name: preset_title(name) if topic_of(name) is None
              else f"{t(f'topic.{topic_of(name)}')} · {preset_title(name)}" for name in names}
    # labels made now, in this run's language: a format function reading the session later may find none
    picked = st.selectbox(t("playground.preset"), names, index=names.index(ss.preset),
                          format_func=labels.__getitem__, key=f"{key}.preset.v{ss.version}")
    if picked != ss.preset:
        load(picked)
        st.rerun()


def open_scenario(preset: str, scenario: Scenario, page: str) -> None:
    """Go to `page` with this scenario (a preset with changes) as the session's."""
    load(preset)
    remember(scenario)
    st.switch_page(page)


def remember(scenario: Scenario) -> None:
    """The session's scenario is now this one; the URL says so (preset + differences)."""
    st.session_state.scenario = scenario
    write_url(scenario)


def write_url(scenario: Scenario | None = None, extra: dict[str, list[str]] | None = None) -> None:
    """The URL that reopens this page as it is; `extra`: a page's own repeated params (A against B's `b`)."""
    ss = st.session_state
    params: dict[str, str | list[str]] = {}
    if scenario is not None:
        params["preset"] = ss.get("preset", DEFAULT_PRESET)
        sets = overrides(scenario, load_preset(params["preset"]))  # type: ignore[arg-type]
        if sets:
            params["set"] = sets
    params |= {key: values for key, values in (extra or {}).items() if values}
    if ss.get("present"):
        params["present"] = "1"
        if ss.get("present_controls"):
            params["controls"] = ",".join(ss.present_controls)
    if ss.get("note"):
        params["note"] = ss.note
    if ss.get("lang", i18n.DEFAULT) != i18n.DEFAULT:
        params["lang"] = ss.lang
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    wanted = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if current != wanted:
        st.query_params.from_dict(params)
