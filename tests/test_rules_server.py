"""The server's side: connection limits shared by instances, CPU cores, restarts, no pool."""

from conftest import at, events, play, tiny


def test_no_pool_connects_and_closes_for_every_request():
    r = play(tiny({"kind": "none"}), at(1.0, 2.0))
    assert events(r, request=0) == [
        (1.0, 0, -1, "arrive", "none"),
        (1.0, 0, 0, "connect", "none"),
        (1.01, 0, 0, "open", "none"),
        (1.01, 0, 0, "acquire", "none"),
        (1.01, 0, 0, "query_start", "none"),
        (1.11, 0, 0, "query_end", "none"),
        (1.11, 0, 0, "release", "none"),
        (1.11, 0, 0, "close", "done"),
    ]
    assert events(r, request=1, kinds=("connect",))[0][2] == 1


def test_connect_round_trips_add_to_the_connect_cost():
    r = play(tiny({"kind": "none"}, {"connect_ms": 10.0, "rtt_ms": 5.0}), at(1.0))
    assert events(r, kinds=("open",)) == [(1.02, 0, 0, "open", "none")]  # 10 ms + 2 round trips


def test_connects_beyond_the_role_limit_are_refused_after_the_startup_cost():
    db = {"max_connections": 5, "superuser_reserved_connections": 3}
    r = play(tiny({"kind": "none"}, db), at(1.0, 1.001, 1.002))
    assert events(r, request=2) == [
        (1.002, 2, -1, "arrive", "none"),
        (1.002, 2, 2, "connect", "none"),
        (1.012, 2, 2, "connect_fail", "too_many_clients"),
        (1.012, 2, -1, "error", "too_many_clients"),
    ]


def test_the_limit_is_shared_by_every_instance():
    db = {"max_connections": 6, "superuser_reserved_connections": 3}
    pool = {"kind": "sqlalchemy", "pool_size": 2, "max_overflow": 0}
    r = play(tiny(pool, db, app={"instances": 2}),
             at(1.0, 1.001, 1.002, 1.003, instance=[0, 0, 1, 1], hold=0.5))
    assert len(events(r, kinds=("open",))) == 3
    assert [e[4] for e in events(r, kinds=("error",))] == ["too_many_clients"]


def test_cpu_share_waits_for_a_free_core():
    pool = {"kind": "sqlalchemy", "pool_size": 4}
    one_core = play(tiny(pool, {"cores": 1}, workload={"cpu_fraction": 1.0}), at(1.0, 1.0))
    assert [e[0] for e in events(one_core, kinds=("query_end",))] == [1.11, 1.21]
    no_contention = play(tiny(pool, {"cores": 0}, workload={"cpu_fraction": 1.0}), at(1.0, 1.0))
    assert [e[0] for e in events(no_contention, kinds=("query_end",))] == [1.11, 1.11]


def test_restart_fails_queries_in_flight_and_refuses_connects_while_down():
    faults = [{"kind": "restart", "at_s": 1.05, "down_s": 1.0}]
    r = play(tiny({"kind": "sqlalchemy"}, {"rtt_ms": 1.0}, faults=faults), at(1.0, 1.5, 3.0))
    assert events(r, request=0, kinds=("error",)) == [(1.05, 0, 0, "error", "broken")]
    assert events(r, request=1, kinds=("connect_fail", "error")) == [
        (1.501, 1, 1, "connect_fail", "refused"),
        (1.501, 1, -1, "error", "refused"),
    ]
    assert events(r, request=2, kinds=("query_end",))
    assert events(r, kinds=("server",)) == [(1.05, -1, -1, "server", "down"), (2.05, -1, -1, "server", "up")]


def test_an_idle_cut_frees_the_server_slot_but_the_pool_still_holds_the_connection():
    faults = [{"kind": "idle_cut", "at_s": 0.0, "idle_cut_after_s": 1.0}]
    r = play(tiny({"kind": "sqlalchemy"}, faults=faults), at(1.0))
    assert events(r, kinds=("dead", "close")) == [(2.11, -1, 0, "dead", "cut")]
