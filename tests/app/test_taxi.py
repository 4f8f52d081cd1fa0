"""The taxi stand figure, read back from its frames.

Small runs with hand-placed requests (connect 10 ms, no network delay) make
every count at a frame's time known in advance; presets cover the rest.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import at, play, qp, tiny

from app import taxi
from app.taxi import EN, KINDS, build_taxi_figure, frame_times
from sim.metrics import levels, sample
from sim.model import run
from sim.scenario import Scenario, load_preset
from sim.trace import Trace

KEYS = [k.key for k in KINDS]


def figure(result, **kw):
    return build_taxi_figure(result.trace, result.scenario, result.end_s, **kw)


def dynamic(fig, key):
    """Index of the trace that frames move for one kind (the legend entry is a separate trace); None for
    a kind the run never draws, which has no trace."""
    return next((i for i, t in enumerate(fig.data) if t.legendgroup == key and t.showlegend is False), None)


def frame_at(fig, t):
    """The frame whose time is t, found through the stand's clock ("Time 2 s", "Time 2.5 s")."""
    clocks = [info(fig, k)[0] for k in range(len(fig.frames))]
    return clocks.index(EN["clock"].format(t=taxi.plain_number(t)))


def frame_trace(fig, k, index):
    """A trace as frame k draws it; frames leave out a trace that never moves (it stays as it started)."""
    frame = fig.frames[k]
    if index not in frame.traces:
        return fig.data[index]
    return frame.data[list(frame.traces).index(index)]


def row_y(fig, key):
    """Where a row's name is on the y axis (beside the row, in a wide figure): the row's y."""
    ticks = fig.layout.yaxis
    return ticks.tickvals[list(ticks.ticktext).index(EN[key])]


def legend(fig):
    """The kinds the legend names, by their group."""
    return {t.legendgroup for t in fig.data if t.showlegend is not False and t.legendgroup}


def count(fig, k, key):
    """Points of one kind drawn in frame k (a gap point, None, is no point)."""
    index = dynamic(fig, key)
    return 0 if index is None else sum(x is not None for x in frame_trace(fig, k, index).x)


def info(fig, k):
    """Clock, counters, licences, caption and stand headers of frame k."""
    index = next(i for i, t in enumerate(fig.data) if t.mode == "text" and t.textposition is not None
                 and not isinstance(t.textposition, str))
    return list(frame_trace(fig, k, index).text)


def caption(fig, k):
    return info(fig, k)[3]


# ------------------------------------------------------------------ controls


def test_frames_play_pause_speed_buttons_and_a_slider_step_through_the_run():
    r = play(tiny(qp()), at(1.0, 2.0, 3.0))
    fig = figure(r, max_frames=40)
    assert 1 <= len(fig.frames) <= 40
    buttons = [b for menu in fig.layout.updatemenus for b in menu.buttons]
    play_button = next(b for b in buttons if b.label == EN["play"])
    pause = next(b for b in buttons if b.label == EN["pause"])
    assert play_button.method == "animate" and play_button.args[0] is None
    assert play_button.args[1]["fromcurrent"] is True
    assert play_button.args[1]["frame"]["redraw"] is False
    assert list(pause.args[0]) == [None] and pause.args[1]["mode"] == "immediate"
    speeds = [b for b in buttons if b.label.endswith("\u00d7")]
    durations = [b.args[1]["frame"]["duration"] for b in speeds]
    assert len(speeds) == 4 and all(b.args[0] is None for b in speeds)
    assert durations == sorted(durations, reverse=True) and len(set(durations)) == 4
    steps = fig.layout.sliders[0].steps
    assert [list(s.args[0]) for s in steps] == [[f.name] for f in fig.frames]
    assert all(s.method == "animate" and s.args[1]["frame"]["redraw"] is False for s in steps)


def test_axes_are_fixed_and_frames_only_move_points():
    fig = figure(play(tiny(qp()), at(1.0)), max_frames=20)
    assert fig.layout.xaxis.range is not None and fig.layout.yaxis.range is not None
    assert fig.layout.xaxis.fixedrange and fig.layout.yaxis.fixedrange
    for frame in fig.frames:
        assert len(frame.data) == len(frame.traces)
        for data in frame.data:
            assert data.marker.symbol is None and data.name is None  # the look is set once, in fig.data
            # plotly.js keeps a trace's old points when a frame gives it empty arrays: never send them
            assert data.x is None or len(data.x) >= 1


