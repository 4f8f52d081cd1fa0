"""A crowded server: the model slows down as the USL it is given says, and the fit finds known parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.crowding_fit import closed_loop as model_closed_loop
from sim.crowding_fit import fit
from sim.metrics import summarize_run
from sim.model import run
from sim.scenario import load_preset
from sim.server import Crowding


@pytest.mark.parametrize(("sigma", "kappa"), [(0.05, 0.002), (0.2, 0.0), (0.01, 0.01), (0.0, 0.0005)])
def test_the_fit_recovers_known_parameters_from_noisy_measurements(sigma: float, kappa: float) -> None:
    rng = np.random.default_rng(3)
    n = np.array([1, 2, 4, 8, 16, 32, 64])
    truth = Crowding(sigma, kappa)
    measured = [200 * truth.throughput(k) * (1 + rng.normal(0, 0.01)) for k in n]
    found = fit(n, measured)
    assert found.crowding.sigma == pytest.approx(sigma, abs=0.01)
    assert found.crowding.kappa == pytest.approx(kappa, abs=max(0.3 * kappa, 2e-4))
    assert found.x1 == pytest.approx(200, rel=0.03)
    assert found.max_rel_error < 0.05


def test_the_peak_is_where_throughput_is_highest() -> None:
    c = Crowding(0.05, 0.002)
    peak = c.peak
    assert peak is not None
    assert c.throughput(peak) >= max(c.throughput(k) for k in range(1, 100)) - 1e-9
    assert Crowding(0.1, 0.0).peak is None


def test_a_fit_needs_three_positive_points() -> None:
    with pytest.raises(ValueError, match="three"):
        fit([1, 2], [10, 20])


def closed_loop(clients: int, sigma: float, kappa: float) -> float:
    return model_closed_loop(clients, Crowding(sigma, kappa), hold_ms=10.0)


@pytest.mark.parametrize("clients", [1, 4, 16])
def test_a_closed_loop_in_the_model_completes_what_the_law_says(clients: int) -> None:
    sigma, kappa = 0.05, 0.004
    expected = 100.0 * Crowding(sigma, kappa).throughput(clients)   # 10 ms alone: 100 a second
    assert closed_loop(clients, sigma, kappa) == pytest.approx(expected, rel=0.05)


def test_past_the_peak_more_connections_complete_less() -> None:
    assert closed_loop(32, 0.05, 0.004) < closed_loop(12, 0.05, 0.004)


def test_off_by_default_and_on_only_when_asked() -> None:
    s = load_preset("right-sized-pool")
    assert s.database.contention == 0 and s.database.coherency == 0
    plain = summarize_run(run(s))
    crowded = summarize_run(run(s.with_overrides(["database.contention=0.05"])))
    assert crowded["latency_ms"]["mean"] > 1.1 * plain["latency_ms"]["mean"]


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.integers(1, 500))
def test_a_crowded_query_is_never_faster_than_alone(sigma: float, kappa: float, n: int) -> None:
    assert Crowding(sigma, kappa).slowdown(n) >= 1.0
