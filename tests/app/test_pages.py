"""The web app in Streamlit's AppTest: every page runs, controls change results, links reopen scenarios."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from sim.scenario import load_preset, preset_names
from tests.app.opened import figures, opened, unescaped

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parents[2]
ENTRY = str(ROOT / "streamlit_app.py")
PAGES = ["app/pages/home.py", "app/pages/playground.py", "app/pages/live_lab.py", "app/pages/compare.py",
         "app/pages/lessons.py", "app/pages/reference.py"]


def app(**query: Any) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def playground(**query: Any) -> AppTest:
    return opened("app/pages/playground.py", 60, **query)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def widget(at: AppTest, label: str) -> Any:
    for kind in (at.slider, at.number_input, at.toggle, at.selectbox, at.checkbox):
        for w in kind:
            if w.label == label or w.label.startswith(label + " ("):
                return w
    raise KeyError(label)


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """Click a tab: its widget state is its label (tabs that track state)."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, at.exception
    return at


def labels(at: AppTest) -> set[str]:
    kinds = (at.slider, at.number_input, at.toggle, at.selectbox)
    return {w.label.split(" (")[0] for kind in kinds for w in kind}


def taxi_figure(at: AppTest) -> dict[str, Any]:
    return figures(at)[0]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(page: str) -> None:
    at = app()
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title or at.markdown


def test_changing_a_pool_setting_changes_the_results() -> None:
    at = playground()
    before = (metric(at, "Peak connections"), metric(at, "p95 wait (ms)"))
    widget(at, "max_overflow").set_value(0).run()
    assert not at.exception
    after = (metric(at, "Peak connections"), metric(at, "p95 wait (ms)"))
    assert after != before
    assert after[0] == str(load_preset("burst-into-overflow").pool.pool_size)  # no overflow: the cap


@pytest.mark.parametrize("preset", preset_names())
def test_each_preset_loads_and_runs(preset: str) -> None:
    at = playground(preset=preset)
    assert at.session_state.scenario == load_preset(preset)
    assert metric(at, "Completed")


def test_the_url_reopens_the_scenario_and_a_change_is_written_back() -> None:
    at = playground(preset="slow-leak", set=["pool.pool_size=3", "seed=7"])
    expected = load_preset("slow-leak").with_overrides(["pool.pool_size=3", "seed=7"])
    assert at.session_state.scenario == expected
    widget(at, "pool_timeout").set_value(8.0).run()
    sets = at.query_params.get_all("set") if hasattr(at.query_params, "get_all") else at.query_params["set"]
    assert "pool.pool_timeout=8.0" in sets and "pool.pool_size=3" in sets
    again = playground(preset="slow-leak", set=sets)
    assert again.session_state.scenario == at.session_state.scenario


def test_an_invalid_value_shows_the_fields_message_next_to_it() -> None:
    at = open_tab(playground(), "pg.group", "Traffic")
    widget(at, "rate_per_s").set_value(-5.0).run()
    assert not at.exception
    messages = [unescaped(e.value) for e in at.error]
    assert any(m.startswith("workload.rate_per_s = -5: must be a number from 0 to 100000") for m in messages)


def test_a_bad_link_still_opens_and_says_what_was_left_out() -> None:
    at = playground(preset="no-such-preset", set=["pool.pool_size=-1"])
    warnings = unescaped(" ".join(w.value for w in at.warning))
    assert "no-such-preset" in warnings and "pool.pool_size = -1" in warnings
    assert metric(at, "Completed")


def test_the_animation_has_frames_and_a_play_button() -> None:
    at = playground()
    figure = taxi_figure(at)
    assert 1 < len(figure["frames"]) <= 300
    buttons = [b for menu in figure["layout"]["updatemenus"] for b in menu["buttons"]]
    assert any(b["args"][0] is None for b in buttons)   # Play: [None, {...}]


def test_a_home_preset_button_opens_it_in_the_playground() -> None:
    at = app()
    at.run()
    next(b for b in at.button if b.key == "home.slow-leak").click().run()
    assert not at.exception
    assert at.session_state.scenario == load_preset("slow-leak")
    assert at.query_params["preset"] == ["slow-leak"] or at.query_params["preset"] == "slow-leak"


def test_only_the_open_groups_controls_are_drawn() -> None:
    at = playground()
    assert "max_overflow" in labels(at) and "rate_per_s" not in labels(at)   # the pool tab opens first
    open_tab(at, "pg.group", "Traffic")
    assert "rate_per_s" in labels(at) and "max_overflow" not in labels(at)


