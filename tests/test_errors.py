"""The error texts are the libraries' own, to the character: learners search for them.

Each text here was seen on the real libraries (SQLAlchemy 2.1.9 and 2.0.58,
asyncpg 0.32 over the embedded PostgreSQL 18); tests/live/test_error_texts.py
checks the installed ones against the real exceptions on every run.
"""

import importlib.metadata
from typing import Any

import numpy as np
import pytest
from conftest import at, play, qp, tiny

import sim.errors
import sim.pools.sqlalchemy
from sim.errors import CLOSED, CUT, IN_FLIGHT, library_error, server_refusal, without_statement
from sim.metrics import summarize, timeseries
from sim.scenario import Scenario
from sim.spec import ScenarioError

REFUSAL = "remaining connection slots are reserved for roles with the SUPERUSER attribute"
GOODBYE = ("connection was closed in the middle of operation: "
           "terminating connection due to administrator command")


@pytest.fixture
def sqlalchemy_20(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.pools.sqlalchemy, "sqlalchemy_version", lambda: (2, 0))


@pytest.fixture
def sqlalchemy_21(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.pools.sqlalchemy, "sqlalchemy_version", lambda: (2, 1))


@pytest.fixture
def asyncpg_032(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim.errors, "asyncpg_version", lambda: (0, 32))


def test_sqlalchemy_timeout_text_carries_the_pools_figures_and_the_installed_releases_link():
    s = Scenario().with_overrides(["pool.pool_size=10", "pool.max_overflow=5", "pool.pool_timeout=30"])
    release = "".join(importlib.metadata.version("sqlalchemy").split(".")[:2])   # as SQLAlchemy builds it
    assert str(library_error(s, "timeout", "none")) == (
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 10 overflow 5 reached, "
        f"connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/{release}/3o7r)")


def test_sqlalchemy_21_wraps_a_refused_connect_and_prints_its_background_on_a_line_of_its_own(sqlalchemy_21):
    err = library_error(Scenario(), "error", "too_many_clients")
    assert (err.exception, err.sqlstate) == ("sqlalchemy.exc.DBAPIError", "53300")
    assert err.message == (f"(sqlalchemy.dialects.postgresql.asyncpg.Error) {REFUSAL}\n"
                           "(Background on this error at: https://sqlalche.me/e/21/dbapi)")


def test_sqlalchemy_20_let_a_refused_connect_through_as_asyncpgs_own(sqlalchemy_20):
    err = library_error(Scenario(), "error", "too_many_clients")
    assert (err.exception, err.message) == ("asyncpg.exceptions.TooManyConnectionsError", REFUSAL)


def test_a_connection_killed_under_its_statement_is_a_dbapi_error_not_an_interface_error(
        sqlalchemy_21, asyncpg_032):
    err = library_error(Scenario(), "error", "broken", how=IN_FLIGHT)
    assert str(err) == ("sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) "
                        f"{GOODBYE}\n(Background on this error at: https://sqlalche.me/e/21/dbapi)")


def test_sqlalchemy_20_names_the_drivers_class_in_a_statements_error(sqlalchemy_20, asyncpg_032):
    err = library_error(Scenario(), "error", "broken", how=IN_FLIGHT)
    assert err.message == ("(sqlalchemy.dialects.postgresql.asyncpg.Error) "
                           f"<class 'asyncpg.exceptions.ConnectionDoesNotExistError'>: {GOODBYE}\n"
                           "(Background on this error at: https://sqlalche.me/e/20/dbapi)")


def test_a_connection_the_server_had_closed_before_is_an_interface_error(sqlalchemy_21):
    err = library_error(Scenario(), "error", "broken", how=CLOSED)
    assert str(err) == ("sqlalchemy.exc.InterfaceError: "
                        "(sqlalchemy.dialects.postgresql.asyncpg.InterfaceError) connection is closed\n"
                        "(Background on this error at: https://sqlalche.me/e/21/rvf5)")


@pytest.mark.parametrize(("version", "text"), [
    ((0, 31), "connection was closed in the middle of operation"),
    ((0, 32), GOODBYE),   # 0.32 keeps the FATAL the server sent before closing
])
def test_asyncpg_032_adds_the_servers_goodbye_to_a_connection_lost_in_flight(
        monkeypatch: pytest.MonkeyPatch, version: tuple[int, int], text: str):
    monkeypatch.setattr(sim.errors, "asyncpg_version", lambda: version)
    asyncpg = Scenario().with_overrides(["pool.kind=asyncpg"])
    assert str(library_error(asyncpg, "error", "broken", how=IN_FLIGHT)) == (
        f"asyncpg.exceptions.ConnectionDoesNotExistError: {text}")
    cut = library_error(asyncpg, "error", "broken", how=CUT)   # no goodbye on a silent cut
    assert cut.message == "connection was closed in the middle of operation"


@pytest.mark.parametrize(("transport", "text"), [
    ("tcp", "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432)"),
    ("unix", "FileNotFoundError: [Errno 2] No such file or directory"),
    ("proxy", "ConnectionResetError: [Errno 104] Connection reset by peer"),
])
@pytest.mark.parametrize("kind", ["sqlalchemy", "asyncpg", "none"])
def test_a_server_that_is_down_is_met_as_its_transport_meets_it(transport: str, text: str, kind: str):
    s = Scenario().with_overrides([f"pool.kind={kind}", f"database.transport={transport}"])
    assert str(library_error(s, "error", "refused")) == text   # an OS error: no library wraps it


