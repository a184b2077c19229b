"""Audit of the report's own figures: what it states against what the definitions compute.

DESIGN.md ("The report's own figures"): the report is data with a source, not truth. Every
figure it states (``report_figures.csv``) becomes one :class:`AuditItem` that ``agrees``,
``disagrees`` or is ``not checkable``, with a one-line reason; no figure is dropped.

How each kind is checked:

- ``gap_row``: the gap (``frontier.gap`` semantics) at the **end** of the row's month. The
  report dates its rows by month, and the store dates a score no earlier than its model's
  release (GPT-4's March 2023 scores are available from 2023-03-15, not 2023-03-01), so only
  the month's last day sees every score the row means.
- ``vram_row``: the fits estimate (weights + KV cache at ``context`` tokens + overhead) at the
  row's quantization, against the stated "GB" read as GiB, the way GPU memory is sold (the
  RTX 4090's "24GB" is 24 GiB); the reason also gives the decimal-GB figure. Agreement within
  :data:`VRAM_TOLERANCE`.
- ``cost_per_point``: the row's training cost ÷ its MMLU points.
- ``consumer_gap``: the baseline model's score minus the named model's (or, for "exceeds on
  all", the smallest margin over the benchmarks).
- ``headline``: one check per figure id in :data:`HEADLINE_CHECKS`, because each headline states
  a different kind of claim; an id without a check is ``not checkable`` with its reason.

A single figure agrees when it is within the report's own rounding of the computed value: half
a unit in the last digit it prints (``ReportFigure.stated_unit``: 0.1 for "23.5", 1,000 for
"~$105K"). Dates: data counts up to the figure's period end, never past the report's
publication date.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from frontier.errors import InputError
from frontier.fits import (
    DEFAULT_BUDGET_GIB,
    DEFAULT_CONTEXT,
    DEFAULT_MIN_BITS,
    GIB,
    estimate_memory,
    fit_report,
    models_that_fit,
)
from frontier.gap import DEFAULT_THRESHOLD, GapReport, gap_at, gap_report
from frontier.lag import lag_report
from frontier.quant import Quant, lookup_quant
from frontier.types import Benchmark, Citation, ModelSpec, Score

Verdict = Literal["agrees", "disagrees", "not checkable"]
VERDICTS: tuple[Verdict, ...] = ("agrees", "disagrees", "not checkable")

VRAM_TOLERANCE = 0.15
"""A stated VRAM figure agrees within ±15% of the estimate. Runtime overhead (0.5-1 GiB) and
the context a writer assumes (the KV cache at 8k tokens is 1-2.5 GiB for these models) move a
total by about that much (notes/prior-art.md §2.2); a missing factor (70B at 4 bits in 22 GB)
moves it far more. A judgement, not a fact."""

_EPSILON = 1e-9  # float residue in comparisons of rounded figures


@dataclass(frozen=True)
class ReportFigure:
    """One figure the report states (a row of ``report_figures.csv``).

    Attributes:
        id: Stable id, e.g. ``gap-mmlu-2023-03``.
        section: The report's heading path.
        kind: ``gap_row``, ``vram_row``, ``cost_per_point``, ``consumer_gap`` or ``headline``.
        subject: What the figure is about (a model slug, or ``"GPT-4 vs LLaMA-65B"``).
        benchmark: Benchmark key, if the figure is about one.
        on: The date the figure is stated for (first of its month or year), if any.
        stated_value: The number stated, when the report gives one.
        stated_text: The report's wording.
        notes: Transcription notes (e.g. ``year precision``).
        citation: Where the report states it.
        model_slugs: Models the subject names, in its order (resolved by the loader).
        stated_unit: Place value of the last digit printed (0.1 for "23.5"); None if unknown.
    """

    id: str
    section: str
    kind: str
    subject: str
    benchmark: str | None
    on: date | None
    stated_value: float | None
    stated_text: str
    notes: str | None
    citation: Citation
    model_slugs: tuple[str, ...] = ()
    stated_unit: float | None = None


@dataclass(frozen=True)
class QuantRow:
    """A row of the report's "Current Viable Models" table, as printed."""

    model_slug: str
    parameters_b: float | None
    quantization: str
    vram_stated_gb: float | None
    performance: str | None
    citation: Citation


@dataclass(frozen=True)
class TrainingCostRow:
    """A row of the report's "Cost Per MMLU Point" table, as printed."""

    model_slug: str
    year: int | None
    training_cost_usd: float | None
    approximate: bool
    cost_per_point_stated_usd: float | None
    mmlu_stated: float | None
    citation: Citation
    notes: str | None = None


