"""Alert rules wired to the store: from an ingest to outbox rows, on both databases."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db import tables as t
from db.engine import session_scope
from jobs.alerts import AlertRules, AlertService, check_sources, resolve_predictions
from jobs.delivery import ConsoleSender, Dispatcher
from jobs.polling import Poller
from jobs.sources.base import (
    ModelRecord,
    ScoreRecord,
    SourceBatch,
    SourceError,
    SourceFormatError,
    SourceState,
    SourceUnavailableError,
)
from jobs.sources.http import SourceClient

GUILD = 111_000_000_000_000_001
CHANNEL = 111_000_000_000_000_002
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Clock:
    """A controllable UTC clock."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class FakeSource:
    """A pollable source whose next batch the test sets (records as real adapters build them)."""

    def __init__(self, key: str = "epoch") -> None:
        self.key = key
        self.models: list[ModelRecord] = []
        self.scores: list[ScoreRecord] = []
        self.error: SourceError | None = None

    async def fetch(self, client: Any, state: SourceState) -> SourceBatch:
        if self.error is not None:
            raise self.error
        return SourceBatch(
            source=self.key,
            fetched_at=NOW,
            url="https://epoch.ai/data/benchmark_data.zip",
            models=list(self.models),
            scores=list(self.scores),
        )


def frontier_model(
    name: str = "Frontier X", value: float = 93.5
) -> tuple[ModelRecord, ScoreRecord]:
    """A proprietary model's MMLU score as Epoch's adapter emits it."""
    return (
        ModelRecord(
            name=name, organization="Lab", open_weights=False, released_on=date(2026, 11, 30)
        ),
        ScoreRecord(
            model_name=name,
            benchmark="mmlu",
            value=value,
            setting="5-shot",
            available_on=date(2026, 11, 30),
            url="https://epoch.ai/benchmarks/mmlu",
        ),
    )


def hf_model(params: float, name: str | None = None) -> ModelRecord:
    """An HF-like model record with its parameter count and architecture (config.json)."""
    repo = name or f"test-org/Test-{params:g}B-Instruct"
    return ModelRecord(
        name=repo,
        hf_repo=repo,
        organization="test-org",
        open_weights=True,
        license="apache-2.0",
        released_on=date(2026, 12, 1),
        total_params_b=params,
        layers=32 if params < 20 else 80,
        kv_heads=8,
        head_dim=128,
        hidden_size=4096 if params < 20 else 8192,
        attention_heads=32 if params < 20 else 64,
        max_context=131072,
        attention="gqa",
        url=f"https://huggingface.co/{repo}",
    )


def filler_score(name: str = "Old Open Model") -> tuple[ModelRecord, ScoreRecord]:
    """Something for a source's first (baseline) poll."""
    return (
        ModelRecord(name=name, open_weights=True, total_params_b=7.0),
        ScoreRecord(model_name=name, benchmark="mmlu", value=60.0, available_on=date(2024, 1, 1)),
    )


class World:
    """The store, a source, a poller with the alert rules, a clock: one 'process'."""

    def __init__(self, engine: Engine, clock: Clock, source: FakeSource) -> None:
        self.engine = engine
        self.clock = clock
        self.source = source
        self.client = SourceClient()
        self.rules = AlertRules(clock=clock)
        self.poller = Poller(
            engine=engine,
            client=self.client,
            sources=[source],
            after_ingest=self.rules.after_ingest,
            after_failure=self.rules.after_failure,
            clock=clock,
        )
        self.service = AlertService(engine, clock=clock)

    async def poll(self, models: list[ModelRecord], scores: list[ScoreRecord]) -> None:
        self.source.models, self.source.scores = models, scores
        outcome = await self.poller.poll(self.source.key)
        assert outcome.ok, outcome.error

    async def fail(self, error: SourceError) -> None:
        self.source.error = error
        try:
            outcome = await self.poller.poll(self.source.key)
        finally:
            self.source.error = None
        assert not outcome.ok

    async def close(self) -> None:
        await self.client.aclose()


