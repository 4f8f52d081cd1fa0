"""Figure builders: a run's trace drawn as plotly figures.

Pure functions from (trace, scenario, end_s) to a `plotly.graph_objects.Figure`,
with no Streamlit in sight, so the pages, the tests and any export draw the same
pictures. A simulated and a live trace give the same kind of figure because
everything is read from the trace through `sim.metrics` and `app.spans`.

Three things hold across the figures:

* every word a learner reads comes from `text` (English `EN` by default), so
  a translated catalog with the same keys and placeholders can be passed in;
* one colour means one thing everywhere (`COLORS`, the colour-blind-safe
  Okabe-Ito palette): idle is sky blue in the area chart and in the timeline;
* figures stay small: numbers are sent as numpy arrays (plotly encodes them
  in binary), the timeline draws one bar trace per state, and detail finer
  than a pixel of the chart is merged rather than shipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from app.i18n import DEFAULT, texts
from app.spans import BUSY, CONNECTING, DEAD, IDLE, LEAKED, Mark, Span, connection_spans
from sim.metrics import LEVELS, request_times, timeseries
from sim.pools import AcquireTimeout
from sim.scenario import Scenario
from sim.trace import Ev, Trace

COLORS: dict[str, str] = {
    "idle": "#56B4E9",        # sky blue
    "in_use": "#0072B2",      # blue
    "busy": "#0072B2",
    "overflow": "#E69F00",    # orange
    "leaked": "#CC79A7",      # reddish purple
    "dead": "#000000",
    "connecting": "#F0E442",  # yellow
    "waiting": "#D55E00",     # vermillion
    "timed_out": "#D55E00",
    "error": "#D55E00",
    "completed": "#009E73",   # bluish green
    "limit": "#000000",       # reference lines: base size, cap, server limit, timeout
}
"""State or meaning -> colour (Okabe-Ito), shared by every figure of the app."""

EN: dict[str, str] = texts(DEFAULT, "charts")
"""The English words (`locales/en.toml`, [charts]); a translation passes the same keys and placeholders."""

Number = Callable[[float], str]

FONT = 16
SMALL = 14
HEIGHT = 420
PIXELS = 1200
"""About the widest a chart is drawn: timeline detail below end_s / PIXELS is merged."""
PING_PIXELS = 6  # about a ping marker's width
MARGIN = {"l": 20, "r": 20, "t": 80, "b": 120}
"""A figure's margins in px; automargin widens the sides for the axes (see `_axis_margin`)."""
LEGEND_GAP = 62  # px from the plot's bottom edge to the legend: below the ticks and the axis title

END_SYMBOLS: dict[str, str] = {
    "overflow": "triangle-down", "max_idle": "triangle-down", "recycle": "hexagon",
    "idle": "square", "lifetime": "hourglass", "max_queries": "cross", "broken": "square-x",
    "invalidated": "star", "done": "circle",
}
MARK_SYMBOLS: dict[str, str] = {"ping": "circle", "dead": "x", "error": "diamond"}


def plain_number(x: float) -> str:
    """3 significant decimals at most, no exponent, no trailing zeros: 3, 0.25, 30000, 12.3."""
    if float(x).is_integer():
        return str(int(x))
    digits = max(0, 2 - int(np.floor(np.log10(abs(x))))) if x else 0
    return f"{x:.{digits}f}".rstrip("0").rstrip(".")


def _texts(text: Mapping[str, str] | None) -> dict[str, str]:
    """English with the caller's texts on top, so a partial catalog still draws."""
    return {**EN, **(text or {})}


def _reason(t: Mapping[str, str], why: str) -> str:
    return t.get(f"reason_{why}", why.replace("_", " "))


# ----------------------------------------------------------------- layout


