"""LLM-Stats (JonathanChavezTamales/LLMStats, CC BY 4.0): offline historical per-model JSON.

The repository was frozen on 2025-05-22; we read its per-model ``model.json`` files (or the
bundled flattened CSV). ``qualitative_metrics[].score`` is a fraction 0-1 (→ percent);
licence ``"Proprietary"`` ⇒ closed, any other licence name ⇒ open weights; ``param_count`` is
in parameters; ``is_self_reported`` is kept on the score.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from jobs.sources.base import (
    ModelRecord,
    RejectedRow,
    ScoreRecord,
    SourceBatch,
    SourceFormatError,
    benchmark_slug,
    build_record,
    clean_text,
    dedupe_scores,
    optional_number,
    parse_date,
    to_percent,
    utcnow,
)

REPO_URL = "https://github.com/JonathanChavezTamales/LLMStats"


def open_weights_from_license(value: object) -> bool | None:
    """``Proprietary`` → False; a licence name → True; missing → None."""
    text = clean_text(value)
    if text is None:
        return None
    return text.lower() != "proprietary"


def _short(value: object, limit: int = 100) -> str | None:
    """Free-text analysis methods can be long; keep the start (the record caps settings)."""
    text = clean_text(value)
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _truthy(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = (clean_text(value) or "").lower()
    return {"true": True, "false": False}.get(text)


def parse_models(
    documents: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    benchmarks: frozenset[str] | None = None,
    url: str = REPO_URL,
    fetched_at: datetime | None = None,
) -> SourceBatch:
    """Parse ``(model_id, model.json)`` pairs.

    Args:
        documents: Model id (``deepseek/deepseek-v3``) and the parsed JSON object.
        benchmarks: Keep only these benchmark slugs (None: all).
        url: Provenance URL.
        fetched_at: Fetch time.
    """
    rejected: list[RejectedRow] = []
    models: list[ModelRecord] = []
    scores: list[ScoreRecord] = []
    for model_id, doc in documents:
        name = clean_text(doc.get("name"))
        if name is None:
            rejected.append(RejectedRow.of(f"{model_id}: no name", doc))
            continue
        licence = clean_text(doc.get("license"))
        params = optional_number(doc.get("param_count"))
        weights = clean_text(doc.get("weights_link"))
        model = build_record(
            ModelRecord,
            {"id": model_id},
            rejected,
            name=name,
            source_model_id=model_id,
            organization=model_id.split("/", 1)[0] if "/" in model_id else None,
            open_weights=open_weights_from_license(licence),
            license=licence,
            released_on=parse_date(doc.get("release_date")),
            total_params_b=params / 1e9 if params else None,
            hf_repo=weights.removeprefix("https://huggingface.co/")
            if weights and weights.startswith("https://huggingface.co/")
            else None,
            max_context=int(ctx)
            if (ctx := optional_number(doc.get("input_context_size")))
            else None,
            url=f"{REPO_URL}/blob/main/models/{model_id}/model.json",
        )
        if model is None:
            continue
        models.append(model)
        for metric in doc.get("qualitative_metrics") or ():
            if not isinstance(metric, Mapping):
                continue
            raw_name = clean_text(metric.get("dataset_name"))
            if raw_name is None:
                continue
            key = benchmark_slug(raw_name)
            if benchmarks is not None and key not in benchmarks:
                continue
            try:
                value = to_percent(metric.get("score"), 1)
            except ValueError as exc:
                rejected.append(RejectedRow.of(f"{model_id} {raw_name}: {exc}", metric))
                continue
            score = build_record(
                ScoreRecord,
                metric,
                rejected,
                model_name=name,
                raw_model_id=model_id,
                benchmark=key,
                value=value,
                setting=_short(metric.get("analysis_method")),
                available_on=parse_date(metric.get("date_recorded"))
                or parse_date(doc.get("release_date")),
                url=clean_text(metric.get("source_link")),
                self_reported=_truthy(metric.get("is_self_reported")),
            )
            if score:
                scores.append(score)
    return SourceBatch(
        source="llm_stats",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=models,
        scores=dedupe_scores(scores),
        rejected=rejected,
    )


def parse_model_json(model_id: str, payload: bytes | str) -> SourceBatch:
    """One ``model.json`` file."""
    try:
        doc = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise SourceFormatError(f"{model_id}: invalid JSON", source="llm_stats") from exc
    if not isinstance(doc, Mapping):
        raise SourceFormatError(f"{model_id}: not a JSON object", source="llm_stats")
    return parse_models([(model_id, doc)])


FLAT_COLUMNS = ("model_id", "name", "license", "dataset_name", "score")


def parse_flat_csv(
    text: str, *, benchmarks: frozenset[str] | None = None, fetched_at: datetime | None = None
) -> SourceBatch:
    """The flattened CSV (one row per score; model columns repeated).

    Raises:
        SourceFormatError: A required column is missing (named).
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    for column in FLAT_COLUMNS:
        if column not in header:
            raise SourceFormatError(f"required column {column!r} is missing", source="llm_stats")
    docs: dict[str, dict[str, Any]] = {}
    for row in reader:
        model_id = row["model_id"]
        doc = docs.setdefault(
            model_id,
            {
                k: row.get(k)
                for k in ("name", "release_date", "license", "param_count", "weights_link")
            }
            | {"qualitative_metrics": []},
        )
        doc["qualitative_metrics"].append(
            {
                k: row.get(k)
                for k in (
                    "dataset_name",
                    "score",
                    "is_self_reported",
                    "analysis_method",
                    "date_recorded",
                    "source_link",
                )
            }
        )
    return parse_models(docs.items(), benchmarks=benchmarks, fetched_at=fetched_at)