async def baseline_world(engine: Engine, clock: Clock | None = None) -> World:
    """Alerts on in GUILD's CHANNEL, and the source's first poll done (a silent baseline)."""
    world = World(engine, clock or Clock(), FakeSource())
    world.service.set_channel(GUILD, CHANNEL)
    model, score = filler_score()
    await world.poll([model], [score])
    return world


def alerts(engine: Engine, kind: str | None = None) -> list[t.Alert]:
    with session_scope(engine) as session:
        query = select(t.Alert).order_by(t.Alert.id)  # type: ignore[arg-type]
        if kind is not None:
            query = query.where(t.Alert.kind == kind)
        return list(session.exec(query))


def deliveries(engine: Engine) -> list[t.Delivery]:
    with session_scope(engine) as session:
        return list(session.exec(select(t.Delivery).order_by(t.Delivery.id)))  # type: ignore[arg-type]


async def test_gap_crossing_is_one_alert_and_a_second_poll_adds_nothing(engine: Engine) -> None:
    world = await baseline_world(engine)
    try:
        assert alerts(engine) == []  # enabling and the source's first poll are silent
        model, score = frontier_model()
        await world.poll([model], [score])
        [alert] = alerts(engine, "gap")
        assert alert.guild_id == GUILD and alert.group_key == f"gap:{GUILD}:mmlu"
        payload = alert.payload
        assert payload["title"] == "MMLU: the gap rose above 2 points"
        assert "Gap (proprietary − open): +2.7 points, was -2.1." in payload["lines"][0]
        fields = dict(payload["fields"])
        assert "Frontier X 93.5% (2026-11-30) — source: Epoch AI" in fields["Best proprietary"]
        assert "DeepSeek-R1 90.8%" in fields["Best open weights"]
        assert "Frontier X (proprietary) 93.5% from epoch" in fields["Moved by"]
        assert payload["chart"] == {"benchmark": "mmlu", "as_of": "2026-12-04", "threshold": 2.0}
        [delivery] = deliveries(engine)
        assert (delivery.target_kind, delivery.target_id, delivery.state) == (
            "channel",
            CHANNEL,
            "pending",
        )
        await world.poll([model], [score])  # the same data again
        await world.poll([model], [score.model_copy(update={"url": "https://x.test/1"})])
        assert len(alerts(engine)) == 1 and len(deliveries(engine)) == 1
        assert [line.stage for line in world.service.why(GUILD)][:1] == ["queued"]
    finally:
        await world.close()


async def test_a_second_guild_with_another_threshold_judges_for_itself(engine: Engine) -> None:
    world = await baseline_world(engine)
    try:
        other = GUILD + 10
        world.service.set_threshold(other, 5.0)
        world.service.set_channel(other, CHANNEL + 10)
        await world.poll(*map(list, zip(frontier_model(), strict=True)))
        assert [a.guild_id for a in alerts(engine, "gap")] == [GUILD]  # 2.7 < 5
    finally:
        await world.close()


async def test_fits_alert_for_an_8b_model_not_for_a_70b(engine: Engine) -> None:
    world = await baseline_world(engine)
    try:
        await world.poll([hf_model(8.0), hf_model(70.0)], [])
        [alert] = alerts(engine, "fits")
        assert alert.payload["title"] == "test-org/Test-8B-Instruct fits your 24 GiB GPU"
        assert alert.payload["lines"][0].startswith("Best quantization that fits 24 GiB at 8,192")
        stages = {(line.subject, line.stage) for line in world.service.why(GUILD)}
        assert ("new model test-org/Test-70B-Instruct", "filtered") in stages
    finally:
        await world.close()


async def test_a_new_source_is_a_silent_baseline(engine: Engine) -> None:
    world = World(engine, Clock(), FakeSource("llm_stats"))
    try:
        world.service.set_channel(GUILD, CHANNEL)
        model, score = frontier_model()
        await world.poll([model, hf_model(8.0)], [score])  # a crossing and a fit, first poll
        assert alerts(engine) == []
        assert "baseline" in [line.stage for line in world.service.why(GUILD)]
    finally:
        await world.close()


