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

On SQLite there is one process, so it always leads (:class:`SoleLeader`); :func:`instance_lock`
makes that true (an OS file lock next to the database file refuses a second process).

**Gateway lock.** Two processes connecting the same bot token's same shard to Discord's gateway
both receive every interaction of that shard and both answer it: one of the two replies fails
(40060 "already acknowledged"), and every event is handled twice. :class:`GatewayLock` holds one
advisory lock per (token, shard) (:func:`gateway_lock_keys`), all of a process's shards or
none, on a dedicated connection, with the same checks as the leader lock. A process that cannot
take it stands by: it delivers alerts (REST, no gateway) and connects when the lock frees.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
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
                    await self._unlock(self._conn)
        await self._close()
        self._set(False)

    async def _unlock(self, conn: psycopg.AsyncConnection) -> None:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))

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


# --- one process per SQLite file ----------------------------------------------------------------


class InstanceLockedError(RuntimeError):
    """Another process already runs gapwatch on this database; the message says which."""


def lock_path(url: str) -> Path | None:
    """The instance lock file of a SQLite database (``<file>.lock``); None for PostgreSQL or
    an in-memory database."""
    parsed = parse_database_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    path = Path(database).expanduser().resolve()
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def instance_lock(url: str) -> Iterator[None]:
    """On SQLite, hold an exclusive OS lock (``flock``) on ``<database>.lock`` while the bot
    runs, so a second ``gapwatch run`` on the same file refuses to start: SQLite deployments
    have one process (it always leads, :class:`SoleLeader`), and a second would poll twice
    and connect the same bot to the gateway twice. The kernel releases the lock when the
    process ends, ``kill -9`` included. A no-op on PostgreSQL (there the leader election and
    :class:`GatewayLock` share the work between processes).

    Raises:
        InstanceLockedError: Another process holds the lock.
    """
    path = lock_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise InstanceLockedError(
                f"another gapwatch process ({holder}) is already running on {path.with_suffix('')}"
                f" (it holds {path.name}); SQLite allows one bot process per database file. "
                "Stop the other process, or use PostgreSQL to run several."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, identity().encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --- one gateway connection per (token, shard) ------------------------------------------------

GATEWAY_LOCK_TAG = b"gapwatch gateway lock"


def gateway_lock_keys(token: str, shard_ids: Iterable[int]) -> list[int]:
    """The advisory lock key of each shard of a bot token: a positive bigint from a SHA-256 of
    the token and the shard id (the token itself never reaches the database)."""
    keys = []
    for shard in sorted(set(shard_ids)):
        digest = hashlib.sha256(GATEWAY_LOCK_TAG + b"\0" + token.encode() + b"\0" + b"%d" % shard)
        keys.append(int.from_bytes(digest.digest()[:8], "big") & (2**63 - 1))
    return keys


class GatewayLock(LeaderElection):
    """Holds the gateway locks of this process's shards, all of them or none, on a dedicated
    PostgreSQL connection (see the module doc). The interface of :class:`LeaderElection`:
    ``is_leader`` means "this process may connect these shards to the gateway".

    Args:
        url: The database.
        token: The bot token (hashed into the keys; never stored or logged).
        shard_ids: The shards this process runs (``[0]`` for an unsharded bot).
        on_change: As for :class:`LeaderElection`.
        retry_every: Seconds between a standby's attempts (so the takeover delay after the
            owner stops) and between the owner's checks.
        check_timeout: As for :class:`LeaderElection`.
        name: Shown as ``application_name`` (default: :func:`identity`).
    """

    def __init__(
        self,
        url: str | URL,
        token: str,
        shard_ids: Iterable[int],
        *,
        on_change: OnChange | None = None,
        retry_every: float = RETRY_EVERY,
        check_timeout: float = CHECK_TIMEOUT,
        name: str | None = None,
    ) -> None:
        self.shard_ids = sorted(set(shard_ids))
        self.keys = gateway_lock_keys(token, self.shard_ids)
        super().__init__(
            url,
            on_change=on_change,
            key=self.keys[0],
            retry_every=retry_every,
            check_timeout=check_timeout,
            name=name,
        )
        self.name = f"gapwatch gateway {name or identity()}"[:63]
        self.acquired = asyncio.Event()
        self.lost = asyncio.Event()

    async def _try_acquire(self) -> bool:
        conn = await self._connect()
        taken: list[int] = []
        for key in self.keys:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone()
            if not (row and row[0]):
                for held in taken:  # all or none: never sit on part of another's shards
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (held,))
                return False
            taken.append(key)
        return True

    async def _still_holding(self) -> bool:
        if self._conn is None or self._conn.closed:
            return False
        try:
            async with asyncio.timeout(self.check_timeout):
                cursor = await self._conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND objsubid = 1"
                    " AND (classid::bigint << 32) | objid::bigint = ANY(%s)",
                    (self.keys,),
                )
                row = await cursor.fetchone()
                return row is not None and row[0] == len(self.keys)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("gateway lock: check failed: %s", type(exc).__name__)
            return False

    async def _unlock(self, conn: psycopg.AsyncConnection) -> None:
        for key in self.keys:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def _set(self, leading: bool) -> None:
        was = self._leading
        super()._set(leading)
        if leading:
            self.acquired.set()
        elif was:
            self.lost.set()


class HeldGatewayLock:
    """The gateway lock on SQLite: :func:`instance_lock` already makes this the only process
    on the database, so it is always held."""

    is_leader = True

    def __init__(self) -> None:
        self.acquired = asyncio.Event()
        self.acquired.set()
        self.lost = asyncio.Event()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def gateway_lock(
    url: str, token: str, shard_ids: Iterable[int], **options: float
) -> GatewayLock | HeldGatewayLock:
    """The gateway lock for a database: :class:`GatewayLock` on PostgreSQL, else held."""
    if is_postgres(url):
        return GatewayLock(url, token, shard_ids, **options)  # type: ignore[arg-type]
    return HeldGatewayLock()
