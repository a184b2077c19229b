"""Prediction rules: pure functions from the data (and attestations) to a verdict with evidence.

DESIGN.md ("Predictions") states the rules; each is registered in :data:`RULES` under the key
``predictions.csv`` gives it, and reads its thresholds from the prediction's ``params``.

Conventions every rule follows:

- **Cut-off.** Only scores available on or before ``min(today, verification_date)`` count, so a
  score published after the verification date never changes a resolved verdict.
  Attestations count when stated on or before ``today``, even after the verification date: an
  attestation says whether a criterion held *by* that date, and an admin may only be able to
  say so afterwards (Metaculus separates ``actual_resolve_time`` from ``resolution_set_time``
  for the same reason; notes/prior-art.md §4.1). Of several attestations of one criterion for
  one model, the latest wins (PredictionBook's judgements, §4.1); one for the model wins over
  one for the whole prediction.
- **Resolution.** A prediction that something happens by a date (OB-002, OB-003, AV-003) is a
  hit as soon as the data shows it, resolved on the day its last criterion was met, and a miss
  on the verification date. OB-001 ("parity persists") is the reverse: a miss on the first day
  the data falsifies it, a hit on the verification date. ``today`` on the verification date
  counts as reaching it.
- **Statuses.** ``pending``: nothing qualifies yet and more than :data:`AT_RISK_WITHIN_DAYS`
  days remain; ``at risk``: fewer remain, or (OB-001) part of the failure condition holds;
  ``on track``: OB-001 with no part of its failure condition holding; ``needs review``: the
  data cannot settle it (an unknown rule, bad parameters, a criterion only a person can attest).
- OB-003: a sourced cost carries no date of its own, so a hit is dated by the model's score.
  A model above the MMLU line without a sourced cost is listed as "cost not sourced" and does not
  change the status: the threshold asks for a *verified* cost. An attestation of the criterion
  ``training_cost`` (holds) for a model above the line is a hit; one for a model the data does
  not show above the line, or for no model, is ``needs review``.
- A missing attestation is not evidence of absence: a model that meets every data criterion of
  OB-002 but whose mobile demo nobody has attested keeps the prediction in ``needs review``,
  also after the verification date, until an admin attests it either way.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from frontier.errors import InputError
from frontier.fits import DEFAULT_CONTEXT, FitReport, fit_report
from frontier.gap import GapPoint, GapReport, gap_report
from frontier.types import Attestation, Benchmark, Citation, ModelSpec, Score

Status = Literal["pending", "on track", "at risk", "hit", "miss", "needs review"]
RESOLVED: frozenset[str] = frozenset({"hit", "miss"})

AT_RISK_WITHIN_DAYS = 90
"""An event prediction with nothing qualifying turns from pending to at risk this many days
before its verification date: one quarter, a judgement rather than a fact."""

CRITERION_LABELS: Mapping[str, str] = {
    "mobile_demo": "mobile demo",
    "training_cost": "training cost",
}


@dataclass(frozen=True)
class PredictionDef:
    """A prediction as the report states it, with the rule that decides it.

    Attributes:
        code: ``OB-001`` …
        title: Short title.
        claim: The claim, verbatim where the report states one.
        threshold: The threshold text, verbatim where the report states one.
        verification_date: The date the prediction is judged on.
        rule: Key into :data:`RULES`.
        params: The rule's parameters (decoded JSON from ``predictions.csv``).
        citation: Where the prediction is stated.
    """

    code: str
    title: str
    claim: str
    threshold: str
    verification_date: date
    rule: str
    params: Mapping[str, object]
    citation: Citation


@dataclass(frozen=True)
class PredictionData:
    """Everything a rule may look at.

    Attributes:
        benchmarks: Benchmarks by key.
        scores: Headline scores (both sides) by benchmark key; later ones are ignored by the
            rules, so callers may pass everything they have.
        models: Model facts by slug.
        attestations: Sourced statements settling criteria no dataset can.
    """

    benchmarks: Mapping[str, Benchmark]
    scores: Mapping[str, Sequence[Score]]
    models: Mapping[str, ModelSpec]
    attestations: Sequence[Attestation] = ()


@dataclass(frozen=True)
class Evidence:
    """One fact that decides a verdict, with its source."""

    text: str
    score: Score | None = None
    model: ModelSpec | None = None
    citation: Citation | None = None


@dataclass(frozen=True)
class AttestedCriterion:
    """A criterion only an attestation can settle, and the attestation that does, if any.

    Attributes:
        criterion: The criterion key (``mobile_demo``).
        model_slug: The model it is about, or None for the prediction as a whole.
        model_name: Display name of that model, if any.
        attestation: The deciding (latest) attestation, or None when nobody has attested.
    """

    criterion: str
    model_slug: str | None
    model_name: str | None
    attestation: Attestation | None

    @property
    def holds(self) -> bool | None:
        """True or False as attested; None when not attested."""
        return None if self.attestation is None else self.attestation.holds

    def __str__(self) -> str:
        label = CRITERION_LABELS.get(self.criterion, self.criterion.replace("_", " "))
        if self.model_name:
            label = f"{label} ({self.model_name})"
        att = self.attestation
        if att is None:
            return f"{label}: not attested"
        how = "attested" if att.holds else "attested as not met"
        return f"{label}: {how} by {att.citation.label} on {att.stated_on.isoformat()}"


@dataclass(frozen=True)
class PredictionVerdict:
    """The answer to "how is this prediction doing?".

    Attributes:
        code: The prediction's code.
        status: ``pending``, ``on track``, ``at risk``, ``hit``, ``miss`` or ``needs review``.
        resolved: Whether the status is final (hit or miss).
        resolved_on: For a hit or miss, the verification date or the day the data decided it.
        summary: One sentence.
        evidence: The models, scores and dates that decide it, each with its source.
        what_would_change_it: One sentence.
        days_to_verification: Days from ``today`` to the verification date (negative after it).
        verification_date: The prediction's verification date.
        as_of: The data cut-off used: ``min(today, verification_date)``.
        criteria: The attestation-based criteria, each attested or not.
        notes: Caveats (wording the rule interprets, estimates it relies on).
    """

    code: str
    status: Status
    resolved: bool
    resolved_on: date | None
    summary: str
    evidence: tuple[Evidence, ...]
    what_would_change_it: str
    days_to_verification: int
    verification_date: date
    as_of: date
    criteria: tuple[AttestedCriterion, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackRecord:
    """How the predictions have fared.

    Attributes:
        resolved: Hits plus misses.
        hits: Predictions resolved as hits.
        misses: Predictions resolved as misses.
        hit_rate: Hits ÷ resolved; None when nothing has resolved.
        needs_review: Unresolved predictions that need a person.
        pending: Unresolved predictions the data is still following (pending, on track, at risk).
        verdicts: The verdicts counted, in the order given.
    """

    resolved: int
    hits: int
    misses: int
    hit_rate: float | None
    needs_review: int
    pending: int
    verdicts: tuple[PredictionVerdict, ...]


class _ParamsError(InputError):
    """A prediction's parameters or data references that a rule cannot use."""


