"""Generic tabular source: CSV / JSON / Parquet with a column mapping."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from aiohttp import web

from jobs.sources.base import SourceFormatError, SourceState
from jobs.sources.http import SourceClient
from jobs.sources.tabular import ColumnMapping, TabularSource, parse_table
from tests.sources.conftest import LocalServer, fixture_bytes, fixture_path

MAPPING = ColumnMapping(
    model="model",
    value="score",
    scale=100,
    benchmark="benchmark",
    date="date",
    open_weights="license",
    open_values=frozenset(),
    closed_values=frozenset({"proprietary"}),
)
RECORDS = fixture_bytes("tabular", "scores.json")


def test_string_scores_accepted_and_na_rejected():
    batch = parse_table(RECORDS, "json", MAPPING, source="mine")
    scores = {s.model_name: s for s in batch.scores}
    assert scores["DeepSeek-V3"].value == pytest.approx(88.5)  # given as the string "88.5"
    assert scores["DeepSeek-V3"].benchmark == "mmlu"
    assert scores["DeepSeek-V3"].available_on.isoformat() == "2024-12-25"
    assert "GPT-4" not in scores
    [rejected] = batch.rejected
    assert "n/a" in rejected.reason and "GPT-4" in rejected.excerpt
    models = {m.name: m for m in batch.models}
    assert models["Llama 3.1 405B Instruct"].open_weights is None  # licence names not mapped


def test_fraction_scale_and_fixed_benchmark_from_csv():
    frame = pd.DataFrame(json.loads(RECORDS))
    frame["score"] = ["0.885", "0.873", ""]
    mapping = ColumnMapping(model="model", value="score", scale=1, fixed_benchmark="MMLU")
    batch = parse_table(frame.to_csv(index=False).encode(), "csv", mapping)
    assert [round(s.value, 1) for s in batch.scores] == [88.5, 87.3]
    assert len(batch.rejected) == 1


def test_parquet_round_trip():
    frame = pd.DataFrame(json.loads(RECORDS))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    batch = parse_table(buffer.getvalue(), "parquet", MAPPING)
    assert {s.model_name for s in batch.scores} == {"DeepSeek-V3", "Llama 3.1 405B Instruct"}


def test_renamed_column_names_the_column():
    drifted = RECORDS.replace(b'"score"', b'"accuracy"')
    with pytest.raises(SourceFormatError, match="'score'"):
        parse_table(drifted, "json", MAPPING)


def test_mapping_needs_exactly_one_benchmark_choice():
    with pytest.raises(ValueError):
        ColumnMapping(model="m", value="v")
    with pytest.raises(ValueError):
        ColumnMapping(model="m", value="v", benchmark="b", fixed_benchmark="MMLU")


async def test_fetch_url_and_local_file(server: LocalServer, client: SourceClient):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=RECORDS, content_type="application/json")

    server.route("/scores.json", handler)
    remote = TabularSource(key="mine", location=server.url("/scores.json"), mapping=MAPPING)
    batch = await remote.fetch(client, SourceState())
    assert batch.source == "mine" and len(batch.scores) == 2

    local = TabularSource(
        key="file", location=str(fixture_path("tabular", "scores.json")), mapping=MAPPING
    )
    first = await local.fetch(client, SourceState())
    assert len(first.scores) == 2
    assert (await local.fetch(client, first.state())).not_modified
