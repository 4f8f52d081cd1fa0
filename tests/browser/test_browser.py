"""The app in a real browser: `streamlit run` driven by Playwright through Debian's Chromium.

These are the flows AppTest cannot see: the animation playing in the page,
a live run on the embedded PostgreSQL drawn when it finishes, and a shared
link opening the same scenario. Screenshots go to tests/browser/screenshots,
emptied at the start of the module.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.chromium import SHOTS, browser, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


TAXI_STATE = """() => {
    const plot = document.querySelector('.js-plotly-plot');
    const s = plot.layout.sliders && plot.layout.sliders[0];
    return String(s ? s.active : -1) + '|' + JSON.stringify(plot.data.map(d => [d.x, d.y, d.text]));
}"""


def taxi_clock(page: object) -> str:
    """The animation's current frame and drawn data, read from the plotted figure in the page."""
    return str(page.evaluate(TAXI_STATE))  # type: ignore[attr-defined]


def test_the_playground_animation_plays(server: str, page: object) -> None:
    page.goto(f"{server}/playground?preset=burst-into-overflow")  # type: ignore[attr-defined]
    settled(page)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # type: ignore[attr-defined]
    before = taxi_clock(page)
    page.locator(".js-plotly-plot .updatemenu-button").first.click()  # type: ignore[attr-defined]
    page.wait_for_timeout(2500)  # type: ignore[attr-defined]
    after = taxi_clock(page)
    page.screenshot(path=str(SHOTS / "playground-playing.png"))  # type: ignore[attr-defined]
    assert after != before


def test_the_taxi_stand_gets_the_width_its_markers_were_sized_for(server: str, page: object) -> None:
    """At 1280 x 720 (a projector) the plot area is as wide as the taxis' sizes assume, or bays overlap."""
    from app.taxi import PLOT_PX

    page.goto(f"{server}/playground")  # type: ignore[attr-defined]
    settled(page)
    page.wait_for_selector(".js-plotly-plot")  # type: ignore[attr-defined]
    width = page.evaluate(  # type: ignore[attr-defined]
        "() => document.querySelector('.js-plotly-plot')._fullLayout._size.w")
    assert width >= PLOT_PX * 0.95


def test_a_shared_link_opens_the_same_scenario(server: str, page: object) -> None:
    page.goto(f"{server}/playground?preset=slow-leak&set=pool.pool_size%3D3")  # type: ignore[attr-defined]
    settled(page)
    sliders = page.get_by_test_id("stSlider")  # type: ignore[attr-defined]
    slider = sliders.filter(has_text="pool_size").first
    playwright_api.expect(slider).to_contain_text("3")
    assert "preset=slow-leak" in page.url and "pool.pool_size%3D3" in page.url  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "shared-link.png"))  # type: ignore[attr-defined]


def test_a_live_run_on_the_embedded_server_shows_results(server: str, page: object) -> None:
    page.goto(f"{server}/live?preset=pooled&set=duration_s%3D2")  # type: ignore[attr-defined]
    settled(page)
    page.get_by_role("button", name="Run on PostgreSQL").click()  # type: ignore[attr-defined]
    done = page.get_by_text("connections left on the server: 0")  # type: ignore[attr-defined]
    playwright_api.expect(done.first).to_be_visible(timeout=90_000)
    settled(page)
    playwright_api.expect(page.get_by_test_id("stMetric").first).to_be_visible()  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "live-lab.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["zh-TW", "zh-CN", "ru", "en"])
