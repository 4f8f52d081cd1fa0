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

Through PgBouncer (`Need.through = "pgbouncer"`, transaction mode) the size
that matters is PgBouncer's `default_pool_size`: its server connections are
all the server sees, shared by every instance's requests. The sweep then
varies it (from Little's law over all instances' traffic to where waiting
stops), with each instance's pool fixed at a size that never limits (its
workers, or the top of the sweep without a pooler) and `max_client_conn` set
to hold every instance's pool. A request's wait is then its checkout from the
app's pool plus its wait in PgBouncer's queue (`pooled_waits_ms`), and the
formulas are computed over PgBouncer's server connections.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats  # type: ignore[import-untyped]

from sim.metrics import request_times, summarize_run
from sim.model import run
from sim.poolers import PgBouncer
from sim.pools import POOL_KINDS, POOL_MODELS
from sim.scenario import Scenario, ScenarioError, from_dict
from sim.server import CONNECT_ROUND_TRIPS
from sim.spec import specs
from sim.theory import mmc
from sim.trace import Ev, Trace
from sim.workload import draw, requests

REQUESTS_PER_RUN = 2_000     # enough for a p99 on each seed; 60 runs of it take about 3 s on 2 cores
MIN_RUN_S, MAX_RUN_S = 1.0, 120.0
HEADROOM = 0.8              # the recommended size's p99 bound keeps a fifth of the target in reserve:
                             # live runs' tails measured 1 to 5 ms longer than the model's at the same
                             # size (bench/sizing_live.py), from the client's own scheduling
