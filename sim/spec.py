"""What a scenario field may hold, said beside the field: read by the validator, the controls, the docs.

Its own module because the pool libraries' settings live with each library's
model (`sim/pools/<library>.py`) while the rest of the scenario lives in
`sim.scenario`, and both describe their fields the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class ScenarioError(ValueError):
    """An invalid scenario, explained in one line that names the field."""


@dataclass(frozen=True)
class Spec:
    """What a field may hold; read by the validator, the UI and the docs."""

    type: type
    lo: float | None = None
    hi: float | None = None           # for text: its longest length
    choices: tuple[str, ...] = ()
    unit: str = ""
    doc: str = ""
    off: float | None = None          # a value outside lo..hi that means "disabled"
    optional: bool = False            # None allowed (omitted in TOML): "no limit"
    slider_max: float | None = None   # where a slider for it ends by default (a value beyond widens it)


def setting(default: Any, type_: type, lo: float | None = None, hi: float | None = None, *,
            unit: str = "", doc: str = "", choices: tuple[str, ...] = (), off: float | None = None,
            optional: bool = False, slider_max: float | None = None) -> Any:
    """A dataclass field with its spec."""
    spec = Spec(type_, lo, hi, choices, unit, doc, off, optional, slider_max)
    return field(default=default, metadata={"spec": spec})


def specs(cls: type) -> dict[str, Spec]:
    """The validated fields of a section, in declaration order."""
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls) if "spec" in f.metadata}
