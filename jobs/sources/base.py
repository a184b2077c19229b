"""Records, errors and the ``Source`` protocol shared by every source adapter.

Adapters turn an upstream payload into a :class:`SourceBatch` of validated records. Parsing is
pure (``parse_*`` functions take bytes or text and return a batch) so it is tested without HTTP;
``fetch`` adds the conditional request and the unchanged-content short cut.

Scores are normalised at the edge: a :class:`ScoreRecord` with ``unit == "%"`` holds a value in
0-100. Each adapter knows its source's scale (fractions or percent) and converts with
:func:`to_percent`; nothing guesses the scale row by row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)

EXCERPT_LIMIT = 200
"""Longest raw excerpt kept in a :class:`RejectedRow` (never whole payloads)."""

_R = TypeVar("_R", bound="BaseModel")

Attention = Literal["mha", "gqa", "mla", "sliding", "hybrid"]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
class SourceError(Exception):
    """Base of every source failure; ``str(error)`` is safe to show to users and log.

    Args:
        message: A short, safe description (no payloads, no secrets).
        source: The source key, when known.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


class SourceUnavailableError(SourceError):
    """The source could not be reached: network errors, timeouts, 4xx/5xx, 429 exhaustion.

    Args:
        message: A short, safe description.
        source: The source key, when known.
        status: The last HTTP status seen, if any.
        retry_after: Seconds the server asked us to wait, if it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, source=source)
        self.status = status
        self.retry_after = retry_after


class SourceFormatError(SourceError):
    """The source answered but the payload is not what we parse: format drift.

    Missing required columns, HTML instead of JSON, truncated JSON, a broken zip.
    """


class SourceTooLargeError(SourceFormatError):
    """The response (or an archive member) is larger than the configured cap."""


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


_Name = Field(min_length=1, max_length=200)
_OptStr = Field(default=None, max_length=300)
_PosInt = Field(default=None, gt=0)


class ModelRecord(_Record):
    """What a source says about one model. Every field but ``name`` is optional."""

    name: str = _Name
    source_model_id: str | None = _OptStr
    organization: str | None = _OptStr
    open_weights: bool | None = None
    license: str | None = _OptStr
    released_on: date | None = None
    total_params_b: float | None = Field(default=None, gt=0, lt=100_000)
    active_params_b: float | None = Field(default=None, gt=0, lt=100_000)
    hf_repo: str | None = _OptStr
    gated: bool | None = None
    likes: int | None = Field(default=None, ge=0)
    url: str | None = Field(default=None, max_length=1000)
    # Architecture, for the KV-cache estimate.
    layers: int | None = _PosInt
    kv_heads: int | None = _PosInt
    head_dim: int | None = _PosInt
    hidden_size: int | None = _PosInt
    attention_heads: int | None = _PosInt
    max_context: int | None = _PosInt
    attention: Attention | None = None
    sliding_window: int | None = _PosInt
    full_attention_layers: int | None = Field(default=None, ge=0)
    kv_lora_rank: int | None = _PosInt
    qk_rope_head_dim: int | None = _PosInt
    experts: int | None = _PosInt
    experts_per_token: int | None = _PosInt


class ScoreRecord(_Record):
    """One score as a source publishes it.

    ``benchmark`` is the source's own name for the benchmark, made into a slug (lower case,
    spaces and underscores to hyphens: ``MMLU-Pro`` → ``mmlu-pro``); mapping aliases onto the
    canonical benchmark table is the ingest's job. ``value`` is a percentage (0-100) when
    ``unit == "%"``; other units (``elo``, ``minutes`` …) keep the source's number.
    """

    model_name: str = _Name
    benchmark: str = Field(min_length=1, max_length=100)
    value: float
    unit: str = Field(default="%", min_length=1, max_length=20)
    setting: str | None = Field(default=None, max_length=100)
    available_on: date | None = None
    url: str | None = Field(default=None, max_length=1000)
    approximate: bool = False
    raw_model_id: str | None = _OptStr
    self_reported: bool | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("score must be a finite number")
        return value

    @model_validator(mode="after")
    def _percent_range(self) -> ScoreRecord:
        if self.unit == "%" and not 0.0 <= self.value <= 100.0:
            raise ValueError(f"percent score {self.value} outside 0-100")
        return self


class RejectedRow(_Record):
    """A row an adapter could not turn into a record, with why and a short excerpt."""

    reason: str = Field(min_length=1, max_length=300)
    excerpt: str = Field(default="", max_length=EXCERPT_LIMIT)

    @classmethod
    def of(cls, reason: str, raw: object) -> RejectedRow:
        """Build a rejection, cutting ``raw`` to :data:`EXCERPT_LIMIT` characters."""
        text = raw if isinstance(raw, str) else repr(raw)
        return cls(reason=reason[:300], excerpt=text[:EXCERPT_LIMIT])


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers about a source between polls."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """The result of one poll of one source."""

    source: str
    fetched_at: datetime
    url: str
    models: list[ModelRecord] = field(default_factory=list)
    scores: list[ScoreRecord] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    content_hash: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False

    def state(self) -> SourceState:
        """The state to store so the next poll can be conditional."""
        return SourceState(self.etag, self.last_modified, self.content_hash)


@runtime_checkable
class Source(Protocol):
    """A pollable source: a key and an async ``fetch``."""

    key: str

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """Fetch and parse, or report ``not_modified`` when nothing changed."""
        ...


# ---------------------------------------------------------------------------------------------
# Helpers shared by adapters
# ---------------------------------------------------------------------------------------------
def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def content_hash(*parts: bytes) -> str:
    """SHA-256 over one or more payloads (length-prefixed so boundaries count)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


