"""Sizing sweeps for the web app: run in worker processes kept for the server's life, cached by the need.

A sweep is some sixty short simulations: a few seconds of every core, so they
go to a process pool (`sim.sizing.sweep` maps them over it) made once per
server. Its processes come from a forkserver, never from fork: Streamlit's
process has threads (the server's, the live lab's reader), and a forked child
would inherit their locks in whatever state they were. The forkserver
imports `sim.sizing` once, so each worker starts without importing it again.

Answers are cached by the `Need` (a frozen dataclass: its fields are the key),
so a second visitor with the same inputs, or the same visitor coming back,
gets the answer at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import re
import sys
import time
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import streamlit as st

from app.ui import num, t
from sim.scenario import Scenario
from sim.sizing import Need, Sizing, scenario, steady_p99_ms, sweep, wait_p99_ms
from sim.trace import Trace

WORKERS = os.cpu_count() or 1
PROGRESS_STEPS = 25            # the bar moves at most this many times: each move is a message to replay
PLAY_REQUESTS = 20_000         # about how many requests the playground's copy of a size runs
PLAY_S = (10.0, 60.0)          # ... over at least and at most this long
PROOF_SEED = 1
PROOF_S = 10.0                 # the shortest live proof run: a single run's p99 needs its requests


def _shutdown(pool: ProcessPoolExecutor) -> None:
    pool.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """A `__main__` with no file while workers start: a new process imports the parent's `__main__`
    first, and while a page runs Streamlit's is the app's script, which would run again in every
    worker (in bare mode, drawing nothing, starting its own pools)."""
    running = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if running is not None:
            sys.modules["__main__"] = running


@st.cache_resource(show_spinner=False, on_release=_shutdown)
def _pool() -> ProcessPoolExecutor:
    """The server's sizing processes, shared by every session, all started here.

    ProcessPoolExecutor starts a worker at a submit while none is idle, up to
    its maximum: so one short job per worker, sent at once, starts them all now,
    under `_bare_main`, and none is started later in the middle of a page.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim.sizing"])   # once, before the forkserver starts: it is global
    pool = ProcessPoolExecutor(max_workers=WORKERS, mp_context=context)
    with _bare_main():
        started = [pool.submit(time.sleep, 0.05) for _ in range(WORKERS)]
    wait(started)
    return pool


@st.cache_data(max_entries=64, show_spinner=False)
def sized(need: Need) -> Sizing:
    """The sweep's answer for `need`, with a progress bar while it runs; `need.check()` must have passed.

    The bar is drawn inside the cached function on purpose: Streamlit replays
    what a cached function drew, and a bar drawn here (then emptied) replays
    as nothing, where one drawn outside could not be replayed at all.
    """
    bar = st.progress(0.0, text=t("sizing.progress_start"))
    shown = -1

    def progress(done: int, total: int) -> None:
        nonlocal shown
        step = done * PROGRESS_STEPS // total
        if step != shown:
            shown = step
            bar.progress(done / total, text=t("sizing.progress", done=num(done, 0), total=num(total, 0)))

    try:
        try:
            return sweep(need, _pool(), progress)
        except BrokenProcessPool:   # a worker died (killed, out of memory): a new pool, once
            _pool.clear()
            return sweep(need, _pool(), progress)
    finally:
        bar.empty()


def proof_sizes(size: int) -> list[int]:
    """The sizes a live proof runs: one smaller, the recommended one, one larger (never below 1)."""
    low = max(size - 1, 1)
    return [low, low + 1, low + 2]


def proof_scenario(need: Need, size: int) -> Scenario:
    """What a live proof runs for one size: the sweep's own scenario for that size, on its first seed,
    at least `PROOF_S` long (a live p99 is one run's, not a mean over seeds: it needs the requests).
    Through PgBouncer it is the [pooler] too: the live lab starts a PgBouncer with those settings."""
    sized_one = scenario(need, size, PROOF_SEED)
    return dataclasses.replace(sized_one, duration_s=round(max(sized_one.duration_s, PROOF_S), 3))


def playground_scenario(need: Need, size: int, description: str) -> Scenario:
    """The recommended size as the playground's scenario: the sweep's, long enough to watch."""
    sized_one = scenario(need, size, PROOF_SEED)
    duration = min(max(PLAY_REQUESTS / need.peak_rate, PLAY_S[0], sized_one.duration_s), PLAY_S[1])
    return dataclasses.replace(sized_one, name=f"sizing-{size}", description=description,
                               duration_s=round(duration, 1))


def phases_text(phases: tuple[tuple[float, float], ...]) -> str:
    """Bursts as the form writes them: "5:600, 10:150" (from 5 s, 600 a second; from 10 s, 150)."""
    return ", ".join(f"{at:g}:{rate:g}" for at, rate in phases)


def read_phases(text: str) -> tuple[tuple[float, float], ...]:
    """The form's bursts back as (from s, requests a second) pairs; ValueError naming the piece not read."""
    phases = []
    for piece in filter(None, (p.strip() for p in re.split(r"[,;\n]", text or ""))):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*s?\s*:\s*(\d+(?:\.\d+)?)", piece)
        if match is None:
            raise ValueError(piece)
        phases.append((float(match.group(1)), float(match.group(2))))
    return tuple(sorted(phases))


def run_p99_ms(trace: Trace, s: Scenario) -> float | None:
    """A run's p99 wait as the sweep counts it (through a pooler, its queue included: `sim.sizing`)."""
    return wait_p99_ms(trace, s)


__all__ = ["phases_text", "playground_scenario", "proof_scenario", "proof_sizes", "read_phases", "run_p99_ms",
           "sized", "steady_p99_ms"]
