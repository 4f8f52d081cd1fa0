"""HikariCP and Go database/sql rules, each pinned by the events of a tiny run."""

from conftest import at, events, play, tiny


def hk(**kw):
    return {"kind": "hikari", "maximumPoolSize": 3, "minimumIdle": 0, **kw}


def go(**kw):
    return {"kind": "go", **kw}


# ------------------------------------------------------------------ HikariCP

def test_hikari_creates_connections_only_in_its_background_creator_with_a_pause():
    r = play(tiny(hk()), at(1.0, 1.0, 1.0, hold=1.0))
    # one connection from construction; the two waiting requests get the creator's,
    # 10 ms of connect each, with its 30 ms pause between them
    assert all(e[1] == -1 for e in events(r, kinds=("connect",)))
    assert events(r, kinds=("acquire",)) == [
        (1.0, 0, 0, "acquire", "none"),
        (1.01, 1, 1, "acquire", "waited"),
        (1.05, 2, 2, "acquire", "waited"),
    ]


def test_hikari_validates_a_connection_idle_longer_than_500_ms():
    r = play(tiny(hk(maximumPoolSize=1)), at(1.0, 1.3, 2.0, hold=0.1))
    # idle since 0 -> ping at 1.0; back at 1.1, idle 0.2 s at 1.3 -> none; idle 0.6 s at 2.0 -> ping
    assert [e[0] for e in events(r, kinds=("ping",))] == [1.0, 2.0]


def test_hikari_leak_detector_only_warns():
    r = play(tiny(hk(maximumPoolSize=1, leakDetectionThreshold=2000), duration_s=40.0),
             at(1.0, 4.0, leak=[True, False]))
    assert events(r, kinds=("leak_warning",)) == [(3.0, 0, 0, "leak_warning", "none")]
    assert events(r, conn=0, kinds=("release", "close")) == []      # never reclaimed
    assert events(r, request=1, kinds=("timeout",))[0][0] == 34.0    # connectionTimeout 30 s


def test_hikari_timeout_while_the_pool_is_still_growing():
    # the creator needs 200 ms a connection: the 250 ms timeout expires below the cap
    r = play(tiny(hk(maximumPoolSize=5, connectionTimeout=250), {"connect_ms": 200.0}),
             at(1.0, 1.0, 1.0, 1.0, hold=2.0))
    assert [e[1] for e in events(r, kinds=("timeout",))] == [2, 3]
    assert max(e[2] for e in events(r, kinds=("open",))) < 4


def test_hikari_closes_idle_connections_only_down_to_minimum_idle():
    r = play(tiny(hk(maximumPoolSize=4, minimumIdle=1, idleTimeout=10_000), duration_s=70.0),
             at(1.0, 1.0, 1.0, 1.0, hold=0.5))
    # on the housekeeper's beat (0.1 s, then every 30 s), newest first, keeping minimumIdle
    assert events(r, kinds=("close",)) == [
        (30.1, -1, 3, "close", "idle"),
        (30.1, -1, 2, "close", "idle"),
        (30.1, -1, 1, "close", "idle"),
    ]


# --------------------------------------------------------------------- Go

def test_go_closes_returns_beyond_max_idle_conns_default_two():
    r = play(tiny(go()), at(1.0, 1.001, 1.002, 1.003, hold=0.1))
    assert events(r, kinds=("close",)) == [
        (1.112, -1, 2, "close", "max_idle"),   # connected inline: 10 ms, then 100 ms held
        (1.113, -1, 3, "close", "max_idle"),
    ]


def test_go_reuses_the_most_recently_returned_connection():
    r = play(tiny(go(MaxIdleConns=3)), at(1.0, 1.001, 1.002, 2.0, hold=0.1))
    assert events(r, request=3, kinds=("acquire",))[0][2] == 2


def test_go_hands_a_freed_connection_to_a_random_waiter():
    arrivals = at(0.0, 0.01, 0.02, 0.03, 0.04, 0.05, hold=0.1)
    orders = set()
    for seed in range(1, 8):
        r = play(tiny(go(MaxOpenConns=1), seed=seed), arrivals)
        served = [e[1] for e in events(r, kinds=("acquire",))]
        assert sorted(served) == [0, 1, 2, 3, 4, 5]
        orders.add(tuple(served))
    assert any(order != (0, 1, 2, 3, 4, 5) for order in orders)


def test_go_wait_is_ended_only_by_the_callers_context():
    r = play(tiny(go(MaxOpenConns=1, ContextTimeout=0.05)), at(1.0, 1.01, hold=1.0))
    assert events(r, request=1, kinds=("wait", "timeout")) == [
        (1.01, 1, -1, "wait", "none"),
        (1.06, 1, -1, "timeout", "context"),
    ]


def test_go_lifetime_is_checked_at_checkout_and_retried_transparently():
    r = play(tiny(go(ConnMaxLifetime=1.0)), at(0.5, 1.8))
    assert events(r, request=1, kinds=("close", "connect", "error")) == [
        (1.8, 1, 0, "close", "lifetime"),
        (1.8, 1, 1, "connect", "none"),
    ]


def test_go_notices_a_killed_connection_at_checkout_but_not_a_cut_one():
    killed = play(tiny(go(), faults=[{"kind": "kill_idle", "at_s": 2.0}]), at(1.0, 3.0))
    assert events(killed, request=1, kinds=("close", "error")) == [(3.0, 1, 0, "close", "broken")]
    cut = play(tiny(go(), faults=[{"kind": "idle_cut", "at_s": 0.0, "idle_cut_after_s": 1.0}]), at(1.0, 3.0))
    assert events(cut, request=1, kinds=("error",)) == [(3.0, 1, 0, "error", "broken")]
