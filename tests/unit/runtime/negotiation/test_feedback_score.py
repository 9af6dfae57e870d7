"""The buyer's rating of a released deal: full marks when fast, one point per late second, a floor."""

from __future__ import annotations

import pytest

from runtime.negotiation.feedback import FAST_SECONDS, FLOOR, feedback_score


@pytest.mark.parametrize(
    ("seconds", "score"),
    [(0.0, 100), (FAST_SECONDS, 100), (FAST_SECONDS + 1.5, 99), (FAST_SECONDS + 30, 70), (3600.0, FLOOR)],
)
def test_the_score_falls_with_the_deals_time_down_to_the_floor(seconds: float, score: int) -> None:
    assert feedback_score(seconds) == score


def test_a_clock_that_went_back_does_not_raise_the_score_past_100() -> None:
    assert feedback_score(-10.0) == 100