@dataclass
class _Parts:
    """What a figure is assembled from. The figure is built once from these: plotly validates
    every update, so one construction is several times faster than many `add_*` calls."""

    traces: list[go.Scatter | go.Bar] = field(default_factory=list)
    shapes: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)

    def ref_line(self, y: float, label: str, name: str, dash: str, below: bool = False,
                 right: bool = False) -> None:
        """A labelled horizontal line across the plot (a shape named after what it marks);
        the label sits above the line, or below it, at the left or the right end."""
        self.shapes.append({"type": "line", "name": name, "xref": "x domain", "x0": 0, "x1": 1,
                            "yref": "y", "y0": y, "y1": y, "layer": "above",
                            "line": {"color": COLORS["limit"], "width": 2, "dash": dash}})
        self.annotations.append({"name": name, "xref": "x domain", "x": 0.99 if right else 0.01,
                                 "xanchor": "right" if right else "left", "yref": "y", "y": y,
                                 "yanchor": "top" if below else "bottom", "text": label,
                                 "showarrow": False, "bgcolor": "rgba(255,255,255,0.75)"})


def _scatter(**props: Any) -> go.Scatter:
    """A trace as given, not checked property by property: this module's own figures, drawn on every
    rerun of a run's page (the tests read them back). Checked, the playground's chart of connections
    took twice as long to build, time the server then spent while the browser drew the stand."""
    return go.Scatter(_validate=False, **props)


def _bar(**props: Any) -> go.Bar:
    """A bar trace as given, as `_scatter`."""
    return go.Bar(_validate=False, **props)


def _axis(title: str, **more: Any) -> dict[str, Any]:
    return {"title": {"text": title, "font": {"size": FONT}}, "tickfont": {"size": SMALL},
            "gridcolor": "#E5E5E5", "zerolinecolor": "#BBBBBB", "ticks": "outside", "ticklen": 4,
            "tickcolor": "#BBBBBB", "automargin": True, **more}


def _figure(parts: _Parts, layout: dict[str, Any], title: str, subtitle: str, key: str,
            height: int) -> go.Figure:
    """The look every figure shares: large type for a projector, legend below, zoom kept on rerun."""
    margin = {**MARGIN, **layout.get("margin", {})}
    plot_px = height - margin["t"] - margin["b"]
    base = {
        "template": pio.templates["none"],  # plotly.js's plain defaults; a full one costs ~10 ms a figure
        "height": height,
        "title": {"text": title, "subtitle": {"text": subtitle, "font": {"size": SMALL + 1}},
                  "font": {"size": 20}, "x": 0.01, "xanchor": "left"},
        "font": {"size": FONT},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hoverlabel": {"font": {"size": SMALL}},
        "legend": {"orientation": "h", "x": 0, "y": -LEGEND_GAP / plot_px, "yanchor": "top",
                   "font": {"size": SMALL}, "traceorder": "normal"},
        "margin": margin,
        "uirevision": key,
        "shapes": parts.shapes,
        "annotations": [{"font": {"size": SMALL}, **a} for a in parts.annotations],
    }
    return go.Figure(data=parts.traces, layout={**base, **layout}, _validate=False)


# ------------------------------------------------------- connections over time


