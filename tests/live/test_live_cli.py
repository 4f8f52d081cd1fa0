"""`python -m live` as a user runs it: exit statuses, one-line errors, and a password never shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from live_scenarios import PASSWORD, short

from live.compare import sim_inputs
from live.runner import LiveResult
from live.server import APP_ROLE, SANDBOX
from sim.trace import Trace

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]


def live(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | (env or {})
    return subprocess.run([sys.executable, "-m", "live", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=240)


def test_a_bad_database_url_is_one_line_and_exit_2_without_the_password() -> None:
    for url in (f"mysql://app:{PASSWORD}@db/app", f"postgresql://app:{PASSWORD}@127.0.0.1:1/app"):
        out = live("run", "--preset", "pooled", "--set", "duration_s=1", env={"DATABASE_URL": url})
        assert out.returncode == 2, out.stderr
        assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
        assert out.stderr.startswith("error: ")
        assert PASSWORD not in out.stderr


def test_a_scenario_that_would_exhaust_a_real_server_is_refused_there() -> None:
    url = f"postgresql://app:{PASSWORD}@127.0.0.1:1/app"
    out = live("run", "--preset", "too-many-clients", env={"DATABASE_URL": url})
    assert out.returncode == 2
    assert "max_connections" in out.stderr and PASSWORD not in out.stderr


def test_a_run_on_database_url_shows_the_host_but_never_the_password() -> None:
    socket_dir = SANDBOX.target().socket_dir
    url = f"postgresql://{APP_ROLE}:{PASSWORD}@/postgres?host={socket_dir}"
    table = live("run", "--preset", "pooled", "--requests", "20", env={"DATABASE_URL": url})
    as_json = live("run", "--preset", "pooled", "--requests", "20", "--json", env={"DATABASE_URL": url})
    for out in (table, as_json):
        assert out.returncode == 0, out.stderr
        assert PASSWORD not in out.stdout + out.stderr
    assert "***" in table.stdout and "connections left on the server: 0" in table.stdout
    metrics = json.loads(as_json.stdout)
    assert metrics["completed"] == metrics["requests"] > 0
    assert metrics["live"]["left_open"] == 0 and "***" in metrics["live"]["server"]


def test_hikari_is_simulation_only_in_one_line() -> None:
    out = live("run", "--preset", "hikari-burst")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "simulation" in out.stderr


def test_compare_prints_sim_live_and_diff() -> None:
    out = live("compare", "--preset", "pooled", "--set", "duration_s=2", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) >= {"sim", "live", "diff"}
    assert result["sim"]["requests"] == result["live"]["requests"]    # the same drawn traffic
    assert result["diff"]["requests"] == 0
    assert result["diff"]["completed"] == result["live"]["completed"] - result["sim"]["completed"]
    assert result["sim_database"]["rtt_ms"] > 0                        # measured, not the preset's


def test_calibrate_prints_database_values() -> None:
    out = live("calibrate", "--samples", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "[database]" in lines
    values = dict(line.split(" = ") for line in lines if " = " in line)
    assert float(values["connect_ms"]) > 0 and float(values["rtt_ms"]) > 0


@pytest.mark.parametrize("sandbox", [True, False])
def test_the_simulation_of_a_sandbox_run_gets_this_machines_cores(sandbox: bool) -> None:
    """A sandbox shares this machine's cores with the traffic; somebody's server has its own, unknown here."""
    scenario = short({"kind": "asyncpg"}, workload={"cpu_fraction": 0.5})
    live = LiveResult(scenario, Trace(), 0, 2.0, 2.0, "a server", "a run", 1.0, 0, sandbox=sandbox)
    cores = sim_inputs(scenario, live).database.cores
    assert cores == ((os.cpu_count() or 1) if sandbox else scenario.database.cores)
