"""Artificial Analysis API (needs a free key, sent as ``x-api-key``; attribution required).

Built from the **documented** example response of the Free API (``{"status", "data": [{id,
name, slug, model_creator{name}, evaluations{…}, pricing{…}}]}``); no real response body was
available. The legacy endpoint ``/api/v2/data/llms/models`` is deprecated (Sunset 2026-11-04);
the default is the new ``/api/v2/language/models/free``, assumed to keep the documented shape
— verify against a live response when a key is configured.

Scales (from the documentation's example): ``mmlu_pro``, ``gpqa``, ``hle``, ``livecodebench``,
``scicode``, ``math_500``, ``aime`` are fractions 0-1 (→ percent); the
``artificial_analysis_*_index`` values are index points (unit ``index``). AA gives no
open-weights flag: models are recorded with ``open_weights=None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobs.sources.base import (
    ModelRecord,
    RejectedRow,
    ScoreRecord,
    SourceBatch,
    SourceState,
    benchmark_slug,
    build_record,
    clean_text,
    fetch_document,
    parse_number,
    to_percent,
    utcnow,
)
from jobs.sources.http import json_data_list

if TYPE_CHECKING:
    from jobs.sources.http import SourceClient

DEFAULT_URL = "https://artificialanalysis.ai/api/v2/language/models/free"
SITE_URL = "https://artificialanalysis.ai/"
FRACTION_EVALS = frozenset(
    {"mmlu_pro", "gpqa", "hle", "livecodebench", "scicode", "math_500", "aime"}
)
INDEX_PREFIX = "artificial_analysis_"


def parse_models(
    payload: bytes | str | Mapping[str, Any],
    *,
    url: str = DEFAULT_URL,
    fetched_at: datetime | None = None,
) -> SourceBatch:
    """Parse an AA models response.

    Raises:
        SourceFormatError: No ``data`` list.
    """
    entries = json_data_list(payload, source="artificial_analysis")
    rejected: list[RejectedRow] = []
    models: list[ModelRecord] = []
    scores: list[ScoreRecord] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not clean_text(entry.get("name")):
            rejected.append(RejectedRow.of("model without a name", entry))
            continue
        name = str(entry["name"]).strip()
        creator = (
            entry.get("model_creator") if isinstance(entry.get("model_creator"), Mapping) else {}
        )
        model = build_record(
            ModelRecord,
            entry,
            rejected,
            name=name,
            source_model_id=clean_text(entry.get("slug")) or clean_text(entry.get("id")),
            organization=clean_text(creator.get("name")),
        )
        if model is None:
            continue
        models.append(model)
        evaluations = (
            entry.get("evaluations") if isinstance(entry.get("evaluations"), Mapping) else {}
        )
        for key, raw in evaluations.items():
            if raw is None:
                continue
            try:
                if key in FRACTION_EVALS:
                    value, unit = to_percent(raw, 1), "%"
                elif key.startswith(INDEX_PREFIX):
                    value, unit = parse_number(raw), "index"
                else:
                    continue  # unknown evaluation: scale undocumented, do not guess
            except ValueError as exc:
                rejected.append(RejectedRow.of(f"{name} {key}: {exc}", {key: raw}))
                continue
            score = build_record(
                ScoreRecord,
                {key: raw},
                rejected,
                model_name=name,
                raw_model_id=model.source_model_id,
                benchmark=benchmark_slug(key),
                value=value,
                unit=unit,
                url=SITE_URL,
            )
            if score:
                scores.append(score)
    return SourceBatch(
        source="artificial_analysis",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=models,
        scores=scores,
        rejected=rejected,
    )


@dataclass(slots=True)
class ArtificialAnalysisSource:
    """Artificial Analysis models endpoint (enabled only with an API key)."""

    api_key: str = field(repr=False)
    url: str = DEFAULT_URL
    key: str = "artificial_analysis"

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """GET with the key in a header (never in the URL, which httpx logs)."""
        return await fetch_document(
            client,
            state,
            source=self.key,
            url=self.url,
            expect="json",
            headers={"x-api-key": self.api_key},
            parse=lambda body, at: parse_models(body, url=self.url, fetched_at=at),
        )
