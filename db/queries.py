"""Queries that turn rows into ``frontier`` dataclasses. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from db import tables as t
from frontier import types as f
from frontier.errors import NotFoundError
from frontier.names import normalize_name, suggest
from frontier.predictions import PredictionDef

REPORT_SOURCE = "seed-report"


def find_benchmark(session: Session, text: str) -> t.Benchmark:
    """The benchmark a user means by ``text`` (key, name or alias, any case).

    Raises:
        NotFoundError: with the closest names as suggestions.
    """
    wanted = normalize_name(text)
    choices: dict[str, str] = {}
    for bench in session.exec(select(t.Benchmark)):
        names = [bench.key, bench.name, *bench.aliases]
        if wanted in {normalize_name(n) for n in names}:
            return bench
        choices.update({normalize_name(n): bench.name for n in names})
    raise NotFoundError(f"no benchmark {text.strip()[:60]!r}", suggest(text, choices))


def all_benchmarks(session: Session) -> list[t.Benchmark]:
    """Every benchmark, tracked ones first, then by key."""
    query = select(t.Benchmark).order_by(t.Benchmark.tracked.desc(), t.Benchmark.key)  # type: ignore[attr-defined]
    return list(session.exec(query))


def model_aliases(session: Session) -> list[tuple[str, str, str]]:
    """(normalized alias, model name, slug) for every alias."""
    query = select(t.ModelAlias.alias, t.Model.name, t.Model.slug).join(
        t.Model,
        t.Model.id == t.ModelAlias.model_id,  # type: ignore[arg-type]
    )
    return [(alias, name, slug) for alias, name, slug in session.exec(query)]


def benchmark_names(session: Session) -> dict[str, str]:
    """Normalized name or alias → display name, for autocomplete and suggestions."""
    choices: dict[str, str] = {}
    for bench in session.exec(select(t.Benchmark)):
        for name in (bench.key, bench.name, *bench.aliases):
            choices[normalize_name(name)] = bench.name
    return choices


def tracked_benchmarks(session: Session) -> list[t.Benchmark]:
    """The benchmarks the dashboard and the alerts follow, in key order."""
    return list(
        session.exec(select(t.Benchmark).where(t.Benchmark.tracked).order_by(t.Benchmark.key))
    )


def to_benchmark(row: t.Benchmark) -> f.Benchmark:
    """The analytics' view of a benchmark row."""
    citation = None
    if row.question_count_source:
        citation = f.Citation("benchmark", row.question_count_source, row.question_count_url)
    return f.Benchmark(
        key=row.key,
        name=row.name,
        higher_is_better=row.higher_is_better,
        canonical_setting=row.canonical_setting,
        question_count=row.question_count,
        question_count_citation=citation,
    )


def _citation(source: t.Source, score: t.Score | None = None) -> f.Citation:
    label = source.name
    if score is not None and score.section:
        label = f"{source.name}, {score.section}"
    url = (score.url if score is not None else None) or source.url
    return f.Citation(source=source.key, label=label, url=url)


def to_score(spec: f.ModelSpec, bench: t.Benchmark, score: t.Score, source: t.Source) -> f.Score:
    """One stored score as the analytics' ``Score``."""
    return f.Score(
        model_slug=spec.slug,
        model_name=spec.name,
        open_weights=bool(spec.open_weights),
        benchmark=bench.key,
        value=score.value,
        available_on=score.available_on,
        citation=_citation(source, score),
        setting=score.setting or None,
        approximate=score.approximate,
    )


