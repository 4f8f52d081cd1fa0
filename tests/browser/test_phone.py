"""Every page on a phone, 390 x 844 in Chromium's phone emulation, as a student holds it in class.

The playground's stand is drawn for the phone: its texts, legend and buttons
apart from one another, the legend under the plot, the six numbers two by
two, and nothing wider than the screen, on any page. Streamlit gives the
server no window width, so the first visit is drawn wide, the page's width
probe sets a cookie and reloads once, and from then on the server draws the
phone's layout (`frame.narrow`); the fixture meets the app that way too.
Screenshots go to tests/browser/screenshots/phone-*.png.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from app.frame import WIDTH_COOKIE
from tests.browser.chromium import SHOTS, browser, once_drawn, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

W, H = 390, 844
PHONE = {"viewport": {"width": W, "height": H}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
STAND = ".st-key-pg-taxi .js-plotly-plot"
RELOADED = "() => performance.getEntriesByType('navigation')[0].type === 'reload'"
DRAWN = """() => document.querySelectorAll(   // a page drawn, not a blank one
    '[data-testid=stMainBlockContainer] [data-testid=stElementContainer]').length > 3"""

# Boxes [left, top, right, bottom] in the window: the stand, its plot area (from plotly's own layout), its
# texts (with what they say), legend and buttons, the six numbers, and how wide the page is.
BOXES = """(sel) => {
    const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
    const plot = document.querySelector(sel);
    const main = document.querySelector('[data-testid=stMain]');
    const seen = e => e.getBoundingClientRect().height > 0;
    const texts = '.textpoint text, .ytick text, .legendtext, .updatemenu-item-text, .slider-currentvalue, '
        + '.annotation-text';
    let area = null;
    if (plot) {
        const at = plot.getBoundingClientRect(), size = plot._fullLayout._size;
        area = [at.left + size.l, at.top + size.t, at.left + size.l + size.w, at.top + size.t + size.h];
    }
    return {
        stand: plot ? box(plot) : null,
        area: area,
        texts: plot ? [...plot.querySelectorAll(texts)].filter(e => e.textContent.trim() && seen(e))
            .map(e => [e.textContent, ...box(e)]) : [],
        legend: plot && plot.querySelector('.legend') ? box(plot.querySelector('.legend')) : null,
        legend_h: plot ? plot._fullLayout.legend.orientation === 'h' : null,
        buttons: plot ? [...plot.querySelectorAll('.updatemenu-button')].map(box) : [],
        cards: [...document.querySelectorAll('[data-testid=stMetric]')].map(box),
        wide: [document.scrollingElement.scrollWidth, main ? main.scrollWidth - main.clientWidth : 0],
    };
}"""


@pytest.fixture(scope="module")
def phone_context(browser: Any, server: str) -> Iterator[Any]:
    """A phone's browser that has been to the app once: the width probe's cookie says it is narrow."""
    context = browser.new_context(**PHONE)
    first = context.new_page()
    first.goto(f"{server}/glossary")
    first.wait_for_function(RELOADED, timeout=60_000)
    settled(first)
    first.close()
    yield context
    context.close()


@pytest.fixture
def phone(phone_context: Any) -> Iterator[Any]:
    tab = phone_context.new_page()
    yield tab
    tab.close()


def boxes(page: Any) -> dict[str, Any]:
    return once_drawn(page, BOXES, STAND)


def overlaps(a: list[float], b: list[float]) -> bool:
    """Two boxes share more than a pixel's sliver each way (an outline may touch its neighbour)."""
    return min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1


def not_wider_than_the_phone(seen: dict[str, Any]) -> None:
    document, main = seen["wide"]
    assert document <= W and main <= 0, seen["wide"]


def test_the_first_visit_sets_the_cookie_and_reloads_once_into_the_phones_layout(browser: Any,
                                                                                 server: str) -> None:
    context = browser.new_context(**PHONE)
    try:
        tab = context.new_page()
        tab.goto(f"{server}/playground?preset=pooled")
        tab.wait_for_function(RELOADED, timeout=60_000)
        seen = boxes(tab)
        assert seen["legend_h"] is True   # the server drew the phone's figure
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        assert cookies[WIDTH_COOKIE] == "narrow"
        tab.evaluate("() => { window.stayed = true; }")
        tab.wait_for_timeout(2000)
        assert tab.evaluate("() => window.stayed === true")   # no second reload
        assert "preset=pooled" in tab.url
    finally:
        context.close()