@dataclass(frozen=True)
class Stated:
    """What the report says: its number (if one) and its words."""

    value: float | None
    text: str


@dataclass(frozen=True)
class AuditItem:
    """One stated figure against the computed one.

    Attributes:
        id: The figure's id.
        section: The report's heading path.
        kind: The figure's kind.
        subject: What it is about.
        stated: The report's value and text.
        computed: The value the definitions give, or None.
        verdict: ``agrees``, ``disagrees`` or ``not checkable``.
        reason: One line: the arithmetic or why it cannot be checked.
        citations: The report's section and the sources of the data used.
    """

    id: str
    section: str
    kind: str
    subject: str
    stated: Stated
    computed: float | None
    verdict: Verdict
    reason: str
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class AuditReport:
    """Every stated figure, checked; ``counts`` has every verdict as a key."""

    items: tuple[AuditItem, ...]
    counts: Mapping[str, int]

    @property
    def disagreements(self) -> tuple[AuditItem, ...]:
        """The items whose verdict is ``disagrees``."""
        return tuple(i for i in self.items if i.verdict == "disagrees")


@dataclass(frozen=True)
class _Result:
    computed: float | None
    verdict: Verdict
    reason: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class _Data:
    figures: Mapping[str, ReportFigure]
    benchmarks: Mapping[str, Benchmark]
    scores: Mapping[str, Sequence[Score]]
    models: Mapping[str, ModelSpec]
    quant_rows: Sequence[QuantRow]
    training_costs: Sequence[TrainingCostRow]
    published_on: date
    budget_gib: float
    context: int
    min_bits: float
    vram_tolerance: float
    _reports: dict[tuple[str, date], GapReport] = field(default_factory=dict)

    def bench(self, key: str | None) -> Benchmark:
        if key is None or key not in self.benchmarks:
            raise InputError(f"no benchmark {key!r} in the data")
        return self.benchmarks[key]

    def gap(self, key: str, as_of: date) -> GapReport:
        as_of = min(as_of, self.published_on)
        cache_key = (key, as_of)
        if cache_key not in self._reports:
            bench = self.bench(key)
            self._reports[cache_key] = gap_report(bench, self.scores.get(key, ()), as_of=as_of)
        return self._reports[cache_key]

    def score(self, slug: str, key: str, as_of: date | None = None) -> Score | None:
        """A model's best score on a benchmark available by ``as_of`` (the report's date)."""
        limit = min(as_of or self.published_on, self.published_on)
        mine = [
            s for s in self.scores.get(key, ()) if s.model_slug == slug and s.available_on <= limit
        ]
        return max(mine, key=lambda s: s.value, default=None)

    def name(self, slug: str) -> str:
        spec = self.models.get(slug)
        return spec.name if spec is not None else slug


Check = Callable[[ReportFigure, _Data], _Result]


def audit(
    figures: Sequence[ReportFigure],
    *,
    benchmarks: Mapping[str, Benchmark],
    scores: Mapping[str, Sequence[Score]],
    models: Mapping[str, ModelSpec],
    quant_rows: Sequence[QuantRow],
    training_costs: Sequence[TrainingCostRow],
    published_on: date,
    budget_gib: float = DEFAULT_BUDGET_GIB,
    context: int = DEFAULT_CONTEXT,
    min_bits: float = DEFAULT_MIN_BITS,
    vram_tolerance: float = VRAM_TOLERANCE,
) -> AuditReport:
    """Check every figure the report states against what the definitions compute.

    Args:
        figures: The report's figures (every row of ``report_figures.csv``).
        benchmarks: Benchmarks by key.
        scores: Headline scores by benchmark key, as the store gives them.
        models: Model facts by slug.
        quant_rows: The report's consumer-hardware table.
        training_costs: The report's cost-per-MMLU-point table.
        published_on: The report's publication date; later data is not the report's.
        budget_gib: The consumer GPU's memory (RTX 4090: 24 GiB).
        context: Tokens of KV cache in every memory estimate.
        min_bits: Least nominal bits counted as "4-bit or better".
        vram_tolerance: Relative agreement band of VRAM figures.

    Returns:
        One item per figure, in the order given, and the count of each verdict.
    """
    data = _Data(
        figures={f.id: f for f in figures},
        benchmarks=benchmarks,
        scores=scores,
        models=models,
        quant_rows=quant_rows,
        training_costs=training_costs,
        published_on=published_on,
        budget_gib=budget_gib,
        context=context,
        min_bits=min_bits,
        vram_tolerance=vram_tolerance,
    )
    items = tuple(_audit_one(f, data) for f in figures)
    counts = {v: sum(i.verdict == v for i in items) for v in VERDICTS}
    return AuditReport(items=items, counts=counts)


