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
is warmed up by one visit first (imports, caches of the process). Each figure
is also given as a ratio to a floor measured in the same run, interleaved
with it: the same timings of `bench/floor_app.py`, Streamlit with one slider
and one small figure drawn its own way (st.plotly_chart, which loads the
full plotly.js) and nothing to compute. The same code timed an hour
apart here differed by a fifth; the floor says how much of a figure is
Streamlit's and plotly.js's own at that moment. The share of CPU time the
virtual machine's host took meanwhile is printed beside them (`bench.steal`):
a measurement that lost more than 2% is no verdict. A benchmark, not a test.

    python bench/app_speed.py [--renders N] [--changes N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.served import CHROMIUM_ARGS, chromium, served_app  # noqa: E402
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
"""The figure's data is a new object once plotly.js has been handed the new run's figure (a new chart
with st.plotly_chart in the floor, Plotly.react on the same div in the app)."""


def first_render(browser: Any, url: str) -> float:
    """Seconds from opening `url` in a new page (a new session, nothing drawn yet) to its stand drawn
    and its script finished."""
    page = browser.new_page(viewport=VIEWPORT)
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(SHOWN, arg=[STAND, IDLE], polling="raf", timeout=120_000)
    page.close()
    return time.perf_counter() - started


class Slider:
    """A page whose pool_size slider is pressed, one step more each time."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport=VIEWPORT)
        self.page.goto(url)
        self.page.wait_for_selector(STAND, timeout=120_000)
        self.page.wait_for_selector(IDLE, timeout=120_000)
        self.page.wait_for_timeout(500)
        self.thumb = self.page.get_by_test_id("stSlider").filter(has_text="pool_size").get_by_role("slider")

    def change(self) -> float:
        """Ms from a key press on the slider to the stand redrawn for the new value."""
        self.page.evaluate(REMEMBER, STAND)
        self.thumb.focus()
        pressed = self.page.evaluate("performance.now()")
        self.thumb.press("ArrowRight")
        drawn = self.page.wait_for_function(REDRAWN, arg=STAND, polling="raf", timeout=60_000).json_value()
        self.page.wait_for_selector(IDLE, timeout=60_000)
        self.page.wait_for_timeout(300)
        return float(drawn - pressed)


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
    browser_path = chromium()
    if browser_path is None:
        return 1
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {name: [] for name in ("playground", "present", "change",
                                                           "floor", "floor_change")}
    with served_app() as (url, _), served_app(script="bench/floor_app.py") as (floor, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        pages = {"playground": f"{url}/playground", "present": f"{url}/playground?present=1", "floor": floor}
        for page in pages.values():
            first_render(browser, page)   # warm-up: imports and caches of the server processes
        stolen = Stolen()
        for _ in range(args.renders):   # interleaved, so a slower minute of the machine slows each alike
            for name, page in pages.items():
                times[name].append(first_render(browser, page))
        sliders = {"change": Slider(browser, pages["playground"]), "floor_change": Slider(browser, floor)}
        for _ in range(args.changes):
            for name, slider in sliders.items():
                times[name].append(slider.change())
        stolen.stop()
        browser.close()
    m = {name: statistics.median(values) for name, values in times.items()}
    payload = payload_bytes()
    floor_words = "a bare Streamlit page with one slider and one small figure"
    print(f"first render of the playground (server warm): {m['playground']:.2f} s, median of {args.renders} "
          f"(target < 3 s); {m['playground'] / m['floor']:.1f}x the floor's")
    print(f"first render of the presentation mode: {m['present']:.2f} s (target < 3 s); "
          f"{m['present'] / m['floor']:.1f}x the floor's")
    print(f"control change to the stand redrawn: {m['change']:.0f} ms, median of {args.changes} "
          f"(target < 300 ms); {m['change'] / m['floor_change']:.1f}x the floor's")
    print(f"the floor ({floor_words}), measured between them: first render {m['floor']:.2f} s, "
          f"control change {m['floor_change']:.0f} ms")
    print(f"taxi-stand animation payload: {payload / 1e6:.2f} MB")
    print(f"while measuring, the {stolen}")
    print(json.dumps({"first_render_s": round(m["playground"], 2), "present_render_s": round(m["present"], 2),
                      "control_change_ms": round(m["change"], 1), "floor_render_s": round(m["floor"], 2),
                      "floor_change_ms": round(m["floor_change"], 1), "animation_bytes": payload,
                      "stolen": None if stolen.share is None else round(stolen.share, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
