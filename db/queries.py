"""Queries that turn rows into ``frontier`` dataclasses. They never commit."""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Connection,
    Subquery,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    true,
    union,
    union_all,
)
from sqlmodel import Session, select

from db import headlines
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


@dataclass(frozen=True)
class BenchmarkRow:
    """A benchmark row as plain values, with the attributes of ``t.Benchmark`` the queries
    read, and its analytics view (``to_benchmark``)."""

    id: int
    key: str
    name: str
    aliases: tuple[str, ...]
    higher_is_better: bool
    canonical_setting: str | None
    question_count: int | None
    question_count_source: str | None
    question_count_url: str | None
    tracked: bool
    key_order: int
    unit: str
    view: f.Benchmark = field(compare=False)


@dataclass(frozen=True)
class BenchmarkTable:
    """The benchmark table as read: its rows in scan order and every name they go by."""

    rows: tuple[BenchmarkRow, ...]
    by_name: dict[str, BenchmarkRow]
    choices: dict[str, str]

    @property
    def tracked(self) -> list[BenchmarkRow]:
        """The tracked benchmarks in key order, as :func:`tracked_benchmarks` lists them."""
        return sorted((row for row in self.rows if row.tracked), key=lambda row: row.key_order)

    @property
    def in_order(self) -> list[BenchmarkRow]:
        """Every benchmark, tracked ones first, then by key, as :func:`all_benchmarks`."""
        return sorted(self.rows, key=lambda row: (not row.tracked, row.key_order))

    def find(self, text: str) -> BenchmarkRow:
        """The benchmark ``text`` names, as :func:`find_benchmark` finds it.

        Raises:
            NotFoundError: with the closest names as suggestions.
        """
        found = self.by_name.get(normalize_name(text))
        if found is None:
            raise NotFoundError(f"no benchmark {text.strip()[:60]!r}", suggest(text, self.choices))
        return found


# The answers read the benchmark table (a few dozen rows) on every question, as plain values,
# and resolve names in what they read: no benchmark is remembered between answers, so no
# write (ORM or Core, this process or another sharing the store) can leave an answer with a
# stale benchmark. What is kept is only the indexing of a table state already seen, keyed by
# the rows' whole content (aliases as their stored JSON text): any change is a new state.
_BENCH = t.Benchmark.__table__.c  # type: ignore[attr-defined]
_BENCHMARK_ROWS = select(  # type: ignore[call-overload]
    _BENCH.id,
    _BENCH.key,
    _BENCH.name,
    cast(_BENCH.aliases, Text),
    _BENCH.higher_is_better,
    _BENCH.canonical_setting,
    _BENCH.question_count,
    _BENCH.question_count_source,
    _BENCH.question_count_url,
    _BENCH.tracked,
    # The row's place in key order as the database collates (the order of
    # ``tracked_benchmarks``), so that no second statement sorts them.
    func.row_number().over(order_by=_BENCH.key),
    _BENCH.unit,
).order_by(_BENCH.id)


def benchmark_table(session: Session | Connection) -> BenchmarkTable:
    """Every benchmark, read now as plain values (one statement), indexed by name.

    Rows are scanned in id order (the ORM scan of :func:`find_benchmark` has no order: on
    SQLite it is id order; on PostgreSQL, heap order), so a name two benchmarks claim always
    resolves to the older one."""
    rows = _connection(session).execute(_BENCHMARK_ROWS).all()
    return _index_benchmarks(tuple(tuple(row) for row in rows))


@functools.lru_cache(maxsize=16)
def _index_benchmarks(rows: tuple[tuple[Any, ...], ...]) -> BenchmarkTable:
    """Rows of the benchmark table indexed by normalized name; the first row (in the table's
    scan order, as :func:`find_benchmark` scans) to go by a name keeps it."""
    found: list[BenchmarkRow] = []
    by_name: dict[str, BenchmarkRow] = {}
    choices: dict[str, str] = {}
    for (
        bench_id,
        key,
        name,
        aliases,
        hib,
        canonical,
        count,
        count_source,
        count_url,
        tracked,
        key_order,
        unit,
    ) in rows:
        values = SimpleNamespace(
            id=bench_id,
            key=key,
            name=name,
            aliases=tuple(json.loads(aliases) or ()) if aliases else (),
            higher_is_better=bool(hib),
            canonical_setting=canonical,
            question_count=count,
            question_count_source=count_source,
            question_count_url=count_url,
            tracked=bool(tracked),
            key_order=key_order,
            unit=unit,
        )
        row = BenchmarkRow(**vars(values), view=to_benchmark(values))  # type: ignore[arg-type]
        found.append(row)
        for alias in (row.key, row.name, *row.aliases):
            folded = normalize_name(alias)
            by_name.setdefault(folded, row)
            choices[folded] = row.name
    return BenchmarkTable(tuple(found), by_name, choices)


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


def to_benchmark(row: t.Benchmark | BenchmarkRow) -> f.Benchmark:
    """The analytics' view of a benchmark row."""
    if isinstance(row, BenchmarkRow):
        return row.view
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
        unit=row.unit,
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
        unit=bench.unit,
    )


def _headline(
    session: Session,
    benchmark: t.Benchmark,
    *,
    as_of: date | None,
    sources: Sequence[str] | None,
) -> Subquery:
    """Each model's headline score on a benchmark: one row per model.

    Rank: canonical setting first, then the most trusted source, then the newest retrieval
    (then the lowest id, so the choice never depends on row order). Models whose openness is
    unknown are left out: they belong to neither frontier. Columns: ``id`` (the score's),
    ``model_id``, ``value``, ``available_on``, ``open_weights``.

    The choice over all of a benchmark's scores is stored (``db.headlines``); it is read from
    there unless the question restricts the scores first: to some sources, or to a date before
    one of the benchmark's scores (the choice among the scores known then may differ).
    """
    if _use_stored(session, benchmark, as_of=as_of, sources=sources):
        h = _HEADLINE
        return (
            select(  # type: ignore[call-overload]
                h.score_id.label("id"),
                h.model_id,
                h.value,
                h.available_on,
                h.open_weights,
            )
            .where(h.benchmark_id == benchmark.id)
            .where(h.open_weights.is_not(None))
            .subquery("headline")
        )
    return _headline_ranked(benchmark, as_of=as_of, sources=sources)


