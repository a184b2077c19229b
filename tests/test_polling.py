"""The poller against a real HTTP server on 127.0.0.1 and a real store (SQLite, PostgreSQL).

Each test serves payloads in the sources' real formats, polls, and asserts what the STORE
holds afterwards: row counts, values, and the source row's error and failure count.
"""

# The HTTP fixtures (server, client, sleeps) live in tests/sources/conftest.py; importing them
# here makes pytest use them, and their names then shadow the import by design.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import Engine
from sqlmodel import select

from db import tables as t
from db.engine import session_scope
from jobs.ingest import IngestResult
from jobs.polling import Poller, backoff, ingest_bundled
from jobs.sources.base import SourceBatch, SourceState
from jobs.sources.bundled import snapshot_dir
from jobs.sources.epoch import EpochSource
from jobs.sources.evalplus import EvalPlusSource
from jobs.sources.http import RetryPolicy, SourceClient
from jobs.sources.open_llm_leaderboard import OpenLLMLeaderboardSource
from tests.sources.conftest import (  # noqa: F401 (fixtures)
    LocalServer,
    Sleeps,
    client,
    epoch_zip,
    fixture_bytes,
    fixture_path,
    server,
    sleeps,
)
from tests.test_ingest import source_scores, source_state, statements, store_counts, writes

START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(hours=6)
ROWS = json.loads(fixture_bytes("open_llm_leaderboard", "rows_all.json"))


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def poller(engine: Engine, client: SourceClient, *sources: Any, **kw: Any) -> Poller:
    kw.setdefault("clock", Clock())
    return Poller(engine=engine, client=client, sources=sources, interval=INTERVAL, **kw)


