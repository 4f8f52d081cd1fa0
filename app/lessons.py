"""Lessons: Markdown files with scenarios, sweeps, quizzes and measurements embedded as fenced TOML.

A lesson is prose a teacher can edit without touching code, in four
languages that must stay in step. So everything that is not prose lives in
blocks whose *shape* (presets, assignments, answers) is the same in every
language, and only their words differ (`shape` is what a test compares):

    ```scenario                       a scenario drawn with a few controls
    id = "nopool"
    preset = "no-pool"
    set = ["duration_s=10"]
    controls = ["database.connect_ms"]
    question = "How many connects will ten seconds cost?"
    predict = { metric = "connects" }     the figure that answers it: the learner types a number
    live = true                       also offer the run on real PostgreSQL
    ```

A question must say how it is answered (`predict`), because the page hides
the run's figures and the prose under the block until the learner has
committed a guess. `predict = { metric = "connects", bounds = [30] }` with
`choices = ["about 20", "many more"]` asks for a choice between ranges
(below 30, 30 and above); `of = "burst.requests"` makes the figure a share
of another (`bounds` then in shares); in a sweep, `pick = "lowest"` asks
which run has the lowest figure, and `run = "120"` asks about one run.
Answers are computed from the run on screen, so they stay right when the
learner moves a slider. `claims = ["pooled.latency_ms.mean < nopool.latency_ms.mean"]`
lists the comparisons the prose under a block makes; the checker tests
them against the runs as written and the page names any that a learner's
own run breaks.

    ```sweep                          the same scenario with one field varied, as a table
    id = "sizes"
    preset = "bigger-pool-not-faster"
    vary = "pool.pool_size"
    values = [4, 10, 40]
    metrics = ["throughput_per_s", "latency_ms.p95"]
    ```
    (or `[[runs]]` tables, each with `label` and `set`, and a `name` in the
    lesson's language, instead of vary/values)

    ```quiz
    id = "q1"
    question = "..."
    options = ["...", "..."]
    answer = 0                        index of the right option
    feedback = ["...", "..."]         one line per option: why it is right or wrong
    ```

    ```measure                        measure this machine's connect cost, on a button press
    id = "costs"
    ```

Numbers in the prose are never typed by hand: `{{nopool.connects}}` is
filled from the simulation of block `nopool` as written (its preset and
`set`, not the learner's later changes), `{{sizes.40.latency_ms.p95}}` from
the sweep's run labelled 40, `{{a.x / b.y}}` divides two figures, and a
`:0`, `:1`, `:2` or `:%` suffix picks the digits or a percentage, and
`{{a.completed|request}}` writes the count with a noun in the plural form
the language's CLDR rules choose ("1 request", "5 запросов"; `noun.request`
in the catalogs). Pure parsing and filling here; `app/pages/lessons.py` draws.
"""

from __future__ import annotations

import functools
import math
import random
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.i18n import DEFAULT, LANGUAGES, counted
from app.state import apply, field_spec, literal
from sim.measures import MEASURES, Measure, measure
from sim.metrics import Metrics
from sim.scenario import Scenario, ScenarioError, load_preset, preset_names

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
KINDS = ("scenario", "sweep", "quiz", "measure")
_BLOCK = re.compile(r"^```(" + "|".join(KINDS) + r")[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
PLACEHOLDER = re.compile(r"\{\{\s*([\w.\-]+)(?:\s*/\s*([\w.\-]+))?\s*(?::\s*([0-9%]))?"
                         r"\s*(?:\|\s*(\w+))?\s*\}\}")
WORDS = ("question", "options", "feedback", "choices")   # the words of a block; the rest is its shape
PICKS = ("lowest", "highest")
PICK_MARGIN = 0.05
"""A sweep's `pick` must win by this share over the runner-up as written, or the answer is a coin toss."""
CLAIM = re.compile(r"^\s*(?:([\d.]+)\s*\*\s*)?([\w.\-]+)\s*(<=|>=|<|>)\s*(?:([\d.]+)\s*\*\s*)?([\w.\-]+)\s*$")


@dataclass(frozen=True)
class Block:
    kind: str                      # one of KINDS
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))


