"""The parts of a page that start a live run and follow it: shared by the live lab and Compare.

The run itself lives in the live lab's worker process; the page keeps only its
`RemoteSession` in session_state, and a fragment polls the session's snapshot
twice a second (never a Streamlit call from the worker). When the run ends
the fragment reruns the whole page once, which then draws the result.

A run belongs to its browser session: when the session ends (the tab is
closed, the connection lost), Streamlit releases the session's resources and
the run is stopped, so nobody's closed tab keeps a server busy.

While it runs, `live_stand` draws the taxi stand of the trace so far, with
the same code as a finished run's, standing still at the latest moment:
each poll fetches only the rows written since the last one, and the figure
is rebuilt at most as often as it can be without taking more than about
half of the session's time (its build grows with the trace: a second or so
for the few hundred thousand rows of the largest run the lab takes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app import taxi
from app.background import live_worker
from app.figure import STILL, draw
from app.results import stand_words
from app.ui import lang, num, plain, t
from live.runner import check, installed
from live.server import LiveError, external
from live.session import Snapshot, TraceSoFar
from live.worker import RemoteSession
from sim.scenario import Scenario
from sim.trace import Trace

POLL_S = 0.5          # the fragment's period while a run goes on
BUSY_SHARE = 0.5      # the stand's builds take at most about this share of the session's script thread
LIVE_FRAMES = 60      # the still stand is the last of at most this many bins (its caption and instants)
LIVE_HEIGHT = 500     # px, the legend below included
LIVE_PLOT_PX = 510    # the plot area it gets beside the server's table at 1280 x 720
LEGEND_PX = 80        # below the plot: the legend, in two or three rows


def refuse_unrunnable(scenario: Scenario, database_url: str | None, time_scale: float = 1.0) -> None:
    """A scenario the live lab will not run here: say why, before anything is asked of a server, and stop.

    HikariCP and Go have no Python implementation; anything beyond the live
    lab's limits (a day at 100,000 requests a second) is refused with its figures.
    """
    if scenario.pool.simulation_only:
        st.warning(t("live.simulation_only", kind=scenario.pool.kind))
        st.stop()
    try:
        check(scenario, external(database_url) if database_url else None, time_scale)
    except LiveError as e:
        st.error(plain(e), icon=":material/block:")
        st.stop()


def _stop_all(runs: list[RemoteSession]) -> None:
    for run in runs:
        run.stop()


@st.cache_resource(scope="session", on_release=_stop_all, show_spinner=False)
def _runs_of_this_session() -> list[RemoteSession]:
    """The live runs started from this browser session; stopped when it ends."""
    return []


def belongs_to_this_session(run: RemoteSession) -> None:
    """Stop `run` when this browser session ends (its tab closed, its connection lost)."""
    _runs_of_this_session().append(run)


def about(seconds: float) -> dict[str, str]:
    """A wall-clock duration as a Run button says it: `seconds` or, from two minutes, `minutes`."""
    unit, value = ("minutes", seconds / 60) if seconds >= 120 else ("seconds", seconds)
    value = round(value, 1)
    return {unit: num(value, 0 if value >= 10 or value.is_integer() else 1)}


def overhead(key: str) -> float | None:
    """How much longer than its scenario's time the page's last whole run took (setup and cleanup), if any.

    Kept in the session, so the next Run button can include it in its estimate;
    without the wait for the sandbox server, which the first run starts and
    the next ones find running.
    """
    session = finished(key)
    result = session.result if session is not None else None
    if result is not None and not result.cancelled and result.time_scale > 0:
        clocked = result.end_s / result.time_scale + result.lease_seconds
        st.session_state[f"{key}.overhead_s"] = max(result.wall_seconds - clocked, 0.0)
    value = st.session_state.get(f"{key}.overhead_s")
    return float(value) if value is not None else None


def run_button(key: str, label: str, scenario: Scenario, database_url: str | None, **options: object) -> bool:
    """The run button; whether a run of this page is going on now."""
    session: RemoteSession | None = st.session_state.get(f"{key}.session")
    running = session is not None and not session.snapshot().finished
    if st.button(label, type="primary", disabled=running, key=f"{key}.run"):
        try:
            session = live_worker().session(scenario, database_url, **options)  # type: ignore[arg-type]
        except LiveError as e:
            st.error(plain(e))
            return False
        session.start()
        belongs_to_this_session(session)
        st.session_state[f"{key}.session"] = session
        running = True
    return running


def follow(key: str, running: bool, body: Callable[[RemoteSession, Snapshot], None]) -> None:
    """Poll the run's snapshot while it goes on: progress bar, then `body`; rerun the page at the end."""

    @st.fragment(run_every=POLL_S if running else None)
    def poll() -> None:
        session: RemoteSession | None = st.session_state.get(f"{key}.session")
        if session is None:
            return
        snap = session.snapshot()
        if snap.finished:
            # The page around this fragment was drawn while the run went on: ask for the whole page, at every
            # poll until a page drawn after the end replaces this fragment. Asked once and marked as asked,
            # the results were in one CI run never drawn on one of three pages (a lost rerun, it seems).
            if running:
                st.rerun(scope="app")
            return
        st.progress(snap.progress, text=t("live.progress", now=num(snap.now_s, 1),
                                          total=num(snap.duration_s, 1), phase=t(f"live.phase.{snap.phase}")))
        body(session, snap)

    # The fragment in a container of its own: drawn empty on the page after the end, it would share its
    # place with the first element below it (the results' "Ran on ..." line), and a poll the browser still
    # sends after that page (its timer outlives the page by a poll or two) cleared that element with its own.
    with st.container():
        poll()


