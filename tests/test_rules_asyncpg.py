"""asyncpg Pool rules, each pinned by the events of a tiny run (connect 10 ms, no network delay).

The first tests pin 0.31's pool (`version = "0.31"`), which lets an idle pool
fall to nothing; the ones after them pin what 0.32 changed (min_size is a
floor kept by a background refill, connected holders first, init_size), and
what both share.
"""

import re

import pytest
from conftest import at, events, play, tiny

from sim.scenario import ScenarioError


def ap(**kw):
    return {"kind": "asyncpg", "version": "0.31", "min_size": 2, "max_size": 4, **kw}


def ap32(**kw):
    return ap(**{"version": "0.32", **kw})


def test_connects_min_size_at_creation_and_never_refills():
    r = play(tiny(ap(min_size=2, max_size=4, max_inactive_connection_lifetime=1.0)), at(5.0))
    # two connections before the clock starts; both idle out at 1 s; the request reconnects
    assert events(r, kinds=("open", "close")) == [
        (0.0, -1, 0, "open", "none"),
        (0.0, -1, 1, "open", "none"),
        (1.0, -1, 0, "close", "idle"),
        (1.0, -1, 1, "close", "idle"),
        (5.01, 0, 2, "open", "none"),
        (6.11, -1, 2, "close", "idle"),
    ]


def test_reuses_the_most_recently_released_holder_first():
    r = play(tiny(ap(min_size=2, max_size=2)), at(1.0, 2.0, 3.0))
    assert [e[2] for e in events(r, kinds=("acquire",))] == [1, 1, 1]


def test_idle_timer_closes_connections_even_below_min_size():
    # LIFO keeps reusing connection 1; connection 0 sits idle and is closed at 5 s
    r = play(tiny(ap(min_size=2, max_size=2, max_inactive_connection_lifetime=5.0)),
             at(1.0, 2.0, 3.0, 4.0, 5.5, 6.0, 7.0))
    assert events(r, kinds=("close",)) == [(5.0, -1, 0, "close", "idle")]
    assert events(r, kinds=("connect",), request=None)[-1][0] == 0.0  # no refill afterwards


def test_acquire_timeout_includes_the_connect():
    r = play(tiny(ap(min_size=0, max_size=1, timeout=0.05), {"connect_ms": 100.0}), at(1.0))
    assert events(r) == [(1.0, 0, -1, "arrive", "none"), (1.05, 0, -1, "timeout", "none")]


def test_without_a_timeout_acquire_waits_for_ever():
    r = play(tiny(ap(min_size=1, max_size=1), duration_s=100.0), at(1.0, 1.001, hold=[90.0, 0.1]))
    assert events(r, request=1, kinds=("wait", "acquire", "timeout")) == [
        (1.001, 1, -1, "wait", "none"),
        (91.0, 1, 0, "acquire", "waited"),
    ]


def test_reset_on_release_costs_a_round_trip_before_the_holder_is_back():
    r = play(tiny(ap(min_size=1, max_size=1), {"rtt_ms": 2.0}), at(1.0, 1.05, hold=0.05))
    # query: 2 ms + 50 ms; reset: 2 ms; only then does the waiter get the holder
    assert events(r, kinds=("query_end", "release", "acquire")) == [
        (1.0, 0, 0, "acquire", "none"),
        (1.052, 0, 0, "query_end", "none"),
        (1.054, 0, 0, "release", "none"),
        (1.054, 1, 0, "acquire", "waited"),
        (1.106, 1, 0, "query_end", "none"),
        (1.108, 1, 0, "release", "none"),
    ]


def test_max_queries_counts_resets_and_closes_at_release():
    # request 0: query + reset = 2; request 1: its query makes 3 >= max_queries: closed, not reset
    r = play(tiny(ap(min_size=1, max_size=1, max_queries=3)), at(1.0, 2.0, 3.0))
    assert events(r, kinds=("close", "open")) == [
        (0.0, -1, 0, "open", "none"),
        (2.1, 1, 0, "close", "max_queries"),
        (3.01, 2, 1, "open", "none"),
    ]


def test_connection_killed_while_idle_is_replaced_at_acquire_without_error():
    r = play(tiny(ap(min_size=1, max_size=1), faults=[{"kind": "kill_idle", "at_s": 1.0}]), at(2.0))
    assert events(r, kinds=("dead", "close", "connect", "error")) == [
        (0.0, -1, 0, "connect", "none"),
        (1.0, -1, 0, "dead", "killed"),
        (1.0, -1, 0, "close", "broken"),   # the event loop saw the EOF at once
        (2.0, 0, 1, "connect", "none"),
    ]


def test_silently_cut_connection_fails_its_first_query():
    # no pre-ping in asyncpg: the firewall's cut shows up as an error on use
    faults = [{"kind": "idle_cut", "at_s": 0.0, "idle_cut_after_s": 0.5}]
    r = play(tiny(ap(min_size=1, max_size=1), {"rtt_ms": 1.0}, faults=faults), at(2.0, 3.0))
    assert events(r, request=0) == [
        (2.0, 0, -1, "arrive", "none"),
        (2.0, 0, 0, "acquire", "none"),
        (2.0, 0, 0, "query_start", "none"),
        (2.001, 0, 0, "error", "broken"),
        (2.001, 0, 0, "release", "none"),
        (2.001, 0, 0, "close", "broken"),
    ]
    assert events(r, request=1, kinds=("connect", "query_end"))[0][3] == "connect"


