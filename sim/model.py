"""Run a scenario through the SimPy model and return its trace.

Covers: one source process replaying the drawn arrivals, one process per
request (a worker, then acquire, query, release, or leak, retried after a
backoff when it fails in a way a client retries), one pool per app instance,
one shared server, and the scenario's faults.

Workers (`app.workers`) stand for what serves requests inside one app
process: Gunicorn's workers x threads, FastAPI's thread pool for sync
endpoints, an `asyncio.Semaphore` around the handler. A request holds its
worker from when it gets one (FIFO) to when it ends, whatever way: done,
failed, timed out, or leaked (the leak keeps the connection, not the worker).
Retries back off while holding the worker, as a retry loop inside the
handler does.

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
from sim.poolers import POOLER_MODELS
from sim.pools import POOL_MODELS, Pool, RequestFailed
from sim.scenario import Scenario
from sim.server import KEEPS_CONNECTION, Front, QueryFailed, Server
from sim.trace import Ev, Trace, Why


@dataclass
class RunResult:
    scenario: Scenario
    trace: Trace
    requests: int       # how many arrived
    end_s: float        # the scenario clock when the run stopped
    sim_seconds: float  # wall-clock time the simulation took


@dataclass
class Policy:
    """What the app does around each request: its workers per instance, its retries, its deadline."""

    workers: list[simpy.Resource] | None   # per instance; None: no limit (app.workers = 0)
    deadline_s: float | None
    retries: workload.Retries

    @classmethod
    def of(cls, env: simpy.Environment, scenario: Scenario) -> Policy:
        w, n = scenario.workload, scenario.app.workers
        return cls([simpy.Resource(env, n) for _ in range(scenario.app.instances)] if n else None,
                   None if w.deadline_ms is None else w.deadline_ms / 1000.0,
                   workload.Retries(w, scenario.seed))

    def delay(self, rid: int, retry: int, kind: int, reason: int, now: float, deadline: float | None
              ) -> float | None:
        return self.retries.delay(rid, retry, kind, reason, now, deadline)


NO_POLICY = Policy(None, None, workload.Retries(Scenario().workload, 0))


def request(env: simpy.Environment, pool: Pool, server: Front, trace: Trace, rid: int,
            hold_s: float, cpu_s: float, leak: bool, policy: Policy = NO_POLICY
            ) -> Generator[Any, Any, None]:
    """One request: a worker of its instance, then its attempts; the worker is freed however it ends.

    Without app.workers there is no worker to wait for, and a request never
    queues (no QUEUE / WORKER rows). With `workload.deadline_ms`, a request
    still queued for a worker at its deadline ends there (a timeout, reason
    deadline), and the pool's own wait for a connection ends at it too (see
    `Pool.wait`); a connect or a statement under way is not cut short.
    """
    inst = pool.instance
    trace.emit(env.now, inst, rid, -1, Ev.ARRIVE)
    deadline = None if policy.deadline_s is None else env.now + policy.deadline_s
    workers = None if policy.workers is None else policy.workers[inst]
    slot = None
    if workers is not None:
        slot = workers.request()
        if not slot.triggered:
            trace.emit(env.now, inst, rid, -1, Ev.QUEUE)
            if deadline is None:
                yield slot
            else:
                yield slot | env.timeout(max(deadline - env.now, 0.0))
                if not slot.triggered:
                    slot.cancel()
                    trace.emit(env.now, inst, rid, -1, Ev.TIMEOUT, Why.DEADLINE)
                    return
            trace.emit(env.now, inst, rid, -1, Ev.WORKER)
    if deadline is not None:
        pool.deadlines[rid] = deadline
    yield from attempts(env, pool, server, trace, rid, hold_s, cpu_s, leak, policy, deadline)
    pool.deadlines.pop(rid, None)
    if workers is not None and slot is not None:
        workers.release(slot)


def attempts(env: simpy.Environment, pool: Pool, server: Front, trace: Trace, rid: int,
             hold_s: float, cpu_s: float, leak: bool, policy: Policy, deadline: float | None
             ) -> Generator[Any, Any, None]:
    """Get a connection, run the statement, give the connection back; again after a retryable failure.

    A retried failure writes BACKOFF (with the failure's reason) where a final
    one writes TIMEOUT or ERROR, then RETRY when the backoff is over. The
    connection of a failed statement is given back before the backoff, as a
    retry loop around `async with pool.acquire()` does.
    """
    inst = pool.instance
    retry = 0
    while True:
        retry += 1
        try:
            conn = yield from pool.acquire(rid)
        except RequestFailed as failure:
            delay = policy.delay(rid, retry, failure.kind, failure.reason, env.now, deadline)
            if delay is None:
                trace.emit(env.now, inst, rid, -1, failure.kind, failure.reason)
                return
            why = workload.backoff_reason(failure.kind, failure.reason)
            trace.emit(env.now, inst, rid, -1, Ev.BACKOFF, why)
        else:
            trace.emit(env.now, inst, rid, conn.id, Ev.QUERY_START)
            try:
                yield from server.query(conn, hold_s, cpu_s, pool.command_timeout, pool.query_round_trips,
                                        pool.prepares)
            except QueryFailed as q:
                delay = policy.delay(rid, retry, Ev.ERROR, q.reason, env.now, deadline)
                trace.emit(env.now, inst, rid, conn.id, Ev.ERROR if delay is None else Ev.BACKOFF, q.reason)
                if q.reason in KEEPS_CONNECTION:
                    yield from pool.release(conn, rid)
                else:
                    yield from pool.broken(conn, rid)
                if delay is None:
                    return
            else:
                trace.emit(env.now, inst, rid, conn.id, Ev.QUERY_END)
                if leak:
                    trace.emit(env.now, inst, rid, conn.id, Ev.LEAK)
                    return
                yield from pool.release(conn, rid)
                return
        yield env.timeout(delay)
        trace.emit(env.now, inst, rid, -1, Ev.RETRY)


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
           server: Front, trace: Trace, cpu_fraction: float, progress: Progress,
           policy: Policy = NO_POLICY) -> Generator[Any, Any, None]:
    """Start each request at its drawn arrival time."""
    ended = progress.ended
    for rid, t, inst, hold, leak in workload.requests(chunks):
        delay = t - env.now
        if delay > 0:
            yield env.timeout(delay)
        env.process(request(env, pools[inst], server, trace, rid, hold, hold * cpu_fraction,
                            leak, policy)).callbacks.append(ended)
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
    front: Front
    pooler = None
    if scenario.pooler.present:   # the pools meet the pooler; its server connections are traced apart
        trace.backend = Trace()
        server = Server(env, trace.backend, scenario.database)
        pooler = POOLER_MODELS[scenario.pooler.kind](env, trace, server, scenario.pooler,  # type: ignore[arg-type]
                                                     scenario.pool.transactions)
        trace.show_pools = pooler.show_pools
        front = pooler
    else:
        server = front = Server(env, trace, scenario.database)
    rng = random.Random(int(workload.streams(scenario.seed)["model"].integers(2**63)))
    model = POOL_MODELS[scenario.pool.kind]
    pools = [model(env, trace, front, scenario.pool, i, rng) for i in range(scenario.app.instances)]
    front.on_dead = lambda conn: pools[conn.instance].on_dead(conn)
    faults.install(env, server, scenario.faults)
    for pool in pools:
        pool.start()
    progress = Progress(env)
    chunks = workload.draw(scenario, max_requests) if arrivals is None else arrivals
    feeding = env.process(source(env, chunks, pools, front, trace, scenario.workload.cpu_fraction, progress,
                                 Policy.of(env, scenario)))
    if max_requests is None:
        env.run(until=scenario.duration_s)
    else:
        env.run(until=env.any_of([env.timeout(scenario.duration_s), progress.drained]))
        if feeding.is_alive:
            env.run(until=feeding)  # the schedule ran out before max_requests: keep the last rate
    if pooler is not None:
        pooler.reading()   # the state at the end: a client waiting since long ago has its whole wait
    return RunResult(scenario, trace, progress.arrived, env.now, time.perf_counter() - started)
