"""Composition root: the one place that builds the engine, HTTP client, scheduler and bot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from bot.answers import Answers
from bot.settings import Settings
from db.store import open_store
from jobs.polling import Poller, ingest_bundled
from jobs.scheduler import build_scheduler
from jobs.sources import SourcesConfig, build_sources
from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)


def open_data(settings: Settings) -> Engine:
    """The store, migrated, with the bundled dataset and the offline snapshots loaded."""
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


@asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open everything in order and close it in reverse, whatever happens in between."""
    engine = await asyncio.to_thread(open_data, settings)
    client = SourceClient()
    poller = None
    scheduler = None
    try:
        if settings.poll_enabled:
            poller = Poller(
                engine=engine,
                client=client,
                sources=build_sources(sources_config(settings)),
                interval=timedelta(minutes=settings.poll_interval_minutes),
                jitter_seconds=settings.poll_jitter_seconds,
            )
            scheduler = build_scheduler(poll=poller.poll_due)
            scheduler.start()
        yield Runtime(settings, engine, make_answers(engine, settings), poller)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await client.aclose()
        engine.dispose()
