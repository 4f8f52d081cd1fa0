"""The taxi stand: one run of a connection pool, animated as taxis, bays and passengers.

A pool is hard to see, a taxi stand is not. Each app instance is a stand; the
picture maps the pool onto it like this:

=====================================  ==============================================================
pool                                   taxi stand
=====================================  ==============================================================
idle connection                        taxi parked in a bay
checkout / release                     a passenger leaves in a taxi / the taxi comes back to a bay
pool_size / min_size (``pool.base``)   bays at the stand
max_overflow (open above base)         extra taxis (orange diamonds) called in when the bays are empty;
                                       scrapped on return when no bay is free
pool_timeout                           a passenger waits in the queue, gives up and leaves (TimeoutError)
connect cost                           a new taxi arriving from the factory (connecting)
pool_recycle / max lifetime / idle     taxi sent to the garage
pre_ping                               the driver turns the key before the passenger gets in (ok / fail)
idle cut / restart / kill              an engine that died while parked (dead)
leak                                   a taxi that never comes back
max_connections                        the city's licence limit, shared by every stand
=====================================  ==============================================================

Everything is read from the trace alone (through `sim.metrics` and
`app.spans`), so a simulated and a live run are drawn by the same code.

How the picture is made, and why:

* Time is cut into at most ``max_frames`` bins of a round length. A frame shows
  the state at the end of its bin; instants (closes, engine checks, passengers
  giving up, errors) stay visible for a few frames so they can be seen at all.
  Counters and the caption summarise what happened inside the bin.
* Which taxis are "extra" follows the metrics' overflow level exactly (open
  connections above ``base``): each taxi holds a rank (its road column); when a
  taxi with a rank below ``base`` leaves for good, the highest-ranked extra taxi
  takes over its rank, so the number of extra taxis is ``max(open - base, 0)``.
* A parked taxi takes the lowest free bay when it comes back, like a queue of idle
  connections: the bays are not owned by taxis. Taxis idle above ``base`` (asyncpg,
  HikariCP above minimumIdle) park on the street, right of the bays.
* Only what the run uses is drawn: a row nothing ever stands in (no leak, no
  recycling) is left out and the rows below close up, and the legend names only
  the kinds that occur. A new taxi stays in the factory row for a few frames
  after its connect began, so connects shorter than a frame are seen too.
* One scatter trace per kind of object, fixed axes, and frames that carry only
  x, y and text of what moves: the animation runs with ``redraw=False`` and the
  JSON stays small.
* On a phone (``narrow``: a window under 700 px) the stands stand one under
  another across the whole width, each row's name sits just above it inside the
  panel, Play, the speeds, the slider and the legend are rows of their own below
  the plot, and the figure is as tall as its rows need. Markers are sized in px,
  so this is a figure of its own, not the wide one squeezed.

Every visible string comes from a ``text`` mapping with the keys of `EN`, so the
app can pass a translation; ``number`` formats numbers for the language.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import math
import textwrap
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from app.i18n import DEFAULT, texts
from app.spans import BUSY, CONNECTING, DEAD, IDLE, LEAKED, Mark, Span, connection_spans
from sim.metrics import levels, sample
from sim.scenario import Scenario
from sim.trace import WHY_NAMES, Ev, Trace, Why

# Okabe-Ito: safe for the common colour-vision deficiencies; every kind also has its own symbol.
ORANGE, SKY, GREEN, YELLOW = "#E69F00", "#56B4E9", "#009E73", "#F0E442"
BLUE, VERMILLION, PURPLE, BLACK = "#0072B2", "#D55E00", "#CC79A7", "#000000"
GREY = "#595959"  # bays and labels: dark enough for a projector

EN: dict[str, str] = texts(DEFAULT, "taxi")
"""The English words (`locales/en.toml`, [taxi]); a translation passes the same keys and placeholders."""

MAX_STANDS = 6      # more stands than this would be too small to read: the first ones are drawn
MAX_COLS = 24       # taxis per stand drawn; more are counted, not drawn
MIN_COLS = 8        # a stand is at least this wide, so its rows have room (6 when more than 3 stands)
GAP = 1.2           # space between stands, in columns
LINGER_FRAMES = 3   # instants, and taxis whose connect just began, stay visible this many frames
FRAME_MS = 200      # frame duration at 1x
SPEEDS = (0.5, 1.0, 2.0, 4.0)
FONT = 18
WIDTH, HEIGHT = 1280, 720
PLOT_PX = 540       # the plot area's width in the playground at 1280 x 720 (controls beside, legend right)
WIDE_PLOT_PX = 670  # ... and across a whole page at 1280 x 720 (lessons, live lab): figures' default
TIGHT_PLOT_PX = 480  # below this (two stands side by side on the compare page) the counters' line needs room
STAND_HEIGHT = 500  # the playground's figure: beside its controls, above its six numbers, in 720 px
PRESENT_HEIGHT = 540  # presentation mode: the whole width, with a row of two or three controls below
PRESENT_PLOT_PX = 850  # its plot area's width at 1280 x 720
MARGIN_TOP, MARGIN_BOTTOM = 10, 100   # px: the stands note above; the slider and buttons below
UNIT_PX_SIZED = 51.6  # px per y unit the rows' spacing was drawn for (a 720 px figure): taxis up to 30 px

Y_PANEL = 9.9       # the top of the (first) stand's panel (y units): the rows are below it, the header above
HEADER_PX = (18, 44, 80, 106)   # px below the plot's top of the clock, counters, stand header, panel top

ROWS: tuple[tuple[str, float], ...] = (
    ("leaked", 0.9), ("road", 0.9), ("check", 0.9), ("bays", 0.9), ("factory", 1.05), ("garage", 0.9),
    ("scrap", 0.9), ("queue", 1.0), ("gave_up", 0.9))
"""A stand's rows, top down, each with its distance (y units) below the row drawn above it."""
ROW_LABELS = {"leaked": "row_leaked", "road": "row_road", "bays": "row_bays", "factory": "row_factory",
              "garage": "row_garage", "scrap": "row_scrap", "queue": "row_queue", "gave_up": "row_gave_up"}
FIRST_ROW = 0.55    # the top row's distance below its panel's top
CHECK_ROW = 0.55    # engine checks sit this close above their bays
PANEL_BELOW = 0.5   # the panel ends this far below its last row, and the caption as far again below that
CAPTION_BELOW = 0.55  # the plot ends this far below the caption
ROAD_HALF = 0.4     # the road is a grey band this far above and below its row

# A phone (narrow: a window under 700 px wide): the stands one under another, the row labels inside.
NARROW_PLOT_PX = 358   # the plot area's width on a 390 px phone: the page's sides (12 px), 4 px margins
NARROW_UNIT_PX = 40    # px per y unit: the figure is as tall as its rows need
NARROW_FONT = 13
NARROW_MAX_STANDS = 3  # one under another: with more the clock would be screens away from the last stand
NARROW_MAX_COLS = 20   # taxis per row drawn across 358 px (a pool of 10 + 10): each column 18 px wide
NARROW_HEADER_PX = (14, 37, 58, 86, 110)   # below the plot's top: clock, counters, licences, stand, panel top
NARROW_STAND_PX = 50   # between a stand's panel and the next one's: the next one's header
NARROW_LABEL_PX = 13   # a row's name, on a line of its own above the row
NARROW_CAPTION_PX = (26, 22)   # the caption's middle below the last panel, and the room below it: two lines
NARROW_MARGIN_PX = 4   # beside the plot: the row names are inside it
NARROW_X_PAD = 0.05    # x units beside the panel: the row names start at its edge
NARROW_CONTROLS_PX = (6, 42, 80, 136)   # below the plot: Play and Pause, the speeds, the slider, the legend
NARROW_LEGEND_ROW_PX = 22
LEGEND_ITEM_PX = 50    # a legend entry's symbol and gaps, besides its text

SCRAP_REASONS = frozenset({"overflow", "max_idle", "done"})   # closed on return: no bay for it


