"""Answer objects rendered as plain text for the terminal console and ``gapwatch ask``."""

from __future__ import annotations

from bot.answers import AboutAnswer
from frontier.gap import GapReport
from frontier.types import Score


def fmt_points(value: float | None, *, signed: bool = True) -> str:
    """A gap or change in points: ``+2.1``, ``-0.4``, ``n/a``."""
    if value is None:
        return "n/a"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def fmt_score(score: Score) -> str:
    """``GPT-4 86.4% (5-shot)``, with ``~`` for an approximate figure."""
    approx = "~" if score.approximate else ""
    setting = f" ({score.setting})" if score.setting else ""
    return f"{score.model_name} {approx}{score.value:.1f}%{setting}"


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