WARM_UP_S = 1.0             # waits of requests that began before this are left out (see measure)
SPINDLES = 1                 # the rule's effective spindle count: an SSD, data mostly cached
Z95 = 1.6448536269514722     # the standard normal's 95th percentile: p95 = p50 * exp(Z95 * sigma)
THROUGH = ("none", "pgbouncer")  # what the app's pools connect to: the server, or PgBouncer in front of it
POOL_MODE = "transaction"    # the PgBouncer mode the sweep sizes: a server connection per transaction
MAX_SERVER_POOL = int(specs(PgBouncer)["default_pool_size"].hi or 10_000)   # the settings' own maxima
MAX_CLIENT_CONN = int(specs(PgBouncer)["max_client_conn"].hi or 100_000)
RAMP_STEPS = 8               # a pooled run's climb to its peak rate, in this many equal steps,
RAMP_FACTOR = 2.0            # ... over this many times opening its busy server connections one by one takes,
RAMP_MIN_S, RAMP_MAX_S = 0.5, 5.0   # ... and within these (see pooler_ramp_s)


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
    through: str = "none"          # "pgbouncer": through PgBouncer in transaction mode, its
    #                                default_pool_size swept (the app's pools fixed, never the limit)

    def check(self) -> None:
        """Raise ScenarioError naming the field and its allowed range."""
        if self.kind not in POOL_KINDS or self.kind == "none":
            raise ScenarioError(f"--kind = {self.kind}: must be one of "
                                + ", ".join(k for k in POOL_KINDS if k != "none"))
        if self.through not in THROUGH:
            raise ScenarioError(f"--through = {self.through}: must be one of " + ", ".join(THROUGH))
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
        if self.pooled and self.clients > MAX_CLIENT_CONN:
            raise ScenarioError(f"--workers = {self.workers}: {self.instances} instances x {self.app_pool} "
                                f"client connections are more than PgBouncer's max_client_conn can be "
                                f"({MAX_CLIENT_CONN})")

    @property
    def pooled(self) -> bool:
        """Through PgBouncer: the size swept is its default_pool_size, not each instance's pool."""
        return self.through == "pgbouncer"

    @property
    def app_pool(self) -> int:
        """Through PgBouncer, each instance's pool: its workers (a pool above them never fills), else the
        top of the sweep without a pooler, where waiting for the pool has stopped; either way never the
        limit, and its connections are PgBouncer's clients, which cost the server nothing."""
        return self.workers or max(sizes(replace(self, through="none")))

    @property
    def clients(self) -> int:
        """Through PgBouncer, its client connections at most: every instance's pool full."""
        return self.instances * self.app_pool

    @property
    def max_client_conn(self) -> int:
        """PgBouncer's max_client_conn for the sweep: every instance's pool, and never below its default."""
        return max(self.clients, 100)

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
    """The engineer's situation with `size` fixed: each instance's pool of that many connections, or
    through PgBouncer (`need.pooled`) its default_pool_size, each instance's pool at `need.app_pool`;
    a pooled run first climbs to the peak rate while PgBouncer opens its servers (`pooler_ramp_s`)."""
    last = max((at for at, _ in need.phases), default=0.0)
    duration = max(min(max(REQUESTS_PER_RUN / need.peak_rate, MIN_RUN_S), MAX_RUN_S), last + MIN_RUN_S)
    pool = {"kind": need.kind, **library_settings(need, need.app_pool if need.pooled else size)}
    raw: dict[str, Any] = {
        "name": f"{'pgbouncer' if need.pooled else 'size'}-{size}", "seed": seed,
        "duration_s": round(duration, 3),
        "workload": {"rate_per_s": need.rate_per_s, "hold": need.hold,
                     "phases": [{"at_s": at, "rate_per_s": rate} for at, rate in need.phases]},
        "pool": pool,
        "database": {"max_connections": need.max_connections, "rtt_ms": need.rtt_ms,
                     "connect_ms": need.connect_ms,
                     "superuser_reserved_connections": need.reserved, "cores": need.cores},
        "app": {"instances": need.instances, "workers": need.workers},
    }
    if not need.pooled:
        return from_dict(raw)
    raw["pooler"] = {"kind": "pgbouncer", **pgbouncer_settings(need, size)}
    ramp = pooler_ramp_s(from_dict(raw))
    step = ramp / RAMP_STEPS
    raw["duration_s"] = round(duration + ramp, 3)
    raw["workload"] |= {
        "rate_per_s": need.peak_rate / RAMP_STEPS,
        "phases": [{"at_s": round(k * step, 6), "rate_per_s": need.peak_rate * (k + 1) / RAMP_STEPS}
                   for k in range(1, RAMP_STEPS)]
                  + [{"at_s": ramp, "rate_per_s": need.rate_per_s}]
                  + [{"at_s": round(ramp + at, 6), "rate_per_s": rate} for at, rate in need.phases]}
    return from_dict(raw)


def library_settings(need: Need, size: int) -> dict[str, Any]:
    """A pool of `size` connections per instance in the library's own names (`pool_size`, `max_overflow`)."""
    return {path.split(".", 1)[1]: v for path, v in POOL_KINDS[need.kind]().sized(size).items()}


def pgbouncer_settings(need: Need, size: int) -> dict[str, Any]:
    """PgBouncer's settings for a default_pool_size of `size`, in its names (pgbouncer.ini's)."""
    return {"pool_mode": POOL_MODE, "default_pool_size": size, "max_client_conn": need.max_client_conn}


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
    after a deploy, which would otherwise be most of a short run's p99. Through PgBouncer a wait is
    the checkout's plus the one in PgBouncer's queue (`pooled_waits_ms`), and a request PgBouncer
    gave up on (query_wait_timeout) counts as timed out.
    """
    result = run(s)
    m = summarize_run(result)
    steady = waits_ms(result.trace, s)
    never = math.inf   # no request got a connection: its wait has no end
    p95, p99 = (float(np.percentile(steady, q)) if steady.size else never for q in (95, 99))
    timed_out = m["timed_out"] + m["errors"].get("query_wait_timeout", 0)
    return Run(size, s.seed, p95, p99, timed_out / max(m["requests"], 1), m["peak"]["server"],
               m["worker_wait_ms"]["p99"] or 0.0)


def waits_ms(trace: Trace, s: Scenario) -> np.ndarray:
    """The steady waits the sweep counts for a run of `s` (simulated or live): the checkout's alone, or
    through a pooler the checkout's plus the pooler's queue."""
    return pooled_waits_ms(trace, s) if s.pooler.present else steady_waits_ms(trace, s.duration_s)


def wait_p99_ms(trace: Trace, s: Scenario) -> float | None:
    """A run's p99 wait as the sweep counts it, with or without a pooler; None when no request got one."""
    steady = waits_ms(trace, s)
    return float(np.percentile(steady, 99)) if steady.size else None


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


