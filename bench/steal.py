"""CPU time the hypervisor gave elsewhere while a benchmark measured latencies.

This machine is a virtual one. When the host runs other machines on our
cores, ours stops for milliseconds at a time (`steal` in /proc/stat), and
every wait measured meanwhile grows by it: a live p99 wait of 5 ms became
17 ms in a run that lost 6% of its CPU time this way, with the same code
and seed. So a latency benchmark says how much was stolen beside its figure,
and does not call a run that lost more than `LIMIT` a verdict.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

LIMIT = 0.02   # of the machine's CPU time over the run


def _steal_ticks() -> int | None:
    """The machine's stolen time so far, in clock ticks; None where the kernel does not count it."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class Stolen:
    """Counts from construction until `stop()`: the share of the machine's CPU time the host took."""

    ticks: int | None = field(default_factory=_steal_ticks)
    started: float = field(default_factory=time.monotonic)
    share: float | None = None

    def stop(self) -> Stolen:
        now = _steal_ticks()
        if now is not None and self.ticks is not None:
            cpu_s = (time.monotonic() - self.started) * (os.cpu_count() or 1)
            self.share = (now - self.ticks) / os.sysconf("SC_CLK_TCK") / max(cpu_s, 1e-9)
        return self

    @property
    def clean(self) -> bool:
        """Little enough was stolen for the run's latencies to be this machine's (unknown counts as clean)."""
        return self.share is None or self.share <= LIMIT

    def __str__(self) -> str:
        if self.share is None:
            return "stolen CPU not counted here"
        return f"host took {self.share:.1%} of the CPU" + ("" if self.clean else " (not a verdict)")
