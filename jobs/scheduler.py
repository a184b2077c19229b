"""The scheduler: APScheduler's AsyncIOScheduler on the bot's event loop, in UTC.

Jobs are plain async functions bound here with explicit ids; each runs at most once at a time
(``max_instances=1``), missed runs collapse into one (``coalesce``) and may start late by up
to a grace time. Errors are logged by the job wrapper and never stop the scheduler. Tests call
the job functions directly and never wait on the scheduler's clock.

With several processes on one database only the leader (``jobs.leader``) runs the poll and
resolution jobs (:data:`LEADER_JOBS`): a follower builds its scheduler with ``leading=False``,
which adds them paused, and :func:`set_leading` resumes them when it becomes the leader (the
poll at once, so a handover does not wait for the next interval) or pauses them when it stops
being it. A run already under way finishes (an ingest is one transaction, alerts have dedupe
keys). Delivery runs everywhere: workers claim rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}

POLL_JOB = "poll-sources"
RESOLVE_JOB = "resolve-predictions"
DELIVER_JOB = "deliver-alerts"
LEADER_JOBS = (POLL_JOB, RESOLVE_JOB)
"""Jobs that must run in one process only (the leader)."""


def guarded(name: str, job: Job, on_error: Callable[[str], None] | None = None) -> Job:
    """Wrap a job so an exception is logged with its name (and counted through ``on_error``)
    and never escapes to the scheduler."""

    async def run() -> None:
        try:
            await job()
        except asyncio.CancelledError:
            # Shutdown cancels a job in flight; its work is transactional, so nothing is lost
            # and there is nothing to report (APScheduler would log it as a failure).
            log.debug("scheduled job %s cancelled at shutdown", name)
        except Exception:
            log.exception("scheduled job %s failed", name)
            if on_error is not None:
                on_error(name)

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
    leading: bool = True,
    on_error: Callable[[str], None] | None = None,
) -> AsyncIOScheduler:
    """The scheduler with gapwatch's jobs (each optional); start it inside the event loop.

    Args:
        poll: Polls the sources that are due (each source keeps its own interval and backoff).
        poll_every_seconds: How often to check for due sources.
        first_poll_after_seconds: Delay of the first check after start.
        resolve: Resolves predictions whose verification date has passed (00:05 UTC daily).
        deliver: Sends due alert deliveries.
        deliver_every_seconds: How often the delivery dispatcher looks for due deliveries.
        leading: Whether this process leads; a follower gets the leader-only jobs paused.
        on_error: Called with a job's name when a run fails (the metrics' job error counter).
    """
    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
    if poll is not None:
        scheduler.add_job(
            guarded("poll", poll, on_error),
            IntervalTrigger(seconds=poll_every_seconds, timezone=UTC),
            id=POLL_JOB,
            replace_existing=True,
            # First check soon after start: sources due while the bot was down poll at once.
            next_run_time=_soon(first_poll_after_seconds) if leading else None,
        )
    if resolve is not None:
        scheduler.add_job(
            guarded("resolve", resolve, on_error),
            CronTrigger(hour=0, minute=5, timezone=UTC),
            id=RESOLVE_JOB,
            replace_existing=True,
            misfire_grace_time=6 * 3600,
        )
        if not leading:
            scheduler.pause_job(RESOLVE_JOB)
    if deliver is not None:
        scheduler.add_job(
            guarded("deliver", deliver, on_error),
            IntervalTrigger(seconds=deliver_every_seconds, timezone=UTC),
            id=DELIVER_JOB,
            replace_existing=True,
            misfire_grace_time=60,
        )
    return scheduler


def _soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def set_leading(
    scheduler: AsyncIOScheduler, leading: bool, *, first_poll_after_seconds: float = 1
) -> None:
    """Resume the leader-only jobs (the poll due almost at once) or pause them.

    Args:
        scheduler: A scheduler from :func:`build_scheduler`.
        leading: Whether this process now leads.
        first_poll_after_seconds: Delay of the new leader's first poll.
    """
    for job_id in LEADER_JOBS:
        job = scheduler.get_job(job_id)
        if job is None:
            continue
        if not leading:
            job.pause()
        elif job_id == POLL_JOB:
            job.modify(next_run_time=_soon(first_poll_after_seconds))
        elif job.next_run_time is None:
            job.resume()
    log.info("scheduler: leader-only jobs %s", "running" if leading else "paused")
