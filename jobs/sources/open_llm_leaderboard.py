"""Open LLM Leaderboard v2 (frozen 2025-03-13) through the HF datasets-server rows API.

``GET {base}/rows?dataset=open-llm-leaderboard/contents&config=default&split=train&offset=N
&length=100`` returns ``{"features", "rows": [{"row_idx", "row": {...}}], "num_rows_total",
…}``; we page by ``offset`` until ``num_rows_total``. Open-weights models only.

Scores: each benchmark has ``X Raw`` (accuracy 0-1) and ``X`` (the leaderboard's
baseline-normalised 0-100). We publish the raw accuracy as percent (``Raw`` × 100), the number
comparable with other sources; the normalised score is not an accuracy. Benchmark keys:
``ifeval``, ``bbh``, ``math-lvl-5``, ``gpqa``, ``musr``, ``mmlu-pro`` (MMLU-PRO is not MMLU).
Settings are the leaderboard's harness settings (IFEval 0-shot, BBH 3-shot, MATH 4-shot,
GPQA 0-shot, MuSR 0-shot, MMLU-PRO 5-shot; from the leaderboard's documentation).
Flagged rows are rejected; the dataset has no "available on" date per score, so
``Submission Date`` is used (the score was public from then).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobs.sources.base import (
    ModelRecord,
    RejectedRow,
    ScoreRecord,
    SourceBatch,
    SourceFormatError,
    SourceState,
    build_record,
    clean_text,
    content_hash,
    dedupe_scores,
    optional_number,
    parse_date,
    to_percent,
    unchanged_batch,
    utcnow,
)
from jobs.sources.http import json_document

if TYPE_CHECKING:
    from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://datasets-server.huggingface.co"
DATASET = "open-llm-leaderboard/contents"
LEADERBOARD_URL = "https://huggingface.co/spaces/open-llm-leaderboard/open_llm_leaderboard"
PAGE_LENGTH = 100  # the API's maximum

# column stem -> (benchmark key, setting)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "IFEval": ("ifeval", "0-shot"),
    "BBH": ("bbh", "3-shot"),
    "MATH Lvl 5": ("math-lvl-5", "4-shot"),
    "GPQA": ("gpqa", "0-shot"),
    "MUSR": ("musr", "0-shot"),
    "MMLU-PRO": ("mmlu-pro", "5-shot"),
}
REQUIRED = ("fullname", *(f"{stem} Raw" for stem in BENCHMARKS))


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def parse_rows(
    rows: list[Mapping[str, Any]],
    *,
    fetched_at: datetime | None = None,
    url: str = DEFAULT_BASE_URL + "/rows",
) -> SourceBatch:
    """Parse leaderboard rows (the ``row`` objects, or CSV dicts with the same columns).

    Raises:
        SourceFormatError: A required column is missing (named).
    """
    rejected: list[RejectedRow] = []
    models: dict[str, ModelRecord] = {}
    scores: list[ScoreRecord] = []
    if rows:
        for column in REQUIRED:
            if column not in rows[0]:
                raise SourceFormatError(
                    f"required column {column!r} is missing (format drift?)",
                    source="open_llm_leaderboard",
                )
    for row in rows:
        name = clean_text(row.get("fullname"))
        excerpt = {k: row.get(k) for k in ("fullname", "Precision", "#Params (B)", "Hub License")}
        if name is None:
            rejected.append(RejectedRow.of("row without fullname", excerpt))
            continue
        if _truthy(row.get("Flagged")):
            rejected.append(RejectedRow.of(f"{name}: flagged on the leaderboard", excerpt))
            continue
        params = optional_number(row.get("#Params (B)"))
        available = row.get("Available on the hub")
        submitted = parse_date(row.get("Submission Date"))
        model = build_record(
            ModelRecord,
            excerpt,
            rejected,
            name=name.split("/", 1)[-1],
            source_model_id=name,
            organization=name.split("/", 1)[0] if "/" in name else None,
            open_weights=True if available is None or _truthy(available) else None,
            license=clean_text(row.get("Hub License")),
            released_on=parse_date(row.get("Upload To Hub Date")),
            total_params_b=params if params and params > 0 else None,
            hf_repo=name if "/" in name else None,
            likes=int(likes) if (likes := optional_number(row.get("Hub ❤️"))) is not None else None,
            url=f"https://huggingface.co/{name}",
        )
        if model is None:
            continue
        precision = clean_text(row.get("Precision"))
        for stem, (key, setting) in BENCHMARKS.items():
            raw = row.get(f"{stem} Raw")
            try:
                value = to_percent(raw, 1)
            except ValueError as exc:
                rejected.append(RejectedRow.of(f"{name} {key}: {exc}", excerpt))
                continue
            score = build_record(
                ScoreRecord,
                excerpt,
                rejected,
                model_name=model.name,
                raw_model_id=name,
                benchmark=key,
                value=value,
                setting=setting,
                available_on=submitted,
                url=LEADERBOARD_URL,
            )
            if score:
                scores.append(score)
        # The same repo can be evaluated in several precisions; keep the first model record,
        # and let the best score per (model, benchmark, setting) win below.
        models.setdefault(name, model)
        if precision:
            log.debug("open_llm_leaderboard: %s evaluated in %s", name, precision)
    return SourceBatch(
        source="open_llm_leaderboard",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=list(models.values()),
        scores=dedupe_scores(scores),
        rejected=rejected,
    )


def parse_rows_page(
    payload: bytes | str | Mapping[str, Any],
) -> tuple[list[Mapping[str, Any]], int]:
    """The ``row`` objects and ``num_rows_total`` of one ``/rows`` response.

    Raises:
        SourceFormatError: Not the documented envelope.
    """
    payload = json_document(payload, source="open_llm_leaderboard")
    if not isinstance(payload, Mapping) or not isinstance(payload.get("rows"), list):
        raise SourceFormatError(
            "rows response without a 'rows' list", source="open_llm_leaderboard"
        )
    total = payload.get("num_rows_total")
    if not isinstance(total, int):
        raise SourceFormatError(
            "rows response without 'num_rows_total'", source="open_llm_leaderboard"
        )
    rows = [
        r["row"]
        for r in payload["rows"]
        if isinstance(r, Mapping) and isinstance(r.get("row"), Mapping)
    ]
    return rows, total


@dataclass(slots=True)
class OpenLLMLeaderboardSource:
    """The frozen Open LLM Leaderboard v2 contents dataset.

    Attributes:
        base_url: datasets-server base URL.
        dataset: Dataset id.
        page_length: Rows per request (max 100).
        max_rows: Safety cap on rows read per poll.
    """

    base_url: str = DEFAULT_BASE_URL
    dataset: str = DATASET
    page_length: int = PAGE_LENGTH
    max_rows: int = 10_000
    key: str = "open_llm_leaderboard"

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """Page through ``/rows`` until ``num_rows_total``; unchanged hash → not modified."""
        fetched_at = utcnow()
        url = f"{self.base_url.rstrip('/')}/rows"
        bodies: list[bytes] = []
        rows: list[Mapping[str, Any]] = []
        offset, total = 0, None
        while total is None or offset < min(total, self.max_rows):
            params = {
                "dataset": self.dataset,
                "config": "default",
                "split": "train",
                "offset": str(offset),
                "length": str(self.page_length),
            }
            result = await client.get(url, source=self.key, params=params, expect="json")
            bodies.append(result.content)
            page, total = parse_rows_page(result.json(source=self.key))
            if not page:
                break
            rows.extend(page)
            offset += len(page)
        digest = content_hash(*bodies)
        if digest == state.content_hash:
            return unchanged_batch(self.key, url, fetched_at, state, digest=digest)
        batch = parse_rows(rows, fetched_at=fetched_at, url=url)
        log.info("%s: %d rows, %d models", self.key, len(rows), len(batch.models))
        return SourceBatch(
            source=self.key,
            fetched_at=fetched_at,
            url=url,
            models=batch.models,
            scores=batch.scores,
            rejected=batch.rejected,
            content_hash=digest,
        )
