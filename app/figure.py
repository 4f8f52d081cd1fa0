"""Every plotly figure of the app is drawn by one component of ours (figure.js), not st.plotly_chart.

Why: st.plotly_chart loads Streamlit's full plotly.js (4.7 MB) on a page's
first figure, which was half of the playground's first render here, and it
mounts a new chart for every new figure, through a theme pass and a full
newPlot: most of the browser's part of a slider change. figure.js loads the
basic bundle (scatter and bar, 1.2 MB, static/plotly-basic.min.js served by
`server.enableStaticServing`) and redraws a keyed figure with Plotly.react
in the same div. The figures are drawn as plotly.js draws them, with no
Streamlit theme.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.io as pio
import streamlit as st

from app.ui import t

# Importing Streamlit makes plotly's default template one whose colours are placeholders ("#000001"...)
# that st.plotly_chart replaces in the browser. Nothing replaces them here: figures are built with
# plotly.js's own defaults, so a trace given no colour of its own is not drawn near-black.
pio.templates.default = "none"

NAME = "figure"
"""The component's name: AppTest lists its elements as `bidi_component` with this `component_name`."""

STILL = {"displayModeBar": False}
"""The plotly.js config of a figure with no zoom, pan or download buttons (the stands)."""

CHART = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
"""The config of a chart: zoom, pan and download, no link to plotly.com and no selection tools (nothing
here reads a selection), as st.plotly_chart drew them."""

SOURCE = "static/plotly-basic.min.js"
"""The bundle figure.js loads, under the app's address (`server.enableStaticServing` serves ./static)."""

_JS = Path(__file__).with_name("figure.js").read_text(encoding="utf-8")
# In the page's own DOM, not a shadow root: plotly.js puts its styles in the document's head.
_mount = st.components.v2.component(NAME, js=_JS, isolate_styles=False)


def source() -> str:
    """The bundle's address from the site's root, under the app's own path if it is served below one
    (`server.baseUrlPath`): a relative address would break on a page address that ends in a slash."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return "/" + "/".join(part for part in (base, "app", SOURCE) if part)


def payload(figure: Any, config: Mapping[str, Any] = CHART, when_seen: bool = False) -> bytes:
    """What the browser gets: the figure as plotly's JSON (numpy arrays included), its config, where
    plotly.js is, what to say in the page's language if the figure cannot be drawn, and whether to
    wait until it is on screen to draw it."""
    spec = pio.to_json(figure, validate=False)
    words = json.dumps({"config": dict(config), "source": source(), "whenSeen": when_seen,
                        "failed": t("results.figure_failed", error="{error}")})
    return words[:-1].encode() + b',"figure":' + spec.encode() + b"}"


def draw(figure: Any, key: str, config: Mapping[str, Any] = CHART, when_seen: bool = False) -> None:
    """Draw `figure` (a go.Figure or its dict) under `key`: the same key on the next rerun redraws
    the same element, so a page's figure is updated in place rather than mounted anew.

    `when_seen`: drawn only once it is on screen (the charts under a page's first screen),
    so a control's change spends the browser's time on what is in view: on the playground, with the
    chart below the stand put off, the browser's main thread worked 44 ms less per change (interleaved
    A/B, 20 changes each).
    """
    _mount(key=key, data=payload(figure, config, when_seen))

