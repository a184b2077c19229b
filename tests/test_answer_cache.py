"""What the fast answer paths remember between answers never outlives a write.

``db.queries`` indexes the benchmark table by its content and builds candidate scores once per
row content; ``bot.answers`` starts a prediction's rules from the model facts its last run
looked up; ``bot.embeds`` remembers cleaned text. Each test answers, writes (ORM, Core, or from
a second engine as another process would), and checks the next answer against one computed
from scratch, on both databases.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, update
from sqlmodel import select

from bot import answers as answers_module
from bot.answers import Answers
from db import queries
from db import tables as t
from db.engine import make_engine, session_scope
from frontier.errors import NotFoundError
from frontier.gap import gap_report
from frontier.predictions import PredictionData, evaluate

TODAY = date(2026, 12, 4)


def _answers(engine: Engine) -> Answers:
    return Answers(engine, today=lambda: TODAY)


def _fresh_gap(engine: Engine, key: str, as_of: date = TODAY):  # type: ignore[no-untyped-def]
    """The gap from every headline score and an ORM benchmark row: no fast path."""
    with session_scope(engine) as session:
        row = queries.find_benchmark(session, key)
        scores = queries.headline_scores(session, row, as_of=as_of)
        return gap_report(queries.to_benchmark(row), scores, as_of=as_of, threshold=2.0)


def test_benchmark_names_and_facts_follow_every_write(engine: Engine, db_url: str) -> None:
    answers = _answers(engine)
    assert answers.gap("mmlu").benchmark.name == _fresh_gap(engine, "mmlu").benchmark.name
    with pytest.raises(NotFoundError):
        answers.gap("massive multitask")

    # ORM: a new alias and a new name.
    with session_scope(engine) as session:
        bench = session.exec(select(t.Benchmark).where(t.Benchmark.key == "mmlu")).one()
        bench.aliases = [*bench.aliases, "Massive Multitask"]
        bench.name = "MMLU (renamed)"
    report = answers.gap("massive multitask")
    assert report.benchmark.key == "mmlu"
    assert report.benchmark.name == "MMLU (renamed)"
    assert answers.gap("mmlu") == _fresh_gap(engine, "mmlu")

    # Core, from another engine (another process sharing the store): the alias goes, the
    # question count changes.
    other = make_engine(db_url)
    try:
        with session_scope(other) as session:
            session.connection().execute(
                update(t.Benchmark)
                .where(t.Benchmark.key == "mmlu")
                .values(aliases=[], question_count=1234)
            )
    finally:
        other.dispose()
    with pytest.raises(NotFoundError):
        answers.gap("massive multitask")
    report = answers.gap("mmlu")
    assert report.benchmark.question_count == 1234
    assert report == _fresh_gap(engine, "mmlu")

    # A benchmark created as ingest creates one (ORM add and flush, no aliases).
    with session_scope(engine) as session:
        session.add(t.Benchmark(key="brand-new-bench", name="Brand New Bench", aliases=[]))
    assert answers.gap("Brand New Bench").benchmark.key == "brand-new-bench"
    assert answers.lag("brand new bench").benchmark.key == "brand-new-bench"


def test_a_tracked_flag_change_reaches_the_dashboard(engine: Engine) -> None:
    answers = _answers(engine)
    before = [row.benchmark.key for row in answers.dashboard().rows]
    assert before == sorted(before)
    with session_scope(engine) as session:
        session.connection().execute(
            update(t.Benchmark).where(t.Benchmark.key == before[0]).values(tracked=False)
        )
    assert [row.benchmark.key for row in answers.dashboard().rows] == before[1:]


def test_a_changed_score_reaches_the_next_gap(engine: Engine) -> None:
    answers = _answers(engine)
    first = answers.gap("mmlu")
    assert first == _fresh_gap(engine, "mmlu")
    assert first.open is not None and first.proprietary is not None
    # The best open score rises past the best proprietary one (ORM write: the session events
    # bring the headline table up to date).
    with session_scope(engine) as session:
        model = session.exec(select(t.Model).where(t.Model.slug == first.open.model_slug)).one()
        bench = session.exec(select(t.Benchmark).where(t.Benchmark.key == "mmlu")).one()
        score = session.exec(
            select(t.Score).where(
                t.Score.model_id == model.id,
                t.Score.benchmark_id == bench.id,
                t.Score.value == first.open.value,
            )
        ).first()
        assert score is not None
        score.value = first.proprietary.value + 1.0
    second = answers.gap("mmlu")
    assert second.open is not None
    assert second.open.value == first.proprietary.value + 1.0
    assert second.leader == "open"
    assert second == _fresh_gap(engine, "mmlu")
    assert answers.lag("mmlu").pairs != ()


@pytest.mark.parametrize("as_of", [date(2023, 6, 1), date(2024, 3, 1), TODAY])
def test_candidates_as_of_equal_the_read_time_choice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, as_of: date
) -> None:
    """The candidates' one statement (stored choice, with its test for later scores) answers
    as the read-time choice does, at dates before some scores and after all."""

    def triples(session):  # type: ignore[no-untyped-def]
        return {
            b.key: sorted(
                (s.model_slug, s.value, s.available_on, s.citation)
                for s in queries.frontier_candidates(session, b, as_of=as_of)
            )
            for b in queries.all_benchmarks(session)
        }

    with session_scope(engine) as session:
        stored = triples(session)
    with engine.connect() as connection:
        table = queries.benchmark_table(connection)
        bare = {
            row.key: sorted(
                (s.model_slug, s.value, s.available_on, s.citation)
                for s in queries.frontier_candidates(connection, row, as_of=as_of)  # type: ignore[arg-type]
            )
            for row in table.rows
        }
    monkeypatch.setattr(queries, "_use_stored", lambda *args, **kwargs: False)
    with session_scope(engine) as session:
        fresh = triples(session)
    assert any(stored.values())
    assert stored == fresh == bare


def _full_verdict(engine: Engine, code: str):  # type: ignore[no-untyped-def]
    """A prediction judged on every headline score and every model's facts."""
    with session_scope(engine) as session:
        row = queries.find_prediction(session, code)
        definition = queries.to_prediction_def(session, row)
        benches = queries.all_benchmarks(session)
        data = PredictionData(
            {b.key: queries.to_benchmark(b) for b in benches},
            {b.key: queries.headline_scores(session, b) for b in benches},
            {m.slug: m for m in queries.model_specs(session)},
            tuple(queries.attestations(session)),
        )
        return definition, evaluate(definition, data, today=TODAY)