def test_a_wide_window_sets_no_cookie_and_is_not_reloaded(server: str, page: Any) -> None:
    page.goto(f"{server}/playground?preset=pooled")
    seen = boxes(page)
    assert seen["legend_h"] is False
    assert page.evaluate("() => performance.getEntriesByType('navigation')[0].type") == "navigate"
    assert WIDTH_COOKIE not in {c["name"] for c in page.context.cookies()}


@pytest.mark.parametrize(("preset", "lang"), [("pooled", "en"), ("rush-hour", "en"), ("slow-leak", "en"),
                                              ("burst-into-overflow", "en"), ("too-many-clients", "en"),
                                              ("rush-hour", "ru"), ("slow-leak", "zh-TW")])
def test_the_stand_on_a_phone_has_nothing_on_top_of_anything(server: str, phone: Any, preset: str,
                                                              lang: str) -> None:
    phone.goto(f"{server}/playground?preset={preset}&lang={lang}")
    seen = boxes(phone)
    phone.screenshot(path=str(SHOTS / f"phone-{preset}-{lang}.png"), full_page=True)
    left, _, right, _ = seen["stand"]
    assert left >= 0 and right <= W + 0.5 and right - left >= 0.9 * W, seen["stand"]
    texts = seen["texts"]
    assert any(t[0].startswith(("Time", "Время", "時間")) for t in texts)
    clashes = [(a[0], b[0]) for a, b in itertools.combinations(texts, 2) if overlaps(a[1:], b[1:])]
    assert not clashes, clashes
    off = [t for t in texts if t[1] < -0.5 or t[3] > W + 0.5]
    assert not off, off
    area = seen["area"]
    assert area[2] - area[0] >= 0.85 * W, area   # the taxis have the width, not the row names or the legend
    legend = seen["legend"]
    assert legend is not None and legend[1] >= area[3], (legend, area)   # all of it under the plot
    assert all(legend[1] >= b[3] for b in seen["buttons"])                # ... and under the buttons
    assert len(seen["buttons"]) == 6    # Play, Pause and four speeds
    clashing = [(a, b) for a, b in itertools.combinations(seen["buttons"], 2) if overlaps(a, b)]
    assert not clashing, clashing
    assert all(b[0] >= 0 and b[2] <= W + 0.5 for b in seen["buttons"]), seen["buttons"]
    not_wider_than_the_phone(seen)


def test_the_six_numbers_are_two_columns_of_three(server: str, phone: Any) -> None:
    phone.goto(f"{server}/playground?preset=rush-hour")
    seen = boxes(phone)
    cards = seen["cards"]
    assert len(cards) == 6
    lefts, tops = sorted({round(c[0]) for c in cards}), sorted({round(c[1]) for c in cards})
    assert len(lefts) == 2 and len(tops) == 3, cards
    assert not [(a, b) for a, b in itertools.combinations(cards, 2) if overlaps(a, b)]
    assert all(c[0] >= 0 and c[2] <= W + 0.5 for c in cards), cards
    assert min(tops) >= seen["stand"][3]   # under the stand


def test_the_controls_come_after_the_stand(server: str, phone: Any) -> None:
    phone.goto(f"{server}/playground?preset=pooled")
    seen = boxes(phone)
    picker = phone.get_by_test_id("stSelectbox").filter(has_text="preset").first
    playwright_api.expect(picker).to_be_attached()
    assert picker.bounding_box()["y"] >= seen["stand"][3]
    assert all(picker.bounding_box()["y"] >= c[3] for c in seen["cards"])


@pytest.mark.parametrize("path", ["/", "/playground", "/playground?present=1",
                                  "/playground?preset=too-many-clients&present=1", "/?present=1", "/lessons",
                                  "/glossary", "/reference", "/live", "/compare"])
def test_no_page_is_wider_than_the_phone(server: str, phone: Any, path: str) -> None:
    phone.goto(f"{server}{path}")
    phone.wait_for_function(DRAWN, timeout=60_000)
    settled(phone)
    seen = boxes(phone) if path.startswith("/playground") else dict(phone.evaluate(BOXES, STAND))
    name = path.strip("/").replace("?", "-").replace("&", "-").replace("=", "-") or "home"
    phone.screenshot(path=str(SHOTS / f"phone-page-{name}.png"))
    not_wider_than_the_phone(seen)
    if "present=1" in path and path.startswith("/playground"):
        assert seen["stand"] is not None and seen["legend_h"] is True
        assert seen["stand"][2] <= W + 0.5
