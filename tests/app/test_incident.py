"""The incident page in AppTest: each kind of text read and explained, the unreadable said so, the pasted
shown as text only, the scenario opened in the playground, and every word in each language."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app import incident, opening
from app.i18n import DEFAULT, LANGUAGES
from app.state import from_url
from sim.pools import POOL_KINDS
from tests.app.opened import ENTRY, en, opened, unescaped
from tests.app.test_translation import english, normal, page_texts

pytestmark = pytest.mark.app

PAGE = "app/pages/incident.py"
HOSTILE = ("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00\n"
           "pool_size = <script>alert(1)</script>\n"
           "max_overflow = **ten** [click](http://evil.example/x) <img src=x onerror=alert(2)>\n")


def page(**query: str) -> AppTest:
    return opened(PAGE, 120, **query)


def pasted(text: str, at: AppTest | None = None) -> AppTest:
    at = at or page()
    at.text_area(key=incident.TEXT_KEY).set_value(text).run()
    assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> str:
    return unescaped(" ".join(m.value for m in at.markdown))


def codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


@pytest.mark.parametrize("name", list(incident.SAMPLES))
def test_each_sample_is_recognised_with_its_library_and_its_failure_run(name: str) -> None:
    at = page()
    next(b for b in at.button if b.key == f"incident.example.{name}").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key=incident.TEXT_KEY).value == incident.SAMPLES[name]
    diagnosis = incident.read(incident.SAMPLES[name])
    assert diagnosis is not None
    shown = markdown(at)
    for found in diagnosis.found:
        assert unescaped(en(f"diagnose.sign.{found.key}")) in shown, found.key
        assert found.excerpt in codes(at)                  # what it read, as pasted
    assert en("incident.library", library=POOL_KINDS[diagnosis.kind].library) in shown
    assert len(at.metric) == 6                              # the failure, simulated on the page
    if diagnosis.symptom is not None and diagnosis.symptom.value == "timeout":
        assert int(next(m.value for m in at.metric if m.label == "Timed out").replace(",", "")) > 0


def test_each_sign_and_each_sample_has_its_words() -> None:
    """Every sign the reader knows has a meaning in each language, and every sample a button label."""
    from app.i18n import catalog
    for lang in LANGUAGES:
        for key in incident.sign_keys():
            assert f"diagnose.sign.{key}" in catalog(lang), (lang, key)
        for name in incident.SAMPLES:
            assert f"incident.example.{name}" in catalog(lang), (lang, name)


def test_text_it_cannot_read_gets_a_plain_answer_and_the_list_of_what_it_can() -> None:
    at = pasted("Everything was slow yesterday and then the site went down. Help?")
    assert en("incident.unreadable") in [w.value for w in at.warning]
    shown = markdown(at)
    for r in incident.readable():
        assert (r.library or en("incident.read_app")) in shown
        for key in r.signs:
            assert unescaped(en(f"diagnose.sign.{key}")) in shown
        for setting in r.settings:
            assert f"`{setting}`" in " ".join(m.value for m in at.markdown)
    assert not at.metric and not [b for b in at.button if b.key == "incident.open"]


def test_pasted_html_and_markdown_are_shown_as_text_never_rendered() -> None:
    at = pasted(HOSTILE)
    literal = [t.value for t in at.text]                 # the values it could not use, as st.text
    assert any("<script>alert(1" in line for line in literal)
    assert any("**ten** [click](http://evil.example/x" in line for line in literal)
    for element in (*at.markdown, *at.caption, *at.warning, *at.error, *at.info, *at.success):
        assert "<script" not in element.value and "**ten**" not in element.value, element.value
        assert "](http://evil" not in element.value and "onerror" not in element.value, element.value
    htmls = " ".join(h.proto.body for h in at.get("html"))
    assert "alert(" not in htmls and "evil.example" not in htmls


def test_a_link_may_bring_a_short_text_shown_in_the_box() -> None:
    at = page(text=incident.SAMPLES["hikari"] + " " + "x" * 5000)
    value = at.text_area(key=incident.TEXT_KEY).value
    assert value.startswith(incident.SAMPLES["hikari"]) and len(value) == incident.PREFILL_MAX
    assert unescaped(en("diagnose.sign.hikari_timeout")) in markdown(at)
    assert "text" not in at.query_params    # once read, the pasted text is the visitor's, not the URL's


def test_open_puts_the_diagnosed_scenario_in_the_session_and_the_playground_shows_it() -> None:
    at = pasted(incident.SAMPLES["sqlalchemy"])
    diagnosis = incident.read(incident.SAMPLES["sqlalchemy"])
    assert diagnosis is not None
    next(b for b in at.button if b.key == "incident.open").click().run()
    assert not at.exception, at.exception
    expected = incident.session_scenario(diagnosis, en("incident.description"))
    scenario = at.session_state.scenario
    assert scenario == expected
    assert (scenario.pool.pool_size, scenario.pool.max_overflow, scenario.pool.pool_timeout) == (5, 10, 30.0)
    assert at.session_state.preset == incident.base_preset(diagnosis)
    assert int(next(m.value for m in at.metric if m.label == "Timed out").replace(",", "")) > 0
    sets = at.query_params.get_all("set") if hasattr(at.query_params, "get_all") else at.query_params["set"]
    assert from_url(at.session_state.preset, list(sets))[0] == expected   # the URL reopens it


ASYNCPG_40 = ("pool = await asyncpg.create_pool(dsn, max_size=40, min_size=30)\n"
              "asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already")


def test_a_pool_larger_than_any_presets_opens_in_the_playground_as_read() -> None:
    at = pasted(ASYNCPG_40)
    next(b for b in at.button if b.key == "incident.open").click().run()
    assert not at.exception, at.exception
    scenario = at.session_state.scenario
    assert (scenario.pool.kind, scenario.pool.min_size, scenario.pool.max_size) == ("asyncpg", 30, 40)


def test_a_pool_larger_than_any_presets_has_a_link_that_reopens_it() -> None:
    diagnosis = incident.read(ASYNCPG_40)
    assert diagnosis is not None
    scenario = incident.session_scenario(diagnosis, "read from a link")
    assert opening.reopens(scenario, opening.link_preset(scenario, incident.base_preset(diagnosis)))


def test_the_lesson_that_explains_it_is_linked() -> None:
    at = pasted(incident.SAMPLES["asyncpg"])
    links = [link.proto for link in at.get("page_link")]
    assert any(link.page.endswith("lessons") or "lessons" in link.page for link in links)
    assert any("07-server-limit" in link.query_string for link in links)


def test_the_glossary_offers_the_incident_page_for_a_pasted_error() -> None:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.run()
    at.switch_page("app/pages/glossary.py").run()
    at.text_input(key="glossary.search").set_value("timeout").run()
    assert not at.get("page_link")
    at.text_input(key="glossary.search").set_value(incident.SAMPLES["hikari"]).run()
    links = [link.proto for link in at.get("page_link")]
    assert len(links) == 1 and "incident" in links[0].page and "text=" in links[0].query_string


def test_home_sends_an_error_to_the_incident_page() -> None:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.run()
    next(b for b in at.button if b.key == "home.way.error").click().run()
    assert not at.exception
    assert at.text_area(key=incident.TEXT_KEY) is not None


@pytest.mark.parametrize("lang", [code for code in LANGUAGES if code != DEFAULT])
def test_the_page_speaks_each_language(lang: str) -> None:
    """Empty, unreadable and read (one sample with its run): no sentence of ours left in English."""
    forbidden = english(lang)
    at = page(lang=lang)
    texts = page_texts(at)
    pasted("no pool here, just words", at)
    texts += page_texts(at)
    for name in ("sqlalchemy", "asyncpg"):
        pasted(incident.SAMPLES[name], at)
        texts += page_texts(at)
    shown = normal(" \n ".join(texts))
    assert [f"{where}: {s}" for s, where in forbidden.items() if s in shown] == []