def connections_over_time(trace: Trace, scenario: Scenario, end_s: float, *,
                          text: Mapping[str, str] | None = None, points: int = 300,
                          number: Number = plain_number) -> go.Figure:
    """Stacked connection states (leaked, in use, idle), the overflow band, the waiting line,
    and the pool's base size and cap: where the pool sits against its limits, over time.

    Levels are sampled at `points` times and summed over the app's instances.
    """
    t = _texts(text)
    ts = _levels(trace, scenario, end_s, points)
    x = ts["t"]
    parts = _Parts()
    for key in ("leaked", "in_use", "idle"):  # bottom up: leaks are a rising floor
        parts.traces.append(_scatter(
            x=x, y=ts[key], name=t[key], meta=key, stackgroup="connections", mode="lines",
            line_shape="hv", line={"width": 0.5, "color": COLORS[key]}, fillcolor=COLORS[key],
            hovertemplate="%{y}"))
    _overflow_band(parts, ts, scenario, t)
    parts.traces.append(_scatter(
        x=x, y=ts["waiting"], name=t["waiting"], meta="waiting", yaxis="y2", mode="lines",
        line_shape="hv", line={"color": COLORS["waiting"], "width": 3}, hovertemplate="%{y}"))
    top = _size_lines(parts, scenario, int(ts["open"].max(initial=0)), t, number)
    waiting_font = {"size": FONT, "color": COLORS["waiting"]}
    waiting_range = _count_range(int(ts["waiting"].max(initial=0)))
    layout = {
        "hovermode": "x unified",
        "xaxis": _axis(t["time_axis"], range=[0, end_s]),
        "yaxis": _axis(t["conn_axis"], range=[0, top * 1.08]),
        "yaxis2": {**_axis(t["waiting_axis"], overlaying="y", side="right", showgrid=False,
                           zeroline=False, rangemode="tozero"),
                   **waiting_range,
                   "title": {"text": t["waiting_axis"], "font": waiting_font},
                   "tickfont": {"size": SMALL, "color": COLORS["waiting"]}},
        "margin": {**MARGIN, "l": _axis_margin(top * 1.08), "r": _axis_margin(waiting_range["range"][1])},
    }
    instances = scenario.app.instances
    library = scenario.pool.library
    subtitle = (t["conn_subtitle_instances"].format(library=library, instances=number(instances))
                if instances > 1 else t["conn_subtitle"].format(library=library))
    return _figure(parts, layout, t["conn_title"], subtitle, f"connections:{scenario.name}", HEIGHT)


def _axis_margin(top: float) -> int:
    """The room beside the plot for a y axis's title and ticks up to `top`: what plotly's automargin gives
    them at these font sizes (36 px and 8 a digit), set beforehand, as automargin draws the whole figure
    a second time when it has to widen a margin. It still widens one the ticks outgrow."""
    return 36 + 8 * len(str(int(top)))


def _count_range(peak: int) -> dict[str, Any]:
    """A y range for a count with round whole ticks (0, 50, 100 ...), at least 0 to 4."""
    step = max(1, peak / 4)
    magnitude = 10 ** int(np.floor(np.log10(step)))
    dtick = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= step)
    top = max(4, int(np.ceil(peak * 1.05 / dtick)) * dtick)
    return {"range": [0, top], "dtick": dtick}


def _levels(trace: Trace, scenario: Scenario, end_s: float, points: int) -> dict[str, np.ndarray]:
    """`sim.metrics.timeseries`, and all zeros for a run without a single event (which it rejects)."""
    if len(trace):
        return timeseries(trace, scenario, end_s, points)
    zeros = np.zeros(points, dtype=np.int32)
    return {"t": np.linspace(0.0, end_s, points), **dict.fromkeys(LEVELS, zeros)}


def _overflow_band(parts: _Parts, ts: dict[str, np.ndarray], scenario: Scenario,
                   t: Mapping[str, str]) -> None:
    """Overflow as a hatched band over the top of the stack: the connections above base size
    (per instance, summed), whatever state they are in."""
    names = scenario.pool.size_names
    if names is None:
        return
    x, top = ts["t"], ts["open"]
    parts.traces.append(_scatter(
        x=x, y=top - ts["overflow"], mode="lines", line={"width": 0}, line_shape="hv",
        showlegend=False, hoverinfo="skip", meta="overflow_floor"))
    parts.traces.append(_scatter(
        x=x, y=top, name=t["overflow"].format(base=names[0]),
        meta="overflow", mode="lines", line_shape="hv", line={"width": 0, "color": COLORS["overflow"]},
        fill="tonexty", fillcolor="rgba(0,0,0,0)",
        # hatching only: the states underneath (in use, idle, leaked) stay readable
        fillpattern={"shape": "/", "fgcolor": COLORS["overflow"], "bgcolor": "rgba(0,0,0,0)",
                     "solidity": 0.35, "size": 10},
        customdata=ts["overflow"], hovertemplate=t["overflow_hover"].format(value="%{customdata}")))


