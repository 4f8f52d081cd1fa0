"""A control change timed on two checkouts of the app, interleaved: is a change to the code faster?

Serves both checkouts (fresh servers each round, so every slider value is
new to both and nothing comes from their caches), opens the playground in
each at 1280 x 720 in Debian's Chromium, and presses the pool_size slider
ten times a round in each, alternately, as `bench/app_speed.py` times one
change: from the key press to the stand redrawn. Beside each change, the
browser's own main-thread time over it (Chromium's TaskDuration and
ScriptDuration, from the press to the script finished and 300 ms after):
the share of the change the page's work takes, which the machine's speed
drifting over minutes moves less than the wall clock. Prints the medians,
and B's over A's. The speed of this machine drifts by a fifth over minutes;
taking turns is what makes the two comparable, and a difference under
about 10 ms in 30 changes each is noise. A benchmark, not a test.

    python bench/change_ab.py OTHER_CHECKOUT [--against CHECKOUT] [--rounds N] [--cached]

`--cached` first presses the same values once in each (the changes then
cost the browser only: the server's runs and stands come from its caches).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.app_speed import Slider  # noqa: E402
from bench.served import CHROMIUM_ARGS, chromium, served_app  # noqa: E402

METRICS = ("TaskDuration", "ScriptDuration")
PRESSES = 10


def main_thread_ms(cdp: Any) -> list[float]:
    """The page's main-thread time so far, in ms: all its tasks, and the scripts among them."""
    got = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return [got[name] * 1000 for name in METRICS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="the checkout to time against this one (B)")
    parser.add_argument("--against", type=Path, default=ROOT, help="the checkout B is compared to (A)")
    parser.add_argument("--rounds", type=int, default=3, help=f"rounds of {PRESSES} changes each")
    parser.add_argument("--cached", action="store_true", help="time changes the servers have seen once")
    args = parser.parse_args()
    browser_path = chromium()
    if browser_path is None:
        return 1
    from playwright.sync_api import sync_playwright

    trees = {"A": args.against.resolve(), "B": args.other.resolve()}
    rows: dict[str, list[list[float]]] = {name: [] for name in trees}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        for _ in range(args.rounds):
            with served_app(root=trees["A"]) as (url_a, _proc_a), \
                    served_app(root=trees["B"]) as (url_b, _proc_b):
                urls = {"A": f"{url_a}/playground", "B": f"{url_b}/playground"}
                if args.cached:
                    for url in urls.values():
                        warm = Slider(browser, url)
                        for _ in range(PRESSES):
                            warm.change()
                        warm.page.close()
                sliders = {name: Slider(browser, url) for name, url in urls.items()}
                cdps = {name: s.page.context.new_cdp_session(s.page) for name, s in sliders.items()}
                for cdp in cdps.values():
                    cdp.send("Performance.enable")
                for i in range(PRESSES):
                    for name in ("A", "B") if i % 2 else ("B", "A"):   # neither always goes first
                        before = main_thread_ms(cdps[name])
                        wall = sliders[name].change()
                        after = main_thread_ms(cdps[name])
                        rows[name].append([wall, *(x - y for x, y in zip(after, before, strict=True))])
                for slider in sliders.values():
                    slider.page.close()
        browser.close()
    medians = {name: [statistics.median(r[j] for r in got) for j in range(3)] for name, got in rows.items()}
    for name, (wall, task, script) in medians.items():
        print(f"{name} {trees[name]}: control change {wall:.0f} ms; the browser's main thread {task:.0f} ms, "
              f"scripts {script:.0f} ms (medians of {len(rows[name])})")
    print("B / A: " + ", ".join(f"{what} {medians['B'][j] / medians['A'][j]:.2f}"
                                for j, what in enumerate(("change", "main thread", "scripts"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