def test_prediction_verdicts_equal_the_full_data_after_writes(engine: Engine) -> None:
    answers = _answers(engine)
    codes = [answer.prediction.code for answer in answers.predictions()]
    assert "OB-001" in codes
    for code in codes:
        definition, verdict = _full_verdict(engine, code)
        answer = answers.prediction(code)
        assert answer.prediction == definition
        assert answer.verdict == verdict, code
    # A model of OB-001's evidence changes its facts: the next answer shows the new facts
    # although the last run's lookups (the first run's guess) named it.
    evidence = [e.model for e in answers.prediction("OB-001").verdict.evidence if e.model]
    assert evidence
    with session_scope(engine) as session:
        model = session.exec(select(t.Model).where(t.Model.slug == evidence[0].slug)).one()
        model.name = "Renamed Model"
        model.total_params_b = 12345.0
    answer = answers.prediction("OB-001")
    assert answer.verdict == _full_verdict(engine, "OB-001")[1]
    assert any(e.model and e.model.name == "Renamed Model" for e in answer.verdict.evidence)
    # A wrong guess (slugs of other models, or of none) changes nothing but the work done.
    for key in list(answers_module._LOOKED_UP):
        answers_module._LOOKED_UP[key] = frozenset({"no-such-model", *codes})
    assert answers.prediction("OB-001").verdict == _full_verdict(engine, "OB-001")[1]


def test_clean_is_remembered_only_as_the_pure_function_it_is() -> None:
    from bot import embeds, safe_text

    for text, limit in [("@everyone *bold*", 100), ("x" * 300, 40), ("a\u200bb", 10)]:
        assert embeds.clean(text, limit) == safe_text.clean(text, limit)
        assert embeds.clean(text, limit) == safe_text.clean(text, limit)
    assert embeds.clean(12.5) == safe_text.clean(12.5)
