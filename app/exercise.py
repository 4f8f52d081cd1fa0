"""An exercise link: what it changed from its preset, the link itself (copyable, as a QR code) and its note.

A teacher prepares one link per exercise (`/playground?preset=slow-leak&set=pool.pool_size%3D3&note=...`).
The class needs to see what the link changed, a way to put it on their own
screens, and the teacher's question. The question comes from a link, so it
is text: never Markdown or HTML, and cut to a length a caption can hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import segno
import streamlit as st

from app.state import flatten
from app.ui import plain, t
from sim.scenario import Scenario, load_preset

NOTE_MAX = 280
"""The longest note a link may carry: a question, not a page."""


@dataclass(frozen=True)
class Change:
    path: str          # "pool.pool_size"
    before: Any        # the preset's value; None where the preset has no such field (a fault added)
    after: Any         # None where the change removed it


def changes(preset: str, scenario: Scenario) -> list[Change]:
    """The settings `scenario` has that its preset does not, in the order of the scenario's fields."""
    was = flatten(load_preset(preset).to_dict())
    now = flatten(scenario.to_dict())
    skip = ("name", "description")
    paths = [p for p in now if p not in skip] + [p for p in was if p not in now and p not in skip]
    return [Change(p, was.get(p), now.get(p)) for p in paths if was.get(p) != now.get(p)]


def note(text: str | None) -> str | None:
    """The exercise's question from `?note=`: one line of plain text, at most NOTE_MAX characters."""
    line = " ".join((text or "").split())
    if not line:
        return None
    return line if len(line) <= NOTE_MAX else line[:NOTE_MAX - 1].rstrip() + "…"


def qr_svg(url: str) -> str | None:
    """The link as a QR code (SVG), for a projected slide the class scans with their phones; None for a
    link too long for any QR code (a link may carry up to 256 KB of settings)."""
    try:
        return str(segno.make(url, error="m").svg_inline(scale=6, border=2))
    except segno.DataOverflowError:
        return None


def link(params: dict[str, list[str]]) -> str:
    """This page's address with its query: the link a class opens (st.context.url has no query)."""
    base = (st.context.url or "").split("?")[0]
    return base + ("?" + urlencode([(k, v) for k, vs in params.items() for v in vs]) if params else "")


def panel(preset: str, scenario: Scenario, key: str, reset: Callable[[], None]) -> None:
    """The exercise's question, what the link changed from its preset (with a way back), and the link.

    Drawn after the page has written its URL for `scenario` (`frame.remember`), so the link is this run's.
    """
    question = st.session_state.get("note")
    if question:
        st.markdown(f"**{t('exercise.question')}** {plain(question)}")
    changed = changes(preset, scenario)
    if changed:
        shown = ", ".join(f"{c.path} {_value(c.before)}→{_value(c.after)}" for c in changed[:MAX_SHOWN])
        more = len(changed) - MAX_SHOWN
        st.caption(plain(t("exercise.changed", changes=shown) + (f" (+{more})" if more > 0 else "")))
        st.button(t("exercise.reset"), key=f"{key}.reset", icon=":material/restart_alt:", on_click=reset,
                  type="tertiary")
    url = link({k: st.query_params.get_all(k) for k in st.query_params})
    # The QR code is drawn only while the popover is open: encoding and sending it took 11 ms of every
    # rerun (a slider's change included), for a picture seldom looked at.
    share = st.popover(t("exercise.share"), icon=":material/qr_code_2:", key=f"{key}.share",
                       on_change="rerun")
    with share:
        st.caption(t("exercise.share_help"))
        st.code(url, language=None, wrap_lines=True)
        if share.open:
            code = qr_svg(url)
            if code is None:
                st.caption(t("exercise.too_long"))
            else:
                st.image(code, width=240)


MAX_SHOWN = 4
"""Changes named in the chip; the rest are counted."""


def _value(value: Any) -> str:
    return "–" if value is None else str(value)