def round_trips(kind: str, cfg: object) -> int:
    """The round trips of a request's statement through the pooler `cfg`, as `Bouncer.query` runs it:
    the pool's own (SQLAlchemy's BEGIN and statement: 2), and one more when its driver prepares named
    statements and the pooler, handing out a server per transaction, makes it parse each one unnamed
    (`app_statement_cache = false`, the setting those modes need)."""
    model = POOL_MODELS[kind]
    reparse = (model.prepares and isinstance(cfg, PgBouncer) and cfg.releases_per_statement
               and not cfg.app_statement_cache)
    return model.query_round_trips + int(reparse)


def busy_servers(s: Scenario) -> float:
    """Little's law for a pooled run: the pooler's server connections busy on average at the peak rate,
    each held for the mean hold plus the statement's round trips through the pooler."""
    w, cfg = s.workload, s.pooler
    rate = max([w.rate_per_s, *(p.rate_per_s for p in w.phases)])
    trips = round_trips(s.pool.kind, cfg) * (s.database.rtt_ms + getattr(cfg, "hop_ms", 0.0))
    return rate * (w.hold.mean_ms + trips) / 1000.0


def pooler_ramp_s(s: Scenario) -> float:
    """How long a pooled run's traffic climbs to its peak before the engineer's schedule begins, in s;
    0 without a pooler.

    PgBouncer opens its server connections one at a time (one login in flight per pool), each a
    connect to the server, and only when a client waits: a fresh one met at once by the full rate
    queues for tenths of a second while it opens them, and a default_pool_size just above Little's
    floor takes seconds to drain that queue. A running one has them open already (they close after
    server_idle_timeout, 10 min). So the sweep's pooled run first climbs to the peak rate in
    `RAMP_STEPS` steps over this long, `RAMP_FACTOR` times what opening the busy servers
    (`busy_servers`) one after another takes, and its waits count from the end of it.
    """
    if not s.pooler.present:
        return 0.0
    connect_s = (s.database.connect_ms + CONNECT_ROUND_TRIPS * s.database.rtt_ms) / 1000.0
    return round(min(max(RAMP_MIN_S, RAMP_FACTOR * math.ceil(busy_servers(s)) * connect_s), RAMP_MAX_S), 3)


