"""The four catalogs: same keys and placeholders, each language's plural forms, numbers as it writes them."""

from __future__ import annotations

import string

import pytest
from babel import Locale

from app import i18n
from app.i18n import DEFAULT, LANGUAGES, PLURAL_FORMS, babel_locale, catalog, number, resolve

OTHERS = [code for code in LANGUAGES if code != DEFAULT]


def base_key(key: str) -> str:
    """The key a plural variant belongs to (`cap_timeout_few` -> `cap_timeout`; `cap_too_many` is its own)."""
    stem, _, form = key.rpartition("_")
    return stem if form in PLURAL_FORMS and stem in catalog(DEFAULT) else key


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_a_catalog() -> None:
    for code in LANGUAGES:
        assert (i18n.LOCALES_DIR / f"{code}.toml").is_file(), code
        assert catalog(code), code


@pytest.mark.parametrize("lang", OTHERS)
def test_catalog_has_the_same_keys_as_english(lang: str) -> None:
    en = {base_key(k) for k in catalog(DEFAULT)}
    theirs = {base_key(k) for k in catalog(lang)}
    assert sorted(en - theirs) == [], "missing"
    assert sorted(theirs - en) == [], "not in English"


@pytest.mark.parametrize("lang", OTHERS)
def test_catalog_has_the_same_placeholders_as_english(lang: str) -> None:
    en, theirs = catalog(DEFAULT), catalog(lang)
    for key, text in theirs.items():
        if key in en and base_key(key) == key:
            assert fields(text) == fields(en[key]), key
        else:  # a plural variant may leave out {n} ("a passenger"), never add a name the message lacks
            assert fields(text) <= fields(en[base_key(key)]) | {"n"}, key


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_counted_messages_have_every_plural_form_the_language_uses(lang: str) -> None:
    """Russian needs one/few/many (1, 2-4, 5+); a message with only one form would misspeak."""
    tags = Locale.parse(babel_locale(lang)).plural_form.tags - {"other"}
    counted_keys = {base_key(k) for k in catalog(DEFAULT) if base_key(k) != k}
    for key in counted_keys:
        for tag in tags:
            assert f"{key}_{tag}" in catalog(lang), f"{lang}: {key}_{tag}"


def test_the_animation_counts_in_russian_with_its_three_forms() -> None:
    from app import taxi
    words = taxi._Words(i18n.texts("ru", "taxi"), None, lambda n: i18n.plural("ru", n))
    one, few, many = (words.count("cap_timeout", n) for n in (21, 3, 5))
    assert len({one, few, many}) == 3 and "21" in one and "3" in few and "5" in many
    zh = taxi._Words(i18n.texts("zh-TW", "taxi"), None, lambda n: i18n.plural("zh-TW", n))
    assert "1" in zh.count("cap_timeout", 1)      # no English "A passenger" in a Chinese caption


def test_each_catalog_is_in_its_own_language() -> None:
    """A copied English catalog would pass the key checks: the page titles must differ from English."""
    for lang in OTHERS:
        same = [k for k in ("page.home", "page.lessons", "home.lead", "lessons.predict")
                if catalog(lang)[k] == catalog(DEFAULT)[k]]
        assert same == [], lang


@pytest.mark.parametrize(("asked", "browser", "expected"), [
    ("ru", "zh-TW", "ru"),                     # the link wins
    (None, "zh-TW,zh;q=0.9", "zh-TW"),
    (None, "zh-HK", "zh-TW"),                  # Traditional script regions
    (None, "zh-Hant-TW", "zh-TW"),
    (None, "zh-CN", "zh-CN"),
    (None, "zh", "zh-CN"),
    (None, "zh-Hans-SG", "zh-CN"),
    (None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"),
    (None, "de-DE,fr;q=0.9", "en"),            # nothing we have: English
    ("xx", None, "en"),
    ("zh-tw", None, "zh-TW"),                  # a link typed by hand
    ("zh_CN", None, "zh-CN"),
])
def test_language_comes_from_the_link_then_the_browser_then_english(asked: str | None, browser: str | None,
                                                                      expected: str) -> None:
    assert resolve(asked, browser) == expected


def test_numbers_are_written_as_each_language_writes_them() -> None:
    assert number("en", 12345.5, 1) == "12,345.5"
    assert number("ru", 12345.5, 1) == "12\xa0345,5"
    assert number("zh-TW", 12345.5, 1) == "12,345.5"
