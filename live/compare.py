"""The same scenario simulated and run live, side by side.

The live run goes first and measures what its setup really costs (a connect,
a round trip, through whatever network the scenario describes); the
simulation is then given those costs, and on the sandbox the machine's real
core count where the traffic uses CPU, so the two differ only where the
model and the libraries differ, not in their inputs.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from live.limits import CONNECT_TIMEOUT_S
from live.runner import LiveResult, run
from sim.measures import measure, shown
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


def format_comparison(result: dict[str, Any]) -> str:
    sim, live = result["sim"], result["live"]
    info = live["live"]

    db = result["sim_database"]
    lines = [f"{result['scenario']} ({sim['pool']}): simulation vs live on {info['server']}",
             f"  simulation given connect_ms {db['connect_ms']:.2f}, rtt_ms {db['rtt_ms']:.2f}, "
             f"cores {db['cores']} (measured on the live setup)",
             f"  {'':28}{'sim':>12}{'live':>12}{'live - sim':>12}"]
    for path in rows_for(sim, live):
        figure = measure(path)
        a, b = figure.read(sim), figure.read(live)
        d = None if a is None or b is None else b - a
        lines.append(f"  {figure.label:28}" + "".join(f"{shown(figure, v):>12}" for v in (a, b, d)))
    lines.append(f"  live run: {info['wall_seconds']:.1f} s wall clock, time scale {info['time_scale']:g}, "
                 f"connections left on the server: {info['left_open']}")
    return "\n".join(lines)
