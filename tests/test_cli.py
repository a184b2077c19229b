"""The ``gapwatch`` command line, run as a user runs it (a real process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from db import migrate
from db.engine import make_engine, session_scope
from db.queries import counts

REPO = Path(__file__).resolve().parents[1]


def gapwatch(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GAPWATCH_", "DISCORD_"))
    }
    environment.pop("DATABASE_URL", None)
    environment["GAPWATCH_POLL_ENABLED"] = "false"
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_first_ask_creates_the_store_and_answers_the_gap(tmp_path: Path) -> None:
    result = gapwatch("ask", "/gap mmlu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "gapwatch.db").exists()
    out = result.stdout
    assert "MMLU" in out
    assert "Best proprietary:" in out
    assert "Best open:" in out
    assert "source:" in out


def test_ask_on_each_database(db_url: str, tmp_path: Path) -> None:
    result = gapwatch("ask", "/gap", "gsm8k", cwd=tmp_path, env={"DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    assert "GSM8K" in result.stdout


def test_typo_gets_a_suggestion_and_a_nonzero_exit(tmp_path: Path) -> None:
    result = gapwatch("ask", "/gap mmul", cwd=tmp_path)
    assert result.returncode == 1
    assert "no benchmark 'mmul'" in result.stderr
    assert "did you mean MMLU" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_refused_clearly(tmp_path: Path) -> None:
    result = gapwatch("ask", "/gpa mmlu", cwd=tmp_path)
    assert result.returncode == 1
    assert "no command /gpa" in result.stderr
    assert "/gap" in result.stderr


def test_bad_database_url_exits_with_a_message(tmp_path: Path) -> None:
    result = gapwatch("ask", "/about", cwd=tmp_path, env={"DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_then_status(migrated_db_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": migrated_db_url}
    upgraded = gapwatch("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    engine = make_engine(migrated_db_url)
    head = migrate.head_revision(engine)
    engine.dispose()
    assert f"schema at {head} (head {head})" in upgraded.stdout
    loaded = gapwatch("db", "load", cwd=tmp_path, env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "score: +" in loaded.stdout
    status = gapwatch("db", "status", cwd=tmp_path, env=env)
    assert "dataset: " in status.stdout
    engine = make_engine(migrated_db_url)
    try:
        with session_scope(engine) as session:
            assert counts(session)["predictions"] == 4
    finally:
        engine.dispose()


def test_run_without_token_serves_the_console_until_end_of_input(tmp_path: Path) -> None:
    result = gapwatch("run", cwd=tmp_path, stdin="/help\n/gap humaneval\n/gap nope\n")
    assert result.returncode == 0, result.stderr
    assert "/gap benchmark [as_of]" in result.stdout
    assert "HumanEval" in result.stdout
    assert "no benchmark 'nope'" in result.stdout
    assert result.stdout.rstrip().endswith("bye")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--help"])
def test_help_lists_subcommands(tmp_path: Path, flag: str) -> None:
    result = gapwatch(flag, cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "ask", "db"):
        assert command in result.stdout


def test_sigterm_stops_the_console_cleanly(tmp_path: Path) -> None:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GAPWATCH_", "DISCORD_"))
    }
    environment.pop("DATABASE_URL", None)
    environment["GAPWATCH_POLL_ENABLED"] = "false"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=environment,
        stdin=subprocess.PIPE,  # kept open: the console waits for a line
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # the store is ready once the banner is out
        assert "gapwatch console" in banner
        process.send_signal(signal.SIGTERM)
        _out, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
