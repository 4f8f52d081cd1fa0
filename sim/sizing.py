"""What pool size to set: the engineer's own traffic simulated over a range of sizes, several seeds each.

A pool calculator answers with one formula; this answers with the library's
own behaviour: every size in the sweep is the scenario the engineer described
(instances, workers, traffic, query times, the server's limit), run with the
chosen library's pool set to that size, on several seeds, so each figure comes
with a 95% confidence interval (Student's t over the seeds). The recommended
size is the smallest whose p99 wait (upper bound of its interval, with a fifth
of the target kept in reserve) and share of timeouts meet the targets, checked
against the server's budget: every
instance's pool at its maximum must fit in `max_connections` minus the
reserved slots.

Beside it, the formulas people use, so the sweep shows where they go wrong:
Little's law (the busy connections on average, a floor, not a size), Erlang C
(the M/M/c queue's smallest size meeting the p99 target, which assumes
exponential query times and a pool that costs nothing to open), and the
"cores x 2 + spindles" rule (PostgreSQL's wiki, HikariCP's "About Pool
Sizing"), which counts the server's connections, not one instance's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats  # type: ignore[import-untyped]

from sim.metrics import request_times, summarize_run
from sim.model import run
from sim.pools import POOL_KINDS
from sim.scenario import Scenario, ScenarioError, from_dict
from sim.theory import mmc
from sim.trace import Ev, Trace

REQUESTS_PER_RUN = 2_000     # enough for a p99 on each seed; 60 runs of it take about 3 s on 2 cores
MIN_RUN_S, MAX_RUN_S = 1.0, 120.0
HEADROOM = 0.8              # the recommended size's p99 bound keeps a fifth of the target in reserve:
                             # live runs' tails measured 1 to 5 ms longer than the model's at the same
                             # size (bench/sizing_live.py), from the client's own scheduling
WARM_UP_S = 1.0             # waits of requests that began before this are left out (see measure)
SPINDLES = 1                 # the rule's effective spindle count: an SSD, data mostly cached
Z95 = 1.6448536269514722     # the standard normal's 95th percentile: p95 = p50 * exp(Z95 * sigma)


@dataclass(frozen=True)
class Need:
    """The engineer's situation, in the words the sizing page and `python -m sim size` use."""

    kind: str = "sqlalchemy"
    instances: int = 1
    workers: int = 0               # requests one instance serves at once; 0 = no limit (asyncio)
    rate_per_s: float = 100.0      # all instances together
    phases: tuple[tuple[float, float], ...] = ()   # (from s, requests a second) after the first rate
    hold_ms: float | None = 20.0   # mean query hold time; or p50 and p95 below
    hold_p50_ms: float | None = None
    hold_p95_ms: float | None = None
    max_connections: int = 100
    reserved: int = 3
    cores: int = 0                 # the server's cores; 0 = unknown (no rule of thumb)
    rtt_ms: float = 0.2            # one round trip to the server; `python -m live calibrate` measures it
    connect_ms: float = 5.0        # the server's part of a connect
    p99_wait_ms: float = 10.0      # target: a checkout's p99 wait
    timeout_share: float = 0.001   # target: at most this share of requests time out
    seeds: int = 3
    sizes: int = 20

    def check(self) -> None:
        """Raise ScenarioError naming the field and its allowed range."""
        if self.kind not in POOL_KINDS or self.kind == "none":
            raise ScenarioError(f"--kind = {self.kind}: must be one of "
                                + ", ".join(k for k in POOL_KINDS if k != "none"))
        bounds: list[tuple[str, float, float, float]] = [
            ("instances", self.instances, 1, 200), ("workers", self.workers, 0, 100_000),
            ("rate", self.rate_per_s, 0.01, 100_000), ("max-connections", self.max_connections, 1, 100_000),
            ("reserved", self.reserved, 0, self.max_connections - 1), ("cores", self.cores, 0, 1024),
            ("p99-wait-ms", self.p99_wait_ms, 0.001, 3_600_000), ("seeds", self.seeds, 2, 20),
            ("sizes", self.sizes, 2, 60), ("rtt-ms", self.rtt_ms, 0, 10_000),
            ("connect-ms", self.connect_ms, 0, 60_000)]
        for name, value, lo, hi in bounds:
            if not lo <= value <= hi:
                raise ScenarioError(f"--{name} = {value:g}: must be from {lo:g} to {hi:g}")
        if not 0 <= self.timeout_share <= 1:
            raise ScenarioError(f"--timeout-share = {self.timeout_share:g}: must be from 0 to 1")
        if (self.hold_p50_ms is None) != (self.hold_p95_ms is None):
            raise ScenarioError("--hold-p50-ms and --hold-p95-ms go together")
        if self.hold_p50_ms is not None and not 0 < self.hold_p50_ms < (self.hold_p95_ms or 0):
            raise ScenarioError(f"--hold-p95-ms = {self.hold_p95_ms:g}: must be above --hold-p50-ms "
                                f"({self.hold_p50_ms:g}), which must be above 0")
        for at_s, rate in self.phases:
            if not (0 <= at_s <= 3600 and 0 <= rate <= 100_000):
                raise ScenarioError(f"--phase {at_s:g}:{rate:g}: from 0 to 3600 s, 0 to 100000 a second")
        if self.hold_p50_ms is None and not (self.hold_ms and self.hold_ms > 0):
            raise ScenarioError("--hold-ms: must be above 0 (or give --hold-p50-ms and --hold-p95-ms)")

    @property
    def hold(self) -> dict[str, Any]:
        """The hold-time distribution: exponential from a mean, lognormal fitted to p50 and p95."""
        if self.hold_p50_ms is not None and self.hold_p95_ms is not None:
            sigma = math.log(self.hold_p95_ms / self.hold_p50_ms) / Z95
            return {"dist": "lognormal", "mean_ms": self.hold_p50_ms * math.exp(sigma ** 2 / 2),
                    "sigma": min(max(sigma, 0.01), 3.0)}
        return {"dist": "exponential", "mean_ms": float(self.hold_ms or 0)}

    @property
    def budget(self) -> int:
        """Connections the application's role may hold on the server."""
        return self.max_connections - self.reserved

    @property
    def peak_rate(self) -> float:
        """The highest rate of any phase: a pool is sized for its busiest moment."""
        return max([self.rate_per_s, *(rate for _, rate in self.phases)])

    @property
    def per_instance_rate(self) -> float:
        return self.peak_rate / self.instances