async def test_changes_while_down_alert_after_restart(engine: Engine) -> None:
    clock = Clock()
    first = await baseline_world(engine, clock)
    await first.close()  # the process stops; the data changes upstream meanwhile
    clock.advance(timedelta(days=2))
    second = World(engine, clock, FakeSource())  # a new process, same store
    try:
        await second.poll(*map(list, zip(frontier_model(), strict=True)))
        assert len(alerts(engine, "gap")) == 1
    finally:
        await second.close()


async def test_filtered_kind_is_traced_not_queued(engine: Engine) -> None:
    world = await baseline_world(engine)
    try:
        world.service.set_kinds(GUILD, "fits")
        await world.poll(*map(list, zip(frontier_model(), strict=True)))
        assert alerts(engine, "gap") == []
        assert world.service.why(GUILD)[0].stage == "filtered"
    finally:
        await world.close()


async def test_mute_holds_until_it_ends_then_sends_with_a_footer(engine: Engine) -> None:
    world = await baseline_world(engine)
    out = io.StringIO()
    sender = ConsoleSender(out)
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=world.clock)
    try:
        world.service.mute(GUILD, "2h")
        await world.poll(*map(list, zip(frontier_model(), strict=True)))
        report = await dispatcher.run_once()
        assert report.held == 1 and sender.sent == []
        world.clock.advance(timedelta(minutes=30))
        assert (await dispatcher.run_once()).outcomes == []  # still muted: not even claimed
        world.clock.advance(timedelta(hours=2))
        await dispatcher.run_once()
        [message] = sender.sent
        assert message.notes == (
            "held while this server was muted; the mute ended 2026-12-04 14:00 UTC",
        )
        assert "MMLU: the gap rose above 2 points" in out.getvalue()
        assert message.files and message.files[0].data.startswith(b"\x89PNG")
        assert "muted" in [line.stage for line in world.service.why(GUILD)]
    finally:
        await world.close()


def open_model(name: str, value: float, on: date = date(2026, 12, 1)) -> tuple[Any, Any]:
    """An open-weights model's MMLU score."""
    model, score = frontier_model(name, value)
    return (
        model.model_copy(update={"open_weights": True, "released_on": on}),
        score.model_copy(update={"available_on": on}),
    )


async def test_a_crossing_up_and_back_down_during_a_mute_sends_nothing_about_it(
    engine: Engine,
) -> None:
    world = await baseline_world(engine)
    sender = ConsoleSender(io.StringIO())
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=world.clock)
    try:
        world.service.mute(GUILD, "1d")
        await world.poll(*map(list, zip(frontier_model(), strict=True)))  # up …
        await world.poll(*map(list, zip(open_model("Open Giant", 93.0), strict=True)))  # … down
        assert [a.payload["title"] for a in alerts(engine, "gap")] == [
            "MMLU: the gap rose above 2 points",
            "MMLU: the gap is back within 2 points",
        ]
        world.clock.advance(timedelta(days=1, minutes=1))
        report = await dispatcher.drain()
        assert report.dropped == 2
        sent = [m.items[0].payload["title"] for m in sender.sent]
        assert sent == ["New open-weights best on MMLU: Open Giant"]  # no "back within"
        stages = {line.stage for line in world.service.why(GUILD) if line.kind == "gap"}
        assert {"superseded", "no net change"} <= stages
    finally:
        await world.close()


async def test_up_down_up_during_a_mute_sends_only_the_final_crossing(engine: Engine) -> None:
    world = await baseline_world(engine)
    sender = ConsoleSender(io.StringIO())
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=world.clock)
    try:
        world.service.mute(GUILD, "1d")
        await world.poll(*map(list, zip(frontier_model(), strict=True)))  # up
        await world.poll(*map(list, zip(open_model("Open Giant", 93.0), strict=True)))  # down
        await world.poll(*map(list, zip(frontier_model("Frontier Y", 95.6), strict=True)))  # up
        assert len(alerts(engine, "gap")) == 3
        world.clock.advance(timedelta(days=1, minutes=1))
        await dispatcher.drain()
        gap = [m for m in sender.sent if m.items[0].kind == "gap"]
        [message] = gap
        assert message.items[0].payload["title"] == "MMLU: the gap rose above 2 points"
        assert "+2.6 points" in message.items[0].payload["lines"][0]
    finally:
        await world.close()


