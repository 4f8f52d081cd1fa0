"""A sizing's answer as the page shows it: the sweep's table, its chart, the recommendation and the formulas.

Every word comes from the catalogs (`sizing.*`), every number through the
session's language (`app.ui.num`, `pct`); a wait without end (no request got
a connection on some seed) is written ∞ and left out of the chart.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from app.charts import COLORS, FONT, SMALL
from app.ui import num, pct, t
from sim.sizing import Estimate, Row, Sizing

GRID = "#E5E5E5"
BAND = "rgba(0, 114, 178, 0.18)"      # the p99 line's colour (COLORS["busy"]), light: its 95% interval
OVER = "rgba(213, 94, 0, 0.08)"       # sizes beyond the server's budget (COLORS["error"]), light
OVER_KEY = "rgba(213, 94, 0, 0.25)"   # ... and its legend's key, darker: a small square must still show it
ZOOM = 3.0                            # the wait axis ends at this many times the target (see chart)


def ms(value: float) -> str:
    return "∞" if not math.isfinite(value) else num(value, 1)


def interval(e: Estimate) -> str:
    """A mean with its 95% interval, "26.5 (6.5 to 46.6)" with a dash; one figure when the seeds agree."""
    low, mean, high = ms(e.low), ms(e.mean), ms(e.high)
    return mean if low == mean == high else f"{mean} ({low}–{high})"


def verdict(row: Row, sizing: Sizing) -> str:
    if row is sizing.recommended:
        return "✓ " + t("sizing.verdict.recommended")
    if not row.fits:
        return t("sizing.verdict.over_budget")
    return t("sizing.verdict.meets" if row.meets else "sizing.verdict.misses")


def table(sizing: Sizing) -> list[dict[str, str]]:
    """One row per size, every cell text (the column names translated); worker waits only with workers.
    Through PgBouncer the size is its default_pool_size, and the column says so."""
    need = sizing.need
    out = []
    for r in sizing.rows:
        row = {t("sizing.col.size_pooled" if need.pooled else "sizing.col.size"): num(r.size, 0),
               t("sizing.col.p95"): interval(r.p95_wait_ms),
               t("sizing.col.p99"): interval(r.p99_wait_ms),
               t("sizing.col.timed_out"): pct(r.timed_out.mean, 2),
               t("sizing.col.server"): t("sizing.of_budget", used=num(r.server_connections, 0),
                                         budget=num(need.budget, 0))}
        if need.workers:
            row[t("sizing.col.worker_p99")] = interval(r.worker_p99_ms)
        row[t("sizing.col.verdict")] = verdict(r, sizing)
        out.append(row)
    return out


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def chart(sizing: Sizing) -> go.Figure:
    """p99 wait against size: the mean over seeds, its 95% band, the target, and the sizes over the budget.

    The target and the over-budget sizes are named in the legend, not by labels on the plot, which
    would cover each other (and the curve) on a phone. The wait axis ends at `ZOOM` times the target
    (or a little above the recommended size's interval), where the choice is made: a pool much too
    small waits seconds, which would flatten everything else (its figures are in the table).
    Through PgBouncer the sizes are its default_pool_size, the wait includes its queue, and the budget
    is the server's alone (PgBouncer's connections are all it sees).
    """
    need, rows = sizing.need, sizing.rows
    pooled = "_pooled" if need.pooled else ""   # the labels' keys through PgBouncer
    sizes = [r.size for r in rows]
    mean = [_finite(r.p99_wait_ms.mean) for r in rows]
    high = [_finite(r.p99_wait_ms.high) for r in rows]
    low = [_finite(r.p99_wait_ms.low) for r in rows]
    best = sizing.recommended
    top = max(ZOOM * need.p99_wait_ms, 1.25 * best.p99_wait_ms.high if best is not None else 0.0)
    highest = max((v for v in (*mean, *high) if v is not None), default=0.0)
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=sizes, y=high, mode="lines", line={"width": 0}, hoverinfo="skip",
                                showlegend=False))
    figure.add_trace(go.Scatter(x=sizes, y=low, mode="lines", line={"width": 0}, fill="tonexty",
                                fillcolor=BAND, name=t("sizing.chart.band"), hoverinfo="skip"))
    figure.add_trace(go.Scatter(
        x=sizes, y=mean, mode="lines+markers", name=t("sizing.chart.p99"),
        line={"color": COLORS["busy"], "width": 2.5}, marker={"size": 7},
        customdata=[[interval(r.p99_wait_ms)] for r in rows],
        hovertemplate=t(f"sizing.chart.hover{pooled}", size="%{x}", value="%{customdata[0]}")
        + "<extra></extra>"))
    if best is not None and mean[rows.index(best)] is not None:
        figure.add_trace(go.Scatter(
            x=[best.size], y=[mean[rows.index(best)]], mode="markers", name=t("sizing.chart.recommended"),
            marker={"symbol": "star", "size": 18, "color": COLORS["completed"],
                    "line": {"color": "#000000", "width": 1}},
            hoverinfo="skip"))
    target = {"color": COLORS["limit"], "dash": "dash", "width": 1.5}
    figure.add_hline(y=need.p99_wait_ms, line=target)
    figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=target,
                                name=t("sizing.chart.target", value=num(need.p99_wait_ms, 1))))
    last_fit = need.budget if need.pooled else need.budget // need.instances
    if sizes and last_fit < sizes[-1]:
        figure.add_vrect(x0=last_fit + 0.5, x1=sizes[-1] + 0.5, fillcolor=OVER, line_width=0, layer="below")
        figure.add_vline(x=last_fit + 0.5, line={"color": COLORS["error"], "width": 1.5})
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers",
                                    marker={"symbol": "square", "size": 14, "color": OVER_KEY,
                                            "line": {"color": COLORS["error"], "width": 1.5}},
                                    name=t(f"sizing.chart.budget{pooled}", size=num(last_fit, 0))))
    axis: dict[str, object] = {"title": {"text": t(f"sizing.chart.wait_axis{pooled}"),
                                         "font": {"size": FONT}},
                               "gridcolor": GRID, "zeroline": False, "rangemode": "tozero"}
    if highest > 1.1 * top:
        axis["range"] = [0, top]
    figure.update_layout(
        height=400, margin={"l": 60, "r": 20, "t": 10, "b": 50}, font={"size": SMALL},
        plot_bgcolor="white", paper_bgcolor="white", hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "font": {"size": SMALL},
                "traceorder": "normal"},
        xaxis={"title": {"text": t(f"sizing.chart.size_axis{pooled}"), "font": {"size": FONT}},
               "gridcolor": GRID, "tickformat": "d", "zeroline": False},
        yaxis=axis)
    return figure


def settings_text(settings: dict[str, Any]) -> str:
    """The recommended settings as a configuration writes them, one a line: `pool_size = 14`."""
    return "\n".join(f"{name} = {value}" for name, value in settings.items())


def compared(value: float | None, simulated: int | None) -> str:
    """How a formula's size stands to the simulated one: "fewer", "more", "same", or "no_answer" when the
    simulation recommends none (a catalog key's suffix)."""
    if value is None or simulated is None:
        return "no_answer"
    if value < simulated - 0.5:
        return "fewer"
    return "more" if value > simulated + 0.5 else "same"


__all__ = ["chart", "compared", "interval", "ms", "settings_text", "table", "verdict"]
