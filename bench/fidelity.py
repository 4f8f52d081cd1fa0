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

    python bench/fidelity.py                      # the default five, about five minutes
    python bench/fidelity.py --preset kill-idle --preset restart
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from live.compare import compare
from sim.scenario import load_preset

PRESETS = ["burst-into-overflow", "exhaustion-timeouts", "slow-leak", "idle-cut-pre-ping", "too-many-clients"]


def errors(m: dict[str, Any]) -> int:
    return sum(m["errors"].values())


def checks(sim: dict[str, Any], live: dict[str, Any]) -> list[tuple[str, str, str, str, bool]]:
    """(what, sim, live, difference, within target) rows."""
    n = max(live["requests"], 1)
    rows = []
    for label, get in (("completed", lambda m: m["completed"]), ("timed out", lambda m: m["timed_out"]),
                       ("errors", errors)):
        a, b = get(sim), get(live)
        share = (b - a) / n
        rows.append((label, str(a), str(b), f"{share:+.1%} of requests", abs(share) <= 0.05))
    for q in ("p50", "p95"):
        a, b = sim["wait_ms"][q], live["wait_ms"][q]
        if a is None or b is None:
            rows.append((f"wait {q} ms", str(a), str(b), "-", a == b))
            continue
        d = b - a
        rows.append((f"wait {q} ms", f"{a:.2f}", f"{b:.2f}", f"{d:+.2f} ms",
                     abs(d) <= max(2.0, 0.2 * abs(a))))
    a, b = sim["peak"]["open"], live["peak"]["open"]
    rows.append(("peak open", str(a), str(b), f"{b - a:+d}", abs(b - a) <= 1))
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
        result = asyncio.run(compare(load_preset(name), url, args.time_scale))
        sim, live = result["sim"], result["live"]
        db = result["sim_database"]
        print(f"\n{name} ({sim['pool']}, {live['requests']} requests; simulation given measured "
              f"connect_ms {db['connect_ms']:.2f}, rtt_ms {db['rtt_ms']:.2f}, cores {db['cores']})")
        print(f"  {'':14}{'sim':>10}{'live':>10}  {'live - sim':<22}target")
        for label, a, b, d, ok in checks(sim, live):
            total += 1
            missed += not ok
            print(f"  {label:14}{a:>10}{b:>10}  {d:<22}{'ok' if ok else 'MISSED'}")
        print(f"  connections left on the server after the live run: {live['live']['left_open']}")
    print(f"\n{total - missed} of {total} figures within target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
