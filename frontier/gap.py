"""The gap between the best proprietary and the best open-weights score on a benchmark.

Semantics (DESIGN.md, "Gap"): P(t) is the best score among proprietary models whose score was
available on or before t, O(t) the same over open-weights models, and gap = P − O, positive when
proprietary leads. The trajectory has a point wherever P or O changes.

Conventions this module fixes:

- A side's best changes only when a score strictly beats it. A later score that ties the best
  does not replace its holder (the first model to reach a level keeps it). Scores of one day
  collapse to that day's best; among equal values an exact figure beats an approximate one, then
  the smaller model slug wins, so the answer never depends on input order.
- For a benchmark where lower is better, "best" is the lowest score and the gap is O − P, so a
  positive gap still means proprietary leads.
- Gaps are rounded to 9 decimals: scores carry at most a few decimals, and the rounding removes
  binary floating-point residue (88.7 − 88.6 = 0.10000000000000853) that would otherwise decide
  a comparison with a threshold such as 2.0.
- Scores of other benchmarks than the one asked about are ignored, so callers may pass them all.

Costs: one pass over the scores keeps the best score per side and day, then only the distinct
days are sorted (O(n + d log d)); nothing loops over scores twice.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from frontier.noise import GapNoise, assess_gap_noise
from frontier.types import Benchmark, Score

Leader = Literal["proprietary", "open", "tie"]
Direction = Literal["narrowing", "widening", "stable", "closed/reversed"]

DEFAULT_THRESHOLD = 2.0
"""Gap threshold in points: the report's parity claim OB-001 ("within 2 points", seed-report.md)."""

STALE_AFTER_DAYS = 180
"""Newest data older than this many days earns a freshness note (a judgement, not a fact)."""

CHANGE_WINDOWS_MONTHS = (3, 6, 12)

STABLE_BAND = 0.5
"""A 12-month change within ±0.5 points counts as stable on the dashboard (a judgement)."""

_GAP_DECIMALS = 9


@dataclass(frozen=True)
class GapPoint:
    """The state of both frontiers from ``date`` until the next point."""

    date: date
    proprietary: Score | None
    open: Score | None
    gap: float | None


@dataclass(frozen=True)
class GapReport:
    """The answer to "how far apart are proprietary and open models on this benchmark?".

    Attributes:
        benchmark: The benchmark compared.
        as_of: Only scores available on or before this date count.
        proprietary: The best proprietary score, or None if there is none.
        open: The best open-weights score, or None if there is none.
        gap: P − O in points (positive: proprietary leads); None if a side is missing.
        leader: ``"proprietary"``, ``"open"``, ``"tie"``, or None if a side is missing.
        change_3m: Gap now minus the gap 3 calendar months before ``as_of``; None if either
            is undefined. Negative means the gap narrowed.
        change_6m: The same over 6 months.
        change_12m: The same over 12 months.
        trajectory: One point wherever either frontier changes, oldest first, up to ``as_of``.
        newest_data_on: The newest ``available_on`` among all counted scores of the benchmark,
            either side, frontier or not; None if there are none.
        data_age_days: Days from ``newest_data_on`` to ``as_of``; None if there is no data.
        stale: Whether the newest data is older than the report's staleness limit.
        threshold: The gap threshold in points that ``noise`` and ``exceeds_threshold`` test.
        exceeds_threshold: Whether the gap is above the threshold; None if there is no gap.
        noise: Sampling intervals of both scores and of the gap, when the benchmark's question
            count is known and both sides exist; else None.
        notes: Caveats in plain sentences: missing sides, differing or non-canonical settings,
            approximate figures, stale data, a gap within sampling noise.
    """

    benchmark: Benchmark
    as_of: date
    proprietary: Score | None
    open: Score | None
    gap: float | None
    leader: Leader | None
    change_3m: float | None
    change_6m: float | None
    change_12m: float | None
    trajectory: tuple[GapPoint, ...]
    newest_data_on: date | None
    data_age_days: int | None
    stale: bool
    threshold: float
    exceeds_threshold: bool | None
    noise: GapNoise | None
    notes: tuple[str, ...]

    @property
    def within_noise(self) -> bool | None:
        """Whether the gap's interval reaches the threshold; None when noise is unknown."""
        return None if self.noise is None else self.noise.within_noise


