"""Polling sources: fetch, ingest in one transaction, remember failures and back off.

A source's schedule lives in the store (``source.last_success_at``, ``last_error_at``,
``consecutive_failures``), so a restart picks up where the last process left off: a source
that came due while the bot was down is polled at once. One tick job polls every due source;
a failing source waits 1, 2, 4 … minutes (capped at its interval) and does not hold up the
others. A failure is logged once (at WARNING) when it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from db import tables as t
from db.engine import session_scope
from db.types import utcnow
from jobs.ingest import IngestResult, ingest_batch, record_failure
from jobs.sources.base import Source, SourceBatch, SourceError, SourceState
from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)

AfterIngest = Callable[[Session, IngestResult], None]

FIRST_RETRY = timedelta(minutes=1)


@dataclass(frozen=True)
class PollOutcome:
    """How one poll went."""

    source: str
    ok: bool
    result: IngestResult | None = None
    error: str | None = None
    failures: int = 0

    def summary(self) -> str:
        """One line for the console, the CLI and the logs."""
        if self.ok and self.result is not None:
            return self.result.summary()
        return f"{self.source}: failed ({self.failures} in a row): {self.error}"


def backoff(failures: int, interval: timedelta) -> timedelta:
    """Wait after ``failures`` consecutive failures: 1, 2, 4 … minutes, at most ``interval``."""
    if failures <= 0:
        return interval
    return min(interval, FIRST_RETRY * 2 ** min(failures - 1, 20))


def jitter(key: str, seconds: int) -> timedelta:
    """A stable per-source offset so sources do not all poll in the same second."""
    if seconds <= 0:
        return timedelta(0)
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return timedelta(seconds=digest % seconds)


def next_due(row: t.Source | None, interval: timedelta, jitter_seconds: int = 0) -> datetime | None:
    """When a source should next be polled; None means now (never polled)."""
    if row is None or row.last_polled_at is None:
        return None
    if row.consecutive_failures > 0 and row.last_error_at is not None:
        return row.last_error_at + backoff(row.consecutive_failures, interval)
    base = row.last_success_at or row.last_polled_at
    return base + interval + jitter(row.key, jitter_seconds)


class Poller:
    """Polls sources into the store.

    Args:
        engine: The store.
        client: The shared HTTP client.
        sources: The enabled sources.
        interval: How often a healthy source is polled.
        jitter_seconds: Spread of the per-source offset.
        after_ingest: Called in the ingest's transaction with its result (the alert rules),
            so alerts are written atomically with the data that caused them.
        clock: The time (tests control it).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        client: SourceClient,
        sources: Sequence[Source],
        interval: timedelta = timedelta(hours=6),
        jitter_seconds: int = 0,
        after_ingest: AfterIngest | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.client = client
        self.sources = {source.key: source for source in sources}
        self.interval = interval
        self.jitter_seconds = jitter_seconds
        self.after_ingest = after_ingest
        self.clock = clock

    def _rows(self) -> dict[str, t.Source]:
        with session_scope(self.engine) as session:
            return {row.key: row for row in session.exec(select(t.Source))}

    async def due(self) -> list[str]:
        """Keys of the sources due now."""
        rows = await asyncio.to_thread(self._rows)
        now = self.clock()
        due = []
        for key in self.sources:
            when = next_due(rows.get(key), self.interval, self.jitter_seconds)
            if when is None or when <= now:
                due.append(key)
        return due

    async def poll_due(self) -> list[PollOutcome]:
        """Poll every due source, one after another (each failure is its own)."""
        return [await self.poll(key) for key in await self.due()]

    async def poll(self, key: str) -> PollOutcome:
        """Poll one source now, whatever its schedule."""
        source = self.sources[key]
        rows = await asyncio.to_thread(self._rows)
        row = rows.get(key)
        state = SourceState(row.etag, row.last_modified, row.content_hash) if row else SourceState()
        was_failing = bool(row and row.consecutive_failures)
        try:
            batch = await source.fetch(self.client, state)
        except SourceError as exc:
            return await self._failed(key, str(exc.message), was_failing)
        try:
            result = await asyncio.to_thread(self.ingest, batch)
        except Exception as exc:
            log.exception("%s: ingest failed; the store is unchanged", key)
            return await self._failed(key, f"ingest failed: {type(exc).__name__}", was_failing)
        if was_failing:
            log.warning("%s: polling works again", key)
        log.info("%s", result.summary())
        return PollOutcome(key, True, result)

    def ingest(self, batch: SourceBatch) -> IngestResult:
        """Write a batch and run ``after_ingest`` in one transaction."""
        with session_scope(self.engine) as session:
            result = ingest_batch(session, batch, at=self.clock())
            if self.after_ingest is not None and not result.not_modified:
                self.after_ingest(session, result)
        return result

    async def _failed(self, key: str, error: str, was_failing: bool) -> PollOutcome:
        def note() -> int:
            with session_scope(self.engine) as session:
                return record_failure(session, key, error, at=self.clock())

        failures = await asyncio.to_thread(note)
        wait = backoff(failures, self.interval)
        if not was_failing:
            log.warning("%s: poll failed: %s (retrying with backoff, next in %s)", key, error, wait)
        else:
            log.debug("%s: still failing (%d): %s", key, failures, error)
        return PollOutcome(key, False, error=error, failures=failures)


def ingest_bundled(
    engine: Engine, batches: Sequence[SourceBatch] | None = None
) -> list[IngestResult]:
    """Ingest the offline snapshots once, into sources that no live poll has filled yet.

    Idempotent: a source whose row already holds this snapshot (same content hash) or data
    from a live poll is skipped.
    """
    from jobs.sources.bundled import load_bundled

    results = []
    with session_scope(engine) as session:
        polled = {
            row.key for row in session.exec(select(t.Source)) if row.last_success_at is not None
        }
        loaded = {
            key.removeprefix("snapshot:")
            for key in session.exec(select(t.Meta.key).where(t.Meta.key.startswith("snapshot:")))  # type: ignore[attr-defined]
        }
    for batch in batches if batches is not None else load_bundled():
        if batch.source in polled or batch.source in loaded:
            continue
        with session_scope(engine) as session:
            result = ingest_batch(session, batch)
            # A snapshot is not a poll: the live source is still due at the first tick.
            source = session.exec(select(t.Source).where(t.Source.key == batch.source)).one()
            source.last_polled_at = None
            source.last_success_at = None
            source.etag = None
            source.last_modified = None
            source.content_hash = None
            session.add(t.Meta(key=f"snapshot:{batch.source}"[:64], value=batch.content_hash or ""))
        results.append(result)
    return results
