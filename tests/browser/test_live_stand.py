"""The live lab in a real browser while a run goes on: the stand moves, the server's table beside it.

A run of 500 requests a second on the embedded PostgreSQL, as a visitor
starts it from the Run button (which says how long it will take); while it
runs the stand of the trace so far is redrawn in the page, beside
pg_stat_activity; when it ends the results say which server they were
recorded on. Screenshots go to tests/browser/screenshots.
"""

from __future__ import annotations

import re

import pytest

from app.live_panel import LIVE_PLOT_PX
from tests.browser.chromium import SHOTS, browser, page, playwright_api, server, settled  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.live]


STAND = """() => {
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    return plots.map(p => JSON.stringify(p.data.map(d => [d.x, d.y, d.text]))).join('|');
}"""

PLOT_WIDTH = "() => document.querySelector('.js-plotly-plot')._fullLayout._size.w"


def test_a_live_run_draws_its_stand_as_it_goes_beside_the_servers_view(server: str, page: object) -> None:
    page.goto(f"{server}/live?preset=pooled&set=duration_s%3D10"  # type: ignore[attr-defined]
              "&set=workload.rate_per_s%3D500")
    settled(page)
    run = page.get_by_role("button", name=re.compile(r"Run on PostgreSQL \(≈ \d+ s\)"))  # type: ignore[attr-defined]
    playwright_api.expect(run).to_be_visible()
    run.click()
    stand = page.get_by_text(re.compile(r"The stand at [\d.]+ s, drawn from the [\d,]+ events"))  # type: ignore[attr-defined]
    playwright_api.expect(stand.first).to_be_visible(timeout=60_000)
    playwright_api.expect(page.get_by_text("The server's own view").first).to_be_visible()  # type: ignore[attr-defined]
    playwright_api.expect(page.get_by_test_id("stDataFrame").first).to_be_visible()  # type: ignore[attr-defined]
    page.wait_for_selector(".js-plotly-plot")  # type: ignore[attr-defined]
    width = page.evaluate(PLOT_WIDTH)  # type: ignore[attr-defined]
    assert LIVE_PLOT_PX * 0.9 <= width <= LIVE_PLOT_PX * 1.15, f"taxis sized for {LIVE_PLOT_PX} px: {width}"
    states = set()
    for _ in range(8):                                    # four seconds of a ten-second run
        states.add(page.evaluate(STAND))  # type: ignore[attr-defined]
        page.wait_for_timeout(500)  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "live-lab-running.png"), full_page=True)  # type: ignore[attr-defined]
    assert len(states) >= 3, "the stand did not move while the run went on"
    recorded = page.get_by_text(re.compile(r"Recorded on PostgreSQL \S+, embedded"))  # type: ignore[attr-defined]
    playwright_api.expect(recorded.first).to_be_visible(timeout=90_000)
    settled(page)
    page.screenshot(path=str(SHOTS / "live-lab-recorded.png"), full_page=True)  # type: ignore[attr-defined]
