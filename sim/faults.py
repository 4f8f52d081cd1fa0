"""Faults, done to the model the way the live lab does them to a real server.

* kill_idle: `pg_terminate_backend` on every idle connection: the backend
  exits and says so (FIN), so a library that looks can tell;
* restart: every backend dies, queries in flight fail, and new connects are
  refused until the server is back;
* idle_cut: a firewall or NAT that forgets connections idle longer than
  `idle_cut_after_s`; nothing is sent, so the client learns only when it
  next uses the connection.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

from sim.connection import FIN, SILENT, Conn
from sim.scenario import Fault
from sim.server import Server
from sim.trace import Why


class Firewall:
    """Drops connections that carried nothing for `cut_after` seconds, from `since` on."""

    def __init__(self, env: simpy.Environment, server: Server, cut_after: float, since: float) -> None:
        self.env = env
        self.server = server
        self.cut_after = cut_after
        self.since = since

    def watch(self, conn: Conn) -> None:
        quiet_from = conn.last_io
        gen = conn.gen
        at = max(quiet_from, self.since) + self.cut_after
        self.env.timeout(max(0.0, at - self.env.now)).callbacks.append(
            lambda _: self.check(conn, gen, quiet_from))

    def check(self, conn: Conn, gen: int, quiet_from: float) -> None:
        if conn.closed or conn.out or conn.gen != gen or conn.dead:
            return
        if conn.last_io != quiet_from:
            self.watch(conn)  # a keepalive went through: the clock starts again
            return
        self.server.kill(conn, Why.CUT, SILENT)


def install(env: simpy.Environment, server: Server, faults: Sequence[Fault]) -> None:
    firewalls = [Firewall(env, server, f.idle_cut_after_s, f.at_s) for f in faults if f.kind == "idle_cut"]
    if firewalls:
        def watch(conn: Conn) -> None:
            for firewall in firewalls:
                firewall.watch(conn)
        server.on_idle = watch
    for fault in faults:
        if fault.kind == "kill_idle":
            env.process(kill_idle(env, server, fault.at_s))
        elif fault.kind == "restart":
            env.process(restart(env, server, fault.at_s, fault.down_s))


def kill_idle(env: simpy.Environment, server: Server, at_s: float) -> Generator[Any, Any, None]:
    yield env.timeout(at_s)
    for conn in list(server.alive.values()):
        if not conn.out:
            server.kill(conn, Why.KILLED, FIN)


def restart(env: simpy.Environment, server: Server, at_s: float, down_s: float) -> Generator[Any, Any, None]:
    yield env.timeout(at_s)
    yield from server.restart(down_s)
