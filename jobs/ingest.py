"""Ingest: one source batch into the store, in the caller's transaction, with change events.

Records arrive as pydantic models (``jobs.sources.base``) and are validated again here, so a
batch built by hand cannot slip a bad row in. They are matched to the store's models and
benchmarks (aliases, Hugging Face repo ids, normalized names; ``MMLU-Pro`` is not ``MMLU``),
upserted with provenance (source, URL, retrieved at), and every change becomes a
``ChangeEvent`` for the alert rules. A bad row is rejected with its reason and does not block
the good ones. Rows of one batch that name the same stored score (one model under two names)
keep the best claim and are counted as merged, so a fresh store never sees "changed" scores.

Nothing here commits: the poll job owns the transaction, so a crash mid-poll leaves the store
as it was. Re-ingesting the same batch writes nothing and emits no events.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel import Session, select

from db import tables as t
from db.queries import frontier_candidates
from db.types import utcnow
from frontier import types as f
from frontier.names import normalize_name, slugify
from jobs.sources.base import ModelRecord, RejectedRow, ScoreRecord, SourceBatch, benchmark_slug

log = logging.getLogger(__name__)

# Lower is more trusted: the headline score of a model comes from its most trusted source.
# Model cards and papers rank first; independent evaluators before aggregators of
# self-reported figures; the analyst report last (its figures are often unsourced).
DEFAULT_TRUST_RANK = {
    "epoch": 20,
    "huggingface": 25,
    "evalplus": 28,
    "llm_stats": 30,
    "lmarena": 30,
    "open_llm_leaderboard": 35,
    "artificial_analysis": 30,
    "models_dev": 40,
    "openrouter": 40,
}

MODEL_FIELDS = (
    "organization",
    "open_weights",
    "license",
    "released_on",
    "total_params_b",
    "active_params_b",
    "hf_repo",
    "layers",
    "kv_heads",
    "head_dim",
    "hidden_size",
    "attention_heads",
    "max_context",
    "attention",
    "sliding_window",
    "full_attention_layers",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "experts",
    "experts_per_token",
)

PRELOAD_CHUNK = 500
"""Model ids per ``IN (...)`` query when loading a batch's models (well under every driver's
parameter limit: SQLite allows 32,766 per statement)."""

ScoreKey = tuple[int, int, str]
"""The store's identity of a score within one source: model id, benchmark id, setting."""


@dataclass(frozen=True)
class ChangeEvent:
    """A change the alert rules may care about.

    ``kind`` is ``new_model``, ``new_score``, ``changed_score`` or ``new_frontier`` (a new best
    on one side of a benchmark: ``open_weights`` says which side).
    """

    kind: str
    source: str
    model_slug: str | None = None
    model_name: str | None = None
    benchmark: str | None = None
    value: float | None = None
    old_value: float | None = None
    open_weights: bool | None = None


WRITE_COUNTS = ("models_new", "models_updated", "benchmarks_new", "scores_new", "scores_changed")


@dataclass
class IngestResult:
    """What one ingest did: counts, rejections with reasons, and the change events."""

    source: str
    not_modified: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    rejected: list[RejectedRow] = field(default_factory=list)
    events: list[ChangeEvent] = field(default_factory=list)

    @property
    def wrote(self) -> bool:
        """Whether any row of models, benchmarks or scores changed."""
        return any(self.counts[k] for k in WRITE_COUNTS)

    def summary(self) -> str:
        """``epoch: models 2 new, 1 updated; scores 12 new, 3 changed, 240 unchanged, …``."""
        if self.not_modified:
            return f"{self.source}: not modified since the last poll"
        c = self.counts
        text = (
            f"{self.source}: models {c['models_new']} new, {c['models_updated']} updated; "
            f"scores {c['scores_new']} new, {c['scores_changed']} changed, "
            f"{c['scores_unchanged']} unchanged"
        )
        if c["scores_merged"]:
            text += f", {c['scores_merged']} duplicate rows merged"
        text += f"; {len(self.rejected)} rejected"
        reasons = Counter(r.reason.split(":")[0] for r in self.rejected)
        if reasons:
            text += " (" + ", ".join(f"{n}× {r}" for r, n in reasons.most_common(5)) + ")"
        return text


