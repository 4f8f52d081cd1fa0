"""Every plotly figure of the app is drawn by one component of ours (figure.js), not st.plotly_chart.

Why: st.plotly_chart loads Streamlit's full plotly.js (4.7 MB) on a page's
first figure, which was half of the playground's first render here, and it
mounts a new chart for every new figure, through a theme pass and a full
newPlot: most of the browser's part of a slider change. figure.js loads the
basic bundle (scatter and bar, 1.2 MB, static/plotly-basic.min.js served by
`server.enableStaticServing`) and redraws a keyed figure with Plotly.react
in the same div. The figures are drawn as plotly.js draws them, with no
Streamlit theme (every figure here brings its own).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.io as pio
import streamlit as st

from app.ui import t

NAME = "figure"
"""The component's name: AppTest lists its elements as `bidi_component` with this `component_name`."""

STILL = {"displayModeBar": False}
"""The plotly.js config of a figure with no zoom, pan or download buttons (the stands)."""

_JS = Path(__file__).with_name("figure.js").read_text(encoding="utf-8")
# In the page's own DOM, not a shadow root: plotly.js puts its styles in the document's head.
_mount = st.components.v2.component(NAME, js=_JS, isolate_styles=False)


def payload(figure: Any, config: Mapping[str, Any] | None = None) -> bytes:
    """What the browser gets: the figure as plotly's JSON (numpy arrays included), its config, and
    what to say in the page's language if it cannot be drawn."""
    spec = pio.to_json(figure, validate=False)
    words = json.dumps({"config": dict(config or {}), "failed": t("results.figure_failed", error="{error}")})
    return words[:-1].encode() + b',"figure":' + spec.encode() + b"}"


def draw(figure: Any, key: str, config: Mapping[str, Any] | None = None) -> None:
    """Draw `figure` (a go.Figure or its dict) under `key`: the same key on the next rerun redraws
    the same element, so a page's figure is updated in place rather than mounted anew."""
    _mount(key=key, data=payload(figure, config))

