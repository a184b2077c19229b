"""Epoch AI benchmark data: the daily zip of CSVs, joined with the capabilities index.

Source: https://epoch.ai/data/benchmark_data.zip (CC BY 4.0, "Epoch AI, 'Data on AI
Benchmarking'"). The zip holds one CSV per benchmark in two column families:

- Epoch-run (``math_level_5.csv`` …): ``mean_score`` (used; ``Best score (across scorers)``
  is the fallback when it is empty).
- External (``mmlu_external.csv`` …): the score column is named per file (``EM``, ``Accuracy``,
  ``Score OPT@1`` …) and always sits immediately before ``Release date``; ``Shots``, ``Name``,
  ``Source link`` where present.

Files are recognised by header, never by a fixed list; the capabilities index is the file
whose header has ``Model accessibility`` (it has moved inside the zip before). Scores are
fractions 0-1 (→ percent) except in the files listed in :data:`UNITS`, whose scale is known.
A value outside its file's declared scale is rejected, never rescaled.
"""

from __future__ import annotations

import csv
import io
import logging
import posixpath
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from jobs.sources.base import (
    ModelRecord,
    RejectedRow,
    ScoreRecord,
    SourceBatch,
    SourceFormatError,
    SourceState,
    SourceTooLargeError,
    build_record,
    clean_text,
    dedupe_scores,
    fetch_document,
    parse_date,
    parse_number,
    to_percent,
    utcnow,
)

if TYPE_CHECKING:
    from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)

DEFAULT_URL = "https://epoch.ai/data/benchmark_data.zip"
HUB_URL = "https://epoch.ai/benchmarks"
MAX_UNCOMPRESSED = 200 * 1024 * 1024  # zip-bomb guard; the real archive is ~10 MB unpacked

MODEL_VERSION = "Model version"
RELEASE_DATE = "Release date"
ACCESSIBILITY = "Model accessibility"
EPOCH_RUN_SCORE = "mean_score"
EPOCH_RUN_FALLBACK = "Best score (across scorers)"

UNITS: dict[str, tuple[str, float]] = {
    # benchmark key -> (unit, scale). Read off the 2026-03 files: these publish percent or
    # non-percent units; everything else in the zip publishes fractions 0-1.
    "aider-polyglot": ("%", 100),  # "Percent correct" 3.6 … 88.0
    "live-bench": ("%", 100),  # "Global average" 22 … 82
    "os-world": ("%", 100),  # "Score" 3.0 … 66.3
    "webdev-arena": ("elo", 0),  # "Arena Score" ~1100 … 1500
    "geobench": ("points", 0),  # "ACW Avg Score" (GeoGuessr points, max 5000)
    "lech-mazur-writing": ("score/10", 0),  # "Mean score" 6 … 8.7
    "metr-time-horizons": ("minutes", 0),  # "Time horizon" 50% task length in minutes
    "eci": ("eci", 0),  # Epoch Capabilities Index
}

_OPEN_PREFIX = "open weights"
_CLOSED = {"api access", "hosted access (no api)"}


def open_weights_from_accessibility(value: str | None) -> bool | None:
    """Map ``Model accessibility`` to the open-weights flag.

    ``Open weights (…)`` → True; ``API access`` / ``Hosted access (no API)`` → False;
    ``Unreleased``, empty or anything new → None (unknown).
    """
    text = (value or "").strip().lower()
    if text.startswith(_OPEN_PREFIX):
        return True
    if text in _CLOSED:
        return False
    return None


def benchmark_key(filename: str) -> str:
    """``mmlu_external.csv`` → ``mmlu``; ``gpqa_diamond.csv`` → ``gpqa-diamond``."""
    stem = posixpath.basename(filename).removesuffix(".csv")
    stem = stem.removesuffix("_external")
    return stem.replace("_", "-").lower()


def shots_setting(raw: str | None) -> str | None:
    """``"5"``/``"5.0"`` → ``"5-shot"``; free text is kept as written."""
    text = clean_text(raw)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return text[:100]
    return f"{int(number)}-shot" if number.is_integer() else text


@dataclass(slots=True)
class _ModelInfo:
    name: str
    organization: str | None = None
    open_weights: bool | None = None
    released_on: datetime | None = None
    accessibility: str | None = None


