"""The service the commands call: one method per question, one answer object back.

Each method opens its own read-only unit of work, asks ``db`` for rows as ``frontier`` types
and lets ``frontier`` compute. Methods are synchronous (SQL and pandas block); the Discord
layer and the console run them in a worker thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlmodel import Session

from db import queries
from db import tables as t
from db.dataset import stored_version
from db.engine import session_scope
from frontier import types as f
from frontier.audit import AuditReport, audit
from frontier.errors import InputError
from frontier.fits import (
    DEFAULT_MIN_BITS,
    SEARCH_QUANTS,
    FitRanking,
    FitReport,
    fit_report,
    models_that_fit,
    shape_key,
)
from frontier.gap import Dashboard, GapReport, dashboard, gap_report
from frontier.lag import LagReport, lag_report
from frontier.predictions import (
    PredictionData,
    PredictionDef,
    PredictionVerdict,
    TrackRecord,
    evaluate,
    track_record,
)

VERSION = "0.1.0"

FIT_LIST_LIMIT = 100
"""Most models a fits list carries (ten pages of ten); its count still says how many fit."""

FRONTIER_RULES = frozenset({"ob001_parity"})
"""Prediction rules whose verdict reads only gap trajectories: each side's frontier records
(``frontier_candidates``) decide them, so they need not load every headline score."""


def max_params_within(budget_gib: float, min_bits: float) -> float:
    """The most parameters (billions) whose weights alone fit ``budget_gib`` at the thinnest
    format of at least ``min_bits``: no larger model can fit, whatever its KV cache."""
    thinnest = min(
        (q.bits_per_weight for q in SEARCH_QUANTS if q.nominal_bits >= min_bits), default=16.0
    )
    return budget_gib * 2**30 * 8 / thinnest / 1e9


def _benchmarks_named(definition: PredictionDef) -> set[str] | None:
    """The benchmark keys a prediction's parameters name; None if they name none."""
    params = definition.params
    keys = set()
    if isinstance(params.get("benchmarks"), list):
        keys |= {str(k) for k in params["benchmarks"]}
    if isinstance(params.get("benchmark"), str):
        keys.add(params["benchmark"])
    return keys or None


def utc_today() -> date:
    """Today's date in UTC (the default clock)."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class AboutAnswer:
    """Version, data freshness and what the store holds."""

    version: str
    dataset_version: str | None
    newest_data_on: date | None
    counts: dict[str, int]
    database: str


@dataclass(frozen=True)
class FitAnswer:
    """One model's fit report with the model's facts (and their sources)."""

    model: f.ModelSpec
    report: FitReport


@dataclass(frozen=True)
class FitListAnswer:
    """Open models that fit a budget, ranked by a benchmark.

    ``ranking.fits`` holds the best :data:`FIT_LIST_LIMIT` at most; ``total`` counts them all.
    """

    ranking: FitRanking
    benchmark: f.Benchmark
    total: int | None = None

    @property
    def count(self) -> int:
        """How many open models fit, listed or not."""
        return len(self.ranking.fits) if self.total is None else self.total


@dataclass(frozen=True)
class ModelScore:
    """One of a model's scores, with its benchmark's name."""

    benchmark: str
    score: f.Score
    headline: bool


@dataclass(frozen=True)
class ModelCard:
    """A model's facts, scores with sources, and memory needs."""

    model: f.ModelSpec
    license: str | None
    hf_repo: str | None
    scores: tuple[ModelScore, ...]
    fit: FitReport | None
    # What renderers made of this card (``bot.embeds``): a pure function of the fields above,
    # which never change, so it is kept with them; not part of the card's value, and not
    # carried over by ``dataclasses.replace`` (``init=False``: a changed card starts empty).
    rendered: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)


@dataclass(frozen=True)
class Leaderboard:
    """The best headline scores on a benchmark."""

    benchmark: f.Benchmark
    as_of: date
    open_only: bool
    rows: tuple[f.Score, ...]
    total: int


@dataclass(frozen=True)
class PredictionAnswer:
    """A prediction's definition and its live verdict."""

    prediction: PredictionDef
    verdict: PredictionVerdict
    stored_status: str
    resolved_on: date | None


@dataclass(frozen=True)
class SourceStatus:
    """One source's health for /sources."""

    key: str
    name: str
    kind: str
    url: str | None
    licence: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int


