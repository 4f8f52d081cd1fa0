"""Why live runs go to a worker process: the same live run, with the app's thread busy or not.

Runs the pooled preset (4 s) on the embedded PostgreSQL three ways and prints
its p95 wait for a connection and p95 latency:

* in this process, with this thread idle (the baseline);
* in this process while this thread redraws a taxi-stand figure every 0.5 s,
  as a page rerun does (the event loop waits for the interpreter lock);
* in the live lab's worker process, with this thread just as busy.

    python bench/live_isolation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import taxi  # noqa: E402
from live.loop import BackgroundLoop  # noqa: E402
from live.session import LiveSession  # noqa: E402
from live.worker import Worker  # noqa: E402
from sim.metrics import summarize  # noqa: E402
from sim.model import run as simulate  # noqa: E402
from sim.scenario import load_preset  # noqa: E402

SCENARIO = load_preset("pooled").with_overrides(["duration_s=4"])
DRAWN = simulate(load_preset("burst-into-overflow"))


def follow(session: Any, busy: bool) -> dict[str, Any]:
    session.start()
    while not session.wait(0.01):
        if busy:   # a page rerun: tens of milliseconds of Python holding the interpreter lock
            taxi.build_taxi_figure(DRAWN.trace, DRAWN.scenario, DRAWN.end_s, max_frames=200)
            time.sleep(0.4)
    result = session.result
    return summarize(result.trace, SCENARIO, result.end_s)


def main() -> None:
    loop = BackgroundLoop()
    worker = Worker()
    try:
        rows = [("in process, app idle", follow(LiveSession(SCENARIO, loop), busy=False)),
                ("in process, app busy", follow(LiveSession(SCENARIO, loop), busy=True)),
                ("worker process, app busy", follow(worker.session(SCENARIO), busy=True))]
    finally:
        worker.close()
        loop.stop()
    base = rows[0][1]["latency_ms"]["p95"]
    print(f"{'':28} {'p95 wait ms':>12} {'p95 latency ms':>15} {'vs baseline':>12} {'connects':>9}")
    for name, m in rows:
        print(f"{name:28} {m['wait_ms']['p95']:12.1f} {m['latency_ms']['p95']:15.1f} "
              f"{m['latency_ms']['p95'] / base:11.2f}x {m['connects']:9d}")


if __name__ == "__main__":
    main()