def scenario(need: Need, size: int, seed: int) -> Scenario:
    """The engineer's situation with the library's pool fixed at `size` connections per instance."""
    last = max((at for at, _ in need.phases), default=0.0)
    duration = max(min(max(REQUESTS_PER_RUN / need.peak_rate, MIN_RUN_S), MAX_RUN_S), last + MIN_RUN_S)
    pool = {"kind": need.kind, **{path.split(".", 1)[1]: v for path, v in
                                  POOL_KINDS[need.kind]().sized(size).items()}}
    return from_dict({
        "name": f"size-{size}", "seed": seed, "duration_s": round(duration, 3),
        "workload": {"rate_per_s": need.rate_per_s, "hold": need.hold,
                     "phases": [{"at_s": at, "rate_per_s": rate} for at, rate in need.phases]},
        "pool": pool,
        "database": {"max_connections": need.max_connections, "rtt_ms": need.rtt_ms,
                     "connect_ms": need.connect_ms,
                     "superuser_reserved_connections": need.reserved, "cores": need.cores},
        "app": {"instances": need.instances, "workers": need.workers},
    })


DEFAULT = Need(kind="sqlalchemy", instances=4, rate_per_s=2000.0, hold_ms=20.0, max_connections=100)
"""The sizing page's first answer: four instances sharing 2,000 requests a second of 20 ms queries."""

CASES: dict[str, Need] = {
    # 4 pods x `uvicorn --workers 2`: 8 processes, each with its engine's pool and anyio's 40 threads
    # for sync endpoints
    "fastapi": Need(kind="sqlalchemy", instances=8, workers=40, rate_per_s=800.0, hold_ms=10.0,
                    max_connections=100),
    # one asyncio service: 150 a second, with bursts to 600 for five seconds, queries p50 4 ms, p95 20 ms
    "asyncpg-bursts": Need(kind="asyncpg", instances=2, rate_per_s=150.0,
                           phases=((5.0, 600.0), (10.0, 150.0)), hold_ms=None, hold_p50_ms=4.0,
                           hold_p95_ms=20.0, max_connections=100),
    # three JVM instances against a 4-core server
    "hikari-4-cores": Need(kind="hikari", instances=3, rate_per_s=600.0, hold_ms=8.0, cores=4,
                           max_connections=100),
}
"""The prepared cases the sizing page offers and `bench/sizing_live.py` proves on a real server."""


