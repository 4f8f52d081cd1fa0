"""Does the model's crowded server behave like the real one? Measured curve against the fitted model.

Usage: python bench/contention_fit.py [--seconds S] [--json]

Measures throughput at 1, 2, 4 ... 64 clients on the embedded server (or
DATABASE_URL) with `live.concurrency`, fits `[database] contention` and
`coherency` (`sim.crowding_fit`), then simulates the same closed loop in the
model with those parameters and one client's transaction time, and prints
both curves, each level's relative error and the concurrency of peak
throughput in each. Targets: every error within 15%, the model's peak within
one step of the measured one. With --json the last line is
{"max_rel_error": .., "peak_measured": .., "peak_model": ..}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the checkout

from live import concurrency
from live.server import SANDBOX, external
from sim.crowding_fit import closed_loop, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=concurrency.LEVEL_S, help="counted time per level")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    target = external(url) if url else SANDBOX.target()
    points = asyncio.run(concurrency.measure(target, seconds=args.seconds))
    found = fit([p.concurrency for p in points], [p.throughput_per_s for p in points])
    hold_ms = 1000.0 / found.x1      # one client's transaction, as the fit sees it
    print(f"# {target.display}; fitted contention {found.crowding.sigma:.4f}, coherency "
          f"{found.crowding.kappa:.6f}, one client {hold_ms:.2f} ms")
    print(f"{'clients':>7} {'measured/s':>11} {'model/s':>9} {'error':>7}")
    errors, model = [], []
    for p in points:
        simulated = closed_loop(p.concurrency, found.crowding, hold_ms)
        model.append(simulated)
        errors.append(abs(simulated - p.throughput_per_s) / p.throughput_per_s)
        print(f"{p.concurrency:>7} {p.throughput_per_s:>11.0f} {simulated:>9.0f} {errors[-1]:>7.1%}")
    levels = [p.concurrency for p in points]
    peak_measured = levels[max(range(len(points)), key=lambda i: points[i].throughput_per_s)]
    peak_model = levels[max(range(len(model)), key=lambda i: model[i])]
    steps_apart = abs(levels.index(peak_measured) - levels.index(peak_model))
    print(f"largest error {max(errors):.1%} (target 15%); peak at {peak_measured} measured, {peak_model} "
          f"in the model: {steps_apart} step(s) apart (target at most 1)")
    if args.json:
        print(json.dumps({"max_rel_error": round(max(errors), 4), "peak_measured": peak_measured,
                          "peak_model": peak_model}))


if __name__ == "__main__":
    main()
