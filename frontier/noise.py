"""Sampling noise of benchmark scores: binomial intervals and the noise test for a gap.

A benchmark score is the share of n questions a model got right, so it carries the sampling
error of a binomial proportion: on HumanEval's 164 questions a model at 90% has a standard error
of 2.3 points, so a 2-point gap there is inside the noise (notes/prior-art.md, section 1.4).

Intervals use Wilson's score interval rather than the textbook Wald interval
``p ± z·sqrt(p(1−p)/n)``. Benchmark scores crowd near 100%, exactly where Wald fails: its width
collapses to zero at p = 1 (a perfect HumanEval run would claim no uncertainty at all), it can
reach past 100%, and its coverage near the edges falls well below the nominal 95% (Brown, Cai &
DasGupta, "Interval Estimation for a Binomial Proportion", Statistical Science 16(2), 2001).
Wilson's interval stays inside [0, 100] and keeps close to nominal coverage for any p and n.

The gap's interval combines the two sides' Wilson intervals with Newcombe's hybrid score method
(Newcombe, "Interval estimation for the difference between independent proportions",
Statistics in Medicine 17, 1998, method 10). With d = P − O, (lP, uP) and (lO, uO) the sides'
Wilson limits:

    low  = d − sqrt((P − lP)² + (uO − O)²)
    high = d + sqrt((uP − P)² + (O − lO)²)

That is the "add the squared standard errors" rule for two independent estimates, applied to
each side's own (asymmetric) Wilson half-width instead of a Wald standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.96
"""Two-sided 95% quantile of the standard normal distribution (1.959964, rounded as usual)."""

Interval = tuple[float, float]


@dataclass(frozen=True)
class GapNoise:
    """How much of a gap sampling noise could explain.

    Attributes:
        n_questions: Questions in the benchmark (both sides answered the same set).
        z: Normal quantile used for every interval (1.96 for 95%).
        proprietary: Wilson interval of the proprietary score, in points.
        open: Wilson interval of the open-weights score, in points.
        gap: Newcombe interval of the gap, in points, oriented like the gap (P − O).
        threshold: The gap threshold tested, in points.
        within_noise: Whether the gap's interval reaches the threshold (low ≤ threshold ≤ high),
            so sampling noise alone could put the gap on either side of it.
    """

    n_questions: int
    z: float
    proprietary: Interval
    open: Interval
    gap: Interval
    threshold: float
    within_noise: bool


def binomial_interval(score_pct: float, n_questions: int, z: float = Z_95) -> Interval:
    """Wilson score interval of a benchmark score.

    Args:
        score_pct: The score in percent (0-100).
        n_questions: How many questions the score was measured on.
        z: Normal quantile; 1.96 gives a 95% interval.

    Returns:
        ``(low, high)`` in percent, always inside [0, 100].

    Raises:
        ValueError: If the score is outside [0, 100] or ``n_questions`` is not positive.
    """
    _check_score(score_pct)
    if n_questions <= 0:
        raise ValueError(f"n_questions must be positive, got {n_questions}")
    p = score_pct / 100
    z2_n = z * z / n_questions
    centre = (p + z2_n / 2) / (1 + z2_n)
    half_width = z / (1 + z2_n) * math.sqrt(p * (1 - p) / n_questions + z2_n / (4 * n_questions))
    return max(0.0, centre - half_width) * 100, min(1.0, centre + half_width) * 100


def difference_interval(
    first_pct: float, second_pct: float, n_questions: int, z: float = Z_95
) -> Interval:
    """Newcombe's hybrid score interval of ``first − second`` for two independent scores.

    Args:
        first_pct: The first score in percent.
        second_pct: The second score in percent.
        n_questions: Questions behind each score (the same benchmark).
        z: Normal quantile; 1.96 gives a 95% interval.

    Returns:
        ``(low, high)`` of the difference, in points.
    """
    low1, high1 = binomial_interval(first_pct, n_questions, z)
    low2, high2 = binomial_interval(second_pct, n_questions, z)
    difference = first_pct - second_pct
    below = math.hypot(first_pct - low1, high2 - second_pct)
    above = math.hypot(high1 - first_pct, second_pct - low2)
    return difference - below, difference + above


def assess_gap_noise(
    proprietary_pct: float,
    open_pct: float,
    n_questions: int,
    *,
    threshold: float,
    z: float = Z_95,
) -> GapNoise:
    """Intervals of both scores and of their gap, and whether the gap is within noise.

    Args:
        proprietary_pct: Best proprietary score in percent.
        open_pct: Best open-weights score in percent.
        n_questions: Questions in the benchmark.
        threshold: Gap threshold in points (e.g. 2.0).
        z: Normal quantile; 1.96 gives 95% intervals.

    Returns:
        The ``GapNoise`` of the pair.
    """
    gap = difference_interval(proprietary_pct, open_pct, n_questions, z)
    return GapNoise(
        n_questions=n_questions,
        z=z,
        proprietary=binomial_interval(proprietary_pct, n_questions, z),
        open=binomial_interval(open_pct, n_questions, z),
        gap=gap,
        threshold=threshold,
        within_noise=gap[0] <= threshold <= gap[1],
    )


def _check_score(score_pct: float) -> None:
    if not 0.0 <= score_pct <= 100.0:
        raise ValueError(f"a binomial score must be within 0-100 percent, got {score_pct}")
