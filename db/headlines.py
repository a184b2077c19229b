"""Each model's headline score on each benchmark, kept current in the ``headline`` table.

A model's *headline* score on a benchmark is the one it is judged by when sources disagree:
the benchmark's canonical setting first, then the most trusted source (lowest
``source.trust_rank``), then the newest retrieval, then the lowest score id (so the choice never
depends on row order). Choosing it at read time means ranking every score of the benchmark
(about 50,000 rows at a million scores) on every ``/gap``; choosing it when scores are written
touches only the models a write names, so the answers read about one narrow row per model.

How the table stays true to the scores:

* Changes made through the ORM unit of work (``session.add``, attribute changes,
  ``session.delete``) are seen by the session events below: a score's model is marked dirty,
  so is a model whose openness changed or that was deleted; a changed source trust rank or
  canonical setting marks everything dirty.
* Writers that change ``score`` rows, or ``model.open_weights``, with Core statements (bulk
  ingest) call :func:`mark_dirty` with the models they touched.
* Dirty models are recomputed by :func:`sync`, which the headline queries call before they read
  and which runs before every commit, so nothing is committed with a stale headline.

A headline row's score must still exist at commit (SQLite: a deferred foreign key;
PostgreSQL: a deferred constraint trigger on ``score``'s deletes, and a statement trigger on
its truncation, migrations 0010 and 0011): a write that
removes a headline score (a Core ``DELETE`` of a score or a model, say) without recomputing
fails its commit instead of leaving a stale row.

Recomputing is idempotent: marking a model that did not change only costs its recomputation.
Models of unknown openness have rows too (``open_weights`` NULL): the queries leave them out.
``record`` marks the frontier records (see ``db.tables.Headline``); recomputing a model's rows
re-marks the records of the benchmarks it has scores on (one window over each benchmark's
headline rows, about 20 ms at a million scores; only changed flags are written).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    any_,
    bindparam,
    case,
    delete,
    event,
    func,
    inspect,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession

from db import tables as t

DIRTY_KEY = "gapwatch.headline_dirty"
NEW_KEY = "gapwatch.headline_new"
# Models marked without ``new`` since the last sync: they may have rows, whatever else says.
STORED_KEY = "gapwatch.headline_maybe_stored"
# Mark meaning "every model": a changed trust rank or canonical setting can move any choice.
EVERYTHING = "*"
# Models recomputed per statement (bind parameters per IN list stay well under SQLite's limit
# of 32,766; PostgreSQL gets one array parameter). Big chunks matter on SQLite: each statement
# inserts its rows benchmark by benchmark, so fewer statements visit each benchmark's index
# pages fewer times (10,000 new models: 0.9 s in chunks of 500, 0.55 s in one).
CHUNK = 10_000
PG_CHUNK = 5_000


def mark_dirty(session: OrmSession, model_ids: Iterable[int | None], *, new: bool = False) -> None:
    """Say that these models' scores (or openness) changed outside the ORM unit of work.

    ``new=True`` says the models have no headline rows yet: they were inserted in this
    transaction and got their first scores since the last :func:`sync` (headline rows only
    come from a sync, and a model's rows only from its scores). Their recomputation then
    skips looking for rows to replace, unless the same id was also marked without ``new``
    before the sync (a deleted model whose id SQLite gave to a new one, say).
    """
    ids = [i for i in model_ids if i is not None]
    dirty = session.info.setdefault(DIRTY_KEY, set())
    if dirty != EVERYTHING:
        dirty.update(ids)
    session.info.setdefault(NEW_KEY if new else STORED_KEY, set()).update(ids)


def mark_everything_dirty(session: OrmSession) -> None:
    """Say that every headline may have moved (a trust rank or a canonical setting changed)."""
    session.info[DIRTY_KEY] = EVERYTHING


def sync(session: OrmSession) -> int:
    """Recompute the headline rows of every model marked dirty in this session.

    Flushes pending ORM changes first (their events mark models). Returns how many models were
    recomputed (``-1`` for a full rebuild).
    """
    if session.new or session.dirty or session.deleted:
        session.flush()
    dirty = session.info.pop(DIRTY_KEY, None)
    new = session.info.pop(NEW_KEY, set()) - session.info.pop(STORED_KEY, set())
    if not dirty:
        return 0
    connection = session.connection()
    if dirty == EVERYTHING:
        rebuild(connection)
        return -1
    refresh(connection, dirty, new=new)
    return len(dirty)


def choice_order(score: Any, source: Any, canonical_setting: Any) -> tuple[Any, ...]:
    """The order of a model's scores on one benchmark, its headline first: the benchmark's
    canonical setting (or none stated), the most trusted source, the newest retrieval, the
    lowest id. Every reader that ranks scores uses it, so they all name the same headline.

    Args:
        score: The ``score`` table or an alias of it (its columns ``.c``).
        source: The ``source`` table (or alias) joined to those scores.
        canonical_setting: The benchmark's canonical setting: its column, or a value.
    """
    canonical = score.c.setting.in_(["", func.coalesce(canonical_setting, "")])
    return (
        case((canonical, 0), else_=1),
        source.c.trust_rank,
        score.c.retrieved_at.desc(),
        score.c.id,
    )


def _ranked(connection: Connection | None, model_ids: list[int] | None) -> Any:
    """Every score with its rank among its model's scores on its benchmark (1 = headline)."""
    rank = func.row_number().over(
        partition_by=(t.Score.benchmark_id, t.Score.model_id),
        order_by=choice_order(
            t.Score.__table__,  # type: ignore[attr-defined]
            t.Source.__table__,  # type: ignore[attr-defined]
            t.Benchmark.canonical_setting,
        ),
    )
    query = (
        select(  # type: ignore[call-overload]
            t.Score.benchmark_id,
            t.Score.model_id,
            t.Score.id.label("score_id"),  # type: ignore[union-attr]
            t.Score.value,
            t.Score.available_on,
            t.Model.open_weights,
            rank.label("rn"),
        )
        .join(t.Source, t.Source.id == t.Score.source_id)
        .join(t.Benchmark, t.Benchmark.id == t.Score.benchmark_id)
        .join(t.Model, t.Model.id == t.Score.model_id)
    )
    if model_ids is not None and connection is not None:
        query = query.where(_among(connection, t.Score.model_id, model_ids))
    return query.subquery("ranked")


_COLUMNS = ("benchmark_id", "model_id", "score_id", "value", "available_on", "open_weights")

_RECORD = t.Headline.__table__.c.record == true()  # type: ignore[attr-defined]
"""A frontier record, in the words of ``ix_headline_records``'s predicate (db.tables)."""


# (score id, benchmark id, openness, date, value): one headline row as writes return it.
_Point = tuple[int, int, bool | None, date, float]
_POINT = ("score_id", "benchmark_id", "open_weights", "available_on", "value")


def _among(connection: Connection, column: Any, ids: list[int]) -> Any:
    """``column IN ids``; on PostgreSQL one array parameter (``= ANY``), which plans and binds
    in a fraction of the time of an ``IN`` list of thousands of parameters."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=postgresql.ARRAY(Integer)))
    return column.in_(ids)


def _insert_headlines(
    connection: Connection, model_ids: list[int] | None, *, fresh: bool = False
) -> list[_Point]:
    """Insert the chosen rows (of these models, or all) and return them as points.

    ``fresh``: the models were inserted by this transaction (see :func:`mark_dirty`), so no
    other writer can have rows for them yet, and a plain ``INSERT`` does (PostgreSQL's
    ``ON CONFLICT`` probes the key before every row).
    """
    ranked = _ranked(connection, model_ids)
    chosen = select(*(ranked.c[name] for name in _COLUMNS)).where(ranked.c.rn == 1)
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(t.Headline).from_select(list(_COLUMNS), chosen)
    if not fresh:
        # A concurrent writer may have inserted the same (benchmark, model) after our delete:
        # the newer computation wins instead of failing the transaction. (The WHERE above
        # also keeps SQLite's parser from reading ON CONFLICT as a join constraint.)
        insert = insert.on_conflict_do_update(
            index_elements=["model_id", "benchmark_id"],
            set_={**{name: insert.excluded[name] for name in _COLUMNS[2:]}, "record": False},
        )
    if model_ids is None:
        connection.execute(insert)
        return []
    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    return [tuple(row) for row in connection.execute(insert.returning(*(h[n] for n in _POINT)))]  # type: ignore[misc]


def refresh(connection: Connection, model_ids: Iterable[int], *, new: Iterable[int] = ()) -> None:
    """Recompute the headline rows of these models, on every benchmark, and the records their
    changes can move.

    ``new``: models among them known to have no headline rows yet (see :func:`mark_dirty`);
    only the others' rows are looked for and deleted.
    """
    ids = sorted(set(model_ids))
    fresh = set(new)
    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    size = PG_CHUNK if connection.dialect.name == "postgresql" else CHUNK
    gone: list[tuple[Any, ...]] = []
    added: list[_Point] = []
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        stored = [i for i in chunk if i not in fresh] if fresh else chunk
        if stored:
            removed = delete(t.Headline).where(_among(connection, h.model_id, stored))
            gone += connection.execute(removed.returning(*(h[n] for n in _POINT), h.record)).all()
        added += _insert_headlines(connection, chunk, fresh=not stored)
    _mark_changed_records(connection, gone, added)


def rebuild(connection: Connection) -> None:
    """Recompute every headline row (after a bulk load, or when every choice may move)."""
    connection.execute(delete(t.Headline))
    _insert_headlines(connection, None)
    mark_records(connection, None)


def _running_records(points: Iterable[_Point], higher: bool) -> set[int]:
    """The records among points of one side: the score ids whose value is at least the best
    value on or before their date (same-day rows count: a tie on the day is a record)."""
    by_day: dict[date, list[_Point]] = {}
    for point in points:
        by_day.setdefault(point[3], []).append(point)
    best: float | None = None
    found = set()
    for day in sorted(by_day):
        values = [p[4] for p in by_day[day]]
        top = max(values) if higher else min(values)
        best = top if best is None else (max(best, top) if higher else min(best, top))
        found |= {p[0] for p in by_day[day] if (p[4] >= best if higher else p[4] <= best)}
    return found


def _mark_changed_records(
    connection: Connection, gone: Sequence[tuple[Any, ...]], added: Sequence[_Point]
) -> None:
    """Bring the ``record`` flags up to date after rows were replaced, reading little.

    The running best before a date is attained by a record, so for a side that only gained
    rows the records are those among its stored records and the new rows. Losing a row matters
    only if it was a record (a lower row never set the best); then the side is recomputed from
    that row's date, starting from the records before it.
    """
    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    kept = set(added)
    new: dict[tuple[int, bool], list[_Point]] = {}
    for point in added:
        if point[2] is not None:
            new.setdefault((point[1], point[2]), []).append(point)
    since: dict[tuple[int, bool], date] = {}
    for row in gone:
        point, was_record = tuple(row[:5]), row[5]
        if was_record and point not in kept and point[2] is not None:
            side = (point[1], point[2])
            since[side] = min(since.get(side, point[3]), point[3])
    sides = set(new) | set(since)
    if not sides:
        return
    higher = dict(connection.execute(select(t.Benchmark.id, t.Benchmark.higher_is_better)).all())  # type: ignore[call-overload]
    set_true: list[int] = []
    set_false: list[int] = []
    for side in sorted(sides):
        benchmark_id, open_weights = side
        mine = (h.benchmark_id == benchmark_id, h.open_weights == open_weights)
        flagged = {
            row[0]: tuple(row)
            for row in connection.execute(select(*(h[n] for n in _POINT)).where(*mine, _RECORD))
        }
        pool = dict(flagged)
        if side in since:
            later = select(*(h[n] for n in _POINT)).where(*mine, h.available_on >= since[side])
            pool = {k: p for k, p in pool.items() if p[3] < since[side]}
            pool.update((row[0], tuple(row)) for row in connection.execute(later))
        pool.update((p[0], p) for p in new.get(side, ()))
        records = _running_records(pool.values(), higher[benchmark_id])  # type: ignore[arg-type]
        set_true += sorted(records - set(flagged))
        set_false += sorted(set(flagged) - records)
    for ids, value in ((set_false, False), (set_true, True)):
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            connection.execute(
                update(t.Headline).where(_among(connection, h.score_id, chunk)).values(record=value)
            )


# A record: no headline score on its side was better on or before its date (the running best
# of the side, in date order; ``higher_is_better`` says which way is better).
_RECORDS = """
SELECT score_id FROM (
    SELECT h.score_id, h.value, b.higher_is_better AS higher,
           max(h.value) OVER w AS high, min(h.value) OVER w AS low
    FROM headline h
    JOIN benchmark b ON b.id = h.benchmark_id
    WHERE h.open_weights IS NOT NULL {where}
    WINDOW w AS (
        PARTITION BY h.benchmark_id, h.open_weights ORDER BY h.available_on
        RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
) marked
WHERE (higher AND value >= high) OR (NOT higher AND value <= low)
"""


def _record_ids(connection: Connection, benchmark_ids: list[int] | None) -> set[int]:
    if benchmark_ids is None:
        return set(connection.execute(text(_RECORDS.format(where=""))).scalars())
    query = text(_RECORDS.format(where="AND h.benchmark_id IN :benchmarks")).bindparams(
        bindparam("benchmarks", expanding=True)
    )
    return set(connection.execute(query, {"benchmarks": benchmark_ids}).scalars())


def mark_records(connection: Connection, benchmark_ids: Iterable[int] | None) -> None:
    """Set ``record`` on these benchmarks' rows (all benchmarks with ``None``).

    Only the flags that change are written: a benchmark has a few dozen records among its
    thousands of rows, so a poll that moves nothing writes nothing here.
    """
    wanted = None if benchmark_ids is None else sorted(set(benchmark_ids))
    if wanted == []:
        return
    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    records = _record_ids(connection, wanted)
    flagged = select(h.score_id).where(_RECORD)
    if wanted is not None:
        flagged = flagged.where(h.benchmark_id.in_(wanted))
    stored = set(connection.execute(flagged).scalars())
    for ids, value in ((sorted(stored - records), False), (sorted(records - stored), True)):
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            connection.execute(update(t.Headline).where(h.score_id.in_(chunk)).values(record=value))


def stale(connection: Connection) -> int:
    """How many headline rows differ from what the scores say now (0 when the table is true).

    Compares the stored table with a fresh computation both ways, then the stored record flags
    with the records of the stored rows; for tests and checks.
    """
    ranked = _ranked(None, None)
    fresh = select(*(ranked.c[name] for name in _COLUMNS)).where(ranked.c.rn == 1)
    stored = select(*(t.Headline.__table__.c[name] for name in _COLUMNS))  # type: ignore[attr-defined]
    missing = connection.execute(
        select(func.count()).select_from(fresh.except_(stored).subquery())
    ).scalar_one()
    extra = connection.execute(
        select(func.count()).select_from(stored.except_(fresh).subquery())
    ).scalar_one()
    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    flagged = set(connection.execute(select(h.score_id).where(_RECORD)).scalars())
    records = _record_ids(connection, None)
    return int(missing) + int(extra) + len(flagged ^ records)


def _changed(obj: Any, *names: str) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _moves_every_choice(obj: Any) -> bool:
    """A source's trust or a benchmark's canonical setting or direction changed."""
    if isinstance(obj, t.Source):
        return _changed(obj, "trust_rank")
    if isinstance(obj, t.Benchmark):
        return _changed(obj, "canonical_setting", "higher_is_better")
    return False


@event.listens_for(OrmSession, "after_flush")
def _mark_flushed(session: OrmSession, _context: Any) -> None:
    """Mark the models whose headline a flushed ORM change may move."""
    touched: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, t.Score):
            touched.add(obj.model_id)
            history = inspect(obj).attrs.model_id.history
            touched.update(i for i in history.deleted or () if i is not None)
        elif isinstance(obj, t.Model):
            # A deleted model's scores go with it (ON DELETE CASCADE); its headline rows are
            # recomputed to none (the table has no key of its own on the model).
            if obj in session.deleted or (obj in session.dirty and _changed(obj, "open_weights")):
                touched.add(obj.id)  # type: ignore[arg-type]
        elif obj in session.dirty and _moves_every_choice(obj):
            mark_everything_dirty(session)
            return
    if touched:
        mark_dirty(session, touched)


@event.listens_for(OrmSession, "before_commit")
def _sync_before_commit(session: OrmSession) -> None:
    """Nothing is committed with a stale headline."""
    if session.info.get(DIRTY_KEY) or session.new or session.dirty or session.deleted:
        sync(session)
