"""Go's database/sql pool (`sql.go`, Go 1.23+).

Covers what sets it apart:

* below MaxOpenConns (0 = no cap) a request dials inline; at the cap it
  waits, and each freed connection goes to a *random* waiter, not the
  longest waiting one, so the tail of the waits grows long;
* the wait has no pool timeout: only the caller's context ends it;
* a returned connection goes to a waiter, else to the idle list if fewer
  than MaxIdleConns (default 2) are idle, else it is closed: without
  tuning, any burst above two connections churns;
* when a connection closes while requests wait, one background opener dials
  replacements one by one, and a failed dial hands its error to a random
  waiter;
* ConnMaxLifetime is checked at checkout and return and by the cleaner;
  ConnMaxIdleTime only by the cleaner (every >= 1 s);
* no pre-ping: the pgx driver notices a closed socket at checkout only when
  the connection sat more than 1 s; a silently cut one fails the query.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sim.connection import FIN, Conn
from sim.errors import IN_FLIGHT, TOO_MANY_SQLSTATE, LibraryError, PoolState
from sim.pools.base import TIMED_OUT, AcquireTimeout, Pool, PoolSettings, RequestFailed
from sim.server import ConnectFailed
from sim.signs import Sign, Symptom
from sim.spec import setting
from sim.trace import Ev, Why

BAD_CONN_RETRIES = 2            # maxBadConnRetries: two cached tries, then one new
PGX_CHECK_AFTER_S = 1.0         # pgx's ResetSession checks the socket if idle longer


class BadConn(Exception):
    """driver.ErrBadConn: database/sql retries."""


@dataclass(frozen=True)
class GoPool(PoolSettings):
    """Go's database/sql pool, named after its setters (durations in seconds)."""

    kind = "go"
    library = "Go database/sql"
    size_names = ("MaxIdleConns", "MaxOpenConns")
    simulation_only = "Go's database/sql is a Go library"
    markers = r"database/sql|\bsql\.Open\b|SetMaxOpenConns|SetMaxIdleConns|SetConnMax|pgx|\bpq:|\bgolang\b"
    signs = (Sign("go_deadline", r"context deadline exceeded", Symptom.TIMEOUT, "13-timeouts-and-retries"),
             Sign("go_bad_connection", r"driver: bad connection|unexpected EOF", Symptom.BROKEN,
                  "06-stale-connections"))
    MaxOpenConns: int = setting(0, int, 0, 10_000, doc="cap on open connections; 0 = unlimited",
                                slider_max=100)
    MaxIdleConns: int = setting(2, int, 0, 10_000, doc="idle connections kept; returns beyond are closed",
                                slider_max=100)
    ConnMaxLifetime: float = setting(0.0, float, 0, 604_800, unit="s",
                                     doc="close connections older than this; 0 = never", slider_max=3_600)
    ConnMaxIdleTime: float = setting(0.0, float, 0, 604_800, unit="s",
                                     doc="close connections idle longer than this; 0 = never",
                                     slider_max=3_600)
    ContextTimeout: float = setting(0.0, float, 0, 3600, unit="s",
                                    doc="the caller's context deadline for getting a connection; 0 = none",
                                    slider_max=60)

    @property
    def cap(self) -> int | None:
        return self.MaxOpenConns or None

    @property
    def max_idle(self) -> int:
        idle = self.MaxIdleConns
        return min(idle, self.MaxOpenConns) if self.MaxOpenConns else idle

    @property
    def base(self) -> int:
        return self.max_idle

    def acquire_timeout(self) -> AcquireTimeout:
        return AcquireTimeout("ContextTimeout", self.ContextTimeout or None, "s")

    def sized(self, n: int) -> dict[str, Any]:
        return {"pool.MaxOpenConns": n, "pool.MaxIdleConns": n}

    def patient_for(self, seconds: float) -> dict[str, Any]:
        return {"pool.ContextTimeout": seconds}   # context.WithTimeout around the query

    def queue(self) -> tuple[int, float] | None:
        """A freed connection goes to a random waiter: P(wait) and the mean wait are M/M/c's, the tail
        is fatter, so with a ContextTimeout the timeout check is an estimate."""
        return None if self.cap is None else (self.cap, self.ContextTimeout or math.inf)

    def timeout_error(self, reason: str, state: PoolState) -> LibraryError:
        return LibraryError("context.DeadlineExceeded", "context deadline exceeded")

    def too_many_error(self, refusal: str) -> LibraryError:
        return LibraryError("*pgconn.PgError", f"FATAL: {refusal} (SQLSTATE {TOO_MANY_SQLSTATE})",
                            TOO_MANY_SQLSTATE)

    def broken_error(self, how: str = IN_FLIGHT) -> LibraryError:
        return LibraryError("error", "unexpected EOF")


