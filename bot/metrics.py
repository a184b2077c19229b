"""Prometheus metrics and the health state the ``/healthz`` endpoint reports.

The composition root builds one :class:`Metrics` (its own registry: no process globals, so
tests and two runtimes in one process never share counters) and hands it down: the poller
gets :meth:`Metrics.observe_poll` as a plain callback (``jobs`` never imports ``bot``), the
command tree times every command, and the alert and delivery jobs can call
:meth:`alert_created` and :meth:`delivery` the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from jobs.polling import PollOutcome

DiscordState = Literal["connected", "disconnected", "console"]

# Ingest counters worth a time series (IngestResult.counts keys), plus "rejected".
INGEST_KINDS = (
    "models_new",
    "models_updated",
    "benchmarks_new",
    "scores_new",
    "scores_changed",
    "scores_unchanged",
)

# Commands answer from the store in milliseconds; charts take a few hundred; Discord's
# deadline for the first response is 3 s.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Every counter gapwatch exports, and what ``/healthz`` reports besides the database.

    Args:
        clock: Wall-clock time for ``last_poll`` (tests pass a fixed one).
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.clock = clock
        r = self.registry
        self.up = Gauge("gapwatch_up", "1 while the process is serving.", registry=r)
        self.discord_connected = Gauge(
            "gapwatch_discord_connected", "1 while the Discord gateway is connected.", registry=r
        )
        self.database_up = Gauge(
            "gapwatch_database_up", "1 if the last health check reached the database.", registry=r
        )
        self.polls = Counter(
            "gapwatch_polls",
            "Source polls by source and outcome.",
            ["source", "outcome"],
            registry=r,
        )
        self.ingest_rows = Counter(
            "gapwatch_ingest_rows",
            "Rows an ingest wrote, left unchanged or rejected, by source and kind.",
            ["source", "kind"],
            registry=r,
        )
        self.alerts = Counter(
            "gapwatch_alerts_created",
            "Alerts written to the outbox, by kind.",
            ["kind"],
            registry=r,
        )
        self.deliveries = Counter(
            "gapwatch_deliveries", "Alert delivery attempts by outcome.", ["outcome"], registry=r
        )
        self.job_errors = Counter(
            "gapwatch_job_errors", "Scheduled job runs that failed, by job.", ["job"], registry=r
        )
        self.command_seconds = Histogram(
            "gapwatch_command_seconds",
            "Time from receiving a command to its answer, by command and outcome.",
            ["command", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.discord: DiscordState = "console"
        self.last_poll: datetime | None = None

    # --- callbacks handed to the jobs ----------------------------------------------------

    def observe_poll(self, outcome: PollOutcome) -> None:
        """Count one poll and what its ingest did (the poller's ``on_poll`` callback)."""
        result = outcome.result
        if not outcome.ok:
            label = "error"
        elif result is not None and result.not_modified:
            label = "not_modified"
        else:
            label = "ok"
        self.polls.labels(outcome.source, label).inc()
        self.last_poll = self.clock()
        if result is None:
            return
        for kind in INGEST_KINDS:
            if result.counts[kind]:
                self.ingest_rows.labels(outcome.source, kind).inc(result.counts[kind])
        if result.rejected:
            self.ingest_rows.labels(outcome.source, "rejected").inc(len(result.rejected))
        if result.same_records:
            # New bytes, the same records as the last poll: recognised by their digest.
            self.ingest_rows.labels(outcome.source, "records_same").inc(result.same_records)

    def alert_created(self, kind: str, count: int = 1) -> None:
        """Count alerts written to the outbox."""
        self.alerts.labels(kind).inc(count)

    def job_error(self, job: str) -> None:
        """Count a failed scheduled job run (``poll``, ``resolve``, ``deliver``)."""
        self.job_errors.labels(job).inc()

    def delivery(self, outcome: str) -> None:
        """Count one delivery attempt: ``sent``, ``retry``, ``rate_limited``, ``gave_up`` …"""
        self.deliveries.labels(outcome).inc()

    # --- the bot's state -------------------------------------------------------------------

    def set_discord(self, state: DiscordState) -> None:
        """The gateway connected, disconnected, or there is none (console mode)."""
        self.discord = state
        self.discord_connected.set(1 if state == "connected" else 0)

    def observe_command(self, command: str, outcome: str, seconds: float) -> None:
        """One command's latency: ``ok``, ``refused``, ``db_unavailable`` or ``error``."""
        self.command_seconds.labels(command, outcome).observe(max(seconds, 0.0))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def started_at() -> float:
    """A monotonic start time for :meth:`Metrics.observe_command`."""
    return time.monotonic()
