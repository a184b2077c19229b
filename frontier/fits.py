"""Will a model fit in a GPU's memory: weights + KV cache + runtime overhead, in GiB (2**30 B).

Weights are total parameters × effective bits per weight ÷ 8 (:mod:`frontier.quant`); a
mixture-of-experts model keeps every expert resident, so total, not active, parameters count.
The KV cache follows the attention layout (GQA/MHA, MLA, sliding window, hybrid linear
attention); where the layout is not known the answer says its figure is an estimate.
Formulas and sources: ``notes/prior-art.md`` section 2.2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from frontier.errors import InputError
from frontier.quant import (
    QUANTS,
    KvCacheType,
    Quant,
    UnknownQuantError,
    lookup_kv_cache_type,
    lookup_quant,
)
from frontier.types import Architecture, Citation, ModelSpec, Score

GIB = 2**30
DEFAULT_BUDGET_GIB = 24.0  # an RTX 3090/4090: 24 GiB
DEFAULT_CONTEXT = 8192  # a working context, not the model's maximum (llmfit #302)
DEFAULT_MIN_BITS = 4.0
# CUDA context + compute graph: 0.5–1 GiB (llmfit 0.5 GB, gpu_poor 650 MB); the top of that
# range is also llama.cpp's own `--fit-target` margin, 1024 MiB per device (PR #16653).
DEFAULT_OVERHEAD_GIB = 1.0
# Architecture unknown: f16 KV bytes per token ≈ 128 KiB × √(params / 8B). Fitted to the
# computed table in notes §2.2: Llama-3.1-8B 128 KiB and Qwen2.5-32B 256 KiB exactly,
# Llama-3.1-70B 320 KiB (rule: 379, 18 % high). An MHA model can need 4× more (notes §2.2).
_FALLBACK_KV_BYTES_PER_TOKEN_AT_8B = 128 * 1024
# Only weight formats up to 16 bits are offered: nobody serves inference in FP32.
SEARCH_QUANTS: tuple[Quant, ...] = tuple(q for q in QUANTS if q.nominal_bits <= 16)
_CONTEXT_CEILING = 2**24  # search limit for the longest context when the model's maximum is unknown


class FitInputError(InputError):
    """Input a user can correct (budget, context, quantization, a model without a size)."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory needed to run one model at one quantization and context, in GiB."""

    quant: Quant
    context: int
    kv_cache_type: str
    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float
    kv_exact: bool
    kv_note: str

    @property
    def total_gib(self) -> float:
        """Weights + KV cache + overhead."""
        return self.weights_gib + self.kv_cache_gib + self.overhead_gib


@dataclass(frozen=True)
class FitReport:
    """Whether a model fits a budget, at which quantization, and how much context it leaves."""

    model_slug: str
    model_name: str
    budget_gib: float
    context: int
    kv_cache_type: str
    min_bits: float
    estimate: MemoryEstimate  # at the asked quant, else the best that fits, else the smallest
    best_quant: Quant | None  # highest precision that fits at this context, any bit width
    longest_context: int | None  # at ``estimate.quant``; None if even the weights do not fit
    total_params_b: float
    active_params_b: float | None
    notes: tuple[str, ...]

    @property
    def fits(self) -> bool:
        """Whether ``estimate`` fits the budget."""
        return self.estimate.total_gib <= self.budget_gib

    @property
    def headroom_gib(self) -> float:
        """Budget left after ``estimate`` (negative when it does not fit)."""
        return self.budget_gib - self.estimate.total_gib

    @property
    def fits_at_min_bits(self) -> bool:
        """Whether some format of at least ``min_bits`` nominal bits fits."""
        return self.best_quant is not None and self.best_quant.nominal_bits >= self.min_bits


@dataclass(frozen=True)
class RankedFit:
    """One model that fits, with the score it is ranked by."""

    report: FitReport
    score: Score | None


@dataclass(frozen=True)
class FitRanking:
    """Open-weights models that fit a budget at ``min_bits`` or better, best score first."""

    budget_gib: float
    context: int
    min_bits: float
    fits: tuple[RankedFit, ...]
    unsized: tuple[ModelSpec, ...]  # open-weights models with no parameter count


@dataclass(frozen=True)
class FrontierStep:
    """A new best score on a frontier: who set it, when, and where the figure comes from."""

    on: date
    model_slug: str
    model_name: str
    score: float
    citation: Citation


