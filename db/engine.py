"""The engine and sessions: a SQLite file by default, PostgreSQL (psycopg 3) in production.

**SQLite transactions.** pysqlite's own transaction handling is switched off
(``isolation_level = None``, SQLAlchemy's documented recipe) and gapwatch emits ``BEGIN``
itself, so that every write transaction starts with ``BEGIN IMMEDIATE``: it takes the write
lock (waiting up to the busy timeout) before it reads anything, instead of upgrading a read
snapshot to a write later, which in WAL mode fails at once with ``SQLITE_BUSY`` ("database is
locked", no busy wait) when another connection wrote in between. Two modes:

* default (:func:`session_scope`): statements before the first write run outside a
  transaction, so a read-only unit (a command's answer, autocomplete) never takes a lock and
  never waits for a poll's long write transaction (WAL: readers and the writer run side by
  side). The first ``INSERT``/``UPDATE``/``DELETE``/``REPLACE``/``SAVEPOINT`` opens the
  transaction with ``BEGIN IMMEDIATE``.
* ``session_scope(engine, immediate=True)``: ``BEGIN IMMEDIATE`` before the first statement,
  for a read-modify-write unit whose reads must not go stale before its writes (another
  writer waits until it commits).

Taking the write lock for *every* session (``BEGIN IMMEDIATE`` always) would be simpler, but
under WAL it would serialise readers behind each other and behind a poll's ingest, which runs
tens of seconds on a big store (docs/performance.md); past the busy timeout a reader would
get "database is locked". PostgreSQL needs none of this (MVCC, row locks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

log = logging.getLogger(__name__)

# How long SQLite waits for a writer's lock before giving up (ms): long enough for a poll's
# transaction, short enough that a command answers with an error rather than hanging.
SQLITE_BUSY_TIMEOUT_MS = 5000

SQLITE_PRAGMAS = (
    # First, so that the statements below (journal_mode too) wait for a lock instead of failing.
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    # WAL lets readers (commands) proceed while a poll writes; persistent once set.
    "PRAGMA journal_mode=WAL",
    # Off by default in SQLite.
    "PRAGMA foreign_keys=ON",
    # Safe with WAL (no corruption; may lose the last commit on power loss, which a re-poll
    # restores).
    "PRAGMA synchronous=NORMAL",
)
"""Run in this order on every new SQLite connection."""

_BEGIN_OPTION = "gapwatch_sqlite_begin"
"""Connection execution option: ``"immediate"`` makes the ``begin`` event emit BEGIN IMMEDIATE."""

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")


class DatabaseURLError(ValueError):
    """The configured database URL is not one gapwatch can use."""


def parse_database_url(url: str) -> URL:
    """Check a database URL and pin the driver: ``sqlite`` or ``postgresql+psycopg``.

    Raises:
        DatabaseURLError: with a message saying what is wrong and what would work.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseURLError(
            f"DATABASE_URL {_redact(url)!r} is not a database URL; use e.g. "
            "'sqlite:///data/gapwatch.db' or 'postgresql://user@host:5432/dbname'"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise DatabaseURLError(
                f"unsupported SQLite driver {parsed.drivername!r}; use 'sqlite:///path'"
            )
        return parsed
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
            return parsed.set(drivername="postgresql+psycopg")
        raise DatabaseURLError(
            f"unsupported PostgreSQL driver {parsed.drivername!r}; gapwatch uses psycopg 3 "
            "('postgresql://…' or 'postgresql+psycopg://…')"
        )
    raise DatabaseURLError(
        f"unsupported database {backend!r} in DATABASE_URL; gapwatch supports SQLite and PostgreSQL"
    )


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create the engine for a URL; a SQLite file's folder is created on first use."""
    parsed = parse_database_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().parent
            if not folder.exists():
                # The store holds server settings and subscriptions: not for other users.
                folder.mkdir(parents=True, mode=0o700)
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_before_execute)
        event.listen(engine.pool, "checkin", _sqlite_checkin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    # The store is small enough to stay in memory (a million scores is a few hundred MB), so a
    # random page read costs about what a sequential one does; with the default (4.0) the
    # planner hashes a scan of the model table where an index-only scan in group order takes
    # half the time (/fits). 1.1 is PostgreSQL's usual advice for SSDs and cached databases.
    kwargs.setdefault("connect_args", {"options": f"-c random_page_cost={PG_RANDOM_PAGE_COST}"})
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "do_executemany", _copy_executemany)
    return engine


PG_RANDOM_PAGE_COST = 1.1

COPY_ROWS = "gapwatch_copy_rows"
"""Execution option of a bulk ``INSERT`` on PostgreSQL: ``(table, columns, keys)`` lets its
``executemany`` run as one ``COPY table (columns) FROM STDIN`` (each row's values taken from
its parameters in ``keys`` order).

The statement still goes through SQLAlchemy as the ``INSERT`` it is, so every hook, log and
error path sees it (``before_cursor_execute`` gets the INSERT text; a failing row raises the
``IntegrityError`` or ``DataError`` an INSERT would; a hook that rewrites the statement is
not applied to the COPY). Only the driver call differs. ``COPY`` is PostgreSQL's bulk load: it
skips the planning, binding and executor start-up of each row and writes rows to a page in
batches; a poll's 50,000 score rows go in about a fifth faster than through psycopg's
pipelined ``executemany`` (docs/performance.md). It checks the same constraints and fires the
same triggers. Used by ``jobs.ingest.insert_rows`` for rows with no default to compute and
nothing to return."""


def _copy_executemany(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """The ``do_executemany`` dialect event: run a :data:`COPY_ROWS` insert as a ``COPY``."""
    plan = context.execution_options.get(COPY_ROWS) if context is not None else None
    if plan is None:
        return False  # any other executemany: the driver's own
    table, columns, keys = plan
    quote = context.dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    with cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
        for row in parameters:
            copy.write_row([row[key] for key in keys])
    return True


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # We emit BEGIN ourselves (the begin and before_cursor_execute events below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(_BEGIN_OPTION) == "immediate":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    # Otherwise the transaction opens at its first write (_sqlite_before_execute).


def _sqlite_before_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    dbapi_connection = conn.connection.driver_connection
    if (
        dbapi_connection is not None
        and not dbapi_connection.in_transaction
        and conn.in_transaction()
        and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
        and statement.lstrip().upper().startswith(_WRITES)
    ):
        dbapi_connection.execute("BEGIN IMMEDIATE")


def _sqlite_checkin(dbapi_connection: Any, _record: Any) -> None:
    """No connection goes back to the pool inside a transaction.

    A COMMIT that SQLite refuses (a deferred foreign key still violated) leaves its
    transaction open, while SQLAlchemy counts the transaction as ended and skips the
    rollback it would do on return: the next user of the connection would read, and write
    into, the failed transaction. (A session's rollback does roll it back; a ``Connection``
    whose ``commit()`` failed does not.)
    """
    if dbapi_connection is not None and dbapi_connection.in_transaction:
        dbapi_connection.rollback()


@contextmanager
def session_scope(engine: Engine, *, immediate: bool = False) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error. The only transaction owner.

    Args:
        engine: The store.
        immediate: On SQLite, take the write lock before the first statement (``BEGIN
            IMMEDIATE``), for a unit that reads and then writes based on what it read. By
            default the lock is taken at the first write, so read-only units never wait
            (see the module doc). No effect on PostgreSQL.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            if immediate and engine.dialect.name == "sqlite":
                session.connection(execution_options={_BEGIN_OPTION: "immediate"})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
