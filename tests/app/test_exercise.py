"""Exercise links: what they changed, their question, their QR code."""

from __future__ import annotations

from typing import Any

import pytest

from app import taxi
from app.exercise import NOTE_MAX, Change, changes, note, qr_svg
from app.results import FRAMES
from sim.scenario import load_preset
from tests.app.opened import figures, unescaped


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
    assert qr_svg(url + "&set=" + "x" * 5000) is None   # too long for any QR code: no code, no crash


# ---------------------------------------------------------------- on the playground, in AppTest

def playground(**query: str) -> Any:
    from tests.app.test_pages import playground as open_playground
    return open_playground(**query)


@pytest.mark.app
def test_a_link_shows_its_question_as_text_what_it_changed_and_keeps_the_note() -> None:
    at = playground(preset="slow-leak", set="pool.pool_size=3", note="What if **pool_size** is 3? <b>x</b>")
    texts = [m.value for m in at.markdown]
    question = next(text for text in texts if "What if" in text)
    assert "\\*\\*pool\\_size\\*\\*" in question and "\\<b\\>" in question   # escaped: shown, not rendered
    from tests.app.test_pages import unescaped
    assert any("pool.pool_size 5→3" in unescaped(c.value) for c in at.caption)
    note_kept = "What if **pool_size** is 3? <b>x</b>"
    assert at.query_params["note"] in ([note_kept], note_kept)
    at.button(key="pg.exercise.reset").click().run()
    assert not any("5→3" in unescaped(c.value) for c in at.caption)
    assert next(w.value for w in at.slider if w.key.endswith(".pool.pool_size")) == 5   # the preset's


@pytest.mark.app
def test_a_scene_puts_the_stand_at_its_moment() -> None:
    at = playground(preset="rush-hour")
    scenes = at.get("button_group")
    assert scenes, "the rush-hour preset shows its scenes"

    def active() -> int:
        chart = next(c for c in figures(at) if "sliders" in c["layout"])
        return int(chart["layout"]["sliders"][0]["active"])
    assert active() == 0
    scenes[0].set_value(3).run()
    assert not at.exception
    frames = len(taxi.frame_times(50.0, FRAMES))
    assert active() == pytest.approx(31 / 50 * frames, abs=2)   # scene 4 is at 31 s of 50
    assert any("31.0 s" in m.value and "queue" in m.value for m in at.markdown)


def test_the_shared_link_is_the_run_on_screen_right_after_a_slider_moves() -> None:
    at = playground()
    pool_size = next(s for s in at.slider if s.label.startswith("pool_size"))
    pool_size.set_value(13).run()
    assert not at.exception
    assert [c.value for c in at.code] == [f"?preset={at.session_state.preset}&set=pool.pool_size%3D13"]


def test_the_qr_code_is_drawn_only_while_the_share_popover_is_open() -> None:
    """Encoding and sending it cost every rerun 11 ms; the link itself is always there to copy."""
    at = playground()
    assert len(at.get("image")) == 0 and len(at.code) == 1
    at.session_state["pg.exercise.share"] = True   # what opening it does: its state, then a rerun
    at.run()
    assert not at.exception
    assert len(at.get("image")) == 1 and len(at.code) == 1


def test_the_changed_from_preset_chip_names_a_change_the_moment_it_is_made() -> None:
    at = playground()
    before = next(s for s in at.slider if s.label.startswith("pool_size")).value
    next(s for s in at.slider if s.label.startswith("pool_size")).set_value(13).run()
    assert not at.exception
    assert any(f"pool.pool_size {before}→13" in unescaped(c.value) for c in at.caption), \
        [c.value for c in at.caption]
