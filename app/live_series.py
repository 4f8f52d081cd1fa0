"""Several live runs one after another, started from a page and followed while they go: a sizing's proof.

`app.live_panel` starts and follows one run per page; a proof runs three
(one size smaller, the recommended size, one larger), and never at once: three
pools on one server at the same time would measure each other. So the series
keeps its scenarios and the sessions started so far, and the page's poll
starts the next run when the one before has ended. Each run is a
`RemoteSession` in the live lab's worker process, as on the other live pages;
the runs of a browser session are stopped when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from app.background import live_worker
from app.live_panel import belongs_to_this_session
from app.ui import num, plain, t
from live.runner import LiveResult
from live.server import LiveError
from live.worker import RemoteSession
from sim.scenario import Scenario

POLL_S = 0.5


@dataclass
class Series:
    """Scenarios to run live in turn, and the sessions started for them so far."""

    scenarios: list[Scenario]
    database_url: str | None
    sessions: list[RemoteSession] = field(default_factory=list)
    error: str = ""          # why a run could not even be started
    stopped: bool = False    # the visitor stopped the series: no further run starts

    @property
    def current(self) -> RemoteSession | None:
        return self.sessions[-1] if self.sessions else None

    @property
    def finished(self) -> bool:
        """Every run has ended, or the series stopped early (stopped, failed, or one could not start)."""
        last = self.current
        if last is not None and not last.snapshot().finished:
            return False
        return self.stopped or bool(self.error) or len(self.sessions) == len(self.scenarios) or (
            last is not None and last.snapshot().phase in ("failed", "cancelled"))

    def advance(self) -> None:
        """Start the next run once the one before has ended (a run that failed ends the series)."""
        if self.finished:
            return
        last = self.current
        if last is not None and not last.snapshot().finished:
            return
        scenario = self.scenarios[len(self.sessions)]
        try:
            session = live_worker().session(scenario, self.database_url)
        except LiveError as e:
            self.error = str(e)
            return
        session.start()
        belongs_to_this_session(session)
        self.sessions.append(session)

    def stop(self) -> None:
        self.stopped = True
        if self.current is not None:
            self.current.stop()

    def results(self) -> list[LiveResult | None]:
        """Each scenario's finished run (None: not run, failed, or its result could not be fetched)."""
        out: list[LiveResult | None] = [s.result if s.snapshot().phase == "done" else None
                                        for s in self.sessions]
        return out + [None] * (len(self.scenarios) - len(out))


def start(key: str, scenarios: list[Scenario], database_url: str | None) -> None:
    """Begin a series under `key` (replacing any earlier one, which is stopped)."""
    old: Series | None = st.session_state.get(key)
    if old is not None:
        old.stop()
    series = Series(list(scenarios), database_url)
    st.session_state[key] = series
    series.advance()


def series_of(key: str) -> Series | None:
    value = st.session_state.get(key)
    return value if isinstance(value, Series) else None


def follow(key: str, label: list[str]) -> None:
    """While the series goes on: which run, its progress, a stop button; the page reruns when it ends.

    `label[i]` names the i-th run ("size 14").
    """
    series = series_of(key)
    running = series is not None and not series.finished

    @st.fragment(run_every=POLL_S if running else None)
    def poll() -> None:
        series = series_of(key)
        if series is None:
            return
        series.advance()
        if series.finished:
            if running:   # as `live_panel.follow`: asked at every poll until the whole page is drawn again
                st.rerun(scope="app")
            return
        session = series.current
        if session is None:
            return
        snap = session.snapshot()
        n = len(series.sessions)
        st.progress(snap.progress, text=t(
            "live_series.progress", n=num(n, 0), total=num(len(series.scenarios), 0), what=label[n - 1],
            phase=t(f"live.phase.{snap.phase}"), now=num(snap.now_s, 1), duration=num(snap.duration_s, 1)))
        if st.button(t("live.stop"), key=f"{key}.stop", disabled=snap.phase == "stopping"):
            series.stop()

    with st.container():   # as `live_panel.follow`: a late poll clears only what the fragment drew
        poll()


def problems(series: Series) -> list[str]:
    """What went wrong, one line each, for the page to show as text."""
    out = [series.error] if series.error else []
    for session in series.sessions:
        snap = session.snapshot()
        if snap.phase == "failed":
            out.append(snap.error or t("live.failed"))
    return [plain(line) for line in out]


__all__ = ["Series", "follow", "problems", "series_of", "start"]
