"""One visitor cannot take the app down: bounded runs from any link, a cache bounded by memory, plain text."""

from __future__ import annotations

import resource
import threading
import time

import pytest

from app.runs import RUNS, WEB_LIMIT, RunCache
from sim import budget
from sim.scenario import load_preset, preset_names
from sim.trace import Trace
from tests.app.opened import en
from tests.app.test_pages import app, playground, unescaped

pytestmark = pytest.mark.app

HUGE = ["duration_s=86400", "workload.rate_per_s=10000"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_playground_link_beyond_the_limit_is_refused_before_any_work() -> None:
    """It once simulated 864 million requests inside the app's process until memory ran out."""
    app().run()   # the first page, whose own run is cached before the playground is opened
    before, cached = rss_mb(), len(RUNS)
    at = playground(preset="pooled", set=HUGE)
    assert not at.exception
    refusal = unescaped(" ".join(e.value for e in at.error))
    assert "864,000,000 requests" in refusal and "150,000" in refusal
    assert any("python -m sim run pooled.toml --limit" in c.value for c in at.code)
    assert not at.metric                     # nothing was run, so nothing is shown as its result
    assert len(RUNS) == cached
    assert en("playground.preset") in [s.label for s in at.selectbox]   # another preset is one pick away
    assert rss_mb() - before < 100


@pytest.mark.parametrize("lang", ["ru", "zh-TW"])
def test_the_refusal_is_in_the_sessions_language(lang: str) -> None:
    at = playground(preset="pooled", set=HUGE, lang=lang)
    text = unescaped(" ".join(e.value for e in at.error))
    assert {"ru": "слишком велик", "zh-TW": "太大"}[lang] in text


def test_every_preset_and_lesson_scenario_is_within_the_web_limit() -> None:
    from app import lessons

    scenarios = [load_preset(n) for n in preset_names()]
    for path in sorted(lessons.LESSONS_DIR.glob("*/*.md")):
        for block in lessons.blocks(lessons.parse(path.read_text(encoding="utf-8"))):
            if block.kind in ("scenario", "sweep"):
                scenarios += list(lessons.runs(block).values())
    too_big = [s.name for s in scenarios if budget.work(s).units > WEB_LIMIT.units]
    assert not too_big


def test_only_a_run_that_may_take_long_gets_a_spinner() -> None:
    """Streamlit's spinner starts a timer thread (4 ms of a rerun) and shows after 0.5 s: a preset's run,
    done sooner, gets none; a run near the limit, which takes seconds, still says it is running."""
    import contextlib
    import dataclasses

    from app.runs import SPINNER_UNITS, spinner
    small = load_preset("burst-into-overflow")
    assert budget.work(small).units < SPINNER_UNITS
    assert isinstance(spinner(small), contextlib.nullcontext)
    big = dataclasses.replace(small, duration_s=small.duration_s * 30)
    assert SPINNER_UNITS < budget.work(big).units <= WEB_LIMIT.units
    assert not isinstance(spinner(big), contextlib.nullcontext)


def test_a_link_with_markdown_shows_it_as_text() -> None:
    """`![i](http://…)` in a name made every visitor's browser fetch that image; now every sign is escaped."""
    name = "![i](http://127.0.0.1:9/pixel.png) ***:*** <b>x</b>"
    at = app(preset="pooled", set=[f"name={name}"])
    at.run()
    at.switch_page("app/pages/live_lab.py").run()
    assert not at.exception
    shown = [m.value for m in at.markdown if "pixel" in m.value]
    assert shown, [m.value for m in at.markdown]
    for markdown in shown:
        assert "](" not in markdown and "***" not in markdown and "<b>" not in markdown
        assert name in unescaped(markdown)


def test_a_fields_message_quoting_a_link_value_is_text() -> None:
    at = playground(preset="pooled", set=["pool.kind=[x](http://127.0.0.1:9/)"])
    warnings = [w.value for w in at.warning]
    assert warnings and all("](" not in w for w in warnings)
    assert any("pool.kind = '[x](http://127.0.0.1:9/)'" in unescaped(w) for w in warnings)


def test_too_many_or_too_long_assignments_in_a_link_are_left_out_with_a_word() -> None:
    at = playground(preset="pooled", set=["name=" + "x" * 3000] + ["seed=3"] * 70)
    warnings = unescaped(" ".join(w.value for w in at.warning))
    assert "71 assignments; a link may carry 64" in warnings and "longer than 2,000 characters" in warnings
    assert at.session_state.scenario.seed == 3


# -- the cache of runs

def fake_run(rows: int) -> tuple[Trace, float, dict[str, object]]:
    trace = Trace()
    for i in range(rows):
        trace.emit(float(i), 0, i, -1, 0)
    return trace, 1.0, {}


def size(result: tuple[Trace, float, dict[str, object]]) -> int:
    return result[0].nbytes


def test_the_cache_is_bounded_by_the_size_of_its_runs_not_their_number() -> None:
    one = fake_run(1000)   # 28 bytes a row
    cache = RunCache(budget_bytes=3 * size(one) + 1000)
    for key in "abcd":
        cache.get(key, lambda: fake_run(1000), size)
    assert len(cache) == 3 and cache.bytes <= cache.budget_bytes
    cache.get("x", lambda: fake_run(20), size)   # small runs: many fit where one large one did
    assert len(cache) == 4
    big = cache.get("big", lambda: fake_run(10_000), size)   # larger than the whole budget: served, not kept
    assert len(big[0]) == 10_000 and "big" not in cache._runs


def test_the_least_recently_used_run_goes_first() -> None:
    cache = RunCache(budget_bytes=2 * size(fake_run(100)))
    cache.get("a", lambda: fake_run(100), size)
    cache.get("b", lambda: fake_run(100), size)
    cache.get("a", lambda: pytest.fail("a is cached"), size)
    cache.get("c", lambda: fake_run(100), size)
    assert list(cache._runs) == ["a", "c"]


def test_two_sessions_asking_for_the_same_run_at_once_compute_it_once() -> None:
    cache = RunCache(budget_bytes=10**9)
    calls: list[int] = []
    results = []

    def slow() -> tuple[Trace, float, dict[str, object]]:
        calls.append(1)
        time.sleep(0.3)
        return fake_run(10)

    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow, size))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(calls) == 1 and len(results) == 4 and all(r is results[0] for r in results)