@dataclass(frozen=True)
class Kind:
    """How one kind of object looks: a trace of its own, so frames only move points."""

    key: str              # legend text key is "legend_<key>"
    symbol: str
    color: str
    scale: float = 1.0    # marker size relative to a taxi
    line: str = BLACK
    width: float = 1.5
    hover: str = "hover_taxi"


KINDS: tuple[Kind, ...] = (
    Kind("parked", "square", YELLOW),
    Kind("extra", "diamond", ORANGE, 1.25),
    Kind("ride", "triangle-right", BLUE, 1.1, BLUE),
    Kind("leaked", "star", PURPLE, 1.3),
    Kind("connecting", "triangle-up", SKY, 1.1),
    Kind("dead", "square-x-open", BLACK, 1.0, BLACK, 3.0),
    Kind("garage", "hexagon", GREEN),
    Kind("scrapped", "x", VERMILLION),
    Kind("ping_ok", "circle-open", GREEN, 0.75, GREEN, 3.5),
    Kind("ping_fail", "circle-x-open", VERMILLION, 0.75, VERMILLION, 3.5),
    Kind("waiting", "circle", BLACK, 0.8, BLACK, 1.0, "hover_queue"),
    Kind("gave_up", "triangle-down", VERMILLION, 0.95, BLACK, 1.0, "hover_passenger"),
    Kind("error", "asterisk-open", VERMILLION, 1.0, VERMILLION, 3.0, "hover_passenger"),
)
KIND_KEYS = tuple(k.key for k in KINDS)


# ------------------------------------------------------------------ formatting

class _Lenient(dict):
    """str.format_map that leaves unknown placeholders as they are (a translation may use fewer)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def plain_number(x: float) -> str:
    """Whole numbers without a point, others with at most three decimals."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.3f}".rstrip("0").rstrip(".")


class _Words:
    """The text mapping plus the number format: one place that turns keys into visible strings."""

    def __init__(self, text: Mapping[str, str] | None, number: Callable[[float], str] | None,
                 plural: Callable[[int], str] | None = None) -> None:
        self.text = {**EN, **(text or {})}
        self.number = number or plain_number
        self.plural = plural or (lambda n: "one" if n == 1 else "other")

    def __call__(self, key: str, **values: Any) -> str:
        shown = {k: self.number(float(v)) if isinstance(v, int | float | np.number) else v
                 for k, v in values.items()}
        return self.text[key].format_map(_Lenient(shown))

    def count(self, key: str, n: int, **values: Any) -> str:
        """`key` with {n}, or its variant for the plural form of n (`_one`, `_few`, `_many`) if any."""
        form = f"{key}_{self.plural(n)}"
        if form in self.text:
            key = form
        return self(key, n=n, **values)

    def why(self, reason: str) -> str:
        return self.text.get(f"why_{reason}", reason)


# ------------------------------------------------------------------ time grid

def frame_times(end_s: float, max_frames: int) -> np.ndarray:
    """Ends of equal bins of a round length (1, 2, 2.5 or 5 x 10^k s), at most max_frames of them."""
    if max_frames < 1:
        raise ValueError(f"max_frames = {max_frames}: must be at least 1")
    if not end_s > 0:
        return np.zeros(1)
    raw = end_s / max_frames
    exp = math.floor(math.log10(raw))
    steps = (m * 10.0 ** e for e in (exp, exp + 1) for m in (1, 2, 2.5, 5))
    step = next(x for x in steps if x >= raw * (1 - 1e-9))
    n = max(1, min(max_frames, math.ceil(end_s / step - 1e-9)))
    return np.minimum(np.round(np.arange(1, n + 1) * step, 9), end_s)


