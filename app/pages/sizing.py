"""Sizing: the engineer's traffic simulated over a range of pool sizes, a recommendation, and the formulas.

The answer is `sim.sizing`'s: every size in the sweep run on several seeds in
the server's worker processes (`app.sizing_runs`), cached by the inputs. The
inputs are a form, so a sweep starts when they are sent, not at each keystroke.
Beside the answer, the formulas people use, each with why it differs; below,
the sweep's chart and table, and a live proof of the recommended size and its
neighbours on real PostgreSQL (asyncpg and SQLAlchemy: the others have no
Python implementation). With "Through PgBouncer" the size swept is PgBouncer's
default_pool_size (`sim.sizing`), the answer is in both tiers' names, and the
live proof runs a PgBouncer too.
"""

import os

import streamlit as st

from app import live_series, opening, sizing_runs, sizing_view
from app.figure import STILL, draw
from app.runs import simulate_scenario
from app.ui import num, pct, plain, t
from live.runner import check
from live.server import LiveError, external
from sim.metrics import Metrics, summarize
from sim.pools import POOL_KINDS
from sim.scenario import ScenarioError
from sim.sizing import CASES, DEFAULT, Need, Row, Sizing

ss = st.session_state
LIVE = "sizing.live"
DATABASE_URL = os.environ.get("DATABASE_URL") or None
KINDS = [k for k in POOL_KINDS if k != "none"]
LIBRARIES = {k: POOL_KINDS[k].library for k in KINDS}
ROW_PX = 35   # a dataframe row's height: the sweep's table is as tall as its rows, never scrolled
# `Need.check()`'s names for its fields (the command line's flags) -> the page's label keys
FLAGS = {"kind": "kind", "instances": "instances", "workers": "workers", "rate": "rate",
         "hold-ms": "hold_ms", "hold-p50-ms": "hold_p50", "hold-p95-ms": "hold_p95",
         "max-connections": "max_connections", "reserved": "reserved", "cores": "cores",
         "p99-wait-ms": "p99_wait", "seeds": "seeds", "sizes": "sizes", "phase": "phases",
         "through": "through"}


def fill(need: Need) -> None:
    """Put a need's values in the form's fields (the form keeps its own otherwise)."""
    ss["sizing.kind"], ss["sizing.instances"], ss["sizing.workers"] = need.kind, need.instances, need.workers
    ss["sizing.rate"], ss["sizing.phases"] = need.rate_per_s, sizing_runs.phases_text(need.phases)
    ss["sizing.hold_mode"] = "mean" if need.hold_p50_ms is None else "percentiles"
    ss["sizing.hold_ms"] = need.hold_ms if need.hold_ms is not None else ss.get("sizing.hold_ms", 20.0)
    ss["sizing.hold_p50"] = need.hold_p50_ms or ss.get("sizing.hold_p50", 10.0)
    ss["sizing.hold_p95"] = need.hold_p95_ms or ss.get("sizing.hold_p95", 60.0)
    ss["sizing.max_connections"], ss["sizing.reserved"] = need.max_connections, need.reserved
    ss["sizing.cores"], ss["sizing.p99_wait"] = need.cores, need.p99_wait_ms
    ss["sizing.timeout_share"] = need.timeout_share * 100
    ss["sizing.through"] = need.pooled


def use_case(name: str) -> None:
    fill(CASES[name])
    ss["sizing.need"] = CASES[name]


def cases() -> None:
    """The prepared cases (`sim.sizing.CASES`): one click fills the form and answers it."""
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.caption(t("sizing.cases"), width="content")
    for name in CASES:
        row.button(t(f"sizing.case.{name}"), key=f"sizing.case.{name}", on_click=use_case, args=(name,),
                   help=t(f"sizing.case_help.{name}"), width="content")


