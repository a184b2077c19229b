"""The bundled dataset (``db/seed/*.csv``): loaded into an empty store on first start.

Loading is idempotent: the store remembers the dataset version it holds, and a load compares
every value before writing, so a second load changes nothing. A newer version updates what
changed and removes what the dataset dropped, touching only rows that came from the dataset's
own sources (scores and model facts from polled sources are left alone).
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Integer
from sqlmodel import Session, select

from db.tables import (
    SHAPE_COLUMNS,
    Benchmark,
    Meta,
    Model,
    ModelAlias,
    Prediction,
    Score,
    Source,
)
from db.types import utcnow
from frontier.names import normalize_name

log = logging.getLogger(__name__)

SEED_DIR = Path(__file__).with_name("seed")
VERSION_KEY = "seed_version"

# The integer facts of a model's shape (layers, heads, context …), parsed as int from the CSVs.
MODEL_INT_FIELDS = tuple(
    name
    for name in SHAPE_COLUMNS
    if isinstance(Model.__table__.c[name].type, Integer)  # type: ignore[attr-defined]
)


class DatasetError(ValueError):
    """The bundled dataset is inconsistent: a row names an undefined model, source or benchmark."""


@dataclass
class LoadSummary:
    """What a load did, by table: rows created, updated and deleted."""

    version: str
    skipped: bool = False
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)

    @property
    def changes(self) -> int:
        """Rows written in all."""
        return sum(self.created.values()) + sum(self.updated.values()) + sum(self.deleted.values())

    def __str__(self) -> str:
        if self.skipped:
            return f"dataset {self.version} already loaded"
        parts = [
            f"{table}: +{self.created[table]} ~{self.updated[table]} -{self.deleted[table]}"
            for table in sorted(set(self.created) | set(self.updated) | set(self.deleted))
        ]
        return f"dataset {self.version}: " + (", ".join(parts) or "no changes")


def read_rows(name: str, seed_dir: Path = SEED_DIR) -> Iterator[dict[str, str]]:
    """The rows of one dataset file, as dicts of stripped strings."""
    with (seed_dir / name).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield {key: (value or "").strip() for key, value in row.items() if key}


def bundled_version(seed_dir: Path = SEED_DIR) -> str:
    """The version of the bundled dataset."""
    return (seed_dir / "VERSION").read_text(encoding="utf-8").strip()


def stored_version(session: Session) -> str | None:
    """The dataset version the store holds, or None before the first load."""
    meta = session.get(Meta, VERSION_KEY)
    return meta.value if meta else None


def load_bundled_dataset(
    session: Session, *, force: bool = False, seed_dir: Path = SEED_DIR
) -> LoadSummary:
    """Load or update the bundled dataset in the caller's transaction.

    Args:
        session: The unit of work; the caller commits.
        force: Compare every row even when the stored version is the bundled one.
        seed_dir: Folder of the dataset files (tests point it at a modified copy).
    """
    version = bundled_version(seed_dir)
    summary = LoadSummary(version=version)
    if not force and stored_version(session) == version:
        summary.skipped = True
        return summary
    loader = _Loader(session, summary, seed_dir)
    loader.load()
    meta = session.get(Meta, VERSION_KEY)
    if meta is None:
        session.add(Meta(key=VERSION_KEY, value=version))
    elif meta.value != version:
        meta.value = version
    log.info("%s", summary)
    return summary


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _available_on(stated: date, precision: str, released_on: date | None) -> date:
    """When a score became public: the table's date, but never before the model's release.

    The report dates rows by month or year (``2024`` → 2024-01-01); a model released later in
    that period (DeepSeek-V2, 2024-05-07) cannot have had a public score on the first day.
    """
    if released_on is None or released_on <= stated:
        return stated
    same_period = released_on.year == stated.year and (
        precision == "year" or released_on.month == stated.month
    )
    return released_on if precision in ("month", "year") and same_period else stated


def _opt_float(text: str) -> float | None:
    return float(text) if text else None


def _opt_int(text: str) -> int | None:
    return int(float(text)) if text else None


def _opt_bool(text: str) -> bool | None:
    if not text:
        return None
    lowered = text.lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise DatasetError(f"not a boolean: {text!r}")


def _opt_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


class _Loader:
    def __init__(self, session: Session, summary: LoadSummary, seed_dir: Path) -> None:
        self.session = session
        self.summary = summary
        self.seed_dir = seed_dir
        self.sources: dict[str, Source] = {}
        self.models: dict[str, Model] = {}
        self.benchmarks: dict[str, Benchmark] = {}

    def rows(self, name: str) -> Iterator[dict[str, str]]:
        return read_rows(name, self.seed_dir)

    def upsert(self, table: str, existing: Any, make: Any, values: dict[str, Any]) -> Any:
        if existing is None:
            obj = make(**values)
            self.session.add(obj)
            self.summary.created[table] += 1
            return obj
        if _assign(existing, values):
            self.summary.updated[table] += 1
        return existing

    def load(self) -> None:
        self.load_sources()
        self.load_benchmarks()
        self.load_models()
        self.load_training_costs()
        self.load_scores()
        self.load_predictions()

    def source_id(self, key: str, where: str) -> int | None:
        if not key:
            return None
        try:
            source = self.sources[key]
        except KeyError:
            raise DatasetError(f"{where}: unknown source {key!r}") from None
        assert source.id is not None
        return source.id

    def source_name(self, key: str) -> str | None:
        """A cited source's display name (a key in sources.csv), or the text as given."""
        if not key:
            return None
        source = self.sources.get(key)
        return source.name if source else key

    def load_sources(self) -> None:
        stored = {s.key: s for s in self.session.exec(select(Source))}
        for row in self.rows("sources.csv"):
            values = {
                "key": row["key"],
                "name": row["name"],
                "url": row["url"] or None,
                "licence": row["licence"] or None,
                "trust_rank": int(row["trust_rank"] or 50),
            }
            source = self.upsert("source", stored.get(row["key"]), Source, values)
            if source.kind != "reference" and row["key"] not in stored:
                source.kind = "reference"
            self.sources[row["key"]] = source
        self.session.flush()

    def load_benchmarks(self) -> None:
        stored = {b.key: b for b in self.session.exec(select(Benchmark))}
        for row in self.rows("benchmarks.csv"):
            values = {
                "key": row["key"],
                "name": row["name"],
                "aliases": [a.strip() for a in row["aliases"].split("|") if a.strip()],
                "unit": row["unit"] or "%",
                "higher_is_better": _opt_bool(row["higher_is_better"]) is not False,
                "canonical_setting": row["canonical_setting"] or None,
                "question_count": _opt_int(row["question_count"]),
                "question_count_source": self.source_name(row["question_count_source"]),
                "question_count_url": row["question_count_url"] or None,
                "tracked": True,
            }
            self.benchmarks[row["key"]] = self.upsert(
                "benchmark", stored.get(row["key"]), Benchmark, values
            )
        self.session.flush()

    def load_models(self) -> None:
        seed_source_ids = {s.id for s in self.sources.values()}
        stored = {m.slug: m for m in self.session.exec(select(Model))}
        aliases: list[tuple[str, str]] = []
        for row in self.rows("models.csv"):
            where = f"models.csv {row['slug']}"
            values: dict[str, Any] = {
                "slug": row["slug"],
                "name": row["name"],
                "organization": row["organization"] or None,
                "open_weights": _opt_bool(row["open_weights"]),
                "license": row["license"] or None,
                "released_on": _opt_date(row["released_on"]),
                "total_params_b": _opt_float(row["total_params_b"]),
                "active_params_b": _opt_float(row["active_params_b"]),
                "attention": row["attention"] or None,
                "hf_repo": row["hf_repo"] or None,
                "facts_source_id": self.source_id(row["facts_source"], where),
                "facts_url": row["facts_url"] or None,
                "arch_source_id": self.source_id(row["arch_source"], where),
                "arch_url": row["arch_url"] or None,
                "notes": row["notes"] or None,
            }
            values.update({name: _opt_int(row[name]) for name in MODEL_INT_FIELDS})
            existing = stored.get(row["slug"])
            if existing is not None and existing.facts_source_id not in seed_source_ids | {None}:
                # A polled source owns this model's facts; the dataset only fills gaps.
                values = {k: v for k, v in values.items() if getattr(existing, k) is None}
            model = self.upsert("model", existing, Model, values)
            if existing is not None and model in self.session.dirty:
                model.updated_at = utcnow()
            self.models[row["slug"]] = model
            names = [row["name"], row["slug"], *row["aliases"].split("|")]
            aliases.extend((normalize_name(n), row["slug"]) for n in names if n.strip())
        self.session.flush()
        self.load_aliases(aliases)

    def load_aliases(self, aliases: list[tuple[str, str]]) -> None:
        stored = {a.alias: a for a in self.session.exec(select(ModelAlias))}
        for alias, slug in dict(aliases).items():
            model_id = self.models[slug].id
            current = stored.get(alias)
            if current is None:
                self.session.add(ModelAlias(alias=alias, model_id=model_id))
                self.summary.created["model_alias"] += 1
            elif current.model_id != model_id:
                log.warning("alias %r already names another model; kept", alias)

    def model_id(self, slug: str, where: str) -> int:
        try:
            model = self.models[slug]
        except KeyError:
            raise DatasetError(f"{where}: unknown model {slug!r}") from None
        assert model.id is not None
        return model.id

    def load_training_costs(self) -> None:
        for row in self.rows("training_costs.csv"):
            where = f"training_costs.csv {row['model']}"
            self.model_id(row["model"], where)
            model = self.models[row["model"]]
            if _assign(
                model,
                {
                    "training_cost_usd": _opt_float(row["training_cost_usd"]),
                    "training_cost_approximate": bool(_opt_bool(row["approximate"])),
                    "training_cost_source_id": self.source_id(row["source"], where),
                },
            ):
                self.summary.updated["model"] += 1

    def load_scores(self) -> None:
        seed_source_ids = [s.id for s in self.sources.values()]
        stored = {
            (s.model_id, s.benchmark_id, s.source_id, s.setting): s
            for s in self.session.exec(select(Score).where(Score.source_id.in_(seed_source_ids)))  # type: ignore[union-attr]
        }
        seen = set()
        for number, row in enumerate(self.rows("scores.csv"), start=2):
            where = f"scores.csv line {number}"
            benchmark = self.benchmarks.get(row["benchmark"])
            if benchmark is None:
                raise DatasetError(f"{where}: unknown benchmark {row['benchmark']!r}")
            key = (
                self.model_id(row["model"], where),
                benchmark.id,
                self.source_id(row["source"], where),
                row["setting"],
            )
            if key in seen:
                raise DatasetError(f"{where}: duplicate score {row['model']}/{row['benchmark']}")
            seen.add(key)
            values = {
                "model_id": key[0],
                "benchmark_id": key[1],
                "source_id": key[2],
                "setting": key[3],
                "value": float(row["value"]),
                "approximate": bool(_opt_bool(row["approximate"])),
                "available_on": _available_on(
                    date.fromisoformat(row["available_on"]),
                    row["date_precision"] or "day",
                    self.models[row["model"]].released_on,
                ),
                "date_precision": row["date_precision"] or "day",
                "url": row["url"] or None,
                "section": row["section"] or None,
                "notes": row["notes"] or None,
            }
            self.upsert("score", stored.get(key), Score, values)
        for key, score in stored.items():
            if key not in seen:
                self.session.delete(score)
                self.summary.deleted["score"] += 1

    def load_predictions(self) -> None:
        stored = {p.code: p for p in self.session.exec(select(Prediction))}
        report = self.sources.get("seed-report")
        for row in self.rows("predictions.csv"):
            values = {
                "code": row["code"],
                "title": row["title"],
                "claim": row["claim"],
                "threshold": row["threshold"],
                "verification_date": date.fromisoformat(row["verification_date"]),
                "rule": row["rule"],
                "params": json.loads(row["params"] or "{}"),
                "section": row["section"] or None,
                "source_id": report.id if report else None,
            }
            self.upsert("prediction", stored.get(row["code"]), Prediction, values)
