"""Reading an incident: each format the diagnose page names, garbage, and scenarios that fail the same way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.diagnose import MAX_TEXT, NothingRecognised, diagnose, number, scenario_of
from sim.metrics import summarize_run
from sim.model import run
from sim.signs import Symptom

ROOT = Path(__file__).resolve().parents[1]

ERRORS = {
    "queuepool": ("sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, "
                  "connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)",
                  "sqlalchemy", Symptom.TIMEOUT, {"pool.pool_size": 5, "pool.max_overflow": 10,
                                                  "pool.pool_timeout": 30.0}),
    "postgres": ("psycopg2.OperationalError: connection to server at \"10.0.0.5\", port 5432 failed: "
                 "FATAL:  sorry, too many clients already", "sqlalchemy", Symptom.TOO_MANY, {}),
    "asyncpg-too-many": ("asyncpg.exceptions.TooManyConnectionsError: remaining connection slots are "
                         "reserved for roles with the SUPERUSER attribute", "asyncpg", Symptom.TOO_MANY, {}),
    "asyncpg-closed": ("asyncpg.exceptions.ConnectionDoesNotExistError: connection was closed in the middle "
                       "of operation", "asyncpg", Symptom.BROKEN, {}),
    "sqlalchemy-over-asyncpg": ("sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) "
                                "<class 'asyncpg.exceptions.ConnectionDoesNotExistError'>: connection was "
                                "closed in the middle of operation", "sqlalchemy", Symptom.BROKEN, {}),
    "hikari": ("java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
               "request timed out after 30000ms (total=10, active=10, idle=0, waiting=5)", "hikari",
               Symptom.TIMEOUT,
               {"pool.connectionTimeout": 30000, "pool.maximumPoolSize": 10}),
    "go-deadline": ("query failed: context deadline exceeded", "go", Symptom.TIMEOUT, {}),
    "go-bad-conn": ("sql: driver: bad connection", "go", Symptom.BROKEN, {}),
}

CONFIGS = {
    "create_engine": ("engine = create_async_engine(URL, pool_size=5, max_overflow=10, pool_timeout=30, "
                      "pool_recycle=1800, pool_pre_ping=True)", "sqlalchemy",
                      {"pool.pool_size": 5, "pool.max_overflow": 10, "pool.pool_timeout": 30,
                       "pool.pool_recycle": 1800, "pool.pool_pre_ping": True}),
    "create_pool": ("pool = await asyncpg.create_pool(dsn, min_size=5, max_size=20,\n"
                    "    max_inactive_connection_lifetime=60.0, command_timeout=10)", "asyncpg",
                    {"pool.min_size": 5, "pool.max_size": 20, "pool.max_inactive_connection_lifetime": 60.0,
                     "pool.command_timeout": 10}),
    "spring": ("spring.datasource.url=jdbc:postgresql://db/app\nspring.datasource.hikari.maximum-pool-size=20\n"
               "spring.datasource.hikari.minimum-idle=5\nspring.datasource.hikari.connection-timeout=2000",
               "hikari", {"pool.maximumPoolSize": 20, "pool.minimumIdle": 5, "pool.connectionTimeout": 2000}),
    "spring-yaml": ("spring:\n  datasource:\n    hikari:\n      maximum-pool-size: 12\n"
                    "      max-lifetime: 600000",
                    "hikari", {"pool.maximumPoolSize": 12, "pool.maxLifetime": 600000}),
    "go": ("db, err := sql.Open(\"pgx\", dsn)\ndb.SetMaxOpenConns(25)\ndb.SetMaxIdleConns(5)\n"
           "db.SetConnMaxLifetime(5 * time.Minute)\ndb.SetConnMaxIdleTime(time.Second * 30)", "go",
           {"pool.MaxOpenConns": 25, "pool.MaxIdleConns": 5, "pool.ConnMaxLifetime": 300.0,
            "pool.ConnMaxIdleTime": 30.0}),
    "postgresql.conf": ("max_connections = 50\nsuperuser_reserved_connections = 3\n"
                        "create_engine(url, pool_size=10)", "sqlalchemy",
                        {"database.max_connections": 50, "database.superuser_reserved_connections": 3,
                         "pool.pool_size": 10}),
}


@pytest.mark.parametrize("name", ERRORS)
def test_each_error_text_names_its_library_symptom_and_settings(name: str) -> None:
    text, kind, symptom, settings_read = ERRORS[name]
    found = diagnose(text)
    assert (found.kind, found.symptom) == (kind, symptom)
    for path, value in settings_read.items():
        assert found.scenario[path.split(".")[0]][path.split(".")[1]] == value, path


@pytest.mark.parametrize("name", ERRORS)
def test_the_scenario_of_each_error_fails_the_same_way(name: str) -> None:
    text, _, symptom, _ = ERRORS[name]
    metrics = summarize_run(run(scenario_of(diagnose(text))))
    errors = metrics["errors"]
    happened = {Symptom.TIMEOUT: metrics["timed_out"], Symptom.TOO_MANY: errors["too_many_clients"],
                Symptom.BROKEN: errors["broken"]}
    assert happened[symptom] > 0, (name, metrics["messages"])
    assert all(count == 0 for other, count in happened.items() if other != symptom), happened


def test_the_reproduced_timeout_has_the_pasted_settings_in_its_message() -> None:
    metrics = summarize_run(run(scenario_of(diagnose(ERRORS["queuepool"][0]))))
    assert "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00" in \
        metrics["messages"][0]["message"]


@pytest.mark.parametrize("name", CONFIGS)
def test_each_configuration_is_read_in_the_library_s_own_names(name: str) -> None:
    text, kind, settings_read = CONFIGS[name]
    found = diagnose(text)
    assert found.kind == kind and found.symptom is None
    for path, value in settings_read.items():
        section, field = path.split(".")
        assert found.scenario[section][field] == value, path
    scenario_of(found)   # valid


def test_a_value_out_of_range_is_named_with_its_range_and_not_used() -> None:
    found = diagnose("create_engine(url, pool_size=5000, max_overflow=3)")
    assert any("pool.pool_size" in p and "1000" in p for p in found.problems), found.problems
    assert found.scenario["pool"]["pool_size"] == 5 and found.scenario["pool"]["max_overflow"] == 3


def test_settings_checked_against_each_other_are_read_in_any_order() -> None:
    found = diagnose("pool = await asyncpg.create_pool(dsn, min_size=30, max_size=40)")
    assert not found.problems
    assert (found.scenario["pool"]["min_size"], found.scenario["pool"]["max_size"]) == (30, 40)


def test_pq_names_go() -> None:
    assert diagnose("pq: sorry, too many clients already").kind == "go"


def test_a_setting_written_as_an_expression_is_said_and_left_at_its_default() -> None:
    found = diagnose("create_engine(url, pool_size=settings.POOL, max_overflow=2)")
    assert any(p.startswith("pool_size") for p in found.problems)
    assert "pool_size" not in found.found[-1].settings and found.scenario["pool"]["max_overflow"] == 2


def test_a_server_limit_in_the_text_is_kept_and_the_pools_outgrow_it() -> None:
    found = diagnose("FATAL: sorry, too many clients already\nmax_connections = 40\n"
                     "superuser_reserved_connections = 0\ncreate_engine(url, pool_size=5, max_overflow=5)")
    s = scenario_of(found)
    assert s.database.max_connections == 40
    assert s.app.instances * 10 > s.database.role_limit


@pytest.mark.parametrize("text", ["", "hello world", "<script>alert(1)</script>", "SELECT 1;",
                                  "pool = make_pool(size=3)", "x" * (MAX_TEXT * 2), "= = = ((( ::: ,,,"])
def test_garbage_is_refused_saying_what_can_be_read(text: str) -> None:
    with pytest.raises(NothingRecognised, match="SQLAlchemy, asyncpg, HikariCP"):
        diagnose(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_valid_scenario_or_says_nothing_was_recognised(text: str) -> None:
    try:
        found = diagnose(text)
    except NothingRecognised:
        return
    scenario_of(found)


@pytest.mark.parametrize(("written", "seconds"), [("5 * time.Minute", 300.0), ("time.Second * 30", 30.0),
                                                  ("time.Hour", 3600.0), ("500*time.Millisecond", 0.5),
                                                  ('"1m30s"', 90.0), ("1_000", 1000), ("True", True)])
def test_values_are_read_as_written_in_python_go_and_properties(written: str, seconds: float) -> None:
    assert number(written) == seconds


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", "diagnose", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_the_command_reads_standard_input_and_its_json_scenario_runs(tmp_path: Path) -> None:
    import tomli_w

    out = cli("--json", stdin=ERRORS["hikari"][0])
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["library"] == "hikari" and answer["recognised"][0]["key"] == "hikari_timeout"
    scenario = tmp_path / "incident.toml"
    scenario.write_text(tomli_w.dumps(answer["scenario"]))
    ran = subprocess.run([sys.executable, "-m", "sim", "run", str(scenario), "--json"], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["timed_out"] > 0


def test_the_command_says_in_one_line_when_nothing_is_recognised() -> None:
    out = cli("this is not an error")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: nothing recognised")
