"""What a trace's rows mean together: a request's lifecycle, a connection's, and the levels they move.

Written once, here, for everything that reads a trace: the metrics
(`sim.metrics` counts levels with `levels`), the live recorder's running
tally (`live.recorder` counts them row by row with `Running`), and `check`,
which tells whether a trace, simulated or live, is one that could have
happened.

A request goes arrive → [wait, connect, open, ping, close ...] → acquire →
query_start → query_end or error → release (or leak), or it gives up before
it holds a connection (timeout or error). It ends with exactly one of
query_end, timeout and error, or is still in flight when the run stops.

With app.workers it may first queue for a worker (queue → worker, or a
timeout at its deadline); with retries, an attempt that fails and is retried
writes backoff instead of its timeout or error (after a failed statement,
the connection is given back as usual), then retry, and the next attempt
goes on as from arrive.

A connection goes connect → open (or connect_fail) → idle ⇄ checked out
(acquire ... release) → close, at most one dead on the way (its server side
gone); one still open at the end is alive then.

A level is a count after each row. A plain level moves by +1 at its `up`
kinds and -1 at its `down` kinds. A keyed one counts keys (connections or
requests): a key is in it from an `up` row to its first `down` row after it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np

from sim.trace import EV_NAMES, WHY_NAMES, Ev, Trace, Why


@dataclass(frozen=True)
class Level:
    name: str
    up: frozenset[Ev]
    down: frozenset[Ev]
    key: Literal["conn", "request"] | None = None


ALL_KINDS = frozenset(Ev)

COUNTED = (
    Level("checked_out", frozenset({Ev.ACQUIRE}), frozenset({Ev.RELEASE})),        # leaked ones included
    Level("open", frozenset({Ev.OPEN}), frozenset({Ev.CLOSE})),                     # in the pools
    Level("connecting", frozenset({Ev.CONNECT}), frozenset({Ev.OPEN, Ev.CONNECT_FAIL})),
    # a waiting request's next row, whatever it is, ends its wait
    Level("waiting", frozenset({Ev.WAIT}), ALL_KINDS, key="request"),
    # backends on the server: a connection leaves at its first dead or close
    Level("server", frozenset({Ev.OPEN}), frozenset({Ev.DEAD, Ev.CLOSE}), key="conn"),
    # a leaked connection stops counting when it is given back or closed after all (asyncpg gives it
    # back when the server kills it, and its release comes before its close: counted from the close,
    # in_use would go below zero between the two rows)
    Level("leaked", frozenset({Ev.LEAK}), frozenset({Ev.RELEASE, Ev.CLOSE}), key="conn"),
    # requests queued for a worker of their instance (app.workers): a queued request's next row,
    # WORKER or its deadline's TIMEOUT, ends it
    Level("worker_queue", frozenset({Ev.QUEUE}), ALL_KINDS, key="request"),
)
"""The levels the rows move directly; `levels` adds idle, in_use and overflow, derived from these."""

LEVELS = ("checked_out", "in_use", "idle", "open", "overflow", "waiting", "leaked", "connecting", "server",
          "worker_queue")

ENDS = (Ev.QUERY_END, Ev.TIMEOUT, Ev.ERROR)
"""A request ends with exactly one of these."""


# ------------------------------------------------------------------ levels

def levels(cols: dict[str, np.ndarray], base: int | None = 0) -> dict[str, np.ndarray]:
    """How many connections are in each state (and requests waiting) after each row.

    `cols` are a trace's columns in time order (`Trace.columns()`); `base` is
    the pool size above which an instance's connections count as overflow
    (None: none ever do, as the pool's `overflow_base` says).
    """
    kind = cols["kind"]
    out: dict[str, np.ndarray] = {}
    for level in COUNTED:
        if level.key is None:
            table = np.zeros(256, dtype=np.int32)  # +1 / -1 per event kind, looked up per row
            table[_kinds(level.up)] = 1
            table[_kinds(level.down)] -= 1
            out[level.name] = np.cumsum(table[kind], dtype=np.int32)
        else:
            out[level.name] = np.cumsum(_keyed_deltas(cols, level), dtype=np.int32)
    out["in_use"] = out["checked_out"] - out["leaked"]
    out["idle"] = out["open"] - out["checked_out"]
    out["overflow"] = (np.zeros(kind.size, dtype=np.int32) if base is None else
                       np.cumsum(_overflow_deltas(cols, base), dtype=np.int32))
    return {name: out[name] for name in LEVELS}


def _kinds(kinds: frozenset[Ev]) -> np.ndarray:
    return np.asarray(sorted(kinds), dtype=np.intp)


def _keyed_deltas(cols: dict[str, np.ndarray], level: Level) -> np.ndarray:
    """+1 where a key enters the level, -1 where it leaves, in each key's rows in time order.

    Every row of an up or down kind decides whether its key is in afterwards
    (up: in, down only: out), so a key's state after a row is that row's, and
    the delta is the change from the key's previous such row.
    """
    kind = cols["kind"]
    key = cols[level.key or "conn"]
    up = np.zeros(256, dtype=bool)
    up[_kinds(level.up)] = True
    moves = up.copy()
    moves[_kinds(level.down)] = True
    delta = np.zeros(kind.size, dtype=np.int32)
    rows = np.flatnonzero((key >= 0) & moves[kind])
    if rows.size == 0:
        return delta
    order = rows[np.argsort(key[rows], kind="stable")]   # per key, in time order
    keys = key[order]
    state = up[kind[order]].astype(np.int32)
    before = np.concatenate(([0], state[:-1])).astype(np.int32)
    before[np.flatnonzero(keys[1:] != keys[:-1]) + 1] = 0   # each key starts out
    delta[order] = state - before
    return delta


def peak_open_per_instance(cols: dict[str, np.ndarray]) -> dict[int, int]:
    """Each instance's most connections open at once (a pool's own counters are per instance)."""
    kind, inst = cols["kind"], cols["instance"]
    rows = np.flatnonzero((kind == Ev.OPEN) | (kind == Ev.CLOSE))
    out: dict[int, int] = {}
    for i in np.unique(inst[rows]).tolist():
        mine = rows[inst[rows] == i]
        out[int(i)] = int(np.cumsum(np.where(kind[mine] == Ev.OPEN, 1, -1)).max(initial=0))
    return out


def _overflow_deltas(cols: dict[str, np.ndarray], base: int) -> np.ndarray:
    """Connections above each instance's base size, summed over instances."""
    kind, inst = cols["kind"], cols["instance"]
    delta = np.zeros(kind.size, dtype=np.int32)
    rows = np.flatnonzero((kind == Ev.OPEN) | (kind == Ev.CLOSE))
    for i in np.unique(inst[rows]).tolist():
        mine = rows[inst[rows] == i]
        open_i = np.cumsum(np.where(kind[mine] == Ev.OPEN, 1, -1))
        over = np.maximum(open_i - base, 0)
        delta[mine] = np.diff(over, prepend=0)
    return delta