def _pairs_alive(start: np.ndarray, end: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, frame) for every interval [start, end) that contains a frame time.

    Most spans (short rides) contain no frame time at all and cost nothing here.
    """
    lo = np.searchsorted(times, start, side="left")
    hi = np.searchsorted(times, end, side="left")
    n = np.maximum(hi - lo, 0)
    item = np.repeat(np.arange(start.size), n)
    offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return item, lo[item] + offset


def _per_frame(start: np.ndarray, end: np.ndarray, times: np.ndarray) -> list[np.ndarray]:
    """For each frame, the indices of the intervals alive at its time."""
    item, frame = _pairs_alive(start, end, times)
    order = np.argsort(frame, kind="stable")
    item, frame = item[order], frame[order]
    cuts = np.searchsorted(frame, np.arange(times.size + 1))
    return [item[cuts[k]:cuts[k + 1]] for k in range(times.size)]


# ------------------------------------------------------------------ reading the run

@dataclass(frozen=True)
class _Life:
    """One connection from its open to its close (inf while still open at the end)."""

    conn: int
    instance: int
    opened: float
    closed: float
    reason: str  # the close reason, "" if never closed


_Rank = tuple[int, float, float, int, int]   # conn, start, end, rank, instance
_Stay = tuple[int, int, float, float]        # conn, instance, start, end: a stay in a bay


def _lives(spans: list[Span]) -> list[_Life]:
    """Connections that were open at some time; failed connects never were."""
    by_conn: dict[int, list[Span]] = defaultdict(list)
    for s in spans:
        by_conn[s.conn].append(s)
    out = []
    for conn, mine in by_conn.items():
        opened = next((s.start for s in mine if s.state != CONNECTING), None)
        last = mine[-1]
        if opened is None:
            continue
        closed = last.end if last.ended_by.startswith("close:") else math.inf
        if closed > opened:
            out.append(_Life(conn, last.instance, opened, closed, last.ended_by.partition(":")[2]))
    return out


def _span_ends(spans: list[Span]) -> np.ndarray:
    """Each span's end, inf for a connection's last span when it was still open at the run's end.

    Without this a taxi still standing at the very end would vanish from the last frame.
    """
    ends = np.array([s.end for s in spans], dtype=float)
    for i, s in enumerate(spans):
        last = i + 1 == len(spans) or spans[i + 1].conn != s.conn
        if last and not s.ended_by:
            ends[i] = math.inf
    return ends


def _ranks(lives: list[_Life], base: int) -> tuple[list[_Rank], list[tuple[float, int]]]:
    """Each taxi's rank (road column) over time; ranks >= base are the extra (overflow) taxis.

    Returns the intervals (conn, start, end, rank, instance) and the (time, instance) of each extra taxi's
    arrival. When a taxi below base leaves for good, the highest extra takes its rank, so the
    extra count is max(open - base, 0) per instance, as the metrics count overflow.
    """
    intervals: list[_Rank] = []
    extra_opens: list[tuple[float, int]] = []
    by_inst: dict[int, list[_Life]] = defaultdict(list)
    for life in lives:
        by_inst[life.instance].append(life)
    for inst, mine in by_inst.items():
        events = sorted([(lf.closed, 0, lf.conn) for lf in mine if lf.closed < math.inf]
                        + [(lf.opened, 1, lf.conn) for lf in mine])
        holder: dict[int, int] = {}                 # rank -> conn
        held: dict[int, tuple[int, float]] = {}     # conn -> (rank, since)
        for t, is_open, conn in events:
            if is_open:
                rank = next(r for r in range(len(holder) + 1) if r not in holder)
                holder[rank], held[conn] = conn, (rank, t)
                if rank >= base:
                    extra_opens.append((t, inst))
                continue
            rank, since = held.pop(conn)
            intervals.append((conn, since, t, rank, inst))
            del holder[rank]
            extras = [r for r in holder if r >= base]
            if rank < base and extras:
                top = max(extras)
                mover = holder.pop(top)
                intervals.append((mover, held[mover][1], t, top, inst))
                holder[rank], held[mover] = mover, (rank, t)
        intervals.extend((conn, since, math.inf, rank, inst) for conn, (rank, since) in held.items())
    return intervals, extra_opens


def _parked_periods(spans: list[Span], ends: np.ndarray) -> list[_Stay]:
    """(conn, instance, start, end) of each stretch a taxi stands in a bay, alive or dead.

    `spans` are sorted by connection then start; `ends` are their ends (inf while still open).
    """
    out: list[_Stay] = []
    for s, end in zip(spans, ends.tolist(), strict=True):
        if s.state not in (IDLE, DEAD):
            continue
        if out and out[-1][0] == s.conn and out[-1][3] == s.start:  # idle, then dead: one stay
            out[-1] = (s.conn, s.instance, out[-1][2], end)
        elif end > s.start:
            out.append((s.conn, s.instance, s.start, end))
    return out


def _bays(periods: list[_Stay]) -> list[int]:
    """The bay of each parked period: the lowest free one when the taxi arrives."""
    bay = [0] * len(periods)
    by_inst: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(periods):
        by_inst[p[1]].append(i)
    for idx in by_inst.values():
        events = sorted([(periods[i][3], 0, i) for i in idx if periods[i][3] < math.inf]
                        + [(periods[i][2], 1, i) for i in idx])
        free: list[int] = []
        used = 0
        for _t, arrives, i in events:
            if arrives:
                if free:
                    bay[i] = heapq.heappop(free)
                else:
                    bay[i], used = used, used + 1
            else:
                heapq.heappush(free, bay[i])
    return bay


class _Events:
    """Rows of one kind of event, sorted by time, with quick look-ups by time window."""

    def __init__(self, t: np.ndarray, inst: np.ndarray, ident: np.ndarray, why: np.ndarray) -> None:
        order = np.argsort(t, kind="stable")
        self.t, self.inst, self.ident, self.why = t[order], inst[order], ident[order], why[order]

    @classmethod
    def rows(cls, cols: dict[str, np.ndarray], mask: np.ndarray, ident: str = "conn") -> _Events:
        return cls(cols["t"][mask], cols["instance"][mask].astype(np.int64), cols[ident][mask],
                   cols["reason"][mask].astype(np.int64))

    def upto(self, times: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.t, times, "right")

    def windows(self, times: np.ndarray, frames: int) -> list[slice]:
        """For each frame k, the rows of its last `frames` bins, lo < t <= hi for (lo, hi] =
        (times[k - frames], times[k]]: all at once, as a figure asks for hundreds of them."""
        stops = self.upto(times)
        starts = np.concatenate([np.zeros(frames, dtype=stops.dtype), stops])[:stops.size]
        return [slice(a, b) for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]


@dataclass
class _Taxi:
    conn: int
    instance: int
    state: str
    rank: int
    bay: int


class _Run:
    """Everything the frames need, read once from the trace."""

    def __init__(self, trace: Trace, scenario: Scenario, end_s: float, max_frames: int,
                 max_stands: int = MAX_STANDS) -> None:
        cols = trace.columns()
        t_last = float(cols["t"][-1]) if cols["t"].size else 0.0
        self.end = max(float(end_s), t_last, 0.0)
        self.times = frame_times(self.end, max_frames)
        self.base = int(scenario.pool.base)
        self.cap = scenario.pool.cap
        self.limit = int(scenario.database.role_limit)
        # a pooler in front (PgBouncer): the city licenses its depot's cars, not the stands' taxis
        self.depot = trace.show_pools if scenario.pooler.present else None
        inst = cols["instance"]
        self.instances = max(int(scenario.app.instances), int(inst.max()) + 1 if inst.size else 1)
        self.shown = min(self.instances, max_stands)
        spans, marks = connection_spans(cols, self.end)
        self._read_taxis(spans)
        self._read_events(cols, marks)
        self._read_levels(cols)
        self._windows: dict[tuple[str, int], list[slice]] = {}

    # ---- taxis
    def _read_taxis(self, spans: list[Span]) -> None:
        lives = _lives(spans)
        self.closes = [lf for lf in lives if lf.closed < math.inf]
        ranks, extra_opens = _ranks(lives, self.base)
        extra_opens.sort()
        self.extra_opens = (np.array([t for t, _ in extra_opens]),
                            np.array([i for _, i in extra_opens], dtype=np.int64))
        spans = [s for s in spans if s.instance < self.shown]
        ends = _span_ends(spans)
        ranks = [r for r in ranks if r[4] < self.shown]
        periods = _parked_periods(spans, ends)
        bays = _bays(periods)
        self._bay_index: dict[int, tuple[list[float], list[float], list[int]]] = defaultdict(
            lambda: ([], [], []))
        for (conn, _inst, start, end), bay in zip(periods, bays, strict=True):  # by conn, then start
            starts, stops, where = self._bay_index[conn]
            starts.append(start)
            stops.append(end)
            where.append(bay)
        self.taxis = self._taxis_per_frame(spans, ends, ranks, periods, bays)
        used = [max(tx.rank, tx.bay) for frame in self.taxis for tx in frame]
        self.cols_needed = max([self.base, min(self.cap or 0, MAX_COLS), *(u + 1 for u in used)])

    def _taxis_per_frame(self, spans: list[Span], ends: np.ndarray, ranks: list[_Rank],
                         periods: list[_Stay], bays: list[int]) -> list[list[_Taxi]]:
        """Each frame's taxis: state from the spans, road column from the rank, bay from the stay."""
        times = self.times
        alive = _per_frame(np.array([s.start for s in spans]), ends, times)
        rank_at = _per_frame(np.array([r[1] for r in ranks]), np.array([r[2] for r in ranks]), times)
        bay_at = _per_frame(np.array([p[2] for p in periods]), np.array([p[3] for p in periods]), times)
        out = []
        for k in range(times.size):
            rank = {ranks[i][0]: ranks[i][3] for i in rank_at[k].tolist()}
            bay = {periods[i][0]: bays[i] for i in bay_at[k].tolist()}
            out.append([_Taxi(s.conn, s.instance, s.state, rank.get(s.conn, -1), bay.get(s.conn, -1))
                        for s in (spans[i] for i in alive[k].tolist())])
        return out

    def bay_before(self, conn: int, t: float) -> int:
        """The bay a taxi stood in at t (an engine check happens there, just before it leaves)."""
        starts, ends, bay = self._bay_index.get(conn, ([], [], []))
        i = bisect.bisect_left(starts, t) - 1
        if i + 1 < len(starts) and starts[i + 1] == t:
            i += 1
        return bay[i] if i >= 0 and t <= ends[i] else -1

    # ---- instants
    def _read_events(self, cols: dict[str, np.ndarray], marks: list[Mark]) -> None:
        kind, why = cols["kind"], cols["reason"]
        rows = _Events.rows

        def ev(k: Ev, reason: Why | None = None, *, ident: str = "conn", exclude: tuple[Why, ...] = ()
               ) -> _Events:
            mask = kind == k
            if reason is not None:
                mask &= why == reason
            for r in exclude:
                mask &= why != r
            return rows(cols, mask, ident)

        self.ev = {
            "server_down": ev(Ev.SERVER, Why.DOWN), "server_up": ev(Ev.SERVER, Why.UP),
            "too_many": ev(Ev.CONNECT_FAIL, Why.TOO_MANY_CLIENTS),
            "refused": ev(Ev.CONNECT_FAIL, Why.REFUSED),
            "timeout": ev(Ev.TIMEOUT, ident="request"), "dead": ev(Ev.DEAD),
            "broken": ev(Ev.ERROR, Why.BROKEN),
            "error": ev(Ev.ERROR, ident="request"),
            "error_other": ev(Ev.ERROR, exclude=(Why.BROKEN, Why.TOO_MANY_CLIENTS, Why.REFUSED)),
            "leak": ev(Ev.LEAK), "queue": ev(Ev.WAIT), "new": ev(Ev.CONNECT),
            "ping_ok": ev(Ev.PING, Why.OK), "ping_fail": ev(Ev.PING, Why.FAIL),
            "rides": ev(Ev.QUERY_END),
        }
        t, inst = self.extra_opens
        self.ev["extra"] = _Events(t, inst, np.full(t.size, -1), np.zeros(t.size, dtype=np.int64))
        for name, scrap in (("scrapped", True), ("garage", False)):
            mine = [lf for lf in self.closes if (lf.reason in SCRAP_REASONS) == scrap]
            self.ev[name] = _Events(np.array([lf.closed for lf in mine]),
                                    np.array([lf.instance for lf in mine], dtype=np.int64),
                                    np.array([lf.conn for lf in mine], dtype=np.int64),
                                    np.array([WHY_NAMES.index(lf.reason) if lf.reason in WHY_NAMES else 0
                                              for lf in mine], dtype=np.int64))
        pings = [m for m in marks if m.kind == "ping" and m.instance < self.shown]
        self.pings = [(m.t, m.instance, self.bay_before(m.conn, m.t), m.reason == "ok", m.conn)
                      for m in pings]
        self.ping_t = np.array([p[0] for p in self.pings])

    # ---- levels
    def _read_levels(self, cols: dict[str, np.ndarray]) -> None:
        times = self.times
        self.server = sample(cols, levels(cols, self.base)["server"], times)
        self.depot_out = self.depot_waiting = np.zeros(times.size, dtype=np.int64)
        if self.depot is not None:   # SHOW POOLS at each frame: the depot's cars and the passengers at it
            shown = self.depot.columns()
            self.server, self.depot_out, self.depot_waiting = (
                sample(shown, shown[name], times) for name in ("servers", "sv_active", "cl_waiting"))
        inst = cols["instance"]
        self.stand_levels: list[dict[str, np.ndarray]] = []
        for i in range(self.shown):
            mine = {k: v[inst == i] for k, v in cols.items()}
            lv = levels(mine, self.base)
            self.stand_levels.append({name: sample(mine, lv[name], times)
                                      for name in ("idle", "checked_out", "waiting")})
        counted = {"completed": "rides", "timed_out": "timeout", "errors": "error", "leaked": "leak"}
        self.totals = {name: self.ev[key].upto(times) for name, key in counted.items()}

    def window(self, k: int, frames: int) -> tuple[float, float]:
        """(lo, hi] of the last `frames` bins up to frame k."""
        lo = self.times[k - frames] if k >= frames else -math.inf
        return float(lo), float(self.times[k])

    def in_window(self, key: str, k: int, frames: int) -> slice:
        """The rows of events `key` in `window(k, frames)`."""
        if (key, frames) not in self._windows:
            self._windows[key, frames] = self.ev[key].windows(self.times, frames)
        return self._windows[key, frames][k]