@dataclass(frozen=True)
class BudgetFrontier:
    """The best score reachable over time by open models that fit ``budget_gib``."""

    benchmark: str | None
    budget_gib: float
    steps: tuple[FrontierStep, ...]


@dataclass(frozen=True)
class ConsumerLag:
    """How far the best open model that fits a consumer GPU trails the proprietary frontier.

    ``points`` is the proprietary best minus the consumer best, both as of ``as_of``.
    ``months`` is how long the proprietary frontier has been strictly above the consumer best:
    from ``overtaken_by.on`` (the first proprietary record scoring above it) to ``as_of``, in
    days ÷ 365 × 12; 0 when nothing proprietary scores above it. A simple companion to the
    Epoch-method lag of DESIGN.md, not a replacement for it.
    """

    benchmark: str | None
    as_of: date | None
    budget_gib: float
    consumer_best: FrontierStep | None
    proprietary_best: FrontierStep | None
    overtaken_by: FrontierStep | None

    @property
    def points(self) -> float | None:
        """Proprietary best minus consumer best; None if either side has no score."""
        if self.consumer_best is None or self.proprietary_best is None:
            return None
        return self.proprietary_best.score - self.consumer_best.score

    @property
    def months(self) -> float | None:
        """Months the proprietary frontier has been above the consumer best; None if unknown."""
        if self.points is None or self.as_of is None:
            return None
        if self.overtaken_by is None:
            return 0.0
        return (self.as_of - self.overtaken_by.on).days / 365 * 12


@dataclass(frozen=True)
class _KvLayout:
    """Cached elements per token: some kept for the whole context, some for a window only."""

    full: float
    windowed: float
    window: int
    exact: bool
    note: str

    def elements(self, context: int) -> float:
        return self.full * context + self.windowed * min(context, self.window)


def _layout(arch: Architecture) -> _KvLayout | None:
    """The KV layout an architecture implies, or None when too little of it is known."""
    kind, layers = arch.attention.lower(), arch.layers
    if layers is None or kind not in {"mha", "gqa", "mla", "sliding", "hybrid"}:
        return None
    if kind == "mla":
        if arch.kv_lora_rank is None or arch.qk_rope_head_dim is None:
            return None
        width = arch.kv_lora_rank + arch.qk_rope_head_dim
        note = (
            f"MLA: {layers} layers × ({arch.kv_lora_rank} + {arch.qk_rope_head_dim}) latent "
            "values per token, no separate V"
        )
        return _KvLayout(layers * width, 0, 0, True, note)
    head_dim = arch.head_dim
    if head_dim is None and arch.hidden_size and arch.attention_heads:
        head_dim = arch.hidden_size // arch.attention_heads
    kv_heads = arch.kv_heads or (arch.attention_heads if kind == "mha" else None)
    exact, caveats = True, []
    if kv_heads is None and arch.attention_heads is not None:
        kv_heads, exact = arch.attention_heads, False
        caveats.append("KV heads unknown, counted as MHA (an upper bound)")
    if head_dim is None or kv_heads is None:
        return None
    per_layer = 2 * kv_heads * head_dim
    base = f"2 × {kv_heads} KV heads × {head_dim} head dim"
    full, window = arch.full_attention_layers, arch.sliding_window
    if kind == "sliding" and full is not None and window and full <= layers:
        local = layers - full
        note = (
            f"sliding window: {base} × ({full} layers × context + {local} layers × "
            f"min({window}, context))"
        )
        return _KvLayout(full * per_layer, local * per_layer, window, exact, note)
    if kind == "hybrid" and full is not None and full <= layers:
        note = (
            f"hybrid: only {full} of {layers} layers keep a KV cache: {base} × {full} layers × "
            "context; the linear layers' fixed-size state is not counted"
        )
        return _KvLayout(full * per_layer, 0, 0, exact, note)
    if kind in {"sliding", "hybrid"}:
        exact = False
        caveats.append(f"{kind} layout unknown, every layer counted at full context (upper bound)")
    note = "; ".join([f"{base} × {layers} layers × context", *caveats])
    return _KvLayout(layers * per_layer, 0, 0, exact, note)


def _fallback_layout(model: ModelSpec, params_b: float) -> _KvLayout:
    """A sized guess for a model whose attention layout is unknown (flagged as an estimate)."""
    size_b = model.active_params_b or params_b  # attention sits in the active path of an MoE
    per_token = _FALLBACK_KV_BYTES_PER_TOKEN_AT_8B * math.sqrt(size_b / 8)
    note = (
        "KV cache estimated, architecture unknown: 128 KiB per token at f16 × √(params / 8B), "
        "fitted to Llama-3.1-8B and Qwen2.5-32B; an older MHA model can need 4× more"
    )
    return _KvLayout(per_token / 2, 0, 0, False, note)  # f16 elements are 2 bytes