def headline_scores(
    session: Session,
    benchmark: t.Benchmark,
    *,
    as_of: date | None = None,
    sources: Sequence[str] | None = None,
) -> list[f.Score]:
    """Each model's headline score on a benchmark: its most trusted source, canonical setting.

    Models whose openness is unknown are left out (they belong to neither frontier).
    ``sources`` restricts the scores to those source keys (the audit reads the report alone).
    """
    query = (
        select(t.Score, t.Model, t.Source)
        .join(t.Model, t.Model.id == t.Score.model_id)  # type: ignore[arg-type]
        .join(t.Source, t.Source.id == t.Score.source_id)  # type: ignore[arg-type]
        .where(t.Score.benchmark_id == benchmark.id)
        .where(t.Model.open_weights.is_not(None))  # type: ignore[union-attr]
    )
    if as_of is not None:
        query = query.where(t.Score.available_on <= as_of)
    if sources is not None:
        query = query.where(t.Source.key.in_(list(sources)))  # type: ignore[attr-defined]
    canonical = {"", benchmark.canonical_setting or ""}
    best: dict[int, tuple[tuple[int, int, float], f.Score]] = {}
    for score, model, source in session.exec(query):
        # Rank: canonical setting first, then the most trusted source, then the newest retrieval.
        rank = (
            0 if score.setting in canonical else 1,
            source.trust_rank,
            -score.retrieved_at.timestamp(),
        )
        current = best.get(model.id or 0)
        if current is not None and current[0] <= rank:
            continue
        best[model.id or 0] = (
            rank,
            f.Score(
                model_slug=model.slug,
                model_name=model.name,
                open_weights=bool(model.open_weights),
                benchmark=benchmark.key,
                value=score.value,
                available_on=score.available_on,
                citation=_citation(source, score),
                setting=score.setting or None,
                approximate=score.approximate,
            ),
        )
    return [entry[1] for entry in best.values()]


def find_model(session: Session, text: str) -> t.Model:
    """The model a user means (slug, name or alias, any case).

    Raises:
        NotFoundError: with the closest names as suggestions.
    """
    wanted = normalize_name(text)
    alias = session.get(t.ModelAlias, wanted) if wanted else None
    if alias is not None:
        model = session.get(t.Model, alias.model_id)
        if model is not None:
            return model
    model = session.exec(select(t.Model).where(t.Model.slug == text.strip().lower())).first()
    if model is not None:
        return model
    raise NotFoundError(f"no model {text.strip()[:80]!r}", suggest(text, model_names(session)))


def model_names(session: Session, limit: int | None = None) -> dict[str, str]:
    """Normalized alias → model display name."""
    query = select(t.ModelAlias.alias, t.Model.name).join(
        t.Model,
        t.Model.id == t.ModelAlias.model_id,  # type: ignore[arg-type]
    )
    if limit is not None:
        query = query.limit(limit)
    return {alias: name for alias, name in session.exec(query)}


def to_model_spec(session: Session, row: t.Model) -> f.ModelSpec:
    """The analytics' view of a model row, with the citations of its facts."""

    def cite(source_id: int | None, url: str | None) -> f.Citation | None:
        if source_id is None:
            return None
        source = session.get(t.Source, source_id)
        return f.Citation(source.key, source.name, url or source.url) if source else None

    arch = f.Architecture(
        layers=row.layers,
        kv_heads=row.kv_heads,
        head_dim=row.head_dim,
        hidden_size=row.hidden_size,
        attention_heads=row.attention_heads,
        max_context=row.max_context,
        attention=row.attention or "gqa",
        sliding_window=row.sliding_window,
        full_attention_layers=row.full_attention_layers,
        kv_lora_rank=row.kv_lora_rank,
        qk_rope_head_dim=row.qk_rope_head_dim,
        experts=row.experts,
        experts_per_token=row.experts_per_token,
    )
    known = row.layers is not None or row.kv_lora_rank is not None
    return f.ModelSpec(
        slug=row.slug,
        name=row.name,
        organization=row.organization,
        open_weights=row.open_weights,
        released_on=row.released_on,
        total_params_b=row.total_params_b,
        active_params_b=row.active_params_b,
        params_citation=cite(row.facts_source_id, row.facts_url),
        architecture=arch if known else None,
        architecture_citation=cite(row.arch_source_id, row.arch_url),
        training_cost_usd=row.training_cost_usd,
        training_cost_approximate=row.training_cost_approximate,
        training_cost_citation=cite(row.training_cost_source_id, None),
    )


def model_specs(session: Session, *, open_only: bool = False) -> list[f.ModelSpec]:
    """Every model as a ``ModelSpec`` (sources fetched once, not per model)."""
    query = select(t.Model)
    if open_only:
        query = query.where(t.Model.open_weights)
    return [to_model_spec(session, row) for row in session.exec(query)]


