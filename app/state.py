"""A scenario as the URL and the controls hold it: a preset plus the fields that differ from it.

A shared link must reopen exactly the same run, and stay short enough to
paste in a chat: so the URL says `?preset=burst-into-overflow&set=pool.pool_size%3D8`,
the same `key=value` overrides as the command line's `--set`, and only the
fields that differ from the preset. Pure functions: the pages do the
Streamlit part.
"""

from __future__ import annotations

from typing import Any

from sim.scenario import (
    App,
    Database,
    Hold,
    Scenario,
    ScenarioError,
    Spec,
    Workload,
    from_dict,
    in_any_order,
    load_preset,
    preset_names,
    show,
    specs,
)

DEFAULT_PRESET = "burst-into-overflow"
MAX_SETS = 64           # assignments a link may carry (a scenario has about 40 fields)
MAX_SET_CHARS = 2_000   # one assignment's length


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """{"pool.pool_size": 5, "faults.0.kind": "restart", ...} from a scenario's dict form."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out |= flatten(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out |= flatten(value, f"{prefix}{i}.")
        if not node:
            out[prefix[:-1]] = []
    else:
        out[prefix[:-1]] = node
    return out


def overrides(scenario: Scenario, base: Scenario) -> list[str]:
    """`key=value` assignments that turn `base` into `scenario`."""
    out = []
    if scenario.pool.kind != base.pool.kind:  # another library: start from its defaults
        out.append(f"pool.kind={scenario.pool.kind}")
        base = base.with_overrides(out)
    mine, theirs = flatten(scenario.to_dict()), flatten(base.to_dict())
    for key, value in mine.items():
        if theirs.get(key, object()) != value:
            out.append(f"{key}={literal(value)}")
    for key in theirs:
        if key not in mine and not key.startswith(("faults.", "workload.phases.")):
            out.append(f"{key}=none")
    # a list that got shorter: say so by its new length
    for section in ("faults", "workload.phases"):
        n_mine = _list_len(mine, section)
        if n_mine < _list_len(theirs, section):
            out.append(f"{section}.count={n_mine}")
    return out


def _list_len(flat: dict[str, Any], section: str) -> int:
    if flat.get(section) == []:
        return 0
    indexes = {int(k[len(section) + 1:].split(".")[0]) for k in flat if k.startswith(section + ".")}
    return max(indexes) + 1 if indexes else 0


def literal(value: Any) -> str:
    """A value as a `key=value` assignment writes it (TOML booleans, not Python's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_url(preset: str | None, sets: list[str]) -> tuple[Scenario, str, list[str]]:
    """The scenario a link describes, its preset, and the problems found (one line each).

    A bad preset falls back to the default one and a bad assignment is left
    out, each with its message: a link typed by hand should open something.
    """
    problems: list[str] = []
    name = preset if preset in preset_names() else DEFAULT_PRESET
    if preset and preset != name:
        problems.append(f"preset = {show(preset)}: no such preset (see the list of presets)")
    scenario = load_preset(name)
    if len(sets) > MAX_SETS:
        problems.append(f"set: {len(sets)} assignments; a link may carry {MAX_SETS}, the rest are left out")
        sets = sets[:MAX_SETS]
    fit = []
    for assignment in sets:
        if len(assignment) > MAX_SET_CHARS:
            problems.append(f"set = {show(assignment)}: longer than {MAX_SET_CHARS:,} characters, left out")
        else:
            fit.append(assignment)
    scenario, refused = in_any_order(scenario, fit, lambda s, a: apply(s, [a]))
    return scenario, name, problems + [message for _, message in refused]


def apply(scenario: Scenario, assignments: list[str]) -> Scenario:
    """`with_overrides`, plus `faults.count=N` / `workload.phases.count=N` to shorten a list."""
    plain = []
    raw = scenario.to_dict()
    for a in assignments:
        key, _, value = a.partition("=")
        if key in ("faults.count", "workload.phases.count"):
            try:
                n = int(value)
            except ValueError:
                raise ScenarioError(f"{key} = {value!r}: must be a whole number") from None
            section = raw if key == "faults.count" else raw.setdefault("workload", {})
            name = "faults" if key == "faults.count" else "phases"
            section[name] = section.get(name, [])[:max(n, 0)]
        else:
            plain.append(a)
    scenario = from_dict(raw)
    return scenario.with_overrides(plain) if plain else scenario


def field_spec(scenario: Scenario, path: str) -> Spec:
    """The spec of a dotted field path in this scenario (the pool's own kind for pool.*)."""
    section, _, name = path.rpartition(".")
    owners: dict[str, type] = {"": Scenario, "workload": Workload, "workload.hold": Hold,
                               "database": Database, "app": App, "pool": type(scenario.pool),
                               "pooler": type(scenario.pooler)}
    cls = owners.get(section)
    if cls is None or name not in specs(cls):
        raise KeyError(path)
    return specs(cls)[name]
