"""Ingest into a real store (SQLite and PostgreSQL): matching, conflicts, events, atomicity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, event, func, insert
from sqlmodel import select

from db import tables as t
from db.engine import session_scope
from db.queries import find_benchmark, headline_scores
from jobs.ingest import IngestResult, ingest_batch, insert_rows
from jobs.sources.base import ModelRecord, ScoreRecord, SourceBatch
from jobs.sources.bundled import load_bundled

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DML = ("INSERT", "UPDATE", "DELETE")


# Helpers shared with test_polling.py ------------------------------------------------------
def store_counts(engine: Engine) -> dict[str, int]:
    """Rows per table the ingest writes."""
    tables = {
        "model": t.Model,
        "alias": t.ModelAlias,
        "benchmark": t.Benchmark,
        "score": t.Score,
        "source": t.Source,
    }
    with session_scope(engine) as session:
        return {
            name: session.exec(select(func.count()).select_from(table)).one()
            for name, table in tables.items()
        }


def source_scores(engine: Engine, key: str) -> int:
    """How many scores the store holds from one source."""
    with session_scope(engine) as session:
        query = (
            select(func.count())
            .select_from(t.Score)
            .join(t.Source, t.Source.id == t.Score.source_id)  # type: ignore[arg-type]
            .where(t.Source.key == key)
        )
        return session.exec(query).one()


def source_state(engine: Engine, key: str) -> t.Source | None:
    """The source's row, detached."""
    with session_scope(engine) as session:
        return session.exec(select(t.Source).where(t.Source.key == key)).first()


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL statements run on ``engine`` (first word, upper case, and table)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()[:3]).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    """The INSERT/UPDATE/DELETE statements among ``seen``."""
    return [s for s in seen if s.startswith(DML)]


# Local helpers ---------------------------------------------------------------------------
def score(model: str, benchmark: str, value: float, **fields: Any) -> ScoreRecord:
    return ScoreRecord(model_name=model, benchmark=benchmark, value=value, **fields)


def batch(
    source: str,
    scores: list[ScoreRecord] = (),  # type: ignore[assignment]
    models: list[ModelRecord] = (),  # type: ignore[assignment]
) -> SourceBatch:
    return SourceBatch(
        source=source,
        fetched_at=NOW,
        url=f"https://example.test/{source}",
        models=list(models),
        scores=list(scores),
        content_hash=f"hash-{len(scores)}-{len(models)}",
    )


def forget_records(engine: Engine, key: str) -> None:
    """Clear a source's records digest, so its next poll reads every record again."""
    with session_scope(engine) as session:
        row = session.exec(select(t.Source).where(t.Source.key == key)).one()
        row.records_hash = None


def ingest(engine: Engine, source_batch: SourceBatch) -> IngestResult:
    with session_scope(engine) as session:
        return ingest_batch(session, source_batch, at=NOW)


def stored(engine: Engine, model_slug: str, benchmark: str) -> list[tuple[str, float, str]]:
    """(source key, value, setting) of a model's stored scores on a benchmark."""
    with session_scope(engine) as session:
        query = (
            select(t.Source.key, t.Score.value, t.Score.setting)
            .join(t.Score, t.Score.source_id == t.Source.id)  # type: ignore[arg-type]
            .join(t.Model, t.Model.id == t.Score.model_id)  # type: ignore[arg-type]
            .join(t.Benchmark, t.Benchmark.id == t.Score.benchmark_id)  # type: ignore[arg-type]
            .where(t.Model.slug == model_slug, t.Benchmark.key == benchmark)
            .order_by(t.Source.key)
        )
        return [tuple(row) for row in session.exec(query)]  # type: ignore[misc]


def headline(engine: Engine, benchmark: str, model_slug: str) -> float:
    with session_scope(engine) as session:
        bench = find_benchmark(session, benchmark)
        return next(s.value for s in headline_scores(session, bench) if s.model_slug == model_slug)


def open_model(name: str, **fields: Any) -> ModelRecord:
    return ModelRecord(name=name, open_weights=True, organization="Test Lab", **fields)


