"""A against B: two configurations of one scenario, run on the same seed and drawn as one animation.

Side A is the session's scenario, the one the playground shows and edits;
side B is A with the settings changed here, held as those changes
(`app.sides`), so B follows A and only the changes differ. The first screen
(1280 x 720) holds B's few controls above the two stands, which are one
figure (`app.pair`): one Play and one slider move both, in the browser. The
numbers of both runs follow in one table. A link reopens both sides: A by
`preset` and `set`, B by `b=path=value`, once per change.
"""

from typing import Any

import streamlit as st

from app import frame, pair, sides
from app.controls import field_controls, key_fields, shown_value
from app.figure import STILL, draw
from app.numbers_table import pair_table
from app.runs import Run, refuse, simulate_scenario, spinner
from app.state import flatten, overrides
from app.ui import lang, plain, t
from sim.budget import TooMuchWork
from sim.scenario import App, Database, Hold, Scenario, Workload, specs

ss = st.session_state

B = "race.b"                 # B's changes from A: key=value assignments, as the link's `b` carries them
FIELDS = "race.fields"       # the settings of B drawn as controls above the stands
VERSION = "race.version"     # a new one whenever B is set from outside its controls: they redraw from it
PROBLEMS = "race.problems"   # what the link's `b` had that was left out
SHOWN = 3                    # B's controls above the stands: more would not leave the stands their width
MOST = 4                     # ... however many the teacher picks
EXAMPLE_PRESET = "burst-into-overflow"                      # pool_size 10, max_overflow 10
EXAMPLE_B = ["pool.pool_size=20", "pool.max_overflow=0"]     # against a pool of 20 and no overflow

# The first screen has no room for Streamlit's 6 rem of padding above the page and 5 rem beside it
# (as the playground's): the stands get the width `pair.PAGE_PLOT_PX` sizes them for.
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 4.25rem; padding-left: 2rem; padding-right: 2rem; }
.st-key-race-side-b p { font-size: 2rem; font-weight: 700; line-height: 1; }
</style>"""


def start() -> None:
    """B's changes from the link, once per session; then the session holds them (and writes them back)."""
    if B in ss:
        return
    _, kept, problems = sides.changed(ss.scenario, st.query_params.get_all("b"), t("race.same_seed"))
    set_b(kept, problems)


def set_b(changes: list[str], problems: list[str] | None = None, fields: list[str] | None = None) -> None:
    """B is A with these changes from now on; its controls redraw from them."""
    ss[B] = changes
    ss[PROBLEMS] = problems or []
    ss[FIELDS] = fields
    ss[VERSION] = ss.get(VERSION, 0) + 1


def settings_of(scenario: Scenario) -> list[str]:
    """Every setting B may change from its controls: numbers, switches and choices, never the seed."""
    sections: list[tuple[str, type]] = [("", Scenario), ("workload", Workload), ("workload.hold", Hold),
                                        ("database", Database), ("app", App), ("pool", type(scenario.pool))]
    return [f"{prefix}.{name}".lstrip(".") for prefix, cls in sections for name, spec in specs(cls).items()
            if name != "seed" and (spec.type is not str or spec.choices)]


def fields_of(a: Scenario, b: Scenario) -> list[str]:
    """The controls above the stands: the teacher's pick, else what B changes, then the pool's first few.

    Chosen once and then kept in their places: a control that moved while it is
    being dragged (B now differs in it, so it would come first) would be lost.
    """
    mine = settings_of(b)
    kept = [p for p in ss.get(FIELDS) or [] if p in mine]
    if not kept:   # first drawn, or none of them is B's any more (A's pool is another library's now)
        kept = [p for p in dict.fromkeys([*sides.differences(a, b), *key_fields(b, "pool", SHOWN)])
                if p in mine][:SHOWN]
        ss[FIELDS] = kept
    return kept[:MOST]