_SLUG_RE = re.compile(r"[\s_/]+")


def benchmark_slug(raw: str) -> str:
    """Make a source's benchmark name into a slug: ``"MMLU Pro"`` → ``"mmlu-pro"``."""
    return _SLUG_RE.sub("-", raw.strip().lower()).strip("-")


_MISSING = {"", "-", "—", "n/a", "na", "nan", "none", "null"}


def parse_number(raw: object) -> float:
    """Read a number from JSON/CSV (``86.4``, ``"86.4"``, ``"86.4%"``, ``"1,234"``).

    Raises:
        ValueError: When ``raw`` is missing or not a finite number (``"n/a"``, ``""``, NaN).
    """
    if isinstance(raw, bool):
        raise ValueError(f"not a number: {raw!r}")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().rstrip("%").replace(",", "").strip()
        if text.lower() in _MISSING:
            raise ValueError(f"missing value {raw!r}")
        value = float(text)
    else:
        raise ValueError(f"not a number: {raw!r}")
    if not math.isfinite(value):
        raise ValueError(f"missing value {raw!r}")
    return value


def optional_number(raw: object) -> float | None:
    """Like :func:`parse_number` but ``None`` for missing or unreadable values."""
    if raw is None:
        return None
    try:
        return parse_number(raw)
    except ValueError:
        return None


def to_percent(raw: object, scale: float) -> float:
    """Convert a score to percent given the source's known scale.

    Args:
        raw: The value as the source gives it (number or numeric string).
        scale: ``1`` when the source publishes fractions 0-1, ``100`` when it publishes percent.

    Raises:
        ValueError: The value is missing, not a number, or outside the declared scale.
    """
    value = parse_number(raw)
    if scale not in (1, 100):
        raise ValueError(f"unknown scale {scale!r}")
    if not 0.0 <= value <= scale:
        raise ValueError(f"value {value:g} outside the source's 0-{scale:g} scale")
    return value * (100.0 / scale)


def parse_date(raw: object) -> date | None:
    """Read ``YYYY-MM-DD`` (or an ISO timestamp, or ``YYYY-MM`` → the 1st); ``None`` if absent."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    if not text or text.lower() in _MISSING:
        return None
    try:
        if len(text) == 7:  # "2024-09": models.dev and others publish month precision.
            return date.fromisoformat(text + "-01")
        if len(text) > 10:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return date.fromisoformat(text)
    except ValueError:
        return None


def clean_text(raw: object) -> str | None:
    """Strip a cell; ``None`` for empty/NaN-like cells."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = str(raw).strip()
    return text or None


