"""Schema, migrations and the bundled dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, func, select

from db import migrate
from db import tables as t
from db.dataset import SEED_DIR, load_bundled_dataset, read_rows, stored_version
from db.engine import DatabaseURLError, make_engine, parse_database_url, session_scope
from db.store import StoreUnavailableError, open_store

TABLES = {
    "model",
    "benchmark",
    "source",
    "score",
    "prediction",
    "attestation",
    "guild_settings",
    "subscription",
    "alert",
    "delivery",
}


def test_migrations_create_every_table_and_match_the_models(blank_db_url: str) -> None:
    engine = make_engine(blank_db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        migrate.upgrade(engine)  # idempotent
        assert migrate.current_revision(engine) == migrate.head_revision(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as connection:
            # (SQLite cannot reflect ix_model_hf_repo_lower: the test below checks it.)
            # headline's score key is SQLite's only (PostgreSQL: the trigger below); Alembic
            # compares with what the tables declare for this database (as env.py does).
            postgres = connection.dialect.name == "postgresql"
            declared_here = migrate.include_object(connection.dialect.name)
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": declared_here}
            )
            assert compare_metadata(context, SQLModel.metadata) == []
            keys = inspect(connection).get_foreign_keys("headline")
            triggers = connection.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'score'::regclass "
                "AND tgname = 'headline_score_kept'"
                if postgres
                else "SELECT 1"
            ).all()
            assert [key["referred_table"] for key in keys] == ([] if postgres else ["score"])
            assert len(triggers) == 1
    finally:
        engine.dispose()


def _plan(conn: Connection, query: str) -> str:
    if conn.dialect.name == "sqlite":
        return " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
    return " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {query}"))


def _records_of_a_side() -> Any:
    from sqlalchemy import select as core_select

    from db import headlines

    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    return core_select(h.score_id, h.available_on, h.value).where(
        h.benchmark_id == 1, h.open_weights.is_(True), headlines._RECORD
    )


def _candidates() -> Any:
    from db import queries

    return queries._candidates_statement(False, False).params(benchmark_id=1)


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        # Ingest looks models up by lower(hf_repo) (jobs.ingest.fetch_repos).
        (
            lambda: text("SELECT id FROM model WHERE lower(hf_repo) IN ('org/a', 'org/b')"),
            "ix_model_hf_repo_lower",
        ),
        # Marking records reads one side's records (db.headlines); the gap, a benchmark's
        # (the statement the answers run): the partial index must be provably usable from
        # the words SQLAlchemy writes for them on each database.
        (_records_of_a_side, "ix_headline_records"),
        (_candidates, "ix_headline_records"),
    ],
)
def test_lookups_go_through_their_indexes(db_url: str, statement: Any, index: str) -> None:
    """On the bundled dataset, analysed (PostgreSQL kept off sequential scans of its small
    tables)."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET enable_seqscan = off")
            sql = str(
                statement().compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            )
            plan = _plan(conn, sql)
        assert index in plan, plan
    finally:
        engine.dispose()