# Tests -----------------------------------------------------------------------------------
def test_full_epoch_sample_is_counted_honestly_and_reingest_writes_nothing(engine: Engine):
    epoch = next(b for b in load_bundled() if b.source == "epoch")
    before = store_counts(engine)

    first = ingest(engine, epoch)

    after = store_counts(engine)
    c = first.counts
    # Rows of one model under several names (Epoch's ``_32K`` runs, provider mirrors) merge
    # into one stored score, so a fresh store reports no "changed" scores.
    assert c["scores_changed"] == 0 and c["scores_unchanged"] == 0
    assert c["scores_merged"] > 0
    assert c["scores_new"] + c["scores_merged"] == len(epoch.scores)
    assert source_scores(engine, "epoch") == c["scores_new"]
    assert after["score"] - before["score"] == c["scores_new"]
    assert after["model"] - before["model"] == c["models_new"]
    assert sum(e.kind == "new_score" for e in first.events) == c["scores_new"]
    # GPT-4 (Mar 2023) lands on the seeded GPT-4 through its alias gpt-4-0314.
    assert ("epoch", pytest.approx(86.4), "5-shot") in stored(engine, "gpt-4", "mmlu")

    with statements(engine) as seen:
        again = ingest(engine, epoch)
    # The same records as last time: recognised by their digest, nothing read or written.
    assert again.same_records == len(epoch.models) + len(epoch.scores)
    assert again.events == [] and not again.wrote
    assert "same" in again.summary()
    assert writes(seen) == []

    # Without the digest, every record is read and compared with the store, to the same end.
    forget_records(engine, "epoch")
    with statements(engine) as seen:
        again = ingest(engine, epoch)
    assert again.same_records == 0
    assert again.events == []
    assert again.counts["scores_unchanged"] == c["scores_new"]
    assert not again.wrote
    assert store_counts(engine) == after
    # Same data, same poll time, same content hash: only the digest is written back.
    assert [w.split()[0] for w in writes(seen)] == ["UPDATE"]


def test_duplicate_rows_keep_the_best_claim_whatever_the_order(engine: Engine):
    rows = [
        score("Test Model A", "gsm8k", 61.0, raw_model_id="test-model-a_8K"),
        score("Test Model A", "gsm8k", 64.5, raw_model_id="test-model-a_32K"),
        score("Test Model A", "gsm8k", 58.0, raw_model_id="test-model-a"),
    ]
    first = ingest(engine, batch("epoch", rows, [open_model("Test Model A")]))
    assert first.counts["scores_new"] == 1 and first.counts["scores_merged"] == 2
    assert stored(engine, "test-model-a", "gsm8k") == [("epoch", 64.5, "")]

    again = ingest(engine, batch("epoch", rows[::-1], [open_model("Test Model A")]))
    assert again.counts["scores_changed"] == 0 and again.counts["scores_unchanged"] == 1
    assert again.events == []
    assert stored(engine, "test-model-a", "gsm8k") == [("epoch", 64.5, "")]


def test_mmlu_pro_never_lands_on_mmlu(engine: Engine):
    rows = [
        score("Test Model B", "mmlu-pro", 55.0, setting="5-shot"),
        score("Test Model B", "MMLU Pro", 55.0, setting="5-shot"),  # the same benchmark
        score("Test Model B", "MMLU", 77.0, setting="5-shot"),
    ]
    result = ingest(engine, batch("open_llm_leaderboard", rows, [open_model("Test Model B")]))
    assert result.counts["benchmarks_new"] == 1
    assert stored(engine, "test-model-b", "mmlu") == [("open_llm_leaderboard", 77.0, "5-shot")]
    assert stored(engine, "test-model-b", "mmlu-pro") == [("open_llm_leaderboard", 55.0, "5-shot")]


def test_hugging_face_repo_id_matches_the_stored_model(engine: Engine):
    models = [ModelRecord(name="R1 full", hf_repo="deepseek-ai/DeepSeek-R1", likes=10)]
    rows = [score("R1 full", "gpqa-diamond", 71.5, raw_model_id="deepseek-ai/DeepSeek-R1")]
    before = store_counts(engine)
    result = ingest(engine, batch("huggingface", rows, models))
    assert result.counts["models_new"] == 0
    assert store_counts(engine)["model"] == before["model"]
    assert stored(engine, "deepseek-r1", "gpqa-diamond") == [("huggingface", 71.5, "")]


