"""From an incident to a scenario: read a pasted error, log excerpt or pool configuration, and build a
scenario that shows the same failure again.

The engineer who arrives with "QueuePool limit of size 5 overflow 10 reached"
has the answer's inputs in the text already: which library, its settings, and
what went wrong. This module reads them, never executes anything it reads,
and leaves everything the text cannot say (the traffic) as stated assumptions
the engineer can then adjust:

* the library is the one whose own error text matched, else the one whose
  words (`PoolSettings.markers`) the text uses most; on a tie the one listed
  first in `sim.pools.POOL_KINDS`, so SQLAlchemy over asyncpg is SQLAlchemy,
  whose pool passes asyncpg's texts on;
* settings are read as people write them, in the library's own names, in any
  spelling: `pool_size=5`, `max_size: 20`, `spring.datasource.hikari.maximum-pool-size=20`,
  `db.SetMaxOpenConns(25)`, `SetConnMaxLifetime(5 * time.Minute)`; a value
  outside its allowed range is reported with the field's range and not used;
* the traffic is then chosen to make the symptom happen: over the pool's cap
  for longer than its timeout (a timeout), every instance's pool growing past
  the server's budget (53300), connections idle longer than a firewall allows
  (a connection dying under a query).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from sim.pools import POOL_KINDS, PoolConfig
from sim.scenario import Scenario, from_dict, in_any_order, load_preset
from sim.signs import SERVER_SIGNS, Sign, Symptom
from sim.spec import specs

MAX_TEXT = 20_000       # characters read: a log excerpt, not a whole log
EXCERPT = 160           # characters of each recognised text kept to show
HOLD_MS = 250.0         # the query time assumed when the text says none (the timeout preset's)
MAX_RATE = 5_000.0      # requests per second, all instances: keeps a run within the playground's budget

TEMPLATES: dict[Symptom | None, str] = {
    Symptom.TIMEOUT: "exhaustion-timeouts",
    Symptom.TOO_MANY: "too-many-clients",
    Symptom.BROKEN: "idle-cut-no-pre-ping",
    None: "pooled",
}
"""The preset each symptom's scenario starts from: its server, its hold times, its faults."""

ALIASES = {"replicas": "app.instances", "instances": "app.instances",
           "max_connections": "database.max_connections",
           "superuser_reserved_connections": "database.superuser_reserved_connections"}
"""The app's and the server's settings that configuration names (Kubernetes' replicas, postgresql.conf)."""

# `name = value`, `name: value`, `name(value)`: a name with dots or dashes, then the value up to , ) ; #
# or the line's end
ASSIGNMENT = re.compile(r"(?<![\w.\-])([A-Za-z_][\w.\-]{0,80})[ \t]*(?:=|:|\()[ \t]*([^,)\n;#]{1,60})")
GO_UNITS = {"nanosecond": 1e-9, "microsecond": 1e-6, "millisecond": 1e-3, "second": 1.0, "minute": 60.0,
            "hour": 3600.0}
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Found:
    """One thing recognised in the text."""

    key: str                     # a sign's key, or "config" for settings read from configuration
    excerpt: str                 # the text it was read from, shortened
    settings: dict[str, Any]     # scenario paths read from it ("pool.pool_size": 5)
    symptom: Symptom | None = None
    lesson: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "text": self.excerpt, "settings": self.settings,
                "symptom": self.symptom.value if self.symptom else None, "lesson": self.lesson}


@dataclass
class Diagnosis:
    """What the text said, and the scenario that shows it."""

    found: list[Found]
    kind: str                                   # the pool library (`pool.kind`)
    symptom: Symptom | None
    scenario: dict[str, Any]                    # TOML-shaped: `python -m sim run` accepts it
    problems: list[str] = field(default_factory=list)      # values read but not usable, with their range
    assumptions: dict[str, Any] = field(default_factory=dict)   # what the text did not say, as chosen

    @property
    def lesson(self) -> str:
        return next((f.lesson for f in self.found if f.lesson), "08-sizing")

    def to_dict(self) -> dict[str, Any]:
        return {"recognised": [f.to_dict() for f in self.found], "library": self.kind,
                "symptom": self.symptom.value if self.symptom else None, "lesson": self.lesson,
                "problems": self.problems, "assumptions": self.assumptions, "scenario": self.scenario}