_HEADLINE = t.Headline.__table__.c  # type: ignore[attr-defined]


def _connection(db: Session | Connection) -> Connection:
    """The connection of a session, or the connection itself."""
    return db.connection() if isinstance(db, Session) else db


_MODEL_TABLE = t.Model.__table__  # type: ignore[attr-defined]


def _use_stored(
    session: Session | Connection,
    benchmark: t.Benchmark,
    *,
    as_of: date | None,
    sources: Sequence[str] | None,
    probe: bool = True,
) -> bool:
    """Whether the stored headline choice answers this question (and, if so, bring it up to
    date with this session's writes): it is the choice among all of a benchmark's scores, so
    not for some sources only, nor for a date before one of the benchmark's scores.

    ``probe=False`` leaves the test for a score after ``as_of`` to the caller, whose own
    statement carries it (and which falls back to the read-time choice if there is one)."""
    if sources is not None or (probe and _scores_after(session, benchmark, as_of)):
        return False
    if isinstance(session, Session):
        # A bare connection has no unit of work, hence nothing pending to sync.
        headlines.sync(session)
    return True


def _scores_after(
    session: Session | Connection, benchmark: t.Benchmark, as_of: date | None
) -> bool:
    """Whether the benchmark has a score dated after ``as_of`` (an index probe)."""
    if as_of is None:
        return False
    found = _connection(session).execute(
        _LATER_SCORE, {"benchmark_id": benchmark.id, "as_of": as_of}
    )
    return found.first() is not None


# The hot answers' statements are built once, with bound parameters: building a statement
# (and its cache key) costs several times what SQLite takes to run it.
_LATER_SCORE = (
    select(t.Score.id)
    .where(t.Score.benchmark_id == bindparam("benchmark_id"))
    .where(t.Score.available_on > bindparam("as_of"))
    .limit(1)
)


def _headline_ranked(
    benchmark: t.Benchmark, *, as_of: date | None, sources: Sequence[str] | None
) -> Subquery:
    """The headline choice made at read time, among the scores ``as_of`` and ``sources`` allow."""
    rank = (
        func.row_number()
        .over(
            partition_by=t.Score.model_id,
            order_by=headlines.choice_order(
                t.Score.__table__,  # type: ignore[attr-defined]
                t.Source.__table__,  # type: ignore[attr-defined]
                benchmark.canonical_setting or "",
            ),
        )
        .label("rn")
    )
    ranked = (
        select(  # type: ignore[call-overload]
            t.Score.id,
            t.Score.model_id,
            t.Score.value,
            t.Score.available_on,
            rank,
        )
        .join(t.Source, t.Source.id == t.Score.source_id)  # type: ignore[arg-type]
        .where(t.Score.benchmark_id == benchmark.id)
    )
    if as_of is not None:
        ranked = ranked.where(t.Score.available_on <= as_of)
    if sources is not None:
        ranked = ranked.where(t.Source.key.in_(list(sources)))  # type: ignore[attr-defined]
    inner = ranked.subquery("ranked")
    # The openness filter comes after the choice: it is per model, so it cannot change which
    # of a model's rows wins, and it joins 1 row per model instead of every score.
    return (
        select(  # type: ignore[call-overload]
            inner.c.id,
            inner.c.model_id,
            inner.c.value,
            inner.c.available_on,
            t.Model.open_weights,
        )
        .join(t.Model, t.Model.id == inner.c.model_id)  # type: ignore[arg-type]
        .where(inner.c.rn == 1)
        .where(t.Model.open_weights.is_not(None))  # type: ignore[union-attr]
        .subquery("headline")
    )


_SCORE_COLUMNS = (
    t.Score.id,
    t.Score.value,
    t.Score.available_on,
    t.Score.setting,
    t.Score.approximate,
    t.Score.url,
    t.Score.section,
    t.Model.slug,
    t.Model.name,
    t.Model.open_weights,
    t.Source.key,
    t.Source.name,
    t.Source.url,
)


_SCORES_JOINED = (
    select(*_SCORE_COLUMNS)  # type: ignore[call-overload]
    .join(t.Model, t.Model.id == t.Score.model_id)
    .join(t.Source, t.Source.id == t.Score.source_id)
)
_SCORES_BY_ID = _SCORES_JOINED.where(t.Score.id.in_(bindparam("ids", expanding=True)))  # type: ignore[union-attr]


def _scores_of(
    session: Session | Connection, benchmark: t.Benchmark, ids: Any
) -> dict[int, f.Score]:
    """The scores with ids in ``ids`` (a subquery or a list) as ``frontier`` scores by id,
    built from plain columns (no ORM rows: a tenth of the cost per row)."""
    if isinstance(ids, list):
        rows = _connection(session).execute(_SCORES_BY_ID, {"ids": ids}).all()
    elif isinstance(session, Session):
        rows = session.exec(_SCORES_JOINED.where(t.Score.id.in_(ids))).all()  # type: ignore[union-attr]
    else:
        rows = session.execute(_SCORES_JOINED.where(t.Score.id.in_(ids))).all()  # type: ignore[union-attr]
    return _scores_from_rows(benchmark, rows)


