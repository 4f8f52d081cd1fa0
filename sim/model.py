"""Run a scenario through the SimPy model and return its trace.

Covers: one source process replaying the drawn arrivals, one process per
request (acquire, query, release, or leak), one pool per app instance, one
shared server, and the scenario's faults.

Scenario: passengers (requests) arrive at taxi stands (pools, one per app
instance); each takes a taxi (connection) for the length of its hold and
brings it back; the city (server) licenses only so many taxis.
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

import simpy

from sim import faults, workload
from sim.pools import POOL_MODELS, Pool, RequestFailed
from sim.scenario import Scenario
from sim.server import QueryFailed, Server
from sim.trace import Ev, Trace, Why


@dataclass
class RunResult:
    scenario: Scenario
    trace: Trace
    requests: int       # how many arrived
    end_s: float        # the scenario clock when the run stopped
    sim_seconds: float  # wall-clock time the simulation took


def request(env: simpy.Environment, pool: Pool, server: Server, trace: Trace, rid: int,
            hold_s: float, cpu_s: float, leak: bool) -> Generator[Any, Any, None]:
    """One request: get a connection, run its statement, give the connection back."""
    inst = pool.instance
    trace.emit(env.now, inst, rid, -1, Ev.ARRIVE)
    try:
        conn = yield from pool.acquire(rid)
    except RequestFailed as failure:
        trace.emit(env.now, inst, rid, -1, failure.kind, failure.reason)
        return
    trace.emit(env.now, inst, rid, conn.id, Ev.QUERY_START)
    try:
        yield from server.query(conn, hold_s, cpu_s, pool.command_timeout, pool.query_round_trips,
                                pool.prepares)
    except QueryFailed as failure:
        trace.emit(env.now, inst, rid, conn.id, Ev.ERROR, failure.reason)
        if failure.reason == Why.QUERY_TIMEOUT:
            yield from pool.release(conn, rid)
        else:
            yield from pool.broken(conn, rid)
        return
    trace.emit(env.now, inst, rid, conn.id, Ev.QUERY_END)
    if leak:
        trace.emit(env.now, inst, rid, conn.id, Ev.LEAK)
        return
    yield from pool.release(conn, rid)


class Progress:
    """Requests arrived and still running; `drained` fires when the last one has ended."""

    def __init__(self, env: simpy.Environment) -> None:
        self.arrived = 0
        self.running = 0
        self.fed = False  # the source has started every request it will start
        self.drained = env.event()

    def ended(self, _: simpy.Event) -> None:
        self.running -= 1
        if self.fed and not self.running and not self.drained.triggered:
            self.drained.succeed()


def source(env: simpy.Environment, chunks: Iterable[workload.Chunk], pools: list[Pool],
           server: Server, trace: Trace, cpu_fraction: float, progress: Progress
           ) -> Generator[Any, Any, None]:
    """Start each request at its drawn arrival time."""
    ended = progress.ended
    for rid, t, inst, hold, leak in workload.requests(chunks):
        delay = t - env.now
        if delay > 0:
            yield env.timeout(delay)
        env.process(request(env, pools[inst], server, trace, rid, hold, hold * cpu_fraction,
                            leak)).callbacks.append(ended)
        progress.running += 1
        progress.arrived = rid + 1
    progress.fed = True
    if not progress.running:
        progress.drained.succeed()


def run(scenario: Scenario, max_requests: int | None = None,
        arrivals: Iterable[workload.Chunk] | None = None) -> RunResult:
    """Simulate the scenario until duration_s, when arrivals stop.

    With `max_requests`, arrivals stop after that many instead: the run then
    ends as soon as the last of them has ended (so throughput is not diluted
    by an idle rest of the schedule), or when the schedule does, whichever
    comes first; if the schedule ends before they have all arrived, the last
    rate goes on until they have.

    `arrivals` replaces the drawn traffic with an explicit schedule: tests and
    lessons use it to place a few requests exactly.
    """
    started = time.perf_counter()
    env = simpy.Environment()
    trace = Trace()
    server = Server(env, trace, scenario.database)
    rng = random.Random(int(workload.streams(scenario.seed)["model"].integers(2**63)))
    model = POOL_MODELS[scenario.pool.kind]
    pools = [model(env, trace, server, scenario.pool, i, rng) for i in range(scenario.app.instances)]
    server.on_dead = lambda conn: pools[conn.instance].on_dead(conn)
    faults.install(env, server, scenario.faults)
    for pool in pools:
        pool.start()
    progress = Progress(env)
    chunks = workload.draw(scenario, max_requests) if arrivals is None else arrivals
    feeding = env.process(source(env, chunks, pools, server, trace, scenario.workload.cpu_fraction, progress))
    if max_requests is None:
        env.run(until=scenario.duration_s)
    else:
        env.run(until=env.any_of([env.timeout(scenario.duration_s), progress.drained]))
        if feeding.is_alive:
            env.run(until=feeding)  # the schedule ran out before max_requests: keep the last rate
    return RunResult(scenario, trace, progress.arrived, env.now, time.perf_counter() - started)
