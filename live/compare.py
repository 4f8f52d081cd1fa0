"""The same scenario simulated and run live, side by side.

The live run goes first and measures what its setup really costs (a connect,
a round trip, through whatever network the scenario describes); the
simulation is then given those costs, and on the sandbox the machine's real
core count where the traffic uses CPU, so the two differ only where the
model and the libraries differ, not in their inputs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from live.limits import CONNECT_TIMEOUT_S
from live.runner import LiveResult, run
from sim.measures import Measure, measure, shown
from sim.metrics import Metrics, summarize, summarize_run
from sim.model import RunResult
from sim.model import run as simulate
from sim.scenario import Scenario

ROWS: list[str] = [
    "requests", "completed", "timed_out", "errors.too_many_clients", "errors.broken", "errors.query_timeout",
    "errors.other", "leaked", "connects", "pings.fail", "p_wait", "wait_ms.p50", "wait_ms.p95", "wait_ms.p99",
    "latency_ms.p50", "latency_ms.p95", "peak.checked_out", "peak.open", "peak.waiting", "peak.server",
    "throughput_per_s",
]
"""The figures (`sim.measures` paths) set side by side, on the command line and the compare page."""

WORKER_ROWS = ["worker_wait_ms.p50", "worker_wait_ms.p95", "peak.worker_queue"]
RETRY_ROWS = ["retries", "retried_completed", "retried_failed"]


def rows_for(*metrics: Any) -> list[str]:
    """ROWS, and the worker and retry figures when a run queued for a worker or retried (else all zero)."""
    used = lambda paths: any(measure(p).read(m) for p in paths for m in metrics)  # noqa: E731
    return ROWS + (WORKER_ROWS if used(WORKER_ROWS) else []) + (RETRY_ROWS if used(RETRY_ROWS) else [])


@dataclass(frozen=True)
class Tolerance:
    """How far a live figure may lie from the simulated one and still agree with it.

    The allowance is the largest of three: a fixed amount in the figure's own
    unit, a share of the simulated value, and a share of the run's requests.
    The fixed amount keeps small values calm (a 0.6 ms difference in a 1 ms
    wait is noise, not a 60% miss); the share of requests measures counts of
    requests against the run's size (3 timeouts in 20 requests is the same
    miss as 150 in 1,000).
    """

    absolute: float = 0.0       # in the figure's unit (ms, connections, a share for shares)
    relative: float = 0.0       # of the simulated value
    of_requests: float = 0.0    # of the requests that arrived

    def allowed(self, sim: float, requests: int) -> float:
        """The largest difference that still agrees, in the figure's unit."""
        return max(self.absolute, self.relative * abs(sim), self.of_requests * max(requests, 1))


OF_REQUESTS = Tolerance(of_requests=0.05)
"""Counts of requests (completed, timed out, errors, leaked, retried): within 5% of the requests."""
TIME = Tolerance(absolute=2.0, relative=0.2)
"""Waits and latencies: within 20% or 2 ms, whichever is more (a scheduler's jitter is a ms or two)."""
ONE = Tolerance(absolute=1.0)
"""Connections at a peak: within one (the pool caps them; timing decides only the last one)."""
SOME = Tolerance(absolute=1.0, relative=0.2)
"""Other counts (connects, failed pings, a queue's peak): within one or 20%, whichever is more."""
POINTS = Tolerance(absolute=0.05)
"""Shares (the share that waited): within 5 percentage points."""
RATE = Tolerance(relative=0.05)
"""Rates (throughput): within 5%, as completed is."""

TOLERANCES: dict[str, Tolerance] = {
    **dict.fromkeys(["requests", "completed", "timed_out", "errors.all", "errors.too_many_clients",
                     "errors.broken", "errors.refused", "errors.query_timeout", "errors.other", "leaked",
                     *(f"errors.{name}" for name in ("query_wait_timeout", "max_client_conn",
                                                     "login_failing", "statement_mode", "prepared_missing",
                                                     "prepared_exists")),
                     "in_flight", "retries", "retried_completed", "retried_failed"], OF_REQUESTS),
    **dict.fromkeys(["peak.checked_out", "peak.open", "peak.server", "peak.overflow", "pooler.sv_active"],
                    ONE),
}
"""The tolerance of each figure (`sim.measures` paths) that has one of its own; the others go by unit."""