def _shared_citation(
    citations: dict[tuple[str, str, str | None], f.Citation],
    source: str,
    source_name: str,
    section: str | None,
    link: str | None,
) -> f.Citation:
    """A score's citation, one object per (source, label, link) among ``citations``: scores
    of one source share it (a benchmark has tens of thousands)."""
    label = f"{source_name}, {section}" if section else source_name
    citation = citations.get((source, label, link))
    if citation is None:
        citation = citations[source, label, link] = f.Citation(source, label, link)
    return citation


def _scores_from_rows(benchmark: t.Benchmark, rows: Sequence[Any]) -> dict[int, f.Score]:
    """Rows starting with :data:`_SCORE_COLUMNS` as ``frontier`` scores by score id."""
    found = {}
    key, unit = benchmark.key, benchmark.unit
    # Scores from one source share one citation object (a benchmark has tens of thousands).
    citations: dict[tuple[str, str, str | None], f.Citation] = {}
    for row in rows:
        (
            score_id,
            value,
            on,
            setting,
            approx,
            url,
            section,
            slug,
            name,
            open_w,
            source,
            src_name,
        ) = row[:12]
        citation = _shared_citation(citations, source, src_name, section, url or row[12])
        found[score_id] = f.Score(
            model_slug=slug,
            model_name=name,
            open_weights=bool(open_w),
            benchmark=key,
            value=value,
            available_on=on,
            citation=citation,
            setting=setting or None,
            approximate=approx,
            unit=unit,
        )
    return found


def headline_scores(
    session: Session,
    benchmark: t.Benchmark,
    *,
    as_of: date | None = None,
    sources: Sequence[str] | None = None,
) -> list[f.Score]:
    """Each model's headline score on a benchmark: canonical setting, then most trusted source.

    Models whose openness is unknown are left out (they belong to neither frontier).
    ``sources`` restricts the scores to those source keys (the audit reads the report alone).
    Reads every score of the benchmark; an answer that needs only the frontiers should call
    :func:`frontier_candidates`, which returns a few dozen rows instead of one per model.
    """
    headline = _headline(session, benchmark, as_of=as_of, sources=sources)
    return list(_scores_of(session, benchmark, select(headline.c.id)).values())


def frontier_candidates(
    session: Session | Connection,
    benchmark: t.Benchmark,
    *,
    as_of: date | None = None,
    sources: Sequence[str] | None = None,
    newest_by: date | None = None,
) -> list[f.Score]:
    """The headline scores that can be on a side's frontier, and the newest headline score.

    A headline score is a candidate when nothing on its side scored better on or before its
    date: every frontier record (``frontier.gap.frontier_series``) is one, so the gap, its
    trajectory, the lag and each side's best come out exactly as from all headline scores.
    The newest headline score is added so that the answers' freshness (the newest data) is
    the same too. Same-day ties are all kept: the frontier's own tie rules pick among them.
    ``newest_by`` asks for the newest score on or before that date instead (for a caller
    that filters by date after choosing the headline scores, as the prediction rules do).
    """
    if _use_stored(session, benchmark, as_of=as_of, sources=sources, probe=False):
        found = _candidates_stored(session, benchmark, as_of, newest_by)
        if found is not None:
            return found
    headline = _headline_ranked(benchmark, as_of=as_of, sources=sources)
    running = func.max if benchmark.higher_is_better else func.min
    best = running(headline.c.value).over(
        partition_by=headline.c.open_weights,
        order_by=headline.c.available_on,
        range_=(None, 0),
    )
    newest_order = [headline.c.available_on.desc(), headline.c.id]
    if newest_by is not None:
        newest_order.insert(0, case((headline.c.available_on <= newest_by, 0), else_=1))
    newest = func.row_number().over(order_by=newest_order)
    marked = select(
        headline.c.id, headline.c.value, best.label("best"), newest.label("newest")
    ).subquery("marked")
    beats = (
        marked.c.value >= marked.c.best
        if benchmark.higher_is_better
        else marked.c.value <= marked.c.best
    )
    ids = select(marked.c.id).where(or_(beats, marked.c.newest == 1))
    return list(_scores_of(session, benchmark, ids).values())


def _candidates_stored(
    session: Session | Connection,
    benchmark: t.Benchmark,
    as_of: date | None,
    newest_by: date | None,
) -> list[f.Score] | None:
    """``frontier_candidates`` from the stored choice, in one statement (see
    :func:`_candidates_statement`); None if the benchmark has a score after ``as_of``, whose
    headline choice must then be made at read time."""
    rows = (
        _connection(session)
        .execute(
            _candidates_statement(newest_by is not None, as_of is not None),
            {"benchmark_id": benchmark.id, "newest_by": newest_by, "as_of": as_of},
        )
        .all()
    )
    if as_of is not None and rows and rows[0][-1]:
        return None
    return _remembered_scores(benchmark.key, benchmark.unit, rows)


# Scores built from candidate rows, by the row's whole content (and the benchmark's key and
# unit): the
# same rows come back on every answer until a write changes them, and a changed row is a new
# key, so nothing here can be stale. Bounded: cleared when full.
_SCORE_MEMO: dict[tuple[str, str, tuple[Any, ...]], f.Score] = {}
_SCORE_MEMO_LIMIT = 20_000


def _remembered_scores(key: str, unit: str, rows: Sequence[Any]) -> list[f.Score]:
    """Rows starting with :data:`_SCORE_COLUMNS` as scores (one per score id), built once."""
    found: dict[int, f.Score] = {}
    missing = []
    for row in rows:
        values = tuple(row[:13])
        score = _SCORE_MEMO.get((key, unit, values))
        if score is None:
            missing.append(row)
        else:
            found[values[0]] = score
    if missing:
        if len(_SCORE_MEMO) + len(missing) > _SCORE_MEMO_LIMIT:
            _SCORE_MEMO.clear()
        bench = SimpleNamespace(key=key, unit=unit)
        for score_id, score in _scores_from_rows(bench, missing).items():  # type: ignore[arg-type]
            found[score_id] = score
        for row in missing:
            _SCORE_MEMO[key, unit, tuple(row[:13])] = found[row[0]]
    return list(found.values())


