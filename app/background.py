"""The process's one background event loop for live runs, kept across reruns and sessions."""

import streamlit as st

from live.loop import BackgroundLoop


@st.cache_resource(on_release=lambda loop: loop.stop())
def background_loop() -> BackgroundLoop:
    """asyncpg pools are bound to the loop that made them, so every live run lives on this one."""
    return BackgroundLoop()