def _params_b(model: ModelSpec) -> float:
    if model.total_params_b is None or model.total_params_b <= 0:
        raise FitInputError(
            f"{model.name} has no parameter count, so its memory can't be estimated."
        )
    return model.total_params_b


def _check_context(context: int) -> None:
    if isinstance(context, bool) or not isinstance(context, int) or context < 0:
        raise FitInputError(f"Context must be a whole number of tokens, 0 or more, got {context}.")


def _check_positive(value: float, what: str) -> None:
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number or not 0 < value < math.inf:
        shown = f"{value:g}" if number else repr(value)
        raise FitInputError(f"{what} must be a positive number of GiB, got {shown}.")


def _check_min_bits(min_bits: float) -> None:
    if not min_bits >= 0:
        raise FitInputError(f"Minimum bits must be 0 or more, got {min_bits:g}.")


def _quant(quant: Quant | str) -> Quant:
    try:
        return lookup_quant(quant)
    except UnknownQuantError as error:
        raise FitInputError(error.message, error.suggestions) from error


def _kv_type(kv_cache_type: str | KvCacheType) -> KvCacheType:
    try:
        return lookup_kv_cache_type(kv_cache_type)
    except UnknownQuantError as error:
        raise FitInputError(error.message, error.suggestions) from error


def estimate_memory(
    model: ModelSpec,
    quant: Quant | str,
    context: int = DEFAULT_CONTEXT,
    kv_cache_type: str | KvCacheType = "f16",
    *,
    overhead_gib: float = DEFAULT_OVERHEAD_GIB,
) -> MemoryEstimate:
    """Estimate the memory to run ``model`` at ``quant`` with ``context`` tokens cached.

    Args:
        model: The model; needs ``total_params_b``. Its architecture decides the KV cache.
        quant: Weight format, by name or alias (``Q4_K_M``, ``q4``, ``fp16``).
        context: Tokens held in the KV cache.
        kv_cache_type: KV element type (``f16``, ``q8_0``, ``q4_0`` …).
        overhead_gib: CUDA context and compute buffers, added once.

    Raises:
        FitInputError: No parameter count, a negative context or overhead, an unknown format.
    """
    params_b = _params_b(model)
    _check_context(context)
    _check_overhead(overhead_gib)
    weight_format, kv_type = _quant(quant), _kv_type(kv_cache_type)
    return _estimate(
        params_b, _model_layout(model, params_b), weight_format, context, kv_type, overhead_gib
    )


def _check_overhead(overhead_gib: float) -> None:
    if not overhead_gib >= 0:
        raise FitInputError(f"Overhead must be 0 GiB or more, got {overhead_gib:g}.")


def _model_layout(model: ModelSpec, params_b: float) -> _KvLayout:
    """The model's KV layout, or the sized guess when its architecture says too little."""
    layout = _layout(model.architecture) if model.architecture else None
    return layout or _fallback_layout(model, params_b)


def _weights_gib(params_b: float, weight_format: Quant) -> float:
    return params_b * 1e9 * weight_format.bits_per_weight / 8 / GIB


def _kv_gib(layout: _KvLayout, context: int, kv_type: KvCacheType) -> float:
    return layout.elements(context) * kv_type.bytes_per_element / GIB


def _estimate(
    params_b: float,
    layout: _KvLayout,
    weight_format: Quant,
    context: int,
    kv_type: KvCacheType,
    overhead_gib: float,
) -> MemoryEstimate:
    """:func:`estimate_memory` on checked inputs and a known layout. Its ``total_gib`` is
    ``_weights_gib(…) + _kv_gib(…) + overhead_gib``, the sum the searches below compare."""
    return MemoryEstimate(
        quant=weight_format,
        context=context,
        kv_cache_type=kv_type.name,
        weights_gib=_weights_gib(params_b, weight_format),
        kv_cache_gib=_kv_gib(layout, context, kv_type),
        overhead_gib=overhead_gib,
        kv_exact=layout.exact,
        kv_note=f"{layout.note}; × {kv_type.bytes_per_element:g} bytes ({kv_type.name})",
    )