# Candidate kinds, in the order the newest is preferred: the records, then each side's newest
# on or before ``newest_by``, then each side's newest.
_RECORD, _NEWEST_BY, _NEWEST = 0, 1, 2


@cache
def _candidates_statement(dated: bool, probe_later: bool) -> Any:
    """The candidates of a benchmark's stored choice and their scores, in one statement.

    The records, and the newest headline score of each side (each side's newest on or before
    ``:newest_by`` too, if ``dated``): one index probe each. Of those newest, the one kept is
    the latest (then the lower id), on or before ``:newest_by`` if any is. Then those scores
    with their model and source, as :data:`_SCORE_COLUMNS`. With ``probe_later``, a last
    column says whether the benchmark has any score dated after ``:as_of`` (then the stored
    choice, made among all scores, is not the answer)."""
    h = _HEADLINE
    mine = h.benchmark_id == bindparam("benchmark_id")
    parts = [
        select(h.score_id, h.available_on, literal_column(str(_RECORD)).label("kind")).where(
            mine, h.record == true()
        )
    ]
    for kind in (_NEWEST, _NEWEST_BY) if dated else (_NEWEST,):
        for side in (True, False):
            probe = select(
                h.score_id, h.available_on, literal_column(str(kind)).label("kind")
            ).where(mine, h.open_weights == side)
            if kind == _NEWEST_BY:
                probe = probe.where(h.available_on <= bindparam("newest_by"))
            probe = probe.order_by(h.available_on.desc(), h.score_id).limit(1).subquery()
            parts.append(select(probe.c.score_id, probe.c.available_on, probe.c.kind))
    found = union_all(*parts).cte("found")
    newest = (
        select(found.c.score_id)
        .where(found.c.kind != _RECORD)
        .order_by(found.c.kind, found.c.available_on.desc(), found.c.score_id)
        .limit(1)
        .subquery("newest")
    )
    chosen = union(
        select(found.c.score_id).where(found.c.kind == _RECORD), select(newest.c.score_id)
    ).subquery("chosen")
    columns: list[Any] = list(_SCORE_COLUMNS)
    if probe_later:
        later = (
            select(t.Score.id)
            .where(t.Score.benchmark_id == bindparam("benchmark_id"))
            .where(t.Score.available_on > bindparam("as_of"))
            .exists()
        )
        columns.append(later.label("later"))
    return (
        select(*columns)
        .select_from(chosen)
        .join(t.Score, t.Score.id == chosen.c.score_id)  # type: ignore[arg-type]
        .join(t.Model, t.Model.id == t.Score.model_id)  # type: ignore[arg-type]
        .join(t.Source, t.Source.id == t.Score.source_id)  # type: ignore[arg-type]
    )


def ranked_headline_scores(
    session: Session,
    benchmark: t.Benchmark,
    *,
    as_of: date | None = None,
    open_only: bool = False,
    limit: int = 10,
) -> tuple[list[f.Score], int]:
    """The best ``limit`` headline scores (best first; then earlier, then by slug) and how many
    headline scores there are in all."""
    if _use_stored(session, benchmark, as_of=as_of, sources=None):
        return _ranked_stored(session, benchmark, open_only=open_only, limit=limit)
    headline = _headline_ranked(benchmark, as_of=as_of, sources=None)
    value = headline.c.value.desc() if benchmark.higher_is_better else headline.c.value.asc()
    query = select(headline.c.id, func.count().over().label("total"))
    if open_only:
        query = query.where(headline.c.open_weights)
    query = query.join(t.Model, t.Model.id == headline.c.model_id).order_by(  # type: ignore[arg-type]
        value, headline.c.available_on, t.Model.slug
    )
    rows = session.exec(query.limit(limit)).all()
    if not rows:
        return [], 0
    scores = _scores_of(session, benchmark, [row.id for row in rows])
    return [scores[row.id] for row in rows], rows[0].total


def _ranked_stored(
    session: Session, benchmark: t.Benchmark, *, open_only: bool, limit: int
) -> tuple[list[f.Score], int]:
    """``ranked_headline_scores`` from the stored choice without sorting every row: the
    ``limit``-th best value is one probe of the value index, and only the rows at least that
    good are sorted by the full order (value, then earlier, then slug)."""
    count, cutoff, best = _ranked_statements(open_only, bool(benchmark.higher_is_better))
    params = {"benchmark_id": benchmark.id, "limit": limit, "skip": limit - 1}
    connection = session.connection()
    total = connection.execute(count, params).scalar_one()
    if not total:
        return [], 0
    # Fewer rows than ``limit``: all of them are good enough.
    worst = connection.execute(cutoff, params).scalar()
    if worst is None:
        worst = -math.inf if benchmark.higher_is_better else math.inf
    params["cutoff"] = worst
    ids = list(connection.execute(best, params).scalars())
    scores = _scores_of(session, benchmark, ids)
    return [scores[i] for i in ids], int(total)


