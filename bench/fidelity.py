"""How closely the simulation predicts the real thing: `compare` on presets that cover each behaviour.

Runs each preset live on the embedded PostgreSQL (or DATABASE_URL), then the
simulation with the costs the live setup measured, and prints per preset:

* completed, timed-out and errored counts, live minus simulated (target: within
  5% of the requests);
* p50 and p95 wait, live minus simulated (target: within 20% or 2 ms);
* peak open connections (target: within 1).

The targets are the tolerances the compare page and `python -m live compare`
judge by (`live.compare.tolerance`), so the three cannot disagree.

A benchmark, not a test: it takes minutes of wall-clock time (the presets
run at their own speed unless --time-scale says otherwise) and prints
figures; it exits 0 whatever they are.

    python bench/fidelity.py                      # the default nine, about twelve minutes
    python bench/fidelity.py --preset kill-idle --preset restart
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from live.compare import compare, signed, verdict
from sim.measures import shown
from sim.metrics import Metrics
from sim.scenario import load_preset

PRESETS: dict[str, dict[str, float]] = {
    "burst-into-overflow": {}, "burst-past-cap": {}, "exhaustion-timeouts": {}, "slow-leak": {},
    # four minutes instead of one: about 120 requests, so that its p95 is not its second-largest wait
    "idle-cut-pre-ping": {"duration_s": 240}, "too-many-clients": {},
    # through PgBouncer: transaction mode lending 20 server connections to 400 clients (40 processes x 10),
    # session mode queueing the clients beyond its 20, and query_wait_timeout firing in a burst
    "pgbouncer-transaction": {"app.instances": 40}, "pgbouncer-session": {},
    "pgbouncer-query-wait-timeout": {},
}
"""The presets compared by default, with what the benchmark changes in them."""


FIGURES = ["completed", "timed_out", "errors.all", "wait_ms.p50", "wait_ms.p95", "peak.open"]
"""The figures (`sim.measures` paths) checked; each one's target is its tolerance in live.compare."""

POOLER_FIGURES = ["peak.server", "pooler.sv_active"]
"""Also checked through a pooler: the server connections it holds, and how many it lends at once."""


def checks(sim: Metrics, live: Metrics) -> list[tuple[str, str, str, str, str, bool]]:
    """(what, sim, live, difference, tolerance, within target) rows."""
    rows = []
    for path in FIGURES + (POOLER_FIGURES if "pooler" in sim else []):
        v = verdict(path, sim, live)
        rows.append((v.figure.label, shown(v.figure, v.sim), shown(v.figure, v.live),
                     signed(v.figure, v.difference), "±" + shown(v.figure, v.allowance), v.agrees))
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
        print(f"  {'':18}{'sim':>10}{'live':>10}{'live - sim':>12}{'target':>12}")
        for label, a, b, d, allowed, ok in checks(sim, live):
            total += 1
            missed += not ok
            print(f"  {label:18}{a:>10}{b:>10}{d:>12}{allowed:>12}  {'ok' if ok else 'MISSED'}")
        print(f"  connections left on the server after the live run: {live['live']['left_open']}")
    print(f"\n{total - missed} of {total} figures within target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
