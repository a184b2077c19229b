"""The plain data types every part of ``frontier`` takes as input.

``db`` turns rows into these; ``frontier`` computes on them; ``bot`` renders the answers.
Scores are percentages on a 0-100 scale. Memory figures are GiB (2**30 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Citation:
    """Where a figure comes from: a source key, a human label and, where there is one, a URL."""

    source: str
    label: str
    url: str | None = None

    def __str__(self) -> str:
        return self.label


def fmt_value(value: float, unit: str = "%") -> str:
    """A score's value with its benchmark's unit: ``86.4%``, ``1188.1 elo``."""
    return f"{value:.1f}%" if unit == "%" else f"{value:.1f} {unit}"


@dataclass(frozen=True)
class Benchmark:
    """A benchmark as the analytics need it."""

    key: str
    name: str
    higher_is_better: bool = True
    canonical_setting: str | None = None
    question_count: int | None = None
    question_count_citation: Citation | None = None
    unit: str = "%"


@dataclass(frozen=True)
class Score:
    """One headline score of one model on one benchmark, with its provenance."""

    model_slug: str
    model_name: str
    open_weights: bool
    benchmark: str
    value: float
    available_on: date
    citation: Citation
    setting: str | None = None
    approximate: bool = False
    unit: str = "%"
    """The benchmark's unit: ``%``, or another (an Arena rating is ``elo``, Epoch's
    capabilities index ``eci``): a value is shown with it, never as a percentage."""


@dataclass(frozen=True)
class Architecture:
    """What decides the size of the KV cache; every field optional (unknown).

    ``attention`` is one of ``mha``, ``gqa``, ``mla``, ``sliding`` (interleaved local/global
    layers) or ``hybrid`` (linear-attention layers that keep no per-token cache).
    For ``sliding``, ``full_attention_layers`` layers keep the whole context and the rest keep
    ``sliding_window`` tokens; for ``hybrid``, only ``full_attention_layers`` keep a KV cache.
    For ``mla``, each layer caches ``kv_lora_rank + qk_rope_head_dim`` values per token.
    """

    layers: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    hidden_size: int | None = None
    attention_heads: int | None = None
    max_context: int | None = None
    attention: str = "gqa"
    sliding_window: int | None = None
    full_attention_layers: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A model's facts: openness, size, architecture, training cost, each with a citation."""

    slug: str
    name: str
    organization: str | None = None
    open_weights: bool | None = None
    released_on: date | None = None
    total_params_b: float | None = None
    active_params_b: float | None = None
    params_citation: Citation | None = None
    architecture: Architecture | None = None
    architecture_citation: Citation | None = None
    training_cost_usd: float | None = None
    training_cost_approximate: bool = False
    training_cost_citation: Citation | None = None


@dataclass(frozen=True)
class Attestation:
    """A sourced statement that settles a criterion no dataset can (e.g. a mobile demo)."""

    prediction: str
    criterion: str
    holds: bool
    statement: str
    stated_on: date
    citation: Citation
    model_slug: str | None = None
