"""The interface's words, per language, from keyed catalogs.

Every string the app shows comes from `locales/<lang>.toml` by key, so a
language is added by adding a catalog with the same keys and placeholders
(a test checks that). Nothing here keeps a "current language": the server
serves many sessions in one process, so the language is passed on every call.
The libraries' own error texts are not in the catalogs: they are shown
verbatim, because they are what a learner will search for.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import format_decimal, format_percent

from sim.measures import MEASURES

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT = "en"
LANGUAGES: dict[str, str] = {"zh-TW": "繁體中文", "zh-CN": "简体中文", "ru": "Русский", "en": "English"}
"""Language code -> its own name, in menu order (the seeds' readers first)."""
PLURAL_FORMS = ("zero", "one", "two", "few", "many")
"""Suffixes a catalog key may carry for a count's plural form; the bare key is "other"."""
_REGIONS = {"zh-tw": "zh-TW", "zh-hk": "zh-TW", "zh-mo": "zh-TW", "zh-hant": "zh-TW",
            "zh-cn": "zh-CN", "zh-sg": "zh-CN", "zh-hans": "zh-CN", "zh": "zh-CN"}
"""Browser codes for Chinese -> the text written for that script and region."""


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flatten(value, name + ".")
        else:
            out[name] = str(value)
    return out


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """The catalog's texts by dotted key; English's figure names come from `sim.measures`, their one home."""
    path = LOCALES_DIR / f"{lang}.toml"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        texts = _flatten(tomllib.load(f))
    if lang == DEFAULT:
        texts |= {f"metric.{path}": m.label for path, m in MEASURES.items()}
        texts |= english_docs()
    return texts


def english_docs() -> dict[str, str]:
    """The English a setting's help and a preset's description already have where they are defined
    (the model's `doc=`, the preset's `description`): the catalog key other languages translate."""
    from sim import scenario as sc
    from sim.spec import specs

    sections: list[tuple[str, type]] = [("", sc.Scenario), ("workload.", sc.Workload),
                                        ("workload.hold.", sc.Hold), ("workload.phases.", sc.Phase),
                                        ("database.", sc.Database), ("app.", sc.App), ("faults.", sc.Fault)]
    sections += [("pool.", cls) for cls in sc.POOL_KINDS.values()]   # a shared name: the first kind's doc
    sections += [("pooler.", cls) for cls in sc.POOLER_KINDS.values()]
    out: dict[str, str] = {}
    for prefix, cls in sections:
        for name, spec in specs(cls).items():
            if spec.doc and not (cls is sc.Scenario and name in ("name", "description")):
                out.setdefault(f"field.{prefix}{name}", spec.doc)
    for name in sc.preset_names():
        preset = sc.load_preset(name)
        out[f"preset.{name}.description"] = preset.description
        out |= {f"preset.{name}.scene{i}": scene.caption for i, scene in enumerate(preset.scenes)}
    return out


def tr(lang: str, key: str, _default: str | None = None, **params: Any) -> str:
    """The text for `key` in `lang`, else in English, else `_default` (else the key), placeholders filled."""
    text = catalog(lang).get(key)
    if text is None:
        text = catalog(DEFAULT).get(key, key if _default is None else _default)
    return text.format(**params) if params else text


def texts(lang: str, prefix: str) -> dict[str, str]:
    """Every key under `prefix.` in `lang`, without the prefix: the labels a figure builder takes."""
    merged = {k: v for k, v in catalog(DEFAULT).items() if k.startswith(prefix + ".")}
    merged |= {k: v for k, v in catalog(lang).items() if k.startswith(prefix + ".")}
    return {k[len(prefix) + 1:]: v for k, v in merged.items()}


def resolve(asked: str | None, accept_language: str | None) -> str:
    """?lang= if we have it, else the browser's first language we have, else English."""
    by_name = {code.lower(): code for code in LANGUAGES}
    if asked and asked.replace("_", "-").lower() in by_name:
        return by_name[asked.replace("_", "-").lower()]
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip()
        if not code:
            continue
        for lang in LANGUAGES:  # exact (zh-TW), then by language alone (ru-RU -> ru)
            if code.lower() == lang.lower():
                return lang
        lowered = code.lower()  # zh-Hant-HK -> zh-hant -> zh-TW; zh-Hans-CN and zh -> zh-CN
        for prefix in ("-".join(lowered.split("-")[:2]), lowered.split("-")[0]):
            if prefix in _REGIONS:
                return _REGIONS[prefix]
        for lang in LANGUAGES:
            if "-" not in lang and code.split("-")[0].lower() == lang:
                return lang
    return DEFAULT


def babel_locale(lang: str) -> str:
    return lang.replace("-", "_")


@functools.lru_cache(maxsize=4096)
def plural(lang: str, n: int) -> str:
    """n's plural form in the language's rules (CLDR via Babel): "one", "few", "many" or "other"; cached,
    as an animation's captions ask for it hundreds of times and parsing the locale takes 0.1 ms each."""
    return str(Locale.parse(babel_locale(lang)).plural_form(n))


@functools.lru_cache(maxsize=8192)
def number(lang: str, value: float, digits: int = 1) -> str:
    """A number as the language writes it (decimal mark, grouping); cached, as an animation asks for the
    same few counts thousands of times and Babel takes tens of microseconds for each."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=babel_locale(lang))


@functools.lru_cache(maxsize=1024)
def percent(lang: str, value: float, digits: int = 1) -> str:
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(value, format=pattern, locale=babel_locale(lang))


def counted(lang: str, noun: str, value: float, written: str) -> str:
    """`written` (the value as the language writes it) with `noun` in the form CLDR gives the value:
    "1 request", "5 requests", "2 запроса", "5 запросов". A fraction takes the "other" form."""
    form = plural(lang, int(value)) if float(value).is_integer() else "other"
    key = f"noun.{noun}" if form == "other" else f"noun.{noun}_{form}"
    text = catalog(lang).get(key) or catalog(lang).get(f"noun.{noun}")
    return text.format(n=written) if text else written
