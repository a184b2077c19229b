"""Ingest: one source batch into the store, in the caller's transaction, with change events.

Records arrive validated (``jobs.sources.base``). Here they are matched to the store's models
and benchmarks (aliases, Hugging Face repo ids, normalized names), upserted with provenance,
and every change becomes a ``ChangeEvent`` for the alert rules. Nothing here commits: the poll
job owns the transaction, so a crash mid-poll leaves the store as it was.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from db import tables as t
from db.types import utcnow
from frontier.names import normalize_name, slugify
from jobs.sources.base import ModelRecord, RejectedRow, ScoreRecord, SourceBatch

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
        """Whether any row of models or scores changed."""
        return any(
            self.counts[k] for k in ("models_new", "models_updated", "scores_new", "scores_changed")
        )

    def summary(self) -> str:
        """``epoch: 12 new scores, 3 changed, 240 unchanged, 2 rejected (reasons)``."""
        if self.not_modified:
            return f"{self.source}: not modified since the last poll"
        c = self.counts
        text = (
            f"{self.source}: models {c['models_new']} new, {c['models_updated']} updated; "
            f"scores {c['scores_new']} new, {c['scores_changed']} changed, "
            f"{c['scores_unchanged']} unchanged; {len(self.rejected)} rejected"
        )
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
    """Write one batch into the store (no commit) and describe what changed."""
    now = at or utcnow()
    source = source_row(session, batch.source, url=batch.url)
    result = IngestResult(source=batch.source, not_modified=batch.not_modified)
    result.rejected.extend(batch.rejected)
    if not batch.not_modified:
        _Ingest(session, source, result, now).run(batch)
    source.last_polled_at = now
    source.last_success_at = now
    source.last_error = None
    source.consecutive_failures = 0
    if not batch.not_modified:
        source.etag = batch.etag
        source.last_modified = batch.last_modified
        source.content_hash = batch.content_hash
    if result.rejected:
        log.info("%s: %d rows rejected", batch.source, len(result.rejected))
    return result


class _Ingest:
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
        self.slugs: set[str] = set(session.exec(select(t.Model.slug)).all())
        self.models: dict[int, t.Model] = {}
        self.benchmarks: dict[str, t.Benchmark] = {}
        for bench in session.exec(select(t.Benchmark)):
            for name in (bench.key, bench.name, *bench.aliases):
                self.benchmarks.setdefault(normalize_name(name), bench)

    def run(self, batch: SourceBatch) -> None:
        for record in batch.models:
            self.upsert_model(record)
        before = self.frontiers({s.benchmark for s in batch.scores})
        for score in batch.scores:
            try:
                self.upsert_score(score, batch.fetched_at.date())
            except ValueError as exc:
                self.result.rejected.append(RejectedRow.of(f"score: {exc}", score.model_dump()))
        self.session.flush()
        after = self.frontiers({s.benchmark for s in batch.scores})
        for key, sides in after.items():
            for open_weights, best in sides.items():
                old = before.get(key, {}).get(open_weights)
                if best is not None and (old is None or best[0] > old[0]):
                    self.result.events.append(
                        ChangeEvent(
                            "new_frontier",
                            self.source.key,
                            model_slug=self.frontier_model(key, open_weights, best[0]),
                            benchmark=key,
                            value=best[0],
                            old_value=old[0] if old else None,
                            open_weights=open_weights,
                        )
                    )

    # Models -------------------------------------------------------------------------------

    def find_model(self, name: str, hf_repo: str | None = None) -> t.Model | None:
        model_id = None
        if hf_repo:
            model_id = self.by_repo.get(hf_repo.lower()) or self.aliases.get(
                normalize_name(hf_repo)
            )
        if model_id is None:
            model_id = self.aliases.get(normalize_name(name))
            if model_id is None and "/" in name:
                model_id = self.aliases.get(normalize_name(name.rsplit("/", 1)[1]))
        if model_id is None:
            return None
        if model_id not in self.models:
            model = self.session.get(t.Model, model_id)
            if model is None:
                return None
            self.models[model_id] = model
        return self.models[model_id]

    def new_slug(self, name: str) -> str:
        base = slugify(name.rsplit("/", 1)[-1] if "/" in name else name)
        slug, n = base, 2
        while slug in self.slugs:
            slug, n = f"{base}-{n}", n + 1
        self.slugs.add(slug)
        return slug

    def add_alias(self, name: str, model_id: int) -> None:
        alias = normalize_name(name)
        if alias and alias not in self.aliases:
            self.session.add(t.ModelAlias(alias=alias, model_id=model_id))
            self.aliases[alias] = model_id

    def upsert_model(self, record: ModelRecord) -> t.Model:
        model = self.find_model(record.name, record.hf_repo)
        values = {name: getattr(record, name) for name in MODEL_FIELDS}
        if model is None:
            model = t.Model(
                slug=self.new_slug(record.hf_repo or record.name),
                name=record.name[:200],
                facts_source_id=self.source.id,
                facts_url=record.url,
                **{k: v for k, v in values.items() if v is not None},
            )
            self.session.add(model)
            self.session.flush()
            assert model.id is not None
            self.models[model.id] = model
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
        else:
            if self.update_model(model, values, record.url):
                self.result.counts["models_updated"] += 1
        assert model.id is not None
        for name in (record.name, record.hf_repo, record.source_model_id):
            if name:
                self.add_alias(name, model.id)
        if record.hf_repo:
            self.by_repo.setdefault(record.hf_repo.lower(), model.id)
        return model

    def update_model(self, model: t.Model, values: dict[str, Any], url: str | None) -> bool:
        owner_rank = self.trust_of(model.facts_source_id)
        owns = model.facts_source_id == self.source.id or self.source.trust_rank < owner_rank
        changed = False
        for name, value in values.items():
            if value is None:
                continue
            current = getattr(model, name)
            if current is None or (owns and current != value):
                setattr(model, name, value)
                changed = True
        if changed:
            if owns:
                model.facts_source_id = self.source.id
                model.facts_url = url or model.facts_url
            model.updated_at = self.now
        return changed

    def trust_of(self, source_id: int | None) -> int:
        if source_id is None:
            return 1_000
        source = self.session.get(t.Source, source_id)
        return source.trust_rank if source else 1_000

    # Scores -------------------------------------------------------------------------------

    def benchmark(self, record: ScoreRecord) -> t.Benchmark:
        key = normalize_name(record.benchmark)
        bench = self.benchmarks.get(key)
        if bench is None:
            bench = t.Benchmark(
                key=record.benchmark[:64],
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

    def upsert_score(self, record: ScoreRecord, fetched_on: date) -> None:
        model = self.find_model(record.model_name, record.raw_model_id)
        if model is None:
            model = self.upsert_model(ModelRecord(name=record.model_name))
        bench = self.benchmark(record)
        setting = (record.setting or "")[:64]
        existing = self.session.exec(
            select(t.Score).where(
                t.Score.model_id == model.id,
                t.Score.benchmark_id == bench.id,
                t.Score.source_id == self.source.id,
                t.Score.setting == setting,
            )
        ).first()
        available = record.available_on or model.released_on or fetched_on
        if model.released_on is not None and available < model.released_on:
            # No score is public before its model (LLM-Stats' date_recorded sometimes is).
            available = model.released_on
        if existing is None:
            self.session.add(
                t.Score(
                    model_id=model.id,  # type: ignore[arg-type]
                    benchmark_id=bench.id,  # type: ignore[arg-type]
                    source_id=self.source.id,  # type: ignore[arg-type]
                    setting=setting,
                    value=record.value,
                    available_on=available,
                    approximate=record.approximate,
                    url=record.url,
                    retrieved_at=self.now,
                )
            )
            self.session.flush()
            self.result.counts["scores_new"] += 1
            self.result.events.append(
                ChangeEvent(
                    "new_score",
                    self.source.key,
                    model.slug,
                    model.name,
                    bench.key,
                    record.value,
                    open_weights=model.open_weights,
                )
            )
            return
        if existing.value == record.value and existing.available_on == available:
            self.result.counts["scores_unchanged"] += 1
            return
        old = existing.value
        existing.value = record.value
        existing.available_on = available
        existing.approximate = record.approximate
        existing.url = record.url or existing.url
        existing.retrieved_at = self.now
        self.result.counts["scores_changed"] += 1
        if old != record.value:
            self.result.events.append(
                ChangeEvent(
                    "changed_score",
                    self.source.key,
                    model.slug,
                    model.name,
                    bench.key,
                    record.value,
                    old,
                    open_weights=model.open_weights,
                )
            )

    def frontiers(self, raw_benchmarks: set[str]) -> dict[str, dict[bool, tuple[float, str]]]:
        """Best value per side for each benchmark this batch touches (percent benchmarks)."""
        keys = {
            self.benchmarks[normalize_name(b)].key
            for b in raw_benchmarks
            if normalize_name(b) in self.benchmarks
        }
        found: dict[str, dict[bool, tuple[float, str]]] = {}
        if not keys:
            return found
        best = (
            select(t.Benchmark.key, t.Model.open_weights, func.max(t.Score.value))
            .join(t.Score, t.Score.benchmark_id == t.Benchmark.id)  # type: ignore[arg-type]
            .join(t.Model, t.Model.id == t.Score.model_id)  # type: ignore[arg-type]
            .where(t.Benchmark.key.in_(keys), t.Model.open_weights.is_not(None))  # type: ignore[attr-defined, union-attr]
            .group_by(t.Benchmark.key, t.Model.open_weights)
        )
        for key, open_weights, value in self.session.exec(best):
            found.setdefault(key, {})[bool(open_weights)] = (value, "")
        return found

    def frontier_model(self, key: str, open_weights: bool, value: float) -> str:
        """The slug of a model holding a side's best value on a benchmark."""
        query = (
            select(t.Model.slug)
            .join(t.Score, t.Score.model_id == t.Model.id)  # type: ignore[arg-type]
            .join(t.Benchmark, t.Benchmark.id == t.Score.benchmark_id)  # type: ignore[arg-type]
            .where(
                t.Benchmark.key == key,
                t.Model.open_weights == open_weights,
                t.Score.value == value,
            )
            .order_by(t.Model.slug)
            .limit(1)
        )
        return self.session.exec(query).first() or ""