class Running:
    """The same levels as `levels`, kept row by row as the rows are written (the live recorder's tally).

    Plain ints and sets: per row an increment, and a set update for each
    keyed level the row's kind moves. `level()` may be read from another
    thread; it copies what it reads.
    """

    __slots__ = ("kinds", "members")

    _MOVES: tuple[tuple[tuple[int, bool, bool, bool], ...], ...] = tuple(
        tuple((i, level.key == "conn", ev in level.up, ev in level.down)
              for i, level in enumerate(COUNTED) if level.key is not None and ev in level.up | level.down)
        for ev in Ev)

    def __init__(self) -> None:
        self.kinds = [0] * len(Ev)                                  # rows of each kind
        self.members: list[set[int]] = [set() for _ in COUNTED]     # the keys in each keyed level

    def add(self, request: int, conn: int, kind: int) -> None:
        self.kinds[kind] += 1
        for i, by_conn, up, down in self._MOVES[kind]:
            key = conn if by_conn else request
            if key >= 0:
                members = self.members[i]
                if down and members:
                    members.discard(key)
                if up:
                    members.add(key)

    def level(self, name: str) -> int:
        """The level now: one of COUNTED's names, or idle / in_use."""
        if name == "idle":
            return self.level("open") - self.level("checked_out")
        if name == "in_use":
            return self.level("checked_out") - self.level("leaked")
        i, level = next((i, lv) for i, lv in enumerate(COUNTED) if lv.name == name)
        if level.key is not None:
            return len(self.members[i])
        kinds = self.kinds.copy()
        return sum(kinds[k] for k in level.up) - sum(kinds[k] for k in level.down)


# ------------------------------------------------------------- lifecycles

