"""Answer objects rendered as plain text for the terminal console and ``gapwatch ask``."""

from __future__ import annotations

from bot.answers import (
    AboutAnswer,
    FitAnswer,
    FitListAnswer,
    Leaderboard,
    ModelCard,
    PredictionAnswer,
    SourceStatus,
)
from frontier.audit import AuditReport
from frontier.fits import FitReport
from frontier.gap import Dashboard, GapReport
from frontier.lag import LagReport
from frontier.predictions import Evidence, TrackRecord
from frontier.types import Score, fmt_value


def fmt_points(value: float | None, *, signed: bool = True) -> str:
    """A gap or change in points: ``+2.1``, ``-0.4``, ``n/a``."""
    if value is None:
        return "n/a"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def fmt_score(score: Score) -> str:
    """``GPT-4 86.4% (5-shot)``, with ``~`` for an approximate figure."""
    approx = "~" if score.approximate else ""
    setting = f" ({score.setting})" if score.setting else ""
    return f"{score.model_name} {approx}{fmt_value(score.value, score.unit)}{setting}"


def cite(score: Score) -> str:
    """A score's provenance: date available and source (with URL where known)."""
    url = f" <{score.citation.url}>" if score.citation.url else ""
    return f"available {score.available_on.isoformat()}; source: {score.citation.label}{url}"


def gap_headline(report: GapReport) -> str:
    """One sentence: who leads and by how much."""
    name = report.benchmark.name
    if report.gap is None:
        missing = "proprietary" if report.proprietary is None else "open-weights"
        return f"{name}: no {missing} score on or before {report.as_of.isoformat()}"
    if report.leader == "tie":
        return f"{name}: proprietary and open-weights are tied"
    side = "proprietary" if report.leader == "proprietary" else "open-weights"
    return f"{name}: {side} leads by {abs(report.gap):.1f} points"


def gap_text(report: GapReport) -> str:
    """The whole gap answer for a terminal."""
    lines = [f"{gap_headline(report)} (as of {report.as_of.isoformat()})"]
    for label, score in (("Best proprietary", report.proprietary), ("Best open", report.open)):
        if score is None:
            lines.append(f"  {label}: none")
        else:
            lines.append(f"  {label}: {fmt_score(score)} — {cite(score)}")
    if report.gap is not None:
        lines.append(
            f"  Gap (P − O): {fmt_points(report.gap)} points; change 3 mo "
            f"{fmt_points(report.change_3m)}, 6 mo {fmt_points(report.change_6m)}, "
            f"12 mo {fmt_points(report.change_12m)}"
        )
    if report.noise is not None:
        low, high = report.noise.gap
        verdict = "within noise of" if report.noise.within_noise else "clear of"
        lines.append(
            f"  95% interval of the gap: {low:+.1f} to {high:+.1f} points "
            f"({report.noise.n_questions:,} questions) — {verdict} the "
            f"{report.threshold:.1f}-point threshold"
        )
    if report.trajectory:
        lines.append("  Trajectory (a point wherever either frontier changes):")
        for point in report.trajectory:
            prop = fmt_score(point.proprietary) if point.proprietary else "—"
            opn = fmt_score(point.open) if point.open else "—"
            gap = fmt_points(point.gap)
            lines.append(f"    {point.date.isoformat()}  P {prop:<34} O {opn:<34} gap {gap}")
    if report.newest_data_on is not None:
        lines.append(
            f"  Newest data: {report.newest_data_on.isoformat()} ({report.data_age_days} days old)"
        )
    lines.extend(f"  Note: {note}" for note in report.notes)
    return "\n".join(lines)


def about_text(answer: AboutAnswer) -> str:
    """Version and data freshness."""
    counts = ", ".join(f"{value:,} {name}" for name, value in answer.counts.items())
    newest = answer.newest_data_on.isoformat() if answer.newest_data_on else "none"
    return "\n".join(
        [
            f"gapwatch {answer.version} — open-weights vs proprietary AI models, with sources",
            f"  Store: {answer.database}; {counts}",
            f"  Bundled dataset: {answer.dataset_version or 'not loaded'}; newest score {newest}",
        ]
    )