def _size_lines(parts: _Parts, scenario: Scenario, peak: int, t: Mapping[str, str],
                number: Number) -> float:
    """Base size and cap (times the instances), and the server's limit for the app role
    when it can bite: several pools, or a pool without a cap. Returns a y top showing them all."""
    pool, n = scenario.pool, scenario.app.instances
    top = float(max(peak, 1))
    lines: list[tuple[str, str, int, str]] = []
    names = pool.size_names
    if names is not None:
        base, cap = pool.base, pool.cap
        if cap is not None and cap == base:  # e.g. HikariCP's default minimumIdle = maximumPoolSize
            lines.append(("cap", f"{names[0]} = {names[1]}", cap, "dash"))
        else:
            if base > 0:
                lines.append(("base", names[0], base, "dot"))
            if cap is not None:
                lines.append(("cap", names[1], cap, "dash"))
    for key, name, each, dash in lines:
        label = (t["line"].format(name=name, value=number(each)) if n == 1 else
                 t["line_instances"].format(name=name, each=number(each), instances=number(n),
                                            value=number(each * n)))
        parts.ref_line(each * n, label, key, dash, below=key == "base")
        top = max(top, each * n)
    role = scenario.database.role_limit
    if (n > 1 or pool.cap is None) and role <= top * 1.3:
        parts.ref_line(role, t["role_limit"].format(value=number(role)), "role_limit", "dashdot",
                       right=True)
        top = max(top, role)
    return top


# ------------------------------------------------------------- wait histogram


def acquire_timeout(scenario: Scenario) -> AcquireTimeout | None:
    """How long a request may wait for a connection, as its library names and counts it; None: no pool."""
    return scenario.pool.acquire_timeout()


