"""The process's one live-lab worker, kept across reruns and sessions, closed with the server."""

import threading

import streamlit as st

from live.worker import Worker

_replacing = threading.Lock()


@st.cache_resource(on_release=lambda worker: worker.close(), show_spinner=False)
def _worker() -> Worker:
    return Worker()


def live_worker() -> Worker:
    """Live runs go to a process of their own: page reruns here must not delay their requests.

    A worker that has died (killed, out of memory) is replaced on the next
    call, so one crash does not disable the live lab until the app restarts.
    """
    worker = _worker()
    if not worker.alive:
        with _replacing:          # two sessions saw it dead: one replaces it, the other takes the new one
            worker = _worker()
            if not worker.alive:
                _worker.clear()
                worker = _worker()
    return worker