def lag_text(report: LagReport) -> str:
    """Lag in months by Epoch AI's catch-up method, with the matched pairs."""
    name = report.benchmark.name
    lines = [f"{name}: how many months open-weights models trail the proprietary frontier"]
    if report.mean_months is not None:
        lines.append(
            f"  Mean lag over {len(report.pairs)} catch-ups: {report.mean_months:.1f} months "
            f"(Epoch AI's method: −ln(1−acc) scale, tolerance {report.tolerance})"
        )
    else:
        lines.append("  No proprietary record has been matched by an open model yet")
    for pair in report.pairs:
        lines.append(
            f"  {fmt_score(pair.open)} ({pair.open.available_on.isoformat()}) matched "
            f"{fmt_score(pair.closed)} ({pair.closed.available_on.isoformat()}) after "
            f"{pair.months:.1f} months — sources: {pair.closed.citation.label}; "
            f"{pair.open.citation.label}"
        )
    for lag in report.open_lags:
        lines.append(
            f"  Not yet matched: {fmt_score(lag.closed)} ({lag.closed.available_on.isoformat()}) "
            f"— at least {lag.months:.1f} months so far; source: {lag.closed.citation.label}"
        )
    for skipped in report.skipped:
        lines.append(
            f"  Skipped {fmt_score(skipped.closed)}: {skipped.reason} "
            f"({fmt_score(skipped.covered_by)})"
        )
    lines.append(f"  As of {report.as_of.isoformat()}")
    return "\n".join(lines)


def dashboard_text(board: Dashboard) -> str:
    """Every tracked benchmark's gap and direction."""
    lines = ["Gap dashboard (points, proprietary − open; negative: open leads)"]
    for row in board.rows:
        direction = row.direction or "not enough data"
        since = f" since {row.change_since.isoformat()}" if row.change_since else ""
        newest = row.newest_data_on.isoformat() if row.newest_data_on else "none"
        stale = " (stale)" if row.stale else ""
        noise = " — within noise" if row.within_noise else ""
        lines.append(
            f"  {row.benchmark.name:<12} gap {fmt_points(row.gap):>6}  {direction}"
            f" (change {fmt_points(row.change)}{since}){noise}; newest data {newest}{stale}"
        )
    return "\n".join(lines)


def fmt_gib(value: float) -> str:
    """``21.7 GiB``."""
    return f"{value:.1f} GiB"


def fit_lines(report: FitReport) -> list[str]:
    """The memory breakdown of one fit report."""
    est = report.estimate
    verdict = "fits" if report.fits else "does NOT fit"
    lines = [
        f"  At {est.quant.name} ({est.quant.bits_per_weight:.2f} bits/weight), "
        f"{report.context:,} tokens, KV cache {report.kv_cache_type}: "
        f"{fmt_gib(est.total_gib)} — {verdict} {report.budget_gib:g} GiB "
        f"(headroom {report.headroom_gib:+.1f} GiB)",
        f"    weights {fmt_gib(est.weights_gib)} + KV cache {fmt_gib(est.kv_cache_gib)}"
        f"{'' if est.kv_exact else ' (estimate)'} + runtime overhead {fmt_gib(est.overhead_gib)}",
        f"    bits per weight: {est.quant.source}",
    ]
    if report.best_quant is not None:
        lines.append(f"  Best format that fits: {report.best_quant.name}")
    if report.longest_context is not None:
        lines.append(f"  Longest context at {est.quant.name}: {report.longest_context:,} tokens")
    lines.extend(f"  Note: {note}" for note in report.notes)
    return lines


