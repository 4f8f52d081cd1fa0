"""A live session as the web app drives it: from plain threads, against the real embedded PostgreSQL.

The test thread plays the UI thread: it starts a session, polls its
snapshots, presses the fault buttons and stops it, while the run lives on a
`BackgroundLoop`. Assertions are about what happened (phases, counts, rows,
connections left on the server); the only clocks are deadlines against a hang.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import live_scenarios
import pytest
from live_scenarios import HANG_S, PASSWORD, until

from live.loop import BackgroundLoop
from live.server import APP_ROLE, SANDBOX, LiveError
from live.session import LiveSession, Snapshot
from sim.metrics import levels, summarize
from sim.scenario import Scenario
from sim.trace import Ev

pytestmark = pytest.mark.live

COUNTERS = ("arrived", "completed", "timed_out", "errors", "leaked", "connects")


def short(pool: dict[str, Any], **top: Any) -> Scenario:
    defaults = {"name": "session-test", "seed": 5, "rate": 25, "hold_ms": 40}
    return live_scenarios.short(pool, **(defaults | top))


@pytest.fixture(scope="module")
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop()
    yield background
    background.stop()


def finish(session: LiveSession) -> Snapshot:
    assert session.wait(HANG_S), f"the run did not end: {session.snapshot()}"
    return session.snapshot()


def backends(application_name: str) -> list[int]:
    """pids of the connections with this application_name, on every sandbox server."""
    async def ask() -> list[int]:
        pids: list[int] = []
        for target in SANDBOX.targets():
            admin = await asyncpg.connect(target.admin_dsn)
            try:
                rows = await admin.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_name)
            finally:
                await admin.close()
            pids += [row["pid"] for row in rows]
        return pids
    return asyncio.run(ask())


def kinds(session: LiveSession, kind: Ev) -> list[tuple[float, str]]:
    """(t, reason) of every row of this kind in the session's result."""
    assert session.result is not None
    return [(r[0], r[5]) for r in session.result.trace.rows() if r[4] == kind.name.lower()]


def test_a_session_counts_as_it_runs_and_its_last_snapshot_is_the_results_summary(
        loop: BackgroundLoop) -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 1, "pool_timeout": 0.3},
                     workload={"leak_probability": 0.15})
    session = LiveSession(scenario, loop)
    assert session.snapshot().phase == "starting"
    session.start()
    seen: list[Snapshot] = []
    while not session.wait(0.02):
        seen.append(session.snapshot())
    last = session.snapshot()
    running = [s for s in seen if s.phase == "running"]
    assert len({s.arrived for s in running}) >= 3, "the counters grow while it runs"
    for name in COUNTERS:
        values = [getattr(s, name) for s in [*seen, last]]
        assert values == sorted(values), f"{name} never goes back"
    order = ["starting", "running", "stopping", "done"]
    steps = [order.index(s.phase) for s in [*seen, last]]
    assert steps == sorted(steps) and 1 in steps, "starting, running, stopping, done: in that order"
    assert last.phase == "done" and last.finished and last.error == ""

    result = session.result
    assert result is not None and not result.cancelled
    m = summarize(result.trace, scenario, result.end_s)
    assert (last.arrived, last.completed, last.timed_out, last.leaked, last.connects) == (
        m["requests"], m["completed"], m["timed_out"], m["leaked"], m["connects"])
    assert last.errors == sum(m["errors"].values())
    assert last.error_reasons == {k: v for k, v in m["errors"].items() if v}
    assert last.leaked > 0 and last.timed_out > 0          # the scenario did make both happen
    lv = levels(result.trace.columns(), scenario.pool.base)
    for name in ("checked_out", "open", "idle", "waiting", "server"):
        assert getattr(last, name) == int(lv[name][-1]), name
    assert last.now_s == result.end_s and last.progress == pytest.approx(1.0, abs=0.1)
    assert last.application_name == result.application_name
    assert last.server_display == result.server
    assert result.left_open == 0 and backends(result.application_name) == []


def test_stop_midway_cancels_and_leaves_no_connection(loop: BackgroundLoop) -> None:
    scenario = short({"kind": "asyncpg", "min_size": 3, "max_size": 6}, duration_s=30.0,
                     workload={"leak_probability": 0.2})
    session = LiveSession(scenario, loop)
    session.start()
    until(session, lambda s: s.phase == "running" and s.arrived >= 10, "ten requests")
    assert len(backends(session.application_name)) >= 3
    session.stop()
    assert session.snapshot().phase in ("stopping", "cancelled")
    last = finish(session)
    assert last.phase == "cancelled"
    result = session.result
    assert result is not None and result.cancelled
    assert result.end_s < scenario.duration_s               # on the scenario clock: it stopped early
    assert summarize(result.trace, scenario, result.end_s)["requests"] == last.arrived
    assert result.left_open == 0 and backends(result.application_name) == []
    session.stop()                                          # again: nothing happens
    assert session.snapshot().phase == "cancelled"


