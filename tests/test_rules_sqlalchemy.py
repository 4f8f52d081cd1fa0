"""SQLAlchemy QueuePool rules, each pinned by the exact events of a tiny run.

Connect costs 10 ms and the network nothing, so every time below can be
worked out by hand.
"""

from conftest import at, events, play, qp, tiny


def test_starts_empty_and_connects_inline_in_the_request():
    r = play(tiny(qp()), at(1.0, hold=0.1))
    assert events(r) == [
        (1.0, 0, -1, "arrive", "none"),
        (1.0, 0, 0, "connect", "none"),
        (1.01, 0, 0, "open", "none"),
        (1.01, 0, 0, "acquire", "none"),
        (1.01, 0, 0, "query_start", "none"),
        (1.11, 0, 0, "query_end", "none"),
        (1.11, 0, 0, "release", "none"),
    ]


def test_reuses_an_idle_connection_instead_of_growing_to_pool_size():
    r = play(tiny(qp()), at(1.0, 2.0, 3.0))
    assert [e[2] for e in events(r, kinds=("acquire",))] == [0, 0, 0]
    assert len(events(r, kinds=("open",))) == 1


def test_connects_while_the_idle_queue_is_empty_even_below_pool_size():
    r = play(tiny(qp()), at(1.0, 1.001, 1.002))
    assert len(events(r, kinds=("open",))) == 3


def test_return_is_closed_as_overflow_only_when_pool_size_are_idle():
    r = play(tiny(qp(pool_size=1, max_overflow=2)), at(1.0, 1.001, 1.002))
    # returns at 1.11, 1.111, 1.112: the first fills the one idle slot, the others are closed
    assert events(r, kinds=("release", "close")) == [
        (1.11, 0, 0, "release", "none"),
        (1.111, 1, 1, "release", "none"),
        (1.111, -1, 1, "close", "overflow"),
        (1.112, 2, 2, "release", "none"),
        (1.112, -1, 2, "close", "overflow"),
    ]


def test_an_overflow_connection_stays_when_an_idle_slot_is_free():
    # pool_size 2: connection 2 was "overflow" when opened, but comes back to a free slot
    r = play(tiny(qp(pool_size=2, max_overflow=1)), at(1.0, 1.001, 1.002, hold=[0.2, 0.1, 0.05]))
    assert events(r, kinds=("close",)) == [(1.21, -1, 0, "close", "overflow")]


def test_waits_at_the_cap_and_times_out_after_pool_timeout():
    r = play(tiny(qp(pool_size=1, max_overflow=0, pool_timeout=0.05)), at(1.0, 1.1, hold=1.0))
    assert events(r, request=1) == [
        (1.1, 1, -1, "arrive", "none"),
        (1.1, 1, -1, "wait", "none"),
        (1.15, 1, -1, "timeout", "none"),
    ]


def test_connect_time_is_not_part_of_pool_timeout():
    # a 100 ms connect with a 50 ms pool_timeout still succeeds: the timeout bounds only the wait
    r = play(tiny(qp(pool_size=1, max_overflow=0, pool_timeout=0.05), {"connect_ms": 100.0}), at(1.0))
    assert events(r, kinds=("acquire", "timeout")) == [(1.1, 0, 0, "acquire", "none")]


def test_waiters_are_served_in_arrival_order_by_checkins():
    r = play(tiny(qp(pool_size=1, max_overflow=0)), at(1.0, 1.01, 1.02, hold=0.1))
    assert [(e[0], e[1]) for e in events(r, kinds=("acquire",))] == [(1.01, 0), (1.11, 1), (1.21, 2)]
    assert events(r, kinds=("acquire",))[1][4] == "waited"


def test_recycle_is_checked_at_checkout_against_the_connect_start():
    r = play(tiny(qp(pool_recycle=1.0)), at(0.5, 1.4, 1.6))
    # born 0.5: at 1.4 it is 0.9 s old and reused; at 1.6 it is 1.1 s old and replaced
    assert events(r, kinds=("close", "connect")) == [
        (0.5, 0, 0, "connect", "none"),
        (1.6, 2, 0, "close", "recycle"),
        (1.6, 2, 1, "connect", "none"),
    ]


def _three_then_killed(pre_ping: bool):
    faults = [{"kind": "kill_idle", "at_s": 2.0}]
    scenario = tiny(qp(pool_size=3, pool_pre_ping=pre_ping), faults=faults)
    return play(scenario, at(1.0, 1.001, 1.002, 3.0, 4.0))


