"""The error a learner would see, exactly as the library prints it: the form, and the driver's texts.

These strings are what people paste into a search box, so they are quoted
verbatim from the libraries' and PostgreSQL's source (see
shared/pool-semantics.md) and checked against the real exceptions on the
embedded server (tests/live/test_error_texts.py); explanations around them
are translated, the strings themselves never are. Figures inside a message
(pool size, waiting count) come from the scenario or from the trace at the
moment of the error.

Where a text differs between releases it follows the release installed here
(`installed_version`, read from the package's metadata; the newest release
these texts know when it is not installed): asyncpg 0.32 adds the server's
goodbye to "connection was closed in the middle of operation".

Each pool library says its own texts (`sim/pools/<library>.py`); what is
here is the driver and the server beneath them, asyncpg and PostgreSQL,
which a library without a text of its own lets through as they are:

* a server that is down is met differently by transport (`database.transport`):
  a unix socket's file is gone (`FileNotFoundError`), nothing listens on a TCP
  port (`ConnectionRefusedError: ... Connect call failed (host, port)`), and a
  TCP proxy in front of it (the live lab's own) accepts and then resets
  (`ConnectionResetError`). In the first few milliseconds of a shutdown the
  server itself still answers, with `CannotConnectNowError: the database
  system is shutting down` (`SHUTTING_DOWN`); the model leaves that moment out.
* a statement on a dead connection fails as the connection died
  (`broken_how`): killed under the statement with the server's goodbye
  (pg_terminate_backend, a restart), closed with a goodbye before it was used,
  or cut silently on the way.
"""

from __future__ import annotations

import errno
import functools
import importlib.metadata
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.trace import Ev, Why

if TYPE_CHECKING:
    from sim.scenario import Scenario

TOO_MANY_SQLSTATE = "53300"
CLOSED_MID_OPERATION = "connection was closed in the middle of operation"
GOODBYE = "terminating connection due to administrator command"   # PostgreSQL's FATAL 57P01
TCP_ADDRESS = ("127.0.0.1", 5432)   # where the model's TCP server listens, as asyncio prints an address

# how a statement's connection had died (`broken_how`)
IN_FLIGHT = "in_flight"   # the server ended it under the statement, saying why
CLOSED = "closed"         # the server had ended it, saying so, before the statement was sent
CUT = "cut"               # dropped silently on the way: the statement's packets meet a reset

TRANSPORTS = ("tcp", "unix", "proxy")


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


@functools.cache
def installed_version(package: str, newest: tuple[int, int]) -> tuple[int, int]:
    """(major, minor) of the installed `package`, from its metadata alone (it is not imported);
    `newest`, the latest release the texts know, when it is not installed."""
    try:
        major, minor = importlib.metadata.version(package).split(".")[:2]
        digits = re.match(r"\d+", minor)
        return (int(major), int(digits.group())) if digits else newest
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return newest


def asyncpg_version() -> tuple[int, int]:
    return installed_version("asyncpg", (0, 32))


def server_refusal(scenario: Scenario) -> str:
    """PostgreSQL 16+'s FATAL text for a connect over the limit (SQLSTATE 53300)."""
    if scenario.database.superuser_reserved_connections > 0:
        return "remaining connection slots are reserved for roles with the SUPERUSER attribute"
    return "sorry, too many clients already"


def asyncpg_too_many(refusal: str) -> LibraryError:
    return LibraryError("asyncpg.exceptions.TooManyConnectionsError", refusal, TOO_MANY_SQLSTATE)


def asyncpg_broken(how: str = IN_FLIGHT) -> LibraryError:
    """What asyncpg raises for a statement on a connection that died `how`."""
    if how == CLOSED:
        return LibraryError("asyncpg.exceptions._base.InterfaceError", "connection is closed")
    message = CLOSED_MID_OPERATION
    if how == IN_FLIGHT and asyncpg_version() >= (0, 32):
        message += f": {GOODBYE}"   # 0.32 keeps the FATAL the server sent before it closed
    return LibraryError("asyncpg.exceptions.ConnectionDoesNotExistError", message)


def _os_error(code: int, text: str = "") -> str:
    return f"[Errno {code}] {text or os.strerror(code)}"


def server_down(transport: str) -> LibraryError:
    """What a connect to a server that is down raises, by how it is reached (`database.transport`)."""
    if transport == "unix":
        return LibraryError("FileNotFoundError", _os_error(errno.ENOENT))
    if transport == "proxy":
        return LibraryError("ConnectionResetError", _os_error(errno.ECONNRESET))
    return LibraryError("ConnectionRefusedError",
                        _os_error(errno.ECONNREFUSED, f"Connect call failed {TCP_ADDRESS}"))


SHUTTING_DOWN = LibraryError("asyncpg.exceptions.CannotConnectNowError",
                             "the database system is shutting down", "57P03")
ASYNCIO_TIMEOUT = LibraryError("TimeoutError", "")   # asyncio.TimeoutError, with no message at all


def library_error(scenario: Scenario, kind: str, reason: str, *, total: int | None = None,
                  active: int | None = None, idle: int | None = None,
                  waiting: int | None = None, how: str = IN_FLIGHT) -> LibraryError:
    """What the application sees for a trace row of `kind` (timeout / error) and `reason`.

    `how` says how the connection of a broken statement had died (`broken_how`).
    """
    pool = scenario.pool
    by_pooler = scenario.pooler.driver_error(reason)
    if by_pooler is not None:
        at_connect, driver = by_pooler
        return pool.connect_error(driver) if at_connect else pool.statement_error(driver)
    if kind == "timeout" and reason == "deadline":
        return ASYNCIO_TIMEOUT  # the app's own deadline (asyncio.timeout) ran out in the queue for a worker
    if kind == "timeout":
        return pool.timeout_error(reason, PoolState(total, active, idle, waiting))
    if reason == "too_many_clients":
        return pool.too_many_error(server_refusal(scenario))
    if reason == "broken":
        return pool.broken_error(how)
    if reason == "refused":
        return pool.connect_error(server_down(scenario.database.transport))
    if reason == "query_timeout":
        return ASYNCIO_TIMEOUT  # asyncpg's command_timeout
    return LibraryError("Exception", reason)


def broken_how(cols: dict[str, np.ndarray], row: int) -> str:
    """How the connection of the failed statement at `row` (time-ordered columns) had died.

    From its last `dead` row before: cut silently, or killed after its request's
    statement began (in flight), or before it (closed). A connection with no
    such row died where nobody wrote it down, under the statement.
    """
    kind, conn = cols["kind"][:row], cols["conn"][:row]
    dead = np.flatnonzero((kind == Ev.DEAD) & (conn == cols["conn"][row]))
    if dead.size == 0:
        return IN_FLIGHT
    last = int(dead[-1])
    if cols["reason"][last] == Why.CUT:
        return CUT
    began = np.flatnonzero((kind == Ev.QUERY_START) & (cols["request"][:row] == cols["request"][row]))
    return IN_FLIGHT if began.size and last > began[-1] else CLOSED


def without_statement(message: str) -> str:
    """`message` without the lines where SQLAlchemy prints the failed statement and its parameters.

    Those (`[SQL: ...]`, `[parameters: ...]`) are the application's own, not
    the library's: the model, which runs no SQL, leaves them out, and a real
    text is compared with it without them.
    """
    return "\n".join(line for line in message.split("\n")
                     if not line.startswith(("[SQL: ", "[parameters: ", "[SQL parameters hidden")))
