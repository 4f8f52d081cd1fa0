"""The interface is translated completely: no page in zh-TW, zh-CN or ru shows an English sentence of ours.

Each page is rendered once per language in Streamlit's AppTest (the playground
with each of its tabs opened), every text it would show is gathered (Markdown,
captions, labels, help texts, options, table columns and cells, chart texts),
and none may hold a sentence of the English catalog or of an English preset
description. Names are not sentences: a sentence counts from four words, and
one the language's own catalog also holds (a library's message quoted
verbatim) is allowed.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from app import frame
from app.controls import GROUPS
from app.i18n import DEFAULT, LANGUAGES, catalog, english_docs, tr
from sim.scenario import (
    PRESETS_DIR,
    Database,
    Workload,
    preset_names,
    specs,
)

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parents[2]
ENTRY = str(ROOT / "streamlit_app.py")
OTHERS = [code for code in LANGUAGES if code != DEFAULT]
PAGES = ["home", "playground", "live_lab", "compare", "lessons", "reference", "glossary"]
RESULT_TABS = ("connections", "waits", "timeline", "errors", "trace", "downloads")
MIN_WORDS = 4


def normal(text: str) -> str:
    """Text as a reader sees it: no Markdown escapes, emphasis, code marks or table bars; spaces; any case."""
    text = re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")
    text = re.sub(r"[*`|]", " ", text)
    return " ".join(text.split()).casefold()


def sentences(text: str) -> Iterator[str]:
    """The sentences of a catalog text, cut at its placeholders, line ends and sentence ends."""
    for piece in re.split(r"\{[^{}]*\}|%\{[^{}]*\}|\n", text):
        for sentence in re.split(r"(?<=[.!?])\s+", piece):
            sentence = normal(sentence).strip(" .,:;\u2013\u2014-()")
            if len(re.findall(r"[^\W\d_]{2,}", sentence)) >= MIN_WORDS:
                yield sentence


def english(lang: str) -> dict[str, str]:
    """Each English sentence a page in `lang` must not show -> where it comes from (the settings' docs in sim/
    too: a control whose help has no catalog key falls back to its doc)."""
    theirs = normal(" ".join(catalog(lang).values()))
    out: dict[str, str] = {}
    for key, text in catalog(DEFAULT).items():
        for sentence in sentences(text):
            if sentence not in theirs:   # the language keeps it too: a name or a message quoted verbatim
                out.setdefault(sentence, key)
    return out   # English's catalog holds the presets' descriptions and the settings' docs (english_docs)


def _strings(message: Message) -> Iterator[str]:
    for field, value in message.ListFields():
        values = value if isinstance(value, list | tuple) or hasattr(value, "extend") else [value]
        for v in values:
            if isinstance(v, Message):
                yield from _strings(v)
            elif isinstance(v, str):
                if field.name == "spec" and v.startswith("{"):   # a chart: every text in its figure
                    yield from _json_strings(json.loads(v))
                else:
                    yield v


def _json_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _json_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _json_strings(value)


def page_texts(at: AppTest) -> list[str]:
    """Every text the page shows: each element's and block's own texts, tables' columns and cells."""
    out: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            out.extend(_strings(proto))
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at.main)
    walk(at.sidebar)
    for table in at.dataframe:
        frame_ = table.value
        out.extend(str(c) for c in frame_.columns)
        out.extend(str(v) for col in frame_.columns for v in frame_[col] if isinstance(v, str))
    return out


def render(lang: str, page: str) -> list[str]:
    """The page's texts in `lang`; the playground's with each group of controls and each result tab open."""
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.query_params["lang"] = lang
    if page == "playground":
        at.query_params["preset"] = "restart"   # a run with errors: the errors tab explains them
    at.run()
    if page != "home":
        at.switch_page(f"app/pages/{page}.py").run()
    assert not at.exception, at.exception
    texts = page_texts(at)
    if page == "playground":
        for key, names, prefix in (("pg.group", GROUPS, "controls.group"),
                                   ("pg.view", RESULT_TABS, "results.tab")):
            for name in names:
                at.session_state[key] = tr(lang, f"{prefix}.{name}")
                at.run()
                assert not at.exception, at.exception
                assert at.session_state[f"{key}.name"] == name
                texts += page_texts(at)
    return texts


@pytest.mark.parametrize("lang", OTHERS)
def test_no_page_shows_an_english_sentence(lang: str) -> None:
    """Home, playground, live lab, compare, lessons, reference and glossary, each rendered once in `lang`."""
    forbidden = english(lang)
    found: dict[str, list[str]] = {}
    for page in PAGES:
        shown = normal(" \n ".join(render(lang, page)))
        hits = [f"{where}: {sentence}" for sentence, where in forbidden.items() if sentence in shown]
        if hits:
            found[page] = hits
    assert found == {}, f"{lang}: English on its pages"


def test_the_check_finds_an_english_sentence() -> None:
    """The check is not blind: a preset's English description and a help text fallen back to English
    are found; a name, and a sentence the language's catalog quotes too, are not."""
    forbidden = english("ru")
    description = tr(DEFAULT, "preset.slow-leak.description")
    shown = normal(f"{tr('ru', 'playground.intro')} {description} {tr(DEFAULT, 'field.pool.pool_size')}")
    assert {"preset.slow-leak.description", "field.pool.pool_size"} <= set(forbidden.values())
    assert {where for sentence, where in forbidden.items() if sentence in shown} \
        == {"preset.slow-leak.description", "field.pool.pool_size"}
    assert "too many clients" not in forbidden   # a name: three words


def test_every_preset_has_a_topic_a_title_and_a_description_in_each_language() -> None:
    topics = [name for names in frame.TOPICS.values() for name in names]
    assert [name for name in preset_names() if topics.count(name) != 1] == [], "each in exactly one topic"
    for name in preset_names():
        with (PRESETS_DIR / f"{name}.toml").open("rb") as f:
            assert catalog(DEFAULT)[f"preset.{name}.description"] == tomllib.load(f)["description"], name
        for lang in OTHERS:
            for part in ("title", "description"):
                assert catalog(lang)[f"preset.{name}.{part}"] != catalog(DEFAULT)[f"preset.{name}.{part}"]
    for topic in frame.TOPICS:
        assert all(f"topic.{topic}" in catalog(lang) for lang in LANGUAGES), topic


def test_every_settings_help_is_in_each_language_and_english_is_the_models_own() -> None:
    sections = (("workload.", Workload), ("database.", Database))
    docs = {f"field.{prefix}{name}": spec.doc for prefix, cls in sections
            for name, spec in specs(cls).items()}
    assert docs.items() <= english_docs().items()   # English is the model's own doc=, not a copy
    for key, doc in english_docs().items():
        for lang in OTHERS:
            assert catalog(lang)[key] != doc, f"{lang}: {key} is English"


def test_no_number_in_the_reference_is_in_exponent_notation() -> None:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.query_params["lang"] = "ru"
    at.run()
    at.switch_page("app/pages/reference.py").run()
    cells = [str(v) for table in at.dataframe for col in table.value.columns for v in table.value[col]]
    assert not [c for c in cells if re.search(r"\de[+-]\d", c)]
    assert "1\xa0800\xa0000" in cells   # HikariCP's maxLifetime default, grouped as Russian writes it
