"""The scenario: one description of traffic, pool, database and faults.

The simulation, the live lab, the lessons and the tests all read this one
format (contract 1 of the design notes), so it is validated here, once, with
messages a learner can act on: each names the field, the bad value and what
is allowed. Every field carries its own spec (range, unit, one-line meaning)
so the playground can build its controls and the reference page its tables
from the same place the validator reads.

Pool parameters are spelled exactly as each library spells them and keep the
library's units: seconds for SQLAlchemy and asyncpg, milliseconds for
HikariCP, seconds for Go's durations. Each library's settings live with its
model in `sim/pools/<library>.py`; this module holds the rest and reads them
through the registry there.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import re
import reprlib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from sim.errors import TRANSPORTS
from sim.poolers import POOLER_KINDS, NoPooler, PoolerConfig
from sim.pools import (  # noqa: F401 - the pool libraries' settings are part of the scenario's vocabulary
    POOL_KINDS,
    AsyncpgPool,
    GoPool,
    HikariPool,
    NoPool,
    PoolConfig,
    SQLAlchemyPool,
)
from sim.spec import ScenarioError, Spec, setting, specs

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
MAX_TEXT_BYTES = 256 * 1024  # a scenario file or one --set value; presets are under 2 KB
MAX_DEPTH = 6                # tables and lists inside each other: a scenario needs 4 (phases in workload)
MAX_ITEMS = 100              # phases, faults or scenes in one scenario


T = TypeVar("T")
C = TypeVar("C")

class NotToml(ScenarioError):
    """Text that does not parse as TOML (a `--set` value then stands as plain text)."""


# --------------------------------------------------------------------- traffic

@dataclass(frozen=True)
class Phase:
    """From `at_s` on, requests arrive at `rate_per_s` (all instances together)."""

    at_s: float = setting(0.0, float, 0, 86_400, unit="s", doc="when this rate starts")
    rate_per_s: float = setting(10.0, float, 0, 100_000, unit="1/s", doc="arrivals per second from then on")


@dataclass(frozen=True)
class Hold:
    """How long a request keeps its connection: the time spent in the database."""

    dist: str = setting("exponential", str, choices=("constant", "exponential", "lognormal"),
                   doc="shape of the hold-time distribution")
    mean_ms: float = setting(50.0, float, 0.001, 3_600_000, unit="ms", doc="mean hold time")
    sigma: float = setting(0.5, float, 0.01, 3.0, doc="lognormal shape (spread); ignored by the others")


@dataclass(frozen=True)
class Workload:
    rate_per_s: float = setting(20.0, float, 0, 100_000, unit="1/s",
                           doc="mean arrivals per second, spread over all instances (Poisson)")
    phases: tuple[Phase, ...] = ()
    hold: Hold = field(default_factory=Hold)
    cpu_fraction: float = setting(0.0, float, 0, 1,
                             doc="share of each hold that needs a database CPU core")
    leak_probability: float = setting(0.0, float, 0, 1,
                                 doc="share of requests that never give their connection back")
    # retries, as a client library's retry loop around "get a connection and run the statement"
    # (tenacity, a hand-written loop): see sim.model.request for what is retried and when
    retries: int = setting(0, int, 0, 20,
                      doc="attempts after a failed first one (a timeout waiting for a connection, too many "
                          "clients, refused, a broken connection; never a query timeout)")
    retry_backoff_ms: float = setting(100.0, float, 0, 3_600_000, unit="ms",
                                 doc="delay before the first retry; it doubles for each one after")
    retry_jitter: str = setting("full", str, choices=("none", "full"),
                           doc="none: every retry waits exactly its backoff; full: a uniform delay "
                               "from 0 to the backoff (AWS's full jitter)")
    deadline_ms: float | None = setting(None, float, 1, 86_400_000, unit="ms", optional=True,
                                   doc="the request's own deadline from its arrival: no attempt starts "
                                       "after it, and a wait for a worker or a connection ends at it")

    def rate_at(self, t: float) -> float:
        rate = self.rate_per_s
        for phase in self.phases:
            if phase.at_s <= t:
                rate = phase.rate_per_s
        return rate



# ------------------------------------------------------------ database and app

@dataclass(frozen=True)
class Database:
    connect_ms: float = setting(5.0, float, 0, 60_000, unit="ms",
                           doc="server-side cost of one new connection (fork, authentication)")
    rtt_ms: float = setting(0.2, float, 0, 10_000, unit="ms",
                       doc="one network round trip, paid by each query, ping, reset and connect step")
    max_connections: int = setting(100, int, 1, 100_000,
                              doc="the server's connection limit, shared by all instances")
    superuser_reserved_connections: int = setting(3, int, 0, 100_000,
                                             doc="slots an ordinary role may not use")
    cores: int = setting(0, int, 0, 1024, doc="database CPU cores; 0 = no CPU contention modelled")
    contention: float = setting(0.0, float, 0, 1,
                                doc="USL sigma: each other active query slows a query by this share "
                                    "(queueing on shared locks); 0 = off. Fit it: python -m live calibrate "
                                    "--concurrency")
    coherency: float = setting(0.0, float, 0, 1,
                               doc="USL kappa: each pair of active queries slows a query by this share "
                                   "(keeping shared state coherent): throughput falls past a peak; 0 = off")
    transport: str = setting(
        "tcp", str, choices=TRANSPORTS,
        doc="how the app reaches the server, which decides what a connect raises while it is down: "
            "tcp (host:port; refused), unix (a local socket, as the live lab's embedded server; its file "
            "is gone), proxy (a TCP proxy in front, as the live lab's own; it accepts, then resets)")

    @property
    def role_limit(self) -> int:
        """Connections an ordinary (non-superuser) application role can hold."""
        return self.max_connections - self.superuser_reserved_connections


@dataclass(frozen=True)
class App:
    instances: int = setting(1, int, 1, 200, doc="application processes, each with its own pool")
    workers: int = setting(0, int, 0, 100_000,
                      doc="requests one instance serves at once (sync workers x threads, a thread pool, "
                          "a semaphore); the rest queue for a worker; 0 = no limit")


@dataclass(frozen=True)
class Fault:
    kind: str = setting("kill_idle", str, choices=("kill_idle", "restart", "idle_cut"),
                   doc="kill_idle: pg_terminate_backend on idle connections; restart: the server "
                       "restarts; idle_cut: a firewall silently drops connections idle too long")
    at_s: float = setting(0.0, float, 0, 86_400, unit="s", doc="when the fault happens (idle_cut: from when)")
    down_s: float = setting(1.0, float, 0, 3600, unit="s", doc="restart: how long the server is down")
    idle_cut_after_s: float = setting(300.0, float, 0.001, 86_400, unit="s",
                                 doc="idle_cut: idle time after which a connection is dropped")


@dataclass(frozen=True)
class Scene:
    """A moment of the run a teacher points at ("the pool is full"): the stand can jump to it.

    Only a label on the clock: nothing in the model reads it, so scenes never change a run.
    """

    at_s: float = setting(0.0, float, 0, 86_400, unit="s", doc="the moment on the scenario's clock")
    caption: str = setting("", str, hi=200, doc="what happens then, in a few words")


# -------------------------------------------------------------------- scenario

@dataclass(frozen=True)
class Scenario:
    name: str = setting("scenario", str, hi=100, doc="short name, used in file names and application_name")
    description: str = setting("", str, hi=2000, doc="what the scenario shows, in one or two sentences")
    seed: int = setting(1, int, 0, 2**32 - 1, doc="random seed; same seed, same run")
    duration_s: float = setting(60.0, float, 0.001, 86_400, unit="s", doc="how long requests arrive")
    workload: Workload = field(default_factory=Workload)
    pool: PoolConfig = field(default_factory=SQLAlchemyPool)
    database: Database = field(default_factory=Database)
    app: App = field(default_factory=App)
    pooler: PoolerConfig = field(default_factory=NoPooler)
    faults: tuple[Fault, ...] = ()
    scenes: tuple[Scene, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def with_overrides(self, assignments: list[str] | dict[str, Any]) -> Scenario:
        return from_dict(apply_overrides(self.to_dict(), assignments))


SECTIONS: dict[str, type] = {"workload": Workload, "database": Database, "app": App}


# ------------------------------------------------------------------ validation

def _describe_range(spec: Spec) -> str:
    kind = "a whole number" if spec.type is int else "a number"
    if spec.lo is not None and spec.hi is not None:
        text = f"{kind} from {_num(spec.lo)} to {_num(spec.hi)}"
    elif spec.lo is not None:
        text = f"{kind} of at least {_num(spec.lo)}"
    else:
        text = kind
    if spec.unit:
        text += f" ({spec.unit})"
    if spec.off is not None:
        text = f"{_num(spec.off)} (off) or {text}"
    if spec.optional:
        text += ", or none"
    return text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _check_value(path: str, value: Any, spec: Spec) -> Any:
    """Return the value converted to the field's type, or raise ScenarioError."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")
                         and value not in spec.choices):   # workload.retry_jitter = "none" is a choice
        if spec.optional:
            return None
        raise ScenarioError(f"{path} = none: must be {_allowed(spec)}")
    if spec.type is bool:
        if isinstance(value, bool):
            return value
        raise ScenarioError(f"{path} = {show(value)}: must be true or false")
    if spec.type is str:
        if spec.choices and isinstance(value, int | float) and not isinstance(value, bool) \
                and str(value) in spec.choices:
            value = str(value)   # `--set pool.version=0.32` reads as a number; the choice is its text
        if not isinstance(value, str):
            raise ScenarioError(f"{path} = {show(value)}: must be text")
        if spec.choices and value not in spec.choices:
            raise ScenarioError(f"{path} = {show(value)}: must be one of {', '.join(spec.choices)}")
        if spec.hi is not None and len(value) > spec.hi:
            raise ScenarioError(f"{path} = {show(value)}: must be text of at most {_num(spec.hi)} characters "
                                f"(it has {len(value)})")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{path} = {show(value)}: must be {_allowed(spec)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(f"{path} = {show(value)}: must be {_allowed(spec)}")
    if spec.type is int:
        if isinstance(value, float) and not value.is_integer():
            raise ScenarioError(f"{path} = {show(value)}: must be {_allowed(spec)}")
        value = int(value)
    else:
        value = float(value)
    if spec.off is not None and value == spec.off:
        return value
    if (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi):
        raise ScenarioError(f"{path} = {_num(value)}: must be {_allowed(spec)}")
    return value


def _allowed(spec: Spec) -> str:
    if spec.choices:
        return "one of " + ", ".join(spec.choices)
    if spec.type is str:
        return "text" if spec.hi is None else f"text of at most {_num(spec.hi)} characters"
    return _describe_range(spec)


_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict = 2, 60, 60, 4, 4


def _key(key: str) -> str:
    """A key as a message names it: as written if a plain name, else quoted (it may hold a line break)."""
    return key if re.fullmatch(r"[A-Za-z0-9_]{1,60}", key) else show(key)


def show(value: Any) -> str:
    """A value as a message quotes it: short, whatever its size or depth (it may come from a link)."""
    return _SHOW.repr(value)


def _build(cls: type, raw: Any, path: str, nested: dict[str, Any] | None = None) -> Any:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path or 'the scenario'} = {show(raw)}: must be a table of settings")
    nested = nested or {}
    known = specs(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{path}.{_key(key)}" if path else _key(key)
        if key in nested:
            values[key] = nested[key](value, where)
        elif key in known:
            values[key] = _check_value(where, value, known[key])
        else:
            raise ScenarioError(f"{where}: unknown field (known: {', '.join([*known, *nested])})")
    return cls(**values)


def _build_kind(kinds: dict[str, type], default: str, raw: Any, path: str) -> Any:
    """A table whose `kind` picks its settings (a pool library, a pooler)."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path} = {show(raw)}: must be a table of settings")
    raw = dict(raw)
    kind = raw.pop("kind", default)
    if not isinstance(kind, str) or kind not in kinds:
        raise ScenarioError(f"{path}.kind = {show(kind)}: must be one of {', '.join(kinds)}")
    cls = kinds[kind]
    for key in raw:
        if key not in specs(cls):
            owners = [k for k, c in kinds.items() if key in specs(c)]
            hint = f" (that is a setting of {owners[0]})" if owners else ""
            known = ", ".join(specs(cls)) or "none"
            raise ScenarioError(f"{path}.{_key(key)}: not a setting of {path}.kind = {kind!r}{hint}; "
                                f"its settings: {known}")
    return _build(cls, raw, path)


def _build_pool(raw: Any, path: str) -> PoolConfig:
    pool: PoolConfig = _build_kind(POOL_KINDS, "sqlalchemy", raw, path)
    broken = pool.check(path)
    if broken:
        raise ScenarioError(broken)
    return pool


def _build_pooler(raw: Any, path: str) -> PoolerConfig:
    pooler: PoolerConfig = _build_kind(POOLER_KINDS, "none", raw, path)
    return pooler


def _build_list(item_cls: type) -> Any:
    def build(raw: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(raw, list):
            raise ScenarioError(f"{path} = {show(raw)}: must be a list of tables")
        if len(raw) > MAX_ITEMS:
            raise ScenarioError(f"{path}: {len(raw)} items; at most {MAX_ITEMS}")
        return tuple(_build(item_cls, item, f"{path}.{i}") for i, item in enumerate(raw))
    return build


def from_dict(raw: dict[str, Any]) -> Scenario:
    """Validate a parsed TOML document and build the scenario it describes."""
    _check_depth(raw)
    hold = lambda v, p: _build(Hold, v, p)  # noqa: E731
    sections = {
        "workload": lambda v, p: _build(Workload, v, p, {"phases": _build_list(Phase), "hold": hold}),
        "pool": _build_pool,
        "pooler": _build_pooler,
        "database": lambda v, p: _build(Database, v, p),
        "app": lambda v, p: _build(App, v, p),
        "faults": _build_list(Fault),
        "scenes": _build_list(Scene),
    }
    scenario = _build(Scenario, raw, "", sections)
    _check_across(scenario)
    return scenario


def _check_depth(raw: Any) -> None:
    """Refuse tables and lists nested beyond any scenario's shape before anything walks them."""
    todo: list[tuple[Any, int]] = [(raw, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise ScenarioError(f"tables and lists are nested more than {MAX_DEPTH} deep; "
                                "a scenario needs at most 4")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        todo += [(child, depth + 1) for child in children if isinstance(child, dict | list)]


def _check_across(s: Scenario) -> None:
    db = s.database
    if db.superuser_reserved_connections >= db.max_connections:
        raise ScenarioError(
            f"database.superuser_reserved_connections = {db.superuser_reserved_connections}: "
            f"must be below database.max_connections ({db.max_connections})")
    last = -1.0
    for i, phase in enumerate(s.workload.phases):
        if phase.at_s < last:
            raise ScenarioError(f"workload.phases.{i}.at_s = {_num(phase.at_s)}: phases must be "
                                f"in time order (the one before starts at {_num(last)})")
        last = phase.at_s
    moments: list[tuple[str, float]] = [(f"faults.{i}", f.at_s) for i, f in enumerate(s.faults)]
    moments += [(f"scenes.{i}", scene.at_s) for i, scene in enumerate(s.scenes)]
    for where, at_s in moments:
        if at_s > s.duration_s:
            raise ScenarioError(f"{where}.at_s = {_num(at_s)}: must be within the run "
                                f"(0 to duration_s = {_num(s.duration_s)})")
    for i in range(1, len(s.scenes)):
        if s.scenes[i].at_s < s.scenes[i - 1].at_s:
            raise ScenarioError(f"scenes.{i}.at_s = {_num(s.scenes[i].at_s)}: scenes must be in time order "
                                f"(the one before is at {_num(s.scenes[i - 1].at_s)})")


# ------------------------------------------------------------------- load/save

def load(path: str | Path) -> Scenario:
    """A scenario file: read up to MAX_TEXT_BYTES (a device such as /dev/zero never ends), UTF-8."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_TEXT_BYTES + 1)
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read the scenario file ({e.strerror})") from None
    if len(data) > MAX_TEXT_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_TEXT_BYTES // 1024} KB; a scenario is a few lines")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {e.start}); save the scenario as UTF-8") from None
    return loads(text, source=str(path))


def loads(text: str, source: str = "scenario") -> Scenario:
    return from_dict(parse_toml(text, source))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML text of bounded size; every way it can be malformed is a ScenarioError."""
    if len(text) > MAX_TEXT_BYTES:
        raise ScenarioError(f"{source}: longer than {MAX_TEXT_BYTES // 1024} KB; a scenario is a few lines")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise NotToml(f"{source}: not valid TOML ({e})") from None
    except RecursionError:
        raise ScenarioError(f"{source}: tables and lists are nested too deeply") from None


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


@functools.cache
def load_preset(name: str) -> Scenario:
    """A preset, read once per process (scenarios are frozen, so callers share it safely)."""
    path = PRESETS_DIR / f"{name}.toml"
    if not path.is_file():
        raise ScenarioError(f"preset {name!r} does not exist (see: python -m sim presets)")
    return load(path)


def to_dict(obj: Any) -> Any:
    """Plain TOML-ready data: None (no limit) is left out, as TOML has no null."""
    if isinstance(obj, tuple):
        return [to_dict(x) for x in obj]
    if not dataclasses.is_dataclass(obj):
        return obj
    out: dict[str, Any] = {}
    if type(obj) in POOL_KINDS.values() or type(obj) in POOLER_KINDS.values():
        out["kind"] = getattr(obj, "kind")  # noqa: B009 - a ClassVar, not a field
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None or value == () or isinstance(value, NoPooler):
            continue
        out[f.name] = to_dict(value)
    return out


# ------------------------------------------------------------------- overrides

def in_any_order(start: T, changes: Sequence[C], step: Callable[[T, C], T]) -> tuple[T, list[tuple[C, str]]]:
    """Apply each change that is valid, in any order: one refused is tried again once others went in.

    Settings checked against each other pass through invalid middles when applied one by one in
    the wrong order (asyncpg's min_size = 30 before max_size = 40, against a max_size of 10): the
    changes refused in a pass are retried until a pass applies none, and those are returned with
    their messages.
    """
    current, pending = start, list(changes)
    while True:
        refused: list[tuple[C, str]] = []
        for change in pending:
            try:
                current = step(current, change)
            except ScenarioError as e:
                refused.append((change, str(e)))
        if len(refused) in (0, len(pending)):
            return current, refused
        pending = [change for change, _ in refused]


def parse_value(text: str, source: str = "--set value") -> Any:
    """`--set` values are TOML (`20`, `true`, `[{at_s=1, rate_per_s=5}]`); else plain text."""
    try:
        return parse_toml(f"v = {text}", source)["v"]
    except NotToml:
        return text


def apply_overrides(raw: dict[str, Any], assignments: list[str] | dict[str, Any]) -> dict[str, Any]:
    """Set dotted paths (`pool.pool_size`, `faults.0.at_s`) in a copy of the raw scenario.

    Changing `pool.kind` drops the old kind's settings, so `--set pool.kind=asyncpg`
    on a SQLAlchemy preset gives asyncpg's defaults instead of an error.
    """
    if isinstance(assignments, dict):
        pairs = list(assignments.items())
    else:
        pairs = []
        for item in assignments:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ScenarioError(f"--set {item!r}: must look like section.field=value")
            pairs.append((key.strip(), parse_value(value.strip(), f"--set {key.strip()}")))
    out = copy.deepcopy(raw)
    for key, value in pairs:
        if key == "pool.kind" and out.get("pool", {}).get("kind", "sqlalchemy") != value:
            out["pool"] = {"kind": value}
        if key == "pooler.kind" and out.get("pooler", {}).get("kind", "none") != value:
            out["pooler"] = {"kind": value}
    for key, value in pairs:
        _set_path(out, key, value)
    return out


def _set_path(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            node = _list_item(node, part, where)
        else:
            nxt = node.get(part)
            if nxt is None:
                nxt = [] if part in ("faults", "phases", "scenes") else {}
                node[part] = nxt
            node = nxt
    last = parts[-1]
    if isinstance(node, list):
        index = _index(last, key)
        if index == len(node):
            node.append(value)
        elif index < len(node):
            node[index] = value
        else:
            raise ScenarioError(f"--set {key}: there are only {len(node)} items")
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(f"--set {key}: {'.'.join(parts[:-1])} is not a table")


def _index(part: str, where: str) -> int:
    if not part.isdigit():
        raise ScenarioError(f"--set {where}: {part!r} must be a list position (0, 1, ...)")
    return int(part)


def _list_item(node: list[Any], part: str, where: str) -> Any:
    index = _index(part, where)
    if index == len(node):
        node.append({})
    if index >= len(node):
        raise ScenarioError(f"--set {where}: there are only {len(node)} items")
    return node[index]
