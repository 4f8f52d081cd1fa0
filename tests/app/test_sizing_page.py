"""The sizing page in AppTest: the default answer in the library's own names with the three formulas beside
it, a bad input answered by its field's message, a simulation-only library said so, the answer opened in
the playground, and every word in each language.

The sweeps run in the page's process pool (forkserver workers) and are cached by their inputs, so the
default one is computed once for the whole module.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app import opening, sizing_runs, sizing_view
from app.i18n import DEFAULT, LANGUAGES, tr
from sim.sizing import CASES, Need, Run, recommend
from sim.sizing import DEFAULT as NEED
from tests.app.opened import en, figures, opened, unescaped
from tests.app.test_translation import english, normal, page_texts

pytestmark = pytest.mark.app

PAGE = "app/pages/sizing.py"


def page(**query: str) -> AppTest:
    return opened(PAGE, 300, **query)


def markdown(at: AppTest) -> str:
    return unescaped(" ".join(m.value for m in at.markdown))


def send(at: AppTest, _lang: str = DEFAULT, **values: Any) -> AppTest:
    """Fill the form's fields (by their key's last part) and press its button (labelled in `_lang`)."""
    for name, value in values.items():
        widget = next(w for kind in (at.number_input, at.selectbox, at.radio, at.text_input, at.checkbox)
                      for w in kind if w.key == f"sizing.{name}")
        widget.set_value(value)
    next(b for b in at.button if b.label == tr(_lang, "sizing.submit")).click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def default() -> AppTest:
    return page()


def test_the_default_answer_is_in_the_librarys_names_with_budget_and_formulas(default: AppTest) -> None:
    at = default
    result = sizing_runs.sized(NEED)
    assert result.recommended is not None
    size = result.recommended.size
    assert f"pool_size = {size}\nmax_overflow = 0" in [c.value for c in at.code]
    shown = markdown(at)
    assert en("sizing.recommend", library="SQLAlchemy QueuePool", instances="4") in shown
    assert f"4 instances \N{MULTIPLICATION SIGN} {size} = {4 * size} connections at most" in shown
    assert "100 \N{MINUS SIGN} 3 = 97" in shown
    for formula in ("Little's law", "Erlang C", "Rule of thumb"):
        assert f"**{formula}**" in shown
    assert en("sizing.rule_unknown") in shown                     # no cores given: it says how to get it
    table = at.dataframe[0].value
    assert list(table[en("sizing.col.size")]) == [str(r.size) for r in result.rows]
    assert (table[en("sizing.col.verdict")] == "✓ " + en("sizing.verdict.recommended")).sum() == 1
    assert en("sizing.col.worker_p99") not in table.columns          # no workers given
    assert figures(at)


def test_the_chart_shows_the_interval_the_target_and_the_budget() -> None:
    """Hand-made runs (no simulation): eight instances on a budget of 97 fit 12 connections each."""
    need = dataclasses.replace(NEED, instances=8, p99_wait_ms=50.0)
    runs = [Run(size, seed, 5.0, 200.0 / size + seed, 0.0, 8 * size, 0.0)
            for size in range(4, 17) for seed in (1, 2, 3)]
    figure = sizing_view.chart(recommend(need, runs)).to_dict()
    assert [d.get("fill") for d in figure["data"]][:2] == [None, "tonexty"]   # the band under the line
    lines = [s for s in figure["layout"]["shapes"] if s["type"] == "line"]
    assert any(s["y0"] == need.p99_wait_ms for s in lines)                   # the target
    assert any(s["x0"] == 12.5 for s in lines)                               # the budget's last size, 12
    assert any(d.get("name") == en("sizing.chart.recommended") for d in figure["data"])


def test_the_answer_is_cached_by_its_inputs(default: AppTest) -> None:
    started = time.perf_counter()
    page()
    assert time.perf_counter() - started < 15   # the sweep itself takes longer on two cores


def test_reserved_at_or_over_max_connections_is_answered_by_the_fields_message(default: AppTest) -> None:
    at = send(page(), reserved=100)
    errors = [unescaped(e.value) for e in at.error]
    assert errors == [en("sizing.invalid", field=en("sizing.field.reserved"),
                         message="--reserved = 100: must be from 0 to 99")]
    assert not at.dataframe and not figures(at)


def test_a_timeout_share_over_100_percent_is_refused() -> None:
    at = send(page(), timeout_share=150.0)
    message = en("sizing.share_range", value="150.00")
    assert [unescaped(e.value) for e in at.error] == [
        en("sizing.invalid", field=en("sizing.field.timeout_share"), message=message)]


def test_hold_percentiles_in_the_wrong_order_name_the_field() -> None:
    at = send(page(), hold_mode="percentiles", hold_p50=80.0, hold_p95=40.0)
    assert unescaped(at.error[0].value).startswith(en("sizing.field.hold_p95") + ": --hold-p95-ms = 40")


def test_bursts_it_cannot_read_are_named_with_the_field() -> None:
    at = send(page(), phases="5:600, soon")
    assert [unescaped(e.value) for e in at.error] == [en(
        "sizing.invalid", field=en("sizing.field.phases"), message=en("sizing.phases_unread", piece="soon"))]


def test_a_prepared_case_fills_the_form_and_is_answered_in_its_librarys_names() -> None:
    at = page()
    at.button(key="sizing.case.asyncpg-bursts").click().run()
    assert not at.exception, at.exception
    case = CASES["asyncpg-bursts"]
    assert at.text_input(key="sizing.phases").value == "5:600, 10:150"
    assert at.radio(key="sizing.hold_mode").value == "percentiles"
    assert at.session_state["sizing.need"] == case
    codes = [c.value for c in at.code]
    assert any(re.fullmatch(r"min_size = (\d+)\nmax_size = \1", c) for c in codes), codes
    send(at)                                        # the form as filled sends the same need: cached
    assert at.session_state["sizing.need"] == case


def test_a_simulation_only_library_is_named_in_its_own_settings_and_not_offered_live() -> None:
    at = send(page(), kind="hikari", instances=1, rate=200.0, hold_ms=10.0)
    codes = [c.value for c in at.code]
    assert any(c.startswith("maximumPoolSize = ") for c in codes), codes
    assert en("sizing.live_simulation_only", library="HikariCP") in [c.value for c in at.caption]
    assert not [b for b in at.button if b.key == "sizing.prove"]


def test_open_puts_the_recommended_size_in_the_session_and_opens_the_playground(default: AppTest) -> None:
    at = page()
    size = sizing_runs.sized(NEED).recommended.size   # type: ignore[union-attr]
    at.button(key="sizing.open").click().run()
    assert not at.exception, at.exception
    scenario = at.session_state.scenario
    pool = scenario.pool
    assert (pool.kind, pool.pool_size, pool.max_overflow) == ("sqlalchemy", size, 0)
    assert (scenario.app.instances, scenario.workload.rate_per_s) == (4, 2000.0)
    assert scenario.database.max_connections == 100 and scenario.duration_s >= 10
    assert any(m.label == "Completed" for m in at.metric)      # the playground ran it


@pytest.mark.parametrize("kind", ["sqlalchemy", "asyncpg", "hikari", "go"])
def test_each_librarys_recommended_size_has_a_link_that_reopens_it(kind: str) -> None:
    """Against asyncpg's defaults (max_size 10) a link saying min_size=14 first could not be read back."""
    scenario = sizing_runs.playground_scenario(dataclasses.replace(NEED, kind=kind), 14, "recommended")
    assert opening.reopens(scenario, opening.link_preset(scenario))


