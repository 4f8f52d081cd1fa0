"""The arrival process and the per-request draws of `sim.workload`.

Statistical checks use large samples and a 4-standard-deviation band, so a
correct generator fails them about once in 15,000 runs, and the seeds are
fixed, so they never flicker.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.scenario import Hold, Scenario, from_dict
from sim.workload import CHUNK, draw, draw_holds, segments, streams


def scenario(**workload):
    return from_dict({"name": "w", "seed": 3, "duration_s": 30.0, "workload": workload})


def flat(chunks):
    """All requests of a draw as arrays: t, instance, hold_s, leak (and the first ids)."""
    chunks = list(chunks)
    firsts = [c.first for c in chunks]
    cat = lambda name, dtype: np.array([x for c in chunks for x in getattr(c, name)], dtype)  # noqa: E731
    return cat("t", float), cat("instance", int), cat("hold_s", float), cat("leak", bool), firsts, chunks


def within_4_sd(count: float, expected: float, sd: float) -> bool:
    return abs(count - expected) <= 4 * sd


# ------------------------------------------------------------ reproducibility

def test_the_same_seed_gives_the_same_draws():
    s = scenario(rate_per_s=300.0, hold={"dist": "lognormal", "mean_ms": 30.0}, leak_probability=0.1)
    s = s.with_overrides(["app.instances=3"])
    a, b = flat(draw(s)), flat(draw(s))
    for x, y in zip(a[:4], b[:4], strict=True):
        assert np.array_equal(x, y)
    other = flat(draw(s.with_overrides(["seed=4"])))
    assert not np.array_equal(a[0][:100], other[0][:100])


def test_arrivals_do_not_depend_on_holds_leaks_or_the_pool():
    base = scenario(rate_per_s=100.0)
    t = flat(draw(base))[0]
    for change in (["workload.hold.dist=constant"], ["workload.hold.mean_ms=900"],
                   ["workload.leak_probability=0.5"], ["pool.kind=go"], ["pool.pool_size=1"]):
        assert np.array_equal(flat(draw(base.with_overrides(change)))[0], t), change


def test_streams_are_independent_per_purpose():
    rngs = streams(5)
    assert set(rngs) == {"arrivals", "holds", "leaks", "instances", "model", "retries"}
    firsts = {name: rng.random() for name, rng in rngs.items()}
    assert len(set(firsts.values())) == len(firsts)
    assert streams(5)["holds"].random() == firsts["holds"]


def test_a_purpose_added_at_the_end_leaves_the_earlier_streams_as_they_were():
    # "retries" came after the first five: their draws, and so every earlier run, are unchanged
    children = np.random.SeedSequence(5).spawn(5)
    for name, child in zip(("arrivals", "holds", "leaks", "instances", "model"), children, strict=True):
        assert streams(5)[name].random() == np.random.default_rng(child).random(), name


# ------------------------------------------------------------------- arrivals

def test_arrivals_are_ordered_inside_the_run_and_numbered_in_chunks():
    t, _, _, _, firsts, chunks = flat(draw(scenario(rate_per_s=400.0)))  # 12,000: three chunks
    assert len(chunks) >= 3
    assert np.all(np.diff(t) > 0)
    assert t[0] >= 0 and t[-1] < 30.0
    assert firsts == list(np.cumsum([0] + [len(c.t) for c in chunks[:-1]]))
    assert all(len(c.t) <= CHUNK for c in chunks)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rate_phases_set_the_arrival_density(seed):
    s = from_dict({"seed": seed, "duration_s": 40.0, "workload": {
        "rate_per_s": 20.0,
        "phases": [{"at_s": 10.0, "rate_per_s": 200.0}, {"at_s": 20.0, "rate_per_s": 0.0},
                   {"at_s": 30.0, "rate_per_s": 50.0}]}})
    t = flat(draw(s))[0]
    for start, end, rate in [(0, 10, 20.0), (10, 20, 200.0), (20, 30, 0.0), (30, 40, 50.0)]:
        count = np.count_nonzero((t >= start) & (t < end))
        expected = rate * (end - start)
        assert within_4_sd(count, expected, math.sqrt(expected)), (start, count, expected)
    assert segments(s, open_ended=False) == [(0.0, 10.0, 20.0), (10.0, 20.0, 200.0),
                                             (20.0, 30.0, 0.0), (30.0, 40.0, 50.0)]


def test_the_gaps_are_exponential():
    t = flat(draw(scenario(rate_per_s=500.0)))[0]   # about 15,000 gaps of mean 2 ms
    gaps = np.diff(t)
    n = gaps.size
    assert within_4_sd(gaps.mean(), 1 / 500, (1 / 500) / math.sqrt(n))
    # exponential: a share 1 - 1/e of gaps are shorter than the mean
    share = np.count_nonzero(gaps < 1 / 500) / n
    p = 1 - math.exp(-1)
    assert within_4_sd(share, p, math.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize("n", [1, 7, 500, CHUNK, CHUNK + 1, 10_000])
def test_max_requests_yields_exactly_that_many(n):
    s = scenario(rate_per_s=100.0)  # 3,000 in the 30 s schedule
    t = flat(draw(s, max_requests=n))[0]
    assert t.size == n
    assert np.all(np.diff(t) > 0)


def test_max_requests_beyond_the_schedule_continues_at_the_last_rate():
    s = from_dict({"duration_s": 10.0, "workload": {
        "rate_per_s": 10.0, "phases": [{"at_s": 5.0, "rate_per_s": 100.0}]}})
    t = flat(draw(s, max_requests=5000))[0]
    assert t.size == 5000
    after = t[t >= 10.0]
    # about 4,450 arrivals after the schedule ends, at the last phase's 100/s
    rate = (after.size - 1) / (after[-1] - after[0])
    assert within_4_sd(rate, 100.0, 100.0 / math.sqrt(after.size))
    # and the schedule's own arrivals are those of the open run
    assert np.array_equal(t[t < 10.0], flat(draw(s))[0])


# ---------------------------------------------------------------------- holds

def test_constant_holds_are_constant():
    hold_s = flat(draw(scenario(rate_per_s=200.0, hold={"dist": "constant", "mean_ms": 37.5})))[2]
    assert hold_s.size > 1000
    assert np.all(hold_s == 0.0375)


@pytest.mark.parametrize(("dist", "sigma"), [("exponential", None), ("lognormal", 0.5), ("lognormal", 1.2)])
def test_random_holds_have_the_configured_mean(dist, sigma):
    hold = Hold(dist=dist, mean_ms=80.0, **({"sigma": sigma} if sigma else {}))
    n = 200_000
    x = draw_holds(hold, np.random.default_rng(11), n)
    mean = 0.080
    sd = mean if dist == "exponential" else mean * math.sqrt(math.exp(sigma**2) - 1)
    assert within_4_sd(x.mean(), mean, sd / math.sqrt(n))
    assert x.min() > 0
    # the shape: the median of an exponential is mean·ln 2, of a lognormal mean·exp(-sigma²/2)
    median = mean * math.log(2) if dist == "exponential" else mean * math.exp(-sigma**2 / 2)
    assert np.median(x) == pytest.approx(median, rel=0.02)


def test_hold_draws_through_the_workload_keep_the_mean():
    hold_s = flat(draw(scenario(rate_per_s=2000.0, hold={"dist": "lognormal", "mean_ms": 20.0,
                                                         "sigma": 0.8})))[2]
    n = hold_s.size  # about 60,000
    sd = 0.020 * math.sqrt(math.exp(0.64) - 1)
    assert within_4_sd(hold_s.mean(), 0.020, sd / math.sqrt(n))


# ---------------------------------------------------------- leaks, instances

@pytest.mark.parametrize("p", [0.0, 0.01, 0.3])
def test_leak_flags_appear_at_the_leak_probability(p):
    leak = flat(draw(scenario(rate_per_s=2000.0, leak_probability=p)))[3]
    n = leak.size
    share = np.count_nonzero(leak) / n
    if p == 0:
        assert share == 0
    else:
        assert within_4_sd(share, p, math.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize("instances", [1, 3, 7])
def test_requests_are_spread_over_every_instance(instances):
    s = scenario(rate_per_s=500.0).with_overrides([f"app.instances={instances}"])
    inst = flat(draw(s))[1]
    n = inst.size
    counts = np.bincount(inst, minlength=instances)
    assert counts.size == instances and inst.min() == 0
    p = 1 / instances
    for count in counts.tolist():
        assert within_4_sd(count, n * p, math.sqrt(n * p * (1 - p)))


def test_a_phase_that_starts_after_the_run_adds_no_request_after_it() -> None:
    # the live feed starts every drawn request, so a draw past duration_s would run past the scenario
    scenario = Scenario().with_overrides({"duration_s": 5, "workload.rate_per_s": 20,
                                          "workload.phases": [{"at_s": 3, "rate_per_s": 60},
                                                              {"at_s": 15, "rate_per_s": 20}]})
    times = [t for chunk in draw(scenario) for t in chunk.t]
    assert times and max(times) < 5.0
    assert sum(1 for t in times if t >= 3) > 60     # the phase inside the run is drawn in full
