"""The stored headline choice (``db.headlines``) agrees with choosing at read time, on both
databases, through every kind of write: the seed load, ORM changes, Core writes, migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import Engine, insert, update
from sqlmodel import Session, select

from db import headlines, migrate, queries
from db import tables as t
from db.engine import make_engine, session_scope


def _both_ways(session: Session, bench: t.Benchmark, as_of: date | None = None) -> tuple:
    """(stored choice, read-time choice) as sorted (slug, value, source) triples."""
    stored = queries.headline_scores(session, bench, as_of=as_of)
    ranked = queries._headline_ranked(bench, as_of=as_of, sources=None)
    fresh = queries._scores_of(session, bench, select(ranked.c.id)).values()

    def key(scores):  # type: ignore[no-untyped-def]
        return sorted((s.model_slug, s.value, s.citation.source) for s in scores)

    return key(stored), key(fresh)


def _bench(session: Session, key: str = "mmlu") -> t.Benchmark:
    return queries.find_benchmark(session, key)


def _model(session: Session, slug: str) -> t.Model:
    return queries.find_model(session, slug)


def _source(session: Session, key: str, trust: int) -> t.Source:
    source = t.Source(key=key, name=key, trust_rank=trust)
    session.add(source)
    session.flush()
    return source


def _add_trusted_score(
    session: Session, bench: t.Benchmark, source_key: str, value: float, on: date
) -> None:
    """A Llama 3.1 405B score from a new source more trusted than any other."""
    model = _model(session, "llama-3.1-405b")
    source = _source(session, source_key, trust=1)
    session.add(
        t.Score(
            model_id=model.id,
            benchmark_id=bench.id,
            source_id=source.id,
            value=value,
            available_on=on,
        )
    )


def _core_score(model_id: int, bench_id: int, source_id: int, value: float, on: date) -> dict:
    """A score row for a Core ``insert(t.Score)`` (canonical setting, retrieved 2026-01-01)."""
    return {
        "model_id": model_id,
        "benchmark_id": bench_id,
        "source_id": source_id,
        "value": value,
        "available_on": on,
        "retrieved_at": datetime(2026, 1, 1, tzinfo=UTC),
        "setting": "",
    }


def test_seeded_store_headlines_match_the_read_time_choice(engine: Engine) -> None:
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0
    with session_scope(engine) as session:
        rows = session.exec(select(t.Headline)).all()
        assert rows, "the seed load filled the headline table"
        for bench in queries.all_benchmarks(session):
            stored, fresh = _both_ways(session, bench)
            assert stored == fresh, bench.key


def test_orm_writes_move_the_headline_in_the_same_transaction(engine: Engine) -> None:
    with session_scope(engine) as session:
        bench = _bench(session)
        _add_trusted_score(session, bench, "test-trusted", 12.5, date(2024, 8, 1))
        # No commit yet: the query itself brings the table up to date before it reads.
        by_slug = {s.model_slug: s for s in queries.headline_scores(session, bench)}
        assert by_slug["llama-3.1-405b"].value == 12.5
        assert by_slug["llama-3.1-405b"].citation.source == "test-trusted"
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0


def test_openness_trust_and_deletion_changes_are_followed(engine: Engine) -> None:
    with session_scope(engine) as session:
        model = _model(session, "llama-3.1-405b")
        model.open_weights = None
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0
    with session_scope(engine) as session:
        bench = _bench(session)
        slugs = {s.model_slug for s in queries.headline_scores(session, bench)}
        assert "llama-3.1-405b" not in slugs  # unknown openness: on neither side
        # Make the least trusted source the most trusted: every choice may move.
        report = session.exec(select(t.Source).where(t.Source.key == "seed-report")).one()
        report.trust_rank = 0
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0
    with session_scope(engine) as session:
        bench = _bench(session)
        chosen = queries.headline_scores(session, bench)
        assert chosen and {s.citation.source for s in chosen} >= {"seed-report"}
        # Delete one model's headline score: another of its scores (or none) takes its place.
        row = session.exec(select(t.Headline).where(t.Headline.benchmark_id == bench.id)).first()
        assert row is not None
        session.delete(session.get(t.Score, row.score_id))
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0


def _record_holder(session: Session) -> tuple[t.Benchmark, t.Model]:
    """A benchmark and the model of its newest open-weights frontier record (no attestation
    cites it, so it can be deleted)."""
    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    cited = set(session.exec(select(t.Attestation.model_id)).all())
    rows = session.execute(
        select(h.benchmark_id, h.model_id)
        .where(headlines._RECORD, h.open_weights.is_(True))
        .order_by(h.available_on.desc(), h.benchmark_id)
    ).all()
    benchmark_id, model_id = next(row for row in rows if row.model_id not in cited)
    return session.get(t.Benchmark, benchmark_id), session.get(t.Model, model_id)


def test_deleting_a_model_takes_its_headline_rows_and_moves_the_records(engine: Engine) -> None:
    with session_scope(engine) as session:
        bench, model = _record_holder(session)
        slug, bench_id = model.slug, bench.id
        session.delete(model)  # its scores go by ON DELETE CASCADE
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0
    with session_scope(engine) as session:
        h = t.Headline.__table__.c  # type: ignore[attr-defined]
        left = session.execute(select(h.model_id).where(h.model_id == model.id)).all()
        assert left == []
        bench = session.get(t.Benchmark, bench_id)
        assert slug not in {s.model_slug for s in queries.headline_scores(session, bench)}


def test_a_core_delete_that_skips_the_headline_fails_its_commit(engine: Engine) -> None:
    from sqlalchemy import delete
    from sqlalchemy.exc import IntegrityError

    with Session(engine) as session:
        _bench_row, model = _record_holder(session)
        # Invisible to the session events: the headline rows would point at deleted scores.
        session.execute(delete(t.Model).where(t.Model.id == model.id))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        else:
            raise AssertionError("a commit left headline rows whose scores are gone")
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0  # nothing was committed


def test_core_writes_need_mark_dirty_and_the_check_sees_the_difference(engine: Engine) -> None:
    with Session(engine) as session:
        bench = _bench(session)
        model = _model(session, "llama-3.1-405b")
        source = _source(session, "test-core", trust=1)
        session.execute(
            insert(t.Score).values(
                _core_score(model.id, bench.id, source.id, 1.5, date(2024, 8, 1))
            )
        )
        # A Core write is invisible to the session events: the table is stale until marked.
        assert headlines.stale(session.connection()) > 0
        headlines.mark_dirty(session, [model.id])
        by_slug = {s.model_slug: s for s in queries.headline_scores(session, bench)}
        assert by_slug["llama-3.1-405b"].value == 1.5
        assert headlines.stale(session.connection()) == 0
        session.execute(update(t.Model).where(t.Model.id == model.id).values(open_weights=False))
        headlines.mark_dirty(session, [model.id])
        session.commit()  # the commit syncs what was marked
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0


def test_a_date_before_a_score_chooses_among_the_scores_known_then(engine: Engine) -> None:
    with session_scope(engine) as session:
        _add_trusted_score(session, _bench(session), "test-late", 3.0, date(2026, 6, 1))
    with session_scope(engine) as session:
        bench = _bench(session)
        before = date(2026, 1, 1)
        stored, fresh = _both_ways(session, bench, as_of=before)
        assert stored == fresh
        values = {slug: value for slug, value, _ in stored}
        assert values["llama-3.1-405b"] != 3.0  # the later, more trusted score is not known yet
        now = {s.model_slug: s.value for s in queries.headline_scores(session, bench)}
        assert now["llama-3.1-405b"] == 3.0


def test_migrating_an_existing_store_fills_the_table(migrated_db_url: str) -> None:
    from db.dataset import load_bundled_dataset

    engine = make_engine(migrated_db_url)
    try:
        with session_scope(engine) as session:
            load_bundled_dataset(session)
        command.downgrade(migrate.alembic_config(engine), "0003")
        migrate.upgrade(engine)
        with engine.connect() as connection:
            assert headlines.stale(connection) == 0
            count = connection.execute(select(t.Headline.model_id)).all()
        assert count
    finally:
        engine.dispose()


def _triples(scores) -> list:  # type: ignore[no-untyped-def]
    return [(s.model_slug, s.value, s.available_on, s.citation.source) for s in scores]


def test_stored_answers_equal_the_read_time_answers(engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every query with a stored path answers exactly as its read-time path (same rows, same
    order), for every benchmark, both leaderboards and the prediction rules' cut-offs."""

    def answers(session: Session, bench: t.Benchmark) -> dict:
        found = {
            "candidates": sorted(_triples(queries.frontier_candidates(session, bench))),
            "by-2024": sorted(
                _triples(queries.frontier_candidates(session, bench, newest_by=date(2024, 1, 1)))
            ),
            "by-1990": sorted(
                _triples(queries.frontier_candidates(session, bench, newest_by=date(1990, 1, 1)))
            ),
        }
        for open_only in (False, True):
            for limit in (1, 3, 10, 25):
                scores, total = queries.ranked_headline_scores(
                    session, bench, open_only=open_only, limit=limit
                )
                found[f"top{limit}-{open_only}"] = (_triples(scores), total)
        return found

    with session_scope(engine) as session:
        benches = queries.all_benchmarks(session)
        stored = {b.key: answers(session, b) for b in benches}
    monkeypatch.setattr(queries, "_use_stored", lambda *args, **kwargs: False)
    with session_scope(engine) as session:
        fresh = {b.key: answers(session, b) for b in queries.all_benchmarks(session)}
    assert any(v["candidates"] for v in stored.values())
    for key in stored:
        assert stored[key] == fresh[key], key