def pooled_waits_ms(trace: Trace, s: Scenario) -> np.ndarray:
    """Through a pooler, each completed request's wait for a connection, in ms: its checkout from the
    app's pool plus its wait inside the pooler for a server connection.

    In transaction mode the pooler's queue is inside the statement: `Bouncer.query` waits for a
    server, then runs `n` round trips of `rtt + hop` each (the server's round trip, and the hop
    through PgBouncer both ways) around the request's own hold. So the wait inside is

        QUERY_END - QUERY_START - hold - n * (database.rtt_ms + pooler.hop_ms)

    with the hold the request's own draw (`sim.workload.draw` of the scenario: the run replays the
    same) and n from `round_trips`; what is left is the queue, with a new server connection's login
    when one was opened for it, or its check query after 30 s idle. A live run's own round trips
    differ a little from the scenario's, and that difference lands in its waits. Only requests that
    began after the run's climb to its peak rate (`pooler_ramp_s`), which warmed both the app's
    pools and PgBouncer's.
    """
    cols = trace.columns()
    kind, t, req = cols["kind"], cols["t"], cols["request"]
    checkout_s, _ = request_times(cols)
    start, end = kind == Ev.QUERY_START, kind == Ev.QUERY_END
    if not end.any():
        return np.zeros(0)
    top = int(max(req[start].max(initial=-1), req[end].max())) + 1
    last = np.full(top, -1, dtype=np.int64)            # per request: its last attempt's QUERY_START row
    np.maximum.at(last, req[start], np.arange(int(start.sum())))
    done = req[end]
    done = done[last[done] >= 0]
    attempt = last[done]
    started_at = t[start][attempt]
    ended_at = np.full(top, np.nan)
    ended_at[req[end]] = t[end]
    holds = np.full(top, np.nan)
    for rid, _, _, hold_s, _ in requests(draw(s)):
        if rid >= top:
            break
        holds[rid] = hold_s
    cfg = s.pooler
    trips_s = round_trips(s.pool.kind, cfg) * (s.database.rtt_ms + getattr(cfg, "hop_ms", 0.0)) / 1000.0
    inside = np.clip(ended_at[done] - started_at - holds[done] - trips_s, 0.0, None)
    waits_s = checkout_s[attempt] + inside
    began = started_at - checkout_s[attempt]
    keep = (began >= pooler_ramp_s(s)) & np.isfinite(waits_s)
    return waits_s[keep] * 1000.0


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
    little: float                # busy connections per instance, on average (through PgBouncer: its
    #                              server connections, all instances' traffic)
    erlang_c: int | None         # M/M/c's smallest size meeting the p99 target (None: none up to budget)
    rule_of_thumb: float | None  # (cores x 2 + spindles) / instances (through PgBouncer: not shared);
    #                              None without cores
    settings: dict[str, Any] = field(default_factory=dict)   # the recommended size, in the library's names
    pgbouncer: dict[str, Any] = field(default_factory=dict)  # through PgBouncer: its settings, its names

    @property
    def sized(self) -> str:
        """What a row's `size` is: each instance's pool, or PgBouncer's default_pool_size."""
        return "pooler.default_pool_size" if self.need.pooled else "pool"

    def total(self, size: int) -> int:
        """The server connections at most at this size: every instance's pool, or PgBouncer's."""
        return size if self.need.pooled else self.need.instances * size

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
        budget: dict[str, Any] = {"max_connections": need.max_connections, "reserved": need.reserved,
                                  "instances": need.instances, "total": self.total(size) if size else None}
        recommended = dict(self.settings)
        if need.pooled:
            budget |= {"client_connections": need.clients, "max_client_conn": need.max_client_conn}
            if self.pgbouncer:
                recommended["pgbouncer"] = self.pgbouncer
        return {"recommended": recommended, "size": size, "sized": self.sized, "budget": budget,
                "sweep": [row(r) for r in self.rows], "little": self.little, "erlang_c": self.erlang_c,
                "rule_of_thumb": self.rule_of_thumb, "need": asdict(self.need)}


def held_s(need: Need) -> float:
    """How long a request holds its connection: the query plus one round trip (the model's default).

    Through PgBouncer, how long it holds a server connection: the query plus its statement's round
    trips, each through PgBouncer (`round_trips`); the reset on return is left out, as it is
    without a pooler.
    """
    if need.pooled:
        cfg = PgBouncer(pool_mode=POOL_MODE)
        trips = round_trips(need.kind, cfg)
        return (need.hold["mean_ms"] + trips * (need.rtt_ms + cfg.hop_ms)) / 1000.0
    return (need.hold["mean_ms"] + need.rtt_ms) / 1000.0


def queue_rate(need: Need) -> float:
    """The requests a second one pool serves: an instance's, or through PgBouncer all of them."""
    return need.peak_rate if need.pooled else need.per_instance_rate


