"""The statement's sleep is shortened by pg_sleep's overshoot, so live holds are the scenario's."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live.calibrate import Oversleep


def test_the_sleep_is_asked_shorter_by_the_overshoot() -> None:
    assert Oversleep(0.9).ask(0.010, 0.0) == pytest.approx(0.0091)


def test_the_cpu_part_is_kept_and_only_the_sleep_shortened() -> None:
    assert Oversleep(0.9).ask(0.010, 0.004) == pytest.approx(0.004 + 0.0051)


def test_a_sleep_shorter_than_the_overshoot_is_left_out_and_an_all_cpu_hold_kept() -> None:
    assert Oversleep(0.9).ask(0.0005, 0.0) == 0.0
    assert Oversleep(0.9).ask(0.003, 0.003) == pytest.approx(0.003)


@given(st.floats(0.0, 1.0), st.floats(0.0, 5.0), st.floats(0.0, 1.0))
def test_the_ask_is_never_longer_than_the_hold_nor_shorter_than_its_cpu(hold_s: float, over_ms: float,
                                                                       cpu_share: float) -> None:
    cpu_s = hold_s * cpu_share
    asked = Oversleep(over_ms).ask(hold_s, cpu_s)
    assert cpu_s - 1e-12 <= asked <= hold_s + 1e-12
    assert asked >= hold_s - over_ms / 1000.0 - 1e-12
