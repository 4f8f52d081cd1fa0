"""The web server's garbage collector, set for reruns that build an animation.

A rerun that redraws the taxi stand makes a few hundred thousand small
containers (every frame's taxis, points and texts). With Python's default
thresholds (700 allocations per young collection) that many tripped the full
collection every other rerun, and in the server's process, with Streamlit,
plotly, pandas and Babel loaded, a full collection walks every object they
hold: building the playground's stand (then 200 frames) took 115 ms at the
median and up to 205, against 55 with the young generation at 10,000. Garbage still goes as soon as its last
reference does; only cycles wait a little longer to be found.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 20, 10)
"""Allocations per young collection, young collections per middle one, middle ones per full one."""


def tune() -> None:
    """Set the process's thresholds (the same every rerun, so calling it again costs nothing)."""
    if gc.get_threshold() != THRESHOLDS:
        gc.set_threshold(*THRESHOLDS)