Segment = str | Block
Figures = dict[str, dict[str, Metrics]]
"""block id -> run label -> that run's metrics; a scenario block's one run is labelled ""."""


def lesson_files(lang: str) -> dict[str, Path]:
    """slug -> file, for the language, falling back to English lesson by lesson."""
    out: dict[str, Path] = {}
    for code in (DEFAULT, lang):
        folder = LESSONS_DIR / code
        if folder.is_dir():
            out |= {p.stem: p for p in sorted(folder.glob("*.md"))}
    return dict(sorted(out.items()))


def title_of(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def lesson_list(lang: str = DEFAULT) -> list[tuple[str, str]]:
    return [(slug, title_of(path)) for slug, path in lesson_files(lang).items()]


def parse(text: str) -> list[Segment]:
    """Prose and blocks in order; a block's TOML errors name the block."""
    segments: list[Segment] = []
    pos = 0
    for n, match in enumerate(_BLOCK.finditer(text), 1):
        if match.start() > pos:
            segments.append(text[pos:match.start()])
        try:
            data = tomllib.loads(match.group(2))
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{match.group(1)} block {n}: {e}") from None
        segments.append(Block(match.group(1), data))
        pos = match.end()
    if pos < len(text):
        segments.append(text[pos:])
    return [s for s in segments if not isinstance(s, str) or s.strip()]


def blocks(segments: list[Segment]) -> list[Block]:
    return [s for s in segments if isinstance(s, Block)]


def shape(segments: list[Segment]) -> list[tuple[str, dict[str, Any]]]:
    """Each block without its words: what must be identical in every language."""
    out = []
    for b in blocks(segments):
        data = {k: v for k, v in b.data.items() if k not in WORDS}
        if b.kind == "quiz":
            data["n_options"] = len(b.data.get("options", []))
        if "choices" in b.data:
            data["n_choices"] = len(b.data["choices"])
        if b.kind == "sweep" and "runs" in data:  # a run's `name` is words, its label and set are shape
            data["runs"] = [{k: v for k, v in r.items() if k != "name"} for r in data["runs"]]
        out.append((b.kind, data))
    return out


def runs(block: Block) -> dict[str, Scenario]:
    """The scenarios a scenario or sweep block stands for, by label ("" for a scenario block).

    Raises ScenarioError (or KeyError for a missing key) with the field named.
    """
    data = block.data
    if "preset" not in data:
        raise ScenarioError(f"{block.kind} {block.id!r}: preset is missing")
    if data["preset"] not in preset_names():
        raise ScenarioError(f"preset = {data['preset']!r}: no such preset")
    base = apply(load_preset(data["preset"]), list(data.get("set", [])))
    if block.kind == "scenario":
        return {"": base}
    if "vary" in data:
        return {_label(v): apply(base, [f"{data['vary']}={literal(v)}"]) for v in data.get("values", [])}
    return {str(r["label"]): apply(base, list(r.get("set", []))) for r in data.get("runs", [])}


def _label(value: Any) -> str:
    return literal(value).replace(".", "_")


def problems(segments: list[Segment]) -> list[str]:
    """Everything wrong with a lesson's blocks, one line each (empty when it is sound)."""
    out: list[str] = []
    ids: set[str] = set()
    run_labels: dict[str, list[str]] = {}   # what a placeholder may name, without running
    for n, b in enumerate(blocks(segments), 1):
        where = f"{b.kind} block {n}"
        if not b.id:
            out.append(f"{where}: id is missing")
        elif b.id in ids:
            out.append(f"{where}: id {b.id!r} is used twice")
        ids.add(b.id)
        for key in ("controls", "metrics", "set", "values", "options", "feedback", "runs", "choices",
                    "claims"):
            if key in b.data and not isinstance(b.data[key], list):
                out.append(f"{where}: {key} must be a list")
        for key in ("question", "preset", "vary"):
            if key in b.data and not isinstance(b.data[key], str):
                out.append(f"{where}: {key} must be text")
        texts = ("controls", "metrics", "set", "options", "feedback", "choices", "claims")
        lists = [value for key in texts if isinstance(value := b.data.get(key), list)]
        if any(not isinstance(x, str) for value in lists for x in value):
            out.append(f"{where}: controls, metrics, set, options, feedback, choices and claims "
                       f"hold text only")
            continue
        labels = [str(r.get("label", "")) for r in b.data.get("runs") or [] if isinstance(r, dict)]
        if len(labels) != len(set(labels)) or "" in labels:
            out.append(f"{where}: every run needs its own label")
        if b.kind in ("scenario", "sweep"):
            try:
                scenarios = runs(b)
            except (ScenarioError, KeyError, TypeError) as e:
                out.append(f"{where}: {e}")
                continue
            if b.kind == "sweep" and len(scenarios) < 2:
                out.append(f"{where}: a sweep needs at least two runs")
            if b.kind == "scenario" and not b.data.get("question"):
                out.append(f"{where}: question is missing (predict before you run)")
            if b.data.get("question") and "predict" not in b.data:
                out.append(f"{where}: a question needs `predict` (which figure answers it, and how)")
            if "predict" in b.data:
                out += [f"{where}: predict: {p}" for p in predict_problems(b, list(scenarios))]
            run_labels[b.id] = list(scenarios)
            if not scenarios:
                continue
            for path in b.data.get("metrics") or []:
                if path not in MEASURES:
                    out.append(f"{where}: metrics: {path!r} is not a figure a run reports "
                               f"(see sim/measures.py)")
            first = next(iter(scenarios.values()))
            for path in b.data.get("controls") or []:
                try:
                    field_spec(first, path)
                except KeyError:
                    out.append(f"{where}: controls: {path!r} is not a setting of this scenario's "
                               f"{first.pool.kind} pool or sections (list items cannot be controls)")
        elif b.kind == "quiz":
            options, feedback = b.data.get("options", []), b.data.get("feedback", [])
            answer = b.data.get("answer")
            if not b.data.get("question"):
                out.append(f"{where}: question is missing")
            if len(options) < 2:
                out.append(f"{where}: options needs at least two answers")
            if len(feedback) != len(options):
                out.append(f"{where}: feedback needs one line per option ({len(options)})")
            if not isinstance(answer, int) or not 0 <= answer < len(options):
                out.append(f"{where}: answer = {answer!r}: must be an option's index, "
                           f"0 to {len(options) - 1}")
    for text in (text for s in segments for text in words(s)):
        for match in PLACEHOLDER.finditer(text):
            for path in filter(None, match.group(1, 2)):
                try:
                    locate(run_labels, path)
                except KeyError as e:
                    out.append(e.args[0])
    for n, b in enumerate(blocks(segments), 1):
        paths = [p for c in b.data.get("claims", []) for p in claim_paths(c, f"{b.kind} block {n}", out)]
        spec = b.data.get("predict")
        if isinstance(spec, dict) and isinstance(spec.get("of"), str):
            paths.append(spec["of"])
        for path in paths:
            try:
                locate(run_labels, path)
            except KeyError as e:
                out.append(f"{b.kind} block {n}: {e.args[0]}")
    return out


def predict_problems(block: Block, labels: list[str]) -> list[str]:
    """What is wrong with a block's `predict` table and its `choices`, without running anything."""
    spec, choices = block.data["predict"], block.data.get("choices")
    if not isinstance(spec, dict):
        return ["must be a table, e.g. { metric = \"connects\" }"]
    out = [f"{key!r} is not a predict setting (metric, of, bounds, pick, run)"
           for key in spec if key not in ("metric", "of", "bounds", "pick", "run")]
    if spec.get("metric") not in MEASURES:
        out.append(f"metric = {spec.get('metric')!r} is not a figure a run reports (see sim/measures.py)")
    bounds = spec.get("bounds")
    if bounds is not None:
        if (not isinstance(bounds, list) or not bounds or any(not isinstance(x, int | float) for x in bounds)
                or sorted(bounds) != bounds or len(set(bounds)) != len(bounds)):
            out.append("bounds must be numbers in increasing order")
        elif not isinstance(choices, list) or len(choices) != len(bounds) + 1:
            out.append(f"choices needs one answer per range: {len(bounds) + 1} for {len(bounds)} bounds")
    elif choices is not None:
        out.append("choices without bounds: say where one answer ends and the next begins")
    if block.kind == "sweep":
        if ("pick" in spec) == ("run" in spec):
            out.append("a sweep's prediction names either the run it asks about (run) or what to pick (pick)")
        if "pick" in spec and (spec["pick"] not in PICKS or bounds is not None or "of" in spec):
            out.append(f"pick must be one of {', '.join(PICKS)}, without bounds or of")
        if "run" in spec and str(spec["run"]) not in labels:
            out.append(f"run = {spec['run']!r}: the sweep has no such run (its runs: {', '.join(labels)})")
    elif "pick" in spec or "run" in spec:
        out.append("pick and run belong to a sweep's prediction")
    return out


@dataclass(frozen=True)
class Side:
    """One side of a claim: `factor * figure`, or a number."""

    factor: float
    figure: str | None     # a placeholder path; None for a number
    number: float = 0.0

    def value(self, figs: Figures) -> float | None:
        found = self.number if self.figure is None else lookup(figs, self.figure)
        return None if found is None else self.factor * found


def claim_parts(claim: object) -> tuple[Side, str, Side] | None:
    """A claim's two sides and its comparison; None when it is not `[k *] figure < [k *] figure`."""
    match = CLAIM.match(claim) if isinstance(claim, str) else None
    if match is None:
        return None
    k1, a, op, k2, b = match.groups()
    return _side(k1, a), op, _side(k2, b)


def _side(factor: str | None, text: str) -> Side:
    try:
        return Side(float(factor or 1), None, float(text))
    except ValueError:
        return Side(float(factor or 1), text)


def claim_paths(claim: object, where: str, out: list[str]) -> list[str]:
    """The figures a claim compares; a line in `out` when it is not `[k *] figure < [k *] figure`."""
    parts = claim_parts(claim)
    if parts is None:
        out.append(f"{where}: claims: {claim!r} is not `figure < figure` "
                   f"(or >, <=, >=, with an optional `2 *`)")
        return []
    return [side.figure for side in (parts[0], parts[2]) if side.figure is not None]


def claim_holds(claim: str, figs: Figures) -> bool | None:
    """Whether a claim is true of these runs; None when a figure it compares does not apply."""
    parts = claim_parts(claim)
    if parts is None:
        raise ValueError(f"claims: {claim!r} is not `figure < figure`")
    left, op, right = parts[0].value(figs), parts[1], parts[2].value(figs)
    if left is None or right is None:
        return None
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


def false_claims(segments: list[Segment], figs: Figures) -> list[str]:
    """Every claim the runs do not bear out, with its block: what the checker refuses."""
    return [f"{b.kind} {b.id!r}: claims: {c!r} is false for the runs as written"
            for b in blocks(segments) for c in b.data.get("claims", []) if claim_holds(c, figs) is False]


@dataclass(frozen=True)
class Answer:
    """What a block's prediction is checked against: the figure, and which choice or run it makes right."""

    value: float | None            # the figure (a share when `of` is set; None when it does not apply)
    right: int | str | None        # the right choice's index, or the picked run's label; None for a number
    figures: dict[str, float | None] = field(default_factory=dict)   # a pick's figure per run


def answer(block: Block, figs: Figures) -> Answer:
    """The answer to a block's `predict` in these runs (the learner's own, once a slider moved)."""
    spec = block.data["predict"]
    figure = measure(spec["metric"])
    if "pick" in spec:
        per_run = {label: figure.read(m) for label, m in figs[block.id].items()}
        known = {k: v for k, v in per_run.items() if v is not None}
        best = (min if spec["pick"] == "lowest" else max)(known, key=known.__getitem__) if known else None
        return Answer(known.get(best) if best is not None else None, best, per_run)
    value = figure.read(figs[block.id][str(spec.get("run", ""))])
    if value is not None and "of" in spec:
        whole = lookup(figs, spec["of"])
        value = value / whole if whole else None
    if value is None or "bounds" not in spec:
        return Answer(value, None)
    return Answer(value, sum(value >= bound for bound in spec["bounds"]))


def pick_margin(block: Block, figs: Figures) -> str | None:
    """Why a sweep's `pick` is too close to call as written, or None when its winner is clear."""
    spec = block.data.get("predict") or {}
    if "pick" not in spec:
        return None
    found = answer(block, figs)
    values = sorted(v for v in found.figures.values() if v is not None)
    if len(values) < 2:
        return f"{block.id!r}: pick needs the figure in at least two runs"
    best, second = (values[0], values[1]) if spec["pick"] == "lowest" else (values[-1], values[-2])
    if abs(second - best) <= PICK_MARGIN * max(abs(best), abs(second)):
        return (f"{block.id!r}: pick {spec['pick']} {spec['metric']}: {best} against {second} "
                f"is too close to call")
    return None


def explanation(text: str) -> tuple[str, str]:
    """A prose segment after a block, split into the block's explanation and what follows its next heading."""
    match = re.search(r"^#", text, re.M)
    return (text, "") if match is None else (text[:match.start()], text[match.start():])


def cited(block_id: str, texts: list[str]) -> list[str]:
    """The figures of a block that these texts cite, as registry paths, in order of first mention."""
    out: list[str] = []
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            for path in filter(None, match.group(1, 2)):
                head, _, rest = path.partition(".")
                if head == block_id and rest not in out:
                    out.append(rest)
    return out


def figures(segments: list[Segment], metrics_of: Callable[[Scenario], Metrics]) -> Figures:
    """The metrics of every scenario and sweep block as written, by id and run label."""
    return {b.id: {label: metrics_of(s) for label, s in runs(b).items()}
            for b in blocks(segments) if b.kind in ("scenario", "sweep")}


def locate(labels: Mapping[str, Collection[str]], path: str) -> tuple[str, str, Measure]:
    """`block.figure` or `sweep.label.figure` as (block id, run label, figure), given each block's run labels.

    KeyError naming the placeholder when the block, the run or the figure does not exist.
    """
    block, _, rest = path.partition(".")
    if block not in labels:
        raise KeyError(f"{{{{{path}}}}}: no scenario or sweep {block!r} in this lesson")
    label = ""
    if "" not in labels[block]:
        label, _, rest = rest.partition(".")
        if label not in labels[block]:
            raise KeyError(f"{{{{{path}}}}}: sweep {block!r} has no run {label!r} "
                           f"(its runs: {', '.join(labels[block])})")
    try:
        return block, label, measure(rest)
    except KeyError as e:
        raise KeyError(f"{{{{{path}}}}}: {e.args[0]}") from None


def lookup(figs: Figures, path: str) -> int | float | None:
    """The figure a placeholder names (`locate`), read from its run; None where the run has none
    (no request waited; Erlang C does not fit this pool)."""
    block, label, figure = locate(figs, path)
    return figure.read(figs[block][label])


def fill(text: str, figs: Figures, number: Callable[[float, int], str],
         percent: Callable[[float], str], noun: Callable[[str, float, str], str] | None = None) -> str:
    """The prose with every {{placeholder}} replaced by its figure, formatted for the language.

    `noun(name, value, written)` writes a count with its noun (`{{x.completed|request}}`); without
    it the number stands alone.
    """
    def one(match: re.Match[str]) -> str:
        value = lookup(figs, match.group(1))
        below = lookup(figs, match.group(2)) if match.group(2) else 1
        if value is None or below is None or not below or math.isnan(value):
            return "–"   # a figure that does not apply to this run (no waits, nothing to divide by)
        if match.group(2):
            value = value / below
        spec = match.group(3)
        if spec == "%":
            return percent(float(value))
        digits = int(spec) if spec else (0 if isinstance(value, int) else 1)
        written = number(value, digits)
        return noun(match.group(4), value, written) if match.group(4) and noun else written
    return PLACEHOLDER.sub(one, text)


def nouns(segments: list[Segment]) -> set[str]:
    """The nouns a lesson's placeholders count (`|request`): each must be in the language's catalog."""
    return {m.group(4) for s in segments for text in words(s) for m in PLACEHOLDER.finditer(text)
            if m.group(4)}


def quiz_orders(slug: str, segments: list[Segment]) -> dict[str, list[int]]:
    """Each quiz's options in the order shown, by quiz id: the same in every language.

    Written with the answer where it was easiest to write, an option list
    would give the answer away by its place. So the right option goes to
    place (lesson number + the quiz's index in the lesson) mod the number of
    options, which spreads the answers over every place across the course,
    and the others are shuffled with a seed of the lesson and the quiz's id,
    so a link, a screenshot and a test see the same order every time.
    """
    number = int(slug.split("-", 1)[0]) if slug.split("-", 1)[0].isdigit() else 0
    out: dict[str, list[int]] = {}
    for k, b in enumerate(b for b in blocks(segments) if b.kind == "quiz"):
        n, answer = len(b.data["options"]), b.data["answer"]
        others = [i for i in range(n) if i != answer]
        random.Random(f"{slug}/{b.id}").shuffle(others)
        others.insert((number + k) % n, answer)
        out[b.id] = others
    return out


def words(segment: Segment) -> list[str]:
    """The texts a learner reads in a segment: prose, or a block's question, options and feedback."""
    if isinstance(segment, str):
        return [segment]
    out: list[str] = []
    for key in WORDS:
        value = segment.data.get(key)
        out += value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return out


def placeholders(segments: list[Segment]) -> list[str]:
    """Every placeholder a learner would see filled, as written."""
    return [m.group(0) for s in segments for text in words(s) for m in PLACEHOLDER.finditer(text)]


def glossary(lang: str) -> dict[str, dict[str, str]]:
    """id -> {"term", "definition"} from `lessons/<lang>/glossary.toml`, English where a field is missing."""
    out: dict[str, dict[str, str]] = {}
    for code in (DEFAULT, lang):
        path = LESSONS_DIR / code / "glossary.toml"
        try:
            entries = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except tomllib.TOMLDecodeError:
            continue   # a broken translation falls back to English; the tests catch it
        for key, entry in entries.items():
            if isinstance(entry, dict):
                out[key] = {**out.get(key, {}), **{k: str(v) for k, v in entry.items()}}
    return {k: v for k, v in out.items() if v.get("term") and v.get("definition")}


def simulated_metrics(scenario: Scenario) -> Metrics:
    from sim.metrics import summarize_run
    from sim.model import run
    return summarize_run(run(scenario))


def main(argv: list[str]) -> int:
    """`python -m app.lessons FILE...`: each lesson's problems, then its prose with the figures filled in."""
    status = 0
    for name in argv:
        segments = parse(Path(name).read_text(encoding="utf-8"))
        found = problems(segments)
        for line in found:
            print(f"{name}: {line}")
        if found:
            status = 1
            continue
        figs = figures(segments, simulated_metrics)
        lang = Path(name).resolve().parent.name   # lessons/<lang>/<slug>.md: its nouns' language
        noun = functools.partial(counted, lang if lang in LANGUAGES else DEFAULT)
        wrong = false_claims(segments, figs)
        wrong += [why for b in blocks(segments) if (why := pick_margin(b, figs))]
        for line in wrong:
            print(f"{name}: {line}")
            status = 1
        print(f"==== {name}")
        for segment in segments:
            readable = isinstance(segment, str) or segment.kind == "quiz"
            try:
                print("\n".join(fill(text, figs, lambda v, d: f"{v:,.{d}f}", lambda v: f"{v:.1%}", noun)
                                for text in words(segment)) if readable or isinstance(segment, str)
                      else f"[{segment.kind} {segment.id}]")
            except KeyError as e:
                print(f"{name}: {e.args[0]}")
                status = 1
    return status


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))

