"""How much work a run will be, known before it starts, and the most each entry point accepts.

A scenario can ask for 86,400 s at 100,000 requests a second: billions of
requests, which would fill the memory of whatever runs them, and on a shared
web server take everybody's time. So each entry point (the command line, the
web app's model runs, the live lab) states a `Limit`, and `check` refuses a
run beyond it before any work is done, naming the numbers and what to change.

The estimate is the schedule's expected arrivals (rate times the length of each
phase), or `max_requests` where that caps them; plus the connections the pools
keep (a connect each at start), and their upkeep over the run: a pool may
retire and replace, or ping, each kept connection and run a housekeeper of its
own as often as every 30 s (HikariCP's shortest lifetime and keepalive, its
housekeeping period), and a day of that over thousands of connections costs
more than the traffic. It is an upper bound for every kind, which is what a
limit needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import Scenario, ScenarioError
from sim.workload import segments

UPKEEP_PERIOD_S = 30.0   # the shortest period at which any modelled pool does work on a kept connection


@dataclass(frozen=True)
class Work:
    """What a run is expected to do."""

    requests: float       # expected arrivals over the whole run
    connections: int      # kept by the pools (opened at start), over every instance
    upkeep: float         # their renewals, pings and the pools' housekeeping over the run (an upper bound)
    peak_rate: float      # the highest arrival rate of the schedule (all instances, per second)
    instances: int
    retries: int = 0      # each request may try this many more times (workload.retries): an upper bound

    @property
    def units(self) -> float:
        return self.requests * (1 + self.retries) + self.connections + self.upkeep

    @property
    def peak_rate_per_instance(self) -> float:
        return self.peak_rate / self.instances


def work(scenario: Scenario, max_requests: int | None = None) -> Work:
    """The expected work of this scenario's run (`max_requests` as the command line's `--requests`)."""
    schedule = segments(scenario, open_ended=False)
    expected = sum(rate * (end - start) for start, end, rate in schedule)
    if max_requests is not None:
        last_rate = schedule[-1][2] if schedule else 0.0
        # arrivals stop after max_requests; a schedule that ends first goes on at its last rate
        expected = float(max_requests) if last_rate > 0 else min(expected, float(max_requests))
    rates = [rate for _, _, rate in schedule] or [0.0]
    instances = scenario.app.instances
    kept = instances * scenario.pool.base
    upkeep = (kept + instances) * scenario.duration_s / UPKEEP_PERIOD_S
    return Work(expected, kept, upkeep, max(rates), instances, scenario.workload.retries)


class TooMuchWork(ScenarioError):
    """A run beyond an entry point's limit; carries the figures, for a message in the reader's language."""

    def __init__(self, message: str, work: Work, limit: Limit) -> None:
        super().__init__(message)
        self.work = work
        self.limit = limit


@dataclass(frozen=True)
class Limit:
    """The most one entry point runs; `advice` says where to go for more (one sentence)."""

    units: float                            # expected requests + connections kept + their upkeep
    rate_per_instance: float | None = None  # arrivals per second at one instance (the live lab)
    advice: str = ""


def check(scenario: Scenario, limit: Limit, max_requests: int | None = None) -> Work:
    """The run's work if it is within `limit`; else ScenarioError naming the numbers (one line)."""
    w = work(scenario, max_requests)
    if w.units > limit.units:
        what = f"about {_n(w.requests)} requests"
        if w.retries:
            what += f" of up to {w.retries + 1} attempts each"
        lower = ["workload.rate_per_s", "duration_s"] + (["--requests"] if max_requests is not None else [])
        if w.connections:
            pools = f"{w.instances} pool{'s' if w.instances > 1 else ''}"
            what += (f", {_n(w.connections)} connections kept by {pools} and up to {_n(w.upkeep)} steps "
                     f"of their upkeep over {_n(scenario.duration_s)} s")
            lower.append("the pools' sizes")
        raise TooMuchWork(
            f"this run would be {what}, {_n(w.units)} in all; the limit here is {_n(limit.units)}. "
            f"Lower {', '.join(lower[:-1])} or {lower[-1]}. {limit.advice}".strip(), w, limit)
    if limit.rate_per_instance is not None and w.peak_rate_per_instance > limit.rate_per_instance:
        over = f"{w.instances} instance{'s' if w.instances > 1 else ''}"
        raise TooMuchWork(
            f"workload.rate_per_s: up to {_n(w.peak_rate)} requests/s over {over} is "
            f"{_n(w.peak_rate_per_instance)}/s at one instance; the limit here is "
            f"{_n(limit.rate_per_instance)}/s per instance. {limit.advice}".strip(), w, limit)
    return w


def _n(x: float) -> str:
    return f"{round(x):,}"