@cache
def _ranked_statements(open_only: bool, higher_is_better: bool) -> tuple[Any, Any, Any]:
    """The leaderboard's statements for one side and direction, built once: the count, the
    ``:limit``-th best value, and the ids at least that good in the full order."""
    h = _HEADLINE
    side = h.open_weights == true() if open_only else h.open_weights.is_not(None)
    mine = (h.benchmark_id == bindparam("benchmark_id"), side)
    count = select(func.count()).where(*mine)
    better = h.value.desc() if higher_is_better else h.value.asc()
    cutoff = select(h.value).where(*mine).order_by(better).offset(bindparam("skip")).limit(1)
    good_enough = (
        h.value >= bindparam("cutoff") if higher_is_better else h.value <= bindparam("cutoff")
    )
    best = (
        select(h.score_id)
        .join(t.Model, t.Model.id == h.model_id)  # type: ignore[arg-type]
        .where(*mine, good_enough)
        .order_by(better, h.available_on, t.Model.slug)
        .limit(bindparam("limit"))
    )
    return count, cutoff, best


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


@dataclass(frozen=True)
class ModelCardRows:
    """A model's facts (with their citations) and all its scores, as :func:`model_card_rows`
    read them."""

    spec: f.ModelSpec
    license: str | None
    hf_repo: str | None
    scores: tuple[tuple[str, str, f.Score], ...]  # (benchmark key, benchmark name, score)


CardRows = tuple[tuple[Any, ...], ...]


def model_card_rows(db: Session | Connection, text: str) -> CardRows:
    """:func:`find_model`, :func:`to_model_spec` and :func:`model_scores` in one statement of
    plain rows (:func:`model_card` reads them): the model a user means (an alias first, then
    a slug, as :func:`find_model` finds it), the sources its facts cite, and its scores with
    their benchmark and source, by benchmark, each benchmark's headline first, as
    :func:`model_scores` orders them (``headlines.choice_order``: no ties, so the card names
    the headline that the gap and the leaderboard use).

    Raises:
        NotFoundError: with the closest names as suggestions.
    """
    connection = _connection(db)
    wanted = normalize_name(text)
    rows = connection.execute(
        _MODEL_CARD, {"alias": wanted or None, "slug": text.strip().lower()}
    ).all()
    if not rows:
        raise NotFoundError(
            f"no model {text.strip()[:80]!r}", suggest(text, model_names(connection))
        )
    return tuple(tuple(row) for row in rows)


def model_card(rows: CardRows) -> ModelCardRows:
    """The model and its scores that :func:`model_card_rows` read, as ``frontier`` types
    (what :func:`to_model_spec` and :func:`to_score` make of them). A pure function of the
    rows."""
    first = rows[0]
    spec = _spec_from_values(first)
    slug, name, open_weights = spec.slug, spec.name, bool(spec.open_weights)
    scores = []
    citations: dict[tuple[str, str, str | None], f.Citation] = {}
    for row in rows:
        (
            bench_key,
            bench_name,
            value,
            on,
            setting,
            approx,
            url,
            section,
            source,
            src_name,
            src_url,
            unit,
        ) = row[_CARD_MODEL_WIDTH:]
        if bench_key is None or source is None:  # no score, or one without its benchmark or source
            continue
        citation = _shared_citation(citations, source, src_name, section, url or src_url)
        score = f.Score(
            model_slug=slug,
            model_name=name,
            open_weights=open_weights,
            benchmark=bench_key,
            value=value,
            available_on=on,
            citation=citation,
            setting=setting or None,
            approximate=approx,
            unit=unit,
        )
        scores.append((bench_key, bench_name, score))
    license_, hf_repo = first[_CARD_MODEL_WIDTH - 2 : _CARD_MODEL_WIDTH]
    return ModelCardRows(spec, license_, hf_repo, tuple(scores))


def _model_card_statement() -> Any:
    """The statement of :func:`model_card`: the chosen model (``:alias``'s, else ``:slug``'s;
    one primary-key probe) with the three sources its facts cite, outer-joined to its scores
    (inner-joined to their benchmark and source, as :func:`model_scores` joins them)."""
    m = _MODEL_TABLE.c
    alias = t.ModelAlias.__table__  # type: ignore[attr-defined]
    by_alias = (
        select(m.id)
        .select_from(alias)
        .join(_MODEL_TABLE, m.id == alias.c.model_id)
        .where(alias.c.alias == bindparam("alias"))
        .scalar_subquery()
    )
    by_slug = select(m.id).where(m.slug == bindparam("slug")).scalar_subquery()
    facts, arch, cost, src = (
        t.Source.__table__.alias(name)  # type: ignore[attr-defined]
        for name in ("facts_source", "arch_source", "cost_source", "score_source")
    )
    score = t.Score.__table__  # type: ignore[attr-defined]
    bench = t.Benchmark.__table__  # type: ignore[attr-defined]
    # Outer joins all the way (a nested ``score JOIN benchmark JOIN source`` makes SQLite
    # materialize that join for every score); a score row without its benchmark or source,
    # which the inner joins of :func:`model_scores` would drop, is dropped by the reader.
    joined = (
        _MODEL_TABLE.outerjoin(facts, facts.c.id == m.facts_source_id)
        .outerjoin(arch, arch.c.id == m.arch_source_id)
        .outerjoin(cost, cost.c.id == m.training_cost_source_id)
        .outerjoin(score, score.c.model_id == m.id)
        .outerjoin(bench, bench.c.id == score.c.benchmark_id)
        .outerjoin(src, src.c.id == score.c.source_id)
    )
    model_columns = [getattr(m, name) for name in _CARD_SPEC_COLUMNS]
    return (
        select(
            *model_columns,
            facts.c.key,
            facts.c.name,
            facts.c.url,
            arch.c.key,
            arch.c.name,
            arch.c.url,
            cost.c.key,
            cost.c.name,
            cost.c.url,
            m.license,
            m.hf_repo,
            bench.c.key,
            bench.c.name,
            score.c.value,
            score.c.available_on,
            score.c.setting,
            score.c.approximate,
            score.c.url,
            score.c.section,
            src.c.key,
            src.c.name,
            src.c.url,
            bench.c.unit,
        )
        .select_from(joined)
        .where(m.id == func.coalesce(by_alias, by_slug))
        .order_by(bench.c.key, *headlines.choice_order(score, src, bench.c.canonical_setting))
    )


