"""The server-side poolers, each in one module: its settings as it names them, its texts, and its model.

This registry is the only place that lists them; a scenario's `[pooler]`
table names one by `kind` (none by default: the app's pools meet the server).
"""

from sim.poolers.base import SERVER_STATES, SHOW_POOLS, NoPooler, PoolerSettings, ShowPools
from sim.poolers.pgbouncer import Bouncer, PgBouncer

PoolerConfig = NoPooler | PgBouncer
"""One pooler's settings: what a scenario's `[pooler]` table becomes."""

POOLER_KINDS: dict[str, type[PoolerConfig]] = {c.kind: c for c in (NoPooler, PgBouncer)}
"""The settings of each pooler, by `pooler.kind`."""

POOLER_MODELS = {"pgbouncer": Bouncer}
"""The simulation of each pooler, by `pooler.kind` (none has no model: the pools meet the server)."""

__all__ = ["POOLER_KINDS", "POOLER_MODELS", "SERVER_STATES", "SHOW_POOLS", "Bouncer", "NoPooler", "PgBouncer",
           "PoolerConfig", "PoolerSettings", "ShowPools"]
