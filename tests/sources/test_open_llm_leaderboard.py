"""Open LLM Leaderboard v2 contents via the datasets-server /rows API."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from jobs.sources.base import SourceFormatError, SourceState
from jobs.sources.http import SourceClient
from jobs.sources.open_llm_leaderboard import OpenLLMLeaderboardSource, parse_rows, parse_rows_page
from tests.sources.conftest import LocalServer, fixture_bytes

ENVELOPE = json.loads(fixture_bytes("open_llm_leaderboard", "rows_all.json"))


def test_known_row_scores_and_model():
    rows, total = parse_rows_page(ENVELOPE)
    assert total == len(rows) == 4
    batch = parse_rows(rows)
    yi = {s.benchmark: s for s in batch.scores if s.raw_model_id == "01-ai/Yi-1.5-34B"}
    assert set(yi) == {"ifeval", "bbh", "math-lvl-5", "gpqa", "musr", "mmlu-pro"}
    assert "mmlu" not in yi  # MMLU-PRO is not MMLU
    assert yi["mmlu-pro"].value == pytest.approx(46.65890957446808)  # raw accuracy 0.4666
    assert yi["mmlu-pro"].setting == "5-shot"
    assert yi["mmlu-pro"].available_on.isoformat() == "2024-06-12"
    model = next(m for m in batch.models if m.hf_repo == "01-ai/Yi-1.5-34B")
    assert model.total_params_b == pytest.approx(34.389) and model.license == "apache-2.0"
    assert model.open_weights is True and model.likes == 47


def test_zero_params_kept_as_unknown_and_flagged_rejected():
    batch = parse_rows(parse_rows_page(ENVELOPE)[0])
    gemma = next(m for m in batch.models if m.hf_repo == "google/gemma-2-2b")
    assert gemma.total_params_b is None
    assert any("flagged" in r.reason for r in batch.rejected)
    assert not any(m.hf_repo == "newsbang/Homer-v0.5-Qwen2.5-7B" for m in batch.models)


def test_renamed_column_is_named():
    rows = [dict(r["row"]) for r in ENVELOPE["rows"]]
    for row in rows:
        row["MMLU-PRO raw"] = row.pop("MMLU-PRO Raw")
    with pytest.raises(SourceFormatError, match="'MMLU-PRO Raw'"):
        parse_rows(rows)


def test_error_envelope_is_format_error():
    with pytest.raises(SourceFormatError):
        parse_rows_page(b'{"error": "The dataset does not exist."}')


async def test_pages_by_offset(server: LocalServer, client: SourceClient):
    async def rows(request: web.Request) -> web.Response:
        offset, length = int(request.query["offset"]), int(request.query["length"])
        page = dict(ENVELOPE, rows=ENVELOPE["rows"][offset : offset + length])
        return web.json_response(page)

    server.route("/rows", rows)
    source = OpenLLMLeaderboardSource(base_url=server.base_url, page_length=3)
    batch = await source.fetch(client, SourceState())
    assert [r.query["offset"] for r in server.requests] == ["0", "3"]
    assert server.requests[0].query["dataset"] == "open-llm-leaderboard/contents"
    assert len(batch.models) == 3