# ------------------------------------------------------------------ geometry

def _columns(shown: int, cols_needed: int, narrow: bool = False) -> int:
    """Columns per stand: one per taxi the run needs, enough for the rows to read, no more than fit."""
    least = MIN_COLS if shown <= 3 or narrow else MIN_COLS - 2
    return max(least, min(cols_needed, NARROW_MAX_COLS if narrow else MAX_COLS))


def _row_ys(used: Collection[str], top: float, label: float = 0.0) -> dict[str, float]:
    """The y of each used row, top down from a panel's top; rows left out leave no gap.

    `label` (y units) is room for a row's name on a line above it; the engine
    checks' row carries the bays' name, as it stands just above them.
    """
    ys: dict[str, float] = {}
    y, above = top, ""
    for row, gap in ROWS:
        if row not in used:
            continue
        below_checks = row == "bays" and above == "check"
        step = FIRST_ROW if not above else CHECK_ROW if below_checks else gap
        y = round(y - step - (0.0 if below_checks else label), 3)
        ys[row], above = y, row
    return ys


def _marker_px(px_per_col: float, unit_px: float) -> float:
    """A taxi as large as its column allows, and no larger than the rows' spacing."""
    tallest = 30 * min(1.0, unit_px / UNIT_PX_SIZED)
    return round(float(np.clip(0.8 * px_per_col, min(14, tallest), tallest)), 1)


@dataclass(frozen=True)
class _Geometry:
    """Where things go: one stand per instance side by side (on a phone one under another), in columns of
    one data unit, and only the rows the run uses."""

    shown: int
    cols: int
    size: float        # px of a taxi marker
    px_per_col: float  # px of one column
    unit_px: float     # px of one y unit
    rows: Mapping[str, float]   # the y of each drawn row, in the first stand
    panel_bottom: float         # the first stand's panel spans panel_bottom .. Y_PANEL
    y_clock: float
    y_counters: float
    y_licences: float   # the licences' text
    y_gauge: float      # the licences' bar
    y_stand: float      # the first stand's header
    y_top: float
    y_caption: float
    y_bottom: float
    block: float = 0.0     # stacked: each stand this far below the one above it; 0: side by side
    smaller: bool = False  # a plot narrower than a page's: smaller counters and a shorter licence bar
    tight: bool = False    # half a page (two stands side by side): smaller again, and a short bar
    narrow: bool = False   # a phone's: stacked stands, row names inside, Play, speeds and legend below

    @classmethod
    def fit(cls, shown: int, cols: int, used: Collection[str], plot_px: float = WIDE_PLOT_PX,
            height: int = HEIGHT) -> _Geometry:
        """Taxis as large as the columns allow, and no larger than the rows' spacing at this height.

        The header's text keeps its size in px (`HEADER_PX`) and the rows share
        what is left, so the clock, the counters and the stand headers never run
        into each other, and a run that leaves rows empty gets larger rows.
        """
        rows = _row_ys(used, Y_PANEL)
        panel_bottom = round(min(rows.values()) - PANEL_BELOW, 3)
        caption = round(panel_bottom - PANEL_BELOW, 3)
        bottom = round(caption - CAPTION_BELOW, 3)
        unit_px = (height - MARGIN_TOP - MARGIN_BOTTOM - HEADER_PX[3]) / (Y_PANEL - bottom)
        top = Y_PANEL + HEADER_PX[3] / unit_px
        clock, counters, stand = (round(top - at / unit_px, 3) for at in HEADER_PX[:3])
        px = plot_px / (shown * (cols + GAP))
        return cls(shown, cols, _marker_px(px, unit_px), round(px, 1), round(unit_px, 2), rows, panel_bottom,
                   y_clock=clock, y_counters=counters, y_licences=clock, y_gauge=counters, y_stand=stand,
                   y_top=round(top, 3), y_caption=caption, y_bottom=bottom,
                   smaller=plot_px < WIDE_PLOT_PX, tight=plot_px < TIGHT_PLOT_PX)

    @classmethod
    def stacked(cls, shown: int, cols: int, used: Collection[str],
                plot_px: float = NARROW_PLOT_PX) -> _Geometry:
        """A phone's: the stands one under another across the width, each row's name on a line above it,
        and the figure as tall as that takes (`NARROW_UNIT_PX` per y unit)."""
        unit = NARROW_UNIT_PX
        rows = _row_ys(used, Y_PANEL, NARROW_LABEL_PX / unit)
        panel_bottom = round(min(rows.values()) - PANEL_BELOW, 3)
        block = round(Y_PANEL - panel_bottom + NARROW_STAND_PX / unit, 3)
        caption = round(panel_bottom - (shown - 1) * block - NARROW_CAPTION_PX[0] / unit, 3)
        top = Y_PANEL + NARROW_HEADER_PX[4] / unit
        clock, counters, licences, stand = (round(top - at / unit, 3) for at in NARROW_HEADER_PX[:4])
        px = plot_px / (cols + 2 * NARROW_X_PAD)
        return cls(shown, cols, _marker_px(px, unit), round(px, 1), unit, rows, panel_bottom,
                   y_clock=clock, y_counters=counters, y_licences=licences, y_gauge=licences, y_stand=stand,
                   y_top=round(top, 3), y_caption=caption,
                   y_bottom=round(caption - NARROW_CAPTION_PX[1] / unit, 3), block=block,
                   smaller=True, narrow=True)

    @property
    def bay_size(self) -> float:
        """A bay is a little larger than its taxi, but neighbouring bays must not overlap."""
        return round(max(min(self.size * 1.4, self.px_per_col), self.size + 3), 1)

    @property
    def stand_width(self) -> float:
        return self.cols + GAP

    @property
    def x_max(self) -> float:
        return self.cols if self.narrow else self.shown * self.stand_width - GAP

    @property
    def plot_h(self) -> float:
        """The plot area's height in px."""
        return (self.y_top - self.y_bottom) * self.unit_px

    def left(self, stand: int) -> float:
        return 0.0 if self.narrow else stand * self.stand_width

    def x(self, stand: int, col: float) -> float:
        return round(self.left(stand) + 0.5 + col, 2)

    def y(self, stand: int, row: str) -> float:
        return round(self.rows[row] - stand * self.block, 3)

    def centre(self, stand: int) -> float:
        return round(self.left(stand) + self.cols / 2, 2)

    def panel(self, stand: int) -> tuple[float, float]:
        """A stand's panel from its bottom to its top (y)."""
        return round(self.panel_bottom - stand * self.block, 3), round(Y_PANEL - stand * self.block, 3)