@dataclass(frozen=True)
class _Context:
    prediction: PredictionDef
    data: PredictionData
    today: date
    reports: Callable[..., GapReport] = gap_report
    cutoff: date = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cutoff", min(self.today, self.prediction.verification_date))

    @property
    def past_date(self) -> bool:
        return self.today >= self.prediction.verification_date

    @property
    def days_left(self) -> int:
        return (self.prediction.verification_date - self.today).days

    @property
    def deadline(self) -> str:
        return self.prediction.verification_date.isoformat()

    def benchmark(self, key: str) -> Benchmark:
        bench = self.data.benchmarks.get(key)
        if bench is None:
            raise _ParamsError(f"the data has no benchmark {key!r}")
        return bench

    def scores(self, key: str) -> list[Score]:
        """Scores of one benchmark available by the cut-off."""
        return [
            s
            for s in self.data.scores.get(key, ())
            if s.benchmark == key and s.available_on <= self.cutoff
        ]

    def best_by_model(self, key: str) -> dict[str, Score]:
        """Each model's best score on a benchmark by the cut-off (earliest among equals)."""
        best: dict[str, Score] = {}
        for s in self.scores(key):
            held = best.get(s.model_slug)
            if held is None or (s.value, -s.available_on.toordinal()) > (
                held.value,
                -held.available_on.toordinal(),
            ):
                best[s.model_slug] = s
        return best

    def is_open(self, score: Score) -> bool:
        spec = self.data.models.get(score.model_slug)
        if spec is not None and spec.open_weights is not None:
            return spec.open_weights
        return score.open_weights

    def attestation_for(self, criterion: str, model_slug: str | None) -> Attestation | None:
        """The deciding attestation: the latest for the model, else the latest prediction-wide."""
        mine = [
            a
            for a in self.data.attestations
            if a.prediction == self.prediction.code
            and a.criterion == criterion
            and a.stated_on <= self.today
        ]
        wanted_slugs = (model_slug, None) if model_slug is not None else (None,)
        for wanted in wanted_slugs:
            matching = [a for a in mine if a.model_slug == wanted]
            if matching:
                return max(matching, key=lambda a: a.stated_on)
        return None

    def model_attestations(self, criterion: str) -> list[Attestation]:
        """Model-specific attestations of a criterion, the latest per model."""
        latest: dict[str, Attestation] = {}
        for a in self.data.attestations:
            if (
                a.prediction == self.prediction.code
                and a.criterion == criterion
                and a.model_slug is not None
                and a.stated_on <= self.today
            ):
                held = latest.get(a.model_slug)
                if held is None or a.stated_on >= held.stated_on:
                    latest[a.model_slug] = a
        return list(latest.values())


