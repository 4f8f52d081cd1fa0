"""The course: each lesson in each language, the same blocks, sound figures, working quizzes, no seed text."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app import lessons
from app.i18n import DEFAULT, LANGUAGES, catalog
from sim.scenario import preset_names
from tests.app.opened import figures as drawn_figures

ROOT = Path(__file__).resolve().parents[2]
ENTRY = str(ROOT / "streamlit_app.py")
COURSE = ["01-why-pools", "02-taxi-stand", "03-overflow", "04-timeouts", "05-leaks", "06-stale-connections",
          "07-server-limit", "08-sizing", "09-asyncpg-pool", "10-pools-compared", "11-monitoring",
          "12-workers-and-forks", "13-timeouts-and-retries", "14-pgbouncer"]
LIVE_LESSONS = {"01-why-pools", "06-stale-connections", "07-server-limit", "14-pgbouncer"}
SEED_OVERLAP = ROOT.parent / "shared" / "tools" / "seed_overlap.py"


def read(lang: str, slug: str) -> list[lessons.Segment]:
    return lessons.parse((lessons.LESSONS_DIR / lang / f"{slug}.md").read_text(encoding="utf-8"))


@functools.cache
def figures(slug: str) -> lessons.Figures:
    """One lesson's runs (the same in every language, as the shapes are)."""
    return lessons.figures(read(DEFAULT, slug), lessons.simulated_metrics)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_lesson_exists_in_every_language(lang: str) -> None:
    found = sorted(p.stem for p in (lessons.LESSONS_DIR / lang).glob("*.md"))
    assert found == COURSE


@pytest.mark.parametrize("slug", COURSE)
def test_the_blocks_are_the_same_in_every_language(slug: str) -> None:
    english = lessons.shape(read(DEFAULT, slug))
    for lang in LANGUAGES:
        assert lessons.shape(read(lang, slug)) == english, lang


def outline(segments: list[lessons.Segment]) -> list[str | int]:
    """A lesson's blocks by kind and, between them, how many paragraphs of prose (blank-line separated)."""
    return [s.kind if isinstance(s, lessons.Block) else len([p for p in s.split("\n\n") if p.strip()])
            for s in segments]


@pytest.mark.parametrize("slug", COURSE)
def test_every_language_has_the_same_paragraphs_between_the_same_blocks(slug: str) -> None:
    """An edit to one language's paragraph (a new one, one dropped) cannot stay out of the others unseen."""
    english = outline(read(DEFAULT, slug))
    for lang in LANGUAGES:
        assert outline(read(lang, slug)) == english, lang


def test_the_outline_sees_a_paragraph_added() -> None:
    text = "Intro.\n\n```quiz\nid = \"q\"\n```\n\nOne.\n\nTwo.\n"
    assert outline(lessons.parse(text)) == [1, "quiz", 2]


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("slug", COURSE)
def test_every_counted_noun_is_in_the_catalog(lang: str, slug: str) -> None:
    known = {key.split(".", 1)[1].split("_")[0] for key in catalog(lang) if key.startswith("noun.")}
    assert lessons.nouns(read(lang, slug)) <= known


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("slug", COURSE)
def test_each_lesson_is_sound(lang: str, slug: str) -> None:
    segments = read(lang, slug)
    assert lessons.problems(segments) == []
    kinds = [b.kind for b in lessons.blocks(segments)]
    assert "scenario" in kinds
    assert 2 <= kinds.count("quiz") <= 4
    assert lessons.title_of(lessons.LESSONS_DIR / lang / f"{slug}.md") != slug
    if slug in LIVE_LESSONS:
        assert any(b.data.get("live") for b in lessons.blocks(segments) if b.kind == "scenario")
    # every question comes before its scenario's run, and prose explains what happened after it
    last = segments[-1]
    assert isinstance(last, str) or last.kind == "quiz"


def test_every_preset_a_lesson_names_exists() -> None:
    named = {b.data["preset"] for slug in COURSE for b in lessons.blocks(read(DEFAULT, slug))
             if "preset" in b.data}
    assert named <= set(preset_names())


@pytest.mark.parametrize("slug", COURSE)
def test_every_figure_in_every_language_is_filled_from_the_runs(slug: str) -> None:
    figs = figures(slug)
    for lang in LANGUAGES:
        segments = read(lang, slug)
        for segment in segments:
            for text in lessons.words(segment):
                out = lessons.fill(text, figs, lambda v, d: f"{v:.{d}f}", lambda v: f"{v:.0%}")
                assert "{{" not in out, (lang, out)