class NothingRecognised(ValueError):
    """The text has no error this module knows and no setting of any library."""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"


def _folded(name: str) -> str:
    """A setting's name with case, dashes and underscores ignored: maximum-pool-size is maximumPoolSize."""
    return name.replace("-", "").replace("_", "").lower()


def number(text: str) -> float | bool | None:
    """A value as written in Python, Java properties, YAML or Go; None when it is not a plain value.

    Go durations (`5 * time.Minute`, `30*time.Second`, "1m30s") come out in seconds.
    """
    text = text.strip().strip("\"'`").strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null", "nil"):
        return None
    go = re.fullmatch(r"(?:(\d+(?:\.\d+)?)\s*\*\s*)?time\.(\w+?)s?(?:\s*\*\s*(\d+(?:\.\d+)?))?", text)
    if go and go.group(2).lower() in GO_UNITS:
        return float(go.group(1) or go.group(3) or 1) * GO_UNITS[go.group(2).lower()]
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", low)
    if parts and "".join(a + b for a, b in parts) == low:
        return sum(float(a) * DURATION_UNITS[b] for a, b in parts)
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        return math.nan   # a value, but not one this reads (an expression, a variable)
    return int(value) if value.is_integer() and "." not in text else value


def _assignments(text: str) -> list[tuple[str, str, str]]:
    """(name's last part, value, the whole assignment) for every `name = value` in the text."""
    out = []
    for m in ASSIGNMENT.finditer(text):
        name = re.split(r"[.]", m.group(1))[-1]
        out.append((name, m.group(2), m.group(0)))
    return out


def _paths(kind: str) -> dict[str, str]:
    """Folded setting name -> scenario path, for one library's pool, the app and the server."""
    paths = {_folded(name): f"pool.{name}" for name in specs(POOL_KINDS[kind]) if name != "version"}
    for alias, path in ALIASES.items():
        paths.setdefault(_folded(alias), path)
    return paths


def _read_config(text: str, kind: str) -> tuple[dict[str, Any], list[str], list[str]]:
    """The settings the text assigns, by scenario path; the texts they came from; what could not be read."""
    paths = _paths(kind)
    read: dict[str, Any] = {}
    sources: list[str] = []
    unread: list[str] = []
    for name, value, whole in _assignments(text):
        folded = _folded(name)
        path = paths.get(folded) or (paths.get(folded[3:]) if folded.startswith("set") else None)
        if path is None:
            continue
        parsed = number(value)
        if isinstance(parsed, float) and math.isnan(parsed):
            unread.append(f"{name} = {value.strip()}: not a plain value, left at its default")
            continue
        read[path] = parsed
        sources.append(whole.strip())
    return read, sources, unread


def _library(text: str, matched: list[tuple[str, Sign]]) -> str | None:
    """The pool library: the one whose own error matched, else the one whose words the text uses most."""
    def score(kind: str) -> tuple[int, int]:
        own = sum(1 for k, sign in matched if k == kind and sign.names_pool)
        markers = POOL_KINDS[kind].markers
        words = {m.group(0).lower() for m in re.finditer(markers, text, re.IGNORECASE)} if markers else set()
        return own, len(words)
    best = max(POOL_KINDS, key=score)   # max keeps the first of equals: the registry's order
    return best if score(best) != (0, 0) else None


def _signs(text: str) -> tuple[list[Found], list[tuple[str, Sign]]]:
    found, matched = [], []
    for owner, signs in [("server", SERVER_SIGNS), *((k, c.signs) for k, c in POOL_KINDS.items())]:
        for sign in signs:
            m = sign.find(text)
            if m is None:
                continue
            settings = {f"pool.{k}": number(v) for k, v in m.groupdict().items() if v is not None}
            found.append(Found(sign.key, _short(m.group(0)), settings, sign.symptom, sign.lesson))
            matched.append((owner, sign))
    return found, matched


