"""LMArena (Chatbot Arena) text leaderboard: Arena ratings with a licence per model.

Two formats:

- The official ``lmarena/arena-catalog`` GitHub repo: ``data/leaderboard-text.json``
  (``{category: {model_key: {rating, rating_q975, rating_q025}}}``; we use ``full``) joined on
  ``model_api_name`` with ``data/scatterplot-data.json`` (a list with ``license`` and
  ``organization``). Licence ``"Proprietary"`` ⇒ closed; any licence name ⇒ open weights;
  missing/empty ⇒ unknown. Only part of the leaderboard appears in the scatterplot file, so
  many models have an unknown flag (left for other sources to fill).
- Daily snapshots (``{"meta": {...}, "models": [{rank, model, vendor, license, score, ci,
  votes}]}``, ``license`` ∈ ``"proprietary" | "open" | null``).

Scores are Arena ratings (unit ``elo``; Bradley-Terry since Dec 2023), comparable only within
one snapshot. Neither format dates single ratings; ``available_on`` is the snapshot's date
(meta.fetched_at, else the response's Last-Modified, else the fetch date): the rating was
public by then.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

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
    parse_date,
    parse_number,
    unchanged_batch,
    utcnow,
)
from jobs.sources.http import decode_json

if TYPE_CHECKING:
    from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)

CATALOG_BASE = "https://raw.githubusercontent.com/lmarena/arena-catalog/main/data"
BENCHMARK = "lmarena-text"
UNIT = "elo"
SITE_URL = "https://lmarena.ai/leaderboard/text"

_PROPRIETARY = {"proprietary", "propretary"}  # the catalog really spells it both ways


def open_weights_from_license(value: object) -> bool | None:
    """``Proprietary`` → False; any other licence name (or ``open``) → True; empty → None."""
    text = clean_text(value)
    if text is None:
        return None
    return text.lower() not in _PROPRIETARY


def _decode(payload: bytes | str | Any) -> Any:
    if isinstance(payload, bytes | str):
        raw = payload.encode() if isinstance(payload, str) else payload
        return decode_json(raw, source="lmarena")
    return payload


def parse_catalog(
    leaderboard: bytes | str | Mapping[str, Any],
    scatterplot: bytes | str | list[Any] | None = None,
    *,
    category: str = "full",
    as_of: date | None = None,
    url: str = CATALOG_BASE + "/leaderboard-text.json",
    fetched_at: datetime | None = None,
) -> SourceBatch:
    """Parse the catalog's leaderboard (+ scatterplot licences) into a batch.

    Raises:
        SourceFormatError: Not an object of categories, or ``category`` missing.
    """
    board = _decode(leaderboard)
    if not isinstance(board, Mapping):
        raise SourceFormatError("leaderboard is not a JSON object", source="lmarena")
    entries = board.get(category)
    if not isinstance(entries, Mapping):
        raise SourceFormatError(f"leaderboard has no {category!r} category", source="lmarena")
    meta: dict[str, Mapping[str, Any]] = {}
    if scatterplot is not None:
        listing = _decode(scatterplot)
        if not isinstance(listing, list):
            raise SourceFormatError("scatterplot data is not a JSON list", source="lmarena")
        for entry in listing:
            if isinstance(entry, Mapping) and isinstance(entry.get("model_api_name"), str):
                meta[entry["model_api_name"]] = entry
    rejected: list[RejectedRow] = []
    models: list[ModelRecord] = []
    scores: list[ScoreRecord] = []
    setting = None if category == "full" else category
    for key, entry in entries.items():
        if not isinstance(entry, Mapping):
            rejected.append(RejectedRow.of(f"{key}: entry is not an object", entry))
            continue
        try:
            rating = parse_number(entry.get("rating"))
        except ValueError as exc:
            rejected.append(RejectedRow.of(f"{key}: {exc}", entry))
            continue
        info = meta.get(key, {})
        licence = clean_text(info.get("license"))
        model = build_record(
            ModelRecord,
            info or key,
            rejected,
            name=key,
            source_model_id=key,
            organization=clean_text(info.get("organization")),
            open_weights=open_weights_from_license(licence),
            license=licence if open_weights_from_license(licence) else None,
            url=clean_text(info.get("model_source")),
        )
        score = build_record(
            ScoreRecord,
            entry,
            rejected,
            model_name=key,
            raw_model_id=key,
            benchmark=BENCHMARK,
            value=rating,
            unit=UNIT,
            setting=setting,
            available_on=as_of,
            url=SITE_URL,
        )
        if model and score:
            models.append(model)
            scores.append(score)
    return SourceBatch(
        source="lmarena",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=models,
        scores=scores,
        rejected=rejected,
    )


def parse_snapshot(
    payload: bytes | str | Mapping[str, Any],
    *,
    url: str = SITE_URL,
    fetched_at: datetime | None = None,
) -> SourceBatch:
    """Parse a daily snapshot (``{"meta": …, "models": [...]}``).

    Raises:
        SourceFormatError: No ``models`` list.
    """
    data = _decode(payload)
    if not isinstance(data, Mapping) or not isinstance(data.get("models"), list):
        raise SourceFormatError("snapshot has no 'models' list", source="lmarena")
    meta = data.get("meta") if isinstance(data.get("meta"), Mapping) else {}
    as_of = parse_date(meta.get("fetched_at")) or parse_date(meta.get("last_updated"))
    source_url = clean_text(meta.get("source_url")) or url
    rejected: list[RejectedRow] = []
    models: list[ModelRecord] = []
    scores: list[ScoreRecord] = []
    for entry in data["models"]:
        if not isinstance(entry, Mapping) or not clean_text(entry.get("model")):
            rejected.append(RejectedRow.of("entry without a model name", entry))
            continue
        name = str(entry["model"]).strip()
        try:
            rating = parse_number(entry.get("score"))
        except ValueError as exc:
            rejected.append(RejectedRow.of(f"{name}: {exc}", entry))
            continue
        model = build_record(
            ModelRecord,
            entry,
            rejected,
            name=name,
            source_model_id=name,
            organization=clean_text(entry.get("vendor")),
            open_weights=open_weights_from_license(entry.get("license")),
        )
        score = build_record(
            ScoreRecord,
            entry,
            rejected,
            model_name=name,
            raw_model_id=name,
            benchmark=BENCHMARK,
            value=rating,
            unit=UNIT,
            available_on=as_of,
            url=source_url,
        )
        if model and score:
            models.append(model)
            scores.append(score)
    return SourceBatch(
        source="lmarena",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=models,
        scores=scores,
        rejected=rejected,
    )


def _http_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(slots=True)
class LMArenaSource:
    """LMArena text leaderboard.

    Attributes:
        format: ``"catalog"`` (arena-catalog JSON pair) or ``"snapshot"`` (daily snapshot).
        url: Leaderboard URL (catalog ``leaderboard-text.json`` or a snapshot file).
        scatterplot_url: Licence list for the catalog format.
        category: Catalog category (``full`` = overall).
    """

    format: Literal["catalog", "snapshot"] = "catalog"
    url: str = CATALOG_BASE + "/leaderboard-text.json"
    scatterplot_url: str | None = CATALOG_BASE + "/scatterplot-data.json"
    category: str = "full"
    key: str = "lmarena"

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """Conditional GET of the leaderboard (and the licence list when it changed)."""
        fetched_at = utcnow()
        board = await client.get(
            self.url,
            source=self.key,
            etag=state.etag,
            last_modified=state.last_modified,
            expect="json",
        )
        if board.not_modified:
            return unchanged_batch(self.key, self.url, fetched_at, state)
        parts = [board.content]
        scatter = None
        if self.format == "catalog" and self.scatterplot_url:
            scatter = await client.get(self.scatterplot_url, source=self.key, expect="json")
            parts.append(scatter.content)
        digest = content_hash(*parts)
        if digest == state.content_hash:
            return unchanged_batch(
                self.key, self.url, fetched_at, state, board.etag, board.last_modified, digest
            )
        if self.format == "snapshot":
            batch = parse_snapshot(board.content, url=self.url, fetched_at=fetched_at)
        else:
            as_of = _http_date(board.last_modified) or fetched_at.date()
            batch = parse_catalog(
                board.content,
                scatter.content if scatter else None,
                category=self.category,
                as_of=as_of,
                url=self.url,
                fetched_at=fetched_at,
            )
        return SourceBatch(
            source=self.key,
            fetched_at=fetched_at,
            url=self.url,
            models=batch.models,
            scores=batch.scores,
            rejected=batch.rejected,
            content_hash=digest,
            etag=board.etag,
            last_modified=board.last_modified,
        )
