"""Two runs as one animation: two taxi stands side by side, moved by one slider and one Play.

Two figures with a slider each drift apart as soon as one is played, and a
Streamlit slider redrawing two still figures costs a server round trip per
step. So each side is built as usual (`app.taxi`) over the same end and the
same number of frames, which makes frame k the same moment on both sides,
and the two are merged into one plotly figure: A on the x/y axes, B on
x2/y2 beside it, every frame carrying both sides' moving points (B's trace
indices shifted past A's). The browser then plays both at once, with A's
Play, speed buttons and slider, and no server in the loop.

Both sides keep their own geometry (a pool of 20 has wider rows than one of
5) in equal halves, at the same height, and each keeps its own row names:
a stand draws only the rows its run uses, so B's rows need not be A's, and
on a projector a panel is read without looking back across the screen. B's
names stand in the gap between the panels, as wide as A's margin. No
legend: it would take a third of the width, and the playground, one click
away, has it.
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from app import results, taxi
from app.taxi import Animation
from sim.scenario import Scenario
from sim.trace import Trace

LABELS_PX = 135      # between the two panels: B's row names ("gave up / error"), as A's margin holds A's
TITLE_PX = 30        # above the panels, for their titles
PAGE_PLOT_PX = 1070  # both panels and the gap, across a page with 2 rem padding at 1280 px (row labels left)
HEIGHT = 480         # each stand's; the figure is TITLE_PX taller

Figure = dict[str, Any]   # a figure as `to_dict` gives it: data, layout, frames
Side = tuple[str, Trace, Scenario]   # a run's cache key, its trace and the scenario it was drawn for


def half_px(plot_px: float) -> float:
    """The plot width of one panel, out of the two panels' and their gap's `plot_px`."""
    return round((plot_px - LABELS_PX) / 2, 1)


def merge(a: Figure, b: Figure, titles: tuple[str, str], plot_px: float = PAGE_PLOT_PX) -> Animation:
    """A's and B's figures as one, A left and B right; `titles` are plain text, one above each panel.

    `plot_px` is the plot area the figure will get, both panels and the gap between them.
    """
    shift = len(a["data"])
    data = [*a["data"], *({**trace, "xaxis": "x2", "yaxis": "y2"} for trace in b["data"])]
    return Animation(data=data, layout=_layout(a, b, titles, plot_px),
                     frames=_frames(a["frames"], b["frames"], shift))


def _frames(a: list[dict[str, Any]], b: list[dict[str, Any]], shift: int) -> list[dict[str, Any]]:
    """Frame k of both sides in one; a side with fewer frames (it should not have) stays on its last."""
    out = []
    for k in range(max(len(a), len(b))):
        fa, fb = a[min(k, len(a) - 1)], b[min(k, len(b) - 1)]
        out.append({"name": str(k), "data": [*fa["data"], *fb["data"]],
                    "traces": [*fa["traces"], *(i + shift for i in fb["traces"])]})
    return out


def _layout(a: Figure, b: Figure, titles: tuple[str, str], plot_px: float) -> dict[str, Any]:
    la, lb = a["layout"], b["layout"]
    gap = min(LABELS_PX / plot_px, 0.4)
    left, right = (0.0, 0.5 - gap / 2), (0.5 + gap / 2, 1.0)
    top = max(la["margin"]["t"], lb["margin"]["t"])   # a "first 6 of 8 stands" note makes it taller
    annotations = [*_within(la.get("annotations", []), left, second=False),
                   *_within(lb.get("annotations", []), right, second=True),
                   _title(titles[0], left[0], top), _title(titles[1], right[0], top)]
    longer = la if len(a["frames"]) >= len(b["frames"]) else lb
    kept = {k: v for k, v in la.items() if k not in ("template", "legend", "annotations", "shapes")}
    return {**kept,
            "height": la["height"] + TITLE_PX + top - la["margin"]["t"],
            "margin": {**la["margin"], "t": top + TITLE_PX, "r": 10},
            "showlegend": False,
            "xaxis": {**la["xaxis"], "domain": list(left)},
            "xaxis2": {**lb["xaxis"], "domain": list(right), "anchor": "y2"},
            "yaxis2": {**lb["yaxis"], "anchor": "x2", "automargin": False},   # its names in the gap
            "shapes": [*la.get("shapes", []), *(_on_b(shape) for shape in lb.get("shapes", []))],
            "annotations": annotations,
            "sliders": longer["sliders"],
            "updatemenus": la["updatemenus"]}


def _within(annotations: list[dict[str, Any]], domain: tuple[float, float], second: bool
            ) -> list[dict[str, Any]]:
    """A side's notes: across its own panel where they were across the figure, on B's axes if B's."""
    lo, hi = domain
    return [{**n, "x": lo + (hi - lo) * float(n.get("x", 0))} if n.get("xref") == "paper"
            else _on_b(n) if second else n for n in annotations]


def _on_b(item: dict[str, Any]) -> dict[str, Any]:
    """A shape or note of B's figure, referred to B's axes (x2, y2) where it was to the first ones."""
    moved = dict(item)
    for axis in ("x", "y"):
        ref = item.get(f"{axis}ref", axis)
        if ref in (axis, f"{axis} domain"):
            moved[f"{axis}ref"] = ref.replace(axis, f"{axis}2", 1)
    return moved


def _title(text: str, x: float, top: int) -> dict[str, Any]:
    return {"text": f"<b>{html.escape(text, quote=False)}</b>", "x": x, "xref": "paper", "xanchor": "left",
            "y": 1.0, "yref": "paper", "yanchor": "bottom", "yshift": top - taxi.MARGIN_TOP,
            "showarrow": False, "font": {"size": taxi.FONT - 1, "color": taxi.BLACK}}


def run_end(trace: Trace, end_s: float) -> float:
    """Where a run's animation ends: its end, or its last event if that came later (a live drain)."""
    t_col = trace.columns()["t"]
    return max(float(end_s), float(t_col[-1]) if t_col.size else 0.0, 0.0)


@st.cache_resource(max_entries=8, show_spinner=False)
def pair_figure(keys: tuple[str, str], lang: str, _sides: tuple[Side, Side], end_s: float,
                titles: tuple[str, str], height: int = HEIGHT, plot_px: float = PAGE_PLOT_PX) -> Animation:
    """Both runs as one animation over `end_s` (the later of their ends), built once per pair and language.

    `keys` are the runs' cache keys; each side is drawn by `results.taxi_figure`
    for half of `plot_px`, with the frame count every stand uses.
    """
    a, b = (results.taxi_figure(key, lang, trace, scenario, end_s, height, half_px(plot_px)).to_dict()
            for key, trace, scenario in _sides)
    return merge(a, b, titles, plot_px)


__all__ = ["merge", "pair_figure", "run_end"]
