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

from sim.scenario import Hold, Scenario

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
    names = ("arrivals", "holds", "leaks", "instances", "model")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def segments(scenario: Scenario, open_ended: bool) -> list[tuple[float, float, float]]:
    """(start, end, rate) pieces of the arrival schedule; the last may run on for ever."""
    w = scenario.workload
    points = [(0.0, w.rate_per_s)] + [(p.at_s, p.rate_per_s) for p in w.phases]
    out = []
    for i, (start, rate) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else scenario.duration_s
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