@dataclass(frozen=True)
class Run:
    """One seed of one size: the figures the sweep compares."""

    size: int
    seed: int
    p95_wait_ms: float
    p99_wait_ms: float
    timed_out: float        # share of requests
    server_connections: int  # the server's busiest moment, all instances
    worker_p99_ms: float    # the p99 wait for a worker, before the pool: no pool size shortens it


def measure(s: Scenario, size: int) -> Run:
    """Run it and keep only the figures (a worker process sends back this, not the trace).

    The waits are those of requests that began after a warm-up: a pool that opens its connections
    as they are first needed (SQLAlchemy's, Go's) makes its first requests wait for a connect, once
    after a deploy, which would otherwise be most of a short run's p99.
    """
    result = run(s)
    m = summarize_run(result)
    steady = steady_waits_ms(result.trace, s.duration_s)
    never = math.inf   # no request got a connection: its wait has no end
    p95, p99 = (float(np.percentile(steady, q)) if steady.size else never for q in (95, 99))
    return Run(size, s.seed, p95, p99, m["timed_out"] / max(m["requests"], 1), m["peak"]["server"],
               m["worker_wait_ms"]["p99"] or 0.0)


def steady_waits_ms(trace: Trace, duration_s: float) -> np.ndarray:
    """The waits for a connection of the requests that began after the warm-up (a simulated run's
    or a live one's), in ms: what the sweep's p95 and p99 are of."""
    cols = trace.columns()
    waits_s, _ = request_times(cols)
    began = cols["t"][cols["kind"] == Ev.QUERY_START] - waits_s
    return waits_s[began >= min(WARM_UP_S, 0.25 * duration_s)] * 1000.0


def steady_p99_ms(trace: Trace, duration_s: float) -> float | None:
    """A run's p99 wait as the sweep counts it; None when no request got a connection."""
    steady = steady_waits_ms(trace, duration_s)
    return float(np.percentile(steady, 99)) if steady.size else None


def _measure(args: tuple[Scenario, int]) -> Run:
    return measure(*args)


@dataclass(frozen=True)
class Estimate:
    """A figure over the seeds: mean and its 95% interval."""

    mean: float
    low: float
    high: float

    @staticmethod
    def of(values: list[float]) -> Estimate:
        n = len(values)
        mean = sum(values) / n
        if n < 2:
            return Estimate(mean, mean, mean)
        if not math.isfinite(mean):
            return Estimate(mean, min(values), mean)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        return Estimate(mean, max(mean - half, 0.0), mean + half)


@dataclass(frozen=True)
class Row:
    size: int
    p95_wait_ms: Estimate
    p99_wait_ms: Estimate
    timed_out: Estimate
    server_connections: int      # the busiest seed's
    worker_p99_ms: Estimate
    fits: bool                   # instances x size within the server's budget
    meets: bool                  # the targets are met (upper bounds)


@dataclass
class Sizing:
    need: Need
    rows: list[Row]
    recommended: Row | None      # None: no size in the sweep meets the targets within the budget
    little: float                # busy connections per instance, on average
    erlang_c: int | None         # M/M/c's smallest size meeting the p99 target (None: none up to budget)
    rule_of_thumb: float | None  # (cores x 2 + spindles) / instances; None without cores
    settings: dict[str, Any] = field(default_factory=dict)   # the recommended size, in the library's names

    def to_dict(self) -> dict[str, Any]:
        def row(r: Row) -> dict[str, Any]:
            def ms(x: float) -> float | None:   # JSON has no infinity: a wait without end is null
                return x if math.isfinite(x) else None
            return {"size": r.size, "p95_wait_ms": ms(r.p95_wait_ms.mean),
                    "p99_wait_ms": ms(r.p99_wait_ms.mean),
                    "p99_wait_ms_ci": [ms(r.p99_wait_ms.low), ms(r.p99_wait_ms.high)],
                    "timed_out": r.timed_out.mean, "timed_out_ci": [r.timed_out.low, r.timed_out.high],
                    "server_connections": r.server_connections, "worker_p99_wait_ms": r.worker_p99_ms.mean,
                    "fits_budget": r.fits, "meets_targets": r.meets}
        size = self.recommended.size if self.recommended else None
        need = self.need
        return {"recommended": self.settings, "size": size,
                "budget": {"max_connections": need.max_connections, "reserved": need.reserved,
                           "instances": need.instances, "total": need.instances * size if size else None},
                "sweep": [row(r) for r in self.rows], "little": self.little, "erlang_c": self.erlang_c,
                "rule_of_thumb": self.rule_of_thumb, "need": asdict(self.need)}


