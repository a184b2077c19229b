"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL tests use the server named by ``GAPWATCH_TEST_POSTGRES_URL`` (default: the local
server, database ``test``, trust auth). Each test gets its own database, cloned from a
template migrated once per run, and dropped afterwards. Without a server the PostgreSQL tests
are skipped with a message saying how to run them, unless ``GAPWATCH_REQUIRE_POSTGRES=1``
(as in CI), where a missing server is an error.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from db import migrate
from db.dataset import load_bundled_dataset
from db.engine import make_engine, session_scope

POSTGRES_URL = os.environ.get(
    "GAPWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("GAPWATCH_REQUIRE_POSTGRES") == "1"
RUN_ID = uuid.uuid4().hex[:8]

_skipped_postgres: list[str] = []


def _pg_conninfo(database: str | None = None) -> str:
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    if database:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def _pg_execute(sql: str) -> None:
    with psycopg.connect(_pg_conninfo(), autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


class PostgresTemplates:
    """Databases migrated once per run, cloned per test with CREATE DATABASE … TEMPLATE."""

    def __init__(self) -> None:
        self.templates: dict[str, str] = {}
        self.created: list[str] = []

    def template(self, kind: str) -> str:
        if kind not in self.templates:
            name = f"gw_{RUN_ID}_tpl_{kind}"
            _pg_execute(f'CREATE DATABASE "{name}"')
            self.created.append(name)
            if kind != "blank":
                _prepare(make_engine(_pg_conninfo(name)), seeded=kind == "seeded")
            self.templates[kind] = name
        return self.templates[kind]

    def clone(self, kind: str) -> str:
        name = f"gw_{RUN_ID}_{uuid.uuid4().hex[:10]}"
        _pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template(kind)}"')
        return name

    def drop(self, name: str) -> None:
        _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(engine: Engine, *, seeded: bool) -> None:
    try:
        migrate.upgrade(engine)
        if seeded:
            with session_scope(engine) as session:
                load_bundled_dataset(session)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_templates() -> Iterator[PostgresTemplates | None]:
    try:
        _pg_execute("SELECT 1")
    except psycopg.Error as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required (GAPWATCH_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        yield None
        return
    templates = PostgresTemplates()
    yield templates
    for name in templates.created:
        templates.drop(name)


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sqlite-templates")
    paths = {}
    for kind in ("migrated", "seeded"):
        path = folder / f"{kind}.db"
        _prepare(make_engine(f"sqlite:///{path}"), seeded=kind == "seeded")
        paths[kind] = path
    return paths


def _database(
    request: pytest.FixtureRequest,
    kind: str,
    tmp_path: Path,
    sqlite_templates: dict[str, Path],
    postgres_templates: PostgresTemplates | None,
) -> Iterator[str]:
    backend = request.param
    if backend == "sqlite":
        path = tmp_path / "gapwatch.db"
        if kind != "blank":
            shutil.copyfile(sqlite_templates[kind], path)
        yield f"sqlite:///{path}"
        return
    if postgres_templates is None:
        _skipped_postgres.append(request.node.nodeid)
        pytest.skip("PostgreSQL not reachable at GAPWATCH_TEST_POSTGRES_URL")
    name = postgres_templates.clone(kind)
    try:
        yield _pg_conninfo(name)
    finally:
        postgres_templates.drop(name)


BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def blank_db_url(request, tmp_path, sqlite_templates, postgres_templates) -> Iterator[str]:
    """URL of an empty database (no schema), on each backend."""
    yield from _database(request, "blank", tmp_path, sqlite_templates, postgres_templates)


@pytest.fixture(params=BACKENDS)
def migrated_db_url(request, tmp_path, sqlite_templates, postgres_templates) -> Iterator[str]:
    """URL of a database with the schema and no data, on each backend."""
    yield from _database(request, "migrated", tmp_path, sqlite_templates, postgres_templates)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path, sqlite_templates, postgres_templates) -> Iterator[str]:
    """URL of a database holding the bundled dataset, on each backend."""
    yield from _database(request, "seeded", tmp_path, sqlite_templates, postgres_templates)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh seeded database (each backend)."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Say plainly, as the very last line, that the PostgreSQL half did not run."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if _skipped_postgres and terminalreporter is not None:
        terminalreporter.write_line(
            f"NOTE: {len(_skipped_postgres)} PostgreSQL tests were SKIPPED: no server at "
            f"{make_url(POSTGRES_URL).render_as_string(hide_password=True)}. To run them, start "
            "PostgreSQL and set GAPWATCH_TEST_POSTGRES_URL=postgresql://user@host:5432/db "
            "(a role that may CREATE DATABASE).",
            yellow=True,
            bold=True,
        )


@pytest.fixture(autouse=True)
def _fresh_answer_memos() -> Iterator[None]:
    """Each test starts with the answers' memos empty (db.queries, bot.answers, bot.embeds).

    They are keyed by the content of what was read, so a test cannot be served another
    test's answer; but a memo filled by the SQLite run of a test would serve the same content
    to its PostgreSQL run as objects built from SQLite's rows, and hide a difference between
    the drivers' values. (A process of the bot talks to one database.)"""
    from bot import answers, embeds
    from db import queries

    queries._SCORE_MEMO.clear()
    queries._index_benchmarks.cache_clear()
    answers._GAP_REPORTS.clear()
    answers._LOOKED_UP.clear()
    answers._model_card.cache_clear()
    embeds._GAP_EMBEDS.clear()
    yield