def _audit_one(figure: ReportFigure, data: _Data) -> AuditItem:
    check = _check_for(figure)
    try:
        result = check(figure, data)
    except InputError as error:
        result = _Result(None, "not checkable", f"Cannot compute it: {error.message}.")
    return AuditItem(
        id=figure.id,
        section=figure.section,
        kind=figure.kind,
        subject=figure.subject,
        stated=Stated(figure.stated_value, figure.stated_text),
        computed=result.computed,
        verdict=result.verdict,
        reason=result.reason,
        citations=(figure.citation, *_unique(result.citations)),
    )


def _check_for(figure: ReportFigure) -> Check:
    if figure.kind == "headline":
        return HEADLINE_CHECKS.get(figure.id, _no_check)
    return KIND_CHECKS.get(figure.kind, _no_check)


def _no_check(figure: ReportFigure, data: _Data) -> _Result:
    reason = NOT_CHECKABLE.get(figure.id, "No definition in gapwatch computes this figure.")
    return _Result(None, "not checkable", reason)


def _unique(citations: Sequence[Citation]) -> tuple[Citation, ...]:
    return tuple(dict.fromkeys(citations))


# --- shared arithmetic ------------------------------------------------------------------------


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def _period_end(figure: ReportFigure) -> date:
    """Last day of the period the figure is dated by: its year when so noted, else its month."""
    if figure.on is None:
        raise InputError("the figure has no date")
    if figure.notes and "year precision" in figure.notes:
        return date(figure.on.year, 12, 31)
    return _month_end(figure.on)


def _within_rounding(stated: float, computed: float, unit: float | None) -> bool:
    half = (unit if unit is not None else 0.1) / 2
    return abs(stated - computed) <= half + _EPSILON


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def _usd(value: float) -> str:
    if abs(value) >= 1e6:
        return f"${value / 1e6:g}M"
    return f"${value / 1e3:g}K" if abs(value) >= 1e3 else f"${value:,.0f}"


def _score_text(score: Score) -> str:
    approx = "~" if score.approximate else ""
    return f"{score.model_name} {approx}{_num(score.value)} ({score.available_on.isoformat()})"


def _compare(stated: float | None, computed: float, unit: float | None) -> Verdict:
    if stated is None:
        return "disagrees"
    return "agrees" if _within_rounding(stated, computed, unit) else "disagrees"


def _range(text: str) -> tuple[float, float]:
    """The first "a-b" range in a text, after any "label:" ("8B-70B params" → (8, 70))."""
    text = text.split(":", 1)[-1]
    match = re.search(r"(-?\d+(?:\.\d+)?)\s*[A-Za-z%]*\s*[-–]\s*(-?\d+(?:\.\d+)?)", text)
    if match is None:
        raise InputError(f"no range in {text!r}")
    low, high = float(match.group(1)), float(match.group(2))
    return min(low, high), max(low, high)


def _bench_label(bench: Benchmark) -> str:
    return bench.name.split(" (")[0]


# --- gap rows ---------------------------------------------------------------------------------


def _check_gap_row(figure: ReportFigure, data: _Data) -> _Result:
    bench = data.bench(figure.benchmark)
    end = _period_end(figure)
    report = data.gap(bench.key, end)
    p, o, gap = report.proprietary, report.open, report.gap
    cites = tuple(s.citation for s in (p, o) if s is not None)
    when = f"By {end.isoformat()} (end of the row's month)"
    if gap is None or p is None or o is None:
        missing = "open-weights" if o is None else "proprietary"
        verdict: Verdict = "agrees" if figure.stated_value is None else "disagrees"
        return _Result(
            None,
            verdict,
            f"{when} there is no {missing} {_bench_label(bench)} score, so no gap; the report "
            f"says {figure.stated_text.split(' | ')[-1]}.",
            cites,
        )
    verdict = _compare(figure.stated_value, gap, figure.stated_unit)
    named = _named_note(figure, (p, o), data)
    return _Result(
        gap,
        verdict,
        f"{when}: {_score_text(p)} − {_score_text(o)} = {_num(gap)}; the report says "
        f"{_stated(figure)}{named}.",
        cites,
    )