def test_two_sources_both_kept_and_headline_follows_trust(engine: Engine):
    model = [open_model("Test Model C")]
    ingest(engine, batch("epoch", [score("Test Model C", "mmlu", 70.0)], model))  # rank 20
    ingest(engine, batch("llm_stats", [score("Test Model C", "mmlu", 75.0)], model))  # rank 30
    assert stored(engine, "test-model-c", "mmlu") == [("epoch", 70.0, ""), ("llm_stats", 75.0, "")]
    assert headline(engine, "mmlu", "test-model-c") == 70.0

    with session_scope(engine) as session:
        llm_stats = session.exec(select(t.Source).where(t.Source.key == "llm_stats")).one()
        llm_stats.trust_rank = 5
    assert headline(engine, "mmlu", "test-model-c") == 75.0


def test_new_open_best_emits_one_new_frontier_event(engine: Engine):
    with session_scope(engine) as session:
        scores = headline_scores(session, find_benchmark(session, "mmlu"))
    open_best = max(s.value for s in scores if s.open_weights)
    value = open_best + 0.5
    source_batch = batch("epoch", [score("Open Giant", "mmlu", value)], [open_model("Open Giant")])

    result = ingest(engine, source_batch)

    frontier = [e for e in result.events if e.kind == "new_frontier"]
    assert len(frontier) == 1
    event = frontier[0]
    assert (event.model_slug, event.benchmark, event.open_weights) == ("open-giant", "mmlu", True)
    assert event.value == pytest.approx(value) and event.old_value == pytest.approx(open_best)
    # The proprietary side did not move: one event, for the open side only.
    assert {e.kind for e in result.events} == {"new_model", "new_score", "new_frontier"}

    assert ingest(engine, source_batch).events == []


def test_score_below_the_frontier_emits_no_frontier_event(engine: Engine):
    rows = [score("Small Open", "mmlu", 30.0)]
    result = ingest(engine, batch("epoch", rows, [open_model("Small Open")]))
    assert [e.kind for e in result.events] == ["new_model", "new_score"]


def test_changed_value_emits_changed_score(engine: Engine):
    model = [open_model("Test Model D")]
    ingest(engine, batch("epoch", [score("Test Model D", "gsm8k", 40.0)], model))
    result = ingest(engine, batch("epoch", [score("Test Model D", "gsm8k", 42.0)], model))
    assert result.counts["scores_changed"] == 1
    changed = [e for e in result.events if e.kind == "changed_score"]
    assert [(e.model_slug, e.value, e.old_value) for e in changed] == [("test-model-d", 42.0, 40.0)]


def test_bad_rows_are_rejected_with_reasons_and_good_rows_kept(engine: Engine):
    rows = [
        score("Test Model E", "gsm8k", 50.0),
        # Built without validation, as a careless adapter could: 150 % is impossible.
        ScoreRecord.model_construct(
            model_name="Test Model E", benchmark="humaneval", value=150.0, unit="%"
        ),
        score("Test Model E", "mmlu", 1250.0, unit="elo"),  # MMLU is a percentage
    ]
    result = ingest(engine, batch("epoch", rows, [open_model("Test Model E")]))
    reasons = [r.reason for r in result.rejected]
    assert len(reasons) == 2
    assert any("outside 0-100" in r for r in reasons)
    assert any("unit 'elo'" in r for r in reasons)
    assert stored(engine, "test-model-e", "gsm8k") == [("epoch", 50.0, "")]
    assert stored(engine, "test-model-e", "humaneval") == []
    assert stored(engine, "test-model-e", "mmlu") == []
    assert "2 rejected" in result.summary()
    # A batch with rejections is read in full again, so its rejections are reported again.
    again = ingest(engine, batch("epoch", rows, [open_model("Test Model E")]))
    assert again.same_records == 0 and "2 rejected" in again.summary()


def test_new_bytes_with_the_same_records_read_nothing(engine: Engine):
    rows = [score("Test Model F", "gsm8k", 50.0), score("Test Model F", "mmlu", 60.0)]
    first = ingest(engine, batch("epoch", rows, [open_model("Test Model F")]))
    assert first.counts["scores_new"] == 2
    renamed = replace(batch("epoch", rows, [open_model("Test Model F")]), content_hash="f" * 64)
    with statements(engine) as seen:
        again = ingest(engine, renamed)
    assert again.same_records == 3 and not again.wrote
    assert not any("SCORE" in w or "MODEL" in w for w in seen)  # not even read
    # One changed value makes a different digest: read in full, the change found.
    rows[1] = score("Test Model F", "mmlu", 61.0)
    changed = ingest(engine, batch("epoch", rows, [open_model("Test Model F")]))
    assert changed.same_records == 0 and changed.counts["scores_changed"] == 1