def fits_text(answer: FitAnswer | FitListAnswer) -> str:
    """One model's fit, or the ranked list of models that fit."""
    if isinstance(answer, FitAnswer):
        spec, report = answer.model, answer.report
        params = f"{report.total_params_b:g}B parameters"
        if report.active_params_b:
            params += f" ({report.active_params_b:g}B active)"
        cite_params = f"; source: {spec.params_citation.label}" if spec.params_citation else ""
        arch = ""
        if spec.architecture_citation:
            arch = f"; architecture: {spec.architecture_citation.label}"
        return "\n".join([f"{spec.name}: {params}{cite_params}{arch}", *fit_lines(report)])
    ranking = answer.ranking
    lines = [
        f"Open-weights models that fit {ranking.budget_gib:g} GiB at ≥{ranking.min_bits:g}-bit "
        f"with {ranking.context:,} tokens, ranked by {answer.benchmark.name}:"
    ]
    if not ranking.fits:
        lines.append("  none")
    for number, item in enumerate(ranking.fits, start=1):
        report, score = item.report, item.score
        quant = report.best_quant.name if report.best_quant else "?"
        bench = (
            f"{answer.benchmark.name} {fmt_value(score.value, score.unit)}" if score else "no score"
        )
        source = f" ({score.citation.label})" if score else ""
        lines.append(
            f"  {number:>2}. {report.model_name} — {quant} {fmt_gib(report.estimate.total_gib)}"
            f" — {bench}{source}"
        )
    if answer.count > len(ranking.fits):
        lines.append(f"  … {answer.count - len(ranking.fits):,} more fit; the best listed.")
    if ranking.unsized:
        names = ", ".join(m.name for m in ranking.unsized[:10])
        lines.append(f"  Without a known parameter count (not estimated): {names}")
    lines.append("  Memory = weights + KV cache + runtime overhead; GiB = 2^30 bytes.")
    return "\n".join(lines)


def model_text(card: ModelCard) -> str:
    """A model card."""
    spec = card.model
    openness = {True: "open weights", False: "proprietary", None: "openness unknown"}
    facts = [openness[spec.open_weights]]
    if spec.organization:
        facts.append(spec.organization)
    if spec.total_params_b:
        facts.append(f"{spec.total_params_b:g}B parameters")
    if spec.active_params_b:
        facts.append(f"{spec.active_params_b:g}B active")
    if spec.released_on:
        facts.append(f"released {spec.released_on.isoformat()}")
    if card.license:
        facts.append(f"licence {card.license}")
    lines = [f"{spec.name} — " + ", ".join(facts)]
    if spec.params_citation:
        url = f" <{spec.params_citation.url}>" if spec.params_citation.url else ""
        lines.append(f"  Facts: {spec.params_citation.label}{url}")
    if spec.training_cost_usd:
        approx = "~" if spec.training_cost_approximate else ""
        source = spec.training_cost_citation.label if spec.training_cost_citation else "unsourced"
        lines.append(f"  Training cost: {approx}${spec.training_cost_usd:,.0f} — {source}")
    lines.append("  Scores:")
    if not card.scores:
        lines.append("    none")
    for item in card.scores:
        mark = "" if item.headline else " (other source)"
        lines.append(f"    {item.benchmark}: {fmt_score(item.score)}{mark} — {cite(item.score)}")
    if card.fit is not None:
        lines.append("  Memory:")
        lines.extend("  " + line for line in fit_lines(card.fit))
    return "\n".join(lines)


def leaderboard_text(board: Leaderboard) -> str:
    """The best headline scores on a benchmark."""
    scope = "open-weights models" if board.open_only else "all models"
    lines = [
        f"{board.benchmark.name} leaderboard, {scope} (top {len(board.rows)} of {board.total}, "
        f"as of {board.as_of.isoformat()})"
    ]
    for number, score in enumerate(board.rows, start=1):
        side = "open" if score.open_weights else "prop"
        lines.append(
            f"  {number:>2}. {fmt_score(score)} [{side}] — {score.available_on.isoformat()}, "
            f"{score.citation.label}"
        )
    return "\n".join(lines)


