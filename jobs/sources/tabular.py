"""A generic tabular source: any CSV, JSON (records) or Parquet file, mapped by settings.

The mapping names the columns (model, benchmark or a fixed benchmark, value, date, open
weights) and the value scale (``1`` = fractions, ``100`` = percent). The scale is declared per
source, never guessed per row. Parsing runs in a worker thread (pandas, imported on the first
parse: with pyarrow it costs about 100 MB of memory that a bot with no tabular source should
not pay).

A URL is fetched through :class:`SourceClient`; a local path is read from disk (for user-supplied
files and the bundled snapshots).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jobs.sources.base import (
    ModelRecord,
    RejectedRow,
    ScoreRecord,
    SourceBatch,
    SourceFormatError,
    SourceState,
    SourceUnavailableError,
    benchmark_slug,
    build_record,
    clean_text,
    content_hash,
    dedupe_scores,
    fetch_document,
    parse_date,
    to_percent,
    unchanged_batch,
    utcnow,
)
from jobs.sources.http import decode_json

if TYPE_CHECKING:
    import pandas as pd

    from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)

Format = Literal["csv", "json", "parquet"]


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """How a table's columns map onto scores.

    Attributes:
        model: Column with the model name.
        value: Column with the score.
        scale: ``1`` when values are fractions 0-1, ``100`` when percent.
        benchmark: Column naming the benchmark, or None with ``fixed_benchmark``.
        fixed_benchmark: Benchmark of every row (single-benchmark tables).
        setting: Optional column with the setting (``5-shot``).
        date: Optional column with the date the score became public.
        open_weights: Optional column with the open/closed flag.
        open_values: Cell values (lower-cased) meaning open weights.
        closed_values: Cell values (lower-cased) meaning proprietary; anything else → unknown.
        organization: Optional organisation column.
        url: Optional per-row URL column.
    """

    model: str
    value: str
    scale: Literal[1, 100] = 100
    benchmark: str | None = None
    fixed_benchmark: str | None = None
    setting: str | None = None
    date: str | None = None
    open_weights: str | None = None
    open_values: frozenset[str] = frozenset({"true", "yes", "open", "1", "open weights"})
    closed_values: frozenset[str] = frozenset({"false", "no", "proprietary", "closed", "0"})
    organization: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.benchmark is None) == (self.fixed_benchmark is None):
            raise ValueError("give exactly one of benchmark (a column) or fixed_benchmark")
        if self.scale not in (1, 100):
            raise ValueError("scale must be 1 (fractions) or 100 (percent)")

    def required(self) -> list[str]:
        """Columns that must exist in the table."""
        optional = (self.setting, self.date, self.open_weights, self.organization, self.url)
        return [c for c in (self.model, self.value, self.benchmark, *optional) if c]

    def open_flag(self, raw: object) -> bool | None:
        """Map a cell to the open-weights flag."""
        text = (clean_text(raw) or "").lower()
        if text in self.open_values:
            return True
        if text in self.closed_values:
            return False
        return None


def read_table(data: bytes, fmt: Format) -> pd.DataFrame:
    """Read ``data`` as a DataFrame of strings/objects (no dtype guessing on scores).

    Raises:
        SourceFormatError: The bytes are not a table of that format.
    """
    import pandas as pd

    try:
        if fmt == "csv":
            return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        if fmt == "json":
            records = decode_json(data, source="tabular")
            if isinstance(records, Mapping):  # {"data": [...]} envelopes
                records = next((v for v in records.values() if isinstance(v, list)), None)
            if not isinstance(records, list):
                raise SourceFormatError("JSON is not a list of records", source="tabular")
            return pd.DataFrame.from_records(records)
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
    except SourceFormatError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, json.JSONDecodeError) as exc:
        raise SourceFormatError(
            f"not a readable {fmt} table ({type(exc).__name__})", source="tabular"
        ) from exc
    raise ValueError(f"unknown format {fmt!r}")


def parse_table(
    data: bytes,
    fmt: Format,
    mapping: ColumnMapping,
    *,
    source: str = "tabular",
    url: str = "",
    fetched_at: datetime | None = None,
) -> SourceBatch:
    """Parse a table into scores (and one model record per model).

    Raises:
        SourceFormatError: Unreadable table, or a mapped column is missing (named).
    """
    frame = read_table(data, fmt)
    columns = [str(c) for c in frame.columns]
    for column in mapping.required():
        if column not in columns:
            raise SourceFormatError(
                f"mapped column {column!r} is missing (columns: {', '.join(columns[:20])})",
                source=source,
            )
    rejected: list[RejectedRow] = []
    scores: list[ScoreRecord] = []
    models: dict[str, ModelRecord] = {}
    for row in frame.to_dict(orient="records"):
        excerpt = json.dumps(row, default=str, ensure_ascii=False)
        name = clean_text(row.get(mapping.model))
        if name is None:
            rejected.append(RejectedRow.of("row without a model name", excerpt))
            continue
        bench_raw = mapping.fixed_benchmark or clean_text(row.get(mapping.benchmark or ""))
        if not bench_raw:
            rejected.append(RejectedRow.of("row without a benchmark", excerpt))
            continue
        try:
            value = to_percent(_cell(row.get(mapping.value)), mapping.scale)
        except ValueError as exc:
            rejected.append(RejectedRow.of(f"{mapping.value}: {exc}", excerpt))
            continue
        record = build_record(
            ScoreRecord,
            excerpt,
            rejected,
            model_name=name,
            raw_model_id=name,
            benchmark=benchmark_slug(bench_raw),
            value=value,
            setting=clean_text(row.get(mapping.setting)) if mapping.setting else None,
            available_on=parse_date(_cell(row.get(mapping.date))) if mapping.date else None,
            url=(clean_text(row.get(mapping.url)) if mapping.url else None) or (url or None),
        )
        if record is None:
            continue
        scores.append(record)
        if name not in models:
            model = build_record(
                ModelRecord,
                excerpt,
                rejected,
                name=name,
                source_model_id=name,
                organization=clean_text(row.get(mapping.organization))
                if mapping.organization
                else None,
                open_weights=mapping.open_flag(row.get(mapping.open_weights))
                if mapping.open_weights
                else None,
            )
            if model:
                models[name] = model
    return SourceBatch(
        source=source,
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=list(models.values()),
        scores=dedupe_scores(scores),
        rejected=rejected,
    )


def _cell(value: Any) -> Any:
    """pandas missing values (NaN, NA, NaT) → None; numpy scalars → Python."""
    if value is None:
        return None
    if isinstance(value, str):
        return value  # what CSV cells are (dtype=str): never missing
    import pandas as pd  # already imported by read_table: a dictionary lookup

    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    return value.item() if hasattr(value, "item") else value


def guess_format(location: str) -> Format:
    """Format from a file name or URL path (``.csv``, ``.json``, ``.parquet``)."""
    path = location.split("?", 1)[0].lower()
    if path.endswith(".parquet"):
        return "parquet"
    if path.endswith((".json", ".jsonl")):
        return "json"
    return "csv"


@dataclass(slots=True)
class TabularSource:
    """A user-mapped CSV/JSON/Parquet table at a URL or a local path.

    Attributes:
        key: Source key (unique per configured table).
        location: ``http(s)://…`` URL or a local file path.
        mapping: Column mapping.
        format: Table format (guessed from the location when None).
        headers: Extra request headers (e.g. an API key) for URLs.
    """

    key: str
    location: str
    mapping: ColumnMapping
    format: Format | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def fmt(self) -> Format:
        """The table format."""
        return self.format or guess_format(self.location)

    def _parse(self, body: bytes, at: datetime) -> SourceBatch:
        return parse_table(
            body, self.fmt, self.mapping, source=self.key, url=self.location, fetched_at=at
        )

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """Read the table (conditional GET for URLs; hash check for files)."""
        if self.location.startswith(("http://", "https://")):
            return await fetch_document(
                client,
                state,
                source=self.key,
                url=self.location,
                parse=self._parse,
                headers=self.headers or None,
                in_thread=True,
            )
        fetched_at = utcnow()
        try:
            body = await asyncio.to_thread(Path(self.location).read_bytes)
        except OSError as exc:
            raise SourceUnavailableError(
                f"cannot read {Path(self.location).name}", source=self.key
            ) from exc
        digest = content_hash(body)
        if digest == state.content_hash:
            return unchanged_batch(self.key, self.location, fetched_at, state, digest=digest)
        batch = await asyncio.to_thread(self._parse, body, fetched_at)
        return SourceBatch(
            source=batch.source,
            fetched_at=fetched_at,
            url=batch.url,
            models=batch.models,
            scores=batch.scores,
            rejected=batch.rejected,
            content_hash=digest,
        )
