"""How fast the web app answers: a control change, the animation's size, the first render in a browser.

Prints three figures for the default scenario of the playground:

* the time from a control change to finished results (an AppTest rerun
  after changing max_overflow; the median of several changes, each to a
  value not seen before, so the simulation is not served from the cache),
  next to the same rerun with the run cached, as a baseline;
* the taxi-stand animation's payload (the figure's JSON) in bytes;
* the first render of `streamlit run` in Debian's Chromium: from opening the
  playground's URL until the script has finished and the figure is drawn.

Targets: under 300 ms, under 3 MB, under 3 s. A benchmark, not a test.

    python bench/app_speed.py [--changes N] [--renders N] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.served import CHROMIUM_ARGS, served_app  # noqa: E402


def control_change(changes: int) -> tuple[float, float, int]:
    """(median ms of a rerun with a new value, median ms of a cached rerun, animation bytes)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("app/pages/playground.py").run()
    slider = next(s for s in at.slider if s.label == "max_overflow")
    fresh, cached = [], []
    for value in range(11, 11 + changes):
        started = time.perf_counter()
        slider.set_value(value).run()
        fresh.append(time.perf_counter() - started)
        slider = next(s for s in at.slider if s.label == "max_overflow")
        started = time.perf_counter()
        at.run()
        cached.append(time.perf_counter() - started)
        slider = next(s for s in at.slider if s.label == "max_overflow")
    payload = len(at.get("plotly_chart")[0].proto.spec.encode())
    return statistics.median(fresh) * 1000, statistics.median(cached) * 1000, payload


def first_render(renders: int) -> float | None:
    """Median seconds from opening the playground to its figure drawn and its script finished."""
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    with served_app() as (url, _):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}/playground")  # warm-up: imports and caches of the server process
            page.wait_for_selector(".stPlotlyChart .js-plotly-plot", timeout=120_000)
            page.close()
            times = []
            for _ in range(renders):   # each in a new page: a new session, nothing drawn yet
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                started = time.perf_counter()
                page.goto(f"{url}/playground")
                page.wait_for_selector(".stPlotlyChart .js-plotly-plot", timeout=120_000)
                page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=120_000)
                times.append(time.perf_counter() - started)
                page.close()
            browser.close()
        return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=7)
    parser.add_argument("--renders", type=int, default=5, help="first renders to take the median of")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    fresh_ms, cached_ms, payload = control_change(args.changes)
    print(f"control change to results (AppTest rerun, new scenario): {fresh_ms:.0f} ms median "
          f"(target < 300 ms); the same rerun served from the cache: {cached_ms:.0f} ms "
          f"(ratio {fresh_ms / cached_ms:.2f})")
    print(f"taxi-stand animation payload: {payload / 1e6:.2f} MB ({payload} bytes; target < 3 MB)")
    seconds = None if args.no_browser else first_render(args.renders)
    if seconds is None:
        print("first render in Chromium: skipped (--no-browser, or no playwright or Debian's chromium)")
    else:
        print(f"first render of the playground in Chromium (server warm): {seconds:.2f} s median of "
              f"{args.renders} (target < 3 s)")
    print(json.dumps({"control_change_ms": round(fresh_ms, 1), "cached_rerun_ms": round(cached_ms, 1),
                      "animation_bytes": payload,
                      "first_render_s": None if seconds is None else round(seconds, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
