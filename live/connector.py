"""Opening one real connection, the one way every live pool does it.

Every pool kind connects through `Connector.connect`: asyncpg's pool through
its `connect=` hook, SQLAlchemy through `async_creator`, no pool directly. So
the trace's connect, open and connect_fail rows, the connection's
`application_name` and its registration with the recorder are written once.

Failures are classified the way the trace names them (too many clients,
refused while the server is down, other), and the classification travels
with the exception, because a pool may wrap it before the request sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from live.recorder import REQUEST, UNTRACED, Recorder, Tracked
from sim.trace import Ev, Why

REASON_ATTR = "poolstand_reason"

# A server that is down, starting or shutting down (restart fault): the client is turned away.
_REFUSED = (asyncpg.CannotConnectNowError, ConnectionError, FileNotFoundError,
            asyncpg.ConnectionDoesNotExistError)


def chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (SQLAlchemy keeps the driver's error in `.orig`)."""
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is seen for seen in out):
            continue
        out.append(e)
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return out


def connect_reason(exc: BaseException) -> Why:
    from live.poolers import reason  # the poolers' modules read `chain` from here

    by_pooler = reason(exc)
    if by_pooler is not None:
        return by_pooler
    for e in chain(exc):
        if getattr(e, "sqlstate", None) == "53300":
            return Why.TOO_MANY_CLIENTS
        if isinstance(e, _REFUSED) or getattr(e, "sqlstate", "") in ("57P01", "57P02", "57P03"):
            return Why.REFUSED
    return Why.OTHER


def reason_of(exc: BaseException) -> Why | None:
    """The classification attached by `connect`, if this failure was a connect."""
    for e in chain(exc):
        why = getattr(e, REASON_ATTR, None)
        if why is not None:
            return Why(why)
    return None


class Connector:
    """Connects one run's pools to its server (or to the proxy in front of it)."""

    def __init__(self, recorder: Recorder, dsn: str, application_name: str) -> None:
        self.recorder = recorder
        self.dsn = dsn
        self.application_name = application_name
        self.overrides: dict[str, Any] = {}   # host and port of the proxy, once there is one
        self.extra_s = 0.0   # added to every connect, so it costs what the scenario says the server costs
        self.attempts = 0    # connects tried: one in flight at the end may still leave a backend
        self.driver_kwargs: dict[str, Any] = {}   # what a pooler in front needs of the driver (live.poolers)

    def through(self, host: str, port: int) -> None:
        """Connect through the proxy at host:port from now on."""
        self.overrides = {"host": host, "port": port}

    async def raw_connect(self, **kwargs: Any) -> asyncpg.Connection:
        """A connection as the pools get one, untraced (calibration uses it too)."""
        kwargs.pop("loop", None)
        self.attempts += 1
        conn = await asyncpg.connect(self.dsn, **self.overrides, **{**self.driver_kwargs, **kwargs},
                                     server_settings={"application_name": self.application_name})
        if self.extra_s > 0:
            try:
                await asyncio.sleep(self.extra_s)  # the backend exists and holds its slot meanwhile
            except BaseException:
                conn.terminate()
                raise
        return conn

    async def connect(self, instance: int, on_close: Callable[[Tracked], None] | None = None,
                      **kwargs: Any) -> asyncpg.Connection:
        """Open a connection for `instance`; `on_close` hears when its client side closes.

        Under `untraced()` (a warm-up) the connection is neither written nor
        followed: it is not the scenario's, and no fault may claim it.
        """
        if UNTRACED.get():
            return await self.raw_connect(**kwargs)
        rec = self.recorder
        request = REQUEST.get()
        conn_id = rec.new_id()
        rec.emit(instance, request, conn_id, Ev.CONNECT)
        try:
            conn = await self.raw_connect(**kwargs)
        except BaseException as e:
            why = Why.OTHER if isinstance(e, asyncio.CancelledError) else connect_reason(e)
            rec.emit(instance, request, conn_id, Ev.CONNECT_FAIL, why)
            if isinstance(e, Exception):
                setattr(e, REASON_ATTR, int(why))
            raise
        port = 0
        if self.overrides:
            sockname = conn._transport.get_extra_info("sockname")  # which proxied link is ours
            port = sockname[1] if isinstance(sockname, tuple) else 0
        tracked = rec.track(conn_id, instance, conn, conn.get_server_pid(), port)
        if on_close is not None:
            conn.add_termination_listener(lambda _conn: on_close(tracked))
        rec.emit(instance, request, conn_id, Ev.OPEN)
        return conn
