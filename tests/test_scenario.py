"""Scenario validation and round trips.

Every invalid input must come back as one ScenarioError line that names the
field (its dotted path) and says what is allowed, because that line is what
the command line prints and what a learner acts on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from test_properties import PROFILE, raw_scenarios

from sim.scenario import (
    AsyncpgPool,
    Fault,
    GoPool,
    HikariPool,
    Phase,
    Scenario,
    ScenarioError,
    SQLAlchemyPool,
    apply_overrides,
    from_dict,
    load,
    load_preset,
    loads,
    parse_value,
    preset_names,
)


def one_line_error(build: Any, *args: Any) -> str:
    with pytest.raises(ScenarioError) as info:
        build(*args)
    message = str(info.value)
    assert message and "\n" not in message, repr(message)
    return message


# ---------------------------------------------------------------- bad fields

BAD: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("int out of range", {"pool": {"pool_size": 2000}},
     ("pool.pool_size", "2000", "a whole number from 0 to 1000")),
    ("int below range", {"app": {"instances": 0}},
     ("app.instances", "from 1 to 200")),
    ("float out of range", {"workload": {"rate_per_s": -1.5}},
     ("workload.rate_per_s", "-1.5", "a number from 0 to 100000 (1/s)")),
    ("float above range", {"workload": {"leak_probability": 1.5}},
     ("workload.leak_probability", "from 0 to 1")),
    ("nested float out of range", {"workload": {"hold": {"mean_ms": 0}}},
     ("workload.hold.mean_ms", "from 0.001 to 3600000 (ms)")),
    ("not a number", {"duration_s": float("nan")},
     ("duration_s", "from 0.001 to 86400 (s)")),
    ("off value or range", {"pool": {"pool_recycle": 0.5}},
     ("pool.pool_recycle", "-1 (off) or a number from 1 to 604800 (s)")),
    ("hikari milliseconds", {"pool": {"kind": "hikari", "connectionTimeout": 100}},
     ("pool.connectionTimeout", "from 250 to 3600000 (ms)")),
    ("non-integer for an int", {"pool": {"pool_size": 2.5}},
     ("pool.pool_size", "2.5", "a whole number")),
    ("text for an int", {"seed": "a"},
     ("seed", "'a'", "a whole number from 0 to 4294967295")),
    ("bool for an int", {"database": {"cores": True}},
     ("database.cores", "a whole number from 0 to 1024")),
    ("bool expected", {"pool": {"pool_pre_ping": "yes"}},
     ("pool.pool_pre_ping", "'yes'", "true or false")),
    ("int for a bool", {"pool": {"pool_use_lifo": 1}},
     ("pool.pool_use_lifo", "true or false")),
    ("none where a value is required", {"pool": {"pool_size": "none"}},
     ("pool.pool_size", "none", "from 0 to 1000")),
    ("unknown field", {"workload": {"rat_per_s": 3}},
     ("workload.rat_per_s", "unknown field", "rate_per_s")),
    ("unknown top-level key", {"workloads": {}},
     ("workloads", "unknown field", "workload", "duration_s")),
    ("unknown section key", {"database": {"cpus": 4}},
     ("database.cpus", "unknown field", "cores", "max_connections")),
    ("unknown fault key", {"faults": [{"kind": "restart", "down": 3}]},
     ("faults.0.down", "unknown field", "down_s")),
    ("section not a table", {"pool": 3},
     ("pool", "must be a table")),
    ("wrong hold.dist", {"workload": {"hold": {"dist": "normal"}}},
     ("workload.hold.dist", "'normal'", "one of constant, exponential, lognormal")),
    ("wrong pool.kind", {"pool": {"kind": "pgbouncer"}},
     ("pool.kind", "'pgbouncer'", "one of sqlalchemy, asyncpg, hikari, go, none")),
    ("wrong fault kind", {"faults": [{"kind": "flood", "at_s": 1}]},
     ("faults.0.kind", "'flood'", "one of kill_idle, restart, idle_cut")),
    ("sqlalchemy setting on asyncpg", {"pool": {"kind": "asyncpg", "pool_size": 3}},
     ("pool.pool_size", "pool.kind = 'asyncpg'", "a setting of sqlalchemy", "min_size, max_size")),
    ("hikari setting on go", {"pool": {"kind": "go", "maximumPoolSize": 3}},
     ("pool.maximumPoolSize", "pool.kind = 'go'", "a setting of hikari", "MaxOpenConns")),
    ("go setting on sqlalchemy", {"pool": {"MaxOpenConns": 3}},
     ("pool.MaxOpenConns", "pool.kind = 'sqlalchemy'", "a setting of go", "pool_size")),
    ("asyncpg setting on hikari", {"pool": {"kind": "hikari", "max_size": 3}},
     ("pool.max_size", "a setting of asyncpg", "maximumPoolSize")),
    ("any setting on no pool", {"pool": {"kind": "none", "pool_size": 3}},
     ("pool.pool_size", "pool.kind = 'none'", "a setting of sqlalchemy", "its settings: none")),
    ("min_size above max_size", {"pool": {"kind": "asyncpg", "min_size": 5, "max_size": 2}},
     ("pool.min_size = 5", "must not exceed pool.max_size (2)")),
    ("minimumIdle above maximumPoolSize", {"pool": {"kind": "hikari", "minimumIdle": 20}},
     ("pool.minimumIdle = 20", "must not exceed pool.maximumPoolSize (10)")),
    ("reserved slots fill the server",
     {"database": {"max_connections": 3, "superuser_reserved_connections": 3}},
     ("database.superuser_reserved_connections = 3", "below database.max_connections (3)")),
    ("phases out of time order",
     {"workload": {"phases": [{"at_s": 5, "rate_per_s": 1}, {"at_s": 2, "rate_per_s": 3}]}},
     ("workload.phases.1.at_s = 2", "in time order", "starts at 5")),
    ("phases not a list", {"workload": {"phases": {"at_s": 1}}},
     ("workload.phases", "a list of tables")),
    ("fault after duration_s", {"duration_s": 10, "faults": [{"kind": "restart", "at_s": 11}]},
     ("faults.0.at_s = 11", "within the run", "0 to duration_s = 10")),
    ("second fault out of range",
     {"faults": [{"kind": "restart"}, {"kind": "idle_cut", "idle_cut_after_s": 0}]},
     ("faults.1.idle_cut_after_s", "from 0.001 to 86400 (s)")),
]


@pytest.mark.parametrize(("raw", "expected"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_invalid_field_is_one_line_naming_the_field_and_what_is_allowed(raw, expected):
    message = one_line_error(from_dict, raw)
    for part in expected:
        assert part in message, (part, message)


def test_an_optional_limit_accepts_none_and_leaves_it_out_of_the_toml():
    s = from_dict({"pool": {"kind": "asyncpg", "timeout": "none"}})
    assert s.pool.timeout is None
    assert "timeout" not in s.to_dict()["pool"]
    assert loads(s.to_toml()) == s


def test_invalid_toml_names_the_file_and_the_place():
    message = one_line_error(loads, 'name = "x"\nseed = 7 7\nduration_s = 1\n', "my.toml")
    assert message.startswith("my.toml: not valid TOML")
    assert "line 2" in message
    assert one_line_error(loads, "seed = [\n").startswith("scenario: not valid TOML")


def test_a_value_of_the_wrong_type_in_a_file_names_the_field(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('seed = "seven"\n', encoding="utf-8")
    assert "seed = 'seven'" in one_line_error(load, path)


def test_a_missing_file_and_an_unknown_preset_are_one_line_errors(tmp_path):
    assert str(tmp_path / "nope.toml") in one_line_error(load, tmp_path / "nope.toml")
    assert "'nope'" in one_line_error(load_preset, "nope")


@pytest.mark.parametrize(("assignment", "expected"), [
    ("pool.pool_size", ("--set 'pool.pool_size'", "section.field=value")),
    ("=3", ("--set '=3'", "section.field=value")),
    ("faults.3.at_s=1", ("--set faults.3", "only 0 items")),
    ("faults.x.at_s=1", ("--set faults.x", "'x'", "list position")),
    ("pool.pool_size.deep=1", ("--set pool.pool_size.deep", "pool.pool_size is not a table")),
    ("pool.pool_size=-1", ("pool.pool_size = -1", "from 0 to 1000")),
    ("pool.pool_sise=3", ("pool.pool_sise", "not a setting of pool.kind = 'sqlalchemy'")),
])
def test_bad_overrides_are_one_line_errors(assignment, expected):
    message = one_line_error(Scenario().with_overrides, [assignment])
    for part in expected:
        assert part in message, (part, message)


# ----------------------------------------------------------------- presets

def test_there_are_presets_and_every_one_loads_with_a_description():
    names = preset_names()
    assert len(names) >= 10
    assert {"fastapi-engine", "erlang-c-check", "no-pool"} <= set(names)
    for name in names:
        scenario = load_preset(name)
        assert scenario.name == name
        assert scenario.description


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_round_trips_through_toml(name):
    scenario = load_preset(name)
    assert loads(scenario.to_toml()) == scenario


@PROFILE
@given(raw_scenarios())
def test_any_valid_scenario_round_trips_through_toml(raw):
    scenario = from_dict(raw)
    assert loads(scenario.to_toml()) == scenario
    assert from_dict(scenario.to_dict()) == scenario


# --------------------------------------------------------------- overrides

def test_changing_pool_kind_gives_the_new_kinds_defaults():
    engine = load_preset("fastapi-engine")
    assert isinstance(engine.pool, SQLAlchemyPool)
    assert engine.with_overrides(["pool.kind=asyncpg"]).pool == AsyncpgPool()
    assert engine.with_overrides(["pool.kind=hikari"]).pool == HikariPool()
    # with settings of the new kind in the same call, whatever their order
    assert engine.with_overrides(["pool.max_size=20", "pool.kind=asyncpg"]).pool == AsyncpgPool(max_size=20)
    assert engine.with_overrides({"pool.kind": "go", "pool.MaxOpenConns": 4}).pool == GoPool(MaxOpenConns=4)


def test_setting_the_same_kind_keeps_the_other_settings():
    engine = load_preset("fastapi-engine")
    same = engine.with_overrides(["pool.kind=sqlalchemy", "pool.pool_size=3"])
    assert same.pool == dataclasses.replace(engine.pool, pool_size=3)
    assert same.pool.pool_pre_ping is True


def test_overrides_change_only_what_they_name():
    engine = load_preset("fastapi-engine")
    changed = engine.with_overrides(["pool.pool_size=3", "workload.hold.mean_ms=7.5", "seed=9"])
    assert (changed.pool.pool_size, changed.workload.hold.mean_ms, changed.seed) == (3, 7.5, 9)
    assert changed.pool.max_overflow == engine.pool.max_overflow
    assert changed.database == engine.database
    assert engine.pool.pool_size == 10  # the original is untouched


def test_set_faults_by_position_creates_and_edits_faults():
    plain = load_preset("fastapi-engine")
    assert plain.faults == ()
    created = plain.with_overrides(["faults.0.at_s=5"])
    assert created.faults == (Fault(kind="kill_idle", at_s=5.0),)
    two = created.with_overrides(["faults.1.kind=restart", "faults.1.at_s=7", "faults.1.down_s=0.5"])
    assert two.faults == (Fault(kind="kill_idle", at_s=5.0), Fault(kind="restart", at_s=7.0, down_s=0.5))
    edited = load_preset("restart").with_overrides(["faults.0.at_s=20"])
    assert edited.faults[0].at_s == 20.0
    assert edited.faults[0].kind == "restart"
    assert edited.faults[0].down_s == load_preset("restart").faults[0].down_s
    assert "faults.0.at_s = 100" in one_line_error(plain.with_overrides, ["faults.0.at_s=100"])


def test_set_takes_inline_arrays_and_tables():
    s = Scenario().with_overrides(["workload.phases=[{at_s=1, rate_per_s=5}, {at_s=2, rate_per_s=0}]"])
    assert s.workload.phases == (Phase(at_s=1.0, rate_per_s=5.0), Phase(at_s=2.0, rate_per_s=0.0))
    s = Scenario().with_overrides(['workload.hold={dist="constant", mean_ms=3}'])
    assert (s.workload.hold.dist, s.workload.hold.mean_ms) == ("constant", 3.0)


def test_apply_overrides_leaves_its_input_alone():
    raw = {"pool": {"kind": "sqlalchemy", "pool_size": 5}}
    out = apply_overrides(raw, ["pool.pool_size=7", "database.cores=2"])
    assert raw == {"pool": {"kind": "sqlalchemy", "pool_size": 5}}
    assert out == {"pool": {"kind": "sqlalchemy", "pool_size": 7}, "database": {"cores": 2}}


@pytest.mark.parametrize(("text", "value"), [
    ("20", 20),
    ("-1", -1),
    ("2.5", 2.5),
    ("1e3", 1000.0),
    ("true", True),
    ("false", False),
    ('"quoted"', "quoted"),
    ("asyncpg", "asyncpg"),
    ("none", "none"),
    ("[1, 2]", [1, 2]),
    ("{at_s=1, rate_per_s=5}", {"at_s": 1, "rate_per_s": 5}),
    ("[{at_s=1, rate_per_s=5}]", [{"at_s": 1, "rate_per_s": 5}]),
])
def test_parse_value_reads_toml_values_or_else_plain_text(text, value):
    parsed = parse_value(text)
    assert parsed == value
    assert type(parsed) is type(value)
