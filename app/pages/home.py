"""Home: what a pool is, in one picture, and where to start."""

import streamlit as st

from app import frame
from app.lessons import lesson_list
from app.ui import lang, t

st.title(t("home.title"))
st.markdown(t("home.lead"))

cols = st.columns([3, 2])
with cols[0]:
    st.markdown(t("home.picture"))
with cols[1]:
    st.markdown(t("home.mapping"))

st.subheader(t("home.start"))
PRESETS = ["no-pool", "pooled", "burst-into-overflow", "exhaustion-timeouts", "slow-leak",
           "idle-cut-no-pre-ping", "too-many-clients", "bigger-pool-not-faster"]
buttons = st.columns(4)
for i, name in enumerate(PRESETS):
    with buttons[i % 4]:
        if st.button(frame.preset_title(name), key=f"home.{name}", width="stretch"):
            frame.load(name)
            st.switch_page("app/pages/playground.py")

st.subheader(t("home.lessons"))
for slug, title in lesson_list(lang()):
    st.page_link("app/pages/lessons.py", label=title, query_params={"lesson": slug})