def test_edits_in_one_tab_survive_opening_others_and_coming_back() -> None:
    at = playground()
    widget(at, "pool_size").set_value(9).run()
    open_tab(at, "pg.group", "Traffic")
    widget(at, "rate_per_s").set_value(33.0).run()
    open_tab(at, "pg.group", "Database")
    open_tab(at, "pg.group", "Pool")
    assert widget(at, "pool_size").value == 9
    scenario = at.session_state.scenario
    assert (scenario.pool.pool_size, scenario.workload.rate_per_s) == (9, 33.0)
    assert "pool.pool_size=9" in at.query_params["set"]


def test_the_pooler_tab_puts_pgbouncer_in_front_with_its_own_settings() -> None:
    at = open_tab(playground(), "pg.group", "Pooler")
    assert at.session_state.scenario.pooler.kind == "none" and "pool_mode" not in labels(at)
    widget(at, "Pooler in front of the server").set_value("pgbouncer").run()
    widget(at, "pool_mode").set_value("transaction").run()
    widget(at, "default_pool_size").set_value(4).run()
    pooler = at.session_state.scenario.pooler
    assert (pooler.kind, pooler.pool_mode, pooler.default_pool_size) == ("pgbouncer", "transaction", 4)
    assert "pooler.default_pool_size=4" in at.query_params["set"]   # a link reopens it
    assert not at.exception, at.exception


def test_a_value_changed_in_the_same_click_as_another_tab_is_kept() -> None:
    """A number typed and then a tab clicked reach the server as one rerun: the old tab is not drawn in it."""
    at = playground()
    widget(at, "pool_size").set_value(11)
    open_tab(at, "pg.group", "Faults")
    assert at.session_state.scenario.pool.pool_size == 11
    open_tab(at, "pg.group", "Pool")
    assert widget(at, "pool_size").value == 11


def test_edits_survive_leaving_the_page_and_coming_back() -> None:
    at = playground()
    widget(at, "max_overflow").set_value(2).run()
    at.switch_page("app/pages/reference.py").run()
    at.switch_page("app/pages/playground.py").run()
    assert not at.exception
    assert widget(at, "max_overflow").value == 2
    assert at.session_state.scenario.pool.max_overflow == 2


def test_a_results_tab_draws_its_chart_only_when_opened() -> None:
    at = playground()
    assert len(figures(at)) == 2   # the taxi stand and connections over time
    open_tab(at, "pg.view", "Waits")
    drawn = figures(at)
    assert len(drawn) == 2 and drawn[1]["layout"]["barmode"] == "stack"   # the waits, not the levels


def test_another_language_keeps_the_open_tabs_and_the_values() -> None:
    at = open_tab(playground(), "pg.group", "Traffic")
    widget(at, "rate_per_s").set_value(33.0).run()
    open_tab(at, "pg.view", "Waits")
    at.selectbox(key="app.language").set_value("ru").run()
    assert not at.exception
    assert "rate_per_s" in labels(at) and "max_overflow" not in labels(at)   # still the traffic tab
    assert at.session_state["pg.view.name"] == "waits"
    assert figures(at)[1]["layout"]["barmode"] == "stack"
    assert at.session_state.scenario.workload.rate_per_s == 33.0


def test_an_error_across_two_tabs_is_fixed_in_the_other_without_losing_the_edit_that_caused_it() -> None:
    at = open_tab(playground(preset="restart"), "pg.group", "Traffic")
    widget(at, "duration_s").set_value(10.0).run()          # the preset's fault at 15 s is now after the end
    assert any("faults.0.at_s = 15" in unescaped(e.value) for e in at.error)
    open_tab(at, "pg.group", "Faults")                      # where the message says the fix is
    assert any("faults.0.at_s = 15" in unescaped(e.value) for e in at.error)
    open_tab(at, "pg.group", "Traffic")
    assert widget(at, "duration_s").value == 10.0
    assert at.session_state.scenario == load_preset("restart")   # the last valid one, until it is fixed


def test_an_invalid_value_and_later_edits_survive_other_tabs_and_other_pages() -> None:
    at = open_tab(playground(), "pg.group", "Traffic")
    widget(at, "rate_per_s").set_value(-5.0).run()
    widget(at, "seed").set_value(99).run()                  # another edit while the form is invalid
    open_tab(at, "pg.group", "Database")
    open_tab(at, "pg.group", "Traffic")
    assert (widget(at, "rate_per_s").value, widget(at, "seed").value) == (-5.0, 99)
    at.switch_page("app/pages/reference.py").run()
    at.switch_page("app/pages/playground.py").run()
    assert at.session_state["pg.group"] == "Traffic"         # the tab that was open
    assert (widget(at, "rate_per_s").value, widget(at, "seed").value) == (-5.0, 99)
    assert any(unescaped(e.value).startswith("workload.rate_per_s = -5") for e in at.error)