def _named_note(figure: ReportFigure, computed: Sequence[Score], data: _Data) -> str:
    """A note when the row names another model than the best, and that model scores less."""
    for named, best in zip(figure.model_slugs, computed, strict=False):
        if named == best.model_slug:
            continue
        theirs = data.score(named, best.benchmark)
        if theirs is not None and theirs.value == best.value:
            continue  # a tie: the row names the later holder of the same score
        their_text = f"'s {_num(theirs.value)}" if theirs is not None else ""
        return (
            f" (the row uses {data.name(named)}{their_text}; the best by then is {best.model_name})"
        )
    return ""


def _stated(figure: ReportFigure) -> str:
    return "nothing" if figure.stated_value is None else _num(figure.stated_value)


# --- VRAM rows --------------------------------------------------------------------------------


def _quant_row(figure: ReportFigure, data: _Data, slug: str) -> QuantRow | None:
    rows = [r for r in data.quant_rows if r.model_slug == slug]
    cells = {c.strip().upper() for c in figure.stated_text.split("|")}
    exact = [r for r in rows if r.quantization.upper() in cells]
    return (exact or rows or [None])[0]


def _check_vram(figure: ReportFigure, data: _Data) -> _Result:
    slug = figure.model_slugs[0] if figure.model_slugs else figure.subject
    spec, row = data.models.get(slug), _quant_row(figure, data, slug)
    if spec is None or row is None or figure.stated_value is None:
        return _Result(None, "not checkable", f"No model facts or table row for {slug!r}.")
    quant = lookup_quant(row.quantization)
    est = estimate_memory(spec, quant, data.context)
    stated = figure.stated_value
    off = (stated - est.total_gib) / est.total_gib
    off_gb = (stated - est.total_gib * GIB / 1e9) / (est.total_gib * GIB / 1e9)
    verdict: Verdict = "agrees" if abs(off) <= data.vram_tolerance + _EPSILON else "disagrees"
    params = spec.total_params_b or 0.0
    size_note = ""
    if row.parameters_b is not None and abs(row.parameters_b - params) > 0.05 * params:
        size_note = f" (the table says {_num(row.parameters_b)}B)"
    reason = (
        f"{_num(params)}B{size_note} × {quant.bits_per_weight:.2f} bits ({_read_as(row, quant)}) "
        f"÷ 8 = {est.weights_gib:.1f} GiB of weights alone "
        f"({est.weights_gib * GIB / 1e9:.1f} GB); + {est.kv_cache_gib:.1f} GiB KV cache at "
        f"{data.context:,} tokens + {est.overhead_gib:g} GiB overhead = {est.total_gib:.1f} GiB "
        f"({est.total_gib * GIB / 1e9:.1f} GB); the report says {_num(stated)} GB, compared as "
        f"GiB: {off:+.0%} (as decimal GB {off_gb:+.0%}; tolerance ±{data.vram_tolerance:.0%})."
    )
    cites = tuple(c for c in (spec.params_citation, spec.architecture_citation) if c is not None)
    return _Result(round(est.total_gib, 2), verdict, reason, cites)


def _read_as(row: QuantRow, quant: Quant) -> str:
    if row.quantization.upper() == quant.name.upper():
        return quant.name
    return f"{row.quantization} read as {quant.name}"


# --- cost per MMLU point ----------------------------------------------------------------------


def _check_cost(figure: ReportFigure, data: _Data) -> _Result:
    slug = figure.model_slugs[0] if figure.model_slugs else figure.subject
    row = next((r for r in data.training_costs if r.model_slug == slug), None)
    if row is None or row.training_cost_usd is None or not row.mmlu_stated:
        return _Result(None, "not checkable", f"No cost and MMLU figures for {slug!r}.")
    per_point = row.training_cost_usd / row.mmlu_stated
    verdict = _compare(figure.stated_value, per_point, figure.stated_unit)
    approx = "~" if row.approximate else ""
    score = data.score(slug, "mmlu")
    store_note = ""
    if score is not None and abs(score.value - row.mmlu_stated) > _EPSILON:
        store_note = f" (the store's MMLU for it is {_num(score.value)})"
    reason = (
        f"{approx}{_usd(row.training_cost_usd)} ÷ {_num(row.mmlu_stated)} MMLU points = "
        f"${per_point:,.0f} per point{store_note}; the report says "
        f"~{_usd(figure.stated_value or 0)}."
    )
    return _Result(round(per_point, 2), verdict, reason, (row.citation,))


# --- consumer gaps ----------------------------------------------------------------------------