Rule = Callable[[_Context], PredictionVerdict]


def evaluate(
    prediction: PredictionDef,
    data: PredictionData,
    *,
    today: date,
    reports: Callable[..., GapReport] = gap_report,
) -> PredictionVerdict:
    """Judge a prediction on the data as of ``today``.

    Args:
        prediction: The prediction and its rule.
        data: Benchmarks, headline scores, model facts and attestations.
        today: The date to judge on (never read from the clock).
        reports: What computes a gap report, called as :func:`frontier.gap.gap_report` is
            (a caller may pass one that keeps its reports).

    Returns:
        The verdict. An unknown rule or unusable parameters give ``needs review``, not an
        exception.
    """
    ctx = _Context(prediction, data, today, reports)
    rule = RULES.get(prediction.rule)
    if rule is None:
        return _verdict(
            ctx,
            "needs review",
            f"{prediction.code} names the rule {prediction.rule!r}, which gapwatch does not "
            "know, so the data cannot judge it.",
            (),
            f"Registering a rule named {prediction.rule!r}, or correcting the prediction's "
            "rule key, would let the data judge it.",
        )
    try:
        return rule(ctx)
    except _ParamsError as error:
        return _verdict(
            ctx,
            "needs review",
            f"{prediction.code}'s rule {prediction.rule!r} cannot run: {error.message}.",
            (),
            "Correcting the prediction's parameters or adding the missing data would let the "
            "rule run.",
        )


def track_record(verdicts: Sequence[PredictionVerdict]) -> TrackRecord:
    """Count hits, misses and open predictions.

    Args:
        verdicts: One verdict per prediction.

    Returns:
        The ``TrackRecord``; ``hit_rate`` is None until something resolves.
    """
    hits = sum(v.status == "hit" for v in verdicts)
    misses = sum(v.status == "miss" for v in verdicts)
    review = sum(v.status == "needs review" for v in verdicts)
    resolved = hits + misses
    return TrackRecord(
        resolved=resolved,
        hits=hits,
        misses=misses,
        hit_rate=hits / resolved if resolved else None,
        needs_review=review,
        pending=len(verdicts) - resolved - review,
        verdicts=tuple(verdicts),
    )


def status_change(old_status: str | None, new_verdict: PredictionVerdict) -> str | None:
    """Describe a status transition worth an alert, or None.

    Args:
        old_status: The status last recorded, or None if the prediction was never judged.
        new_verdict: The verdict just computed.

    Returns:
        ``"resolved: hit"`` when a prediction resolves, ``"reopened: hit → needs review"`` when
        a resolved one no longer is (corrected data), ``"on track → at risk"`` for any other
        change, and None when nothing changed or a first judgement is not a resolution.
    """
    new = new_verdict.status
    if old_status == new:
        return None
    if new_verdict.resolved:
        return f"resolved: {new}"
    if old_status is None:
        return None
    if old_status in RESOLVED:
        return f"reopened: {old_status} → {new}"
    return f"{old_status} → {new}"


# --- shared helpers ---------------------------------------------------------------------------


def _verdict(
    ctx: _Context,
    status: Status,
    summary: str,
    evidence: Iterable[Evidence],
    change: str,
    *,
    resolved_on: date | None = None,
    criteria: Iterable[AttestedCriterion] = (),
    notes: Iterable[str] = (),
) -> PredictionVerdict:
    resolved = status in RESOLVED
    return PredictionVerdict(
        code=ctx.prediction.code,
        status=status,
        resolved=resolved,
        resolved_on=resolved_on if resolved else None,
        summary=summary,
        evidence=tuple(evidence),
        what_would_change_it=change,
        days_to_verification=ctx.days_left,
        verification_date=ctx.prediction.verification_date,
        as_of=ctx.cutoff,
        criteria=tuple(criteria),
        notes=tuple(notes),
    )


def _param(ctx: _Context, name: str) -> object:
    try:
        return ctx.prediction.params[name]
    except KeyError:
        raise _ParamsError(f"parameter {name!r} is missing") from None


def _float_param(ctx: _Context, name: str) -> float:
    value = _param(ctx, name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _ParamsError(f"parameter {name!r} is not a number: {value!r}")
    try:
        return float(value)
    except ValueError:
        raise _ParamsError(f"parameter {name!r} is not a number: {value!r}") from None


def _str_param(ctx: _Context, name: str, default: str | None = None) -> str:
    value = ctx.prediction.params.get(name, default)
    if not isinstance(value, str) or not value:
        raise _ParamsError(f"parameter {name!r} is missing or not a name")
    return value


def _list_param(ctx: _Context, name: str) -> list[str]:
    value = _param(ctx, name)
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str) for v in value)
    ):
        raise _ParamsError(f"parameter {name!r} is not a list of names")
    return list(value)


