"""Faults done for real, at their scenario time, and written to the trace as the model writes them.

* kill_idle: `pg_terminate_backend` on this run's connections that sit idle
  in their pools (a leaked one is checked out, so it is spared, as in the model);
* restart: the sandbox server stops (every backend dies) and starts again;
* idle_cut: done by the proxy; `on_cut` attributes each cut to its connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg

from live.proxy import Proxy
from live.recorder import Recorder
from live.server import Lease
from sim.scenario import Fault
from sim.trace import Ev, Why


async def sleep_until(recorder: Recorder, scenario_s: float) -> None:
    delay = recorder.wall(scenario_s) - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def kill_idle(recorder: Recorder, admin_dsn: str, at_s: float) -> None:
    await sleep_until(recorder, at_s)
    victims = [c for c in recorder.open_connections() if not c.out and not c.dead]
    if not victims:
        return
    for tracked in victims:
        recorder.died(tracked, Why.KILLED)
    admin = await asyncpg.connect(admin_dsn, server_settings={"application_name": "poolstand-admin"})
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
                            [c.pid for c in victims])
    finally:
        await admin.close()


async def restart(recorder: Recorder, lease: Lease, at_s: float, down_s: float) -> None:
    await sleep_until(recorder, at_s)
    recorder.emit(-1, -1, -1, Ev.SERVER, Why.DOWN)
    for tracked in recorder.open_connections():
        recorder.died(tracked, Why.RESTART)
    await asyncio.to_thread(lease.restart, down_s / recorder.scale)
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