async def test_a_crossing_after_one_the_server_saw_is_sent(engine: Engine) -> None:
    world = await baseline_world(engine)
    sender = ConsoleSender(io.StringIO())
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=world.clock)
    try:
        await world.poll(*map(list, zip(frontier_model(), strict=True)))
        await dispatcher.drain()  # the server sees "up"
        await world.poll(*map(list, zip(open_model("Open Giant", 93.0), strict=True)))
        await dispatcher.drain()
        titles = [m.items[0].payload["title"] for m in sender.sent if m.items[0].kind == "gap"]
        assert titles == [
            "MMLU: the gap rose above 2 points",
            "MMLU: the gap is back within 2 points",
        ]
    finally:
        await world.close()


async def test_digest_sends_one_message_a_day(engine: Engine) -> None:
    world = await baseline_world(engine)
    sender = ConsoleSender(io.StringIO())
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=world.clock)
    try:
        world.service.set_digest(GUILD, True)
        await world.poll([hf_model(8.0), hf_model(3.0)], [])
        await dispatcher.drain()
        assert sender.sent == []
        world.clock.now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
        await dispatcher.drain()
        [digest] = sender.sent
        assert digest.digest and len(digest.items) == 2 and len(digest.delivery_ids) == 2
        assert {d.state for d in deliveries(engine)} == {"sent"}
    finally:
        await world.close()


def subscribe(service: AlertService, user: int, code: str) -> None:
    service.subscribe(code=code, target_kind="user", target_id=user, guild_id=GUILD, user_id=user)


def test_resolution_job_stores_verdicts_and_alerts_only_subscribers(engine: Engine) -> None:
    clock = Clock()
    service = AlertService(engine, clock=clock)
    subscribe(service, 1, "OB-001")
    subscribe(service, 2, "ob-002")
    with session_scope(engine) as session:
        assert resolve_predictions(session, now=clock()) == []  # first judgement: a baseline
    clock.now = datetime(2026, 12, 31, 0, 5, tzinfo=UTC)
    with session_scope(engine) as session:
        changes = resolve_predictions(session, now=clock())
    assert changes == ["OB-001 resolved: hit", "OB-002 resolved: miss", "OB-003 resolved: miss"]
    with session_scope(engine) as session:
        row = session.exec(select(t.Prediction).where(t.Prediction.code == "OB-001")).one()
        assert (row.status, row.verdict, row.resolved_on) == ("hit", "hit", date(2026, 12, 31))
        assert row.evidence and row.evidence["summary"]
    targets = {
        (a.payload["code"], d.target_kind, d.target_id)
        for a in alerts(engine, "prediction")
        for d in deliveries(engine)
        if d.alert_id == a.id
    }
    assert targets == {("OB-001", "user", 1), ("OB-002", "user", 2)}
    with session_scope(engine) as session:
        assert resolve_predictions(session, now=clock()) == []  # the next run: nothing new


def test_unknown_prediction_code_gets_suggestions(engine: Engine) -> None:
    from frontier.errors import NotFoundError

    with pytest.raises(NotFoundError, match="did you mean OB-001"):
        subscribe(AlertService(engine), 1, "OB-01")


def test_source_down_for_hours_tells_admins_once(engine: Engine) -> None:
    clock = Clock()
    AlertService(engine, clock=clock).set_channel(GUILD, CHANNEL)
    with session_scope(engine) as session:
        session.add(
            t.Source(
                key="lmarena",
                name="LMArena",
                kind="poll",
                last_polled_at=clock() - timedelta(minutes=5),
                last_success_at=clock() - timedelta(hours=7),
                last_error="503 Service Unavailable",
                last_error_at=clock() - timedelta(minutes=5),
                consecutive_failures=2,
            )
        )
    with session_scope(engine) as session:
        assert check_sources(session, now=clock()) == []  # two failures: a blip
        session.exec(
            select(t.Source).where(t.Source.key == "lmarena")
        ).one().consecutive_failures = 3
    with session_scope(engine) as session:
        assert check_sources(session, now=clock()) == ["lmarena"]
    with session_scope(engine) as session:
        assert check_sources(session, now=clock()) == []
    [alert] = alerts(engine, "source_health")
    assert alert.payload["title"].startswith("Source LMArena has been failing since")


