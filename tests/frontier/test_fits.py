"""Tests for ``frontier.quant`` and ``frontier.fits``.

Every expected figure is worked out by hand in a comment. GiB = 2**30 bytes. Architectures come
from the models' Hugging Face ``config.json`` files, named where each model is defined.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontier.errors import InputError
from frontier.fits import (
    DEFAULT_OVERHEAD_GIB,
    GIB,
    SEARCH_QUANTS,
    FitInputError,
    consumer_frontier,
    consumer_lag,
    estimate_memory,
    fit_report,
    models_that_fit,
)
from frontier.quant import (
    KV_CACHE_TYPES,
    QUANTS,
    UnknownQuantError,
    lookup_kv_cache_type,
    lookup_quant,
)
from frontier.types import Architecture, Citation, ModelSpec, Score

# meta-llama/Llama-3.1-8B config.json: num_hidden_layers 32, num_key_value_heads 8,
# hidden_size 4096 / num_attention_heads 32 = head_dim 128, max_position_embeddings 131072.
# 8,030,261,248 parameters (safetensors index).
LLAMA_8B = ModelSpec(
    slug="llama-3.1-8b",
    name="Llama 3.1 8B",
    open_weights=True,
    total_params_b=8.03,
    architecture=Architecture(
        layers=32, kv_heads=8, head_dim=128, attention_heads=32, max_context=131072
    ),
)
# meta-llama/Llama-3.1-70B config.json: 80 layers, 8 KV heads, 8192 / 64 heads = head_dim 128.
# 70,553,706,496 parameters.
LLAMA_70B = ModelSpec(
    slug="llama-3.1-70b",
    name="Llama 3.1 70B",
    open_weights=True,
    total_params_b=70.6,
    architecture=Architecture(layers=80, kv_heads=8, head_dim=128, max_context=131072),
)
# Qwen/Qwen2.5-32B config.json: 64 layers, 8 KV heads, 5120 / 40 heads = head_dim 128; 32.8B.
QWEN_32B = ModelSpec(
    slug="qwen2.5-32b",
    name="Qwen2.5 32B",
    open_weights=True,
    total_params_b=32.8,
    architecture=Architecture(layers=64, kv_heads=8, head_dim=128, max_context=131072),
)
# deepseek-ai/DeepSeek-V3 config.json: num_hidden_layers 61, kv_lora_rank 512,
# qk_rope_head_dim 64, n_routed_experts 256, num_experts_per_tok 8,
# max_position_embeddings 163840. 671B total, 37B active (DeepSeek-V3 technical report).
DEEPSEEK_V3 = ModelSpec(
    slug="deepseek-v3",
    name="DeepSeek-V3",
    open_weights=True,
    total_params_b=671,
    active_params_b=37,
    architecture=Architecture(
        layers=61,
        attention="mla",
        kv_lora_rank=512,
        qk_rope_head_dim=64,
        experts=256,
        experts_per_token=8,
        max_context=163840,
    ),
)
# google/gemma-3-27b-it config.json (text_config): 62 layers, 16 KV heads, head_dim 128,
# sliding_window 1024, sliding_window_pattern 6 (every 6th layer global: 62 // 6 = 10 global,
# 52 local), max_position_embeddings 131072. 27.4B parameters (Gemma 3 technical report).
GEMMA_3_27B = ModelSpec(
    slug="gemma-3-27b",
    name="Gemma 3 27B",
    open_weights=True,
    total_params_b=27.4,
    architecture=Architecture(
        layers=62,
        kv_heads=16,
        head_dim=128,
        attention="sliding",
        sliding_window=1024,
        full_attention_layers=10,
        max_context=131072,
    ),
)
# Qwen3.5-27B: 64 layers, 4 KV heads (query groups), head_dim (kv-channels) 256
# (THUDM/slime scripts/models/qwen3.5-27B.sh); full attention every 4th layer: 16 of 64
# (notes/prior-art.md §2.2), max context 262144.
QWEN35_27B = ModelSpec(
    slug="qwen3.5-27b",
    name="Qwen3.5 27B",
    open_weights=True,
    total_params_b=27,
    architecture=Architecture(
        layers=64,
        kv_heads=4,
        head_dim=256,
        attention="hybrid",
        full_attention_layers=16,
        max_context=262144,
    ),
)
# mistralai/Mixtral-8x7B-v0.1 config.json: 32 layers, 8 KV heads, 4096 / 32 = head_dim 128,
# num_local_experts 8, num_experts_per_tok 2, max_position_embeddings 32768.
# 46.7B total, 12.9B active (Mistral AI, "Mixtral of experts").
MIXTRAL = ModelSpec(
    slug="mixtral-8x7b",
    name="Mixtral 8x7B",
    open_weights=True,
    total_params_b=46.7,
    active_params_b=12.9,
    architecture=Architecture(
        layers=32, kv_heads=8, head_dim=128, experts=8, experts_per_token=2, max_context=32768
    ),
)
UNKNOWN_8B = ModelSpec(slug="mystery-8b", name="Mystery 8B", open_weights=True, total_params_b=8)
UNSIZED = ModelSpec(slug="unsized", name="Unsized", open_weights=True)
GPT_4 = ModelSpec(slug="gpt-4", name="GPT-4", open_weights=False, total_params_b=1800)


def gib(n_bytes: float) -> float:
    return n_bytes / GIB


# --- quant table -------------------------------------------------------------------------------


def test_quants_are_ordered_from_highest_to_lowest_precision() -> None:
    bits = [q.bits_per_weight for q in QUANTS]
    nominal = [q.nominal_bits for q in QUANTS]
    assert bits == sorted(bits, reverse=True)
    # Effective and nominal agree on the order, so "best that fits" is also "most bits".
    assert nominal == sorted(nominal, reverse=True)


def test_every_name_and_alias_resolves_to_one_format() -> None:
    names = [n for q in QUANTS for n in (q.name, *q.aliases)]
    assert len({lookup_quant(n).name for n in names}) == len(QUANTS)
    assert all(lookup_quant(q.name) is q for q in QUANTS)


@pytest.mark.parametrize(
    ("name", "bpw", "readme_gib"),
    [
        # llama.cpp tools/quantize/README.md, Llama-3.1-8B: the bpw and the file size must agree:
        # 8.03e9 · bpw / 8 / 2**30 ≈ the README's GiB (Q4_K_M: 8.03e9·4.8944/8/2**30 = 4.575).
        ("Q8_0", 8.5008, 7.95),
        ("Q6_K", 6.5633, 6.14),
        ("Q5_K_M", 5.7036, 5.33),
        ("Q4_K_M", 4.8944, 4.58),
        ("IQ4_XS", 4.4597, 4.17),
        ("IQ3_XXS", 3.2548, 3.04),
        ("Q2_K", 3.1593, 2.95),
        ("IQ2_XS", 2.5882, 2.42),
        ("IQ2_XXS", 2.3824, 2.23),
        ("IQ1_S", 2.0042, 1.87),
    ],
)
def test_measured_bits_per_weight_match_the_readme_file_sizes(
    name: str, bpw: float, readme_gib: float
) -> None:
    quant = lookup_quant(name)
    assert quant.bits_per_weight == bpw
    assert gib(8.03e9 * bpw / 8) == pytest.approx(readme_gib, abs=0.01)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Q4_K_M", "Q4_K_M"),
        ("q4_k_m", "Q4_K_M"),
        ("q4-k-m", "Q4_K_M"),
        (" Q4 K M ", "Q4_K_M"),
        ("Q4", "Q4_K_M"),  # the report's loose "Q4": the larger 4-bit file, conservatively
        ("INT4", "Q4_K_M"),
        ("4-bit", "Q4_K_M"),
        ("Q8", "Q8_0"),
        ("8bit", "Q8_0"),
        ("int8", "INT8"),
        ("fp16", "FP16"),
        ("F16", "FP16"),
        ("bfloat16", "BF16"),
        ("e4m3", "FP8"),
        ("q3", "Q3_K_M"),
        ("iq2_xxs", "IQ2_XXS"),
        ("q4_0", "Q4_0"),
        ("Q5_0", "Q5_0"),
    ],
)
def test_lookup_quant_is_tolerant_of_case_separators_and_aliases(name: str, expected: str) -> None:
    assert lookup_quant(name).name == expected


def test_unknown_quant_lists_valid_names_and_suggests() -> None:
    with pytest.raises(UnknownQuantError) as caught:
        lookup_quant("Q4_K_X")
    assert isinstance(caught.value, ValueError)
    assert "Unknown quantization 'Q4_K_X'" in str(caught.value)
    assert "Valid: FP32, BF16, FP16, Q8_0" in str(caught.value)
    assert "Q4_K_M" in caught.value.suggestions


@pytest.mark.parametrize(
    ("name", "bytes_per_element"),
    [
        ("f16", 2.0),  # binary16
        ("F16", 2.0),
        ("q8_0", 1.0625),  # 34-byte block of 32: 8.5 bits
        ("q4_0", 0.5625),  # 18-byte block of 32: 4.5 bits
        ("f32", 4.0),
    ],
)
def test_kv_cache_types(name: str, bytes_per_element: float) -> None:
    assert lookup_kv_cache_type(name).bytes_per_element == bytes_per_element


def test_kv_cache_type_names_are_unique() -> None:
    assert len({k.name for k in KV_CACHE_TYPES}) == len(KV_CACHE_TYPES)


# --- estimate_memory: weights ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "quant", "weights_gib"),
    [
        # 8.03e9 · 16 / 8 / 2**30 = 14.957 (the README's F16 file: 14.96)
        (LLAMA_8B, "FP16", 14.957),
        # 8.03e9 · 4.8944 / 8 / 2**30 = 4.575
        (LLAMA_8B, "Q4_K_M", 4.575),
        # 70.6e9 · 4.8944 / 8 / 2**30 = 40.227: the report's "70B at Q4 in 22 GB" is wrong
        (LLAMA_70B, "Q4", 40.227),
        # MoE: all experts resident, 46.7e9 · 4.8944 / 8 / 2**30 = 26.609, not the 7.350 that
        # the 12.9B active parameters would give (llmfit #230's mistake)
        (MIXTRAL, "Q4_K_M", 26.609),
        # 671e9 · 2.0042 / 8 / 2**30 = 156.557
        (DEEPSEEK_V3, "IQ1_S", 156.557),
    ],
)
def test_weights_are_total_params_times_effective_bits(
    model: ModelSpec, quant: str, weights_gib: float
) -> None:
    assert estimate_memory(model, quant).weights_gib == pytest.approx(weights_gib, abs=5e-4)


# --- estimate_memory: KV cache -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "context", "kv_type", "kv_gib"),
    [
        # GQA: 2 · 32 layers · 8 heads · 128 · 8192 · 2 B = 2**30 B = 1 GiB exactly
        (LLAMA_8B, 8192, "f16", 1.0),
        (LLAMA_8B, 32768, "f16", 4.0),
        # q8_0: 1 GiB · 1.0625 / 2 = 0.53125; q4_0: 1 GiB · 0.5625 / 2 = 0.28125
        (LLAMA_8B, 8192, "q8_0", 0.53125),
        (LLAMA_8B, 8192, "q4_0", 0.28125),
        (LLAMA_8B, 0, "f16", 0.0),
        # 2 · 80 · 8 · 128 · 8192 · 2 B = 2.5 GiB
        (LLAMA_70B, 8192, "f16", 2.5),
        # 2 · 64 · 8 · 128 · 8192 · 2 B = 2 GiB
        (QWEN_32B, 8192, "f16", 2.0),
        # MLA, no factor 2: 61 · (512 + 64) · 32768 · 2 B = 35136 / 16384 GiB = 2.14453125
        (DEEPSEEK_V3, 32768, "f16", 2.14453125),
        # 61 · 576 · 8192 · 2 B = 0.5361328125 GiB (68.625 KiB per token)
        (DEEPSEEK_V3, 8192, "f16", 0.5361328125),
        # Sliding: 2·16·128·2 B = 8 KiB per layer-token.
        # 32k: (10 · 32768 + 52 · 1024) · 8 KiB = 380928 · 8192 B = 2.90625 GiB
        # (every layer at full context would be 62 · 32768 · 8 KiB = 15.5 GiB)
        (GEMMA_3_27B, 32768, "f16", 2.90625),
        # 8k: (10 · 8192 + 52 · 1024) · 8 KiB = 135168 · 8192 B = 1.03125 GiB
        (GEMMA_3_27B, 8192, "f16", 1.03125),
        # below the window every layer keeps the context: 62 · 512 · 8 KiB = 62/256 GiB
        (GEMMA_3_27B, 512, "f16", 0.2421875),
        # Hybrid: 2 · 16 full layers · 4 · 256 · 262144 · 2 B = 2**34 B = 16 GiB, exactly
        # llama.cpp's "llama_kv_cache: size = 16384.00 MiB (262144 cells, 16 layers)"
        # (LM Studio #1862). All 64 layers would be 4× that.
        (QWEN35_27B, 262144, "f16", 16.0),
        (QWEN35_27B, 8192, "f16", 0.5),
    ],
)
def test_kv_cache_follows_the_attention_layout(
    model: ModelSpec, context: int, kv_type: str, kv_gib: float
) -> None:
    estimate = estimate_memory(model, "Q4_K_M", context, kv_type)
    assert estimate.kv_cache_gib == pytest.approx(kv_gib, rel=1e-12, abs=1e-12)
    assert estimate.kv_exact


def test_total_is_weights_plus_kv_plus_overhead() -> None:
    # 4.575 + 1 + 1 = 6.575 GiB
    estimate = estimate_memory(LLAMA_8B, "Q4_K_M", 8192)
    assert estimate.overhead_gib == DEFAULT_OVERHEAD_GIB == 1.0
    assert estimate.total_gib == pytest.approx(6.575, abs=5e-4)
    assert estimate_memory(LLAMA_8B, "Q4_K_M", overhead_gib=0.5).total_gib == pytest.approx(
        6.075, abs=5e-4
    )


@pytest.mark.parametrize(
    ("model", "kv_gib", "fragment"),
    [
        # Unknown: 128 KiB · √(8 / 8) per token · 8192 tokens = 1 GiB, flagged
        (UNKNOWN_8B, 1.0, "KV cache estimated"),
        # 32B: 128 KiB · √4 = 256 KiB per token (Qwen2.5-32B's real figure) · 8192 = 2 GiB
        (ModelSpec(slug="m32", name="M32", total_params_b=32), 2.0, "√(params / 8B)"),
        # MoE with unknown layout: sized by its 8B active parameters, 1 GiB
        (ModelSpec(slug="moe", name="MoE", total_params_b=47, active_params_b=8), 1.0, "unknown"),
        # KV heads unknown: counted as MHA, 2 · 32 · 32 · 128 · 8192 · 2 B = 4 GiB (upper bound)
        (
            ModelSpec(
                slug="no-kv",
                name="No KV",
                total_params_b=8,
                architecture=Architecture(layers=32, head_dim=128, attention_heads=32),
            ),
            4.0,
            "counted as MHA",
        ),
        # Sliding without a window: every layer at full context, 2 · 62 · 16 · 128 · 8192 · 2 B
        # = 3.875 GiB (upper bound)
        (
            ModelSpec(
                slug="swa",
                name="SWA",
                total_params_b=27,
                architecture=Architecture(
                    layers=62, kv_heads=16, head_dim=128, attention="sliding"
                ),
            ),
            3.875,
            "upper bound",
        ),
    ],
)
def test_unknown_layouts_are_estimated_and_flagged(
    model: ModelSpec, kv_gib: float, fragment: str
) -> None:
    estimate = estimate_memory(model, "Q4_K_M", 8192)
    assert estimate.kv_cache_gib == pytest.approx(kv_gib)
    assert not estimate.kv_exact
    assert fragment in estimate.kv_note
    assert any("estimate" in note for note in fit_report(model).notes)


def test_head_dim_falls_back_to_hidden_size_over_heads() -> None:
    arch = Architecture(layers=32, kv_heads=8, hidden_size=4096, attention_heads=32)
    model = ModelSpec(slug="x", name="X", total_params_b=8, architecture=arch)
    # 4096 / 32 = 128, so the same 1 GiB as Llama 3.1 8B
    assert estimate_memory(model, "Q4_K_M", 8192).kv_cache_gib == 1.0


# --- fit_report --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "budget", "context", "best", "fits_at_min_bits"),
    [
        # 8B at 24 GiB: BF16 14.957 + 1 + 1 = 16.957 fits
        (LLAMA_8B, 24.0, 8192, "BF16", True),
        # 8B at 8 GiB: Q6_K 6.135 + 2 = 8.135 > 8; Q5_K_M 5.332 + 2 = 7.332 fits
        (LLAMA_8B, 8.0, 8192, "Q5_K_M", True),
        # 70B at 24 GiB, 8k: weights may use 24 - 2.5 - 1 = 20.5 GiB; IQ2_XS 21.272 too big,
        # IQ2_XXS 19.581 fits (23.081 total): 2-bit, so not "4-bit or better"
        (LLAMA_70B, 24.0, 8192, "IQ2_XXS", False),
        # Mixtral at 24 GiB: weights may use 22 GiB; IQ4_XS 24.246 too big, Q3_K_M 21.746 fits.
        # Q3_K_M is 4.0 effective bpw but a 3-bit format, so not "4-bit or better"
        (MIXTRAL, 24.0, 8192, "Q3_K_M", False),
        # 32B at 24 GiB: Q4_K_M 18.69 + 2 + 1 = 21.69 fits; Q5_0 21.0013 + 3 = 24.0013 just
        # does not
        (QWEN_32B, 24.0, 8192, "Q4_K_M", True),
        # 32B at 32k: KV 8 GiB, so weights may use 15 GiB: Q3_K_M 15.27 no, IQ3_M 14.37 yes
        (QWEN_32B, 24.0, 32768, "IQ3_M", False),
        # DeepSeek-V3: even IQ1_S is 156.6 GiB
        (DEEPSEEK_V3, 24.0, 8192, None, False),
    ],
)
def test_best_quant(
    model: ModelSpec, budget: float, context: int, best: str | None, fits_at_min_bits: bool
) -> None:
    report = fit_report(model, budget_gib=budget, context=context)
    assert (report.best_quant.name if report.best_quant else None) == best
    assert report.fits_at_min_bits is fits_at_min_bits
    assert report.fits is (best is not None)


def test_the_reports_70b_at_q4_in_22_gb_does_not_fit_24_gib() -> None:
    # 40.227 + 2.5 + 1 = 43.727 GiB, 19.727 over budget
    report = fit_report(LLAMA_70B, quant="Q4", budget_gib=24.0)
    assert report.estimate.quant.name == "Q4_K_M"
    assert not report.fits
    assert report.estimate.total_gib == pytest.approx(43.727, abs=5e-4)
    assert report.headroom_gib == pytest.approx(-19.727, abs=5e-4)
    assert report.longest_context is None  # even the weights alone are over


def test_asked_quant_is_reported_and_the_best_still_given() -> None:
    report = fit_report(LLAMA_8B, quant="Q4_K_M", budget_gib=24.0)
    assert report.estimate.quant.name == "Q4_K_M"
    assert report.best_quant is not None and report.best_quant.name == "BF16"
    assert report.headroom_gib == pytest.approx(24 - 6.575, abs=5e-4)


def test_nothing_fits_reports_the_smallest_format() -> None:
    report = fit_report(DEEPSEEK_V3)
    assert report.estimate.quant is SEARCH_QUANTS[-1]
    assert not report.fits
    assert any(n.startswith("Nothing fits in 24 GiB") for n in report.notes)


@pytest.mark.parametrize(
    ("model", "quant", "budget", "longest"),
    [
        # 8B Q4_K_M in 8 GiB: (8 - 1 - 4.57536) GiB / 128 KiB per token = 2.42464 · 8192
        # = 19862.66 → 19862
        (LLAMA_8B, "Q4_K_M", 8.0, 19862),
        # 8B BF16 in 24 GiB: (24 - 1 - 14.95704) · 8192 = 65887.92 → 65887
        (LLAMA_8B, "BF16", 24.0, 65887),
        # 8B Q4_K_M in 80 GiB: room for 600k tokens, capped at the model's 131072
        (LLAMA_8B, "Q4_K_M", 80.0, 131072),
        # Qwen3.5 27B hybrid: 64 KiB per token (2 · 16 · 4 · 256 · 2 B) instead of 256 KiB.
        # Q4_K_M: 27e9 · 4.8944 / 8 / 2**30 = 15.38415 GiB; (24 - 1 - 15.38415) · 16384
        # = 124778.2 → 124778
        (QWEN35_27B, "Q4_K_M", 24.0, 124778),
    ],
)
def test_longest_context(model: ModelSpec, quant: str, budget: float, longest: int) -> None:
    report = fit_report(model, quant=quant, budget_gib=budget)
    assert report.longest_context == longest


def test_longest_context_is_the_edge_of_fitting() -> None:
    report = fit_report(GEMMA_3_27B, quant="Q4_K_M", budget_gib=24.0)
    assert report.longest_context is not None
    assert report.longest_context < 131072
    at = estimate_memory(GEMMA_3_27B, "Q4_K_M", report.longest_context).total_gib
    past = estimate_memory(GEMMA_3_27B, "Q4_K_M", report.longest_context + 1).total_gib
    assert at <= 24.0 < past


@pytest.mark.parametrize(
    ("model", "kwargs", "fragment"),
    [
        (DEEPSEEK_V3, {}, "MoE: all 256 experts resident (671B parameters); 37B active"),
        (MIXTRAL, {}, "MoE: all 8 experts resident (46.7B parameters); 12.9B active"),
        (LLAMA_8B, {"context": 200000}, "exceeds the model's maximum of 131,072"),
        (LLAMA_70B, {}, "Best format that fits, IQ2_XXS, is below 4-bit"),
        (LLAMA_8B, {"kv_cache_type": "q8_0"}, "quantized V cache needs flash attention"),
        (UNKNOWN_8B, {}, "Maximum context unknown"),
    ],
)
def test_notes(model: ModelSpec, kwargs: dict[str, object], fragment: str) -> None:
    notes = fit_report(model, **kwargs).notes  # type: ignore[arg-type]
    assert any(fragment in note for note in notes), notes


def test_a_dense_model_with_a_known_layout_has_no_notes() -> None:
    assert fit_report(LLAMA_8B).notes == ()


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: fit_report(LLAMA_8B, budget_gib=-4),
            "VRAM must be a positive number of GiB, got -4.",
        ),
        (
            lambda: fit_report(LLAMA_8B, budget_gib=0),
            "VRAM must be a positive number of GiB, got 0.",
        ),
        (
            lambda: fit_report(LLAMA_8B, budget_gib=math.nan),
            "VRAM must be a positive number of GiB, got nan.",
        ),
        (
            lambda: fit_report(LLAMA_8B, budget_gib="24"),  # type: ignore[arg-type]
            "VRAM must be a positive number of GiB, got '24'.",
        ),
        (
            lambda: fit_report(LLAMA_8B, context=-1),
            "Context must be a whole number of tokens, 0 or more, got -1.",
        ),
        (lambda: fit_report(LLAMA_8B, quant="Q4_K_X"), "Unknown quantization 'Q4_K_X'."),
        (lambda: fit_report(LLAMA_8B, kv_cache_type="q3_0"), "Unknown KV cache type 'q3_0'."),
        (lambda: fit_report(UNSIZED), "Unsized has no parameter count"),
        (lambda: fit_report(LLAMA_8B, min_bits=-1), "Minimum bits must be 0 or more, got -1."),
        (lambda: estimate_memory(LLAMA_8B, "Q4", overhead_gib=-1), "Overhead must be 0 GiB"),
        (
            lambda: consumer_frontier(
                [LLAMA_8B],
                [
                    _score(LLAMA_8B, 1, "2024-01-01", "gsm8k"),
                    _score(LLAMA_8B, 1, "2024-01-01", "mmlu"),
                ],
            ),
            "Scores must be on one benchmark, got gsm8k, mmlu.",
        ),
        (lambda: consumer_frontier([], [], budgets=(8, -1)), "got -1."),
    ],
)
def test_bad_input_raises_a_user_facing_error(call: object, message: str) -> None:
    with pytest.raises(FitInputError) as caught:
        call()  # type: ignore[operator]
    assert message in str(caught.value)
    assert isinstance(caught.value, InputError)
    assert isinstance(caught.value, ValueError)


def test_unknown_quant_in_fit_report_keeps_the_suggestions() -> None:
    with pytest.raises(FitInputError) as caught:
        fit_report(LLAMA_8B, quant="Q4_K_X")
    assert "did you mean" in str(caught.value)
    assert "Q4_K_M" in caught.value.suggestions


# --- models_that_fit ---------------------------------------------------------------------------


def _score(model: ModelSpec, value: float, on: str, benchmark: str = "mmlu") -> Score:
    return Score(
        model_slug=model.slug,
        model_name=model.name,
        open_weights=bool(model.open_weights),
        benchmark=benchmark,
        value=value,
        available_on=date.fromisoformat(on),
        citation=Citation("test", "test"),
    )


def test_models_that_fit_ranks_by_score_then_size() -> None:
    # At 24 GiB, 8k, ≥ 4-bit: 8B, 32B, Gemma 27B and Qwen3.5 27B fit; 70B, Mixtral and
    # DeepSeek only fit below 4 bits or not at all; GPT-4 is proprietary; Unsized has no size.
    models = [LLAMA_8B, LLAMA_70B, QWEN_32B, GEMMA_3_27B, QWEN35_27B, MIXTRAL, DEEPSEEK_V3]
    models += [GPT_4, UNSIZED, UNKNOWN_8B]
    scores = {
        m.slug: _score(m, v, "2024-09-19")
        for m, v in [(LLAMA_8B, 66.7), (QWEN_32B, 83.3), (LLAMA_70B, 86.0), (GPT_4, 86.4)]
    }
    ranking = models_that_fit(models, scores)
    # Scored first (83.3, 66.7); then unscored by parameters: 27.4B, 27B, 8B.
    assert [r.report.model_slug for r in ranking.fits] == [
        "qwen2.5-32b",
        "llama-3.1-8b",
        "gemma-3-27b",
        "qwen3.5-27b",
        "mystery-8b",
    ]
    assert [r.score.value if r.score else None for r in ranking.fits] == [
        83.3,
        66.7,
        None,
        None,
        None,
    ]
    assert ranking.unsized == (UNSIZED,)
    assert all(r.report.fits_at_min_bits for r in ranking.fits)


def test_models_that_fit_takes_openness_from_the_score_when_the_record_is_silent() -> None:
    silent = ModelSpec(
        slug="silent", name="Silent", total_params_b=8, architecture=LLAMA_8B.architecture
    )
    open_score = Score("silent", "Silent", True, "mmlu", 60, date(2024, 1, 1), Citation("t", "t"))
    assert [
        r.report.model_slug for r in models_that_fit([silent], {"silent": open_score}).fits
    ] == ["silent"]
    assert models_that_fit([silent], None).fits == ()


# --- consumer frontier and lag -----------------------------------------------------------------

LATER_8B = ModelSpec(
    slug="later-8b",
    name="Later 8B",
    open_weights=True,
    total_params_b=8.03,
    architecture=LLAMA_8B.architecture,
)
GPT_35 = ModelSpec(slug="gpt-3.5", name="GPT-3.5", open_weights=False)
FRONTIER_MODELS = [LLAMA_8B, QWEN_32B, LLAMA_70B, LATER_8B, GPT_4, GPT_35]
FRONTIER_SCORES = [
    _score(GPT_35, 70.0, "2022-11-30"),
    _score(GPT_4, 86.4, "2023-03-14"),
    _score(LLAMA_8B, 60.0, "2024-07-23"),
    _score(LLAMA_70B, 80.0, "2024-07-23"),  # open, but 36.65 + 3.5 GiB at IQ4_XS: fits no budget
    _score(QWEN_32B, 75.0, "2024-09-19"),  # IQ4_XS 17.03 + 2 + 1 = 20.03: fits 24 and 32
    _score(LATER_8B, 58.0, "2024-09-19"),  # not a new best anywhere
]


def test_consumer_frontier_per_budget() -> None:
    # Smallest ≥ 4-bit format is IQ4_XS: 8B needs 4.169 + 1 + 1 = 6.17 GiB (fits 8 and up),
    # 32B needs 20.03 (fits 24, 32), 70B needs 40.15 (fits none).
    frontiers = consumer_frontier(FRONTIER_MODELS, FRONTIER_SCORES)
    steps = {
        f.budget_gib: [(s.on.isoformat(), s.model_slug, s.score) for s in f.steps]
        for f in frontiers
    }
    small = [("2024-07-23", "llama-3.1-8b", 60.0)]
    large = [*small, ("2024-09-19", "qwen2.5-32b", 75.0)]
    assert steps == {8: small, 12: small, 16: small, 24: large, 32: large}
    assert all(f.benchmark == "mmlu" for f in frontiers)


def test_consumer_frontier_at_6_gib_is_empty() -> None:
    assert consumer_frontier(FRONTIER_MODELS, FRONTIER_SCORES, budgets=(6,))[0].steps == ()


def test_consumer_lag() -> None:
    # As of the newest score (2024-09-19): consumer best 75 (Qwen2.5 32B), proprietary best 86.4,
    # 11.4 points. The first proprietary record above 75 is GPT-4 on 2023-03-14, 555 days
    # before: 555 / 365 · 12 = 18.247 months.
    lag = consumer_lag(FRONTIER_MODELS, FRONTIER_SCORES)
    assert lag.as_of == date(2024, 9, 19)
    assert lag.consumer_best is not None and lag.consumer_best.model_slug == "qwen2.5-32b"
    assert lag.points == pytest.approx(11.4)
    assert lag.overtaken_by is not None and lag.overtaken_by.model_slug == "gpt-4"
    assert lag.months == pytest.approx(18.247, abs=1e-3)


def test_consumer_lag_as_of_an_earlier_date() -> None:
    # 2024-08-01: consumer best 60 (Llama 3.1 8B); GPT-3.5 (70) already beat it on 2022-11-30,
    # 610 days before: 610 / 365 · 12 = 20.055 months; 86.4 - 60 = 26.4 points.
    lag = consumer_lag(FRONTIER_MODELS, FRONTIER_SCORES, as_of=date(2024, 8, 1))
    assert lag.points == pytest.approx(26.4)
    assert lag.overtaken_by is not None and lag.overtaken_by.model_slug == "gpt-3.5"
    assert lag.months == pytest.approx(20.055, abs=1e-3)


def test_consumer_lag_is_zero_when_the_consumer_model_leads() -> None:
    scores = [_score(GPT_35, 70.0, "2022-11-30"), _score(QWEN_32B, 75.0, "2024-09-19")]
    lag = consumer_lag(FRONTIER_MODELS, scores)
    assert lag.points == pytest.approx(-5.0)
    assert lag.months == 0.0


def test_consumer_lag_without_a_consumer_model_is_unknown() -> None:
    lag = consumer_lag(FRONTIER_MODELS, [_score(GPT_4, 86.4, "2023-03-14")])
    assert lag.points is None and lag.months is None
    assert consumer_lag([], []).as_of is None


# --- properties --------------------------------------------------------------------------------

_layers = st.integers(1, 128)
_architectures = st.one_of(
    st.none(),
    st.builds(
        Architecture,
        layers=_layers,
        kv_heads=st.integers(1, 64),
        head_dim=st.sampled_from([64, 80, 128, 256]),
        attention=st.just("gqa"),
        max_context=st.none() | st.integers(1, 2**20),
    ),
    st.builds(
        Architecture,
        layers=_layers,
        attention=st.just("mla"),
        kv_lora_rank=st.sampled_from([256, 512]),
        qk_rope_head_dim=st.just(64),
    ),
    _layers.flatmap(
        lambda n: st.builds(
            Architecture,
            layers=st.just(n),
            kv_heads=st.integers(1, 16),
            head_dim=st.just(128),
            attention=st.sampled_from(["sliding", "hybrid"]),
            sliding_window=st.sampled_from([512, 1024, 4096]),
            full_attention_layers=st.integers(0, n),
        )
    ),
)
_models = st.builds(
    ModelSpec,
    slug=st.just("m"),
    name=st.just("M"),
    open_weights=st.just(True),
    total_params_b=st.floats(0.1, 1000),
    architecture=_architectures,
)
_contexts = st.integers(0, 2**20)
_kv_types = st.sampled_from([k.name for k in KV_CACHE_TYPES])


@given(model=_models, context=_contexts, kv=_kv_types)
def test_memory_grows_with_bits_per_weight(model: ModelSpec, context: int, kv: str) -> None:
    totals = [estimate_memory(model, q, context, kv).total_gib for q in QUANTS]
    assert totals == sorted(totals, reverse=True)


@given(model=_models, contexts=st.tuples(_contexts, _contexts), kv=_kv_types)
def test_memory_grows_with_context(model: ModelSpec, contexts: tuple[int, int], kv: str) -> None:
    short, long = sorted(contexts)
    assert (
        estimate_memory(model, "Q4_K_M", short, kv).total_gib
        <= estimate_memory(model, "Q4_K_M", long, kv).total_gib
    )


@settings(deadline=None, max_examples=50)
@given(
    model=_models,
    context=st.integers(0, 2**17),
    budget=st.floats(0.5, 512),
    extra=st.floats(0, 512),
    quant=st.sampled_from([q.name for q in SEARCH_QUANTS]),
)
def test_fitting_a_budget_fits_any_larger_one(
    model: ModelSpec, context: int, budget: float, extra: float, quant: str
) -> None:
    small = fit_report(model, budget_gib=budget, context=context, quant=quant)
    large = fit_report(model, budget_gib=budget + extra, context=context, quant=quant)
    assert small.headroom_gib == budget - small.estimate.total_gib
    if small.fits:
        assert large.fits
    if small.best_quant is not None:
        assert large.best_quant is not None
        assert large.best_quant.bits_per_weight >= small.best_quant.bits_per_weight
    if small.longest_context is not None:
        assert large.longest_context is not None
        assert large.longest_context >= small.longest_context


def test_models_of_one_shape_get_their_own_names_and_the_same_estimate() -> None:
    arch = Architecture(layers=32, kv_heads=8, head_dim=128, max_context=32768)
    twins = [
        ModelSpec(slug=slug, name=name, open_weights=True, total_params_b=8.0, architecture=arch)
        for slug, name in (("twin-a", "Twin A"), ("twin-b", "Twin B"))
    ]
    ranking = models_that_fit(twins, budget_gib=24, context=8192)
    assert [r.report.model_slug for r in ranking.fits] == ["twin-a", "twin-b"]
    for ranked, spec in zip(ranking.fits, twins, strict=True):
        assert ranked.report == fit_report(spec, budget_gib=24, context=8192)