def test_the_shape_index_holds_the_shape_columns_in_order(migrated_db_url: str) -> None:
    from sqlalchemy import inspect

    engine = make_engine(migrated_db_url)
    try:
        indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("model")}
        assert indexes["ix_model_shape"] == ["open_weights", *queries.SHAPE_COLUMNS]
    finally:
        engine.dispose()


def test_records_stay_true_through_random_writes(engine: Engine) -> None:
    """Random adds, value changes, re-dating, deletions and openness flips, each committed and
    then checked against the read-time window (``stale`` recomputes the records in SQL)."""
    import random

    rng = random.Random(7)
    with session_scope(engine) as session:
        bench = _bench(session)
        sources = [_source(session, f"test-random-{i}", trust=rng.randint(1, 60)) for i in range(3)]
        models = session.exec(select(t.Model).where(t.Model.open_weights.is_not(None))).all()
        bench_id, model_ids = bench.id, [m.id for m in models[:12]]
        source_ids = [s.id for s in sources]
    for step in range(40):
        with session_scope(engine) as session:
            scores = session.exec(
                select(t.Score).where(
                    t.Score.benchmark_id == bench_id,
                    t.Score.source_id.in_(source_ids),  # type: ignore[attr-defined]
                )
            ).all()
            action = rng.choice(["add", "add", "change", "redate", "delete", "flip"])
            if action == "add" or not scores:
                model_id, source_id = rng.choice(model_ids), rng.choice(source_ids)
                exists = any(s.model_id == model_id and s.source_id == source_id for s in scores)
                if not exists:
                    session.add(
                        t.Score(
                            model_id=model_id,
                            benchmark_id=bench_id,
                            source_id=source_id,
                            value=rng.choice([60.0, 70.0, 80.0, 85.0, 90.0, 95.0]),
                            available_on=date(2023, rng.randint(1, 12), 1),
                        )
                    )
            elif action == "change":
                rng.choice(scores).value = rng.choice([50.0, 75.0, 88.0, 99.0])
            elif action == "redate":
                rng.choice(scores).available_on = date(2022, rng.randint(1, 12), 15)
            elif action == "delete":
                session.delete(rng.choice(scores))
            else:
                model = session.get(t.Model, rng.choice(model_ids))
                assert model is not None
                model.open_weights = not model.open_weights
        with engine.connect() as connection:
            assert headlines.stale(connection) == 0, (step, action)


