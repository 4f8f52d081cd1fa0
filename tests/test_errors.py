"""The error texts are the libraries' own, to the character: learners search for them."""

from conftest import at, play, tiny

from sim.errors import library_error, server_refusal
from sim.metrics import summarize
from sim.scenario import Scenario


def test_sqlalchemy_timeout_text_carries_the_pools_figures():
    s = Scenario().with_overrides(["pool.pool_size=10", "pool.max_overflow=5", "pool.pool_timeout=30"])
    assert str(library_error(s, "timeout", "none")) == (
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 10 overflow 5 reached, "
        "connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)")


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