def diagnose(text: str) -> Diagnosis:
    """Everything the text says, and a scenario that shows it; NothingRecognised when it says nothing."""
    text = text[:MAX_TEXT]
    found, matched = _signs(text)
    kind = _library(text, matched)
    own = [(k, s) for k, s in matched if k in ("server", kind)]
    found = [f for f, (k, s) in zip(found, matched, strict=True) if (k, s) in own or not s.names_pool]
    read, sources, problems = _read_config(text, kind or "sqlalchemy")
    if kind is None and not found and not read:
        raise NothingRecognised("nothing recognised: no error text of a known pool or of PostgreSQL, "
                                "and no setting of SQLAlchemy, asyncpg, HikariCP or Go's database/sql")
    kind = kind or "sqlalchemy"
    if sources:
        found.append(Found("config", _short("; ".join(sources)), dict(read)))
    for f in found:   # an error's own figures (its pool_size) count unless the configuration says otherwise
        for path, value in f.settings.items():
            read.setdefault(path, value)
    symptoms = [f.symptom for f in found if f.symptom]
    symptom = symptoms[0] if symptoms else None
    return _build(found, kind, symptom, read, problems)


def _build(found: list[Found], kind: str, symptom: Symptom | None, read: dict[str, Any],
           problems: list[str]) -> Diagnosis:
    """The symptom's preset with the settings read, and traffic that makes the symptom happen."""
    raw = load_preset(TEMPLATES[symptom]).to_dict()
    raw.pop("scenes", None)
    raw["name"] = "incident"
    raw["description"] = ("Built from a pasted incident: the settings it names, the rest assumed so the "
                          "same failure happens again. Adjust the traffic to your own.")
    raw["pool"] = {"kind": kind}

    def step(raw: dict[str, Any], setting: tuple[str, Any]) -> dict[str, Any]:
        trial = _with(raw, *setting)
        from_dict(trial)   # a value out of range is said and left out
        return trial
    raw, refused = in_any_order(raw, list(read.items()), step)
    problems.extend(message for _, message in refused)
    assumptions: dict[str, Any] = {}
    traffic = {Symptom.TIMEOUT: _overload, Symptom.TOO_MANY: _over_the_limit, Symptom.BROKEN: _idle_gaps,
               None: _steady}[symptom]
    raw = traffic(raw, read, assumptions)
    # complete, every default written out; every choice above is within range, so a ScenarioError
    # here is this module's bug
    return Diagnosis(found, kind, symptom, from_dict(raw).to_dict(), problems, assumptions)