def tools(a: Scenario, b: Scenario, fields: list[str]) -> None:
    """The example in one click; a popover to pick B's controls, make B a copy of A, or edit A."""
    if st.button(t("race.example"), icon=":material/play_lesson:", help=t("race.example_help"),
                 key="race.example", width="stretch"):
        frame.load(EXAMPLE_PRESET)
        set_b(list(EXAMPLE_B))
        st.rerun()
    with st.popover(t("race.settings"), icon=":material/tune:", width="stretch"):
        options = settings_of(b)
        picked = st.multiselect(t("race.fields"), options, default=[f for f in fields if f in options],
                                max_selections=MOST, key=f"race.fields.v{ss[VERSION]}")
        if picked != fields:
            ss[FIELDS] = picked
            st.rerun()
        if st.button(t("race.reset"), icon=":material/content_copy:", key="race.reset", disabled=a == b):
            set_b([])
            st.rerun()
        st.page_link("app/pages/playground.py", label=t("race.edit_a"), icon=":material/tune:")


def side_b(a: Scenario) -> Scenario:
    """B as the link or the last change left it, then as its controls above the stands say."""
    b, kept, problems = sides.changed(a, ss[B], t("race.same_seed"))
    ss[PROBLEMS] = [*ss[PROBLEMS], *(p for p in problems if p not in ss[PROBLEMS])]  # A changed under B
    ss[B] = kept
    if ss[PROBLEMS]:   # one box, one line each: a hand-typed link may have several
        st.warning("  \n".join([t("race.b_problem"), *(f"• {plain(p)}" for p in ss[PROBLEMS])]))
    fields = fields_of(a, b)
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        with st.container(key="race-side-b", width="content"):   # the side these controls change
            st.markdown("B", help=t("race.side_b_help"))
        with st.container(width="stretch"):
            changed, _ = (field_controls(b, f"race.b.v{ss[VERSION]}", t, tuple(fields)) if fields
                          else (b, None))   # an invalid value is said under its control; B stays as it was
        with st.container(width=300):
            tools(a, b, fields)
    if changed is not None and changed != b:
        ss[B] = overrides(changed, a)
        ss[PROBLEMS] = []
        b = changed
    return b


def run(scenario: Scenario, side: str) -> Run | None:
    """One side's run, or its refusal (beyond what a page may ask of the server) said under its name."""
    try:
        with spinner(scenario):
            return simulate_scenario(scenario)
    except TooMuchWork as e:
        st.markdown(f"**{side}**")
        refuse(e, scenario, key=f"race.{side}")
        return None


def panel_titles(a: Scenario, b: Scenario) -> tuple[str, str]:
    """"A: pool_size 10 · max_overflow 10" and "B: pool_size 20 · max_overflow 0", or B said to be a copy."""
    both = sides.titles(a, b, shown_value, more=lambda n: t("race.more", n=n))
    if both is None:
        return t("race.original"), t("race.copy")
    return f"A: {both[0]}", f"B: {both[1]}"


def changes_line(a: Scenario, b: Scenario) -> str:
    """Every setting B changes, with both values: the panels' titles name the first few only."""
    flat_a, flat_b = flatten(a.to_dict()), flatten(b.to_dict())

    def value(flat: dict[str, Any], path: str) -> str:
        return shown_value(flat[path]) if path in flat else "–"

    return ", ".join(f"{path} {value(flat_a, path)} → {value(flat_b, path)}" if path not in sides.LISTS
                     else path for path in sides.differences(a, b))


def race() -> None:
    st.html(PAGE_CSS)
    for problem in ss.get("url_problems", []):
        st.warning(t("playground.url_problem", problem=plain(problem)))
    start()
    a = ss.scenario
    b = side_b(a)
    frame.write_url(a, {"b": ss[B]})
    ran_a, ran_b = run(a, "A"), run(b, "B")
    if ran_a is None or ran_b is None:
        st.stop()
        return
    (trace_a, end_a, metrics_a), (trace_b, end_b, metrics_b) = ran_a, ran_b
    end_s = max(pair.run_end(trace_a, end_a), pair.run_end(trace_b, end_b))
    keys = a.to_toml(), b.to_toml()
    figure = pair.pair_figure(keys, lang(), ((keys[0], trace_a, a), (keys[1], trace_b, b)), end_s,
                              panel_titles(a, b))
    draw(figure, "race.pair", STILL)

    st.title(t("race.title"))
    st.caption(t("race.intro"))
    line = changes_line(a, b)
    st.markdown(t("race.changes", changes=plain(line)) if line else t("race.no_changes"))
    pair_table(metrics_a, metrics_b, "race")


race()
