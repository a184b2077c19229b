"""Composition root: the one place that builds the engine, HTTP client, scheduler and bot."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.answers import Answers
from bot.health import HealthServer
from bot.metrics import Metrics
from bot.settings import Settings
from db import tables as t
from db.store import open_store
from jobs.alerts import AlertRules, AlertService, run_resolution, run_source_check
from jobs.delivery import ConsoleSender, Dispatcher, Sender
from jobs.ingest import IngestResult
from jobs.leader import Leadership, identity, instance_lock, leadership, startup_lock
from jobs.polling import Poller, ingest_bundled
from jobs.scheduler import build_scheduler, set_leading
from jobs.sources import SourcesConfig, build_sources
from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)


def open_data(settings: Settings) -> Engine:
    """The store, migrated, with the bundled dataset and the offline snapshots loaded.

    Processes starting together on one PostgreSQL database do this one after the other.
    """
    with startup_lock(settings.db_url):
        engine = open_store(settings.db_url)
        results = ingest_bundled(engine)
    for result in results:
        log.info("offline snapshot %s", result.summary())
    return engine


def make_answers(engine: Engine, settings: Settings) -> Answers:
    """The answer service with the configured defaults."""
    return Answers(
        engine,
        gap_threshold=settings.default_gap_threshold,
        vram_gib=settings.default_vram_gib,
        context=settings.default_context,
    )


def sources_config(settings: Settings) -> SourcesConfig:
    """The sources' plain configuration from the settings."""
    key = settings.artificial_analysis_api_key
    enabled = (
        {} if settings.sources_enabled is None else {"enabled": frozenset(settings.sources_enabled)}
    )
    return SourcesConfig(
        hf_authors=tuple(settings.hf_organizations),
        artificial_analysis_key=key.get_secret_value() if key else None,
        base_urls=dict(settings.source_base_urls),
        **enabled,
    )


@dataclass
class Runtime:
    """What a running bot holds: the store, the answers, the poller, the scheduler."""

    settings: Settings
    engine: Engine
    answers: Answers
    poller: Poller | None
    metrics: Metrics | None = None
    alert_service: AlertService | None = None
    dispatcher: Dispatcher | None = None
    leadership: Leadership | None = None

    def use_sender(self, sender: Sender) -> Dispatcher:
        """Deliver alerts through ``sender`` from now on (the console, or the Discord bot once
        it exists); the scheduler's delivery job picks it up on its next tick."""
        self.dispatcher = Dispatcher(engine=self.engine, sender=sender, worker=identity())
        return self.dispatcher

    async def deliver(self) -> None:
        """The delivery job: send what is due, if a sender is set yet; a backlog goes out in
        further passes while each claims a full batch, for at most DELIVER_TICK_SECONDS."""
        if self.dispatcher is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DELIVER_TICK_SECONDS
        while True:
            report = await self.dispatcher.run_once()
            if self.metrics is not None:
                for outcome, count in (
                    ("sent", report.sent),
                    ("retry", report.retried),
                    ("dead", report.dead),
                    ("held", report.held),
                    ("dropped", report.dropped),
                ):
                    for _ in range(count):
                        self.metrics.delivery(outcome)
            claimed = report.sent + report.retried + report.dead + report.held + report.dropped
            if claimed < self.dispatcher.batch or loop.time() >= deadline:
                return

    async def resolve(self) -> None:
        """The daily resolution job (00:05 UTC)."""
        changes = await asyncio.to_thread(run_resolution, self.engine)
        for change in changes:
            log.info("prediction %s", change)


def counting_alerts(
    after_ingest: Callable[[Session, IngestResult], None], metrics: Metrics
) -> Callable[[Session, IngestResult], None]:
    """``after_ingest`` that also counts, by kind, the alerts it wrote to the outbox."""

    def run(session: Session, result: IngestResult) -> None:
        newest = session.exec(select(func.max(t.Alert.id))).one() or 0
        after_ingest(session, result)
        written = session.exec(
            select(t.Alert.kind, func.count()).where(t.Alert.id > newest).group_by(t.Alert.kind)
        ).all()
        for kind, count in written:
            metrics.alert_created(kind, count)

    return run