def _check_consumer_gap(figure: ReportFigure, data: _Data) -> _Result:
    if len(figure.model_slugs) != 2:
        return _Result(
            None, "not checkable", f"The subject {figure.subject!r} names no two models."
        )
    baseline, model = figure.model_slugs
    if figure.benchmark is None:
        return _exceeds_on_all(model, baseline, figure, data)
    as_of = _period_end(figure) if figure.on is not None else data.published_on
    bench = data.bench(figure.benchmark)
    base, mine = data.score(baseline, bench.key, as_of), data.score(model, bench.key, as_of)
    if base is None or mine is None:
        who = data.name(model if mine is None else baseline)
        return _Result(
            None,
            "not checkable",
            f"The report's data has no {_bench_label(bench)} score for {who} by "
            f"{min(as_of, data.published_on).isoformat()}.",
        )
    gap = round(base.value - mine.value, 9)
    verdict = _compare(figure.stated_value, gap, figure.stated_unit)
    return _Result(
        gap,
        verdict,
        f"{_score_text(base)} − {_score_text(mine)} = {_num(gap)}; the report says "
        f"{_stated(figure)}.",
        (base.citation, mine.citation),
    )


def _exceeds_on_all(model: str, baseline: str, figure: ReportFigure, data: _Data) -> _Result:
    """Whether ``model`` scores at or above ``baseline`` on every benchmark both have."""
    margins, parts, cites = [], [], []
    for key in sorted(data.benchmarks):
        base, mine = data.score(baseline, key), data.score(model, key)
        if base is None or mine is None:
            continue
        margins.append(mine.value - base.value)
        parts.append(f"{_bench_label(data.bench(key))} {_num(mine.value)} vs {_num(base.value)}")
        cites += [mine.citation, base.citation]
    if not margins:
        return _Result(
            None,
            "not checkable",
            f"No benchmark has scores for both {data.name(model)} and {data.name(baseline)}.",
        )
    low = round(min(margins), 9)
    verdict: Verdict = "agrees" if low >= 0 else "disagrees"
    return _Result(
        low,
        verdict,
        f"{data.name(model)} against {data.name(baseline)}: {'; '.join(parts)}; smallest margin "
        f"{_num(low)}; the report says {figure.stated_text!r}.",
        tuple(cites),
    )


# --- headlines --------------------------------------------------------------------------------


def _headline_gap(figure: ReportFigure, data: _Data) -> _Result:
    """A stated gap on one benchmark at the end of its period (capped at publication)."""
    bench = data.bench(figure.benchmark)
    end = min(_period_end(figure), data.published_on)
    report = data.gap(bench.key, end)
    if report.gap is None or report.proprietary is None or report.open is None:
        return _Result(
            None,
            "disagrees" if figure.stated_value is not None else "agrees",
            f"By {end.isoformat()} the report's data has no gap on {_bench_label(bench)} (no "
            f"{'open-weights' if report.open is None else 'proprietary'} score); the report says "
            f"{_stated(figure)}.",
        )
    verdict = _compare(figure.stated_value, report.gap, figure.stated_unit)
    return _Result(
        report.gap,
        verdict,
        f"By {end.isoformat()}: {_score_text(report.proprietary)} − {_score_text(report.open)} = "
        f"{_num(report.gap)}; the report says {_stated(figure)}.",
        (report.proprietary.citation, report.open.citation),
    )


def _headline_best_open(figure: ReportFigure, data: _Data) -> _Result:
    bench = data.bench(figure.benchmark)
    end = min(_period_end(figure), data.published_on)
    best = data.gap(bench.key, end).open
    if best is None:
        return _Result(None, "not checkable", f"No open {_bench_label(bench)} score by {end}.")
    verdict = _compare(figure.stated_value, best.value, figure.stated_unit)
    return _Result(
        best.value,
        verdict,
        f"Best open {_bench_label(bench)} by {end.isoformat()}: {_score_text(best)}; the report "
        f"says {figure.stated_text}.",
        (best.citation,),
    )


def _headline_closed(figure: ReportFigure, data: _Data) -> _Result:
    """ "Closed/reversed": the gap is zero or negative at the report's date."""
    bench = data.bench(figure.benchmark)
    report = data.gap(bench.key, data.published_on)
    if report.gap is None:
        return _Result(None, "not checkable", f"No {_bench_label(bench)} gap in the data.")
    verdict: Verdict = "agrees" if report.gap <= 0 else "disagrees"
    return _Result(
        report.gap,
        verdict,
        f"On {data.published_on.isoformat()} the {_bench_label(bench)} gap is {_num(report.gap)} "
        f"(closed or reversed means ≤ 0); the report says {figure.stated_text!r}.",
    )