@pytest.mark.parametrize("slug", COURSE)
def test_every_sweep_column_is_a_number_of_each_run(slug: str) -> None:
    figs = figures(slug)
    for block in lessons.blocks(read(DEFAULT, slug)):
        if block.kind != "sweep":
            continue
        for label in figs[block.id]:
            for path in block.data["metrics"]:
                value = lessons.lookup(figs, f"{block.id}.{label}.{path}")
                applies = not path.startswith("theory.")   # Erlang C fits some pools, not others
                ok = isinstance(value, int | float) or (value is None and not applies)
                assert ok, (block.id, label, path)


def test_a_figure_that_does_not_apply_is_a_dash() -> None:
    figs: Any = {"a": {"": {"wait_ms": {"p95": None}, "requests": 0, "connects": 5}}}
    fmt = (lambda v, d: f"{v:.{d}f}", lambda v: f"{v:.0%}")
    assert lessons.fill("{{a.wait_ms.p95}} {{a.connects / a.requests}} {{a.theory.p_wait}}", figs, *fmt) \
        == "\u2013 \u2013 \u2013"  # en dashes


def test_a_placeholder_names_a_figure_of_the_registry() -> None:
    figs: Any = {"a": {"": {"wait_ms": {"p95": 1.0}}}}
    with pytest.raises(KeyError, match="no figure 'wait_ms'"):
        lessons.fill("{{a.wait_ms}}", figs, lambda v, d: str(v), str)


def test_a_placeholder_reads_a_sweeps_run_by_its_label_and_a_table_by_its_total() -> None:
    figs: Any = {"s": {"10": {"errors": {"broken": 2, "refused": 3}}, "40": {"errors": {"broken": 0}}}}
    fmt = (lambda v, d: f"{v:.{d}f}", lambda v: f"{v:.0%}")
    assert lessons.fill("{{s.10.errors.all}} {{s.40.errors.broken}}", figs, *fmt) == "5 0"
    with pytest.raises(KeyError, match="has no run '20'"):
        lessons.fill("{{s.20.errors.all}}", figs, *fmt)


def test_the_checker_finds_a_misnamed_figure_without_running_anything() -> None:
    segments = lessons.parse('''Opened {{nopool.conects}} connections.

```scenario
id = "nopool"
preset = "no-pool"
question = "How many?"
```

```sweep
id = "sizes"
preset = "pooled"
vary = "pool.pool_size"
values = [4, 10]
metrics = ["latency_ms.p95", "latency.p95"]
```
{{sizes.4.connects}} against {{sizes.12.connects}}.
''')
    found = lessons.problems(segments)
    assert any("{{nopool.conects}}" in line and "no figure 'conects'" in line for line in found), found
    assert any("'latency.p95' is not a figure" in line for line in found), found
    assert any("{{sizes.12.connects}}" in line and "no run '12'" in line for line in found), found
    assert not any("sizes.4.connects" in line for line in found), found


def test_results_in_the_prose_are_placeholders_not_typed_numbers() -> None:
    """Each lesson's prose carries its results as {{figures}}: at least one per scenario or sweep."""
    for slug in COURSE:
        segments = read(DEFAULT, slug)
        runs = [b for b in lessons.blocks(segments) if b.kind in ("scenario", "sweep")]
        used = {p.strip("{} ").split(".")[0] for p in lessons.placeholders(segments)}
        assert {b.id for b in runs} <= used, slug


def test_a_placeholder_that_names_no_figure_is_reported() -> None:
    with pytest.raises(KeyError, match=r"nopool\.conects"):
        figs: Any = {"nopool": {"": {"connects": 3}}}
        lessons.fill("{{nopool.conects}}", figs, lambda v, d: str(v), str)


def test_placeholders_format_digits_percentages_and_ratios() -> None:
    figs: Any = {"a": {"": {"connects": 300, "p_wait": 0.25, "wait_ms": {"p95": 12.345}}},
                 "b": {"": {"connects": 6}}}
    text = "{{a.connects}} {{a.p_wait:%}} {{a.wait_ms.p95}} {{a.wait_ms.p95:2}} {{a.connects / b.connects}}"
    out = lessons.fill(text, figs, lambda v, d: f"{v:.{d}f}", lambda v: f"{v:.0%}")
    assert out == "300 25% 12.3 12.35 50.0"


