"""Invariants of the model, on random small scenarios of every pool kind.

Hypothesis draws a whole scenario (traffic, pool, database, faults), the
model runs it, and each test checks one thing that must hold whatever the
settings: every request ends once, no pool goes over its cap, the server
never admits more than its role limit, times are never negative, a timeout
happens only where the library would raise one, runs are reproducible and
the trace survives its CSV form.

Levels are recomputed per instance with `sim.metrics.levels` on that
instance's rows, in time order, so the checks read the trace exactly as the
metrics and the charts do.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np
import pytest
from conftest import at, events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.lifecycle import COUNTED, Running, check
from sim.metrics import levels, request_times, summarize_run
from sim.model import run
from sim.scenario import Scenario, from_dict, load_preset, preset_names
from sim.server import CONNECT_ROUND_TRIPS
from sim.trace import COLUMNS, Ev, Trace, Why
from sim.workload import draw

settings.register_profile(
    "pool-stand", max_examples=60, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(  # POOL_STAND_HYPOTHESIS=explore: many more, random examples
    "explore", max_examples=1500, deadline=None, derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile(os.environ.get("POOL_STAND_HYPOTHESIS", "pool-stand"))

KINDS = ("sqlalchemy", "asyncpg", "hikari", "go", "none")


# ----------------------------------------------------------------- strategies

def real(lo: float, hi: float, places: int = 3) -> st.SearchStrategy[float]:
    """A float in lo..hi, rounded so that a failing example reads well."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda x: round(x, places))


def off_or(off: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(off), strategy)


