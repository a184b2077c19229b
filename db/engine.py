"""The engine and sessions: a SQLite file by default, PostgreSQL (psycopg 3) in production."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

log = logging.getLogger(__name__)

# How long SQLite waits for a writer's lock before giving up (ms): long enough for a poll's
# transaction, short enough that a command answers with an error rather than hanging.
SQLITE_BUSY_TIMEOUT_MS = 5000


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
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    return create_engine(parsed, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (commands) proceed while a poll writes; foreign keys are off by default
    # in SQLite; synchronous=NORMAL is safe with WAL (no corruption, may lose the last commit
    # on power loss, which a re-poll restores).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error. The only transaction owner."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
