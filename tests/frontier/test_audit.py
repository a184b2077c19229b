"""The audit of the report's own figures, on the real bundled CSVs and on hand-built rows.

The report's figures come from ``db/report.py`` (``report_figures.csv``, ``quant_rows.csv``,
``training_costs.csv``); scores and model facts come from a store seeded with the bundled
dataset, as every other part of the bot sees them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from db import queries
from db.dataset import read_rows
from db.engine import make_engine
from db.report import (
    REPORT_PUBLISHED_ON,
    printed_unit,
    quant_rows,
    report_figures,
    training_cost_rows,
)
from frontier.audit import VERDICTS, AuditItem, AuditReport, ReportFigure, audit
from frontier.types import Benchmark, Citation, ModelSpec, Score


@dataclass(frozen=True)
class Store:
    benchmarks: Mapping[str, Benchmark]
    scores: Mapping[str, Sequence[Score]]
    models: Mapping[str, ModelSpec]


@pytest.fixture(scope="module")
def store(sqlite_templates: dict[str, Path]) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{sqlite_templates['seeded']}")
    try:
        with Session(engine) as session:
            rows = queries.tracked_benchmarks(session)
            yield Store(
                benchmarks={b.key: queries.to_benchmark(b) for b in rows},
                scores={b.key: queries.headline_scores(session, b) for b in rows},
                models={m.slug: m for m in queries.model_specs(session)},
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def report(store: Store) -> AuditReport:
    return audit(
        report_figures(),
        benchmarks=store.benchmarks,
        scores=store.scores,
        models=store.models,
        quant_rows=quant_rows(),
        training_costs=training_cost_rows(),
        published_on=REPORT_PUBLISHED_ON,
    )


@pytest.fixture(scope="module")
def items(report: AuditReport) -> dict[str, AuditItem]:
    return {i.id: i for i in report.items}


def test_every_row_is_audited_once(report: AuditReport) -> None:
    ids = [row["id"] for row in read_rows("report_figures.csv")]
    assert [i.id for i in report.items] == ids  # no row dropped, none added, file order
    assert len(ids) == 58
    assert sum(report.counts.values()) == len(ids)
    assert set(report.counts) == set(VERDICTS)
    assert all(i.reason and i.citations for i in report.items)


def test_counts(report: AuditReport) -> None:
    # gap rows 14 agree + 1 disagrees; VRAM 5 + 1; cost 6 + 0; consumer gaps 4 agree and
    # 3 not checkable; headlines 13 agree, 7 disagree, 4 not checkable.
    assert dict(report.counts) == {"agrees": 42, "disagrees": 9, "not checkable": 7}


@pytest.mark.parametrize(
    ("figure", "stated", "computed"),
    [
        # Every MMLU gap row, evaluated at the end of its month.
        ("gap-mmlu-2022-04", 23.5, 23.5),  # Chinchilla 67.5 − BLOOM ~44
        ("gap-mmlu-2022-11", 17, 17),  # ChatGPT ~70 (2022-11-30) − OPT-175B ~53
        ("gap-mmlu-2023-03", 23, 23),  # GPT-4 86.4 (2023-03-15) − LLaMA-65B 63.4
        ("gap-mmlu-2023-07", 17.5, 17.5),  # GPT-4 86.4 − Llama 2 70B 68.9 (2023-07-18)
        ("gap-mmlu-2024-04", 4.5, 4.5),  # GPT-4 Turbo 86.5 − Llama 3 70B 82.0 (2024-04-18)
        ("gap-mmlu-2024-07", 0.1, 0.1),  # Claude 3.5 88.7 − Llama 3.1 405B 88.6 (2024-07-23)
        ("gap-mmlu-2025-01", -2.1, -2.1),  # 88.7 (Claude 3.5 = GPT-4o) − DeepSeek-R1 90.8
    ],
)
def test_mmlu_gap_rows_agree(
    items: dict[str, AuditItem], figure: str, stated: float, computed: float
) -> None:
    item = items[figure]
    assert (item.verdict, item.stated.value) == ("agrees", stated)
    assert item.computed == pytest.approx(computed)


def test_gap_row_at_month_start_would_miss_gpt4(items: dict[str, AuditItem]) -> None:
    # The store dates GPT-4's scores 2023-03-15 (its release), so the row is read at 03-31.
    assert "By 2023-03-31" in items["gap-mmlu-2023-03"].reason
    assert "GPT-4 86.4 (2023-03-15)" in items["gap-mmlu-2023-03"].reason


def test_mmlu_2020_row_has_no_gap_as_the_report_says(items: dict[str, AuditItem]) -> None:
    item = items["gap-mmlu-2020-06"]
    assert (item.verdict, item.stated.value, item.computed) == ("agrees", None, None)


def test_gsm8k_2025_row_disagrees(items: dict[str, AuditItem]) -> None:
    # The best proprietary GSM8K by 2025-01-31 is GPT-4 Turbo's 95.3 (2024-04), not o1's 94.8:
    # 95.3 − 97.3 = −2.0, the report says −2.5.
    item = items["gap-gsm8k-2025-01"]
    assert (item.verdict, item.stated.value) == ("disagrees", -2.5)
    assert item.computed == pytest.approx(-2.0)
    assert "GPT-4 Turbo 95.3" in item.reason and "o1's 94.8" in item.reason


def test_llama_70b_q4_in_22_gb_disagrees(items: dict[str, AuditItem]) -> None:
    # 70e9 × 4.8944 / 8 / 2**30 = 39.9 GiB of weights; + 80 × 2 × 8 × 128 × 8192 × 2 B = 2.5 GiB
    # KV + 1 GiB = 43.4 GiB, against the report's 22: 49% below, far outside ±15%.
    item = items["vram-llama-3.1-70b-q4"]
    assert (item.verdict, item.stated.value) == ("disagrees", 22)
    assert item.computed == pytest.approx(43.38, abs=0.01)
    assert "39.9 GiB of weights alone" in item.reason
    assert "Q4 read as Q4_K_M" in item.reason


@pytest.mark.parametrize(
    ("figure", "computed"),
    [
        # 8.03e9 × 2 B = 14.96 GiB + 1.0 KV (32 layers) + 1 = 16.96 vs 16: −6%.
        ("vram-llama-3.1-8b-fp16", 16.96),
        # 10.6e9 × 1 B = 9.87 GiB + 1.25 KV (40 layers) + 1 = 12.12 vs 12: −1%.
        ("vram-llama-3.2-11b-vision-int8", 12.12),
        # 7e9 × 2 B = 13.04 GiB + 1.0 KV + 1 = 15.04 vs 14: −7%.
        ("vram-mistral-7b-v0.3-fp16", 15.04),
        # 14.7e9 × 1 B = 13.69 GiB + 1.5 KV (48 layers) + 1 = 16.19 vs 16: −1%.
        ("vram-qwen-2.5-14b-int8", 16.19),
        # 32.8e9 × 4.8944 / 8 = 18.69 GiB + 2.0 KV (64 layers) + 1 = 21.69 vs 20: −8%.
        ("vram-deepseek-r1-distill-qwen-32b-q4", 21.69),
    ],
)
def test_other_vram_rows_agree_within_tolerance(
    items: dict[str, AuditItem], figure: str, computed: float
) -> None:
    item = items[figure]
    assert item.verdict == "agrees"
    assert item.computed == pytest.approx(computed, abs=0.01)
    assert "GiB" in item.reason and "GB" in item.reason


@pytest.mark.parametrize(
    ("figure", "computed"),
    [
        ("cost-per-point-gpt-3", 4.6e6 / 43.9),  # 104,784 → "~$105K"
        ("cost-per-point-chinchilla", 2.1e6 / 67.5),  # 31,111 → "~$31K"
        ("cost-per-point-llama-2-70b", 2e6 / 68.9),  # 29,028 → "~$29K"
        ("cost-per-point-llama-3-70b", 3e6 / 82.0),  # 36,585 → "~$37K"
        ("cost-per-point-deepseek-v2", 5.6e6 / 84.0),  # 66,667 → "~$67K"
        ("cost-per-point-deepseek-r1", 5.6e6 / 90.8),  # 61,674 → "~$62K"
    ],
)
def test_cost_per_point_rows_agree_within_rounding(
    items: dict[str, AuditItem], figure: str, computed: float
) -> None:
    item = items[figure]
    assert item.verdict == "agrees"
    assert item.computed == pytest.approx(computed, abs=0.01)
    assert item.stated.value is not None and abs(item.stated.value - computed) <= 500


@pytest.mark.parametrize(
    ("figure", "verdict", "computed"),
    [
        ("consumer-gap-2023-06", "not checkable", None),  # no LLaMA-13B MMLU in the data
        ("consumer-gap-2024-01", "not checkable", None),
        ("consumer-gap-2024-06", "not checkable", None),
        ("consumer-gap-2025-01", "agrees", -1.1),  # 86.4 − 87.5, printed "-1"
        ("consumer-gap-cmp-llama-3.1-70b", "agrees", 4.4),  # 86.4 − 82.0
        ("consumer-gap-cmp-qwen-2.5-32b", "agrees", 3.1),  # 86.4 − 83.3
        ("consumer-gap-cmp-deepseek-r1-distill-qwen-32b", "agrees", 1.1),  # smallest margin
    ],
)
def test_consumer_gaps(
    items: dict[str, AuditItem], figure: str, verdict: str, computed: float | None
) -> None:
    item = items[figure]
    assert item.verdict == verdict
    assert item.computed == (None if computed is None else pytest.approx(computed))


@pytest.mark.parametrize(
    ("figure", "verdict", "computed"),
    [
        ("headline-exec-gap-2020", "disagrees", None),  # no open MMLU score in 2020
        ("headline-exec-gap-2025", "disagrees", -2.1),  # "~0.3" vs 88.7 − 90.8
        ("headline-keymetric-mmlu-gap", "disagrees", -2.1),
        ("headline-dashboard-frontier-gap-mmlu", "agrees", -2.1),
        ("headline-dashboard-best-open-gsm8k", "agrees", 97.3),
        ("headline-deepseek-consumer", "disagrees", 158.1),  # 671B: even IQ1_S is 158 GiB
        ("headline-keymetric-consumer-params", "disagrees", 34.0),  # 70B does not fit
        ("headline-observation-2023", "disagrees", 23.0),  # 23 from March to June 2023
        ("headline-observation-2024", "agrees", 0.1),
        ("headline-rtx4090-vram", "not checkable", None),
    ],
)
def test_headlines(
    items: dict[str, AuditItem], figure: str, verdict: str, computed: float | None
) -> None:
    item = items[figure]
    assert item.verdict == verdict, item.reason
    assert item.computed == (None if computed is None else pytest.approx(computed))


def test_cost_decline_headline_disagrees(items: dict[str, AuditItem]) -> None:
    # Cost per point by year: 104.8K (2020), 31.1K (2022), 29.0K (2023), 36.6K and 66.7K
    # (2024), 61.7K (2025): a log-linear fit falls about 8% a year, not ~70%.
    item = items["headline-keymetric-cost-decline"]
    assert item.verdict == "disagrees"
    assert item.computed is not None and -20 < item.computed < 0


# --- hand-built rows --------------------------------------------------------------------------

CITE = Citation("test", "hand-built")
MMLU = Benchmark("mmlu", "MMLU")


def figure(kind: str, value: float | None, unit: float | None = 0.1, **kw: object) -> ReportFigure:
    base: dict[str, object] = {
        "id": "x",
        "section": "s",
        "kind": kind,
        "subject": "P vs O",
        "benchmark": "mmlu",
        "on": date(2024, 4, 1),
        "stated_value": value,
        "stated_text": "text",
        "notes": None,
        "citation": CITE,
        "model_slugs": ("p", "o"),
        "stated_unit": unit,
    }
    base.update(kw)
    return ReportFigure(**base)  # type: ignore[arg-type]


def run(figures: Sequence[ReportFigure], scores: Sequence[Score]) -> AuditReport:
    return audit(
        figures,
        benchmarks={"mmlu": MMLU},
        scores={"mmlu": list(scores)},
        models={},
        quant_rows=(),
        training_costs=(),
        published_on=date(2026, 1, 3),
    )


# P 86.5 on 2024-04-01; O 82.0 released mid-month, on 2024-04-18: gap 4.5 from the 18th.
APRIL = [
    Score("p", "P", False, "mmlu", 86.5, date(2024, 4, 1), CITE),
    Score("o", "O", True, "mmlu", 82.0, date(2024, 4, 18), CITE),
]


@pytest.mark.parametrize(
    ("value", "unit", "verdict"),
    [
        (4.5, 0.1, "agrees"),
        (4.54, 0.1, "agrees"),  # within half of the printed 0.1
        (4.6, 0.1, "disagrees"),
        (5.0, 1.0, "agrees"),  # printed "5": ±0.5
        (None, 0.1, "disagrees"),  # the report says N/A where there is a gap
    ],
)
def test_gap_row_rounding(value: float | None, unit: float, verdict: str) -> None:
    (item,) = run([figure("gap_row", value, unit)], APRIL).items
    assert item.verdict == verdict
    assert item.computed == pytest.approx(4.5)  # read at 2024-04-30, after O's 04-18


def test_unknown_kind_is_not_checkable_not_dropped() -> None:
    report = run([figure("mystery", 1.0), figure("headline", 2.0, id="headline-new")], APRIL)
    assert [i.verdict for i in report.items] == ["not checkable", "not checkable"]
    assert report.counts == {"agrees": 0, "disagrees": 0, "not checkable": 2}


@pytest.mark.parametrize(
    ("text", "unit"),
    [("23.5", 0.1), ("17", 1.0), ("105000", 1000.0), ("-2.1", 0.1), ("5600000", 1e5), ("", None)],
)
def test_printed_unit(text: str, unit: float | None) -> None:
    assert printed_unit(text) == unit
