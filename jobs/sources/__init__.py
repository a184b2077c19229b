"""Source adapters: fetch upstream data and parse it into validated records.

Each adapter module has pure ``parse_*`` functions (tested without HTTP) and a ``*Source``
class implementing :class:`~jobs.sources.base.Source`. :func:`build_sources` turns a plain
configuration into the enabled sources; the entry point builds one
:class:`~jobs.sources.http.SourceClient` and hands both to the ingest job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.sources.artificial_analysis import ArtificialAnalysisSource
from jobs.sources.base import (
    ModelRecord,
    RejectedRow,
    ScoreRecord,
    Source,
    SourceBatch,
    SourceError,
    SourceFormatError,
    SourceState,
    SourceTooLargeError,
    SourceUnavailableError,
)
from jobs.sources.epoch import EpochSource
from jobs.sources.evalplus import EvalPlusSource
from jobs.sources.http import RetryPolicy, SourceClient
from jobs.sources.huggingface import HuggingFaceSource
from jobs.sources.lmarena import LMArenaSource
from jobs.sources.models_dev import ModelsDevSource
from jobs.sources.open_llm_leaderboard import OpenLLMLeaderboardSource
from jobs.sources.openrouter import OpenRouterSource
from jobs.sources.tabular import ColumnMapping, TabularSource

__all__ = [
    "ColumnMapping",
    "ModelRecord",
    "RejectedRow",
    "RetryPolicy",
    "ScoreRecord",
    "Source",
    "SourceBatch",
    "SourceClient",
    "SourceError",
    "SourceFormatError",
    "SourceState",
    "SourceTooLargeError",
    "SourceUnavailableError",
    "SourcesConfig",
    "TabularConfig",
    "build_sources",
]

DEFAULT_HF_AUTHORS = (
    "deepseek-ai",
    "Qwen",
    "meta-llama",
    "mistralai",
    "google",
    "microsoft",
    "openai",
    "moonshotai",
    "zai-org",
    "nvidia",
)


@dataclass(frozen=True, slots=True)
class TabularConfig:
    """One user-mapped table (see :class:`~jobs.sources.tabular.ColumnMapping`)."""

    key: str
    location: str
    mapping: ColumnMapping
    format: str | None = None


@dataclass(frozen=True, slots=True)
class SourcesConfig:
    """Plain configuration of the sources (the app's settings fill it).

    ``enabled`` lists source keys; ``base_urls`` overrides a source's URL (tests, mirrors):
    for ``huggingface`` and ``open_llm_leaderboard`` it is the API base, for the others the
    document URL.
    """

    enabled: frozenset[str] = frozenset(
        {"epoch", "huggingface", "lmarena", "open_llm_leaderboard", "models_dev", "openrouter"}
    )
    base_urls: Mapping[str, str] = field(default_factory=dict)
    hf_authors: tuple[str, ...] = DEFAULT_HF_AUTHORS
    hf_token: str | None = field(default=None, repr=False)
    hf_fetch_configs: bool = True
    artificial_analysis_key: str | None = field(default=None, repr=False)
    epoch_benchmarks: frozenset[str] | None = None
    tables: tuple[TabularConfig, ...] = ()


def _url(config: SourcesConfig, key: str) -> dict[str, Any]:
    url = config.base_urls.get(key)
    if url is None:
        return {}
    return {"base_url": url} if key in ("huggingface", "open_llm_leaderboard") else {"url": url}


def build_sources(config: SourcesConfig | Mapping[str, Any]) -> list[Source]:
    """The enabled sources, in order of value.

    Artificial Analysis is enabled only when a key is configured.
    """
    if isinstance(config, Mapping):
        config = SourcesConfig(**config)
    on = config.enabled
    sources: list[Source] = []
    if "epoch" in on:
        sources.append(EpochSource(benchmarks=config.epoch_benchmarks, **_url(config, "epoch")))
    if "huggingface" in on and config.hf_authors:
        sources.append(
            HuggingFaceSource(
                authors=config.hf_authors,
                token=config.hf_token,
                fetch_configs=config.hf_fetch_configs,
                **_url(config, "huggingface"),
            )
        )
    if "lmarena" in on:
        sources.append(LMArenaSource(**_url(config, "lmarena")))
    for table in config.tables:
        sources.append(
            TabularSource(
                key=table.key,
                location=table.location,
                mapping=table.mapping,
                format=table.format,  # type: ignore[arg-type]
            )
        )
    if "open_llm_leaderboard" in on:
        sources.append(OpenLLMLeaderboardSource(**_url(config, "open_llm_leaderboard")))
    if "evalplus" in on:
        sources.append(EvalPlusSource(**_url(config, "evalplus")))
    if config.artificial_analysis_key:
        sources.append(
            ArtificialAnalysisSource(
                api_key=config.artificial_analysis_key, **_url(config, "artificial_analysis")
            )
        )
    if "models_dev" in on:
        sources.append(ModelsDevSource(**_url(config, "models_dev")))
    if "openrouter" in on:
        sources.append(OpenRouterSource(**_url(config, "openrouter")))
    return sources
