"""Live runs in a process of their own, driven from the web app through a pipe.

A live run measures waits of a millisecond or less. Inside the Streamlit
process it shares the interpreter lock with every page rerun: drawing a
figure holds it for tens of milliseconds, and the run's requests queue
behind it (a pooled run's p95 wait went from 0.4 ms to 66 ms while a page
redrew). So the web app starts one worker process, which owns the event
loop, the sessions and the sandbox servers, and talks to it only through
short calls: start, stop, snapshot, result, faults, the server's view,
answered side by side so one slow call holds up no other. The trace so far
comes over in stretches of the rows not sent before (`trace_since`), so
following a run costs each row's 22 bytes once.

`RemoteSession` has the methods of `live.session.LiveSession`, so a page
uses either without knowing. The worker stops its runs and its servers when
the app closes the pipe, exits or is terminated, so nothing is left on the
server whatever happens to the app.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from live.calibrate import Delay
from live.recorder import Rows
from live.runner import LiveResult
from live.server import LiveError, Target
from live.session import FINISHED, ROWS_PER_POLL, LiveSession, Phase, Snapshot, TraceSoFar, one_line
from sim.scenario import Scenario

_log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 30.0   # the longest call (a fault, the server view) is bounded well below this
START_TIMEOUT_S = 60.0  # spawning the process imports asyncpg, numpy and simpy
STOP_GRACE_S = 40.0     # a run's cleanup is bounded (runner.CLEANUP_S) below this
EXIT = "exit"           # the call that asks the worker to stop everything and end
TRACE_TIMEOUT_S = 5.0   # a stretch of the trace is a copy of at most ROWS_PER_POLL rows: far less than this
CALL_THREADS = 8        # calls answered at once in the worker: a slow one leaves the rest going


class _Pending:
    """One call waiting for its answer: set by the reader thread, or told the worker is gone."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: tuple[str, Any] | None = None


