"""The error a learner would see, exactly as each library prints it.

These strings are what people paste into a search box, so they are quoted
verbatim from the libraries' and PostgreSQL's source (see
shared/pool-semantics.md); explanations around them are translated, the
strings themselves never are. Figures inside a message (pool size, waiting
count) come from the scenario or from the trace at the moment of the error.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import AsyncpgPool, GoPool, HikariPool, Scenario, SQLAlchemyPool

SQLALCHEMY_DOC_VERSION = "20"  # SQLAlchemy 2.0 links /e/20/, 2.1 links /e/21/
TOO_MANY_SQLSTATE = "53300"


@dataclass(frozen=True)
class LibraryError:
    exception: str       # the class the application catches
    message: str         # its text, verbatim
    sqlstate: str = ""   # PostgreSQL's code, when the server sent one

    def __str__(self) -> str:
        return f"{self.exception}: {self.message}" if self.message else f"{self.exception}()"


def server_refusal(scenario: Scenario) -> str:
    """PostgreSQL 16+'s FATAL text for a connect over the limit (SQLSTATE 53300)."""
    if scenario.database.superuser_reserved_connections > 0:
        return "remaining connection slots are reserved for roles with the SUPERUSER attribute"
    return "sorry, too many clients already"


def library_error(scenario: Scenario, kind: str, reason: str, *, total: int | None = None,
                  active: int | None = None, idle: int | None = None,
                  waiting: int | None = None) -> LibraryError:
    """What the application sees for a trace row of `kind` (timeout / error) and `reason`."""
    pool = scenario.pool
    if kind == "timeout":
        return _timeout(scenario, reason, total, active, idle, waiting)
    if reason == "too_many_clients":
        text = server_refusal(scenario)
        if isinstance(pool, SQLAlchemyPool):
            return LibraryError("sqlalchemy.exc.DBAPIError",
                                "(sqlalchemy.dialects.postgresql.asyncpg.Error) <class "
                                f"'asyncpg.exceptions.TooManyConnectionsError'>: {text}", TOO_MANY_SQLSTATE)
        if isinstance(pool, GoPool):
            return LibraryError("*pgconn.PgError", f"FATAL: {text} (SQLSTATE {TOO_MANY_SQLSTATE})",
                                TOO_MANY_SQLSTATE)
        return LibraryError("asyncpg.exceptions.TooManyConnectionsError", text, TOO_MANY_SQLSTATE)
    if reason == "broken":
        if isinstance(pool, HikariPool):
            return LibraryError("org.postgresql.util.PSQLException",
                                "An I/O error occurred while sending to the backend.", "08006")
        if isinstance(pool, GoPool):
            return LibraryError("error", "unexpected EOF")
        text = "connection was closed in the middle of operation"
        if isinstance(pool, SQLAlchemyPool):
            return LibraryError("sqlalchemy.exc.InterfaceError",
                                "(sqlalchemy.dialects.postgresql.asyncpg.InterfaceError) <class "
                                f"'asyncpg.exceptions.ConnectionDoesNotExistError'>: {text}")
        return LibraryError("asyncpg.exceptions.ConnectionDoesNotExistError", text)
    if reason == "refused":
        return LibraryError("ConnectionRefusedError", "[Errno 111] Connection refused")
    if reason == "query_timeout":
        return LibraryError("TimeoutError", "")  # asyncpg's command_timeout: asyncio.TimeoutError
    return LibraryError("Exception", reason)


def _timeout(scenario: Scenario, reason: str, total: int | None, active: int | None,
             idle: int | None, waiting: int | None) -> LibraryError:
    pool = scenario.pool
    if isinstance(pool, SQLAlchemyPool):
        return LibraryError(
            "sqlalchemy.exc.TimeoutError",
            f"QueuePool limit of size {pool.pool_size} overflow {pool.max_overflow} reached, "
            f"connection timed out, timeout {pool.pool_timeout:0.2f} "
            f"(Background on this error at: https://sqlalche.me/e/{SQLALCHEMY_DOC_VERSION}/3o7r)")
    if isinstance(pool, AsyncpgPool):
        return LibraryError("TimeoutError", "")  # asyncio.TimeoutError, with no message at all
    if isinstance(pool, HikariPool):
        def n(v: int | None) -> str:
            return "?" if v is None else str(v)
        state = TOO_MANY_SQLSTATE if reason == "too_many_clients" else ""
        return LibraryError(
            "java.sql.SQLTransientConnectionException",
            f"HikariPool-1 - Connection is not available, request timed out after "
            f"{pool.connectionTimeout}ms (total={n(total)}, active={n(active)}, idle={n(idle)}, "
            f"waiting={n(waiting)})", state)
    if isinstance(pool, GoPool):
        return LibraryError("context.DeadlineExceeded", "context deadline exceeded")
    return LibraryError("TimeoutError", "")