def test_problems_name_the_block_and_the_field() -> None:
    text = """
```scenario
id = "x"
preset = "no-such"
question = "?"
```

```quiz
id = "q"
question = "?"
options = ["a", "b"]
answer = 2
feedback = ["only one"]
```

```sweep
id = "s"
preset = "pooled"
values = "12"
metrics = ["connects"]
[[runs]]
label = "a"
[[runs]]
label = "a"
```
"""
    found = lessons.problems(lessons.parse(text))
    assert any("sweep block 3" in p and "values must be a list" in p for p in found)
    assert any("sweep block 3" in p and "own label" in p for p in found)
    assert any("scenario block 1" in p and "no-such" in p for p in found)
    assert any("quiz block 2" in p and "answer = 2" in p for p in found)
    assert any("quiz block 2" in p and "feedback" in p for p in found)


CHECKED = """
```scenario
id = "a"
preset = "pooled"
question = "How many connects?"
{predict}
```
"""


@pytest.mark.parametrize(("predict", "complaint"), [
    ("", "needs `predict`"),
    ('predict = { metric = "conects" }', "'conects' is not a figure"),
    ('predict = { metric = "connects", bounds = [30, 10] }\nchoices = ["a", "b", "c"]', "increasing order"),
    ('predict = { metric = "connects", bounds = [30] }\nchoices = ["a"]', "one answer per range: 2"),
    ('predict = { metric = "connects" }\nchoices = ["a", "b"]', "choices without bounds"),
    ('predict = { metric = "connects", pick = "lowest" }', "belong to a sweep"),
    ('predict = { metric = "connects", of = "b.requests" }', "no scenario or sweep 'b'"),
    ('predict = { metric = "connects", guess = 3 }', "'guess' is not a predict setting"),
])
def test_the_checker_refuses_a_question_without_a_sound_prediction(predict: str, complaint: str) -> None:
    found = lessons.problems(lessons.parse(CHECKED.format(predict=predict)))
    assert any(complaint in line for line in found), found


def test_a_sound_prediction_passes_the_checker() -> None:
    text = CHECKED.format(predict='predict = { metric = "connects", of = "a.requests", bounds = [0.5] }\n'
                                  'choices = ["few", "many"]')
    assert lessons.problems(lessons.parse(text)) == []


def sweep(predict: str) -> lessons.Block:
    return lessons.blocks(lessons.parse(f"""
```sweep
id = "s"
preset = "pooled"
vary = "pool.pool_size"
values = [2, 5, 10]
metrics = ["connects"]
question = "?"
{predict}
```
"""))[0]


def test_a_sweeps_prediction_names_a_run_or_what_to_pick() -> None:
    assert lessons.predict_problems(sweep('predict = { metric = "connects", pick = "lowest" }'),
                                    ["2", "5", "10"]) == []
    assert lessons.predict_problems(sweep('predict = { metric = "connects", run = "5" }'),
                                    ["2", "5", "10"]) == []
    assert any("no such run" in p for p in lessons.predict_problems(
        sweep('predict = { metric = "connects", run = "7" }'), ["2", "5", "10"]))
    assert any("either" in p for p in lessons.predict_problems(
        sweep('predict = { metric = "connects" }'), ["2", "5", "10"]))


def test_the_answer_is_computed_from_the_run_on_screen() -> None:
    block = lessons.blocks(lessons.parse(CHECKED.format(
        predict='predict = { metric = "connects", of = "a.requests", bounds = [0.1, 0.5] }\n'
                'choices = ["few", "some", "most"]')))[0]
    few: Any = {"a": {"": {"connects": 5, "requests": 100}}}
    most: Any = {"a": {"": {"connects": 80, "requests": 100}}}
    assert lessons.answer(block, few) == lessons.Answer(0.05, 0)
    assert lessons.answer(block, most).right == 2   # a learner's own run gets its own right answer
    edge: Any = {"a": {"": {"connects": 10, "requests": 100}}}
    assert lessons.answer(block, edge).right == 1   # a bound belongs to the range above it


