"""The registry of figures: every figure a run reports is named there once, and reads as a number."""

from __future__ import annotations

from typing import Any

import pytest

from app.i18n import LANGUAGES, LOCALES_DIR, catalog
from sim.measures import MEASURES, group, measure, names
from sim.metrics import summarize_run
from sim.model import run
from sim.scenario import load_preset

NOT_FIGURES = {"scenario", "pool", "messages", "sim_seconds", "theory.model", "theory.servers", "pooler.kind"}
"""Parts of the metrics object that are not figures a page compares: names, texts, the run's cost."""


def leaves(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        return set().union(*(leaves(v, f"{prefix}{k}.") for k, v in node.items()))
    return {prefix[:-1]}


@pytest.fixture(scope="module")
def metrics() -> Any:
    return summarize_run(run(load_preset("erlang-c-check").with_overrides({"duration_s": 5})))


@pytest.fixture(scope="module")
def through_pooler() -> Any:
    """A run through PgBouncer: the figures only a pooler has (the theory has none for it)."""
    return summarize_run(run(load_preset("pgbouncer-transaction").with_overrides({"duration_s": 2})))


def test_every_figure_of_a_run_is_in_the_registry_and_every_registered_one_is_in_a_run(
        metrics: Any, through_pooler: Any) -> None:
    reported = {p for p in leaves(metrics) | leaves(through_pooler)
                if p not in NOT_FIGURES and not p.startswith("connect_failures")}
    registered = {p for p in MEASURES if not p.endswith(".all")}
    assert reported == registered
    assert "pooler" not in metrics   # a run without a pooler reports none of its figures


def test_every_figure_reads_as_a_number(metrics: Any, through_pooler: Any) -> None:
    for path, figure in MEASURES.items():
        value = figure.read(through_pooler if path.startswith("pooler.") else metrics)
        assert isinstance(value, int | float) and not isinstance(value, bool), path


def test_a_tables_total_is_the_sum_of_its_rows() -> None:
    metrics = summarize_run(run(load_preset("restart")))
    assert metrics["errors"]["refused"] > 0 and metrics["errors"]["broken"] > 0
    assert measure("errors.all").read(metrics) == sum(metrics["errors"][k] for k in names("errors"))
    assert "errors.all" not in [m.path for m in group("errors")]


def test_a_figure_the_run_does_not_have_reads_as_none() -> None:
    metrics = summarize_run(run(load_preset("restart")))   # a pool Erlang C does not describe
    assert "theory" not in metrics and measure("theory.p_wait").read(metrics) is None


def test_an_unknown_figure_is_refused_with_the_list_of_known_ones() -> None:
    with pytest.raises(KeyError, match=r"no figure 'wait_ms\.p90'.*wait_ms\.p95"):
        measure("wait_ms.p90")


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != "en"])
def test_every_figure_has_a_name_in_every_language(lang: str) -> None:
    missing = [p for p in MEASURES if f"metric.{p}" not in catalog(lang)]
    assert not missing, missing


def test_english_names_come_from_the_registry_alone() -> None:
    assert catalog("en")["metric.wait_ms.p95"] == MEASURES["wait_ms.p95"].label
    assert "[metric" not in (LOCALES_DIR / "en.toml").read_text(encoding="utf-8")
