"""How fast the model simulates, measured against the least SimPy can do for the same queue.

Usage: python bench/sim_speed.py [--requests N] [--no-million]

Both sides simulate one queue: Poisson arrivals at 80/s, 10 connections, holds
exponential with a 100 ms mean, giving up after 30 s. The baseline is SimPy's
bank-renege example cut to its core, a bare `simpy.Resource`; the model does
the same work plus pool semantics, the server and the trace, then computes
its metrics. Their speed ratio is what all that costs (target >= 0.7).

A million-request run then shows the model at scale (target under 20 s and
1 GB). It runs in a child process, so its peak memory is its own and not the
high-water mark the earlier runs left behind.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the checkout

from sim.metrics import summarize_run
from sim.model import run
from sim.scenario import Scenario

SERVERS = 10
RATE_PER_S = 80.0
MEAN_HOLD_S = 0.100
PATIENCE_S = 30.0
SEED = 1

SCENARIO = Scenario().with_overrides({
    "seed": SEED,
    "pool.kind": "sqlalchemy",
    "pool.pool_size": SERVERS,
    "pool.max_overflow": 0,
    "pool.pool_timeout": PATIENCE_S,
    "workload.rate_per_s": RATE_PER_S,
    "workload.hold.dist": "exponential",
    "workload.hold.mean_ms": MEAN_HOLD_S * 1000,
    "database.connect_ms": 0,
    "database.rtt_ms": 0,
})

MILLION = 1_000_000


def baseline(n: int) -> float:
    """Simulate n requests on a bare simpy.Resource; return the wall seconds taken."""
    started = time.perf_counter()
    env = simpy.Environment()
    connections = simpy.Resource(env, capacity=SERVERS)
    rng = random.Random(SEED)

    def customer() -> Generator[simpy.Event, Any, None]:
        with connections.request() as req:
            got = yield req | env.timeout(PATIENCE_S)
            if req in got:
                yield env.timeout(rng.expovariate(1 / MEAN_HOLD_S))

    def source() -> Generator[simpy.Event, Any, None]:
        for _ in range(n):
            yield env.timeout(rng.expovariate(RATE_PER_S))
            env.process(customer())

    env.process(source())
    env.run()
    return time.perf_counter() - started


def model(n: int) -> float:
    """Simulate n requests through the full model and summarise them; return the wall seconds taken."""
    started = time.perf_counter()
    summarize_run(run(SCENARIO, max_requests=n))
    return time.perf_counter() - started


def model_in_child(n: int) -> tuple[float, float]:
    """Wall seconds and peak resident MB of `model(n)`, run in a fresh interpreter."""
    out = subprocess.run([sys.executable, __file__, "--child", str(n)],
                         check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.splitlines()[-1])
    return figures["wall_s"], figures["peak_rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000, metavar="N",
                        help="requests for the model/baseline comparison (default 200000)")
    parser.add_argument("--million", action=argparse.BooleanOptionalAction, default=True,
                        help="also time a run of a million requests (default: yes)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child is not None:
        wall_s = model(args.child)
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        print(json.dumps({"wall_s": wall_s, "peak_rss_mb": peak_rss_mb}))
        return

    n = args.requests
    baseline_rate = n / baseline(n)
    model_rate = n / model(n)
    print(f"requests: {n}")
    print(f"baseline_requests_per_s: {baseline_rate:.0f}")
    print(f"model_requests_per_s: {model_rate:.0f}")
    print(f"model_to_baseline_ratio (target >= 0.7): {model_rate / baseline_rate:.2f}")
    if args.million:
        wall_s, peak_rss_mb = model_in_child(MILLION)
        print(f"million_wall_s (target < 20): {wall_s:.1f}")
        print(f"million_peak_rss_mb (target < 1024): {peak_rss_mb:.0f}")


if __name__ == "__main__":
    main()