def test_failed_pre_ping_reconnects_and_invalidates_every_older_connection():
    r = _three_then_killed(pre_ping=True)
    assert events(r, request=3) == [
        (3.0, 3, -1, "arrive", "none"),
        (3.0, 3, 0, "ping", "fail"),
        (3.0, 3, 0, "close", "broken"),
        (3.0, 3, 3, "connect", "none"),
        (3.01, 3, 3, "open", "none"),
        (3.01, 3, 3, "acquire", "none"),
        (3.01, 3, 3, "query_start", "none"),
        (3.11, 3, 3, "query_end", "none"),
        (3.11, 3, 3, "release", "none"),
    ]
    # connection 1 is older than the invalidation: replaced at checkout, and not pinged
    assert events(r, request=4, kinds=("ping", "close", "connect")) == [
        (4.0, 4, 1, "close", "invalidated"),
        (4.0, 4, 4, "connect", "none"),
    ]
    assert sum(e[3] == "error" for e in events(r)) == 0


def test_without_pre_ping_the_dead_connection_fails_the_request_once():
    r = _three_then_killed(pre_ping=False)
    assert events(r, request=3, kinds=("error", "close")) == [
        (3.0, 3, 0, "error", "broken"),
        (3.0, 3, 0, "close", "broken"),
    ]
    # the failure invalidated the pool: the next checkout reconnects and succeeds
    assert events(r, request=4, kinds=("close", "query_end")) == [
        (4.0, 4, 1, "close", "invalidated"),
        (4.11, 4, 3, "query_end", "none"),
    ]


def test_pre_ping_costs_three_round_trips_over_asyncpg_and_one_more_the_first_time():
    r = play(tiny(qp(pool_pre_ping=True), {"rtt_ms": 1.0}), at(1.0, 2.0, 3.0))
    # request 0 connects (10 ms + 2 rtt): fresh, no ping; BEGIN, Parse/Describe (its first run of the
    # statement on this connection: asyncpg prepares it), Bind/Execute: 3 rtt + 100 ms
    assert events(r, request=0, kinds=("open", "query_start", "query_end")) == [
        (1.012, 0, 0, "open", "none"),
        (1.012, 0, 0, "query_start", "none"),
        (1.115, 0, 0, "query_end", "none"),
    ]
    # request 1 reuses it: the first ping prepares its ";" too (4 ms); the statement is cached (2 rtt)
    assert events(r, request=1, kinds=("ping", "query_start", "query_end")) == [
        (2.004, 1, 0, "ping", "ok"),
        (2.004, 1, 0, "query_start", "none"),
        (2.106, 1, 0, "query_end", "none"),
    ]
    # request 2: BEGIN; ;  ROLLBACK, everything cached (3 ms)
    assert events(r, request=2, kinds=("ping", "query_start")) == [
        (3.003, 2, 0, "ping", "ok"),
        (3.003, 2, 0, "query_start", "none"),
    ]


def test_pool_size_zero_means_unbounded_and_never_discards():
    r = play(tiny(qp(pool_size=0, max_overflow=0)), at(1.0, 1.001, 1.002, 1.003))
    assert len(events(r, kinds=("open",))) == 4
    assert events(r, kinds=("close", "wait")) == []


def test_the_overflow_counter_reads_as_status_prints_it_negative_below_pool_size() -> None:
    """QueuePool's `_overflow` starts at -pool_size: a pool of 10 with 9 open reads -1, not the band's 0."""
    from sim.metrics import summarize_run
    from sim.model import run as simulate
    from sim.scenario import load_preset

    quiet = summarize_run(simulate(load_preset("fastapi-engine")))
    assert quiet["peak"]["overflow"] == 0
    assert quiet["status_overflow"] == quiet["peak"]["open"] - 10 < 0
    burst = summarize_run(simulate(load_preset("burst-into-overflow")))
    assert burst["status_overflow"] == burst["peak"]["overflow"] > 0
    two = load_preset("fastapi-engine").with_overrides({"app": {"instances": 2}})
    both = summarize_run(simulate(two))
    assert both["status_overflow"] < both["peak"]["open"] - 10   # per instance, as each pool counts its own
    assert "status_overflow" not in summarize_run(simulate(load_preset("asyncpg-lifespan-pool")))