def snapshot_zip() -> bytes:
    """The full bundled sample of Epoch's archive (three real CSVs), zipped as Epoch does."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in snapshot_dir().joinpath("epoch").iterdir():
            if entry.name.endswith(".csv"):
                archive.writestr("benchmark_data/" + entry.name, entry.read_bytes())
    return buffer.getvalue()


def serve(body: bytes, *, etag: str | None = None, content_type: str = "application/zip"):
    """A handler serving ``body``, answering 304 to a matching If-None-Match."""

    async def handler(request: web.Request) -> web.Response:
        if etag is not None and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag} if etag else {}
        return web.Response(body=body, content_type=content_type, headers=headers)

    return handler


def rows_handler(envelope: dict[str, Any]):
    """The datasets-server ``/rows`` endpoint over ``envelope``, paged by offset/length."""

    async def handler(request: web.Request) -> web.Response:
        offset, length = int(request.query["offset"]), int(request.query["length"])
        page = dict(envelope, rows=envelope["rows"][offset : offset + length])
        return web.json_response(page)

    return handler


def model_row(engine: Engine, hf_repo: str) -> t.Model | None:
    with session_scope(engine) as session:
        return session.exec(select(t.Model).where(t.Model.hf_repo == hf_repo)).first()


def scores_of(engine: Engine, hf_repo: str) -> dict[str, float]:
    with session_scope(engine) as session:
        query = (
            select(t.Benchmark.key, t.Score.value)
            .join(t.Score, t.Score.benchmark_id == t.Benchmark.id)  # type: ignore[arg-type]
            .join(t.Model, t.Model.id == t.Score.model_id)  # type: ignore[arg-type]
            .where(t.Model.hf_repo == hf_repo)
        )
        return dict(session.exec(query).all())


# Full sample, then an unchanged poll -----------------------------------------------------
async def test_full_epoch_sample_then_304_writes_nothing(
    engine: Engine, server: LocalServer, client: SourceClient
):
    server.route("/benchmark_data.zip", serve(snapshot_zip(), etag='"v1"'))
    source = EpochSource(url=server.url("/benchmark_data.zip"))
    polls = poller(engine, client, source)

    first = await polls.poll("epoch")

    assert first.ok and first.result is not None
    counts = first.result.counts
    assert counts["scores_new"] > 500 and counts["scores_changed"] == 0
    after_first = store_counts(engine)
    assert source_scores(engine, "epoch") == counts["scores_new"]
    row = source_state(engine, "epoch")
    assert row is not None and row.etag == '"v1"' and row.content_hash
    assert row.last_success_at == START and row.consecutive_failures == 0

    with statements(engine) as seen:
        second = await polls.poll("epoch")

    assert second.ok and second.result is not None and second.result.not_modified
    assert server.requests[-1].headers["If-None-Match"] == '"v1"'
    assert writes(seen) == []
    assert store_counts(engine) == after_first
    assert second.result.events == []


async def test_same_content_without_etag_writes_nothing(
    engine: Engine, server: LocalServer, client: SourceClient
):
    server.route("/benchmark_data.zip", serve(epoch_zip()))  # no validators: content hash
    polls = poller(engine, client, EpochSource(url=server.url("/benchmark_data.zip")))
    assert (await polls.poll("epoch")).ok
    after_first = store_counts(engine)

    with statements(engine) as seen:
        second = await polls.poll("epoch")

    assert second.result is not None and second.result.not_modified
    assert server.hits["/benchmark_data.zip"] == 2
    assert writes(seen) == []
    assert store_counts(engine) == after_first


# Pagination, strings for numbers, missing parameter counts --------------------------------
async def test_paginated_leaderboard_lands_in_the_store(
    engine: Engine, server: LocalServer, client: SourceClient
):
    server.route("/rows", rows_handler(ROWS))
    source = OpenLLMLeaderboardSource(base_url=server.base_url, page_length=2)

    outcome = await poller(engine, client, source).poll("open_llm_leaderboard")

    assert outcome.ok and outcome.result is not None
    assert [r.query["offset"] for r in server.requests] == ["0", "2"]
    yi = scores_of(engine, "01-ai/Yi-1.5-34B")
    assert set(yi) == {"ifeval", "bbh", "math-lvl-5", "gpqa", "musr", "mmlu-pro"}
    assert yi["mmlu-pro"] == pytest.approx(46.65890957446808)
    assert "mmlu" not in yi  # MMLU-PRO is another benchmark
    model = model_row(engine, "01-ai/Yi-1.5-34B")
    assert model is not None and model.total_params_b == pytest.approx(34.389)
    assert model.open_weights is True and model.license == "apache-2.0"
    # The flagged row is rejected with its reason and stored nowhere.
    assert model_row(engine, "newsbang/Homer-v0.5-Qwen2.5-7B") is None
    assert any("flagged" in r.reason for r in outcome.result.rejected)
    assert source_scores(engine, "open_llm_leaderboard") == 3 * 6


async def test_model_with_no_parameter_count_is_stored_without_one(
    engine: Engine, server: LocalServer, client: SourceClient
):
    server.route("/rows", rows_handler(ROWS))  # gemma-2-2b says "#Params (B)": 0.0
    source = OpenLLMLeaderboardSource(base_url=server.base_url)
    assert (await poller(engine, client, source).poll("open_llm_leaderboard")).ok
    gemma = model_row(engine, "google/gemma-2-2b")
    assert gemma is not None and gemma.total_params_b is None
    assert scores_of(engine, "google/gemma-2-2b")["mmlu-pro"] == pytest.approx(22.165890957446807)


async def test_scores_given_as_strings_are_read_as_numbers(
    engine: Engine, server: LocalServer, client: SourceClient
):
    envelope = json.loads(json.dumps(ROWS))
    for entry in envelope["rows"]:
        entry["row"]["MMLU-PRO Raw"] = str(entry["row"]["MMLU-PRO Raw"])
        entry["row"]["#Params (B)"] = str(entry["row"]["#Params (B)"])
    server.route("/rows", rows_handler(envelope))
    source = OpenLLMLeaderboardSource(base_url=server.base_url)
    assert (await poller(engine, client, source).poll("open_llm_leaderboard")).ok
    assert scores_of(engine, "01-ai/Yi-1.5-34B")["mmlu-pro"] == pytest.approx(46.65890957446808)
    model = model_row(engine, "01-ai/Yi-1.5-34B")
    assert model is not None and model.total_params_b == pytest.approx(34.389)


# Transient and permanent failures -------------------------------------------------------
async def test_429_then_success_stores_the_data(
    engine: Engine, server: LocalServer, client: SourceClient, sleeps: Sleeps
):
    body = fixture_bytes("evalplus", "results.json")

    async def limited(request: web.Request) -> web.Response:
        if server.hits["/results.json"] == 1:
            return web.Response(status=429, headers={"Retry-After": "3"})
        return web.Response(body=body, content_type="application/json")

    server.route("/results.json", limited)
    outcome = await poller(engine, client, EvalPlusSource(url=server.url("/results.json"))).poll(
        "evalplus"
    )
    assert outcome.ok and sleeps.delays == [3.0]
    assert source_scores(engine, "evalplus") > 0
    row = source_state(engine, "evalplus")
    assert row is not None and row.consecutive_failures == 0 and row.last_error is None


async def test_500s_record_the_failure_and_touch_no_data(
    engine: Engine, server: LocalServer, client: SourceClient
):
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance")

    server.route("/benchmark_data.zip", down)
    before = store_counts(engine)
    polls = poller(engine, client, EpochSource(url=server.url("/benchmark_data.zip")))

    first = await polls.poll("epoch")
    second = await polls.poll("epoch")

    assert not first.ok and not second.ok
    assert server.hits["/benchmark_data.zip"] == 6  # 3 attempts per poll
    row = source_state(engine, "epoch")
    assert row is not None and row.consecutive_failures == 2
    assert row.last_error is not None and "HTTP 503 after 3 attempts" in row.last_error
    assert row.last_success_at is None
    assert store_counts(engine) == {**before, "source": before["source"] + 1}
    assert source_scores(engine, "epoch") == 0


async def test_timeout_is_recorded_as_a_failure(
    engine: Engine, server: LocalServer, sleeps: Sleeps
):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(body=b"{}", content_type="application/json")

    server.route("/results.json", slow)
    async with SourceClient(
        timeout=httpx.Timeout(0.2), retry=RetryPolicy(attempts=2), sleep=sleeps, rand=lambda: 0.0
    ) as quick:
        outcome = await poller(engine, quick, EvalPlusSource(url=server.url("/results.json"))).poll(
            "evalplus"
        )
    assert not outcome.ok and "timeout" in (outcome.error or "")
    row = source_state(engine, "evalplus")
    assert row is not None and row.consecutive_failures == 1 and "timeout" in (row.last_error or "")
    assert source_scores(engine, "evalplus") == 0


async def test_truncated_json_fails_the_poll_and_keeps_the_store(
    engine: Engine, server: LocalServer, client: SourceClient
):
    body = json.dumps(ROWS).encode()
    server.route("/rows", serve(body[: len(body) // 2], content_type="application/json"))
    before = store_counts(engine)
    source = OpenLLMLeaderboardSource(base_url=server.base_url)

    outcome = await poller(engine, client, source).poll("open_llm_leaderboard")

    assert not outcome.ok
    row = source_state(engine, "open_llm_leaderboard")
    # Cut inside a string, the decoder reports the string's start, so http.py says "invalid".
    assert row is not None and " JSON (" in (row.last_error or "")
    assert row.consecutive_failures == 1
    assert store_counts(engine) == {**before, "source": before["source"] + 1}


async def test_renamed_column_fails_the_poll_naming_the_column(
    engine: Engine, server: LocalServer, client: SourceClient
):
    mmlu = fixture_path("epoch", "mmlu_external.csv").read_text("utf-8")
    drifted = epoch_zip({"mmlu_external.csv": mmlu.replace("Model version", "Model", 1)})
    server.route("/benchmark_data.zip", serve(drifted))
    before = store_counts(engine)

    outcome = await poller(engine, client, EpochSource(url=server.url("/benchmark_data.zip"))).poll(
        "epoch"
    )

    assert not outcome.ok
    row = source_state(engine, "epoch")
    assert row is not None and "'Model version'" in (row.last_error or "")
    assert "mmlu_external.csv" in (row.last_error or "")
    assert store_counts(engine) == {**before, "source": before["source"] + 1}


async def test_crash_in_after_ingest_rolls_the_whole_poll_back(
    engine: Engine, server: LocalServer, client: SourceClient
):
    server.route("/benchmark_data.zip", serve(epoch_zip()))
    before = store_counts(engine)
    seen: list[IngestResult] = []

    def alert_rules(session: Any, result: IngestResult) -> None:
        seen.append(result)
        raise RuntimeError("alert rules crashed")

    polls = poller(
        engine, client, EpochSource(url=server.url("/benchmark_data.zip")), after_ingest=alert_rules
    )
    outcome = await polls.poll("epoch")

    assert seen and seen[0].counts["scores_new"] > 0  # the ingest had written, then crashed
    assert not outcome.ok and outcome.error == "ingest failed: RuntimeError"
    assert store_counts(engine) == {**before, "source": before["source"] + 1}
    assert source_scores(engine, "epoch") == 0
    row = source_state(engine, "epoch")
    assert row is not None and row.consecutive_failures == 1 and row.content_hash is None


# Schedule and backoff --------------------------------------------------------------------
async def test_backoff_grows_with_each_failure_then_resets(
    engine: Engine, server: LocalServer, client: SourceClient
):
    healthy = {"on": False}

    async def flaky(request: web.Request) -> web.Response:
        if healthy["on"]:
            return web.Response(body=epoch_zip(), content_type="application/zip")
        return web.Response(status=404, text="gone")

    server.route("/benchmark_data.zip", flaky)
    clock = Clock()
    polls = poller(engine, client, EpochSource(url=server.url("/benchmark_data.zip")), clock=clock)
    waits = []
    for failures in (1, 2, 3):
        outcome = await polls.poll("epoch")
        assert outcome.failures == failures
        due = polls.next_due("epoch", source_state(engine, "epoch"))
        assert due is not None
        waits.append(due - clock.now)
    assert waits == [backoff(1, INTERVAL), backoff(2, INTERVAL), backoff(3, INTERVAL)]
    assert waits[0] < waits[1] < waits[2]

    assert await polls.due() == []
    clock.advance(waits[2])
    assert await polls.due() == ["epoch"]
    healthy["on"] = True
    assert (await polls.poll("epoch")).ok
    row = source_state(engine, "epoch")
    assert row is not None and row.consecutive_failures == 0 and row.last_error is None
    assert polls.next_due("epoch", row) == clock.now + INTERVAL


async def test_a_failing_source_does_not_stop_the_next(
    engine: Engine, server: LocalServer, client: SourceClient
):
    server.route("/results.json", serve(fixture_bytes("evalplus", "results.json")))

    @dataclass
    class BrokenSource:
        key: str = "broken"

        async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
            raise KeyError("an adapter bug")

    polls = poller(
        engine,
        client,
        EpochSource(url=server.url("/missing.zip")),  # 404
        BrokenSource(),
        EvalPlusSource(url=server.url("/results.json")),
    )
    outcomes = await polls.poll_due()

    assert [(o.source, o.ok) for o in outcomes] == [
        ("epoch", False),
        ("broken", False),
        ("evalplus", True),
    ]
    assert source_scores(engine, "evalplus") > 0
    broken = source_state(engine, "broken")
    assert broken is not None and broken.last_error == "fetch failed: KeyError"
    # Only the healthy source is off the schedule until its interval has passed.
    assert await polls.due() == []  # the failing ones back off 1 minute


async def test_unchanged_poll_moves_the_schedule_without_writing(
    engine: Engine, server: LocalServer, client: SourceClient
):
    server.route("/benchmark_data.zip", serve(epoch_zip(), etag='"e"'))
    clock = Clock()
    polls = poller(engine, client, EpochSource(url=server.url("/benchmark_data.zip")), clock=clock)
    assert await polls.due() == ["epoch"]
    await polls.poll("epoch")
    clock.advance(INTERVAL)
    assert await polls.due() == ["epoch"]
    with statements(engine) as seen:
        outcome = await polls.poll("epoch")
    assert outcome.result is not None and outcome.result.not_modified and writes(seen) == []
    assert await polls.due() == []  # the unchanged poll counts, though nothing was written
    clock.advance(INTERVAL)
    assert await polls.due() == ["epoch"]


async def test_unknown_source_names_the_valid_ones(engine: Engine, client: SourceClient):
    polls = poller(engine, client, EpochSource(), EvalPlusSource())
    with pytest.raises(KeyError, match="valid sources: epoch, evalplus"):
        await polls.poll("epoc")


# Offline snapshots -----------------------------------------------------------------------
def test_ingest_bundled_twice_second_is_a_no_op(engine: Engine):
    first = ingest_bundled(engine)
    assert {r.source for r in first} == {"epoch", "llm_stats", "evalplus", "lmarena"}
    assert all(r.counts["scores_changed"] == 0 for r in first)
    after_first = store_counts(engine)
    assert source_scores(engine, "epoch") == next(
        r.counts["scores_new"] for r in first if r.source == "epoch"
    )
    epoch = source_state(engine, "epoch")
    assert epoch is not None and epoch.last_success_at is None  # a snapshot is not a poll

    with statements(engine) as seen:
        second = ingest_bundled(engine)

    assert second == []
    assert writes(seen) == []
    assert store_counts(engine) == after_first