def test_model_without_parameter_count_keeps_the_known_count(engine: Engine):
    # A less trusted source that knows no size must not erase what the store knows.
    with session_scope(engine) as session:
        known = session.exec(select(t.Model).where(t.Model.slug == "deepseek-r1")).one()
        params = known.total_params_b
    assert params is not None
    result = ingest(engine, batch("openrouter", [], [ModelRecord(name="DeepSeek-R1")]))
    assert result.counts["models_updated"] == 0
    with session_scope(engine) as session:
        model = session.exec(select(t.Model).where(t.Model.slug == "deepseek-r1")).one()
        assert model.total_params_b == params


def test_crash_half_way_leaves_the_store_as_it_was(engine: Engine):
    epoch = next(b for b in load_bundled() if b.source == "epoch")
    before = store_counts(engine)
    seen: list[str] = []

    def crash_on_scores(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The new models and their aliases are written by now; the scores are next.
        seen.append(statement)
        if statement.lstrip().upper().startswith("INSERT INTO SCORE"):
            raise RuntimeError("disk on fire")

    event.listen(engine, "before_cursor_execute", crash_on_scores)
    try:
        with pytest.raises(RuntimeError, match="disk on fire"):
            ingest(engine, epoch)
    finally:
        event.remove(engine, "before_cursor_execute", crash_on_scores)
    assert any(s.lstrip().upper().startswith("INSERT INTO MODEL") for s in seen)
    assert store_counts(engine) == before
    assert source_state(engine, "epoch") is None


def test_dates_default_to_release_and_never_precede_it(engine: Engine):
    model = open_model("Test Model F", released_on=date(2025, 6, 1))
    rows = [
        score("Test Model F", "gsm8k", 70.0),  # no date: the model's release
        score("Test Model F", "humaneval", 60.0, available_on=date(2025, 1, 1)),  # too early
    ]
    ingest(engine, batch("llm_stats", rows, [model]))
    with session_scope(engine) as session:
        dates = set(
            session.exec(
                select(t.Score.available_on)
                .join(t.Model, t.Model.id == t.Score.model_id)  # type: ignore[arg-type]
                .where(t.Model.slug == "test-model-f")
            )
        )
    assert dates == {date(2025, 6, 1)}


def test_nul_characters_are_dropped_so_both_databases_store_the_row(engine: Engine):
    # PostgreSQL text cannot hold NUL; SQLite can. The store must not depend on the backend.
    rows = [score("Nul\x00 Model", "gsm8k", 33.0, url="https://example.test/\x00x")]
    result = ingest(engine, batch("epoch", rows, [open_model("Nul\x00 Model")]))
    assert result.rejected == [] and result.counts["scores_new"] == 1
    assert stored(engine, "nul-model", "gsm8k") == [("epoch", 33.0, "")]
    # Names are looked up before validation drops the NUL (a repo id too): as they will be.
    rows = [score("Nul\x00 Model", "mmlu", 44.0, raw_model_id="nul-lab/nul\x00-model")]
    again = ingest(engine, batch("epoch", rows))
    assert again.rejected == [] and again.counts["scores_new"] == 1
    assert stored(engine, "nul-model", "mmlu") == [("epoch", 44.0, "")]


def new_models_batch(n: int, tag: str) -> SourceBatch:
    """``n`` new open models with two scores each, from one source."""
    models = [open_model(f"Bulk {tag} {i}", hf_repo=f"bulk-lab/{tag}-{i}") for i in range(n)]
    rows = [
        score(f"Bulk {tag} {i}", bench, 20.0 + i % 50, raw_model_id=f"bulk-lab/{tag}-{i}")
        for i in range(n)
        for bench in ("gsm8k", "humaneval")
    ]
    return batch("llm_stats", rows, models)


def test_a_batch_of_new_models_takes_a_bounded_number_of_statements(engine: Engine):
    # Models, aliases and scores are written in bulk: ten times the models, not ten times
    # the statements (the count depends on the benchmarks touched, not on the rows).
    counts = []
    for n, tag in ((20, "small"), (200, "large")):
        with statements(engine) as seen:
            result = ingest(engine, new_models_batch(n, tag))
        assert result.counts["models_new"] == n and result.counts["scores_new"] == 2 * n
        counts.append(len(seen))
        assert len(writes(seen)) <= 8, writes(seen)
    small, large = counts
    assert large <= small + 2, counts
    assert large < 60, counts


def test_reingest_after_changes_is_counted_and_written_right(engine: Engine):
    first = ingest(engine, new_models_batch(30, "re"))
    assert first.counts["scores_new"] == 60
    changed = new_models_batch(30, "re")
    scores = list(changed.scores)
    scores[0] = score("Bulk re 0", "gsm8k", 77.5, raw_model_id="bulk-lab/re-0")  # new value
    scores.append(score("Bulk re 1", "mmlu", 41.0, raw_model_id="bulk-lab/re-1"))  # new score
    result = ingest(engine, batch("llm_stats", scores, changed.models))
    c = result.counts
    assert (c["models_new"], c["models_updated"]) == (0, 0)
    assert (c["scores_new"], c["scores_changed"], c["scores_unchanged"]) == (1, 1, 59)
    kinds = Counter(e.kind for e in result.events)
    assert kinds == {"changed_score": 1, "new_score": 1}
    changed_event = next(e for e in result.events if e.kind == "changed_score")
    assert (changed_event.value, changed_event.old_value) == (77.5, 20.0)
    assert stored(engine, "re-0", "gsm8k") == [("llm_stats", 77.5, "")]
    assert stored(engine, "re-1", "mmlu") == [("llm_stats", 41.0, "")]
    forget_records(engine, "llm_stats")
    with statements(engine) as seen:
        again = ingest(engine, batch("llm_stats", scores, changed.models))
    assert again.counts["scores_unchanged"] == 61 and not again.wrote and again.events == []
    assert [w.split()[0] for w in writes(seen)] == ["UPDATE"]  # the digest, nothing else


def test_long_names_that_clash_get_numbered_slugs_within_the_column(engine: Engine):
    """A 128-character slug that is taken gets a number by cutting its end, not by growing
    past the column (PostgreSQL refuses a 130-character slug; SQLite would store it)."""
    long = "x" * 150
    first = ingest(engine, batch("huggingface", [], [open_model(f"{long} one")]))
    # In another poll (a fresh lookup of the taken slugs), then twice in one batch.
    second = ingest(engine, batch("huggingface", [], [open_model(f"{long} two")]))
    third = ingest(
        engine, batch("huggingface", [], [open_model(f"{long} three"), open_model(f"{long} 4")])
    )
    slugs = [e.model_slug for r in (first, second, third) for e in r.events]
    assert slugs == ["x" * 128, "x" * 126 + "-2", "x" * 126 + "-3", "x" * 126 + "-4"]
    with session_scope(engine) as session:
        stored_slugs = session.exec(select(t.Model.slug).where(t.Model.slug.like("xxxx%"))).all()
    assert sorted(stored_slugs) == sorted(slugs)


def test_new_models_get_free_slugs_and_repo_ids_match_in_any_case(engine: Engine):
    models = [open_model(f"Shared {lab}", hf_repo=f"{lab}/shared-name") for lab in "abc"]
    result = ingest(engine, batch("huggingface", [], models))
    assert result.counts["models_new"] == 3
    assert sorted(e.model_slug for e in result.events) == [
        "shared-name",
        "shared-name-2",
        "shared-name-3",
    ]
    rows = [score("whatever name", "gsm8k", 55.0, raw_model_id="B/Shared-Name")]
    again = ingest(engine, batch("huggingface", rows, []))
    assert again.counts["models_new"] == 0
    with session_scope(engine) as session:
        slug = session.exec(select(t.Model.slug).where(t.Model.hf_repo == "b/shared-name")).one()
    assert stored(engine, slug, "gsm8k") == [("huggingface", 55.0, "")]


def test_a_trusted_source_moving_a_model_to_the_open_side_moves_its_headline(engine: Engine):
    closed = [ModelRecord(name="Side Switch", open_weights=False)]
    ingest(engine, batch("llm_stats", [score("Side Switch", "mmlu", 71.0)], closed))
    with session_scope(engine) as session:
        bench = find_benchmark(session, "mmlu")
        mine = [s for s in headline_scores(session, bench) if s.model_slug == "side-switch"]
    assert [s.open_weights for s in mine] == [False]

    opened = [ModelRecord(name="Side Switch", open_weights=True)]
    result = ingest(engine, batch("epoch", [], opened))  # epoch is trusted more: it owns facts
    assert result.counts["models_updated"] == 1
    with session_scope(engine) as session:
        bench = find_benchmark(session, "mmlu")
        mine = [s for s in headline_scores(session, bench) if s.model_slug == "side-switch"]
    assert [s.open_weights for s in mine] == [True]


def test_rejected_records_write_nothing(engine: Engine):
    before = store_counts(engine)
    rows = [
        ScoreRecord.model_construct(
            model_name="Ghost Model", benchmark="gsm8k", value=-5.0, unit="%"
        ),
        ScoreRecord.model_construct(model_name="", benchmark="gsm8k", value=50.0, unit="%"),
    ]
    models = [ModelRecord.model_construct(name="Ghost Model", total_params_b=-1.0)]
    with statements(engine) as seen:
        result = ingest(engine, batch("epoch", rows, models))
    assert len(result.rejected) == 3 and not result.wrote and result.events == []
    assert store_counts(engine)["model"] == before["model"]
    assert store_counts(engine)["score"] == before["score"]
    assert [w for w in writes(seen) if "SOURCE" not in w] == []


def _rendered(conn: Connection, table: Table, column: str, kind: str) -> list[tuple[str, ...]]:
    """The rows whose ``column`` starts with ``kind``, every column but the id as the database
    stores it (SQLite: storage class and value; PostgreSQL: the stored value as text), with
    ``kind`` written as ``*`` so that the rows of two kinds compare equal."""
    names = [c.name for c in table.columns if c.name != "id"]
    if conn.dialect.name == "sqlite":
        shown = ", ".join(f'typeof("{n}"), "{n}"' for n in names)
    else:
        shown = ", ".join(f'"{n}"::text' for n in names)
    query = f'SELECT {shown} FROM {table.name} WHERE "{column}" LIKE %s ORDER BY "{column}"'
    query = query % ("?" if conn.dialect.name == "sqlite" else "%s")
    rows = conn.exec_driver_sql(query, (f"{kind}%",)).all()
    return [tuple(str(value).replace(kind, "*") for value in row) for row in rows]


def test_bulk_insert_stores_exactly_what_core_stores(engine: Engine):
    # insert_rows converts each column's values itself and hands them to the driver: every
    # stored value must be the one an ordinary Core executemany stores (a date stored as other
    # text, a timestamp moved to another zone or a float rounded would show here).
    models = t.Model.__table__  # type: ignore[attr-defined]
    scores = t.Score.__table__  # type: ignore[attr-defined]
    aliases = t.ModelAlias.__table__  # type: ignore[attr-defined]
    at = datetime(2026, 3, 10, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))

    def model(kind: str, i: int) -> dict[str, Any]:
        return {
            **dict.fromkeys(t.SHAPE_COLUMNS),
            "organization": ["Lab ✓", None][i],
            "open_weights": [True, False][i],
            "license": [None, "apache-2.0"][i],
            "released_on": [date(2025, 2, 28), None][i],
            "total_params_b": [0.1 + 0.2, 405.0][i],
            "layers": [126, None][i],
            "hf_repo": [f"Org/{kind}", None][i],
            "slug": f"{kind}-{i}",
            "name": f"{kind} model {i}: ünï\tcode",
            "facts_source_id": [source_id, None][i],
            "facts_url": [None, "https://example.test/m"][i],
            "training_cost_approximate": False,
            "created_at": at,
            "updated_at": [at, NOW][i],
        }

    def score(kind: str, i: int) -> dict[str, Any]:
        return {
            "model_id": model_id,
            "benchmark_id": benchmarks[i],
            "source_id": source_id,
            "setting": f"{kind}-{i}",
            "value": [1 / 3, 88.0][i],
            "available_on": date(2024, 12, 31),
            "date_precision": "day",
            "approximate": [True, False][i],
            "url": [None, "https://example.test/s"][i],
            "retrieved_at": at,
        }

    def alias(kind: str, i: int) -> dict[str, Any]:
        return {"alias": f"{kind} alias {i}", "model_id": model_id}

    driver_writes: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        if many and context.compiled is None:  # exec_driver_sql, executemany
            driver_writes.append(" ".join(statement.split()[:3]))

    with engine.connect() as conn, conn.begin() as transaction:
        source_id = conn.exec_driver_sql("SELECT min(id) FROM source").scalar_one()
        model_id = conn.exec_driver_sql("SELECT min(id) FROM model").scalar_one()
        benchmarks = conn.exec_driver_sql("SELECT id FROM benchmark ORDER BY id").scalars().all()
        event.listen(conn, "before_cursor_execute", seen)
        for table, row, column in (
            (models, model, "slug"),
            (scores, score, "setting"),
            (aliases, alias, "alias"),
        ):
            conn.execute(insert(table), [row("core", i) for i in range(2)])
            insert_rows(conn, table, [row("fast", i) for i in range(2)])
            core, fast = (_rendered(conn, table, column, kind) for kind in ("core", "fast"))
            assert len(core) == 2 and core == fast, table.name
        event.remove(conn, "before_cursor_execute", seen)
        assert driver_writes == [
            "INSERT INTO model",
            "INSERT INTO score",
            "INSERT INTO model_alias",
        ]
        transaction.rollback()


