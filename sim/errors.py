"""The error a learner would see, exactly as the library prints it: the form, and the driver's texts.

These strings are what people paste into a search box, so they are quoted
verbatim from the libraries' and PostgreSQL's source (see
shared/pool-semantics.md); explanations around them are translated, the
strings themselves never are. Figures inside a message (pool size, waiting
count) come from the scenario or from the trace at the moment of the error.

Each pool library says its own texts (`sim/pools/<library>.py`); what is
here is the driver and the server beneath them, asyncpg and PostgreSQL,
which a library without a text of its own lets through as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.scenario import Scenario

TOO_MANY_SQLSTATE = "53300"
CLOSED_MID_OPERATION = "connection was closed in the middle of operation"


@dataclass(frozen=True)
class LibraryError:
    exception: str       # the class the application catches
    message: str         # its text, verbatim
    sqlstate: str = ""   # PostgreSQL's code, when the server sent one

    def __str__(self) -> str:
        return f"{self.exception}: {self.message}" if self.message else f"{self.exception}()"


@dataclass(frozen=True)
class PoolState:
    """The pool's own counts at the moment of an error, for libraries that print them (HikariCP)."""

    total: int | None = None
    active: int | None = None
    idle: int | None = None
    waiting: int | None = None


def server_refusal(scenario: Scenario) -> str:
    """PostgreSQL 16+'s FATAL text for a connect over the limit (SQLSTATE 53300)."""
    if scenario.database.superuser_reserved_connections > 0:
        return "remaining connection slots are reserved for roles with the SUPERUSER attribute"
    return "sorry, too many clients already"


def asyncpg_too_many(refusal: str) -> LibraryError:
    return LibraryError("asyncpg.exceptions.TooManyConnectionsError", refusal, TOO_MANY_SQLSTATE)


ASYNCPG_CLOSED = LibraryError("asyncpg.exceptions.ConnectionDoesNotExistError", CLOSED_MID_OPERATION)
ASYNCIO_TIMEOUT = LibraryError("TimeoutError", "")   # asyncio.TimeoutError, with no message at all


def library_error(scenario: Scenario, kind: str, reason: str, *, total: int | None = None,
                  active: int | None = None, idle: int | None = None,
                  waiting: int | None = None) -> LibraryError:
    """What the application sees for a trace row of `kind` (timeout / error) and `reason`."""
    pool = scenario.pool
    if kind == "timeout":
        return pool.timeout_error(reason, PoolState(total, active, idle, waiting))
    if reason == "too_many_clients":
        return pool.too_many_error(server_refusal(scenario))
    if reason == "broken":
        return pool.broken_error()
    if reason == "refused":
        return LibraryError("ConnectionRefusedError", "[Errno 111] Connection refused")
    if reason == "query_timeout":
        return ASYNCIO_TIMEOUT  # asyncpg's command_timeout
    return LibraryError("Exception", reason)