def _date_param(ctx: _Context, name: str) -> date:
    value = _param(ctx, name)
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _ParamsError(f"parameter {name!r} is not an ISO date: {value!r}") from None


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def _usd(value: float) -> str:
    if value >= 1e6:
        return f"${value / 1e6:g}M"
    return f"${value / 1e3:g}K" if value >= 1e3 else f"${value:g}"


def _score_text(score: Score) -> str:
    approx = "~" if score.approximate else ""
    return f"{score.model_name} {approx}{_num(score.value)} ({score.available_on.isoformat()})"


def _score_evidence(prefix: str, score: Score, ctx: _Context) -> Evidence:
    return Evidence(
        text=f"{prefix}: {_score_text(score)}",
        score=score,
        model=ctx.data.models.get(score.model_slug),
        citation=score.citation,
    )


def _unmet(
    ctx: _Context,
    nothing: str,
    change: str,
    evidence: Sequence[Evidence],
    *,
    criteria: Iterable[AttestedCriterion] = (),
    notes: Iterable[str] = (),
) -> PredictionVerdict:
    """The verdict of an event prediction nothing satisfies: pending, at risk, or a miss."""
    if ctx.past_date:
        return _verdict(
            ctx,
            "miss",
            f"{nothing} by {ctx.deadline}, so {ctx.prediction.code} missed.",
            evidence,
            "Nothing in later data changes it; only a correction of data dated on or before "
            f"{ctx.deadline} would reopen it.",
            resolved_on=ctx.prediction.verification_date,
            criteria=criteria,
            notes=notes,
        )
    status: Status = "at risk" if ctx.days_left <= AT_RISK_WITHIN_DAYS else "pending"
    return _verdict(
        ctx,
        status,
        f"{nothing} as of {ctx.cutoff.isoformat()}, with {ctx.days_left} days left until "
        f"{ctx.deadline}.",
        evidence,
        change,
        criteria=criteria,
        notes=notes,
    )


# --- OB-001: parity persists ------------------------------------------------------------------


def _window_days(reports: Sequence[GapReport], window_start: date, end: date) -> list[date]:
    """The window's first day and every trajectory point inside it, oldest first.

    Gaps change only at trajectory points, so these days see every state the window held.
    """
    if end < window_start:
        return []
    inside = {p.date for r in reports for p in r.trajectory if window_start <= p.date <= end}
    return sorted({window_start} | inside)


class _Trajectories:
    """The reports' trajectories with their dates, listed once (not on every day read)."""

    def __init__(self, reports: Sequence[GapReport]) -> None:
        self.trajectories = [r.trajectory for r in reports]
        self.dates = [[p.date for p in r.trajectory] for r in reports]

    def points_on(self, day: date) -> list[GapPoint | None]:
        """Each report's point in force on ``day``; None before its first point."""
        found: list[GapPoint | None] = []
        for trajectory, dates in zip(self.trajectories, self.dates, strict=True):
            index = bisect_right(dates, day) - 1
            found.append(trajectory[index] if index >= 0 else None)
        return found


def _smallest_gap(points: Sequence[GapPoint | None]) -> float | None:
    """The smallest gap of the day; None when a benchmark has no gap (no breach possible)."""
    gaps = [p.gap if p is not None else None for p in points]
    return None if any(g is None for g in gaps) else min(g for g in gaps if g is not None)


def _first_breach(
    reports: Sequence[GapReport], window_start: date, end: date, max_gap: float
) -> tuple[date, list[GapPoint]] | None:
    """The first day in [window_start, end] when every benchmark's gap exceeds ``max_gap``."""
    trajectories = _Trajectories(reports)
    for day in _window_days(reports, window_start, end):
        points = trajectories.points_on(day)
        smallest = _smallest_gap(points)
        if smallest is not None and smallest > max_gap:
            return day, [p for p in points if p is not None]
    return None


def _closest_approach(
    reports: Sequence[GapReport], names: Sequence[str], window_start: date, end: date
) -> list[Evidence]:
    """The window's day whose smallest gap was largest: the nearest it came to a miss."""
    best: tuple[float, date, list[GapPoint | None]] | None = None
    trajectories = _Trajectories(reports)
    for day in _window_days(reports, window_start, end):
        points = trajectories.points_on(day)
        smallest = _smallest_gap(points)
        if smallest is not None and (best is None or smallest > best[0]):
            best = (smallest, day, points)
    if best is None:
        return []
    smallest, day, points = best
    gaps = ", ".join(
        f"{n} {_num(p.gap)}" for n, p in zip(names, points, strict=True) if p and p.gap is not None
    )
    return [
        Evidence(
            f"Closest the window came to a miss: on {day.isoformat()} the gaps were {gaps}; "
            f"the smallest, {_num(smallest)}, is what must exceed the line"
        )
    ]