@functools.lru_cache(maxsize=8192)
def _shape_report(
    shape: queries.Shape, budget: float, tokens: int, kv_cache: str
) -> tuple[tuple[Any, ...], FitReport]:
    """A model shape's fit and its ``shape_key``. Pure arithmetic on plain values, so it is
    kept: /fits asks about the same few budgets, and a store has a few dozen shapes."""
    spec = queries.shape_spec(shape)
    report = fit_report(
        spec, budget_gib=budget, context=tokens, kv_cache_type=kv_cache, min_bits=DEFAULT_MIN_BITS
    )
    return shape_key(spec), report


@functools.lru_cache(maxsize=1024, typed=True)
def _model_card(rows: queries.CardRows, budget: float, tokens: int) -> ModelCard:
    """The card of a model from the rows ``queries.model_card_rows`` read now: a pure function
    of those rows (every value the card shows, the cited sources' included) and of the budget
    and context, so it is kept by them; any write to the model, its scores or a source they
    cite reads back as other rows, a new key."""
    found = queries.model_card(rows)
    spec = found.spec
    scores = []
    seen: set[str] = set()
    for key, bench_name, score in found.scores:
        scores.append(ModelScore(bench_name, score, headline=key not in seen))
        seen.add(key)
    fit = None
    if spec.open_weights and spec.total_params_b:
        fit = fit_report(spec, budget_gib=budget, context=tokens)
    return ModelCard(spec, found.license, found.hf_repo, tuple(scores), fit)


# Gap reports by their inputs: the benchmark's view and the candidate scores, by identity,
# and the date and threshold. ``db.queries`` hands out one view per benchmark-table content
# and one ``Score`` per candidate row content, so the same objects come back exactly while
# nothing they were made from changes; any change makes a new object, hence a new key. Each
# entry holds its inputs, so no id in a key can be reused by another object while the entry
# lives; all of them are immutable. Bounded: cleared when full.
_GAP_REPORTS: dict[tuple[Any, ...], tuple[tuple[Any, ...], GapReport]] = {}
_GAP_REPORTS_LIMIT = 256
_GAP_REPORT_MAX_SCORES = 2_000  # candidates are a few hundred at most


def _gap_report(
    view: f.Benchmark, scores: Sequence[f.Score], *, as_of: date, threshold: float
) -> GapReport:
    """``gap_report(view, scores, as_of=as_of, threshold=threshold)``, kept by its inputs (the
    prediction rules get it too: ``evaluate(..., reports=_gap_report)``)."""
    if len(scores) > _GAP_REPORT_MAX_SCORES:
        # Every headline score of a benchmark (/prediction list's rules): new objects on every
        # read, so never found again, and an entry would keep tens of thousands alive.
        return gap_report(view, scores, as_of=as_of, threshold=threshold)
    key = (as_of, threshold, type(threshold), id(view), *map(id, scores))
    found = _GAP_REPORTS.get(key)
    if found is not None:
        return found[1]
    report = gap_report(view, scores, as_of=as_of, threshold=threshold)
    if len(_GAP_REPORTS) >= _GAP_REPORTS_LIMIT:
        _GAP_REPORTS.clear()
    _GAP_REPORTS[key] = ((view, *scores), report)
    return report


# Per prediction (code, rule and parameters), the model slugs its last run looked up: a
# guess at what its next run will, never trusted (see ``Answers._judge``). Bounded.
_LOOKED_UP: dict[tuple[str, str, str], frozenset[str]] = {}
_LOOKED_UP_LIMIT = 256


def _rule_key(definition: PredictionDef) -> tuple[str, str, str]:
    return (definition.code, definition.rule, repr(sorted(definition.params.items())))


def _remember_lookups(key: tuple[str, str, str], slugs: set[str]) -> None:
    if len(_LOOKED_UP) >= _LOOKED_UP_LIMIT:
        _LOOKED_UP.clear()
    _LOOKED_UP[key] = frozenset(slugs)


class _AskedModels(Mapping[str, f.ModelSpec]):
    """Model facts by slug for the prediction rules, recording what the rules ask: the slugs
    looked up (``[]``, ``get``, ``in``) and whether the models were listed (iteration,
    ``len``: every other ``Mapping`` method goes through these)."""

    def __init__(self, known: Mapping[str, f.ModelSpec]) -> None:
        self.known = known
        self.asked: set[str] = set()
        self.listed = False

    def __getitem__(self, slug: str) -> f.ModelSpec:
        self.asked.add(slug)
        return self.known[slug]

    def __iter__(self) -> Iterator[str]:
        self.listed = True
        return iter(self.known)

    def __len__(self) -> int:
        self.listed = True
        return len(self.known)


