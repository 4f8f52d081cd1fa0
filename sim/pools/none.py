"""No pool: every request opens its own connection and closes it afterwards.

The baseline the first lesson measures pools against: each request pays the
full connect (fork, authentication, round trips), and the server's
connection limit is met by the number of requests in flight.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sim.connection import Conn
from sim.pools.base import Pool, PoolSettings
from sim.trace import Why


@dataclass(frozen=True)
class NoPool(PoolSettings):
    """Connect for every request and close afterwards."""

    kind = "none"
    library = "no pool"


class ConnectEach(Pool):
    """The model of no pool: a connect in every request, a close after it."""

    def acquire(self, request: int) -> Generator[Any, Any, Conn]:
        conn = yield from self.connect(request)
        return self.handed(conn, request, False)

    def release(self, conn: Conn, request: int) -> Generator[Any, Any, None]:
        self.discard(conn, request, Why.DONE)  # Terminate needs no answer
        yield from ()

