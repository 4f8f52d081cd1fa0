"""The live lab's worker process: runs go there, answers come back, nothing outlives it.

One worker serves the module (spawning one imports asyncpg, numpy and simpy);
the tests that end a worker start their own. Assertions are about what
happened (phases, counts, results, processes and backends left); the only
clocks are deadlines against a hang.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import live_scenarios
import psutil
import pytest
from live_scenarios import HANG_S, PASSWORD, until

from live.server import LiveError
from live.worker import RemoteSession, Worker
from sim.scenario import Scenario

pytestmark = pytest.mark.live



def short(**top: object) -> Scenario:
    return live_scenarios.short({"kind": "asyncpg", "min_size": 1, "max_size": 3}, name="worker-test", **top)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    assert w.close()                            # ended when asked, not terminated


def servers(w: Worker) -> list[int]:
    """The worker's sandbox postmasters (pg_ctl detaches them, so found by their socket directory)."""
    dirs = [t.socket_dir for t in w.targets()]
    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any(d and d in " ".join(p.info["cmdline"] or []) for d in dirs)]


def going(w: Worker) -> RemoteSession:
    """A 30 s run in the worker, once it has completed a few requests (so its connections are open)."""
    session = w.session(short(duration_s=30.0))
    session.start()
    until(session, lambda s: s.completed >= 3, "3 requests completed")
    return session


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_run_in_the_worker_finishes_and_its_result_comes_back(worker: Worker) -> None:
    session = worker.session(short())
    session.start()
    assert session.wait(HANG_S)
    snap = session.snapshot()
    assert snap.phase == "done", snap.error
    assert snap.arrived > 0 and snap.completed >= snap.arrived - 3 and snap.errors == 0
    result = session.result
    assert result is not None and result.left_open == 0
    assert len(result.trace) > snap.arrived          # the whole trace crossed the pipe
    assert result.application_name == snap.application_name != ""
    assert session.result is result                   # fetched once


def test_the_worker_process_is_not_the_app_process(worker: Worker) -> None:
    assert worker.pid is not None and worker.pid != os.getpid()
    session = worker.session(short())
    session.start()
    assert session.wait(HANG_S)
    assert worker.targets(), "the sandbox server was started in the worker"
    assert servers(worker), "and it is running"


def test_stop_cancels_a_run_in_the_worker(worker: Worker) -> None:
    session = going(worker)
    session.stop()
    assert session.wait(HANG_S)
    assert session.snapshot().phase == "cancelled"
    result = session.result
    assert result is not None and result.cancelled and result.left_open == 0
    assert result.end_s < 30.0


def test_a_bad_database_url_fails_with_the_password_masked(worker: Worker) -> None:
    session = worker.session(short(), database_url=f"postgresql://app:{PASSWORD}@127.0.0.1:1/db")
    session.start()
    assert session.wait(HANG_S)
    snap = session.snapshot()
    assert snap.phase == "failed" and snap.error
    assert "hunter2" not in snap.error
    assert session.result is None


def test_faults_on_demand_and_the_server_view_answer_through_the_pipe(worker: Worker) -> None:
    session = worker.session(short(duration_s=30.0, rate=30))
    session.start()
    until(session, lambda s: s.phase == "running" and s.idle > 0, "idle connections")
    rows = session.server_view()
    assert rows and all("state" in row for row in rows)
    killed = session.kill_idle_now()
    assert isinstance(killed, int) and 0 <= killed <= session.snapshot().connects
    session.stop()
    assert session.wait(HANG_S)
    with pytest.raises(LiveError, match="no run is going on"):
        session.kill_idle_now()


def test_closing_the_worker_ends_its_process_and_its_servers() -> None:
    w = Worker()
    going(w)
    pid = w.pid
    running = servers(w)
    assert pid is not None and running
    assert w.close()                            # mid-run: the run is cancelled and cleaned up first
    assert not alive(pid)
    assert not any(alive(p) for p in running)


def test_a_terminated_worker_stops_its_servers_and_sessions_say_it_is_gone() -> None:
    w = Worker()
    session = going(w)
    running = servers(w)
    assert running
    os.kill(w.pid or 0, signal.SIGTERM)          # as the app's exit does to a daemon process
    w._process.join(HANG_S)
    assert not w._process.is_alive()
    assert session.wait(HANG_S)
    snap = session.snapshot()
    assert snap.phase == "failed" and "worker" in snap.error
    assert not any(alive(p) for p in running)
    w.close()


def test_a_killed_workers_servers_are_stopped_by_the_next_sandbox_and_nobody_elses(worker: Worker) -> None:
    """SIGKILL runs no exit hook, pg_ctl detached the postmaster: the next worker's first server reaps it."""
    mine = worker.session(short())
    mine.start()
    assert mine.wait(HANG_S)
    theirs = servers(worker)                      # the module's worker, alive: its server must survive
    assert theirs
    w = Worker()
    going(w)
    data = {Path(t.socket_dir) for t in w.targets()}   # the socket lives in the data directory
    running = servers(w)
    assert running and data
    os.kill(w.pid or 0, signal.SIGKILL)                # mid-run, connections open
    w._process.join(HANG_S)
    assert all(alive(p) for p in running)         # orphaned, not stopped
    w.close()
    nxt = Worker()                                # the next worker's first server reaps the orphans
    try:
        first = nxt.session(short())
        first.start()
        assert first.wait(HANG_S) and first.snapshot().phase == "done"
        assert not any(alive(p) for p in running)
        assert not any(d.exists() for d in data)
        assert all(alive(p) for p in theirs)
    finally:
        assert nxt.close()


def test_an_answer_that_comes_too_late_is_never_taken_for_the_next_one(worker: Worker) -> None:
    with pytest.raises(LiveError, match="did not answer"):
        worker.call("measure", None, (0.0, 5.0), 3, timeout_s=0.001)
    assert worker.call("ping") == "pong"           # not the late measurement
    assert isinstance(worker.targets(), list)


def test_a_slow_call_holds_up_no_other(worker: Worker) -> None:
    """A measurement in one page session; another session's quick calls are answered meanwhile."""
    measured: list[object] = []
    slow = threading.Thread(target=lambda: measured.append(worker.measure(None, (150.0,), 8)))
    slow.start()
    try:
        deadline = time.monotonic() + HANG_S
        while not worker.targets() and time.monotonic() < deadline:   # the measurement has its server
            time.sleep(0.01)
        answered = [worker.call("ping") for _ in range(5)]
        assert answered == ["pong"] * 5 and slow.is_alive() and not measured   # before the measurement
    finally:
        slow.join(HANG_S)
    assert measured and len(measured[0][1]) == 1                               # which still finished


def test_a_measurement_never_uses_the_server_a_run_is_on(worker: Worker) -> None:
    """Its connections would count against the run's max_connections, and its waits would disturb the run."""
    session = going(worker)
    try:
        run_on = session.server_display
        measured_on, rows = worker.measure(None, (0.0,), 2)
        assert run_on.startswith("embedded PostgreSQL") and measured_on.startswith("embedded PostgreSQL")
        assert measured_on != run_on and len(rows) == 1
    finally:
        session.stop()
        assert session.wait(HANG_S)