@dataclass(frozen=True)
class DashboardRow:
    """One benchmark's line on the dashboard.

    Attributes:
        benchmark: The benchmark.
        gap: The current gap in points, or None.
        leader: Who leads now, or None.
        direction: ``"closed/reversed"`` when open leads or ties; otherwise ``"narrowing"``,
            ``"widening"`` or ``"stable"`` from ``change``; None when there is no gap or not
            enough history to say.
        change: Gap now minus the gap at ``change_since``.
        change_since: The date the change is measured from: 12 months before ``as_of``, or,
            when the gap did not exist then, the first date it did.
        newest_data_on: The newest data behind the row.
        stale: Whether that data is older than the report's staleness limit.
        within_noise: The report's noise verdict, or None.
    """

    benchmark: Benchmark
    gap: float | None
    leader: Leader | None
    direction: Direction | None
    change: float | None
    change_since: date | None
    newest_data_on: date | None
    stale: bool
    within_noise: bool | None


@dataclass(frozen=True)
class Dashboard:
    """A summary of several benchmarks' gaps, one row each, in the order given."""

    rows: tuple[DashboardRow, ...]


def frontier_series(
    scores: Iterable[Score],
    *,
    open_weights: bool,
    as_of: date | None = None,
    higher_is_better: bool = True,
) -> tuple[Score, ...]:
    """The running best of one side, as the scores where it changes.

    Args:
        scores: Scores of one benchmark (both sides may be mixed in).
        open_weights: True for the open-weights side, False for the proprietary side.
        as_of: If given, scores available after this date are left out.
        higher_is_better: The benchmark's direction.

    Returns:
        The frontier records, oldest first: each strictly beats every earlier one, and each
        is its day's best.
    """
    best_by_day: dict[date, Score] = {}
    for score in scores:
        if score.open_weights != open_weights or (as_of is not None and score.available_on > as_of):
            continue
        held = best_by_day.get(score.available_on)
        if held is None or _ranks_above(score, held, higher_is_better):
            best_by_day[score.available_on] = score
    return tuple(_records(best_by_day, higher_is_better))


def _frontiers(scores: Iterable[Score], higher_is_better: bool) -> tuple[list[Score], list[Score]]:
    """``frontier_series`` of the proprietary side and of the open side, in one pass."""
    closed: dict[date, Score] = {}
    opened: dict[date, Score] = {}
    for score in scores:
        side = score.open_weights
        if side == True:  # noqa: E712 - as ``frontier_series`` compares it
            best_by_day = opened
        elif side == False:  # noqa: E712
            best_by_day = closed
        else:
            continue
        day = score.available_on
        held = best_by_day.get(day)
        if held is None or _ranks_above(score, held, higher_is_better):
            best_by_day[day] = score
    return _records(closed, higher_is_better), _records(opened, higher_is_better)


def _records(best_by_day: dict[date, Score], higher_is_better: bool) -> list[Score]:
    records: list[Score] = []
    for day in sorted(best_by_day):
        candidate = best_by_day[day]
        if not records or _improves(candidate.value, records[-1].value, higher_is_better):
            records.append(candidate)
    return records


def gap_report(
    benchmark: Benchmark,
    scores: Sequence[Score],
    *,
    as_of: date,
    threshold: float = DEFAULT_THRESHOLD,
    stale_after_days: int = STALE_AFTER_DAYS,
) -> GapReport:
    """Compare the best proprietary and the best open-weights score on a benchmark.

    Args:
        benchmark: The benchmark; its ``question_count`` enables the noise check.
        scores: Headline scores; other benchmarks' scores are ignored.
        as_of: Only scores available on or before this date count.
        threshold: Gap threshold in points for ``exceeds_threshold`` and the noise check.
        stale_after_days: Newest data older than this earns a freshness note.

    Returns:
        The ``GapReport``.
    """
    hib = benchmark.higher_is_better
    key = benchmark.key
    relevant = [s for s in scores if s.benchmark == key and s.available_on <= as_of]
    trajectory = _trajectory(*_frontiers(relevant, hib), hib)
    now = trajectory[-1] if trajectory else GapPoint(as_of, None, None, None)
    newest = max((s.available_on for s in relevant), default=None)
    age = None if newest is None else (as_of - newest).days
    stale = age is not None and age > stale_after_days
    noise = _noise(benchmark, now, threshold)
    dates = [point.date for point in trajectory]
    changes = [
        _change(trajectory, now.gap, _months_before(as_of, n), dates) for n in CHANGE_WINDOWS_MONTHS
    ]
    return GapReport(
        benchmark=benchmark,
        as_of=as_of,
        proprietary=now.proprietary,
        open=now.open,
        gap=now.gap,
        leader=_leader(now.gap),
        change_3m=changes[0],
        change_6m=changes[1],
        change_12m=changes[2],
        trajectory=trajectory,
        newest_data_on=newest,
        data_age_days=age,
        stale=stale,
        threshold=threshold,
        exceeds_threshold=None if now.gap is None else now.gap > threshold,
        noise=noise,
        notes=_notes(benchmark, now, newest, age if stale else None, as_of, noise),
    )


