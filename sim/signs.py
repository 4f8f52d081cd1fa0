"""What a pasted error text says about an incident: the texts each library (and the server) writes.

Each pool library's module lists its own `Sign`s beside the error texts its
model produces, so the incident reader (`sim.diagnose`) never needs to know a
library: it tries every library's signs and reads the named groups of the one
that matched as settings in that library's own names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Symptom(StrEnum):
    """What went wrong, as far as building a scenario that shows it again is concerned."""

    TIMEOUT = "timeout"      # a checkout waited for a connection until it gave up
    TOO_MANY = "too_many"    # the server refused a connect: its max_connections was reached (53300)
    BROKEN = "broken"        # a connection died under the application (idle cut, kill, restart)


@dataclass(frozen=True)
class Sign:
    """A text a library or the server writes, and what it means.

    `pattern`'s named groups are settings in the owner's own names (whole
    numbers); a group that did not take part in the match is not read.
    """

    key: str          # what it is; also the interface's text key ("diagnose.sign.<key>")
    pattern: str
    symptom: Symptom
    lesson: str       # the lesson that explains it (a file stem under lessons/<lang>/)
    names_pool: bool = True   # the pool's own text; False for a driver's, which other pools pass on

    def find(self, text: str) -> re.Match[str] | None:
        return re.search(self.pattern, text, re.IGNORECASE)


SERVER_SIGNS: tuple[Sign, ...] = (
    Sign("too_many_clients", r"sorry, too many clients already|remaining connection slots are reserved"
         r"|too many connections for role|SQLSTATE[ =:]*53300|\b53300\b",
         Symptom.TOO_MANY, "07-server-limit", names_pool=False),
)
"""PostgreSQL's own refusals of a connect over its limit (FATAL, SQLSTATE 53300), whoever's driver
passed them on."""
