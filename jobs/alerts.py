"""The alert rules wired to the store: from a data change to outbox rows, in one transaction.

- :meth:`AlertRules.after_ingest` runs inside the poll's transaction (``Poller(after_ingest=…)``):
  gap crossings (per server, with hysteresis), new models that fit a server's VRAM budget, new
  open-weights bests, catch-ups (Epoch's rule), format drift, and the status of the predictions
  that read a benchmark whose scores changed. Each alert is written with
  :func:`jobs.delivery.write_alert`, so it commits (or rolls back) with the data.
- :meth:`AlertRules.after_failure` runs when a poll fails: a ``SourceFormatError`` is format
  drift, told once per episode.
- :func:`resolve_predictions` is the daily job (00:05 UTC): it evaluates every prediction, stores
  status, verdict, evidence and ``resolved_on``, and alerts subscribers when one resolves or
  changes status (:func:`judge_predictions`, which ingests call for the predictions they touch).
- :func:`check_sources` tells servers' admins about a source down for hours.
- :class:`AlertService` is what the slash commands call: server settings, subscriptions, the
  test alert and ``/alerts why``.

**Memory.** ``rule_state`` rows hold what each rule last saw: ``guild:<id>`` / ``gap:<bench>``
(the latch), ``global`` / ``catch_up:<bench>`` (pairs already announced), ``source:<key>`` /
``seen`` (the source has been ingested before), ``source:<key>`` / ``health`` and
``source:<key>`` / ``drift`` (since when its format drifted, announced once). Because that
memory lives in the store, a change that happened while the bot was down is compared with the
state from before the outage and alerts once the bot is back; and because it is updated in the
alerting transaction, replaying the same data finds nothing new.

**No floods.** A server's gap latches are set silently when it turns alerts on
(:meth:`AlertService.set_channel`); a source's first ingest is a silent baseline for every
rule (its whole catalogue is "new"); catch-ups seen for the first time on a benchmark are a
baseline; a prediction judged for the first time alerts only if it resolved within the last
week; events about data older than :data:`EVENT_STALE_AFTER` are dropped as ``source stale``.
A prediction's status is about the whole store, so a source's first ingest may change it (and
alert its followers); format drift is about the bot, so it is told on a first ingest too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from db import queries
from db import tables as t
from db.engine import session_scope
from db.types import utcnow
from frontier import alert_rules as rules
from frontier.errors import InputError
from frontier.fits import DEFAULT_CONTEXT, FitReport
from frontier.gap import GapReport, gap_report
from frontier.lag import UnsupportedBenchmarkError, lag_report
from frontier.predictions import PredictionData, PredictionVerdict, evaluate, status_change
from frontier.types import Score, fmt_value
from jobs.delivery import Target, prune_traces, record_trace, write_alert
from jobs.ingest import ChangeEvent, IngestResult
from jobs.sources.base import SourceError, SourceFormatError

log = logging.getLogger(__name__)

EVENT_STALE_AFTER = timedelta(days=90)
"""An event about data dated more than a quarter ago (a source back-filling history, an old
model newly listed) is not news: dropped as ``source stale``."""

FIRST_JUDGEMENT_ALERT_WITHIN = timedelta(days=7)
"""A prediction judged for the first time alerts only if it resolved within this window, so a
fresh store does not announce every old resolution (the first run is a baseline)."""

SCORE_EVENTS = frozenset({"new_score", "changed_score", "new_frontier"})


@dataclass(frozen=True)
class _Guild:
    id: int
    channel_id: int
    threshold: float
    hysteresis: float
    vram_gib: float
    kinds: tuple[str, ...]

    @property
    def target(self) -> Target:
        return Target("channel", self.channel_id, self.id)


def alerting_guilds(session: Session) -> list[_Guild]:
    """Servers with an alert channel."""
    query = select(t.GuildSettings).where(t.GuildSettings.alert_channel_id.is_not(None))  # type: ignore[union-attr]
    return [
        _Guild(
            g.guild_id,
            g.alert_channel_id or 0,
            g.gap_threshold,
            g.hysteresis,
            g.vram_budget_gib,
            tuple(g.alert_kinds or ()),
        )
        for g in session.exec(query)
    ]


def load_state(session: Session, scope: str, rule: str) -> dict[str, Any] | None:
    """A rule's memory, or None."""
    row = session.get(t.RuleState, (scope, rule))
    return dict(row.state) if row is not None else None


def save_state(
    session: Session, scope: str, rule: str, state: dict[str, Any], now: datetime
) -> None:
    """Remember what a rule saw (in the caller's transaction)."""
    row = session.get(t.RuleState, (scope, rule))
    if row is None:
        session.add(t.RuleState(scope=scope, rule=rule, state=state, updated_at=now))
    elif row.state != state:
        row.state = state
        row.updated_at = now


def _fmt_score(score: Score | None) -> str:
    if score is None:
        return "none yet"
    approx = "~" if score.approximate else ""
    return (
        f"{score.model_name} {approx}{fmt_value(score.value, score.unit)} "
        f"({score.available_on.isoformat()}) — "
        f"source: {score.citation.label}"
    )


