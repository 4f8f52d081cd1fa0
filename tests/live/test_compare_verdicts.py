"""The tolerance rule that judges a live figure against the simulated one, and the verdict it says.

One rule for the compare page, `python -m live compare` and bench/fidelity.py:
pure functions on two metrics objects, no server needed.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from app import i18n
from live.compare import (
    VERDICT_WORDS,
    Verdict,
    format_comparison,
    rows_for,
    signed,
    tolerance,
    verdict,
    verdicts,
)
from sim.measures import MEASURES, measure


def metrics(**figures: Any) -> dict[str, Any]:
    """A metrics object holding just these figures; `wait_ms__p95=1.0` is {"wait_ms": {"p95": 1.0}}."""
    out: dict[str, Any] = {}
    for path, value in figures.items():
        *parents, leaf = path.split("__")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def judged(path: str, sim: float | None, live: float | None, requests: int = 1000) -> Verdict:
    key = path.replace(".", "__")
    return verdict(path, metrics(requests=requests, **{key: sim}), metrics(requests=requests, **{key: live}))


def test_every_figure_has_a_tolerance() -> None:
    for path in MEASURES:
        assert tolerance(path).allowed(10.0, 100) > 0, path


@pytest.mark.parametrize(("path", "sim", "live", "agrees"), [
    # counts of requests: within 5% of the requests (50 of 1000), whatever the simulated count
    ("timed_out", 0, 50, True), ("timed_out", 0, 51, False), ("completed", 900, 850, True),
    # waits: 2 ms or 20%, whichever is more; a 0.6 ms difference in a 1 ms wait is no alarm
    ("wait_ms.p95", 1.0, 1.6, True), ("wait_ms.p95", 1.0, 3.1, False),
    ("wait_ms.p95", 100.0, 120.0, True), ("wait_ms.p95", 100.0, 121.0, False),
    # peak connections: within one
    ("peak.open", 10, 11, True), ("peak.open", 10, 12, False),
    # shares: 5 percentage points
    ("p_wait", 0.30, 0.34, True), ("p_wait", 0.30, 0.36, False),
])
def test_the_tolerance_rule(path: str, sim: float, live: float, agrees: bool) -> None:
    assert judged(path, sim, live).agrees is agrees


def test_the_benchmarks_targets_are_unchanged_by_the_move() -> None:
    """bench/fidelity.py's old targets: share of requests 5%, waits max(2 ms, 20%), peak open within 1."""
    for a, b, requests in [(100, 104, 100), (100, 106, 100), (0, 3, 40), (5, 0, 200)]:
        for path in ("completed", "timed_out", "errors.all"):
            old = abs((b - a) / max(requests, 1)) <= 0.05
            assert judged(path, a, b, requests).agrees is old
    for a, b in [(0.0, 1.9), (0.0, 2.1), (50.0, 59.9), (50.0, 60.1)]:
        assert judged("wait_ms.p50", a, b).agrees is (abs(b - a) <= max(2.0, 0.2 * abs(a)))


def test_a_figure_neither_run_has_agrees_and_one_only_one_has_does_not() -> None:
    assert judged("wait_ms.p95", None, None).agrees
    missing = judged("wait_ms.p95", 3.0, None)
    assert not missing.agrees and missing.says() == "only one run has it"


def test_the_verdict_says_agrees_within_tolerance_and_names_the_percentage_outside_it() -> None:
    assert judged("wait_ms.p95", 1.0, 1.6).says() == "agrees"
    assert judged("latency_ms.p50", 50.0, 56.0).says() == "agrees"        # 12% is within 20%
    assert judged("latency_ms.p50", 50.0, 81.0).says() == "differs by 62%"
    assert judged("latency_ms.p50", 50.0, 19.0).says() == "differs by 62%"  # either way
    assert judged("p_wait", 0.10, 0.20).says() == "differs by 10.0 percentage points"
    assert judged("timed_out", 0, 80).says() == "differs by 80"              # no percentage of nothing


@pytest.mark.parametrize(("lang", "agrees", "differs"), [
    ("en", "agrees", "differs by 62%"),
    ("ru", "совпадает", "расходится на 62%"),
    ("zh-TW", "一致", "相差 62%"),
    ("zh-CN", "一致", "相差 62%"),
])
def test_the_verdict_in_each_language(lang: str, agrees: str, differs: str) -> None:
    words = i18n.texts(lang, "verdict")
    number, percent = functools.partial(i18n.number, lang), functools.partial(i18n.percent, lang)
    assert judged("wait_ms.p95", 1.0, 1.6).says(words, number, percent) == agrees
    assert judged("latency_ms.p50", 50.0, 81.0).says(words, number, percent) == differs


def test_englishs_catalog_says_what_the_command_line_says() -> None:
    assert i18n.texts("en", "verdict") == VERDICT_WORDS


def test_a_count_tolerance_is_told_in_whole_units() -> None:
    v = judged("completed", 100, 100, requests=268)
    assert v.allowed == pytest.approx(13.4) and v.allowance == 13
    assert judged("wait_ms.p95", 100.0, 100.0).allowance == pytest.approx(20.0)


def test_the_command_lines_table_has_the_tolerance_and_the_verdict_per_row() -> None:
    sim = metrics(requests=200, completed=200, pool="sqlalchemy", wait_ms__p95=1.0, latency_ms__p50=10.0)
    live = metrics(requests=200, completed=199, pool="sqlalchemy", wait_ms__p95=1.6, latency_ms__p50=20.0,
                   live={"server": "test", "wall_seconds": 1.0, "time_scale": 1.0, "left_open": 0})
    text = format_comparison({"scenario": "s", "sim_database": {"connect_ms": 1.0, "rtt_ms": 0.1, "cores": 0},
                              "sim": sim, "live": live})
    rows = {line.split("  ")[1].strip(): line for line in text.splitlines()[3:-1]}
    assert set(rows) == {measure(p).label for p in rows_for(sim, live)}
    assert "tolerance" in text.splitlines()[2] and "verdict" in text.splitlines()[2]
    assert rows["p95 wait (ms)"].endswith("±2.00  agrees")
    assert rows["p50 latency (ms)"].endswith("differs by 100%")
    assert rows["Completed"].rstrip().endswith("±10  agrees")
    assert [v.agrees for v in verdicts(sim, live)].count(False) == 1
    assert " -1 " in rows["Completed"] and " +0.60 " in rows["p95 wait (ms)"]


def test_a_difference_that_rounds_to_nothing_is_0_and_others_keep_their_sign() -> None:
    assert signed(measure("throughput_per_s"), -0.04) == "0"
    assert signed(measure("throughput_per_s"), -0.4) == "-0.4 per s"
    assert signed(measure("wait_ms.p95"), 0.6) == "+0.60"
    assert signed(measure("wait_ms.p95"), None) == "-"
