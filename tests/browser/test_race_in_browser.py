"""A against B in a real browser: opened by link, both stands moved by one Play and one slider, whole at
1280 x 720.

What the browser draws is read from the plot's SVG: each panel's texts (its
clock first) and the positions of its points, A's on the x/y axes and B's on
x2/y2. Nothing here asks the server between frames: the figure plays alone.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.chromium import SHOTS, browser, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

W, H = 1280, 720
PAIR = ".st-key-race-pair .js-plotly-plot"
LINK = "/race?preset=burst-into-overflow&b=pool.pool_size%3D20&b=pool.max_overflow%3D0"

DRAWN = """(sel) => {
    const plot = document.querySelector(sel);
    const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
    const at = plot.getBoundingClientRect();
    const area = (x, y) => {   // a panel's plot area: its points outside it (the legend's) are clipped
        const xa = plot._fullLayout[x], ya = plot._fullLayout[y];
        return [at.left + xa._offset, at.top + ya._offset, at.left + xa._offset + xa._length,
                at.top + ya._offset + ya._length];
    };
    const panel = (s, x, y) => ({
        texts: [...plot.querySelectorAll(`.subplot.${s} .textpoint text`)].map(e => e.textContent),
        points: [...plot.querySelectorAll(`.subplot.${s} .scatterlayer .point`)]
            .map(e => e.getAttribute('transform')).join(' '),
        boxes: [...plot.querySelectorAll(`.subplot.${s} .textpoint text`)].map(box)
            .filter(b => b[2] - b[0] > 0),
        area: area(x, y),
    });
    const header = document.querySelector('header');
    return {a: panel('xy', 'xaxis', 'yaxis'), b: panel('x2y2', 'xaxis2', 'yaxis2'), plot: box(plot),
            header: header ? box(header)[3] : 0,
            titles: [...plot.querySelectorAll('.annotation-text')].map(e => e.textContent),
            controls: [...plot.querySelectorAll('.updatemenu-button, .slider-container')].map(box),
            scrolled: window.scrollY};
}"""


def drawn(page: Any) -> dict[str, Any]:
    return dict(page.evaluate(DRAWN, PAIR))


def clock(panel: dict[str, Any]) -> str:
    return next(t for t in panel["texts"] if re.match(r"Time \d", t))


def opened(page: Any, server: str) -> dict[str, Any]:
    page.goto(server + LINK)
    page.wait_for_selector(PAIR, timeout=60_000)
    settled(page)
    return drawn(page)


def test_a_link_opens_both_sides_and_play_moves_both_stands(server: str, page: Any) -> None:
    before = opened(page, server)
    assert "A: pool_size 10 · max_overflow 10" in before["titles"]
    assert "B: pool_size 20 · max_overflow 0" in before["titles"]
    assert clock(before["a"]) == clock(before["b"])
    page.locator(f"{PAIR} .updatemenu-button").filter(has_text="Play").click()
    page.wait_for_timeout(2500)
    page.locator(f"{PAIR} .updatemenu-button").filter(has_text="Pause").click()
    page.wait_for_timeout(300)
    after = drawn(page)
    page.screenshot(path="/tmp/race-playing.png")
    assert clock(after["a"]) != clock(before["a"]) and clock(after["b"]) != clock(before["b"])
    assert clock(after["a"]) == clock(after["b"])                  # one moment on both sides
    assert after["a"]["points"] != before["a"]["points"] and after["b"]["points"] != before["b"]["points"]


def test_the_one_slider_moves_both_stands(server: str, page: Any) -> None:
    before = opened(page, server)
    rail = page.locator(f"{PAIR} .slider-rail-rect").first.bounding_box()
    page.mouse.click(rail["x"] + 0.7 * rail["width"], rail["y"] + rail["height"] / 2)
    page.wait_for_timeout(500)
    after = drawn(page)
    assert clock(after["a"]) == clock(after["b"]) != clock(before["a"])
    seconds = float(re.search(r"[\d.]+", clock(after["a"])).group())   # type: ignore[union-attr]
    assert 30 <= seconds <= 40                                       # 70% of the 50 s run


def test_both_stands_are_whole_on_the_first_screen(server: str, page: Any) -> None:
    seen = opened(page, server)
    assert seen["scrolled"] == 0

    def inside(box: list[float]) -> bool:
        left, top, right, bottom = box
        return left >= 0 and top >= seen["header"] - 0.5 and right <= W + 0.5 and bottom <= H + 0.5

    assert inside(seen["plot"]), seen["plot"]
    for side in ("a", "b"):
        assert inside(seen[side]["area"]), (side, seen[side]["area"])       # every taxi drawn is in it
        assert seen[side]["boxes"], side
        off = [b for b in seen[side]["boxes"] if not inside(b)]            # the clock, counters, caption
        assert not off, (side, off)
    assert seen["a"]["area"][2] < seen["b"]["area"][0]                     # side by side
    assert seen["a"]["area"][2] - seen["a"]["area"][0] > 0.35 * W          # each a good part of the width
    assert seen["controls"] and all(inside(b) for b in seen["controls"])