def _fmt_gap(gap: float | None) -> str:
    return "—" if gap is None else f"{gap:+.1f}"


class AlertRules:
    """The rules run after each ingest, and after a poll that failed.

    Args:
        clock: The time (tests control it).
        context: Context length for the fits rule (tokens).
    """

    def __init__(
        self, *, clock: Callable[[], datetime] = utcnow, context: int = DEFAULT_CONTEXT
    ) -> None:
        self.clock = clock
        self.context = context

    def after_ingest(self, session: Session, result: IngestResult) -> None:
        """Turn one ingest's changes into alerts (the Poller calls this in its transaction)."""
        now = self.clock()
        baseline = _first_ingest(session, result.source, now)
        guilds = alerting_guilds(session)
        tracked = {b.key: b for b in queries.tracked_benchmarks(session)}
        touched = sorted(_scored_benchmarks(result) & set(tracked))
        run = _Run(session, now, guilds, result, baseline)
        for key in touched:
            run.benchmark(tracked[key])
        for event in result.events:
            if event.kind == "new_model" and event.open_weights:
                run.fits(event, self.context)
        run.drift()
        if baseline and result.events:
            run.trace_baseline()
        if touched:
            judge_predictions(session, now=now, benchmarks=frozenset(touched))
        prune_traces(session, now)

    def after_failure(self, session: Session, source: str, error: SourceError) -> None:
        """A failed poll (the Poller calls this in the transaction that records the failure):
        a format error tells the servers once per episode that the source's format drifted."""
        if not isinstance(error, SourceFormatError):
            return
        now = self.clock()
        announce_drift(
            _Outbox(session, now),
            alerting_guilds(session),
            source,
            [
                f"The last poll failed: {error.message}",
                "Answers keep using the data stored before; this source adds nothing until "
                "its adapter is updated.",
            ],
        )


def _first_ingest(session: Session, source: str, now: datetime) -> bool:
    """Whether this is the source's first ingest with the rules (a silent baseline); notes it."""
    scope = f"source:{source}"
    if load_state(session, scope, "seen") is not None:
        return False
    save_state(session, scope, "seen", {"since": now.isoformat()}, now)
    return True


def _scored_benchmarks(result: IngestResult) -> set[str]:
    """The benchmarks whose scores this ingest changed."""
    return {e.benchmark for e in result.events if e.kind in SCORE_EVENTS and e.benchmark}


class _Outbox:
    """Writes servers' alerts and notes what happened to each event (``/alerts why``).

    Args:
        session: The caller's transaction.
        now: The time.
        silent: A baseline: nothing is written.
    """

    def __init__(self, session: Session, now: datetime, *, silent: bool = False) -> None:
        self.session = session
        self.now = now
        self.silent = silent

    def trace(
        self,
        guild: _Guild,
        kind: str,
        subject: str,
        stage: str,
        detail: str | None = None,
        alert_id: int | None = None,
    ) -> None:
        record_trace(
            self.session,
            guild_id=guild.id,
            kind=kind,
            subject=subject,
            stage=stage,
            at=self.now,
            detail=detail,
            alert_id=alert_id,
        )

    def emit(
        self,
        guild: _Guild,
        kind: str,
        key: str,
        payload: dict[str, Any],
        *,
        group_key: str | None = None,
    ) -> None:
        """Write one server's alert (or trace why not)."""
        subject = str(payload.get("subject", payload.get("title", kind)))
        if self.silent:
            return
        if not rules.kind_enabled(guild.kinds, kind):
            self.trace(guild, kind, subject, "filtered", f"{kind} alerts are off on this server")
            return
        alert = write_alert(
            self.session,
            kind=kind,
            dedupe_key=key,
            payload=payload,
            targets=[guild.target],
            now=self.now,
            guild_id=guild.id,
            group_key=group_key,
        )
        if alert is None:
            self.trace(guild, kind, subject, "deduplicated", "the same alert was written before")
        else:
            self.trace(guild, kind, subject, "queued", alert_id=alert.id)


def _gap_key(guild: _Guild, report: GapReport, crossings: int, direction: str) -> str:
    """A crossing's identity: the server, the benchmark, which crossing, and the frontiers."""
    fingerprint = rules.score_fingerprint(
        *(
            (s.model_slug, s.value, s.available_on)
            for s in (report.proprietary, report.open)
            if s is not None
        )
    )
    return rules.dedupe_key(
        "gap", guild.id, report.benchmark.key, crossings, direction, fingerprint
    )