def test_a_failed_run_is_not_cached_and_its_error_reaches_every_caller() -> None:
    cache = RunCache(budget_bytes=10**9)

    def broken() -> tuple[Trace, float, dict[str, object]]:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        cache.get("k", broken, size)
    assert cache.get("k", lambda: fake_run(1), size)[1] == 1.0


def test_a_live_link_beyond_the_live_labs_limits_is_refused_before_run_is_offered() -> None:
    """`rate 100000 for a day` once filled the worker's memory at 120-250 MB/s; it never reaches it now."""
    at = app(preset="pooled", set=["workload.rate_per_s=100000", "duration_s=86400"])
    at.run()
    at.switch_page("app/pages/live_lab.py").run()
    assert not at.exception
    refusal = unescaped(" ".join(e.value for e in at.error))
    assert "live lab" in refusal and "8,640,000,000 requests" in refusal
    assert not [b for b in at.button if b.key == "live.run"]


@pytest.mark.parametrize(("assignment", "words"), [
    ("pool.kind={a=1}", "pool.kind = {'a': 1}: must be one of"),
    ("name=" + "[" * 1900, "nested too deeply"),
    ("workload=[1]", "workload = [1]: must be a table"),
])
def test_a_link_that_once_gave_a_traceback_opens_with_a_word(assignment: str, words: str) -> None:
    at = playground(preset="pooled", set=[assignment])
    assert words in unescaped(" ".join(w.value for w in at.warning))
    assert at.metric   # the rest of the link opened and ran
