"""A live run driven from a synchronous UI thread: start it, watch it, poke it, stop it.

The web app's script thread must neither block for a whole run nor touch
objects of the run's event loop. So the run lives on a `BackgroundLoop`, and
the UI only calls this class: `start()` and `stop()` return at once,
`snapshot()` is a frozen copy of plain numbers taken from the recorder's
tally (the trace itself must not be read while it grows, see
`live.recorder`), `trace_since()` copies out a bounded stretch of the rows
written so far (a `TraceSoFar` on the caller's side puts them together
again), and the faults on demand and the server's own view are short
coroutines submitted to the loop and waited for.

Errors reach the UI as one line, with DATABASE_URL's password masked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from live.loop import BackgroundLoop
from live.recorder import Counts, LiveTrace, Rows
from live.runner import RESTART_REFUSED, LiveResult, LiveRun
from live.server import LiveError, mask, redact
from sim.scenario import Scenario

T = TypeVar("T")

Phase = Literal["starting", "running", "stopping", "done", "failed", "cancelled"]
FINISHED: tuple[Phase, ...] = ("done", "failed", "cancelled")
SANDBOX_DISPLAY = "embedded PostgreSQL (sandbox)"
ROWS_PER_POLL = 25_000   # about 550 kB: a poll that is far behind catches up over several, never in one


@dataclass(frozen=True)
class Snapshot:
    """A live run at one moment, safe to keep and read in any thread."""

    phase: Phase
    now_s: float             # the scenario clock
    duration_s: float        # the scenario's length
    arrived: int             # requests so far
    completed: int
    timed_out: int
    errors: int
    leaked: int
    connects: int            # connections opened so far
    checked_out: int         # levels now: connections held by requests (leaked ones included)
    open: int                #   open in the pools
    idle: int                #   open and not held
    waiting: int             #   requests queued for a connection
    server: int              #   this run's backends on the server, as the trace knows them
    server_down: bool        # a restart has the server down right now
    server_display: str      # which server, password masked
    application_name: str    # what pg_stat_activity shows for this run's connections
    error: str = ""          # one line, when the phase is "failed"
    error_reasons: dict[str, int] = field(default_factory=dict)   # errors so far, by reason

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    @property
    def progress(self) -> float:
        """How far the scenario clock is, from 0 to 1."""
        return min(max(self.now_s / self.duration_s, 0.0), 1.0) if self.duration_s > 0 else 0.0

    @property
    def in_flight(self) -> int:
        return self.arrived - self.completed - self.timed_out - self.errors


def one_line(error: BaseException, url: str | None = None) -> str:
    """The error in one line, with the URL's password removed wherever it appears."""
    text = " ".join(str(error).split())
    if not isinstance(error, LiveError):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return redact(text, url)


class TraceSoFar:
    """A running trace as the page has fetched it so far, from the session that records it.

    Each `pull` asks only for the rows after those it already has, at most
    `limit` of them, so a page polling twice a second a run of tens of
    thousands of rows receives each row once, and a poll that is far behind
    catches up over several polls instead of sending megabytes in one.
    """

    def __init__(self) -> None:
        self.trace = LiveTrace()
        self.written = 0          # rows the run had written at the last pull (this may be fewer)
        self.received = 0         # bytes received over every pull
        self._lock = threading.Lock()

    @property
    def behind(self) -> int:
        """Rows the run had written at the last pull that this does not have yet."""
        return max(self.written - len(self.trace), 0)

    @property
    def last_s(self) -> float:
        """The scenario time of the latest row here (0 with none)."""
        return self.trace.last_t

    def pull(self, since: Callable[[int, int, int], Rows], limit: int = ROWS_PER_POLL) -> TraceSoFar:
        """Fetch the next rows with `since(start, limit, readings)` and add them; itself, for chaining."""
        with self._lock:
            readings = 0 if self.trace.show_pools is None else len(self.trace.show_pools)
            rows = since(len(self.trace), limit, readings)
            self.trace.append(rows)
            self.written = max(self.written, rows.written)
            self.received += rows.nbytes
        return self