def _gap_evidence(name: str, point: GapPoint, ctx: _Context, when: str) -> list[Evidence]:
    gap = "no gap" if point.gap is None else f"gap {_num(point.gap)}"
    evidence = []
    for side, score in (("best proprietary", point.proprietary), ("best open", point.open)):
        if score is not None:
            evidence.append(_score_evidence(f"{name} {gap} {when}, {side}", score, ctx))
        else:
            evidence.append(Evidence(f"{name} {when}: no {side} score"))
    return evidence


def _ob001_parity(ctx: _Context) -> PredictionVerdict:
    keys = _list_param(ctx, "benchmarks")
    max_gap = _float_param(ctx, "max_gap")
    window_start = _date_param(ctx, "window_start")
    benches = [ctx.benchmark(k) for k in keys]
    reports = [
        ctx.reports(b, ctx.scores(b.key), as_of=ctx.cutoff, threshold=max_gap) for b in benches
    ]
    names = [b.name.split(" (")[0] for b in benches]
    all_names = _and(names)
    breach = _first_breach(reports, window_start, ctx.cutoff, max_gap)
    if breach is not None:
        day, points = breach
        gaps = ", ".join(f"{n} {_num(p.gap or 0)}" for n, p in zip(names, points, strict=True))
        evidence = [
            e
            for n, p in zip(names, points, strict=True)
            for e in _gap_evidence(n, p, ctx, f"on {day}")
        ]
        return _verdict(
            ctx,
            "miss",
            f"On {day.isoformat()} the gap exceeded {_num(max_gap)} points on all of {all_names} "
            f"at once ({gaps}), so {ctx.prediction.code} missed.",
            evidence,
            "Nothing in later data changes it; only a correction of the scores listed would "
            "reopen it.",
            resolved_on=day,
        )
    current = [
        e
        for n, r in zip(names, reports, strict=True)
        for e in _gap_evidence(
            n, GapPoint(r.as_of, r.proprietary, r.open, r.gap), ctx, f"on {ctx.cutoff}"
        )
    ]
    current += _closest_approach(reports, names, window_start, ctx.cutoff)
    if ctx.past_date:
        return _verdict(
            ctx,
            "hit",
            f"From {window_start.isoformat()} to {ctx.deadline} the gap never exceeded "
            f"{_num(max_gap)} points on all of {all_names} at once, so {ctx.prediction.code} hit.",
            current,
            f"Nothing in later data changes it; only a correction of scores dated on or before "
            f"{ctx.deadline} would reopen it.",
            resolved_on=ctx.prediction.verification_date,
        )
    return _ob001_open(ctx, names, reports, max_gap, window_start, current)


def _ob001_open(
    ctx: _Context,
    names: Sequence[str],
    reports: Sequence[GapReport],
    max_gap: float,
    window_start: date,
    evidence: Sequence[Evidence],
) -> PredictionVerdict:
    line = _num(max_gap)
    state = ", ".join(
        f"{n} {'n/a' if r.gap is None else _num(r.gap)}"
        for n, r in zip(names, reports, strict=True)
    )
    over = [n for n, r in zip(names, reports, strict=True) if r.exceeds_threshold]
    under = [n for n in names if n not in over]
    noisy = [n for n, r in zip(names, reports, strict=True) if r.within_noise]
    notes = [f"The window opens on {window_start.isoformat()}."] if ctx.today < window_start else []
    noise_text = f"; within sampling noise of the line: {_and(noisy)}" if noisy else ""
    if not over and not noisy:
        return _verdict(
            ctx,
            "on track",
            f"No benchmark's gap exceeds {line} points on {ctx.cutoff.isoformat()} ({state}).",
            evidence,
            f"A proprietary model opening a gap above {line} points on {_and(names)} at once "
            f"before {ctx.deadline} would miss it; otherwise it is a hit on {ctx.deadline}.",
            notes=notes,
        )
    over_text = f"exceeds {line} points on {_and(over)}" if over else f"exceeds {line} nowhere"
    return _verdict(
        ctx,
        "at risk",
        f"On {ctx.cutoff.isoformat()} the gap {over_text} ({state}){noise_text}.",
        evidence,
        f"It misses if the gap also exceeds {line} points on {_and(under) or 'the rest'} while "
        f"it stays above on the others before {ctx.deadline}; gaps back under {line} "
        "everywhere put it on track.",
        notes=notes,
    )


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --- OB-002: a small open model at a given MMLU, demonstrated on a phone ----------------------


