"""Erlang C against known values, and `applicable` against each of its conditions."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.scenario import Scenario
from sim.theory import applicable, erlang_c, mmc

# Poisson 80/s into 10 connections held 100 ms on average: utilisation 0.8.
QUALIFYING = [
    "pool.kind=sqlalchemy", "pool.pool_size=10", "pool.max_overflow=0",
    "workload.rate_per_s=80", "workload.hold.dist=exponential", "workload.hold.mean_ms=100",
    "database.connect_ms=0", "database.rtt_ms=0",
]


def scenario(*changes: str | dict[str, Any]) -> Scenario:
    """The qualifying scenario with some fields changed."""
    s = Scenario().with_overrides(QUALIFYING)
    for change in changes:
        s = s.with_overrides(change if isinstance(change, dict) else [change])
    return s


def textbook_erlang_c(c: int, a: float) -> float:
    """The closed form with factorials, in exact fractions: slow, but right for any c."""
    load = Fraction(a)
    top = load**c / math.factorial(c) * c / (c - load)
    return float(top / (sum(load**k / math.factorial(k) for k in range(c)) + top))


# ----------------------------------------------------------------- Erlang C

def test_known_value() -> None:
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=5e-5)


def test_known_mean_wait() -> None:
    q = mmc(10, 80, 10)
    assert q.utilisation == pytest.approx(0.8)
    assert q.p_wait == pytest.approx(0.4092, abs=5e-5)
    assert q.mean_wait_s == pytest.approx(0.02046, abs=5e-6)


@given(st.floats(0, 0.999))
def test_one_server_waits_with_probability_rho(a: float) -> None:
    assert erlang_c(1, a) == pytest.approx(a, abs=1e-12)


@given(st.integers(1, 60), st.floats(0, 0.999))
def test_recursion_matches_textbook_formula(c: int, fraction: float) -> None:
    a = fraction * c
    assert erlang_c(c, a) == pytest.approx(textbook_erlang_c(c, a), rel=1e-12)


@given(st.integers(1, 1000), st.floats(0, 1), st.floats(0, 1))
def test_monotonic_in_load(c: int, x: float, y: float) -> None:
    lo, hi = sorted((x * c, y * c))
    assert 0.0 <= erlang_c(c, lo) <= erlang_c(c, hi) <= 1.0


@pytest.mark.parametrize("load", [500.0, 900.5, 990.0, 999.9])
def test_stable_for_a_thousand_servers(load: float) -> None:
    assert erlang_c(1000, load) == pytest.approx(textbook_erlang_c(1000, load), rel=1e-12)


def test_overload_always_waits() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert erlang_c(10, 25.0) == 1.0
    q = mmc(10, 120, 10)
    assert q.mean_wait_s == math.inf
    assert q.p_wait_longer_than(60) == 1.0


def test_wait_tail() -> None:
    q = mmc(10, 80, 10)
    assert q.p_wait_longer_than(0) == pytest.approx(q.p_wait)
    assert q.p_wait_longer_than(0.1) == pytest.approx(q.p_wait * math.exp(-2))
    assert q.p_wait_longer_than(math.inf) == 0.0


@pytest.mark.parametrize(("servers", "load"), [(0, 1.0), (5, -1.0)])
def test_rejects_nonsense(servers: int, load: float) -> None:
    with pytest.raises(ValueError):
        erlang_c(servers, load)


# --------------------------------------------------------------- applicable

def test_qualifying_scenario() -> None:
    assert applicable(scenario()) == mmc(10, 80.0, 10.0)


@pytest.mark.parametrize("changes", [
    pytest.param(["workload.phases=[{at_s=10, rate_per_s=80}]"], id="phase-same-rate"),
    pytest.param(["workload.cpu_fraction=0.5"], id="cpu-not-modelled"),
    pytest.param(["pool.pool_timeout=1"], id="timeout-unreachable"),
    pytest.param(["pool.kind=asyncpg", "pool.max_size=10", "pool.min_size=2"], id="asyncpg"),
    pytest.param(["pool.kind=asyncpg", "pool.max_size=10", "pool.timeout=30"], id="asyncpg-timeout"),
    pytest.param(["pool.kind=go", "pool.MaxOpenConns=10"], id="go"),
    pytest.param(["pool.kind=go", "pool.MaxOpenConns=10", "pool.ContextTimeout=5"], id="go-deadline"),
])
def test_still_applies(changes: list[str]) -> None:
    assert applicable(scenario(*changes)) == mmc(10, 80.0, 10.0)


def test_each_instance_is_its_own_queue() -> None:
    model = applicable(scenario("app.instances=4", "workload.rate_per_s=320"))
    assert model == mmc(10, 80.0, 10.0)


@pytest.mark.parametrize("changes", [
    pytest.param(["workload.hold.dist=constant"], id="constant-hold"),
    pytest.param(["workload.hold.dist=lognormal"], id="lognormal-hold"),
    pytest.param(["workload.phases=[{at_s=10, rate_per_s=120}]"], id="rate-changes"),
    pytest.param(["workload.leak_probability=0.01"], id="leaks"),
    pytest.param(["workload.cpu_fraction=0.5", "database.cores=4"], id="cpu-contention"),
    pytest.param(["database.connect_ms=5"], id="connect-cost"),
    pytest.param(["database.rtt_ms=0.2"], id="round-trips"),
    pytest.param([{"faults": [{"kind": "restart", "at_s": 5}]}], id="fault"),
    pytest.param(["pool.max_overflow=5"], id="overflow"),
    pytest.param(["pool.max_overflow=-1"], id="unlimited-overflow"),
    pytest.param(["pool.pool_size=0"], id="unlimited-pool"),
    pytest.param(["pool.kind=hikari", "pool.maximumPoolSize=10"], id="hikari"),
    pytest.param(["pool.kind=none"], id="no-pool"),
    pytest.param(["pool.kind=asyncpg", "pool.max_size=10", "pool.timeout=0.1"], id="asyncpg-timeout"),
    pytest.param(["pool.kind=go"], id="go-unlimited"),
    pytest.param(["pool.kind=go", "pool.MaxOpenConns=10", "pool.ContextTimeout=0.1"], id="go-deadline"),
    pytest.param(["workload.rate_per_s=100"], id="utilisation-1"),
    pytest.param(["workload.rate_per_s=150"], id="overloaded"),
    pytest.param(["pool.pool_timeout=0.1"], id="timeouts-likely"),
    pytest.param(["database.max_connections=12"], id="role-limit-below-cap"),
    pytest.param(["app.instances=10", "workload.rate_per_s=800"], id="role-limit-below-instances"),
])
def test_does_not_apply(changes: list[str | dict[str, Any]]) -> None:
    assert applicable(scenario(*changes)) is None
