"""What the fast answer paths remember between answers never outlives a write.

``db.queries`` indexes the benchmark table by its content and builds candidate scores once per
row content; ``bot.answers`` starts a prediction's rules from the model facts its last run
looked up, keeps a model card by the rows it was read from and a gap report by its inputs;
``bot.embeds`` remembers cleaned text and what a card or a report renders to. Each test
answers, writes (ORM, Core, or from a second engine as another process would), and checks the
next answer against one computed from scratch, on both databases.
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


def _fresh_card(engine: Engine, name: str, answers: Answers):  # type: ignore[no-untyped-def]
    """A model card through the ORM reads (find_model, to_model_spec, model_scores): no
    single statement and nothing remembered."""
    from bot.answers import ModelCard, ModelScore
    from frontier.fits import fit_report

    with session_scope(engine) as session:
        row = queries.find_model(session, name)
        spec = queries.to_model_spec(session, row)
        scores, seen = [], set()
        for bench, score, source in queries.model_scores(session, row):
            to_score = queries.to_score(spec, bench, score, source)
            scores.append(ModelScore(bench.name, to_score, headline=bench.key not in seen))
            seen.add(bench.key)
        fit = None
        if spec.open_weights and spec.total_params_b:
            fit = fit_report(spec, budget_gib=answers.vram_gib, context=answers.context)
        return ModelCard(spec, row.license, row.hf_repo, tuple(scores), fit)


def _same_card(engine: Engine, answers: Answers, name: str):  # type: ignore[no-untyped-def]
    from bot import embeds

    card = answers.model(name)
    fresh = _fresh_card(engine, name, answers)
    assert card == fresh
    # The embed built from what the card remembers is the one rendered from scratch.
    assert embeds.model_embed(card).to_dict() == embeds._model_embed(fresh).to_dict()
    assert embeds.model_embed(card).to_dict() == embeds._model_embed(card).to_dict()
    return card


def test_the_model_card_follows_every_write(engine: Engine, db_url: str) -> None:
    answers = _answers(engine)
    name = "Llama 3.1 70B"
    first = _same_card(engine, answers, name)
    assert first.scores and first.fit is not None and first.model.params_citation is not None
    assert answers.model(name) is first  # kept: the same rows read back

    # ORM: the model's name, size and layers (its memory estimate), and one score's value.
    with session_scope(engine) as session:
        model = session.exec(select(t.Model).where(t.Model.slug == first.model.slug)).one()
        model.name = "Llama Renamed"
        model.total_params_b = 8.0
        model.layers = 32
        score = session.exec(select(t.Score).where(t.Score.model_id == model.id)).first()
        assert score is not None
        score.value = 12.5
    card = _same_card(engine, answers, name)  # its alias still finds it
    assert card.model.name == "Llama Renamed" and card.fit is not None
    assert card.fit.total_params_b == 8.0 and card.fit != first.fit
    assert any(s.score.value == 12.5 for s in card.scores)

    # Core, from another engine: the source its facts cite is renamed, as is one its scores
    # cite; a new alias points to it.
    facts = first.model.params_citation
    assert facts is not None
    other = make_engine(db_url)
    try:
        with session_scope(other) as session:
            session.connection().execute(
                update(t.Source).where(t.Source.key == facts.source).values(name="Renamed Source")
            )
            cited = first.scores[0].score.citation.source
            session.connection().execute(
                update(t.Source).where(t.Source.key == cited).values(name="Other Renamed")
            )
            model_id = session.exec(
                select(t.Model.id).where(t.Model.slug == first.model.slug)
            ).one()
            session.add(t.ModelAlias(alias="brandnewalias", model_id=model_id))
    finally:
        other.dispose()
    card = _same_card(engine, answers, name)
    assert card.model.params_citation is not None
    assert card.model.params_citation.label == "Renamed Source"
    assert any(s.score.citation.label.startswith("Other Renamed") for s in card.scores)
    assert _same_card(engine, answers, "Brand New Alias") == card

    # A score deleted: the card loses it.
    with session_scope(engine) as session:
        model = session.exec(select(t.Model).where(t.Model.slug == first.model.slug)).one()
        for score in session.exec(select(t.Score).where(t.Score.model_id == model.id)):
            session.delete(score)
    card = _same_card(engine, answers, name)
    assert card.scores == ()
    with pytest.raises(NotFoundError):
        answers.model("no such model at all")


def test_model_cards_equal_the_orm_reads_for_every_model(engine: Engine) -> None:
    """The one statement finds what find_model finds (name, slug, alias) and reads the
    scores in model_scores's order, for every model of the store."""
    answers = _answers(engine)
    with session_scope(engine) as session:
        models = list(session.exec(select(t.Model.name, t.Model.slug)))
        aliases = list(session.exec(select(t.ModelAlias.alias).limit(200)))
    assert len(models) > 10
    for name, slug in models:
        _same_card(engine, answers, name)
        _same_card(engine, answers, f"  {slug.upper()} ")
    for alias in aliases:
        _same_card(engine, answers, alias)