def _longest_context(
    weights_gib: float,
    layout: _KvLayout,
    kv: KvCacheType,
    overhead: float,
    budget: float,
    cap: int,
) -> int | None:
    """The most tokens (≤ cap) that fit, exactly as a bisection over every context finds it.

    Memory is weights + KV cache + overhead, and the KV cache is linear in the context (with
    one bend, at a sliding window): solving the line for the budget gives the edge to within
    rounding. The float sum never falls as the context grows (each step of it is monotone),
    so the exact edge, the largest context whose sum is within budget, is found from there by
    galloping and bisecting on that same sum: a few evaluations instead of ~25 estimates."""

    def fits(context: int) -> bool:
        return weights_gib + _kv_gib(layout, context, kv) + overhead <= budget

    if not fits(0):
        return None
    _check_context(cap)  # as estimating at a bad maximum context would refuse
    if fits(cap):
        return cap
    if layout.full < 0 or layout.windowed < 0:  # no monotone line to solve: bisect it all
        low, high = 0, cap
    else:
        low, high = _bracket(fits, _solve(layout, kv, budget - overhead - weights_gib), cap)
    while high - low > 1:  # fits(low) and not fits(high)
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def _solve(layout: _KvLayout, kv: KvCacheType, room_gib: float) -> float:
    """The context whose KV cache fills ``room_gib``, from the layout's line (a guess to
    within rounding; ``inf`` if the cache stops growing first)."""
    elements = room_gib * GIB / kv.bytes_per_element
    slope = layout.full + layout.windowed
    if layout.windowed and slope and elements <= slope * layout.window:
        return elements / slope
    if not layout.full:
        return math.inf
    return (elements - layout.windowed * layout.window) / layout.full


def _bracket(fits: Any, guess: float, cap: int) -> tuple[int, int]:
    """``(low, high)`` with ``fits(low)`` and not ``fits(high)``, ``0 ≤ low < high ≤ cap``,
    found by galloping out from ``guess``, given ``fits(0)`` and not ``fits(cap)``."""
    start = int(guess) if 0 <= guess < cap else (0 if guess < 0 else cap - 1)
    step = 1
    if fits(start):
        low = start
        while low + step < cap and fits(low + step):
            low += step
            step *= 2
        return low, min(low + step, cap)
    high = start
    while high - step > 0 and not fits(high - step):
        high -= step
        step *= 2
    return max(high - step, 0), high


def fit_report(
    model: ModelSpec,
    *,
    budget_gib: float = DEFAULT_BUDGET_GIB,
    context: int = DEFAULT_CONTEXT,
    quant: Quant | str | None = None,
    kv_cache_type: str | KvCacheType = "f16",
    min_bits: float = DEFAULT_MIN_BITS,
    overhead_gib: float = DEFAULT_OVERHEAD_GIB,
) -> FitReport:
    """Say whether ``model`` fits ``budget_gib``, at which format, and with how much context.

    Args:
        model: The model; needs ``total_params_b``.
        budget_gib: GPU memory available, in GiB.
        context: Tokens the user wants in the KV cache.
        quant: Format to report on; by default the highest-precision one that fits.
        kv_cache_type: KV element type.
        min_bits: Least nominal bits a user accepts (4.0: "4-bit or better").
        overhead_gib: Runtime overhead added once.

    Raises:
        FitInputError: A non-positive budget, a negative context or ``min_bits``, an unknown
            format, or a model without a parameter count; the message is safe to show.
    """
    _check_positive(budget_gib, "VRAM")
    _check_min_bits(min_bits)
    kv = _kv_type(kv_cache_type)
    params_b = _params_b(model)
    _check_context(context)
    _check_overhead(overhead_gib)
    layout = _model_layout(model, params_b)
    kv_gib = _kv_gib(layout, context, kv)
    # The highest-precision format that fits, by the sum ``estimate_memory`` makes; only the
    # formats reported on are built as estimates.
    best_quant = next(
        (
            q
            for q in SEARCH_QUANTS
            if _weights_gib(params_b, q) + kv_gib + overhead_gib <= budget_gib
        ),
        None,
    )
    chosen = _quant(quant) if quant is not None else best_quant or SEARCH_QUANTS[-1]
    estimate = _estimate(params_b, layout, chosen, context, kv, overhead_gib)
    arch = model.architecture or Architecture()
    cap = arch.max_context or _CONTEXT_CEILING
    longest = _longest_context(estimate.weights_gib, layout, kv, overhead_gib, budget_gib, cap)
    notes = _notes(model, arch, estimate, best_quant, budget_gib, context, min_bits, kv)
    return FitReport(
        model_slug=model.slug,
        model_name=model.name,
        budget_gib=budget_gib,
        context=context,
        kv_cache_type=kv.name,
        min_bits=min_bits,
        estimate=estimate,
        best_quant=best_quant,
        longest_context=longest,
        total_params_b=params_b,
        active_params_b=model.active_params_b,
        notes=notes,
    )


