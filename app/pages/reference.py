"""Reference: each pool kind's settings, defaults and behaviours, from the same specs the validator reads."""

import streamlit as st

from app.ui import t
from sim.scenario import POOL_KINDS, specs

st.title(t("reference.title"))
st.caption(t("reference.intro"))
for kind, cls in POOL_KINDS.items():
    st.header(f"{cls.library} (`kind = \"{kind}\"`)")
    st.markdown(t(f"reference.behaviour.{kind}"))
    fields = specs(cls)
    if not fields:
        continue
    defaults = cls()
    rows = []
    for name, spec in fields.items():
        default = getattr(defaults, name)
        allowed = f"{spec.lo:g} – {spec.hi:g}" if spec.lo is not None and spec.hi is not None else ""
        if spec.off is not None:
            allowed += f"; {spec.off:g} = {t('reference.off')}"
        if spec.optional:
            allowed += f"; {t('reference.none')}"
        rows.append({t("reference.col.setting"): name,
                     t("reference.col.default"): "none" if default is None else str(default),
                     t("reference.col.unit"): spec.unit,
                     t("reference.col.allowed"): allowed,
                     t("reference.col.meaning"): t(f"field.pool.{name}", _default=spec.doc)})
    st.dataframe(rows, hide_index=True, width="stretch")
