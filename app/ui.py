"""The Streamlit side of the shared frame: the session's language, its words, its numbers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import i18n

_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'])")


_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?<=@)")
_JOINER = "\u2060"


def plain(text: object) -> str:
    """Text from a link, a file or an exception, for a place that renders Markdown: shown as itself.

    Every sign that Markdown (or Streamlit's extensions: `:red[...]`, `$math$`)
    could act on is escaped, so `![i](http://host/pixel.png)` is not an image
    fetched by every visitor's browser, `***:***` does not turn into emphasis,
    and no HTML or link is drawn. Bare addresses (`http://…`, `www.…`, `a@b.c`)
    are turned into links after escapes are resolved, so an invisible word
    joiner (U+2060) is put inside each. Line breaks become spaces: one line.
    """
    text = " ".join(str(text).split())
    text = _AUTOLINK.sub(_JOINER, text)
    return _MARKUP.sub(r"\\\1", text)


def file_stem(name: str) -> str:
    """A scenario's name as a download's file name: letters, digits and dashes only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:60] or "scenario"


def lang() -> str:
    return str(st.session_state.get("lang", i18n.DEFAULT))


def t(key: str, _default: str | None = None, **params: Any) -> str:
    """The text for `key` in the session's language; `_default` when no catalog has it."""
    return i18n.tr(lang(), key, _default, **params)


def texts(prefix: str) -> dict[str, str]:
    return i18n.texts(lang(), prefix)


def num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else i18n.number(lang(), value, digits)


def shown(value: float | None) -> str:
    """A result as cards and tables show it: counts whole, measures to one decimal."""
    return num(value, 1) if isinstance(value, float) else num(value, 0)


def pct(value: float, digits: int = 1) -> str:
    return i18n.percent(lang(), value, digits)


def lazy_tabs(key: str, names: Sequence[str], label: Callable[[str], str]) -> tuple[str, DeltaGenerator]:
    """Tabs of which only the open one is drawn: its name and its container.

    The tabs' state is the open tab's label, which another language renames,
    and which is dropped when the user visits another page; the open name is
    kept beside it, so the same tab stays open through both.
    """
    labels = _labels_kept(key, names, label)
    tabs = st.tabs(labels, key=key, on_change="rerun")
    name = next((n for tab, n in zip(tabs, names, strict=True) if tab.open), names[0])
    st.session_state[f"{key}.name"] = name
    return name, tabs[list(names).index(name)]


def lazy_segments(key: str, names: Sequence[str], label: Callable[[str], str], title: str
                  ) -> tuple[str, DeltaGenerator]:
    """`lazy_tabs` as one row of buttons (wrapped onto a second where it must), every name in sight.

    For a narrow column: tabs there overflowed their row (the last ones behind a
    scroll arrow), and that tab bar cost the browser's main thread some 20 ms of
    every change of the playground's controls beside the stand (interleaved A/B,
    30 changes each, twice). One segment is always picked: a click on the picked
    one, which unpicks it, leaves it open (`_labels_kept`). `title` names the row
    for a screen reader.
    """
    labels = _labels_kept(key, names, label)
    ss = st.session_state
    if ss.get(key) not in labels:   # first visit: the first one
        ss[key] = labels[0]
    st.segmented_control(title, labels, key=key, label_visibility="collapsed")
    picked = ss.get(key)
    name = names[labels.index(picked)] if picked in labels else names[0]
    ss[f"{key}.name"] = name
    return name, st.container()


def _labels_kept(key: str, names: Sequence[str], label: Callable[[str], str]) -> list[str]:
    """The labels in the session's language; the widget's state set to the open name's label in it
    when it holds no label of them (another language's, none, or dropped with another page's visit)."""
    ss = st.session_state
    labels = [label(name) for name in names]
    last = ss.get(f"{key}.name")
    if isinstance(last, str) and last in names and ss.get(key) not in labels:
        ss[key] = labels[list(names).index(last)]
    return labels

