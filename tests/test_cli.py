"""`python -m sim` (contract 3): the JSON metrics, the table, the presets list,
and exit status 2 with one line on stderr for any invalid input."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.scenario import preset_names

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION_KEYS = {"mean", "p50", "p95", "p99", "max"}


def invoke(argv: list[str]) -> int:
    """main's exit status, whether it returns it or argparse raises it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert invoke(["run", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # one JSON object, nothing else


@pytest.fixture(scope="module")
def engine_metrics() -> dict:
    """`run --preset fastapi-engine --json`, run once for the tests that only read it."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", "--preset", "fastapi-engine", "--json"]) == 0
    return json.loads(buf.getvalue())


# ---------------------------------------------------------------- metrics

def test_json_has_every_metric_of_the_contract(engine_metrics):
    m = engine_metrics
    for key in ("requests", "completed", "timed_out", "errors", "leaked", "connects", "closes",
                "p_wait", "wait_ms", "latency_ms", "throughput_per_s", "peak", "sim_seconds"):
        assert key in m, key
    assert {"too_many_clients", "broken"} <= set(m["errors"])
    assert {"overflow", "recycle", "idle", "lifetime", "max_queries", "broken"} <= set(m["closes"])
    assert set(m["wait_ms"]) >= DISTRIBUTION_KEYS
    assert set(m["latency_ms"]) >= DISTRIBUTION_KEYS
    assert {"checked_out", "open", "overflow", "waiting"} <= set(m["peak"])


def test_json_figures_are_consistent(engine_metrics):
    m = engine_metrics
    assert m["scenario"] == "fastapi-engine" and m["pool"] == "sqlalchemy"
    # 80 requests/s for 60 s
    assert 80 * 60 * 0.9 < m["requests"] < 80 * 60 * 1.1
    assert m["completed"] + m["timed_out"] + sum(m["errors"].values()) + m["in_flight"] == m["requests"]
    assert m["completed"] > 0.99 * m["requests"]
    assert 0 <= m["p_wait"] <= 1
    assert m["wait_ms"]["p50"] <= m["wait_ms"]["p95"] <= m["wait_ms"]["p99"] <= m["wait_ms"]["max"]
    assert m["latency_ms"]["p50"] <= m["latency_ms"]["p95"] <= m["latency_ms"]["p99"]
    assert m["latency_ms"]["mean"] > 20  # holds average 20 ms, plus round trips
    assert m["peak"]["checked_out"] <= 15 and m["peak"]["open"] <= 15  # pool_size 10 + max_overflow 5
    assert m["connects"] >= m["peak"]["open"] >= 1
    assert 80 * 0.9 < m["throughput_per_s"] < 80 * 1.1
    assert m["sim_seconds"] > 0


def test_requests_stops_after_that_many(capsys):
    m = run_json(capsys, "--preset", "fastapi-engine", "--requests", "500")
    assert m["requests"] == 500
    assert m["completed"] == 500


def test_requests_throughput_is_measured_over_the_requests_not_the_idle_rest(capsys):
    # 500 requests at 80/s arrive in about 6 s: the run ends when they are done, not at 60 s
    m = run_json(capsys, "--preset", "fastapi-engine", "--requests", "500")
    assert 80 * 0.8 < m["throughput_per_s"] < 80 * 1.2


def test_set_changes_the_result(capsys, engine_metrics):
    small = run_json(capsys, "--preset", "fastapi-engine",
                     "--set", "pool.pool_size=2", "--set", "pool.max_overflow=0")
    assert engine_metrics["p_wait"] < 0.01
    assert small["p_wait"] > 0.3
    assert small["wait_ms"]["mean"] > 10 * engine_metrics["wait_ms"]["mean"]
    assert small["peak"]["checked_out"] == 2
    assert small["peak"]["waiting"] > 0 == engine_metrics["peak"]["waiting"]
    # the same traffic: only the pool changed
    assert small["requests"] == engine_metrics["requests"]


def test_set_can_change_the_pool_kind(capsys):
    m = run_json(capsys, "--preset", "fastapi-engine", "--set", "pool.kind=asyncpg", "--requests", "200")
    assert m["pool"] == "asyncpg"
    assert m["connects"] >= 10  # asyncpg's default min_size, connected before the first request


def test_a_scenario_file_runs(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nduration_s = 2\n[workload]\nrate_per_s = 30\n', encoding="utf-8")
    m = run_json(capsys, str(path))
    assert m["scenario"] == "mine"
    assert 0 < m["requests"] < 120


def test_theory_block_only_where_erlang_c_applies(capsys, engine_metrics):
    m = run_json(capsys, "--preset", "erlang-c-check", "--requests", "2000")
    assert m["requests"] == 2000
    theory = m["theory"]
    assert theory["servers"] == 10
    assert theory["utilisation"] == pytest.approx(0.8)
    assert theory["p_wait"] == pytest.approx(0.409, abs=0.001)
    assert theory["mean_wait_ms"] == pytest.approx(20.46, abs=0.01)
    assert "theory" not in engine_metrics


def test_table_names_the_preset_and_its_figures(capsys):
    assert invoke(["run", "--preset", "fastapi-engine", "--requests", "300"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("fastapi-engine (sqlalchemy)")
    assert "requests     300" in out
    assert "latency ms" in out and "throughput" in out
    assert not out.lstrip().startswith("{")
    assert "pooler" not in out   # a run without one has no SHOW POOLS line
    assert invoke(["run", "--preset", "pgbouncer-transaction", "--requests", "300"]) == 0
    pooled = capsys.readouterr().out
    assert "  pooler       cl active 320, cl waiting " in pooled and "maxwait ms" in pooled
    assert invoke(["run", "--preset", "erlang-c-check", "--requests", "500"]) == 0
    assert "Erlang C" in capsys.readouterr().out


def test_presets_lists_every_preset(capsys):
    assert invoke(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    assert all(len(line.split()) > 2 for line in lines)  # each with its description


def test_trace_writes_the_event_csv(tmp_path, capsys):
    out = tmp_path / "out.csv"
    m = run_json(capsys, "--preset", "fastapi-engine", "--requests", "50", "--trace", str(out))
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t", "instance", "request", "conn", "kind", "reason"]
    assert sum(row[4] == "arrive" for row in rows[1:]) == m["requests"] == 50
    assert sum(row[4] == "query_end" for row in rows[1:]) == m["completed"]


# ----------------------------------------------------------- invalid input

@pytest.mark.parametrize(("argv", "names"), [
    (["run", "--preset", "fastapi-engine", "--set", "pool.pool_size=-1"], "pool.pool_size"),
    (["run", "--preset", "fastapi-engine", "--set", "pool.pool_size"], "pool.pool_size"),
    (["run", "--preset", "fastapi-engine", "--set", "workload.hold.dist=normal"], "workload.hold.dist"),
    (["run", "--preset", "fastapi-engine", "--set", "pool.max_size=3"], "pool.max_size"),
    (["run", "--preset", "no-such-preset"], "no-such-preset"),
    (["run", "/no/such/file.toml"], "/no/such/file.toml"),
    (["run", "--preset", "fastapi-engine", "--requests", "0"], "--requests"),
    (["run", "--preset", "fastapi-engine", "--requests", "many"], "--requests"),
    (["run"], "--preset"),
    (["run", "x.toml", "--preset", "fastapi-engine"], "--preset"),
    ([], "command"),
])
def test_invalid_input_exits_2_with_one_line_naming_the_field(capsys, argv, names):
    assert invoke(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert names in lines[0]


def test_a_file_with_invalid_toml_exits_2_naming_the_file(tmp_path, capsys):
    path = tmp_path / "broken.toml"
    path.write_text("[pool\npool_size = 3\n", encoding="utf-8")
    assert invoke(["run", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and "not valid TOML" in lines[0]


def test_a_file_with_a_bad_field_exits_2_naming_the_field(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[database]\nmax_connections = 0\n", encoding="utf-8")
    assert invoke(["run", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["error: database.max_connections = 0: must be a whole number from 1 to 100000"]


def test_python_dash_m_sim_exits_2_with_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--preset", "fastapi-engine", "--set", "pool.pool_size=-1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["error: pool.pool_size = -1: must be a whole number from 0 to 1000"]