_Place = tuple[int, float, str, Any]   # stand, column, row, and the point's text (a taxi's number, "+N")


class _Points:
    """Points of every kind for one frame, by stand, column and row, plus "+N" labels for rows that ran
    out of room. Rows are named: which rows a figure draws, and where, is known once every frame is."""

    def __init__(self, cols: int, words: _Words) -> None:
        self.cols = cols
        self.words = words
        self.at: dict[str, list[_Place]] = {k: [] for k in KIND_KEYS}
        self.more: list[_Place] = []

    def add(self, kind: str, stand: int, col: float, row: str, ident: int) -> None:
        if 0 <= col < self.cols:
            self.at[kind].append((stand, col, row, int(ident)))

    def row(self, kind: str, stand: int, row: str, idents: list[int], first: int = 0,
            room: int | None = None) -> None:
        """Markers from column `first` on, at most `room` of them, then a "+N" label for the rest."""
        room = self.cols - first if room is None else room
        fits = len(idents) if len(idents) <= room else max(room - 1, 0)
        for j, ident in enumerate(idents[:fits]):
            self.add(kind, stand, first + j, row, ident)
        if fits < len(idents):
            self.more.append((stand, first + fits - 0.45, row, self.words("more", n=len(idents) - fits)))

    def rows(self) -> set[str]:
        return {p[2] for places in (*self.at.values(), self.more) for p in places}


# ------------------------------------------------------------------ one frame

def _frame_points(run: _Run, cols: int, k: int, words: _Words) -> _Points:
    """Where every object of frame k stands: taxis by their state, instants of the last few bins."""
    pts = _Points(cols, words)
    factory: dict[int, set[int]] = defaultdict(set)
    for tx in run.taxis[k]:
        extra = tx.rank >= run.base
        if tx.state == IDLE:
            pts.add("extra" if extra else "parked", tx.instance, tx.bay, "bays", tx.conn)
        elif tx.state == DEAD:
            pts.add("dead", tx.instance, tx.bay, "bays", tx.conn)
        elif tx.state == BUSY:
            pts.add("extra" if extra else "ride", tx.instance, tx.rank, "road", tx.conn)
        elif tx.state == LEAKED:
            pts.add("leaked", tx.instance, tx.rank, "leaked", tx.conn)
        elif tx.state == CONNECTING:
            factory[tx.instance].add(tx.conn)
    lo, hi = run.window(k, LINGER_FRAMES)
    for stand in range(run.shown):
        # connecting now, or begun in the last few bins: a connect shorter than a bin is seen too
        new = factory[stand].union(_idents(run, "new", k, stand))
        pts.row("connecting", stand, "factory", sorted(new))
        for kind, row in (("garage", "garage"), ("scrapped", "scrap")):
            pts.row(kind, stand, row, _idents(run, kind, k, stand))
        waiting = int(run.stand_levels[stand]["waiting"][k])
        pts.row("waiting", stand, "queue", list(range(1, waiting + 1)))
        half = cols // 2
        gave_up, errors = (_idents(run, key, k, stand) for key in ("timeout", "error"))
        pts.row("gave_up", stand, "gave_up", gave_up, room=half)
        pts.row("error", stand, "gave_up", errors, first=half, room=cols - half)
    _add_pings(run, pts, lo, hi)
    return pts


def _idents(run: _Run, key: str, k: int, stand: int) -> list[int]:
    """Who (taxi or passenger) took part in events `key` at `stand` in frame k's last few bins."""
    events, w = run.ev[key], run.in_window(key, k, LINGER_FRAMES)
    return events.ident[w][events.inst[w] == stand].tolist()


def _add_pings(run: _Run, pts: _Points, lo: float, hi: float) -> None:
    """The latest engine check per bay in the window, drawn just above that bay."""
    a, b = np.searchsorted(run.ping_t, lo, "right"), np.searchsorted(run.ping_t, hi, "right")
    latest: dict[tuple[int, int], tuple[bool, int]] = {}
    for _t, inst, bay, ok, conn in run.pings[a:b]:
        if bay >= 0:
            latest[(inst, bay)] = (ok, conn)
    for (inst, bay), (ok, conn) in latest.items():
        pts.add("ping_ok" if ok else "ping_fail", inst, bay, "check", conn)


def _rows_used(points: list[_Points], bays: bool) -> set[str]:
    """The rows something stands in at some frame (the bays while there are any); the road always: it is
    the stand itself, and an empty run still draws one."""
    used = set().union(*(p.rows() for p in points)) | {"road"}
    return (used | {"bays"}) if bays else used


def _info_texts(run: _Run, geo: _Geometry, k: int, words: _Words) -> list[str]:
    """Clock, counters, licences, caption, then one header per stand (fixed positions, see _info_xy)."""
    tot = {name: int(v[k]) for name, v in run.totals.items()}
    used = int(run.server[k])
    caption = _caption(run, k, words)
    out = [words("clock", t=float(run.times[k])),
           words("counters", **tot),
           words("depot_licences" if run.depot is not None else "licences", used=used, limit=run.limit),
           _lines(caption, geo.x_max * geo.px_per_col, NARROW_FONT) if geo.narrow else caption]
    for stand in range(geo.shown):
        lv = run.stand_levels[stand]
        counts = words("stand_counts", parked=int(lv["idle"][k]), out=int(lv["checked_out"][k]),
                       waiting=int(lv["waiting"][k]))
        out.append(f"<b>{words('stand', n=stand + 1)}</b><br>{counts}" if geo.shown <= 3
                   else f"<b>{words('stand', n=stand + 1)}</b>")
    return out


def _text_px(text: str, font: float) -> float:
    """About how wide `text` is drawn: a CJK character is a square, others 0.6 of the font or less."""
    return sum(font if unicodedata.east_asian_width(ch) in "WF" else 0.6 * font for ch in text)


def _lines(text: str, width_px: float, font: float) -> str:
    """`text` broken into lines that fit `width_px`, joined with <br>: plotly does not wrap text."""
    per_line = max(10, int(len(text) * width_px / max(_text_px(text, font), 1.0)))
    return "<br>".join(textwrap.wrap(text, per_line))


INFO, CAPTION = len(KINDS) + 1, 3
"""Where the caption is: the text trace of `_drawn`'s list, and its place among that trace's texts."""


def _fit_captions(drawn: list[list[dict[str, Any]]], geo: _Geometry) -> int:
    """The captions' font size: the largest, from FONT + 4 down to FONT - 4, at which every frame's
    caption fits the panel's width on one line; a caption too long even then is broken into lines.

    plotly neither wraps nor shrinks text: a long caption ("Taxi 31 scrapped on return: no free bay
    (overflow)") ran off both sides of a half-width panel, A against B. A phone's captions are
    broken into lines as they are made (`_info_texts`).
    """
    if geo.narrow:
        return NARROW_FONT
    width = geo.x_max * geo.px_per_col
    widest = max((_text_px(frame[INFO]["text"][CAPTION], 1.0) for frame in drawn), default=0.0)
    size = FONT + 4 if widest <= 0 else max(FONT - 4, min(FONT + 4, math.floor(width / widest)))
    if widest * size > width:
        for frame in drawn:
            texts = frame[INFO]["text"]
            texts[CAPTION] = _lines(texts[CAPTION], width, size)
    return size