def gap_at(trajectory: Sequence[GapPoint], on: date) -> float | None:
    """The gap a trajectory shows on a date (None before its first point or if undefined).

    Args:
        trajectory: Points oldest first, as in ``GapReport.trajectory``.
        on: The date to read.

    Returns:
        The gap in force on that date.
    """
    index = bisect_right([point.date for point in trajectory], on) - 1
    return trajectory[index].gap if index >= 0 else None


def dashboard(reports: Sequence[GapReport], *, stable_band: float = STABLE_BAND) -> Dashboard:
    """Summarise several gap reports: current gap and its direction over the last 12 months.

    The direction is ``closed/reversed`` whenever open leads or ties. Otherwise it comes from
    the change over the 12 months before ``as_of``: a fall by more than ``stable_band`` points
    is ``narrowing``, a rise by more is ``widening``, anything else ``stable``. A gap that did
    not move for 12 months is ``stable`` even if its data stopped coming; the row's
    ``newest_data_on`` and ``stale`` say that. If the gap did not exist 12 months ago (a side
    had no score yet), the change is measured from the first date it did; if it has had only
    one value since then, there is no history to judge and the direction is None.

    Args:
        reports: One report per benchmark.
        stable_band: Largest 12-month change, in points, still called stable.

    Returns:
        The ``Dashboard``.
    """
    return Dashboard(rows=tuple(_dashboard_row(report, stable_band) for report in reports))


def _dashboard_row(report: GapReport, stable_band: float) -> DashboardRow:
    since, baseline = _baseline(report)
    change = None if baseline is None or report.gap is None else _round(report.gap - baseline)
    return DashboardRow(
        benchmark=report.benchmark,
        gap=report.gap,
        leader=report.leader,
        direction=_direction(report.gap, change, stable_band),
        change=change,
        change_since=since,
        newest_data_on=report.newest_data_on,
        stale=report.stale,
        within_noise=report.within_noise,
    )


def _baseline(report: GapReport) -> tuple[date | None, float | None]:
    since = _months_before(report.as_of, 12)
    past = gap_at(report.trajectory, since)
    if past is not None:
        return since, past
    defined = [p for p in report.trajectory if p.date > since and p.gap is not None]
    if len(defined) < 2:
        return None, None
    return defined[0].date, defined[0].gap


def _direction(gap: float | None, change: float | None, stable_band: float) -> Direction | None:
    if gap is None:
        return None
    if gap <= 0:
        return "closed/reversed"
    if change is None:
        return None
    if change < -stable_band:
        return "narrowing"
    if change > stable_band:
        return "widening"
    return "stable"


def _trajectory(
    proprietary: Sequence[Score], open_: Sequence[Score], higher_is_better: bool
) -> tuple[GapPoint, ...]:
    """A point on each day either side sets a record. Each side's records are one per day,
    oldest first (``frontier_series``), so the two are merged in date order."""
    points: list[GapPoint] = []
    append = points.append
    best_p: Score | None = None
    best_o: Score | None = None
    gap: float | None = None
    i = j = 0
    n_p, n_o = len(proprietary), len(open_)
    while i < n_p or j < n_o:
        day_p = proprietary[i].available_on if i < n_p else None
        day_o = open_[j].available_on if j < n_o else None
        if day_o is None or (day_p is not None and day_p <= day_o):
            day, best_p, i = day_p, proprietary[i], i + 1
            if day_o == day:
                best_o, j = open_[j], j + 1
        else:
            day, best_o, j = day_o, open_[j], j + 1
        if best_p is not None and best_o is not None:  # _gap, inline: once per point
            difference = best_p.value - best_o.value
            gap = round(difference if higher_is_better else -difference, _GAP_DECIMALS) + 0.0
        point = _new(GapPoint)
        point.__dict__.update(date=day, proprietary=best_p, open=best_o, gap=gap)  # _point
        append(point)
    return tuple(points)


_new = object.__new__


def _point(
    day: date, proprietary: Score | None, open_: Score | None, gap: float | None
) -> GapPoint:
    """``GapPoint(day, proprietary, open_, gap)``, built without the frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field: half the cost of a trajectory, which
    has a point per frontier change). The same object: same fields, equality, hash, repr."""
    point = _new(GapPoint)
    point.__dict__.update(date=day, proprietary=proprietary, open=open_, gap=gap)
    return point