def model_scores(session: Session, model: t.Model) -> list[tuple[t.Benchmark, t.Score, t.Source]]:
    """All of a model's scores with their benchmark and source, by benchmark then trust."""
    query = (
        select(t.Benchmark, t.Score, t.Source)
        .join(t.Score, t.Score.benchmark_id == t.Benchmark.id)  # type: ignore[arg-type]
        .join(t.Source, t.Source.id == t.Score.source_id)  # type: ignore[arg-type]
        .where(t.Score.model_id == model.id)
        .order_by(t.Benchmark.key, t.Source.trust_rank)
    )
    return list(session.exec(query))


def newest_score_date(session: Session) -> date | None:
    """The newest ``available_on`` in the store: how fresh the data is."""
    return session.exec(select(func.max(t.Score.available_on))).one()


def counts(session: Session) -> dict[str, int]:
    """Row counts of the main tables (for /about and the console banner)."""
    result = {}
    for name, table in (
        ("models", t.Model),
        ("scores", t.Score),
        ("benchmarks", t.Benchmark),
        ("sources", t.Source),
        ("predictions", t.Prediction),
    ):
        result[name] = session.exec(select(func.count()).select_from(table)).one()
    return result


def predictions(session: Session) -> Sequence[t.Prediction]:
    """All predictions, by code."""
    return list(session.exec(select(t.Prediction).order_by(t.Prediction.code)))


def seed_source_keys(session: Session) -> list[str]:
    """Keys of the bundled dataset's sources (the report and what it cites)."""
    return list(session.exec(select(t.Source.key).where(t.Source.kind == "reference")))


def scores_by_benchmark(
    session: Session, *, sources: Sequence[str] | None = None
) -> tuple[dict[str, f.Benchmark], dict[str, list[f.Score]]]:
    """Every benchmark and its headline scores, keyed by benchmark key."""
    benchmarks: dict[str, f.Benchmark] = {}
    scores: dict[str, list[f.Score]] = {}
    for row in all_benchmarks(session):
        benchmarks[row.key] = to_benchmark(row)
        scores[row.key] = headline_scores(session, row, sources=sources)
    return benchmarks, scores


def to_prediction_def(session: Session, row: t.Prediction) -> PredictionDef:
    """A prediction row as the rules' input."""
    source = session.get(t.Source, row.source_id) if row.source_id else None
    label = f"{source.name}, {row.section}" if source and row.section else (row.section or "")
    return PredictionDef(
        code=row.code,
        title=row.title,
        claim=row.claim,
        threshold=row.threshold,
        verification_date=row.verification_date,
        rule=row.rule,
        params=row.params,
        citation=f.Citation(source.key if source else "prediction", label or row.code),
    )


def find_prediction(session: Session, code: str) -> t.Prediction:
    """A prediction by code (any case), or NotFoundError with suggestions."""
    wanted = code.strip().upper()
    rows = predictions(session)
    for row in rows:
        if row.code.upper() == wanted:
            return row
    choices = {normalize_name(r.code): r.code for r in rows}
    raise NotFoundError(f"no prediction {code.strip()[:30]!r}", suggest(code, choices))


def attestations(session: Session) -> list[f.Attestation]:
    """Every attestation as the rules' input."""
    query = select(t.Attestation, t.Prediction.code).join(
        t.Prediction,
        t.Prediction.id == t.Attestation.prediction_id,  # type: ignore[arg-type]
    )
    found = []
    for att, code in session.exec(query):
        model = session.get(t.Model, att.model_id) if att.model_id else None
        found.append(
            f.Attestation(
                prediction=code,
                criterion=att.criterion,
                holds=att.holds,
                statement=att.statement,
                stated_on=att.stated_on,
                citation=f.Citation("attestation", att.source_label, att.url),
                model_slug=model.slug if model else None,
            )
        )
    return found


def sources(session: Session) -> list[t.Source]:
    """Every source, polled ones first, then by key."""
    return list(session.exec(select(t.Source).order_by(t.Source.kind, t.Source.key)))