def test_stop_gets_through_a_run_at_the_limit_whose_feed_is_behind(loop: BackgroundLoop) -> None:
    """50,000 arrivals a second (100 instances at the live limit of 500/s each), piling up on pools of 2.

    The feed falls behind at such rates; it used to create tasks without ever
    yielding then, so the stop waited for it (12,000 more arrivals after the
    stop, 4 s to end, 330 MB) and the memory grew meanwhile.
    """
    scenario = short({"kind": "asyncpg", "min_size": 0, "max_size": 2, "timeout": 30}, name="flood",
                     rate=50_000, hold_ms=5_000, duration_s=10.0, app={"instances": 100},
                     workload={"phases": [{"at_s": 1.1, "rate_per_s": 0.1}]},
                     database={"max_connections": 450})
    session = LiveSession(scenario, loop)
    session.start()
    at_stop = until(session, lambda s: s.arrived >= 1_000, "a thousand requests").arrived
    session.stop()
    assert session.wait(10.0), session.snapshot()                   # 0.2 s here; a bound, not a figure
    last = session.snapshot()
    assert last.phase == "cancelled"
    assert last.arrived - at_stop < 3_000, (at_stop, last.arrived)   # not the rest of the burst of 55,000
    result = session.result
    assert result is not None and result.cancelled and result.left_open == 0
    assert result.wall_seconds < HANG_S and backends(result.application_name) == []


def test_stop_while_starting_cancels_and_gives_the_sandbox_server_back(loop: BackgroundLoop) -> None:
    # limits no server has yet: the lease has to restart or start one, and is still doing so at the stop
    scenario = short({"kind": "asyncpg", "min_size": 1, "max_size": 2}, name="early-stop",
                     database={"max_connections": 17})
    session = LiveSession(scenario, loop)
    session.start()
    session.stop()
    last = finish(session)
    assert last.phase == "cancelled" and last.arrived == 0
    assert session.result is not None and session.result.cancelled and session.result.left_open == 0
    deadline = time.monotonic() + HANG_S                   # the lease comes back when its server is up
    while any(server.busy for server in SANDBOX._servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(server.busy for server in SANDBOX._servers)
    assert backends(session.application_name) == []


def test_kill_idle_now_writes_the_faults_rows_and_breaks_the_next_queries(loop: BackgroundLoop) -> None:
    traffic = {"rate_per_s": 40, "hold": {"dist": "constant", "mean_ms": 40},
               "phases": [{"at_s": 0.5, "rate_per_s": 0}, {"at_s": 2.0, "rate_per_s": 40}]}
    scenario = short({"kind": "sqlalchemy", "pool_size": 4, "max_overflow": 0}, duration_s=3.0,
                     workload=traffic)
    session = LiveSession(scenario, loop)
    with pytest.raises(LiveError, match="no run is going on"):
        session.kill_idle_now()
    session.start()
    until(session, lambda s: s.now_s >= 0.8 and s.idle >= 1, "idle connections in the quiet gap")
    killed = session.kill_idle_now()
    assert killed >= 1
    assert finish(session).phase == "done"
    dead = [why for _, why in kinds(session, Ev.DEAD)]
    assert dead == ["killed"] * killed                      # as the scheduled fault writes them
    assert session.result is not None
    m = summarize(session.result.trace, scenario, session.result.end_s)
    assert m["errors"]["broken"] >= 1                       # no pre-ping: the traffic after the gap met them
    with pytest.raises(LiveError, match="no run is going on"):
        session.kill_idle_now()


def test_restart_now_takes_the_server_down_and_up_and_the_run_goes_on(loop: BackgroundLoop) -> None:
    scenario = short({"kind": "sqlalchemy", "pool_size": 3, "max_overflow": 0, "pool_pre_ping": True},
                     duration_s=3.0)
    session = LiveSession(scenario, loop)
    session.start()
    until(session, lambda s: s.now_s >= 0.8 and s.open >= 1, "open connections")
    session.restart_now(down_s=0.5)
    assert session.snapshot().server_down
    with pytest.raises(LiveError, match="already restarting"):
        session.restart_now()
    deadline = time.monotonic() + HANG_S
    while session.snapshot().server_down and time.monotonic() < deadline:   # the UI polls on meanwhile
        assert isinstance(session.server_view(), list)
        time.sleep(0.02)
    last = finish(session)
    assert last.phase == "done" and not last.server_down
    server = kinds(session, Ev.SERVER)
    assert [why for _, why in server] == ["down", "up"]
    assert any(why == "restart" for _, why in kinds(session, Ev.DEAD))
    up_at = server[1][0]
    assert any(t > up_at for t, _ in kinds(session, Ev.QUERY_END)), "requests complete after the restart"
    assert session.result is not None and session.result.left_open == 0


def test_restart_is_refused_on_database_url_in_one_line_and_the_run_goes_on(loop: BackgroundLoop) -> None:
    socket_dir = SANDBOX.target().socket_dir
    url = f"postgresql://{APP_ROLE}:{PASSWORD}@/postgres?host={socket_dir}"
    session = LiveSession(short({"kind": "asyncpg", "min_size": 1, "max_size": 3}), loop, database_url=url,
                          max_requests=30)   # it ends when the 30th request has ended
    session.start()
    snap = until(session, lambda s: s.phase == "running", "running")
    assert "***" in snap.server_display and PASSWORD not in snap.server_display
    with pytest.raises(LiveError, match="sandbox") as refused:
        session.restart_now()
    assert "\n" not in str(refused.value) and PASSWORD not in str(refused.value)
    last = finish(session)
    assert last.phase == "done" and last.completed == last.arrived == 30
    assert not kinds(session, Ev.SERVER)


def test_server_view_shows_this_runs_backends(loop: BackgroundLoop) -> None:
    session = LiveSession(short({"kind": "asyncpg", "min_size": 2, "max_size": 2}, duration_s=3.0), loop,
                          measure_costs=True)
    assert session.server_view() == []                      # no server yet
    session.start()
    until(session, lambda s: s.phase == "running" and s.server == 2, "two backends")
    rows = session.server_view()
    assert sorted(r["pid"] for r in rows) == sorted(backends(session.application_name))
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"pid", "state", "backend_start", "state_change", "wait_event_type",
                            "wait_event", "query"}
        assert row["state"] in ("idle", "active", "idle in transaction")
        assert len(row["query"]) <= 200
    assert finish(session).phase == "done"
    assert session.server_view() == []                      # all closed
    assert session.result is not None and session.result.costs is not None   # passed on to the run


