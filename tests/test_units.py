"""A score is shown in its benchmark's unit: an Arena rating (``elo``) or Epoch's capabilities
index (``eci``) is never printed as a percentage, in text, embeds or the gap chart's axis.
On both databases, through the answers' fast paths (the memos included)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import select

from bot import embeds, text
from bot.answers import Answers
from db import tables as t
from db.engine import session_scope

TODAY = date(2026, 12, 4)


def _arena(engine: Engine) -> tuple[str, str]:
    """An ``elo`` benchmark with one open and one proprietary score; their model names."""
    with session_scope(engine) as session:
        open_model = session.exec(select(t.Model).where(t.Model.open_weights == True)).first()  # noqa: E712
        closed = session.exec(select(t.Model).where(t.Model.open_weights == False)).first()  # noqa: E712
        source = session.exec(select(t.Source)).first()
        assert open_model and closed and source
        bench = t.Benchmark(key="arena-test", name="Arena Test", aliases=[], unit="elo")
        session.add(bench)
        session.flush()
        for model, value in ((open_model, 1250.0), (closed, 1301.5)):
            session.add(
                t.Score(
                    model_id=model.id,
                    benchmark_id=bench.id,
                    source_id=source.id,
                    value=value,
                    available_on=date(2025, 1, 2),
                )
            )
        return open_model.name, closed.name


def test_answers_show_an_elo_benchmark_in_elo(engine: Engine) -> None:
    open_name, _closed = _arena(engine)
    answers = Answers(engine, today=lambda: TODAY)
    for _ in range(2):  # the second time from the answers' memos
        report = answers.gap("arena test")
        shown = text.gap_text(report) + str(embeds.gap_embed(report).to_dict())
        assert "1301.5 elo" in shown and "1250.0 elo" in shown
        assert "1301.5%" not in shown and "1250.0%" not in shown

        card = answers.model(open_name)
        shown = text.model_text(card) + str(embeds.model_embed(card).to_dict())
        assert "1250.0 elo" in shown and "1250.0%" not in shown

        board = answers.leaderboard("arena-test")
        shown = text.leaderboard_text(board) + str(embeds.leaderboard_embed(board).to_dict())
        assert "1301.5 elo" in shown and "1301.5%" not in shown
    # A percent benchmark is still shown in percent.
    assert "%" in text.gap_text(answers.gap("mmlu"))


def test_the_gap_chart_labels_its_axis_with_the_unit(engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from frontier import charts

    _arena(engine)
    report = Answers(engine, today=lambda: TODAY).gap("arena-test")
    labels: list[str] = []
    draw = FigureCanvasAgg.draw

    def spy(canvas: FigureCanvasAgg) -> None:
        labels.extend(ax.get_ylabel() for ax in canvas.figure.axes)
        draw(canvas)

    monkeypatch.setattr(FigureCanvasAgg, "draw", spy)
    charts.gap_chart(report)
    assert "Best score (elo)" in labels


def test_an_open_best_alert_says_the_unit() -> None:
    from jobs.alerts import open_best_payload
    from jobs.ingest import ChangeEvent

    event = ChangeEvent(
        "new_frontier", "lmarena", "m", "Model M", "arena-test", 1301.5, 1250.0, open_weights=True
    )
    payload = open_best_payload("Arena Test", event, None, "elo")
    shown = " ".join([payload["subject"], *payload["lines"]])
    assert "1301.5 elo" in shown and "1250.0 elo" in shown and "%" not in shown
