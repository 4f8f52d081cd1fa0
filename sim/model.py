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
        yield from server.query(conn, hold_s, cpu_s, pool.command_timeout)
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


def source(env: simpy.Environment, chunks: Iterable[workload.Chunk], pools: list[Pool],
           server: Server, trace: Trace, cpu_fraction: float, counter: list[int]
           ) -> Generator[Any, Any, None]:
    """Start each request at its drawn arrival time."""
    for chunk in chunks:
        rid = chunk.first
        for t, inst, hold, leak in zip(chunk.t, chunk.instance, chunk.hold_s, chunk.leak, strict=True):
            delay = t - env.now
            if delay > 0:
                yield env.timeout(delay)
            env.process(request(env, pools[inst], server, trace, rid, hold, hold * cpu_fraction, leak))
            rid += 1
        counter[0] = rid


def run(scenario: Scenario, max_requests: int | None = None,
        arrivals: Iterable[workload.Chunk] | None = None) -> RunResult:
    """Simulate the scenario; arrivals stop at duration_s or after `max_requests`.

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
    counter = [0]
    chunks = workload.draw(scenario, max_requests) if arrivals is None else arrivals
    feeding = env.process(source(env, chunks, pools, server, trace, scenario.workload.cpu_fraction, counter))
    env.run(until=scenario.duration_s)
    if max_requests is not None and feeding.is_alive:
        env.run(until=feeding)  # the schedule ran out before max_requests: keep the last rate
    return RunResult(scenario, trace, counter[0], env.now, time.perf_counter() - started)