def inputs() -> Need | str | None:
    """The form, two fields a row (beside the answer on a wide window): the need it sends, the message
    of a field it could not read, or None until it is sent."""
    if "sizing.kind" not in ss:
        fill(DEFAULT)
    with st.container(key="sizing-form"), st.form("sizing.form"):
        rows = [st.columns(2) for _ in range(3)]
        kind = rows[0][0].selectbox(t("sizing.field.kind"), KINDS, format_func=LIBRARIES.__getitem__,
                                    key="sizing.kind")
        instances = rows[0][1].number_input(t("sizing.field.instances"), step=1,
                                            help=t("sizing.help.instances"), key="sizing.instances")
        workers = rows[1][0].number_input(t("sizing.field.workers"), step=1, help=t("sizing.help.workers"),
                                          key="sizing.workers")
        rate = rows[1][1].number_input(t("sizing.field.rate"), step=100.0, format="%g",
                                       help=t("sizing.help.rate"), key="sizing.rate")
        bursts = rows[2][0].text_input(t("sizing.field.phases"), placeholder="5:600, 10:150", max_chars=200,
                                       help=t("sizing.help.phases"), key="sizing.phases")
        modes = {m: t(f"sizing.hold.{m}") for m in ("mean", "percentiles")}   # made now, in this language
        mode = rows[2][1].radio(t("sizing.field.hold_mode"), list(modes), horizontal=True,
                                format_func=modes.__getitem__, key="sizing.hold_mode",
                                help=t("sizing.help.hold_mode"))
        holds = st.columns(3)
        hold = holds[0].number_input(t("sizing.field.hold_ms"), step=1.0, format="%g", key="sizing.hold_ms")
        p50 = holds[1].number_input(t("sizing.field.hold_p50"), step=1.0, format="%g", key="sizing.hold_p50")
        p95 = holds[2].number_input(t("sizing.field.hold_p95"), step=1.0, format="%g", key="sizing.hold_p95")
        through = st.checkbox(t("sizing.field.through"), help=t("sizing.help.through"), key="sizing.through")
        rows = [st.columns(2) for _ in range(3)]
        max_connections = rows[0][0].number_input(t("sizing.field.max_connections"), step=1,
                                                  key="sizing.max_connections")
        reserved = rows[0][1].number_input(t("sizing.field.reserved"), step=1, help=t("sizing.help.reserved"),
                                           key="sizing.reserved")
        cores = rows[1][0].number_input(t("sizing.field.cores"), step=1, help=t("sizing.help.cores"),
                                        key="sizing.cores")
        p99 = rows[1][1].number_input(t("sizing.field.p99_wait"), step=1.0, format="%g",
                                      key="sizing.p99_wait")
        share = rows[2][0].number_input(t("sizing.field.timeout_share"), step=0.1, format="%g",
                                        help=t("sizing.help.timeout_share"), key="sizing.timeout_share")
        with rows[2][1]:
            st.space("small")   # the button level with the field beside it
            sent = st.form_submit_button(t("sizing.submit"), type="primary", icon=":material/calculate:",
                                         width="stretch")
    if not sent:
        return None
    try:
        phases = sizing_runs.read_phases(bursts)
    except ValueError as e:
        return t("sizing.invalid", field=t("sizing.field.phases"),
                 message=t("sizing.phases_unread", piece=plain(e.args[0])))
    percentiles = mode == "percentiles"
    return Need(kind=kind, instances=int(instances or 0), workers=int(workers or 0),
                rate_per_s=float(rate or 0), phases=phases, hold_ms=None if percentiles else float(hold or 0),
                hold_p50_ms=float(p50 or 0) if percentiles else None,
                hold_p95_ms=float(p95 or 0) if percentiles else None,
                max_connections=int(max_connections or 0), reserved=int(reserved or 0), cores=int(cores or 0),
                p99_wait_ms=float(p99 or 0), timeout_share=float(share or 0) / 100,
                through="pgbouncer" if through else "none")