def _ob002_small_model(ctx: _Context) -> PredictionVerdict:
    key = _str_param(ctx, "benchmark")
    min_score = _float_param(ctx, "min_score")
    max_params = _float_param(ctx, "max_params_b")
    criterion = _str_param(ctx, "needs_attestation", "mobile_demo")
    bench = ctx.benchmark(key)
    notes = [
        f"The claim says a 4B model matching Llama 2 70B (MMLU ~69%); the rule follows the "
        f"threshold: under {_num(max_params)}B parameters (exactly {_num(max_params)}B does not "
        f"count) and {bench.name.split(' (')[0]} ≥ {_num(min_score)}."
    ]
    qualifying: list[tuple[Score, ModelSpec]] = []
    evidence: list[Evidence] = []
    for score in sorted(ctx.best_by_model(key).values(), key=lambda s: s.available_on):
        spec = ctx.data.models.get(score.model_slug)
        if not ctx.is_open(score) or score.value < min_score:
            continue
        size = spec.total_params_b if spec is not None else None
        if size is None:
            evidence.append(
                _score_evidence("Parameter count not sourced, so not counted", score, ctx)
            )
        elif size < max_params:
            assert spec is not None
            qualifying.append((score, spec))
    criteria = [
        AttestedCriterion(
            criterion, s.model_slug, s.model_name, ctx.attestation_for(criterion, s.model_slug)
        )
        for s, _ in qualifying
    ]
    for (score, spec), crit in zip(qualifying, criteria, strict=True):
        evidence.append(
            Evidence(
                f"{spec.name}: {_num(spec.total_params_b or 0)}B parameters, "
                f"{bench.name.split(' (')[0]} {_num(score.value)} ({score.available_on}); {crit}",
                score=score,
                model=spec,
                citation=spec.params_citation or score.citation,
            )
        )
        if crit.attestation is not None:
            evidence.append(
                Evidence(crit.attestation.statement, model=spec, citation=crit.attestation.citation)
            )
    hits = [(s, c) for (s, _), c in zip(qualifying, criteria, strict=True) if c.holds]
    if hits:
        score, crit = min(hits, key=lambda h: _met_on(h[0], h[1]))
        return _verdict(
            ctx,
            "hit",
            f"{score.model_name} is an open model under {_num(max_params)}B parameters at "
            f"{_num(score.value)} on {bench.name.split(' (')[0]} with an attested mobile demo, so "
            f"{ctx.prediction.code} hit.",
            evidence,
            "Only a correction of the score, the parameter count or the attestation would "
            "reopen it.",
            resolved_on=_met_on(score, crit),
            criteria=criteria,
            notes=notes,
        )
    unattested = [c for c in criteria if c.holds is None]
    if unattested:
        return _verdict(
            ctx,
            "needs review",
            f"{_and([c.model_name or '' for c in unattested])} meets the data criteria, but no one "
            "has attested the mobile demo, which the data cannot settle.",
            evidence,
            "An admin's attestation of the mobile demo (held or not) decides it; until then it "
            "stays in review, also after the verification date, because a missing attestation is "
            "not evidence that no demo happened.",
            criteria=criteria,
            notes=notes,
        )
    if not criteria:
        criteria = [AttestedCriterion(criterion, None, None, ctx.attestation_for(criterion, None))]
    evidence += _closest_small(ctx, key, max_params)
    return _unmet(
        ctx,
        f"No open model under {_num(max_params)}B parameters reaches {_num(min_score)} on "
        f"{bench.name.split(' (')[0]} with a mobile demo",
        f"An open model under {_num(max_params)}B parameters scoring at least {_num(min_score)}, "
        "with an attested mobile demo, before the verification date would make it a hit.",
        evidence,
        criteria=criteria,
        notes=notes,
    )


def _met_on(score: Score, crit: AttestedCriterion) -> date:
    stated = crit.attestation.stated_on if crit.attestation is not None else score.available_on
    return max(score.available_on, stated)


def _closest_small(ctx: _Context, key: str, max_params: float) -> list[Evidence]:
    small = [
        s
        for s in ctx.best_by_model(key).values()
        if ctx.is_open(s)
        and (spec := ctx.data.models.get(s.model_slug)) is not None
        and spec.total_params_b is not None
        and spec.total_params_b < max_params
    ]
    if not small:
        return [Evidence(f"No open model under {_num(max_params)}B parameters has a score yet.")]
    best = max(small, key=lambda s: s.value)
    return [_score_evidence(f"Best open model under {_num(max_params)}B so far", best, ctx)]


# --- OB-003: frontier-class training under a budget -------------------------------------------


