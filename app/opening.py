"""Opening a scenario that is no preset (a diagnosed incident, a recommended size) in the playground.

The session holds a preset and a scenario, and the URL says the scenario as
that preset plus the fields that differ (`app.state`). A link is read back one
assignment at a time, so not every preset can carry every scenario: against
asyncpg's default max_size of 10, `pool.min_size=14` is refused before
`pool.max_size=14` comes. So the preset is the one, among those whose link
reopens the scenario exactly, that differs from it least (the preferred one
first, when it qualifies).
"""

from __future__ import annotations

from app import frame
from app.state import from_url, overrides
from sim.scenario import Scenario, load_preset, preset_names

PLAYGROUND = "app/pages/playground.py"


def reopens(scenario: Scenario, preset: str) -> bool:
    """Whether the link written against `preset` opens exactly this scenario again."""
    again, _, problems = from_url(preset, overrides(scenario, load_preset(preset)))
    return not problems and again == scenario


def link_preset(scenario: Scenario, prefer: str | None = None) -> str:
    """The preset the scenario's link is written against: `prefer` if its link reopens it, else the
    nearest that does (the fewest differences); `prefer`, or the nearest, when none does."""
    if prefer is not None and reopens(scenario, prefer):
        return prefer
    nearest = sorted(preset_names(), key=lambda name: len(overrides(scenario, load_preset(name))))
    return next((name for name in nearest if reopens(scenario, name)), prefer or nearest[0])


def open_in_playground(scenario: Scenario, prefer: str | None = None) -> None:
    """Make it the session's scenario and go to the playground, whose URL then reopens it."""
    frame.open_scenario(link_preset(scenario, prefer), scenario, PLAYGROUND)


__all__ = ["link_preset", "open_in_playground", "reopens"]
