"""Many visitors at once: N browser sessions open the playground together; their waits, the server's cost.

Usage: python bench/load.py [--sessions 1 5 15] [--url URL --pid PID]

Each session opens `/playground` with a preset of its own (so every one asks
for a simulation, not a cached run), in one headless Chromium with a page per
session, all at the same moment. Printed per N: the time until each page's
script had finished and its taxi stand was drawn (median, 95th percentile,
slowest), and the Streamlit process's CPU seconds and resident memory growth,
in all and per session, beside the CPU seconds Chromium itself used: on a
small machine the browser shares the cores, and the render times are as much
its figure as the server's. The live lab's worker is a process of its own and is
not counted. Without --url it starts the app itself (a fresh process per N,
so each N starts with an empty cache: the figures are for a cold server);
the first row is also the baseline the others are read against (ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the checkout

from bench.served import CHROMIUM_ARGS, chromium, served_app
from sim.scenario import preset_names


async def open_sessions(url: str, n: int) -> list[float]:
    """Seconds each of n sessions took to show the playground with its preset's run."""
    from playwright.async_api import async_playwright

    presets = preset_names()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        pages = [await browser.new_page(viewport={"width": 1280, "height": 720}) for _ in range(n)]

        async def one(i: int) -> float:
            page = pages[i]
            started = time.perf_counter()
            await page.goto(f"{url}/playground?preset={presets[i % len(presets)]}&set=seed%3D{1000 + i}")
            await page.wait_for_selector(".js-plotly-plot", timeout=300_000)
            await page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=300_000)
            return time.perf_counter() - started

        times = await asyncio.gather(*(one(i) for i in range(n)))
        await browser.close()
    return list(times)


def warm_up(url: str) -> None:
    """One session first, so imports and the catalogs are loaded before anything is timed."""
    asyncio.run(open_sessions(url, 1))


def cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += sum(proc.cpu_times()[:2])
    return total


def browser_cpu_s(server: psutil.Process) -> float:
    """CPU seconds of every process this script started, less the app's: Chromium and its driver.

    On a 2-core machine the browser's pages share the cores with the server,
    so the render times are as much the browser's figure as the server's.
    """
    me = psutil.Process()
    mine = [p for p in me.children(recursive=True) if p.pid != server.pid]
    theirs = {p.pid for p in server.children(recursive=True)}
    return cpu_s([p for p in mine if p.pid not in theirs])


def measure(url: str, server: psutil.Process, n: int) -> dict[str, float]:
    cpu0 = sum(server.cpu_times()[:2])
    rss0 = server.memory_info().rss
    browser = {"cpu": 0.0}

    async def sample_browser() -> None:   # Chromium's processes end with the browser: read them while it runs
        while True:
            browser["cpu"] = max(browser["cpu"], browser_cpu_s(server))
            await asyncio.sleep(0.5)

    async def sessions() -> list[float]:
        sampler = asyncio.create_task(sample_browser())
        try:
            return await open_sessions(url, n)
        finally:
            sampler.cancel()

    times = asyncio.run(sessions())
    cpu = sum(server.cpu_times()[:2]) - cpu0
    grown = (server.memory_info().rss - rss0) / 2**20
    ordered = sorted(times)
    return {"sessions": n, "median_s": round(statistics.median(times), 2),
            "p95_s": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
            "slowest_s": round(max(times), 2), "server_cpu_s": round(cpu, 2),
            "browser_cpu_s": round(browser["cpu"], 2),
            "cpu_per_session_s": round(cpu / n, 2), "rss_mb": round(server.memory_info().rss / 2**20),
            "rss_growth_mb": round(grown), "rss_growth_per_session_mb": round(grown / n, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 15], metavar="N")
    parser.add_argument("--url", help="a running app (then --pid is its Streamlit process)")
    parser.add_argument("--pid", type=int, help="the running app's process id")
    args = parser.parse_args()
    if chromium() is None:
        return 2
    rows = []
    for n in args.sessions:
        if args.url:
            rows.append(measure(args.url, psutil.Process(args.pid), n))
        else:
            with served_app() as (url, proc):
                warm_up(url)
                rows.append(measure(url, psutil.Process(proc.pid), n))
        r = rows[-1]
        base = rows[0]
        print(f"{n:3} sessions: render median {r['median_s']:5.2f} s, p95 {r['p95_s']:5.2f} s, slowest "
              f"{r['slowest_s']:5.2f} s ({r['median_s'] / base['median_s']:4.1f}x the first row's median); "
              f"server CPU {r['server_cpu_s']:5.2f} s ({r['cpu_per_session_s']:.2f} s a session; Chromium "
              f"{r['browser_cpu_s']:.1f} s), "
              f"memory {r['rss_mb']} MB (+{r['rss_growth_mb']} MB, "
              f"{r['rss_growth_per_session_mb']} MB a session)",
              flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
