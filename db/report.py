"""The report's own tables and predictions from the bundled dataset, as ``frontier`` types.

``frontier.audit`` compares these with what the definitions compute, and
``frontier.predictions`` judges the predictions; neither reads files. Rows are read with
:func:`db.dataset.read_rows`; nothing here touches the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from db.dataset import SEED_DIR, read_rows
from frontier.audit import QuantRow, ReportFigure, TrainingCostRow
from frontier.names import normalize_name
from frontier.predictions import PredictionDef
from frontier.types import Citation

REPORT_SOURCE = "seed-report"
"""The report's key in ``sources.csv``."""

REPORT_PUBLISHED_ON = date(2026, 1, 3)
"""Publication date of the report (seed-report.md header "January 3, 2026"; sources.csv)."""


def report_figures(seed_dir: Path = SEED_DIR) -> tuple[ReportFigure, ...]:
    """Every row of ``report_figures.csv``, in file order, with the models its subject names."""
    aliases = _aliases(seed_dir)
    label = _report_label(seed_dir)
    return tuple(
        ReportFigure(
            id=row["id"],
            section=row["section"],
            kind=row["kind"],
            subject=row["subject"],
            benchmark=row["benchmark"] or None,
            on=_opt_date(row["date"]),
            stated_value=_opt_float(row["stated_value"]),
            stated_text=row["stated_text"],
            notes=row["notes"] or None,
            citation=_citation(label, row["section"]),
            model_slugs=_subject_models(row["subject"], aliases),
            stated_unit=printed_unit(row["stated_value"]),
        )
        for row in read_rows("report_figures.csv", seed_dir)
    )


def quant_rows(seed_dir: Path = SEED_DIR) -> tuple[QuantRow, ...]:
    """The "Current Viable Models (January 2026)" table, as printed."""
    label = _report_label(seed_dir)
    return tuple(
        QuantRow(
            model_slug=row["model"],
            parameters_b=_opt_float(row["parameters_b"]),
            quantization=row["quantization"],
            vram_stated_gb=_opt_float(row["vram_stated_gb"]),
            performance=row["performance"] or None,
            citation=_citation(label, row["section"]),
        )
        for row in read_rows("quant_rows.csv", seed_dir)
    )


def training_cost_rows(seed_dir: Path = SEED_DIR) -> tuple[TrainingCostRow, ...]:
    """The "Cost Per MMLU Point" table, as printed."""
    label = _report_label(seed_dir)
    return tuple(
        TrainingCostRow(
            model_slug=row["model"],
            year=int(row["year"]) if row["year"] else None,
            training_cost_usd=_opt_float(row["training_cost_usd"]),
            approximate=row["approximate"].lower() == "true",
            cost_per_point_stated_usd=_opt_float(row["cost_per_point_stated_usd"]),
            mmlu_stated=_opt_float(row["mmlu_stated"]),
            citation=_citation(label, row["section"]),
            notes=row["notes"] or None,
        )
        for row in read_rows("training_costs.csv", seed_dir)
    )


def prediction_defs(seed_dir: Path = SEED_DIR) -> tuple[PredictionDef, ...]:
    """The report's predictions (``predictions.csv``) with their rules and parameters."""
    label = _report_label(seed_dir)
    return tuple(
        PredictionDef(
            code=row["code"],
            title=row["title"],
            claim=row["claim"],
            threshold=row["threshold"],
            verification_date=date.fromisoformat(row["verification_date"]),
            rule=row["rule"],
            params=json.loads(row["params"] or "{}"),
            citation=_citation(label, row["section"]),
        )
        for row in read_rows("predictions.csv", seed_dir)
    )


def printed_unit(text: str) -> float | None:
    """Place value of the last digit a number is printed with.

    ``"23.5"`` → 0.1, ``"17"`` → 1, ``"105000"`` → 1000 (the report prints "~$105K"),
    ``""`` → None. Trailing zeros of a whole number are read as rounding, which is how the
    report's money figures were transcribed.
    """
    text = text.strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if number == 0:
        return 1.0
    exponent = number.normalize().as_tuple().exponent
    return float(Decimal(1).scaleb(int(exponent)))


@cache
def _aliases(seed_dir: Path) -> Mapping[str, str]:
    """Normalized model name, slug or alias → slug, from ``models.csv``."""
    names: dict[str, str] = {}
    for row in read_rows("models.csv", seed_dir):
        for name in (row["slug"], row["name"], *row["aliases"].split("|")):
            if name.strip():
                names.setdefault(normalize_name(name), row["slug"])
    return names


def _subject_models(subject: str, aliases: Mapping[str, str]) -> tuple[str, ...]:
    """The models a subject names: ``"GPT-4 vs LLaMA-65B"`` → ("gpt-4", "llama-65b")."""
    parts = [p.strip() for p in subject.split(" vs ")]
    slugs = [aliases.get(normalize_name(p)) for p in parts if p and p != "-"]
    return tuple(s for s in slugs if s is not None)


@cache
def _report_label(seed_dir: Path) -> str:
    for row in read_rows("sources.csv", seed_dir):
        if row["key"] == REPORT_SOURCE:
            return row["name"]
    return "Market Accurate report"


def _citation(label: str, section: str) -> Citation:
    return Citation(REPORT_SOURCE, f"{label}, {section}" if section else label)


def _opt_float(text: str) -> float | None:
    return float(text) if text else None


def _opt_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None
