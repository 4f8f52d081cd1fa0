"""Every scenario field as a control, built from the field's own spec.

The controls are generated from `sim.scenario` specs (type, range, unit,
"off" value, meaning), so a new field appears here without UI code, and a
pool's controls are named exactly as its library names them, with the
library's default beside them. Values are not clamped by the widgets: an
out-of-range value is let through to the scenario validator, whose one-line
message is then shown under the control it is about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from app import i18n
from app.state import field_spec, flatten
from app.ui import lang, lazy_segments, plain
from sim.scenario import (
    POOL_KINDS,
    POOLER_KINDS,
    App,
    Database,
    Fault,
    Hold,
    Phase,
    Scenario,
    ScenarioError,
    Spec,
    Workload,
    apply_overrides,
    from_dict,
    specs,
)

Translate = Callable[..., str]
Flat = dict[str, Any]   # field path -> value as the controls hold it, valid or not ("pool.pool_size": 5)
UNITS = {"s": "unit.s", "ms": "unit.ms", "1/s": "unit.per_s"}
"""A spec's unit -> its catalog key: labels and the reference say "s" as each language writes it."""


def number_text(value: float) -> str:
    """A setting's number as the session's language writes it, with the decimals it has (never 6.048e+08)."""
    decimals = f"{float(value):.6f}".rstrip("0").split(".")[1]
    return i18n.number(lang(), value, len(decimals))


def unit_text(unit: str, t: Translate) -> str:
    return t(UNITS[unit], _default=unit) if unit in UNITS else unit


def allowed_text(spec: Spec, t: Translate) -> str:
    """What a field may hold, in the page's numbers: its range, the value that turns it off, whether none."""
    if spec.choices:
        return ", ".join(spec.choices)
    if spec.type not in (int, float):
        return ""
    if spec.lo is not None and spec.hi is not None:
        text = f"{number_text(spec.lo)} – {number_text(spec.hi)}"
    elif spec.lo is not None:
        text = f"≥ {number_text(spec.lo)}"
    else:
        text = ""
    if spec.off is not None:
        text += f"; {number_text(spec.off)} = {t('reference.off')}"
    if spec.optional:
        text += f"; {t('reference.none')}"
    return text


def shown_value(value: Any) -> str:
    """A setting's value as help texts and the reference show it: numbers in the page's format, else TOML."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    return str(value)


class Form:
    """One set of controls: where each field's message goes, and the raw values they hold."""

    def __init__(self, key: str, t: Translate, compact: bool = False) -> None:
        self.key = key
        self.t = t
        self.compact = compact   # one column of controls (a narrow column beside the stand)
        self.values: dict[str, Any] = {}
        self.slots: dict[str, Any] = {}   # field path -> st.empty() under its control
        self.specs: dict[str, Spec] = {}  # field path -> its spec, for a message in the page's language

    def widget_key(self, path: str) -> str:
        return f"{self.key}.{path}"

    def label(self, path: str, name: str, spec: Spec) -> tuple[str, str]:
        unit = f" ({unit_text(spec.unit, self.t)})" if spec.unit else ""
        doc = self.t(f"field.{path}", _default=spec.doc)
        return f"{name}{unit}", doc

    def field(self, path: str, name: str, spec: Spec, value: Any, default: Any,
              slider: bool = False) -> None:
        label, doc = self.label(path, name, spec)
        help_text = f"{doc}  \n{self.t('controls.default', value=shown_value(default))}"
        allowed = allowed_text(spec, self.t)
        if allowed:
            help_text += f"  \n{self.t('controls.allowed', range=allowed)}"
        key = self.widget_key(path)
        self.specs[path] = spec
        if spec.optional:
            unlimited = st.checkbox(self.t("controls.no_limit", name=name), value=value is None,
                                    key=key + ".none", help=help_text)
            if unlimited:
                self.values[path] = None
                self.slots[path] = st.empty()
                return
            if value is None:
                value = default if default is not None else spec.lo
        if spec.type is bool:
            self.values[path] = st.toggle(label, value=bool(value), key=key, help=help_text)
        elif spec.choices:
            self.values[path] = st.selectbox(label, spec.choices, index=spec.choices.index(value), key=key,
                                             help=help_text)
        elif slider:
            self.values[path] = _slider(label, spec, value, name, key, help_text)
        elif spec.type is int:
            self.values[path] = int(st.number_input(label, value=int(value), step=1, key=key, help=help_text))
        else:
            self.values[path] = float(st.number_input(label, value=float(value), key=key, help=help_text,
                                                      format="%g"))
        self.slots[path] = st.empty()

    def section(self, prefix: str, cls: type, flat: Flat, slider: bool = False) -> None:
        defaults = cls()
        for name, spec in specs(cls).items():
            path, default = f"{prefix}.{name}", getattr(defaults, name)
            self.field(path, name, spec, flat.get(path, default), default, slider)