def test_command_timeout_fails_the_query_but_keeps_the_connection():
    r = play(tiny(ap(min_size=1, max_size=1, command_timeout=0.2)), at(1.0, 2.0, hold=[0.5, 0.1]))
    assert events(r, request=0, kinds=("error", "release", "close")) == [
        (1.2, 0, 0, "error", "query_timeout"),
        (1.2, 0, 0, "release", "none"),
    ]
    assert events(r, request=1, kinds=("acquire",)) == [(2.0, 1, 0, "acquire", "none")]


# -- asyncpg 0.32

def test_0_32_keeps_min_size_connected_when_idle():
    r = play(tiny(ap32(min_size=2, max_size=4, max_inactive_connection_lifetime=1.0)), at(5.0))
    # the two floor connections outlive their idle timers; the request reuses one, no connect
    assert events(r, kinds=("open", "close")) == [(0.0, -1, 0, "open", "none"), (0.0, -1, 1, "open", "none")]
    assert events(r, request=0, kinds=("acquire",)) == [(5.0, 0, 1, "acquire", "none")]


def test_0_32_idle_timer_closes_down_to_the_floor_not_below():
    r = play(tiny(ap32(min_size=1, max_size=3, max_inactive_connection_lifetime=1.0)),
             at(1.0, 1.0, 1.0, hold=0.1))
    closes = events(r, kinds=("close",))
    assert [(t, reason) for t, _, _, _, reason in closes] == [(2.1, "idle"), (2.11, "idle")]
    assert len(events(r, kinds=("open",))) - len(closes) == 1   # one left: the floor


def test_0_32_refills_the_floor_in_the_background_one_at_a_time():
    r = play(tiny(ap32(min_size=2, max_size=2), faults=[{"kind": "kill_idle", "at_s": 1.0}]), at(5.0))
    assert events(r, kinds=("dead", "connect", "open"))[4:] == [
        (1.0, -1, 0, "dead", "killed"),
        (1.0, -1, 1, "dead", "killed"),
        (1.0, -1, 2, "connect", "none"),     # request -1: the pool's own task, nobody waits for it
        (1.01, -1, 2, "open", "none"),
        (1.01, -1, 3, "connect", "none"),
        (1.02, -1, 3, "open", "none"),
    ]
    assert not events(r, request=0, kinds=("connect",))   # the request finds the floor already back


def test_0_32_refill_retries_after_1_s_doubling_while_the_server_is_down():
    r = play(tiny(ap32(min_size=1, max_size=1), faults=[{"kind": "restart", "at_s": 1.0, "down_s": 5.0}]),
             at(9.0))
    tries = events(r, kinds=("connect_fail", "open"))[1:]
    assert [(t, kind) for t, _, _, kind, _ in tries] == [
        (1.0, "connect_fail"), (2.0, "connect_fail"), (4.0, "connect_fail"), (8.01, "open")]


def test_0_32_takes_a_connected_holder_before_an_empty_one():
    # request 2 closes its connection at release (max_queries), leaving an empty holder on top
    arrivals = at(1.0, 1.0, 2.0, 3.0, hold=[0.1, 0.5, 0.1, 0.1])
    old = play(tiny(ap(min_size=0, max_size=2, max_queries=3)), arrivals)
    new = play(tiny(ap32(min_size=0, max_size=2, max_queries=3)), arrivals)
    assert events(old, request=3, kinds=("connect",))            # 0.31 reconnects the empty holder on top
    assert not events(new, request=3, kinds=("connect",))        # 0.32 takes the connected one below it
    assert events(new, request=3, kinds=("acquire",))[0][2] == 0


def test_0_32_init_size_opens_more_than_the_floor_at_creation():
    r = play(tiny(ap32(min_size=1, max_size=4, init_size=3)), at(1.0))
    assert len(events(r, request=-1, kinds=("open",))) == 3


@pytest.mark.parametrize(("pool", "message"), [
    (ap(init_size=2), "asyncpg 0.31 has no init_size"),
    (ap32(min_size=2, init_size=1), "init_size = 1: must be from pool.min_size (2)"),
    (ap32(max_size=4, init_size=5), "init_size = 5: must be from"),
    (ap32(version="0.30"), "pool.version = '0.30': must be one of 0.31, 0.32"),
])
def test_init_size_and_version_are_checked_as_create_pool_does(pool, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        tiny(pool)


@pytest.mark.parametrize("version", ["0.31", "0.32"])
def test_an_instance_whose_create_pool_was_refused_serves_nothing(version):
    # 3 slots: instance 0 takes 2; instance 1 gets 1 of its 2, create_pool raises and closes that one
    db = {"max_connections": 3, "superuser_reserved_connections": 0}
    r = play(tiny(ap(version=version, min_size=2, max_size=2), db, app={"instances": 2}),
             at(1.0, 1.0, instance=[0, 1]))
    assert events(r, request=-1, kinds=("connect_fail", "close")) == [
        (0.0, -1, 3, "connect_fail", "too_many_clients"),
        (0.0, -1, 2, "close", "other"),
    ]
    assert events(r, request=1) == [(1.0, 1, -1, "arrive", "none"), (1.0, 1, -1, "error", "too_many_clients")]
    assert events(r, request=0, kinds=("query_end",))           # the other instance serves


@pytest.mark.parametrize("version", ["0.31", "0.32"])
def test_acquire_against_a_server_that_is_down_fails_at_once_not_at_its_timeout(version):
    pool = ap(version=version, min_size=0, max_size=1, timeout=1.0)
    r = play(tiny(pool, {"connect_ms": 2000.0}, faults=[{"kind": "restart", "at_s": 1.0, "down_s": 5.0}]),
             at(2.0))
    assert events(r, request=0, kinds=("error", "timeout")) == [(2.0, 0, -1, "error", "refused")]