def test_the_transport_is_tcp_unless_said_and_only_one_of_three():
    assert Scenario().database.transport == "tcp"
    with pytest.raises(ScenarioError, match=r"database\.transport = 'udp': must be one of tcp, unix, proxy"):
        Scenario().with_overrides(["database.transport=udp"])


def messages(pool: dict[str, Any], times: tuple[float, ...], hold: float, faults: list[dict[str, Any]]
             ) -> dict[str, str]:
    s = tiny(pool, faults=faults)
    r = play(s, at(*times, hold=hold))
    return {m["reason"]: m["message"] for m in summarize(r.trace, s, r.end_s)["messages"]}


def test_the_model_says_how_each_broken_connection_died(sqlalchemy_21, asyncpg_032):
    pool = qp()
    restart_under = [{"kind": "restart", "at_s": 1.5, "down_s": 0.2}]
    assert messages(pool, (1.0,), 1.0, restart_under)["broken"].startswith(
        f"(sqlalchemy.dialects.postgresql.asyncpg.Error) {GOODBYE}\n")
    restart_while_idle = [{"kind": "restart", "at_s": 1.5, "down_s": 0.2}]
    assert messages(pool, (1.0, 2.0), 0.1, restart_while_idle)["broken"].startswith(
        "(sqlalchemy.dialects.postgresql.asyncpg.InterfaceError) connection is closed\n")
    cut_while_idle = [{"kind": "idle_cut", "at_s": 0.0, "idle_cut_after_s": 0.5}]
    assert messages(pool, (1.0, 2.0), 0.1, cut_while_idle)["broken"].startswith(
        "(sqlalchemy.dialects.postgresql.asyncpg.Error) connection was closed in the middle of operation\n")


def test_the_statement_lines_of_a_real_text_are_the_applications_not_the_librarys():
    real = ("(sqlalchemy.dialects.postgresql.asyncpg.Error) x\n[SQL: SELECT pg_sleep($1)]\n"
            "[parameters: (2.0,)]\n(Background on this error at: https://sqlalche.me/e/21/dbapi)")
    assert without_statement(real) == (
        "(sqlalchemy.dialects.postgresql.asyncpg.Error) x\n"
        "(Background on this error at: https://sqlalche.me/e/21/dbapi)")


def test_with_pool_size_zero_sqlalchemy_counts_no_overflow_and_neither_does_the_model():
    """pool/impl.py: overflow() is `_overflow if self._pool.maxsize else 0`; status() prints it."""
    unbounded = tiny(qp(pool_size=0, max_overflow=0))
    r = play(unbounded, at(1.0, 1.001, 1.002, 1.003))
    m = summarize(r.trace, unbounded, r.end_s)
    assert (m["peak"]["open"], m["peak"]["overflow"]) == (4, 0)
    assert not np.any(timeseries(r.trace, unbounded, r.end_s)["overflow"])
    bounded = tiny(qp(pool_size=1, max_overflow=3))
    r = play(bounded, at(1.0, 1.001, 1.002, 1.003))
    assert summarize(r.trace, bounded, r.end_s)["peak"]["overflow"] == 3   # above pool_size, as before


def test_asyncpg_timeout_is_a_bare_timeout_error():
    s = Scenario().with_overrides(["pool.kind=asyncpg", "pool.timeout=1"])
    err = library_error(s, "timeout", "none")
    assert (err.exception, err.message, str(err)) == ("TimeoutError", "", "TimeoutError()")


def test_server_refusal_text_depends_on_reserved_slots():
    reserved = Scenario()
    assert server_refusal(reserved) == (
        "remaining connection slots are reserved for roles with the SUPERUSER attribute")
    none_reserved = reserved.with_overrides(["database.superuser_reserved_connections=0"])
    assert server_refusal(none_reserved) == "sorry, too many clients already"
    err = library_error(none_reserved.with_overrides(["pool.kind=asyncpg"]), "error", "too_many_clients")
    assert (err.exception, err.sqlstate) == ("asyncpg.exceptions.TooManyConnectionsError", "53300")


def test_hikari_timeout_reports_the_pool_state_at_the_moment_it_failed():
    s = tiny({"kind": "hikari", "maximumPoolSize": 1, "connectionTimeout": 250})
    r = play(s, at(1.0, 1.01, 1.02, hold=1.0))
    (msg,) = summarize(r.trace, s, r.end_s)["messages"]
    assert msg["count"] == 2
    assert msg["message"] == ("HikariPool-1 - Connection is not available, request timed out after 250ms "
                              "(total=1, active=1, idle=0, waiting=2)")


def test_metrics_list_each_failure_once_with_its_count():
    s = tiny({"kind": "none"}, {"max_connections": 4, "superuser_reserved_connections": 3})
    r = play(s, at(1.0, 1.001, 1.002, hold=0.5))
    (msg,) = summarize(r.trace, s, r.end_s)["messages"]
    assert (msg["kind"], msg["reason"], msg["count"]) == ("error", "too_many_clients", 2)
    assert msg["sqlstate"] == "53300"