def _notes(
    model: ModelSpec,
    arch: Architecture,
    estimate: MemoryEstimate,
    best: Quant | None,
    budget_gib: float,
    context: int,
    min_bits: float,
    kv: KvCacheType,
) -> tuple[str, ...]:
    notes = [] if estimate.kv_exact else [f"KV cache is an estimate: {estimate.kv_note}"]
    total, active = model.total_params_b, model.active_params_b
    if arch.experts or (active is not None and total is not None and active < total):
        experts = f"all {arch.experts} experts" if arch.experts else "every expert"
        active_text = f"; {active:g}B active per token" if active is not None else ""
        notes.append(f"MoE: {experts} resident ({total:g}B parameters){active_text}")
    if arch.max_context is None:
        notes.append("Maximum context unknown: the longest context is not capped by the model")
    elif context > arch.max_context:
        notes.append(
            f"Context {context:,} exceeds the model's maximum of {arch.max_context:,} tokens"
        )
    if best is None:
        smallest = SEARCH_QUANTS[-1].name
        notes.append(f"Nothing fits in {budget_gib:g} GiB at {context:,} tokens, even {smallest}")
    elif best.nominal_bits < min_bits:
        notes.append(f"Best format that fits, {best.name}, is below {min_bits:g}-bit")
    if kv.quantized:
        notes.append(
            "A quantized V cache needs flash attention in llama.cpp; without it V stays f16"
        )
    return tuple(notes)


def _is_open(spec: ModelSpec | None, score: Score | None) -> bool:
    """Open weights by the model's record when it says, else by the score's flag."""
    if spec is not None and spec.open_weights is not None:
        return spec.open_weights
    return score is not None and score.open_weights


def shape_key(model: ModelSpec) -> tuple[Any, ...]:
    """What a memory estimate reads of a model: models with equal keys fit alike."""
    return (model.total_params_b, model.active_params_b, model.architecture)


def models_that_fit(
    models: Iterable[ModelSpec],
    scores_by_slug: Mapping[str, Score] | None = None,
    *,
    budget_gib: float = DEFAULT_BUDGET_GIB,
    context: int = DEFAULT_CONTEXT,
    min_bits: float = DEFAULT_MIN_BITS,
    kv_cache_type: str = "f16",
    reports: dict[tuple[Any, ...], FitReport] | None = None,
) -> FitRanking:
    """Rank the open-weights models that fit ``budget_gib`` at ``min_bits`` or better.

    ``reports`` (by :func:`shape_key`) holds reports already made with these same budget,
    context, KV type and minimum bits; models of those shapes reuse them, and new shapes'
    reports are added to it.

    Ranked by score, highest first (scores are taken as higher-is-better); models without a
    score come last; ties and unscored models go by total parameters, largest first.
    Proprietary models are left out (they can't be run locally); a model whose record does
    not say goes by its score's flag, and without a score is left out. Open models without a
    parameter count are returned in ``unsized``.
    """
    scores = scores_by_slug or {}
    fitting: list[RankedFit] = []
    unsized: list[ModelSpec] = []
    # Models of one shape (size and architecture) get the same report but for their names:
    # estimate once per shape (a list of 100 models has a few dozen shapes).
    by_shape = {} if reports is None else reports
    for model in models:
        score = scores.get(model.slug)
        if not _is_open(model, score):
            continue
        if model.total_params_b is None or model.total_params_b <= 0:
            unsized.append(model)
            continue
        shape = shape_key(model)
        known = by_shape.get(shape)
        if known is None:
            report = by_shape[shape] = fit_report(
                model,
                budget_gib=budget_gib,
                context=context,
                kv_cache_type=kv_cache_type,
                min_bits=min_bits,
            )
        else:
            report = replace(known, model_slug=model.slug, model_name=model.name)
        if report.fits_at_min_bits:
            fitting.append(RankedFit(report, score))
    fitting.sort(
        key=lambda r: (
            r.score is None,
            -r.score.value if r.score else 0.0,
            -r.report.total_params_b,
            r.report.model_slug,
        )
    )
    return FitRanking(budget_gib, context, min_bits, tuple(fitting), tuple(unsized))


