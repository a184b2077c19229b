"""``gapwatch sources poll|list`` run as a real process against a local HTTP server."""

# The HTTP fixtures (server, client, sleeps) live in tests/sources/conftest.py; importing them
# here makes pytest use them, and their names then shadow the import by design.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from aiohttp import web

from tests.sources.conftest import LocalServer, epoch_zip, fixture_bytes, server  # noqa: F401 (fixtures)
from tests.test_cli import gapwatch
from tests.test_ingest import source_scores, source_state, store_counts

ENABLED = json.dumps(["epoch", "open_llm_leaderboard"])


def env_for(db_url: str, server: LocalServer | None = None) -> dict[str, str]:
    env = {"DATABASE_URL": db_url, "GAPWATCH_SOURCES_ENABLED": ENABLED}
    if server is not None:
        env["GAPWATCH_SOURCE_BASE_URLS"] = json.dumps(
            {"epoch": server.url("/benchmark_data.zip"), "open_llm_leaderboard": server.base_url}
        )
    return env


async def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The server runs on this event loop: wait for the process in a thread, not on the loop.
    return await asyncio.to_thread(gapwatch, *args, cwd=cwd, env=env)


def serve_epoch(server: LocalServer) -> None:
    body = epoch_zip()

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"z1"':
            return web.Response(status=304, headers={"ETag": '"z1"'})
        return web.Response(body=body, content_type="application/zip", headers={"ETag": '"z1"'})

    server.route("/benchmark_data.zip", handler)


async def test_poll_epoch_then_unchanged_then_list(
    db_url: str, server: LocalServer, tmp_path: Path
):
    serve_epoch(server)
    env = env_for(db_url, server)

    first = await run("sources", "poll", "epoch", cwd=tmp_path, env=env)

    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("epoch: models ") and "scores " in lines[0]
    assert lines[-1].startswith("total: 1 polled, 0 failed;")
    from db.engine import make_engine

    engine = make_engine(db_url)
    try:
        stored = source_scores(engine, "epoch")
        assert stored > 0 and f"scores {stored} new, 0 changed" in lines[0]
        after_first = store_counts(engine)

        second = await run("sources", "poll", "epoch", cwd=tmp_path, env=env)
        assert second.returncode == 0, second.stderr
        assert "epoch: not modified since the last poll" in second.stdout
        assert "scores 0 new, 0 changed" in second.stdout
        assert store_counts(engine) == after_first
        row = source_state(engine, "epoch")
        assert row is not None and row.etag == '"z1"' and row.consecutive_failures == 0
    finally:
        engine.dispose()

    listed = await run("sources", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == [
        "source", "last", "poll", "last", "success", "failures", "next", "due", "last", "error"
    ]  # fmt: skip
    by_key = {line.split()[0]: line for line in rows}
    assert set(by_key) == {"epoch", "open_llm_leaderboard"}
    assert "UTC" in by_key["epoch"] and by_key["epoch"].rstrip().endswith("-")
    assert by_key["open_llm_leaderboard"].split()[1:4] == ["never", "never", "0"]
    assert "now" in by_key["open_llm_leaderboard"]


async def test_rejected_rows_are_summarised_with_reasons(
    db_url: str, server: LocalServer, tmp_path: Path
):
    rows = json.loads(fixture_bytes("open_llm_leaderboard", "rows_all.json"))
    server.route("/rows", lambda request: _json(rows))

    result = await run(
        "sources", "poll", "open_llm_leaderboard", cwd=tmp_path, env=env_for(db_url, server)
    )

    assert result.returncode == 0, result.stderr
    assert "rejected, and why:" in result.stdout
    assert "open_llm_leaderboard: newsbang/Homer-v0.5-Qwen2.5-7B: flagged" in result.stdout
    assert "1 rejected" in result.stdout.splitlines()[-3]


async def _json(payload: object) -> web.Response:
    return web.json_response(payload)


async def test_failed_poll_exits_1_and_shows_in_the_list(
    db_url: str, server: LocalServer, tmp_path: Path
):
    env = env_for(db_url, server)  # nothing is served: every path is a 404

    result = await run("sources", "poll", "epoch", cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "epoch: failed (1 in a row): HTTP 404" in result.stdout
    assert "failed: epoch: HTTP 404" in result.stdout
    listed = await run("sources", "list", cwd=tmp_path, env=env)
    epoch = next(line for line in listed.stdout.splitlines() if line.startswith("epoch"))
    assert " 1 " in epoch and "HTTP 404" in epoch


def test_unknown_source_lists_the_valid_ones(db_url: str, tmp_path: Path):
    result = gapwatch("sources", "poll", "epoc", cwd=tmp_path, env=env_for(db_url))
    assert result.returncode == 1
    assert "unknown source 'epoc'; valid sources: epoch, open_llm_leaderboard" in result.stderr
    assert "Traceback" not in result.stderr


def test_known_but_disabled_source_says_how_to_enable_it(db_url: str, tmp_path: Path):
    result = gapwatch("sources", "poll", "evalplus", cwd=tmp_path, env=env_for(db_url))
    assert result.returncode == 1
    assert "source 'evalplus' is not enabled (GAPWATCH_SOURCES_ENABLED)" in result.stderr


def test_invalid_base_urls_setting_is_a_clear_error(tmp_path: Path):
    env = {"GAPWATCH_SOURCE_BASE_URLS": "epoch=http://x"}
    result = gapwatch("sources", "list", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "GAPWATCH_SOURCE_BASE_URLS: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
