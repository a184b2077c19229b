"""Hugging Face Hub adapter: real single-model bodies, list pagination over a local server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from jobs.sources.base import RejectedRow, SourceFormatError, SourceState
from jobs.sources.http import SourceClient
from jobs.sources.huggingface import (
    EXPAND,
    HuggingFaceSource,
    architecture_from_config,
    params_from_safetensors,
    parse_model,
    parse_models_page,
)
from tests.sources.conftest import LocalServer, fixture_bytes

LLAMA = "meta-llama__Llama-3.1-8B-Instruct.json"
ZEPHYR_MOE = "HuggingFaceH4__zephyr-orpo-141b-A35b-v0.1.json"
FLAN = "google__flan-t5-xxl.json"
GPT2 = "openai-community__gpt2.json"
GRM = "OrionLLM__GRM-2.6-Opus_2026-07-05.json"
NO_PARAMS = "meta-llama__Llama-3.3-70B-Instruct_Q_expand-inferenceProviderMapping.json"


def _item(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes("huggingface", name))


def _as_list_item(name: str) -> dict[str, Any]:
    """A real single-model body cut down to what ``expand[]`` returns (``_id``, ``id`` + keys)."""
    body = _item(name)
    return {k: v for k, v in body.items() if k in {"_id", "id", *EXPAND}}


def _parse(name: str):
    rejected: list[RejectedRow] = []
    record = parse_model(_item(name), rejected)
    assert not rejected
    return record


def test_gated_llama_params_licence_and_date():
    model = _parse(LLAMA)
    assert model.hf_repo == "meta-llama/Llama-3.1-8B-Instruct"
    assert model.name == "Llama-3.1-8B-Instruct" and model.organization == "meta-llama"
    assert model.total_params_b == pytest.approx(8.030, abs=1e-3)
    assert model.license == "llama3.1"
    assert model.gated is True  # "manual"
    assert model.open_weights is True
    assert model.released_on.isoformat() == "2024-07-18"


def test_moe_total_params_and_f32_model():
    assert _parse(ZEPHYR_MOE).total_params_b == pytest.approx(140.621, abs=1e-3)
    assert _parse(FLAN).total_params_b == pytest.approx(11.267, abs=1e-3)


def test_pre_history_created_at_is_unknown():
    assert _parse(GPT2).released_on is None  # 2022-03-02T23:29:04Z placeholder


def test_2026_payload():
    model = _parse(GRM)
    assert model.total_params_b == pytest.approx(27.781, abs=1e-3)
    assert model.license == "apache-2.0" and model.gated is False


def test_model_without_parameter_count_is_kept():
    model = _parse(NO_PARAMS)
    assert model.name == "Llama-3.3-70B-Instruct"
    assert model.total_params_b is None and model.open_weights is None


@pytest.mark.parametrize(
    ("safetensors", "expected"),
    [
        ({"parameters": {"BF16": 8030261248}, "total": 8030261248}, 8030261248),
        # F32 norms next to BF16 weights are real parameters: the total counts both.
        ({"parameters": {"BF16": 1000, "F32": 10}, "total": 1010}, 1010),
        # FP8 weights with F32 block scales (DeepSeek-V3 style): float dtypes, total kept.
        ({"parameters": {"F8_E4M3": 680, "BF16": 4, "F32": 1}, "total": 685}, 685),
        # GPTQ/AWQ pack several 4-bit weights into one I32: the total is not a param count.
        ({"parameters": {"I32": 900, "F16": 100}, "total": 1000}, None),
        ({"parameters": {"U8": 500, "BF16": 10}, "total": 510}, None),
        ({}, None),
        (None, None),
    ],
)
def test_params_from_safetensors(safetensors, expected):
    assert params_from_safetensors(safetensors) == expected


def test_architecture_mla_moe():
    # Excerpt of deepseek-ai/DeepSeek-V3 config.json (published values).
    config = {
        "model_type": "deepseek_v3",
        "num_hidden_layers": 61,
        "num_attention_heads": 128,
        "num_key_value_heads": 128,
        "hidden_size": 7168,
        "kv_lora_rank": 512,
        "qk_rope_head_dim": 64,
        "qk_nope_head_dim": 128,
        "n_routed_experts": 256,
        "num_experts_per_tok": 8,
        "max_position_embeddings": 163840,
    }
    arch = architecture_from_config(config)
    assert arch["attention"] == "mla" and arch["kv_lora_rank"] == 512
    assert arch["head_dim"] == 192 and arch["qk_rope_head_dim"] == 64
    assert arch["experts"] == 256 and arch["experts_per_token"] == 8
    assert arch["layers"] == 61 and arch["max_context"] == 163840


def test_architecture_gqa_and_unused_sliding_window():
    config = {
        "num_hidden_layers": 80,
        "num_attention_heads": 64,
        "num_key_value_heads": 8,
        "hidden_size": 8192,
        "max_position_embeddings": 32768,
        "sliding_window": 131072,
        "use_sliding_window": False,
    }
    arch = architecture_from_config(config)
    assert arch["attention"] == "gqa" and arch["kv_heads"] == 8 and arch["head_dim"] == 128
    assert "sliding_window" not in arch


def test_architecture_layer_types_sliding_and_hybrid():
    sliding = architecture_from_config(
        {
            "text_config": {
                "num_hidden_layers": 6,
                "num_attention_heads": 8,
                "num_key_value_heads": 4,
                "head_dim": 256,
                "sliding_window": 1024,
                "layer_types": ["sliding_attention"] * 5 + ["full_attention"],
            }
        }
    )
    assert sliding["attention"] == "sliding" and sliding["full_attention_layers"] == 1
    assert sliding["sliding_window"] == 1024 and sliding["head_dim"] == 256
    hybrid = architecture_from_config(
        {
            "num_hidden_layers": 4,
            "num_attention_heads": 16,
            "num_key_value_heads": 2,
            "hidden_size": 2048,
            "layer_types": ["linear_attention"] * 3 + ["full_attention"],
        }
    )
    assert hybrid["attention"] == "hybrid" and hybrid["full_attention_layers"] == 1


def test_api_config_digest_has_no_architecture():
    # The API's "config" only has architectures/model_type/tokenizer_config.
    assert _parse(LLAMA).layers is None


def test_list_page_parse_and_non_list_is_format_error():
    page = json.dumps([_as_list_item(LLAMA), _as_list_item(GPT2), {"no": "id"}])
    batch = parse_models_page(page)
    assert [m.hf_repo for m in batch.models] == [
        "meta-llama/Llama-3.1-8B-Instruct",
        "openai-community/gpt2",
    ]
    assert len(batch.rejected) == 1
    with pytest.raises(SourceFormatError):
        parse_models_page(b'{"error": "Invalid credentials"}')


async def test_cursor_pagination_over_three_pages(server: LocalServer, client: SourceClient):
    pages = {
        None: [_as_list_item(LLAMA), _as_list_item(ZEPHYR_MOE)],
        "c2": [_as_list_item(FLAN), _as_list_item(GPT2)],
        "c3": [_as_list_item(GRM), _item(NO_PARAMS)],
    }
    following = {None: "c2", "c2": "c3", "c3": None}

    async def handler(request: web.Request) -> web.Response:
        cursor = request.query.get("cursor")
        headers = {}
        if following[cursor]:
            headers["Link"] = (
                f"<{server.url('/api/models')}?author=meta-llama&cursor={following[cursor]}>; "
                'rel="next"'
            )
        return web.json_response(pages[cursor], headers=headers)

    server.route("/api/models", handler)
    source = HuggingFaceSource(authors=("meta-llama",), base_url=server.base_url, page_size=2)
    batch = await source.fetch(client, SourceState())

    assert server.hits["/api/models"] == 3
    first = server.requests[0].query
    assert first["author"] == "meta-llama" and first["sort"] == "createdAt"
    assert first["direction"] == "-1" and first["limit"] == "2"
    assert set(first.getall("expand[]")) >= {"safetensors", "config", "cardData", "gated"}
    assert [r.query.get("cursor") for r in server.requests] == [None, "c2", "c3"]
    repos = {m.hf_repo: m for m in batch.models}
    assert len(repos) == 6
    assert repos["meta-llama/Llama-3.3-70B-Instruct"].total_params_b is None
    assert repos["HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1"].total_params_b == pytest.approx(
        140.621, abs=1e-3
    )

    again = await source.fetch(client, batch.state())
    assert again.not_modified


async def test_next_link_to_another_host_is_not_followed(server: LocalServer, client: SourceClient):
    async def handler(request: web.Request) -> web.Response:
        link = '<https://evil.example/api/models?cursor=x>; rel="next"'
        return web.json_response([_as_list_item(GPT2)], headers={"Link": link})

    server.route("/api/models", handler)
    source = HuggingFaceSource(authors=("openai-community",), base_url=server.base_url)
    batch = await source.fetch(client, SourceState())
    assert server.hits["/api/models"] == 1 and len(batch.models) == 1


async def test_config_json_fetch_and_gated_skip(server: LocalServer, client: SourceClient):
    async def listing(request: web.Request) -> web.Response:
        return web.json_response([_as_list_item(GRM), _as_list_item(LLAMA)])

    async def config(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "num_hidden_layers": 64,
                "num_attention_heads": 40,
                "num_key_value_heads": 8,
                "hidden_size": 5120,
                "max_position_embeddings": 40960,
            }
        )

    async def gated(request: web.Request) -> web.Response:
        return web.Response(status=401, text="Access to model is restricted")

    server.route("/api/models", listing)
    server.route("/OrionLLM/GRM-2.6-Opus/resolve/main/config.json", config)
    server.route("/meta-llama/Llama-3.1-8B-Instruct/resolve/main/config.json", gated)
    source = HuggingFaceSource(authors=("x",), base_url=server.base_url, fetch_configs=True)
    batch = await source.fetch(client, SourceState())
    models = {m.hf_repo: m for m in batch.models}
    grm = models["OrionLLM/GRM-2.6-Opus"]
    assert grm.layers == 64 and grm.kv_heads == 8 and grm.head_dim == 128
    assert grm.attention == "gqa"
    llama = models["meta-llama/Llama-3.1-8B-Instruct"]
    assert llama.layers is None and llama.total_params_b == pytest.approx(8.03, abs=1e-2)