def _slider(label: str, spec: Spec, value: Any, name: str, key: str, help_text: str) -> Any:
    lo = spec.lo if spec.lo is not None else 0
    if spec.off is not None:
        lo = min(lo, spec.off)
    hi = max(spec.slider_max or spec.hi or 100, value)
    if spec.hi is not None:
        hi = min(hi, max(spec.hi, value))
    if spec.type is int:
        return st.slider(label, int(min(lo, value)), int(hi), int(value), key=key, help=help_text)
    step = 0.1 if hi <= 100 else 1.0
    return st.slider(label, float(min(lo, value)), float(hi), float(value), step=step, key=key,
                     help=help_text)


GROUPS = ("pool", "traffic", "database", "faults", "instances", "pooler")

# Fields a group's controls own outright: when the group is drawn, a row deleted from its table or another
# pool kind picked must not be filled back in from the scenario the controls started from.
OWNED = {"pool": ("pool.",), "traffic": ("workload.phases",), "faults": ("faults",), "pooler": ("pooler.",)}


@dataclass(frozen=True)
class OpenGroup:
    """The group whose controls are on screen, the values they were drawn from, and which drawing it is."""

    group: str
    start: Flat
    generation: int   # a new one for each drawing from new values: its widgets get keys of their own


def grouped_controls(current: Scenario, key: str, t: Translate,
                     tabs_key: str, compact: bool = False) -> tuple[Scenario | None, str | None]:
    """Every field, a segment of `lazy_segments` per group; return the scenario they describe (None if
    invalid) and the error.

    Only the open group's controls are drawn: a browser laying out fifty widgets
    at once made the first render slow. The other groups' fields keep the
    values the open group was drawn with, as typed, valid or not: an error that
    spans two groups (a fault after the run's end) is fixed in the other group,
    and nothing typed may be lost on the way. Opening another group reads the
    last one's controls once more, out of sight (a value typed just before the
    click may not have been read yet), and draws the new group from the result.
    Back from another page, the controls start from the values they last held.
    `compact` stacks every group's controls in one column, for a narrow one beside the stand.
    """
    ss = st.session_state
    returning = tabs_key not in ss   # first visit, or back from another page: every widget was dropped
    group, tab = lazy_segments(tabs_key, GROUPS, lambda g: t(f"controls.group.{g}"), t("controls.groups"))
    shown: OpenGroup | None = ss.get(f"{key}.open")
    if shown is None or returning:
        start = ss.get(f"{key}.held") or flatten(current.to_dict())
        shown = OpenGroup(group, start, 0 if shown is None else shown.generation + 1)
    elif shown.group != group:
        holder = st.empty()
        with holder.container():
            *_, held = _read(Form(f"{key}.{shown.generation}", t, compact), shown.start, shown.group)
        holder.empty()
        shown = OpenGroup(group, held, shown.generation + 1)
    ss[f"{key}.open"] = shown
    with tab:
        scenario, error, ss[f"{key}.held"] = _read(Form(f"{key}.{shown.generation}", t, compact),
                                                   shown.start, group)
    return scenario, error


def key_fields(scenario: Scenario, group: str, n: int = 2) -> tuple[str, ...]:
    """The first `n` settings of a control group, as paths: what presentation mode shows unless told.

    A group with none of its own (no pool, faults) gives the pool's, then the traffic's.
    """
    owners: dict[str, list[tuple[str, type]]] = {
        "pool": [("pool", type(scenario.pool))], "traffic": [("workload", Workload), ("workload.hold", Hold)],
        "database": [("database", Database)], "instances": [("app", App)]}
    fallback: list[tuple[str, type]] = [("pool", type(scenario.pool)), ("workload", Workload)]
    paths = [f"{prefix}.{name}" for prefix, cls in owners.get(group, []) + fallback
             for name, spec in specs(cls).items() if spec.type in (int, float) and not spec.optional]
    if group == "traffic":   # the rate, then how long each request holds its connection
        paths = [p for p in paths if p == "workload.rate_per_s" or p.startswith("workload.hold.")] + paths
    return tuple(dict.fromkeys(paths))[:n]


