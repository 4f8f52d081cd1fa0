"""The figure builders, checked against runs whose every event is known.

Connect costs 10 ms and the network nothing (see conftest.tiny), so the
levels, waits and connection lives below can be worked out by hand. Traces
and shapes are found by their `meta` / `name` keys, never by their (translated)
labels.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from conftest import at, play, tiny

from app.charts import (
    COLORS,
    EN,
    acquire_timeout,
    connection_timeline,
    connections_over_time,
    plain_number,
    wait_histogram,
)
from sim.model import RunResult, run
from sim.scenario import load_preset
from sim.trace import Ev

FIGURES = (connections_over_time, wait_histogram, connection_timeline)


def qp(**kw):
    return {"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 2, "pool_timeout": 30.0, **kw}


@cache
def overflow_run() -> RunResult:
    """Four requests fill the cap of 4 (2 of them overflow) for 1 s; a fifth waits 1.5 -> 2.01.

    Returns: conn 0 goes to the waiter at 2.01 (and is closed as overflow at 3.01), conns 1 and 2
    fill the two idle slots, conn 3 is closed as overflow at 2.013.
    """
    return play(tiny(qp()), at(1.0, 1.001, 1.002, 1.003, 1.5, hold=1.0))


@cache
def timeout_run(pool: tuple[tuple[str, object], ...]) -> RunResult:
    """One request holds the only connection for 2 s; three more arrive and give up."""
    return play(tiny(dict(pool)), at(1.0, 1.1, 1.2, 1.3, hold=2.0))


@cache
def preset(name: str) -> RunResult:
    return run(load_preset(name))


def draw(figure, result: RunResult, **kw):
    return figure(result.trace, result.scenario, result.end_s, **kw)


def by_meta(fig, key: str):
    found = [tr for tr in fig.data if tr.meta == key]
    assert len(found) == 1, f"expected one trace {key!r}, found {[tr.meta for tr in fig.data]}"
    return found[0]


def shapes(fig, name: str) -> list:
    return [s for s in fig.layout.shapes if s.name == name]


def at_time(trace, t: float) -> float:
    return trace.y[int(np.argmin(np.abs(np.asarray(trace.x) - t)))]


# ------------------------------------------------------- connections over time


def test_in_use_idle_and_overflow_levels_at_known_times():
    fig = draw(connections_over_time, overflow_run(), points=1001)  # a point every 10 ms
    in_use, idle = by_meta(fig, "in_use"), by_meta(fig, "idle")
    assert max(in_use.y) == 4
    assert at_time(in_use, 1.6) == 4 and at_time(idle, 1.6) == 0
    assert at_time(in_use, 2.5) == 1 and at_time(idle, 2.5) == 2
    assert at_time(in_use, 5.0) == 0 and at_time(idle, 5.0) == 2
    top, floor = by_meta(fig, "overflow"), by_meta(fig, "overflow_floor")
    overflow = np.asarray(top.y) - np.asarray(floor.y)
    assert list(overflow) == list(top.customdata)
    assert at_time(top, 1.6) - at_time(floor, 1.6) == 2   # 4 open, pool_size 2
    assert at_time(top, 2.5) - at_time(floor, 2.5) == 1   # conn 3 closed at 2.013
    assert at_time(top, 5.0) - at_time(floor, 5.0) == 0


def test_with_pool_size_zero_the_overflow_band_stays_empty_as_sqlalchemys_overflow_does():
    r = play(tiny(qp(pool_size=0, max_overflow=0)), at(1.0, 1.001, 1.002, hold=1.0))
    fig = draw(connections_over_time, r, points=1001)
    top, floor = by_meta(fig, "overflow"), by_meta(fig, "overflow_floor")
    assert at_time(by_meta(fig, "in_use"), 1.5) == 3
    assert not np.any(top.customdata) and np.array_equal(np.asarray(top.y), np.asarray(floor.y))


def test_the_stack_adds_up_to_the_open_connections():
    r = overflow_run()
    fig = draw(connections_over_time, r, points=1001)
    stack = sum(np.asarray(by_meta(fig, k).y) for k in ("leaked", "in_use", "idle"))
    assert np.array_equal(stack, np.asarray(by_meta(fig, "overflow").y))
    assert all(by_meta(fig, k).stackgroup == "connections" for k in ("leaked", "in_use", "idle"))


def test_waiting_line_is_up_exactly_while_a_request_queues():
    r = overflow_run()
    fig = draw(connections_over_time, r, points=1001)
    rows = r.trace.rows()
    start = next(t for t, _, req, _, kind, _ in rows if req == 4 and kind == "wait")
    end = next(t for t, _, req, _, kind, _ in rows if req == 4 and kind == "acquire")
    waiting = by_meta(fig, "waiting")
    assert waiting.yaxis == "y2" and fig.layout.yaxis2.title.text == EN["waiting_axis"]
    x, y = np.asarray(waiting.x), np.asarray(waiting.y)
    clear = (np.abs(x - start) > 1e-6) & (np.abs(x - end) > 1e-6)
    queued = (x >= start) & (x < end)
    assert np.array_equal((y > 0)[clear], queued[clear])
    assert queued.sum() > 40 and y.max() == 1


def test_base_and_cap_lines_at_pool_size_and_its_cap():
    fig = draw(connections_over_time, overflow_run())
    (base,), (cap,) = shapes(fig, "base"), shapes(fig, "cap")
    assert base.y0 == base.y1 == 2
    assert cap.y0 == cap.y1 == 4
    assert not shapes(fig, "role_limit")  # one instance, role limit 97: far out of range
    labels = {a.name: a.text for a in fig.layout.annotations}
    assert labels["base"] == "pool_size = 2" and labels["cap"] == "pool_size + max_overflow = 4"


def test_several_instances_sum_the_sizes_and_show_the_server_limit():
    fig = draw(connections_over_time, preset("too-many-clients"))
    assert shapes(fig, "base")[0].y0 == 3 * 5
    assert shapes(fig, "cap")[0].y0 == 6 * 5
    assert shapes(fig, "role_limit")[0].y0 == 17   # max_connections 20 - 3 reserved
    assert fig.layout.yaxis.range[1] >= 30


def test_hikari_default_minimum_idle_draws_one_line_for_base_and_cap():
    fig = draw(connections_over_time, timeout_run((("kind", "hikari"), ("maximumPoolSize", 3))))
    assert not shapes(fig, "base")
    assert shapes(fig, "cap")[0].y0 == 3


def test_no_pool_has_no_size_lines_and_no_overflow_band():
    fig = draw(connections_over_time, timeout_run((("kind", "none"),)))
    assert not shapes(fig, "base") and not shapes(fig, "cap")
    assert "overflow" not in [tr.meta for tr in fig.data]


# ------------------------------------------------------------- wait histogram


def filled_bins(bars) -> list[tuple[float, float]]:
    """(from, to) in ms of the histogram bins that hold any request."""
    return [(lo, hi) for (lo, hi), n in zip(bars.customdata, bars.y, strict=True) if n]


def test_gave_up_count_equals_the_timeouts_and_the_line_sits_at_pool_timeout():
    r = timeout_run(tuple(qp(pool_size=1, max_overflow=0, pool_timeout=0.5).items()))
    timeouts = int(np.count_nonzero(r.trace.columns()["kind"] == Ev.TIMEOUT))
    assert timeouts == 3
    fig = draw(wait_histogram, r)
    gave_up, got = by_meta(fig, "gave_up"), by_meta(fig, "got_connection")
    assert sum(gave_up.y) == timeouts and sum(got.y) == 1
    (line,) = shapes(fig, "timeout")
    assert line.x0 == line.x1 == 500.0
    # the gave-up bars sit at the timeout (each waited 500 ms), the one wait (a 10 ms connect) near 0
    assert all(lo <= 500.0 < hi for lo, hi in filled_bins(gave_up))
    assert all(lo <= 10.0 < hi for lo, hi in filled_bins(got))
    assert "3 of 4" in fig.layout.title.subtitle.text and "75%" in fig.layout.title.subtitle.text
    assert gave_up.marker.color == COLORS["timed_out"] and got.marker.color == COLORS["completed"]


@pytest.mark.parametrize(("pool", "ms"), [
    ((("kind", "hikari"), ("maximumPoolSize", 1), ("connectionTimeout", 250)), 250.0),
    ((("kind", "go"), ("MaxOpenConns", 1), ("ContextTimeout", 0.3)), 300.0),
    ((("kind", "asyncpg"), ("min_size", 0), ("max_size", 1), ("timeout", 0.4)), 400.0),
])
def test_each_library_puts_its_own_timeout_line(pool, ms):
    fig = draw(wait_histogram, timeout_run(pool))
    assert shapes(fig, "timeout")[0].x0 == ms
    assert sum(by_meta(fig, "gave_up").y) == 3


@pytest.mark.parametrize("pool", [
    (("kind", "asyncpg"), ("min_size", 0), ("max_size", 1)),        # timeout None: waits for ever
    (("kind", "go"), ("MaxOpenConns", 1)),                          # ContextTimeout 0: no deadline
])
def test_no_timeout_line_when_the_pool_waits_for_ever(pool):
    fig = draw(wait_histogram, timeout_run(pool))
    assert not shapes(fig, "timeout")
    (note,) = [a for a in fig.layout.annotations if a.name == "timeout"]
    assert "wait as long as it takes" in note.text
    assert sum(by_meta(fig, "gave_up").y) == 0 and sum(by_meta(fig, "got_connection").y) == 4


def test_no_pool_has_no_timeout_at_all():
    fig = draw(wait_histogram, timeout_run((("kind", "none"),)))
    assert not shapes(fig, "timeout")
    assert not [a for a in fig.layout.annotations if a.name == "timeout"]


def test_a_far_timeout_is_named_but_does_not_squash_the_waits():
    fig = draw(wait_histogram, overflow_run())          # pool_timeout 30 s, longest wait 510 ms
    assert fig.layout.xaxis.range[1] < 1000
    (note,) = [a for a in fig.layout.annotations if a.name == "timeout"]
    assert note.text.startswith("pool_timeout = 30 s") and "→" in note.text


def test_acquire_timeout_in_each_library_s_own_terms():
    assert acquire_timeout(tiny(qp(pool_timeout=3))).ms == 3000
    hikari = acquire_timeout(tiny({"kind": "hikari", "connectionTimeout": 30000}))
    assert (hikari.name, hikari.value, hikari.unit, hikari.ms) == ("connectionTimeout", 30000, "ms", 30000)
    assert acquire_timeout(tiny({"kind": "asyncpg"})).ms is None
    assert acquire_timeout(tiny({"kind": "go", "ContextTimeout": 0})).ms is None
    assert acquire_timeout(tiny({"kind": "none"})) is None


def test_exhaustion_preset_counts_every_timeout():
    r = preset("exhaustion-timeouts")
    fig = draw(wait_histogram, r)
    timeouts = int(np.count_nonzero(r.trace.columns()["kind"] == Ev.TIMEOUT))
    assert timeouts > 100 and sum(by_meta(fig, "gave_up").y) == timeouts
    assert shapes(fig, "timeout")[0].x0 == 3000.0


# --------------------------------------------------------- connection timeline


def bars(fig) -> list:
    return [tr for tr in fig.data if tr.type == "bar"]


def test_one_row_per_connection_labelled_with_its_instance():
    fig = draw(connection_timeline, overflow_run())
    rows = sorted({int(y) for tr in bars(fig) for y in tr.y})
    assert rows == [0, 1, 2, 3]
    assert list(fig.layout.yaxis.tickvals) == rows
    assert list(fig.layout.yaxis.ticktext) == [f"conn {c} (instance 0)" for c in range(4)]
    assert fig.layout.title.subtitle.text == "4 connections"


def test_bars_are_coloured_by_state_with_the_shared_palette():
    fig = draw(connection_timeline, preset("idle-cut-no-pre-ping"))
    drawn = {tr.meta: tr for tr in bars(fig)}
    assert set(drawn) == {"idle", "connecting", "busy", "leaked", "dead"}
    for state, tr in drawn.items():
        assert tr.marker.color == COLORS[state]
    assert len(drawn["dead"].y) > 0 and len(drawn["busy"].y) > 0
    assert len(by_meta(fig, "dead:cut").x) == 5
    assert by_meta(fig, "close:broken").marker.symbol != by_meta(fig, "dead:cut").marker.symbol


def test_busy_stretches_and_idle_life_match_the_events():
    fig = draw(connection_timeline, overflow_run())
    busy = by_meta(fig, "busy")
    start, end = np.asarray(busy.base, dtype=float), np.asarray(busy.x) + np.asarray(busy.base, dtype=float)
    conn0 = np.asarray(busy.customdata)[:, 0] == 0
    # conn 0: request 0 from 1.01 to 2.01, then at once request 4 until 3.01: one bar, two requests
    assert start[conn0] == pytest.approx([1.01]) and end[conn0] == pytest.approx([3.01])
    assert np.asarray(busy.customdata)[conn0, 2].tolist() == [2]
    idle = by_meta(fig, "idle")                             # the open life, drawn under the rest
    life = dict(zip(np.asarray(idle.customdata)[:, 0].tolist(),
                    (np.asarray(idle.base, dtype=float) + np.asarray(idle.x)).tolist(), strict=True))
    assert life[1] == pytest.approx(10.0) and life[3] == pytest.approx(2.013)


def test_overflow_closes_are_marked_where_the_connection_ended():
    fig = draw(connection_timeline, overflow_run())
    closes = by_meta(fig, "close:overflow")
    assert sorted(zip(closes.x, closes.y, strict=True)) == [
        (pytest.approx(2.013), 3), (pytest.approx(3.01), 0)]
    assert closes.name == "closed: overflow (idle slots full)"


def test_recycle_preset_marks_recycle_closes_at_the_close():
    r = preset("recycle")
    fig = draw(connection_timeline, r)
    recycled = by_meta(fig, "close:recycle")
    assert len(recycled.x) > 0
    closed_at = {c: t for t, _, _, c, kind, why in r.trace.rows() if kind == "close" and why == "recycle"}
    for x, (conn, _instance) in zip(recycled.x, recycled.customdata, strict=True):
        assert x == pytest.approx(closed_at[conn])


def test_failed_connects_are_marked_as_errors():
    fig = draw(connection_timeline, preset("restart"))
    refused = by_meta(fig, "connect_fail:refused")
    assert len(refused.x) > 0 and refused.marker.color == COLORS["error"]


def test_max_connections_caps_the_rows_and_says_how_many_were_left_out():
    fig = draw(connection_timeline, overflow_run(), max_connections=2)
    assert {int(y) for tr in fig.data for y in tr.y} <= {0, 1}
    assert list(fig.layout.yaxis.ticktext) == ["conn 0 (instance 0)", "conn 1 (instance 0)"]
    assert "2 of 4" in fig.layout.title.subtitle.text


def test_many_instances_are_grouped_and_ruled_apart():
    r = preset("too-many-clients")
    fig = draw(connection_timeline, r, max_connections=60)
    assert len(shapes(fig, "instance_rule")) == 4    # five instances
    opened = int(np.count_nonzero(r.trace.columns()["kind"] == Ev.CONNECT))   # refused ones too: ~1900
    assert opened > 1000
    assert f"{opened - 60} opened later are not shown" in fig.layout.title.subtitle.text


def test_every_ping_has_a_marker_on_its_row_or_one_close_by():
    r = preset("idle-cut-pre-ping")                                 # 23 pings ok, 5 failed
    fig = draw(connection_timeline, r)
    row = dict(zip(fig.layout.yaxis.ticktext, fig.layout.yaxis.tickvals, strict=True))
    near = 6 * r.end_s / 1200                                       # a ping marker's width
    for t, inst, _, conn, kind, why in r.trace.rows():
        if kind == "ping":
            drawn = by_meta(fig, f"ping:{why}")
            same_row = np.asarray(drawn.y) == row[f"conn {conn} (instance {inst})"]
            assert np.min(np.abs(np.asarray(drawn.x)[same_row] - t)) < near
    assert 20 <= len(by_meta(fig, "ping:ok").x) <= 23 and len(by_meta(fig, "ping:fail").x) == 5


def test_a_ping_at_every_checkout_is_thinned_on_every_row():
    r = preset("fastapi-engine")                                    # pre-ping, ~4800 pings
    pings = int(np.count_nonzero(r.trace.columns()["kind"] == Ev.PING))
    fig = draw(connection_timeline, r)
    drawn = by_meta(fig, "ping:ok")
    assert len(drawn.x) < pings / 2
    assert {int(y) for y in drawn.y} == {int(y) for y in by_meta(fig, "busy").y}


# -------------------------------------------------------------- all figures


@pytest.mark.parametrize("figure", FIGURES)
def test_text_overrides_every_visible_string(figure):
    marked = {key: "ZZ " + value for key, value in EN.items()}
    fig = draw(figure, preset("too-many-clients"), text=marked)
    visible = [fig.layout.title.text, fig.layout.title.subtitle.text, fig.layout.xaxis.title.text,
               fig.layout.yaxis.title.text, *[tr.name for tr in fig.data if tr.showlegend is not False],
               *[a.text for a in fig.layout.annotations], *(fig.layout.yaxis.ticktext or ())]
    assert all(s.startswith("ZZ ") for s in visible), [s for s in visible if not s.startswith("ZZ ")]
    partial = draw(figure, overflow_run(), text={"conn_title": "A", "wait_title": "B", "timeline_title": "C"})
    assert partial.layout.title.text in ("A", "B", "C")


@pytest.mark.parametrize("figure", FIGURES)
def test_figures_keep_zoom_on_rerun_and_are_readable(figure):
    fig = draw(figure, overflow_run())
    assert fig.layout.uirevision and fig.layout.font.size >= 14
    assert fig.layout.xaxis.tickfont.size >= 14 and fig.layout.legend.font.size >= 14
    assert 350 <= fig.layout.height <= 900


def test_palette_is_okabe_ito_with_one_meaning_per_colour():
    assert COLORS["idle"] == "#56B4E9" and COLORS["busy"] == COLORS["in_use"] == "#0072B2"
    assert COLORS["overflow"] == "#E69F00" and COLORS["leaked"] == "#CC79A7"
    assert COLORS["connecting"] == "#F0E442" and COLORS["dead"] == "#000000"
    assert COLORS["waiting"] == COLORS["timed_out"] == "#D55E00" and COLORS["completed"] == "#009E73"


def test_idle_is_the_same_colour_everywhere():
    r = overflow_run()
    assert by_meta(draw(connections_over_time, r), "idle").fillcolor == COLORS["idle"]
    assert by_meta(draw(connection_timeline, r), "idle").marker.color == COLORS["idle"]


def test_an_empty_run_still_draws():
    r = play(tiny(qp()), at())
    for figure in FIGURES:
        assert draw(figure, r).to_json()


def test_burst_figures_stay_small():
    r = preset("burst-into-overflow")
    for figure in FIGURES:
        assert len(draw(figure, r).to_json()) < 1_000_000, figure.__name__


def test_plain_number():
    shown = [plain_number(x) for x in (3, 3.0, 0.25, 30000, 12.345, 0.0)]
    assert shown == ["3", "3", "0.25", "30000", "12.3", "0"]


@pytest.mark.parametrize("preset", ["burst-into-overflow", "slow-leak", "idle-cut-pre-ping"])
def test_every_property_of_every_chart_is_one_plotly_knows(preset):
    """The charts are built without plotly's checks (they cost half the build, on every rerun): built again
    from what is sent, with the checks, each would raise on a property plotly does not know."""
    import plotly.graph_objects as go
    import plotly.io as pio

    scenario = load_preset(preset)
    result = run(scenario)
    for build in (connections_over_time, wait_histogram, connection_timeline):
        sent = json.loads(pio.to_json(build(result.trace, scenario, result.end_s), validate=False))
        checked = go.Figure(sent)   # raises ValueError naming the property
        assert len(checked.data) == len(sent["data"]) and checked.layout.height == sent["layout"]["height"]
