"""asyncpg Pool rules, each pinned by the events of a tiny run (connect 10 ms, no network delay)."""

from conftest import at, events, play, tiny


def ap(**kw):
    return {"kind": "asyncpg", "min_size": 2, "max_size": 4, **kw}


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
