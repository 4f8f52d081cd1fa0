"""Input as a hostile or careless visitor writes it: one line and exit 2, no traceback, no unbounded work.

Each case here once escaped as a Python error, or ran (or read) for ever.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import budget
from sim.cli import DEFAULT_LIMIT
from sim.scenario import MAX_TEXT_BYTES, ScenarioError, load, load_preset, loads, parse_value

ROOT = Path(__file__).resolve().parents[1]


def sim_cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def refused(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one line a refused command printed; it names what it was about."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


DEEP = "[" * 5000


@pytest.mark.parametrize(("argv", "words"), [
    (["--set", "pool.kind={a=1}"], ["pool.kind", "one of sqlalchemy"]),
    (["--set", f"name={DEEP}"], ["--set name", "nested too deeply"]),
    (["--set", "name=" + "[" * 50 + "]" * 50], ["nested more than 6"]),
    (["--set", "workload.phases=" + str([{"at_s": i, "rate_per_s": 1} for i in range(101)]).replace("'", "")
      .replace(":", "=")], ["workload.phases", "at most 100"]),
    (["--set", "name=" + "n" * 101], ["name", "at most 100 characters"]),
    (["--set", "duration_s=86400", "--set", "workload.rate_per_s=100000"],
     ["8,640,000,000 requests", "limit here is 2,000,000", "--limit"]),
    (["--requests", "1000000000000"], ["1,000,000,000,000 requests", "--requests", "--limit"]),
    (["--trace", "/dev/full"], ["--trace = /dev/full", "No space left"]),
])
def test_a_hostile_preset_override_is_one_line_and_exit_2(argv: list[str], words: list[str]) -> None:
    refused(sim_cli("run", "--preset", "pooled", *argv), *words)


@pytest.mark.parametrize(("content", "words"), [
    (b'pool = { kind = ["a"] }\n', ["pool.kind", "['a']"]),
    (b'name = "\xff\xfe"\n', ["not UTF-8"]),
    (("x = " + DEEP + "]" * 5000).encode(), ["nested too deeply"]),
    (b"# " + b"x" * (MAX_TEXT_BYTES + 10), ["larger than 256 KB"]),
    (b"faults = 3\n", ["faults = 3", "list of tables"]),
    (b"workload = [1, 2]\n", ["workload", "table of settings"]),
])
def test_a_hostile_scenario_file_is_one_line_and_exit_2(tmp_path: Path, content: bytes,
                                                         words: list[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(content)
    refused(sim_cli("run", str(path)), *words)


def test_a_device_that_never_ends_is_read_only_up_to_the_limit() -> None:
    """/dev/zero was read for ever (7.9 GB in 30 s); the reading now stops at the size limit."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ScenarioError, match="larger than"):
        load("/dev/zero")
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000


def test_the_limit_can_be_raised_on_purpose() -> None:
    """The refusal says how; with that --limit the same run goes through."""
    line = refused(sim_cli("run", "--preset", "pooled", "--limit", "1000"), "--limit")
    wanted = line.rsplit("--limit ", 1)[1].strip()
    proc = sim_cli("run", "--preset", "pooled", "--limit", wanted, "--json")
    assert proc.returncode == 0, proc.stderr
    assert int(wanted) == int(budget.work(load_preset("pooled")).units) + 1


def test_every_preset_is_within_the_command_lines_default_limit() -> None:
    from sim.scenario import preset_names
    assert all(budget.work(load_preset(n)).units < DEFAULT_LIMIT for n in preset_names())


def test_work_counts_phases_requests_and_the_pools_upkeep() -> None:
    s = loads("""
        duration_s = 100
        [workload]
        rate_per_s = 10
        phases = [{ at_s = 50, rate_per_s = 30 }]
        [pool]
        kind = "hikari"
        maximumPoolSize = 20
        [app]
        instances = 3
    """)
    w = budget.work(s)
    assert w.requests == pytest.approx(10 * 50 + 30 * 50)
    assert w.connections == 3 * 20
    assert w.upkeep == pytest.approx((60 + 3) * 100 / 30)
    assert w.peak_rate_per_instance == pytest.approx(10)
    assert budget.work(s, max_requests=7).requests == 7   # arrivals stop there
    stopped = s.with_overrides(["workload.phases.0.rate_per_s=0"])
    assert budget.work(stopped, max_requests=10**9).requests == pytest.approx(500)   # nothing after 50 s


def test_a_rate_per_instance_limit_names_the_rate_and_the_instances() -> None:
    s = load_preset("too-many-clients")   # 5 instances
    expected = r"over 5 instances is 50/s at one instance.*limit here is 10/s"
    with pytest.raises(budget.TooMuchWork, match=expected):
        budget.check(s, budget.Limit(1e9, rate_per_instance=10))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_set_value_is_a_value_or_a_scenario_error(text: str) -> None:
    """Whatever a link or a --set carries: it parses, or it is refused in one line; nothing else escapes."""
    try:
        value = parse_value(text)
        load_preset("pooled").with_overrides({"name": value})
    except ScenarioError as e:
        assert "\n" not in str(e)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3),
                    max_leaves=30),
       st.sampled_from(["name", "pool.kind", "workload", "workload.phases", "faults", "pool", "seed",
                        "database.max_connections", "faults.0", "app"]))
def test_any_value_at_any_field_is_a_scenario_or_a_scenario_error(value: object, path: str) -> None:
    try:
        load_preset("pooled").with_overrides({path: value})
    except ScenarioError as e:
        assert "\n" not in str(e) and len(str(e)) < 1000