def _year_span(figure: ReportFigure) -> tuple[date, date]:
    years = [int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", figure.subject)]
    if not years:
        raise InputError(f"no year in {figure.subject!r}")
    return date(min(years), 1, 1), date(max(years), 12, 31)


def _month_ends(start: date, end: date) -> list[date]:
    ends, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        ends.append(min(_month_end(date(year, month, 1)), end))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends


def _gap_values(data: _Data, key: str, start: date, end: date) -> list[float]:
    """The gap at the end of every month in [start, end] where there is one.

    Month ends, like the gap rows: the report dates by month and the store dates a score no
    earlier than its model's release, so a day inside a month can pair a model with a rival
    the report's row never compares it with.
    """
    report = data.gap(key, end)
    values = [gap_at(report.trajectory, day) for day in _month_ends(start, end)]
    return [v for v in values if v is not None]


def _other_gaps(data: _Data, skip: str, on: date) -> str:
    parts = []
    for key in sorted(data.benchmarks):
        gap = data.gap(key, on).gap if key != skip else None
        if gap is not None:
            parts.append(f"{_bench_label(data.bench(key))} {_num(gap)}")
    return f" (then: {', '.join(parts)})" if parts else ""


def _headline_gap_span(figure: ReportFigure, data: _Data, *, key: str = "mmlu") -> _Result:
    """ "Gap persists at a-b" / "a-b behind" over a span of years: every MMLU gap in force."""
    start, end = _year_span(figure)
    low, high = _range(figure.stated_text)
    values = _gap_values(data, key, start, min(end, data.published_on))
    if not values:
        return _Result(None, "not checkable", f"No {key} gap between {start} and {end}.")
    lo, hi = min(values), max(values)
    verdict: Verdict = "agrees" if low - 0.5 <= lo and hi <= high + 0.5 else "disagrees"
    return _Result(
        hi,
        verdict,
        f"MMLU gaps at the month ends of {_years(start, end)} range {_num(lo)} to {_num(hi)}"
        f"{_other_gaps(data, key, end)}; the report says {_num(low)}-{_num(high)}.",
    )


def _years(start: date, end: date) -> str:
    return str(start.year) if start.year == end.year else f"{start.year}-{end.year}"


def _headline_gap_end(figure: ReportFigure, data: _Data, *, key: str = "mmlu") -> _Result:
    """ "Gap collapses to a-b" in a year: the MMLU gap at its end."""
    _, end = _year_span(figure)
    end = min(end, data.published_on)
    low, high = _range(figure.stated_text)
    gap = data.gap(key, end).gap
    if gap is None:
        return _Result(None, "not checkable", f"No {key} gap on {end}.")
    verdict: Verdict = "agrees" if low - 0.5 <= gap <= high + 0.5 else "disagrees"
    return _Result(
        gap,
        verdict,
        f"MMLU gap on {end.isoformat()}: {_num(gap)}{_other_gaps(data, key, end)}; the report "
        f"says {_num(low)}-{_num(high)}.",
    )


def _headline_parity(figure: ReportFigure, data: _Data) -> _Result:
    """ "Parity/superiority": every benchmark's gap within the parity threshold (2 points)."""
    _, end = _year_span(figure)
    end = min(end, data.published_on)
    gaps = {k: data.gap(k, end).gap for k in sorted(data.benchmarks)}
    known = {k: g for k, g in gaps.items() if g is not None}
    if not known:
        return _Result(None, "not checkable", f"No gap on {end}.")
    worst = max(known.values())
    text = ", ".join(f"{_bench_label(data.bench(k))} {_num(g)}" for k, g in known.items())
    verdict: Verdict = "agrees" if worst <= DEFAULT_THRESHOLD else "disagrees"
    return _Result(
        worst,
        verdict,
        f"Gaps on {end.isoformat()}: {text}; parity means within {_num(DEFAULT_THRESHOLD)} points "
        "(OB-001's threshold).",
    )


def _headline_exceeds(model: str, baseline: str) -> Check:
    def check(figure: ReportFigure, data: _Data) -> _Result:
        return _exceeds_on_all(model, baseline, figure, data)

    return check


def _headline_runs_on_consumer(model: str) -> Check:
    def check(figure: ReportFigure, data: _Data) -> _Result:
        spec = data.models.get(model)
        if spec is None or not spec.total_params_b:
            return _Result(None, "not checkable", f"No parameter count for {model!r}.")
        report = fit_report(spec, budget_gib=data.budget_gib, context=data.context)
        est = report.estimate
        fits = report.fits_at_min_bits
        return _Result(
            round(est.total_gib, 1),
            "agrees" if fits else "disagrees",
            f"{spec.name} has {_num(spec.total_params_b)}B parameters (every expert resident): "
            f"{'fits' if fits else 'does not fit'} {_num(data.budget_gib)} GiB at "
            f"{_num(data.min_bits)}-bit or better; {est.quant.name} needs "
            f"{est.total_gib:,.0f} GiB at {data.context:,} tokens.",
            tuple(c for c in (spec.params_citation,) if c is not None),
        )

    return check


def _headline_consumer_params(figure: ReportFigure, data: _Data) -> _Result:
    """ "Consumer GPU viable models: a-b params": the largest open model that fits."""
    low, high = _range(figure.stated_text)
    ranking = models_that_fit(
        data.models.values(),
        budget_gib=data.budget_gib,
        context=data.context,
        min_bits=data.min_bits,
    )
    if not ranking.fits:
        return _Result(None, "disagrees", f"No open model fits {_num(data.budget_gib)} GiB.")
    largest = max(ranking.fits, key=lambda r: r.report.total_params_b).report
    verdict: Verdict = (
        "agrees" if _within_rounding(high, largest.total_params_b, 1.0) else "disagrees"
    )
    return _Result(
        largest.total_params_b,
        verdict,
        f"The largest open model in the data that fits {_num(data.budget_gib)} GiB at "
        f"{_num(data.min_bits)}-bit or better ({data.context:,} tokens) is {largest.model_name} "
        f"({_num(largest.total_params_b)}B, {largest.estimate.quant.name} "
        f"{largest.estimate.total_gib:.1f} GiB); the report says {_num(low)}B-{_num(high)}B.",
    )


def _headline_consumer_best(model: str) -> Check:
    def check(figure: ReportFigure, data: _Data) -> _Result:
        end = min(_period_end(figure), data.published_on)
        scores = {s.model_slug: s for s in data.scores.get("mmlu", ()) if s.available_on <= end}
        ranking = models_that_fit(
            data.models.values(),
            scores,
            budget_gib=data.budget_gib,
            context=data.context,
            min_bits=data.min_bits,
        )
        scored = [r for r in ranking.fits if r.score is not None]
        if not scored or scored[0].score is None:
            return _Result(None, "not checkable", f"No open model that fits has MMLU by {end}.")
        top = scored[0]
        assert top.score is not None
        verdict: Verdict = "agrees" if top.report.model_slug == model else "disagrees"
        return _Result(
            top.score.value,
            verdict,
            f"Best MMLU by {end.isoformat()} among open models fitting "
            f"{_num(data.budget_gib)} GiB at {_num(data.min_bits)}-bit or better: "
            f"{_score_text(top.score)}; the report says {data.name(model)}.",
            (top.score.citation,),
        )

    return check


def _cost_per_point_fit(rows: Sequence[TrainingCostRow]) -> tuple[float, int] | None:
    """Annual change of cost per MMLU point: least squares of ln(cost ÷ points) on year."""
    points = [
        (r.year, math.log(r.training_cost_usd / r.mmlu_stated))
        for r in rows
        if r.year is not None and r.training_cost_usd and r.mmlu_stated
    ]
    if len({x for x, _ in points}) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x, _ in points
    )
    return (math.exp(slope) - 1) * 100, len(points)


