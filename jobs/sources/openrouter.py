"""OpenRouter model list (``GET /api/v1/models``, no auth): open-weights flags and dates.

``hugging_face_id`` non-null ⇒ weights on Hugging Face ⇒ open weights (and the HF join key);
null ⇒ unknown, not closed (OpenRouter omits it for some open models too). ``created`` is the
Unix time the model was added to OpenRouter: a release-date upper bound, used as
``released_on``. No scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobs.sources.base import (
    JsonDocumentSource,
    ModelRecord,
    RejectedRow,
    SourceBatch,
    build_record,
    clean_text,
    utcnow,
)
from jobs.sources.http import json_data_list

DEFAULT_URL = "https://openrouter.ai/api/v1/models"


def parse_models(
    payload: bytes | str | Mapping[str, Any],
    *,
    url: str = DEFAULT_URL,
    fetched_at: datetime | None = None,
) -> SourceBatch:
    """Parse ``{"data": [...]}``.

    Raises:
        SourceFormatError: No ``data`` list.
    """
    entries = json_data_list(payload, source="openrouter")
    rejected: list[RejectedRow] = []
    models: list[ModelRecord] = []
    for item in entries:
        if not isinstance(item, Mapping) or not clean_text(item.get("id")):
            rejected.append(RejectedRow.of("model without an id", item))
            continue
        model_id = str(item["id"]).strip()
        hf = clean_text(item.get("hugging_face_id"))
        created = item.get("created")
        released = (
            datetime.fromtimestamp(created, UTC).date()
            if isinstance(created, int | float) and created > 0
            else None
        )
        context = item.get("context_length")
        record = build_record(
            ModelRecord,
            {"id": model_id},
            rejected,
            name=clean_text(item.get("name")) or model_id,
            source_model_id=model_id,
            organization=model_id.split("/", 1)[0] if "/" in model_id else None,
            open_weights=True if hf else None,
            released_on=released,
            hf_repo=hf,
            max_context=context if isinstance(context, int) and context > 0 else None,
            url=f"https://openrouter.ai/{model_id}",
        )
        if record:
            models.append(record)
    return SourceBatch(
        source="openrouter",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=models,
        rejected=rejected,
    )


@dataclass(slots=True)
class OpenRouterSource(JsonDocumentSource):
    """OpenRouter's public model list."""

    url: str = DEFAULT_URL
    key: str = "openrouter"
    parse = staticmethod(parse_models)