def test_workers_start_without_the_running_page_as_their_main_module() -> None:
    """Streamlit runs a page as `__main__`; a worker started then would run the whole app again."""
    from multiprocessing import spawn

    with sizing_runs._bare_main():
        data = spawn.get_preparation_data("sizing-worker")
    assert "init_main_from_path" not in data and "init_main_from_name" not in data


def test_asyncpg_and_sqlalchemy_may_be_proven_live(default: AppTest) -> None:
    assert [b for b in default.button if b.key == "sizing.prove"]
    assert sizing_runs.proof_sizes(14) == [13, 14, 15] and sizing_runs.proof_sizes(1) == [1, 2, 3]


@pytest.mark.live
def test_the_proof_runs_three_sizes_in_turn_on_postgresql_beside_the_model(default: AppTest) -> None:
    """AppTest runs the polling fragment at each `run()`: a visitor's polls, one after another."""
    at = page()
    at.button(key="sizing.prove").click().run()
    sizes = sizing_runs.proof_sizes(sizing_runs.sized(NEED).recommended.size)   # type: ignore[union-attr]
    deadline = time.monotonic() + 180
    while not at.session_state["sizing.live"].finished and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
        series = at.session_state["sizing.live"]
        assert sum(not run.snapshot().finished for run in series.sessions) <= 1   # never two at once
    at.run()
    series = at.session_state["sizing.live"]
    assert series.finished and not series.error
    assert [s.scenario.pool.pool_size for s in series.sessions] == sizes           # in turn, never at once
    proof = at.dataframe[0].value
    assert list(proof[en("sizing.col.size")].str.rstrip(" ✓")) == [str(s) for s in sizes]
    for column in ("p99_live", "timed_out_live", "refused_live"):
        assert "\N{EN DASH}" not in list(proof[en(f"sizing.proof.{column}")]), column
    assert list(proof[en("sizing.proof.refused_live")]) == ["0", "0", "0"]    # all within the budget