async def test_a_format_error_tells_the_servers_once_per_episode(engine: Engine) -> None:
    world = await baseline_world(engine)
    try:
        drift = SourceFormatError("required column 'Model version' is missing", source="epoch")
        await world.fail(drift)
        await world.fail(drift)  # the same episode: nothing more
        await world.fail(SourceUnavailableError("503 Service Unavailable", source="epoch"))
        [alert] = alerts(engine, "source_health")
        assert alert.payload["title"] == "Source epoch: its format may have changed"
        assert "required column 'Model version' is missing" in alert.payload["lines"][0]
        assert [(d.target_kind, d.target_id) for d in deliveries(engine)] == [("channel", CHANNEL)]
        await world.poll(*map(list, zip(filler_score(), strict=True)))  # parses again: over
        world.clock.advance(timedelta(hours=1))
        await world.fail(drift)  # a new episode
        assert len(alerts(engine, "source_health")) == 2
    finally:
        await world.close()


async def test_an_open_model_matching_a_proprietary_record_posts_a_catch_up(
    engine: Engine,
) -> None:
    world = await baseline_world(engine)
    try:
        model, score = frontier_model("Frontier X", 93.5)
        june = date(2026, 6, 1)
        model = model.model_copy(update={"released_on": june})
        await world.poll([model], [score.model_copy(update={"available_on": june})])
        assert alerts(engine, "catch_up") == []  # a proprietary record, not matched yet
        await world.poll(*map(list, zip(open_model("Open Giant", 93.6), strict=True)))
        [alert] = alerts(engine, "catch_up")
        assert alert.payload["title"] == (
            "Open Giant now matches Frontier X's MMLU level of 6 months ago"
        )
        assert alert.payload["lines"][0].startswith("Frontier X: 93.5% (2026-06-01) — source:")
        await world.poll(*map(list, zip(open_model("Open Giant", 93.6), strict=True)))
        assert len(alerts(engine, "catch_up")) == 1
    finally:
        await world.close()


def prediction(engine: Engine, code: str) -> t.Prediction:
    with session_scope(engine) as session:
        return session.exec(select(t.Prediction).where(t.Prediction.code == code)).one()


async def test_an_ingest_that_moves_a_prediction_alerts_its_followers(engine: Engine) -> None:
    world = await baseline_world(engine)  # the filler poll judged the predictions: a baseline
    try:
        subscribe(world.service, 7, "OB-001")
        assert prediction(engine, "OB-001").status == "on track"
        judged_at = prediction(engine, "OB-002").evaluated_at
        world.clock.advance(timedelta(hours=1))
        await world.poll([hf_model(8.0)], [])  # no scores changed: nothing re-judged
        assert prediction(engine, "OB-002").evaluated_at == judged_at
        await world.poll(*map(list, zip(frontier_model(), strict=True)))  # MMLU gap +2.7
        assert prediction(engine, "OB-001").status == "at risk"
        [alert] = alerts(engine, "prediction")
        assert alert.payload["title"] == "OB-001 on track → at risk"
        assert alert.dedupe_key == "prediction:OB-001:on track → at risk:2026-12-04"
        assert [
            (d.target_kind, d.target_id) for d in deliveries(engine) if d.alert_id == alert.id
        ] == [("user", 7)]
        world.clock.now = datetime(2026, 12, 5, 0, 5, tzinfo=UTC)
        with session_scope(engine) as session:
            assert resolve_predictions(session, now=world.clock()) == []  # noticed already
        world.clock.now = datetime(2026, 12, 31, 0, 5, tzinfo=UTC)
        with session_scope(engine) as session:
            assert "OB-001 resolved: hit" in resolve_predictions(session, now=world.clock())
    finally:
        await world.close()
