"""Is the sizing page's answer right on a real server? Each prepared case's recommendation, run live.

Usage: python bench/sizing_live.py [--case NAME ...] [--seconds S]

For each case in `sim.sizing.CASES` (a FastAPI service of 8 processes, an
asyncpg service with bursts, three HikariCP instances on a 4-core server):
the sweep's recommended size, then the same scenario at that size run on the
embedded PostgreSQL (or DATABASE_URL) through the real library, the sweep
given the round trip and connect cost measured on that server first, and the
live p99 wait (requests begun after the warm-up, as the sweep counts them),
timeouts and 53300 refusals printed beside the model's and the target.
HikariCP has no Python implementation: its case runs live as asyncpg's pool
fixed at the same size (min_size = max_size), which is what a HikariCP pool
with minimumIdle unset is. A benchmark: it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the checkout

import asyncpg

from live.calibrate import measure
from live.runner import run as run_live
from live.server import SANDBOX, external
from sim.metrics import summarize
from sim.sizing import CASES, scenario, steady_p99_ms, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(CASES), help="default: all three")
    parser.add_argument("--seconds", type=float, default=20.0, help="the live run's length (default 20)")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or None
    target = external(url) if url else SANDBOX.target()
    costs = asyncio.run(measure(lambda: asyncpg.connect(target.dsn)))   # this server's, for the model
    print(f"# {target.display}: connect {costs.connect_ms:.2f} ms, round trip {costs.rtt_ms:.3f} ms "
          f"(python -m live calibrate), given to the sweep")
    for name in args.case or list(CASES):
        need = replace(CASES[name], rtt_ms=round(costs.rtt_ms, 3), connect_ms=round(costs.connect_ms, 3))
        found = sweep(need)
        if found.recommended is None:
            print(f"{name}: no size meets the targets within the budget")
            continue
        size = found.recommended.size
        live_need = replace(need, kind="asyncpg") if need.kind == "hikari" else need
        s = scenario(live_need, size, seed=1)
        s = s.with_overrides({"duration_s": max(args.seconds, s.duration_s)})
        result = asyncio.run(run_live(s, url))
        m = summarize(result.trace, result.scenario, result.end_s)
        p99 = steady_p99_ms(result.trace, s.duration_s) or float("inf")
        stand_in = " (live: asyncpg fixed at that size)" if live_need is not need else ""
        print(f"{name}: recommended {found.settings}{stand_in}; {m['requests']} requests in "
              f"{s.duration_s:g} s on {result.server}")
        print(f"    p99 wait: model {found.recommended.p99_wait_ms.mean:.1f} ms "
              f"(95% CI to {found.recommended.p99_wait_ms.high:.1f}), live {p99:.1f} ms, target "
              f"{need.p99_wait_ms:g} ms: {'met' if p99 <= need.p99_wait_ms else 'NOT met'}")
        print(f"    timed out {m['timed_out']}, 53300 refusals {m['errors']['too_many_clients']}, "
              f"server connections at peak {m['peak']['server']} of {need.budget}, "
              f"left open {result.left_open}")


if __name__ == "__main__":
    main()
