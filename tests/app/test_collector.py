"""The web server's collector thresholds are set by the app itself, whatever the process began with."""

import gc

from app import collector
from tests.app.opened import opened


def test_opening_any_page_sets_the_servers_collector_thresholds():
    default = (700, 10, 10)
    gc.set_threshold(*default)
    try:
        opened("app/pages/glossary.py")
        assert gc.get_threshold() == collector.THRESHOLDS
        assert collector.THRESHOLDS[0] > default[0]
    finally:
        gc.set_threshold(*default)


def test_once_a_page_has_run_what_the_process_holds_is_frozen_out_of_collections(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(collector, "_frozen", False)
    assert gc.get_freeze_count() == 0
    opened("app/pages/glossary.py")
    frozen = gc.get_freeze_count()
    assert frozen > 10_000   # the imports: Streamlit's, the app's modules, their tables
    opened("app/pages/glossary.py")
    assert gc.get_freeze_count() <= frozen   # once per process: later runs' objects stay collectable


def test_after_the_freeze_a_rerun_leaves_the_collector_alone(monkeypatch):
    """Not even counting what is frozen: gc.get_freeze_count walks every frozen object (some 11 ms)."""
    collector.freeze_once()
    touched = []
    for name in ("collect", "freeze", "get_freeze_count"):
        monkeypatch.setattr(gc, name, lambda *a, name=name: touched.append(name) or 0)
    opened("app/pages/glossary.py")
    assert touched == []