SOURCE_NAMES = {
    "epoch": "Epoch AI Benchmarking Hub (CC BY 4.0)",
    "huggingface": "Hugging Face Hub",
    "lmarena": "LMArena arena-catalog",
    "llm_stats": "LLM-Stats (CC BY 4.0)",
    "evalplus": "EvalPlus leaderboard (Apache-2.0)",
    "open_llm_leaderboard": "Open LLM Leaderboard (archived)",
    "artificial_analysis": "Artificial Analysis",
    "models_dev": "models.dev (MIT)",
    "openrouter": "OpenRouter models API",
}


def source_row(session: Session, key: str, *, url: str | None = None) -> t.Source:
    """The source's row, created on first use with its default trust rank."""
    row = session.exec(select(t.Source).where(t.Source.key == key)).first()
    if row is None:
        row = t.Source(
            key=key,
            name=SOURCE_NAMES.get(key, key.replace("_", " ").title()),
            kind="poll",
            url=url,
            trust_rank=DEFAULT_TRUST_RANK.get(key, 40),
        )
        session.add(row)
        session.flush()
    return row


def record_failure(session: Session, key: str, error: str, *, at: datetime | None = None) -> int:
    """Note a failed poll on the source's row; returns the consecutive failure count."""
    row = source_row(session, key)
    now = at or utcnow()
    row.last_polled_at = now
    row.last_error = error[:500]
    row.last_error_at = now
    row.consecutive_failures += 1
    return row.consecutive_failures


def ingest_batch(
    session: Session, batch: SourceBatch, *, at: datetime | None = None
) -> IngestResult:
    """Write one batch into the store (no commit) and describe what changed.

    An unchanged batch (``not_modified``) of a healthy source writes nothing at all: the
    conditional request already proved that there is nothing new.

    Args:
        session: The caller's unit of work; this function never commits.
        batch: What one poll fetched.
        at: The time of the poll (defaults to now).

    Returns:
        Counts, rejected rows with their reasons, and the change events.
    """
    now = at or utcnow()
    source = source_row(session, batch.source, url=batch.url)
    result = IngestResult(source=batch.source, not_modified=batch.not_modified)
    result.rejected.extend(batch.rejected)
    if batch.not_modified:
        _note_unchanged(source, batch, now)
    else:
        _Ingest(session, source, result, now).run(batch)
        _note_success(source, batch, now)
    _log_rejections(result)
    return result


def _note_success(source: t.Source, batch: SourceBatch, now: datetime) -> None:
    source.last_polled_at = now
    source.last_success_at = now
    source.last_error = None
    source.consecutive_failures = 0
    source.etag = batch.etag
    source.last_modified = batch.last_modified
    source.content_hash = batch.content_hash


def _note_unchanged(source: t.Source, batch: SourceBatch, now: datetime) -> None:
    # Only a recovery or new validators are worth a write; a healthy source's routine
    # "nothing new" costs no statement at all (the poller keeps that time in memory).
    if source.consecutive_failures or source.last_error or source.last_success_at is None:
        source.last_polled_at = now
        source.last_success_at = now
        source.last_error = None
        source.consecutive_failures = 0
    if batch.etag and batch.etag != source.etag:
        source.etag = batch.etag
    if batch.last_modified and batch.last_modified != source.last_modified:
        source.last_modified = batch.last_modified


def _log_rejections(result: IngestResult) -> None:
    if not result.rejected:
        return
    reasons = Counter(row.reason for row in result.rejected)
    log.info(
        "%s: %d rows rejected; most common: %s",
        result.source,
        len(result.rejected),
        "; ".join(f"{n}× {reason}" for reason, n in reasons.most_common(3)),
    )
    for row in result.rejected:
        log.debug("%s: rejected (%s): %s", result.source, row.reason, row.excerpt)


