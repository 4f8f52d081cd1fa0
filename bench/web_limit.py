"""What one web page's model run may cost at most: the kinds of run at `app.runs.WEB_LIMIT`, timed.

Usage: python bench/web_limit.py [--json]

The web app refuses a run expected to be more than WEB_LIMIT units of work
(`sim.budget.work`: requests, connections kept and their upkeep). This script
builds runs of several kinds right at that limit (a plain pooled run, one
where most requests wait and time out, no pool, 200 instances of HikariCP,
an asyncpg pool with long waits, a day of an idle HikariCP fleet) and prints
the CPU seconds each takes with its metrics, against the 5 s a page may take
(target: the slowest at most 5 s), and beside a bare SimPy queue of as many
requests simulated in the same run (bench/sim_speed.py's baseline), so the
figures can be read on a faster or slower machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the checkout

from app.runs import WEB_LIMIT
from bench.sim_speed import baseline
from sim import budget
from sim.metrics import summarize
from sim.model import run
from sim.scenario import Scenario, load_preset

TARGET_S = 5.0
STEADY = ["workload.phases=[]", "workload.rate_per_s=100"]
KINDS: dict[str, list[str]] = {
    "pooled": STEADY,
    "waits and timeouts": [*STEADY, "workload.hold.mean_ms=500", "pool.pool_timeout=1"],
    "no pool": [*STEADY, "pool.kind=none"],
    "HikariCP x 200 instances": [*STEADY, "pool.kind=hikari", "app.instances=200"],
    "asyncpg, long waits": [*STEADY, "pool.kind=asyncpg", "workload.hold.mean_ms=200"],
    "idle HikariCP fleet, a day": ["workload.rate_per_s=0", "workload.phases=[]", "pool.kind=hikari",
                                   "app.instances=20", "pool.maximumPoolSize=50", "duration_s=86400"],
}


def at_limit(overrides: list[str]) -> Scenario:
    """The kind of run, its duration (or, for a fleet, its size) stretched so its work is WEB_LIMIT."""
    scenario = load_preset("burst-into-overflow").with_overrides(overrides)
    units = budget.work(scenario).units
    return scenario.with_overrides({"duration_s": min(scenario.duration_s * WEB_LIMIT.units / units, 86_400)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    rows = []
    for name, overrides in KINDS.items():
        scenario = at_limit(overrides)
        started = time.process_time()
        result = run(scenario)
        summarize(result.trace, scenario, result.end_s)
        cpu_s = time.process_time() - started
        bare_s = baseline(max(result.requests, 1))
        rows.append({"kind": name, "units": round(budget.work(scenario).units), "requests": result.requests,
                     "cpu_s": round(cpu_s, 2), "bare_simpy_s": round(bare_s, 2),
                     "trace_mb": round(result.trace.nbytes / 2**20, 1)})
        print(f"{name:28} {rows[-1]['units']:>8,} units {result.requests:>8,} requests  "
              f"{cpu_s:5.2f} s CPU ({cpu_s / TARGET_S:4.0%} of {TARGET_S:g} s; "
              f"bare SimPy queue {bare_s:4.2f} s)  "
              f"trace {rows[-1]['trace_mb']} MB", flush=True)
    slowest = max(r["cpu_s"] for r in rows)
    verdict = "MET" if slowest <= TARGET_S else "MISSED"
    print(f"slowest at the limit: {slowest:.2f} s CPU (target {TARGET_S:g} s: {verdict})")
    if args.json:
        print(json.dumps({"limit_units": WEB_LIMIT.units, "slowest_cpu_s": slowest, "runs": rows}))


if __name__ == "__main__":
    main()
