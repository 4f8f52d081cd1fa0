"""Each connection's life as a sequence of spans, read from a trace.

The per-connection timeline and the taxi stand both draw connections, not
events: "connection 3 was idle from 1.2 s to 4.0 s, then out with request 57
until 4.1 s, then closed by pool_recycle". This module turns the trace's rows
into exactly that, once, for both of them; a simulated and a live trace give
the same kind of answer.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    t_col, inst_col, req_col, why_col = cols["t"], cols["instance"], cols["request"], cols["reason"]
    spans: list[Span] = []
    marks: list[Mark] = []
    # per connection: (state, since, instance, request, dead)
    open_: dict[int, list] = {}

    def close_span(c: int, t: float, ended_by: str = "") -> None:
        state, since, inst, request, _dead = open_[c]
        if t > since or ended_by:
            spans.append(Span(c, inst, since, t, state, request, ended_by))

    for i in rows.tolist():
        c = int(conn[i])
        ev = int(kind[i])
        t = float(t_col[i])
        inst = int(inst_col[i])
        why = WHY_NAMES[int(why_col[i])]
        cur = open_.get(c)
        if ev == Ev.CONNECT:
            open_[c] = [CONNECTING, t, inst, int(req_col[i]), False]
        elif cur is None:
            continue  # a connection the trace saw only after it was made: nothing to draw
        elif ev == Ev.OPEN:
            close_span(c, t)
            open_[c] = [IDLE, t, inst, -1, False]
        elif ev == Ev.CONNECT_FAIL:
            close_span(c, t, f"{EV_NAMES[ev]}:{why}")
            del open_[c]
        elif ev == Ev.ACQUIRE:
            close_span(c, t)
            open_[c] = [BUSY, t, inst, int(req_col[i]), cur[4]]
        elif ev == Ev.RELEASE:
            if cur[0] in (BUSY, LEAKED):
                close_span(c, t)
                open_[c] = [DEAD if cur[4] else IDLE, t, inst, -1, cur[4]]
        elif ev == Ev.LEAK:
            close_span(c, t)
            open_[c] = [LEAKED, t, inst, cur[3], cur[4]]
        elif ev == Ev.DEAD:
            marks.append(Mark(c, inst, t, "dead", why))
            cur[4] = True
            if cur[0] == IDLE:
                close_span(c, t)
                open_[c] = [DEAD, t, inst, -1, True]
        elif ev == Ev.PING:
            marks.append(Mark(c, inst, t, "ping", why))
        elif ev == Ev.ERROR:
            marks.append(Mark(c, inst, t, "error", why))
        elif ev == Ev.CLOSE:
            close_span(c, t, f"close:{why}")
            del open_[c]
    for c in list(open_):
        close_span(c, max(end_s, open_[c][1]))
    spans.sort(key=lambda s: (s.conn, s.start))
    return spans, marks


__all__ = ["BUSY", "CONNECTING", "DEAD", "IDLE", "LEAKED", "STATES", "Mark", "Span",
           "connection_spans"]