def _headline_cost_decline(figure: ReportFigure, data: _Data) -> _Result:
    """ "Cost per capability unit falling ~N% annually", from the report's own cost table."""
    fitted = _cost_per_point_fit(data.training_costs)
    if fitted is None or figure.stated_value is None:
        return _Result(None, "not checkable", "Too few dated cost rows to fit a trend.")
    change, n = fitted
    verdict = _compare(-figure.stated_value, change, figure.stated_unit)
    return _Result(
        round(change, 1),
        verdict,
        f"A least-squares fit of ln(cost per MMLU point) on year over the cost table's {n} rows "
        f"gives {change:+.0f}% a year; the report says falling ~{_num(figure.stated_value)}% a "
        "year.",
        tuple(r.citation for r in data.training_costs[:1]),
    )


def _headline_cost_share(model: str, typical_id: str) -> Check:
    def check(figure: ReportFigure, data: _Data) -> _Result:
        spec, typical = data.models.get(model), data.figures.get(typical_id)
        cost = spec.training_cost_usd if spec is not None else None
        if cost is None or typical is None or not typical.stated_value:
            return _Result(None, "not checkable", "No training cost or typical cost stated.")
        share = cost / typical.stated_value * 100
        # "$100M+" is a lower bound, so the share is at most ``share``.
        ok = figure.stated_value is not None and figure.stated_value <= share + _half(figure)
        return _Result(
            round(share, 2),
            "agrees" if ok else "disagrees",
            f"{_usd(cost)} ÷ {typical.stated_text} = at most {share:.1f}% (the typical cost is a "
            f"lower bound); the report says ~{_stated(figure)}%.",
            tuple(c for c in (spec.training_cost_citation if spec else None,) if c is not None),
        )

    return check