class Worker:
    """The live lab's own process, and the one pipe to it.

    Calls from many page sessions go out at once, each with a number; one
    reader thread hands every answer to the call with that number. A slow call
    (a measurement) so never holds up another session's quick one.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")   # never fork a threaded server
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child,), name="poolstand-live", daemon=True)
        self._process.start()
        child.close()
        self._send_lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._gone: str | None = None
        self._ids = itertools.count(1)
        self._calls = itertools.count(1)
        self._reader = threading.Thread(target=self._read_answers, name="poolstand-live-answers", daemon=True)
        self._reader.start()
        try:
            self.call("ping", timeout_s=START_TIMEOUT_S)
        except LiveError:
            self.close(timeout_s=5.0)
            raise

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def call(self, method: str, *args: Any, timeout_s: float = CALL_TIMEOUT_S) -> Any:
        """One request and its answer; a failure in the worker comes back as LiveError (one line).

        An answer that comes after its caller gave up finds nobody waiting
        under its number and is dropped, never taken for another call's.
        """
        number = next(self._calls)
        pending = self._pending[number] = _Pending()
        try:
            if self._gone is not None or not self._process.is_alive():   # after registering: see reader
                raise WorkerGone("the live lab's worker process has stopped; reload the page for a new one")
            try:
                with self._send_lock:
                    self._conn.send((number, method, args))
            except (EOFError, OSError) as e:
                raise WorkerGone(f"the live lab's worker process is gone ({type(e).__name__})") from None
            if not pending.done.wait(timeout_s):
                raise LiveError(f"the live lab's worker did not answer {method!r} in {timeout_s:g} s")
        finally:
            self._pending.pop(number, None)
        if pending.answer is None:
            raise WorkerGone(f"the live lab's worker process is gone ({self._gone})")
        status, value = pending.answer
        if status == "error":
            raise LiveError(value)
        return value

    def _read_answers(self) -> None:
        """Hand each answer to its call; one whose value cannot be read is that call's error.

        The value travels pickled on its own inside the answer, so an answer
        whose value cannot be unpickled here still says which call it is for,
        and that caller hears it at once instead of waiting out its timeout.
        """
        while True:
            try:
                number, status, payload = self._conn.recv()
            except (EOFError, OSError) as e:
                self._gone = type(e).__name__
                break
            except Exception as e:   # not even which call it answers can be read: the others go on
                _log.warning("an answer from the live lab's worker could not be read: %s", one_line(e))
                continue
            try:
                value = pickle.loads(payload)
            except Exception as e:
                _log.warning("the answer to call %d could not be read: %s", number, one_line(e))
                status = "error"
                value = f"the live lab's worker sent an answer that could not be read ({one_line(e)})"
            pending = self._pending.get(number)
            if pending is not None:
                pending.answer = (status, value)
                pending.done.set()
        for pending in list(self._pending.values()):   # nobody will answer them now
            pending.done.set()

    def session(self, scenario: Scenario, database_url: str | None = None, time_scale: float = 1.0,
                max_requests: int | None = None, measure_costs: bool = False) -> RemoteSession:
        return RemoteSession(self, next(self._ids), scenario, database_url, time_scale, max_requests,
                             measure_costs)

    def measure(self, database_url: str | None, delays_ms: tuple[float, ...], samples: int
                ) -> tuple[str, list[Delay]]:
        """`live.calibrate.over_delays` on the sandbox or DATABASE_URL: (server shown, a row per delay)."""
        shown, rows = self.call("measure", database_url, delays_ms, samples, timeout_s=120.0)
        return str(shown), list(rows)

    def targets(self) -> list[Target]:
        """The sandbox servers the worker has started, as `SANDBOX.targets()` there."""
        return list(self.call("targets"))

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def close(self, timeout_s: float = STOP_GRACE_S + 10.0) -> bool:
        """Stop every run (each cleans up) and the servers, and end the process.

        Returns whether it ended when asked (False: it had died before, or had
        to be terminated). Asked by a message, not by closing the pipe: the
        reader thread's pending read keeps the pipe open, so the worker would
        never see its end.
        """
        was_alive = self._process.is_alive()
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            self._conn.send((0, EXIT, ()))
        self._process.join(timeout_s)
        asked = was_alive and not self._process.is_alive()
        if self._process.is_alive():
            self._process.terminate()   # its SIGTERM handler still runs the cleanup
            self._process.join(10.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)
        self._reader.join(5.0)          # it reads end of file once the process has gone
        self._conn.close()
        return asked


class WorkerGone(LiveError):
    """The worker process has ended: every run in it is over."""


class RemoteSession:
    """A `LiveSession` in the worker process, with the same methods."""

    def __init__(self, worker: Worker, sid: int, scenario: Scenario, database_url: str | None,
                 time_scale: float, max_requests: int | None, measure_costs: bool) -> None:
        self.worker = worker
        self.sid = sid
        self.scenario = scenario
        self.database_url = database_url
        self.time_scale = time_scale
        self._options = (database_url, time_scale, max_requests, measure_costs)
        self._last: Snapshot | None = None
        self._result: LiveResult | None = None
        self._fetched = False
        self._so_far = TraceSoFar()

    def _call(self, method: str, *args: Any, timeout_s: float = CALL_TIMEOUT_S) -> Any:
        return self.worker.call("session", self.sid, method, *args, timeout_s=timeout_s)

    def start(self) -> None:
        """Start the run in the worker; a failure shows as phase "failed", as with `LiveSession`."""
        try:
            self.worker.call("start", self.sid, self.scenario, *self._options)
        except LiveError as e:
            self._last = _failed(self.scenario, str(e), None)

    def stop(self) -> None:
        """Cancel the run; never raises (a run whose worker is gone is over anyway)."""
        with contextlib.suppress(LiveError):
            self._call("stop")

    def snapshot(self) -> Snapshot:
        if self._last is not None and self._last.finished:
            return self._last
        try:
            self._last = self._call("snapshot")
        except WorkerGone as e:   # the run is over, and says why
            self._last = _failed(self.scenario, str(e), self._last)
        except LiveError:         # slow to answer: the run goes on, as last seen
            if self._last is None:
                return _blank(self.scenario, "starting")
        return self._last

    @property
    def phase(self) -> Phase:
        return self.snapshot().phase

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.snapshot().finished:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    @property
    def result(self) -> LiveResult | None:
        """The finished run, fetched once from the worker (the trace crosses the pipe one time).

        A fetch that fails (the worker slow to answer, say) is tried again at
        the next access: only the worker's own answer, a result or none, is kept.
        Once it has come, the copy of the trace put together during the run is
        let go: the result holds the whole of it.
        """
        if not self._fetched and self.snapshot().finished:
            try:
                self._result = self._call("result")
            except LiveError as e:
                _log.warning("could not fetch the result of live run %d (tried again when asked): %s",
                             self.sid, e)
            else:
                self._fetched = True
                self._so_far = TraceSoFar()
        return self._result

    @property
    def application_name(self) -> str:
        return self.snapshot().application_name

    @property
    def server_display(self) -> str:
        return self.snapshot().server_display

    def server_view(self, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        return list(self._call("server_view", timeout_s))

    def trace_since(self, start: int, limit: int = ROWS_PER_POLL, readings: int = 0) -> Rows:
        rows = self._call("trace_since", start, limit, readings, timeout_s=TRACE_TIMEOUT_S)
        if not isinstance(rows, Rows):
            raise LiveError("the live lab's worker sent no trace rows")
        return rows

    def trace_so_far(self, limit: int = ROWS_PER_POLL) -> TraceSoFar:
        """The trace put together here from the rows not fetched before: each row crosses the pipe once.

        A call that fails (the worker slow to answer) leaves it as it was;
        the next call asks again from the same row.
        """
        return self._so_far.pull(self.trace_since, limit)

    def kill_idle_now(self, timeout_s: float = 10.0) -> int:
        return int(self._call("kill_idle_now", timeout_s))

    def restart_now(self, down_s: float = 1.0, timeout_s: float = 10.0) -> None:
        self._call("restart_now", down_s, timeout_s)


def _blank(scenario: Scenario, phase: Phase) -> Snapshot:
    return Snapshot(phase, 0.0, scenario.duration_s, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, False, "", "")


def _failed(scenario: Scenario, error: str, last: Snapshot | None) -> Snapshot:
    return dataclasses.replace(last or _blank(scenario, "failed"), phase="failed", error=error)


# ------------------------------------------------------------------ the worker's side

SLOW_METHODS = frozenset({"measure"})   # seconds, or minutes against an unreachable server
SESSION_METHODS = frozenset({"stop", "snapshot", "result", "server_view", "kill_idle_now", "restart_now",
                             "trace_since"})


def serve(conn: Connection) -> None:
    """The worker process: answer calls until the app goes, then stop everything and exit.

    The app goes by asking (EXIT), by closing the pipe, by SIGTERM, or by
    dying: a pipe whose other end a forked helper of the app still holds
    never closes, so a thread also watches for the parent to be gone. Each
    way ends in the same cleanup (the runs cancelled and cleaned up, the loop
    stopped), and the exit hooks then stop the sandbox servers; a second
    SIGTERM does not cut that cleanup short.
    """
    from live.loop import BackgroundLoop
    from live.server import SANDBOX

    stopping = threading.Event()

    def on_sigterm(*_: object) -> None:
        if not stopping.is_set():   # out of conn.recv(); once the cleanup has begun, let it finish
            stopping.set()
            sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)            # Ctrl-C in the terminal is the app's to handle
    threading.Thread(target=_watch_parent, args=(os.getppid(), stopping), name="poolstand-parent",
                     daemon=True).start()
    loop = BackgroundLoop()
    sessions: dict[int, LiveSession] = {}
    sending = threading.Lock()
    calls = ThreadPoolExecutor(CALL_THREADS, thread_name_prefix="poolstand-call")
    slow = ThreadPoolExecutor(1, thread_name_prefix="poolstand-measure")   # queue among themselves only

    def answer(number: int, method: str, args: tuple[Any, ...]) -> None:
        try:
            value, status = _answer(method, args, sessions, loop, SANDBOX), "ok"
        except Exception as e:
            value, status = one_line(e), "error"
        try:   # pickled on its own, so that the app can tell which call an unreadable value answers
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:               # an answer that cannot be pickled
            payload = pickle.dumps(f"the answer to {method!r} could not be sent ({one_line(e)})")
            status = "error"
        with sending, contextlib.suppress(EOFError, OSError):   # the app has gone: serve() is stopping
            conn.send((number, status, payload))

    try:
        while True:
            try:
                number, method, args = conn.recv()
            except (EOFError, OSError):
                break                         # the app has gone without a word
            if method == EXIT:
                break
            (slow if method in SLOW_METHODS else calls).submit(answer, number, method, args)
    finally:
        stopping.set()
        for executor in (calls, slow):
            executor.shutdown(wait=False, cancel_futures=True)
        for session in list(sessions.values()):
            session.stop()
        deadline = time.monotonic() + STOP_GRACE_S   # they clean up side by side: one deadline for all
        for session in list(sessions.values()):
            session.wait(max(deadline - time.monotonic(), 0.0))
        loop.stop()


PARENT_POLL_S = 0.5


def _watch_parent(parent: int, stopping: threading.Event) -> None:
    """SIGTERM to this process once its parent is gone (it is then another process's child)."""
    while not stopping.wait(PARENT_POLL_S):
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def _answer(method: str, args: tuple[Any, ...], sessions: dict[int, LiveSession], loop: Any,
            sandbox: Any) -> Any:
    if method == "ping":
        return "pong"
    if method == "targets":
        return sandbox.targets()
    if method == "measure":
        from live.calibrate import over_delays
        from live.server import external
        database_url, delays_ms, samples = args
        if database_url:
            target = external(database_url)
            return target.display, loop.run(over_delays(target, delays_ms, samples), 110.0)
        with sandbox.lease(spare=True) as lease:   # no run's server: they would count in its limit
            return lease.target.display, loop.run(over_delays(lease.target, delays_ms, samples), 110.0)
    if method == "start":
        sid, scenario, database_url, time_scale, max_requests, measure_costs = args
        session = LiveSession(scenario, loop, database_url, time_scale, max_requests, measure_costs)
        sessions[sid] = session
        session.start()
        _forget_finished(sessions, keep=sid)
        return None
    if method == "session":
        sid, name, *rest = args
        if name not in SESSION_METHODS:
            raise LiveError(f"no such call: {name}")
        known = sessions.get(sid)
        if known is None:
            raise LiveError("this run is no longer known to the worker")
        attribute = getattr(known, name)
        return attribute if name == "result" else attribute(*rest)
    raise LiveError(f"no such call: {method}")


KEEP_FINISHED = 32   # finished sessions kept for their results (a page fetches its result once)


def _forget_finished(sessions: dict[int, LiveSession], keep: int) -> None:
    finished = [sid for sid, s in list(sessions.items()) if sid != keep and s.phase in FINISHED]
    for sid in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
        sessions.pop(sid, None)