def _info_xy(geo: _Geometry, caption_font: int) -> tuple[list[float], list[float], list[str], list[int]]:
    stands = [geo.centre(s) for s in range(geo.shown)], [round(geo.y_stand - s * geo.block, 3)
                                                         for s in range(geo.shown)]
    xs = [0.0, 0.0, 0.0 if geo.narrow else geo.x_max, geo.x_max / 2] + stands[0]
    ys = [geo.y_clock, geo.y_counters, geo.y_licences, geo.y_caption] + stands[1]
    licences = "middle right" if geo.narrow else "middle left"   # a phone's: at the left, the bar right
    pos = ["middle right", "middle right", licences, "middle center"] + ["middle center"] * geo.shown
    if geo.narrow:
        sizes = [FONT, NARROW_FONT - 1, NARROW_FONT - 1, NARROW_FONT] + [NARROW_FONT] * geo.shown
    else:
        counters = FONT - 5 if geo.tight else FONT - 2 if geo.smaller else FONT
        sizes = [FONT + 8, counters, FONT + 4, caption_font] + [FONT] * geo.shown
    return xs, ys, pos, sizes


def _gauge(run: _Run, geo: _Geometry, k: int) -> dict[str, Any]:
    """The licence bar: its length is the share of the city's licences in use."""
    x0, width = _gauge_span(geo)
    share = min(float(run.server[k]) / run.limit, 1.0) if run.limit > 0 else 0.0
    full = run.limit > 0 and run.server[k] >= run.limit
    return {"x": [x0, round(x0 + share * width, 3)], "y": [geo.y_gauge, geo.y_gauge],
            "line": {"color": VERMILLION if full else BLUE, "width": 10 if geo.narrow else 14}}


def _gauge_span(geo: _Geometry) -> tuple[float, float]:
    share = 0.45 if geo.narrow else 0.12 if geo.tight else 0.2 if geo.smaller else 0.28
    width = max(geo.x_max * share, 1.2 if geo.tight else 2.0)
    return round(geo.x_max - width, 3), round(width, 3)


# ------------------------------------------------------------------ captions

def _caption(run: _Run, k: int, words: _Words) -> str:
    """The most notable thing that happened in frame k's bin, in one line."""
    depot = _depot_caption(run, k, words)
    for key, say in _CAPTIONS:
        if depot and key in ROUTINE:   # passengers queueing at the depot matter more than routine rides
            return depot
        events = run.ev[key]
        w = run.in_window(key, k, 1)
        n = w.stop - w.start
        if n:
            what = say(words, n, events, w)
            insts = set(events.inst[w].tolist())
            if run.instances > 1 and len(insts) == 1 and min(insts) >= 0:
                return words("at_stand", n=min(insts) + 1, what=what)
            return what
    return depot or words("cap_quiet")


def _depot_caption(run: _Run, k: int, words: _Words) -> str:
    """With a pooler: its cars out and the passengers waiting at the depot, if any wait; else ""."""
    if run.depot is None or run.depot_waiting[k] <= 0:
        return ""
    return words.count("cap_depot", int(run.depot_waiting[k]), out=int(run.depot_out[k]),
                       cars=int(run.server[k]))


def _first(events: _Events, w: slice) -> tuple[int, str]:
    return int(events.ident[w.start]), WHY_NAMES[int(events.why[w.start])]


def _plain(key: str) -> Callable[[_Words, int, _Events, slice], str]:
    return lambda words, n, _ev, _w: words.count(key, n)


def _with_taxi(key: str) -> Callable[[_Words, int, _Events, slice], str]:
    def say(words: _Words, n: int, events: _Events, w: slice) -> str:
        taxi, why = _first(events, w)
        return words.count(key, n, taxi=taxi, why=words.why(why))
    return say


ROUTINE = frozenset({"extra", "queue", "new", "ping_ok", "rides"})
"""Captions of what happens all the time: a depot's queue (with a pooler) is told instead."""

_CAPTIONS: tuple[tuple[str, Callable[[_Words, int, _Events, slice], str]], ...] = (
    ("server_down", _plain("cap_server_down")),
    ("server_up", _plain("cap_server_up")),
    ("too_many", _plain("cap_too_many")),
    ("refused", _plain("cap_refused")),
    ("timeout", _plain("cap_timeout")),
    ("dead", _with_taxi("cap_dead")),
    ("broken", _with_taxi("cap_broken")),
    ("ping_fail", _with_taxi("cap_ping_fail")),
    ("leak", _with_taxi("cap_leak")),
    ("error_other", _with_taxi("cap_error")),
    ("scrapped", _with_taxi("cap_scrapped")),
    ("garage", _with_taxi("cap_garage")),
    ("extra", _plain("cap_extra")),
    ("queue", _plain("cap_queue")),
    ("new", _plain("cap_new")),
    ("ping_ok", _plain("cap_ping_ok")),
    ("rides", _plain("cap_rides")),
)


# ------------------------------------------------------------------ the figure

def build_taxi_figure(trace: Trace, scenario: Scenario, end_s: float, *,
                      text: Mapping[str, str] | None = None, max_frames: int = 300,
                      number: Callable[[float], str] | None = None,
                      plural: Callable[[int], str] | None = None,
                      height: int = HEIGHT, plot_px: float = WIDE_PLOT_PX, narrow: bool = False) -> go.Figure:
    """The taxi stand of one run (simulated or live) as an animated plotly figure.

    `plural(n)` names n's plural form in the language (Babel's "one", "few", "many", "other").
    `height` is the figure's in px and `plot_px` the width its plot area will get on the page:
    the taxis are sized for both, so neighbours neither overlap nor shrink to dots. `narrow`
    draws it for a phone instead (see the module's notes), whatever `height` and `plot_px`
    say: `NARROW_PLOT_PX` wide, and as tall as its rows need.
    """
    words = _Words(text, number, plural)
    run = _Run(trace, scenario, end_s, max_frames, NARROW_MAX_STANDS if narrow else MAX_STANDS)
    cols = _columns(run.shown, run.cols_needed, narrow)
    points = [_frame_points(run, cols, k, words) for k in range(run.times.size)]
    used = _rows_used(points, bays=min(run.base, cols) > 0)
    geo = (_Geometry.stacked(run.shown, cols, used) if narrow
           else _Geometry.fit(run.shown, cols, used, plot_px, height))
    kinds = [key for key in KIND_KEYS if any(p.at[key] for p in points)]
    static = _static_traces(geo, run, words, kinds)
    drawn = [_drawn(run, geo, k, p, words) for k, p in enumerate(points)]
    caption_font = _fit_captions(drawn, geo)
    moving = _moving(points)
    traces = list(range(len(static), len(static) + len(moving)))   # where the moving ones are drawn
    frames = [{"name": str(k), "data": [data[i] for i in moving], "traces": traces}
              for k, data in enumerate(drawn)]
    dynamic = [_style_dynamic(i, drawn[0][i], geo, words, caption_font) for i in moving]
    return Animation(data=static + dynamic, layout=_layout(run, geo, words, height, static), frames=frames)


class Animation(go.Figure):
    """A plotly Figure whose frames stay the plain dicts they were built as.

    plotly validates every property of every frame when a Figure is made, and
    deep-copies them all each time it is sent: for 200 frames of 16 traces that
    was most of a playground rerun. The frames come from this module's own
    code (and its tests read them back), so they are kept as dicts, sent as
    they are by `to_dict`, and made into `go.Frame` objects only when
    something reads `.frames`.
    """

    def __init__(self, data: list[dict[str, Any]], layout: dict[str, Any],
                 frames: list[dict[str, Any]]) -> None:
        super().__init__(data=data, layout=layout, _validate=False)
        self._plain_frames = frames

    @functools.cached_property
    def frames(self) -> tuple[go.Frame, ...]:  # type: ignore[override]
        return tuple(self._frames_validator.validate_coerce(self._plain_frames))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["frames"] = self._plain_frames
        return out