def field_controls(scenario: Scenario, key: str, t: Translate,
                   only: tuple[str, ...]) -> tuple[Scenario | None, str | None]:
    """Just the fields in `only`, side by side (a lesson shows the two or three that matter)."""
    form = Form(key, t)
    _only_fields(form, scenario, only)
    scenario_, error, _ = _checked(form, flatten(scenario.to_dict()))
    return scenario_, error


def _read(form: Form, start: Flat, group: str) -> tuple[Scenario | None, str | None, Flat]:
    """Draw one group's controls from `start`; the values are theirs there and `start`'s elsewhere."""
    DRAW[group](form, start)
    owned = OWNED.get(group, ())
    return _checked(form, {k: v for k, v in start.items() if not k.startswith(owned)} if owned else start)


def _checked(form: Form, base: Flat) -> tuple[Scenario | None, str | None, Flat]:
    """The scenario of `base` with the form's values, or None and the error, shown under its control."""
    held = base | form.values
    try:
        return from_dict(apply_overrides({}, {k: v for k, v in held.items() if v is not None})), None, held
    except ScenarioError as e:
        message = str(e)
        path = message.split(" = ")[0].split(":")[0].strip()
        while path not in form.slots and "." in path:   # faults.0.at_s -> the faults table
            path = path.rsplit(".", 1)[0]
        message = _said(form, path, held.get(path), message)
        slot = form.slots.get(path)
        if slot is not None:
            slot.error(plain(message), icon=":material/error:")
        return None, message, held


def _said(form: Form, path: str, value: Any, message: str) -> str:
    """The validator's message; in another language than English, a number outside its field's range is
    said in that language with its numbers. English keeps the validator's words: the command line's."""
    spec = form.specs.get(path)
    if lang() == i18n.DEFAULT or spec is None or spec.type not in (int, float) or spec.choices \
            or isinstance(value, bool) or not isinstance(value, int | float):
        return message
    if not message.startswith(f"{path} = "):
        return message
    if spec.off is not None and value == spec.off:
        return message
    whole = spec.type is int and not float(value).is_integer()
    outside = (spec.lo is not None and value < spec.lo) or (spec.hi is not None and value > spec.hi)
    if not (whole or outside):
        return message   # about something else than the range (another field, the pool's own rules)
    return form.t("controls.not_whole" if whole else "controls.out_of_range", path=path,
                  value=number_text(value), range=allowed_text(spec, form.t))


def _traffic(form: Form, flat: Flat) -> None:
    top, defaults = specs(Scenario), Scenario()
    cols = [st.container(), st.container()] if form.compact else st.columns(2)
    with cols[0]:
        for name in ("duration_s", "seed"):
            default = getattr(defaults, name)
            form.field(name, name, top[name], flat.get(name, default), default)
        form.section("workload", Workload, flat)
    with cols[1]:
        form.section("workload.hold", Hold, flat)
        st.caption(form.t("controls.phases"), help=_columns_help(form, "workload.phases", Phase))
        edited = st.data_editor(_rows(flat, "workload.phases", Phase) or _empty(Phase),
                                num_rows="dynamic", key=form.widget_key("workload.phases"),
                                width="stretch")
        _table_values(form, "workload.phases", edited)


def _columns_help(form: Form, path: str, cls: type) -> str:
    """What each column of a table means, as a control's help says it of its field.

    Beside the table rather than in its columns' own help: a data editor that
    adds rows is told apart by everything it is given, so help in another
    language would make it a new table and drop the rows being typed.
    """
    lines = []
    for name, spec in specs(cls).items():
        unit = f" ({unit_text(spec.unit, form.t)})" if spec.unit else ""
        allowed = allowed_text(spec, form.t)
        lines.append(f"`{name}`{unit}: {form.t(f'field.{path}.{name}', _default=spec.doc)}"
                     + (f" ({form.t('controls.allowed', range=allowed)})" if allowed else ""))
    return "  \n".join(lines)


