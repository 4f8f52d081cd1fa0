"""The installed asyncpg's pool, live: the live lab runs the installed release and tells the model which.

asyncpg 0.32 made `min_size` a floor refilled in the background; the model
has both 0.31's pool and 0.32's (`pool.version`). A scenario that names
another release than the installed one is run as the installed one, and its
result says so, so `compare` simulates what really ran.
"""

from __future__ import annotations

import pytest
from live_scenarios import short

from live.pools.asyncpg import installed_version
from live.runner import run
from sim.model import run as simulate
from sim.trace import Ev

pytestmark = [pytest.mark.live, pytest.mark.asyncio]

QUIET = {"rate_per_s": 30, "hold": {"dist": "constant", "mean_ms": 20},
         "phases": [{"at_s": 0.5, "rate_per_s": 0}, {"at_s": 1.6, "rate_per_s": 30}]}
KILL_IN_THE_QUIET = [{"kind": "kill_idle", "at_s": 0.9}]


def pool_reconnects(trace, after_s: float, before_s: float) -> int:
    """Connections the pool opened by itself (request -1) between two moments."""
    cols = trace.columns()
    mask = ((cols["kind"] == Ev.OPEN) & (cols["request"] == -1) & (cols["t"] >= after_s)
            & (cols["t"] < before_s))
    return int(mask.sum())


async def test_a_scenario_of_another_release_runs_as_the_installed_one_and_says_so() -> None:
    other = "0.31" if installed_version() == "0.32" else "0.32"
    scenario = short({"kind": "asyncpg", "version": other, "min_size": 1, "max_size": 2})
    result = await run(scenario)
    assert result.scenario.pool.version == installed_version()
    assert result.left_open == 0


@pytest.mark.skipif(installed_version() != "0.32", reason="the floor is asyncpg 0.32's")
async def test_killed_connections_below_the_floor_come_back_by_themselves_as_in_the_model() -> None:
    scenario = short({"kind": "asyncpg", "min_size": 3, "max_size": 3}, workload=QUIET,
                     faults=KILL_IN_THE_QUIET, duration_s=2.0)
    live = await run(scenario)
    model = simulate(live.scenario)
    assert live.scenario.pool.version == "0.32"
    killed = sum(1 for row in live.trace.rows() if row[4] == "close" and row[5] == "broken")
    assert killed == 3                                                 # the whole floor was killed, idle
    assert pool_reconnects(live.trace, 0.9, 1.6) == 3                  # and refilled before traffic came back
    assert pool_reconnects(model.trace, 0.9, 1.6) == 3                 # as the model's 0.32 pool does
    assert live.left_open == 0


async def test_the_0_31_model_would_have_left_the_pool_empty() -> None:
    """The same scenario on 0.31's model: nobody refills, the first requests after the quiet reconnect."""
    scenario = short({"kind": "asyncpg", "version": "0.31", "min_size": 3, "max_size": 3}, workload=QUIET,
                     faults=KILL_IN_THE_QUIET, duration_s=2.0)
    assert pool_reconnects(simulate(scenario).trace, 0.9, 1.6) == 0