def frame_at(frames: list[dict[str, Any]], end_s: float, at_s: float, max_frames: int) -> int:
    """The index of the frame that shows `at_s`, in frames built with `max_frames` over `end_s`."""
    times = frame_times(end_s, max_frames)
    if times.size != len(frames):   # the figure cut its time otherwise: assume equal bins
        times = np.linspace(end_s / max(len(frames), 1), end_s, max(len(frames), 1))
    return min(int(np.searchsorted(times, at_s - 1e-9)), len(frames) - 1)


def drawn_at(data: list[dict[str, Any]], frame: dict[str, Any]) -> list[dict[str, Any]]:
    """A figure's traces as `frame` draws them (frames carry only what moves)."""
    shown = list(data)
    for i, moved in zip(frame["traces"], frame["data"], strict=True):
        shown[i] = {**shown[i], **moved}
    return shown


def play_only(figure: Animation) -> Animation:
    """A phone's figure (`narrow`) with Play and Pause alone, for a loop that plays itself: the speeds
    and the slider left out, the legend moved up under Play and the room they took given back."""
    layout = figure.layout
    plot_h = layout.height - layout.margin.t - layout.margin.b
    spared = NARROW_CONTROLS_PX[3] - NARROW_CONTROLS_PX[1]
    layout.updatemenus = layout.updatemenus[:1]   # assigned: update_layout would merge them, not cut them
    layout.sliders = ()
    figure.update_layout(height=layout.height - spared, margin_b=layout.margin.b - spared,
                         legend_y=-NARROW_CONTROLS_PX[1] / plot_h)
    return figure


def starting_at(figure: Animation, end_s: float, at_s: float, max_frames: int) -> Animation:
    """The same animation, standing at the frame that shows `at_s` (a scene): Play goes on from there."""
    frames = figure._plain_frames
    if not frames:
        return figure
    k = frame_at(frames, end_s, at_s, max_frames)
    whole = figure.to_plotly_json()
    layout = whole["layout"]
    first, *others = layout["sliders"]
    layout["sliders"] = [{**first, "active": k}, *others]
    return Animation(data=drawn_at(list(whole["data"]), frames[k]), layout=layout, frames=frames)


def _drawn(run: _Run, geo: _Geometry, k: int, pts: _Points, words: _Words) -> list[dict[str, Any]]:
    """Every moving trace as frame k draws it: x/y of each kind, "+N" labels, the texts, the licence bar."""
    data = [_points(geo, pts.at[key]) for key in KIND_KEYS]
    data.append(_points(geo, pts.more))
    data.append({"type": "scatter", "text": _info_texts(run, geo, k, words)})
    data.append({"type": "scatter", **_gauge(run, geo, k)})
    return data


def _moving(points: list[_Points]) -> list[int]:
    """The traces frames move, the only ones drawn: a kind or "+N" label that no frame draws is left out
    of the figure. Each trace costs plotly.js on every redraw (defaults, calc, draw), and most runs draw
    a few of the kinds: the default stand's redraw took some 10 ms less without its nine empty ones."""
    kinds = [i for i, key in enumerate(KIND_KEYS) if any(p.at[key] for p in points)]
    more = [len(KIND_KEYS)] if any(p.more for p in points) else []
    return [*kinds, *more, len(KIND_KEYS) + 1, len(KIND_KEYS) + 2]


def _points(geo: _Geometry, places: list[_Place]) -> dict[str, Any]:
    """A trace's points for a frame; none is one gap, as plotly.js keeps the old points on empty arrays."""
    if not places:
        return {"type": "scatter", "x": [None], "y": [None], "text": [""]}
    return {"type": "scatter", "x": [geo.x(s, col) for s, col, _, _ in places],
            "y": [geo.y(s, row) for s, _, row, _ in places], "text": [text for *_, text in places]}


def _style_dynamic(i: int, data: dict[str, Any], geo: _Geometry, words: _Words,
                   caption_font: int) -> dict[str, Any]:
    """The first frame's data with each trace's fixed look (frames never repeat it)."""
    if i < len(KINDS):
        kind = KINDS[i]
        name = words(f"legend_{kind.key}")
        return {**data, "name": name, "mode": "markers", "legendgroup": kind.key, "showlegend": False,
                "marker": _marker(kind, geo),
                "hovertemplate": f"{words.text[kind.hover]}<extra>{name}</extra>"}
    if i == len(KINDS):  # "+N" labels
        return {**data, "mode": "text", "showlegend": False, "hoverinfo": "skip",
                "textposition": "middle right",
                "textfont": {"size": NARROW_FONT - 1 if geo.narrow else FONT, "color": BLACK}}
    if i == INFO:  # clock, counters, licences, caption, stand headers
        xs, ys, pos, sizes = _info_xy(geo, caption_font)
        return {**data, "x": xs, "y": ys, "mode": "text", "showlegend": False, "hoverinfo": "skip",
                "textposition": pos, "textfont": {"size": sizes, "color": BLACK}}
    return {**data, "mode": "lines", "showlegend": False, "hoverinfo": "skip"}  # the licence bar


def _marker(kind: Kind, geo: _Geometry) -> dict[str, Any]:
    return {"symbol": kind.symbol, "color": kind.color, "size": round(geo.size * kind.scale, 1),
            "line": {"color": kind.line, "width": kind.width}}


def _static_traces(geo: _Geometry, run: _Run, words: _Words, kinds: list[str]) -> list[dict[str, Any]]:
    """Drawn once, never in frames: the bays, the empty licence bar and the legend of the kinds that occur.

    plotly leaves a trace out of the legend while it has no points, so each kind gets a
    legend entry of its own: one point outside the axes, grouped with the kind's trace
    (clicking it hides both).
    """
    bays = min(run.base, geo.cols)
    places = [(s, c) for s in range(geo.shown) for c in range(bays)]
    x0, width = _gauge_span(geo)
    out: list[dict[str, Any]] = [
        {"type": "scatter", "x": [geo.x(s, c) for s, c in places], "y": [geo.y(s, "bays") for s, _ in places],
         "mode": "markers", "name": words("legend_bay"), "hoverinfo": "skip",
         "marker": {"symbol": "square-open", "color": GREY, "size": geo.bay_size, "line": {"width": 2.5}}},
        {"type": "scatter", "x": [x0, x0 + width], "y": [geo.y_gauge, geo.y_gauge], "mode": "lines",
         "showlegend": False, "hoverinfo": "skip",
         "line": {"color": "#D9D9D9", "width": 10 if geo.narrow else 14}},
    ]
    off = geo.y_bottom - 10
    out.extend({"type": "scatter", "x": [-10], "y": [off], "mode": "markers", "legendgroup": k.key,
                "name": words(f"legend_{k.key}"), "hoverinfo": "skip", "marker": _marker(k, geo)}
               for k in KINDS if k.key in kinds)
    return out


def _legend_names(static: list[dict[str, Any]]) -> list[str]:
    """The legend's entries: the static traces with points and a legend entry."""
    return [t["name"] for t in static if t.get("showlegend", True) and t["x"]]


