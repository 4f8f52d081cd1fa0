"""Each connection's life as a sequence of spans, read from a trace.

The per-connection timeline and the taxi stand both draw connections, not
events: "connection 3 was idle from 1.2 s to 4.0 s, then out with request 57
until 4.1 s, then closed by pool_recycle". This module turns the trace's rows
into exactly that, once, for both of them; a simulated and a live trace give
the same kind of answer.
"""

from __future__ import annotations

from operator import itemgetter
from typing import NamedTuple

import numpy as np

from sim.trace import EV_NAMES, WHY_NAMES, Ev

CONNECTING, IDLE, BUSY, LEAKED, DEAD = "connecting", "idle", "busy", "leaked", "dead"
STATES = (CONNECTING, IDLE, BUSY, LEAKED, DEAD)


class Span(NamedTuple):
    """One stretch of one connection's life in one state (a tuple: a run has thousands, built on every
    control change, and a tuple is made several times faster than a frozen dataclass)."""

    conn: int
    instance: int
    start: float
    end: float          # the run's end if the connection outlived it
    state: str          # one of STATES
    request: int = -1   # the request holding it (busy, leaked)
    ended_by: str = ""  # on its last span: "close:<reason>", "connect_fail:<reason>", or "" (still open)


class Mark(NamedTuple):
    """An instant in a connection's life: a ping (ok / fail), its server side dying, a query error."""

    conn: int
    instance: int
    t: float
    kind: str      # "ping", "dead", "error"
    reason: str


_TRACKED = {Ev.CONNECT, Ev.OPEN, Ev.CONNECT_FAIL, Ev.ACQUIRE, Ev.RELEASE, Ev.LEAK, Ev.CLOSE, Ev.DEAD,
            Ev.PING, Ev.ERROR}


def connection_spans(cols: dict[str, np.ndarray], end_s: float) -> tuple[list[Span], list[Mark]]:
    """Spans of every connection in the trace's columns (`Trace.columns()`), and its marks."""
    kind, conn = cols["kind"], cols["conn"]
    rows = np.flatnonzero((conn >= 0) & np.isin(kind, list(_TRACKED)))
    # the rows as Python lists, read once: indexing numpy arrays row by row was most of this function's time
    columns = (kind[rows].tolist(), conn[rows].tolist(), cols["t"][rows].astype(float).tolist(),
               cols["instance"][rows].tolist(), cols["request"][rows].tolist(), cols["reason"][rows].tolist())
    spans: list[Span] = []
    marks: list[Mark] = []
    # per connection: [state, since, instance, request, dead]
    open_: dict[int, list] = {}
    add = spans.append
    # Each Span made from a tuple of all its fields: a named tuple's own constructor (a Python call
    # that fills in defaults) took 2.5 times as long; the default stand's 7,000 spans took 1 ms less.
    new = tuple.__new__

    # plain ints: looking an enum member up costs more than the comparison
    connect, opened, connect_fail, acquire, release, leak, dead, ping, error, close = (
        int(e) for e in (Ev.CONNECT, Ev.OPEN, Ev.CONNECT_FAIL, Ev.ACQUIRE, Ev.RELEASE, Ev.LEAK, Ev.DEAD,
                         Ev.PING, Ev.ERROR, Ev.CLOSE))
    # A span ends where the next begins; one of no length is left out, unless it is the last (ended_by).
    for ev, c, t, inst, req, why in zip(*columns, strict=True):
        cur = open_.get(c)
        if ev == connect:
            open_[c] = [CONNECTING, t, inst, req, False]
        elif cur is None:
            continue  # a connection the trace saw only after it was made: nothing to draw
        elif ev == acquire:
            if t > cur[1]:
                add(new(Span, (c, cur[2], cur[1], t, cur[0], cur[3], "")))
            open_[c] = [BUSY, t, inst, req, cur[4]]
        elif ev == release:
            if cur[0] in (BUSY, LEAKED):
                if t > cur[1]:
                    add(new(Span, (c, cur[2], cur[1], t, cur[0], cur[3], "")))
                open_[c] = [DEAD if cur[4] else IDLE, t, inst, -1, cur[4]]
        elif ev == opened:
            if t > cur[1]:
                add(new(Span, (c, cur[2], cur[1], t, cur[0], cur[3], "")))
            open_[c] = [IDLE, t, inst, -1, False]
        elif ev in (close, connect_fail):
            add(new(Span, (c, cur[2], cur[1], t, cur[0], cur[3], f"{EV_NAMES[ev]}:{WHY_NAMES[why]}")))
            del open_[c]
        elif ev == leak:
            if t > cur[1]:
                add(new(Span, (c, cur[2], cur[1], t, cur[0], cur[3], "")))
            open_[c] = [LEAKED, t, inst, cur[3], cur[4]]
        elif ev == dead:
            marks.append(Mark(c, inst, t, "dead", WHY_NAMES[why]))
            cur[4] = True
            if cur[0] == IDLE:
                if t > cur[1]:
                    add(new(Span, (c, cur[2], cur[1], t, cur[0], cur[3], "")))
                open_[c] = [DEAD, t, inst, -1, True]
        elif ev == ping:
            marks.append(Mark(c, inst, t, "ping", WHY_NAMES[why]))
        elif ev == error:
            marks.append(Mark(c, inst, t, "error", WHY_NAMES[why]))
    for c, (state, since, inst, request, _dead) in open_.items():
        t = max(end_s, since)
        if t > since:
            add(new(Span, (c, inst, since, t, state, request, "")))
    spans.sort(key=itemgetter(0, 2))   # by connection, then start
    return spans, marks


__all__ = ["BUSY", "CONNECTING", "DEAD", "IDLE", "LEAKED", "STATES", "Mark", "Span",
           "connection_spans"]