def _ob003_cheap_training(ctx: _Context) -> PredictionVerdict:
    key = _str_param(ctx, "benchmark")
    min_score = _float_param(ctx, "min_score")
    max_cost = _float_param(ctx, "max_cost_usd")
    bench_name = ctx.benchmark(key).name.split(" (")[0]
    frontier_class = {slug: s for slug, s in ctx.best_by_model(key).items() if s.value > min_score}
    evidence: list[Evidence] = []
    sourced_hits: list[Score] = []
    for score in sorted(frontier_class.values(), key=lambda s: s.available_on):
        spec = ctx.data.models.get(score.model_slug)
        cost = spec.training_cost_usd if spec is not None else None
        cite = spec.training_cost_citation if spec is not None else None
        if cost is None or cite is None:
            evidence.append(
                _score_evidence(f"{bench_name} > {_num(min_score)}, cost not sourced", score, ctx)
            )
            continue
        approx = "~" if spec is not None and spec.training_cost_approximate else ""
        relation = "under" if cost < max_cost else "not under"
        evidence.append(
            Evidence(
                f"{score.model_name}: {bench_name} {_num(score.value)}, training cost "
                f"{approx}{_usd(cost)}, {relation} {_usd(max_cost)}",
                score=score,
                model=spec,
                citation=cite,
            )
        )
        if cost < max_cost:
            sourced_hits.append(score)
    criteria = _cost_criteria(ctx, frontier_class)
    evidence += [
        Evidence(c.attestation.statement, citation=c.attestation.citation)
        for c in criteria
        if c.attestation is not None
    ]
    attested = [c for c in criteria if c.holds and c.model_slug in frontier_class]
    if sourced_hits or attested:
        return _ob003_hit(ctx, frontier_class, sourced_hits, attested, evidence, criteria, max_cost)
    claims = [c for c in criteria if c.holds]
    if claims:
        return _verdict(
            ctx,
            "needs review",
            f"An attestation claims frontier-class training under {_usd(max_cost)}, but the data "
            f"shows no {bench_name} score above {_num(min_score)} for the model it names.",
            evidence,
            f"A sourced {bench_name} score above {_num(min_score)} for that model, or an admin "
            "withdrawing the attestation, decides it.",
            criteria=criteria,
        )
    return _unmet(
        ctx,
        f"No model above {_num(min_score)} on {bench_name} has a sourced training cost under "
        f"{_usd(max_cost)}",
        f"A sourced (or attested) training cost under {_usd(max_cost)} for a model above "
        f"{_num(min_score)} on {bench_name} before the verification date would make it a hit.",
        evidence,
        criteria=criteria,
    )


def _cost_criteria(ctx: _Context, frontier_class: Mapping[str, Score]) -> list[AttestedCriterion]:
    """Training-cost attestations: the latest per model, then one for the whole prediction."""
    out = []
    for att in ctx.model_attestations("training_cost"):
        slug = att.model_slug or ""
        spec = ctx.data.models.get(slug)
        score = frontier_class.get(slug)
        name = score.model_name if score else spec.name if spec else slug
        out.append(AttestedCriterion("training_cost", att.model_slug, name, att))
    wide = ctx.attestation_for("training_cost", None)
    if wide is not None:
        out.append(AttestedCriterion("training_cost", None, None, wide))
    return out


def _ob003_hit(
    ctx: _Context,
    frontier_class: Mapping[str, Score],
    sourced: Sequence[Score],
    attested: Sequence[AttestedCriterion],
    evidence: Sequence[Evidence],
    criteria: Sequence[AttestedCriterion],
    max_cost: float,
) -> PredictionVerdict:
    dated = [(s.available_on, s.model_name, "a sourced") for s in sourced]
    for c in attested:
        assert c.attestation is not None and c.model_slug is not None
        score = frontier_class[c.model_slug]
        dated.append(
            (max(score.available_on, c.attestation.stated_on), score.model_name, "an attested")
        )
    met_on, name, how = min(dated)
    return _verdict(
        ctx,
        "hit",
        f"{name} is frontier-class with {how} training cost under {_usd(max_cost)}, so "
        f"{ctx.prediction.code} hit.",
        evidence,
        "Only a correction of the score, the cost or its attestation would reopen it.",
        resolved_on=met_on,
        criteria=criteria,
    )


# --- AV-003: consumer-GPU parity with a baseline model ----------------------------------------


@dataclass(frozen=True)
class _Candidate:
    spec: ModelSpec
    scores: tuple[Score, ...]
    short: tuple[str, ...]  # benchmarks where it is below the baseline
    fit: FitReport | None  # None when its size is unknown

    @property
    def fits(self) -> bool:
        return self.fit is not None and self.fit.fits_at_min_bits

    @property
    def met_on(self) -> date:
        return max(s.available_on for s in self.scores)


