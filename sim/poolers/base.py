"""What every server-side pooler shares: its settings' questions, and its view as SHOW POOLS reports it.

A pooler sits between the application's pools and the server: the app's
connections end at the pooler, which holds a few server connections of its
own and lends them out. The model and the live lab describe its state the
same way, as the rows of PgBouncer's `SHOW POOLS` over time: the model
writes one at every change, the live lab polls the real admin console, and
the metrics, the charts and the stand's depot read only these rows, so a
simulated and a live run are drawn and counted by one piece of code.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sim.errors import LibraryError

SHOW_POOLS = ("cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
"""The counts of a SHOW POOLS row, as PgBouncer names its columns; `maxwait` comes beside them."""

SERVER_STATES = ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
"""A server connection is in exactly one of these: their sum is what the server sees of the pooler."""


@dataclass(frozen=True)
class PoolerSettings:
    """What a pooler's settings answer besides themselves (each pooler subclasses it in its module)."""

    kind: ClassVar[str]
    product: ClassVar[str] = ""          # its name as people know it

    @property
    def present(self) -> bool:
        """Whether there is a pooler at all: the app's pools then meet it, not the server."""
        return True

    def driver_error(self, reason: str) -> tuple[bool, LibraryError] | None:
        """What the driver raises for a failure of this `reason` (a `Why` name) that the pooler causes,
        and whether at connect (True) or at a statement; None for a reason that is not the pooler's."""
        return None


@dataclass(frozen=True)
class NoPooler(PoolerSettings):
    """The app's pools connect to the server directly (the default: every scenario without [pooler])."""

    kind = "none"

    @property
    def present(self) -> bool:
        return False


class ShowPools:
    """SHOW POOLS over time: one row per reading, in typed columns like the trace's.

    `maxwait` is in seconds: PgBouncer reports the age of its oldest waiting
    client (whole seconds plus `maxwait_us`), so a reading taken just before
    a waiter is served carries that waiter's whole wait.
    """

    __slots__ = ("t", "maxwait", *SHOW_POOLS)

    def __init__(self) -> None:
        self.t = array("d")
        self.maxwait = array("d")
        for name in SHOW_POOLS:
            setattr(self, name, array("l"))

    def add(self, t: float, counts: tuple[int, ...], maxwait: float) -> None:
        """One reading: `counts` in SHOW_POOLS order."""
        self.t.append(t)
        self.maxwait.append(maxwait)
        for name, value in zip(SHOW_POOLS, counts, strict=True):
            getattr(self, name).append(value)

    def __len__(self) -> int:
        return len(self.t)

    def columns(self) -> dict[str, np.ndarray]:
        # copies, not views: a view would keep the arrays from growing while a run goes on
        out = {name: np.array(getattr(self, name), dtype=np.int64) for name in SHOW_POOLS}
        out["t"] = np.array(self.t, dtype=np.float64)
        out["maxwait"] = np.array(self.maxwait, dtype=np.float64)
        out["servers"] = sum((out[name] for name in SERVER_STATES), np.zeros(len(self), dtype=np.int64))
        return out

    def since(self, start: int) -> ShowPools:
        """The readings from `start` on (what a page polling a live run has not seen yet).

        Safe while another thread adds readings: `add` appends the last count last, so the
        readings up to its length are whole in every column.
        """
        whole = len(getattr(self, SHOW_POOLS[-1]))
        out = ShowPools()
        for name in ("t", "maxwait", *SHOW_POOLS):
            getattr(out, name).extend(getattr(self, name)[start:whole])
        return out

    def extend(self, more: ShowPools) -> None:
        for name in ("t", "maxwait", *SHOW_POOLS):
            getattr(self, name).extend(getattr(more, name))

    def at(self, t: float) -> dict[str, float]:
        """The reading in force at time t (zeros before the first)."""
        i = bisect.bisect_right(self.t, t) - 1
        if i < 0:
            return dict.fromkeys(("maxwait", *SHOW_POOLS), 0)
        out: dict[str, float] = {name: getattr(self, name)[i] for name in SHOW_POOLS}
        out["maxwait"] = self.maxwait[i]
        return out

    def peaks(self) -> dict[str, float]:
        """Each count at its highest over the run, `maxwait_ms` in milliseconds, `servers` their sum's."""
        cols = self.columns()
        out: dict[str, float] = {name: int(cols[name].max(initial=0)) for name in (*SHOW_POOLS, "servers")}
        out["maxwait_ms"] = float(cols["maxwait"].max(initial=0.0)) * 1000.0
        return out
