"""``fit_report`` finds the best format and the longest context without estimating every
format and every context: both must be what the estimates themselves say."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from frontier.fits import (
    _CONTEXT_CEILING,
    SEARCH_QUANTS,
    FitInputError,
    estimate_memory,
    fit_report,
)
from frontier.types import Architecture, ModelSpec
from tests.frontier.test_fits import GEMMA_3_27B


def _bisected_longest(model: ModelSpec, quant, kv: str, budget: float) -> int | None:  # type: ignore[no-untyped-def]
    """The longest context by bisection over ``estimate_memory`` (the definition)."""
    cap = (model.architecture or Architecture()).max_context or _CONTEXT_CEILING

    def fits(context: int) -> bool:
        return estimate_memory(model, quant, context, kv).total_gib <= budget

    if not fits(0):
        return None
    if fits(cap):
        return cap
    low, high = 0, cap
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _random_model(rnd: random.Random) -> ModelSpec:
    def maybe(low: int, high: int) -> int | None:
        return None if rnd.random() < 0.2 else rnd.randint(low, high)

    arch = None
    if rnd.random() < 0.85:
        arch = Architecture(
            layers=maybe(1, 128),
            kv_heads=maybe(1, 64),
            head_dim=maybe(16, 256),
            hidden_size=maybe(512, 16384),
            attention_heads=maybe(1, 128),
            max_context=rnd.choice([None, 2048, 8192, 131072, rnd.randint(1, 10**6)]),
            attention=rnd.choice(["gqa", "mha", "mla", "sliding", "hybrid", "other"]),
            sliding_window=rnd.choice([None, 512, 4096, rnd.randint(1, 10_000)]),
            full_attention_layers=maybe(0, 64),
            kv_lora_rank=maybe(64, 1024),
            qk_rope_head_dim=maybe(16, 128),
        )
    return ModelSpec(
        slug="m",
        name="M",
        open_weights=True,
        total_params_b=rnd.choice([0.5, 3, 8, 27, 70, 405, rnd.uniform(0.1, 800)]),
        active_params_b=rnd.choice([None, rnd.uniform(0.1, 40)]),
        architecture=arch,
    )


@pytest.mark.parametrize("seed", range(4))
def test_best_format_and_longest_context_are_the_estimates_own(seed: int) -> None:
    rnd = random.Random(seed)
    checked = 0
    for _ in range(300):
        model = _random_model(rnd)
        budget = rnd.choice([8.0, 24.0, 80.0, rnd.uniform(0.5, 200)])
        context = rnd.choice([0, 2048, 8192, 131072, rnd.randint(0, 10**6)])
        kv = rnd.choice(["f16", "q8_0", "q4_0", "f32"])
        quant = rnd.choice([None, None, "Q4_K_M", "FP16", "IQ2_XS"])
        report = fit_report(
            model, budget_gib=budget, context=context, quant=quant, kv_cache_type=kv
        )
        estimates = [estimate_memory(model, q, context, kv) for q in SEARCH_QUANTS]
        best = next((e for e in estimates if e.total_gib <= budget), None)
        assert report.best_quant == (best.quant if best else None)
        expected = estimate_memory(model, quant, context, kv) if quant else best or estimates[-1]
        assert report.estimate == expected
        longest = _bisected_longest(model, report.estimate.quant, kv, budget)
        assert report.longest_context == longest
        cap = (model.architecture or Architecture()).max_context or _CONTEXT_CEILING
        if longest is not None and longest < cap:
            checked += 1
    assert checked > 50  # many reports have a longest context short of the cap to check


def test_the_edge_is_exact_at_the_sliding_window_bend() -> None:
    # Memory at the window and one past it: the line bends there (local layers stop growing).
    # Gemma 3 27B's layout (test_fits), with no context cap, so the bend decides.
    assert GEMMA_3_27B.architecture is not None
    arch = replace(GEMMA_3_27B.architecture, max_context=None)
    model = replace(GEMMA_3_27B, architecture=arch)
    for kv in ("f16", "q8_0"):
        weights = estimate_memory(model, "Q4_K_M", 0, kv).total_gib
        for room in (0.0, 1e-6, 0.05, 0.1, 0.5, 3.0):
            at_window = estimate_memory(model, "Q4_K_M", 1024, kv).total_gib
            for budget in (weights + room, at_window, at_window + 1e-9, at_window - 1e-9):
                report = fit_report(model, budget_gib=budget, quant="Q4_K_M", kv_cache_type=kv)
                assert report.longest_context == _bisected_longest(model, "Q4_K_M", kv, budget)


def test_a_bad_maximum_context_is_refused_as_the_estimate_refuses_it() -> None:
    model = ModelSpec(
        slug="m",
        name="M",
        total_params_b=1.0,
        architecture=Architecture(layers=2, kv_heads=1, head_dim=8, max_context=-5),
    )
    with pytest.raises(FitInputError, match="Context must be"):
        fit_report(model, budget_gib=24.0)