def test_every_kind_has_its_own_symbol_and_an_okabe_ito_colour():
    fig = figure(play(tiny(qp()), at(1.0)), max_frames=10)
    assert len({k.symbol for k in KINDS}) == len(KINDS)
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    assert {k.color for k in KINDS} <= okabe_ito
    assert fig.layout.font.size >= 16 and fig.layout.legend.font.size >= 16


# ------------------------------------------------------------------ what a frame shows


def test_a_frame_shows_the_taxis_out_the_waiting_passengers_and_later_the_parked_taxis():
    # two bays, no extras: four passengers at 1.0, two ride until 3.01, two wait, then ride until 5.01
    r = play(tiny(qp(pool_size=2, max_overflow=0)), at(1.0, 1.0, 1.0, 1.0, hold=2.0))
    fig = figure(r, max_frames=100)
    k = frame_at(fig, 2.0)
    assert (count(fig, k, "ride"), count(fig, k, "waiting"), count(fig, k, "parked")) == (2, 2, 0)
    assert "2 out · 2 waiting" in info(fig, k)[4]
    k = frame_at(fig, 4.0)
    assert (count(fig, k, "ride"), count(fig, k, "waiting"), count(fig, k, "parked")) == (2, 0, 0)
    k = frame_at(fig, 6.0)
    assert (count(fig, k, "ride"), count(fig, k, "waiting"), count(fig, k, "parked")) == (0, 0, 2)
    assert info(fig, k)[0] == "Time 6 s"
    assert info(fig, k)[1].startswith("Completed 4 ·")
    assert info(fig, k)[2] == "Licences in use 2 / 97"
    assert caption(fig, frame_at(fig, 1.0)) == "2 passengers joined the queue: no taxi free"


def test_parked_taxis_stand_in_the_bays_and_riding_taxis_on_the_road():
    r = play(tiny(qp(pool_size=2, max_overflow=0)), at(1.0, 1.0, 3.0, hold=[2.0, 0.5, 1.0]))
    fig = figure(r, max_frames=100)
    k = frame_at(fig, 2.0)  # taxi 1 is back (1.51), taxi 0 is still out
    parked = frame_trace(fig, k, dynamic(fig, "parked"))
    ride = frame_trace(fig, k, dynamic(fig, "ride"))
    assert list(parked.y) == [row_y(fig, "row_bays")] and list(ride.y) == [row_y(fig, "row_road")]
    bays = fig.data[0]
    assert bays.name == EN["legend_bay"] and len(bays.x) == 2
    assert parked.x[0] in bays.x


def test_an_extra_taxi_is_called_in_and_scrapped_on_return_when_no_bay_is_free():
    # one bay, two extras: the first back takes the bay, the other two are closed as overflow
    r = play(tiny(qp(pool_size=1, max_overflow=2)), at(1.0, 1.001, 1.002, hold=0.5))
    fig = figure(r, max_frames=100)
    k = frame_at(fig, 1.2)
    assert (count(fig, k, "ride"), count(fig, k, "extra")) == (1, 2)
    assert "extra taxi" in caption(fig, frame_at(fig, 1.1))
    k = frame_at(fig, 1.6)
    assert count(fig, k, "scrapped") == 2 and count(fig, k, "parked") == 1 and count(fig, k, "extra") == 0
    assert caption(fig, k) == "2 taxis scrapped on return: no free bay (overflow)"
    assert count(fig, frame_at(fig, 3.0), "scrapped") == 0  # shown briefly, then gone


def test_passengers_who_wait_too_long_give_up_and_are_counted():
    r = play(tiny(qp(pool_size=1, max_overflow=0, pool_timeout=0.5)), at(1.0, 1.0, 1.0, hold=2.0))
    fig = figure(r, max_frames=100)
    assert count(fig, frame_at(fig, 1.4), "waiting") == 2
    k = frame_at(fig, 1.5)
    assert count(fig, k, "gave_up") == 2 and count(fig, k, "waiting") == 0
    assert caption(fig, k) == "2 passengers gave up waiting (TimeoutError)"
    assert "Gave up 2" in info(fig, frame_at(fig, 5.0))[1]
    assert "Gave up 0" in info(fig, frame_at(fig, 1.4))[1]