# The model columns ``to_model_spec`` reads, in :func:`_spec_from_values`' order.
_CARD_SPEC_COLUMNS = (
    "slug",
    "name",
    "organization",
    "open_weights",
    "released_on",
    *t.SHAPE_COLUMNS,
    "training_cost_usd",
    "training_cost_approximate",
    "facts_url",
    "arch_url",
)
# Those, the three cited sources' key, name and url, then license and hf_repo.
_CARD_MODEL_WIDTH = len(_CARD_SPEC_COLUMNS) + 9 + 2
_MODEL_CARD = _model_card_statement()


def _cited(key: str | None, name: str | None, url: str | None) -> f.Citation | None:
    """A fact's citation from its (outer-joined) source, as ``to_model_spec`` cites it."""
    return None if key is None else f.Citation(key, name, url)  # type: ignore[arg-type]


def _spec_from_values(values: tuple[Any, ...]) -> f.ModelSpec:
    """A card's model columns as ``to_model_spec`` would build the model's spec."""
    slug, name, organization, open_weights, released_on, total, active = values[:7]
    (
        layers,
        kv_heads,
        head_dim,
        hidden_size,
        attention_heads,
        max_context,
        attention,
        sliding_window,
        full_attention_layers,
        kv_lora_rank,
        qk_rope_head_dim,
        experts,
        experts_per_token,
    ) = values[7:20]
    cost, cost_approx, facts_url, arch_url = values[20:24]
    fk, fn, fu, ak, an, au, ck, cn, cu = values[24:33]
    arch = f.Architecture(
        layers=layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        hidden_size=hidden_size,
        attention_heads=attention_heads,
        max_context=max_context,
        attention=attention or "gqa",
        sliding_window=sliding_window,
        full_attention_layers=full_attention_layers,
        kv_lora_rank=kv_lora_rank,
        qk_rope_head_dim=qk_rope_head_dim,
        experts=experts,
        experts_per_token=experts_per_token,
    )
    known = layers is not None or kv_lora_rank is not None
    return f.ModelSpec(
        slug=slug,
        name=name,
        organization=organization,
        open_weights=open_weights,
        released_on=released_on,
        total_params_b=total,
        active_params_b=active,
        params_citation=_cited(fk, fn, facts_url or fu),
        architecture=arch if known else None,
        architecture_citation=_cited(ak, an, arch_url or au),
        training_cost_usd=cost,
        training_cost_approximate=cost_approx,
        training_cost_citation=_cited(ck, cn, cu),
    )


def model_names(session: Session | Connection, limit: int | None = None) -> dict[str, str]:
    """Normalized alias → model display name."""
    query = select(t.ModelAlias.alias, t.Model.name).join(
        t.Model,
        t.Model.id == t.ModelAlias.model_id,  # type: ignore[arg-type]
    )
    if limit is not None:
        query = query.limit(limit)
    return {alias: name for alias, name in _connection(session).execute(query)}


_SOURCES_KEY = "gapwatch.sources"
# Citations of model facts, shared by the models that cite the same source and page.
_CITATIONS_KEY = "gapwatch.citations"


def _source_by_id(session: Session, source_id: int) -> Any:
    """A source's ``id``, ``key``, ``name`` and ``url``, from a per-session map of every
    source (a few dozen rows, read once, as plain rows)."""
    known: dict[int, Any] = session.info.get(_SOURCES_KEY) or {}
    if not known:
        known = {row.id: row for row in session.connection().execute(_SOURCE_ROWS)}
        session.info[_SOURCES_KEY] = known
    if source_id not in known:
        found = (
            session.connection()
            .execute(_SOURCE_ROWS.where(_SOURCE.id == bindparam("id")), {"id": source_id})
            .first()
        )
        if found is None:
            return None
        known[source_id] = found
    return known[source_id]


_SOURCE = t.Source.__table__.c  # type: ignore[attr-defined]
_ATTESTATION = t.Attestation.__table__.c  # type: ignore[attr-defined]
_PREDICTION = t.Prediction.__table__.c  # type: ignore[attr-defined]
_SOURCE_ROWS = select(_SOURCE.id, _SOURCE.key, _SOURCE.name, _SOURCE.url)


def to_model_spec(session: Session | None, row: t.Model) -> f.ModelSpec:
    """The analytics' view of a model row, with the citations of its facts."""

    def cite(source_id: int | None, url: str | None) -> f.Citation | None:
        if source_id is None or session is None:
            return None
        cache = session.info.setdefault(_CITATIONS_KEY, {})
        if (source_id, url) not in cache:
            source = _source_by_id(session, source_id)
            cache[source_id, url] = (
                f.Citation(source.key, source.name, url or source.url) if source else None
            )
        return cache[source_id, url]

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


def model_specs(
    session: Session, *, open_only: bool = False, slugs: Iterable[str] | None = None
) -> list[f.ModelSpec]:
    """Every model (or those with the given slugs) as a ``ModelSpec``.

    Read as plain rows, in chunks of slugs: a prediction may name tens of thousands of models,
    and an ORM object per model would cost several times the ``ModelSpec`` it becomes.
    """
    query = select(*_MODEL_TABLE.c)
    if open_only:
        query = query.where(_MODEL_TABLE.c.open_weights == true())
    if slugs is None:
        return [to_model_spec(session, row) for row in session.exec(query)]  # type: ignore[arg-type]
    wanted = sorted(set(slugs))
    specs = []
    connection = session.connection()
    statement = _MODELS_BY_SLUG[open_only]
    for start in range(0, len(wanted), _SLUG_CHUNK):
        chunk = connection.execute(statement, {"slugs": wanted[start : start + _SLUG_CHUNK]}).all()
        specs += [to_model_spec(session, row) for row in chunk]  # type: ignore[arg-type]
    return specs


