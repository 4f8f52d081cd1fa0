"""The live run's trace: real pool events written as the simulation writes them.

The libraries do not announce everything the trace needs, so the recorder
keeps, per physical connection, what the pools' own callbacks cannot tell:
which request holds it, which server process (pid) and client port it has
(so a fault or a firewall cut can be attributed to it), and why it is being
closed when the close comes from inside the library.

Times are on the scenario clock: wall-clock seconds since the start, times
the run's time scale. After `stop()` nothing more is written, so cleanup at
the end of a run never shows up as closes (the simulation simply stops too).
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from sim.trace import Ev, Trace, Why

REQUEST: contextvars.ContextVar[int] = contextvars.ContextVar("poolstand_request", default=-1)
"""The request the current task serves: a connect made inside a pool's acquire is charged to it."""


@dataclass
class Tracked:
    """One physical connection as the recorder follows it."""

    id: int
    instance: int
    conn: Any                   # the asyncpg Connection
    pid: int = 0                # its server process
    port: int = 0               # its client-side TCP port, when it goes through the proxy
    user: int = -1              # the request holding it, -1 when it is in the pool
    out: bool = False
    queries: int = 0            # statements and resets, counted as asyncpg counts them
    pending: Why | None = None  # why the library is about to close it, when only we know
    dead: bool = False          # its server side is gone (killed, cut, restart)
    closed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Recorder:
    def __init__(self, time_scale: float = 1.0) -> None:
        self.trace = Trace()
        self.scale = time_scale
        self.t0 = time.monotonic()
        self.started = False
        self.stopped = False
        self.paused = False   # a warm-up that the scenario does not include
        self.conns: dict[int, Tracked] = {}          # by our id
        self._by_object: dict[int, Tracked] = {}     # by id() of the asyncpg Connection
        self._by_pid: dict[int, Tracked] = {}        # by server process id, the latest holder of it
        self._next = 0
        self.arrived = 0

    # -- the clock
    def start(self) -> None:
        """The scenario clock starts now; what happened before (a pool's warm-up) is at 0."""
        self.t0 = time.monotonic()
        self.started = True

    def now(self) -> float:
        return (time.monotonic() - self.t0) * self.scale if self.started else 0.0

    def wall(self, scenario_s: float) -> float:
        """The monotonic time at which scenario time `scenario_s` falls."""
        return self.t0 + scenario_s / self.scale

    def stop(self) -> float:
        """Stop writing; the scenario time it stopped at."""
        end = self.now()
        self.stopped = True
        return end

    def emit(self, instance: int, request: int, conn: int, kind: Ev, reason: Why = Why.NONE) -> None:
        if not (self.stopped or self.paused):
            self.trace.emit(self.now(), instance, request, conn, kind, reason)

    # -- connections
    def new_id(self) -> int:
        self._next += 1
        return self._next - 1

    def track(self, conn_id: int, instance: int, conn: Any, pid: int, port: int) -> Tracked:
        tracked = Tracked(conn_id, instance, conn, pid, port)
        self.conns[conn_id] = tracked
        self._by_object[id(conn)] = tracked
        self._by_pid[pid] = tracked
        return tracked

    def of(self, conn: Any) -> Tracked:
        return self._by_object[id(conn)]

    def by_pid(self, pid: int) -> Tracked:
        return self._by_pid[pid]

    def open_connections(self) -> list[Tracked]:
        return [c for c in self.conns.values() if not c.closed]

    def acquired(self, tracked: Tracked, request: int, waited: bool) -> None:
        if tracked.out:  # its previous holder's return has not been written yet: it happened first
            self.released(tracked)
        tracked.out, tracked.user, tracked.pending = True, request, None
        self.emit(tracked.instance, request, tracked.id, Ev.ACQUIRE, Why.WAITED if waited else Why.NONE)

    def released(self, tracked: Tracked, request: int | None = None) -> None:
        """Back in the pool; written once per checkout, whoever notices first.

        With `request`, only if that request still holds it (a waiter may already
        have taken it over, and written this release on its way).
        """
        if tracked.out and (request is None or tracked.user == request):
            self.emit(tracked.instance, tracked.user, tracked.id, Ev.RELEASE)
            tracked.out, tracked.user = False, -1

    def terminated(self, tracked: Tracked, default: Why) -> None:
        """The client side closed (by the library, or because the socket died)."""
        if tracked.closed:
            return
        reason = tracked.pending if tracked.pending is not None else default
        request = tracked.user
        self.released(tracked)
        tracked.closed = True
        self.emit(tracked.instance, request, tracked.id, Ev.CLOSE, reason)

    def died(self, tracked: Tracked, reason: Why) -> None:
        """The server side is gone: written when we caused it or saw the firewall do it."""
        if not tracked.dead and not tracked.closed:
            tracked.dead = True
            self.emit(tracked.instance, -1, tracked.id, Ev.DEAD, reason)