class _Run(_Outbox):
    """One ingest's evaluation: the session, the time, the servers."""

    def __init__(
        self,
        session: Session,
        now: datetime,
        guilds: Sequence[_Guild],
        result: IngestResult,
        baseline: bool,
    ) -> None:
        super().__init__(session, now, silent=baseline)
        self.today = now.date()
        self.guilds = guilds
        self.result = result

    def trace_baseline(self) -> None:
        for guild in self.guilds:
            self.trace(
                guild,
                "baseline",
                f"first data from {self.result.source}",
                "baseline",
                f"{len(self.result.events)} changes noted silently (a new source)",
            )

    def movers(self, benchmark: str, unit: str = "%") -> list[str]:
        lines = []
        for event in self.result.events:
            if event.benchmark != benchmark or event.kind not in ("new_score", "changed_score"):
                continue
            side = "open" if event.open_weights else "proprietary"
            was = (
                f" (was {fmt_value(event.old_value, unit)})" if event.old_value is not None else ""
            )
            lines.append(
                f"{event.model_name} ({side}) {fmt_value(event.value, unit)}{was} "
                f"from {self.result.source}"
            )
        return lines[:5]

    # gap, open bests, catch-ups ----------------------------------------------------------

    def benchmark(self, row: t.Benchmark) -> None:
        bench = queries.to_benchmark(row)
        scores = queries.headline_scores(self.session, row, as_of=self.today)
        reports: dict[float, GapReport] = {}
        for guild in self.guilds:
            if guild.threshold not in reports:
                reports[guild.threshold] = gap_report(
                    bench, scores, as_of=self.today, threshold=guild.threshold
                )
            self.gap(guild, reports[guild.threshold])
        self.open_best(row, scores)
        self.catch_ups(row, scores)

    def gap(self, guild: _Guild, report: GapReport) -> None:
        scope, rule = f"guild:{guild.id}", f"gap:{report.benchmark.key}"
        before = rules.GapState.from_dict(load_state(self.session, scope, rule))
        step = rules.step_gap(
            before, report.gap, threshold=guild.threshold, hysteresis=guild.hysteresis
        )
        if step.state is not None:
            save_state(self.session, scope, rule, step.state.to_dict(), self.now)
        name = report.benchmark.name
        if step.crossing is None:
            if step.reason == "within noise":
                self.trace(
                    guild,
                    "gap",
                    f"{name} gap {_fmt_gap(report.gap)}",
                    "within noise",
                    f"crossed the {guild.threshold:g}-point line by less than the "
                    f"{guild.hysteresis:g}-point hysteresis since the last alert",
                )
            return
        assert step.state is not None
        self.emit(
            guild,
            "gap",
            _gap_key(guild, report, step.state.crossings, step.crossing),
            gap_payload(
                report,
                step.crossing,
                before.gap if before else None,
                self.movers(report.benchmark.key, report.benchmark.unit),
            ),
            group_key=f"gap:{guild.id}:{report.benchmark.key}",
        )

    def open_best(self, row: t.Benchmark, scores: Sequence[Score]) -> None:
        for event in self.result.events:
            if event.kind != "new_frontier" or not event.open_weights or event.benchmark != row.key:
                continue
            if event.old_value is None:
                continue  # the first open score on a benchmark is a baseline, not a record
            score = next(
                (s for s in scores if s.model_slug == event.model_slug and s.value == event.value),
                None,
            )
            subject = f"{row.name}: {event.model_name} {fmt_value(event.value, row.unit)}"
            stale = score is not None and self.today - score.available_on > EVENT_STALE_AFTER
            for guild in self.guilds:
                if stale:
                    self.trace(
                        guild,
                        "open_best",
                        subject,
                        "source stale",
                        f"the score is dated {score.available_on.isoformat()}" if score else None,
                    )
                    continue
                self.emit(
                    guild,
                    "open_best",
                    rules.dedupe_key("open_best", guild.id, row.key, event.model_slug, event.value),
                    open_best_payload(row.name, event, score, row.unit),
                )

    def catch_ups(self, row: t.Benchmark, scores: Sequence[Score]) -> None:
        try:
            report = lag_report(queries.to_benchmark(row), scores, as_of=self.today)
        except (UnsupportedBenchmarkError, InputError):
            return
        rule = f"catch_up:{row.key}"
        state = load_state(self.session, "global", rule)
        keys = [rules.catch_up_key(pair) for pair in report.pairs]
        save_state(self.session, "global", rule, {"seen": sorted(keys)}, self.now)
        if state is None:
            return  # the first look at a benchmark is a baseline
        for pair in rules.new_catch_ups(report.pairs, state.get("seen", [])):
            subject = f"{pair.open.model_name} matches {pair.closed.model_name} on {row.name}"
            stale = self.today - pair.open.available_on > EVENT_STALE_AFTER
            for guild in self.guilds:
                if stale:
                    self.trace(guild, "catch_up", subject, "source stale")
                    continue
                self.emit(
                    guild,
                    "catch_up",
                    rules.dedupe_key("catch_up", guild.id, rules.catch_up_key(pair)),
                    catch_up_payload(row.name, pair.closed, pair.open, pair.months),
                )

    # fits -----------------------------------------------------------------------------------

    def fits(self, event: ChangeEvent, context: int) -> None:
        if not self.guilds or event.model_slug is None:
            return
        model = self.session.exec(select(t.Model).where(t.Model.slug == event.model_slug)).first()
        if model is None:
            return
        spec = queries.to_model_spec(self.session, model)
        subject = f"new model {spec.name}"
        stale = spec.released_on is not None and self.today - spec.released_on > EVENT_STALE_AFTER
        for guild in self.guilds:
            if stale:
                self.trace(
                    guild,
                    "fits",
                    subject,
                    "source stale",
                    f"released {spec.released_on.isoformat() if spec.released_on else '?'}",
                )
                continue
            report = rules.fits_alert(spec, budget_gib=guild.vram_gib, context=context)
            if report is None:
                if spec.total_params_b:
                    self.trace(
                        guild,
                        "fits",
                        subject,
                        "filtered",
                        f"does not fit {guild.vram_gib:g} GiB at 4-bit or better",
                    )
                continue
            scores = [
                queries.to_score(spec, bench, score, source)
                for bench, score, source in queries.model_scores(self.session, model)
            ]
            self.emit(
                guild,
                "fits",
                rules.dedupe_key("fits", guild.id, spec.slug, guild.vram_gib),
                fits_payload(report, scores),
            )

    # source health ---------------------------------------------------------------------------

    def drift(self) -> None:
        """Half or more of a big batch rejected: the source's format drifted (told once per
        episode, also on a source's first ingest: it is about the bot, not news); a clean
        batch ends the episode."""
        c = self.result.counts
        rows = sum(
            c[k] for k in ("scores_new", "scores_changed", "scores_unchanged", "scores_merged")
        )
        rows += c["models_new"] + c["models_updated"]
        rejected = len(self.result.rejected)
        source = self.result.source
        if not rules.format_drifted(rows, rejected):
            end_drift(self.session, source, self.now)
            return
        reasons = sorted({r.reason.split(":")[0] for r in self.result.rejected})[:3]
        announce_drift(
            _Outbox(self.session, self.now),
            self.guilds,
            source,
            [
                f"{rejected} of {rows + rejected} rows were rejected in the last poll.",
                "Most common reasons: " + "; ".join(reasons),
                "Data from this source may be missing until its adapter is updated.",
            ],
        )