def test_a_leaked_taxi_never_comes_back():
    r = play(tiny(qp()), at(1.0, 2.0, hold=0.1, leak=[True, False]))
    fig = figure(r, max_frames=100)
    k = frame_at(fig, 1.2)
    assert count(fig, k, "leaked") == 1 and count(fig, k, "parked") == 0
    assert caption(fig, k) == "Taxi 0 never came back (leak)"
    k = frame_at(fig, 9.0)
    assert count(fig, k, "leaked") == 1 and count(fig, k, "parked") == 1
    assert "Leaked 1" in info(fig, k)[1]
    leaked = frame_trace(fig, k, dynamic(fig, "leaked"))
    assert list(leaked.y) == [row_y(fig, "row_leaked")]


def test_a_new_taxi_comes_from_the_factory_while_it_connects():
    r = play(tiny(qp(), database={"connect_ms": 300.0}), at(1.0))
    fig = figure(r, max_frames=100)
    assert count(fig, frame_at(fig, 1.2), "connecting") == 1
    assert count(fig, frame_at(fig, 1.4), "connecting") == 0
    assert count(fig, frame_at(fig, 1.4), "ride") == 1
    assert caption(fig, frame_at(fig, 1.0)) == "A new taxi from the factory (connect)"


def test_a_connect_shorter_than_a_frame_stays_in_the_factory_for_a_few_frames():
    # connect 10 ms at 1.05, over long before the frame at 1.1: drawn there, and for LINGER_FRAMES frames
    fig = figure(play(tiny(qp()), at(1.05)), max_frames=100)   # a frame every 0.1 s
    after = frame_at(fig, 1.1)
    new = frame_trace(fig, after, dynamic(fig, "connecting"))
    assert list(new.y) == [row_y(fig, "row_factory")] and list(new.text) == ["0"]   # taxi 0
    assert count(fig, after, "ride") == 1   # the taxi itself is out on its ride already
    assert [count(fig, frame_at(fig, t), "connecting") for t in (1.0, 1.1, 1.2, 1.3, 1.4)] == [0, 1, 1, 1, 0]
    assert taxi.LINGER_FRAMES == 3


# ------------------------------------------------------------------ only what the run uses


def quiet_and_leaky(**kw):
    """Two rides, then the same with the first taxi never coming back."""
    quiet = figure(play(tiny(qp()), at(1.0, 2.0, hold=0.5)), max_frames=100, **kw)
    leaky = figure(play(tiny(qp()), at(1.0, 2.0, hold=0.5, leak=[True, False])), max_frames=100, **kw)
    return quiet, leaky


def test_the_legend_names_only_the_kinds_the_run_shows():
    quiet, leaky = quiet_and_leaky()
    assert legend(quiet) == {"parked", "ride", "connecting"}
    assert legend(leaky) == {"parked", "ride", "connecting", "leaked"}
    assert EN["legend_bay"] in [t.name for t in quiet.data if t.showlegend is not False]
    # a kind never drawn has no trace at all (plotly.js would lay it out on every redraw): the figure's
    # traces are the bays, the empty licence bar, one legend entry per kind shown, and what frames move
    assert dynamic(quiet, "leaked") is None and dynamic(leaky, "leaked") is not None
    assert all(dynamic(quiet, "ride") in f.traces for f in quiet.frames)
    for fig in (quiet, leaky):
        assert len(fig.data) == 2 + len(legend(fig)) + len(fig.frames[0].traces)


def test_rows_nothing_stands_in_are_left_out_and_the_others_close_up():
    quiet, leaky = quiet_and_leaky(height=taxi.STAND_HEIGHT, plot_px=taxi.PLOT_PX)
    assert list(quiet.layout.yaxis.ticktext) == [EN["row_road"], EN["row_bays"], EN["row_factory"]]
    assert EN["row_leaked"] in leaky.layout.yaxis.ticktext
    assert EN["row_garage"] not in leaky.layout.yaxis.ticktext   # nothing was recycled
    assert row_y(quiet, "row_road") == row_y(leaky, "row_leaked")   # the road moved up into the gap
    y_span = [f.layout.yaxis.range[1] - f.layout.yaxis.range[0] for f in (quiet, leaky)]
    assert y_span[0] < y_span[1]
    # in the same height the stand uses the room: larger taxis than with every row drawn
    full = figure(run(load_preset("slow-leak")), height=taxi.STAND_HEIGHT, plot_px=taxi.PLOT_PX)
    size = [f.data[dynamic(f, "parked")].marker.size for f in (quiet, full)]
    assert len(full.layout.yaxis.ticktext) == 7 and size[0] > size[1]