def _required_gib(
    model: ModelSpec, context: int, kv_cache_type: str, min_bits: float
) -> float | None:
    """Memory at the smallest format of at least ``min_bits``; None if unsized or none exists."""
    acceptable = [q for q in SEARCH_QUANTS if q.nominal_bits >= min_bits]
    if not acceptable or model.total_params_b is None or model.total_params_b <= 0:
        return None
    return estimate_memory(model, acceptable[-1], context, kv_cache_type).total_gib


def _steps(scores: Iterable[Score]) -> tuple[FrontierStep, ...]:
    """Running-best records in date order; of same-day scores only the best can set one."""
    steps: list[FrontierStep] = []
    for s in sorted(scores, key=lambda s: (s.available_on, -s.value, s.model_slug)):
        if not steps or s.value > steps[-1].score:
            steps.append(
                FrontierStep(s.available_on, s.model_slug, s.model_name, s.value, s.citation)
            )
    return tuple(steps)


def _benchmark(scores: Sequence[Score]) -> str | None:
    names = {s.benchmark for s in scores}
    if len(names) > 1:
        raise FitInputError(f"Scores must be on one benchmark, got {', '.join(sorted(names))}.")
    return names.pop() if names else None


def consumer_frontier(
    models: Iterable[ModelSpec],
    scores: Sequence[Score],
    *,
    budgets: Sequence[float] = (8, 12, 16, 24, 32),
    context: int = DEFAULT_CONTEXT,
    min_bits: float = DEFAULT_MIN_BITS,
    kv_cache_type: str = "f16",
) -> tuple[BudgetFrontier, ...]:
    """For each budget, the best score over time of open models that fit it at ``min_bits``.

    A model counts from the date its score became available. Scores of models absent from
    ``models`` or without a parameter count are skipped (their size is unknown).

    Raises:
        FitInputError: A non-positive budget, or scores from more than one benchmark.
    """
    for budget in budgets:
        _check_positive(budget, "VRAM")
    _check_context(context)
    _check_min_bits(min_bits)
    benchmark = _benchmark(scores)
    specs = {m.slug: m for m in models}
    required = {
        slug: _required_gib(spec, context, kv_cache_type, min_bits) for slug, spec in specs.items()
    }
    usable = [
        (s, required.get(s.model_slug)) for s in scores if _is_open(specs.get(s.model_slug), s)
    ]
    return tuple(
        BudgetFrontier(
            benchmark,
            budget,
            _steps(s for s, need in usable if need is not None and need <= budget),
        )
        for budget in budgets
    )


def consumer_lag(
    models: Iterable[ModelSpec],
    scores: Sequence[Score],
    *,
    budget_gib: float = DEFAULT_BUDGET_GIB,
    context: int = DEFAULT_CONTEXT,
    min_bits: float = DEFAULT_MIN_BITS,
    kv_cache_type: str = "f16",
    as_of: date | None = None,
) -> ConsumerLag:
    """How far the best open model that fits ``budget_gib`` trails the proprietary frontier.

    Both bests are over scores available on or before ``as_of`` (by default the newest score's
    date, so the answer does not depend on the clock). See :class:`ConsumerLag` for the
    definition of ``points`` and ``months``.

    Raises:
        FitInputError: A non-positive budget, or scores from more than one benchmark.
    """
    benchmark = _benchmark(scores)
    specs = {m.slug: m for m in models}
    if as_of is None and scores:
        as_of = max(s.available_on for s in scores)
    known = [s for s in scores if as_of is not None and s.available_on <= as_of]
    frontier = consumer_frontier(
        specs.values(),
        known,
        budgets=(budget_gib,),
        context=context,
        min_bits=min_bits,
        kv_cache_type=kv_cache_type,
    )[0]
    proprietary = _steps(s for s in known if not _is_open(specs.get(s.model_slug), s))
    consumer_best = frontier.steps[-1] if frontier.steps else None
    proprietary_best = proprietary[-1] if proprietary else None
    overtaken_by = None
    if consumer_best is not None:
        overtaken_by = next((p for p in proprietary if p.score > consumer_best.score), None)
    return ConsumerLag(benchmark, as_of, budget_gib, consumer_best, proprietary_best, overtaken_by)
