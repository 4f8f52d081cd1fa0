"""How closely the simulation predicts the real thing: `compare` on presets that cover each behaviour.

Runs each preset live on the embedded PostgreSQL (or DATABASE_URL), then the
simulation with the costs the live setup measured, and prints per preset:

* completed, timed-out and errored counts, live minus simulated, as a share
  of the requests (target: within 5%);
* p50 and p95 wait, live minus simulated (target: within 20% or 2 ms);
* peak open connections (target: within 1).

A benchmark, not a test: it takes minutes of wall-clock time (the presets
run at their own speed unless --time-scale says otherwise) and prints
figures; it exits 0 whatever they are.

    python bench/fidelity.py                      # the default six, about ten minutes
    python bench/fidelity.py --preset kill-idle --preset restart
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from live.compare import compare
from sim.measures import measure, shown
from sim.metrics import Metrics
from sim.scenario import load_preset

PRESETS: dict[str, dict[str, float]] = {
    "burst-into-overflow": {}, "burst-past-cap": {}, "exhaustion-timeouts": {}, "slow-leak": {},
    # four minutes instead of one: about 120 requests, so that its p95 is not its second-largest wait
    "idle-cut-pre-ping": {"duration_s": 240}, "too-many-clients": {},
}
"""The presets compared by default, with what the benchmark changes in them."""


def share_of_requests(a: float, b: float, requests: int) -> tuple[str, bool]:
    share = (b - a) / max(requests, 1)
    return f"{share:+.1%} of requests", abs(share) <= 0.05


def wait(a: float, b: float, requests: int) -> tuple[str, bool]:
    return f"{b - a:+.2f} ms", abs(b - a) <= max(2.0, 0.2 * abs(a))


def within_one(a: float, b: float, requests: int) -> tuple[str, bool]:
    return f"{b - a:+.0f}", abs(b - a) <= 1


TARGETS: list[tuple[str, Callable[[float, float, int], tuple[str, bool]]]] = [
    ("completed", share_of_requests), ("timed_out", share_of_requests), ("errors.all", share_of_requests),
    ("wait_ms.p50", wait), ("wait_ms.p95", wait), ("peak.open", within_one),
]
"""The figures (`sim.measures` paths) checked, each with its target."""


def checks(sim: Metrics, live: Metrics) -> list[tuple[str, str, str, str, bool]]:
    """(what, sim, live, difference, within target) rows."""
    rows = []
    for path, target in TARGETS:
        figure = measure(path)
        a, b = figure.read(sim), figure.read(live)
        if a is None or b is None:
            rows.append((figure.label, shown(figure, a), shown(figure, b), "-", a == b))
            continue
        difference, ok = target(a, b, live["requests"])
        rows.append((figure.label, shown(figure, a), shown(figure, b), difference, ok))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", action="append", help="a preset to compare (repeatable)")
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or None
    missed = 0
    total = 0
    for name in args.preset or PRESETS:
        scenario = load_preset(name).with_overrides(PRESETS.get(name, {}))
        result = asyncio.run(compare(scenario, url, args.time_scale))
        sim, live = result["sim"], result["live"]
        db = result["sim_database"]
        print(f"\n{name} ({sim['pool']}, {live['requests']} requests; simulation given measured "
              f"connect_ms {db['connect_ms']:.2f}, rtt_ms {db['rtt_ms']:.2f}, cores {db['cores']})")
        print(f"  {'':18}{'sim':>10}{'live':>10}  {'live - sim':<22}target")
        for label, a, b, d, ok in checks(sim, live):
            total += 1
            missed += not ok
            print(f"  {label:18}{a:>10}{b:>10}  {d:<22}{'ok' if ok else 'MISSED'}")
        print(f"  connections left on the server after the live run: {live['live']['left_open']}")
    print(f"\n{total - missed} of {total} figures within target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
