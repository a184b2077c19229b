"""SQLite locking (checklist 28): PRAGMAs, BEGIN IMMEDIATE for writers, readers never wait.

What each test guards (see db/engine.py):

* every connection has busy_timeout (set first), WAL, foreign keys and synchronous=NORMAL;
* a write transaction opens with ``BEGIN IMMEDIATE`` (never a deferred read snapshot upgraded
  to a write, which fails at once with "database is locked" when another writer got in first);
* a read-only unit takes no lock: it answers while a poll's write transaction is open;
* ``session_scope(immediate=True)``: a read-modify-write unit holds the write lock from its
  first read, so a concurrent writer waits instead of making the unit fail.

The existing two-writer test (tests/test_store.py) covers "no database is locked" for
read-then-write units in the default mode.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import func, select

from db import tables as t
from db.engine import SQLITE_BUSY_TIMEOUT_MS, SQLITE_PRAGMAS, session_scope
from db.store import open_store


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite store in a file (WAL needs a file)."""
    store = open_store(f"sqlite:///{tmp_path / 'gapwatch.db'}")
    yield store
    store.dispose()


def trace(engine: Engine) -> list[str]:
    """Every statement SQLite runs on connections opened from now on (``BEGIN`` included)."""
    seen: list[str] = []
    engine.dispose()  # new connections only, so each gets the trace callback

    @event.listens_for(engine, "connect")
    def _trace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    return seen


def guild_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(t.GuildSettings)).one()


def test_pragmas_on_every_connection(engine: Engine) -> None:
    engine.dispose()
    with engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS >= 1000
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
    names = [p.split()[1].split("=")[0] for p in SQLITE_PRAGMAS]
    assert names.index("busy_timeout") < names.index("journal_mode")


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="FOREIGN KEY"), session_scope(engine) as session:
        session.add(
            t.Score(
                model_id=10**9,
                benchmark_id=10**9,
                source_id=10**9,
                value=1.0,
                available_on=date(2026, 1, 1),
            )
        )


def test_first_connection_waits_for_a_lock_instead_of_failing(tmp_path: Path) -> None:
    """Switching a database to WAL needs a lock: with busy_timeout set first, the first
    connection waits for another process's write (a legacy rollback-journal database)."""
    path = tmp_path / "old.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE x (n)")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO x VALUES (1)")
    release = threading.Timer(0.5, other.execute, ("COMMIT",))
    release.start()
    try:
        started = time.monotonic()
        engine = open_store(f"sqlite:///{path}")
        try:
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        finally:
            engine.dispose()
        assert time.monotonic() - started >= 0.4  # it waited for the other writer
    finally:
        release.join()
        other.close()


