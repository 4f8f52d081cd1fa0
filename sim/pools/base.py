"""What every pool kind shares: the waiting line, closing, going idle.

A pool is driven by request processes through three calls (`acquire`,
`release`, `broken`) and told by the server when a connection dies under it
(`on_dead`). Everything that differs between libraries lives in the
subclasses; this module keeps only mechanics they all use the same way.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

import simpy

from sim.connection import Conn
from sim.errors import ASYNCIO_TIMEOUT, IN_FLIGHT, LibraryError, PoolState, asyncpg_broken, asyncpg_too_many
from sim.server import ConnectFailed, Front
from sim.signs import Sign
from sim.trace import Ev, Trace, Why

TIMED_OUT = object()  # what a waiter receives when its deadline passes first


@dataclass(frozen=True)
class AcquireTimeout:
    """How long a request may wait for a connection, as its library names and counts it."""

    name: str            # the library's setting: pool_timeout, timeout, connectionTimeout, ContextTimeout
    value: float | None  # in the library's unit; None: it waits for ever
    unit: str            # "s" or "ms"

    @property
    def ms(self) -> float | None:
        return None if self.value is None else self.value * (1000.0 if self.unit == "s" else 1.0)


class PoolSettings:
    """What every library's settings answer besides the settings themselves.

    Each library's dataclass of settings (in its own module, beside its model)
    subclasses this, so the validator, the error texts, the charts, the theory
    and the live lab ask the settings instead of switching on the library.
    The defaults are those of a pool over asyncpg with nothing of its own to say.
    """

    kind: ClassVar[str]
    library: ClassVar[str]                          # its name as people know it
    size_names: ClassVar[tuple[str, str] | None] = None   # its base size and its cap, as it names them
    simulation_only: ClassVar[str] = ""             # why the live lab cannot run it, if it cannot
    markers: ClassVar[str] = ""      # a regex of the words that name it in pasted code or logs (sim.diagnose)
    signs: ClassVar[tuple[Sign, ...]] = ()          # the error texts it writes that tell an incident
    transactions: ClassVar[bool] = False  # wraps each statement in BEGIN ... ROLLBACK (what a pooler's
    #                                       transaction and statement modes see)

    @property
    def cap(self) -> int | None:
        """The most connections one instance's pool opens; None: no cap of its own."""
        return None

    @property
    def base(self) -> int:
        """The connections it keeps (or opens at start)."""
        return 0

    @property
    def overflow_base(self) -> int | None:
        """The size above which the library counts an instance's connections as overflow; None: it never
        counts any (the metrics' overflow level, and the band the charts draw from it)."""
        return self.base

    @property
    def counter_base(self) -> int | None:
        """What the library subtracts from an instance's open connections in the overflow counter it
        reports, negative while fewer are open (SQLAlchemy's `overflow()`); None: it has no such counter."""
        return None

    def check(self, path: str) -> str | None:
        """A rule across its settings that they break, as a one-line message, or None."""
        return None

    def acquire_timeout(self) -> AcquireTimeout | None:
        """How long a checkout may wait; None when there is no waiting for a connection at all."""
        return None

    def sized(self, n: int) -> dict[str, Any]:
        """The settings (scenario paths) of a pool of n connections per instance, kept open: what a
        sizing recommends and what an incident's pool with no cap is given; empty when it has no size."""
        return {}

    def patient_for(self, seconds: float) -> dict[str, Any]:
        """The settings that make a checkout give up after `seconds`; empty when nothing can."""
        return {}

    def queue(self) -> tuple[int, float] | None:
        """(servers, patience in s) when each instance is a plain M/M/c queue; None otherwise."""
        return None

    def timeout_error(self, reason: str, state: PoolState) -> LibraryError:
        return ASYNCIO_TIMEOUT

    def too_many_error(self, refusal: str) -> LibraryError:
        return self.connect_error(asyncpg_too_many(refusal))

    def broken_error(self, how: str = IN_FLIGHT) -> LibraryError:
        """A statement on a dead connection; `how` it died: `sim.errors.IN_FLIGHT`, `CLOSED` or `CUT`."""
        return self.statement_error(asyncpg_broken(how))

    def connect_error(self, driver: LibraryError) -> LibraryError:
        """What the application catches when the driver's connect raised `driver`."""
        return driver

    def statement_error(self, driver: LibraryError) -> LibraryError:
        """What the application catches when the driver's statement raised `driver`."""
        return driver


class RequestFailed(Exception):
    """The request ends without a connection: kind is Ev.TIMEOUT or Ev.ERROR."""

    def __init__(self, kind: Ev, reason: Why = Why.NONE) -> None:
        super().__init__(f"{kind.name} {reason.name}")
        self.kind = kind
        self.reason = reason


