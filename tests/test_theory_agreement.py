"""The model against queueing theory: the case where Erlang C is exact.

pool_size 10, no overflow, 80 requests/s, exponential holds of 100 ms, free
connects: an M/M/10 queue at 80 % load, for which Erlang C gives a 0.409
chance of waiting and a 20.5 ms mean wait. The simulated figures must agree
within the statistical error of the run itself, estimated by batch means
(consecutive requests are correlated, so a naive standard error is too small).
"""

import numpy as np

from sim.metrics import request_times
from sim.model import run
from sim.scenario import load_preset
from sim.theory import applicable
from sim.trace import Ev

REQUESTS = 300_000
BATCHES = 30


def batch_error(values: np.ndarray) -> tuple[float, float]:
    batches = np.array_split(values, BATCHES)
    means = np.array([b.mean() for b in batches])
    return float(values.mean()), float(means.std(ddof=1) / np.sqrt(BATCHES))


def test_erlang_c_figures_for_the_preset():
    model = applicable(load_preset("erlang-c-check"))
    assert model is not None
    assert round(model.p_wait, 3) == 0.409
    assert round(model.mean_wait_s * 1000, 1) == 20.5


def test_simulated_wait_agrees_with_erlang_c_within_the_runs_error():
    scenario = load_preset("erlang-c-check")
    model = applicable(scenario)
    cols = run(scenario, max_requests=REQUESTS).trace.columns()

    waited = np.zeros(REQUESTS, dtype=float)
    waited[cols["request"][cols["kind"] == Ev.WAIT]] = 1.0
    p_wait, p_err = batch_error(waited)
    waits_s, _ = request_times(cols)
    mean_wait, w_err = batch_error(waits_s)

    assert abs(p_wait - model.p_wait) < 4 * p_err, (p_wait, model.p_wait, p_err)
    assert abs(mean_wait - model.mean_wait_s) < 4 * w_err, (mean_wait, model.mean_wait_s, w_err)
    # the error estimate itself must be small enough for the check to mean something
    assert p_err < 0.01 and w_err < 0.001