def prediction_text(answer: PredictionAnswer) -> str:
    """A prediction, its live verdict and the evidence with sources."""
    p, v = answer.prediction, answer.verdict
    when = (
        f"{v.days_to_verification} days to go"
        if v.days_to_verification >= 0
        else f"{-v.days_to_verification} days ago"
    )
    lines = [
        f"{p.code} — {p.title}: {v.status.upper()}"
        + (f" (resolved {v.resolved_on})" if v.resolved and v.resolved_on else ""),
        f"  Claim: {p.claim}",
        f"  Threshold: {p.threshold}",
        f"  Verification date: {p.verification_date} ({when}); data as of {v.as_of}",
        f"  Verdict: {v.summary}",
    ]
    lines.extend(f"  Evidence: {e.text}" + _evidence_source(e) for e in v.evidence)
    lines.extend(f"  Criterion: {c}" for c in v.criteria)
    lines.append(f"  What would change it: {v.what_would_change_it}")
    lines.extend(f"  Note: {n}" for n in v.notes)
    lines.append(f"  Source of the claim: {p.citation.label}")
    return "\n".join(lines)


def _evidence_source(evidence: Evidence) -> str:
    citation = evidence.citation or (evidence.score.citation if evidence.score else None)
    return f" — source: {citation.label}" if citation else ""


def predictions_text(answers: list[PredictionAnswer]) -> str:
    """Every prediction with its status."""
    lines = ["Predictions (evaluated live against the data):"]
    for a in answers:
        v = a.verdict
        lines.append(
            f"  {a.prediction.code} {v.status:<12} due {a.prediction.verification_date} — "
            f"{a.prediction.title}: {v.summary}"
        )
    return "\n".join(lines)


def trackrecord_text(record: TrackRecord) -> str:
    """Resolved, hits, misses and hit rate."""
    rate = f"{record.hit_rate:.0%}" if record.hit_rate is not None else "n/a (none resolved)"
    lines = [
        f"Track record: {record.resolved} resolved — {record.hits} hit, {record.misses} missed; "
        f"hit rate {rate}; {record.pending} open, {record.needs_review} need review"
    ]
    for v in record.verdicts:
        resolved = f" on {v.resolved_on}" if v.resolved and v.resolved_on else ""
        lines.append(f"  {v.code}: {v.status}{resolved}")
    return "\n".join(lines)


def audit_text(report: AuditReport) -> str:
    """Every figure the report states, checked."""
    counts = ", ".join(f"{n} {verdict}" for verdict, n in report.counts.items())
    lines = [f"Audit of the analyst report's figures: {counts}"]
    for item in report.items:
        computed = "—" if item.computed is None else f"{item.computed:g}"
        lines.append(
            f"  [{item.verdict}] {item.id}: stated {item.stated.text!s} vs computed {computed} — "
            f"{item.reason}"
        )
    return "\n".join(lines)


def sources_text(statuses: list[SourceStatus]) -> str:
    """Each source's last poll, last success and last error."""
    lines = ["Sources (polled, then the bundled dataset's references):"]
    for s in statuses:
        if s.kind == "reference":
            continue
        polled = s.last_polled_at.isoformat(timespec="minutes") if s.last_polled_at else "never"
        ok = s.last_success_at.isoformat(timespec="minutes") if s.last_success_at else "never"
        error = (
            f"; last error: {s.last_error} ({s.consecutive_failures} in a row)"
            if s.last_error
            else ""
        )
        lines.append(f"  {s.key}: {s.name} — last poll {polled}, last success {ok}{error}")
    refs = [s for s in statuses if s.kind == "reference"]
    lines.append(f"  + {len(refs)} cited references of the bundled dataset (see docs/data.md)")
    return "\n".join(lines)