def held_s(need: Need) -> float:
    """How long a request holds its connection: the query plus one round trip (the model's default)."""
    return (need.hold["mean_ms"] + need.rtt_ms) / 1000.0


def little(need: Need) -> float:
    """Little's law, L = lambda W: connections busy on average in one instance."""
    return need.per_instance_rate * held_s(need)


def erlang_c_size(need: Need, limit: int) -> int | None:
    """The smallest c whose M/M/c p99 wait meets the target: P(W > target) <= 1%."""
    rate, service = need.per_instance_rate, 1.0 / held_s(need)
    for c in range(max(1, math.floor(little(need))), limit + 1):
        queue = mmc(c, rate, service)
        if queue.utilisation < 1 and queue.p_wait_longer_than(need.p99_wait_ms / 1000.0) <= 0.01:
            return c
    return None


def rule_of_thumb(need: Need) -> float | None:
    """HikariCP's and PostgreSQL's wiki's connections = cores x 2 + spindles, shared by the instances."""
    return (need.cores * 2 + SPINDLES) / need.instances if need.cores else None


def sizes(need: Need) -> list[int]:
    """The sizes to try: from Little's floor to well past where waiting stops, at most `need.sizes`.

    Square-root staffing puts the size that meets a p99 target near L + b * sqrt(L) with b below 3
    for the loads people run; the sweep goes to b = 4, and a few more for the connect and round-trip
    costs Erlang C leaves out.
    """
    busy = little(need)
    floor = max(1, math.floor(busy))
    top = math.ceil(busy + 4 * math.sqrt(busy)) + 3
    if need.workers:
        top = min(top, max(need.workers, floor))   # a pool above the workers never fills
    top = min(top, 1000)
    if top - floor + 1 <= need.sizes:
        return list(range(floor, top + 1))
    ratio = (top / floor) ** (1 / (need.sizes - 1))
    return sorted({min(top, round(floor * ratio ** i)) for i in range(need.sizes)} | {floor, top})


def sweep(need: Need, executor: Executor | None = None,
          progress: Callable[[int, int], None] | None = None) -> Sizing:
    """Every size on every seed (in `executor`'s processes when given), then the recommendation."""
    need.check()
    jobs = [(scenario(need, size, seed), size) for size in sizes(need) for seed in range(1, need.seeds + 1)]
    runs: Iterable[Run] = executor.map(_measure, jobs) if executor else map(_measure, jobs)
    done: list[Run] = []
    for r in runs:
        done.append(r)
        if progress:
            progress(len(done), len(jobs))
    return recommend(need, done)


def recommend(need: Need, runs: list[Run]) -> Sizing:
    rows = []
    for size in sorted({r.size for r in runs}):
        mine = [r for r in runs if r.size == size]
        p99 = Estimate.of([r.p99_wait_ms for r in mine])
        timed_out = Estimate.of([r.timed_out for r in mine])
        rows.append(Row(size, Estimate.of([r.p95_wait_ms for r in mine]), p99, timed_out,
                        max(r.server_connections for r in mine), Estimate.of([r.worker_p99_ms for r in mine]),
                        need.instances * size <= need.budget,
                        p99.high <= need.p99_wait_ms and timed_out.high <= need.timeout_share))
    best = next((r for r in rows if r.meets and r.fits and r.p99_wait_ms.high <= HEADROOM * need.p99_wait_ms),
                None)
    settings = POOL_KINDS[need.kind]().sized(best.size) if best else {}
    limit = max(need.budget // need.instances, 1)
    return Sizing(need, rows, best, little(need), erlang_c_size(need, limit), rule_of_thumb(need),
                  {path.split(".", 1)[1]: v for path, v in settings.items()})


__all__ = ["Need", "Sizing", "erlang_c_size", "little", "recommend", "rule_of_thumb", "scenario", "sizes",
           "sweep"]