def finished(key: str) -> RemoteSession | None:
    """The page's run, once it has ended (done, stopped or failed)."""
    session: RemoteSession | None = st.session_state.get(f"{key}.session")
    return session if session is not None and session.snapshot().finished else None


@dataclass
class _Drawn:
    """The live stand last built for a run, and what it cost."""

    session: RemoteSession
    figure: Any
    built_at: float     # time.monotonic() when it was built
    build_s: float      # how long that took
    rows: int           # rows of the trace it shows
    end_s: float        # the moment it shows


def live_stand(key: str, session: RemoteSession, snap: Snapshot) -> None:
    """The taxi stand of the run so far, standing at its latest moment, refreshed as the fragment polls.

    The rows come from the worker a bounded stretch per poll. The figure is
    rebuilt only when something moved and its last build is long enough ago:
    a build that takes longer than half a poll is made less often, so the
    polls (which Streamlit runs one at a time) never queue up behind it.
    """
    drawn: _Drawn | None = st.session_state.get(f"{key}.stand")
    if drawn is not None and drawn.session is not session:
        drawn = None
    try:
        so_far: TraceSoFar | None = session.trace_so_far()
    except LiveError:   # slow to answer: the stand stays as last drawn
        so_far = None
    if so_far is not None and len(so_far.trace) and _due(drawn, so_far, snap, time.monotonic()):
        end_s = so_far.last_s if so_far.behind else max(snap.now_s, so_far.last_s)
        started = time.monotonic()
        figure = still_stand(so_far.trace, installed(session.scenario), end_s, lang(),
                             session.time_scale)
        now = time.monotonic()
        drawn = _Drawn(session, figure, now, now - started, len(so_far.trace), end_s)
        st.session_state[f"{key}.stand"] = drawn
    if drawn is None:   # nothing has happened yet: the server is being set up
        return
    st.caption(t("live.stand", now=num(drawn.end_s, 1), rows=num(drawn.rows, 0)))
    draw(drawn.figure, f"{key}.live_taxi", STILL)


def _due(drawn: _Drawn | None, so_far: TraceSoFar, snap: Snapshot, now: float) -> bool:
    """Whether to build the stand again now: never drawn, or moved and not built too recently."""
    if drawn is None:
        return True
    moved = len(so_far.trace) != drawn.rows or snap.now_s > drawn.end_s
    return moved and now - drawn.built_at >= max(0.8 * POLL_S, drawn.build_s / BUSY_SHARE)


def still_stand(trace: Trace, scenario: Scenario, end_s: float, in_lang: str, time_scale: float = 1.0,
                height: int = LIVE_HEIGHT, plot_px: float = LIVE_PLOT_PX) -> go.Figure:
    """The stand at `end_s` as a still figure: the last frame of the finished runs' animation, no Play.

    Its bins are about a poll long on the scenario clock, so the caption and
    the instants (gave up, closed) are those of the last moments. The legend
    goes below, where a finished run's slider and buttons are, leaving the
    narrow column's width to the stand; the plot area stays the size its
    taxis were built for.
    """
    frames = max(1, min(LIVE_FRAMES, math.ceil(end_s / (POLL_S * max(time_scale, 1.0)))))
    animation = taxi.build_taxi_figure(
        trace, scenario, end_s, **stand_words(in_lang), max_frames=frames,
        height=height + taxi.MARGIN_BOTTOM - LEGEND_PX, plot_px=plot_px)
    whole = animation.to_dict()
    shown = whole.get("frames") or []
    data = taxi.drawn_at(list(whole["data"]), shown[-1]) if shown else whole["data"]
    layout = {k: v for k, v in whole["layout"].items() if k not in ("sliders", "updatemenus")}
    layout["height"] = height
    layout["margin"] = {**layout.get("margin", {}), "r": 10, "b": LEGEND_PX}
    layout["legend"] = {**layout.get("legend", {}), "orientation": "h", "x": 0.0, "xanchor": "left",
                        "y": -0.02, "yanchor": "top"}
    return go.Figure(data=data, layout=layout)
