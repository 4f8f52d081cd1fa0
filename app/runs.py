"""Simulation runs for the pages: bounded before they start, computed once, cached within a memory budget.

Many people share one server. A run the page asks for is checked against
`WEB_LIMIT` first (about 5 s of one core on a 2-core machine for the slowest
kinds of run, as `bench/web_limit.py` measures), and one beyond
it is refused with its figures and the command line that runs it instead.
Runs are cached by the scenario's own text (seed included), so a control
change back to an earlier value, or another visitor on the same preset,
returns at once; the cache holds traces up to `CACHE_BYTES`, not a number of
runs, because one run can be a thousand times the size of another. Two
sessions asking for the same run at once compute it once.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

import streamlit as st

from app.ui import file_stem, num, t
from sim import budget
from sim.metrics import Metrics, summarize
from sim.model import run
from sim.scenario import Scenario
from sim.trace import Trace

WEB_LIMIT = budget.Limit(150_000, advice="For a bigger run, use the command line (python -m sim run).")
CACHE_BYTES = 384 * 2**20
RUN_OVERHEAD_BYTES = 64 * 1024   # the metrics and the scenario's text beside a trace
SIMULATING = threading.BoundedSemaphore(2)   # more at once would only share the interpreter lock

Run = tuple[Trace, float, Metrics]   # (trace, end of run on the scenario clock, metrics)


class RunCache:
    """Runs by key, the least recently used dropped first once their sizes pass `budget_bytes`.

    Callers share the cached objects: they read them and never change them.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._runs: OrderedDict[str, tuple[Run, int]] = OrderedDict()
        self._computing: dict[str, Future[Run]] = {}
        self._lock = threading.Lock()
        self.bytes = 0

    def get(self, key: str, compute: Callable[[], Run], size: Callable[[Run], int]) -> Run:
        with self._lock:
            hit = self._runs.get(key)
            if hit is not None:
                self._runs.move_to_end(key)
                return hit[0]
            future = self._computing.get(key)
            mine = future is None
            if future is None:
                future = self._computing[key] = Future()
        if not mine:
            return future.result()   # the same run, computed by another session right now
        try:
            result = compute()
        except BaseException as e:
            future.set_exception(e)
            raise
        finally:
            with self._lock:
                del self._computing[key]
        future.set_result(result)
        self._keep(key, result, size(result))
        return result

    def _keep(self, key: str, result: Run, nbytes: int) -> None:
        with self._lock:
            if nbytes > self.budget_bytes or key in self._runs:
                return
            self._runs[key] = (result, nbytes)
            self.bytes += nbytes
            while self.bytes > self.budget_bytes:
                _, (_, dropped) = self._runs.popitem(last=False)
                self.bytes -= dropped

    def __len__(self) -> int:
        return len(self._runs)


RUNS = RunCache(CACHE_BYTES)
"""The process's simulated runs, shared by every session."""


def simulate_scenario(scenario: Scenario) -> Run:
    """The scenario's run; `budget.TooMuchWork` if it is beyond what a page may ask of the server."""
    budget.check(scenario, WEB_LIMIT)
    return RUNS.get(scenario.to_toml(), lambda: _simulate(scenario), _size)


SPINNER_UNITS = 15_000
"""Runs of less work finish in about a quarter of a second (57 to 82 units a millisecond here), before
Streamlit's spinner would show (after 0.5 s): they get none, as its timer thread cost a rerun 4 ms."""


def spinner(scenario: Scenario) -> contextlib.AbstractContextManager[object]:
    """The "running" spinner for a run that may take long enough to need one; nothing for the others."""
    if budget.work(scenario).units < SPINNER_UNITS:
        return contextlib.nullcontext()
    return st.spinner(t("playground.running"))


def _simulate(scenario: Scenario) -> Run:
    with SIMULATING:
        result = run(scenario)
    return result.trace, result.end_s, summarize(result.trace, scenario, result.end_s, result.sim_seconds)


def _size(result: Run) -> int:
    return result[0].nbytes + RUN_OVERHEAD_BYTES


def refuse(error: budget.TooMuchWork, scenario: Scenario, key: str) -> None:
    """Say why the page will not run this, with its figures and how to run it elsewhere."""
    w = error.work
    st.error(t("runs.too_big", requests=num(w.requests, 0), total=num(w.units, 0),
               limit=num(error.limit.units, 0)), icon=":material/block:")
    file = f"{file_stem(scenario.name)}.toml"
    st.code(f"python -m sim run {file} --limit {int(w.units) + 1}", language="sh")
    st.download_button(t("results.download_scenario"), scenario.to_toml(), file, "application/toml",
                       key=f"{key}.too_big.toml")

