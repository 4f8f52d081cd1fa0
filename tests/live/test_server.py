"""The live lab's server: the embedded sandbox, DATABASE_URL, and what each may be used for."""

import asyncio

import asyncpg
import pytest

from live.server import SANDBOX, LiveError, external, mask, refusal
from sim.scenario import Scenario

pytestmark = pytest.mark.live


def test_mask_hides_the_password_and_keeps_host_and_database():
    assert mask("postgresql://bob:s3cret@db.example:5432/app") == "postgresql://bob:***@db.example:5432/app"
    assert mask("postgresql://bob@db.example/app") == "postgresql://bob@db.example/app"


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
    target = SANDBOX.target(max_connections=5, superuser_reserved_connections=3)

    async def open_three() -> tuple[int, asyncpg.PostgresError]:
        conns = []
        try:
            for _ in range(3):
                conns.append(await asyncpg.connect(target.dsn))
        except asyncpg.PostgresError as e:
            return len(conns), e
        finally:
            for c in conns:
                await c.close()
        raise AssertionError("the third connect should have been refused")

    opened, error = asyncio.run(open_three())
    assert opened == 2  # 5 - 3 reserved for superusers
    assert error.sqlstate == "53300"
    assert str(error) == "remaining connection slots are reserved for roles with the SUPERUSER attribute"
    SANDBOX.target()  # back to the defaults for the other tests


def test_restart_ends_every_connection_and_the_server_comes_back():
    target = SANDBOX.target()

    async def scenario() -> None:
        conn = await asyncpg.connect(target.dsn)
        SANDBOX.restart(0.1)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await conn.fetchval("SELECT 1")
        conn.terminate()
        again = await asyncpg.connect(target.dsn)
        assert await again.fetchval("SELECT 1") == 1
        await again.close()

    asyncio.run(scenario())
