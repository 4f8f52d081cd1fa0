"""Home and the frame around every page, in Chromium at 1280 x 720 (a projector, a laptop).

What AppTest cannot see: which address serves Home, what fits in the first
screen, the stand playing without a click, the language picker's place in the
navigation row, and the language surviving the navigation menu. Screenshots
go to tests/browser/screenshots/home-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app import i18n
from tests.browser.chromium import SHOTS, browser, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

VIEWPORT_H = 720
WAYS = tuple(i18n.tr("en", f"home.way_{way}") for way in ("fail", "error", "teach"))
STAND = ".st-key-home-stand .js-plotly-plot"
PICKER = ".st-key-nav-language"

# The stand's clock as drawn now, in seconds, read with the pattern of the language's clock text;
# every reading is kept in the page, under the pattern.
CLOCK = """(pattern) => {
    const plot = document.querySelector('.st-key-home-stand .js-plotly-plot');
    const m = plot && JSON.stringify(plot.data.map(d => d.text)).match(new RegExp(pattern));
    if (!m) return null;
    const seen = (window.homeClock = window.homeClock || {});
    (seen[pattern] = seen[pattern] || []).push(parseFloat(m[1].replace(',', '.')));
    return seen[pattern];
}"""


# The page's first element in the flow: how far below the top of the page's block, and if it holds the picker.
FIRST_IN_PAGE = """() => {
    const main = '[data-testid=stMainBlockContainer] > [data-testid=stVerticalBlock]';
    const block = document.querySelector(main);
    const kids = [...block.children].filter(
        e => getComputedStyle(e).position !== 'fixed' && e.getBoundingClientRect().height > 0);
    return [Math.round(kids[0].getBoundingClientRect().top - block.getBoundingClientRect().top),
            kids.some(e => e.querySelector('.st-key-nav-language') !== null)];
}"""


def clock_until(page: Any, condition: str, timeout_s: float, lang: str = "en") -> None:
    """Wait until the stand's clock readings so far, `c` (in the language's text), meet the condition."""
    pattern = re.escape(i18n.tr(lang, "taxi.clock", t="@")).replace("@", "([0-9.,]+)")
    met = f"(pattern) => {{ const c = ({CLOCK})(pattern); return c !== null && ({condition}); }}"
    page.wait_for_function(met, arg=pattern, polling=250, timeout=timeout_s * 1000)


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first
    found.wait_for(state="visible", timeout=60_000)
    return dict(found.bounding_box())


def way_in(page: Any, label: str) -> Any:
    return page.get_by_role("button", name=re.compile(re.escape(label)))


@pytest.mark.parametrize("path", ["/", "/home"])
def test_home_opens_at_its_address_and_at_the_root(server: str, page: Any, path: str) -> None:
    page.goto(f"{server}{path}")
    settled(page)
    playwright_api.expect(page.get_by_role("heading", level=1)).to_have_text(i18n.tr("en", "home.title"))
    playwright_api.expect(page.get_by_role("button", name=WAYS[0])).to_be_visible()
    assert page.get_by_text("Page not found").count() == 0
    assert page.url.split("?")[0] == f"{server}{path}"          # not redirected to "/" by a fallback


def test_the_first_screen_is_the_stand_playing_and_three_ways_in(server: str, page: Any) -> None:
    page.goto(server)
    settled(page)
    for label in WAYS:
        button = box(page, f".st-key-home-ways button:has-text('{label}')")
        assert button["y"] >= 0 and button["y"] + button["height"] <= VIEWPORT_H, label
    stand = box(page, STAND)
    assert stand["y"] + stand["height"] <= VIEWPORT_H                 # its clock and its Play button too
    # nobody clicks: the stand plays, and starts again from the beginning after its last frame
    clock_until(page, "c.length > 1 && c.at(-1) > c[0]", 30)
    page.screenshot(path=str(SHOTS / "home-first-screen.png"))
    clock_until(page, "Math.max(...c) > 12 && c.at(-1) < 4", 60)


@pytest.mark.parametrize(("path", "width"), [("/", 1280), ("/playground", 1280), ("/glossary?lang=ru", 1280),
                                             ("/glossary?lang=ru", 1024)])
def test_the_language_picker_is_in_the_navigation_row(server: str, page: Any, path: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": VIEWPORT_H})
    page.goto(f"{server}{path}")
    settled(page, 120)
    header = box(page, "header[data-testid='stHeader']")
    picker = box(page, PICKER)
    assert header["y"] <= picker["y"] and picker["y"] + picker["height"] <= header["y"] + header["height"]
    links = page.locator("header [data-testid='stTopNav'] > *")
    ends = [b["x"] + b["width"] for b in (links.nth(i).bounding_box() for i in range(links.count())) if b]
    assert ends and max(ends) < picker["x"]                                 # beside the links, not over them
    # and it takes no room in the page: what the page draws first starts where the page starts
    first, holds_picker = page.evaluate(FIRST_IN_PAGE)
    assert first == 0 and not holds_picker
    if path == "/":
        page.screenshot(path=str(SHOTS / "home-picker-in-navigation.png"))


def test_a_language_picked_stays_through_the_navigation_menu(server: str, page: Any) -> None:
    page.goto(server)
    settled(page)
    page.locator(f"{PICKER} input").click()
    page.get_by_role("option", name=i18n.LANGUAGES["ru"]).click()
    settled(page)
    playwright_api.expect(way_in(page, i18n.tr("ru", "home.way_error"))).to_be_visible()
    assert "lang=ru" in page.url
    clock_until(page, "c.length > 1 && c.at(-1) > c[0]", 30, "ru")     # the stand redrawn in Russian plays on
    # the glossary is in the "Learn" menu of the navigation row
    menu = page.locator("header [data-testid='stTopNav']")
    menu.get_by_text(i18n.tr("ru", "nav.learn"), exact=True).click()
    page.locator("[data-testid='stTopNavDropdownLink']", has_text=i18n.tr("ru", "page.glossary")).click()
    settled(page)
    playwright_api.expect(page.get_by_role("heading", level=1)).to_have_text(i18n.tr("ru", "glossary.title"))
    assert "/glossary" in page.url and "lang=ru" in page.url


# Every address the app writes into the location bar, in order (Streamlit changes it by history.*State).
ADDRESSES = """(() => {
    window.addresses = [];
    for (const name of ['pushState', 'replaceState']) {
        const original = history[name].bind(history);
        history[name] = (state, title, url) => {
            window.addresses.push(String(url));
            return original(state, title, url);
        };
    }
})()"""


@pytest.mark.parametrize(("label", "path", "params"), [
    (WAYS[0], "/playground", ["preset=exhaustion-timeouts"]),
    (WAYS[1], "/incident", []),
    (WAYS[2], "/playground", ["present=1", "preset=burst-into-overflow"]),
])
def test_each_way_in_opens_its_page(server: str, page: Any, label: str, path: str, params: list[str]) -> None:
    """The button's link as written: the page it opens may rewrite its address later (its own business)."""
    page.add_init_script(ADDRESSES)
    page.goto(server)
    settled(page)
    way_in(page, label).click()
    page.wait_for_url(re.compile(re.escape(path)), timeout=60_000)
    settled(page, 120)
    assert page.get_by_text("Page not found").count() == 0
    opened = [a for a in page.evaluate("() => window.addresses") if a.split("?")[0].endswith(path)]
    assert any(all(p in a for p in params) for a in opened), opened
