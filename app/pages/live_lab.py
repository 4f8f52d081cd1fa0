"""Live lab: the session's scenario on real PostgreSQL, watched while it runs, then drawn like a model run."""

import os
from datetime import datetime

import streamlit as st

from app import frame
from app.background import live_worker
from app.live_panel import about, finished, follow, live_stand, overhead, refuse_unrunnable, run_button
from app.results import show_results
from app.ui import num, plain, t
from live.server import LiveError, external
from live.session import Snapshot
from live.worker import RemoteSession
from sim.metrics import summarize

ss = st.session_state
DATABASE_URL = os.environ.get("DATABASE_URL") or None


st.title(t("live.title"))
st.caption(t("live.intro"))

# -- which server
if DATABASE_URL:
    try:
        st.info(t("live.server_external", server=plain(external(DATABASE_URL).display)))
    except LiveError as e:
        st.error(plain(e))
        st.stop()
else:
    try:
        started = live_worker().targets()
    except LiveError as e:
        st.error(plain(e))
        st.stop()
    if started:
        target = started[0]
        st.info(t("live.server_sandbox", server=plain(target.display),
                  started=datetime.fromtimestamp(target.started_at).strftime("%H:%M:%S")))
    else:
        st.info(t("live.server_sandbox_later"))

# -- which scenario
frame.preset_picker("live")
scenario = ss.scenario
frame.remember(scenario)
cols = st.columns([2, 1, 1])
cols[0].markdown(t("live.scenario", name=plain(scenario.name), kind=scenario.pool.kind,
                   duration=num(scenario.duration_s, 1)))
scale = cols[1].select_slider(t("live.time_scale"), [1.0, 2.0, 4.0, 8.0], value=1.0, key="live.scale",
                              help=t("live.time_scale_help"))
if cols[2].button(t("live.edit"), key="live.edit"):
    st.switch_page("app/pages/playground.py")

refuse_unrunnable(scenario, DATABASE_URL, scale)
# how long it will take on the wall clock: the scenario at this scale, plus the setup and cleanup the
# page's last whole run took (starting a sandbox, opening pools, checking nothing was left), once known
wall = scenario.duration_s / scale + (overhead("live") or 0.0)
words = about(wall)
label = t("live.run_minutes" if "minutes" in words else "live.run_seconds", **words)
running = run_button("live", label, scenario, DATABASE_URL, time_scale=scale)


# pg_stat_activity's columns in the order a narrow table should show them: who, doing what, waiting on what
SERVER_COLUMNS = ("pid", "state", "wait_event_type", "wait_event", "query", "state_change", "backend_start")


def watch(session: RemoteSession, snap: Snapshot) -> None:
    """Counters, faults and the server's own view while the run goes on; never blocks."""
    counters = st.columns(7)
    for col, (key, value) in zip(counters, [
            ("metric.completed", snap.completed), ("metric.timed_out", snap.timed_out),
            ("metric.errors.all", snap.errors), ("metric.leaked", snap.leaked),
            ("live.checked_out", snap.checked_out), ("live.waiting", snap.waiting),
            ("live.on_server", snap.server)], strict=True):
        col.metric(t(key), num(value, 0))
    buttons = st.columns(3)
    going = snap.phase == "running" and not snap.server_down
    rows: list[dict[str, object]] = []
    try:
        if buttons[0].button(t("live.kill_idle"), key="live.kill", help=t("live.kill_idle_help"),
                             disabled=not going):
            st.toast(t("live.killed", count=num(session.kill_idle_now(), 0)))
        if buttons[1].button(t("live.restart"), key="live.restart", help=t("live.restart_help"),
                             disabled=not going or DATABASE_URL is not None):
            session.restart_now(1.0)
        if buttons[2].button(t("live.stop"), key="live.stop", disabled=snap.phase == "stopping"):
            session.stop()
        rows = session.server_view()
    except LiveError as e:
        st.toast(plain(e))
    stand, server = st.columns([3, 2])
    with stand:
        live_stand("live", session, snap)
    with server:
        st.caption(t("live.server_view", name=plain(snap.application_name)))
        st.dataframe(rows, hide_index=True, width="stretch", column_order=SERVER_COLUMNS)


follow("live", running, watch)
session = finished("live")
if session is not None:
    snap = session.snapshot()
    result = session.result
    if snap.phase == "failed" or result is None:
        st.error(plain(snap.error) if snap.error else t("live.failed"))
    else:
        if snap.phase == "cancelled":
            st.warning(t("live.cancelled"))
        # the sandbox in the page's words; another server by its address, which has no language
        server = t("live.sandbox_server") if result.sandbox else plain(result.server)
        st.success(t("live.done", server=server, name=plain(result.application_name),
                     wall=num(result.wall_seconds, 1), left=num(result.left_open, 0)))
        if result.server_version:   # as the server itself said it, during the run
            st.caption(":material/database: " + (
                t("live.recorded_embedded", version=plain(result.server_version)) if result.sandbox else
                t("live.recorded_external", version=plain(result.server_version),
                  host=plain(result.server_address))))
        metrics = summarize(result.trace, result.scenario, result.end_s)
        show_results(result.trace, result.scenario, result.end_s, metrics, key="live",
                     run_key=result.application_name)