def _layout(run: _Run, geo: _Geometry, words: _Words, height: int, static: list[dict[str, Any]]
            ) -> dict[str, Any]:
    """The fixed parts: axes, panels, buttons, slider, legend, and a note when not every stand is drawn."""
    annotations = _stands_note(run, geo, words)
    top = MARGIN_TOP + sum(20 + a["text"].count("<br>") * 15 for a in annotations)
    labels = _row_labels(geo)
    pad = NARROW_X_PAD if geo.narrow else 0.4
    common = {
        "font": {"size": NARROW_FONT if geo.narrow else FONT, "color": BLACK,
                 "family": "Arial, Helvetica, sans-serif"},
        "paper_bgcolor": "white", "plot_bgcolor": "white",
        "xaxis": {"range": [-pad, geo.x_max + pad], "visible": False, "fixedrange": True},
        "yaxis": {"range": [geo.y_bottom, geo.y_top], "fixedrange": True, "showgrid": False,
                  "zeroline": False, "ticks": "",
                  "tickvals": [y for y, _ in labels], "ticktext": [words(key) for _, key in labels]},
        "shapes": list(_shapes(geo)),
        "annotations": annotations,
        "updatemenus": _menus(words, geo),
        "sliders": [_slider(run, geo)],
        "hovermode": "closest",
    }
    own = _narrow_layout(geo, top, _legend_names(static)) if geo.narrow else _wide_layout(height, top)
    return common | own | {"yaxis": common["yaxis"] | own["yaxis"]}


def _stands_note(run: _Run, geo: _Geometry, words: _Words) -> list[dict[str, Any]]:
    """Above the plot, when there are more stands than are drawn: which ones are."""
    if run.instances <= run.shown:
        return []
    note, size = words("stands_note", shown=run.shown, total=run.instances), FONT - 2
    if geo.narrow:
        size = NARROW_FONT - 2
        note = _lines(note, geo.x_max * geo.px_per_col, size)
    return [{"text": note, "x": 0, "xref": "paper", "xanchor": "left", "align": "left", "y": 1.0,
             "yref": "paper", "yanchor": "bottom", "showarrow": False, "font": {"size": size, "color": GREY}}]


def _wide_layout(height: int, top: int) -> dict[str, Any]:
    """The row names beside the rows, the legend right of the plot."""
    return {"height": height,
            "margin": {"l": 130, "r": 10, "t": top, "b": MARGIN_BOTTOM},
            "yaxis": {"automargin": True, "tickfont": {"size": FONT - 2, "color": GREY}},
            "legend": {"orientation": "v", "x": 1.01, "y": 1.0,
                       "font": {"size": FONT - (2 if height >= HEIGHT else 4)},
                       "itemsizing": "constant", "tracegroupgap": 2}}


def _narrow_layout(geo: _Geometry, top: int, legend: list[str]) -> dict[str, Any]:
    """A phone's: the row names inside the panel, just above their rows (no margin taken from the taxis),
    the legend in lines of its own under the slider, and the figure as tall as all of that."""
    font = NARROW_FONT - 1
    lines = _legend_rows(legend, geo.x_max * geo.px_per_col, font)
    bottom = NARROW_CONTROLS_PX[3] + lines * NARROW_LEGEND_ROW_PX + 6
    return {"height": round(geo.plot_h) + top + bottom,
            "margin": {"l": NARROW_MARGIN_PX, "r": NARROW_MARGIN_PX, "t": top, "b": bottom},
            "yaxis": {"ticklabelposition": "inside top",
                      "tickfont": {"size": NARROW_FONT - 2, "color": GREY}},
            "legend": {"orientation": "h", "x": 0, "xanchor": "left", "yanchor": "top",
                       "y": -NARROW_CONTROLS_PX[3] / geo.plot_h, "font": {"size": font},
                       "itemsizing": "constant"}}


def _legend_rows(names: list[str], width_px: float, font: float) -> int:
    """How many lines a horizontal legend of these entries wraps onto in `width_px` (an estimate on the
    wide side: the figure keeps that much room below the slider for it)."""
    lines, used = 0, math.inf
    for name in names:
        item = _text_px(name, font) + LEGEND_ITEM_PX
        if used + item > width_px:
            lines, used = lines + 1, 0.0
        used += item
    return lines


def _row_labels(geo: _Geometry) -> list[tuple[float, str]]:
    """Each drawn row's name and where it goes: beside the row, or on a phone on a line just above it,
    inside the panel of each stand (the bays' above their engine checks)."""
    if not geo.narrow:
        return [(geo.rows[row], key) for row, key in ROW_LABELS.items() if row in geo.rows]
    lift = (max(geo.bay_size, 1.3 * geo.size, 2 * ROAD_HALF * geo.unit_px) / 2 + 2) / geo.unit_px
    return [(round(geo.y(s, "check" if row == "bays" and "check" in geo.rows else row) + lift, 3), key)
            for s in range(geo.shown) for row, key in ROW_LABELS.items() if row in geo.rows]


def _shapes(geo: _Geometry) -> Iterator[dict[str, Any]]:
    """A light panel per stand and a grey road, so the rows read as places."""
    for s in range(geo.shown):
        x0 = geo.left(s)
        y0, y1 = geo.panel(s)
        road = geo.y(s, "road")
        yield {"type": "rect", "layer": "below", "x0": x0, "x1": x0 + geo.cols, "y0": y0, "y1": y1,
               "line": {"width": 0}, "fillcolor": "#F2F2F2"}
        yield {"type": "rect", "layer": "below", "x0": x0, "x1": x0 + geo.cols, "y0": road - ROAD_HALF,
               "y1": road + ROAD_HALF, "line": {"width": 0}, "fillcolor": "#DADADA"}


def _play_args(speed: float) -> list[Any]:
    ms = round(FRAME_MS / speed)
    return [None, {"frame": {"duration": ms, "redraw": False}, "transition": {"duration": 0},
                   "mode": "immediate", "fromcurrent": True}]


def _menus(words: _Words, geo: _Geometry) -> list[dict[str, Any]]:
    """Play / Pause, and speed buttons that each start playing at their own frame rate: on one line under
    the plot, or on a phone on a line each (together they are wider than a phone)."""
    pause = [[None], {"mode": "immediate", "frame": {"duration": 0, "redraw": False},
                      "transition": {"duration": 0}}]
    common = {"type": "buttons", "direction": "left", "showactive": False, "pad": {"r": 6, "t": 0},
              "yanchor": "top", "y": 0.0, "font": {"size": FONT - 2}}
    play = {**common, "x": 0.0, "xanchor": "left",
            "buttons": [{"label": words("play"), "method": "animate", "args": _play_args(1.0)},
                        {"label": words("pause"), "method": "animate", "args": pause}]}
    speeds = {**common, "x": 1.0, "xanchor": "right",
              "buttons": [{"label": words("speed", x=s), "method": "animate", "args": _play_args(s)}
                          for s in SPEEDS]}
    if geo.narrow:
        play["y"], speeds["y"] = (-at / geo.plot_h for at in NARROW_CONTROLS_PX[:2])
        play["font"] = speeds["font"] = {"size": NARROW_FONT}
    return [play, speeds]


def _slider(run: _Run, geo: _Geometry) -> dict[str, Any]:
    """One step per frame, with no label: the clock inside the stand says the time.

    plotly.js measures every step's label to lay a slider out, each text once
    per page, and hidden labels are measured too: a hundred distinct times made
    the first drawing of the stand some 60 ms slower than blank ones, which are
    measured once (headless Chromium, the playground's default stand).
    """
    step_args = {"mode": "immediate", "frame": {"duration": 0, "redraw": False},
                 "transition": {"duration": 0}}
    steps = [{"method": "animate", "label": "", "args": [[str(k)], step_args]} for k in range(run.times.size)]
    return {"active": 0, "steps": steps, "x": 0.0, "len": 1.0, "yanchor": "top",
            "y": -NARROW_CONTROLS_PX[2] / geo.plot_h if geo.narrow else -0.07,
            "pad": {"t": 0 if geo.narrow else 14, "b": 0},   # off the buttons above it, on a wide stand
            "font": {"color": "rgba(0,0,0,0)", "size": 2},
            "ticklen": 0, "minorticklen": 0, "tickcolor": "rgba(0,0,0,0)",
            "currentvalue": {"visible": False}, "transition": {"duration": 0}}


__all__ = ["EN", "KINDS", "build_taxi_figure", "frame_times", "plain_number"]