# --- format drift ----------------------------------------------------------------------------


def announce_drift(
    outbox: _Outbox, guilds: Sequence[_Guild], source: str, lines: list[str]
) -> None:
    """Tell each server that a source's format drifted, once per episode (the episode's start
    is in ``rule_state`` and in the dedupe key)."""
    scope = f"source:{source}"
    state = load_state(outbox.session, scope, "drift") or {}
    if state.get("since"):
        return  # this episode was announced
    since = outbox.now.isoformat()
    save_state(outbox.session, scope, "drift", {"since": since}, outbox.now)
    for guild in guilds:
        outbox.emit(
            guild,
            "source_health",
            rules.dedupe_key("source_drift", guild.id, source, since),
            {
                "title": f"Source {source}: its format may have changed",
                "subject": f"{source} format drift",
                "lines": lines,
                "color": "warning",
            },
        )


def end_drift(session: Session, source: str, now: datetime) -> None:
    """A batch parsed cleanly: the next drift is a new episode."""
    scope = f"source:{source}"
    if (load_state(session, scope, "drift") or {}).get("since"):
        save_state(session, scope, "drift", {"since": None}, now)


# --- payloads (plain text; bot/alert_embeds.py renders them) -------------------------------


def gap_payload(
    report: GapReport, direction: rules.Direction, previous: float | None, movers: Sequence[str]
) -> dict[str, Any]:
    """A gap crossing: the gap, both frontiers with sources, what moved it, the chart."""
    name = report.benchmark.name
    line = f"{report.threshold:g}"
    title = (
        f"{name}: the gap rose above {line} points"
        if direction == "up"
        else f"{name}: the gap is back within {line} points"
    )
    lines = [f"Gap (proprietary − open): {_fmt_gap(report.gap)} points, was {_fmt_gap(previous)}."]
    if report.within_noise:
        lines.append(
            f"Within noise: the gap's 95% interval reaches the {line}-point line, so this "
            "crossing may be sampling noise."
        )
    fields = [
        ["Best proprietary", _fmt_score(report.proprietary)],
        ["Best open weights", _fmt_score(report.open)],
    ]
    if movers:
        fields.append(["Moved by", "\n".join(movers)])
    return {
        "title": title,
        "subject": f"{name} gap {direction} to {_fmt_gap(report.gap)}",
        "lines": lines,
        "fields": fields,
        "color": "proprietary" if direction == "up" else "open",
        "benchmark": report.benchmark.key,
        "direction": direction,
        "gap": report.gap,
        "within_noise": report.within_noise,
        "chart": {
            "benchmark": report.benchmark.key,
            "as_of": report.as_of.isoformat(),
            "threshold": report.threshold,
        },
    }


