"""How long the sizing page's first answer takes: the default sweep in worker processes against serially.

Usage: python bench/sizing_speed.py [--workers N] [--json]

The default need (`sim.sizing.DEFAULT`) is swept three ways in one run: in
this process one run after another (the baseline), in a pool of worker
processes started for it (what `python -m sim size` does), and in a pool that
is already warm (what the sizing page keeps between answers). It prints each
time, the sizes and runs swept, and each one's speed-up over the baseline;
the target is the warm pool under 3 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the checkout

from sim.sizing import DEFAULT, sizes, sweep


def timed(executor: ProcessPoolExecutor | None) -> float:
    start = time.perf_counter()
    sweep(DEFAULT, executor)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()
    runs = len(sizes(DEFAULT)) * DEFAULT.seeds
    serial = timed(None)
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        cold = time.perf_counter() - start + timed(pool)
        warm = timed(pool)
    print(f"sizes {len(sizes(DEFAULT))} x seeds {DEFAULT.seeds} = {runs} runs, {args.workers} workers")
    print(f"serial            {serial:6.2f} s   1.00x")
    print(f"processes, cold   {cold:6.2f} s   {serial / cold:4.2f}x")
    print(f"processes, warm   {warm:6.2f} s   {serial / warm:4.2f}x   (target: under 3 s on 2 cores)")
    if args.json:
        print(json.dumps({"runs": runs, "workers": args.workers, "serial_s": round(serial, 3),
                          "cold_s": round(cold, 3), "warm_s": round(warm, 3),
                          "speedup_warm": round(serial / warm, 2)}))


if __name__ == "__main__":
    main()
