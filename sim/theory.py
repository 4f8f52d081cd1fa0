"""Queueing theory for a pool: what Erlang C predicts, and when it may be trusted.

A pool capped at c connections, fed by Poisson arrivals that each hold a
connection for an exponential time, is the M/M/c queue: c servers, one
unlimited waiting line. For it, Erlang's C formula gives the chance that a
request finds every connection busy and has to wait, and from that the mean
wait and the whole wait distribution, P(W > t) = C * exp(-(c*mu - lambda) * t)
for a first-come queue. These closed forms are the yardstick the simulation is
tested against, and figures a lesson can show beside a simulated run.

They hold only under their assumptions: arrivals at one constant Poisson
rate, exponential holds, c identical servers that cost nothing to open or
reach, nobody giving up and nothing breaking. `applicable` checks a scenario
against each of them and answers None when one fails, so no page shows a
theoretical figure for a scenario it does not describe. A pool timeout is
tolerated when so few requests would reach it (under one in a million) that
the reneging it causes cannot be measured.

Each application instance has its own pool and gets its share of the traffic;
a random split of a Poisson stream is again Poisson, so each instance is an
M/M/c queue of its own. Whether a pool is a plain M/M/c queue at all (a
fixed set of servers, first come first served) is the library's to say
(`queue()` on its settings): SQLAlchemy's overflow and HikariCP's
housekeeping are not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.scenario import Scenario

NEGLIGIBLE = 1e-6
"""A chance of timing out below this counts as no timeout at all."""


def erlang_c(servers: int, offered_load: float) -> float:
    """The probability that an arrival must wait in M/M/c, for an offered load a = lambda/mu (erlangs).

    Goes through the Erlang B recursion, whose every step stays within 0..1:
    the textbook form with a**c / c! overflows a float near c = 170.
    """
    if servers < 1:
        raise ValueError(f"servers = {servers}: must be at least 1")
    if offered_load < 0:
        raise ValueError(f"offered_load = {offered_load}: must not be negative")
    if offered_load >= servers:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return servers * b / (servers - offered_load * (1 - b))


@dataclass(frozen=True)
class MMC:
    """An M/M/c queue and its steady state; rates are per second, waits in seconds."""

    servers: int
    arrival_rate: float
    service_rate: float  # of one server: 1 / mean hold
    utilisation: float = field(init=False)
    p_wait: float = field(init=False)
    mean_wait_s: float = field(init=False)

    def __post_init__(self) -> None:
        if self.service_rate <= 0:
            raise ValueError(f"service_rate = {self.service_rate}: must be positive")
        load = self.arrival_rate / self.service_rate
        p_wait = erlang_c(self.servers, load)
        stable = load < self.servers
        mean_wait = p_wait / self._drain_rate() if stable else math.inf
        object.__setattr__(self, "utilisation", load / self.servers)
        object.__setattr__(self, "p_wait", p_wait)
        object.__setattr__(self, "mean_wait_s", mean_wait)

    def _drain_rate(self) -> float:
        """How fast a waiting line empties when every server is busy: c*mu - lambda."""
        return self.servers * self.service_rate - self.arrival_rate

    def p_wait_longer_than(self, t_s: float) -> float:
        """P(W > t) for a first-come queue: the wait, given one, is exponential."""
        if t_s < 0 or self.utilisation >= 1:
            return 1.0
        return self.p_wait * math.exp(-self._drain_rate() * t_s)


def mmc(servers: int, arrival_rate: float, service_rate: float) -> MMC:
    """The M/M/c queue with these rates (per second; service_rate is one server's)."""
    return MMC(servers, arrival_rate, service_rate)


def applicable(scenario: Scenario) -> MMC | None:
    """The M/M/c queue that each instance of `scenario` is, or None when Erlang C does not describe it."""
    w, db = scenario.workload, scenario.database
    if (w.hold.dist != "exponential"
            or any(phase.rate_per_s != w.rate_per_s for phase in w.phases)
            or w.leak_probability != 0
            or (w.cpu_fraction != 0 and db.cores != 0)
            or db.connect_ms != 0 or db.rtt_ms != 0
            or scenario.faults
            # a worker queue splits the wait in two (Erlang C's is both); a deadline cuts waits short
            or scenario.app.workers or w.deadline_ms is not None):
        return None
    queue = scenario.pool.queue()
    if queue is None:
        return None
    servers, timeout_s = queue
    if servers * scenario.app.instances > db.role_limit:
        return None
    model = mmc(servers, w.rate_per_s / scenario.app.instances, 1000.0 / w.hold.mean_ms)
    if model.utilisation >= 1 or model.p_wait_longer_than(timeout_s) >= NEGLIGIBLE:
        return None
    return model