def test_a_write_unit_begins_immediate(engine: Engine) -> None:
    seen = trace(engine)
    with session_scope(engine) as session:
        session.exec(select(func.count()).select_from(t.GuildSettings)).one()
        session.add(t.GuildSettings(guild_id=1))
    begins = [s for s in seen if s.upper().startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"]
    first_write = next(i for i, s in enumerate(seen) if s.upper().startswith("INSERT"))
    assert seen.index("BEGIN IMMEDIATE") < first_write
    assert seen[-1] == "COMMIT"


def test_a_read_only_unit_takes_no_lock(engine: Engine) -> None:
    seen = trace(engine)
    with session_scope(engine) as session:
        session.exec(select(t.Benchmark)).all()
        session.exec(select(func.count()).select_from(t.Score)).one()
    assert not [s for s in seen if s.upper().startswith(("BEGIN", "INSERT", "UPDATE", "DELETE"))]


def test_immediate_unit_locks_before_its_first_read(engine: Engine) -> None:
    seen = trace(engine)
    with session_scope(engine, immediate=True) as session:
        session.exec(select(func.count()).select_from(t.GuildSettings)).one()
    assert seen[0] == "BEGIN IMMEDIATE" and seen[-1] == "COMMIT"
    assert any(s.upper().startswith("SELECT") for s in seen[1:-1])


def test_savepoints_work_and_open_the_write_transaction(engine: Engine) -> None:
    """SAVEPOINT (``begin_nested``), which pysqlite's own transaction handling breaks, rolls
    back only its part; it opens the transaction with BEGIN IMMEDIATE like a write."""
    seen = trace(engine)
    with session_scope(engine) as session:
        session.exec(select(func.count()).select_from(t.GuildSettings)).one()
        with pytest.raises(RuntimeError), session.begin_nested():
            session.add(t.GuildSettings(guild_id=1))
            session.flush()
            raise RuntimeError("undo this part")
        session.add(t.GuildSettings(guild_id=2))
    statements = [s.split()[0].upper() for s in seen]
    assert statements.index("BEGIN") < statements.index("SAVEPOINT")
    assert "BEGIN IMMEDIATE" in seen and seen[-1] == "COMMIT"
    with session_scope(engine) as session:
        assert set(session.exec(select(t.GuildSettings.guild_id)).all()) == {2}


def test_readers_answer_while_a_write_transaction_is_open(engine: Engine) -> None:
    """A poll's ingest holds the write lock for its whole transaction (seconds on a big
    store); commands and autocomplete must not queue behind it."""
    writing, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def long_write() -> None:
        try:
            with session_scope(engine) as session:
                session.add(t.GuildSettings(guild_id=7))
                session.flush()  # BEGIN IMMEDIATE + INSERT: the write lock is held from here
                writing.set()
                done.wait(10)
        except BaseException as exc:  # asserted below
            errors.append(exc)
            writing.set()

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert writing.wait(5)
        started = time.monotonic()
        for _ in range(20):
            assert guild_count(engine) == 0  # the snapshot before the writer's commit
        assert time.monotonic() - started < 1.0  # no busy waits (the timeout is 5 s)
    finally:
        done.set()
        writer.join(10)
    assert errors == []
    assert guild_count(engine) == 1


def test_immediate_read_modify_write_makes_a_concurrent_writer_wait(engine: Engine) -> None:
    """A unit reads a count, then writes a row based on it, while another writer commits in
    between. With BEGIN IMMEDIATE the other writer waits and both commit, in order."""
    has_read, errors = threading.Event(), []
    order: list[str] = []

    def read_modify_write() -> None:
        try:
            with session_scope(engine, immediate=True) as session:
                count = session.exec(select(func.count()).select_from(t.GuildSettings)).one()
                has_read.set()
                time.sleep(0.3)  # the other writer tries now
                session.add(t.GuildSettings(guild_id=100 + count))
            order.append("read-modify-write")
        except BaseException as exc:  # asserted below
            errors.append(exc)
            has_read.set()

    def other_writer() -> None:
        try:
            has_read.wait(5)
            with session_scope(engine) as session:
                session.add(t.GuildSettings(guild_id=1))
            order.append("other")
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=read_modify_write), threading.Thread(target=other_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert errors == []
    assert order == ["read-modify-write", "other"]
    with session_scope(engine) as session:
        ids = set(session.exec(select(t.GuildSettings.guild_id)).all())
    assert ids == {100, 1}  # the count it read was still true when it wrote


def test_a_deferred_read_then_write_would_fail(tmp_path: Path) -> None:
    """Why the above matters: the same interleaving with a deferred transaction (a read
    snapshot upgraded to a write) fails at once with "database is locked", whatever the busy
    timeout."""
    path = tmp_path / "raw.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE x (n)")
    setup.close()
    first = sqlite3.connect(path, isolation_level=None, timeout=5)
    second = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        first.execute("BEGIN")
        first.execute("SELECT count(*) FROM x").fetchone()
        second.execute("INSERT INTO x VALUES (1)")  # autocommit: commits at once
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            first.execute("INSERT INTO x VALUES (2)")
        assert time.monotonic() - started < 1.0  # no busy wait: SQLITE_BUSY_SNAPSHOT
    finally:
        first.close()
        second.close()


def test_immediate_units_on_each_backend(db_url: str) -> None:
    """``immediate=True`` is a plain unit of work on PostgreSQL and a locked one on SQLite;
    both commit and roll back as usual."""
    from db.engine import make_engine

    store = make_engine(db_url)
    try:
        with session_scope(store, immediate=True) as session:
            count = session.exec(select(func.count()).select_from(t.GuildSettings)).one()
            session.add(t.GuildSettings(guild_id=10 + count))
        with pytest.raises(RuntimeError), session_scope(store, immediate=True) as session:
            session.add(t.GuildSettings(guild_id=99))
            session.flush()
            raise RuntimeError("roll back")
        assert guild_count(store) == count + 1
    finally:
        store.dispose()