def invalid(need: Need) -> str | None:
    """What is wrong with the inputs, naming the field as the form does; None when nothing is."""
    if not 0 <= need.timeout_share <= 1:   # the form asks in percent, the command line in a share
        return t("sizing.invalid", field=t("sizing.field.timeout_share"),
                 message=t("sizing.share_range", value=num(need.timeout_share * 100, 2)))
    try:
        need.check()
    except ScenarioError as e:
        message = str(e)
        flag = message.removeprefix("--").split(" ", 1)[0]
        label = t(f"sizing.field.{FLAGS[flag]}") if flag in FLAGS else ""
        return t("sizing.invalid", field=label, message=plain(message)) if label else plain(message)
    return None


def budget_sentence(sizing: Sizing, size: int) -> str:
    """The server's budget in words: every instance's pool at its maximum, or PgBouncer's server
    connections (`size` is then its default_pool_size)."""
    need = sizing.need
    total = sizing.total(size)
    values = {"instances": num(need.instances, 0), "size": num(size, 0), "total": num(total, 0),
              "max_connections": num(need.max_connections, 0), "reserved": num(need.reserved, 0),
              "budget": num(need.budget, 0), "room": num(abs(need.budget - total), 0)}
    fits = "fits" if total <= need.budget else "over"
    return t(f"sizing.budget_server_{fits}" if need.pooled else f"sizing.budget_{fits}", **values)


def clients_sentence(need: Need) -> str:
    """PgBouncer's own budget: every instance's pool, full, within max_client_conn."""
    return t("sizing.budget_clients", instances=num(need.instances, 0), pool=num(need.app_pool, 0),
             total=num(need.clients, 0), max_client_conn=num(need.max_client_conn, 0))


def answer(sizing: Sizing) -> None:
    """The recommended settings in the library's names (and PgBouncer's, through it), the budget check in
    words, or why there is none."""
    need, best = sizing.need, sizing.recommended
    library = POOL_KINDS[need.kind].library
    if best is not None:
        st.markdown(t("sizing.recommend_pooled" if need.pooled else "sizing.recommend", library=library,
                      instances=num(need.instances, 0)))
        st.code(sizing_view.settings_text(sizing.settings), language=None)
        if need.pooled:
            st.markdown(t("sizing.recommend_pgbouncer"))
            st.code("[pgbouncer]\n" + sizing_view.settings_text(sizing.pgbouncer), language="ini")
        p99 = best.p99_wait_ms
        st.markdown(t("sizing.at_this_size_pooled" if need.pooled else "sizing.at_this_size",
                      p99=sizing_view.ms(p99.mean), low=sizing_view.ms(p99.low),
                      high=sizing_view.ms(p99.high), target=num(need.p99_wait_ms, 1),
                      timed_out=pct(best.timed_out.mean, 2)))
        if need.workers and best.worker_p99_ms.mean > need.p99_wait_ms:
            st.markdown(t("sizing.worker_wait", wait=sizing_view.ms(best.worker_p99_ms.mean),
                          workers=num(need.workers, 0)))
        st.markdown(budget_sentence(sizing, best.size))
        if need.pooled:
            st.markdown(clients_sentence(need))
        return
    pooled = "_pooled" if need.pooled else ""
    meeting = next((r for r in sizing.rows if r.meets), None)
    if meeting is not None:
        st.warning(t(f"sizing.none_in_budget{pooled}", size=num(meeting.size, 0)), icon=":material/block:")
        st.markdown(budget_sentence(sizing, meeting.size))
    else:
        st.warning(t(f"sizing.none_meets{pooled}", size=num(sizing.rows[-1].size, 0)),
                   icon=":material/block:")