def little(need: Need) -> float:
    """Little's law, L = lambda W: connections busy on average in one instance (through PgBouncer: of
    its server connections, which every instance's requests share)."""
    return queue_rate(need) * held_s(need)


def erlang_c_size(need: Need, limit: int) -> int | None:
    """The smallest c whose M/M/c p99 wait meets the target: P(W > target) <= 1%."""
    rate, service = queue_rate(need), 1.0 / held_s(need)
    for c in range(max(1, math.floor(little(need))), limit + 1):
        queue = mmc(c, rate, service)
        if queue.utilisation < 1 and queue.p_wait_longer_than(need.p99_wait_ms / 1000.0) <= 0.01:
            return c
    return None


def rule_of_thumb(need: Need) -> float | None:
    """HikariCP's and PostgreSQL's wiki's connections = cores x 2 + spindles, shared by the instances
    (through PgBouncer, all of them its own: the server's connections are its pool)."""
    if not need.cores:
        return None
    return float(need.cores * 2 + SPINDLES) if need.pooled else (need.cores * 2 + SPINDLES) / need.instances


def sizes(need: Need) -> list[int]:
    """The sizes to try: from Little's floor to well past where waiting stops, at most `need.sizes`.

    Square-root staffing puts the size that meets a p99 target near L + b * sqrt(L) with b below 3
    for the loads people run; the sweep goes to b = 4, and a few more for the connect and round-trip
    costs Erlang C leaves out. Through PgBouncer the sizes are its default_pool_size, L over all
    instances' traffic, and no more than every instance's workers together.
    """
    busy = little(need)
    floor = max(1, math.floor(busy))
    top = math.ceil(busy + 4 * math.sqrt(busy)) + 3
    if need.workers:   # a pool above the workers never fills
        top = min(top, max(need.workers * (need.instances if need.pooled else 1), floor))
    top = min(top, MAX_SERVER_POOL if need.pooled else 1000)
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
    """The rows over the seeds, and the smallest size meeting the targets within the server's budget:
    every instance's pool at its maximum, or through PgBouncer its default_pool_size (its reserve
    pool is 0), within max_connections - reserved; PgBouncer's own budget, max_client_conn, is set to
    hold every instance's pool (`Need.max_client_conn`)."""
    rows = []
    for size in sorted({r.size for r in runs}):
        mine = [r for r in runs if r.size == size]
        p99 = Estimate.of([r.p99_wait_ms for r in mine])
        timed_out = Estimate.of([r.timed_out for r in mine])
        total = size if need.pooled else need.instances * size
        rows.append(Row(size, Estimate.of([r.p95_wait_ms for r in mine]), p99, timed_out,
                        max(r.server_connections for r in mine), Estimate.of([r.worker_p99_ms for r in mine]),
                        total <= need.budget and (not need.pooled or need.clients <= need.max_client_conn),
                        p99.high <= need.p99_wait_ms and timed_out.high <= need.timeout_share))
    best = next((r for r in rows if r.meets and r.fits and r.p99_wait_ms.high <= HEADROOM * need.p99_wait_ms),
                None)
    settings, pgbouncer = {}, {}
    if best is not None:
        settings = library_settings(need, need.app_pool if need.pooled else best.size)
        pgbouncer = pgbouncer_settings(need, best.size) if need.pooled else {}
    limit = need.budget if need.pooled else max(need.budget // need.instances, 1)
    return Sizing(need, rows, best, little(need), erlang_c_size(need, limit), rule_of_thumb(need),
                  settings, pgbouncer)


__all__ = ["Need", "Sizing", "erlang_c_size", "library_settings", "little", "pgbouncer_settings",
           "pooled_waits_ms", "pooler_ramp_s", "recommend", "round_trips", "rule_of_thumb", "scenario",
           "sizes", "steady_waits_ms", "sweep", "wait_p99_ms", "waits_ms"]
