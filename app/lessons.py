"""Lessons: Markdown files with scenarios (and quizzes) embedded as fenced TOML blocks.

A lesson is prose a teacher can edit without touching code. A block

    ```scenario
    preset = "no-pool"
    set = ["duration_s=10"]
    controls = ["workload.rate_per_s", "database.connect_ms"]
    question = "Which will be faster?"
    ```

is drawn as that scenario with only the named controls, its run, and a
link that opens it in the playground (or the live lab). Pure parsing here;
`app/pages/lessons.py` draws.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.i18n import DEFAULT

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
_BLOCK = re.compile(r"^```(scenario|quiz)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    kind: str                      # "scenario" or "quiz"
    data: dict[str, Any] = field(default_factory=dict)


Segment = str | Block


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
