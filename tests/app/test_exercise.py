"""Exercise links: what they changed, their question, their QR code."""

from __future__ import annotations

from app.exercise import NOTE_MAX, Change, changes, note, qr_svg
from sim.scenario import load_preset


def test_changes_name_each_setting_the_link_changed_with_both_values() -> None:
    scenario = load_preset("slow-leak").with_overrides(["pool.pool_size=3", "duration_s=30"])
    expected = [Change("duration_s", 150.0, 30.0), Change("pool.pool_size", 5, 3)]
    assert changes("slow-leak", scenario) == expected
    assert changes("slow-leak", load_preset("slow-leak")) == []


def test_a_fault_added_by_a_link_is_a_change_from_nothing() -> None:
    scenario = load_preset("pooled").with_overrides({"faults": [{"kind": "restart", "at_s": 2.0}]})
    added = changes("pooled", scenario)
    assert Change("faults.0.kind", None, "restart") in added and all(c.before is None for c in added)


def test_a_note_is_one_line_of_plain_text_of_bounded_length() -> None:
    assert note("  What happens\nif  pool_size is 3?  ") == "What happens if pool_size is 3?"
    assert note("") is None and note(None) is None and note(" \n ") is None
    long = note("x" * 10_000)
    assert long is not None and len(long) == NOTE_MAX and long.endswith("…")
    assert note("<script>alert(1)</script> **bold**") == "<script>alert(1)</script> **bold**"  # shown as text


def test_the_qr_code_encodes_the_link() -> None:
    url = "http://localhost:8501/playground?preset=slow-leak&set=pool.pool_size%3D3"
    svg = qr_svg(url)
    assert svg.startswith("<svg") and "</svg>" in svg
    assert qr_svg(url) == svg and qr_svg(url + "x") != svg
