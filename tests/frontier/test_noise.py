"""Binomial intervals of benchmark scores and the noise test for a gap."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontier.noise import assess_gap_noise, binomial_interval, difference_interval

# Wilson: centre = (p + z²/2n)/(1 + z²/n), half = z/(1 + z²/n)·sqrt(p(1−p)/n + z²/4n²), z = 1.96.
WILSON_CASES = [
    # p = .5, n = 100: z²/n = .038416; centre = .519208/1.038416 = .5;
    # half = 1.887489·sqrt(.0025 + .00009604) = 1.887489·.0509513 = .096170 → (40.383, 59.617).
    (50.0, 100, 40.383, 59.617),
    # p = 1, n = 164 (HumanEval): z²/n = .023424; centre = 1.011712/1.023424 = .988556;
    # half = 1.915139·sqrt(3.8416/107584) = 1.915139·.0059756 = .011444 → (97.711, 100.0).
    # Wald would claim (100, 100): no uncertainty at all after 164 questions.
    (100.0, 164, 97.711, 100.0),
    # p = 0, n = 10: centre = .19208/1.38416 = .138770; half = 1.416022·sqrt(.0096040) = .138770
    # → (0, 27.754).
    (0.0, 10, 0.0, 27.754),
]


@pytest.mark.parametrize(("score", "n", "low", "high"), WILSON_CASES)
def test_binomial_interval_is_wilson(score: float, n: int, low: float, high: float) -> None:
    assert binomial_interval(score, n) == pytest.approx((low, high), abs=1e-3)


def test_binomial_interval_matches_the_notes_standard_error_on_mmlu() -> None:
    # prior-art.md §1.4: MMLU (14,042 q, p = .88) has SE 0.27 pp, so a 95% half-width of about
    # 1.96·0.274 = 0.54 pp; with n that large Wilson and Wald agree to 0.01 pp.
    low, high = binomial_interval(88.0, 14_042)
    assert (high - low) / 2 == pytest.approx(1.96 * math.sqrt(0.88 * 0.12 / 14_042) * 100, abs=0.01)


@pytest.mark.parametrize(("score", "n"), [(-0.1, 10), (100.1, 10), (50.0, 0)])
def test_binomial_interval_rejects_impossible_input(score: float, n: int) -> None:
    with pytest.raises(ValueError):
        binomial_interval(score, n)


NOISE_CASES = [
    # Newcombe: low = d − sqrt((P − lP)² + (uO − O)²), high = d + sqrt((uP − P)² + (O − lO)²).
    # MMLU, P 88.0, O 85.6, d 2.4: P − lP .548, uO − O .571 → low 2.4 − .791 = 1.609;
    # uP − P .527, O − lO .590 → high 2.4 + .792 = 3.192. (1.61, 3.19) holds 2.0: within noise.
    (88.0, 85.6, 14_042, (1.609, 3.192), True),
    # MMLU, d 4.5 (the report's 2024-04 row): .575 and .627 → 4.5 − .850 = 3.650;
    # .555 and .644 → 4.5 + .850 = 5.350. Stays above 2.0.
    (86.5, 82.0, 14_042, (3.650, 5.350), False),
    # HumanEval, d 2.4 on 164 questions: (−3.906, 8.780), far wider than the gap itself.
    (92.4, 90.0, 164, (-3.906, 8.780), True),
    # GSM8K, d −2.0 (computed 2025-01 gap), n 1,319. P = .953: z²/n = .0029125,
    # centre = .954456/1.0029125 = .951684, half = 1.954308·sqrt(3.39583e-5 + 5.520e-7) = .011481
    # → (94.020, 96.317); O = 97.3 → (96.278, 98.047). low = −2 − sqrt(1.280² + .747²) = −3.482,
    # high = −2 + sqrt(1.017² + 1.022²) = −0.559: never reaches +2.0.
    (95.3, 97.3, 1_319, (-3.482, -0.559), False),
]


@pytest.mark.parametrize(("prop", "open_", "n", "gap_interval", "within"), NOISE_CASES)
def test_assess_gap_noise(
    prop: float, open_: float, n: int, gap_interval: tuple[float, float], within: bool
) -> None:
    noise = assess_gap_noise(prop, open_, n, threshold=2.0)
    assert noise.gap == pytest.approx(gap_interval, abs=0.01)
    assert noise.within_noise is within
    assert noise.proprietary == binomial_interval(prop, n)
    assert noise.open == binomial_interval(open_, n)


percent = st.floats(min_value=0, max_value=100, allow_nan=False)
questions = st.integers(min_value=1, max_value=100_000)


@given(percent, questions)
def test_wilson_interval_holds_the_score_and_stays_in_range(score: float, n: int) -> None:
    low, high = binomial_interval(score, n)
    assert 0.0 <= low <= score + 1e-9
    assert score - 1e-9 <= high <= 100.0


@given(percent, percent, questions)
def test_difference_interval_holds_the_difference_and_flips_with_the_order(
    a: float, b: float, n: int
) -> None:
    low, high = difference_interval(a, b, n)
    assert low <= a - b + 1e-9
    assert a - b - 1e-9 <= high
    flipped = difference_interval(b, a, n)
    assert flipped == pytest.approx((-high, -low), abs=1e-9)