POOLED = {"kind": "sqlalchemy", "instances": 40, "workers": 0, "rate": 1000.0, "hold_mode": "mean",
          "hold_ms": 10.0, "max_connections": 100, "through": True}
"""The form through PgBouncer: 40 instances whose own pools could not fit max_connections 100."""
POOLED_NEED = Need(kind="sqlalchemy", instances=40, rate_per_s=1000.0, hold_ms=10.0, max_connections=100,
                   through="pgbouncer")


@pytest.fixture(scope="module")
def pooled() -> AppTest:
    at = send(page(), **POOLED)
    assert at.session_state["sizing.need"] == POOLED_NEED
    return at


def test_through_pgbouncer_the_answer_names_both_tiers_and_both_budgets(pooled: AppTest) -> None:
    at, need = pooled, POOLED_NEED
    result = sizing_runs.sized(need)
    assert result.recommended is not None
    size = result.recommended.size
    assert size <= need.budget < need.instances * 3              # 3 a pool each would be over the budget
    codes = [c.value for c in at.code]
    assert f"pool_size = {need.app_pool}\nmax_overflow = 0" in codes
    assert (f"[pgbouncer]\npool_mode = transaction\ndefault_pool_size = {size}\n"
            f"max_client_conn = {40 * need.app_pool}") in codes
    shown = markdown(at)
    assert en("sizing.recommend_pooled", library="SQLAlchemy QueuePool", instances="40") in shown
    assert en("sizing.recommend_pgbouncer") in shown
    assert f"default_pool_size = {size} server connections at most" in shown
    assert "100 \N{MINUS SIGN} 3 = 97" in shown
    assert (f"40 instances \N{MULTIPLICATION SIGN} {need.app_pool} = {40 * need.app_pool} client connections "
            f"at most, within max_client_conn = {40 * need.app_pool}") in shown
    assert en("sizing.little_pooled", value=f"{result.little:.1f}") in shown    # over the server connections
    table = at.dataframe[0].value
    assert en("sizing.col.size") not in table.columns
    assert list(table[en("sizing.col.size_pooled")]) == [str(r.size) for r in result.rows]
    assert (table[en("sizing.col.verdict")] == "✓ " + en("sizing.verdict.recommended")).sum() == 1
    figure = sizing_view.chart(result).to_dict()    # the chart drawn in the page's language (English here)
    assert figure["layout"]["xaxis"]["title"]["text"] == en("sizing.chart.size_axis_pooled")
    assert figure["layout"]["yaxis"]["title"]["text"] == en("sizing.chart.wait_axis_pooled")
    assert at.checkbox(key="sizing.through").value


def test_through_pgbouncer_open_carries_the_pooler_into_the_playground(pooled: AppTest) -> None:
    at = send(page(), **POOLED)
    size = sizing_runs.sized(POOLED_NEED).recommended.size   # type: ignore[union-attr]
    at.button(key="sizing.open").click().run()
    assert not at.exception, at.exception
    scenario = at.session_state.scenario
    assert scenario.pooler.kind == "pgbouncer" and scenario.pooler.pool_mode == "transaction"
    assert scenario.pooler.default_pool_size == size
    assert scenario.pooler.max_client_conn == 40 * POOLED_NEED.app_pool
    assert (scenario.pool.pool_size, scenario.app.instances) == (POOLED_NEED.app_pool, 40)
    assert opening.reopens(scenario, opening.link_preset(scenario))


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != DEFAULT])
def test_through_pgbouncer_the_page_speaks_each_language(lang: str, pooled: AppTest) -> None:
    forbidden = english(lang)
    shown = normal(" \n ".join(page_texts(send(page(lang=lang), lang, **POOLED))))
    assert [f"{where}: {s}" for s, where in forbidden.items() if s in shown] == []


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != DEFAULT])
def test_the_page_speaks_each_language(lang: str, default: AppTest) -> None:
    forbidden = english(lang)
    shown = normal(" \n ".join(page_texts(page(lang=lang))))
    assert [f"{where}: {s}" for s, where in forbidden.items() if s in shown] == []
