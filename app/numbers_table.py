"""Two runs' numbers in one table: each figure for both, their difference, and which side it favours.

Shared by the pages that set two runs beside each other (A against B, and
the simulated against the live run), so a figure is written the same way in
both: shares as percentages, short times to 0.01 ms, differences signed.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.ui import num, pct, t
from sim.measures import Measure, measure
from sim.metrics import Metrics

ROW_PX = 35   # a dataframe row's height: a table as tall as its rows is never scrolled
GREEN, RED = "#1B5E20", "#B3261E"

RACE_ROWS = ("requests", "completed", "timed_out", "errors.all", "leaked", "p_wait", "wait_ms.p95",
             "wait_ms.p99", "latency_ms.p95", "peak.open", "peak.waiting", "connects")
"""What A against B shows: the same traffic (requests), what became of it, the waits, the connections."""


def value_text(figure: Measure, value: float | None, signed: bool = False) -> str:
    """A figure as a table shows it, in the page's language: shares as percentages, times to 0.01 ms
    below 10 ms; a difference with its sign (a minus sign, not a hyphen), and 0 when it rounds to 0."""
    if value is None:
        return "–"
    size = abs(value) if signed else value
    if figure.unit == "share":
        size, digits = size * 100, 1
    elif figure.unit == "ms":
        digits = 2 if abs(size) < 10 else 1
    else:
        digits = 0 if float(size).is_integer() else 1
    if signed and round(size, digits) == 0:
        return "0"
    text = pct(size / 100, digits) if figure.unit == "share" else num(size, digits)
    return ("+" if value > 0 else "−") + text if signed else text


def column_width(texts: list[str]) -> int:
    """px for the longest of `texts` (a CJK sign is about twice a Latin letter), so nothing is cut."""
    return 24 + max(sum(15 if ord(ch) > 0x2E80 else 8 for ch in s) for s in texts)


def verdict(figure: Measure, a: float | None, b: float | None) -> str:
    """"better", "worse" or "same" for B, "" when neither is better (how many requests came)."""
    if a is None or b is None or figure.lower_is_better is None:
        return ""
    if round(b - a, 9) == 0 or value_text(figure, b - a, signed=True) == "0":
        return "same"
    return "better" if (b < a) == figure.lower_is_better else "worse"


def pair_table(a: Metrics, b: Metrics, key: str, paths: tuple[str, ...] = RACE_ROWS) -> None:
    """One row per figure: A, B, their difference, and which is better: a word, coloured."""
    import pandas as pd

    cols = {c: t(f"race.col.{c}") for c in ("what", "a", "b", "diff", "verdict")}
    rows: list[dict[str, str]] = []
    said: list[str] = []
    for figure in map(measure, paths):
        va, vb = figure.read(a), figure.read(b)
        word = verdict(figure, va, vb)
        said.append(word)
        diff = None if va is None or vb is None else vb - va
        rows.append({cols["what"]: t(f"metric.{figure.path}"), cols["a"]: value_text(figure, va),
                     cols["b"]: value_text(figure, vb), cols["diff"]: value_text(figure, diff, signed=True),
                     cols["verdict"]: t(f"race.{word}") if word else ""})
    frame = pd.DataFrame(rows)
    colour = {"better": f"color: {GREEN}", "worse": f"color: {RED}"}

    def paint(column: pd.Series) -> list[str]:
        if column.name not in (cols["diff"], cols["verdict"]):
            return [""] * len(column)
        return [colour.get(word, "") for word in said]

    config: dict[str, Any] = {
        name: st.column_config.TextColumn(name, width=column_width([name, *frame[name]]),
                                          alignment="left" if c in ("what", "verdict") else "right")
        for c, name in cols.items()}
    st.dataframe(frame.style.apply(paint), hide_index=True, width="content", column_config=config,
                 height=ROW_PX * (len(frame) + 1) + 3, key=f"{key}.table")