def fits_payload(report: FitReport, scores: Sequence[Score]) -> dict[str, Any]:
    """A new model that fits: best format, memory, headroom, its scores."""
    quant = report.best_quant
    estimate = report.estimate
    lines = [
        f"Best quantization that fits {report.budget_gib:g} GiB at {report.context:,} tokens: "
        f"{quant.name if quant else '?'} — {estimate.total_gib:.1f} GiB "
        f"({report.headroom_gib:.1f} GiB to spare).",
        f"{report.total_params_b:g}B parameters"
        + (f", {report.active_params_b:g}B active" if report.active_params_b else "")
        + ("" if estimate.kv_exact else "; KV cache estimated (architecture unknown)"),
    ]
    score_lines = [
        f"{s.benchmark}: {fmt_value(s.value, s.unit)} — source: {s.citation.label}"
        for s in scores[:8]
    ]
    return {
        "title": f"{report.model_name} fits your {report.budget_gib:g} GiB GPU",
        "subject": f"{report.model_name} fits {report.budget_gib:g} GiB",
        "lines": lines,
        "fields": [["Scores", "\n".join(score_lines) or "no scores yet"]],
        "color": "open",
        "model": report.model_slug,
    }


def open_best_payload(
    benchmark: str, event: ChangeEvent, score: Score | None, unit: str = "%"
) -> dict[str, Any]:
    """A new open-weights best (``unit``: the benchmark's)."""
    old = event.old_value
    was = f" (previous open best {fmt_value(old, unit)})" if old is not None else ""
    lines = [f"{event.model_name} scores {fmt_value(event.value, unit)} on {benchmark}{was}."]
    if score is not None:
        lines.append(
            f"Available since {score.available_on.isoformat()} — source: {score.citation.label}"
        )
    return {
        "title": f"New open-weights best on {benchmark}: {event.model_name}",
        "subject": f"{benchmark}: {event.model_name} {fmt_value(event.value, unit)}",
        "lines": lines,
        "color": "open",
    }


def catch_up_payload(benchmark: str, closed: Score, opened: Score, months: float) -> dict[str, Any]:
    """An open model reaching a proprietary record (Epoch's rule)."""
    return {
        "title": f"{opened.model_name} now matches {closed.model_name}'s {benchmark} level "
        f"of {months:.0f} months ago",
        "subject": f"{opened.model_name} matches {closed.model_name} on {benchmark}",
        "lines": [
            f"{closed.model_name}: {fmt_value(closed.value, closed.unit)} "
            f"({closed.available_on.isoformat()}) — "
            f"source: {closed.citation.label}",
            f"{opened.model_name}: {fmt_value(opened.value, opened.unit)} "
            f"({opened.available_on.isoformat()}) — "
            f"source: {opened.citation.label}",
            "Matched on Epoch AI's −ln(1 − accuracy) scale within 0.02.",
        ],
        "color": "open",
    }


# --- predictions ----------------------------------------------------------------------------


def prediction_data(session: Session) -> PredictionData:
    """Everything the prediction rules read."""
    benchmarks, scores = queries.scores_by_benchmark(session)
    models = {spec.slug: spec for spec in queries.model_specs(session)}
    return PredictionData(benchmarks, scores, models, tuple(queries.attestations(session)))


def prediction_targets(session: Session, code: str, *, resolved: bool) -> list[Target]:
    """Subscribers of a prediction (users' DMs, channels) and, for a resolution, the alert
    channels of servers that take ``prediction`` alerts."""
    query = (
        select(t.Subscription)
        .where(t.Subscription.active)
        .where(t.Subscription.topic.in_([f"prediction:{code}", "prediction:*"]))  # type: ignore[attr-defined]
        .order_by(t.Subscription.id)  # type: ignore[arg-type]
    )
    targets = [
        Target("user" if s.target_kind == "user" else "channel", s.target_id, s.guild_id)
        for s in session.exec(query)
    ]
    if resolved:
        targets += [
            g.target for g in alerting_guilds(session) if rules.kind_enabled(g.kinds, "prediction")
        ]
    return targets


def resolve_predictions(session: Session, *, now: datetime) -> list[str]:
    """The daily job's work: judge every prediction, store the verdicts, alert on changes
    (a prediction resolves on its verification date even when no data changed).

    Returns:
        The status changes, e.g. ``["OB-001 resolved: hit"]``.
    """
    return judge_predictions(session, now=now)


def judge_predictions(
    session: Session, *, now: datetime, benchmarks: frozenset[str] | None = None
) -> list[str]:
    """Judge predictions, store each verdict, and alert on a status change.

    Args:
        session: The caller's transaction.
        now: The time.
        benchmarks: Judge only the predictions that read one of these benchmarks (after an
            ingest); None judges them all (the daily job).

    Returns:
        The status changes, e.g. ``["OB-001 on track → at risk"]``.
    """
    rows = [
        row
        for row in queries.predictions(session)
        if benchmarks is None or rules.prediction_benchmarks(row.params) & benchmarks
    ]
    if not rows:
        return []
    today = now.date()
    data = prediction_data(session)
    changes = []
    for row in rows:
        verdict = evaluate(queries.to_prediction_def(session, row), data, today=today)
        change = _status_change(row, verdict, today)
        _store_verdict(row, verdict, now)
        if change is not None:
            changes.append(f"{row.code} {change}")
            _alert_status_change(session, row, verdict, change, now)
    return changes


