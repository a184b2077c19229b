"""Ingest: records per second of a full poll, beside a bare bulk insert of the same rows.

A synthetic source (``bench-ingest``) brings new models and their scores on the store's
benchmarks. ``ingest_batch`` writes them (matching names, validating, upserting with
provenance, computing change events and the frontiers before and after); the bare insert
writes the same model, alias and score rows with one bulk insert each (``executemany`` on
SQLite, ``COPY`` on PostgreSQL, as ingest) and nothing else.
Then the same batch is ingested again: an unchanged re-poll (content that changed hash but
not data), which should write nothing. It is recognised by the digest of its records
(``repoll_s``); it is then ingested once more with the digest cleared, so every record is read
and compared with the store (``repoll_compared_s``: what a re-poll costs when one record in
the batch changed). Everything runs in one transaction that is rolled back, so the cached
store stays as generated.

A poll's time includes bringing the headline table up to date (``db.headlines.sync``): its
commit does that, or the ingest's own frontier read if it had to read a benchmark after
writing. The transaction here is rolled back, so the sync is called explicitly; it is part
of ``full_s``, and ``headline_sync_s`` is what was left of it after ``ingest_batch``.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

INGEST_RATE_TARGET = 20_000.0
INGEST_SHARE_TARGET = 0.25
REPOLL_SHARE_TARGET = 0.05
SOURCE = "bench-ingest"


def synthetic_batch(models: int, scores_per_model: int, seed: int = 7) -> Any:
    """A SourceBatch of ``models`` new open models with ``scores_per_model`` scores each."""
    from jobs.sources.base import ModelRecord, ScoreRecord, SourceBatch

    rng = random.Random(seed)
    benches = ["mmlu", "humaneval", "gsm8k", "gpqa-diamond", "mmlu-pro", "ifeval", "bbh", "drop"]
    benches += ["math-500", "musr", "hellaswag", "arc-challenge", "mgsm", "livecodebench"]
    model_records, score_records = [], []
    for i in range(models):
        name = f"Ingest {i % 97}.{i % 7} {rng.choice((1.5, 7, 8, 14, 32, 70))}B Run {i:06d}"
        released = date(2024, 1, 1) + timedelta(days=rng.randrange(1000))
        model_records.append(
            ModelRecord(
                name=name,
                hf_repo=f"bench-org/ingest-run-{i:06d}",
                open_weights=True,
                released_on=released,
                total_params_b=rng.choice((1.5, 7.0, 8.0, 14.0, 32.0, 70.0)),
                layers=32,
                kv_heads=8,
                head_dim=128,
            )
        )
        for bench in rng.sample(benches, scores_per_model):
            score_records.append(
                ScoreRecord(
                    model_name=name,
                    raw_model_id=f"bench-org/ingest-run-{i:06d}",
                    benchmark=bench,
                    value=round(rng.uniform(20, 90), 1),
                    available_on=released + timedelta(days=rng.randrange(30)),
                    url=f"https://example.org/ingest/{i}",
                )
            )
    return SourceBatch(
        source=SOURCE,
        fetched_at=datetime(2026, 12, 1, tzinfo=UTC),
        url="https://example.org/ingest",
        models=model_records,
        scores=score_records,
        content_hash="a" * 64,
    )


def measure_ingest(engine: Engine, *, models: int, scores_per_model: int) -> dict[str, Any]:
    """Full poll, unchanged re-poll and bare insert of one synthetic batch (rolled back)."""
    from sqlmodel import Session, select

    from db import headlines
    from db import tables as t
    from db.engine import session_scope  # noqa: F401 - the unit of work the poll job uses
    from jobs.ingest import ingest_batch

    batch = synthetic_batch(models, scores_per_model)
    records = len(batch.models) + len(batch.scores)
    with Session(engine, expire_on_commit=False) as session:
        start = time.perf_counter()
        first = ingest_batch(session, batch)
        session.flush()
        synced = time.perf_counter()
        headlines.sync(session)  # what the poll's commit does first
        _check_deferred(session.connection())  # and what it does then
        full_s = time.perf_counter() - start
        sync_s = time.perf_counter() - synced
        again = replace(batch, content_hash="b" * 64)
        start = time.perf_counter()
        second = ingest_batch(session, again)
        session.flush()
        headlines.sync(session)
        _check_deferred(session.connection())
        repoll_s = time.perf_counter() - start
        # The same re-poll without the records digest: every record read and compared.
        source = session.exec(select(t.Source).where(t.Source.key == batch.source)).one()
        source.records_hash = None
        session.flush()
        start = time.perf_counter()
        compared = ingest_batch(session, replace(batch, content_hash="c" * 64))
        session.flush()
        headlines.sync(session)
        _check_deferred(session.connection())
        compare_s = time.perf_counter() - start
        start = time.perf_counter()
        ingest_batch(session, replace(batch, not_modified=True))
        session.flush()
        not_modified_s = time.perf_counter() - start
        session.rollback()
    bare_s = bare_insert(engine, batch)
    floor_s = bare_insert(engine, batch, with_headlines=True)
    rate = records / full_s
    bare_rate = records / bare_s
    return {
        "records": records,
        "full_s": full_s,
        "headline_sync_s": sync_s,
        "records_per_s": rate,
        "bare_s": bare_s,
        "bare_records_per_s": bare_rate,
        "share_of_bare": rate / bare_rate,
        "bare_with_headlines_records_per_s": records / floor_s,
        "repoll_s": repoll_s,
        "repoll_share": repoll_s / full_s,
        "repoll_compared_s": compare_s,
        "repoll_compared_share": compare_s / full_s,
        "not_modified_ms": not_modified_s * 1000,
        "first": first.summary(),
        "again": second.summary(),
        "compared": compared.summary(),
        "meets": rate >= INGEST_RATE_TARGET
        and rate / bare_rate >= INGEST_SHARE_TARGET
        and repoll_s / full_s <= REPOLL_SHARE_TARGET,
    }


def _check_deferred(conn: Any) -> None:
    """Run the checks a commit would run last: PostgreSQL's deferred constraints (since
    migration 0010 only the trigger on score deletes, which a poll's inserts do not queue),
    which a rolled-back transaction never checks. (SQLite counts deferred
    violations as rows are written; its commit only reads the count.)"""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
        conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")  # back to as declared


def bare_insert(engine: Engine, batch: Any, *, with_headlines: bool = False) -> float:
    """Seconds to insert the batch's rows in bulk, with no logic (rolled back): the database's
    own bulk insert, as ingest uses it (``executemany`` on SQLite, ``COPY`` on PostgreSQL).

    ``with_headlines``: and then the headline rows of the new scores (``db.headlines``), with
    one bare ``INSERT ... SELECT``: the least a poll that keeps the headline table writes."""
    from frontier.names import normalize_name, slugify

    now = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            start = time.perf_counter()
            source_id = conn.execute(
                text(
                    "INSERT INTO source (key, name, kind, trust_rank, enabled, "
                    "consecutive_failures) VALUES ('bench-bare', 'bare', 'poll', 40, :t, 0) "
                    "RETURNING id"
                ),
                {"t": True},
            ).scalar_one()
            first_id = conn.execute(text("SELECT MAX(id) FROM model")).scalar_one() + 1
            ids = {m.name: first_id + i for i, m in enumerate(batch.models)}
            models = [
                {
                    "id": ids[m.name],
                    "slug": "bare-" + slugify(m.hf_repo or m.name),
                    "name": m.name,
                    "open_weights": m.open_weights,
                    "released_on": m.released_on,
                    "total_params_b": m.total_params_b,
                    "layers": m.layers,
                    "kv_heads": m.kv_heads,
                    "head_dim": m.head_dim,
                    "hf_repo": m.hf_repo,
                    "training_cost_approximate": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for m in batch.models
            ]
            _bulk(conn, "model", models)
            aliases = [
                {"alias": "bare" + normalize_name(m.name), "model_id": ids[m.name]}
                for m in batch.models
            ]
            _bulk(conn, "model_alias", aliases)
            benches = dict(conn.execute(text("SELECT key, id FROM benchmark")).all())
            scores = [
                {
                    "model_id": ids[s.model_name],
                    "benchmark_id": benches[s.benchmark],
                    "source_id": source_id,
                    "value": s.value,
                    "setting": "",
                    "available_on": s.available_on,
                    "date_precision": "day",
                    "approximate": False,
                    "url": s.url,
                    "retrieved_at": now,
                }
                for s in batch.scores
            ]
            _bulk(conn, "score", scores)
            _check_deferred(conn)
            bare_s = time.perf_counter() - start
            if not with_headlines:
                return bare_s
            # Their headline rows, as one INSERT ... SELECT (each model has one score per
            # benchmark here, so every new score is its model's headline: no ranking).
            start = time.perf_counter()
            conn.execute(
                text(
                    "INSERT INTO headline (benchmark_id, model_id, score_id, value, "
                    "available_on, open_weights, record) SELECT s.benchmark_id, s.model_id, "
                    "s.id, s.value, s.available_on, m.open_weights, :f FROM score s "
                    "JOIN model m ON m.id = s.model_id WHERE s.source_id = :s"
                ),
                {"f": False, "s": source_id},
            )
            _check_deferred(conn)
            return bare_s + (time.perf_counter() - start)
        finally:
            transaction.rollback()


def _bulk(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """One bulk INSERT of ``rows`` (all with the same keys, which are column names)."""
    from db.engine import COPY_ROWS

    columns = list(rows[0])
    statement = text(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + name for name in columns)})"
    )
    options = {COPY_ROWS: (table, columns, columns)} if conn.dialect.name == "postgresql" else {}
    conn.execute(statement, rows, execution_options=options)


def main() -> int:
    """``python -m bench.ingest [--db sqlite|postgres] [--quick]``."""
    import argparse

    from bench import synthetic
    from db.engine import make_engine

    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    size = synthetic.QUICK if args.quick else synthetic.FULL
    engine = make_engine(synthetic.ensure_store(args.db, size))
    models = 2_000 if args.quick else 10_000
    print(measure_ingest(engine, models=models, scores_per_model=5))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