def test_a_pick_answers_with_the_run_and_refuses_a_near_tie() -> None:
    block = sweep('predict = { metric = "connects", pick = "highest" }')
    figs: Any = {"s": {"2": {"connects": 50}, "5": {"connects": 20}, "10": {"connects": 10}}}
    assert lessons.answer(block, figs).right == "2"
    assert lessons.pick_margin(block, figs) is None
    close: Any = {"s": {"2": {"connects": 50}, "5": {"connects": 49}, "10": {"connects": 10}}}
    assert "too close" in (lessons.pick_margin(block, close) or "")


def test_claims_are_checked_against_the_runs() -> None:
    figs: Any = {"a": {"": {"connects": 6, "latency_ms": {"mean": 7.0}}},
                 "b": {"": {"connects": 500, "latency_ms": {"mean": 38.0}}}}
    assert lessons.claim_holds("a.latency_ms.mean < b.latency_ms.mean", figs) is True
    assert lessons.claim_holds("5 * a.latency_ms.mean > b.latency_ms.mean", figs) is False
    assert lessons.claim_holds("b.connects >= 100", figs) is True
    segments = lessons.parse('```scenario\nid = "a"\npreset = "pooled"\nclaims = ["a.connects > 10"]\n```\n')
    assert lessons.false_claims(segments, figs) == ["scenario 'a': claims: 'a.connects > 10' is false for "
                                                    "the runs as written"]
    found = lessons.problems(lessons.parse('```scenario\nid = "a"\npreset = "pooled"\n'
                                           'claims = ["a.connects is big"]\n```\n'))
    assert any("is not `figure < figure`" in line for line in found), found


@pytest.mark.parametrize("slug", COURSE)
def test_every_claim_and_pick_holds_for_the_runs_as_written(slug: str) -> None:
    segments = read(DEFAULT, slug)
    figs = figures(slug)
    assert lessons.false_claims(segments, figs) == []
    assert [b.id for b in lessons.blocks(segments) if lessons.pick_margin(b, figs)] == []


def test_every_question_of_the_course_asks_for_a_prediction() -> None:
    asked = [b for slug in COURSE for b in lessons.blocks(read(DEFAULT, slug))
             if b.kind in ("scenario", "sweep") and b.data.get("question")]
    assert len(asked) >= 28 and all("predict" in b.data for b in asked)
    comparisons = {slug: [b.id for b in lessons.blocks(read(DEFAULT, slug)) if b.kind == "sweep"
                          and "predict" in b.data] for slug in COURSE[1:7]}
    assert all(comparisons.values()), comparisons   # lessons 2-7 each ask before a sweep's table


def test_the_explanation_ends_at_the_next_heading() -> None:
    assert lessons.explanation("It opened 5.\n\nSo.\n\n## Next\n\nMore.\n") == \
        ("It opened 5.\n\nSo.\n\n", "## Next\n\nMore.\n")
    assert lessons.cited("a", ["{{a.connects}} and {{b.connects}}, {{a.requests / a.connects}}"]) == \
        ["connects", "requests"]


@pytest.mark.parametrize(("lang", "counts"), [
    ("en", {1: "1 request", 5: "5 requests"}),
    ("ru", {1: "1 запрос", 2: "2 запроса", 5: "5 запросов", 21: "21 запрос"}),
])
def test_a_count_takes_its_nouns_plural_form(lang: str, counts: dict[int, str]) -> None:
    from app.i18n import counted
    for n, expected in counts.items():
        figs: Any = {"a": {"": {"completed": n}}}
        assert lessons.fill("{{a.completed|request}}", figs, lambda v, d: f"{v:.{d}f}", str,
                            lambda noun, v, w: counted(lang, noun, v, w)) == expected


@pytest.mark.parametrize("lang", ["zh-TW", "zh-CN"])
def test_chinese_counts_with_a_measure_word(lang: str) -> None:
    from app.i18n import counted
    assert counted(lang, "request", 5, "5") not in ("5", "5 requests")


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_glossary_has_the_same_terms_in_every_language(lang: str) -> None:
    english, theirs = lessons.glossary(DEFAULT), lessons.glossary(lang)
    assert len(english) >= 20
    path = lessons.LESSONS_DIR / lang / "glossary.toml"
    assert path.is_file()
    assert set(theirs) == set(english)
    for key, entry in theirs.items():
        assert entry["term"] and entry["definition"], key


