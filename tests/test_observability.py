"""Observability: /healthz and Prometheus /metrics, the counters behind them, JSON log lines."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import discord
import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from bot.answers import Answers
from bot.app import runtime
from bot.discord_bot import GapwatchBot, build_bot
from bot.health import HealthServer
from bot.logs import JsonFormatter, RedactingFilter
from bot.metrics import Metrics
from bot.settings import Settings
from jobs.ingest import IngestResult
from jobs.polling import Poller, PollOutcome
from jobs.sources.base import ScoreRecord, SourceBatch, SourceState, SourceUnavailableError
from jobs.sources.http import SourceClient
from tests.discord_emulator import DiscordEmulator, running_client
from tests.test_bot import TODAY

pytest_plugins = ("tests.discord_emulator.fixtures",)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
# Nothing listens on port 1: connecting fails at once ("connection refused").
DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/gone?connect_timeout=2"


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by (name, sorted labels), parsed as Prometheus does."""
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics).get((name, tuple(sorted(labels.items()))), 0.0)


# --- the counters ------------------------------------------------------------------------


def test_poll_outcomes_and_ingest_rows_are_counted() -> None:
    metrics = Metrics(clock=lambda: NOW)
    result = IngestResult("epoch")
    result.counts.update(scores_new=12, scores_unchanged=240, models_new=2)
    metrics.observe_poll(PollOutcome("epoch", True, result))
    metrics.observe_poll(PollOutcome("epoch", True, IngestResult("epoch", not_modified=True)))
    metrics.observe_poll(PollOutcome("lmarena", False, error="HTTP 503", failures=1))
    assert value(metrics, "gapwatch_polls_total", source="epoch", outcome="ok") == 1
    assert value(metrics, "gapwatch_polls_total", source="epoch", outcome="not_modified") == 1
    assert value(metrics, "gapwatch_polls_total", source="lmarena", outcome="error") == 1
    assert value(metrics, "gapwatch_ingest_rows_total", source="epoch", kind="scores_new") == 12
    assert value(metrics, "gapwatch_ingest_rows_total", source="epoch", kind="models_new") == 2
    assert metrics.last_poll == NOW
    same = IngestResult("epoch", same_records=300)
    metrics.observe_poll(PollOutcome("epoch", True, same))
    assert value(metrics, "gapwatch_ingest_rows_total", source="epoch", kind="records_same") == 300


def test_every_documented_metric_is_exported() -> None:
    metrics = Metrics()
    metrics.alert_created("gap_crossed")
    metrics.delivery("sent")
    metrics.delivery("rate_limited")
    metrics.observe_command("gap", "ok", 0.2)
    metrics.set_discord("connected")
    names = {name for name, _labels in samples(metrics)}
    assert {
        "gapwatch_up",
        "gapwatch_discord_connected",
        "gapwatch_database_up",
        "gapwatch_alerts_created_total",
        "gapwatch_deliveries_total",
        "gapwatch_command_seconds_bucket",
        "gapwatch_command_seconds_count",
    } <= names
    assert value(metrics, "gapwatch_deliveries_total", outcome="rate_limited") == 1
    assert value(metrics, "gapwatch_discord_connected") == 1
    assert value(metrics, "gapwatch_command_seconds_count", command="gap", outcome="ok") == 1


class _FakeSource:
    """A source whose next fetch fails or returns one score."""

    def __init__(self, key: str, *, fail: bool) -> None:
        self.key = key
        self.fail = fail

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        if self.fail:
            raise SourceUnavailableError("HTTP 503", source=self.key, status=503)
        score = ScoreRecord(model_name="GPT-4", benchmark="mmlu", value=86.4)
        return SourceBatch(self.key, NOW, "https://example.test/scores", scores=[score])