def _rows(flat: Flat, prefix: str, cls: type) -> list[dict[str, Any]]:
    """A table's rows from its paths ("faults.0.kind", "faults.1.at_s", ...), a column per field of `cls`."""
    rows: dict[int, dict[str, Any]] = {}
    for path, value in flat.items():
        if path.startswith(prefix + "."):
            index, _, name = path[len(prefix) + 1:].partition(".")
            rows.setdefault(int(index), {})[name] = value
    return [{name: rows[i].get(name) for name in specs(cls)} for i in sorted(rows)]


def _table_values(form: Form, path: str, edited: Any) -> None:
    """A table's rows as the form's values: the whole list is the table's (a deleted row is gone)."""
    form.values[path] = []
    for i, row in enumerate(_records(edited)):
        for name, value in row.items():
            if value is not None:
                form.values[f"{path}.{i}.{name}"] = value
    form.slots[path] = st.empty()


def _empty(cls: type) -> Any:
    import pandas as pd
    return pd.DataFrame({name: pd.Series(dtype="float64" if s.type is not str else "object")
                         for name, s in specs(cls).items()})


def _records(edited: Any) -> list[dict[str, Any]]:
    records = edited.to_dict("records") if hasattr(edited, "to_dict") else list(edited)
    out = []
    for row in records:
        clean = {k: (None if _is_nan(v) else v) for k, v in row.items()}
        if any(v is not None for v in clean.values()):
            out.append(clean)
    return out


def _is_nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _kind_then_settings(form: Form, flat: Flat, section: str, kinds: dict[str, Any], default: str,
                        name: Callable[[str], str], picker: str, nothing: str) -> None:
    """A table whose kind picks its settings ([pool], [pooler]): the kind, then that kind's own controls.

    Another kind's controls start from its own defaults, under keys of their own.
    """
    held = flat.get(f"{section}.kind", default)
    choices = list(kinds)
    kind = st.selectbox(form.t(picker), choices, index=choices.index(held), format_func=name,
                        key=form.widget_key(f"{section}.kind"))
    form.values[f"{section}.kind"] = kind
    cls = kinds[kind]
    if not specs(cls):
        st.info(form.t(nothing))
        return
    form.key = f"{form.key}.{kind}"
    form.section(section, cls, flat if kind == held else {}, slider=True)
    form.key = form.key.rsplit(".", 1)[0]


def _pool(form: Form, flat: Flat) -> None:
    _kind_then_settings(form, flat, "pool", POOL_KINDS, Scenario().pool.kind,
                        lambda k: f"{POOL_KINDS[k].library} ({k})", "controls.pool_kind", "controls.no_pool")


def _pooler(form: Form, flat: Flat) -> None:
    """A pooler in front of the server (PgBouncer), or none: named alike in every language."""
    _kind_then_settings(form, flat, "pooler", POOLER_KINDS, "none",
                        lambda k: f"{POOLER_KINDS[k].product} ({k})" if POOLER_KINDS[k].product else k,
                        "controls.pooler_kind", "controls.no_pooler")


def _faults(form: Form, flat: Flat) -> None:
    st.caption(form.t("controls.faults"), help=_columns_help(form, "faults", Fault))
    column = st.column_config.SelectboxColumn("kind", options=list(specs(Fault)["kind"].choices),
                                              required=True)
    edited = st.data_editor(_rows(flat, "faults", Fault) or _empty(Fault), num_rows="dynamic",
                            key=form.widget_key("faults"), column_config={"kind": column}, width="stretch")
    _table_values(form, "faults", edited)


def _only_fields(form: Form, scenario: Scenario, paths: tuple[str, ...]) -> None:
    """A lesson's few controls, side by side."""
    flat = flatten(scenario.to_dict())
    base = flatten(Scenario().to_dict()) | flatten({"pool": scenario.pool.__class__().__dict__,
                                                    "pooler": scenario.pooler.__class__().__dict__})
    cols = st.columns(len(paths))
    for col, path in zip(cols, paths, strict=True):
        spec = field_spec(scenario, path)
        with col:
            form.field(path, path.rsplit(".", 1)[-1], spec, flat.get(path), base.get(path),
                       slider=path.startswith(("pool.", "pooler.")))


DRAW: dict[str, Callable[[Form, Flat], None]] = {
    "pool": _pool,
    "traffic": _traffic,
    "database": lambda form, flat: form.section("database", Database, flat),
    "faults": _faults,
    "instances": lambda form, flat: form.section("app", App, flat),
    "pooler": _pooler,
}