# ------------------------------------------------------------------ a phone


def test_a_phone_gets_the_stands_one_under_another_with_names_legend_and_buttons_clear_of_the_plot():
    sc = tiny(qp(pool_size=1, max_overflow=1), app={"instances": 2})
    r = play(sc, at(1.0, 1.0, 3.0, hold=1.0, instance=[0, 1, 0]))
    wide, phone = figure(r, max_frames=50), figure(r, max_frames=50, narrow=True)
    bays = [(len(set(f.data[0].x)), len(set(f.data[0].y))) for f in (wide, phone)]
    assert bays == [(2, 1), (1, 2)]   # side by side; on a phone one under another
    ticks = phone.layout.yaxis
    assert ticks.ticklabelposition == "inside top" and phone.layout.margin.l <= 10   # names inside the panel
    assert list(ticks.ticktext).count(EN["row_road"]) == 2
    play_row, speeds = phone.layout.updatemenus
    legend_ = phone.layout.legend
    assert legend_.orientation == "h" and legend_.yanchor == "top"
    assert 0 > play_row.y > speeds.y > phone.layout.sliders[0].y > legend_.y   # a row each, below the plot
    one = figure(play(tiny(qp(pool_size=1, max_overflow=1)), at(1.0, hold=1.0)), max_frames=50, narrow=True)
    assert phone.layout.height > one.layout.height   # a second stand makes the figure taller, not smaller
    assert phone.data[dynamic(phone, "ride")].marker.size <= 0.8 * taxi.NARROW_PLOT_PX / 8


def test_a_phone_breaks_a_long_caption_into_lines():
    r = play(tiny(qp()), at(1.0))
    long = "a passenger waited and waited, then gave up and went home on foot in the rain"
    phone = figure(r, max_frames=20, narrow=True, text={"cap_quiet": long})
    assert caption(phone, 0).replace("<br>", " ") == long and "<br>" in caption(phone, 0)
    wide = figure(r, max_frames=20, text={"cap_quiet": long})   # too long for one line even at FONT - 4
    assert caption(wide, 0).replace("<br>", " ") == long and "<br>" in caption(wide, 0)
    shorter = figure(r, max_frames=20, text={"cap_quiet": long[:40]})   # one line, at a font it fits at
    assert "<br>" not in caption(shorter, 0)


def test_a_phones_loop_keeps_play_and_pause_and_the_legend_moves_up():
    r = play(tiny(qp()), at(1.0))
    phone = figure(r, max_frames=20, narrow=True)
    height, legend_y = phone.layout.height, phone.layout.legend.y
    loop = taxi.play_only(phone)
    assert len(loop.layout.updatemenus) == 1 and not loop.layout.sliders
    assert loop.layout.height < height and loop.layout.legend.y > legend_y


def test_stands_side_by_side_share_the_citys_licences_and_the_limit_refuses_a_taxi():
    # three stands, a city with 2 licences: the third connect is refused with too_many_clients
    sc = tiny(qp(pool_size=1, max_overflow=1), {"max_connections": 3, "superuser_reserved_connections": 1},
              app={"instances": 3})
    r = play(sc, at(1.0, 1.0, 1.0, hold=1.0, instance=[0, 1, 2]))
    fig = figure(r, max_frames=100)
    k = frame_at(fig, 1.5)
    texts = info(fig, k)
    assert [t.split("<br>")[0] for t in texts[4:]] == ["<b>Stand 1</b>", "<b>Stand 2</b>", "<b>Stand 3</b>"]
    assert texts[2] == "Licences in use 2 / 2"
    rides = frame_trace(fig, k, dynamic(fig, "ride")).x
    assert len(rides) == 2 and rides[0] != rides[1]  # two stands, two places
    refused = frame_at(fig, 1.1)
    assert caption(fig, refused).startswith("Stand 3: Licence limit reached: the city refused a taxi")
    assert count(fig, refused, "error") == 1
    assert "Errors 1" in info(fig, refused)[1]


def test_many_instances_draw_the_first_stands_and_say_so():
    sc = load_preset("too-many-clients").with_overrides({"app.instances": 10, "duration_s": 5.0})
    fig = figure(run(sc), max_frames=50)
    assert len(info(fig, 10)[4:]) == taxi.MAX_STANDS
    assert any("of 10" in a.text for a in fig.layout.annotations)


