"""How many months open-weights models take to match a proprietary frontier record.

The method is Epoch AI's discrete catch-up lag ("How far behind are open models?", 2024; code in
epoch-research/open-model-trends, ``benchmark_analysis.ipynb``), as DESIGN.md ("Lag") states it:

1. Scores go on the −ln(1 − accuracy) scale ("log error"), where a fixed step means the same
   relative cut in error rate at 60% as at 95%.
2. Each side's frontier records are the scores that beat that side's running best; scores of
   one day collapse to its best (``frontier.gap.frontier_series``).
3. Walking the proprietary records in date order, each record not already matched is matched by
   the first open record, in date order, whose log error exceeds the record's minus the
   tolerance (0.02). The lag is ``(open date − closed date).days / 365 × 12`` months.
4. "Already matched" is the notebook's rule: a record whose log error is at most the last
   matching open record's plus the tolerance is skipped, because that open model already
   covers it.
5. A record that an open model released *earlier* already reached is skipped as well
   (notes/prior-art.md §1.2: "A closed step is skipped if an earlier open model already beat
   it"). The notebook has no date test here: there, such a record would be paired with the
   earlier open model and get a negative lag. We skip it, so a lag is never negative. An open
   record of the same day counts as a match with a lag of 0.
6. A record no open model has reached by ``as_of`` is an open lag: ``as_of`` minus its date, a
   lower bound of its eventual lag. The mean covers matched pairs only.

Two more departures from the notebook, both at the edges: accuracy is clamped at 1 − 1e-9
before the logarithm, so a perfect 100% gives log error 20.7 instead of infinity (and two
perfect scores still match); and the "already matched" test starts with no open winner, where
the notebook starts at a winner score of 0 and so would skip a proprietary record below 2%.

Dates are the scores' ``available_on`` (when the figure became public), where Epoch used model
release dates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from frontier.errors import InputError
from frontier.gap import frontier_series
from frontier.types import Benchmark, Score

TOLERANCE = 0.02
"""Match tolerance in log-error units (nats): ``benchmark_noise_tolerance = 0.02`` in Epoch AI's
``benchmark_analysis.ipynb`` ("roughly means that error rates have a relative diff of <2%")."""

ACCURACY_CEILING = 1 - 1e-9
"""Accuracy is clamped here before −ln(1 − acc), which is infinite at exactly 100%."""

DAYS_PER_YEAR = 365
"""Epoch's conversion: ``(open_date − closed_date).days / 365 * 12`` months."""

MONTHS_PER_YEAR = 12

SkipReason = Literal["already matched", "open already ahead"]


class UnsupportedBenchmarkError(InputError):
    """The lag method needs an accuracy benchmark (higher is better, 0-100)."""


@dataclass(frozen=True)
class CatchUp:
    """An open record that matched a proprietary frontier record.

    Attributes:
        closed: The proprietary frontier record.
        open: The first open record to reach it (within the tolerance).
        months: ``(open date − closed date).days / 365 × 12``; never negative.
    """

    closed: Score
    open: Score
    months: float


@dataclass(frozen=True)
class OpenLag:
    """A proprietary record no open model has reached yet.

    Attributes:
        closed: The proprietary frontier record.
        months: ``as_of`` minus its date in months: a lower bound of its lag.
    """

    closed: Score
    months: float


@dataclass(frozen=True)
class SkippedRecord:
    """A proprietary record that takes no part in the lag, and why.

    Attributes:
        closed: The proprietary frontier record.
        covered_by: The open record that already covered it.
        reason: ``"already matched"`` (the open record that matched an earlier proprietary
            record reaches this one too) or ``"open already ahead"`` (an open record released
            earlier already reached it).
    """

    closed: Score
    covered_by: Score
    reason: SkipReason


@dataclass(frozen=True)
class LagPoint:
    """One proprietary record's lag, for a "lag over time" chart.

    Attributes:
        closed_on: The proprietary record's date.
        months: Its lag in months.
        lower_bound: True for an open lag (not matched yet).
    """

    closed_on: date
    months: float
    lower_bound: bool


@dataclass(frozen=True)
class LagReport:
    """The answer to "how many months behind are open models on this benchmark?".

    Attributes:
        benchmark: The benchmark.
        as_of: Only scores available on or before this date count.
        tolerance: Match tolerance in log-error units.
        pairs: Matched pairs in the order of the proprietary records.
        mean_months: Mean lag of ``pairs``; None when there are none.
        open_lags: Unmatched proprietary records with their lower-bound lags.
        skipped: Proprietary records left out, with the open record that covered each.
        series: Every matched or open lag keyed by the proprietary record's date, oldest first.
    """

    benchmark: Benchmark
    as_of: date
    tolerance: float
    pairs: tuple[CatchUp, ...]
    mean_months: float | None
    open_lags: tuple[OpenLag, ...]
    skipped: tuple[SkippedRecord, ...]
    series: tuple[LagPoint, ...]