def test_bulk_rows_go_in_as_one_statement_and_come_back_as_written(engine: Engine):
    """``insert_rows`` on PostgreSQL sends its rows as one ``COPY`` (db.engine.COPY_ROWS): a
    statement-level trigger fires once for them, not once a row, and text that COPY's own
    format escapes (tabs, newlines, backslashes, its NULL marker) is stored as written. On
    SQLite the rows are one ``executemany``."""
    aliases = t.ModelAlias.__table__  # type: ignore[attr-defined]
    texts = ["tab\there", "new\nline", "back\\slash", "\\N", "ünï ✓", "end\\", "a\rb"]
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn, conn.begin() as transaction:
        model_id = conn.exec_driver_sql("SELECT min(id) FROM model").scalar_one()
        if postgres:
            conn.exec_driver_sql("CREATE TEMP TABLE fired (n int)")
            conn.exec_driver_sql(
                "CREATE FUNCTION pg_temp.count_statement() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN INSERT INTO fired VALUES (1); RETURN NULL; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER count_statement AFTER INSERT ON model_alias "
                "FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.count_statement()"
            )
        many: list[bool] = []

        def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, m: bool):
            many.append(m)

        event.listen(conn, "before_cursor_execute", seen)
        insert_rows(conn, aliases, [{"alias": a, "model_id": model_id} for a in texts])
        event.remove(conn, "before_cursor_execute", seen)
        assert many == [True]  # one executemany as SQLAlchemy sees it
        if postgres:
            assert conn.exec_driver_sql("SELECT count(*) FROM fired").scalar_one() == 1
        stored = conn.execute(
            select(aliases.c.alias).where(aliases.c.alias.in_(texts))  # type: ignore[arg-type]
        ).scalars()
        assert sorted(stored) == sorted(texts)
        transaction.rollback()


def test_a_repo_id_is_found_whatever_its_case_non_ascii_letters_included(engine: Engine):
    """Models are matched by Hugging Face repo id case-insensitively, through the index on
    ``lower(hf_repo)``. SQLite's lower() folds ASCII letters only, so a repo id with another
    capital (É) must still be found as written, and by its ASCII case variants. (The model
    has no alias of its repo id here, so only the repo lookup can find it.)"""
    with session_scope(engine) as session:
        session.add(t.Model(slug="eclair-7b", name="Eclair 7B", hf_repo="Org/ÉClair-7B"))
    before = store_counts(engine)["model"]
    for spelling in ("Org/ÉClair-7B", "org/Éclair-7b"):
        again = ingest(
            engine,
            batch(
                "llm_stats", [score(f"Renamed {spelling}", "gsm8k", 50.0, raw_model_id=spelling)]
            ),
        )
        assert store_counts(engine)["model"] == before, spelling  # matched, not a new model
        assert stored(engine, "eclair-7b", "gsm8k"), again.summary()