def test_dead_engines_engine_checks_and_the_garage_after_an_idle_cut():
    r = run(load_preset("idle-cut-pre-ping"))
    fig = figure(r)
    frames = range(len(fig.frames))
    assert any(count(fig, k, "dead") for k in frames)
    assert any(count(fig, k, "ping_fail") for k in frames)
    assert any(count(fig, k, "ping_ok") for k in frames)
    assert any(count(fig, k, "garage") for k in frames)
    assert any("Engine check failed" in caption(fig, k) for k in frames)


def test_recycled_taxis_go_to_the_garage():
    fig = figure(run(load_preset("recycle")))
    caps = [caption(fig, k) for k in range(len(fig.frames))]
    assert any("sent to the garage: too old (pool_recycle)" in c for c in caps)


def test_the_counts_drawn_agree_with_the_metrics_levels_in_every_frame():
    r = run(load_preset("burst-into-overflow"))
    fig = figure(r)
    cols = r.trace.columns()
    lv = levels(cols, r.scenario.pool.base)
    times = frame_times(max(r.end_s, float(cols["t"][-1])), 300)
    idle, out, over = (sample(cols, lv[name], times) for name in ("idle", "checked_out", "overflow"))
    for k in range(len(fig.frames)):
        extra = frame_trace(fig, k, dynamic(fig, "extra"))
        on_bays = sum(y == row_y(fig, "row_bays") for y in extra.y)
        assert count(fig, k, "parked") + count(fig, k, "dead") + on_bays == idle[k]
        assert count(fig, k, "ride") + count(fig, k, "leaked") + count(fig, k, "extra") - on_bays == out[k]
        assert count(fig, k, "extra") == over[k]
    assert max(count(fig, k, "extra") for k in range(len(fig.frames))) > 0
    assert any(count(fig, k, "scrapped") for k in range(len(fig.frames)))


# ------------------------------------------------------------------ words and numbers


def test_text_and_number_replace_every_visible_string():
    r = play(tiny(qp(pool_size=1, max_overflow=0, pool_timeout=0.5)), at(1.0, 1.0, hold=2.0))
    german = {"clock": "Zeit {t} s", "legend_parked": "Geparkt", "play": "Start", "pause": "Halt",
              "cap_timeout_one": "Ein Fahrgast gab auf", "row_bays": "Buchten",
              "licences": "Lizenzen {used}/{limit}"}
    fig = figure(r, max_frames=100, text=german, number=lambda x: f"{x:.1f}".replace(".", ","))
    k = list(frame_times(r.end_s, 100)).index(1.5)
    assert {step.label for step in fig.layout.sliders[0].steps} == {""}   # the clock says the time
    assert info(fig, k)[0] == "Zeit 1,5 s"
    assert info(fig, k)[2] == "Lizenzen 1,0/97,0"
    assert caption(fig, k) == "Ein Fahrgast gab auf"
    assert "Geparkt" in [t.name for t in fig.data]
    labels = [b.label for menu in fig.layout.updatemenus for b in menu.buttons]
    assert "Start" in labels and "Halt" in labels
    assert "Buchten" in fig.layout.yaxis.ticktext
    assert EN["clock"] == "Time {t} s"  # the default mapping is left alone


def test_a_translation_may_leave_out_placeholders_or_keys():
    r = play(tiny(qp()), at(1.0))
    fig = figure(r, max_frames=20, text={"counters": "{completed} rides, {unknown}"})
    assert info(fig, 19)[1] == "1 rides, {unknown}"


# ------------------------------------------------------------------ frames and size


@pytest.mark.parametrize(("end", "most"), [(10.0, 100), (150.0, 300), (3600.0, 300), (7.3, 7), (0.05, 300),
                                           (86_400.0, 250), (1.0, 1)])
def test_frames_are_equal_round_steps_and_never_more_than_max_frames(end, most):
    times = frame_times(end, most)
    assert 1 <= times.size <= most
    assert times[-1] == pytest.approx(end)
    steps = np.diff(times)
    if steps.size > 1:
        assert np.allclose(steps[:-1], steps[0]) and steps[-1] <= steps[0] + 1e-9
        mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
        assert any(mantissa == pytest.approx(m) for m in (1, 2, 2.5, 5))


def test_a_long_run_still_has_at_most_max_frames():
    r = run(load_preset("slow-leak"))  # 150 s
    assert len(figure(r).frames) <= 300
    assert len(figure(r, max_frames=60).frames) <= 60