def connect_error(e: ConnectFailed) -> RequestFailed:
    return RequestFailed(Ev.ERROR, e.reason)


class Pool:
    """One application instance's pool."""

    command_timeout: float | None = None
    query_round_trips = 1  # a request's statement, as the driver sends it
    prepares = False       # the request's statement is prepared on its first run on a connection

    def __init__(self, env: simpy.Environment, trace: Trace, server: Front, cfg: Any,
                 instance: int, rng: random.Random) -> None:
        self.env = env
        self.trace = trace
        self.server = server
        self.cfg = cfg
        self.instance = instance
        self.rng = rng
        self.waiters: deque[simpy.Event] = deque()
        self.waiting = 0
        self.deadlines: dict[int, float] = {}   # request -> its own deadline (workload.deadline_ms)

    # -- what request processes call; each kind overrides these
    def start(self) -> None:
        """Warm-up before the scenario clock starts (asyncpg's min_size, Hikari's first connection)."""

    def acquire(self, request: int) -> Generator[Any, Any, Conn]:
        raise NotImplementedError

    def release(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        raise NotImplementedError

    def broken(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        """A statement failed because the connection is dead: it is closed, not reused."""
        self.discard(conn, request, Why.BROKEN)
        yield from ()

    def on_dead(self, conn: Conn) -> None:
        """The server side died; by default the pool does not notice until it uses it."""

    # -- shared mechanics
    def emit(self, request: int, conn: int, kind: int, reason: int = 0) -> None:
        self.trace.emit(self.env.now, self.instance, request, conn, kind, reason)

    def close(self, conn: Conn, reason: Why, request: int = -1) -> None:
        conn.closed = True
        self.emit(request, conn.id, Ev.CLOSE, reason)
        self.server.disconnect(conn)

    def discard(self, conn: Conn, request: int, reason: Why) -> None:
        """Back from the request, and closed instead of kept."""
        self.emit(request, conn.id, Ev.RELEASE)
        conn.out = False
        if not conn.closed:
            self.close(conn, reason, request)

    def reset_and_return(self, conn: Conn, request: int, round_trips: int, count_queries: int = 0
                         ) -> Generator[Any, Any, bool]:
        """Reset the session on return; a connection that turns out dead is treated as broken."""
        ok = yield from self.server.roundtrips(conn, round_trips, count_queries)
        if not ok:
            yield from self.broken(conn, request)
            return False
        self.emit(request, conn.id, Ev.RELEASE)
        self.went_idle(conn)
        return True

    def handed(self, conn: Conn, request: int, waited: bool) -> Conn:
        """The request now holds a usable connection."""
        conn.out = True
        conn.gen += 1
        self.emit(request, conn.id, Ev.ACQUIRE, Why.WAITED if waited else Why.NONE)
        return conn

    def went_idle(self, conn: Conn) -> None:
        conn.out = False
        conn.idle_since = self.env.now
        self.server.on_idle(conn)

    def connect(self, request: int) -> Generator[Any, Any, Conn]:
        try:
            return (yield from self.server.connect(self.instance, request))
        except ConnectFailed as e:
            raise connect_error(e) from None

    def wait(self, request: int, timeout: float | None) -> Generator[Any, Any, Any]:
        """Queue until something is handed over, or TIMED_OUT after `timeout` seconds.

        The request's own deadline, if it has one, ends the wait too, as Go's
        context deadline ends database/sql's: the library then fails the
        acquire as its own timeout would (so the error is the library's timeout).
        """
        limit = self.deadlines.get(request)
        if limit is not None:
            left = max(limit - self.env.now, 0.0)
            timeout = left if timeout is None else min(timeout, left)
        ev = self.env.event()
        self.waiters.append(ev)
        self.waiting += 1
        self.emit(request, -1, Ev.WAIT)
        if timeout is not None:
            def give_up(_: simpy.Event) -> None:
                if not ev.triggered:
                    ev.succeed(TIMED_OUT)
            self.env.timeout(timeout).callbacks.append(give_up)
        try:
            return (yield ev)
        finally:
            self.waiting -= 1

    def past_deadline(self, request: int) -> bool:
        """Whether the request's own deadline (workload.deadline_ms) has passed."""
        limit = self.deadlines.get(request)
        return limit is not None and self.env.now >= limit

    def hand_to_waiter(self, item: Any) -> bool:
        """Give `item` to the longest-waiting request that is still waiting."""
        waiters = self.waiters
        while waiters:
            ev = waiters.popleft()
            if not ev.triggered:
                ev.succeed(item)
                return True
        return False
