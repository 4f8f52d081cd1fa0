"""The sizing sweep: its inputs, its fit, its recommendation and the server budget it is checked against."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sim.model import run as run_model
from sim.poolers import PgBouncer
from sim.scenario import ScenarioError
from sim.sizing import (
    Estimate,
    Need,
    Run,
    erlang_c_size,
    little,
    measure,
    pooled_waits_ms,
    pooler_ramp_s,
    recommend,
    round_trips,
    rule_of_thumb,
    scenario,
    steady_waits_ms,
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


# ------------------------------------------------------------------ through PgBouncer

FORTY = Need(instances=40, rate_per_s=1000, hold_ms=10, max_connections=100, seeds=2, sizes=8)
"""40 instances of 25 requests a second: a pool of 3 each (120 connections) is over a budget of 97."""


def test_a_pooled_need_sweeps_pgbouncer_s_default_pool_size_over_all_instances_traffic() -> None:
    need = replace(FORTY, through="pgbouncer", cores=8)
    # SQLAlchemy through transaction mode: BEGIN, the statement, and its unnamed re-parse, each a round
    # trip to the server (0.2 ms) and through PgBouncer (0.1 ms): 1000 a second x (10 + 3 x 0.3) ms
    assert round_trips("sqlalchemy", PgBouncer(pool_mode="transaction")) == 3
    assert round_trips("sqlalchemy", PgBouncer(pool_mode="session")) == 2
    assert round_trips("asyncpg", PgBouncer(pool_mode="transaction")) == 1
    assert little(need) == pytest.approx(10.9)
    assert rule_of_thumb(need) == pytest.approx(17.0)              # the server's, not shared by 40
    tried = sizes_tried(need)
    assert tried[0] == 10 and tried[-1] == math.ceil(10.9 + 4 * math.sqrt(10.9)) + 3
    # each instance's pool: the top of the sweep without a pooler, or its workers
    assert need.app_pool == max(sizes_tried(FORTY)) and replace(need, workers=4).app_pool == 4
    s = scenario(need, 12, seed=3)
    assert (s.pool.kind, s.pool.pool_size, s.pool.max_overflow) == ("sqlalchemy", need.app_pool, 0)
    assert s.pooler.kind == "pgbouncer" and s.pooler.pool_mode == "transaction"
    assert s.pooler.default_pool_size == 12 and s.pooler.max_client_conn == 40 * need.app_pool >= 100
    ramp = pooler_ramp_s(s)                                         # the climb, then the engineer's rate
    assert s.workload.rate_per_s == pytest.approx(1000 / 8) and ramp >= 0.5
    assert (s.workload.phases[-1].at_s, s.workload.phases[-1].rate_per_s) == (ramp, 1000)
    assert s.duration_s == pytest.approx(scenario(FORTY, 3, seed=3).duration_s + ramp)
    with pytest.raises(ScenarioError, match="--through"):
        replace(FORTY, through="odyssey").check()


def test_the_wait_through_pgbouncer_includes_its_queue_and_nothing_else() -> None:
    # 40 workers an instance: pools of 40 that the queue never fills; a missed round trip would add 1.1 ms
    need = replace(FORTY, through="pgbouncer", rtt_ms=1.0, workers=40)
    starved = scenario(need, 8, seed=1)                     # below Little's floor (11.9)
    result = run_model(starved)
    checkout = steady_waits_ms(result.trace, starved.duration_s)
    assert float(np.percentile(checkout, 99)) < need.p99_wait_ms   # the app pools never made them wait...
    assert measure(starved, 8).p99_wait_ms > 50 * need.p99_wait_ms  # ...PgBouncer's queue did
    roomy = scenario(need, 40, seed=1)
    waits = pooled_waits_ms(run_model(roomy).trace, roomy)
    assert waits.size > 1000 and float(np.mean(waits < 1e-6)) > 0.95   # hold and round trips taken out


def test_pgbouncer_fits_the_traffic_whose_own_pools_cannot_fit_the_server() -> None:
    direct = sweep(FORTY)
    assert direct.recommended is None
    assert all(not r.fits for r in direct.rows if r.meets)        # only pools over the budget meet the target
    need = replace(FORTY, through="pgbouncer")
    found = sweep(need)
    best = found.recommended
    assert best is not None and best.fits and best.size <= need.budget
    assert best.p99_wait_ms.high <= need.p99_wait_ms and best.server_connections <= best.size
    assert found.settings == {"pool_size": need.app_pool, "max_overflow": 0}
    assert found.pgbouncer == {"pool_mode": "transaction", "default_pool_size": best.size,
                               "max_client_conn": 40 * need.app_pool}
    assert found.rows[0].p99_wait_ms.mean > 5 * need.p99_wait_ms   # Little's floor: PgBouncer's queue
    assert found.erlang_c is not None and found.little < best.size
    check = measure(scenario(need, best.size, seed=99), best.size)
    assert check.p99_wait_ms <= need.p99_wait_ms * 1.5 and check.timed_out == 0


def test_a_pooled_size_is_checked_against_the_server_alone() -> None:
    need = replace(FORTY, through="pgbouncer")
    runs = [run(size, p99, s) for size, p99 in ((20, 30.0), (30, 2.0), (98, 1.0)) for s in (1, 2, 3)]
    found = recommend(need, runs)
    assert [r.fits for r in found.rows] == [True, True, False]   # default_pool_size within 100 - 3, not x 40
    assert found.recommended is not None and found.recommended.size == 30
    answer = found.to_dict()
    assert answer["sized"] == "pooler.default_pool_size" and answer["size"] == 30
    assert answer["recommended"]["pgbouncer"]["default_pool_size"] == 30
    assert answer["budget"]["total"] == 30
    assert answer["budget"]["client_connections"] == 40 * need.app_pool == answer["budget"]["max_client_conn"]
    assert recommend(FORTY, runs).to_dict()["sized"] == "pool"


def test_the_command_sizes_pgbouncer_and_prints_both_tiers_in_json() -> None:
    out = subprocess.run([sys.executable, "-m", "sim", "size", "--kind", "asyncpg", "--instances", "30",
                          "--rate", "600", "--hold-ms", "10", "--max-connections", "60", "--seeds", "2",
                          "--through", "pgbouncer", "--json"], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["sized"] == "pooler.default_pool_size" and answer["need"]["through"] == "pgbouncer"
    size = answer["size"]
    assert size is not None and size <= 57
    assert set(answer["recommended"]) == {"min_size", "max_size", "pgbouncer"}
    assert answer["recommended"]["min_size"] == answer["recommended"]["max_size"]
    assert answer["recommended"]["pgbouncer"] == {"pool_mode": "transaction", "default_pool_size": size,
                                                  "max_client_conn": 30 * answer["recommended"]["max_size"]}
    assert answer["budget"]["total"] == size
    assert all(r["server_connections"] <= r["size"] for r in answer["sweep"])   # PgBouncer's, no more
    assert answer["little"] == pytest.approx(600 * (10 + 0.3) / 1000)          # all 30 instances' traffic