def _status_change(row: t.Prediction, verdict: PredictionVerdict, today: date) -> str | None:
    """The change worth an alert; a first judgement is a baseline unless it resolved lately."""
    first = row.evaluated_at is None
    old_news = (
        verdict.resolved_on is not None
        and today - verdict.resolved_on > FIRST_JUDGEMENT_ALERT_WITHIN
    )
    if first and old_news:
        return None
    return status_change(None if first else row.status, verdict)


def _store_verdict(row: t.Prediction, verdict: PredictionVerdict, now: datetime) -> None:
    row.status = verdict.status
    row.verdict = verdict.status if verdict.resolved else None
    row.resolved_on = verdict.resolved_on
    row.evidence = {
        "summary": verdict.summary,
        "evidence": [e.text for e in verdict.evidence],
        "what_would_change_it": verdict.what_would_change_it,
        "as_of": verdict.as_of.isoformat(),
    }
    row.evaluated_at = now


def _alert_status_change(
    session: Session, row: t.Prediction, verdict: PredictionVerdict, change: str, now: datetime
) -> None:
    """Alert a prediction's followers (and, for a resolution, servers' alert channels)."""
    targets = prediction_targets(session, row.code, resolved=verdict.resolved)
    if not targets:
        return  # nobody follows it; the stored status is the record
    key_day = (verdict.resolved_on or now.date()).isoformat()
    write_alert(
        session,
        kind="prediction",
        dedupe_key=rules.dedupe_key("prediction", row.code, change, key_day),
        payload={
            "title": f"{row.code} {change}",
            "subject": f"{row.code} {change}",
            "lines": [row.title, verdict.summary, *[e.text for e in verdict.evidence][:5]],
            "color": "open" if verdict.status == "hit" else "warning",
            "code": row.code,
            "status": verdict.status,
        },
        targets=targets,
        now=now,
        topic=f"prediction:{row.code}",
    )


# --- source health --------------------------------------------------------------------------


def check_sources(session: Session, *, now: datetime) -> list[str]:
    """Tell servers' admins (their alert channel) about sources down for hours, and recoveries.

    Returns:
        The source keys whose health changed.
    """
    changed = []
    guilds = alerting_guilds(session)
    outbox = _Outbox(session, now)
    for source in session.exec(select(t.Source).where(t.Source.last_polled_at.is_not(None))):  # type: ignore[union-attr]
        scope = f"source:{source.key}"
        state = load_state(session, scope, "health") or {"down": False}
        failing_since = _failing_since(source, state, now)
        down = rules.source_down(source.consecutive_failures, failing_since, now)
        if down == bool(state.get("down")) or (not down and source.consecutive_failures):
            save_state(session, scope, "health", state, now)
            continue
        since = (failing_since or now).isoformat()
        state.update(down=down, since=since if down else None)
        save_state(session, scope, "health", state, now)
        changed.append(source.key)
        payload = _source_down_payload(source, since) if down else _source_up_payload(source)
        for guild in guilds:
            key = rules.dedupe_key(
                "source_down" if down else "source_up", guild.id, source.key, since
            )
            outbox.emit(guild, "source_health", key, payload)
    return changed


def _failing_since(source: t.Source, state: dict[str, Any], now: datetime) -> datetime | None:
    """Since when a source fails: its last success, or (never a success) its first failure,
    remembered in ``state``."""
    if not source.consecutive_failures or source.last_success_at is not None:
        return source.last_success_at
    first = state.get("first_failure_at")
    since = datetime.fromisoformat(first) if first else source.last_error_at
    state["first_failure_at"] = (since or now).isoformat()
    return since


def _source_down_payload(source: t.Source, since: str) -> dict[str, Any]:
    return {
        "title": f"Source {source.name} has been failing since {since[:16]} UTC",
        "subject": f"{source.key} down",
        "lines": [
            f"{source.consecutive_failures} polls in a row failed; last error: "
            f"{source.last_error or '?'}",
            "Answers keep using the data stored before; they may be out of date.",
        ],
        "color": "warning",
    }


def _source_up_payload(source: t.Source) -> dict[str, Any]:
    return {
        "title": f"Source {source.name} works again",
        "subject": f"{source.key} recovered",
        "lines": ["Polling succeeded again; its data is current."],
        "color": "open",
    }


# --- what the commands call ------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSettingsView:
    """A server's alert settings, for ``/alerts show`` and the replies to changes."""

    guild_id: int
    channel_id: int | None
    threshold: float
    hysteresis: float
    vram_gib: float
    kinds: tuple[str, ...]
    muted_until: datetime | None
    digest: bool
    role_id: int | None
    now: datetime

    @property
    def muted(self) -> bool:
        return self.muted_until is not None and self.muted_until > self.now


