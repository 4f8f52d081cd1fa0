"""The most one live run may ask of this machine, checked before any server work.

A live run plays every request on a real PostgreSQL, in this process's event
loop: a scenario of a day at 100,000 requests a second would fill the memory,
starve the loop so that Stop no longer gets through, and hold a server (or
somebody's real one) for as long. The simulation runs far bigger scenarios in
seconds, so the live lab states its own limits (`sim.budget` for the work,
plus wall time and connections here) and points there for more. Every entry
(the command line, the web app's worker) goes through `check_run`, via
`live.runner.check`.
"""

from __future__ import annotations

import math

from live.server import LiveError
from sim.budget import Limit, check
from sim.scenario import Scenario, ScenarioError

ADVICE = ("The live lab plays every request on a real server; bigger runs go to the simulation "
          "(python -m sim run).")
LIVE_LIMIT = Limit(units=60_000, rate_per_instance=500.0, advice=ADVICE)   # every preset is under 50,300
MAX_WALL_S = 900.0                  # duration_s / time scale: the longest a run holds its server
MAX_SANDBOX_CONNECTIONS = 1_000     # database.max_connections on the lab's own server
MAX_CLIENT_CONNECTIONS = 400        # app.instances x the most each instance's pool opens
TIME_SCALE = (0.1, 100.0)           # --time-scale
SAMPLES = (1, 1_000)                # calibrate --samples, a measurement's samples
CONNECT_TIMEOUT_S = 5.0             # the pre-flight connect's default (asyncpg's own is 60 s)
CONNECT_TIMEOUT = (0.1, 120.0)      # --connect-timeout



class LimitError(LiveError, ScenarioError):
    """A run beyond the live lab's limits, or an option out of its range (one line, naming the field).

    Both a LiveError (the web app shows it as it is) and a ScenarioError (invalid input, exit status 2).
    """


def check_run(scenario: Scenario, time_scale: float = 1.0, max_requests: int | None = None) -> None:
    """Raise LimitError when this run is beyond what the live lab takes (one line with the numbers)."""
    check_time_scale(time_scale)
    if max_requests is not None and max_requests < 1:
        raise LimitError(f"--requests = {max_requests}: must be a whole number of at least 1")
    try:
        check(scenario, LIVE_LIMIT, max_requests)
    except ScenarioError as e:
        raise LimitError(str(e)) from None
    wall = scenario.duration_s / time_scale
    if wall > MAX_WALL_S:
        raise LimitError(
            f"duration_s = {scenario.duration_s:g} at --time-scale {time_scale:g} is {wall:,.0f} s of wall "
            f"clock; the live lab runs at most {MAX_WALL_S:g} s: lower duration_s or raise --time-scale "
            f"(up to {TIME_SCALE[1]:g}). {ADVICE}")
    db = scenario.database
    if db.max_connections > MAX_SANDBOX_CONNECTIONS:
        raise LimitError(f"database.max_connections = {db.max_connections}: the live lab's server takes "
                         f"from 1 to {MAX_SANDBOX_CONNECTIONS:,}. {ADVICE}")
    cap = scenario.pool.cap
    per_instance = db.max_connections if cap is None else min(cap, db.max_connections)
    instances = scenario.app.instances
    if instances * per_instance > MAX_CLIENT_CONNECTIONS:
        names = scenario.pool.size_names
        field = ("database.max_connections" if cap is None
                 else " + ".join(f"pool.{n.strip()}" for n in names[1].split("+")) if names is not None
                 else "the pool's size")
        why = " (no pool limits an instance's connections)" if cap is None else ""
        raise LimitError(
            f"app.instances x {field} = {instances} x {per_instance} = {instances * per_instance} "
            f"connections{why}; the live lab opens at most {MAX_CLIENT_CONNECTIONS}: lower app.instances "
            f"or {field}. {ADVICE}")


def check_time_scale(time_scale: float) -> None:
    low, high = TIME_SCALE
    if not (math.isfinite(time_scale) and low <= time_scale <= high):
        raise LimitError(f"--time-scale = {time_scale:g}: must be a number from {low:g} to {high:g}")


def check_samples(samples: int) -> None:
    low, high = SAMPLES
    if not low <= samples <= high:
        raise LimitError(f"--samples = {samples}: must be a whole number from {low} to {high:,}")


def check_connect_timeout(seconds: float) -> None:
    low, high = CONNECT_TIMEOUT
    if not (math.isfinite(seconds) and low <= seconds <= high):
        raise LimitError(f"--connect-timeout = {seconds:g}: must be a number of seconds "
                         f"from {low:g} to {high:g}")
