"""The playground's first screen at 1280 x 720, as a teacher's projector shows it.

For every preset, on load and without scrolling: the whole taxi stand (its
figure, with the clock and counters drawn in it) and the six numbers are
inside the window and below Streamlit's sticky header. With `?present=1` the
stand takes most of the window, only the controls the link names are drawn,
no prose is, and the link reopens the same mode.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from sim.scenario import preset_names
from tests.browser.chromium import SHOTS, browser, once_drawn, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

W, H = 1280, 720
STAND = ".st-key-pg-taxi .js-plotly-plot"

BOXES = """(sel) => {
    const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
    const plot = document.querySelector(sel);
    const header = document.querySelector('header');
    return {
        stand: plot ? box(plot) : null,
        texts: plot ? [...plot.querySelectorAll('.textpoint text, .ytick text')]
            .filter(e => e.textContent.trim()).map(e => [e.textContent, ...box(e)]) : [],
        cards: [...document.querySelectorAll('[data-testid=stMetric]')].map(box),
        header: header ? box(header)[3] : 0,
        scrolled: window.scrollY,
    };
}"""


def boxes(page: Any) -> dict[str, Any]:
    return once_drawn(page, BOXES, STAND)


def on_screen(box: list[float], top: float) -> bool:
    left, upper, right, lower = box
    return left >= 0 and upper >= top - 0.5 and right <= W + 0.5 and lower <= H + 0.5


@pytest.mark.parametrize("preset", preset_names())
def test_the_stand_and_its_numbers_are_on_the_first_screen(server: str, page: Any, preset: str) -> None:
    page.goto(f"{server}/playground?preset={preset}")
    seen = boxes(page)
    assert seen["scrolled"] == 0
    assert seen["stand"] is not None and on_screen(seen["stand"], seen["header"]), seen["stand"]
    drawn = [t for t in seen["texts"] if t[3] - t[1] > 0]
    assert any(re.search(r"\d", t[0]) for t in drawn)          # the clock and counters are drawn
    off = [t for t in drawn if not on_screen(t[1:], seen["header"])]
    assert not off, off
    assert len(seen["cards"]) == 6
    off_cards = [c for c in seen["cards"] if not on_screen(c, seen["header"])]
    assert not off_cards, off_cards


@pytest.mark.parametrize("preset", preset_names())
def test_presentation_mode_gives_the_stand_the_screen(server: str, page: Any, preset: str) -> None:
    from app.i18n import texts

    page.goto(f"{server}/playground?preset={preset}&present=1")
    seen = boxes(page)
    left, top, right, bottom = seen["stand"]
    assert right - left >= 0.8 * W and bottom - top >= 0.7 * H, seen["stand"]
    assert on_screen(seen["stand"], seen["header"]), seen["stand"]
    body = page.locator("body").inner_text()
    playground = texts("en", "playground")
    assert playground["intro"] not in body
    assert page.locator("[data-testid=stMainBlockContainer] h1").count() == 0   # no page title either
    assert page.get_by_test_id("stTabs").count() == 0   # no control groups, no charts' tabs


def test_a_presentation_link_shows_its_controls_and_reopens_as_it_was(server: str, page: Any) -> None:
    link = (f"{server}/playground?preset=burst-into-overflow&present=1"
            "&controls=workload.rate_per_s,pool.max_overflow,no.such")
    page.goto(link)
    boxes(page)
    sliders = page.get_by_test_id("stSlider")
    numbers = page.get_by_test_id("stNumberInput")
    labels = [*sliders.all_inner_texts(), *numbers.all_inner_texts()]
    assert len(labels) == 2, labels
    assert any("rate_per_s" in x for x in labels) and any("max_overflow" in x for x in labels)
    playwright_api.expect(page.get_by_text("no.such")).to_be_visible()   # said, as plain text
    rate = numbers.filter(has_text="rate_per_s").locator("input")
    rate.fill("55")
    rate.press("Enter")
    settled(page)
    playwright_api.expect(page).to_have_url(re.compile(r"present=1"))
    playwright_api.expect(page).to_have_url(re.compile(r"workload\.rate_per_s%3D55"))
    url = page.url
    assert "controls=workload.rate_per_s%2Cpool.max_overflow" in url or \
        "controls=workload.rate_per_s,pool.max_overflow" in url, url
    again = page.context.new_page()
    again.goto(url)
    seen = boxes(again)
    assert seen["stand"][2] - seen["stand"][0] >= 0.8 * W
    playwright_api.expect(again.get_by_test_id("stNumberInput").filter(has_text="rate_per_s")
                          .locator("input")).to_have_value("55")
    assert again.get_by_test_id("stSlider").count() + again.get_by_test_id("stNumberInput").count() == 2


def test_the_present_button_opens_presentation_mode_and_back(server: str, page: Any) -> None:
    page.goto(f"{server}/playground?preset=slow-leak")
    boxes(page)
    page.get_by_role("button", name="Present").click()
    # the rerun has drawn the classroom layout (not the playground still on screen from before the click)
    playwright_api.expect(page.get_by_role("button", name="Leave presentation")).to_be_visible(timeout=60_000)
    seen = boxes(page)
    assert seen["stand"][2] - seen["stand"][0] >= 0.8 * W
    playwright_api.expect(page).to_have_url(re.compile(r"present=1.*controls=pool\.pool_size"))
    assert page.get_by_test_id("stTabs").count() == 0
    page.get_by_role("button", name="Leave presentation").click()
    playwright_api.expect(page.get_by_role("button", name="Present")).to_be_visible(timeout=60_000)
    seen = boxes(page)
    assert seen["stand"][2] - seen["stand"][0] < 0.8 * W
    assert "present=1" not in page.url
    playwright_api.expect(page.get_by_test_id("stTabs").first).to_be_visible()
