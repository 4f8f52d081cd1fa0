"""Run a scenario against a real PostgreSQL and return the same trace the simulation returns.

The traffic is the simulation's own draw for the seed (`sim.workload.draw`),
replayed open-loop: each request starts at its drawn arrival time whether or
not the earlier ones have finished. Each app instance gets a pool of its own;
faults happen at their scenario times; a proxy stands between the pools and
the server when the scenario has a network round trip or a firewall.

With `time_scale` X every scenario duration is divided by X in wall-clock
time (arrivals, holds, pool timeouts and lifetimes, faults, the network's
round trip), and the trace is written on the scenario clock. What cannot be
scaled is the server's own cost of connecting: on the scenario clock it
looks X times larger, and `compare` accounts for that.

The app around the pool is played as the model plays it (`sim.model.request`):
`app.workers` is an `asyncio.Semaphore` per instance (FIFO, held until the
request ends, whatever way), and `workload.retries` is a retry loop around
acquire + statement with the model's own backoff for each request and retry
(`sim.workload.Retries`), slept on the wall clock. `workload.deadline_ms` is
an `asyncio.timeout` around the wait for a worker and around each acquire, as
an app would write it; unlike the model's, it also cuts short a connect under
way inside the acquire (the model ends only the wait in the pool's queue).

Whatever happens (leaks, timeouts, a fault, cancellation) the run ends by
closing every connection it opened, without waiting for leaked ones, and
checks `pg_stat_activity` that none of them is left.

`run()` is the whole of it in one await. A `LiveRun` can also be made first
and driven from elsewhere (`live.session`, for the web app): while it runs it
offers its counts (`recorder.tally`), the faults on demand, and the server's
own view of its connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from live import faults, heap, poolers
from live.calibrate import Costs, Oversleep, measure, oversleep
from live.connector import Connector
from live.limits import CONNECT_TIMEOUT_S, check_run
from live.loop import hush_lost_connections
from live.pools import LIVE_POOLS, Failed, LivePool
from live.pools.base import bounded
from live.proxy import Proxy
from live.reach import reach
from live.recorder import REQUEST, Recorder, Tracked, caught_messages
from live.server import SANDBOX, Lease, LiveError, Target, address, external, refusal, upstream
from sim import workload
from sim.poolers import SHOW_POOLS, ShowPools
from sim.scenario import Scenario
from sim.trace import Ev, Trace, Why

_log = logging.getLogger(__name__)

POOLER_POLL_S = 0.1   # SHOW POOLS costs about 0.1 ms: ten readings a second is nothing to the run
CLEANUP_S = 10.0   # the longest the end of a run may take, whatever state it was left in
MAX_DOWN_S = 60.0  # the longest a restart on demand may keep the server down (scenario seconds)
RESTART_REFUSED = ("the restart fault runs only on the lab's own sandbox server, "
                   "not on DATABASE_URL (somebody's real server)")
T = TypeVar("T")


@dataclass
class LiveResult:
    scenario: Scenario
    trace: Trace
    requests: int          # how many arrived
    end_s: float           # the scenario clock when the run stopped
    wall_seconds: float    # how long it took
    server: str            # which server, safe to show
    application_name: str  # what pg_stat_activity showed for this run's connections
    time_scale: float
    left_open: int         # this run's connections still on the server after cleanup (should be 0)
    cancelled: bool = False
    costs: Costs | None = None  # what a connect and a round trip really cost here (scenario clock)
    sandbox: bool = False       # on the lab's embedded server (this machine's cores), not DATABASE_URL
    server_version: str = ""    # what the server said it is (SHOW server_version); "" if it never did
    server_address: str = ""    # DATABASE_URL's host:port (or socket), never its user or password;
    #                             "" on the sandbox, whose socket directory says nothing to a reader
    lease_seconds: float = 0.0  # of wall_seconds, the wait for a sandbox server (its start, the first time)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """What its failed requests really caught: per failure kind, the first exception's class and text
        and how many, in the shape of the metrics' `messages` (whose texts are the model's)."""
        return caught_messages(self.trace) or []


def check(scenario: Scenario, target: Target | None = None, time_scale: float = 1.0,
          max_requests: int | None = None) -> None:
    """Raise LiveError (one line) when this scenario cannot run live (here), before any server work.

    Beyond the live lab's limits (`live.limits`) it is a LimitError, which is a LiveError too.
    """
    pool = scenario.pool
    if pool.simulation_only:
        raise LiveError(f"pool.kind = {pool.kind}: {pool.simulation_only} with no Python implementation, "
                        "so the live lab cannot run it; run it in the simulation (python -m sim run)")
    check_run(scenario, time_scale, max_requests)
    pooler = poolers.unavailable(scenario)
    if pooler:
        raise LiveError(pooler)
    if sum(f.kind == "idle_cut" for f in scenario.faults) > 1:
        raise LiveError("the live lab runs at most one idle_cut fault (one firewall in front of the server)")
    if target is not None:
        why = refusal(scenario, target)
        if why:
            raise LiveError(why)


def installed(scenario: Scenario) -> Scenario:
    """The scenario as the live lab runs it: the pool's settings as the installed library has them.

    A scenario may describe another release than the one installed (asyncpg
    0.31's pool where 0.32 is installed); the live run can only run what is
    installed, so its result, and the simulation `compare` sets beside it,
    say so.
    """
    pool = LIVE_POOLS[scenario.pool.kind].as_installed(scenario.pool)
    return scenario if pool == scenario.pool else dataclasses.replace(scenario, pool=pool)


def application_name(scenario: Scenario) -> str:
    """`poolstand:<scenario>:<token>`, short enough for PostgreSQL's 63 bytes, unique per run."""
    slug = re.sub(r"[^a-z0-9-]+", "-", scenario.name.lower()).strip("-")[:40] or "run"
    return f"poolstand:{slug}:{secrets.token_hex(4)}"


async def run(scenario: Scenario, database_url: str | None = None, time_scale: float = 1.0,
              max_requests: int | None = None, measure_costs: bool = False,
              connect_timeout_s: float = CONNECT_TIMEOUT_S) -> LiveResult:
    """Run the scenario live: on the sandbox, or on the server of `database_url`.

    With `measure_costs`, the connect and round-trip costs of the run's own
    setup (server, proxy, added delays) are measured before the clock starts
    and returned in `costs`, for a simulation of the same costs.
    `connect_timeout_s` bounds the first connect (`live.reach`).
    """
    return await LiveRun(scenario, database_url, time_scale, max_requests, measure_costs,
                         connect_timeout_s).go()


class LiveRun:
    """One live run: its recorder, pools, proxy, tasks, and the cleanup that always follows.

    Made first (which checks that the scenario can run here, or raises
    LiveError), then `go()` on the event loop that is to own its pools. While
    it goes on, another thread may read `recorder.tally`, `recorder.now()`,
    `display` and `name`; the faults on demand and `server_view` are
    coroutines for the run's own loop.
    """

    def __init__(self, scenario: Scenario, database_url: str | None = None, time_scale: float = 1.0,
                 max_requests: int | None = None, measure_costs: bool = False,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        ext = external(database_url) if database_url else None
        check(scenario, ext, time_scale, max_requests)
        self.scenario = installed(scenario)   # as the installed library really runs it (asyncpg's version)
        self.connect_timeout_s = connect_timeout_s
        self.connector: Connector | None = None   # once the run connects
        self.measure_costs = measure_costs
        self.costs: Costs | None = None
        self.external = ext is not None
        self._target = ext                 # the sandbox's is known once `go()` has leased it
        self.lease: Lease | None = None
        self.scale = time_scale
        self.max_requests = max_requests
        self.recorder = Recorder(time_scale)
        self.name = application_name(scenario)
        self.proxy: Proxy | None = None
        self.pooler: Any = None   # the pooler in front of the server, if the scenario has one
        self.pools: list[LivePool] = []
        self.requests: set[asyncio.Task[None]] = set()
        self.background: list[asyncio.Task[Any]] = []
        self.leaked: list[tuple[LivePool, Any, Tracked]] = []
        workers, instances = self.scenario.app.workers, self.scenario.app.instances
        self.workers = [asyncio.Semaphore(workers) for _ in range(instances)] if workers else None
        self.retries = workload.Retries(self.scenario.workload, self.scenario.seed)
        self.fed = False
        self.drained = asyncio.Event()
        self.server_work: set[asyncio.Future[None]] = set()   # a sandbox restart under way
        self.reached = False   # it has started to connect to its server
        self.result: LiveResult | None = None
        self.server_version = ""   # once `reach` has asked the server
        self.lease_seconds = 0.0
        self.oversleep = Oversleep(0.0)   # measured on the server in `_prepare`
        self._watcher: asyncpg.Connection | None = None   # the server view's admin connection
        self._watching = asyncio.Lock()

    @property
    def target(self) -> Target:
        if self._target is None:
            raise LiveError("the run has no server yet")
        return self._target

    @property
    def display(self) -> str:
        """Which server, safe to show (the sandbox's details once it is leased)."""
        return self._target.display if self._target is not None else "embedded PostgreSQL (sandbox)"

    @property
    def live(self) -> bool:
        """The scenario clock runs: the traffic and the faults are under way."""
        return self.recorder.started and not self.recorder.stopped

    async def go(self) -> LiveResult:
        """Lease a sandbox server if need be, run, clean up, and give the server back.

        `result` is set however the run ends once it has its server, and also
        when it is cancelled before.
        """
        started = time.monotonic()
        hush_lost_connections(asyncio.get_running_loop())
        try:
            if self._target is None:
                self.lease = await self._lease()
                self._target = self.lease.target
                self.lease_seconds = time.monotonic() - started
            return await self._go(started)
        except asyncio.CancelledError:
            if self.result is None:   # cancelled before it connected (0 left), or its cleanup was (unknown)
                self.result = self._result(started, self.recorder.stop(), -1 if self.reached else 0, True)
            raise
        finally:
            if self.lease is not None:
                self.lease.release()

    async def _go(self, started: float) -> LiveResult:
        self.reached = True
        cancelled = False
        end_s = 0.0
        try:
            await self._prepare()
            with heap.frozen():   # no full collection stalls the requests
                self.recorder.start()
                if self.proxy is not None:
                    self.proxy.start_clock()
                self._start_faults()
                if self.pooler is not None:
                    self._spawn(self._poll_pooler(), "live-pooler-poll")
                feed = self._spawn(self._feed(), "live-feed")
                await self._until_done(feed)
                end_s = self.recorder.stop()
        except asyncio.CancelledError:
            cancelled = True
            end_s = self.recorder.stop()
            raise
        finally:
            left_open, interrupted = await self._finish()
            self.result = self._result(started, end_s, left_open, cancelled)
            if interrupted:
                raise asyncio.CancelledError  # the cancel that came during the cleanup
        return self.result

    def _result(self, started: float, end_s: float, left_open: int, cancelled: bool) -> LiveResult:
        return LiveResult(
            self.scenario, self.recorder.trace, self.recorder.arrived, end_s, time.monotonic() - started,
            self.display, self.name, self.scale, left_open, cancelled, self.costs, not self.external,
            self.server_version, address(self.target.dsn) if self.external else "", self.lease_seconds)

    async def _lease(self) -> Lease:
        """Borrow a sandbox server (it may have to start first); given back even if cancelled meanwhile."""
        db = self.scenario.database
        lending = asyncio.get_running_loop().run_in_executor(
            None, SANDBOX.lease, db.max_connections, db.superuser_reserved_connections)
        try:
            return await asyncio.shield(lending)
        except asyncio.CancelledError:
            lending.add_done_callback(_give_back)
            raise

    # -- setting up
    async def _prepare(self) -> None:
        """Measure the server, build the network the scenario describes, open the pools."""
        db = self.scenario.database
        cut = faults.idle_cut(self.scenario.faults)
        # a server that cannot be used, said plainly; one that can says what it is
        self.server_version = await reach(self.target, self.connect_timeout_s)
        connector = self.connector = Connector(self.recorder, self.target.dsn, self.name)
        try:
            base = await measure(connector.raw_connect, samples=3)
            conn = await connector.raw_connect()
            try:
                self.oversleep = await oversleep(conn, base.rtt_ms)
            finally:
                await conn.close()
        except Exception as e:
            raise LiveError(f"cannot connect to {self.target.display}: {type(e).__name__}: {e}") from None
        # what the scenario says, in wall-clock ms, beyond what this server costs by itself
        connector.extra_s = max(db.connect_ms / self.scale - base.connect_ms, 0.0) / 1000.0
        added_rtt_ms = max(db.rtt_ms / self.scale - base.rtt_ms, 0.0)
        if added_rtt_ms > 0 or cut is not None:
            self.proxy = Proxy(
                upstream(self.target), rtt_ms=added_rtt_ms,
                idle_cut_after_s=None if cut is None else cut.idle_cut_after_s / self.scale,
                idle_cut_from_s=0.0 if cut is None else cut.at_s / self.scale)
            self.proxy.on_cut = faults.cut_reporter(self.recorder, self.proxy)
            await self.proxy.start()
            connector.through("127.0.0.1", self.proxy.port)
        self._reached_by()
        if self.measure_costs:
            self.costs = (await measure(connector.raw_connect)).scaled(self.scale)
        if self.scenario.pooler.present:
            connector = await self._start_pooler(connector)
        kind = LIVE_POOLS[self.scenario.pool.kind]
        self.pools = [kind(i, self.scenario.pool, connector, self.recorder, self.scale)
                      for i in range(self.scenario.app.instances)]
        try:
            await asyncio.gather(*(pool.start() for pool in self.pools))
        except Exception as e:
            raise LiveError(f"could not open the pools on {self.target.display}: "
                            f"{type(e).__name__}: {e}") from None

    async def _start_pooler(self, direct: Connector) -> Connector:
        """The scenario's pooler in front of the server (or of the proxy): the pools connect to it.

        Its server logins go where the pools' would have gone; the pools' own
        connections end at the pooler, so they are this run's clients of it,
        with the driver arguments it needs.
        """
        cfg = self.scenario.pooler
        module = poolers.LIVE_POOLERS[cfg.kind]
        where = ("127.0.0.1", self.proxy.port) if self.proxy is not None else upstream(self.target)
        self.pooler = await module.Bouncer.start(module.run_settings(cfg, self.scale), self.target,
                                                 upstream=where)
        self.recorder.trace.show_pools = ShowPools()
        clients = Connector(self.recorder, self.pooler.dsn, self.name)
        clients.driver_kwargs = module.driver_kwargs(cfg)
        clients.attempts = direct.attempts
        self.connector = clients
        return clients

    async def _poll_pooler(self) -> None:
        """SHOW POOLS into the trace, ten times a second on the wall clock, until the run ends."""
        readings = self.recorder.trace.show_pools
        assert readings is not None and self.pooler is not None
        while True:
            row = await self.pooler.show_pools()
            readings.add(self.recorder.now(), tuple(int(row.get(name, 0)) for name in SHOW_POOLS),
                         float(row.get("maxwait", 0.0)) * self.scale)
            await asyncio.sleep(POOLER_POLL_S)

    def _reached_by(self) -> None:
        """Tell the model how this run reaches its server (what a connect meets while it is down):
        through the proxy over TCP, or straight to the server's unix socket or TCP port."""
        transport = ("proxy" if self.proxy is not None else
                     "unix" if isinstance(upstream(self.target), str) else "tcp")
        if transport != self.scenario.database.transport:
            self.scenario = self.scenario.with_overrides({"database.transport": transport})

    def _start_faults(self) -> None:
        for fault in self.scenario.faults:
            if fault.kind == "kill_idle":
                coro = faults.kill_idle(self.recorder, self.target.admin_dsn, fault.at_s)
            elif fault.kind == "restart" and self.lease is not None:
                coro = faults.restart(self.recorder, self.lease, fault.at_s, fault.down_s, self.server_work)
            else:
                continue
            self._spawn(coro, f"live-fault-{fault.kind}")

    def _spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """A task of this run's: the cleanup cancels it if it is still going on."""
        task = asyncio.create_task(coro, name=name)
        self.background.append(task)
        return task

    # -- faults on demand, while the run goes on (on its loop)
    async def kill_idle_now(self) -> int:
        """The kill_idle fault, now: this run's idle connections are terminated; how many."""
        self._check_live("kill idle connections")
        return await self._spawn(faults.kill_idle_now(self.recorder, self.target.admin_dsn),
                                 "live-kill-idle-now")

    async def restart_now(self, down_s: float = 1.0) -> None:
        """The restart fault, now, down for `down_s` scenario seconds.

        Returns once the server is going down (its rows written); it comes
        back up on its own, and the run goes on meanwhile.
        """
        if self.external:
            raise LiveError(RESTART_REFUSED)
        if not (0.0 <= down_s <= MAX_DOWN_S):
            raise LiveError(f"down_s = {down_s}: must be from 0 to {MAX_DOWN_S:g} (s)")
        self._check_live("restart the server")
        if self.server_work or self.lease is None:
            raise LiveError("the server is already restarting; wait until it is up again")
        going_down = asyncio.Event()
        restarting = faults.restart_now(self.recorder, self.lease, down_s, self.server_work, going_down)
        task = self._spawn(restarting, "live-restart-now")
        signalled = asyncio.ensure_future(going_down.wait())
        try:   # until its rows are written and the server stops, or the restart has ended otherwise
            await asyncio.wait({task, signalled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            signalled.cancel()
        if not going_down.is_set():
            if task.cancelled():
                raise LiveError("the restart was called off: the run is ending")
            task.result()   # what kept it from stopping the server

    def _check_live(self, what: str) -> None:
        if not self.live:
            phase = "has ended" if self.recorder.stopped else "has not started yet"
            raise LiveError(f"cannot {what}: the run {phase}")

    async def server_view(self, query_chars: int = 200) -> list[dict[str, Any]]:
        """This run's rows of pg_stat_activity, as the server itself sees them (none before it has one).

        While the run goes on, one admin connection serves every call: the live
        lab asks twice a second, and a connect each time would start a backend
        on the very server being timed. Outside the run, a connection per call.
        """
        if self._target is None:
            return []
        async with self._watching:
            if not self.live:
                admin = await faults.admin_connect(self.target.admin_dsn, 5.0)
                try:
                    return await activity(admin, self.name, query_chars)
                finally:
                    await admin.close()
            try:
                if self._watcher is None or self._watcher.is_closed():
                    self._watcher = await faults.admin_connect(self.target.admin_dsn, 5.0)
                return await activity(self._watcher, self.name, query_chars)
            except BaseException:
                self._stop_watching()   # a restart killed it, say: the next call connects again
                raise

    def _stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.terminate()
            self._watcher = None

    # -- the traffic
    async def _feed(self) -> None:
        """Start each request at its time; behind schedule, still one at a time with the loop.

        Behind schedule there is nothing to wait for, but the feed yields
        anyway: without that, a run whose requests came faster than the loop
        could start them created tasks in one tight loop, and nothing else
        (Stop, the requests themselves, the cleanup) got a turn.
        """
        rec = self.recorder
        cpu_fraction = self.scenario.workload.cpu_fraction
        for rid, t, inst, hold, leak in workload.requests(workload.draw(self.scenario, self.max_requests)):
            delay = rec.wall(t) - time.monotonic()
            await asyncio.sleep(max(delay, 0.0))
            hold_s, cpu_s = hold / self.scale, hold * cpu_fraction / self.scale
            task = asyncio.create_task(self._request(
                self.pools[inst], rid, self.oversleep.ask(hold_s, cpu_s), cpu_s, leak))
            self.requests.add(task)
            task.add_done_callback(self._ended)
            rec.arrived = rid + 1
        self.fed = True
        if not self.requests:
            self.drained.set()

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.requests.discard(task)
        if self.fed and not self.requests:
            self.drained.set()

    async def _request(self, pool: LivePool, rid: int, hold_s: float, cpu_s: float, leak: bool) -> None:
        """One request, as `sim.model.request`: a worker of its instance, then its attempts."""
        REQUEST.set(rid)
        rec = self.recorder
        inst = pool.instance
        rec.emit(inst, rid, -1, Ev.ARRIVE)
        limit = self.scenario.workload.deadline_ms
        deadline = None if limit is None else rec.now() + limit / 1000.0   # scenario clock
        gate = None if self.workers is None else self.workers[inst]
        if gate is None:
            await self._attempts(pool, rid, hold_s, cpu_s, leak, deadline)
            return
        if gate.locked():   # every worker busy (or others already queued: it is FIFO)
            rec.emit(inst, rid, -1, Ev.QUEUE)
            try:
                async with asyncio.timeout_at(self._loop_time(deadline)):
                    await gate.acquire()
            except TimeoutError as e:
                rec.caught(Ev.TIMEOUT, Why.DEADLINE, e)
                rec.emit(inst, rid, -1, Ev.TIMEOUT, Why.DEADLINE)
                return
            rec.emit(inst, rid, -1, Ev.WORKER)
        else:
            await gate.acquire()
        try:
            await self._attempts(pool, rid, hold_s, cpu_s, leak, deadline)
        finally:
            gate.release()

    def _loop_time(self, deadline: float | None) -> float | None:
        """A scenario-clock deadline as the event loop's time (asyncio.timeout_at), None as None."""
        if deadline is None:
            return None
        loop = asyncio.get_running_loop()
        return loop.time() + (self.recorder.wall(deadline) - time.monotonic())

    async def _acquire(self, pool: LivePool, rid: int, deadline: float | None) -> tuple[Any, Tracked]:
        """The pool's acquire, given up as the library's timeout when the request's deadline passes."""
        if deadline is None:
            return await pool.acquire(rid)
        try:
            async with asyncio.timeout_at(self._loop_time(deadline)):
                return await pool.acquire(rid)
        except TimeoutError:
            raise Failed(Ev.TIMEOUT) from None

    async def _attempts(self, pool: LivePool, rid: int, hold_s: float, cpu_s: float, leak: bool,
                        deadline: float | None) -> None:
        """Get a connection, run the statement, give it back (`sim.model.attempts`, row for row):
        again after a retryable failure, once its backoff is over."""
        rec = self.recorder
        inst = pool.instance
        retry = 0
        while True:
            retry += 1
            try:
                handle, tracked = await self._acquire(pool, rid, deadline)
            except Failed as failure:
                delay = self.retries.delay(rid, retry, failure.kind, failure.reason, rec.now(), deadline)
                if delay is None:
                    rec.caught(failure.kind, failure.reason, failure.caught)
                    rec.emit(inst, rid, -1, failure.kind, failure.reason)
                    return
                rec.emit(inst, rid, -1, Ev.BACKOFF, workload.backoff_reason(failure.kind, failure.reason))
            else:
                rec.query_started(tracked, rid)
                try:
                    await pool.query(handle, tracked, hold_s, cpu_s)
                except Failed as failure:
                    delay = self.retries.delay(rid, retry, Ev.ERROR, failure.reason, rec.now(), deadline)
                    if delay is None:
                        rec.caught(Ev.ERROR, failure.reason, failure.caught)
                    rec.query_ended(tracked, rid, Ev.ERROR if delay is None else Ev.BACKOFF, failure.reason)
                    await pool.release(handle, tracked)   # as the libraries' own code does after a failure
                    if delay is None:
                        return
                else:
                    rec.query_ended(tracked, rid, Ev.QUERY_END)
                    if leak:
                        rec.emit(inst, rid, tracked.id, Ev.LEAK)
                        self.leaked.append((pool, handle, tracked))
                        return
                    await pool.release(handle, tracked)
                    return
            await asyncio.sleep(delay / self.scale)
            rec.emit(inst, rid, -1, Ev.RETRY)

    async def _until_done(self, feed: asyncio.Task[None]) -> None:
        """Until the schedule ends, or with max_requests until the last request has ended.

        At the schedule's end the feed is awaited too: on a busy loop its
        last sleep can wake after ours, and a request drawn before the end
        would then go uncounted (the model counts every one).
        """
        timeout = max(self.recorder.wall(self.scenario.duration_s) - time.monotonic(), 0.0)
        if self.max_requests is None:
            await asyncio.sleep(timeout)
            await feed
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained.wait(), timeout)

    # -- the end
    async def _finish(self) -> tuple[int, bool]:
        """The cleanup, to its end even if this task is cancelled (again) meanwhile.

        The number of this run's connections left on the server, and whether
        a cancel came during the cleanup (it is raised after it).
        """
        cleanup = asyncio.ensure_future(self._cleanup())
        interrupted = False
        while True:
            try:
                left_open = await asyncio.shield(cleanup)
            except asyncio.CancelledError:
                if cleanup.done():   # the cleanup itself was cancelled: nothing more to wait for
                    raise
                interrupted = True
                continue
            return left_open, interrupted

    async def _cleanup(self) -> int:
        """Close everything this run opened; the number of its connections still on the server."""
        self.recorder.stop()
        for task in [*self.background, *self.requests]:
            task.cancel()
        pending = [*self.background, *self.requests]
        if pending:
            await asyncio.wait(pending, timeout=2.0)
        for pool, handle, tracked in self.leaked:
            try:
                pool.abandon(handle, tracked)
            except Exception as e:   # the rest of the cleanup goes on; left_on_server terminates it
                _log.warning("could not abandon leaked connection %d: %s: %s",
                             tracked.id, type(e).__name__, e)
        await asyncio.gather(*(bounded(pool.close(), 5.0) for pool in self.pools))
        async with self._watching:   # the recorder has stopped: no call opens another after this
            self._stop_watching()
        for tracked in self.recorder.open_connections():
            try:
                if not tracked.conn.is_closed():
                    tracked.conn.terminate()
            except Exception as e:   # left_on_server terminates its backend
                _log.warning("could not terminate connection %d: %s: %s", tracked.id, type(e).__name__, e)
        if self.pooler is not None:   # after the pools: its server connections go with it
            await bounded(self.pooler.stop(), 8.0)
        if self.proxy is not None:
            await bounded(self.proxy.close(), 5.0)
        if self.server_work and self.lease is not None:
            self.lease.up_now()  # a restart under way: bring the server up before it is checked and lent
            await asyncio.wait(set(self.server_work), timeout=CLEANUP_S)
        if self.connector is None or not self.connector.attempts:
            return 0   # nothing of this run's ever tried to connect: nothing to look for on the server
        return await left_on_server(self.target.admin_dsn, self.name, CLEANUP_S)


async def left_on_server(admin_dsn: str, name: str, within_s: float) -> int:
    """Wait until no backend with this application_name is left, terminating stragglers; how many are left.

    A connect that was still in flight when the run ended can complete after
    the pools closed; the server then holds a backend nobody will use, so it
    is terminated here. -1 if the server cannot be reached to check.
    """
    deadline = time.monotonic() + within_s
    count = -1
    while time.monotonic() < deadline:
        try:
            admin = await faults.admin_connect(admin_dsn, 2.0)
        except Exception as e:
            _log.debug("left_on_server: no admin connection yet (%s: %s); trying again", type(e).__name__, e)
            await asyncio.sleep(0.1)
            continue
        try:
            while time.monotonic() < deadline:
                count = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name)
                if count == 0:
                    return 0
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = $1", name)
                await asyncio.sleep(0.05)
        except Exception as e:
            _log.debug("left_on_server: the check failed (%s: %s); trying again", type(e).__name__, e)
            await asyncio.sleep(0.1)
        finally:
            admin.terminate()
    return count


async def activity(admin: asyncpg.Connection, name: str, query_chars: int = 200) -> list[dict[str, Any]]:
    """The rows of pg_stat_activity with this application_name, oldest backend first."""
    rows = await admin.fetch(
        "SELECT pid, state, backend_start, state_change, wait_event_type, wait_event, "
        "left(query, $2) AS query FROM pg_stat_activity WHERE application_name = $1 "
        "ORDER BY backend_start, pid", name, query_chars)
    return [dict(row) for row in rows]


def _give_back(lending: asyncio.Future[Lease]) -> None:
    """A lease that arrived after its run was cancelled goes straight back."""
    if not lending.cancelled() and lending.exception() is None:
        lending.result().release()
