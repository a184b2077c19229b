"""The scheduler: APScheduler's AsyncIOScheduler on the bot's event loop, in UTC.

Jobs are plain async functions bound here with explicit ids; each runs at most once at a time
(``max_instances=1``), missed runs collapse into one (``coalesce``) and may start late by up
to a grace time. Errors are logged by the job wrapper and never stop the scheduler. Tests call
the job functions directly and never wait on the scheduler's clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def guarded(name: str, job: Job) -> Job:
    """Wrap a job so an exception is logged with its name and never escapes to the scheduler."""

    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("scheduled job %s failed", name)

    run.__name__ = f"job_{name}"
    return run


def build_scheduler(
    *,
    poll: Job | None = None,
    poll_every_seconds: int = 60,
    first_poll_after_seconds: float = 5,
    resolve: Job | None = None,
    deliver: Job | None = None,
    deliver_every_seconds: int = 5,
) -> AsyncIOScheduler:
    """The scheduler with gapwatch's jobs (each optional); start it inside the event loop.

    Args:
        poll: Polls the sources that are due (each source keeps its own interval and backoff).
        poll_every_seconds: How often to check for due sources.
        first_poll_after_seconds: Delay of the first check after start.
        resolve: Resolves predictions whose verification date has passed (00:05 UTC daily).
        deliver: Sends due alert deliveries.
        deliver_every_seconds: How often the delivery dispatcher looks for due deliveries.
    """
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
    if poll is not None:
        scheduler.add_job(
            guarded("poll", poll),
            IntervalTrigger(seconds=poll_every_seconds, timezone=UTC),
            id="poll-sources",
            replace_existing=True,
            # First check soon after start: sources due while the bot was down poll at once.
            next_run_time=datetime.now(UTC) + timedelta(seconds=first_poll_after_seconds),
        )
    if resolve is not None:
        scheduler.add_job(
            guarded("resolve", resolve),
            CronTrigger(hour=0, minute=5, timezone=UTC),
            id="resolve-predictions",
            replace_existing=True,
            misfire_grace_time=6 * 3600,
        )
    if deliver is not None:
        scheduler.add_job(
            guarded("deliver", deliver),
            IntervalTrigger(seconds=deliver_every_seconds, timezone=UTC),
            id="deliver-alerts",
            replace_existing=True,
            misfire_grace_time=60,
        )
    return scheduler