def formulas(sizing: Sizing) -> None:
    """Little's law, Erlang C and the rule of thumb, each with why it is not the simulated answer; through
    PgBouncer over its server connections, which all the instances' requests share."""
    need = sizing.need
    pooled = "_pooled" if need.pooled else ""
    meeting = sizing.recommended or next((r for r in sizing.rows if r.meets), None)   # in budget or not
    simulated = meeting.size if meeting is not None else None
    st.markdown(t(f"sizing.little{pooled}", value=num(sizing.little, 1)) + " " + t("sizing.little_why"))
    if sizing.erlang_c is None:
        limit = need.budget if need.pooled else max(need.budget // need.instances, 1)
        st.markdown(t(f"sizing.erlang_none{pooled}", limit=num(limit, 0)))
    else:
        how = sizing_view.compared(sizing.erlang_c, simulated)
        st.markdown(t(f"sizing.erlang{pooled}", value=num(sizing.erlang_c, 0)) + " "
                    + t(f"sizing.erlang_{how}", size=num(simulated or 0, 0)))
    if sizing.rule_of_thumb is None:
        st.markdown(t("sizing.rule_unknown"))
    else:
        how = sizing_view.compared(sizing.rule_of_thumb, simulated)
        why = f"sizing.rule_{how}" + ("_pooled" if need.pooled and how == "fewer" else "")
        st.markdown(t(f"sizing.rule{pooled}", cores=num(need.cores, 0), instances=num(need.instances, 0),
                      value=num(sizing.rule_of_thumb, 1)) + " " + t(why, size=num(simulated or 0, 0)))


def open_in_playground(need: Need, size: int) -> None:
    """The recommended size as the playground's scenario; through PgBouncer, with its [pooler] table."""
    description = t("sizing.scenario_description_pooled" if need.pooled else "sizing.scenario_description",
                    size=num(size, 0), instances=num(need.instances, 0),
                    pool=num(need.app_pool if need.pooled else size, 0))
    opening.open_in_playground(sizing_runs.playground_scenario(need, size, description))


def live_refusal(need: Need, sizes: list[int]) -> str | None:
    """Why the proof cannot run here (a simulation-only library, the live lab's limits); None if it can."""
    if POOL_KINDS[need.kind].simulation_only:
        return t("sizing.live_simulation_only", library=POOL_KINDS[need.kind].library)
    try:
        target = external(DATABASE_URL) if DATABASE_URL else None
        for size in sizes:
            check(sizing_runs.proof_scenario(need, size), target)
    except LiveError as e:
        return plain(e)
    return None


def model_run(need: Need, size: int) -> tuple[float | None, Metrics]:
    """The model's run of exactly what the live proof runs for this size (its scenario, its seed):
    its p99 wait as the sweep counts it, and its metrics."""
    scenario = sizing_runs.proof_scenario(need, size)
    trace, _, metrics = simulate_scenario(scenario)
    return sizing_runs.run_p99_ms(trace, scenario), metrics


def proof_table(sizing: Sizing, sizes: list[int], series: live_series.Series) -> list[dict[str, str]]:
    """Per size: p99 wait, timeouts and 53300 refusals, the model's beside the live run's."""
    rows: dict[int, Row] = {r.size: r for r in sizing.rows}
    out = []
    for size, result in zip(sizes, series.results(), strict=True):
        model_p99, model = model_run(sizing.need, size)
        row = rows.get(size)
        live = summarize(result.trace, result.scenario, result.end_s) if result is not None else None
        live_p99 = None if result is None else sizing_runs.run_p99_ms(result.trace, result.scenario)

        def share(m: Metrics | None) -> str:
            return "–" if m is None else pct(m["timed_out"] / max(m["requests"], 1), 2)

        mark = " ✓" if sizing.recommended is not None and size == sizing.recommended.size else ""
        out.append({
            t("sizing.col.size"): num(size, 0) + mark,
            t("sizing.proof.p99_model"): sizing_view.interval(row.p99_wait_ms) if row else num(model_p99, 1),
            t("sizing.proof.p99_live"): num(live_p99, 1),
            t("sizing.proof.timed_out_model"): pct(row.timed_out.mean, 2) if row else share(model),
            t("sizing.proof.timed_out_live"): share(live),
            t("sizing.proof.refused_model"): num(model["errors"]["too_many_clients"], 0),
            t("sizing.proof.refused_live"): "–" if live is None
            else num(live["errors"]["too_many_clients"], 0),
        })
    return out


def prove_button(sizing: Sizing) -> None:
    """Beside "open": the button that runs the proof, or the one line that says why it cannot run here."""
    need, best = sizing.need, sizing.recommended
    if best is None:
        st.caption(t("sizing.proof.no_size"))
        return
    sizes = sizing_runs.proof_sizes(best.size)
    refusal = live_refusal(need, sizes)
    if refusal is not None:
        st.caption(refusal)
        return
    series = live_series.series_of(LIVE)
    running = series is not None and not series.finished
    if st.button(t("sizing.proof.run"), key="sizing.prove", icon=":material/database:", disabled=running,
                 help=t("sizing.proof.intro", sizes=", ".join(num(s, 0) for s in sizes))):
        ss[f"{LIVE}.need"] = need
        live_series.start(LIVE, [sizing_runs.proof_scenario(need, s) for s in sizes], DATABASE_URL)


def proof(sizing: Sizing) -> None:
    """The live proof of this answer, once started: its progress, then the three runs beside the model."""
    series = live_series.series_of(LIVE)
    if series is None or ss.get(f"{LIVE}.need") != sizing.need or sizing.recommended is None:
        return
    sizes = sizing_runs.proof_sizes(sizing.recommended.size)
    st.subheader(t("sizing.proof.title"))
    st.caption(t("sizing.proof.intro", sizes=", ".join(num(s, 0) for s in sizes)))
    live_series.follow(LIVE, [t("sizing.proof.size", size=num(s, 0)) for s in sizes])
    if not series.finished:
        return
    for problem in live_series.problems(series):
        st.error(problem)
    if series.stopped:
        st.warning(t("sizing.proof.stopped"))
    st.dataframe(proof_table(sizing, sizes, series), hide_index=True, width="stretch")
    st.caption(t("sizing.proof.reading"))


# Streamlit's 6 rem above the page would push the answer below a 720 px screen; a phone gets the form's
# fields two a row (Streamlit stacks columns under 640 px), not one
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 4.25rem; }
@media (max-width: 699.98px) {
  .st-key-sizing-form [data-testid="stHorizontalBlock"] {
    display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));
  }
  .st-key-sizing-form button p { white-space: normal; }
}
</style>"""

st.html(PAGE_CSS)
st.title(t("sizing.title"))
st.caption(t("sizing.intro"))
cases()
form, right = st.columns([5, 6], gap="large")
with form:
    sent = inputs()
if isinstance(sent, Need):
    ss["sizing.need"] = sent
need: Need = ss.get("sizing.need", DEFAULT)
with right:
    problem = sent if isinstance(sent, str) else invalid(need)
    if problem is not None:
        st.error(problem, icon=":material/error:")
        st.stop()
    result = sizing_runs.sized(need)
    st.subheader(t("sizing.answer"))
    answer(result)
    to_playground, to_server = st.columns(2)
    with to_playground:
        if result.recommended is not None and st.button(t("sizing.open"), key="sizing.open", type="primary",
                                                        icon=":material/tune:", help=t("sizing.open_help")):
            open_in_playground(need, result.recommended.size)
    with to_server:
        prove_button(result)
    st.subheader(t("sizing.formulas"))
    formulas(result)

proof(result)
st.subheader(t("sizing.sweep"))
st.caption(t("sizing.sweep_help_pooled", seeds=num(need.seeds, 0), pool=num(need.app_pool, 0)) if need.pooled
           else t("sizing.sweep_help", seeds=num(need.seeds, 0)))
draw(sizing_view.chart(result), "sizing.chart", STILL)
sweep = sizing_view.table(result)
st.dataframe(sweep, hide_index=True, width="stretch", height=ROW_PX * (len(sweep) + 1) + 3)