def test_an_empty_trace_gives_one_still_frame():
    fig = build_taxi_figure(Trace(), Scenario(), 0.0)
    assert len(fig.frames) == 1
    assert info(fig, 0)[3] == EN["cap_quiet"]


def test_a_trace_read_back_from_csv_draws_the_same_figure():
    # a live run arrives as the same kind of trace: the figure depends on the rows alone
    r = run(load_preset("exhaustion-timeouts"))
    again = Trace.read_csv(io.StringIO(r.trace.to_csv()))
    a = build_taxi_figure(r.trace, r.scenario, r.end_s, max_frames=50)
    b = build_taxi_figure(again, r.scenario, r.end_s, max_frames=50)
    assert [caption(a, k) for k in range(50)] == [caption(b, k) for k in range(50)]
    assert [count(a, k, "gave_up") for k in range(50)] == [count(b, k, "gave_up") for k in range(50)]


def test_the_json_of_the_default_scenario_and_a_burst_stays_small():
    for scenario in (Scenario(), load_preset("burst-into-overflow")):
        r = run(scenario)
        size = len(figure(r).to_json())
        assert size < 3_000_000, (scenario.name, size)
        json.loads(figure(r, max_frames=5).to_json())  # valid JSON


def test_two_stands_side_by_side_keep_the_counters_clear_of_the_licence_bar() -> None:
    """Half a page (the compare page): smaller counters and a bar a third shorter than the playground's,
    so 'Completed 129 · ... · Leaked 0' no longer runs under the bar."""
    from app.taxi import FONT, _gauge_span, _Geometry, _info_xy

    rows = [row for row, _ in taxi.ROWS]
    half, beside = _Geometry.fit(1, 10, rows, plot_px=420), _Geometry.fit(1, 10, rows, plot_px=540)
    assert half.tight and not beside.tight
    assert _info_xy(half, FONT)[3][1] < _info_xy(beside, FONT)[3][1] < FONT
    assert _gauge_span(half)[1] / half.x_max < _gauge_span(beside)[1] / beside.x_max


def test_with_a_pooler_the_city_licenses_the_depots_cars_and_its_queue_is_told() -> None:
    # 320 client connections at the stands, 20 server connections at PgBouncer: the licences are the depot's
    result = run(load_preset("pgbouncer-session").with_overrides({"duration_s": 5}))
    fig = build_taxi_figure(result.trace, result.scenario, result.end_s)
    texts = [str(x) for frame in fig.frames for d in frame.data for x in (getattr(d, "text", None) or ())]
    assert "Depot's licences 20 / 97" in texts
    assert not any(t.startswith("Licences in use") for t in texts)
    assert any(t.startswith("At the depot: 20 of its 20 cars out") for t in texts)
    direct = run(load_preset("pgbouncer-direct").with_overrides({"duration_s": 2}))
    plain = build_taxi_figure(direct.trace, direct.scenario, direct.end_s)
    used = [int(t.split()[3]) for t in (str(x) for f in plain.frames for d in f.data
                                        for x in (getattr(d, "text", None) or ()))
            if t.startswith("Licences in use")]
    assert max(used) > 20   # without the depot, the stands' own taxis take the city's licences


def test_a_long_caption_fits_a_half_width_panel_on_every_frame():
    """A against B draws each stand half as wide: its captions ("Taxi 31 scrapped on return: no free bay
    (overflow)") get a font they fit at, or lines, instead of running off both sides."""
    from app import pair
    from sim.scenario import load_preset

    scenario = load_preset("burst-into-overflow")
    result = run(scenario)
    half = pair.half_px(pair.PAGE_PLOT_PX)
    fig = build_taxi_figure(result.trace, scenario, result.end_s, max_frames=120, plot_px=half).to_dict()
    info = next(t for t in fig["data"] if t.get("mode") == "text" and isinstance(t.get("textposition"), list))
    size = info["textfont"]["size"][taxi.CAPTION]
    captions = [next(d for d in f["data"] if d.get("text") and str(d["text"][0]).startswith("Time"))["text"]
                [taxi.CAPTION] for f in fig["frames"]]
    assert any("scrapped" in c for c in captions)
    widest = max(taxi._text_px(line, size) for c in captions for line in c.split("<br>"))
    assert widest <= half * 0.98, (size, widest, half)