def test_no_lesson_repeats_a_seed_sentence() -> None:
    if not SEED_OVERLAP.is_file():
        pytest.skip("the seeds are not beside this checkout")
    done = subprocess.run([sys.executable, str(SEED_OVERLAP), str(lessons.LESSONS_DIR)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:]


# ---------------------------------------------------------------- the page, in AppTest

KEY = re.compile(r"\b(?:" + "|".join(sorted({k.split(".")[0] for k in catalog(DEFAULT)})) + r")\.[a-z_.]+\b")


def page_texts(at: AppTest) -> list[str]:
    out: list[str] = []
    kinds = ("markdown", "caption", "title", "header", "subheader", "error", "success", "info", "warning")
    for kind in kinds:
        out += [str(e.value) for e in getattr(at, kind)]
    out += [w.label for w in (*at.button, *at.radio, *at.selectbox, *at.toggle, *at.slider, *at.number_input)]
    out += [m.label for m in at.metric]
    return out


def lesson_page(lang: str, slug: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.query_params["lang"] = lang
    at.query_params["lesson"] = slug
    at.run()
    at.switch_page("app/pages/lessons.py").run()
    return at


@pytest.mark.app
@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("slug", COURSE)
def test_each_lesson_renders_in_each_language_without_a_raw_key(lang: str, slug: str) -> None:
    at = lesson_page(lang, slug)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    shown = page_texts(at)
    title = lessons.title_of(lessons.LESSONS_DIR / lang / f"{slug}.md")
    assert any(title in text for text in shown)
    leftovers = [text for text in shown if "{{" in text or KEY.fullmatch(text.strip())]
    assert leftovers == []
    n_scenarios = sum(b.kind == "scenario" for b in lessons.blocks(read(lang, slug)))
    assert len(at.metric) == 0   # every scenario asks before it shows its run
    for button in [b for b in at.button if b.key and b.key.endswith(".skip")]:
        at.button(key=button.key).click().run()
    assert not at.exception, at.exception
    assert len(at.metric) >= 6 * n_scenarios  # every scenario ran and shows its cards
    assert not [b for b in at.button if b.key and b.key.endswith(".skip")]


@pytest.mark.app
def test_a_prediction_hides_the_run_until_it_is_committed() -> None:
    """The figure that answers the question is not on the page until the learner commits a guess."""
    slug, key = "01-why-pools", "lesson.01-why-pools.pooled"
    connects = str(figures(slug)["pooled"][""]["connects"])
    at = lesson_page("en", slug)
    explanation = "The pool opened"
    assert not any(explanation in text for text in page_texts(at))
    assert at.button(key=f"{key}.commit").disabled   # nothing to commit before a guess
    at.number_input(key=f"{key}.number").set_value(40).run()
    at.button(key=f"{key}.commit").click().run()
    assert not at.exception
    texts = page_texts(at)
    assert any(explanation in text for text in texts)
    verdict = next(i.value for i in at.info if "40" in i.value)
    assert connects in verdict, verdict            # the guess beside the run's figure
    at.button(key=f"{key}.again").click().run()
    assert not any(explanation in text for text in page_texts(at))


@pytest.mark.app
def test_the_taxi_stand_of_a_lessons_run_is_drawn_on_asking() -> None:
    slug, key = "01-why-pools", "lesson.01-why-pools.pooled"
    at = lesson_page("en", slug)
    at.number_input(key=f"{key}.number").set_value(40).run()
    at.button(key=f"{key}.commit").click().run()
    charts = len(drawn_figures(at))
    at.toggle(key=f"{key}.taxi").set_value(True).run()
    assert not at.exception
    assert len(drawn_figures(at)) == charts + 1   # the stand, by results.stand (a phone's on a phone)


@pytest.mark.app
def test_a_changed_control_marks_the_text_as_written_and_resets() -> None:
    slug, key = "01-why-pools", "lesson.01-why-pools.pooled"
    at = lesson_page("en", slug)
    at.button(key=f"{key}.skip").click().run()
    tables_before = len(at.dataframe)
    at.slider(key=f"{key}.pool.pool_size").set_value(1).run()
    assert not at.exception
    assert len(at.dataframe) == tables_before + 1   # as written / your run
    table = next(d.value for d in at.dataframe if "Your run" in d.value.columns)
    written = figures(slug)["pooled"][""]["connects"]
    assert str(written) in table["As written"].tolist()
    at.button(key=f"{key}.reset").click().run()
    assert at.slider(key=f"{key}.pool.pool_size").value == 5
    assert not any("Your run" in d.value.columns for d in at.dataframe)


def quiz_radios(at: AppTest) -> list[Any]:
    return [r for r in at.radio if r.key and r.key.startswith("lesson.")]


@pytest.mark.app
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_quiz_answer_gets_its_feedback(lang: str) -> None:
    slug = "03-overflow"
    quizzes = [b for b in lessons.blocks(read(lang, slug)) if b.kind == "quiz"]
    at = lesson_page(lang, slug)
    first = quizzes[0]
    radio = next(r for r in quiz_radios(at) if r.key.endswith("." + first.id))
    radio.set_value(first.data["answer"]).run()
    assert [s.value for s in at.success] and not at.error
    assert any(first.data["feedback"][first.data["answer"]][:20] in s.value for s in at.success)
    wrong = (first.data["answer"] + 1) % len(first.data["options"])
    next(r for r in quiz_radios(at) if r.key.endswith("." + first.id)).set_value(wrong).run()
    assert [e.value for e in at.error] and not at.success


@pytest.mark.app
def test_the_language_picker_switches_the_whole_page() -> None:
    at = lesson_page("en", "01-why-pools")
    english_title = lessons.title_of(lessons.LESSONS_DIR / "en" / "01-why-pools.md")
    at.selectbox(key="app.language").set_value("zh-TW").run()
    assert not at.exception
    assert at.query_params["lang"] == ["zh-TW"] or at.query_params["lang"] == "zh-TW"
    texts = page_texts(at)
    assert any(lessons.title_of(lessons.LESSONS_DIR / "zh-TW" / "01-why-pools.md") in t for t in texts)
    assert not any(english_title == t.strip("# ") for t in texts)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_the_right_option_is_not_the_longest_in_most_quizzes(lang: str) -> None:
    """A learner who always picks the longest option must not pass: at most 40% of quizzes reward it."""
    quizzes = [b for slug in COURSE for b in lessons.blocks(read(lang, slug)) if b.kind == "quiz"]
    longest = [b.id for b in quizzes
               if all(len(b.data["options"][b.data["answer"]]) > len(o)
                      for i, o in enumerate(b.data["options"]) if i != b.data["answer"])]
    assert len(longest) <= 0.4 * len(quizzes), longest


def test_the_answers_are_spread_over_every_place_across_the_course() -> None:
    """Where the answer is shown, not where it was written: no place holds more than 40% of them."""
    places: list[int] = []
    for slug in COURSE:
        segments = read(DEFAULT, slug)
        orders = lessons.quiz_orders(slug, segments)
        for b in lessons.blocks(segments):
            if b.kind == "quiz":
                assert sorted(orders[b.id]) == list(range(len(b.data["options"])))
                places.append(orders[b.id].index(b.data["answer"]))
    assert max(places.count(p) for p in set(places)) <= 0.4 * len(places), places


@pytest.mark.parametrize("slug", COURSE)
def test_a_quiz_shows_its_options_in_the_same_order_in_every_language(slug: str) -> None:
    orders = {lang: lessons.quiz_orders(slug, read(lang, slug)) for lang in LANGUAGES}
    assert all(o == orders[DEFAULT] for o in orders.values())


LABELS = ["Right", "Wrong", "Correct", "Not quite", "Верно", "Неверно", "Правильно", "Не совсем",  # noqa: RUF001
          "正確", "正确", "錯誤", "错误", "答對", "答对", "對", "对"]
RIGHT_OR_WRONG = re.compile(f"^({'|'.join(LABELS)})\\s*[.:,!\u3002\uff1a\uff0c\uff01]")


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_feedback_does_not_repeat_the_label_the_page_prints(lang: str) -> None:
    """The page already says "Right." or "Not quite."; a feedback line starting with it reads twice."""
    for slug in COURSE:
        for b in lessons.blocks(read(lang, slug)):
            for line in b.data.get("feedback", []) if b.kind == "quiz" else []:
                assert not RIGHT_OR_WRONG.match(line), (lang, slug, b.id, line)


@pytest.mark.app
def test_a_quizs_options_appear_in_their_shuffled_order() -> None:
    slug = "03-overflow"
    segments = read(DEFAULT, slug)
    first = next(b for b in lessons.blocks(segments) if b.kind == "quiz")
    at = lesson_page(DEFAULT, slug)
    radio = next(r for r in quiz_radios(at) if r.key.endswith("." + first.id))
    order = lessons.quiz_orders(slug, segments)[first.id]
    assert list(radio.options) == [first.data["options"][i] for i in order]