def test_a_gap_report_is_kept_only_for_the_same_inputs(engine: Engine) -> None:
    """Reports (and their embeds) are kept by their inputs: the same candidates, date and
    threshold give the same report object; another date or threshold, or a write, a new
    one equal to a report computed from scratch."""
    from bot import embeds

    answers = _answers(engine)
    first = answers.gap("mmlu")
    assert answers.gap("mmlu") is first
    render = embeds.gap_embed(first, chart_name="gap.png").to_dict()
    assert render == embeds._gap_embed(first, chart_name="gap.png").to_dict()
    assert embeds.gap_embed(first, chart_name="gap.png").to_dict() == render
    assert embeds.gap_embed(first).to_dict() == embeds._gap_embed(first).to_dict() != render

    strict = Answers(engine, today=lambda: TODAY, gap_threshold=0.5)
    report = strict.gap("mmlu")
    assert report.threshold == 0.5 and report is not first
    with session_scope(engine) as session:
        row = queries.find_benchmark(session, "mmlu")
        scores = queries.headline_scores(session, row, as_of=TODAY)
        assert report == gap_report(queries.to_benchmark(row), scores, as_of=TODAY, threshold=0.5)
    earlier = date(2024, 3, 1)
    assert answers.gap("mmlu", as_of=earlier) == _fresh_gap(engine, "mmlu", as_of=earlier)

    # A write to a candidate's model (its name is part of the score): a new report.
    assert first.open is not None
    with session_scope(engine) as session:
        model = session.exec(select(t.Model).where(t.Model.slug == first.open.model_slug)).one()
        model.name = "Renamed Open Model"
    second = answers.gap("mmlu")
    assert second is not first and second.open is not None
    assert second.open.model_name == "Renamed Open Model"
    assert second == _fresh_gap(engine, "mmlu")
    assert "Renamed Open Model" in str(embeds.gap_embed(second, chart_name="gap.png").to_dict())


def test_model_facts_by_slug_keep_the_open_only_filter(engine: Engine) -> None:
    """``model_specs(open_only=True, slugs=...)`` lists only the open models among the slugs."""
    with session_scope(engine) as session:
        every = queries.model_specs(session)
        slugs = {spec.slug for spec in every}
        assert any(not spec.open_weights for spec in every)  # the data has both kinds
        both = queries.model_specs(session, slugs=slugs)
        only_open = queries.model_specs(session, open_only=True, slugs=slugs)
    assert {s.slug for s in both} == slugs
    assert {s.slug for s in only_open} == {s.slug for s in every if s.open_weights}


def test_a_report_over_every_headline_score_is_not_kept(engine: Engine) -> None:
    """Only reports over a few hundred candidates are kept: a report over a benchmark's every
    headline score (new objects on every read, as /prediction list's rules get them) is
    computed and let go, not kept with the tens of thousands of scores it was made from."""
    with session_scope(engine) as session:
        row = queries.find_benchmark(session, "mmlu")
        view = queries.to_benchmark(row)
        scores = queries.headline_scores(session, row)
    many = (scores * (answers_module._GAP_REPORT_MAX_SCORES // len(scores) + 1))[
        : answers_module._GAP_REPORT_MAX_SCORES + 1
    ]
    answers_module._GAP_REPORTS.clear()
    report = answers_module._gap_report(view, many, as_of=TODAY, threshold=2.0)
    assert report == gap_report(view, many, as_of=TODAY, threshold=2.0)
    assert answers_module._GAP_REPORTS == {}
    answers_module._gap_report(view, scores[:50], as_of=TODAY, threshold=2.0)
    assert len(answers_module._GAP_REPORTS) == 1  # a candidates-sized report is kept
