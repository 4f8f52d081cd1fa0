"""What the app's figure component sends the browser (app/figure.py); the drawing is tested in Chromium."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from app import figure
from app.i18n import tr
from tests.app.opened import opened, payloads


def test_the_payload_holds_the_figure_with_its_arrays_and_the_config() -> None:
    drawn = go.Figure(go.Scatter(x=np.arange(3), y=[0.5, 1.5, 2.5]), layout={"height": 300},
                      frames=[go.Frame(name="f1", data=[go.Scatter(y=[1, 2, 3])])])
    sent = json.loads(figure.payload(drawn, figure.STILL))
    assert sent["config"] == {"displayModeBar": False}
    assert sent["figure"]["data"][0]["y"] == [0.5, 1.5, 2.5] and sent["figure"]["layout"]["height"] == 300
    assert "bdata" in sent["figure"]["data"][0]["x"]   # a numpy array, as plotly.js's typed-array spec
    assert [f["name"] for f in sent["figure"]["frames"]] == ["f1"]
    assert "{error}" in sent["failed"]   # filled in by the browser with what went wrong


@pytest.mark.app
def test_every_figure_of_a_page_says_in_its_language_why_it_could_not_be_drawn() -> None:
    at = opened("app/pages/playground.py", 60, lang="ru")
    sent = payloads(at)
    assert len(sent) == 2   # the stand and connections over time
    assert {s["failed"] for s in sent} == {tr("ru", "results.figure_failed", error="{error}")}
    assert [s["config"] for s in sent] == [figure.STILL, figure.CHART]   # the charts keep zoom and download
    assert {s["source"] for s in sent} == {"/app/static/plotly-basic.min.js"}


PLACEHOLDER = re.compile(r'"#0000(?:0[1-9]|[12]\d|30)"')
"""Streamlit's template colours ("#000001" to "#000030"), which st.plotly_chart alone fills in."""


@pytest.mark.app
@pytest.mark.parametrize("page", ["app/pages/playground.py", "app/pages/race.py", "app/pages/home.py"])
def test_no_figure_carries_streamlits_colour_placeholders(page: str) -> None:
    """Left in, a trace with no colour of its own would be drawn near-black."""
    at = opened(page, 60)
    sent = [json.dumps(p) for p in payloads(at)]
    assert sent
    assert not [PLACEHOLDER.findall(s) for s in sent if PLACEHOLDER.search(s)]