_ANY_MODEL_BY_SLUG = select(*_MODEL_TABLE.c).where(
    _MODEL_TABLE.c.slug.in_(bindparam("slugs", expanding=True))
)
# By ``open_only``: every model with the slugs, or only the open ones.
_MODELS_BY_SLUG = {
    False: _ANY_MODEL_BY_SLUG,
    True: _ANY_MODEL_BY_SLUG.where(_MODEL_TABLE.c.open_weights == true()),
}


# Slugs per ``IN (...)`` (well under SQLite's 32,766 and psycopg's 65,535 parameters).
_SLUG_CHUNK = 5_000


# The columns a memory estimate reads: models that share them fit (or not) alike.
SHAPE_COLUMNS = t.SHAPE_COLUMNS
Shape = tuple[Any, ...]


def shape_of(row: t.Model) -> Shape:
    """A model row's shape: the values of :data:`SHAPE_COLUMNS`."""
    return tuple(getattr(row, name) for name in SHAPE_COLUMNS)


def shape_spec(shape: Shape) -> f.ModelSpec:
    """A nameless ``ModelSpec`` of a shape, for estimating the memory of every model with it.

    Built from a plain namespace, not a ``Model``: constructing a table object costs about a
    millisecond, once per shape per ``/fits``."""
    values: dict[str, Any] = dict.fromkeys(_MODEL_COLUMNS)
    values.update(slug="shape", name="shape", training_cost_approximate=False)
    values.update(zip(SHAPE_COLUMNS, shape, strict=True))
    return to_model_spec(None, SimpleNamespace(**values))  # type: ignore[arg-type]


_MODEL_COLUMNS = tuple(column.name for column in _MODEL_TABLE.columns)


def _sized_open_models(max_params_b: float) -> Any:
    return (
        t.Model.open_weights == true(),  # indexable on PostgreSQL (``IS TRUE`` is not)
        t.Model.total_params_b > 0,  # type: ignore[operator]
        t.Model.total_params_b <= max_params_b,  # type: ignore[operator]
    )


def open_model_shapes(session: Session, *, max_params_b: float) -> list[tuple[Shape, int]]:
    """The distinct shapes of the sized open models up to ``max_params_b``, with their counts."""
    columns = [getattr(t.Model, name) for name in SHAPE_COLUMNS]
    # Grouped and ordered exactly as ix_model_shape is (openness first): both databases then
    # read the index alone, in order, instead of hashing a scan of the table.
    key = [t.Model.open_weights, *columns]
    query = (
        select(*columns, func.count())  # type: ignore[call-overload]
        .where(*_sized_open_models(max_params_b))
        .group_by(*key)
        .order_by(*key)
    )
    return [(tuple(row[:-1]), row[-1]) for row in session.exec(query)]


def open_models_by_score(
    session: Session, benchmark: t.Benchmark, *, max_params_b: float
) -> Iterator[tuple[t.Model, int | None]]:
    """Sized open models up to ``max_params_b`` with their headline score's id on a benchmark,
    best score first, then largest, then by slug; then the unscored ones, largest first.
    Rows are read as they are consumed, so a caller that stops early reads few.

    Two queries rather than one outer join: the stored headline choice drives the scored
    ones, and the unscored ones are read only if asked for.
    """
    # The stored choice, read best first from its value index in pages, and each page's
    # models by primary key: the database never sorts or joins the whole benchmark, and a
    # caller that stops early reads a page or two. Equal scores go largest first, then by slug.
    _use_stored(session, benchmark, as_of=None, sources=None)
    connection = session.connection()
    run: list[tuple[t.Model, int]] = []
    run_value = None
    for start in itertools.count(0, _PAGE):
        # Plain LIMIT/OFFSET pages rather than a streaming cursor: on PostgreSQL a server-side
        # cursor costs a DECLARE and a round trip per fetch, and a caller needs a page or two.
        page = connection.execute(
            _BEST_OPEN_PAGE, {"benchmark_id": benchmark.id, "skip": start, "size": _PAGE}
        ).all()
        wanted = [row[0] for row in page]
        # By primary key only (a size filter here tempts SQLite into scanning the size index),
        # as plain rows (attribute access like a Model, a tenth of the cost to build).
        models = {
            model.id: model
            for model in connection.execute(_MODELS_BY_ID, {"ids": wanted})
            if model.open_weights and 0 < (model.total_params_b or 0) <= max_params_b
        }
        for model_id, score_id, value in page:
            model = models.get(model_id)
            if model is None:
                continue
            if run and value != run_value:
                yield from _largest_first(run)
                run = []
            run.append((model, score_id))  # type: ignore[arg-type]
            run_value = value
        if len(page) < _PAGE:
            break
    yield from _largest_first(run)
    has_score = (
        select(t.Score.id)
        .where(t.Score.model_id == t.Model.id, t.Score.benchmark_id == benchmark.id)
        .exists()
    )
    unscored = (
        select(t.Model)
        .where(*_sized_open_models(max_params_b), ~has_score)
        .order_by(t.Model.total_params_b.desc(), t.Model.slug)  # type: ignore[union-attr]
        .execution_options(yield_per=200)
    )
    for model in session.exec(unscored):
        yield model, None