@dataclass(frozen=True)
class TraceLine:
    """One line of ``/alerts why``."""

    at: datetime
    kind: str
    subject: str
    stage: str
    detail: str | None


@dataclass(frozen=True)
class SubscriptionView:
    """One subscription, for ``/subscriptions``."""

    topic: str
    target_kind: str
    target_id: int
    active: bool


class AlertService:
    """Server settings, subscriptions, the test alert and ``/alerts why``, each its own unit
    of work.

    Args:
        engine: The store.
        clock: The time.
        defaults: ``threshold``, ``hysteresis``, ``vram_gib`` for a new server.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utcnow,
        threshold: float = 2.0,
        hysteresis: float = 0.25,
        vram_gib: float = 24.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.defaults = {
            "gap_threshold": threshold,
            "hysteresis": hysteresis,
            "vram_budget_gib": vram_gib,
        }

    def _settings(self, session: Session, guild_id: int) -> t.GuildSettings:
        row = session.get(t.GuildSettings, guild_id)
        if row is None:
            now = self.clock()
            row = t.GuildSettings(
                guild_id=guild_id, created_at=now, updated_at=now, **self.defaults
            )
            session.add(row)
            session.flush()
        return row

    def _view(self, row: t.GuildSettings) -> AlertSettingsView:
        return AlertSettingsView(
            row.guild_id,
            row.alert_channel_id,
            row.gap_threshold,
            row.hysteresis,
            row.vram_budget_gib,
            tuple(row.alert_kinds or ()),
            row.muted_until,
            row.digest,
            row.ping_role_id,
            self.clock(),
        )

    def _change(
        self, guild_id: int, apply: Callable[[Session, t.GuildSettings], None]
    ) -> AlertSettingsView:
        with session_scope(self.engine) as session:
            row = self._settings(session, guild_id)
            apply(session, row)
            row.updated_at = self.clock()
            return self._view(row)

    def show(self, guild_id: int) -> AlertSettingsView:
        """The server's settings (defaults if it never set any)."""
        return self._change(guild_id, lambda _s, _r: None)

    def set_channel(self, guild_id: int, channel_id: int | None) -> AlertSettingsView:
        """Post alerts to a channel (None: stop). Turning alerts on sets every gap latch to
        the current gap silently, so enabling never floods the channel."""

        def apply(session: Session, row: t.GuildSettings) -> None:
            row.alert_channel_id = channel_id
            if channel_id is not None:
                row.alerts_enabled_at = row.alerts_enabled_at or self.clock()
                self._baseline(session, row)

        return self._change(guild_id, apply)

    def _baseline(self, session: Session, row: t.GuildSettings) -> None:
        today = self.clock().date()
        for bench in queries.tracked_benchmarks(session):
            scope, rule = f"guild:{row.guild_id}", f"gap:{bench.key}"
            state = rules.GapState.from_dict(load_state(session, scope, rule))
            if state is not None and state.threshold == row.gap_threshold:
                continue
            report = gap_report(
                queries.to_benchmark(bench),
                queries.headline_scores(session, bench, as_of=today),
                as_of=today,
                threshold=row.gap_threshold,
            )
            step = rules.step_gap(
                None, report.gap, threshold=row.gap_threshold, hysteresis=row.hysteresis
            )
            if step.state is not None:
                save_state(session, scope, rule, step.state.to_dict(), self.clock())

    def set_threshold(self, guild_id: int, points: float) -> AlertSettingsView:
        """The gap line in points (a new line re-baselines the latches silently)."""
        if not 0 < points <= 100:
            raise InputError(
                f"threshold must be more than 0 and at most 100 points, got {points:g}"
            )

        def apply(session: Session, row: t.GuildSettings) -> None:
            row.gap_threshold = points
            if row.alert_channel_id is not None:
                self._baseline(session, row)

        return self._change(guild_id, apply)

    def set_vram(self, guild_id: int, gib: float) -> AlertSettingsView:
        """The VRAM budget for fits alerts."""
        if not 0 < gib <= 4096:
            raise InputError(f"VRAM must be a positive number of GiB (at most 4096), got {gib:g}")
        return self._change(guild_id, lambda _s, row: setattr(row, "vram_budget_gib", gib))

    def mute(self, guild_id: int, duration: str) -> AlertSettingsView:
        """Hold alerts for a while (``2h``, ``1d``) or unmute (``off``)."""
        span = rules.parse_duration(duration)
        until = None if span is None else self.clock() + span
        return self._change(guild_id, lambda _s, row: setattr(row, "muted_until", until))

    def set_kinds(self, guild_id: int, kinds: str) -> AlertSettingsView:
        """Which kinds of alerts to post (``all`` or a list)."""
        chosen = rules.parse_kinds(kinds)
        return self._change(guild_id, lambda _s, row: setattr(row, "alert_kinds", chosen))

    def set_digest(self, guild_id: int, on: bool) -> AlertSettingsView:
        """One message a day instead of one per alert."""
        return self._change(guild_id, lambda _s, row: setattr(row, "digest", on))

    def set_role(
        self, guild_id: int, role_id: int | None, *, name: str | None = None
    ) -> AlertSettingsView:
        """The opt-in role to ping with alerts (None: no ping); never @everyone or @here.

        Raises:
            InputError: The server's default role, or a role named everyone or here.
        """
        refusal = (
            None
            if role_id is None
            else rules.ping_role_refusal(role_id, guild_id=guild_id, name=name)
        )
        if refusal is not None:
            raise InputError(refusal)
        return self._change(guild_id, lambda _s, row: setattr(row, "ping_role_id", role_id))

    def test(self, guild_id: int) -> AlertSettingsView:
        """Queue a test alert to the server's alert channel."""
        now = self.clock()
        with session_scope(self.engine) as session:
            row = self._settings(session, guild_id)
            if row.alert_channel_id is None:
                raise InputError("no alert channel yet: set one with /alerts channel")
            write_alert(
                session,
                kind="test",
                dedupe_key=rules.dedupe_key("test", guild_id, now.isoformat()),
                payload={
                    "title": "gapwatch test alert",
                    "subject": "test alert",
                    "lines": ["Alerts reach this channel. Nothing else happened."],
                    "color": "neutral",
                },
                targets=[Target("channel", row.alert_channel_id, guild_id)],
                now=now,
                guild_id=guild_id,
            )
            return self._view(row)

    def why(self, guild_id: int, limit: int = 15) -> list[TraceLine]:
        """The last events for this server and the stage each reached."""
        with session_scope(self.engine) as session:
            query = (
                select(t.AlertTrace)
                .where(t.AlertTrace.guild_id == guild_id)
                .order_by(t.AlertTrace.at.desc(), t.AlertTrace.id.desc())  # type: ignore[attr-defined,union-attr]
                .limit(limit)
            )
            return [
                TraceLine(r.at, r.kind, r.subject, r.stage, r.detail) for r in session.exec(query)
            ]

    # subscriptions --------------------------------------------------------------------------

    def _topic(self, session: Session, code: str) -> str:
        if code.strip().lower() in ("all", "*"):
            return "prediction:*"
        return f"prediction:{queries.find_prediction(session, code).code}"

    def subscribe(
        self, *, code: str, target_kind: str, target_id: int, guild_id: int | None, user_id: int
    ) -> tuple[str, bool]:
        """Follow a prediction (or all); returns the topic and whether it is new."""
        with session_scope(self.engine) as session:
            topic = self._topic(session, code)
            row = session.exec(
                select(t.Subscription)
                .where(t.Subscription.target_kind == target_kind)
                .where(t.Subscription.target_id == target_id)
                .where(t.Subscription.topic == topic)
            ).first()
            if row is not None and row.active:
                return topic, False
            if row is None:
                session.add(
                    t.Subscription(
                        target_kind=target_kind,
                        target_id=target_id,
                        guild_id=guild_id,
                        topic=topic,
                        created_by=user_id,
                        created_at=self.clock(),
                    )
                )
            else:
                row.active = True
                row.created_by = user_id
            return topic, True

    def unsubscribe(self, *, code: str, target_kind: str, target_id: int) -> tuple[str, bool]:
        """Stop following; returns the topic and whether there was something to stop."""
        with session_scope(self.engine) as session:
            topic = self._topic(session, code)
            rows = session.exec(
                select(t.Subscription)
                .where(t.Subscription.target_kind == target_kind)
                .where(t.Subscription.target_id == target_id)
                .where(t.Subscription.topic == topic)
            ).all()
            for row in rows:
                session.delete(row)
            return topic, bool(rows)

    def subscriptions(self, *, targets: Iterable[tuple[str, int]]) -> list[SubscriptionView]:
        """The subscriptions of the given targets (a user's DMs, a channel)."""
        wanted = list(targets)
        with session_scope(self.engine) as session:
            found = []
            for kind, target_id in wanted:
                query = (
                    select(t.Subscription)
                    .where(t.Subscription.target_kind == kind)
                    .where(t.Subscription.target_id == target_id)
                    .order_by(t.Subscription.topic)
                )
                found += [
                    SubscriptionView(s.topic, s.target_kind, s.target_id, s.active)
                    for s in session.exec(query)
                ]
            return found


def pending_deliveries(session: Session) -> int:
    """How many deliveries wait (for /about-style status lines)."""
    return session.exec(
        select(func.count()).select_from(t.Delivery).where(t.Delivery.state == "pending")
    ).one()


def run_resolution(engine: Engine, clock: Callable[[], datetime] = utcnow) -> list[str]:
    """The daily job body: one unit of work."""
    with session_scope(engine) as session:
        return resolve_predictions(session, now=clock())


def run_source_check(engine: Engine, clock: Callable[[], datetime] = utcnow) -> list[str]:
    """The source-health check body: one unit of work."""
    with session_scope(engine) as session:
        return check_sources(session, now=clock())
