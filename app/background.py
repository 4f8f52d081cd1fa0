"""The process's one live-lab worker, kept across reruns and sessions, closed with the server."""

import streamlit as st

from live.worker import Worker


@st.cache_resource(on_release=lambda worker: worker.close(), show_spinner=False)
def live_worker() -> Worker:
    """Live runs go to a process of their own: page reruns here must not delay their requests."""
    return Worker()
