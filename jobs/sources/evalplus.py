"""EvalPlus leaderboard (evalplus/evalplus.github.io ``results.json``, Apache-2.0; frozen 2024-12).

``{model: {link, open-data, pass@1: {humaneval, humaneval+, mbpp, mbpp+}, prompted, size}}``.
pass@1 is already in percent (scale 100). ``size`` (billions of parameters) is null for
closed models, so ``size is None`` ⇒ proprietary, a number ⇒ open weights. The file has no
dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.sources.base import (
    JsonDocumentSource,
    ModelRecord,
    RejectedRow,
    ScoreRecord,
    SourceBatch,
    SourceFormatError,
    build_record,
    clean_text,
    optional_number,
    to_percent,
    utcnow,
)
from jobs.sources.http import json_document

DEFAULT_URL = "https://evalplus.github.io/results.json"
SITE_URL = "https://evalplus.github.io/leaderboard.html"
BENCHMARKS = ("humaneval", "humaneval+", "mbpp", "mbpp+")


def parse_results(
    payload: bytes | str | Mapping[str, Any],
    *,
    url: str = DEFAULT_URL,
    fetched_at: datetime | None = None,
) -> SourceBatch:
    """Parse ``results.json``.

    Raises:
        SourceFormatError: Not a JSON object of models.
    """
    data = json_document(payload, source="evalplus")
    if not isinstance(data, Mapping):
        raise SourceFormatError("results.json is not a JSON object", source="evalplus")
    rejected: list[RejectedRow] = []
    models: list[ModelRecord] = []
    scores: list[ScoreRecord] = []
    for name, entry in data.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("pass@1"), Mapping):
            rejected.append(RejectedRow.of(f"{name}: no pass@1 object", entry))
            continue
        size = optional_number(entry.get("size"))
        link = clean_text(entry.get("link"))
        model = build_record(
            ModelRecord,
            entry,
            rejected,
            name=str(name).strip(),
            source_model_id=str(name).strip(),
            open_weights=size is not None,
            # ``size`` is not the total parameter count for mixtures of experts (Mixtral-8x7B
            # is listed as 13, DBRX as 36: active parameters), and the memory estimate needs
            # the total, so EvalPlus sizes are not used as parameter counts.
            total_params_b=None,
            hf_repo=link.removeprefix("https://huggingface.co/")
            if link and link.startswith("https://huggingface.co/")
            else None,
            url=link,
        )
        if model is None:
            continue
        models.append(model)
        setting = "prompted" if entry.get("prompted") is True else None
        for bench in BENCHMARKS:
            raw = entry["pass@1"].get(bench)
            if raw is None:
                continue
            try:
                value = to_percent(raw, 100)
            except ValueError as exc:
                rejected.append(RejectedRow.of(f"{name} {bench}: {exc}", entry))
                continue
            score = build_record(
                ScoreRecord,
                entry,
                rejected,
                model_name=model.name,
                raw_model_id=model.name,
                benchmark=bench,
                value=value,
                setting=f"pass@1{', ' + setting if setting else ''}",
                url=SITE_URL,
            )
            if score:
                scores.append(score)
    return SourceBatch(
        source="evalplus",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=models,
        scores=scores,
        rejected=rejected,
    )


@dataclass(slots=True)
class EvalPlusSource(JsonDocumentSource):
    """EvalPlus ``results.json``."""

    url: str = DEFAULT_URL
    key: str = "evalplus"
    parse = staticmethod(parse_results)