class LiveSession:
    """One live run on a `BackgroundLoop`, seen from a synchronous caller.

    Single use: `start()` once (again is a no-op), then poll `snapshot()`
    until it is finished; `stop()` cancels, and the run's own cleanup still
    closes every connection it opened. Several sessions may share one loop.
    """

    def __init__(self, scenario: Scenario, loop: BackgroundLoop, database_url: str | None = None,
                 time_scale: float = 1.0, max_requests: int | None = None, measure_costs: bool = False
                 ) -> None:
        self.scenario = scenario
        self.loop = loop
        self.database_url = database_url
        self.time_scale = time_scale
        self.max_requests = max_requests
        self.measure_costs = measure_costs   # as `live.runner.run`: the result's `costs`, for `compare`
        self._lock = threading.Lock()
        self._started = False
        self._stop_requested = False
        self._run: LiveRun | None = None
        self._future: concurrent.futures.Future[None] | None = None
        self._ended = threading.Event()
        self._outcome: Phase | None = None   # written once, when the run has ended
        self._error = ""
        self._result: LiveResult | None = None
        self._so_far = TraceSoFar()

    # -- starting and stopping
    def start(self) -> None:
        """Start the run in the background and return at once; a failure shows as phase "failed"."""
        with self._lock:
            if self._started:
                return
            self._started = True
            try:
                self._run = LiveRun(self.scenario, self.database_url, self.time_scale, self.max_requests,
                                    self.measure_costs)
                self._future = self.loop.submit(self._main(self._run))
            except Exception as e:
                self._end("failed", None, one_line(e, self.database_url))

    def stop(self) -> None:
        """Cancel the run and return at once; it shows "stopping" until its cleanup is done (bounded)."""
        with self._lock:
            if self._ended.is_set():
                return
            self._stop_requested = True
            if self._future is None:   # never started (or failed to): it stays so
                self._started = True
                self._end("cancelled", None)
                return
            self._future.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended (done, failed or cancelled); whether it has."""
        return self._ended.wait(timeout)

    async def _main(self, run: LiveRun) -> None:
        try:
            result = await run.go()
        except asyncio.CancelledError:
            ended = run.result
            self._end("done" if ended is not None and not ended.cancelled else "cancelled", ended)
            raise
        except Exception as e:
            self._end("failed", None, one_line(e, self.database_url))
        else:
            self._end("done", result)
        finally:
            if not self._ended.is_set():   # neither a result nor an Exception (e.g. SystemExit)
                self._end("cancelled", run.result)

    def _end(self, outcome: Phase, result: LiveResult | None, error: str = "") -> None:
        if self._ended.is_set():
            return
        self._result, self._error, self._outcome = result, error, outcome
        self._ended.set()

    # -- watching
    @property
    def phase(self) -> Phase:
        if self._outcome is not None:
            return self._outcome
        run = self._run
        if run is None:
            return "starting"
        if self._stop_requested or run.recorder.stopped:
            return "stopping"
        return "running" if run.recorder.started else "starting"

    @property
    def result(self) -> LiveResult | None:
        """The finished run, when it is done or was cancelled (the trace up to the stop)."""
        return self._result if self._outcome in ("done", "cancelled") else None

    @property
    def application_name(self) -> str:
        return self._run.name if self._run is not None else ""

    @property
    def server_display(self) -> str:
        if self._run is not None:
            return self._run.display
        return f"DATABASE_URL {mask(self.database_url)}" if self.database_url else SANDBOX_DISPLAY

    def snapshot(self) -> Snapshot:
        """Where the run is now, from plain numbers only: cheap, and safe from any thread."""
        phase = self.phase
        run = self._run
        counts = run.recorder.tally.counts() if run is not None else Counts()
        return Snapshot(
            phase=phase, now_s=run.recorder.now() if run is not None else 0.0,
            duration_s=self.scenario.duration_s,
            arrived=counts.arrived, completed=counts.completed, timed_out=counts.timed_out,
            errors=counts.errors, leaked=counts.leaked, connects=counts.connects,
            checked_out=counts.checked_out, open=counts.open, idle=counts.idle, waiting=counts.waiting,
            server=counts.server, server_down=counts.server_down,
            server_display=self.server_display, application_name=self.application_name,
            error=self._error if phase == "failed" else "", error_reasons=counts.error_reasons)

    def server_view(self, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """This run's rows of pg_stat_activity, as the server itself sees them.

        Each row: pid, state, backend_start, state_change, wait_event_type,
        wait_event and query (truncated). Empty before the run has a server,
        and while a restart has it down (nothing of this run is on it then);
        LiveError (one line) if it cannot be asked otherwise.
        """
        run = self._run
        if run is None:
            return []
        try:
            return self._on_loop(run.server_view(), timeout_s,
                                 f"cannot read pg_stat_activity on {run.display}")
        except LiveError:
            if run.recorder.tally.server_down:
                return []
            raise

    def trace_since(self, start: int, limit: int = ROWS_PER_POLL, readings: int = 0) -> Rows:
        """The run's trace rows from `start` on, at most `limit` of them: none before it has a recorder.

        After the run has ended these are the result's own rows, so the
        stretches put together are a prefix of (or all of) the result's trace.
        With a pooler, its SHOW POOLS readings from `readings` on come along.
        """
        run = self._run
        trace = run.recorder.trace if run is not None else LiveTrace()
        return trace.rows_since(start, limit, readings)

    def trace_so_far(self, limit: int = ROWS_PER_POLL) -> TraceSoFar:
        """The trace as far as it has been fetched, grown by at most `limit` rows at each call."""
        return self._so_far.pull(self.trace_since, limit)

    # -- faults on demand
    def kill_idle_now(self, timeout_s: float = 10.0) -> int:
        """Terminate this run's idle connections now, as the kill_idle fault; how many."""
        run = self._live_run("kill idle connections")
        return self._on_loop(run.kill_idle_now(), timeout_s, "kill idle connections failed")

    def restart_now(self, down_s: float = 1.0, timeout_s: float = 10.0) -> None:
        """Restart the sandbox server now, down for `down_s` scenario seconds; the run goes on.

        Returns once the server is going down; LiveError on DATABASE_URL.
        """
        if self.database_url:
            raise LiveError(RESTART_REFUSED)
        run = self._live_run("restart the server")
        self._on_loop(run.restart_now(down_s), timeout_s, "restart failed")

    def _live_run(self, what: str) -> LiveRun:
        run = self._run
        if run is None or self.phase != "running":
            raise LiveError(f"cannot {what}: no run is going on")
        return run

    def _on_loop(self, coro: Coroutine[Any, Any, T], timeout_s: float, failing: str) -> T:
        """Run a short coroutine on the run's loop and wait for it; its failure as one LiveError line."""
        try:
            return self.loop.run(coro, timeout_s)
        except LiveError as e:
            raise LiveError(one_line(e, self.database_url)) from None
        except TimeoutError:
            raise LiveError(f"{failing}: no answer within {timeout_s:g} s") from None
        except Exception as e:
            raise LiveError(f"{failing}: {one_line(e, self.database_url)}") from None
