"""LLM-Stats, EvalPlus, Artificial Analysis, models.dev, OpenRouter, bundled snapshots."""

from __future__ import annotations

import re

import pytest

from jobs.sources import SourcesConfig, build_sources
from jobs.sources import artificial_analysis as aa
from jobs.sources.base import RejectedRow, ScoreRecord, to_percent
from jobs.sources.bundled import load_bundled
from jobs.sources.evalplus import parse_results
from jobs.sources.llm_stats import parse_model_json
from jobs.sources.models_dev import parse_catalog
from jobs.sources.openrouter import parse_models
from tests.sources.conftest import fixture_bytes


def test_llm_stats_open_model_and_proprietary():
    v3 = parse_model_json(
        "deepseek/deepseek-v3", fixture_bytes("llm_stats", "deepseek__deepseek-v3.json")
    )
    model = v3.models[0]
    assert model.open_weights is True and model.total_params_b == 671
    assert model.hf_repo == "deepseek-ai/DeepSeek-V3"
    mmlu = next(s for s in v3.scores if s.benchmark == "mmlu")
    assert mmlu.value == pytest.approx(88.5) and mmlu.self_reported is False
    assert next(s for s in v3.scores if s.benchmark == "mmlu-pro").value == pytest.approx(75.9)
    gpt4 = parse_model_json(
        "openai/gpt-4-0613", fixture_bytes("llm_stats", "openai__gpt-4-0613.json")
    )
    assert gpt4.models[0].open_weights is False and gpt4.models[0].total_params_b is None


def test_evalplus_size_null_means_closed():
    batch = parse_results(fixture_bytes("evalplus", "results.json"))
    models = {m.name: m for m in batch.models}
    assert models["OpenCoder-8B-Instruct"].open_weights is True
    # EvalPlus sizes are active parameters for MoE models (Mixtral-8x7B: 13): not used.
    assert models["OpenCoder-8B-Instruct"].total_params_b is None
    assert models["GPT 4o (Aug 2024)"].open_weights is False
    score = next(
        s
        for s in batch.scores
        if s.model_name == "OpenCoder-8B-Instruct" and s.benchmark == "humaneval"
    )
    assert score.value == pytest.approx(81.7)
    # Code-13B has null MBPP results: skipped, not rejected.
    assert {s.benchmark for s in batch.scores if s.model_name == "Code-13B"} == {
        "humaneval",
        "humaneval+",
    }


def test_artificial_analysis_documented_example():
    text = fixture_bytes(
        "artificial_analysis", "v2_data_llms_models_documented_example.jsonc"
    ).decode()
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)  # the documentation's "// Other models..."
    text = re.sub(r",(\s*[\]}])", r"\1", text)
    batch = aa.parse_models(text)
    scores = {s.benchmark: s for s in batch.scores}
    assert scores["mmlu-pro"].value == pytest.approx(79.1)
    assert scores["gpqa"].value == pytest.approx(74.8)
    assert scores["artificial-analysis-intelligence-index"].unit == "index"
    assert batch.models[0].organization == "OpenAI" and batch.models[0].open_weights is None


def test_models_dev_and_openrouter_flags():
    md = {
        m.source_model_id: m
        for m in parse_catalog(fixture_bytes("models_dev", "models_canonical.json")).models
    }
    assert md["alibaba/qwen-flash"].open_weights is False
    assert md["alibaba/qwen2-5-vl-72b-instruct"].open_weights is True
    assert md["alibaba/qwen2-5-vl-72b-instruct"].hf_repo == "Qwen/Qwen2.5-VL-72B-Instruct"
    assert md["alibaba/qwen2-5-vl-72b-instruct"].released_on.isoformat() == "2024-09-01"
    orr = {
        m.source_model_id: m
        for m in parse_models(fixture_bytes("openrouter", "models.json")).models
    }
    granite = orr["ibm-granite/granite-4.1-8b"]
    assert granite.open_weights is True and granite.hf_repo == "ibm-granite/granite-4.1-8b"
    assert orr["anthropic/claude-opus-4.7-fast"].open_weights is None


def test_bundled_snapshots_parse_cleanly():
    batches = {b.source: b for b in load_bundled()}
    assert set(batches) == {"epoch", "llm_stats", "evalplus", "lmarena"}
    assert all(not b.rejected for b in batches.values())
    gpt4 = next(
        s
        for s in batches["epoch"].scores
        if s.raw_model_id == "gpt-4-0314" and s.benchmark == "mmlu"
    )
    assert gpt4.value == pytest.approx(86.4)
    assert {s.benchmark for s in batches["llm_stats"].scores} == {"mmlu", "humaneval", "gsm8k"}


def test_build_sources_registry():
    keys = [s.key for s in build_sources({})]
    assert keys[:3] == ["epoch", "huggingface", "lmarena"]
    assert "artificial_analysis" not in keys
    with_key = build_sources(
        SourcesConfig(artificial_analysis_key="k", base_urls={"epoch": "http://127.0.0.1:1/z.zip"})
    )
    assert with_key[0].url == "http://127.0.0.1:1/z.zip"
    assert "artificial_analysis" in [s.key for s in with_key]


def test_score_record_validation():
    assert to_percent("86.4", 100) == pytest.approx(86.4)
    assert to_percent(0.864, 1) == pytest.approx(86.4)
    for bad in ("n/a", "", None, "1.2e9"):
        with pytest.raises(ValueError):
            to_percent(bad, 100)
    with pytest.raises(ValueError):
        ScoreRecord(model_name="x", benchmark="mmlu", value=120.0)
    assert ScoreRecord(model_name="x", benchmark="arena", value=1500.0, unit="elo").value == 1500
    assert len(RejectedRow.of("r", "x" * 500).excerpt) == 200
