"""The Streamlit side of the shared frame: the session's language, its words, its numbers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import i18n


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
