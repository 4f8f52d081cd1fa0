"""The incident page in Chromium: an error pasted as a visitor pastes it, its scenario opened, and the
playground showing the same failure; what the page draws at 1280 x 720 and on a 390 px phone.

Screenshots go to tests/browser/screenshots/incident-*.png.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app import i18n, incident
from tests.browser.chromium import SHOTS, browser, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

QUEUEPOOL = ("sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed "
             "out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)")


def en(key: str, **params: Any) -> str:
    return i18n.tr("en", key, **params)


def paste(page: Any, text: str) -> None:
    """Into the box, as a visitor does: paste, then Ctrl+Enter sends it (as leaving the box would)."""
    box = page.get_by_label(en("incident.paste"))
    box.fill(text)
    box.press("Control+Enter")
    settled(page, 120)


def card(page: Any, label: str) -> int:
    value = page.locator('[data-testid="stMetric"]', has_text=label).first \
        .locator('[data-testid="stMetricValue"]').inner_text()
    return int(re.sub(r"[^\d]", "", value) or 0)


def test_a_pasted_queuepool_error_opens_in_the_playground_with_its_timeouts(server: str, page: Any) -> None:
    page.goto(f"{server}/incident")
    settled(page, 120)
    paste(page, QUEUEPOOL)
    meaning = en("diagnose.sign.queuepool_timeout")
    playwright_api.expect(page.get_by_text(meaning[:60])).to_be_visible(timeout=60_000)
    assert card(page, en("metric.timed_out")) > 0                 # the failure, simulated on the page
    page.screenshot(path=str(SHOTS / "incident-read.png"))
    page.get_by_role("button", name=en("incident.open")).click()
    page.wait_for_url(re.compile(r"/playground\?"), timeout=60_000)
    settled(page, 120)
    assert card(page, en("metric.timed_out")) > 0                 # the playground shows the same failure
    assert "preset=exhaustion-timeouts" in page.url and "pool.pool_timeout%3D30" in page.url   # a link to it
    page.screenshot(path=str(SHOTS / "incident-playground.png"))


def test_pasted_markup_stays_text(server: str, page: Any) -> None:
    page.goto(f"{server}/incident")
    settled(page, 120)
    paste(page, QUEUEPOOL + "\npool_size = <img src=x onerror=window.pwned=1>\nmax_overflow = **bold**")
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("main img[src=x]").count() == 0
    playwright_api.expect(page.get_by_text("<img src=x onerror=window.pwned=1>").first).to_be_visible()


def test_the_page_fits_a_phone(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        phone.goto(f"{server}/incident")
        settled(phone, 120)
        phone.get_by_role("button", name=en("incident.example.asyncpg")).click()
        settled(phone, 120)
        wide = phone.evaluate("() => document.querySelector('[data-testid=stMain]').scrollWidth")
        assert wide <= 390
        phone.screenshot(path=str(SHOTS / "incident-phone.png"))
        pasted = phone.get_by_label(en("incident.paste")).input_value()
        assert incident.SAMPLES["asyncpg"].splitlines()[1] in pasted
    finally:
        context.close()
