"""The web server's garbage collector, set for reruns that build an animation.

A rerun that redraws the taxi stand makes a few hundred thousand small
containers (every frame's taxis, points and texts). With Python's default
thresholds (700 allocations per young collection) that many tripped the full
collection every other rerun, and in the server's process, with Streamlit,
plotly, pandas and Babel loaded, a full collection walks every object they
hold: building the playground's stand (then 200 frames) took 115 ms at the
median and up to 205, against 55 with the young generation at 10,000. Garbage still goes as soon as its last
reference does; only cycles wait a little longer to be found.

What the imports made (modules, classes, functions, Babel's and plotly's
tables) lives as long as the process, yet every full collection walks it, and
Streamlit makes one after each rerun (`runner.postScriptGC`): some 45 ms in
the server's process, on two cores while the browser draws the rerun's
stand. Once the first page has run, those objects are frozen out of the
collector's walks (`gc.freeze`): a slider's change then redrew the
playground's stand some 20 ms sooner (interleaved A/B, 30 changes each, twice).
"""

from __future__ import annotations

import gc

_frozen = False
"""Whether `freeze_once` has frozen this process's objects."""

THRESHOLDS = (10_000, 20, 10)
"""Allocations per young collection, young collections per middle one, middle ones per full one."""


def tune() -> None:
    """Set the process's thresholds (the same every rerun, so calling it again costs nothing)."""
    if gc.get_threshold() != THRESHOLDS:
        gc.set_threshold(*THRESHOLDS)


def freeze_once() -> None:
    """After the process's first page has run, what it holds stays out of every later collection's walk.

    Collected first, so no garbage is frozen with it; what the first session
    made is frozen too, a bounded, once-only share that reference counting
    still frees (only cycles among it would stay). Remembered in a flag:
    `gc.get_freeze_count()` walks the frozen objects one by one, 11 ms for the
    115,000 here, on every rerun.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()