@st.composite
def pools(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """A raw [pool] table of one kind, every parameter in a small range."""
    kind = kind or draw(st.sampled_from(KINDS))
    if kind == "sqlalchemy":
        return {"kind": kind,
                "pool_size": draw(st.integers(0, 5)),
                "max_overflow": draw(st.integers(-1, 3)),
                "pool_timeout": draw(real(0.01, 2.0)),
                "pool_recycle": draw(off_or(-1.0, real(1.0, 3.0))),
                "pool_pre_ping": draw(st.booleans()),
                "pool_use_lifo": draw(st.booleans())}
    if kind == "asyncpg":
        max_size = draw(st.integers(1, 8))
        pool: dict[str, Any] = {
            "kind": kind,
            "max_size": max_size,
            "min_size": draw(st.integers(0, max_size)),
            "max_queries": draw(st.integers(1, 60)),
            "max_inactive_connection_lifetime": draw(off_or(0.0, real(0.05, 2.0)))}
        timeout = draw(off_or(None, real(0.01, 2.0)))
        command_timeout = draw(off_or(None, real(0.01, 2.0)))
        if timeout is not None:
            pool["timeout"] = timeout
        if command_timeout is not None:
            pool["command_timeout"] = command_timeout
        return pool
    if kind == "hikari":
        size = draw(st.integers(1, 8))
        pool = {"kind": kind,
                "maximumPoolSize": size,
                "connectionTimeout": draw(st.integers(250, 2000)),
                "leakDetectionThreshold": draw(off_or(0, st.integers(2000, 4000))),
                "idleTimeout": draw(st.sampled_from([0, 10_000])),
                "maxLifetime": draw(st.sampled_from([0, 30_000]))}
        minimum_idle = draw(off_or(None, st.integers(0, size)))
        if minimum_idle is not None:
            pool["minimumIdle"] = minimum_idle
        return pool
    if kind == "go":
        return {"kind": kind,
                "MaxOpenConns": draw(st.integers(0, 6)),
                "MaxIdleConns": draw(st.integers(0, 4)),
                "ConnMaxLifetime": draw(off_or(0.0, real(0.05, 2.0))),
                "ConnMaxIdleTime": draw(off_or(0.0, real(0.05, 2.0))),
                "ContextTimeout": draw(off_or(0.0, real(0.05, 2.0)))}
    return {"kind": "none"}


@st.composite
def raw_scenarios(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS, busy: bool = False) -> dict[str, Any]:
    """A whole raw scenario, as a TOML file would give it to `from_dict`.

    `busy` keeps rates and holds high enough that pools fill up and requests wait.
    """
    duration = draw(real(0.5, 5.0))
    dist = draw(st.sampled_from(["constant", "exponential", "lognormal"]))
    hold: dict[str, Any] = {"dist": dist, "mean_ms": draw(real(20.0 if busy else 1.0, 300.0))}
    if dist == "lognormal":
        hold["sigma"] = draw(real(0.1, 1.5))
    starts = sorted(draw(st.lists(real(0.0, duration), max_size=2)))
    phases = [{"at_s": at_s, "rate_per_s": draw(real(0.0, 200.0))} for at_s in starts]
    max_connections = draw(st.integers(3, 30))
    faults = []
    for kind in draw(st.lists(st.sampled_from(["kill_idle", "restart", "idle_cut"]), max_size=2)):
        fault: dict[str, Any] = {"kind": kind, "at_s": draw(real(0.0, duration))}
        if kind == "restart":
            fault["down_s"] = draw(real(0.0, 1.0))
        if kind == "idle_cut":
            fault["idle_cut_after_s"] = draw(real(0.05, 1.0))
        faults.append(fault)
    return {
        "name": "property",
        "seed": draw(st.integers(0, 2**32 - 1)),
        "duration_s": duration,
        "workload": {
            "rate_per_s": draw(real(50.0 if busy else 1.0, 200.0)),
            "phases": phases,
            "hold": hold,
            "cpu_fraction": draw(real(0.0, 1.0)),
            "leak_probability": draw(off_or(0.0, real(0.0, 0.05))),
        },
        "pool": draw(pools(draw(st.sampled_from(kinds)))),
        "database": {
            "connect_ms": draw(real(0.0, 50.0)),
            "rtt_ms": draw(real(0.0, 5.0)),
            "max_connections": max_connections,
            "superuser_reserved_connections": draw(st.integers(0, 2)),
            "cores": draw(st.integers(0, 4)),
        },
        "app": {"instances": draw(st.integers(1, 4))},
        "faults": faults,
    }


def scenarios(kinds: tuple[str, ...] = KINDS, busy: bool = False) -> st.SearchStrategy[Scenario]:
    return raw_scenarios(kinds, busy).map(from_dict)


# -------------------------------------------------------------------- helpers

def per_instance(cols: dict[str, np.ndarray], instance: int) -> dict[str, np.ndarray]:
    """That instance's rows, still in time order."""
    mine = cols["instance"] == instance
    return {name: col[mine] for name, col in cols.items()}


def pool_cap(scenario: Scenario) -> int | None:
    """The most connections one instance's pool may hand out, as each library bounds it."""
    pool = scenario.pool
    kind = pool.kind
    if kind == "sqlalchemy":
        return pool.pool_size + pool.max_overflow if pool.pool_size > 0 and pool.max_overflow >= 0 else None
    if kind == "asyncpg":
        return pool.max_size
    if kind == "hikari":
        return pool.maximumPoolSize
    if kind == "go":
        return pool.MaxOpenConns or None
    return None


def rows_of(cols: dict[str, np.ndarray], kind: Ev) -> np.ndarray:
    return np.flatnonzero(cols["kind"] == kind)


# ----------------------------------------------------------------- invariants

@PROFILE
@given(scenarios())
def test_every_request_ends_at_most_once_and_the_counts_add_up(scenario: Scenario) -> None:
    result = run(scenario)
    cols = result.trace.columns()
    kind, req = cols["kind"], cols["request"]
    arrived = req[kind == Ev.ARRIVE]
    # requests are numbered 0..n-1 in arrival order, each arriving once
    assert result.requests == arrived.size == sum(len(chunk.t) for chunk in draw(scenario))
    assert np.array_equal(arrived, np.arange(result.requests))
    ends = req[np.isin(kind, (Ev.QUERY_END, Ev.TIMEOUT, Ev.ERROR))]
    assert ends.min(initial=0) >= 0
    assert np.bincount(ends, minlength=result.requests).max(initial=0) <= 1
    # nothing is done for a request after it timed out, and nothing is acquired after it ended
    for r in ends.tolist():
        mine = np.flatnonzero(req == r)
        end_at = next(i for i in mine.tolist() if kind[i] in (Ev.QUERY_END, Ev.TIMEOUT, Ev.ERROR))
        after = kind[mine[mine > end_at]]
        assert not np.isin(after, (Ev.ARRIVE, Ev.WAIT, Ev.ACQUIRE, Ev.QUERY_START, Ev.CONNECT)).any()
        if kind[end_at] == Ev.TIMEOUT:
            assert after.size == 0
    m = summarize_run(result)
    assert m["requests"] == result.requests
    assert m["in_flight"] >= 0
    assert m["in_flight"] == m["requests"] - m["completed"] - m["timed_out"] - sum(m["errors"].values())
    assert m["in_flight"] == result.requests - np.unique(ends).size


@PROFILE
@given(scenarios(), st.integers(1, 300))
def test_max_requests_runs_exactly_that_many(scenario: Scenario, n: int) -> None:
    result = run(scenario, max_requests=n)
    cols = result.trace.columns()
    arrive_t = cols["t"][cols["kind"] == Ev.ARRIVE]
    if scenario.workload.rate_at(scenario.duration_s) > 0:
        assert result.requests == arrive_t.size == n
    else:  # a schedule that ends at rate 0 cannot go on: it gives what it has
        assert result.requests == arrive_t.size == min(n, sum(len(chunk.t) for chunk in draw(scenario)))
        if not arrive_t.size:
            return
    # it ends when the last request has ended (after its release), or when arrivals stop
    # at duration_s, or at the last arrival if the schedule had to run on
    stop = max(scenario.duration_s, float(arrive_t[-1]))
    last_row = float(cols["t"][cols["request"] >= 0].max())
    assert result.end_s in (last_row, stop)
    assert last_row <= result.end_s <= stop
    if summarize_run(result)["in_flight"]:
        assert result.end_s == stop


@PROFILE
@given(scenarios())
def test_no_instance_hands_out_more_connections_than_its_pool_allows(scenario: Scenario) -> None:
    result = run(scenario)
    cols = result.trace.columns()
    cap = pool_cap(scenario)
    for i in range(scenario.app.instances):
        lv = levels(per_instance(cols, i))
        assert lv["checked_out"].min(initial=0) >= 0
        if cap is not None:
            assert lv["checked_out"].max(initial=0) <= cap
            # the physical connections too: open ones plus those being opened
            assert (lv["open"] + lv["connecting"]).max(initial=0) <= cap


@PROFILE
@given(scenarios())
def test_the_server_never_admits_more_than_the_role_limit(scenario: Scenario) -> None:
    result = run(scenario)
    server = levels(result.trace.columns())["server"]
    assert server.min(initial=0) >= 0
    assert server.max(initial=0) <= scenario.database.role_limit


@PROFILE
@given(scenarios())
def test_waits_and_latencies_are_never_negative(scenario: Scenario) -> None:
    result = run(scenario)
    cols = result.trace.columns()
    waits, latencies = request_times(cols)
    assert waits.size == np.count_nonzero(cols["kind"] == Ev.QUERY_START)
    assert latencies.size == np.count_nonzero(cols["kind"] == Ev.QUERY_END)
    assert not np.isnan(waits).any() and not np.isnan(latencies).any()
    assert waits.min(initial=0) >= 0
    assert latencies.min(initial=0) >= 0
    # and time never runs backwards in the log as it was written
    assert all(a[0] <= b[0] for a, b in zip(result.trace.rows(), result.trace.rows(1), strict=False))


# ------------------------------------------------------------------- timeouts
#
# When may a request give up? Each library answers differently, so each kind
# gets its own precise statement (see pool-semantics.md, section 7):
#
# * SQLAlchemy waits only when no record is idle and the pool holds
#   pool_size + max_overflow records, and it times out only if that is still
#   so when pool_timeout runs out (it looks once more). A record being
#   pre-pinged has left the idle queue but is not yet checked out, so the
#   count that must equal the cap is open + connecting connections, not
#   checked-out + connecting ones (see the example test further down).
# * Go waits only when numOpen (open connections plus dials in progress)
#   reached MaxOpenConns; numOpen also counts dials the background opener
#   has been asked for but not started, so the trace may show fewer while
#   the opener is at work. The wait ends at the caller's context deadline.
# * asyncpg's timeout covers the wait and the connect: it fires exactly
#   `timeout` after the acquire began, after a wait or because the connect
#   cannot finish in time.
# * HikariCP's requests always wait for a connection that the background
#   creator may still be making; the timeout fires at connectionTimeout,
#   late by at most the validation of a connection that turned out dead.

def arrivals_by_request(cols: dict[str, np.ndarray]) -> np.ndarray:
    arrive = rows_of(cols, Ev.ARRIVE)
    out = np.full(int(cols["request"][arrive].max(initial=-1)) + 1, np.nan)
    out[cols["request"][arrive]] = cols["t"][arrive]
    return out


def last_row_at_same_time(t: np.ndarray, j: int) -> int:
    """The last row written at the same instant as row j."""
    return int(np.searchsorted(t, t[j], side="right")) - 1


def opener_dialing(c: dict[str, np.ndarray]) -> np.ndarray:
    """Dials in progress by a pool's own background process (request -1), after each row."""
    own = c["request"] == -1
    up = own & (c["kind"] == Ev.CONNECT)
    down = own & np.isin(c["kind"], (Ev.OPEN, Ev.CONNECT_FAIL))
    return np.cumsum(up.astype(np.int64) - down.astype(np.int64))


def check_sqlalchemy_waits(scenario: Scenario, c: dict[str, np.ndarray]) -> None:
    cap = pool_cap(scenario)
    kind, t = c["kind"], c["t"]
    waits = rows_of(c, Ev.WAIT)
    if cap is None:
        assert waits.size == 0 and rows_of(c, Ev.TIMEOUT).size == 0
        return
    lv = levels(c)
    held = lv["open"] + lv["connecting"]
    for j in np.concatenate([waits, rows_of(c, Ev.TIMEOUT)]).tolist():
        # an empty record handed to a waiter at this instant shows as its connect a row later
        assert cap in (held[j], held[last_row_at_same_time(t, j)]), (
            f"{Ev(kind[j]).name.lower()} of request {c['request'][j]} at {t[j]:.6f}: "
            f"{held[j]} open or connecting, cap {cap}")
    arrive = arrivals_by_request(c)
    for j in rows_of(c, Ev.TIMEOUT).tolist():
        r = c["request"][j]
        assert np.isclose(t[j] - arrive[r], scenario.pool.pool_timeout, rtol=0, atol=1e-9)


def check_go_waits(scenario: Scenario, c: dict[str, np.ndarray]) -> None:
    cap = pool_cap(scenario)
    kind, t, req = c["kind"], c["t"], c["request"]
    waits, timeouts = rows_of(c, Ev.WAIT), rows_of(c, Ev.TIMEOUT)
    if cap is None:
        assert waits.size == 0
    if not scenario.pool.ContextTimeout:
        assert timeouts.size == 0
    if waits.size == 0:
        return
    lv = levels(c)
    held = lv["open"] + lv["connecting"]
    dialing = opener_dialing(c)
    for j in waits.tolist():
        if held[j] == cap:
            continue
        # numOpen counts dials the opener owes: it is dialling now, or starts at this instant
        later = np.flatnonzero((t == t[j]) & (req == -1) & (kind == Ev.CONNECT))
        assert dialing[j] > 0 or (later > j).any(), (
            f"wait of request {req[j]} at {t[j]:.6f}: {held[j]} open or connecting, cap {cap}, "
            f"and the opener is idle")
    for j in timeouts.tolist():
        mine = np.flatnonzero((req == req[j]) & (kind == Ev.WAIT))
        assert c["reason"][j] == Why.CONTEXT
        assert mine.size and mine[-1] < j
        assert np.isclose(t[j] - t[mine[-1]], scenario.pool.ContextTimeout, rtol=0, atol=1e-9)


def check_asyncpg_waits(scenario: Scenario, c: dict[str, np.ndarray]) -> None:
    pool = scenario.pool
    kind, t, req = c["kind"], c["t"], c["request"]
    timeouts = rows_of(c, Ev.TIMEOUT)
    if pool.timeout is None:
        assert timeouts.size == 0
    connect_s = scenario.database.connect_ms / 1000 + CONNECT_ROUND_TRIPS * scenario.database.rtt_ms / 1000
    arrive = arrivals_by_request(c)
    for j in timeouts.tolist():
        r = req[j]
        waited = ((req == r) & (kind == Ev.WAIT)).any()
        assert waited or connect_s > pool.timeout
        assert np.isclose(t[j] - arrive[r], pool.timeout, rtol=0, atol=1e-9)
    # a request waits only when every holder is taken: checked out, connecting, or held
    # by a request whose connect cannot finish before its deadline, which then times out
    # (later, or after the end of the run)
    lv = levels(c)
    held = lv["checked_out"] + lv["connecting"]
    ended = np.isin(kind, (Ev.QUERY_END, Ev.ERROR))
    gives_up_at = np.full(arrive.size, np.inf)
    gives_up_at[req[ended]] = -np.inf
    gives_up_at[req[timeouts]] = t[timeouts]
    for j in rows_of(c, Ev.WAIT).tolist():
        doomed = np.count_nonzero((arrive <= t[j]) & (gives_up_at > t[j]))
        deficit = pool.max_size - max(held[j], held[last_row_at_same_time(t, j)])
        assert 0 <= deficit <= doomed, f"wait of request {req[j]} at {t[j]:.6f}: {held[j]} holders taken"


def check_hikari_waits(scenario: Scenario, c: dict[str, np.ndarray]) -> None:
    kind, t, req = c["kind"], c["t"], c["request"]
    limit = scenario.pool.connectionTimeout / 1000
    rtt = scenario.database.rtt_ms / 1000
    # a request waits only when no connection is idle: the trace's idle ones (open, not
    # checked out) are then all being validated (a PING row ends each, one round trip on)
    idle = levels(c)["idle"]
    pings = rows_of(c, Ev.PING)
    for j in rows_of(c, Ev.WAIT).tolist():
        validating = np.count_nonzero((pings > j) & (t[pings] - rtt <= t[j] + 1e-12))
        assert min(idle[j], idle[last_row_at_same_time(t, j)]) <= validating, (
            f"wait of request {req[j]} at {t[j]:.6f} with {idle[j]} idle connections")
    arrive = arrivals_by_request(c)
    for j in rows_of(c, Ev.TIMEOUT).tolist():
        mine = np.flatnonzero((req == req[j]) & (kind == Ev.WAIT))
        assert mine.size and mine[-1] < j
        late = t[j] - arrive[req[j]] - limit
        assert -1e-9 <= late <= rtt + 1e-9


CHECKS = {"sqlalchemy": check_sqlalchemy_waits, "go": check_go_waits,
          "asyncpg": check_asyncpg_waits, "hikari": check_hikari_waits}


@pytest.mark.parametrize("kind", KINDS)
@PROFILE
@given(data=st.data())
def test_requests_wait_and_time_out_only_where_their_library_would(kind: str, data: st.DataObject) -> None:
    scenario = data.draw(scenarios((kind,), busy=True), label="scenario")
    result = run(scenario)
    cols = result.trace.columns()
    if scenario.pool.kind == "none":
        assert not np.isin(cols["kind"], (Ev.WAIT, Ev.TIMEOUT)).any()
        return
    for i in range(scenario.app.instances):
        CHECKS[scenario.pool.kind](scenario, per_instance(cols, i))


def test_a_record_being_pre_pinged_counts_toward_the_cap_though_not_checked_out():
    """Why the SQLAlchemy check counts open connections rather than checked-out ones.

    Request 1 took the only record from the idle queue and pings it (4 round
    trips: the first ping on a connection prepares its statement); request 2,
    arriving during the ping, waits and times out although nothing is checked
    out or connecting: SQLAlchemy pings inside checkout,
    after the record left the queue, exactly as the model does.
    """
    scenario = from_dict({
        "name": "ping", "duration_s": 10.0,
        "pool": {"kind": "sqlalchemy", "pool_size": 1, "max_overflow": 0,
                 "pool_timeout": 0.05, "pool_pre_ping": True},
        "database": {"connect_ms": 10.0, "rtt_ms": 1.0}})
    result = run(scenario, arrivals=at(1.0, 2.0, 2.001, hold=[0.1, 1.0, 0.1]))
    cols = result.trace.columns()
    lv = levels(cols)
    wait = int(np.flatnonzero(cols["kind"] == Ev.WAIT)[0])
    assert (cols["t"][wait], cols["request"][wait]) == (2.001, 2)
    assert (lv["checked_out"][wait], lv["connecting"][wait], lv["open"][wait]) == (0, 0, 1)
    assert events(result, request=2)[-1] == (2.051, 2, -1, "timeout", "none")
    assert events(result, request=1, kinds=("ping",)) == [(2.004, 1, 0, "ping", "ok")]


# ------------------------------------------------------- reproducible traces

@PROFILE
@given(scenarios())
def test_the_same_seed_gives_the_identical_trace(scenario: Scenario) -> None:
    first, second = run(scenario).trace.columns(), run(scenario).trace.columns()
    for name in COLUMNS:
        assert np.array_equal(first[name], second[name]), name


@PROFILE
@given(raw_scenarios(), pools())
def test_pool_settings_never_move_the_arrivals(raw: dict[str, Any], other_pool: dict[str, Any]) -> None:
    """Common random numbers: another pool (any kind, any settings) meets the same traffic."""
    changed = from_dict({**raw, "pool": other_pool})
    a, b = run(from_dict(raw)).trace.columns(), run(changed).trace.columns()
    arrive_a, arrive_b = a["kind"] == Ev.ARRIVE, b["kind"] == Ev.ARRIVE
    for name in ("t", "request", "instance"):
        assert np.array_equal(a[name][arrive_a], b[name][arrive_b]), name


def test_another_seed_gives_other_arrivals():
    raw = {"name": "seeds", "duration_s": 2.0, "workload": {"rate_per_s": 50.0}}
    one = run(from_dict({**raw, "seed": 1})).trace.columns()
    two = run(from_dict({**raw, "seed": 2})).trace.columns()
    first = one["t"][one["kind"] == Ev.ARRIVE][:10]
    assert not np.array_equal(first, two["t"][two["kind"] == Ev.ARRIVE][:10])


@PROFILE
@given(scenarios())
def test_the_trace_survives_its_csv_form(scenario: Scenario) -> None:
    trace = run(scenario).trace
    text = trace.to_csv()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    back = Trace.read_csv(io.StringIO(text))
    rows, again = trace.rows(), back.rows()
    assert len(again) == len(rows) == len(text.splitlines()) - 1
    for (t1, *rest1), (t2, *rest2) in zip(rows, again, strict=True):
        assert abs(t1 - t2) <= 1e-6
        assert rest1 == rest2


# ------------------------------------------- regressions: gaps these tests once found

def test_a_connection_killed_during_its_pre_ping_fails_the_ping():
    # connection 0 sits idle; request 1 pings it from 2.0 to 2.03 (3 round trips of 10 ms);
    # the server restarts at 2.01 and is back at 2.011. SQLAlchemy's ping reads the FATAL
    # 57P01 the server sent, so it fails, and the record reconnects inline: no error.
    scenario = from_dict({
        "name": "ping-kill", "duration_s": 10.0,
        "pool": {"kind": "sqlalchemy", "pool_size": 1, "max_overflow": 0, "pool_pre_ping": True},
        "database": {"connect_ms": 10.0, "rtt_ms": 10.0},
        "faults": [{"kind": "restart", "at_s": 2.01, "down_s": 0.001}]})
    result = run(scenario, arrivals=at(1.0, 2.0))
    assert [e[4] for e in events(result, request=1, kinds=("ping",))] == ["fail"]
    assert events(result, request=1, kinds=("error",)) == []


LEAK_KILL = {   # asyncpg's only holder leaks at 1.11; a restart at 2.0 kills its connection
    "name": "leak-kill", "duration_s": 10.0,
    "pool": {"kind": "asyncpg", "min_size": 0, "max_size": 1, "timeout": 1.0},
    "database": {"connect_ms": 10.0, "rtt_ms": 0.0},
    "faults": [{"kind": "restart", "at_s": 2.0, "down_s": 0.1}]}


def test_asyncpg_gets_the_holder_of_a_killed_leaked_connection_back():
    # the only holder leaks at 1.11; the restart at 2.0 kills its connection, which makes
    # asyncpg's connection_lost release the holder; request 1 then reconnects and completes
    result = run(from_dict(LEAK_KILL), arrivals=at(1.0, 3.0, leak=[True, False]))
    assert events(result, request=1, kinds=("timeout", "query_end")) == [(3.11, 1, 1, "query_end", "none")]


# ------------------------------------------------------------ the trace checker
#
# `sim.lifecycle.check` reads a trace as the lifecycles of its requests and
# connections and the levels they move; the live tests run it on every live
# trace, and these on the model's.

@PROFILE
@given(scenarios())
def test_every_simulated_trace_passes_the_checker(scenario: Scenario) -> None:
    assert check(run(scenario).trace) == []


@pytest.mark.parametrize("kind", KINDS)
@PROFILE
@given(data=st.data())
def test_every_busy_simulated_trace_passes_the_checker(kind: str, data: st.DataObject) -> None:
    scenario = data.draw(scenarios((kind,), busy=True), label="scenario")
    assert check(run(scenario).trace) == []


@pytest.mark.parametrize("name", preset_names())
def test_every_presets_trace_passes_the_checker(name: str) -> None:
    assert check(run(load_preset(name)).trace) == []


@PROFILE
@given(scenarios())
def test_the_running_levels_are_the_metrics_levels_row_by_row(scenario: Scenario) -> None:
    """The live recorder's tally (`Running`) and the metrics (`levels`) count the same levels."""
    cols = run(scenario).trace.columns()
    lv = levels(cols)
    running = Running()
    names = [level.name for level in COUNTED] + ["idle", "in_use"]
    for i, row in enumerate(zip(cols["request"].tolist(), cols["conn"].tolist(), cols["kind"].tolist(),
                                strict=True)):
        running.add(*row)
        assert {n: running.level(n) for n in names} == {n: int(lv[n][i]) for n in names}, f"row {i}"


def written(*rows: tuple[float, int, int, int, Ev, Why]) -> Trace:
    trace = Trace()
    for row in rows:
        trace.emit(*row)
    return trace


A_REQUEST = [(0.0, 0, 0, -1, Ev.ARRIVE, Why.NONE), (0.0, 0, 0, 0, Ev.CONNECT, Why.NONE),
             (0.01, 0, 0, 0, Ev.OPEN, Why.NONE), (0.01, 0, 0, 0, Ev.ACQUIRE, Why.NONE),
             (0.01, 0, 0, 0, Ev.QUERY_START, Why.NONE), (0.02, 0, 0, 0, Ev.QUERY_END, Why.NONE),
             (0.02, 0, 0, 0, Ev.RELEASE, Why.NONE)]


def test_the_checker_passes_a_request_that_lives_its_lifecycle():
    assert check(written(*A_REQUEST, (0.03, 0, -1, 0, Ev.DEAD, Why.KILLED),
                         (0.04, 0, -1, 0, Ev.CLOSE, Why.BROKEN))) == []


@pytest.mark.parametrize(("rows", "said"), [
    # the SQLAlchemy live warm-up's rows: an open with no connect, a death of a connection never opened
    ([(0.0, 0, -1, 5, Ev.OPEN, Why.NONE)], "connection 5 cannot open when new"),
    ([(1.0, 0, -1, 3, Ev.DEAD, Why.KILLED)], "connection 3 cannot dead when new"),
    # the live SQLAlchemy close inside a failing statement, written before the request's error
    ([*A_REQUEST[:5], (0.02, 0, 0, 0, Ev.RELEASE, Why.NONE)], "request 0 cannot release when querying"),
    ([*A_REQUEST[:6], (0.02, 0, 0, 0, Ev.ERROR, Why.BROKEN)], "request 0 cannot error when done"),
    ([*A_REQUEST, (0.03, 0, 0, -1, Ev.TIMEOUT, Why.NONE)], "request 0 ends twice"),
    ([*A_REQUEST, (0.03, 0, -1, 0, Ev.RELEASE, Why.NONE)], "connection 0 cannot release when idle"),
    ([*A_REQUEST, (0.03, 0, -1, 0, Ev.CLOSE, Why.IDLE), (0.04, 0, -1, 0, Ev.CLOSE, Why.IDLE)],
     "connection 0 cannot close when closed"),
    ([*A_REQUEST[:5], (0.02, 0, 0, 1, Ev.QUERY_END, Why.NONE)], "request 0 holds connection 0, not 1"),
    ([(0.0, 0, 4, -1, Ev.WAIT, Why.NONE)], "request 4 cannot wait when new"),
    ([(0.0, 0, 0, -1, Ev.ARRIVE, Why.NONE), (0.1, 1, 0, -1, Ev.TIMEOUT, Why.NONE)],
     "request 0 was on instance 0"),
    ([(1.0, -1, -1, -1, Ev.SERVER, Why.DOWN), (1.5, -1, -1, -1, Ev.SERVER, Why.DOWN)],
     "goes down while down"),
    ([(0.0, 0, -1, 0, Ev.CONNECT, Why.NONE), (0.0, 0, -1, 0, Ev.OPEN, Why.NONE),
      (0.1, 0, -1, 0, Ev.DEAD, Why.CUT), (0.2, 0, -1, 0, Ev.DEAD, Why.KILLED)], "connection 0 dies twice"),
    ([(0.5, 0, 0, -1, Ev.ARRIVE, Why.NONE), (0.1, 0, 0, -1, Ev.TIMEOUT, Why.NONE)], "out of time order"),
    ([(0.0, 0, -1, -1, Ev.RELEASE, Why.NONE)], "checked_out goes to -1"),
])
def test_the_checker_names_what_is_wrong(rows: list[tuple[float, int, int, int, Ev, Why]], said: str):
    problems = check(written(*rows))
    assert any(said in p for p in problems), problems


def test_overlapping_restarts_follow_each_other_as_in_the_live_lab():
    # the second restart comes while the first keeps the server down: it waits for it, and the
    # server is down from 1.0 to 2.0, then from 2.0 to 2.5 (it was up again at 1.7, cut short)
    scenario = from_dict({
        "name": "two-restarts", "duration_s": 5.0, "pool": {"kind": "none"},
        "faults": [{"kind": "restart", "at_s": 1.0, "down_s": 1.0},
                   {"kind": "restart", "at_s": 1.5, "down_s": 0.5}]})
    result = run(scenario, arrivals=at(0.5, 1.8, 3.0))
    assert [(t, why) for t, _, _, _, kind, why in result.trace.rows() if kind == "server"] == [
        (1.0, "down"), (2.0, "up"), (2.0, "down"), (2.5, "up")]
    assert [e[4] for e in events(result, request=1, kinds=("error",))] == ["refused"]
    assert check(result.trace) == []


def test_a_leaked_connection_killed_in_asyncpg_is_never_counted_below_zero_in_use():
    # its holder comes back (release, request -1) a row before its close: in_use counted the leak
    # down only at the close, and was -1 between the two rows
    result = run(from_dict(LEAK_KILL), arrivals=at(1.0, 3.0, leak=[True, False]))
    lv = levels(result.trace.columns())
    assert lv["in_use"].min() == 0 and lv["leaked"].max() == 1
    assert check(result.trace) == []