def log_error(score_pct: float) -> float:
    """A score on Epoch's −ln(1 − accuracy) scale, accuracy clamped below 1.

    Args:
        score_pct: The score in percent.

    Returns:
        −ln(1 − min(score/100, 1 − 1e-9)).
    """
    return -math.log1p(-min(score_pct / 100, ACCURACY_CEILING))


def months_between(earlier: date, later: date) -> float:
    """Months from ``earlier`` to ``later`` by Epoch's rule, days / 365 × 12."""
    return (later - earlier).days / DAYS_PER_YEAR * MONTHS_PER_YEAR


def lag_report(
    benchmark: Benchmark,
    scores: Sequence[Score],
    *,
    as_of: date,
    tolerance: float = TOLERANCE,
) -> LagReport:
    """Match proprietary frontier records with the open records that caught up with them.

    Args:
        benchmark: An accuracy benchmark (higher is better).
        scores: Headline scores; other benchmarks' scores are ignored.
        as_of: Only scores available on or before this date count.
        tolerance: Match tolerance in log-error units (Epoch's 0.02).

    Returns:
        The ``LagReport``.

    Raises:
        UnsupportedBenchmarkError: If lower scores are better on the benchmark.
    """
    if not benchmark.higher_is_better:
        raise UnsupportedBenchmarkError(f"{benchmark.name}: the lag needs an accuracy benchmark")
    relevant = [s for s in scores if s.benchmark == benchmark.key and s.available_on <= as_of]
    closed = frontier_series(relevant, open_weights=False)
    opened = frontier_series(relevant, open_weights=True)
    pairs, open_lags, skipped = _match(closed, opened, as_of, tolerance)
    return LagReport(
        benchmark=benchmark,
        as_of=as_of,
        tolerance=tolerance,
        pairs=pairs,
        mean_months=sum(p.months for p in pairs) / len(pairs) if pairs else None,
        open_lags=open_lags,
        skipped=skipped,
        series=_series(pairs, open_lags),
    )


def catch_up_events(report: LagReport, *, since: date | None = None) -> tuple[CatchUp, ...]:
    """The report's matched pairs in the order the open models caught up.

    Args:
        report: A lag report.
        since: If given, only catch-ups whose open record is dated after this day.

    Returns:
        Pairs sorted by the open record's date, then the proprietary record's date.
    """
    events = [p for p in report.pairs if since is None or p.open.available_on > since]
    return tuple(sorted(events, key=lambda p: (p.open.available_on, p.closed.available_on)))


def _match(
    closed: Sequence[Score], opened: Sequence[Score], as_of: date, tolerance: float
) -> tuple[tuple[CatchUp, ...], tuple[OpenLag, ...], tuple[SkippedRecord, ...]]:
    # Both frontiers rise, so the first open record above a proprietary record's bar only moves
    # forward as the bar rises: one pointer walks the open records once (linear overall).
    open_levels = [log_error(s.value) for s in opened]
    pairs: list[CatchUp] = []
    open_lags: list[OpenLag] = []
    skipped: list[SkippedRecord] = []
    winner: Score | None = None
    j = 0
    for record in closed:
        level = log_error(record.value)
        if winner is not None and level <= log_error(winner.value) + tolerance:
            skipped.append(SkippedRecord(record, winner, "already matched"))
            continue
        while j < len(opened) and open_levels[j] <= level - tolerance:
            j += 1
        if j == len(opened):
            open_lags.append(OpenLag(record, months_between(record.available_on, as_of)))
        elif opened[j].available_on < record.available_on:
            skipped.append(SkippedRecord(record, opened[j], "open already ahead"))
        else:
            winner = opened[j]
            months = months_between(record.available_on, winner.available_on)
            pairs.append(CatchUp(record, winner, months))
    return tuple(pairs), tuple(open_lags), tuple(skipped)


def _series(pairs: Sequence[CatchUp], open_lags: Sequence[OpenLag]) -> tuple[LagPoint, ...]:
    points = [LagPoint(p.closed.available_on, p.months, False) for p in pairs]
    points += [LagPoint(o.closed.available_on, o.months, True) for o in open_lags]
    return tuple(sorted(points, key=lambda point: point.closed_on))
