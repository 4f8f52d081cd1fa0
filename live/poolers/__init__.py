"""Real connection poolers that stand between the app's pools and the server for a live run.

The registry is the only place that lists them; the runner asks it, by the
scenario's `pooler.kind`, for the pooler's process, its settings as that run
writes them, the driver arguments it needs, and how to name its failures.
"""

from __future__ import annotations

from live.poolers import pgbouncer
from sim.scenario import Scenario
from sim.trace import Why

LIVE_POOLERS = {"pgbouncer": pgbouncer}


def unavailable(scenario: Scenario) -> str | None:
    """Why this scenario's pooler cannot run here (one line), or None (also when it has none)."""
    if not scenario.pooler.present:
        return None
    why = LIVE_POOLERS[scenario.pooler.kind].available()
    return f"pooler.kind = {scenario.pooler.kind}: {why}" if why else None


def reason(exc: BaseException) -> Why | None:
    """A failure a pooler caused, as the trace names it; None when no pooler's."""
    for module in LIVE_POOLERS.values():
        why = module.reason(exc)
        if why is not None:
            return why
    return None