def _reason(exc: ValueError) -> str:
    """A short rejection reason: a validation error's first problem, or the message."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or exc.title
        return f"invalid {where}: {first.get('msg', 'invalid')}"
    return str(exc)


_R = TypeVar("_R", ModelRecord, ScoreRecord)


def _validated(record: _R) -> _R:
    """Re-validate a record (a batch may hold records built without validation).

    NUL characters are dropped first: PostgreSQL text cannot hold them (SQLite can), and a
    row must be stored the same way on both.

    Raises:
        ValueError: The record breaks its model's rules (``ValidationError`` is one).
    """
    data = {
        name: value.replace("\x00", "") if isinstance(value, str) else value
        for name, value in record.model_dump().items()
    }
    return type(record).model_validate(data)


@dataclass(frozen=True)
class _Planned:
    """One score the batch asks for, matched to the store's model and benchmark."""

    record: ScoreRecord
    model: t.Model
    bench: t.Benchmark
    setting: str

    @property
    def key(self) -> ScoreKey:
        assert self.model.id is not None and self.bench.id is not None
        return (self.model.id, self.bench.id, self.setting)

    def beats(self, other: _Planned) -> bool:
        """Whether this claim wins over ``other`` for the same key: the better value, then
        the earlier date (the value was public from then), so the choice ignores row order."""
        mine, theirs = self.record.value, other.record.value
        if mine != theirs:
            return mine > theirs if self.bench.higher_is_better else mine < theirs
        return (self.record.available_on or date.max) < (other.record.available_on or date.max)


