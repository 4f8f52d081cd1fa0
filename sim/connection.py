"""One physical database connection, as both ends see it.

The pool's view (checked out, idle since, closed) and the server's view
(alive, killed with a goodbye, or silently cut) are kept apart because the
lessons are about the moments when they disagree: a connection the pool
still trusts after a firewall dropped it, or one the server killed while it
sat idle.
"""

from __future__ import annotations

from typing import Any

ALIVE = 0
FIN = 1     # the server closed it and said so: a client that looks can tell
SILENT = 2  # dropped on the way (firewall, NAT): nothing tells until it is used


class Conn:
    __slots__ = ("id", "instance", "born", "last_io", "idle_since", "queries", "dead", "closed",
                 "out", "user", "gen", "evicted", "slot", "prepared")

    def __init__(self, conn_id: int, instance: int, born: float) -> None:
        self.id = conn_id
        self.instance = instance
        self.born = born            # when its connect started (SQLAlchemy ages from there)
        self.last_io = born         # last time anything crossed the wire (firewalls watch this)
        self.idle_since = born      # when it last went back to the pool
        self.queries = 0            # asyncpg counts every protocol query, resets included
        self.dead = ALIVE           # the server's side
        self.closed = False         # the pool's side: closed by the client library
        self.out = False            # checked out by a request
        self.user: Any = None       # the request process running a query on it
        self.gen = 0                # bumped on every checkout: stale timers compare it
        self.evicted = False        # HikariCP: retire at return
        self.slot = False           # holds a server backend slot
        self.prepared: set[str] = set()  # statements the driver has prepared on it (asyncpg caches them)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("out" if self.out else "idle")
        return f"<Conn {self.id} inst={self.instance} {state} dead={self.dead}>"
