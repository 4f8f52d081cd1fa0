"""The live lab's worker process: runs go there, answers come back, nothing outlives it.

One worker serves the module (spawning one imports asyncpg, numpy and simpy);
the tests that end a worker start their own. Assertions are about what
happened (phases, counts, results, processes and backends left); the only
clocks are deadlines against a hang.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import live_scenarios
import psutil
import pytest
from live_scenarios import HANG_S, PASSWORD, until

from live.server import LiveError
from live.worker import RemoteSession, Worker, _Pending
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


PARENT = """
import json, os, sys, time
sys.path[:0] = [{root!r}, {tests!r}]
from live_scenarios import short, until
from live.worker import Worker

worker = Worker()
session = worker.session(short({{"kind": "asyncpg", "min_size": 0, "max_size": 2, "timeout": 30}},
                               name="orphan", rate=500, hold_ms=5000, duration_s=100.0))
session.start()
until(session, lambda s: s.waiting >= 200, "requests piling up")
helper = 0
if {fork}:   # a helper forked by the app (as multiprocessing's default on Linux does) holds the pipe too
    helper = os.fork()
    if helper == 0:
        time.sleep(600)
        os._exit(0)
told = {{"worker": worker.pid, "helper": helper, "data": [t.socket_dir for t in worker.targets()]}}
print(json.dumps(told), flush=True)
time.sleep(600)
"""


def postmasters_of(data: list[str]) -> list[int]:
    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any(d in " ".join(p.info["cmdline"] or []) for d in data)]


def parent_with_a_flooded_run(fork: bool = False) -> tuple[subprocess.Popen[str], int, list[str]]:
    """A parent (the app) whose worker runs 500 requests/s, the live limit, piling up on a pool of 2.

    With `fork`, the parent has also forked a helper process, which inherits its end of the pipe.
    """
    root = Path(__file__).resolve().parents[2]
    code = PARENT.format(root=str(root), tests=str(Path(__file__).parent), fork=fork)
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line, f"the parent ended first ({parent.wait()})"
    told = json.loads(line)
    assert told["data"] and postmasters_of(told["data"])
    if told["helper"]:
        helpers.append(int(told["helper"]))
    return parent, int(told["worker"]), told["data"]


def gone_within(pid: int, data: list[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (alive(pid) or postmasters_of(data) or any(Path(d).exists() for d in data)) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the worker outlived its app"
    assert not postmasters_of(data) and not any(Path(d).exists() for d in data)


helpers: list[int] = []


@pytest.fixture
def no_helper_left() -> Iterator[None]:
    yield
    while helpers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(helpers.pop(), signal.SIGKILL)


@pytest.mark.usefixtures("no_helper_left")
@pytest.mark.parametrize(("how", "fork"), [(signal.SIGKILL, False), (signal.SIGTERM, False),
                                           (signal.SIGKILL, True)])
def test_the_worker_and_its_servers_end_when_the_app_dies_mid_run(how: signal.Signals, fork: bool) -> None:
    """The worker hears the pipe close, or else sees its parent gone (a forked helper keeps the pipe open)."""
    parent, worker_pid, data = parent_with_a_flooded_run(fork)
    try:
        parent.send_signal(how)              # no exit hook of the parent's runs
        parent.wait(HANG_S)
        gone_within(worker_pid, data, 20.0)
    finally:
        for pid in (parent.pid, worker_pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_worker_terminated_mid_run_ends_promptly_and_stops_its_servers() -> None:
    parent, worker_pid, data = parent_with_a_flooded_run()
    try:
        os.kill(worker_pid, signal.SIGTERM)
        gone_within(worker_pid, data, 20.0)
    finally:
        parent.kill()
        parent.wait(HANG_S)
        if alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


def test_a_measurement_on_an_unreachable_database_url_is_one_plain_line(worker: Worker) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]      # let go: nothing listens there now
    started = time.monotonic()
    with pytest.raises(LiveError) as err:
        worker.measure(f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/app", (0.0, 5.0), 3)
    assert str(err.value) == f"nothing accepts connections at 127.0.0.1:{port} (connection refused)"
    assert time.monotonic() - started < 10.0


def test_a_failed_result_fetch_is_tried_again_not_kept_as_no_result(worker: Worker,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A transient failure (the worker slow to answer) never turns a finished run into one with no result."""
    session = worker.session(short())
    session.start()
    assert session.wait(HANG_S)
    call = RemoteSession._call
    failures = [LiveError("the live lab's worker did not answer 'session' in 30 s")]

    def flaky(self: RemoteSession, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "result" and failures:
            raise failures.pop()
        return call(self, method, *args, **kwargs)

    monkeypatch.setattr(RemoteSession, "_call", flaky)
    assert session.result is None                     # this time
    result = session.result                           # the next access fetches it
    assert result is not None and result.left_open == 0
    assert session.snapshot().phase == "done"


def test_an_answer_that_cannot_be_read_is_its_callers_error_at_once() -> None:
    """The reader cannot unpickle an answer's value: that caller is told so, not left to its timeout."""
    ours, theirs = multiprocessing.Pipe()
    w = Worker.__new__(Worker)   # the reader alone, on a pipe whose other end the test writes
    w._conn, w._pending, w._gone = ours, {}, None
    unreadable, fine = _Pending(), _Pending()
    w._pending.update({5: unreadable, 6: fine})
    reader = threading.Thread(target=w._read_answers, daemon=True)
    reader.start()
    try:
        theirs.send((5, "ok", b"\x80\x05not a pickle"))
        theirs.send((6, "ok", pickle.dumps("pong")))
        assert unreadable.done.wait(5.0) and fine.done.wait(5.0)
        assert unreadable.answer is not None and unreadable.answer[0] == "error"
        assert "could not be read" in unreadable.answer[1]
        assert fine.answer == ("ok", "pong")                # the others go on
    finally:
        theirs.close()
        reader.join(5.0)
    assert w._gone == "EOFError"