def test_score_model_id_has_no_second_index(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    try:
        indexes = {i["name"] for i in inspect(engine).get_indexes("score")}
        assert "ix_score_model_id" not in indexes  # uq_score_key leads with model_id
    finally:
        engine.dispose()


def test_score_key_and_gap_index_exist(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    try:
        inspector = inspect(engine)
        uniques = {u["name"]: u["column_names"] for u in inspector.get_unique_constraints("score")}
        assert uniques["uq_score_key"] == ["model_id", "benchmark_id", "source_id", "setting"]
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("score")}
        assert indexes["ix_score_benchmark_available"] == ["benchmark_id", "available_on", "value"]
        delivery = {i["name"]: i["column_names"] for i in inspector.get_indexes("delivery")}
        assert delivery["ix_delivery_due"] == ["state", "next_attempt_at"]
    finally:
        engine.dispose()


def test_duplicate_score_is_refused(engine) -> None:
    with session_scope(engine) as session:
        existing = session.exec(select(t.Score)).first()
        assert existing is not None
        duplicate = t.Score(
            model_id=existing.model_id,
            benchmark_id=existing.benchmark_id,
            source_id=existing.source_id,
            setting=existing.setting,
            value=1.0,
            available_on=date(2024, 1, 1),
        )
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(duplicate)


def test_timestamps_come_back_timezone_aware(engine) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with session_scope(engine) as session:
        session.add(t.GuildSettings(guild_id=2**62, muted_until=moment))
    with session_scope(engine) as session:
        row = session.get(t.GuildSettings, 2**62)
        assert row is not None
        assert row.muted_until == moment
        assert row.muted_until.tzinfo is not None
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        session.add(t.GuildSettings(guild_id=5, muted_until=datetime(2026, 1, 1)))


def _row_counts(engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {
            table.__tablename__: session.exec(select(func.count()).select_from(table)).one()
            for table in (t.Source, t.Benchmark, t.Model, t.ModelAlias, t.Score, t.Prediction)
        }


def test_first_load_holds_every_dataset_row(migrated_db_url: str) -> None:
    engine = make_engine(migrated_db_url)
    try:
        with session_scope(engine) as session:
            summary = load_bundled_dataset(session)
        counts = _row_counts(engine)
        assert counts["score"] == len(list(read_rows("scores.csv"))) == summary.created["score"]
        assert counts["model"] == len(list(read_rows("models.csv")))
        assert counts["prediction"] == 4
        with session_scope(engine) as session:
            codes = {p.code for p in session.exec(select(t.Prediction))}
            assert codes == {"OB-001", "OB-002", "OB-003", "AV-003"}
            ob1 = session.exec(select(t.Prediction).where(t.Prediction.code == "OB-001")).one()
            assert ob1.verification_date == date(2026, 12, 31)
            keys = {b.key for b in session.exec(select(t.Benchmark))}
            assert {"mmlu", "humaneval", "gsm8k"} <= keys
    finally:
        engine.dispose()


def test_second_load_changes_nothing(engine) -> None:
    before = _row_counts(engine)
    with session_scope(engine) as session:
        assert load_bundled_dataset(session).skipped
    with session_scope(engine) as session:
        forced = load_bundled_dataset(session, force=True)
    assert forced.changes == 0, str(forced)
    assert _row_counts(engine) == before


def _edited_seed(tmp_path: Path, version: str) -> Path:
    folder = tmp_path / "seed"
    shutil.copytree(SEED_DIR, folder)
    (folder / "VERSION").write_text(version + "\n")
    return folder


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        rows = [row for row in (edit(r) for r in reader) if row is not None]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def test_newer_version_updates_what_changed_and_leaves_other_sources_alone(
    engine, tmp_path: Path
) -> None:
    # A score from a polled source on a dataset model: the dataset must not touch it.
    with session_scope(engine) as session:
        polled = t.Source(key="epoch", name="Epoch AI", kind="poll", trust_rank=20)
        session.add(polled)
        session.flush()
        gpt4 = session.exec(select(t.Model).where(t.Model.slug == "gpt-4")).one()
        mmlu = session.exec(select(t.Benchmark).where(t.Benchmark.key == "mmlu")).one()
        session.add(
            t.Score(
                model_id=gpt4.id,
                benchmark_id=mmlu.id,
                source_id=polled.id,
                value=86.4,
                available_on=date(2023, 3, 14),
            )
        )
    scores = list(read_rows("scores.csv"))
    changed, dropped = scores[0], scores[1]

    def edit(row: dict[str, str]) -> dict[str, str] | None:
        if row == dropped:
            return None
        if row == changed:
            return {**row, "value": str(float(row["value"]) - 1.0)}
        return row

    folder = _edited_seed(tmp_path, "9999.1")
    _rewrite(folder / "scores.csv", edit)
    before = _row_counts(engine)
    with session_scope(engine) as session:
        summary = load_bundled_dataset(session, seed_dir=folder)
    assert summary.updated["score"] == 1
    assert summary.deleted["score"] == 1
    assert summary.created["score"] == 0
    after = _row_counts(engine)
    assert after["score"] == before["score"] - 1
    with session_scope(engine) as session:
        assert stored_version(session) == "9999.1"
        kept = session.exec(select(t.Score).where(t.Score.source_id == polled.id)).one()
        assert kept.value == 86.4
        again = load_bundled_dataset(session, seed_dir=folder)
        assert again.skipped


def test_bad_database_urls_say_what_is_wrong() -> None:
    with pytest.raises(DatabaseURLError, match="supports SQLite and PostgreSQL"):
        parse_database_url("mysql://root@localhost/x")
    with pytest.raises(DatabaseURLError, match="is not a database URL"):
        parse_database_url("not a url")
    assert parse_database_url("postgresql://u@h/d").drivername == "postgresql+psycopg"


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailableError, match="cannot open the database"):
        open_store("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")


def test_sqlite_default_folder_is_created_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "gapwatch.db"
    engine = open_store(f"sqlite:///{path}")
    try:
        assert path.exists()
        with engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert mode == "wal"
        assert timeout == 5000
    finally:
        engine.dispose()


def test_a_new_data_folder_is_private(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'private' / 'gapwatch.db'}")
    engine.dispose()
    mode = (tmp_path / "private").stat().st_mode
    assert mode & 0o077 == 0, oct(mode)


def test_concurrent_writers_on_sqlite_wait_instead_of_failing(tmp_path: Path) -> None:
    """Two threads writing at once (a poll and a command's settings change) both commit: the
    busy timeout makes the second wait for the first; nobody sees "database is locked"."""
    import threading

    engine = open_store(f"sqlite:///{tmp_path / 'gapwatch.db'}")
    errors: list[BaseException] = []

    def write(guild_base: int) -> None:
        try:
            for n in range(60):
                with session_scope(engine) as session:
                    # read, then write, in one unit of work: the pattern ingest and commands use
                    session.exec(select(func.count()).select_from(t.GuildSettings)).one()
                    session.add(t.GuildSettings(guild_id=guild_base + n))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(base,)) for base in (1_000, 2_000)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        with session_scope(engine) as session:
            assert session.exec(select(func.count()).select_from(t.GuildSettings)).one() == 120
    finally:
        engine.dispose()
