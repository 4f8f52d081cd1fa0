"""Faults done for real, at their scenario time or on demand, written to the trace as the model does.

* kill_idle: `pg_terminate_backend` on this run's connections that sit idle
  in their pools (a leaked one is checked out, so it is spared, as in the model);
* restart: the sandbox server stops (every backend dies) and starts again;
* idle_cut: done by the proxy; `on_cut` attributes each cut to its connection.

Each of the first two is one `..._now` function that the scheduled fault
calls at its time and a live view calls when a learner presses its button,
so both write the same rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import asyncpg

from live.pools.base import bounded
from live.proxy import Proxy
from live.recorder import Recorder, Tracked
from live.server import Lease
from sim.scenario import Fault
from sim.trace import Ev, Why

_log = logging.getLogger(__name__)

ADMIN_NAME = "poolstand-admin"   # the application_name of the lab's own watching and killing


async def admin_connect(admin_dsn: str, timeout_s: float | None = None) -> asyncpg.Connection:
    """The lab's own superuser connection, named so that it is never counted as the run's."""
    return await asyncio.wait_for(
        asyncpg.connect(admin_dsn, server_settings={"application_name": ADMIN_NAME}), timeout_s)


async def sleep_until(recorder: Recorder, scenario_s: float) -> None:
    delay = recorder.wall(scenario_s) - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def kill_idle(recorder: Recorder, admin_dsn: str, at_s: float) -> None:
    """The scheduled kill_idle fault: at its scenario time, as `kill_idle_now`."""
    await sleep_until(recorder, at_s)
    await kill_idle_now(recorder, admin_dsn)


def _idle(recorder: Recorder) -> list[Tracked]:
    return [c for c in recorder.open_connections() if not c.out and not c.dead]


async def kill_idle_now(recorder: Recorder, admin_dsn: str) -> int:
    """Terminate this run's idle connections on the server now; how many were.

    The idle ones are chosen once the admin connection is open, just before
    the kill goes out (a connection checked out meanwhile is spared), and a
    `dead` row is written, after the kill, for each backend that
    `pg_terminate_backend` says it terminated: a kill that fails, or a
    backend already gone, writes nothing.
    """
    if not _idle(recorder):
        return 0
    admin = await admin_connect(admin_dsn)
    try:
        victims = _idle(recorder)
        if not victims:
            return 0
        rows = await admin.fetch("SELECT pid, pg_terminate_backend(pid) AS killed "
                                 "FROM unnest($1::int[]) AS pid", [c.pid for c in victims])
        killed = {row["pid"] for row in rows if row["killed"]}
        for tracked in victims:
            if tracked.pid in killed:
                recorder.died(tracked, Why.KILLED)
        if len(killed) < len(victims):
            _log.debug("kill_idle: %d of %d backends were terminated", len(killed), len(victims))
        return len(killed)
    finally:
        await bounded(admin.close(), 2.0)


async def restart(recorder: Recorder, lease: Lease, at_s: float, down_s: float,
                  work: set[asyncio.Future[None]] | None = None) -> None:
    """The scheduled restart fault: at its scenario time, as `restart_now`."""
    await sleep_until(recorder, at_s)
    await restart_now(recorder, lease, down_s, work)


async def restart_now(recorder: Recorder, lease: Lease, down_s: float,
                      work: set[asyncio.Future[None]] | None = None,
                      going_down: asyncio.Event | None = None) -> None:
    """Stop the sandbox server now (every backend dies), keep it down `down_s` scenario seconds, start it.

    The server's own stop and start run in a thread that goes on to its end
    even if this task is cancelled meanwhile; it is kept in `work` until then,
    so the run can wait for it before lending the server to anybody else.
    One restart waits for an earlier one still in that set. `going_down` is
    set once its rows are written and the server is being stopped.
    """
    if work:
        await asyncio.wait(set(work))
    recorder.emit(-1, -1, -1, Ev.SERVER, Why.DOWN)
    for tracked in recorder.open_connections():
        recorder.died(tracked, Why.RESTART)
    thread = asyncio.ensure_future(asyncio.to_thread(lease.restart, down_s / recorder.scale))
    if work is not None:
        work.add(thread)
        thread.add_done_callback(work.discard)
    if going_down is not None:
        going_down.set()
    await asyncio.shield(thread)
    recorder.emit(-1, -1, -1, Ev.SERVER, Why.UP)


def cut_reporter(recorder: Recorder, proxy: Proxy) -> Callable[[int, float], None]:
    """The proxy's on_cut: find the connection by its client port and write its death."""
    def on_cut(index: int, _t: float) -> None:
        port = proxy.conns[index].client_port
        for tracked in recorder.open_connections():
            if tracked.port == port:
                recorder.died(tracked, Why.CUT)
                return
    return on_cut


def idle_cut(faults: tuple[Fault, ...]) -> Fault | None:
    cuts = [f for f in faults if f.kind == "idle_cut"]
    return cuts[0] if cuts else None