@pytest.mark.parametrize(("scenario", "url", "expected"), [
    (short({"kind": "hikari"}), None, r"^pool\.kind = hikari: HikariCP is a Java library"),
    (short({"kind": "asyncpg"}), f"postgresql://app:{PASSWORD}@127.0.0.1:1/app",
     r"^nothing accepts connections at 127\.0\.0\.1:1 \(connection refused\)$"),
    (short({"kind": "asyncpg"}), f"mysql://app:{PASSWORD}@db/app", "postgresql://"),
])
def test_a_failed_start_is_phase_failed_with_one_line_and_no_password(
        loop: BackgroundLoop, scenario: Scenario, url: str | None, expected: str) -> None:
    session = LiveSession(scenario, loop, database_url=url)
    session.start()
    last = finish(session)
    assert last.phase == "failed" and session.result is None
    assert last.error and "\n" not in last.error and PASSWORD not in last.error
    assert PASSWORD not in last.server_display
    assert re.search(expected, last.error), last.error
    with pytest.raises(LiveError):
        session.kill_idle_now()


def test_two_sessions_on_one_loop_from_two_threads_do_not_disturb_each_other(loop: BackgroundLoop) -> None:
    a = LiveSession(short({"kind": "asyncpg", "min_size": 2, "max_size": 4}, name="twin-a", duration_s=3.0),
                    loop)
    b = LiveSession(short({"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 1, "pool_pre_ping": True},
                          name="twin-b", duration_s=3.0), loop)
    views: dict[str, set[int]] = {}
    failures: list[BaseException] = []

    def ui(name: str, session: LiveSession, poke: Callable[[], None]) -> None:
        try:
            session.start()
            until(session, lambda s: s.now_s >= 1.0 and s.server >= 1, "backends")
            views[name] = {row["pid"] for row in session.server_view()}
            poke()
            finish(session)
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=ui, args=("a", a, lambda: None)),
               threading.Thread(target=ui, args=("b", b, lambda: b.restart_now(0.2)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_S * 2)
    assert not failures, failures
    assert views["a"] and views["b"] and not views["a"] & views["b"]
    assert a.application_name != b.application_name
    sa, sb = a.snapshot(), b.snapshot()
    assert sa.phase == sb.phase == "done"
    assert sa.errors == sa.timed_out == 0 and sa.completed > 0   # b's restart happened on another server
    assert not kinds(a, Ev.DEAD) and not kinds(a, Ev.SERVER)
    assert [why for _, why in kinds(b, Ev.SERVER)] == ["down", "up"]
    assert a.result is not None and b.result is not None
    assert a.result.left_open == b.result.left_open == 0


def test_stopping_the_loop_cancels_its_runs_and_closes_their_connections() -> None:
    own = BackgroundLoop()
    assert own.run(asyncio.sleep(0, result=42), timeout=5) == 42
    session = LiveSession(short({"kind": "asyncpg", "min_size": 2, "max_size": 4}, duration_s=30.0), own)
    session.start()
    until(session, lambda s: s.phase == "running" and s.arrived >= 5, "traffic")
    own.stop()
    assert session.wait(0), "the loop ran the run's cleanup before it closed"
    assert session.snapshot().phase == "cancelled"
    assert session.result is not None and session.result.left_open == 0
    assert backends(session.application_name) == []
    own.stop()                                              # again: nothing happens
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="stopped"):
        own.submit(coro)
    assert not own.running
