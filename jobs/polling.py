"""Polling sources: fetch, ingest in one transaction, remember failures and back off.

A source's schedule lives in the store (``source.last_success_at``, ``last_error_at``,
``consecutive_failures``), so a restart picks up where the last process left off: a source
that came due while the bot was down is polled at once. One tick job polls every due source;
a failing source waits 1, 2, 4 … minutes (capped at its interval) and does not hold up the
others. A failure is logged once (at WARNING) when it starts and once when it ends.

An unchanged source (304, or the same content hash) writes nothing: its check time is kept in
the poller's memory, so after a restart it costs one conditional request before the schedule
settles again. Every blocking step (the store, parsing big payloads) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
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
AfterFailure = Callable[[Session, str, SourceError], None]
OnPoll = Callable[["PollOutcome"], None]

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


def next_due(
    row: t.Source | None,
    interval: timedelta,
    jitter_seconds: int = 0,
    *,
    checked_at: datetime | None = None,
) -> datetime | None:
    """When a source should next be polled; None means now (never polled).

    Args:
        row: The source's row (None: never seen).
        interval: How often the source is polled while healthy.
        jitter_seconds: Spread of the stable per-source offset.
        checked_at: The last poll that found nothing new, which the store does not record
            (an unchanged poll writes nothing); the poller keeps it in memory.
    """
    if row is None or (row.last_polled_at is None and checked_at is None):
        return None
    if row.consecutive_failures > 0 and row.last_error_at is not None:
        return row.last_error_at + backoff(row.consecutive_failures, interval)
    # Healthy: the last poll of any outcome was a success (a failure would be counted).
    last = max(s for s in (row.last_success_at, row.last_polled_at, checked_at) if s is not None)
    return last + interval + jitter(row.key, jitter_seconds)


class UnknownSourceError(KeyError):
    """A source key that is not among the poller's sources; the message lists the valid ones."""

    def __init__(self, key: str, valid: Sequence[str]) -> None:
        super().__init__(key)
        self.message = f"unknown source {key!r}; valid sources: {', '.join(valid) or 'none'}"

    def __str__(self) -> str:
        return self.message


class Poller:
    """Polls sources into the store.

    Args:
        engine: The store.
        client: The shared HTTP client.
        sources: The enabled sources.
        interval: How often a healthy source is polled.
        intervals: Per-source intervals overriding ``interval`` (by source key).
        jitter_seconds: Spread of the per-source offset.
        after_ingest: Called in the ingest's transaction with its result (the alert rules),
            so alerts are written atomically with the data that caused them.
        after_failure: Called with the source's error in the transaction that records a
            failed fetch (the alert rules: format drift).
        clock: The time (tests control it).
        on_poll: Called with every poll's outcome (the metrics); its errors are logged only.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        client: SourceClient,
        sources: Sequence[Source],
        interval: timedelta = timedelta(hours=6),
        intervals: Mapping[str, timedelta] | None = None,
        jitter_seconds: int = 0,
        after_ingest: AfterIngest | None = None,
        after_failure: AfterFailure | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_poll: OnPoll | None = None,
    ) -> None:
        self.engine = engine
        self.on_poll = on_poll
        self.client = client
        self.sources = {source.key: source for source in sources}
        self.interval = interval
        self.intervals = dict(intervals or {})
        self.jitter_seconds = jitter_seconds
        self.after_ingest = after_ingest
        self.after_failure = after_failure
        self.clock = clock
        # Unchanged polls write nothing, so their time lives here (a restart costs one
        # conditional request per source).
        self.checked_at: dict[str, datetime] = {}
        self._locks = {key: asyncio.Lock() for key in self.sources}

    def interval_of(self, key: str) -> timedelta:
        """The polling interval of one source."""
        return self.intervals.get(key, self.interval)

    def _rows(self) -> dict[str, t.Source]:
        with session_scope(self.engine) as session:
            return {row.key: row for row in session.exec(select(t.Source))}

    def next_due(self, key: str, row: t.Source | None) -> datetime | None:
        """When ``key`` is next due (None: now)."""
        return next_due(
            row, self.interval_of(key), self.jitter_seconds, checked_at=self.checked_at.get(key)
        )

    async def due(self) -> list[str]:
        """Keys of the sources due now."""
        rows = await asyncio.to_thread(self._rows)
        now = self.clock()
        due = []
        for key in self.sources:
            when = self.next_due(key, rows.get(key))
            if when is None or when <= now:
                due.append(key)
        return due

    async def poll_due(self) -> list[PollOutcome]:
        """Poll every due source, one after another; one source's failure is its own."""
        outcomes = []
        for key in await self.due():
            try:
                outcomes.append(await self.poll(key))
            except Exception:  # e.g. the store itself is down: still try the next source
                log.exception("%s: poll crashed", key)
        return outcomes

    async def poll(self, key: str) -> PollOutcome:
        """Poll one source now, whatever its schedule.

        Raises:
            UnknownSourceError: ``key`` is not one of the poller's sources.
        """
        if key not in self.sources:
            raise UnknownSourceError(key, list(self.sources))
        async with self._locks[key]:
            outcome = await self._poll(key)
        if self.on_poll is not None:
            try:
                self.on_poll(outcome)
            except Exception:  # metrics must never break polling
                log.exception("%s: on_poll callback failed", key)
        return outcome

    async def _poll(self, key: str) -> PollOutcome:
        rows = await asyncio.to_thread(self._rows)
        row = rows.get(key)
        state = SourceState(row.etag, row.last_modified, row.content_hash) if row else SourceState()
        was_failing = bool(row and row.consecutive_failures)
        try:
            batch = await self.sources[key].fetch(self.client, state)
        except SourceError as exc:
            return await self._failed(key, str(exc.message), was_failing, exc)
        except Exception as exc:  # an adapter bug must not stop the other sources
            log.exception("%s: fetch crashed", key)
            return await self._failed(key, f"fetch failed: {type(exc).__name__}", was_failing)
        try:
            result = await asyncio.to_thread(self.ingest, batch)
        except Exception as exc:
            log.exception("%s: ingest failed; the store is unchanged", key)
            return await self._failed(key, f"ingest failed: {type(exc).__name__}", was_failing)
        if result.not_modified:
            self.checked_at[key] = self.clock()
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

    async def _failed(
        self, key: str, error: str, was_failing: bool, exc: SourceError | None = None
    ) -> PollOutcome:
        def note() -> int:
            with session_scope(self.engine) as session:
                failures = record_failure(session, key, error, at=self.clock())
                if self.after_failure is not None and exc is not None:
                    self.after_failure(session, key, exc)
                return failures

        failures = await asyncio.to_thread(note)
        wait = backoff(failures, self.interval_of(key))
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
    from jobs.sources.bundled import SNAPSHOT_TAKEN, load_bundled

    results = []
    with session_scope(engine) as session:
        polled = {
            row.key for row in session.exec(select(t.Source)) if row.last_success_at is not None
        }
        loaded = {
            key.removeprefix("snapshot:")
            for key in session.exec(select(t.Meta.key).where(t.Meta.key.startswith("snapshot:")))  # type: ignore[attr-defined]
        }
    if batches is None:
        if set(SNAPSHOT_TAKEN) <= polled | loaded:
            return []  # nothing to load: skip parsing the snapshots on every start
        batches = load_bundled()
    for batch in batches:
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