def test_deleting_a_headline_score_without_recomputing_fails_at_commit(engine: Engine) -> None:
    import pytest
    from sqlalchemy import delete
    from sqlalchemy.exc import IntegrityError

    with Session(engine) as session:
        row = session.exec(select(t.Headline)).first()
        assert row is not None
        score_id = row.score_id
    # Nothing marked: the headline row would point at nothing, so the commit is refused and
    # the unit of work rolls back (the score is still there).
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.execute(delete(t.Score).where(t.Score.id == score_id))
    with Session(engine) as session:
        model_id = session.get(t.Score, score_id).model_id  # type: ignore[union-attr]
        session.execute(delete(t.Score).where(t.Score.id == score_id))
        headlines.mark_dirty(session, [model_id])
        session.commit()
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0


def test_new_models_are_recomputed_without_a_delete_and_stay_true(engine: Engine) -> None:
    """Models inserted and scored in this transaction (``mark_dirty(new=True)``, as bulk ingest
    says) have no rows to replace: their recomputation deletes nothing, and the table and the
    records stay true, also when a new model gets more scores before the sync."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()[:3]).upper())

    with Session(engine) as session:
        bench = _bench(session)
        trusted = _source(session, "test-new-trusted", trust=1)
        other = _source(session, "test-new-other", trust=50)
        best = max(s.value for s in queries.headline_scores(session, bench))
        new_ids = []
        for i, open_weights in enumerate((True, False, None)):
            model = t.Model(slug=f"test-new-{i}", name=f"Test New {i}", open_weights=open_weights)
            session.add(model)
            session.flush()
            new_ids.append(model.id)
        headlines.sync(session)
        stored = session.exec(select(t.Model).where(t.Model.slug == "llama-3.1-405b")).one()
        rows = [
            {
                "model_id": model_id,
                "benchmark_id": bench.id,
                "source_id": other.id,
                "value": best + 1 + i,  # new records on both sides
                "available_on": date(2026, 1, 2),
                "retrieved_at": datetime(2026, 1, 2, tzinfo=UTC),
                "setting": "",
            }
            for i, model_id in enumerate(new_ids)
        ]
        session.execute(insert(t.Score), rows)
        headlines.mark_dirty(session, new_ids, new=True)
        # A second write before the sync: a more trusted score of a new model (not "new" any
        # more to this writer) and a score of a stored model.
        session.execute(
            insert(t.Score),
            [
                {**rows[0], "source_id": trusted.id, "value": best - 5},
                {**rows[0], "model_id": stored.id, "value": best + 0.5},
            ],
        )
        headlines.mark_dirty(session, [new_ids[0], stored.id])
        event.listen(session.connection(), "before_cursor_execute", record)
        assert headlines.sync(session) == 4
        event.remove(session.connection(), "before_cursor_execute", record)
        assert seen.count("DELETE FROM HEADLINE") == 1  # the stored model's rows only
        assert headlines.stale(session.connection()) == 0
        assert _both_ways(session, bench)[0] == _both_ways(session, bench)[1]
        by_slug = {s.model_slug: s.value for s in queries.headline_scores(session, bench)}
        assert by_slug["test-new-0"] == best - 5 and by_slug["test-new-1"] == best + 2
        # Only new models marked: no delete at all, and still true.
        model = t.Model(slug="test-new-3", name="Test New 3", open_weights=True)
        session.add(model)
        session.flush()
        session.execute(insert(t.Score), [{**rows[0], "model_id": model.id, "value": best + 9}])
        headlines.mark_dirty(session, [model.id], new=True)
        seen.clear()
        event.listen(session.connection(), "before_cursor_execute", record)
        headlines.sync(session)
        event.remove(session.connection(), "before_cursor_execute", record)
        assert "DELETE FROM HEADLINE" not in seen
        assert headlines.stale(session.connection()) == 0
        top = max(queries.headline_scores(session, bench), key=lambda s: s.value)
        assert (top.model_slug, top.value) == ("test-new-3", best + 9)
        session.rollback()


def _card_headlines(connection, slug: str) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    """What the /model card calls each benchmark's headline: (value, source, setting)."""
    card = queries.model_card(queries.model_card_rows(connection, slug))
    assert card.spec.slug == slug
    first: dict[str, tuple] = {}
    for key, _name, score in card.scores:
        first.setdefault(key, (score.value, score.citation.source, score.setting or ""))
    return first


