"""Chromium for the browser tests: Debian's, driven by Playwright (no browser download here).

A test module imports its fixtures from here; without playwright or Debian's
chromium, importing it skips the module, saying which is missing. (Not a
conftest.py: the tests import their helpers as `conftest`, which a second
one would shadow.)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.served import CHROMIUM_ARGS, served_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


SHOTS = Path(__file__).resolve().parent / "screenshots"
"""Where the browser tests leave the screenshots they take, for a person to look at."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free port, for the module."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with served_app() as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


def settled(page: object, timeout_s: float = 60) -> None:
    """Wait until the script has finished running and nothing is still loading."""
    app = page.get_by_test_id("stApp")  # type: ignore[attr-defined]
    playwright_api.expect(app).to_have_attribute("data-test-script-state", "notRunning",
                                                 timeout=timeout_s * 1000)
    page.wait_for_timeout(300)  # type: ignore[attr-defined]


def once_drawn(page: object, script: str, selector: str) -> dict:  # type: ignore[type-arg]
    """`script(selector)` read in one step once the element is on the page after the script's last run:
    a layout switch (Present, Leave) mounts a new figure a moment after the old one is gone."""
    settled(page)
    found = page.wait_for_function(  # type: ignore[attr-defined]
        f"(sel) => document.querySelector(sel) ? ({script})(sel) : null", arg=selector, timeout=60_000)
    return dict(found.json_value())