BY_UNIT: dict[str, Tolerance] = {"ms": TIME, "s": TIME, "share": POINTS, "per_s": RATE, "count": SOME}


def tolerance(path: str) -> Tolerance:
    """How far live may be from the simulation in the figure at `path`: the one rule for the compare
    page, `python -m live compare` and bench/fidelity.py."""
    return TOLERANCES.get(path) or BY_UNIT[measure(path).unit]


Number = Callable[[float, int], str]

VERDICT_WORDS = {"agrees": "agrees", "differs": "differs by {value}", "points": "{value} percentage points",
                 "missing": "only one run has it"}
"""The verdicts in English, as `python -m live compare` prints them; the app's are in the catalogs."""


Saying = Literal["agrees", "percent", "points", "amount", "missing"]


@dataclass(frozen=True)
class Verdict:
    """One figure of a comparison: both values, the tolerance, and whether they agree."""

    figure: Measure
    sim: int | float | None
    live: int | float | None
    allowed: float              # the tolerance, in the figure's unit

    @property
    def allowance(self) -> int | float:
        """The tolerance as a reader is told it: whole for counts (a count within 13.4 is within 13)."""
        return math.floor(self.allowed + 1e-9) if self.figure.unit == "count" else self.allowed

    @property
    def difference(self) -> int | float | None:
        """live - sim; None when either run lacks the figure."""
        return None if self.sim is None or self.live is None else self.live - self.sim

    @property
    def agrees(self) -> bool:
        d = self.difference
        if d is None:
            return self.sim is None and self.live is None   # neither has it (no waits): nothing differs
        return abs(d) <= self.allowed * (1 + 1e-9) + 1e-12

    @property
    def saying(self) -> tuple[Saying, float | None]:
        """How to say it: agrees; differs by a percentage of the simulated value, by percentage points
        (a share), or by an amount in the figure's unit (when the simulation's value is 0)."""
        d = self.difference
        if self.agrees:
            return "agrees", None
        if d is None or self.sim is None:
            return "missing", None
        if self.figure.unit == "share":
            return "points", abs(d) * 100
        if self.sim == 0:
            return "amount", abs(d)
        return "percent", abs(d) / abs(self.sim)

    def says(self, words: Mapping[str, str] | None = None, number: Number | None = None,
             percent: Number | None = None) -> str:
        """The verdict in words: "agrees", "differs by 12%", "differs by 3" (from 0), "differs by 8.0
        percentage points" (a share), "only one run has it".

        `words` are a catalog's `verdict` texts (English by default); `number(x, digits)` and
        `percent(x, digits)` write numbers as its language does.
        """
        w = {**VERDICT_WORDS, **(words or {})}
        number = number or (lambda x, digits: f"{x:,.{digits}f}")
        percent = percent or (lambda x, digits: f"{x:.{digits}%}")
        saying, x = self.saying
        if saying == "agrees":
            return w["agrees"]
        if x is None:
            return w["missing"]
        if saying == "percent":
            value = percent(x, 0 if x >= 0.1 else 1)
        elif saying == "points":
            value = w["points"].format(value=number(x, 1))
        else:
            value = number(x, 0 if float(x).is_integer() else 2 if x < 10 else 1)
        return w["differs"].format(value=value)


def verdict(path: str, sim: Metrics, live: Metrics) -> Verdict:
    """The figure at `path` in both runs, judged by its tolerance (counts of requests against live's)."""
    figure = measure(path)
    a, b = figure.read(sim), figure.read(live)
    return Verdict(figure, a, b, tolerance(path).allowed(a or 0, live["requests"]))


def verdicts(sim: Metrics, live: Metrics) -> list[Verdict]:
    """The compared figures (`rows_for`), each judged."""
    return [verdict(path, sim, live) for path in rows_for(sim, live)]


def sim_inputs(scenario: Scenario, live: LiveResult) -> Scenario:
    """The scenario with the live run's measured costs, as the simulation should see them."""
    overrides: dict[str, Any] = {}
    if live.costs is not None:
        overrides |= {"database.connect_ms": live.costs.connect_ms, "database.rtt_ms": live.costs.rtt_ms}
    if live.sandbox and scenario.workload.cpu_fraction > 0:
        overrides["database.cores"] = os.cpu_count() or 1
    return scenario.with_overrides(overrides) if overrides else scenario