class Answers:
    """Answers every question from the store, with ``frontier`` doing the arithmetic.

    Args:
        engine: The store.
        today: The clock (tests pass a fixed date).
        gap_threshold: Default gap threshold in points (the OB-001 line).
        vram_gib: Default VRAM budget for fits, GiB.
        context: Default context length for fits, tokens.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        today: Callable[[], date] = utc_today,
        gap_threshold: float = 2.0,
        vram_gib: float = 24.0,
        context: int = 8192,
    ) -> None:
        self.engine = engine
        self.today = today
        self.gap_threshold = gap_threshold
        self.vram_gib = vram_gib
        self.context = context

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read-only unit of work on a bare connection: for the answers that only run
        prebuilt Core statements. Nothing to commit and no ORM unit of work to keep in step
        with the headline table (a new session has none pending either), so it skips the
        session's bookkeeping (a fifth of a ``/gap`` on SQLite); closing it ends the
        connection's transaction (PostgreSQL: one snapshot for the answer's statements;
        SQLite: no BEGIN before a write, so each statement reads the latest commit, as a
        ``session_scope`` read does). Writes and ORM reads go through ``session_scope``."""
        with self.engine.connect() as connection:
            yield connection

    def gap(self, benchmark: str, as_of: date | None = None) -> GapReport:
        """The gap between the best proprietary and best open-weights scores on a benchmark."""
        when = as_of or self.today()
        with self._reading() as connection:
            row = queries.benchmark_table(connection).find(benchmark)
            scores = queries.frontier_candidates(connection, row, as_of=when)  # type: ignore[arg-type]
            return _gap_report(
                queries.to_benchmark(row), scores, as_of=when, threshold=self.gap_threshold
            )

    def lag(self, benchmark: str, as_of: date | None = None) -> LagReport:
        """Months between a proprietary frontier record and the open model that matched it."""
        when = as_of or self.today()
        with self._reading() as connection:
            row = queries.benchmark_table(connection).find(benchmark)
            scores = queries.frontier_candidates(connection, row, as_of=when)  # type: ignore[arg-type]
            return lag_report(queries.to_benchmark(row), scores, as_of=when)

    def dashboard(self, as_of: date | None = None) -> Dashboard:
        """Every tracked benchmark's gap and direction."""
        when = as_of or self.today()
        with self._reading() as connection:
            tracked = queries.benchmark_table(connection).tracked
            reports = [
                _gap_report(
                    row.view,
                    queries.frontier_candidates(connection, row, as_of=when),  # type: ignore[arg-type]
                    as_of=when,
                    threshold=self.gap_threshold,
                )
                for row in tracked
            ]
        return dashboard(reports)

    def fits(
        self,
        model: str | None = None,
        vram_gb: float | None = None,
        context: int | None = None,
        quant: str | None = None,
        benchmark: str = "mmlu",
        kv_cache: str = "f16",
    ) -> FitAnswer | FitListAnswer:
        """One model's fit (with ``model``), else the open models that fit, ranked."""
        budget = self.vram_gib if vram_gb is None else vram_gb
        tokens = self.context if context is None else context
        with session_scope(self.engine) as session:
            if model is not None:
                spec = queries.to_model_spec(session, queries.find_model(session, model))
                if spec.total_params_b is None:
                    raise InputError(f"{spec.name} has no known parameter count, so no estimate")
                report = fit_report(
                    spec, budget_gib=budget, context=tokens, quant=quant, kv_cache_type=kv_cache
                )
                return FitAnswer(spec, report)
            if quant is not None:
                raise InputError("quant applies to one model: give a model too, or leave it out")
            row = queries.find_benchmark(session, benchmark)
            return self._fit_list(session, row, budget, tokens, kv_cache)

    def _fit_list(
        self, session: Session, row: Any, budget: float, tokens: int, kv_cache: str
    ) -> FitListAnswer:
        """The open models that fit, best scored first, without estimating each model.

        Models of one shape (size and architecture) need the same memory, so the estimate
        runs once per shape; SQL orders the models by score and the list stops at
        :data:`FIT_LIST_LIMIT` fitting ones. Only a model whose weights alone fit at the
        thinnest acceptable format is read at all.
        """
        ceiling = max_params_within(budget, DEFAULT_MIN_BITS)
        fitting: set[queries.Shape] = set()
        total = 0
        shapes = queries.open_model_shapes(session, max_params_b=ceiling)
        # A nameless 1B model checks the inputs (budget, context, KV type) even if no shape does.
        probe = [(queries.shape_of(t.Model(slug="probe", name="probe", total_params_b=1.0)), 0)]
        reports: dict[tuple[Any, ...], FitReport] = {}
        for shape, count in shapes or probe:
            key, report = _shape_report(shape, budget, tokens, kv_cache)
            reports[key] = report
            if report.fits_at_min_bits and count:
                fitting.add(shape)
                total += count
        chosen: list[f.ModelSpec] = []
        score_ids: dict[str, int] = {}
        if fitting:
            for model, score_id in queries.open_models_by_score(session, row, max_params_b=ceiling):
                if queries.shape_of(model) not in fitting:
                    continue
                chosen.append(queries.to_model_spec(session, model))
                if score_id is not None:
                    score_ids[model.slug] = score_id
                if len(chosen) == FIT_LIST_LIMIT:
                    break
        by_id = queries.scores_by_id(session, row, list(score_ids.values()))
        scores = {slug: by_id[i] for slug, i in score_ids.items() if i in by_id}
        ranking = models_that_fit(
            chosen + queries.unsized_open_models(session),
            scores,
            budget_gib=budget,
            context=tokens,
            kv_cache_type=kv_cache,
            reports=reports,
        )
        return FitListAnswer(ranking, queries.to_benchmark(row), total=total)

    def model(self, name: str) -> ModelCard:
        """A model card: facts, scores with sources, memory at the default budget."""
        with self._reading() as connection:
            rows = queries.model_card_rows(connection, name)
        return _model_card(rows, self.vram_gib, self.context)

    def leaderboard(
        self, benchmark: str, open_only: bool = False, limit: int = 10, as_of: date | None = None
    ) -> Leaderboard:
        """The best headline scores on a benchmark, best first."""
        if not 1 <= limit <= 25:
            raise InputError(f"limit must be from 1 to 25, got {limit}")
        when = as_of or self.today()
        with session_scope(self.engine) as session:
            row = queries.find_benchmark(session, benchmark)
            scores, total = queries.ranked_headline_scores(
                session, row, as_of=when, open_only=open_only, limit=limit
            )
        return Leaderboard(queries.to_benchmark(row), when, open_only, tuple(scores), total)

    def _prediction_data(
        self, session: Session, definitions: Sequence[PredictionDef], today: date
    ) -> tuple[PredictionData, set[str]]:
        """What the rules of ``definitions`` read: the benchmarks they name (all if one names
        none), their headline scores (only the frontiers' for frontier-only rules) and the
        attestations; and the slugs of the models whose facts they may look up (those the
        scores and the attestations name), which are not read here (:meth:`_judge`)."""
        named = [_benchmarks_named(d) for d in definitions]
        keys = None if any(n is None for n in named) else {k for n in named for k in n or ()}
        cutoffs = {min(today, d.verification_date) for d in definitions}
        # The rules choose each model's headline among all its scores, then drop those after
        # the cut-off; the candidates keep that order of work (``as_of=None``).
        frontier_only = len(cutoffs) == 1 and all(d.rule in FRONTIER_RULES for d in definitions)
        benchmarks: dict[str, f.Benchmark] = {}
        scores: dict[str, list[f.Score]] = {}
        for row in queries.benchmark_table(session).in_order:
            if keys is not None and row.key not in keys:
                continue
            benchmarks[row.key] = row.view
            if frontier_only:
                scores[row.key] = queries.frontier_candidates(
                    session,
                    row,  # type: ignore[arg-type]
                    newest_by=next(iter(cutoffs)),
                )
            else:
                scores[row.key] = queries.headline_scores(session, row)  # type: ignore[arg-type]
        attestations = tuple(queries.attestations(session))
        slugs = {s.model_slug for found in scores.values() for s in found}
        slugs |= {a.model_slug for a in attestations if a.model_slug}
        slugs |= {
            str(d.params["baseline_model"]) for d in definitions if "baseline_model" in d.params
        }
        return PredictionData(benchmarks, scores, {}, attestations), slugs

    def _judge(
        self, session: Session, definitions: Sequence[PredictionDef]
    ) -> list[PredictionVerdict]:
        """Each definition's verdict on the data now, reading only the model facts the rules
        look up.

        A rule sees the facts of the models its data names (:meth:`_prediction_data`). The
        rules run on an :class:`_AskedModels` that records which slugs they look up; the facts
        of those (of the named ones) are read and the rules run again, until a run looks up
        nothing unread. That last run saw, for every slug it asked about, exactly what the
        full mapping holds, so its verdicts are the full mapping's. A rule that lists the
        models (``items()``, ``len()``…) gets them all. OB-001 looks up the few models of its
        evidence: two runs and a handful of rows, not the facts of every candidate's model
        (142 of them at 1M scores)."""
        today = self.today()
        data, slugs = self._prediction_data(session, definitions, today)
        # The first run starts from the facts the last runs of these rules looked up (a
        # guess, read now; the runs check it), so a warm answer runs its rules once.
        hint = frozenset().union(*(_LOOKED_UP.get(_rule_key(d), ()) for d in definitions))
        read: set[str] = set(hint & slugs)
        known = (
            {spec.slug: spec for spec in queries.model_specs(session, slugs=read)} if read else {}
        )
        while True:
            models = _AskedModels(known)
            verdicts = [
                evaluate(d, replace(data, models=models), today=today, reports=_gap_report)
                for d in definitions
            ]
            wanted = slugs - read if models.listed else (models.asked & slugs) - read
            if not wanted:
                if len(definitions) == 1 and not models.listed:
                    _remember_lookups(_rule_key(definitions[0]), models.asked)
                return verdicts
            known.update((spec.slug, spec) for spec in queries.model_specs(session, slugs=wanted))
            read |= wanted

    def prediction(self, code: str) -> PredictionAnswer:
        """One prediction evaluated against the data now, with its evidence."""
        with session_scope(self.engine) as session:
            row = queries.find_prediction_def(session, code)
            (verdict,) = self._judge(session, [row.definition])
            return PredictionAnswer(row.definition, verdict, row.status, row.resolved_on)

    def predictions(self) -> list[PredictionAnswer]:
        """Every prediction evaluated now."""
        with session_scope(self.engine) as session:
            rows = queries.predictions(session)
            definitions = [queries.to_prediction_def(session, row) for row in rows]
            verdicts = self._judge(session, definitions)
            return [
                PredictionAnswer(d, v, r.status, r.resolved_on)
                for d, v, r in zip(definitions, verdicts, rows, strict=True)
            ]

    def trackrecord(self) -> TrackRecord:
        """How the predictions have fared: resolved, hits, misses, hit rate."""
        return track_record([answer.verdict for answer in self.predictions()])

    def audit(self) -> AuditReport:
        """The report's figures against what the definitions compute from its own data."""
        from db.dataset import read_rows
        from db.report import (
            REPORT_PUBLISHED_ON,
            quant_rows,
            report_figures,
            training_cost_rows,
        )

        # The report's own data: its scores and the models its tables name (models.csv), not
        # every model a poll has added since (the "largest model that fits" is the report's).
        report_models = [row["slug"] for row in read_rows("models.csv")]
        with session_scope(self.engine) as session:
            own = queries.seed_source_keys(session)
            benchmarks, scores = queries.scores_by_benchmark(session, sources=own)
            models = {s.slug: s for s in queries.model_specs(session, slugs=report_models)}
        return audit(
            report_figures(),
            benchmarks=benchmarks,
            scores=scores,
            models=models,
            quant_rows=quant_rows(),
            training_costs=training_cost_rows(),
            published_on=REPORT_PUBLISHED_ON,
            budget_gib=self.vram_gib,
            context=self.context,
        )

    def sources(self) -> list[SourceStatus]:
        """Each source's last poll, last success and last error."""
        with session_scope(self.engine) as session:
            return [
                SourceStatus(
                    s.key,
                    s.name,
                    s.kind,
                    s.url,
                    s.licence,
                    s.last_polled_at,
                    s.last_success_at,
                    s.last_error,
                    s.consecutive_failures,
                )
                for s in queries.sources(session)
            ]

    def about(self) -> AboutAnswer:
        """Version, data freshness and store contents."""
        with session_scope(self.engine) as session:
            return AboutAnswer(
                version=VERSION,
                dataset_version=stored_version(session),
                newest_data_on=queries.newest_score_date(session),
                counts=queries.counts(session),
                database=self.engine.url.get_backend_name(),
            )