async def test_the_poller_reports_every_poll_to_its_callback(engine) -> None:
    metrics = Metrics(clock=lambda: NOW)
    async with SourceClient() as client:
        poller = Poller(
            engine=engine,
            client=client,
            sources=[_FakeSource("good", fail=False), _FakeSource("bad", fail=True)],
            clock=lambda: NOW,
            on_poll=metrics.observe_poll,
        )
        outcomes = await poller.poll_due()
    assert {o.source: o.ok for o in outcomes} == {"good": True, "bad": False}
    assert value(metrics, "gapwatch_polls_total", source="good", outcome="ok") == 1
    assert value(metrics, "gapwatch_polls_total", source="bad", outcome="error") == 1
    written = sum(
        v
        for (name, labels), v in samples(metrics).items()
        if name == "gapwatch_ingest_rows_total" and ("source", "good") in labels
    )
    assert written >= 1


async def test_a_failing_callback_does_not_break_polling(engine) -> None:
    def broken(_outcome: PollOutcome) -> None:
        raise RuntimeError("metrics backend exploded")

    async with SourceClient() as client:
        poller = Poller(
            engine=engine,
            client=client,
            sources=[_FakeSource("good", fail=False)],
            clock=lambda: NOW,
            on_poll=broken,
        )
        outcome = await poller.poll("good")
    assert outcome.ok


# --- the endpoints -----------------------------------------------------------------------


@pytest_asyncio.fixture
async def health(engine) -> AsyncIterator[tuple[HealthServer, Metrics]]:
    metrics = Metrics(clock=lambda: NOW)
    server = HealthServer(metrics, engine, port=0)
    await server.start()
    try:
        yield server, metrics
    finally:
        await server.stop()


async def test_healthz_reports_database_discord_and_last_poll(health) -> None:
    server, metrics = health
    metrics.observe_poll(PollOutcome("epoch", True, IngestResult("epoch")))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        response = await http.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "database": "ok",
            "discord": "console",
            "last_poll": NOW.isoformat(),
        }
        scrape = await http.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(scrape.text)}
    assert {"gapwatch_up", "gapwatch_polls", "gapwatch_command_seconds"} <= families
    assert value(metrics, "gapwatch_up") == 1
    assert value(metrics, "gapwatch_database_up") == 1


async def test_healthz_is_503_while_the_database_is_down() -> None:
    dead = create_engine(DEAD_POSTGRES)
    metrics = Metrics()
    server = HealthServer(metrics, dead, port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            response = await http.get("/healthz")
    finally:
        await server.stop()
        dead.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "error"
    assert response.json()["status"] == "degraded"
    assert value(metrics, "gapwatch_database_up") == 0
    assert value(metrics, "gapwatch_up") == 0  # stopped


def test_the_metrics_port_is_off_by_default_and_validated() -> None:
    assert Settings(_env_file=None).metrics_port is None  # type: ignore[call-arg]
    assert Settings(_env_file=None, metrics_port=9464).metrics_port == 9464  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Settings(_env_file=None, metrics_port=70000)  # type: ignore[call-arg]


async def test_runtime_serves_health_when_configured_and_stops_with_it(db_url) -> None:
    import socket

    with socket.socket() as probe:  # a free port for the runtime to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=db_url, poll_enabled=False, metrics_port=port
    )
    gc.unfreeze()
    async with runtime(settings) as rt:
        assert rt.metrics is not None
        # Start-up's objects are out of the collector's way (no full-heap pauses later).
        assert gc.get_freeze_count() > 0
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 200
        assert response.json()["discord"] == "console"
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/healthz")


# --- command latency and the gateway state, over the wire ---------------------------------


class _RecordingMetrics(Metrics):
    """Metrics that also signal each observation, so tests wait on events, not on time."""

    def __init__(self) -> None:
        super().__init__()
        self.events: defaultdict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)

    def observe_command(self, command: str, outcome: str, seconds: float) -> None:
        super().observe_command(command, outcome, seconds)
        self.events["command", f"{command}:{outcome}"].set()

    def set_discord(self, state) -> None:  # type: ignore[no-untyped-def]
        super().set_discord(state)
        self.events["discord", state].set()

    async def wait(self, kind: str, what: str) -> None:
        await asyncio.wait_for(self.events[kind, what].wait(), 5)