def _read_csv(name: str, text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    return header, list(reader)


def _require(header: list[str], columns: tuple[str, ...], filename: str) -> None:
    for column in columns:
        if column not in header:
            raise SourceFormatError(
                f"{filename}: required column {column!r} is missing (format drift?)",
                source="epoch",
            )


def score_column(header: list[str], filename: str) -> str:
    """The score column of a benchmark CSV, by header name.

    Raises:
        SourceFormatError: Neither family's layout is recognised.
    """
    if EPOCH_RUN_SCORE in header:
        return EPOCH_RUN_SCORE
    _require(header, (MODEL_VERSION, RELEASE_DATE), filename)
    index = header.index(RELEASE_DATE)
    candidate = header[index - 1] if index > 0 else MODEL_VERSION
    if candidate == MODEL_VERSION:
        raise SourceFormatError(
            f"{filename}: no score column before {RELEASE_DATE!r}", source="epoch"
        )
    return candidate


def parse_tables(
    tables: Mapping[str, str],
    *,
    url: str = DEFAULT_URL,
    fetched_at: datetime | None = None,
    required: frozenset[str] = frozenset({"mmlu", "gsm8k"}),
    benchmarks: frozenset[str] | None = None,
) -> SourceBatch:
    """Parse Epoch's CSVs (file name → CSV text) into a batch.

    Args:
        tables: Every CSV of the archive; names may include folders.
        url: Where they came from.
        fetched_at: Fetch time (defaults to now).
        required: Benchmarks whose file must parse: drift there raises. Drift in any other
            file only rejects that file (a RejectedRow naming the column), so one renamed
            column in an obscure benchmark does not stop the whole source.
        benchmarks: Keep only these benchmark keys (None: all).

    Raises:
        SourceFormatError: No capabilities index, or drift in it or in a required file.
    """
    rejected: list[RejectedRow] = []
    index_name = next((n for n, t in tables.items() if ACCESSIBILITY in t.partition("\n")[0]), None)
    if index_name is None:
        raise SourceFormatError(
            f"no capabilities index (a CSV with a {ACCESSIBILITY!r} column) in the archive",
            source="epoch",
        )
    header, eci_rows = _read_csv(index_name, tables[index_name])
    _require(header, (MODEL_VERSION, ACCESSIBILITY), posixpath.basename(index_name))

    info: dict[str, _ModelInfo] = {}
    scores: list[ScoreRecord] = []
    for row in eci_rows:
        version = clean_text(row.get(MODEL_VERSION))
        if version is None:
            continue
        accessibility = clean_text(row.get(ACCESSIBILITY))
        name = clean_text(row.get("Display name")) or clean_text(row.get("Model name")) or version
        info[version] = _ModelInfo(
            name=" ".join(name.split()),
            organization=clean_text(row.get("Organization")),
            open_weights=open_weights_from_accessibility(accessibility),
            released_on=parse_date(row.get(RELEASE_DATE)),
            accessibility=accessibility,
        )
        eci = clean_text(row.get("ECI Score"))
        if eci is not None and (benchmarks is None or "eci" in benchmarks):
            try:
                value = parse_number(eci)
            except ValueError:
                rejected.append(RejectedRow.of(f"eci: unreadable score {eci!r}", row))
                continue
            record = build_record(
                ScoreRecord,
                row,
                rejected,
                model_name=info[version].name,
                raw_model_id=version,
                benchmark="eci",
                value=value,
                unit="eci",
                available_on=info[version].released_on,
                url=HUB_URL,
            )
            if record:
                scores.append(record)

    models: dict[str, ModelRecord] = {}
    for name, text in sorted(tables.items()):
        if name == index_name:
            continue
        key = benchmark_key(name)
        if benchmarks is not None and key not in benchmarks:
            continue
        filename = posixpath.basename(name)
        try:
            header, rows = _read_csv(filename, text)
            column = score_column(header, filename)
            _require(header, (MODEL_VERSION,), filename)
        except (SourceFormatError, csv.Error) as exc:
            if key in required:
                raise SourceFormatError(str(exc.args[0]), source="epoch") from exc
            log.warning("epoch: skipping %s: %s", filename, exc.args[0])
            rejected.append(RejectedRow.of(f"skipped file: {exc.args[0]}", ",".join(header)))
            continue
        unit, scale = UNITS.get(key, ("%", 1))
        for row in rows:
            _parse_row(row, key, column, unit, scale, info, models, scores, rejected)

    for version, meta in info.items():
        models.setdefault(version, _model_record(version, meta, None))
    return SourceBatch(
        source="epoch",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=list(models.values()),
        scores=dedupe_scores(scores),
        rejected=rejected,
    )


def _model_record(
    version: str | None, meta: _ModelInfo, row: Mapping[str, str] | None
) -> ModelRecord:
    return ModelRecord(
        name=meta.name,
        source_model_id=version,
        organization=meta.organization or (clean_text(row.get("Organization")) if row else None),
        open_weights=meta.open_weights,
        released_on=meta.released_on,
        url=HUB_URL,
    )


def _parse_row(
    row: dict[str, str],
    key: str,
    column: str,
    unit: str,
    scale: float,
    info: dict[str, _ModelInfo],
    models: dict[str, ModelRecord],
    scores: list[ScoreRecord],
    rejected: list[RejectedRow],
) -> None:
    version = clean_text(row.get(MODEL_VERSION))
    raw_value = row.get(column)
    if column == EPOCH_RUN_SCORE and clean_text(raw_value) is None:
        raw_value = row.get(EPOCH_RUN_FALLBACK)
    excerpt = ",".join(f"{k}={v}" for k, v in row.items() if v and k in _EXCERPT_KEYS)
    try:
        value = to_percent(raw_value, scale) if unit == "%" else parse_number(raw_value)
    except ValueError as exc:
        rejected.append(RejectedRow.of(f"{key}: {exc}", excerpt))
        return
    if version is None:
        # Some external rows have no Model version (e.g. "Palmyra X (43B)"): keep the Name.
        name = clean_text(row.get("Name"))
        if name is None:
            rejected.append(
                RejectedRow.of(f"{key}: row has neither Model version nor Name", excerpt)
            )
            return
        meta = _ModelInfo(name=name, organization=clean_text(row.get("Organization")))
    else:
        meta = info.get(version) or _ModelInfo(
            name=version,
            organization=clean_text(row.get("Organization")),
            released_on=parse_date(row.get(RELEASE_DATE)),
        )
        if version not in info:
            info[version] = meta
    released = parse_date(row.get(RELEASE_DATE)) or meta.released_on
    record = build_record(
        ScoreRecord,
        excerpt,
        rejected,
        model_name=meta.name,
        raw_model_id=version,
        benchmark=key,
        value=value,
        unit=unit,
        setting=shots_setting(row.get("Shots")),
        available_on=released,
        url=clean_text(row.get("Source link")) or clean_text(row.get("Log viewer")) or HUB_URL,
    )
    if record is None:
        return
    scores.append(record)
    model_key = version or f"name:{meta.name}"
    if model_key not in models:
        models[model_key] = _model_record(version, meta, row)


_EXCERPT_KEYS = {MODEL_VERSION, "Name", EPOCH_RUN_SCORE, "Shots", RELEASE_DATE, "EM", "Score"}


def read_zip(data: bytes, *, max_uncompressed: int = MAX_UNCOMPRESSED) -> dict[str, str]:
    """Every ``.csv`` member of the archive as text (UTF-8, BOM tolerated).

    Raises:
        SourceFormatError: Not a zip (e.g. an HTML page), or undecodable members.
        SourceTooLargeError: Unpacked size beyond ``max_uncompressed``.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise SourceFormatError("benchmark_data.zip is not a zip archive", source="epoch") from exc
    with archive:
        members = [
            m
            for m in archive.infolist()
            if m.filename.lower().endswith(".csv")
            and not m.is_dir()
            and not posixpath.basename(m.filename).startswith(("._", "."))
        ]
        total = sum(m.file_size for m in members)
        if total > max_uncompressed:
            raise SourceTooLargeError(
                f"archive unpacks to {total} bytes (cap {max_uncompressed})", source="epoch"
            )
        tables: dict[str, str] = {}
        for member in members:
            try:
                tables[member.filename] = archive.read(member).decode("utf-8-sig")
            except (UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
                raise SourceFormatError(
                    f"{member.filename}: unreadable archive member", source="epoch"
                ) from exc
    return tables


def parse_zip(
    data: bytes,
    *,
    url: str = DEFAULT_URL,
    fetched_at: datetime | None = None,
    required: frozenset[str] = frozenset({"mmlu", "gsm8k"}),
    benchmarks: frozenset[str] | None = None,
) -> SourceBatch:
    """Parse the benchmark zip's bytes (see :func:`parse_tables`)."""
    return parse_tables(
        read_zip(data), url=url, fetched_at=fetched_at, required=required, benchmarks=benchmarks
    )


@dataclass(slots=True)
class EpochSource:
    """Epoch AI's benchmark hub zip.

    Attributes:
        url: Archive URL (override for tests/mirrors).
        benchmarks: Keep only these benchmark keys (None: every file in the zip).
        required: Benchmarks whose format drift fails the poll.
    """

    url: str = DEFAULT_URL
    benchmarks: frozenset[str] | None = None
    required: frozenset[str] = field(default_factory=lambda: frozenset({"mmlu", "gsm8k"}))
    key: str = "epoch"

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """Conditional GET of the zip, parsed in a worker thread."""
        return await fetch_document(
            client,
            state,
            source=self.key,
            url=self.url,
            parse=lambda body, at: parse_zip(
                body,
                url=self.url,
                fetched_at=at,
                required=self.required,
                benchmarks=self.benchmarks,
            ),
            in_thread=True,
        )
