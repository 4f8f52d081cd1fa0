"""The live run's trace: real pool events written as the simulation writes them.

The libraries do not announce everything the trace needs, so the recorder
keeps, per physical connection, what the pools' own callbacks cannot tell:
which request holds it, which server process (pid) and client port it has
(so a fault or a firewall cut can be attributed to it), and why it is being
closed when the close comes from inside the library.

Times are on the scenario clock: wall-clock seconds since the start, times
the run's time scale. After `stop()` nothing more is written, so cleanup at
the end of a run never shows up as closes (the simulation simply stops too).

Every written row is also counted in a `Tally`, so a view in another thread
can follow a run while it goes on: the trace's own columns cannot be read
then (a numpy view of an `array.array` stops it from growing). Its rows can
be copied out, though, a stretch at a time (`LiveTrace.rows_since`): that is
how the live lab draws the stand while the run goes on.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sim.lifecycle import Running
from sim.poolers import ShowPools
from sim.trace import WHY_NAMES, Ev, Trace, Why

REQUEST: contextvars.ContextVar[int] = contextvars.ContextVar("poolstand_request", default=-1)
"""The request the current task serves: a connect made inside a pool's acquire is charged to it."""

UNTRACED: contextvars.ContextVar[bool] = contextvars.ContextVar("poolstand_untraced", default=False)
"""Set in a task doing work the scenario does not include (a pool's warm-up): none of it is written.

Per task, not per run: the instances' pools start side by side, and one
instance's warm-up ending must not make another's traced.
"""


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """Within this block, in this task (and the tasks it starts), nothing is written to the trace."""
    token = UNTRACED.set(True)
    try:
        yield
    finally:
        UNTRACED.reset(token)


class LiveTrace(Trace):
    """A live run's trace: its rows, and what its failed requests really caught.

    `caught` holds, per (kind, reason) of a failure row (timeout / error), the
    exception the first such request caught (its class and its text,
    verbatim) and how many did, so that the model's text for the same rows can
    be shown beside it. It travels with the trace (pickled to the app, too).
    """

    __slots__ = ("caught",)

    def __init__(self) -> None:
        super().__init__()
        self.caught: dict[tuple[int, int], dict[str, Any]] = {}

    def rows_since(self, start: int, limit: int, readings: int = 0) -> Rows:
        """At most `limit` rows from row `start` on, as bytes: safe while the run's thread writes.

        Slices copy without exporting a buffer, so the columns go on growing.
        `emit` appends the reason last: once it has `n` rows, so has every
        column, and the rows up to `n` are whole. With a pooler, its SHOW POOLS
        readings from `readings` on come along (a few a second, a few bytes each).
        """
        written = len(self._reason)
        start = min(max(start, 0), written)
        stop = min(start + max(limit, 0), written)
        columns = tuple(col[start:stop].tobytes() for col in self._columns())
        pools = None if self.show_pools is None else self.show_pools.since(readings)
        return Rows(start, stop - start, written, columns, readings, pools)

    def append(self, rows: Rows) -> None:
        """Rows fetched with `rows_since`, added at the end; they must start where this trace ends."""
        if rows.start != len(self):
            raise ValueError(f"rows from {rows.start} cannot follow a trace of {len(self)} rows")
        for col, data in zip(self._columns(), rows.columns, strict=True):
            col.frombytes(data)
        if rows.pools is not None:
            if self.show_pools is None:
                self.show_pools = ShowPools()
            if rows.readings == len(self.show_pools):
                self.show_pools.extend(rows.pools)

    @property
    def last_t(self) -> float:
        """The time of the last row written (0 with none): the live recorder writes in time order."""
        return self._t[-1] if len(self._t) else 0.0

    def _columns(self) -> tuple[array[Any], ...]:
        """The six columns in `sim.trace.COLUMNS` order."""
        return (self._t, self._instance, self._request, self._conn, self._kind, self._reason)


