"""Leader election on a real PostgreSQL database (two elections, one lock), the SQLite sole
leader, and the scheduler's leader-only jobs following the role. No sleeps: ticks are driven
by hand, or waited for with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest
import pytest_asyncio

from jobs.leader import (
    LEADER_LOCK_KEY,
    LeaderElection,
    SoleLeader,
    leadership,
    libpq_conninfo,
    startup_lock,
)
from jobs.scheduler import DELIVER_JOB, POLL_JOB, RESOLVE_JOB, build_scheduler, set_leading

POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> float:
    """Re-check ``check`` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def lock_holders(db_url: str) -> list[str]:
    """``application_name`` of every session holding the leader lock in this database."""
    with psycopg.connect(libpq_conninfo(db_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.database = a.datid"
            " AND a.datname = current_database() AND l.classid = %s AND l.objid = %s",
            (LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF),
        ).fetchall()
    return [row[0] for row in rows]


def terminate(db_url: str, application_name: str) -> None:
    """End the server session of one election (what a DB restart or kill -9 does to it)."""
    with psycopg.connect(libpq_conninfo(db_url), autocommit=True) as conn:
        [(pid,)] = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (application_name,),
        ).fetchall()
        # The timeout form waits until the backend has ended (PostgreSQL 14+).
        assert conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (True,)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[bool] = []

    def __call__(self, leading: bool) -> None:
        self.changes.append(leading)


@pytest_asyncio.fixture
async def elections(db_url: str) -> AsyncIterator[Callable[..., LeaderElection]]:
    made: list[LeaderElection] = []

    def make(name: str, **options: float) -> LeaderElection:
        election = LeaderElection(db_url, on_change=Recorder(), name=name, **options)
        made.append(election)
        return election

    try:
        yield make
    finally:
        for election in made:
            await election.stop()


def changes(election: LeaderElection) -> list[bool]:
    assert isinstance(election.on_change, Recorder)
    return election.on_change.changes


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_one_of_two_leads_and_the_other_takes_over_when_it_stops(
    db_url: str, elections: Callable[..., LeaderElection]
) -> None:
    a, b = elections("a"), elections("b")
    assert await a.step() is True
    assert await b.step() is False
    assert await a.step() is True  # a leader's tick checks and keeps the lock
    assert lock_holders(db_url) == ["gapwatch leader a"]
    await a.stop()
    assert await b.step() is True
    assert lock_holders(db_url) == ["gapwatch leader b"]
    assert changes(a) == [True, False] and changes(b) == [True]


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_a_leader_that_lost_its_session_steps_down_and_leads_again_after_the_blip(
    db_url: str, elections: Callable[..., LeaderElection]
) -> None:
    a, b = elections("a"), elections("b")
    assert await a.step() is True
    terminate(db_url, "gapwatch leader a")  # the DB dropped a's session: the lock is free
    await until(b.step, timeout=5, what="b to take the free lock")
    assert await a.step() is False  # a's check fails: it steps down, never two leaders
    assert await a.step() is False  # reconnected, but b holds the lock
    assert lock_holders(db_url) == ["gapwatch leader b"]
    terminate(db_url, "gapwatch leader b")
    assert await b.step() is False
    assert await a.step() is True  # after the blip, whoever tries first leads again
    assert changes(a) == [True, False, True] and changes(b) == [True, False]


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_the_background_ticks_hand_over_within_the_retry_interval(
    db_url: str, elections: Callable[..., LeaderElection]
) -> None:
    a = elections("a", retry_every=0.2)
    b = elections("b", retry_every=0.2)
    await a.start()
    await b.start()
    assert (a.is_leader, b.is_leader) == (True, False)
    terminate(db_url, "gapwatch leader a")

    async def handed_over() -> bool:
        return b.is_leader and not a.is_leader

    took = await until(handed_over, timeout=5, what="b to lead and a to follow")
    assert took < 2
    assert lock_holders(db_url) == ["gapwatch leader b"]


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_a_leader_whose_check_hangs_steps_down(
    db_url: str, elections: Callable[..., LeaderElection], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = elections("a", check_timeout=0.2)
    assert await a.step() is True
    conn = a._conn
    assert conn is not None

    async def hang(*_args: object, **_kw: object) -> None:
        await asyncio.Event().wait()  # a partitioned network: the query never answers

    monkeypatch.setattr(conn, "execute", hang)
    assert await a.step() is False
    assert changes(a) == [True, False]


async def test_an_unreachable_database_means_following_not_crashing() -> None:
    down = LeaderElection(
        "postgresql://postgres@127.0.0.1:1/nowhere", on_change=Recorder(), check_timeout=0.5
    )
    assert await down.step() is False
    await down.stop()
    assert changes(down) == []


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
def test_startup_lock_serialises_processes_starting_together(db_url: str) -> None:
    import threading

    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with startup_lock(db_url):
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(10)
        waiter = threading.Thread(target=lambda: _second(db_url, order))
        waiter.start()
        # The second is blocked on the lock: wait until the server shows it waiting.
        with psycopg.connect(libpq_conninfo(db_url), autocommit=True) as conn:
            deadline = time.monotonic() + 10
            while not conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND application_name LIKE 'gapwatch startup%%'"
            ).fetchone():
                assert time.monotonic() < deadline, "second process never waited"
        release.set()
        waiter.join(10)
    finally:
        release.set()
        thread.join(10)
    assert order == ["first in", "first out", "second in"]


def _second(db_url: str, order: list[str]) -> None:
    with startup_lock(db_url):
        order.append("second in")


async def test_on_sqlite_the_only_process_always_leads(tmp_path) -> None:
    recorder = Recorder()
    leader = leadership(f"sqlite:///{tmp_path / 'g.db'}", recorder)
    assert isinstance(leader, SoleLeader) and leader.is_leader
    await leader.start()
    await leader.stop()
    assert recorder.changes == [True]
    with startup_lock(f"sqlite:///{tmp_path / 'g.db'}"):
        pass  # a no-op


async def _noop() -> None:
    return None


async def test_a_follower_scheduler_keeps_the_leader_jobs_paused_until_it_leads() -> None:
    scheduler = build_scheduler(poll=_noop, resolve=_noop, deliver=_noop, leading=False)
    scheduler.start(paused=True)  # nothing runs; we only read the schedule
    try:

        def next_runs() -> dict[str, object]:
            return {job.id: job.next_run_time for job in scheduler.get_jobs()}

        runs = next_runs()
        assert runs[POLL_JOB] is None and runs[RESOLVE_JOB] is None
        assert runs[DELIVER_JOB] is not None  # every worker delivers

        before = time.time()
        set_leading(scheduler, True)
        runs = next_runs()
        poll_at = runs[POLL_JOB].timestamp()  # type: ignore[attr-defined]
        assert before <= poll_at <= time.time() + 2  # a new leader polls at once
        assert runs[RESOLVE_JOB] is not None

        set_leading(scheduler, False)
        runs = next_runs()
        assert runs[POLL_JOB] is None and runs[RESOLVE_JOB] is None
        assert runs[DELIVER_JOB] is not None
    finally:
        scheduler.shutdown(wait=False)


async def test_a_leader_scheduler_runs_everything_as_before() -> None:
    scheduler = build_scheduler(poll=_noop, resolve=_noop, deliver=_noop)
    scheduler.start(paused=True)
    try:
        assert all(job.next_run_time is not None for job in scheduler.get_jobs())
    finally:
        scheduler.shutdown(wait=False)