def _stored_headlines(session: Session, model_id: int) -> dict[str, tuple]:
    h = t.Headline.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        select(t.Benchmark.key, t.Score.value, t.Source.key, t.Score.setting)
        .select_from(t.Headline.__table__)  # type: ignore[attr-defined]
        .join(t.Score, t.Score.id == h.score_id)
        .join(t.Benchmark, t.Benchmark.id == h.benchmark_id)
        .join(t.Source, t.Source.id == t.Score.source_id)
        .where(h.model_id == model_id)
    ).all()
    return {key: (value, source, setting or "") for key, value, source, setting in rows}


def test_the_model_card_names_the_stored_headline(engine: Engine) -> None:
    """/model calls "headline" the score the gap and the leaderboard use: canonical setting
    before trust (a more trusted source's other setting comes after it), then the newest
    retrieval and the lowest id, never the order the database happens to return."""
    with session_scope(engine) as session:
        bench = _bench(session)
        model = _model(session, "llama-3.1-405b")
        canonical = bench.canonical_setting
        assert canonical, "MMLU has a canonical setting"
        stored_before = _stored_headlines(session, model.id)["mmlu"]
        trusted = _source(session, "test-card-trusted", trust=0)
        for setting, value in (("0-shot CoT", 99.5), ("a-other", 98.5)):
            session.add(
                t.Score(
                    model_id=model.id,
                    benchmark_id=bench.id,
                    source_id=trusted.id,
                    value=value,
                    setting=setting,
                    available_on=date(2024, 8, 1),
                )
            )
    with session_scope(engine) as session:
        model = _model(session, "llama-3.1-405b")
        card = _card_headlines(session.connection(), "llama-3.1-405b")
        # The most trusted source's scores are in other settings: the headline stays.
        assert _stored_headlines(session, model.id)["mmlu"] == stored_before
        assert card["mmlu"] == stored_before
        models = session.exec(select(t.Model)).all()
        checked = 0
        for row in models:
            if queries.find_model(session, row.slug).id != row.id:
                continue  # its slug is another model's alias: the card shows that one
            assert _card_headlines(session.connection(), row.slug) == _stored_headlines(
                session, row.id
            ), row.slug
            checked += 1
        assert checked > len(models) // 2


