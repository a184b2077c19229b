"""models.dev (MIT): open-weights flags and release dates, no scores used.

``https://models.dev/api.json`` is ``{provider: {id, name, models: {model_id: {...}}}}``;
each model has ``name``, ``release_date`` (``YYYY-MM-DD`` or ``YYYY-MM``), ``open_weights``
(bool), ``limit.context``, sometimes ``license`` and ``weights[{label, url}]``. The parser
also accepts a flat list of such model objects (the canonical per-model files). Providers
repeat models; the first occurrence wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.sources.base import (
    JsonDocumentSource,
    ModelRecord,
    RejectedRow,
    SourceBatch,
    SourceFormatError,
    build_record,
    clean_text,
    parse_date,
    utcnow,
)
from jobs.sources.http import json_document

DEFAULT_URL = "https://models.dev/api.json"


def _iter_models(data: Any) -> Iterable[tuple[str, Mapping[str, Any]]]:
    if isinstance(data, list):
        for item in data:
            if isinstance(item, Mapping):
                yield str(item.get("model_id") or item.get("id") or item.get("name")), item
        return
    if isinstance(data, Mapping):
        for provider in data.values():
            models = provider.get("models") if isinstance(provider, Mapping) else None
            if isinstance(models, Mapping):
                for model_id, item in models.items():
                    if isinstance(item, Mapping):
                        yield str(model_id), item
        return
    raise SourceFormatError("expected a provider object or a list of models", source="models_dev")


def parse_catalog(
    payload: bytes | str | Any, *, url: str = DEFAULT_URL, fetched_at: datetime | None = None
) -> SourceBatch:
    """Parse models.dev into model records (open flag, release date, licence, context)."""
    data = json_document(payload, source="models_dev")
    rejected: list[RejectedRow] = []
    models: dict[str, ModelRecord] = {}
    for model_id, item in _iter_models(data):
        name = clean_text(item.get("name"))
        if name is None:
            rejected.append(RejectedRow.of(f"{model_id}: no name", item))
            continue
        if model_id in models:
            continue
        weights = item.get("weights") if isinstance(item.get("weights"), list) else []
        hf = next(
            (
                w["url"].removeprefix("https://huggingface.co/")
                for w in weights
                if isinstance(w, Mapping)
                and str(w.get("url", "")).startswith("https://huggingface.co/")
            ),
            None,
        )
        limit = item.get("limit") if isinstance(item.get("limit"), Mapping) else {}
        context = limit.get("context")
        open_weights = item.get("open_weights")
        record = build_record(
            ModelRecord,
            item,
            rejected,
            name=name,
            source_model_id=model_id,
            open_weights=open_weights if isinstance(open_weights, bool) else None,
            license=clean_text(item.get("license")),
            released_on=parse_date(item.get("release_date")),
            hf_repo=hf,
            max_context=context if isinstance(context, int) and context > 0 else None,
        )
        if record:
            models[model_id] = record
    return SourceBatch(
        source="models_dev",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=list(models.values()),
        rejected=rejected,
    )


@dataclass(slots=True)
class ModelsDevSource(JsonDocumentSource):
    """models.dev catalogue."""

    url: str = DEFAULT_URL
    key: str = "models_dev"
    parse = staticmethod(parse_catalog)
