"""Metrics, computed from a trace alone.

A simulated run and a live run are summarised by this same code, so any
difference between them is a difference in what happened, never in how it
was counted. Every count and level is derived from the event rows with
numpy, without a Python object per request.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import numpy as np

from sim.errors import IN_FLIGHT, broken_how, library_error
from sim.lifecycle import LEVELS, levels, peak_open_per_instance  # counted there, for the live recorder too
from sim.measures import names
from sim.scenario import Scenario
from sim.theory import applicable
from sim.trace import WHY_NAMES, Ev, Trace

ERROR_KINDS = names("errors")
CLOSE_REASONS = names("closes")
PEAKS = names("peak")
POOLER_FIGURES = names("pooler")


class Distribution(TypedDict):
    """In milliseconds; every value None when nothing was measured."""

    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class Message(TypedDict):
    """One distinct failure, with the library's own text as at its first occurrence."""

    kind: str            # "timeout" or "error"
    reason: str
    count: int
    exception: str
    message: str
    sqlstate: str | None


class Theory(TypedDict):
    model: str
    servers: int
    utilisation: float
    p_wait: float
    mean_wait_ms: float


class Metrics(TypedDict):
    """The metrics object: `--json`'s output, and what every figure in `sim.measures` is read from."""

    scenario: str
    pool: str
    requests: int
    completed: int
    timed_out: int
    errors: dict[str, int]           # by kind, every one of ERROR_KINDS present
    leaked: int
    in_flight: int
    connects: int
    connect_failures: dict[str, int]
    closes: dict[str, int]           # by reason, every one of CLOSE_REASONS present
    pings: dict[str, int]            # ok, fail
    leak_warnings: int
    p_wait: float
    wait_ms: Distribution            # for a connection, per attempt that got one (from its start)
    latency_ms: Distribution         # arrival to answer: worker wait, every attempt and backoff
    worker_wait_ms: Distribution     # arrival to a worker (0 without app.workers, or with one free)
    retries: int                     # attempts after the first (RETRY rows)
    retried_completed: int           # requests answered after at least one retry
    retried_failed: int              # requests that retried and still failed (timed out or an error)
    throughput_per_s: float
    peak: dict[str, int]             # every one of PEAKS
    duration_s: float
    messages: list[Message]
    sim_seconds: NotRequired[float]
    theory: NotRequired[Theory]
    status_overflow: NotRequired[int]  # SQLAlchemy overflow() at its highest: open - pool_size, may be < 0
    live: NotRequired[dict[str, Any]]  # a live run: server, costs, caught texts (live_info)
    pooler: NotRequired[dict[str, Any]]  # with [pooler]: SHOW POOLS' counts at their peaks, maxwait_ms