def gave_up_waits(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Seconds from arrival to giving up, for each request that timed out waiting."""
    kind, t, req = cols["kind"], cols["t"], cols["request"]
    arrive, gave_up = kind == Ev.ARRIVE, kind == Ev.TIMEOUT
    if not gave_up.any():
        return np.zeros(0)
    arrived_at = np.full(int(req[arrive | gave_up].max()) + 1, np.nan)
    arrived_at[req[arrive]] = t[arrive]
    return t[gave_up] - arrived_at[req[gave_up]]


def _bin_edges(hi: float, bins: int = 40) -> np.ndarray:
    """Edges from 0 past `hi` with a round (1-2-5) width, about `bins` of them."""
    raw = max(hi, 1.0) / bins
    magnitude = 10.0 ** np.floor(np.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return np.arange(int(np.floor(hi / step)) + 2) * step


def wait_histogram(trace: Trace, scenario: Scenario, end_s: float, *,
                   text: Mapping[str, str] | None = None, log_y: bool = False,
                   number: Number = plain_number) -> go.Figure:
    """Waits of the requests that got a connection, stacked with those that gave up, against
    the acquire timeout: is the pool fast enough, and how many never got in."""
    t = _texts(text)
    cols = trace.columns()
    got_ms = request_times(cols)[0] * 1000.0
    gave_ms = gave_up_waits(cols) * 1000.0
    timeout = acquire_timeout(scenario)
    hi = float(max(got_ms.max(initial=0.0), gave_ms.max(initial=0.0)))
    timeout_ms = None if timeout is None else timeout.ms
    on_scale = timeout_ms is not None and (gave_ms.size > 0 or timeout_ms <= 1.5 * hi)
    if timeout_ms is not None and on_scale:
        hi = max(hi, timeout_ms)
    edges = _bin_edges(hi)
    bounds = np.column_stack([edges[:-1], edges[1:]])
    hover = t["bin_hover"].format(lo="%{customdata[0]:.4~g}", hi="%{customdata[1]:.4~g}")
    parts = _Parts()
    for key, ms, color in (("got_connection", got_ms, COLORS["completed"]),
                           ("gave_up", gave_ms, COLORS["timed_out"])):
        parts.traces.append(_bar(
            x=bounds.mean(axis=1), y=np.histogram(ms, edges)[0], width=edges[1] - edges[0],
            name=t[key], meta=key, marker={"color": color, "line": {"width": 0}}, customdata=bounds,
            hovertemplate=f"{hover}: %{{y}}<extra>{t[key]}</extra>"))
    _timeout_marker(parts, timeout, on_scale, t, number)
    requests = int(np.count_nonzero(cols["kind"] == Ev.ARRIVE))
    share = gave_ms.size / requests if requests else 0.0
    subtitle = t["wait_subtitle"].format(
        gave_up=number(gave_ms.size), requests=number(requests),
        share=t["percent"].format(value=number(round(share * 100, 1))))
    layout = {
        "barmode": "stack",
        "bargap": 0,
        "hovermode": "closest",
        "xaxis": _axis(t["wait_axis"], range=[0, float(edges[-1])]),
        "yaxis": _axis(t["requests_axis"], type="log" if log_y else "linear"),
    }
    return _figure(parts, layout, t["wait_title"], subtitle, f"waits:{scenario.name}", HEIGHT)


def _timeout_marker(parts: _Parts, timeout: AcquireTimeout | None, on_scale: bool,
                    t: Mapping[str, str], number: Number) -> None:
    """A vertical line at the acquire timeout; or a note that it is off the chart, or absent."""
    if timeout is None:
        return
    note: dict[str, Any] = {"name": "timeout", "xref": "x domain", "x": 0.99, "xanchor": "right",
                            "yref": "y domain", "y": 1, "yanchor": "top", "showarrow": False,
                            "bgcolor": "rgba(255,255,255,0.8)"}
    if timeout.ms is None:
        parts.annotations.append({**note, "text": t["no_timeout"].format(name=timeout.name, value="None")})
        return
    parts.shapes.append({"type": "line", "name": "timeout", "xref": "x", "x0": timeout.ms,
                         "x1": timeout.ms, "yref": "y domain", "y0": 0, "y1": 1, "layer": "above",
                         "line": {"color": COLORS["limit"], "width": 2, "dash": "dash"}})
    label = t["timeout_line" if on_scale else "timeout_off_scale"].format(
        name=timeout.name, value=number(timeout.value or 0.0), unit=t[f"unit_{timeout.unit}"])
    if on_scale:
        note.update(xref="x", x=timeout.ms)
    parts.annotations.append({**note, "text": label})


# --------------------------------------------------------- connection timeline


@dataclass
class _Bar:
    start: float
    end: float
    conn: int
    instance: int
    requests: int


def connection_timeline(trace: Trace, scenario: Scenario, end_s: float, *,
                        text: Mapping[str, str] | None = None, max_connections: int = 60,
                        number: Number = plain_number) -> go.Figure:
    """One row per connection: its states as bars, its pings, deaths and errors as marks, and
    how it ended. Shows the churn (overflow, recycle, broken) that the totals hide."""
    t = _texts(text)
    spans, marks = connection_spans(trace.columns(), end_s)
    rows, total = _rows(spans, max_connections)
    res = end_s / PIXELS if end_s > 0 else 0.0
    parts = _Parts()
    parts.traces.append(_bars(IDLE, _life_bars(spans, rows), rows, t, width=0.45))
    for state, bars in _state_bars(spans, rows, res).items():
        parts.traces.append(_bars(state, bars, rows, t))
    parts.traces.extend(_mark_traces(marks, rows, res, t))
    parts.traces.extend(_end_traces(spans, rows, t))
    hidden = total - len(rows)
    subtitle = (t["timeline_subtitle_capped"].format(shown=number(len(rows)), total=number(total),
                                                     hidden=number(hidden))
                if hidden > 0 else t["timeline_subtitle"].format(total=number(total)))
    if not rows:
        parts.annotations.append({"text": t["no_connections"], "xref": "paper", "yref": "paper",
                                  "x": 0.5, "y": 0.5, "showarrow": False})
    height = int(np.clip(140 + 18 * len(rows), 350, 900))
    layout = {"hovermode": "closest", "barmode": "overlay",
              "xaxis": _axis(t["time_axis"], range=[0, end_s]),
              "yaxis": _timeline_yaxis(parts, rows, spans, height, t)}
    return _figure(parts, layout, t["timeline_title"], subtitle, f"timeline:{scenario.name}", height)


def _rows(spans: list[Span], limit: int) -> tuple[dict[int, int], int]:
    """Row of each shown connection: the first `limit` opened, grouped by instance.

    Returns (connection -> row, how many connections the run had).
    """
    first: dict[int, tuple[float, int]] = {}
    for s in spans:
        if s.conn not in first:
            first[s.conn] = (s.start, s.instance)
    chosen = sorted(first, key=lambda c: (first[c][0], c))[:max(limit, 0)]
    ordered = sorted(chosen, key=lambda c: (first[c][1], first[c][0], c))
    return {c: i for i, c in enumerate(ordered)}, len(first)


def _life_bars(spans: list[Span], rows: dict[int, int]) -> list[_Bar]:
    """Each connection's open life as one bar, drawn thin in the idle colour; busy, leaked and
    dead bars cover it. Idle is what stays uncovered: one bar per connection, not one per gap."""
    life: dict[int, _Bar] = {}
    for s in spans:
        if s.conn not in rows or s.state == CONNECTING:
            continue
        bar = life.get(s.conn)
        if bar is None:
            life[s.conn] = _Bar(s.start, s.end, s.conn, s.instance, 0)
        else:
            bar.end = max(bar.end, s.end)
    return list(life.values())


def _state_bars(spans: list[Span], rows: dict[int, int], res: float) -> dict[str, list[_Bar]]:
    """Connecting, busy, leaked and dead stretches. Same-state stretches of one connection less
    than `res` (under a pixel) apart are merged, so a long busy run stays a few thousand bars."""
    out: dict[str, list[_Bar]] = {CONNECTING: [], BUSY: [], LEAKED: [], DEAD: []}
    last: dict[int, tuple[str, _Bar]] = {}
    for s in spans:  # sorted by connection, then start
        if s.conn not in rows or s.state == IDLE:
            continue
        held = 1 if s.request >= 0 and s.state in (BUSY, LEAKED) else 0
        prev = last.get(s.conn)
        if prev and prev[0] == s.state and s.start - prev[1].end < res:
            prev[1].end = s.end
            prev[1].requests += held
            continue
        bar = _Bar(s.start, s.end, s.conn, s.instance, held)
        out[s.state].append(bar)
        last[s.conn] = (s.state, bar)
    return out


def _bars(state: str, bars: list[_Bar], rows: dict[int, int], t: Mapping[str, str],
          width: float = 0.8) -> go.Bar:
    """One horizontal bar trace for every bar of one state (kept when empty: the legend is the key)."""
    start = np.round(np.array([b.start for b in bars], dtype=float), 4)  # 0.1 ms: shorter JSON
    end = np.array([b.end for b in bars], dtype=float)
    custom = np.array([[b.conn, b.instance, b.requests] for b in bars], dtype=np.int32).reshape(-1, 3)
    # a horizontal bar's %{x} in a hover is where it ends (base + length)
    span = t["life_hover" if state == IDLE else "span_hover"]  # the idle bar spans the whole life
    hover = [t["row"].format(conn="%{customdata[0]}", instance="%{customdata[1]}"),
             span.format(start="%{base:.3f}", end="%{x:.3f}")]
    if state in (BUSY, LEAKED):
        hover.append(t["requests_hover"].format(n="%{customdata[2]}"))
    name = t[f"state_{state}"]
    return _bar(
        orientation="h", y=np.array([rows[b.conn] for b in bars], dtype=np.int32),
        base=start.tolist(), x=end - start, width=width, name=name, meta=state,
        customdata=custom,
        marker={"color": COLORS[state], "line": {"width": 0}},
        hovertemplate="<br>".join(hover) + f"<extra>{name}</extra>")


def _mark_traces(marks: list[Mark], rows: dict[int, int], res: float,
                 t: Mapping[str, str]) -> list[go.Scatter]:
    """Pings, deaths and query errors: one marker trace per kind and reason.

    Pings closer than a marker's width on one row are drawn once: pre-ping pings at every
    checkout, and thousands of overlapping dots would say no more than one.
    """
    res *= PING_PIXELS
    groups: dict[tuple[str, str], dict[tuple[int, int], Mark]] = {}
    for i, m in enumerate(marks):
        if m.conn not in rows:
            continue
        slot = (rows[m.conn], int(m.t / res) if m.kind == "ping" and res > 0 else i)
        groups.setdefault((m.kind, m.reason), {}).setdefault(slot, m)
    out = []
    for (kind, reason), chosen in sorted(groups.items()):
        if kind == "ping":
            name = t["ping_ok" if reason == "ok" else "ping_fail"]
            color = COLORS["completed" if reason == "ok" else "error"]
        else:
            name = t[f"{kind}_mark"].format(reason=_reason(t, reason))
            color = COLORS["dead" if kind == "dead" else "error"]
        points = list(chosen.values())
        out.append(_scatter(
            x=np.array([m.t for m in points]), y=np.array([rows[m.conn] for m in points], dtype=np.int32),
            mode="markers", name=name, meta=f"{kind}:{reason}",
            customdata=np.array([[m.conn, m.instance] for m in points], dtype=np.int32),
            marker={"symbol": MARK_SYMBOLS[kind], "color": color, "size": 7 if kind == "ping" else 12,
                    "line": {"width": 1, "color": "white"}},
            hovertemplate=_point_hover(t, name)))
    return out


def _end_traces(spans: list[Span], rows: dict[int, int], t: Mapping[str, str]) -> list[go.Scatter]:
    """How each connection ended, at the end of its last span: one marker trace per way."""
    ends: dict[str, list[Span]] = {}
    for s in spans:
        if s.ended_by and s.conn in rows:
            ends.setdefault(s.ended_by, []).append(s)
    out = []
    for ended_by, done in sorted(ends.items()):
        how, _, reason = ended_by.partition(":")
        failed = how == "connect_fail"
        name = t["end_connect_fail" if failed else "end_close"].format(reason=_reason(t, reason))
        out.append(_scatter(
            x=np.array([s.end for s in done]), y=np.array([rows[s.conn] for s in done], dtype=np.int32),
            mode="markers", name=name, meta=ended_by,
            customdata=np.array([[s.conn, s.instance] for s in done], dtype=np.int32),
            marker={"symbol": "triangle-left" if failed else END_SYMBOLS.get(reason, "circle"),
                    "size": 13, "color": COLORS["error" if failed else "limit"],
                    "line": {"width": 1.5, "color": "white"}},
            hovertemplate=_point_hover(t, name)))
    return out


def _point_hover(t: Mapping[str, str], name: str) -> str:
    row = t["row"].format(conn="%{customdata[0]}", instance="%{customdata[1]}")
    return f"{row}<br>%{{x:.3f}} {t['unit_s']}<extra>{name}</extra>"


def _timeline_yaxis(parts: _Parts, rows: dict[int, int], spans: list[Span], height: int,
                    t: Mapping[str, str]) -> dict[str, Any]:
    """Connection labels down the side, thinned when rows are tighter than the type, and a
    rule between instances."""
    instance = {s.conn: s.instance for s in spans if s.conn in rows}
    ordered = sorted(rows, key=rows.__getitem__)
    row_px = (height - 190) / max(len(rows), 1)
    shown = ordered[::max(1, int(np.ceil((SMALL + 2) / row_px)))]
    for a, b in itertools.pairwise(ordered):
        if instance[a] != instance[b]:
            parts.shapes.append({"type": "line", "name": "instance_rule", "xref": "x domain", "x0": 0,
                                 "x1": 1, "yref": "y", "y0": rows[b] - 0.5, "y1": rows[b] - 0.5,
                                 "line": {"color": "#999999", "width": 1}})
    return _axis(t["timeline_axis"], autorange="reversed", tickmode="array",
                 tickvals=[rows[c] for c in shown],
                 ticktext=[t["row"].format(conn=c, instance=instance[c]) for c in shown],
                 showgrid=False, zeroline=False)


__all__ = ["COLORS", "EN", "AcquireTimeout", "acquire_timeout", "connection_timeline",
           "connections_over_time", "gave_up_waits", "plain_number", "wait_histogram"]