def build_record(
    cls: type[_R], raw: object, rejected: list[RejectedRow], **fields: Any
) -> _R | None:
    """Validate ``fields`` into ``cls``; on failure record a :class:`RejectedRow`, return None."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or cls.__name__
        rejected.append(RejectedRow.of(f"invalid {where}: {first.get('msg', 'invalid')}", raw))
        return None


def dedupe_scores(scores: Iterable[ScoreRecord]) -> list[ScoreRecord]:
    """Keep one score per (model, benchmark, setting): the highest (a source's best run)."""
    best: dict[tuple[str, str, str | None], ScoreRecord] = {}
    for score in scores:
        key = (score.raw_model_id or score.model_name, score.benchmark, score.setting)
        if key not in best or score.value > best[key].value:
            best[key] = score
    return list(best.values())


class JsonDocumentSource:
    """A source that is one JSON document: a conditional GET, then its pure parser.

    Subclasses are dataclasses with ``url`` and ``key`` fields and name their parser as
    ``parse = staticmethod(parse_xyz)``, a function ``(body, *, url, fetched_at) -> SourceBatch``.
    """

    __slots__ = ()
    url: str
    key: str
    parse: Callable[..., SourceBatch]

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """Conditional GET and parse."""
        return await fetch_document(
            client,
            state,
            source=self.key,
            url=self.url,
            expect="json",
            parse=lambda body, at: self.parse(body, url=self.url, fetched_at=at),
        )


async def fetch_document(
    client: SourceClient,
    state: SourceState,
    *,
    source: str,
    url: str,
    parse: Callable[[bytes, datetime], SourceBatch],
    expect: Literal["json", "text", "bytes"] = "bytes",
    headers: dict[str, str] | None = None,
    in_thread: bool = False,
) -> SourceBatch:
    """Conditional GET of one document, then ``parse`` it unless unchanged.

    Args:
        client: The shared HTTP client.
        state: The last ETag/Last-Modified/content hash of this source.
        source: Source key (for errors and the batch).
        url: Document URL.
        parse: ``parse(body, fetched_at)`` building the batch; pure.
        expect: ``"json"`` to reject HTML error pages before parsing.
        headers: Extra request headers (API keys go here, never in the URL).
        in_thread: Parse in a worker thread (large CSV/zip payloads).

    Returns:
        The parsed batch, or an empty batch with ``not_modified=True``.
    """
    fetched_at = utcnow()
    result = await client.get(
        url,
        source=source,
        etag=state.etag,
        last_modified=state.last_modified,
        headers=headers,
        expect=expect,
    )
    if result.not_modified:
        log.info("%s: not modified (304)", source)
        return unchanged_batch(source, url, fetched_at, state, result.etag, result.last_modified)
    digest = content_hash(result.content)
    if digest == state.content_hash:
        log.info("%s: content unchanged", source)
        return unchanged_batch(
            source, url, fetched_at, state, result.etag, result.last_modified, digest
        )
    if in_thread:
        batch = await asyncio.to_thread(parse, result.content, fetched_at)
    else:
        batch = parse(result.content, fetched_at)
    log.info(
        "%s: %d models, %d scores, %d rejected",
        source,
        len(batch.models),
        len(batch.scores),
        len(batch.rejected),
    )
    return replace(
        batch,
        content_hash=digest,
        etag=result.etag,
        last_modified=result.last_modified,
    )


def unchanged_batch(
    source: str,
    url: str,
    fetched_at: datetime,
    state: SourceState,
    etag: str | None = None,
    last_modified: str | None = None,
    digest: str | None = None,
) -> SourceBatch:
    """An empty batch saying nothing changed (keeps the known validators)."""
    return SourceBatch(
        source=source,
        fetched_at=fetched_at,
        url=url,
        content_hash=digest or state.content_hash,
        etag=etag or state.etag,
        last_modified=last_modified or state.last_modified,
        not_modified=True,
    )