def _gap(proprietary: Score | None, open_: Score | None, higher_is_better: bool) -> float | None:
    if proprietary is None or open_ is None:
        return None
    difference = proprietary.value - open_.value
    return _round(difference if higher_is_better else -difference)


def _round(value: float) -> float:
    # "+ 0.0" turns -0.0 into 0.0, so a tie never prints as "-0.0".
    return round(value, _GAP_DECIMALS) + 0.0


def _change(
    trajectory: Sequence[GapPoint], gap_now: float | None, then: date, dates: list[date]
) -> float | None:
    """The change since ``then``; ``dates`` are the trajectory's (``gap_at``, listed once)."""
    index = bisect_right(dates, then) - 1
    gap_then = trajectory[index].gap if index >= 0 else None
    if gap_now is None or gap_then is None:
        return None
    return _round(gap_now - gap_then)


def _leader(gap: float | None) -> Leader | None:
    if gap is None:
        return None
    if gap > 0:
        return "proprietary"
    return "open" if gap < 0 else "tie"


def _months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the month's last day."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    if year < date.min.year:  # as_of in year 1: nothing is earlier than the first day
        return date.min
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def _improves(value: float, best: float, higher_is_better: bool) -> bool:
    return value > best if higher_is_better else value < best


def _ranks_above(score: Score, held: Score, higher_is_better: bool) -> bool:
    """Whether ``score`` should replace ``held`` as its day's best (a total, stable order)."""
    if score.value != held.value:
        return _improves(score.value, held.value, higher_is_better)
    if score.approximate != held.approximate:
        return held.approximate
    return score.model_slug < held.model_slug


def _noise(benchmark: Benchmark, now: GapPoint, threshold: float) -> GapNoise | None:
    # Binomial noise describes a share of questions answered right: accuracy benchmarks only.
    n = benchmark.question_count
    if n is None or not benchmark.higher_is_better or now.proprietary is None or now.open is None:
        return None
    return assess_gap_noise(now.proprietary.value, now.open.value, n, threshold=threshold)


def _notes(
    benchmark: Benchmark,
    now: GapPoint,
    newest: date | None,
    stale_age: int | None,
    as_of: date,
    noise: GapNoise | None,
) -> tuple[str, ...]:
    notes = _side_notes(benchmark, now, as_of)
    notes += _setting_notes(benchmark, now.proprietary, now.open)
    notes += [
        f"{s.model_name}'s {s.value:g} is approximate." for s in _present(now) if s.approximate
    ]
    if newest is not None and stale_age is not None:
        notes.append(
            f"The newest {benchmark.name} data is from {newest.isoformat()}, {stale_age} days "
            f"before {as_of.isoformat()}; trackers may have stopped measuring it."
        )
    if noise is not None and noise.within_noise:
        low, high = noise.gap
        notes.append(
            f"The gap's {_confidence(noise.z)} interval ({low:.1f} to {high:.1f}) includes the "
            f"{noise.threshold:g}-point threshold: within sampling noise on "
            f"{noise.n_questions:,} questions."
        )
    return tuple(notes)


def _side_notes(benchmark: Benchmark, now: GapPoint, as_of: date) -> list[str]:
    missing = [
        label
        for label, score in (("proprietary", now.proprietary), ("open-weights", now.open))
        if score is None
    ]
    return [f"No {label} score on {benchmark.name} as of {as_of.isoformat()}." for label in missing]


def _setting_notes(
    benchmark: Benchmark, proprietary: Score | None, open_: Score | None
) -> list[str]:
    if proprietary is None or open_ is None:
        return []
    notes = []
    if proprietary.setting != open_.setting:
        notes.append(
            f"The scores use different settings: {proprietary.model_name} "
            f"{_setting(proprietary)}, {open_.model_name} {_setting(open_)}."
        )
    canonical = benchmark.canonical_setting
    if canonical is not None:
        notes += [
            f"{s.model_name}'s score is {_setting(s)}, not the canonical {canonical}."
            for s in (proprietary, open_)
            if s.setting is not None and s.setting != canonical
        ]
    return notes


def _setting(score: Score) -> str:
    return score.setting if score.setting is not None else "(setting unknown)"


def _present(point: GapPoint) -> list[Score]:
    return [s for s in (point.proprietary, point.open) if s is not None]


def _confidence(z: float) -> str:
    return "95%" if z == 1.96 else f"z={z:g}"
