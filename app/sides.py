"""Side B of "A against B": side A with a few settings changed, held as those changes.

B is kept as `key=value` assignments on top of A (what a link carries as
`b=pool.pool_size=20`), not as a scenario of its own: change A in the
playground and B follows, with the same seed, so the two runs differ only by
what B changes. Pure functions; the race page does the Streamlit part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.state import MAX_SET_CHARS, MAX_SETS, apply, flatten, overrides
from sim.scenario import Scenario, ScenarioError, show

UNSHOWN = ("name", "description", "scenes")   # words, not settings: never in a panel's title
LISTS = ("faults", "workload.phases")          # a table: named once, by its length


SAME_SEED = "seed: B always runs on A's seed, so that only the settings differ"


def changed(a: Scenario, sets: list[str], same_seed: str = SAME_SEED
            ) -> tuple[Scenario, list[str], list[str]]:
    """B (A with each assignment that applies), the assignments kept, and one line for each left out.

    A link typed by hand, or written for another A (another pool library),
    still opens: a bad assignment is left out and said, never raised. The
    seed is A's whatever B says (`same_seed` says so), or the two runs would
    differ by their passengers too.
    """
    problems: list[str] = []
    if len(sets) > MAX_SETS:
        problems.append(f"b: {len(sets)} assignments; a link may carry {MAX_SETS}, the rest are left out")
        sets = sets[:MAX_SETS]
    b = a
    for assignment in sets:
        if assignment.partition("=")[0].strip() == "seed":
            problems.append(same_seed)
            continue
        if len(assignment) > MAX_SET_CHARS:
            problems.append(f"b = {show(assignment)}: longer than {MAX_SET_CHARS:,} characters, left out")
            continue
        try:
            b = apply(b, [assignment])
        except ScenarioError as e:
            problems.append(str(e))
    return b, overrides(b, a), problems


def differences(a: Scenario, b: Scenario) -> list[str]:
    """The settings B has otherwise than A, by path (a changed table once, by its own path)."""
    mine, theirs = flatten(a.to_dict()), flatten(b.to_dict())
    out: list[str] = []
    for path in dict.fromkeys([*mine, *theirs]):
        if path.split(".")[0] in UNSHOWN or mine.get(path, None) == theirs.get(path, None):
            continue
        path = next((table for table in LISTS if path == table or path.startswith(table + ".")), path)
        if path not in out:
            out.append(path)
    return out


def titles(a: Scenario, b: Scenario, show_value: Callable[[Any], str], most: int = 3,
           more: Callable[[int], str] = lambda n: f"+{n}") -> tuple[str, str] | None:
    """Each side's title: "pool_size 10 · max_overflow 10" and "pool_size 20 · max_overflow 0".

    None when B is the same as A. The settings by their own names (the last
    part of the path), at most `most` of them, then `more(n)` for the others.
    """
    paths = differences(a, b)
    if not paths:
        return None
    flat_a, flat_b = flatten(a.to_dict()), flatten(b.to_dict())

    def title(flat: dict[str, Any]) -> str:
        parts = [f"{path.rsplit('.', 1)[-1]} {_value(flat, path, show_value)}" for path in paths[:most]]
        if len(paths) > most:
            parts.append(more(len(paths) - most))
        return " · ".join(parts)

    return title(flat_a), title(flat_b)


def _value(flat: dict[str, Any], path: str, show_value: Callable[[Any], str]) -> str:
    if path in LISTS:   # a table: its number of rows
        rows = {key[len(path) + 1:].split(".")[0] for key in flat if key.startswith(path + ".")}
        return show_value(len(rows))
    return show_value(flat[path]) if path in flat else "–"