@dataclass(frozen=True)
class Rows:
    """A stretch of a live trace's rows, column by column as raw bytes: small to pickle, quick to append.

    About 22 bytes a row, so a poll of a few thousand rows crosses the
    worker's pipe as tens of kilobytes.
    """

    start: int                  # the first row's index
    count: int
    written: int                # rows written when this was read: the run's trace may be further on
    columns: tuple[bytes, ...]  # `sim.trace.COLUMNS` order, machine types as `Trace` keeps them
    readings: int = 0           # with a pooler: the index of the first of `pools`' SHOW POOLS readings
    pools: ShowPools | None = None

    @property
    def nbytes(self) -> int:
        return sum(len(c) for c in self.columns)


def described(exc: BaseException) -> tuple[str, str, str]:
    """(class, text, SQLSTATE) of an exception as the model names them: the class by its module
    (a builtin's bare), the text verbatim, the SQLSTATE the driver gave it or that it wraps, if any."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    sqlstate = next((str(code) for e in (exc, getattr(exc, "orig", None), exc.__cause__)
                     if (code := getattr(e, "sqlstate", None))), "")
    return name, str(exc), sqlstate


def caught_messages(trace: Trace) -> list[dict[str, Any]] | None:
    """What a live run's requests really caught, in the shape and order of the metrics' `messages`
    (kind, reason, count, exception, message, sqlstate); None for a trace that is not a live run's."""
    if not isinstance(trace, LiveTrace):
        return None
    return [dict(trace.caught[key]) for key in sorted(trace.caught)]


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
    querying: bool = False      # its holder's statement is under way
    closing: Why | None = None  # closed during that statement: its rows wait for the statement's end


@dataclass(frozen=True)
class Counts:
    """What a `Tally` holds at one moment: totals so far, and levels now."""

    arrived: int = 0        # requests that arrived (the summary's "requests")
    completed: int = 0
    timed_out: int = 0
    errors: int = 0
    leaked: int = 0
    connects: int = 0       # connections opened
    checked_out: int = 0    # held by requests (leaked ones included)
    open: int = 0           # open in the pools
    waiting: int = 0        # requests queued for a connection
    server: int = 0         # this run's backends on the server, as the trace knows them
    server_down: bool = False
    error_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def idle(self) -> int:
        return self.open - self.checked_out


class Tally:
    """Running counts of the rows written so far, kept as `sim.metrics` would count them from the trace.

    The levels are `sim.lifecycle`'s, counted row by row by its `Running`, so
    the live view and the metrics never define them apart. Plain ints in
    lists and sets, updated on the loop's thread as each row is written;
    another thread reads them with `counts()`, whose copies are each taken in
    one step under the GIL. Per row this costs an increment and a few
    comparisons, since `add` is on the hot path of every event.
    """

    __slots__ = ("levels", "errors", "server_down")

    def __init__(self) -> None:
        self.levels = Running()            # rows of each kind, and the levels
        self.errors = [0] * len(Why)       # ERROR rows by reason
        self.server_down = False           # the last SERVER row said down

    @property
    def kinds(self) -> list[int]:
        """Rows of each kind so far."""
        return self.levels.kinds

    def add(self, request: int, conn: int, kind: Ev, reason: Why) -> None:
        self.levels.add(request, conn, kind)
        if kind == Ev.ERROR:
            self.errors[reason] += 1
        elif kind == Ev.SERVER:
            self.server_down = reason == Why.DOWN

    def counts(self) -> Counts:
        """A consistent-enough copy, safe to take from any thread."""
        kinds = self.kinds.copy()
        errors = self.errors.copy()
        level = self.levels.level
        return Counts(
            arrived=kinds[Ev.ARRIVE], completed=kinds[Ev.QUERY_END], timed_out=kinds[Ev.TIMEOUT],
            errors=sum(errors), leaked=kinds[Ev.LEAK], connects=kinds[Ev.OPEN],
            checked_out=level("checked_out"), open=level("open"), waiting=level("waiting"),
            server=level("server"), server_down=self.server_down,
            error_reasons={WHY_NAMES[why]: n for why, n in enumerate(errors) if n})


