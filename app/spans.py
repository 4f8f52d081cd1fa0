"""Each connection's life as a sequence of spans, read from a trace.

The per-connection timeline and the taxi stand both draw connections, not
events: "connection 3 was idle from 1.2 s to 4.0 s, then out with request 57
until 4.1 s, then closed by pool_recycle". This module turns the trace's rows
into exactly that, once, for both of them; a simulated and a live trace give
the same kind of answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from sim.trace import EV_NAMES, WHY_NAMES, Ev

CONNECTING, IDLE, BUSY, LEAKED, DEAD = "connecting", "idle", "busy", "leaked", "dead"
STATES = (CONNECTING, IDLE, BUSY, LEAKED, DEAD)


@dataclass(frozen=True)
class Span:
    """One stretch of one connection's life in one state."""

    conn: int
    instance: int
    start: float
    end: float          # the run's end if the connection outlived it
    state: str          # one of STATES
    request: int = -1   # the request holding it (busy, leaked)
    ended_by: str = ""  # on its last span: "close:<reason>", "connect_fail:<reason>", or "" (still open)


@dataclass(frozen=True)
class Mark:
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
    # per connection: (state, since, instance, request, dead)
    open_: dict[int, list] = {}

    def close_span(c: int, t: float, ended_by: str = "") -> None:
        state, since, inst, request, _dead = open_[c]
        if t > since or ended_by:
            spans.append(Span(c, inst, since, t, state, request, ended_by))

    # plain ints: looking an enum member up costs more than the comparison
    connect, opened, connect_fail, acquire, release, leak, dead, ping, error, close = (
        int(e) for e in (Ev.CONNECT, Ev.OPEN, Ev.CONNECT_FAIL, Ev.ACQUIRE, Ev.RELEASE, Ev.LEAK, Ev.DEAD,
                         Ev.PING, Ev.ERROR, Ev.CLOSE))
    for ev, c, t, inst, req, why_index in zip(*columns, strict=True):
        c, inst = int(c), int(inst)
        why = WHY_NAMES[int(why_index)]
        cur = open_.get(c)
        if ev == connect:
            open_[c] = [CONNECTING, t, inst, int(req), False]
        elif cur is None:
            continue  # a connection the trace saw only after it was made: nothing to draw
        elif ev == opened:
            close_span(c, t)
            open_[c] = [IDLE, t, inst, -1, False]
        elif ev == connect_fail:
            close_span(c, t, f"{EV_NAMES[ev]}:{why}")
            del open_[c]
        elif ev == acquire:
            close_span(c, t)
            open_[c] = [BUSY, t, inst, int(req), cur[4]]
        elif ev == release:
            if cur[0] in (BUSY, LEAKED):
                close_span(c, t)
                open_[c] = [DEAD if cur[4] else IDLE, t, inst, -1, cur[4]]
        elif ev == leak:
            close_span(c, t)
            open_[c] = [LEAKED, t, inst, cur[3], cur[4]]
        elif ev == dead:
            marks.append(Mark(c, inst, t, "dead", why))
            cur[4] = True
            if cur[0] == IDLE:
                close_span(c, t)
                open_[c] = [DEAD, t, inst, -1, True]
        elif ev == ping:
            marks.append(Mark(c, inst, t, "ping", why))
        elif ev == error:
            marks.append(Mark(c, inst, t, "error", why))
        elif ev == close:
            close_span(c, t, f"close:{why}")
            del open_[c]
    for c in list(open_):
        close_span(c, max(end_s, open_[c][1]))
    spans.sort(key=attrgetter("conn", "start"))
    return spans, marks


__all__ = ["BUSY", "CONNECTING", "DEAD", "IDLE", "LEAKED", "STATES", "Mark", "Span",
           "connection_spans"]