def test_a_lesson_shows_the_answer_only_after_a_prediction(server: str, page: object, lang: str) -> None:
    """As a student meets it: the figure that answers "how many will wait?" is nowhere on the page
    until a guess is committed; then it stands beside the guess, with the run's cards and the prose."""
    from app import i18n, lessons

    path = lessons.LESSONS_DIR / lang / "03-overflow.md"
    block = next(b for b in lessons.blocks(lessons.parse(path.read_text(encoding="utf-8"))) if b.id == "cap")
    waiting = lessons.simulated_metrics(lessons.runs(block)[""])["peak"]["waiting"]
    written = i18n.number(lang, waiting, 0)
    page.goto(f"{server}/lessons?lang={lang}&lesson=03-overflow")  # type: ignore[attr-defined]
    settled(page, 120)
    key = ".st-key-lesson-03-overflow-cap"
    ask = page.locator(f"{key}-number input")  # type: ignore[attr-defined]
    ask.scroll_into_view_if_needed()
    body = page.locator("body")  # type: ignore[attr-defined]
    assert written not in body.inner_text()
    cards = page.get_by_test_id("stMetric")  # type: ignore[attr-defined]
    n_cards = cards.count()
    ask.fill("30")
    ask.press("Enter")
    settled(page)
    page.locator(f"{key}-commit button").click()  # type: ignore[attr-defined]
    settled(page, 120)
    verdict = page.get_by_test_id("stAlertContentInfo").filter(has_text=written)  # type: ignore[attr-defined]
    playwright_api.expect(verdict.first).to_be_visible()
    assert "30" in verdict.first.inner_text()
    playwright_api.expect(cards).to_have_count(n_cards + 6)   # the run, drawn once predicted
    page.screenshot(path=str(SHOTS / f"lesson-predicted-{lang}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_lesson_in_traditional_chinese_answers_its_quiz(server: str, page: object) -> None:
    """A teacher's link to a lesson in zh-TW: the CJK text renders, a quiz answers."""
    from app import lessons

    path = lessons.LESSONS_DIR / "zh-TW" / "03-overflow.md"
    segments = lessons.parse(path.read_text(encoding="utf-8"))
    quiz = next(b for b in lessons.blocks(segments) if b.kind == "quiz")
    page.goto(f"{server}/lessons?lang=zh-TW&lesson=03-overflow")  # type: ignore[attr-defined]
    settled(page, 120)
    heading = page.get_by_role("heading", name=lessons.title_of(path))  # type: ignore[attr-defined]
    playwright_api.expect(heading.first).to_be_visible()
    right = quiz.data["options"][quiz.data["answer"]].split("{{")[0].strip()[:15]  # before any figure
    option = page.get_by_test_id("stRadio").get_by_text(right).first  # type: ignore[attr-defined]
    option.scroll_into_view_if_needed()
    option.click()
    settled(page)
    feedback = page.get_by_test_id("stAlertContentSuccess")  # type: ignore[attr-defined]
    playwright_api.expect(feedback.first).to_be_visible()
    page.screenshot(path=str(SHOTS / "lesson-zh-TW.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_number_typed_just_before_opening_another_tab_is_kept(server: str, page: object) -> None:
    """Typing a value and clicking a tab sends both at once; the value must reach the scenario and the URL."""
    page.goto(f"{server}/playground?preset=burst-into-overflow")  # type: ignore[attr-defined]
    settled(page)
    page.get_by_role("radio", name="Traffic").click()  # type: ignore[attr-defined]
    settled(page)
    inputs = page.get_by_test_id("stNumberInput")  # type: ignore[attr-defined]
    rate = inputs.filter(has_text="rate_per_s").locator("input")
    rate.fill("33")
    page.get_by_role("radio", name="Database").click()  # type: ignore[attr-defined]  # no Enter: the click commits
    settled(page)
    playwright_api.expect(page).to_have_url(re.compile(r"workload\.rate_per_s%3D33"))
    page.get_by_role("radio", name="Traffic").click()  # type: ignore[attr-defined]
    settled(page)
    playwright_api.expect(rate).to_have_value("33")


def test_the_share_popover_shows_the_links_qr_code_once_opened(server: str, page: object) -> None:
    """The code is drawn only while the popover is open (a rerun when it opens): it must then appear,
    with the popover still open, and encode this page's link."""
    page.goto(f"{server}/playground?preset=slow-leak&set=pool.pool_size%3D3")  # type: ignore[attr-defined]
    settled(page)
    page.get_by_test_id("stPopoverButton").click()  # type: ignore[attr-defined]
    body = page.get_by_test_id("stPopoverBody")  # type: ignore[attr-defined]
    playwright_api.expect(body.locator("img")).to_be_visible(timeout=30_000)
    playwright_api.expect(body.get_by_test_id("stCode")).to_contain_text("pool.pool_size%3D3")


def test_every_group_of_settings_is_in_sight_and_one_stays_picked(server: str, page: object) -> None:
    """Beside the stand the groups are one row of buttons, wrapped, none hidden behind a scroll arrow;
    a click on the open one leaves it open (a segmented control would otherwise unpick it)."""
    from app.controls import GROUPS
    from app.i18n import texts

    page.goto(f"{server}/playground?preset=burst-into-overflow")  # type: ignore[attr-defined]
    settled(page)
    names = texts("en", "controls.group")
    groups = page.get_by_role("radiogroup", name=texts("en", "controls")["groups"])  # type: ignore[attr-defined]
    for group in GROUPS:
        playwright_api.expect(groups.get_by_role("radio", name=names[group], exact=True)).to_be_in_viewport()
    traffic = groups.get_by_role("radio", name=names["traffic"], exact=True)
    traffic.click()
    settled(page)
    playwright_api.expect(traffic).to_be_checked()
    traffic.click()   # the open one again
    settled(page)
    playwright_api.expect(traffic).to_be_checked()
    rate = page.get_by_test_id("stNumberInput").filter(has_text="rate_per_s")  # type: ignore[attr-defined]
    playwright_api.expect(rate).to_be_visible()