class _Ingest:
    """The writes of one batch, with the store's names loaded once."""

    def __init__(self, session: Session, source: t.Source, result: IngestResult, now: datetime):
        self.session = session
        self.source = source
        self.result = result
        self.now = now
        self.aliases: dict[str, int] = dict(
            session.exec(select(t.ModelAlias.alias, t.ModelAlias.model_id)).all()
        )
        self.by_repo: dict[str, int] = {
            repo.lower(): model_id
            for model_id, repo in session.exec(
                select(t.Model.id, t.Model.hf_repo).where(t.Model.hf_repo.is_not(None))  # type: ignore[union-attr]
            )
        }
        # The models the batch names, loaded in bulk by ``preload`` (one SELECT each would be
        # the cost); loading every model instead costs seconds on a store of 100,000.
        self.models: dict[int, t.Model] = {}
        self.slugs: set[str] = set(session.exec(select(t.Model.slug)))
        ranks = session.exec(select(t.Source.id, t.Source.trust_rank)).all()
        self.ranks: dict[int | None, int] = {source_id: rank for source_id, rank in ranks}
        self.benchmarks: dict[str, t.Benchmark] = {}
        for bench in session.exec(select(t.Benchmark)):
            for name in (bench.key, bench.name, *bench.aliases):
                self.benchmarks.setdefault(normalize_name(name), bench)
        # (model id, field) already set by an earlier record of this batch: the first record
        # wins, so two records of one model cannot flip a fact back and forth on every poll.
        self.claimed: set[tuple[int, str]] = set()
        self.updated: set[int] = set()

    def preload(self, batch: SourceBatch) -> None:
        """Load the stored models the batch's names resolve to, a few hundred per query."""
        wanted: set[int] = set()
        names = [(m.name, m.hf_repo or m.source_model_id) for m in batch.models]
        names += [(s.model_name, s.raw_model_id) for s in batch.scores]
        for name, repo in names:
            model_id = self.model_id(name, repo)
            if model_id is not None:
                wanted.add(model_id)
        ids = sorted(wanted - self.models.keys())
        for start in range(0, len(ids), PRELOAD_CHUNK):
            chunk = ids[start : start + PRELOAD_CHUNK]
            query = select(t.Model).where(t.Model.id.in_(chunk))  # type: ignore[union-attr]
            self.models.update((m.id, m) for m in self.session.exec(query) if m.id)

    def run(self, batch: SourceBatch) -> None:
        self.preload(batch)
        for raw in batch.models:
            try:
                record = _validated(raw)
            except ValueError as exc:
                self.reject(f"model: {_reason(exc)}", raw)
                continue
            self.upsert_model(record)
        self.result.counts["models_updated"] = len(self.updated)
        changes = self.diff(self.plan_scores(batch.scores), batch.fetched_at.date())
        touched = {plan.bench.id: plan.bench for plan, _row, _on in changes}
        before = self.frontiers(touched.values())
        for plan, row, available in changes:
            self.write(plan, row, available)
        self.session.flush()
        self.new_frontiers(before, self.frontiers(touched.values()), touched)

    def reject(self, reason: str, raw: object) -> None:
        dump = raw.model_dump() if isinstance(raw, ModelRecord | ScoreRecord) else raw
        self.result.rejected.append(RejectedRow.of(reason, dump))

    # Models -------------------------------------------------------------------------------

    def find_model(self, name: str, hf_repo: str | None = None) -> t.Model | None:
        """The stored model a source's name (or Hugging Face repo id) means, if any."""
        model_id = self.model_id(name, hf_repo)
        if model_id is None:
            return None
        model = self.models.get(model_id)
        if model is None:  # named by an alias this batch added: not preloaded
            model = self.session.get(t.Model, model_id)
            if model is not None:
                self.models[model_id] = model
        return model

    def model_id(self, name: str, hf_repo: str | None = None) -> int | None:
        """The id of the stored model a name (or Hugging Face repo id) means, if any."""
        model_id = None
        if hf_repo:
            model_id = self.by_repo.get(hf_repo.lower()) or self.aliases.get(
                normalize_name(hf_repo)
            )
        if model_id is None:
            model_id = self.aliases.get(normalize_name(name))
            if model_id is None and "/" in name:
                model_id = self.aliases.get(normalize_name(name.rsplit("/", 1)[1]))
        return model_id

    def new_slug(self, name: str) -> str:
        base = slugify(name.rsplit("/", 1)[-1] if "/" in name else name)
        slug, n = base, 2
        while slug in self.slugs:
            slug, n = f"{base}-{n}", n + 1
        self.slugs.add(slug)
        return slug

    def add_alias(self, name: str, model_id: int) -> None:
        alias = normalize_name(name)[:256]
        if alias and alias not in self.aliases:
            self.session.add(t.ModelAlias(alias=alias, model_id=model_id))
            self.aliases[alias] = model_id

    def upsert_model(self, record: ModelRecord) -> t.Model:
        """Match the record to a stored model (or create one) and fill in its facts."""
        model = self.find_model(record.name, record.hf_repo or record.source_model_id)
        values = {name: getattr(record, name) for name in MODEL_FIELDS}
        if model is None:
            model = self.create_model(record, values)
        elif self.update_model(model, values, record.url):
            assert model.id is not None
            self.updated.add(model.id)
        assert model.id is not None
        for name in (record.name, record.hf_repo, record.source_model_id):
            if name:
                self.add_alias(name, model.id)
        if record.hf_repo:
            self.by_repo.setdefault(record.hf_repo.lower(), model.id)
        return model

    def create_model(self, record: ModelRecord, values: dict[str, Any]) -> t.Model:
        model = t.Model(
            slug=self.new_slug(record.hf_repo or record.name),
            name=record.name[:200],
            facts_source_id=self.source.id,
            facts_url=record.url,
            created_at=self.now,
            updated_at=self.now,
            **{k: v for k, v in values.items() if v is not None},
        )
        self.session.add(model)
        self.session.flush()
        assert model.id is not None
        self.models[model.id] = model
        self.claimed.update((model.id, name) for name, v in values.items() if v is not None)
        self.result.counts["models_new"] += 1
        self.result.events.append(
            ChangeEvent(
                "new_model",
                self.source.key,
                model.slug,
                model.name,
                open_weights=model.open_weights,
            )
        )
        return model

    def update_model(self, model: t.Model, values: dict[str, Any], url: str | None) -> bool:
        """Fill unknown facts; overwrite known ones only if this source is trusted more."""
        assert model.id is not None
        owner_rank = self.trust_of(model.facts_source_id)
        owns = model.facts_source_id == self.source.id or self.source.trust_rank < owner_rank
        changed = wrote_params = False
        for name, value in values.items():
            if value is None or (model.id, name) in self.claimed:
                continue
            self.claimed.add((model.id, name))
            current = getattr(model, name)
            if current is None or (owns and current != value):
                setattr(model, name, value)
                changed = True
                wrote_params = wrote_params or name == "total_params_b"
        if changed:
            # The facts citation is what /fits and /model cite for the parameter count, so
            # it moves only with the parameter count (not with a licence or a date).
            if wrote_params and model.facts_source_id != self.source.id:
                model.facts_source_id = self.source.id
                model.facts_url = url or model.facts_url
            model.updated_at = self.now
        return changed

    def trust_of(self, source_id: int | None) -> int:
        return self.ranks.get(source_id, 1_000) if source_id is not None else 1_000

    # Scores -------------------------------------------------------------------------------

    def benchmark(self, record: ScoreRecord) -> t.Benchmark:
        """The benchmark a source's name means (key, name or alias), created if new.

        Raises:
            ValueError: The record's unit contradicts the benchmark's (percent vs other).
        """
        key = normalize_name(record.benchmark)
        bench = self.benchmarks.get(key)
        if bench is None:
            bench = t.Benchmark(
                key=benchmark_slug(record.benchmark)[:64],
                name=record.benchmark[:100],
                aliases=[],
                unit="%" if record.unit == "%" else record.unit[:16],
            )
            self.session.add(bench)
            self.session.flush()
            self.benchmarks[key] = bench
            self.result.counts["benchmarks_new"] += 1
        elif (bench.unit == "%") != (record.unit == "%"):
            raise ValueError(f"unit {record.unit!r} does not match {bench.key}'s {bench.unit!r}")
        return bench

    def resolve(self, raw: ScoreRecord) -> _Planned | None:
        """Validate a score and match its model and benchmark; None (and a rejection) if bad."""
        try:
            record = _validated(raw)
            bench = self.benchmark(record)
        except ValueError as exc:
            self.reject(f"score: {_reason(exc)}", raw)
            return None
        model = self.find_model(record.model_name, record.raw_model_id)
        if model is None:
            model = self.upsert_model(
                ModelRecord(name=record.model_name, source_model_id=record.raw_model_id)
            )
        return _Planned(record, model, bench, (record.setting or "")[:64])

    def plan_scores(self, scores: list[ScoreRecord]) -> dict[ScoreKey, _Planned]:
        """One claim per stored key: rows that name one model twice keep the best claim.

        A source may list one model under several names or runs (Epoch's ``_32K`` variants,
        a provider's mirror); the store keeps one score per model, benchmark, source and
        setting, so the others count as ``scores_merged`` instead of overwriting each other.
        """
        planned: dict[ScoreKey, _Planned] = {}
        for raw in scores:
            plan = self.resolve(raw)
            if plan is None:
                continue
            current = planned.get(plan.key)
            if current is not None:
                self.result.counts["scores_merged"] += 1
                if not plan.beats(current):
                    continue
            planned[plan.key] = plan
        return planned

    def existing_scores(self) -> dict[ScoreKey, t.Score]:
        """This source's stored scores by key (one query, not one per record)."""
        query = select(t.Score).where(t.Score.source_id == self.source.id)
        return {(s.model_id, s.benchmark_id, s.setting): s for s in self.session.exec(query)}

    def available_on(self, plan: _Planned, row: t.Score | None, fetched_on: date) -> date:
        """When the score became public: the source's date, else what the store already
        says, else the model's release, else the day it was first seen."""
        released = plan.model.released_on
        available = plan.record.available_on or (row.available_on if row else None)
        available = available or released or fetched_on
        # No score is public before its model (LLM-Stats' date_recorded sometimes is).
        return max(available, released) if released else available

    def diff(
        self, planned: dict[ScoreKey, _Planned], fetched_on: date
    ) -> list[tuple[_Planned, t.Score | None, date]]:
        """The planned scores that differ from the store, with their dates."""
        existing = self.existing_scores()
        changes = []
        for key, plan in planned.items():
            row = existing.get(key)
            available = self.available_on(plan, row, fetched_on)
            if row is not None and _same(row, plan.record, available):
                self.result.counts["scores_unchanged"] += 1
                continue
            changes.append((plan, row, available))
        return changes

    def write(self, plan: _Planned, row: t.Score | None, available: date) -> None:
        record, model = plan.record, plan.model
        if row is None:
            self.session.add(
                t.Score(
                    model_id=model.id,  # type: ignore[arg-type]
                    benchmark_id=plan.bench.id,  # type: ignore[arg-type]
                    source_id=self.source.id,  # type: ignore[arg-type]
                    setting=plan.setting,
                    value=record.value,
                    available_on=available,
                    approximate=record.approximate,
                    url=record.url,
                    retrieved_at=self.now,
                )
            )
            self.result.counts["scores_new"] += 1
            kind, old = "new_score", None
        else:
            old = row.value
            row.value = record.value
            row.available_on = available
            row.approximate = record.approximate
            row.url = record.url or row.url
            row.retrieved_at = self.now
            self.result.counts["scores_changed"] += 1
            if old == record.value:
                return  # a new date or provenance, not a new number: no event
            kind = "changed_score"
        self.result.events.append(
            ChangeEvent(
                kind,
                self.source.key,
                model.slug,
                model.name,
                plan.bench.key,
                record.value,
                old,
                open_weights=model.open_weights,
            )
        )

    # Frontiers ----------------------------------------------------------------------------

    def frontiers(self, benches: Iterable[t.Benchmark]) -> dict[int, dict[bool, f.Score]]:
        """Each side's best headline score (the gap's P and O) on each benchmark."""
        found: dict[int, dict[bool, f.Score]] = {}
        for bench in benches:
            assert bench.id is not None
            sides: dict[bool, f.Score] = {}
            for score in frontier_candidates(self.session, bench):
                best = sides.get(score.open_weights)
                if best is None or _better(score.value, best.value, bench.higher_is_better):
                    sides[score.open_weights] = score
            found[bench.id] = sides
        return found

    def new_frontiers(
        self,
        before: dict[int, dict[bool, f.Score]],
        after: dict[int, dict[bool, f.Score]],
        benches: dict[int | None, t.Benchmark],
    ) -> None:
        """A ``new_frontier`` event for each side whose best improved in this batch."""
        for bench_id, sides in after.items():
            bench = benches[bench_id]
            for open_weights, best in sorted(sides.items()):
                old = before.get(bench_id, {}).get(open_weights)
                if old is not None and not _better(best.value, old.value, bench.higher_is_better):
                    continue
                self.result.events.append(
                    ChangeEvent(
                        "new_frontier",
                        self.source.key,
                        model_slug=best.model_slug,
                        model_name=best.model_name,
                        benchmark=bench.key,
                        value=best.value,
                        old_value=old.value if old else None,
                        open_weights=open_weights,
                    )
                )


def _better(value: float, than: float, higher_is_better: bool) -> bool:
    return value > than if higher_is_better else value < than


def _same(row: t.Score, record: ScoreRecord, available: date) -> bool:
    return (
        row.value == record.value
        and row.available_on == available
        and row.approximate == record.approximate
        and (record.url is None or row.url == record.url)
    )
