"""The parts of a page that start a live run and follow it: shared by the live lab and Compare.

The run itself lives in the live lab's worker process; the page keeps only its
`RemoteSession` in session_state, and a fragment polls the session's snapshot
twice a second (never a Streamlit call from the worker). When the run ends
the fragment reruns the whole page once, which then draws the result.

A run belongs to its browser session: when the session ends (the tab is
closed, the connection lost), Streamlit releases the session's resources and
the run is stopped, so nobody's closed tab keeps a server busy.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.background import live_worker
from app.ui import num, plain, t
from live.runner import check
from live.server import LiveError, external
from live.session import Snapshot
from live.worker import RemoteSession
from sim.scenario import Scenario


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
        _runs_of_this_session().append(session)
        st.session_state[f"{key}.session"] = session
        running = True
    return running


def follow(key: str, running: bool, body: Callable[[RemoteSession, Snapshot], None]) -> None:
    """Poll the run's snapshot while it goes on: progress bar, then `body`; rerun the page at the end."""

    @st.fragment(run_every=0.5 if running else None)
    def poll() -> None:
        session: RemoteSession | None = st.session_state.get(f"{key}.session")
        if session is None:
            return
        snap = session.snapshot()
        if snap.finished:
            if st.session_state.get(f"{key}.drawn") is not session:
                st.session_state[f"{key}.drawn"] = session
                st.rerun(scope="app")   # draw the results with the whole page
            return
        st.progress(snap.progress, text=t("live.progress", now=num(snap.now_s, 1),
                                          total=num(snap.duration_s, 1), phase=t(f"live.phase.{snap.phase}")))
        body(session, snap)

    poll()


def finished(key: str) -> RemoteSession | None:
    """The page's run, once it has ended (done, stopped or failed)."""
    session: RemoteSession | None = st.session_state.get(f"{key}.session")
    return session if session is not None and session.snapshot().finished else None