def _half(figure: ReportFigure) -> float:
    return (figure.stated_unit or 1.0) / 2


def _headline_lag(figure: ReportFigure, data: _Data) -> _Result:
    """ "Frontier capability lag a-b months": Epoch-method catch-up lags, pooled over benchmarks."""
    low, high = _range(figure.stated_text)
    on = min(_period_end(figure), data.published_on)
    months, parts = [], []
    for key in sorted(data.benchmarks):
        report = lag_report(data.bench(key), data.scores.get(key, ()), as_of=on)
        months += [p.months for p in report.pairs]
        if report.mean_months is not None:
            parts.append(
                f"{_bench_label(report.benchmark)} {report.mean_months:.1f} "
                f"({len(report.pairs)} pairs)"
            )
    if not months:
        return _Result(None, "not checkable", f"No catch-up pairs by {on}.")
    mean = sum(months) / len(months)
    verdict: Verdict = "agrees" if low - 0.5 <= mean <= high + 0.5 else "disagrees"
    return _Result(
        round(mean, 1),
        verdict,
        f"Mean catch-up lag (Epoch's method) by {on.isoformat()}: {mean:.1f} months over "
        f"{len(months)} pairs ({'; '.join(parts)}); the report says {_num(low)}-{_num(high)}.",
    )


KIND_CHECKS: Mapping[str, Check] = {
    "gap_row": _check_gap_row,
    "vram_row": _check_vram,
    "cost_per_point": _check_cost,
    "consumer_gap": _check_consumer_gap,
}
"""The check of each figure kind except ``headline``."""

HEADLINE_CHECKS: Mapping[str, Check] = {
    "headline-exec-gap-2020": _headline_gap,
    "headline-exec-gap-2025": _headline_gap,
    "headline-keymetric-mmlu-gap": _headline_gap,
    "headline-dashboard-frontier-gap-mmlu": _headline_gap,
    "headline-dashboard-best-open-mmlu": _headline_best_open,
    "headline-dashboard-best-open-humaneval": _headline_best_open,
    "headline-dashboard-best-open-gsm8k": _headline_best_open,
    "headline-trend-mmlu-gap": _headline_closed,
    # The report's headline gap measure is MMLU points (Executive Summary); the reason lists
    # the other benchmarks' gaps at the same date.
    "headline-observation-2020-2022": _headline_gap_span,
    "headline-observation-2023": _headline_gap_span,
    "headline-observation-2024": _headline_gap_end,  # "collapses to": the state at year end
    "headline-observation-2025": _headline_parity,
    "headline-deepseek-matched-gpt4": _headline_exceeds("deepseek-r1", "gpt-4"),
    "headline-connections-av003": _headline_exceeds("deepseek-r1-distill-qwen-32b", "gpt-4"),
    "headline-deepseek-consumer": _headline_runs_on_consumer("deepseek-r1"),
    "headline-keymetric-consumer-params": _headline_consumer_params,
    "headline-dashboard-consumer-best": _headline_consumer_best("deepseek-r1-distill-qwen-32b"),
    "headline-keymetric-cost-decline": _headline_cost_decline,
    "headline-exec-deepseek-cost-share": _headline_cost_share(
        "deepseek-r1", "headline-deepseek-typical-cost"
    ),
    "headline-keymetric-lag": _headline_lag,
}
"""Headline figures gapwatch can compute, by figure id; the models named are the headline's."""

NOT_CHECKABLE: Mapping[str, str] = {
    "headline-deepseek-cost": (
        "A training cost is an input, not something the definitions compute; it repeats the "
        "cost table's ~$5.6M (DeepSeek-V3's reported final run, per db/seed/README.md)."
    ),
    "headline-deepseek-typical-cost": (
        "A 'typical' training cost is not defined by any data gapwatch holds."
    ),
    "headline-rtx4090-vram": (
        "A hardware specification: the 24 GiB budget the fits use, not a computed figure."
    ),
    "headline-dashboard-cost-per-frontier-model": (
        "'Cost per frontier model' has no definition in the data; the only sourced training "
        "cost above MMLU 85 is DeepSeek-R1's ~$5.6M."
    ),
}
"""Why a figure cannot be checked, by id (others get a generic reason)."""
