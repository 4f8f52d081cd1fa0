"""Helpers the page tests share: a page opened in AppTest by its link, and the English a test expects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from app import figure
from app.i18n import DEFAULT, tr

ENTRY = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def en(key: str, **params: Any) -> str:
    return tr(DEFAULT, key, **params)


def unescaped(markdown: str) -> str:
    """Text as the page wrote it, before `app.ui.plain` escaped it for Markdown."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def payloads(at: AppTest) -> list[dict[str, Any]]:
    """What app/figure.py's component sent the browser for each figure of the run, in page order."""
    return [json.loads(e.proto.bytes) for e in at.get("bidi_component")
            if e.proto.component_name == figure.NAME]


def figures(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures the run drew, in page order: data, layout, frames."""
    return [sent["figure"] for sent in payloads(at)]


def opened(page: str, timeout_s: float = 120, **query: str) -> AppTest:
    """`page` as a link with `query` opens it, run once, with no exception."""
    at = AppTest.from_file(ENTRY, default_timeout=timeout_s)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at