def test_a_new_model_on_a_deleted_models_id_replaces_its_rows(engine: Engine) -> None:
    """SQLite gives a deleted model's id to the next model: marked ``new`` in the same
    transaction, before a sync removed the deleted model's rows, it must still replace them."""
    with Session(engine) as session:
        bench = _bench(session)
        h = t.Headline.__table__.c  # type: ignore[attr-defined]
        cited = set(session.exec(select(t.Attestation.model_id)).all())
        with_rows = set(session.execute(select(h.model_id)).scalars())
        last = max(i for i in with_rows if i not in cited)
        others = session.exec(select(t.Model.id).where(t.Model.id > last)).all()
        for model_id in (*others, last):  # the highest ids go, so SQLite reuses ``last``
            session.delete(session.get(t.Model, model_id))
        session.flush()  # the deleted model's headline rows stay until the sync
        model = t.Model(slug="test-reused", name="Test Reused", open_weights=True)
        session.add(model)
        session.flush()
        source = _source(session, "test-reused-source", trust=5)
        session.execute(
            insert(t.Score).values(
                _core_score(model.id, bench.id, source.id, 42.0, date(2025, 3, 1))
            )
        )
        headlines.mark_dirty(session, [model.id], new=True)
        headlines.sync(session)
        assert headlines.stale(session.connection()) == 0
        session.commit()
    with engine.connect() as connection:
        assert headlines.stale(connection) == 0


def test_score_checks_hold_whatever_the_search_path_and_refuse_a_truncate(
    engine: Engine,
) -> None:
    """Deleting a score that a headline row names fails its commit; one that none names does
    not. On PostgreSQL the triggers that stand for headline's key find ``headline`` whatever
    the deleting session's search path, and a TRUNCATE of score alone is refused."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, IntegrityError

    with session_scope(engine) as session:  # a score that is no model's headline
        _add_trusted_score(session, _bench(session), "test-spare", 1.0, date(2024, 8, 1))
        spare = _source(session, "test-spare-low", trust=999)
        model = _model(session, "llama-3.1-405b")
        session.add(
            t.Score(
                model_id=model.id,
                benchmark_id=_bench(session).id,
                source_id=spare.id,
                value=2.0,
                available_on=date(2024, 8, 1),
            )
        )
    postgres = engine.dialect.name == "postgresql"
    path = "SET LOCAL search_path = pg_catalog" if postgres else "SELECT 1"
    table = "public.score" if postgres else "score"
    with engine.connect() as connection:
        h = t.Headline.__table__.c  # type: ignore[attr-defined]
        named = set(connection.execute(select(h.score_id)).scalars())
        scores = connection.execute(select(t.Score.id)).scalars().all()
        free = next(i for i in scores if i not in named)
        chosen = next(iter(named))
        connection.rollback()  # end the reads' transaction
        with connection.begin():
            connection.exec_driver_sql(path)
            connection.exec_driver_sql(f"DELETE FROM {table} WHERE id = {free}")
        transaction = connection.begin()
        connection.exec_driver_sql(path)
        connection.exec_driver_sql(f"DELETE FROM {table} WHERE id = {chosen}")
        try:
            transaction.commit()
        except IntegrityError as exc:
            assert not postgres or "still names score" in str(exc)
        else:
            raise AssertionError("a headline score was deleted and the commit let it go")
    # The next connection (on SQLite the same one, from the pool) sees nothing of it.
    with engine.connect() as connection:
        if postgres:
            with connection.begin() as transaction:
                try:
                    connection.execute(text("TRUNCATE score CASCADE"))
                except DBAPIError as exc:
                    assert "headline still has rows" in str(exc)
                else:
                    raise AssertionError("TRUNCATE score left the headline rows")
                transaction.rollback()
            with connection.begin() as transaction:
                connection.execute(text("TRUNCATE score, headline CASCADE"))
                transaction.rollback()
        assert chosen in set(connection.execute(select(h.score_id)).scalars())
        assert headlines.stale(connection) == 0
