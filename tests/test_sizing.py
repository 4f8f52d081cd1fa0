"""The sizing sweep: its inputs, its fit, its recommendation and the server budget it is checked against."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.scenario import ScenarioError
from sim.sizing import (
    Estimate,
    Need,
    Run,
    erlang_c_size,
    little,
    measure,
    recommend,
    rule_of_thumb,
    scenario,
    sweep,
)
from sim.sizing import sizes as sizes_tried

ROOT = Path(__file__).resolve().parents[1]


def test_p50_and_p95_are_fitted_to_the_lognormal_they_came_from() -> None:
    rng = np.random.default_rng(7)
    mu, sigma = math.log(12.0), 0.8
    sample = rng.lognormal(mu, sigma, 200_000)
    need = Need(hold_ms=None, hold_p50_ms=float(np.percentile(sample, 50)),
                hold_p95_ms=float(np.percentile(sample, 95)))
    hold = need.hold
    assert hold["dist"] == "lognormal"
    assert hold["sigma"] == pytest.approx(sigma, rel=0.02)
    assert hold["mean_ms"] == pytest.approx(float(sample.mean()), rel=0.02)


@pytest.mark.parametrize("kind", ["sqlalchemy", "asyncpg", "hikari", "go"])
def test_each_size_is_the_library_s_own_fixed_pool_of_that_size(kind: str) -> None:
    s = scenario(Need(kind=kind, instances=3, rate_per_s=90, hold_ms=10), 7, seed=2)
    assert s.pool.kind == kind and s.pool.cap == 7 and s.app.instances == 3 and s.seed == 2


def test_the_sizes_start_at_little_s_floor_and_stop_at_the_workers() -> None:
    need = Need(instances=2, rate_per_s=1000, hold_ms=20)   # 10 busy per instance
    assert little(need) == pytest.approx(10.1)   # 500 a second x (20 ms + a 0.2 ms round trip)
    tried = sizes_tried(need)
    assert tried[0] == 10 and len(tried) <= need.sizes and tried == sorted(set(tried))
    assert max(sizes_tried(Need(instances=2, rate_per_s=1000, hold_ms=20, workers=12))) == 12


def run(size: int, p99: float, seed: int = 1, timed_out: float = 0.0) -> Run:
    return Run(size, seed, p99 / 2, p99, timed_out, size * 4, 0.0)


def test_the_recommendation_is_the_smallest_size_meeting_the_targets_on_every_seed_s_bound() -> None:
    need = Need(instances=4, rate_per_s=400, hold_ms=20, max_connections=100, p99_wait_ms=50)
    runs = [run(5, 200, s) for s in (1, 2, 3)] + [run(6, p, s) for s, p in ((1, 10), (2, 40), (3, 90))] + \
        [run(7, p, s) for s, p in ((1, 20), (2, 25), (3, 30))] + [run(8, 5, s) for s in (1, 2, 3)]
    found = recommend(need, runs)
    # size 6's mean (46.7) meets 50 ms, but not its interval's upper bound
    assert [r.size for r in found.rows if r.meets] == [7, 8]
    assert found.recommended is not None and found.recommended.size == 7
    assert found.settings == {"pool_size": 7, "max_overflow": 0}


def test_a_size_over_the_server_budget_is_never_recommended() -> None:
    # 10 instances x 10 = 100 > 100 - 3: only 9 per instance fits
    need = Need(instances=10, rate_per_s=400, hold_ms=20, max_connections=100, reserved=3)
    runs = [run(size, 100.0 if size < 10 else 1.0, s) for size in (8, 9, 10, 11) for s in (1, 2, 3)]
    found = recommend(need, runs)
    assert [r.fits for r in found.rows] == [True, True, False, False]
    assert found.recommended is None and found.settings == {}
    assert found.to_dict()["size"] is None


def test_timeouts_count_against_a_size_even_when_its_waits_are_short() -> None:
    need = Need(rate_per_s=100, hold_ms=20, timeout_share=0.001)
    found = recommend(need, [run(3, 1.0, s, timed_out=0.01) for s in (1, 2, 3)])
    assert found.recommended is None


def test_an_interval_widens_with_spread_and_not_without() -> None:
    assert Estimate.of([5.0, 5.0, 5.0]) == Estimate(5.0, 5.0, 5.0)
    e = Estimate.of([1.0, 2.0, 3.0])
    assert e.mean == 2.0 and e.high == pytest.approx(2.0 + 4.302653 * 1.0 / math.sqrt(3), rel=1e-5)


def test_the_formulas_beside_the_sweep() -> None:
    need = Need(instances=3, rate_per_s=600, hold_ms=15, cores=4, p99_wait_ms=50)
    assert rule_of_thumb(need) == pytest.approx(3.0)            # (4 x 2 + 1) / 3 instances
    assert rule_of_thumb(Need(cores=0)) is None
    c = erlang_c_size(need, 30)
    assert c is not None and c > little(need)


@pytest.mark.parametrize(("need", "field"), [
    (Need(kind="none"), "--kind"), (Need(instances=0), "--instances"), (Need(rate_per_s=0), "--rate"),
    (Need(hold_ms=None, hold_p50_ms=10, hold_p95_ms=5), "--hold-p95-ms"), (Need(reserved=100), "--reserved"),
    (Need(hold_ms=None, hold_p50_ms=10), "--hold-p50-ms")])
def test_a_bad_input_is_named_with_its_range(need: Need, field: str) -> None:
    with pytest.raises(ScenarioError, match=field):
        need.check()


def test_the_sweep_meets_its_own_recommendation_on_a_fresh_seed() -> None:
    need = Need(kind="asyncpg", instances=2, rate_per_s=400, hold_ms=10, max_connections=60, seeds=2, sizes=8)
    found = sweep(need)
    assert found.recommended is not None
    size = found.recommended.size
    assert found.erlang_c is not None and abs(size - found.erlang_c) <= 2
    check = measure(scenario(need, size, seed=99), size)
    assert check.p99_wait_ms <= need.p99_wait_ms * 1.5 and check.timed_out == 0


def test_the_command_prints_the_documented_json() -> None:
    out = subprocess.run([sys.executable, "-m", "sim", "size", "--kind", "hikari", "--instances", "2",
                          "--rate", "200", "--hold-ms", "10", "--max-connections", "50", "--cores", "4",
                          "--seeds", "2", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer["recommended"]) == {"maximumPoolSize"}
    row = set(answer["sweep"][0])
    assert {"size", "p95_wait_ms", "p99_wait_ms", "timed_out", "server_connections"} <= row
    assert answer["little"] == pytest.approx(1.02) and answer["rule_of_thumb"] == pytest.approx(4.5)
    assert answer["budget"]["total"] <= 47


def test_the_command_refuses_a_bad_input_in_one_line() -> None:
    out = subprocess.run([sys.executable, "-m", "sim", "size", "--rate", "10", "--hold-ms", "5",
                          "--max-connections", "10", "--reserved", "20"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("error: --reserved = 20")


def test_the_command_takes_a_burst_and_sizes_for_it() -> None:
    steady = [sys.executable, "-m", "sim", "size", "--kind", "asyncpg", "--rate", "100", "--hold-ms", "10",
              "--max-connections", "100", "--seeds", "2", "--json"]
    calm = json.loads(subprocess.run(steady, capture_output=True, text=True, cwd=ROOT, timeout=300).stdout)
    burst = subprocess.run([*steady, "--phase", "2:600", "--phase", "4:100"], capture_output=True, text=True,
                           cwd=ROOT, timeout=300)
    assert burst.returncode == 0, burst.stderr
    assert json.loads(burst.stdout)["size"] > calm["size"]
    bad = subprocess.run([*steady, "--phase", "soon"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --phase = soon")


def test_a_size_that_just_meets_the_target_is_passed_over_for_one_with_room() -> None:
    need = Need(rate_per_s=100, hold_ms=10, p99_wait_ms=10)
    found = recommend(need, [run(4, 9.5, s) for s in (1, 2, 3)] + [run(5, 3.0, s) for s in (1, 2, 3)])
    assert [r.meets for r in found.rows] == [True, True]       # both meet 10 ms...
    assert found.recommended is not None and found.recommended.size == 5   # ...only 5 with a fifth spare