_PAGE = 300
_BEST_OPEN_PAGE = (
    select(_HEADLINE.model_id, _HEADLINE.score_id, _HEADLINE.value)
    .where(_HEADLINE.benchmark_id == bindparam("benchmark_id"), _HEADLINE.open_weights == true())
    .order_by(_HEADLINE.value.desc(), _HEADLINE.model_id)
    .offset(bindparam("skip"))
    .limit(bindparam("size"))
)
_MODELS_BY_ID = select(*_MODEL_TABLE.c).where(
    _MODEL_TABLE.c.id.in_(bindparam("ids", expanding=True))
)


def _largest_first(run: list[tuple[t.Model, int]]) -> list[tuple[t.Model, int]]:
    return sorted(run, key=lambda pair: (-(pair[0].total_params_b or 0.0), pair[0].slug))


def scores_by_id(
    session: Session, benchmark: t.Benchmark, ids: Sequence[int]
) -> dict[int, f.Score]:
    """Scores of one benchmark by id, as ``frontier`` scores."""
    return _scores_of(session, benchmark, list(ids)) if ids else {}


def unsized_open_models(session: Session) -> list[f.ModelSpec]:
    """Open models without a parameter count (no memory estimate is possible)."""
    found = []
    # Two index probes (ix_model_shape); one OR of the two scans every open model.
    for unsized in (_MODEL_TABLE.c.total_params_b.is_(None), _MODEL_TABLE.c.total_params_b <= 0):
        query = select(*_MODEL_TABLE.c).where(_MODEL_TABLE.c.open_weights == true(), unsized)
        found += [to_model_spec(session, row) for row in session.exec(query)]  # type: ignore[arg-type]
    return sorted(found, key=lambda spec: spec.slug)


def model_scores(session: Session, model: t.Model) -> list[tuple[t.Benchmark, t.Score, t.Source]]:
    """All of a model's scores with their benchmark and source, by benchmark, each
    benchmark's headline first (``headlines.choice_order``)."""
    order = headlines.choice_order(
        t.Score.__table__,  # type: ignore[attr-defined]
        t.Source.__table__,  # type: ignore[attr-defined]
        t.Benchmark.canonical_setting,
    )
    query = (
        select(t.Benchmark, t.Score, t.Source)
        .join(t.Score, t.Score.benchmark_id == t.Benchmark.id)  # type: ignore[arg-type]
        .join(t.Source, t.Source.id == t.Score.source_id)  # type: ignore[arg-type]
        .where(t.Score.model_id == model.id)
        .order_by(t.Benchmark.key, *order)
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


@dataclass(frozen=True)
class PredictionRow:
    """A prediction as the rules read it, with its stored status."""

    definition: PredictionDef
    status: str
    resolved_on: date | None


def find_prediction_def(session: Session, code: str) -> PredictionRow:
    """:func:`find_prediction` and :func:`to_prediction_def` in one statement of plain rows.

    Raises:
        NotFoundError: with the closest codes as suggestions.
    """
    wanted = code.strip().upper()
    rows = session.connection().execute(_PREDICTION_ROWS).all()
    for row in rows:
        if row.code.upper() == wanted:
            label = f"{row.source_name}, {row.section}" if row.source_key and row.section else ""
            return PredictionRow(
                PredictionDef(
                    code=row.code,
                    title=row.title,
                    claim=row.claim,
                    threshold=row.threshold,
                    verification_date=row.verification_date,
                    rule=row.rule,
                    params=row.params,
                    citation=f.Citation(
                        row.source_key or "prediction", label or row.section or row.code
                    ),
                ),
                row.status,
                row.resolved_on,
            )
    choices = {normalize_name(r.code): r.code for r in rows}
    raise NotFoundError(f"no prediction {code.strip()[:30]!r}", suggest(code, choices))


_PREDICTION_ROWS = (
    select(
        _PREDICTION.code,
        _PREDICTION.title,
        _PREDICTION.claim,
        _PREDICTION.threshold,
        _PREDICTION.verification_date,
        _PREDICTION.rule,
        _PREDICTION.params,
        _PREDICTION.section,
        _PREDICTION.status,
        _PREDICTION.resolved_on,
        _SOURCE.key.label("source_key"),
        _SOURCE.name.label("source_name"),
    )
    .outerjoin_from(t.Prediction.__table__, t.Source.__table__, _SOURCE.id == _PREDICTION.source_id)  # type: ignore[attr-defined]
    .order_by(_PREDICTION.code)
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
    """Every attestation as the rules' input (plain rows; each one's model slug read in the
    same statement)."""
    found = []
    for (
        code,
        criterion,
        holds,
        statement,
        stated_on,
        label,
        url,
        slug,
    ) in session.connection().execute(_ATTESTATION_ROWS):
        found.append(
            f.Attestation(
                prediction=code,
                criterion=criterion,
                holds=holds,
                statement=statement,
                stated_on=stated_on,
                citation=f.Citation("attestation", label, url),
                model_slug=slug,
            )
        )
    return found


_ATTESTATION_ROWS = select(
    _PREDICTION.code,
    _ATTESTATION.criterion,
    _ATTESTATION.holds,
    _ATTESTATION.statement,
    _ATTESTATION.stated_on,
    _ATTESTATION.source_label,
    _ATTESTATION.url,
    # A scalar subquery, not a join: the rows come in the same order as before.
    select(_MODEL_TABLE.c.slug).where(_MODEL_TABLE.c.id == _ATTESTATION.model_id).scalar_subquery(),
).join_from(
    t.Attestation.__table__, t.Prediction.__table__, _PREDICTION.id == _ATTESTATION.prediction_id
)  # type: ignore[attr-defined]


def sources(session: Session) -> list[t.Source]:
    """Every source, polled ones first, then by key."""
    return list(session.exec(select(t.Source).order_by(t.Source.kind, t.Source.key)))