class GoDB(Pool):
    cfg: GoPool

    def start(self) -> None:
        cfg = self.cfg
        self.free: list[Conn] = []           # freeConn, most recently returned last
        self.num_open = 0                    # includes dials in progress
        self.pending_opens = 0
        self.wakeup = self.env.event()
        self.env.process(self.opener())
        periods = [d for d in (cfg.ConnMaxIdleTime, cfg.ConnMaxLifetime) if d > 0]
        if periods:
            self.env.process(self.cleaner(max(1.0, min(periods))))

    def acquire(self, request: int) -> Generator[Any, Any, Conn]:
        timeout = self.cfg.ContextTimeout
        deadline = self.env.now + timeout if timeout else None  # one context for every retry
        for attempt in range(BAD_CONN_RETRIES + 1):
            try:
                return (yield from self.conn(request, attempt < BAD_CONN_RETRIES, deadline))
            except BadConn:
                continue
        raise RequestFailed(Ev.ERROR, Why.BROKEN)

    def conn(self, request: int, cached: bool, deadline: float | None) -> Generator[Any, Any, Conn]:
        cfg = self.cfg
        if cached and self.free:
            conn = self.free.pop()
            self.check_reusable(conn, request, idle_check=True)
            return self.handed(conn, request, False)
        if cfg.MaxOpenConns and self.num_open >= cfg.MaxOpenConns:
            left = None if deadline is None else max(0.0, deadline - self.env.now)
            got = yield from self.wait(request, left)
            if got is TIMED_OUT:
                raise RequestFailed(Ev.TIMEOUT, Why.CONTEXT)
            if isinstance(got, Why):
                raise RequestFailed(Ev.ERROR, got)  # the opener's failed dial, handed to us
            self.check_reusable(got, request, idle_check=False)
            return self.handed(got, request, True)
        self.num_open += 1
        try:
            conn = yield from self.server.connect(self.instance, request)
        except ConnectFailed as e:
            self.num_open -= 1
            self.maybe_open_new()
            raise RequestFailed(Ev.ERROR, e.reason) from None
        return self.handed(conn, request, False)  # dialled inline, in the caller's goroutine

    def check_reusable(self, conn: Conn, request: int, idle_check: bool) -> None:
        lifetime = self.cfg.ConnMaxLifetime
        if lifetime and conn.born + lifetime < self.env.now:
            self.close(conn, Why.LIFETIME, request)
            raise BadConn
        if idle_check and conn.dead == FIN and self.env.now - conn.last_io > PGX_CHECK_AFTER_S:
            self.close(conn, Why.BROKEN, request)
            raise BadConn

    def release(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        lifetime = self.cfg.ConnMaxLifetime
        if lifetime and conn.born + lifetime < self.env.now:
            self.discard(conn, request, Why.LIFETIME)
        else:
            self.emit(request, conn.id, Ev.RELEASE)
            self.put_conn(conn)
        yield from ()

    def put_conn(self, conn: Conn) -> None:
        """putConnDBLocked: a waiter first, else the idle list if there is room, else close."""
        self.went_idle(conn)
        if self.hand_to_waiter(conn):
            return
        if len(self.free) < self.cfg.max_idle:
            self.free.append(conn)
        else:
            self.close(conn, Why.MAX_IDLE)

    def hand_to_waiter(self, item: Any) -> bool:
        """connRequests is a set: a uniformly random waiter, removed by swap-with-last."""
        waiters = self.waiters
        while waiters:
            i = self.rng.randrange(len(waiters))
            ev = waiters[i]
            waiters[i] = waiters[-1]
            waiters.pop()
            if not ev.triggered:
                ev.succeed(item)
                return True
        return False

    def close(self, conn: Conn, reason: Why, request: int = -1) -> None:
        super().close(conn, reason, request)
        self.num_open -= 1
        if conn in self.free:
            self.free.remove(conn)
        self.maybe_open_new()

    # ------------------------------------------------------ background work

    def maybe_open_new(self) -> None:
        wanted = self.waiting - self.pending_opens
        if self.cfg.MaxOpenConns:
            wanted = min(wanted, self.cfg.MaxOpenConns - self.num_open)
        if wanted > 0:
            self.num_open += wanted
            self.pending_opens += wanted
            if not self.wakeup.triggered:
                self.wakeup.succeed()

    def opener(self) -> Generator[Any, Any, None]:
        """connectionOpener: one goroutine, dialling one at a time."""
        while True:
            if not self.pending_opens:
                self.wakeup = self.env.event()
                yield self.wakeup
                continue
            self.pending_opens -= 1
            try:
                conn = yield from self.server.connect(self.instance, -1)
            except ConnectFailed as e:
                self.num_open -= 1
                self.hand_to_waiter(e.reason)
                self.maybe_open_new()
                continue
            self.put_conn(conn)

    def cleaner(self, period: float) -> Generator[Any, Any, None]:
        cfg = self.cfg
        while True:
            yield self.env.timeout(period)
            now = self.env.now
            for conn in list(self.free):
                if cfg.ConnMaxIdleTime and now - conn.idle_since > cfg.ConnMaxIdleTime:
                    self.close(conn, Why.IDLE)
                elif cfg.ConnMaxLifetime and now - conn.born > cfg.ConnMaxLifetime:
                    self.close(conn, Why.LIFETIME)