def summarize(trace: Trace, scenario: Scenario, end_s: float, sim_seconds: float | None = None
              ) -> Metrics:
    """The metrics object of `python -m sim run --json` (and `python -m live run --json`)."""
    cols = trace.columns()
    kind, reason, req = cols["kind"], cols["reason"], cols["request"]
    requests = _count(kind, Ev.ARRIVE)
    completed = _count(kind, Ev.QUERY_END)
    timed_out = _count(kind, Ev.TIMEOUT)
    errors = _by_reason(kind, reason, Ev.ERROR, ERROR_KINDS)
    lv = levels(cols, scenario.pool.overflow_base)
    waits_s, latencies_s = request_times(cols)
    retried = np.unique(req[kind == Ev.RETRY])
    failed = (kind == Ev.TIMEOUT) | (kind == Ev.ERROR)
    waited = np.unique(req[kind == Ev.WAIT]).size
    out: Metrics = {
        "scenario": scenario.name,
        "pool": scenario.pool.kind,
        "requests": requests,
        "completed": completed,
        "timed_out": timed_out,
        "errors": errors,
        "leaked": _count(kind, Ev.LEAK),
        "in_flight": requests - completed - timed_out - sum(errors.values()),
        "connects": _count(kind, Ev.OPEN),
        "connect_failures": _by_reason(kind, reason, Ev.CONNECT_FAIL, ()),
        "closes": _by_reason(kind, reason, Ev.CLOSE, CLOSE_REASONS),
        "pings": _by_reason(kind, reason, Ev.PING, ("ok", "fail")),
        "leak_warnings": _count(kind, Ev.LEAK_WARNING),
        "p_wait": waited / requests if requests else 0.0,
        "wait_ms": distribution(waits_s),
        "latency_ms": distribution(latencies_s),
        "worker_wait_ms": distribution(worker_waits(cols)),
        "retries": _count(kind, Ev.RETRY),
        "retried_completed": int(np.isin(req[kind == Ev.QUERY_END], retried).sum()),
        "retried_failed": int(np.isin(req[failed], retried).sum()),
        "throughput_per_s": completed / end_s if end_s > 0 else 0.0,
        "peak": {name: int(lv[name].max(initial=0)) for name in PEAKS},
        "duration_s": end_s,
        "messages": error_messages(cols, lv, scenario),
    }
    if trace.show_pools is not None and scenario.pooler.present:
        shown = trace.show_pools.peaks()
        out["pooler"] = {"kind": scenario.pooler.kind, **{name: shown[name] for name in POOLER_FIGURES}}
        out["peak"]["server"] = int(shown["servers"])   # the server meets the pooler's connections only
    base = scenario.pool.counter_base
    if base is not None:   # SQLAlchemy's overflow(): its highest reading over the run, in any instance
        peaks = peak_open_per_instance(cols)
        out["status_overflow"] = max(peaks.get(i, 0) for i in range(scenario.app.instances)) - base
    if sim_seconds is not None:
        out["sim_seconds"] = sim_seconds
    theory = _theory(scenario)
    if theory is not None:
        out["theory"] = theory
    return out


def summarize_run(result: Any) -> Metrics:
    """`summarize` for a `sim.model.RunResult`."""
    return summarize(result.trace, result.scenario, result.end_s, result.sim_seconds)


def error_messages(cols: dict[str, np.ndarray], lv: dict[str, np.ndarray], scenario: Scenario
                   ) -> list[Message]:
    """Each distinct failure with its count and the library's own text, as at its first occurrence."""
    kind, reason = cols["kind"], cols["reason"]
    rows = np.flatnonzero((kind == Ev.TIMEOUT) | (kind == Ev.ERROR))
    out: list[Message] = []
    pairs, first, counts = np.unique(kind[rows].astype(np.int64) * 256 + reason[rows],
                                     return_index=True, return_counts=True)
    for pair, i, count in zip(pairs.tolist(), rows[first].tolist(), counts.tolist(), strict=True):
        ev, why = ("timeout" if pair // 256 == Ev.TIMEOUT else "error"), WHY_NAMES[pair % 256]
        err = library_error(scenario, ev, why, total=int(lv["open"][i]), active=int(lv["checked_out"][i]),
                            idle=int(lv["idle"][i]), waiting=int(lv["waiting"][i]) + 1,
                            how=broken_how(cols, i) if why == "broken" else IN_FLIGHT)
        out.append({"kind": ev, "reason": why, "count": count, "exception": err.exception,
                    "message": err.message, "sqlstate": err.sqlstate})
    return out


def _count(kind: np.ndarray, ev: Ev) -> int:
    return int(np.count_nonzero(kind == ev))


def _by_reason(kind: np.ndarray, reason: np.ndarray, ev: Ev, always: tuple[str, ...]) -> dict[str, int]:
    out = dict.fromkeys(always, 0)
    values, counts = np.unique(reason[kind == ev], return_counts=True)
    for value, n in zip(values.tolist(), counts.tolist(), strict=True):
        out[WHY_NAMES[value]] = n
    return out


def distribution(seconds: np.ndarray) -> Distribution:
    """mean, p50, p95, p99 and max, in milliseconds (None when nothing was measured)."""
    if seconds.size == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    ms = seconds * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99]).tolist()
    return {"mean": float(ms.mean()), "p50": p50, "p95": p95, "p99": p99, "max": float(ms.max())}


