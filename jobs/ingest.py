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

The store is read and written in bulk, with SQLAlchemy Core rather than ORM objects (an ORM
object costs about as much as the rest of a record's work): only the names the batch uses are
looked up, the stored models and scores it matches are read as plain rows, and the new models,
aliases and scores are written with one bulk insert each (an ``executemany``; on PostgreSQL
sent as one ``COPY``: see :func:`insert_rows`), a handful of statements per batch, whatever
its size. Core writes are invisible to the session's headline tracking, so
the models whose scores or openness they change are named to ``db.headlines.mark_dirty``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError
from sqlalchemy import Connection, Integer, String, Table, any_, bindparam, func, insert, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, select

from db import headlines
from db import tables as t
from db.engine import COPY_ROWS
from db.queries import frontier_candidates
from db.types import utcnow
from frontier import types as f
from frontier.collector import collector_paused
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

# A model's facts a source may state: who, whether open, and its shape (size, architecture).
MODEL_FIELDS = (
    "organization",
    "open_weights",
    "license",
    "released_on",
    "hf_repo",
    *t.SHAPE_COLUMNS,
)

LOOKUP_CHUNK = 5_000
"""Values per ``IN (...)`` query when looking up a batch's names, slugs and models (well under
every driver's parameter limit: SQLite allows 32,766 per statement, psycopg 65,535)."""

ScoreKey = tuple[int, int, str]
"""The store's identity of a score within one source: model id, benchmark id, setting."""

_MODEL = t.Model.__table__.c  # type: ignore[attr-defined]
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ALIAS = t.ModelAlias.__table__.c  # type: ignore[attr-defined]
_SCORE = t.Score.__table__.c  # type: ignore[attr-defined]


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
    same_records: int = 0
    """Records not read because they are the same as the last poll's (0: all were read)."""

    @property
    def wrote(self) -> bool:
        """Whether any row of models, benchmarks or scores changed."""
        return any(self.counts[k] for k in WRITE_COUNTS)

    def summary(self) -> str:
        """``epoch: models 2 new, 1 updated; scores 12 new, 3 changed, 240 unchanged, …``."""
        if self.not_modified:
            return f"{self.source}: not modified since the last poll"
        if self.same_records:
            text = f"{self.source}: the same {self.same_records} records as the last poll"
            return text + (f"; {len(self.rejected)} rejected" if self.rejected else "")
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
        _log_rejections(result)
        return result
    digested = _digest(batch)
    digest, nul = digested if digested is not None else (None, True)
    if digest is not None and digest == source.records_hash:
        # New bytes, same records (a timestamp or key order changed): nothing to read.
        result.same_records = len(batch.models) + len(batch.scores)
    else:
        # A batch's records, rows and events live until it ends: collector runs in the middle
        # freed nothing and walked the whole heap (a third of a 60,000-record poll).
        with collector_paused():
            _Ingest(session, source, result, now, nul=nul).run(batch)
        # Remembered only when every record was taken: a batch with rejected records is
        # read again next time, so its rejections are reported again.
        clean = len(result.rejected) == len(batch.rejected)
        if (digest if clean else None) != source.records_hash:
            source.records_hash = digest if clean else None
    _note_success(source, batch, now)
    _log_rejections(result)
    return result


INGEST_VERSION = "1"
"""Part of every records digest: a release that reads records differently bumps it, so the
next poll of every source is read in full once."""


def records_digest(batch: SourceBatch) -> str | None:
    """A digest of a batch's records: equal digests mean the same records in the same order.

    The records' JSON (pydantic's serializer, in Rust) through SHA-256: about 1 µs a record,
    against about 16 µs to read one and compare it with the store. None when a record cannot
    be serialized (a record built without validation can hold anything): read in full.
    """
    digested = _digest(batch)
    return digested[0] if digested is not None else None


def _digest(batch: SourceBatch) -> tuple[str, bool] | None:
    """:func:`records_digest`, and whether the records' text may hold a NUL character (JSON
    writes one as ``\\u0000``; so does a backslash followed by ``u0000``, which only costs
    the check of every record that a NUL would)."""
    digest = hashlib.sha256(f"{INGEST_VERSION}:{batch.source}:{batch.url}".encode())
    nul = False
    try:
        for records, adapter in ((batch.models, _MODEL_LIST), (batch.scores, _SCORE_LIST)):
            data = adapter.dump_json(records, warnings=False)  # type: ignore[attr-defined]
            nul = nul or b"\\u0000" in data
            digest.update(data)
    except (PydanticSerializationError, TypeError, ValueError):
        return None
    return digest.hexdigest(), nul


_MODEL_LIST = TypeAdapter(list[ModelRecord])
_SCORE_LIST = TypeAdapter(list[ScoreRecord])


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


def _validated(record: _R, *, nul: bool = True) -> _R:
    """Re-validate a record (a batch may hold records built without validation).

    NUL characters are dropped first (unless ``nul`` is False: the batch's JSON showed none):
    PostgreSQL text cannot hold them (SQLite can), and a row must be stored the same way on
    both. The record's own field values are validated (``__dict__``, as ``model_dump`` would
    give them, without the cost of serializing).

    Raises:
        ValueError: The record breaks its model's rules (``ValidationError`` is one).
    """
    data = record.__dict__
    for value in data.values() if nul else ():  # a plain loop: every field of every record
        if isinstance(value, str) and "\x00" in value:
            data = {
                name: value.replace("\x00", "") if isinstance(value, str) else value
                for name, value in data.items()
            }
            break
    return type(record).model_validate(data)


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(insert(table), rows)``, storing the same values at a fraction of the cost.

    SQLAlchemy builds and converts every row's parameters one by one (a type's bind processor
    per row and column: dates and timestamps become text on SQLite, UTC timestamps are
    normalized), which costs more than the database's own insert. Here the statement is
    compiled once, each column's values go through that same processor in one pass (a value
    shared by consecutive rows, such as the poll's time, is converted once), and the rows go
    to the driver's ``executemany`` as they would from ``conn.execute``; on PostgreSQL, marked
    with ``db.engine.COPY_ROWS``, they go as one ``COPY`` (the INSERT is still what every hook
    and error sees). Every row must have the first row's keys. A statement that needs more
    (a column default to compute, a ``RETURNING``) is left to ``conn.execute``.
    """
    if not rows:
        return
    keys = list(rows[0])
    dialect = conn.dialect
    compiled: Any = insert(table).compile(dialect=dialect, column_keys=keys, for_executemany=True)
    names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
    if (
        compiled.insert_prefetch
        or compiled.postfetch
        or compiled.effective_returning
        or sorted(names) != sorted(keys)
        or any(len(row) != len(keys) for row in rows)
    ):
        conn.execute(insert(table), rows)
        return
    columns = []
    for name in names:
        values = [row[name] for row in rows]
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            values = _processed(values, process)
        columns.append(values)
    if compiled.positional:
        params: list[Any] = list(zip(*columns, strict=True))
        options = {}
    else:
        escaped = [compiled.escaped_bind_names.get(name, name) for name in names]
        params = [dict(zip(escaped, values, strict=True)) for values in zip(*columns, strict=True)]
        # PostgreSQL: the same INSERT, its rows sent as one COPY (db.engine.COPY_ROWS).
        columns_named = [table.c[name].name for name in names]  # a column's key may differ
        options = (
            {COPY_ROWS: (table.name, columns_named, escaped)}
            if dialect.name == "postgresql"
            else {}
        )
    conn.exec_driver_sql(compiled.string, params, execution_options=options)


_UNSET = object()


def _processed(values: list[Any], process: Any) -> list[Any]:
    """A column's values through its bind processor (None too, as SQLAlchemy does); a value
    repeated by consecutive rows (the same object) is converted once."""
    out = []
    last: Any = _UNSET
    done: Any = None
    for value in values:
        if value is not last:
            last, done = value, process(value)
        out.append(done)
    return out


def _chunks(values: Iterable[Any], size: int = LOOKUP_CHUNK) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Model:
    """A model as ingest sees it: a stored row's columns, or a row this batch will insert.

    ``id`` is None until a new model is inserted; ``changes`` holds the columns of a stored
    model that this batch changes (written in bulk once the batch's models are known).
    """

    __slots__ = ("changes", "facts", "facts_source_id", "facts_url", "id", "name", "slug")

    def __init__(
        self,
        model_id: int | None,
        slug: str,
        name: str,
        facts: dict[str, Any],
        facts_source_id: int | None,
        facts_url: str | None,
    ) -> None:
        self.id = model_id
        self.slug = slug
        self.name = name
        self.facts = facts
        self.facts_source_id = facts_source_id
        self.facts_url = facts_url
        self.changes: dict[str, Any] = {}

    @property
    def open_weights(self) -> bool | None:
        return self.facts["open_weights"]

    @property
    def released_on(self) -> date | None:
        return self.facts["released_on"]


_Ref = int | _Model
"""What a name resolves to: a stored model's id (not read yet) or a model already read."""


@dataclass(slots=True)
class _Planned:
    """One score the batch asks for, matched to a model and a benchmark."""

    record: ScoreRecord
    model: _Model
    bench: t.Benchmark
    setting: str
    bench_id: int
    """``bench.id``, read once (an ORM attribute read costs more than a slot's)."""

    @property
    def key(self) -> ScoreKey:
        assert self.model.id is not None
        return (self.model.id, self.bench_id, self.setting)

    def beats(self, other: _Planned) -> bool:
        """Whether this claim wins over ``other`` for the same key: the better value, then
        the earlier date (the value was public from then), so the choice ignores row order."""
        mine, theirs = self.record.value, other.record.value
        if mine != theirs:
            return mine > theirs if self.bench.higher_is_better else mine < theirs
        return (self.record.available_on or date.max) < (other.record.available_on or date.max)


_Change = tuple[_Planned, tuple[Any, ...] | None, date]
"""A planned score that differs from the store: the plan, the stored row (id, value,
available on, approximate, url) if any, and the score's date."""


class _Ingest:
    """The writes of one batch: the store's names looked up in bulk, rows written in bulk."""

    def __init__(
        self, session: Session, source: t.Source, result: IngestResult, now: datetime, *, nul: bool
    ):
        self.session = session
        self.nul = nul  # whether a record's text may hold a NUL character (see _digest)
        self.conn: Connection = session.connection()
        self.postgres = self.conn.dialect.name == "postgresql"
        self.source = source
        assert source.id is not None  # flushed by source_row
        self.source_id: int = source.id
        self.result = result
        self.now = now
        # Only the names a batch uses are looked up (a store holds 100,000s): each cache says
        # what the store holds for the keys in its ``*_checked`` set, plus this batch's rows.
        self.aliases: dict[str, _Ref] = {}
        self.aliases_checked: set[str] = set()
        self.by_repo: dict[str, _Ref] = {}
        self.repos_checked: set[str] = set()
        self.slugs: set[str] = set()  # slugs taken, in the store or by this batch
        self.slugs_checked: set[str] = set()
        self.slug_families: set[str] = set()  # slugs whose numbered variants are in ``slugs``
        self.models: dict[int, _Model] = {}
        self.new_models: list[_Model] = []
        self.new_aliases: list[tuple[str, _Model]] = []
        self.names: dict[str, str] = {}  # normalize_name, once per distinct string
        ranks = session.exec(select(t.Source.id, t.Source.trust_rank)).all()
        self.ranks: dict[int | None, int] = {source_id: rank for source_id, rank in ranks}
        self.benchmarks: dict[str, t.Benchmark] = {}
        for bench in session.exec(select(t.Benchmark)):
            for name in (bench.key, bench.name, *bench.aliases):
                self.benchmarks.setdefault(normalize_name(name), bench)
        # (model, field) already set by an earlier record of this batch: the first record
        # wins, so two records of one model cannot flip a fact back and forth on every poll.
        self.claimed: set[tuple[_Model, str]] = set()
        self.updated: set[_Model] = set()
        self.new_scores: list[dict[str, Any]] = []
        self.changed_scores: list[dict[str, Any]] = []

    def run(self, batch: SourceBatch) -> None:
        self.preload(batch)
        for raw in batch.models:
            try:
                record = _validated(raw, nul=self.nul)
            except ValueError as exc:
                self.reject(f"model: {_reason(exc)}", raw)
                continue
            self.upsert_model(record)
        planned = self.plan_scores(batch.scores)
        self.result.counts["models_updated"] = len(self.updated)
        self.save_models()
        changes = self.diff(planned, batch.fetched_at.date())
        touched = {plan.bench_id: plan.bench for plan, _row, _on in changes}
        before = self.frontiers(touched.values())
        for plan, row, available in changes:
            self.write(plan, row, available)
        self.save_scores()
        # A side's best can only improve through a score written here that beats it: only
        # those benchmarks are read again (every read ranks a benchmark's headline scores).
        moved = {plan.bench_id for plan, _row, _on in changes if _could_lead(plan, before)}
        after = self.frontiers(bench for bench_id, bench in touched.items() if bench_id in moved)
        self.new_frontiers(before, after, touched)

    def reject(self, reason: str, raw: object) -> None:
        dump = raw.model_dump() if isinstance(raw, ModelRecord | ScoreRecord) else raw
        self.result.rejected.append(RejectedRow.of(reason, dump))

    # Looking names up ---------------------------------------------------------------------

    def norm(self, name: str) -> str:
        """``normalize_name``, computed once per distinct string of the batch."""
        folded = self.names.get(name)
        if folded is None:
            folded = self.names[name] = normalize_name(name)
        return folded

    def preload(self, batch: SourceBatch) -> None:
        """Look up every name the batch uses, a few thousand per query: aliases, Hugging Face
        repo ids, the stored models they resolve to, and the slugs new models would take.

        Only a cache: a name missed here (one a record's validation changes) is looked up on
        its own when it is met.
        """
        pairs: dict[tuple[str, str | None], None] = {}
        aliases: set[str] = set()
        for m in batch.models:
            pairs[(m.name, m.hf_repo or m.source_model_id)] = None
            aliases.update(n for n in (m.hf_repo, m.source_model_id) if isinstance(n, str))
        for s in batch.scores:
            pairs[(s.model_name, s.raw_model_id)] = None
        repos: set[str] = set()
        for name, repo in pairs:
            if isinstance(repo, str) and repo:
                repos.add(repo)
                aliases.add(repo)
            if isinstance(name, str):
                aliases.add(name)
                if "/" in name:
                    aliases.add(name.rsplit("/", 1)[1])
        keys = {self.norm(name) for name in aliases}
        self.fetch_repos(repos)
        self.fetch_aliases(keys | {key[:256] for key in keys})
        refs = {
            pair: self.model_ref(*pair)
            for pair in pairs
            if isinstance(pair[0], str) and (pair[1] is None or isinstance(pair[1], str))
        }
        self.load_models(ref for ref in refs.values() if isinstance(ref, int))
        # The slugs the models that no name resolves to would take (a score names a model
        # by its name, so the slug comes from the name; a model record's from its repo id).
        new = {name for (name, _repo), ref in refs.items() if ref is None}
        new.update(
            m.hf_repo or m.name
            for m in batch.models
            if refs.get((m.name, m.hf_repo or m.source_model_id), 0) is None
        )
        self.fetch_slugs({_slug_base(name) for name in new if isinstance(name, str)})

    def among(self, column: Any, values: Iterable[Any], item_type: Any = String) -> Iterator[Any]:
        """Conditions ``column IN (values)`` that together cover ``values``.

        SQLite gets IN lists of a few thousand values (its limit is 32,766 parameters);
        PostgreSQL gets one ``= ANY(array)`` with the values as a single parameter, because
        thousands of separate parameters cost it ten times the lookups themselves.
        """
        # Names come from records before validation, which drops NUL characters: look them
        # up as they will be (PostgreSQL refuses a parameter holding NUL; SQLite would match
        # nothing).
        items = [v.replace("\x00", "") if isinstance(v, str) else v for v in values]
        if not items:
            return
        if self.postgres:
            yield column == any_(bindparam("among", items, type_=ARRAY(item_type)))
            return
        for chunk in _chunks(items):
            yield column.in_(chunk)

    def fetch_aliases(self, keys: Iterable[str]) -> None:
        wanted = [key for key in keys if key not in self.aliases_checked]
        self.aliases_checked.update(wanted)
        for where in self.among(_ALIAS.alias, wanted):
            for alias, model_id in self.conn.execute(
                select(_ALIAS.alias, _ALIAS.model_id).where(where)
            ):
                self.aliases.setdefault(alias, model_id)

    def fetch_repos(self, repos: Iterable[str]) -> None:
        """Models by Hugging Face repo id, case-insensitively (``by_repo`` is by lower case),
        through the index on ``lower(hf_repo)``. Where stored repo ids differ only in case,
        the one written as asked wins, then the newest model."""
        wanted = {repo.lower(): repo for repo in repos if repo.lower() not in self.repos_checked}
        self.repos_checked.update(wanted)
        # SQLite's lower() folds ASCII letters only (PostgreSQL's, every letter): asking for
        # the ASCII-folded spelling too finds a stored id with other capitals as written.
        keys = set(wanted) | {repo.translate(_ASCII_LOWER) for repo in wanted.values()}
        found: dict[str, tuple[bool, int]] = {}
        for where in self.among(func.lower(_MODEL.hf_repo), keys):
            query = select(_MODEL.id, _MODEL.hf_repo).where(where).order_by(_MODEL.id)
            for model_id, repo in self.conn.execute(query):
                key = repo.lower()
                exact = repo == wanted.get(key)
                if exact or not found.get(key, (False, 0))[0]:
                    found[key] = (exact, model_id)
        for key, (_exact, model_id) in found.items():
            if key in wanted:
                self.by_repo.setdefault(key, model_id)

    def fetch_slugs(self, slugs: Iterable[str]) -> None:
        wanted = [slug for slug in dict.fromkeys(slugs) if slug not in self.slugs_checked]
        self.slugs_checked.update(wanted)
        for where in self.among(_MODEL.slug, wanted):
            self.slugs.update(self.conn.scalars(select(_MODEL.slug).where(where)))

    def load_models(self, ids: Iterable[int]) -> None:
        """Read stored models as plain rows (the columns ingest compares and writes)."""
        wanted = sorted(set(ids) - self.models.keys())
        columns = [_MODEL.id, _MODEL.slug, _MODEL.name, _MODEL.facts_source_id, _MODEL.facts_url]
        columns += [_MODEL[name] for name in MODEL_FIELDS]
        for where in self.among(_MODEL.id, wanted, Integer):
            for row in self.conn.execute(select(*columns).where(where)):
                model_id, slug, name, facts_source_id, facts_url, *facts = row
                self.models[model_id] = _Model(
                    model_id,
                    slug,
                    name,
                    dict(zip(MODEL_FIELDS, facts, strict=True)),
                    facts_source_id,
                    facts_url,
                )

    def alias(self, key: str) -> _Ref | None:
        if key not in self.aliases_checked:
            self.fetch_aliases((key,))
        return self.aliases.get(key)

    def repo(self, repo: str) -> _Ref | None:
        key = repo.lower()
        if key not in self.repos_checked:
            self.fetch_repos((repo,))
        return self.by_repo.get(key)

    # Models -------------------------------------------------------------------------------

    def model_ref(self, name: str, hf_repo: str | None = None) -> _Ref | None:
        """The stored (or new) model a name or Hugging Face repo id means, if any."""
        ref = None
        if hf_repo:
            ref = self.repo(hf_repo) or self.alias(self.norm(hf_repo))
        if ref is None:
            ref = self.alias(self.norm(name))
            if ref is None and "/" in name:
                ref = self.alias(self.norm(name.rsplit("/", 1)[1]))
        return ref

    def find_model(self, name: str, hf_repo: str | None = None) -> _Model | None:
        """The model a source's name (or Hugging Face repo id) means, if any."""
        ref = self.model_ref(name, hf_repo)
        if ref is None or isinstance(ref, _Model):
            return ref
        if ref not in self.models:  # named by an alias this batch added: not preloaded
            self.load_models((ref,))
        return self.models.get(ref)

    def new_slug(self, name: str) -> str:
        base = _slug_base(name)
        if base not in self.slugs_checked:
            self.fetch_slugs((base,))
        if base in self.slugs and base not in self.slug_families:
            # Taken: read its numbered variants (rare, so one query per such name). A long base
            # is cut to make room for the number, so the variants are found by that prefix.
            prefix = base[: SLUG_MAX - 8]
            pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = select(_MODEL.slug).where(_MODEL.slug.like(pattern, escape="\\"))
            self.slugs.update(self.conn.scalars(query))
            self.slug_families.add(base)
        slug, n = base, 2
        while slug in self.slugs:
            slug, n = _numbered(base, n), n + 1
        self.slugs.add(slug)
        return slug

    def add_alias(self, name: str, model: _Model) -> None:
        alias = self.norm(name)[:256]
        if alias and self.alias(alias) is None:
            self.aliases[alias] = model
            self.new_aliases.append((alias, model))

    def upsert_model(self, record: ModelRecord) -> _Model:
        """Match the record to a stored model (or create one) and fill in its facts."""
        model = self.find_model(record.name, record.hf_repo or record.source_model_id)
        values = {name: getattr(record, name) for name in MODEL_FIELDS}
        if model is None:
            model = self.create_model(record, values)
        elif self.update_model(model, values, record.url):
            self.updated.add(model)
        for name in (record.name, record.hf_repo, record.source_model_id):
            if name:
                self.add_alias(name, model)
        if record.hf_repo and self.repo(record.hf_repo) is None:
            self.by_repo[record.hf_repo.lower()] = model
        return model

    def create_model(self, record: ModelRecord, values: dict[str, Any]) -> _Model:
        """A new model, inserted with the others by ``save_models``."""
        model = _Model(
            None,
            self.new_slug(record.hf_repo or record.name),
            record.name[:200],
            dict(values),
            self.source.id,
            record.url,
        )
        self.new_models.append(model)
        self.claimed.update((model, name) for name, v in values.items() if v is not None)
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

    def update_model(self, model: _Model, values: dict[str, Any], url: str | None) -> bool:
        """Fill unknown facts; overwrite known ones only if this source is trusted more."""
        owner_rank = self.trust_of(model.facts_source_id)
        owns = model.facts_source_id == self.source.id or self.source.trust_rank < owner_rank
        changed = wrote_params = False
        for name, value in values.items():
            if value is None or (model, name) in self.claimed:
                continue
            self.claimed.add((model, name))
            current = model.facts[name]
            if current is None or (owns and current != value):
                model.facts[name] = model.changes[name] = value
                changed = True
                wrote_params = wrote_params or name == "total_params_b"
        if changed:
            # The facts citation is what /fits and /model cite for the parameter count, so
            # it moves only with the parameter count (not with a licence or a date).
            if wrote_params and model.facts_source_id != self.source.id:
                model.facts_source_id = model.changes["facts_source_id"] = self.source.id
                model.facts_url = model.changes["facts_url"] = url or model.facts_url
            model.changes["updated_at"] = self.now
        return changed

    def trust_of(self, source_id: int | None) -> int:
        return self.ranks.get(source_id, 1_000) if source_id is not None else 1_000

    def save_models(self) -> None:
        """Insert the new models and their aliases, and write the changed facts of stored
        models: one bulk insert per table (:func:`insert_rows`), one ``executemany`` per set
        of changed columns for updates."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for model in self.models.values():  # stored models (new ones have no id yet)
            if model.changes:
                columns = tuple(sorted(model.changes))
                groups.setdefault(columns, []).append(
                    {"_id": model.id, **{f"_{k}": v for k, v in model.changes.items()}}
                )
        if self.new_models:
            rows = [
                {
                    **model.facts,
                    "slug": model.slug,
                    "name": model.name,
                    "facts_source_id": model.facts_source_id,
                    "facts_url": model.facts_url,
                    "training_cost_approximate": False,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                for model in self.new_models
            ]
            insert_rows(self.conn, t.Model.__table__, rows)  # type: ignore[attr-defined]
            ids: dict[str, int] = {}
            for where in self.among(_MODEL.slug, [model.slug for model in self.new_models]):
                ids.update(self.conn.execute(select(_MODEL.slug, _MODEL.id).where(where)).all())
            for model in self.new_models:
                model.id = ids[model.slug]
                self.models[model.id] = model
        reopened: list[int] = []
        for columns, params in groups.items():
            statement = (
                update(t.Model.__table__)  # type: ignore[attr-defined]
                .where(_MODEL.id == bindparam("_id"))
                .values({name: bindparam(f"_{name}") for name in columns})
            )
            self.conn.execute(statement, params)
            if "open_weights" in columns:
                reopened += [p["_id"] for p in params]
        if reopened:
            # A model that changed sides moves its headline scores to the other frontier.
            headlines.mark_dirty(self.session, reopened)
        if self.new_aliases:
            rows = [{"alias": alias, "model_id": model.id} for alias, model in self.new_aliases]
            insert_rows(self.conn, t.ModelAlias.__table__, rows)  # type: ignore[attr-defined]

    # Scores -------------------------------------------------------------------------------

    def benchmark(self, record: ScoreRecord) -> t.Benchmark:
        """The benchmark a source's name means (key, name or alias), created if new.

        Raises:
            ValueError: The record's unit contradicts the benchmark's (percent vs other).
        """
        key = self.norm(record.benchmark)
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
            record = _validated(raw, nul=self.nul)
            bench = self.benchmark(record)
        except ValueError as exc:
            self.reject(f"score: {_reason(exc)}", raw)
            return None
        model = self.find_model(record.model_name, record.raw_model_id)
        if model is None:
            model = self.upsert_model(
                ModelRecord(name=record.model_name, source_model_id=record.raw_model_id)
            )
        assert bench.id is not None  # flushed when created
        return _Planned(record, model, bench, (record.setting or "")[:64], bench.id)

    def plan_scores(self, scores: list[ScoreRecord]) -> list[_Planned]:
        """One claim per stored key: rows that name one model twice keep the best claim.

        A source may list one model under several names or runs (Epoch's ``_32K`` variants,
        a provider's mirror); the store keeps one score per model, benchmark, source and
        setting, so the others count as ``scores_merged`` instead of overwriting each other.
        """
        planned: dict[tuple[_Model, int | None, str], _Planned] = {}
        for raw in scores:
            plan = self.resolve(raw)
            if plan is None:
                continue
            key = (plan.model, plan.bench_id, plan.setting)  # new models have no id yet
            current = planned.get(key)
            if current is not None:
                self.result.counts["scores_merged"] += 1
                if not plan.beats(current):
                    continue
            planned[key] = plan
        return list(planned.values())

    def existing_scores(self) -> dict[ScoreKey, tuple[Any, ...]]:
        """This source's stored scores by key, as plain rows (one query, not one per record):
        id, value, available on, approximate, url."""
        query = select(
            _SCORE.model_id,
            _SCORE.benchmark_id,
            _SCORE.setting,
            _SCORE.id,
            _SCORE.value,
            _SCORE.available_on,
            _SCORE.approximate,
            _SCORE.url,
        ).where(_SCORE.source_id == self.source.id)
        return {(m, b, s): tuple(rest) for m, b, s, *rest in self.conn.execute(query)}

    def available_on(self, plan: _Planned, row: tuple[Any, ...] | None, fetched_on: date) -> date:
        """When the score became public: the source's date, else what the store already
        says, else the model's release, else the day it was first seen."""
        released = plan.model.released_on
        available = plan.record.available_on or (row[2] if row else None)
        available = available or released or fetched_on
        # No score is public before its model (LLM-Stats' date_recorded sometimes is).
        return max(available, released) if released else available

    def diff(self, planned: list[_Planned], fetched_on: date) -> list[_Change]:
        """The planned scores that differ from the store, with their dates."""
        existing = self.existing_scores() if planned else {}
        changes: list[_Change] = []
        for plan in planned:
            row = existing.get(plan.key)
            available = self.available_on(plan, row, fetched_on)
            if row is not None and _same(row, plan.record, available):
                self.result.counts["scores_unchanged"] += 1
                continue
            changes.append((plan, row, available))
        return changes

    def write(self, plan: _Planned, row: tuple[Any, ...] | None, available: date) -> None:
        """Queue one new or changed score (``save_scores`` writes them) and its event."""
        record, model = plan.record, plan.model
        if row is None:
            self.new_scores.append(
                {
                    "model_id": model.id,
                    "benchmark_id": plan.bench_id,
                    "source_id": self.source_id,
                    "setting": plan.setting,
                    "value": record.value,
                    "available_on": available,
                    "date_precision": "day",
                    "approximate": record.approximate,
                    "url": record.url,
                    "retrieved_at": self.now,
                }
            )
            self.result.counts["scores_new"] += 1
            kind, old = "new_score", None
        else:
            score_id, old, _on, _approximate, url = row
            self.changed_scores.append(
                {
                    "_id": score_id,
                    "_model_id": model.id,
                    "_value": record.value,
                    "_available_on": available,
                    "_approximate": record.approximate,
                    "_url": record.url or url,
                    "_retrieved_at": self.now,
                }
            )
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

    def save_scores(self) -> None:
        """Write the queued scores: one bulk insert for the new, one ``executemany`` for the
        changed."""
        if self.new_scores:
            insert_rows(self.conn, t.Score.__table__, self.new_scores)  # type: ignore[attr-defined]
        if self.changed_scores:
            statement = (
                update(t.Score.__table__)  # type: ignore[attr-defined]
                .where(_SCORE.id == bindparam("_id"))
                .values(
                    value=bindparam("_value"),
                    available_on=bindparam("_available_on"),
                    approximate=bindparam("_approximate"),
                    url=bindparam("_url"),
                    retrieved_at=bindparam("_retrieved_at"),
                )
            )
            self.conn.execute(statement, self.changed_scores)
        written = {row["model_id"] for row in self.new_scores}
        written.update(row["_model_id"] for row in self.changed_scores)
        # The models this batch inserted had no scores before save_scores, so no headline
        # rows: their recomputation need not look for rows to replace.
        created = {model.id for model in self.new_models}
        if written & created:
            headlines.mark_dirty(self.session, written & created, new=True)
        if written - created:
            headlines.mark_dirty(self.session, written - created)

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


SLUG_MAX = 128
"""The model slug column's length (``db.tables.Model.slug``)."""


def _numbered(base: str, n: int) -> str:
    """``base-n``, with ``base`` cut so that the whole stays within :data:`SLUG_MAX`."""
    suffix = f"-{n}"
    return base[: SLUG_MAX - len(suffix)] + suffix


def _slug_base(name: str) -> str:
    """The slug a new model named ``name`` (or its repo id) gets unless it is taken."""
    return slugify(name.rsplit("/", 1)[-1] if "/" in name else name)


def _could_lead(plan: _Planned, before: dict[int, dict[bool, f.Score]]) -> bool:
    """Whether a written score could be its side's new best: it beats the best before.

    The best before was read after this batch's model changes, and a score's rank among its
    model's scores only rises when it is written (newest retrieval), so a side's best can
    only improve through a written score that beats it.
    """
    side = plan.model.open_weights
    if side is None:
        return False  # openness unknown: on neither frontier
    best = before.get(plan.bench_id, {}).get(bool(side))
    return best is None or _better(plan.record.value, best.value, plan.bench.higher_is_better)


def _better(value: float, than: float, higher_is_better: bool) -> bool:
    return value > than if higher_is_better else value < than


def _same(row: tuple[Any, ...], record: ScoreRecord, available: date) -> bool:
    _id, value, available_on, approximate, url = row
    return (
        value == record.value
        and available_on == available
        and approximate == record.approximate
        and (record.url is None or url == record.url)
    )