def _av003_consumer_parity(ctx: _Context) -> PredictionVerdict:
    keys = _list_param(ctx, "benchmarks")
    baseline_slug = _str_param(ctx, "baseline_model")
    vram = _float_param(ctx, "vram_gib")
    min_bits = _float_param(ctx, "min_bits")
    context = (
        int(_float_param(ctx, "context")) if "context" in ctx.prediction.params else DEFAULT_CONTEXT
    )
    best = {k: ctx.best_by_model(k) for k in keys}
    names = {k: ctx.benchmark(k).name.split(" (")[0] for k in keys}
    baseline = {k: best[k].get(baseline_slug) for k in keys}
    missing = [names[k] for k, s in baseline.items() if s is None]
    if missing:
        raise _ParamsError(
            f"the baseline {baseline_slug!r} has no {_and(missing)} score by {ctx.cutoff}"
        )
    base = {k: s for k, s in baseline.items() if s is not None}
    candidates = _av003_candidates(ctx, keys, best, base, vram, context, min_bits)
    evidence = [_score_evidence(f"Baseline {names[k]}", base[k], ctx) for k in keys]
    winners = sorted((c for c in candidates if c.fits and not c.short), key=lambda c: c.met_on)
    for c in winners:
        evidence += [_score_evidence(f"{names[s.benchmark]} ≥ baseline", s, ctx) for s in c.scores]
        evidence.append(_fit_evidence(c, vram, min_bits, context))
    evidence += _av003_exclusions(candidates, names, base, vram, min_bits, context)
    if winners:
        first = winners[0]
        return _verdict(
            ctx,
            "hit",
            f"{first.spec.name} fits {_num(vram)} GiB at {_num(min_bits)}-bit or better and scores "
            f"at or above {base[keys[0]].model_name} on {_and(list(names.values()))} with scores "
            f"available by {first.met_on.isoformat()}, so {ctx.prediction.code} hit.",
            evidence,
            "Only a correction of those scores or of the model's size would reopen it; scores "
            f"published after {ctx.deadline} do not count.",
            resolved_on=first.met_on,
            notes=_fit_notes(winners[0]),
        )
    return _unmet(
        ctx,
        f"No open model that fits {_num(vram)} GiB at {_num(min_bits)}-bit or better matches "
        f"{base[keys[0]].model_name} on {_and(list(names.values()))}",
        f"An open model fitting {_num(vram)} GiB at {_num(min_bits)}-bit with scores at or above "
        f"the baseline on every benchmark before {ctx.deadline} would make it a hit.",
        evidence,
    )


def _av003_candidates(
    ctx: _Context,
    keys: Sequence[str],
    best: Mapping[str, Mapping[str, Score]],
    base: Mapping[str, Score],
    vram: float,
    context: int,
    min_bits: float,
) -> list[_Candidate]:
    out = []
    for slug, spec in ctx.data.models.items():
        if not spec.open_weights or not all(slug in best[k] for k in keys):
            continue
        scores = tuple(best[k][slug] for k in keys)
        short = tuple(s.benchmark for s in scores if s.value < base[s.benchmark].value)
        sized = spec.total_params_b is not None and spec.total_params_b > 0
        fit = (
            fit_report(spec, budget_gib=vram, context=context, min_bits=min_bits) if sized else None
        )
        out.append(_Candidate(spec, scores, short, fit))
    return out


def _fit_evidence(c: _Candidate, vram: float, min_bits: float, context: int) -> Evidence:
    assert c.fit is not None
    e = c.fit.estimate
    verdict = "fits" if c.fits else "does not fit"
    return Evidence(
        f"{c.spec.name} ({_num(c.spec.total_params_b or 0)}B) {verdict} {_num(vram)} GiB at "
        f"{_num(min_bits)}-bit or better: {e.quant.name} {e.weights_gib:.1f} GiB weights + "
        f"{e.kv_cache_gib:.1f} GiB KV cache ({context:,} tokens) + {e.overhead_gib:.1f} GiB "
        f"overhead = {e.total_gib:.1f} GiB",
        model=c.spec,
        citation=c.spec.params_citation,
    )


def _fit_notes(c: _Candidate) -> tuple[str, ...]:
    return c.fit.notes if c.fit is not None else ()


def _av003_exclusions(
    candidates: Sequence[_Candidate],
    names: Mapping[str, str],
    base: Mapping[str, Score],
    vram: float,
    min_bits: float,
    context: int,
) -> list[Evidence]:
    out = []
    for c in candidates:
        if not c.short and c.fit is None:
            out.append(
                Evidence(
                    f"{c.spec.name} meets the baseline but its size is unknown: excluded",
                    model=c.spec,
                )
            )
        elif not c.short and not c.fits:
            fit = _fit_evidence(c, vram, min_bits, context)
            out.append(Evidence(f"Excluded: {fit.text}", model=c.spec, citation=fit.citation))
        elif c.short and c.fits:
            below = [
                f"{names[s.benchmark]} {_num(s.value)} < {_num(base[s.benchmark].value)}"
                for s in c.scores
                if s.benchmark in c.short
            ]
            out.append(
                Evidence(
                    f"{c.spec.name} fits but is below the baseline on {_and(below)}",
                    model=c.spec,
                    citation=c.scores[0].citation,
                )
            )
    return out


RULES: Mapping[str, Rule] = {
    "ob001_parity": _ob001_parity,
    "ob002_small_model": _ob002_small_model,
    "ob003_cheap_training": _ob003_cheap_training,
    "av003_consumer_parity": _av003_consumer_parity,
}
"""Prediction rules by the ``rule`` key of ``predictions.csv``."""