class Stage(IntEnum):
    """Where a request, or a connection, is in its lifecycle."""

    NEW = 0
    # a request's
    ACQUIRING = 1   # arrived, no connection yet (waiting, connecting, pinging)
    HOLDING = 2     # holds a connection, statement not sent
    QUERYING = 3
    DONE = 4        # answered (query_end); the connection still to give back
    FAILED = 5      # its statement failed (error); the connection still to give back
    LEAKED = 6      # keeps its connection
    RETURNED = 7    # gave it back
    GAVE_UP = 8     # ended without a connection (timeout, error)
    # a connection's
    CONNECTING = 9
    REFUSED = 10    # its connect failed
    IDLE = 11       # open, in its pool
    OUT = 12        # checked out
    CLOSED = 13
    # a request's, with app.workers and retries
    QUEUED = 14         # waiting for a worker of its instance
    BACKING_OFF = 15    # an attempt failed; the next starts after the backoff
    RETRY_HELD = 16     # its statement failed and it will retry; the connection still to give back


S = Stage
REQUEST_STEPS: dict[Stage, dict[Ev, Stage]] = {
    S.NEW: {Ev.ARRIVE: S.ACQUIRING},
    S.ACQUIRING: {Ev.WAIT: S.ACQUIRING, Ev.CONNECT: S.ACQUIRING, Ev.OPEN: S.ACQUIRING,
                  Ev.CONNECT_FAIL: S.ACQUIRING, Ev.PING: S.ACQUIRING, Ev.CLOSE: S.ACQUIRING,
                  Ev.ACQUIRE: S.HOLDING, Ev.TIMEOUT: S.GAVE_UP, Ev.ERROR: S.GAVE_UP,
                  Ev.QUEUE: S.QUEUED, Ev.BACKOFF: S.BACKING_OFF},
    S.QUEUED: {Ev.WORKER: S.ACQUIRING, Ev.TIMEOUT: S.GAVE_UP},
    S.BACKING_OFF: {Ev.CLOSE: S.BACKING_OFF, Ev.RETRY: S.ACQUIRING},
    S.HOLDING: {Ev.QUERY_START: S.QUERYING},
    S.QUERYING: {Ev.LEAK_WARNING: S.QUERYING, Ev.QUERY_END: S.DONE, Ev.ERROR: S.FAILED,
                 Ev.BACKOFF: S.RETRY_HELD},
    S.RETRY_HELD: {Ev.RELEASE: S.BACKING_OFF},
    S.DONE: {Ev.LEAK: S.LEAKED, Ev.RELEASE: S.RETURNED},
    S.FAILED: {Ev.RELEASE: S.RETURNED},
    S.LEAKED: {Ev.LEAK_WARNING: S.LEAKED, Ev.RELEASE: S.RETURNED},
    S.RETURNED: {Ev.CLOSE: S.RETURNED},   # closed instead of kept (no pool, overflow, broken ...)
    S.GAVE_UP: {},
}
"""A request's rows, in order: each stage and the kinds that may come next (and the stage they lead to)."""

CONN_STEPS: dict[Stage, dict[Ev, Stage]] = {
    S.NEW: {Ev.CONNECT: S.CONNECTING},
    S.CONNECTING: {Ev.OPEN: S.IDLE, Ev.CONNECT_FAIL: S.REFUSED},
    S.IDLE: {Ev.ACQUIRE: S.OUT, Ev.PING: S.IDLE, Ev.DEAD: S.IDLE, Ev.CLOSE: S.CLOSED},
    S.OUT: {Ev.QUERY_START: S.OUT, Ev.QUERY_END: S.OUT, Ev.ERROR: S.OUT, Ev.BACKOFF: S.OUT, Ev.LEAK: S.OUT,
            Ev.LEAK_WARNING: S.OUT, Ev.DEAD: S.OUT, Ev.RELEASE: S.IDLE},
    S.REFUSED: {},
    S.CLOSED: {},
}
"""A connection's rows, in order (a dead row may come once, while it is idle or checked out)."""

HELD = frozenset({Ev.QUERY_START, Ev.QUERY_END, Ev.ERROR, Ev.BACKOFF, Ev.LEAK, Ev.RELEASE})
"""Rows a request writes about the connection it holds: they name that connection."""


