"""`python -m live` as a user runs it: exit statuses, one-line errors, and a password never shown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from live_scenarios import HANG_S, PASSWORD, short

from live.compare import sim_inputs
from live.runner import LiveResult
from live.server import APP_ROLE, DATA_PREFIX, SANDBOX, Sandbox
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


@pytest.mark.parametrize(("args", "named"), [
    (["run", "--preset", "pooled", "--time-scale", "1e-300"], "--time-scale = 1e-300"),   # hung before
    (["run", "--preset", "pooled", "--time-scale", "inf"], "--time-scale = inf"),         # ran before
    (["compare", "--preset", "pooled", "--time-scale", "nan"], "--time-scale = nan"),
    (["run", "--preset", "pooled", "--requests", "10000000"], "--requests"),
    (["run", "--preset", "pooled", "--set", "workload.rate_per_s=100000"], "python -m sim run"),
    (["compare", "--preset", "pooled", "--set", "duration_s=86400"], "duration_s"),
    (["run", "--preset", "pooled", "--set", "database.max_connections=5000"], "database.max_connections"),
    (["calibrate", "--samples", "0"], "--samples = 0"),
    (["calibrate", "--samples", "100000"], "--samples = 100000"),
    (["run", "--preset", "pooled", "--connect-timeout", "0"], "--connect-timeout = 0"),
])
def test_beyond_the_live_limits_is_one_line_and_exit_2(args: list[str], named: str) -> None:
    out = live(*args, env={"DATABASE_URL": f"postgresql://app:{PASSWORD}@127.0.0.1:1/app"})
    assert out.returncode == 2, out.stderr
    assert out.stdout == "" and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
    assert named in out.stderr and PASSWORD not in out.stderr


def free_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts TCP and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def timed(*args: str, url: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    out = live(*args, env={"DATABASE_URL": url})
    return out, time.monotonic() - started


@pytest.mark.parametrize("command", [["run", "--preset", "pooled"], ["compare", "--preset", "pooled"],
                                     ["calibrate"]])
def test_a_refused_database_url_is_reported_at_once_naming_host_and_port(command: list[str]) -> None:
    port = free_port()
    out, took = timed(*command, url=f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/app")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"error: nothing accepts connections at 127.0.0.1:{port} (connection refused)\n"
    assert took < 6.0   # the interpreter's start included; the run's cleanup took 10.5 s on top before


def test_a_server_that_never_answers_is_given_up_on_after_the_connect_timeout(silent_server: int) -> None:
    url = f"postgresql://app:{PASSWORD}@127.0.0.1:{silent_server}/app"
    out, took = timed("run", "--preset", "pooled", "--connect-timeout", "1", url=url)
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"error: no answer from 127.0.0.1:{silent_server} in 1 s; " \
                         "is a PostgreSQL server listening there?\n"
    assert took < 8.0   # asyncpg's own timeout is 60 s


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    """A sandbox server of its own where role `guarded` must give its password: its socket directory."""
    sandbox = Sandbox(max_servers=1)
    try:
        with sandbox.lease() as lease:
            pgdata = Path(lease.target.socket_dir)   # the socket lives in the data directory
            hba = pgdata / "pg_hba.conf"
            hba.write_text("local all guarded scram-sha-256\n" + hba.read_text())

            async def prepare() -> None:
                admin = await asyncpg.connect(lease.target.admin_dsn)
                try:
                    await admin.execute(f"CREATE ROLE guarded LOGIN PASSWORD '{PASSWORD}'")
                    await admin.execute("SELECT pg_reload_conf()")
                finally:
                    await admin.close()

            asyncio.run(prepare())
            yield lease.target.socket_dir
    finally:
        sandbox.stop()


@pytest.mark.parametrize(("password", "database", "said"), [
    ("wrong-password", "postgres", 'refused the login: password authentication failed for user "guarded"'),
    (PASSWORD, "nosuchdb", 'has no such database: database "nosuchdb" does not exist'),
])
def test_a_wrong_password_or_database_is_one_plain_line(guarded: str, password: str, database: str,
                                                       said: str) -> None:
    url = f"postgresql://guarded:{password}@/{database}?host={guarded}"
    out, took = timed("run", "--preset", "pooled", url=url)
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"error: the server at {guarded}/.s.PGSQL.5432 {said}" + \
        (" (wrong password)" if password != PASSWORD else "") + "\n"
    assert password not in out.stderr and PASSWORD not in out.stderr
    assert took < 6.0


def test_the_right_password_runs(guarded: str) -> None:
    out = live("run", "--preset", "pooled", "--requests", "5",
               env={"DATABASE_URL": f"postgresql://guarded:{PASSWORD}@/postgres?host={guarded}"})
    assert out.returncode == 0, out.stderr
    assert "connections left on the server: 0" in out.stdout and PASSWORD not in out.stdout


def data_dir_of(pid: int) -> Path | None:
    """The sandbox data directory whose owners' list names this process, once its server is up."""
    for data in Path(tempfile.gettempdir()).glob(DATA_PREFIX + "*"):
        try:
            if pid in json.loads((data / ".handle_pids.json").read_text()):
                return data
        except (OSError, ValueError):
            continue
    return None


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command", [["run", "--preset", "pooled"], ["calibrate", "--samples", "1000"]])
def test_sigterm_ends_a_live_command_as_ctrl_c_does(command: list[str], how: signal.Signals) -> None:
    """SIGTERM killed it with -15, its sandbox server left running until a later start reaped it."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen([sys.executable, "-m", "live", *command], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + HANG_S
        data = None
        while data is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            data = data_dir_of(proc.pid)
        assert data is not None, proc.communicate()
        time.sleep(1.0)                           # the run, or the measurement, is going on
        assert proc.poll() is None
        proc.send_signal(how)
        out, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err == "stopped; the run's connections were closed\n" and out == ""
    assert not data.exists()
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(data) in " ".join(p.info["cmdline"] or [])]
