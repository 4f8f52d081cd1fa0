"""Fitting `sim.server.Crowding` to a real server's throughput at several concurrencies.

The parameters of the Universal Scalability Law are not set by hand: a
closed loop of n clients is timed on the server at n = 1, 2, 4, ... and
X(n) = X(1) n / (1 + sigma (n - 1) + kappa n (n - 1)) is fitted to the
measured throughputs by least squares on their relative errors (so the small
concurrencies, with small throughputs, count as much as the large ones),
sigma and kappa kept within 0..1 as `[database]` accepts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares  # type: ignore[import-untyped]

from sim.server import Crowding


@dataclass(frozen=True)
class Fit:
    crowding: Crowding
    x1: float              # one client's throughput, per second, as fitted
    max_rel_error: float   # the largest |model - measured| / measured over the points

    def throughput(self, n: float) -> float:
        return self.x1 * self.crowding.throughput(n)


def fit(concurrency: Sequence[float], throughput: Sequence[float]) -> Fit:
    """sigma, kappa and X(1) that best explain `throughput` (per second) at each `concurrency`."""
    n = np.asarray(concurrency, dtype=float)
    x = np.asarray(throughput, dtype=float)
    if n.size < 3 or n.size != x.size or (x <= 0).any():
        raise ValueError("fit needs at least three concurrencies, each with a throughput above 0")

    def model(p: np.ndarray) -> np.ndarray:
        x1, sigma, kappa = p
        return x1 * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))

    def residuals(p: np.ndarray) -> np.ndarray:
        return (model(p) - x) / x

    start = np.array([x[n.argmin()] / n.min(), 0.05, 0.001])
    found = least_squares(residuals, start, bounds=([1e-9, 0.0, 0.0], [np.inf, 1.0, 1.0]))
    x1, sigma, kappa = (float(v) for v in found.x)
    return Fit(Crowding(sigma, kappa), x1, float(np.abs(residuals(found.x)).max()))


def closed_loop(clients: int, crowding: Crowding, hold_ms: float, seconds: float = 4.0) -> float:
    """The model's throughput (per second) of `clients` that always have a query to run, on a server
    crowded as `crowding` says: the measurement's closed loop, simulated."""
    from sim.metrics import summarize_run  # the model, only for this check: the fit itself needs none
    from sim.model import run
    from sim.scenario import from_dict

    rate = 4.0 * clients * 1000.0 / hold_ms   # arrivals far above service: every worker always busy
    scenario = from_dict({
        "name": f"closed-loop-{clients}", "duration_s": seconds,
        "workload": {"rate_per_s": min(rate, 100_000.0), "hold": {"dist": "constant", "mean_ms": hold_ms}},
        "pool": {"kind": "sqlalchemy", "pool_size": clients, "max_overflow": 0, "pool_timeout": 3600},
        "database": {"rtt_ms": 0.0, "connect_ms": 0.0, "max_connections": max(100, clients + 3),
                     "contention": crowding.sigma, "coherency": crowding.kappa},
        "app": {"instances": 1, "workers": clients},
    })
    return float(summarize_run(run(scenario))["completed"]) / seconds
