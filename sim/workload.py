"""The traffic: when requests arrive, where they go, how long they hold a connection.

The simulation and the live lab replay exactly these draws for a seed, so a
live run can be checked against the simulated one request by request. Each
purpose (arrival times, holds, leaks, instance choice) has its own random
stream spawned from the seed: changing the pool settings, or the hold
distribution, never shifts the arrival times (common random numbers).

Draws come in chunks of numpy arrays turned into short lists, so a run of a
million requests never holds a million Python objects at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from sim.scenario import Hold, Scenario, Workload
from sim.trace import Ev, Why

CHUNK = 4096


@dataclass(frozen=True)
class Chunk:
    """A run of consecutive requests: request i of the chunk is `first + i`."""

    first: int
    t: list[float]          # arrival time on the scenario clock (s)
    instance: list[int]     # which app instance receives it
    hold_s: list[float]     # time spent in the database (s)
    leak: list[bool]        # never gives its connection back


def streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per purpose, all from one seed."""
    names = ("arrivals", "holds", "leaks", "instances", "model", "retries")   # add only at the end:
    # spawn's children are numbered, so a new purpose leaves the earlier ones' draws as they were
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def segments(scenario: Scenario, open_ended: bool) -> list[tuple[float, float, float]]:
    """(start, end, rate) pieces of the arrival schedule; the last may run on for ever."""
    w = scenario.workload
    points = [(0.0, w.rate_per_s)] + [(p.at_s, p.rate_per_s) for p in w.phases]
    out = []
    for i, (start, rate) in enumerate(points):
        end = min(points[i + 1][0], scenario.duration_s) if i + 1 < len(points) else scenario.duration_s
        if i + 1 == len(points) and open_ended:
            end = math.inf
        start = min(start, scenario.duration_s)
        if end > start:
            out.append((start, end, rate))
    return out


def draw_holds(hold: Hold, rng: np.random.Generator, n: int) -> np.ndarray:
    mean_s = hold.mean_ms / 1000.0
    if hold.dist == "constant":
        return np.full(n, mean_s)
    if hold.dist == "exponential":
        return rng.exponential(mean_s, n)
    mu = math.log(mean_s) - hold.sigma**2 / 2  # so that the mean is mean_ms
    return rng.lognormal(mu, hold.sigma, n)


def arrival_times(scenario: Scenario, rng: np.random.Generator,
                  max_requests: int | None) -> Iterator[np.ndarray]:
    """Poisson arrivals, piecewise constant rate; restarts cleanly at each phase edge."""
    left = max_requests if max_requests is not None else math.inf
    for start, end, rate in segments(scenario, open_ended=max_requests is not None):
        if rate <= 0:
            continue
        t = start
        while left > 0:
            gaps = rng.exponential(1.0 / rate, CHUNK)
            times = t + np.cumsum(gaps)
            inside = times[times < end]
            if len(inside) > left:
                inside = inside[: int(left)]
            if len(inside):
                left -= len(inside)
                yield inside
            if len(inside) < CHUNK:
                break
            t = float(times[-1])
        if left <= 0:
            return


def draw(scenario: Scenario, max_requests: int | None = None) -> Iterator[Chunk]:
    """Every request of a run, in arrival order.

    With `max_requests`, arrivals stop after that many; if the schedule ends
    first, the last phase's rate simply goes on until they have all arrived.
    """
    rngs = streams(scenario.seed)
    w = scenario.workload
    instances = scenario.app.instances
    first = 0
    for times in arrival_times(scenario, rngs["arrivals"], max_requests):
        n = len(times)
        holds = draw_holds(w.hold, rngs["holds"], n)
        leaks = rngs["leaks"].random(n) < w.leak_probability if w.leak_probability > 0 else np.zeros(n, bool)
        inst = rngs["instances"].integers(0, instances, n) if instances > 1 else np.zeros(n, np.int64)
        yield Chunk(first, times.tolist(), inst.tolist(), holds.tolist(), leaks.tolist())
        first += n


def requests(chunks: Iterable[Chunk]) -> Iterator[tuple[int, float, int, float, bool]]:
    """Each request of the chunks, numbered: (id, arrival time, instance, hold, leak).

    What the model's source and the live feed both walk, each on its own clock.
    """
    for chunk in chunks:
        yield from zip(range(chunk.first, chunk.first + len(chunk.t)), chunk.t, chunk.instance, chunk.hold_s,
                       chunk.leak, strict=True)


# --------------------------------------------------------------------- retries

RETRYABLE_ERRORS = frozenset({Why.TOO_MANY_CLIENTS, Why.REFUSED, Why.BROKEN})
"""Errors a client's retry loop retries: the server or the connection failed, not the statement.

A timeout waiting for a connection is retried too (`retryable`). A query
timeout (asyncpg's command_timeout) is not: it is the app's own limit on the
statement, and running it again would only spend the same time again.
"""


def retryable(kind: int, reason: int) -> bool:
    """Whether an attempt that failed with a row of `kind` (TIMEOUT or ERROR) and `reason` is retried."""
    return kind == Ev.TIMEOUT or reason in RETRYABLE_ERRORS


def backoff_reason(kind: int, reason: int) -> Why:
    """The reason a BACKOFF row carries: the error's own, or TIMEOUT for a timeout waiting for a connection.

    The live recorder and the model write the same."""
    return Why.TIMEOUT if kind == Ev.TIMEOUT else Why(reason)


_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a well-spread 64-bit hash of a 64-bit number."""
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
    return x ^ (x >> 31)


class Backoff:
    """The delay before each retry: exponential from `retry_backoff_ms`, with or without full jitter.

    Retry `n` (1 for the first) waits `retry_backoff_ms * 2**(n-1)`, or with
    full jitter a uniform share of that (AWS's "Exponential Backoff and
    Jitter"). The share is a hash of (the seed's "retries" stream, request,
    retry): the same request's retry waits the same in every run of the seed,
    in the model and in the live lab alike, whatever order the retries happen in.
    """

    def __init__(self, workload: Workload, seed: int) -> None:
        self.base_s = workload.retry_backoff_ms / 1000.0
        self.jitter = workload.retry_jitter != "none"
        self.key = int(streams(seed)["retries"].integers(2**63))

    def delay_s(self, request: int, retry: int) -> float:
        full = self.base_s * 2.0 ** (retry - 1)
        if not self.jitter:
            return full
        u = _mix(self.key ^ _mix((request << 5) + retry)) >> 11   # 53 bits: a uniform in [0, 1)
        return full * (u / float(1 << 53))


class Retries:
    """A client's retry loop: which failed attempt is retried, and after how long.

    The model and the live lab both ask it, on their own clocks (`now` and
    `deadline` in the same unit as each other, scenario seconds in both).
    """

    def __init__(self, workload: Workload, seed: int) -> None:
        self.retries = workload.retries
        self.backoff = Backoff(workload, seed)

    def delay(self, request: int, retry: int, kind: int, reason: int, now: float, deadline: float | None
              ) -> float | None:
        """Seconds to back off after attempt number `retry` (1 for the first) failed; None: it fails for good.

        No attempt starts at or after the deadline: a backoff that would end
        there leaves the failure as the request's last.
        """
        if retry > self.retries or not retryable(kind, reason):
            return None
        wait = self.backoff.delay_s(request, retry)
        if deadline is not None and now + wait >= deadline:
            return None
        return wait
