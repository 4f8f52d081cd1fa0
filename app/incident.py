"""What the incident page needs beside `sim.diagnose`: samples to try, what it can read, values as text.

The reading itself is `sim.diagnose` (it never executes what it reads); this
module only turns its answer into what a page shows and into the session's
scenario. Pasted text never leaves here as anything but text: the page shows
it with `st.code`, `st.text` or `plain()`, never as Markdown or HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sim.diagnose import ALIASES, MAX_TEXT, TEMPLATES, Diagnosis, NothingRecognised, diagnose
from sim.pools import POOL_KINDS
from sim.scenario import Scenario, from_dict
from sim.signs import SERVER_SIGNS
from sim.spec import specs
from sim.trace import Ev, Trace

TEXT_KEY = "incident.text"
"""The text box's key: what the page reads, what a sample or a link fills in."""

PREFILL_MAX = 2_000
"""The longest text a link (`?text=`) may bring: an error and a few lines of log, not a whole log."""

SAMPLES: dict[str, str] = {
    "sqlalchemy": (
        "Traceback (most recent call last):\n"
        '  File "/app/api/orders.py", line 42, in list_orders\n'
        "    with engine.connect() as conn:\n"
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed out, "
        "timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)"),
    "hikari": (
        "2024-05-14 10:32:07.412 ERROR 1 --- [nio-8080-exec-7] o.h.engine.jdbc.spi.SqlExceptionHelper : "
        "HikariPool-1 - Connection is not available, request timed out after 30000ms "
        "(total=10, active=10, idle=0, waiting=12)"),
    "asyncpg": (
        "# app/db.py\n"
        "pool = await asyncpg.create_pool(DATABASE_URL, min_size=10, max_size=20)\n"
        "# k8s/deployment.yaml\n"
        "replicas: 6\n"
        "# the log, at the morning peak\n"
        "asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already"),
    "go": (
        'db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))\n'
        "db.SetMaxOpenConns(10)\n"
        "db.SetMaxIdleConns(10)\n"
        "db.SetConnMaxIdleTime(0)\n"
        "2024/05/14 03:12:44 GET /orders: driver: bad connection"),
    "config": (
        "engine = create_engine(\n"
        "    settings.DATABASE_URL,\n"
        "    pool_size=20,\n"
        "    max_overflow=10,\n"
        "    pool_timeout=30,\n"
        "    pool_recycle=1800,\n"
        ")"),
}
"""One sample per way people arrive: an error, a log line, code with its error, a configuration."""


def read(text: str) -> Diagnosis | None:
    """The diagnosis of the text; None when it says nothing this can read."""
    try:
        return diagnose(text[:MAX_TEXT])
    except NothingRecognised:
        return None


def looks_like_an_error(text: str) -> bool:
    """Whether the text holds an error this can read (the glossary then offers the incident page)."""
    diagnosis = read(text) if text.strip() else None
    return diagnosis is not None and any(f.key != "config" for f in diagnosis.found)


def prefill(text: str | None) -> str | None:
    """A link's `?text=`, cut to `PREFILL_MAX` characters; None when there is none."""
    if not text or not text.strip():
        return None
    return text[:PREFILL_MAX]


def base_preset(diagnosis: Diagnosis) -> str:
    """The preset the diagnosed scenario was built from: the URL says the scenario as its differences."""
    return TEMPLATES[diagnosis.symptom]


def session_scenario(diagnosis: Diagnosis, description: str) -> Scenario:
    """The diagnosed scenario as the session's, described in the reader's language."""
    return replace(from_dict(diagnosis.scenario), description=description)


def settings_read(diagnosis: Diagnosis) -> dict[str, Any]:
    """Every setting the text gave (scenario path -> value), configuration first, in the order found."""
    out: dict[str, Any] = {}
    for found in sorted(diagnosis.found, key=lambda f: f.key != "config"):
        for path, value in found.settings.items():
            out.setdefault(path, value)
    return out


@dataclass(frozen=True)
class Readable:
    """What the reader knows of one library: its errors (sign keys) and its settings' names."""

    kind: str
    library: str
    signs: tuple[str, ...]
    settings: tuple[str, ...]


def readable() -> list[Readable]:
    """Each library's errors and settings, then the server's and the application's (its `library` left
    for the page to name): what text it can read."""
    out = [Readable(kind, cls.library, tuple(s.key for s in cls.signs),
                    tuple(name for name in specs(cls) if name != "version"))
           for kind, cls in POOL_KINDS.items() if kind != "none"]
    out.append(Readable("server", "PostgreSQL", tuple(s.key for s in SERVER_SIGNS),
                        tuple(name for name, path in ALIASES.items() if path.startswith("database."))))
    out.append(Readable("app", "", (),
                        tuple(name for name, path in ALIASES.items() if path.startswith("app."))))
    return out


def sign_keys() -> list[str]:
    """Every sign the reader knows, and "config" (settings read from configuration)."""
    return [key for r in readable() for key in r.signs] + ["config"]


def first_failure_s(trace: Trace) -> float | None:
    """When the first request failed for good (gave up waiting, or an error): where the stand starts."""
    cols = trace.columns()
    failed = (cols["kind"] == Ev.TIMEOUT) | (cols["kind"] == Ev.ERROR)
    return float(cols["t"][failed][0]) if failed.any() else None


def value_text(value: Any) -> str:
    """A setting's value as a configuration writes it: true/false, none, whole numbers without '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


__all__ = ["PREFILL_MAX", "SAMPLES", "TEXT_KEY", "Readable", "base_preset", "first_failure_s",
           "looks_like_an_error", "prefill", "read", "readable", "session_scenario", "settings_read",
           "sign_keys", "value_text"]