def _with(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    section, name = path.split(".", 1)
    return {**raw, section: {**raw.get(section, {}), name: value}}


def _pool(raw: dict[str, Any]) -> PoolConfig:
    return from_dict(raw).pool


def _patience_s(pool: PoolConfig) -> float | None:
    timeout = pool.acquire_timeout()
    return None if timeout is None or not timeout.ms else timeout.ms / 1000.0


def _choose(raw: dict[str, Any], assumptions: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    assumptions[path] = value
    return _with(raw, path, value)


def _hold(raw: dict[str, Any], assumptions: dict[str, Any], mean_ms: float) -> dict[str, Any]:
    assumptions["workload.hold.mean_ms"] = mean_ms
    workload = raw["workload"]
    return {**raw, "workload": {**workload, "hold": {"dist": "exponential", "mean_ms": mean_ms}}}


def _phases(raw: dict[str, Any], assumptions: dict[str, Any], duration_s: float,
            rates: list[tuple[float, float]]) -> dict[str, Any]:
    """Traffic in steps: (from when, requests per second over all instances), capped at MAX_RATE."""
    steps = [(round(at, 1), round(min(rate, MAX_RATE), 1)) for at, rate in rates]
    raw = _choose(raw, assumptions, "workload.rate_per_s", steps[0][1])
    phases = [{"at_s": at, "rate_per_s": rate} for at, rate in steps[1:]]
    assumptions["workload.phases"] = phases
    raw = {**raw, "workload": {**raw["workload"], "phases": phases}, "duration_s": round(duration_s, 1)}
    assumptions["duration_s"] = round(duration_s, 1)
    return raw


def _overload(raw: dict[str, Any], read: dict[str, Any], assumptions: dict[str, Any]) -> dict[str, Any]:
    """Half the cap busy, then twice what the cap serves, for longer than a checkout waits."""
    pool = _pool(raw)
    if pool.cap is None:   # the text says the pool timed out, so it had a cap: assume one
        for path, value in pool.sized(10).items():
            raw = _choose(raw, assumptions, path, value)
        pool = _pool(raw)
    if _patience_s(pool) is None:   # ... and a timeout
        for path, value in pool.patient_for(5.0).items():
            raw = _choose(raw, assumptions, path, value)
        pool = _pool(raw)
    cap, patience = pool.cap or 10, _patience_s(pool) or 5.0
    raw = _hold(raw, assumptions, HOLD_MS)
    instances = from_dict(raw).app.instances
    per_s = instances * cap / (HOLD_MS / 1000.0)   # arrivals that keep every connection busy
    raw = _roomy_server(raw, read, assumptions, instances * cap)
    # at twice what the cap serves, the queue's wait grows by a second every second: the request that
    # comes `patience` seconds into the burst waits that long, and gives up `patience` seconds later
    start, length = 10.0, patience + 10.0
    return _phases(raw, assumptions, start + 2 * patience + 20.0,
                   [(0.0, 0.5 * per_s), (start, 2.0 * per_s), (start + length, 0.5 * per_s)])


def _roomy_server(raw: dict[str, Any], read: dict[str, Any], assumptions: dict[str, Any],
                  wanted: int) -> dict[str, Any]:
    """A server with room for every pool, unless the text named its limit (then that limit is the point)."""
    if "database.max_connections" in read:
        return raw
    database = from_dict(raw).database
    room = wanted + database.superuser_reserved_connections + 10
    return _choose(raw, assumptions, "database.max_connections", max(database.max_connections, room))


def _over_the_limit(raw: dict[str, Any], read: dict[str, Any], assumptions: dict[str, Any]) -> dict[str, Any]:
    """Enough instances that their pools together outgrow the server, and a burst that makes them grow."""
    scenario = from_dict(raw)
    limit, cap = scenario.database.role_limit, scenario.pool.cap
    instances = scenario.app.instances
    if cap is not None and instances * cap <= limit:
        instances = limit // cap + 1
        raw = _choose(raw, assumptions, "app.instances", min(instances, 200))
    wanted = 1.3 * (instances * cap if cap is not None else limit)   # connections busy in the burst
    hold_ms = 100.0
    raw = _hold(raw, assumptions, hold_ms)
    per_s = wanted / (hold_ms / 1000.0)
    return _phases(raw, assumptions, 50.0, [(0.0, 0.1 * per_s), (20.0, per_s), (35.0, 0.1 * per_s)])


def _idle_gaps(raw: dict[str, Any], read: dict[str, Any], assumptions: dict[str, Any]) -> dict[str, Any]:
    """The preset's firewall that drops connections idle for 3 s, and traffic with longer gaps than that."""
    if read.get("pool.pool_pre_ping"):
        problems = assumptions.setdefault("note", [])
        problems.append("pool_pre_ping catches a connection dropped while idle: the failure shown is "
                        "one that happens anyway")
    assumptions["faults"] = raw.get("faults", [])
    return raw


def _steady(raw: dict[str, Any], read: dict[str, Any], assumptions: dict[str, Any]) -> dict[str, Any]:
    """A configuration without an error: traffic that keeps half the pool busy, to start from."""
    pool = _pool(raw)
    scenario = from_dict(raw)
    cap = pool.cap or 10
    raw = _hold(raw, assumptions, 20.0)
    raw = _roomy_server(raw, read, assumptions, scenario.app.instances * cap)
    return _phases(raw, assumptions, 30.0, [(0.0, 0.5 * scenario.app.instances * cap / 0.02)])


def scenario_of(diagnosis: Diagnosis) -> Scenario:
    return from_dict(diagnosis.scenario)


__all__ = ["Diagnosis", "Found", "NothingRecognised", "diagnose", "number", "scenario_of"]
