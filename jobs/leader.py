"""Leader election: which process runs the scheduler's leader-only jobs.

APScheduler 3 cannot share a job store between processes ("You can't", its FAQ): two schedulers
would each poll and resolve. So with several processes on one PostgreSQL database exactly one
of them, the leader, runs the poll and resolution jobs; every process delivers (delivery rows
are claimed ``FOR UPDATE SKIP LOCKED``, so workers never post the same row).

**Lock.** The leader holds the session-level advisory lock :data:`LEADER_LOCK_KEY`
(``pg_try_advisory_lock``) on a connection of its own, opened for this purpose only (never a
pooled one: a pool may recycle or hand it out) and kept for the process lifetime. The server
drops the lock when that session ends, whatever ends it: a clean exit, ``kill -9`` (the kernel
closes the socket; the backend sees EOF at once), or a host that vanished (server-side TCP
keepalives below end the backend within :data:`SERVER_KEEPALIVE` seconds). Advisory locks are
per database, so deployments on different databases never contend.

**Followers** try the lock every ``retry_every`` seconds; after a ``kill -9`` of the leader one
of them leads within that interval.

**The leader checks** every ``retry_every`` seconds that its connection is alive and still holds
the lock (a row in ``pg_locks``), within ``check_timeout`` seconds. On any failure (the DB
restarted, the connection was killed, a network partition makes the check hang) it steps down
at once, closes the connection, and on its next tick reconnects and tries the lock again, so it
leads again after a blip if nobody else took over. A partitioned leader steps down after at
most ``retry_every + check_timeout`` (8 s by default), well before the server can notice the
dead connection and free the lock (:data:`SERVER_KEEPALIVE`, 20 s): two leaders never overlap,
unless a process stalls for longer than that (a frozen VM); the leader-only jobs are idempotent
(dedupe keys, one transaction per ingest), so even then nothing is written twice.

Behind PgBouncer use session pooling for this connection (transaction pooling breaks
session-level advisory locks).

On SQLite there is one process, so it always leads (:class:`SoleLeader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import Protocol

import psycopg
from sqlalchemy.engine import URL

from db.engine import parse_database_url

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = int.from_bytes(b"gapwatch", "big")
"""The advisory lock of the leader: the bytes of "gapwatch" as a (positive) bigint."""

STARTUP_LOCK_KEY = int.from_bytes(b"gapwstrt", "big")
"""Held while a process migrates and loads data at start, so processes starting together on
one database do it one after the other."""

RETRY_EVERY = 5.0
CHECK_TIMEOUT = 3.0
CONNECT_TIMEOUT = 5  # seconds (libpq's connect_timeout is an integer)

# Client side (libpq): notice a dead server within about idle + interval × count seconds.
CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                     "keepalives_count": 3, "tcp_user_timeout": 10_000}  # fmt: skip
# Server side, per session (user-settable GUCs; ignored on Unix sockets): the backend of a
# leader whose host vanished ends after 5 + 5 × 3 = 20 s, which frees the lock.
SERVER_KEEPALIVE = 20
_SERVER_SETTINGS = (
    "SET tcp_keepalives_idle = 5",
    "SET tcp_keepalives_interval = 5",
    "SET tcp_keepalives_count = 3",
    "SET tcp_user_timeout = 10000",
)

OnChange = Callable[[bool], object]


class Leadership(Protocol):
    """What the scheduler needs to know: whether this process leads now."""

    @property
    def is_leader(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SoleLeader:
    """The only process (SQLite): always the leader."""

    is_leader = True

    def __init__(self, on_change: OnChange | None = None) -> None:
        self.on_change = on_change

    async def start(self) -> None:
        if self.on_change is not None:
            self.on_change(True)

    async def stop(self) -> None:
        return None


def identity() -> str:
    """This process as others see it (``pg_stat_activity``, ``delivery.claimed_by``):
    ``pid@host``, the pid first so that truncation keeps it."""
    return f"{os.getpid()}@{socket.gethostname()}"


def libpq_conninfo(url: str | URL) -> str:
    """The libpq URI of a PostgreSQL SQLAlchemy URL (driver suffix removed)."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    """Whether a database URL names PostgreSQL."""
    return parse_database_url(url).get_backend_name() == "postgresql"


class LeaderElection:
    """Holds (or waits for) the leader lock on a dedicated PostgreSQL connection.

    Call :meth:`start` once (one attempt, so the process knows its role before its scheduler
    starts, then a background task keeps trying or checking); :meth:`stop` releases the lock.
    Tests drive :meth:`step` directly.

    Args:
        url: The database (SQLAlchemy or libpq URL).
        on_change: Called with True when this process becomes the leader and with False when it
            stops being it (never twice in a row with the same value).
        key: The advisory lock key.
        retry_every: Seconds between a follower's attempts and between a leader's checks.
        check_timeout: Seconds a leader's check may take before it steps down.
        name: Shown as ``application_name`` of the connection (default: :func:`identity`).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        on_change: OnChange | None = None,
        key: int = LEADER_LOCK_KEY,
        retry_every: float = RETRY_EVERY,
        check_timeout: float = CHECK_TIMEOUT,
        name: str | None = None,
    ) -> None:
        self.conninfo = libpq_conninfo(url)
        self.on_change = on_change
        self.key = key
        self.retry_every = retry_every
        self.check_timeout = check_timeout
        self.name = f"gapwatch leader {name or identity()}"[:63]
        self._conn: psycopg.AsyncConnection | None = None
        self._leading = False
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        """Whether this process held the lock at its last attempt or check."""
        return self._leading

    async def start(self) -> None:
        """Try once now, then keep trying (or checking) in the background."""
        await self.step()
        self._task = asyncio.create_task(self._loop(), name="gapwatch-leader-election")

    async def stop(self) -> None:
        """Stop trying and release the lock (closing the connection releases it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._leading and self._conn is not None and not self._conn.closed:
            # Unlock before closing: the backend ends a moment after the socket closes, and a
            # follower should not have to wait for that.
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                async with asyncio.timeout(self.check_timeout):
                    await self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        await self._close()
        self._set(False)

    async def step(self) -> bool:
        """One tick: a leader checks its lock, a follower tries to take it.

        Returns:
            Whether this process leads after the tick.
        """
        if self._leading:
            if not await self._still_holding():
                log.warning("leader election: lost the leader lock; stepping down")
                await self._close()
                self._set(False)
            return self._leading
        try:
            async with asyncio.timeout(self.check_timeout + CONNECT_TIMEOUT):
                acquired = await self._try_acquire()
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.debug("leader election: attempt failed: %s", type(exc).__name__)
            await self._close()
            acquired = False
        if acquired:
            self._set(True)
        return self._leading

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_every)
            try:
                await self.step()
            except Exception:  # never let the election task die: it would freeze the role
                log.exception("leader election: unexpected error")

    async def _connect(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name=self.name,
                **CLIENT_KEEPALIVES,
            )
            for statement in _SERVER_SETTINGS:
                await conn.execute(statement)  # type: ignore[arg-type]
            self._conn = conn
        return self._conn

    async def _try_acquire(self) -> bool:
        conn = await self._connect()
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))).fetchone()
        return bool(row and row[0])

    async def _still_holding(self) -> bool:
        """The connection answers and ``pg_locks`` shows our lock, within ``check_timeout``."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            async with asyncio.timeout(self.check_timeout):
                cursor = await self._conn.execute(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 1",
                    (self.key >> 32, self.key & 0xFFFFFFFF),
                )
                return await cursor.fetchone() is not None
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("leader election: check failed: %s", type(exc).__name__)
            return False

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self.check_timeout)

    def _set(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        log.info(
            "leader election: %s (%s)",
            "this process now leads" if leading else "this process follows",
            self.name,
        )
        if self.on_change is not None:
            try:
                self.on_change(leading)
            except Exception:
                log.exception("leader election: on_change callback failed")


def leadership(url: str, on_change: OnChange | None = None, **options: float) -> Leadership:
    """A leader election on PostgreSQL; on SQLite (one process) the sole leader."""
    if is_postgres(url):
        return LeaderElection(url, on_change=on_change, **options)  # type: ignore[arg-type]
    return SoleLeader(on_change)


@contextlib.contextmanager
def startup_lock(url: str, *, timeout: float = 600) -> Iterator[None]:
    """Hold :data:`STARTUP_LOCK_KEY` while migrating and loading data at start (PostgreSQL);
    other processes starting at the same time wait. A no-op on SQLite.

    Raises:
        psycopg.errors.LockNotAvailable: Another process held it for ``timeout`` seconds.
    """
    if not is_postgres(url):
        yield
        return
    try:
        conn = psycopg.connect(
            libpq_conninfo(url),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            application_name=f"gapwatch startup {identity()}"[:63],
        )
    except psycopg.OperationalError as exc:
        # Opening the store will fail too and say why, in the words users know.
        log.warning("startup lock: database unreachable (%s)", type(exc).__name__)
        yield
        return
    with conn:
        conn.execute(f"SET lock_timeout = {int(timeout * 1000)}")  # type: ignore[arg-type]
        conn.execute("SELECT pg_advisory_lock(%s)", (STARTUP_LOCK_KEY,))
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (STARTUP_LOCK_KEY,))