def test_another_pool_library_survives_other_tabs() -> None:
    at = playground()
    kind = next(w for w in at.selectbox if w.key and w.key.endswith("pool.kind"))
    kind.set_value("asyncpg").run()
    widget(at, "max_size").set_value(20).run()
    open_tab(at, "pg.group", "Traffic")
    assert (at.session_state.scenario.pool.kind, at.session_state.scenario.pool.max_size) == ("asyncpg", 20)
    open_tab(at, "pg.group", "Pool")
    assert widget(at, "max_size").value == 20


def test_a_preset_picked_in_another_tab_redraws_every_control_from_it() -> None:
    at = open_tab(playground(), "pg.group", "Traffic")
    widget(at, "rate_per_s").set_value(33.0).run()
    picker = next(w for w in at.selectbox if w.key and ".preset." in w.key)
    picker.set_value("restart").run()
    assert at.session_state.scenario == load_preset("restart")
    assert widget(at, "rate_per_s").value == load_preset("restart").workload.rate_per_s


@pytest.mark.live
def test_compare_draws_a_finished_live_run_beside_its_simulation() -> None:
    at = app(preset="pooled", set=["duration_s=2"])
    at.run()
    at.switch_page("app/pages/compare.py").run()
    next(b for b in at.button if b.key == "compare.run").click().run()
    deadline = time.monotonic() + 120
    while len(at.metric) < 2 * 6 and time.monotonic() < deadline:   # a deadline against a hang, not a timing
        time.sleep(0.5)
        at.run()
    assert not at.exception, at.exception
    assert metric(at, "Completed") != "0"
    # both stands are one figure (one Play, one slider for both runs)
    assert len(at.metric) == 12 and len(at.dataframe) == 1 and len(figures(at)) == 1
    at.run()                                     # a rerun draws the same from the cached simulation
    assert not at.exception and len(figures(at)) == 1


def test_the_home_page_lists_the_lessons_in_the_sessions_language() -> None:
    from app import lessons

    at = app(lang="ru")
    at.run()
    titles = [title for _, title in lessons.lesson_list("ru")]
    links = [el.proto.label for el in at.get("page_link")]
    assert links == titles and titles != [title for _, title in lessons.lesson_list("en")]


def test_links_from_a_page_carry_the_sessions_language() -> None:
    at = app(lang="ru")
    at.run()
    links = at.get("page_link")
    assert links and all("lang=ru" in el.proto.query_string.split("&") for el in links)
    next(b for b in at.button if b.key == "home.way.error").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Разбор инцидента" and at.query_params.get("lang") == "ru"
    at.query_params.clear()                  # as the navigation menu opens a page: nothing in the URL
    at.run()
    assert at.query_params.get("lang") == "ru" and at.title[0].value == "Разбор инцидента"


def test_see_a_pool_fail_opens_the_playground_on_a_failure() -> None:
    at = app()
    at.run()
    next(b for b in at.button if b.key == "home.way.fail").click().run()
    assert not at.exception, at.exception
    assert at.session_state.preset == "exhaustion-timeouts"
    assert at.session_state.scenario == load_preset("exhaustion-timeouts")
    assert at.query_params.get("preset") == "exhaustion-timeouts"


def test_the_lessons_page_reopens_the_last_lesson_of_the_session() -> None:
    at = app(lesson="03-overflow")
    at.run()
    at.switch_page("app/pages/lessons.py").run()
    pick = next(s for s in at.selectbox if s.key == "lesson.pick.en")
    assert pick.value == "03-overflow"
    at.switch_page("app/pages/glossary.py").run()
    at.query_params.pop("lesson", None)      # the menu opens the lessons page without ?lesson=
    at.switch_page("app/pages/lessons.py").run()
    assert not at.exception, at.exception
    pick = next(s for s in at.selectbox if s.key == "lesson.pick.en")
    assert pick.value == "03-overflow" and at.query_params.get("lesson") == "03-overflow"


def test_teach_a_class_opens_the_playground_in_presentation_mode() -> None:
    at = app(lang="zh-TW")
    at.run()
    next(b for b in at.button if b.key == "home.way.teach").click().run()
    assert not at.exception, at.exception
    assert at.session_state.present is True and at.session_state.preset == "burst-into-overflow"
    assert at.query_params.get("present") == "1" and at.query_params.get("lang") == "zh-TW"
