"""Epoch AI benchmark zip: parsing real (trimmed) CSVs, joins, drift, and over HTTP."""

from __future__ import annotations

import pytest
from aiohttp import web

from jobs.sources.base import SourceFormatError, SourceState
from jobs.sources.epoch import (
    EpochSource,
    benchmark_key,
    open_weights_from_accessibility,
    parse_tables,
    parse_zip,
    shots_setting,
)
from jobs.sources.http import SourceClient
from tests.sources.conftest import LocalServer, epoch_zip, fixture_path


def _tables(**overrides: str) -> dict[str, str]:
    tables = {p.name: p.read_text("utf-8") for p in fixture_path("epoch").glob("*.csv")}
    tables.update(overrides)
    return tables


def _score(batch, benchmark: str, version: str):
    return next(s for s in batch.scores if s.benchmark == benchmark and s.raw_model_id == version)


@pytest.fixture(scope="module")
def batch():
    return parse_zip(epoch_zip())


def test_known_mmlu_rows_and_open_flags(batch):
    gpt4 = _score(batch, "mmlu", "gpt-4-0314")
    assert gpt4.value == pytest.approx(86.4)
    assert gpt4.setting == "5-shot"
    assert gpt4.available_on.isoformat() == "2023-03-14"
    assert gpt4.model_name == "GPT-4 (Mar 2023)"  # the capabilities index's display name
    # DeepSeek-V3 has two MMLU rows (0.872, 0.871): the best is kept.
    assert _score(batch, "mmlu", "DeepSeek-V3").value == pytest.approx(87.2)
    models = {m.source_model_id: m for m in batch.models}
    assert models["DeepSeek-V3"].open_weights is True  # "Open weights (restricted use)"
    assert models["gpt-4-0314"].open_weights is False  # "API access"
    assert models["DeepSeek-V3"].organization == "DeepSeek"


def test_row_without_model_version_keeps_its_name(batch):
    palmyra = next(s for s in batch.scores if s.model_name == "Palmyra X (43B)")
    assert palmyra.benchmark == "gsm8k" and palmyra.raw_model_id is None
    assert palmyra.value == pytest.approx(63.3)


def test_epoch_run_family_uses_mean_score(batch):
    score = _score(batch, "math-level-5", "gpt-5-2025-08-07_high")
    assert score.value == pytest.approx(98.13066465256798)
    assert score.setting is None and score.url.startswith("https://")


def test_eci_scores_are_not_percent(batch):
    eci = [s for s in batch.scores if s.benchmark == "eci"]
    assert eci and all(s.unit == "eci" for s in eci)


def test_zip_folder_layout_does_not_matter():
    flat = parse_zip(epoch_zip(folder=""))
    nested = parse_zip(epoch_zip(folder="data/2026/"))
    assert len(flat.scores) == len(nested.scores) > 0


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("mmlu_external.csv", "mmlu"),
        ("gpqa_diamond.csv", "gpqa-diamond"),
        ("benchmark_data/math_level_5.csv", "math-level-5"),
    ],
)
def test_benchmark_key_from_file_name(name: str, key: str):
    assert benchmark_key(name) == key


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        ("Open weights (unrestricted)", True),
        ("Open weights (non-commercial)", True),
        ("API access", False),
        ("Hosted access (no API)", False),
        ("Unreleased", None),
        ("", None),
        (None, None),
    ],
)
def test_accessibility_mapping(value, flag):
    assert open_weights_from_accessibility(value) is flag


def test_shots_setting():
    assert shots_setting("5") == "5-shot"
    assert shots_setting("5.0") == "5-shot"
    assert shots_setting("") is None
    assert shots_setting("few-shot CoT") == "few-shot CoT"


def test_renamed_column_in_required_file_names_the_column():
    mmlu = fixture_path("epoch", "mmlu_external.csv").read_text("utf-8")
    drifted = mmlu.replace("Release date", "Released", 1)
    with pytest.raises(SourceFormatError, match="'Release date'"):
        parse_tables(_tables(**{"mmlu_external.csv": drifted}))


def test_renamed_accessibility_column_fails_loudly():
    eci = fixture_path("epoch", "epoch_capabilities_index.csv").read_text("utf-8")
    drifted = eci.replace("Model accessibility", "Access", 1)
    with pytest.raises(SourceFormatError, match="Model accessibility"):
        parse_tables(_tables(**{"epoch_capabilities_index.csv": drifted}))


def test_drift_in_an_optional_file_rejects_only_that_file():
    math = fixture_path("epoch", "math_level_5.csv").read_text("utf-8")
    drifted = math.replace("mean_score", "avg", 1).replace("Release date", "Released", 1)
    batch = parse_tables(_tables(**{"math_level_5.csv": drifted}))
    assert not any(s.benchmark == "math-level-5" for s in batch.scores)
    assert any("math_level_5.csv" in r.reason for r in batch.rejected)
    assert any(s.benchmark == "mmlu" for s in batch.scores)


def test_out_of_scale_value_is_rejected_not_rescaled():
    mmlu = fixture_path("epoch", "mmlu_external.csv").read_text("utf-8")
    drifted = mmlu.replace("gpt-4-0314,0.864,", "gpt-4-0314,86.4,", 1)
    batch = parse_tables(_tables(**{"mmlu_external.csv": drifted}))
    assert any("outside" in r.reason and "gpt-4-0314" in r.excerpt for r in batch.rejected)
    assert all(s.value <= 100 for s in batch.scores if s.unit == "%")


def test_html_instead_of_zip_is_a_format_error():
    with pytest.raises(SourceFormatError, match="not a zip"):
        parse_zip(b"<!DOCTYPE html><html>maintenance</html>")


async def test_fetch_over_http_then_304(server: LocalServer, client: SourceClient):
    body = epoch_zip()

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"z1"':
            return web.Response(status=304)
        return web.Response(body=body, content_type="application/zip", headers={"ETag": '"z1"'})

    server.route("/data/benchmark_data.zip", handler)
    source = EpochSource(url=server.url("/data/benchmark_data.zip"))
    batch = await source.fetch(client, SourceState())
    assert _score(batch, "mmlu", "gpt-4-0314").value == pytest.approx(86.4)
    assert batch.content_hash and batch.etag == '"z1"'
    again = await source.fetch(client, batch.state())
    assert again.not_modified and again.etag == '"z1"'


async def test_renamed_column_over_http_is_a_format_error(
    server: LocalServer, client: SourceClient
):
    mmlu = fixture_path("epoch", "mmlu_external.csv").read_text("utf-8")
    body = epoch_zip({"mmlu_external.csv": mmlu.replace("Model version", "Model", 1)})

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/zip")

    server.route("/benchmark_data.zip", handler)
    with pytest.raises(SourceFormatError, match="'Model version'") as info:
        await EpochSource(url=server.url("/benchmark_data.zip")).fetch(client, SourceState())
    assert "mmlu_external.csv" in str(info.value)
