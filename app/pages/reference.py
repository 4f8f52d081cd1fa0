"""Reference: each pool kind's and each pooler's settings, defaults and behaviours, from the same specs the
validator reads."""

import streamlit as st

from app.controls import allowed_text, shown_value, unit_text
from app.ui import t
from sim.poolers import POOLER_KINDS
from sim.scenario import POOL_KINDS, specs


def settings_table(cls: type, section: str) -> None:
    """The settings of `cls` as a table: name, default, unit, allowed values, meaning (field.<section>.*)."""
    fields = specs(cls)
    if not fields:
        return
    defaults = cls()
    rows = []
    for name, spec in fields.items():
        rows.append({t("reference.col.setting"): name,
                     t("reference.col.default"): shown_value(getattr(defaults, name)),
                     t("reference.col.unit"): unit_text(spec.unit, t),
                     t("reference.col.allowed"): allowed_text(spec, t),
                     t("reference.col.meaning"): t(f"field.{section}.{name}", _default=spec.doc)})
    st.dataframe(rows, hide_index=True, width="stretch")


st.title(t("reference.title"))
st.caption(t("reference.intro"))
for kind, cls in POOL_KINDS.items():
    st.header(f"{cls.library} (`kind = \"{kind}\"`)")
    st.markdown(t(f"reference.behaviour.{kind}"))
    settings_table(cls, "pool")
for kind, pooler in POOLER_KINDS.items():
    if not pooler().present:   # no pooler: the pools above meet the server
        continue
    st.header(f"{pooler.product} (`[pooler] kind = \"{kind}\"`)")
    st.markdown(t(f"reference.behaviour.{kind}"))
    settings_table(pooler, "pooler")