@dataclass(frozen=True)
class SideBySide:
    """A finished live run beside the simulation of the same scenario, fed the live run's costs."""

    fed: Scenario                   # the scenario as the simulation was given it
    sim: RunResult
    sim_metrics: Metrics
    live_metrics: Metrics
    diff: dict[str, Any]            # live - sim


def side_by_side(live: LiveResult, max_requests: int | None = None) -> SideBySide:
    fed = sim_inputs(live.scenario, live)
    sim = simulate(fed, max_requests)
    sim_metrics = summarize_run(sim)
    live_figures = live_metrics(live)
    return SideBySide(fed, sim, sim_metrics, live_figures, diff(live_figures, sim_metrics))


async def compare(scenario: Scenario, database_url: str | None = None, time_scale: float = 1.0,
                  max_requests: int | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S
                  ) -> dict[str, Any]:
    """{"sim", "live", "diff"} metrics, plus the inputs the simulation was given."""
    live = await run(scenario, database_url=database_url, time_scale=time_scale,
                     max_requests=max_requests, measure_costs=True, connect_timeout_s=connect_timeout_s)
    both = side_by_side(live, max_requests)
    return {"scenario": scenario.name, "sim_database": asdict(both.fed.database),
            "sim": both.sim_metrics, "live": both.live_metrics, "diff": both.diff}


def live_metrics(live: LiveResult) -> Metrics:
    """A live run's metrics, with where and how it ran under "live"."""
    metrics = summarize(live.trace, live.scenario, live.end_s)
    metrics["live"] = live_info(live)
    return metrics


def live_info(live: LiveResult) -> dict[str, Any]:
    return {"server": live.server, "application_name": live.application_name,
            "time_scale": live.time_scale, "wall_seconds": live.wall_seconds, "left_open": live.left_open,
            "costs": None if live.costs is None else live.costs.as_database(),
            "messages": live.messages}   # what its requests really caught, beside the model's texts


def diff(live: Any, sim: Any) -> Any:
    """live - sim for every number both have, in the same nesting; None where either is missing."""
    if isinstance(live, dict) and isinstance(sim, dict):
        return {k: diff(live[k], sim[k]) for k in live if k in sim and k not in ("messages", "theory")}
    if isinstance(live, bool) or isinstance(sim, bool):
        return None
    if isinstance(live, int | float) and isinstance(sim, int | float):
        return live - sim
    return None


def signed(figure: Measure, difference: float | None) -> str:
    """A difference with its sign, and 0 where it rounds to nothing (not "-0.0 per s")."""
    text = shown(figure, None if difference is None else abs(difference))
    if difference is None or not any(ch in "123456789" for ch in text):
        return text if difference is None else "0"
    return ("+" if difference > 0 else "-") + text


def format_comparison(result: dict[str, Any]) -> str:
    sim, live = result["sim"], result["live"]
    info = live["live"]

    db = result["sim_database"]
    judged = verdicts(sim, live)
    width = max(28, *(len(v.figure.label) + 2 for v in judged))
    lines = [f"{result['scenario']} ({sim['pool']}): simulation vs live on {info['server']}",
             f"  simulation given connect_ms {db['connect_ms']:.2f}, rtt_ms {db['rtt_ms']:.2f}, "
             f"cores {db['cores']} (measured on the live setup)",
             f"  {'':{width}}{'sim':>12}{'live':>12}{'live - sim':>12}{'tolerance':>12}  verdict"]
    for v in judged:
        cells = (shown(v.figure, v.sim), shown(v.figure, v.live), signed(v.figure, v.difference))
        lines.append(f"  {v.figure.label:{width}}" + "".join(f"{c:>12}" for c in cells)
                     + f"{'±' + shown(v.figure, v.allowance):>12}  {v.says()}")
    lines.append(f"  live run: {info['wall_seconds']:.1f} s wall clock, time scale {info['time_scale']:g}, "
                 f"connections left on the server: {info['left_open']}")
    return "\n".join(lines)