def check(trace: Trace, limit: int = 20) -> list[str]:
    """What is wrong with this trace, one line each (empty: nothing wrong); at most `limit` lines.

    Checks every request's and every connection's rows against their
    lifecycles, that a request ends at most once and names the connection it
    holds, that a request's and a connection's rows stay on one instance,
    that the server goes down and up in turn, that rows were written in time
    order, and that no level ever goes below zero, over all instances and on
    each.
    """
    problems: list[str] = []
    if not trace.in_time_order():
        problems.append("rows were written out of time order")
    cols = trace.columns()
    if cols["t"].size and cols["t"][0] < 0:
        problems.append(f"a row at t={cols['t'][0]:.6f}, before the start")
    problems += _order_problems(cols, limit)
    problems += _negative_levels(cols)
    return problems[:limit]


def _order_problems(cols: dict[str, np.ndarray], limit: int) -> list[str]:
    """Walk the rows once, each request's and connection's stage along."""
    out: list[str] = []
    req_stage: dict[int, Stage] = defaultdict(lambda: S.NEW)
    conn_stage: dict[int, Stage] = defaultdict(lambda: S.NEW)
    held: dict[int, int] = {}                  # request -> the connection it acquired
    home: dict[tuple[str, int], int] = {}      # ("request" | "conn", id) -> its instance
    dead: set[int] = set()
    ended: set[int] = set()
    server_up = True
    rows = zip(cols["t"].tolist(), cols["instance"].tolist(), cols["request"].tolist(),
               cols["conn"].tolist(), cols["kind"].tolist(), cols["reason"].tolist(), strict=True)
    for i, (at, inst, req, conn, kind, reason) in enumerate(rows):
        if len(out) >= limit:
            break
        ev = Ev(kind)
        where = f"row {i} (t={at:.6f} {EV_NAMES[kind]} request {req} conn {conn})"
        if req >= 0:
            stage = req_stage[req]
            nxt = REQUEST_STEPS[stage].get(ev)
            if nxt is None:
                out.append(f"{where}: request {req} cannot {EV_NAMES[kind]} when {stage.name.lower()}")
            else:
                req_stage[req] = nxt
            if ev in ENDS:
                if req in ended:
                    out.append(f"{where}: request {req} ends twice")
                ended.add(req)
            if ev == Ev.ACQUIRE:
                held[req] = conn
            elif ev in HELD and conn >= 0 and held.get(req, conn) != conn:
                out.append(f"{where}: request {req} holds connection {held[req]}, not {conn}")
            if home.setdefault(("request", req), inst) != inst:
                out.append(f"{where}: request {req} was on instance {home['request', req]}")
        if conn >= 0:
            stage = conn_stage[conn]
            nxt = CONN_STEPS[stage].get(ev)
            if nxt is None:
                out.append(f"{where}: connection {conn} cannot {EV_NAMES[kind]} when {stage.name.lower()}")
            else:
                conn_stage[conn] = nxt
            if ev == Ev.DEAD:
                if conn in dead:
                    out.append(f"{where}: connection {conn} dies twice")
                dead.add(conn)
            if home.setdefault(("conn", conn), inst) != inst:
                out.append(f"{where}: connection {conn} was on instance {home['conn', conn]}")
        if ev == Ev.SERVER:
            if reason != (Why.DOWN if server_up else Why.UP):
                out.append(f"{where}: the server goes {WHY_NAMES[reason]} while "
                           f"{'up' if server_up else 'down'}")
            server_up = reason == Why.UP
    return out


def _negative_levels(cols: dict[str, np.ndarray]) -> list[str]:
    """Each level that goes below zero, over all instances and then on each, where it first does."""
    out = []
    instances = np.unique(cols["instance"][cols["instance"] >= 0]).tolist()
    views = [("", cols)] + [(f" on instance {i}", _rows_of(cols, i)) for i in instances]
    for label, view in views:
        for name, series in levels(view).items():
            below = np.flatnonzero(series < 0)
            if below.size:
                j = int(below[0])
                row = f"{EV_NAMES[view['kind'][j]]} request {view['request'][j]} conn {view['conn'][j]}"
                out.append(f"{name} goes to {int(series[j])}{label} at t={view['t'][j]:.6f} ({row})")
    return out


def _rows_of(cols: dict[str, np.ndarray], instance: int) -> dict[str, np.ndarray]:
    mine = cols["instance"] == instance
    return {name: col[mine] for name, col in cols.items()}