def request_times(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per request: wait (for a usable connection) and latency (arrival to answer), in s.

    The wait is the pool's alone: it counts from the start of the attempt that
    got the connection, which is the arrival, or the WORKER row after a queue
    for a worker, or the RETRY row after a backoff. So a worker wait (see
    `worker_waits`) is in the latency, not in the wait; and a request whose
    statement failed and was retried has a wait for each attempt that got a
    connection. The latency counts from the arrival, through everything.
    """
    kind, t, req = cols["kind"], cols["t"], cols["request"]
    arrive = kind == Ev.ARRIVE
    if not arrive.any():
        return np.zeros(0), np.zeros(0)
    arrived_at = np.full(int(req[arrive].max()) + 1, np.nan)
    arrived_at[req[arrive]] = t[arrive]
    start = kind == Ev.QUERY_START
    end = kind == Ev.QUERY_END
    began = arrived_at[req[start]]
    if np.any((kind == Ev.WORKER) | (kind == Ev.RETRY)):
        # each request's marks in time order: the row before a query_start is its attempt's start
        marks = np.flatnonzero(np.isin(kind, (Ev.ARRIVE, Ev.WORKER, Ev.RETRY, Ev.QUERY_START)))
        marks = marks[np.argsort(req[marks], kind="stable")]
        at = np.flatnonzero(kind[marks] == Ev.QUERY_START)
        at = at[at > 0]
        before = marks[at - 1]
        same = req[before] == req[marks[at]]
        began_at = np.full(kind.size, np.nan)
        began_at[marks[at[same]]] = t[before[same]]
        began = np.where(np.isnan(began_at[start]), began, began_at[start])
    return t[start] - began, t[end] - arrived_at[req[end]]


def worker_waits(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Per request that got a worker, seconds from its arrival to it: 0 for one that did not queue.

    Requests still queued when the run stopped, or whose deadline passed in
    the queue, never got one and are left out, as waits for a connection
    leave out the requests that never got one.
    """
    kind, t, req = cols["kind"], cols["t"], cols["request"]
    arrive = kind == Ev.ARRIVE
    requests = int(np.count_nonzero(arrive))
    got = kind == Ev.WORKER
    queued = np.unique(req[kind == Ev.QUEUE]).size
    if not got.any():
        return np.zeros(requests - queued)
    arrived_at = np.full(int(req[arrive].max()) + 1, np.nan)
    arrived_at[req[arrive]] = t[arrive]
    return np.concatenate([np.zeros(requests - queued), t[got] - arrived_at[req[got]]])


def sample(cols: dict[str, np.ndarray], level: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A level's value at each time of `grid` (the state after all rows up to that time)."""
    if level.size == 0:
        return np.zeros(grid.size, dtype=level.dtype)
    idx = np.searchsorted(cols["t"], grid, side="right") - 1
    return np.where(idx >= 0, level[np.maximum(idx, 0)], 0)


def timeseries(trace: Trace, scenario: Scenario, end_s: float, points: int = 300) -> dict[str, np.ndarray]:
    """Every level sampled at `points` evenly spaced times, for charts and the animation."""
    cols = trace.columns()
    grid = np.linspace(0.0, end_s, points)
    lv = levels(cols, scenario.pool.overflow_base)
    out = {name: sample(cols, lv[name], grid) for name in LEVELS}
    out["t"] = grid
    return out


def _theory(scenario: Scenario) -> Theory | None:
    model = applicable(scenario)
    if model is None:
        return None
    return {
        "model": "M/M/c (Erlang C), per instance",
        "servers": model.servers,
        "utilisation": model.utilisation,
        "p_wait": model.p_wait,
        "mean_wait_ms": model.mean_wait_s * 1000.0,
    }
