"""How fast the web app answers, in Debian's Chromium against `streamlit run` (bench/served.py).

Prints the medians of several repetitions, at 1280 x 720:

* first render of the playground: from opening its URL in a new session
  until the taxi stand is drawn and the script has finished (checked
  every animation frame);
* first render of the presentation mode (`?present=1`), the same way;
* control change: from a key press that moves the pool_size slider (one
  bay more, so the figure always changes; max_overflow stops changing the
  run once the cap is never reached) to the stand redrawn with the new
  run's figure (checked every animation frame), then the script finished.
  Each press gives a value not seen before, so the simulation is never
  served from the cache;
* the taxi-stand animation's payload (the figure's JSON), for scale.

Targets: first renders under 3 s, a control change under 300 ms. The server
is warmed up by one visit first (imports, caches of the process). The
share of CPU time the virtual machine's host took meanwhile is printed
beside them (`bench.steal`): a measurement that lost more than 2% is no
verdict. A benchmark, not a test.

    python bench/app_speed.py [--renders N] [--changes N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.served import CHROMIUM_ARGS, served_app  # noqa: E402
from bench.steal import Stolen  # noqa: E402

VIEWPORT = {"width": 1280, "height": 720}
STAND = ".st-key-pg-taxi .js-plotly-plot"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SHOWN = """([stand, idle]) => {
    const plot = document.querySelector(stand), box = plot && plot.getBoundingClientRect();
    return !!box && box.width > 0 && box.height > 0 && getComputedStyle(plot).visibility === "visible"
        && !!document.querySelector(idle);
}"""
"""The stand drawn where it is seen (Streamlit hides a figure until its first width is known) and the
script finished: checked every animation frame, as Playwright's `wait_for_selector` polls every 500 ms
once the element exists and would add up to that much to the time."""
REMEMBER = "(selector) => { window.__shown = document.querySelector(selector).data; }"
REDRAWN = """(selector) => {
    const plot = document.querySelector(selector);
    return plot && plot.data !== window.__shown && plot._fullLayout ? performance.now() : false;
}"""
"""The figure's data is a new object once Streamlit has handed plotly.js the new run's figure."""


def first_render(browser: Any, url: str, renders: int) -> float:
    """Median seconds from opening `url` in a new session to its stand drawn and its script finished."""
    times = []
    for _ in range(renders):   # each in a new page: a new session, nothing drawn yet
        page = browser.new_page(viewport=VIEWPORT)
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function(SHOWN, arg=[STAND, IDLE], polling="raf", timeout=120_000)
        times.append(time.perf_counter() - started)
        page.close()
    return statistics.median(times)


def control_change(browser: Any, url: str, changes: int) -> float:
    """Median ms from a key press on the pool_size slider to the stand redrawn for the new value."""
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{url}/playground")
    page.wait_for_selector(STAND, timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    page.wait_for_timeout(500)
    thumb = page.get_by_test_id("stSlider").filter(has_text="pool_size").get_by_role("slider")
    times = []
    for _ in range(changes):
        page.evaluate(REMEMBER, STAND)
        thumb.focus()
        pressed = page.evaluate("performance.now()")
        thumb.press("ArrowRight")
        drawn = page.wait_for_function(REDRAWN, arg=STAND, polling="raf", timeout=60_000).json_value()
        page.wait_for_selector(IDLE, timeout=60_000)
        times.append(drawn - pressed)
        page.wait_for_timeout(300)
    page.close()
    return statistics.median(times)


def payload_bytes() -> int:
    """The size of the playground's first stand (its default preset, as the page builds it), as the
    JSON Streamlit sends (`plotly.io.to_json`)."""
    import plotly.io as pio

    from app import taxi
    from app.results import FRAMES, stand_words
    from app.runs import simulate_scenario
    from app.state import DEFAULT_PRESET
    from sim.scenario import load_preset

    scenario = load_preset(DEFAULT_PRESET)
    trace, end_s, _ = simulate_scenario(scenario)
    figure = taxi.build_taxi_figure(trace, scenario, end_s, **stand_words("en"), max_frames=FRAMES,
                                    height=taxi.STAND_HEIGHT, plot_px=taxi.PLOT_PX)
    return len(pio.to_json(figure, validate=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=5, help="first renders to take the median of")
    parser.add_argument("--changes", type=int, default=7, help="control changes to take the median of")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("Debian's chromium is not installed (apt-get install chromium)")
        return 1
    from playwright.sync_api import sync_playwright

    with served_app() as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        first_render(browser, f"{url}/playground", 1)   # warm-up: imports and caches of the server process
        first_render(browser, f"{url}/playground?present=1", 1)
        stolen = Stolen()
        playground = first_render(browser, f"{url}/playground", args.renders)
        present = first_render(browser, f"{url}/playground?present=1", args.renders)
        change_ms = control_change(browser, url, args.changes)
        stolen.stop()
        browser.close()
    payload = payload_bytes()
    print(f"first render of the playground (server warm): {playground:.2f} s median of {args.renders} "
          "(target < 3 s)")
    print(f"first render of the presentation mode: {present:.2f} s median of {args.renders} (target < 3 s)")
    print(f"control change to the stand redrawn: {change_ms:.0f} ms median of {args.changes} "
          "(target < 300 ms)")
    print(f"taxi-stand animation payload: {payload / 1e6:.2f} MB")
    print(f"while measuring, the {stolen}")
    print(json.dumps({"first_render_s": round(playground, 2), "present_render_s": round(present, 2),
                      "control_change_ms": round(change_ms, 1), "animation_bytes": payload,
                      "stolen": None if stolen.share is None else round(stolen.share, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