@pytest_asyncio.fixture
async def metered_bot(
    engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> AsyncIterator[tuple[GapwatchBot, _RecordingMetrics]]:
    metrics = _RecordingMetrics()
    client = build_bot(
        Answers(engine, today=lambda: TODAY), metrics=metrics, **discord_client_options
    )
    async with running_client(client, discord_emulator.token):
        guild = discord.Object(discord_emulator.guild_id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client, metrics


async def test_commands_are_timed_by_command_and_outcome(
    metered_bot, discord_emulator: DiscordEmulator
) -> None:
    _bot, metrics = metered_bot
    await metrics.wait("discord", "connected")
    about = await discord_emulator.send_command("about")
    await about.wait_for_callback()
    await metrics.wait("command", "about:ok")
    typo = await discord_emulator.send_command("gap", {"benchmark": "mmul"})
    await typo.wait_for_callback()
    await metrics.wait("command", "gap:refused")
    assert value(metrics, "gapwatch_command_seconds_count", command="about", outcome="ok") == 1
    assert value(metrics, "gapwatch_command_seconds_sum", command="about", outcome="ok") < 3.0
    autocomplete = await discord_emulator.send_autocomplete(
        "gap", {"benchmark": "mm"}, focused="benchmark"
    )
    await autocomplete.wait_for_callback()
    commands = {dict(labels).get("command") for (_name, labels) in samples(metrics)}
    assert commands - {None} == {"about", "gap"}  # autocomplete is not a command answer


async def test_gateway_state_follows_disconnect_and_resume(
    metered_bot, discord_emulator: DiscordEmulator
) -> None:
    _bot, metrics = metered_bot
    await metrics.wait("discord", "connected")
    metrics.events["discord", "connected"].clear()
    [session] = await discord_emulator.disconnect_gateway()
    await discord_emulator.wait_until_resumed(session)
    await metrics.wait("discord", "connected")
    assert metrics.discord == "connected"
    assert value(metrics, "gapwatch_discord_connected") == 1


# --- JSON log lines ----------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """A JSON-lines handler (as ``GAPWATCH_LOG_JSON=true`` installs it) on a test logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(["a-secret-token-value"]))
    logger = logging.getLogger("gapwatch.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_each_json_log_line_is_an_object_with_the_fields(json_log: io.StringIO) -> None:
    logger = logging.getLogger("gapwatch.test.json")
    logger.info("poll %s: %d new", "epoch", 3)
    logger.warning('a name with\nnewlines and "quotes" and ünïcode ‮ RTL')
    logger.debug("token a-secret-token-value leaked?")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("command failed")
    lines = json_log.getvalue().splitlines()
    assert len(lines) == 4  # newlines in messages stay inside one JSON line
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry)
        assert datetime.fromisoformat(entry["time"]).tzinfo is not None
        assert entry["logger"] == "gapwatch.test.json"
    assert entries[0]["message"] == "poll epoch: 3 new"
    assert entries[0]["level"] == "INFO"
    assert "a-secret-token-value" not in json_log.getvalue()
    assert "ValueError: boom" in entries[3]["exception"]


def test_alerts_written_by_an_ingest_are_counted_by_kind(engine) -> None:
    from bot.app import counting_alerts
    from bot.metrics import Metrics
    from db import tables as t
    from db.engine import session_scope
    from jobs.ingest import IngestResult

    metrics = Metrics()

    def write_two(session, _result) -> None:  # type: ignore[no-untyped-def]
        for key in ("a", "b"):
            session.add(t.Alert(dedupe_key=f"test:{key}", kind="fits", payload={}))
        session.flush()

    with session_scope(engine) as session:
        counting_alerts(write_two, metrics)(session, IngestResult(source="test"))
    text = metrics.exposition().decode()
    assert 'gapwatch_alerts_created_total{kind="fits"} 2.0' in text


async def test_a_failing_scheduled_job_is_logged_counted_and_survived(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bot.metrics import Metrics
    from jobs.scheduler import guarded

    metrics = Metrics()
    runs = []

    async def broken() -> None:
        runs.append(1)
        raise RuntimeError("boom")

    job = guarded("poll", broken, metrics.job_error)
    await job()
    await job()  # the wrapper never lets the error reach the scheduler
    assert len(runs) == 2
    assert 'gapwatch_job_errors_total{job="poll"} 2.0' in metrics.exposition().decode()
    assert "scheduled job poll failed" in caplog.text
