"""The app's own figure component (app/figure.py, app/figure.js) in headless Chromium.

What it was made for, checked where it happens: a new figure for the same
key is drawn into the same div (Plotly.react, no new chart), a playing
animation stops when a new run's figure arrives, the figure follows its
column's width, the page never loads Streamlit's full plotly.js, and a
figure whose plotly.js cannot be loaded or fails says so in words, as text,
and is drawn once plotly.js loads.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.i18n import texts
from tests.browser.chromium import browser, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

STAND = ".st-key-pg-taxi .js-plotly-plot"
STAND_BOX = ".st-key-pg-taxi .app-figure"
ACTIVE = "(sel) => document.querySelector(sel)._fullLayout.sliders[0].active"


def opened(page: Any, server: str, drawn: str = STAND) -> Any:
    """The playground on one preset, once `drawn` is on the page and the script has finished."""
    page.goto(f"{server}/playground?preset=burst-into-overflow")
    page.wait_for_selector(drawn, timeout=60_000)
    settled(page)
    return page.get_by_test_id("stSlider").filter(has_text="pool_size").get_by_role("slider")


def one_bay_more(page: Any, thumb: Any) -> None:
    """Press the pool_size slider once and wait for the new run's figure to be drawn."""
    page.evaluate("(sel) => { window.shownData = document.querySelector(sel).data; }", STAND)
    thumb.focus()
    thumb.press("ArrowRight")
    page.wait_for_function("(sel) => document.querySelector(sel).data !== window.shownData", arg=STAND,
                           timeout=60_000)
    settled(page)


def test_a_control_change_redraws_the_stand_in_the_same_div(server: str, page: Any) -> None:
    thumb = opened(page, server)
    page.evaluate("(sel) => { document.querySelector(sel).seenBefore = true; }", STAND)
    one_bay_more(page, thumb)
    assert page.evaluate("(sel) => document.querySelector(sel).seenBefore === true", STAND)
    page.locator(".app-figure").nth(1).scroll_into_view_if_needed()   # the chart below, drawn once seen
    playwright_api.expect(page.locator(".js-plotly-plot")).to_have_count(2)   # stand and chart, once each
    loaded = page.evaluate("performance.getEntriesByType('resource').map(r => r.name)")
    assert sum(name.endswith("/app/static/plotly-basic.min.js") for name in loaded) == 1
    assert not [name for name in loaded if "PlotlyChart" in name], "Streamlit's own plotly.js was loaded"


def test_a_chart_below_the_first_screen_is_drawn_once_seen_with_the_new_run(server: str, page: Any) -> None:
    """A control reruns the page's body alone (a fragment, not the navigation row around it); the chart
    below the first screen waits until it is scrolled to, then shows the run the stand shows, and the
    address says the new value."""
    thumb = opened(page, server)
    below = page.locator(".app-figure").nth(1)
    assert page.locator(".js-plotly-plot").count() == 1   # the stand; the chart is off screen, not drawn
    below.scroll_into_view_if_needed()
    playwright_api.expect(page.locator(".js-plotly-plot")).to_have_count(2)
    chart = "() => JSON.stringify(document.querySelectorAll('.js-plotly-plot')[1].data.map(d => d.y))"
    before = page.evaluate(chart)
    one_bay_more(page, thumb)   # the slider, focused, is scrolled back into view: the chart is off screen
    value = page.get_by_test_id("stSlider").filter(has_text="pool_size").get_by_test_id("stSliderThumbValue")
    playwright_api.expect(page).to_have_url(re.compile(rf"pool\.pool_size%3D{value.inner_text()}(&|$)"))
    assert page.evaluate(chart) == before   # not redrawn while out of sight
    below.scroll_into_view_if_needed()
    page.wait_for_function(f"(before) => ({chart})() !== before", arg=before, timeout=30_000)


def test_a_new_run_stops_the_animation_at_the_new_figures_start(server: str, page: Any) -> None:
    thumb = opened(page, server)
    page.locator(f"{STAND} .updatemenu-button").first.click()
    page.wait_for_function(f"(sel) => ({ACTIVE})(sel) > 2", arg=STAND, timeout=30_000)
    one_bay_more(page, thumb)
    assert page.evaluate(ACTIVE, STAND) == 0
    page.wait_for_timeout(1500)
    assert page.evaluate(ACTIVE, STAND) == 0, "the old animation went on playing the new frames"


def test_the_figure_follows_its_columns_width(server: str, page: Any) -> None:
    opened(page, server)
    wide = page.evaluate("(sel) => document.querySelector(sel)._fullLayout.width", STAND)
    page.evaluate("() => { document.querySelector('.st-key-pg-taxi').style.width = '600px'; }")
    page.wait_for_function("(sel) => document.querySelector(sel)._fullLayout.width <= 600", arg=STAND,
                           timeout=10_000)
    assert wide > 700


def test_a_figure_without_plotly_says_why_as_text_and_draws_once_it_loads(server: str, page: Any) -> None:
    page.route("**/app/static/plotly-basic.min.js", lambda route: route.abort())
    thumb = opened(page, server, STAND_BOX)
    said = page.locator(".st-key-pg-taxi .figure-failed")
    playwright_api.expect(said).to_contain_text("/app/static/plotly-basic.min.js did not load",
                                                timeout=60_000)
    failed = texts("en", "results")["figure_failed"]
    assert said.inner_text().startswith(failed.split("{error}")[0])
    assert page.locator(".js-plotly-plot").count() == 0
    page.unroute("**/app/static/plotly-basic.min.js")
    thumb.focus()
    thumb.press("ArrowRight")   # the next figure tries again
    page.wait_for_selector(STAND, timeout=60_000)
    playwright_api.expect(said).to_have_count(0)


def test_an_error_while_drawing_is_shown_as_the_words_it_is(server: str, page: Any) -> None:
    """An error's text could hold markup (a scenario's name, say): it is shown, never made into elements."""
    stub = "window.Plotly = {react: () => Promise.reject(new Error('<b>bold</b> <img src=x>'))};"
    page.route("**/app/static/plotly-basic.min.js",
               lambda route: route.fulfill(body=stub, content_type="application/javascript"))
    opened(page, server, STAND_BOX)
    said = page.locator(".st-key-pg-taxi .figure-failed")
    playwright_api.expect(said).to_contain_text("<b>bold</b> <img src=x>", timeout=60_000)
    assert said.locator("*").count() == 0 and page.locator(".st-key-pg-taxi img").count() == 0