class Recorder:
    def __init__(self, time_scale: float = 1.0) -> None:
        self.trace = LiveTrace()
        self.scale = time_scale
        self.t0 = time.monotonic()
        self.started = False
        self.stopped = False
        self.conns: dict[int, Tracked] = {}          # by our id
        self._by_object: dict[int, Tracked] = {}     # by id() of the asyncpg Connection
        self._by_pid: dict[int, Tracked] = {}        # by server process id, the latest holder of it
        self._next = 0
        self.arrived = 0
        self.end = 0.0
        self.tally = Tally()

    # -- the clock
    def start(self) -> None:
        """The scenario clock starts now; what happened before (a pool's warm-up) is at 0."""
        self.t0 = time.monotonic()
        self.started = True

    def now(self) -> float:
        """The scenario clock; it stands still at 0 before `start()` and at the end after `stop()`."""
        if self.stopped:
            return self.end
        return (time.monotonic() - self.t0) * self.scale if self.started else 0.0

    def wall(self, scenario_s: float) -> float:
        """The monotonic time at which scenario time `scenario_s` falls."""
        return self.t0 + scenario_s / self.scale

    def stop(self) -> float:
        """Stop writing; the scenario time it stopped at (the first stop's, if called again)."""
        if not self.stopped:
            self.end = self.now()
            self.stopped = True
        return self.end

    def emit(self, instance: int, request: int, conn: int, kind: Ev, reason: Why = Why.NONE) -> None:
        if not (self.stopped or UNTRACED.get()):
            self.trace.emit(self.now(), instance, request, conn, kind, reason)
            self.tally.add(request, conn, kind, reason)

    def caught(self, kind: Ev, reason: Why, exc: BaseException | None) -> None:
        """A request failed (its row is `kind`, `reason`) with the library's exception `exc`: the first
        of each (kind, reason) is kept, and all are counted, as long as its row is written too."""
        if self.stopped or UNTRACED.get():
            return
        seen = self.trace.caught.get((kind, reason))
        if seen is not None:
            seen["count"] += 1
            return
        exception, message, sqlstate = described(exc) if exc is not None else ("", "", "")
        self.trace.caught[(kind, reason)] = {
            "kind": "timeout" if kind == Ev.TIMEOUT else "error", "reason": WHY_NAMES[reason], "count": 1,
            "exception": exception, "message": message, "sqlstate": sqlstate}

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

    def query_started(self, tracked: Tracked, request: int) -> None:
        tracked.querying = True
        self.emit(tracked.instance, request, tracked.id, Ev.QUERY_START)

    def query_ended(self, tracked: Tracked, request: int, kind: Ev, reason: Why = Why.NONE) -> None:
        """The statement's end (QUERY_END or ERROR), then a close the library did on the way.

        A library that sees its connection die under a statement closes it
        before the statement's exception reaches the request (SQLAlchemy
        invalidates it inside `execute`); the trace tells it as the request
        lives it, as the model does: the error, then the connection given
        back and closed.
        """
        tracked.querying = False
        self.emit(tracked.instance, request, tracked.id, kind, reason)
        if tracked.closing is not None:
            reason, tracked.closing = tracked.closing, None
            self._write_close(tracked, reason)

    def terminated(self, tracked: Tracked, default: Why) -> None:
        """The client side closed (by the library, or because the socket died)."""
        if tracked.closed:
            return
        reason = tracked.pending if tracked.pending is not None else default
        tracked.closed = True
        if tracked.querying and tracked.out:
            tracked.closing = reason   # written after the statement's end (`query_ended`)
            return
        self._write_close(tracked, reason)

    def _write_close(self, tracked: Tracked, reason: Why) -> None:
        request = tracked.user
        self.released(tracked)
        self.emit(tracked.instance, request, tracked.id, Ev.CLOSE, reason)

    def died(self, tracked: Tracked, reason: Why) -> None:
        """The server side is gone: written when we caused it or saw the firewall do it."""
        if not tracked.dead and not tracked.closed:
            tracked.dead = True
            self.emit(tracked.instance, -1, tracked.id, Ev.DEAD, reason)
