"""Simulation runs for the pages, cached by the scenario's own text.

A control change reruns the page; the same scenario (same TOML, seed
included) returns the cached run at once. The cache holds the run's result
object (trace in typed columns, a few bytes a row), not figures, so every
page and language draws from it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from sim.metrics import summarize
from sim.model import run
from sim.scenario import Scenario, loads
from sim.trace import Trace


@st.cache_data(max_entries=64, show_spinner=False)
def simulate(toml_text: str) -> tuple[Trace, float, dict[str, Any]]:
    """(trace, end of run on the scenario clock, metrics) of a scenario given as TOML."""
    scenario = loads(toml_text)
    result = run(scenario)
    return result.trace, result.end_s, summarize(result.trace, scenario, result.end_s, result.sim_seconds)


def simulate_scenario(scenario: Scenario) -> tuple[Trace, float, dict[str, Any]]:
    return simulate(scenario.to_toml())