DELIVER_TICK_SECONDS = 4.0
"""Longest delivery tick (the job runs every 5 s and must not overlap itself)."""


def _leader_only(
    leader: Leadership, job: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    """Skip a run that starts after this process lost the leadership (a fence in addition to
    pausing the job)."""

    async def run() -> None:
        if leader.is_leader:
            await job()
        else:
            log.info("skipping a leader-only job: this process no longer leads")

    return run


def _poll_job(poller: Poller, engine: Engine) -> Callable[[], Awaitable[None]]:
    """Poll the due sources, then check whether any has been failing for hours."""

    async def poll() -> None:
        await poller.poll_due()
        await asyncio.to_thread(run_source_check, engine)

    return poll


@asynccontextmanager
async def runtime(settings: Settings, *, console: TextIO | None = None) -> AsyncIterator[Runtime]:
    """Open everything in order and close it in reverse, whatever happens in between.

    On SQLite the process first takes the database's instance lock (one process per file).

    Args:
        settings: The configuration.
        console: Where console mode (no token) prints alerts; stdout by default.

    Raises:
        jobs.leader.InstanceLockedError: Another process runs on this SQLite database.
    """
    with instance_lock(settings.db_url):
        async with _runtime(settings, console=console) as rt:
            yield rt


def settle_heap() -> None:
    """Move everything start-up made (modules, tables, the store's reference rows) out of the
    garbage collector's way: a full collection then scans only what came later, instead of
    pausing a command or a chart for ~100 ms to walk objects that live as long as the process
    (``gc.freeze``; ``bench.latency`` measures with it too)."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def _runtime(settings: Settings, *, console: TextIO | None) -> AsyncIterator[Runtime]:
    engine = await asyncio.to_thread(open_data, settings)
    client = SourceClient()
    poller = None
    scheduler = None
    metrics = Metrics()
    health = None

    def leadership_changed(leading: bool) -> None:
        if scheduler is not None:
            set_leading(scheduler, leading)

    leader = leadership(settings.db_url, leadership_changed)
    rt = Runtime(
        settings,
        engine,
        make_answers(engine, settings),
        None,
        metrics,
        alert_service=AlertService(
            engine,
            threshold=settings.default_gap_threshold,
            hysteresis=settings.default_hysteresis,
            vram_gib=settings.default_vram_gib,
        ),
    )
    if settings.discord_token is None:
        # Console mode: alerts are printed in the terminal.
        from bot.alert_embeds import alert_text

        rt.use_sender(ConsoleSender(console or sys.stdout, alert_text))
    try:
        if settings.metrics_port is not None:
            health = HealthServer(metrics, engine, settings.metrics_port, settings.metrics_host)
            await health.start()
        if settings.poll_enabled:
            alert_rules = AlertRules(context=settings.default_context)
            poller = Poller(
                engine=engine,
                client=client,
                sources=build_sources(sources_config(settings)),
                interval=timedelta(minutes=settings.poll_interval_minutes),
                jitter_seconds=settings.poll_jitter_seconds,
                on_poll=metrics.observe_poll,
                after_ingest=counting_alerts(alert_rules.after_ingest, metrics),
                after_failure=alert_rules.after_failure,
            )
            rt.poller = poller
        # One attempt now, so the scheduler starts in the right role; then every few seconds.
        await leader.start()
        rt.leadership = leader
        scheduler = build_scheduler(
            poll=_leader_only(leader, _poll_job(poller, engine)) if poller is not None else None,
            resolve=_leader_only(leader, rt.resolve),
            deliver=rt.deliver,
            leading=leader.is_leader,
            on_error=metrics.job_error,
        )
        scheduler.start()
        settle_heap()
        yield rt
    finally:
        if health is not None:
            await health.stop()
        await leader.stop()  # pauses the leader-only jobs (callback), then frees the lock
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await client.aclose()
        engine.dispose()
