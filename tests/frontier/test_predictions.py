"""Prediction rules on hand-built data (every status of every rule) and on the bundled dataset.

Expectations are worked by hand in the comments. Dates: the verification date of OB-001..003
is 2026-12-31 and AV-003's is 2026-06-30; "today" is 2026-12-04 unless a case says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from db import queries
from db.engine import make_engine
from db.report import prediction_defs
from frontier.predictions import (
    RULES,
    AttestedCriterion,
    PredictionData,
    PredictionDef,
    PredictionVerdict,
    evaluate,
    status_change,
    track_record,
)
from frontier.types import Architecture, Attestation, Benchmark, Citation, ModelSpec, Score

CITE = Citation("test", "hand-built")
TODAY = date(2026, 12, 4)
DEADLINE = date(2026, 12, 31)
AFTER = date(2027, 1, 15)

MMLU = Benchmark("mmlu", "MMLU")
HUMANEVAL = Benchmark("humaneval", "HumanEval")
GSM8K = Benchmark("gsm8k", "GSM8K")
BENCHMARKS = {b.key: b for b in (MMLU, HUMANEVAL, GSM8K)}
KEYS = ("mmlu", "humaneval", "gsm8k")


def d(text: str) -> date:
    return date.fromisoformat(text)


def score(slug: str, bench: str, value: float, on: str, *, open_: bool) -> Score:
    return Score(slug, slug.upper(), open_, bench, value, d(on), CITE)


def on_all(slug: str, value: float, on: str, *, open_: bool) -> list[Score]:
    return [score(slug, k, value, on, open_=open_) for k in KEYS]


def model(
    slug: str,
    *,
    open_: bool = True,
    params: float | None = None,
    cost: float | None = None,
    cost_sourced: bool = True,
    arch: Architecture | None = None,
) -> ModelSpec:
    return ModelSpec(
        slug=slug,
        name=slug.upper(),
        open_weights=open_,
        total_params_b=params,
        params_citation=CITE,
        architecture=arch,
        training_cost_usd=cost,
        training_cost_citation=CITE if cost is not None and cost_sourced else None,
    )


def data(
    scores: Sequence[Score],
    models: Sequence[ModelSpec] = (),
    attestations: Sequence[Attestation] = (),
    benchmarks: Mapping[str, Benchmark] = BENCHMARKS,
) -> PredictionData:
    by_bench: dict[str, list[Score]] = {}
    for s in scores:
        by_bench.setdefault(s.benchmark, []).append(s)
    return PredictionData(benchmarks, by_bench, {m.slug: m for m in models}, tuple(attestations))


def prediction(code: str, rule: str, params: dict[str, object], due: date = DEADLINE):
    return PredictionDef(code, code, "claim", "threshold", due, rule, params, CITE)


OB001 = prediction(
    "OB-001",
    "ob001_parity",
    {"benchmarks": list(KEYS), "max_gap": 2.0, "window_start": "2026-01-01"},
)
OB002 = prediction(
    "OB-002",
    "ob002_small_model",
    {"benchmark": "mmlu", "min_score": 68, "max_params_b": 5, "needs_attestation": "mobile_demo"},
)
OB003 = prediction(
    "OB-003",
    "ob003_cheap_training",
    {"benchmark": "mmlu", "min_score": 85, "max_cost_usd": 1_000_000},
)
AV003 = prediction(
    "AV-003",
    "av003_consumer_parity",
    {"benchmarks": list(KEYS), "baseline_model": "gpt-4", "vram_gib": 24, "min_bits": 4},
    due=date(2026, 6, 30),
)


# --- OB-001 -----------------------------------------------------------------------------------

# Both sides at 80/81 on every benchmark since mid-2025: gap 1 everywhere.
BASE = on_all("open-a", 80, "2025-06-01", open_=True) + on_all(
    "prop-a", 81, "2025-06-01", open_=False
)

# All three exceed on one day: proprietary 83 (gap 3) on MMLU from 02-01, HumanEval from 03-01,
# GSM8K from 04-01, none closed again → all three > 2 from 2026-04-01: missed on that day.
ALL_AT_ONCE = [
    score("prop-b", "mmlu", 83, "2026-02-01", open_=False),
    score("prop-b", "humaneval", 83, "2026-03-01", open_=False),
    score("prop-b", "gsm8k", 83, "2026-04-01", open_=False),
]
# Each exceeds on a different day, but an open model closes each before the next opens:
# MMLU 02-01..02-14, HumanEval 03-01..03-09, GSM8K from 04-01 → never all three at once.
DIFFERENT_DAYS = [
    *ALL_AT_ONCE,
    score("open-b", "mmlu", 83, "2026-02-15", open_=True),
    score("open-b", "humaneval", 83, "2026-03-10", open_=True),
]
# All three at gap 3 since 2025-09 and still on the window's first day → missed on 2026-01-01.
BEFORE_WINDOW_OPEN = on_all("prop-c", 83, "2025-09-01", open_=False)
# All three at gap 3 from 2025-09 but closed (open 83) on 2025-12-01, before the window.
BEFORE_WINDOW_CLOSED = BEFORE_WINDOW_OPEN + on_all("open-c", 83, "2025-12-01", open_=True)
# Only MMLU exceeds (gap 3 from 2026-05-01).
ONE_EXCEEDS = [score("prop-d", "mmlu", 83, "2026-05-01", open_=False)]
# All three exceed only from 2027-01-05, after the verification date.
AFTER_DEADLINE = on_all("prop-e", 90, "2027-01-05", open_=False)


@pytest.mark.parametrize(
    ("case", "extra", "today", "status", "resolved_on"),
    [
        ("all three at once inside the window", ALL_AT_ONCE, TODAY, "miss", d("2026-04-01")),
        ("different days, never at once: one still over", DIFFERENT_DAYS, TODAY, "at risk", None),
        ("different days, never at once: on the date", DIFFERENT_DAYS, DEADLINE, "hit", DEADLINE),
        ("state at window start counts", BEFORE_WINDOW_OPEN, TODAY, "miss", d("2026-01-01")),
        ("closed before the window", BEFORE_WINDOW_CLOSED, DEADLINE, "hit", DEADLINE),
        ("one benchmark over", ONE_EXCEEDS, TODAY, "at risk", None),
        ("nothing over", [], TODAY, "on track", None),
        ("after the date: hit on the date", [], AFTER, "hit", DEADLINE),
        ("score after the date ignored", AFTER_DEADLINE, d("2027-02-01"), "hit", DEADLINE),
        # Before the window opens, all three over is a risk, not a miss yet.
        ("before the window", BEFORE_WINDOW_OPEN, d("2025-12-01"), "at risk", None),
    ],
)
def test_ob001(
    case: str, extra: list[Score], today: date, status: str, resolved_on: date | None
) -> None:
    verdict = evaluate(OB001, data(BASE + extra), today=today)
    assert verdict.status == status, case
    assert verdict.resolved_on == resolved_on
    assert verdict.resolved == (status in ("hit", "miss"))
    assert verdict.days_to_verification == (DEADLINE - today).days


def test_ob001_at_risk_says_which() -> None:
    verdict = evaluate(OB001, data(BASE + ONE_EXCEEDS), today=TODAY)
    # MMLU 83 − 80 = 3 > 2; HumanEval and GSM8K 81 − 80 = 1.
    assert "exceeds 2 points on MMLU" in verdict.summary
    assert "HumanEval and GSM8K" in verdict.what_would_change_it


def test_ob001_miss_evidence_names_the_day_and_scores() -> None:
    verdict = evaluate(OB001, data(BASE + ALL_AT_ONCE), today=TODAY)
    # Six evidence items: best proprietary and best open on each benchmark on 2026-04-01.
    assert len(verdict.evidence) == 6
    assert all(e.citation == CITE and e.score is not None for e in verdict.evidence)
    assert {e.score.model_slug for e in verdict.evidence if e.score} == {"prop-b", "open-a"}
    assert "2026-04-01" in verdict.summary


def test_ob001_takes_its_gap_reports_from_the_callers_reporter() -> None:
    """``evaluate(..., reports=...)``: the caller's function computes OB-001's gap reports
    (the bot passes one that keeps them), called as ``gap_report`` is, and the verdict is the
    one ``gap_report`` itself gives."""
    from frontier.gap import gap_report

    calls: list[str] = []

    def reporter(benchmark, scores, *, as_of, threshold):  # type: ignore[no-untyped-def]
        calls.append(benchmark.key)
        return gap_report(benchmark, scores, as_of=as_of, threshold=threshold)

    found = data(BASE + ONE_EXCEEDS)
    assert evaluate(OB001, found, today=TODAY, reports=reporter) == evaluate(
        OB001, found, today=TODAY
    )
    assert sorted(calls) == sorted(OB001.params["benchmarks"])


def test_ob001_within_noise_is_at_risk() -> None:
    # HumanEval has 164 questions: 91 vs 90 (gap 1) has a 95% interval of about ±6 points,
    # which reaches the 2-point line, so the gap is within sampling noise of it.
    benchmarks = {**BENCHMARKS, "humaneval": replace(HUMANEVAL, question_count=164)}
    scores = on_all("open-a", 90, "2025-06-01", open_=True) + on_all(
        "prop-a", 91, "2025-06-01", open_=False
    )
    verdict = evaluate(OB001, data(scores, benchmarks=benchmarks), today=TODAY)
    assert verdict.status == "at risk"
    assert "within sampling noise of the line: HumanEval" in verdict.summary


# --- OB-002 -----------------------------------------------------------------------------------

SMALL = model("small-3.8b", params=3.8)
SMALL_SCORE = score("small-3.8b", "mmlu", 69.0, "2026-05-01", open_=True)


def mobile(holds: bool, on: str, slug: str | None = "small-3.8b") -> Attestation:
    return Attestation("OB-002", "mobile_demo", holds, "ran on a phone", d(on), CITE, slug)


@pytest.mark.parametrize(
    ("case", "models", "scores", "attestations", "today", "status", "resolved_on"),
    [
        ("qualifies, not attested", [SMALL], [SMALL_SCORE], [], TODAY, "needs review", None),
        # A missing attestation is not evidence of absence: still in review after the date.
        ("not attested, after the date", [SMALL], [SMALL_SCORE], [], AFTER, "needs review", None),
        # Hit on the later of score (05-01) and attestation (06-01).
        (
            "attested",
            [SMALL],
            [SMALL_SCORE],
            [mobile(True, "2026-06-01")],
            TODAY,
            "hit",
            d("2026-06-01"),
        ),
        (
            "attested for the prediction",
            [SMALL],
            [SMALL_SCORE],
            [mobile(True, "2026-06-01", slug=None)],
            TODAY,
            "hit",
            d("2026-06-01"),
        ),
        # An attestation stated after the date still settles it (it says what held by then).
        (
            "attested after the date",
            [SMALL],
            [SMALL_SCORE],
            [mobile(True, "2027-01-10")],
            AFTER,
            "hit",
            d("2027-01-10"),
        ),
        (
            "attested as not met",
            [SMALL],
            [SMALL_SCORE],
            [mobile(False, "2026-06-01")],
            TODAY,
            "at risk",
            None,
        ),
        (
            "attested as not met, after the date",
            [SMALL],
            [SMALL_SCORE],
            [mobile(False, "2026-06-01")],
            AFTER,
            "miss",
            DEADLINE,
        ),
        # The latest attestation wins: held on 06-01, withdrawn on 07-01.
        (
            "latest attestation wins",
            [SMALL],
            [SMALL_SCORE],
            [mobile(True, "2026-06-01"), mobile(False, "2026-07-01")],
            TODAY,
            "at risk",
            None,
        ),
        (
            "attestation after today ignored",
            [SMALL],
            [SMALL_SCORE],
            [mobile(True, "2026-12-20")],
            TODAY,
            "needs review",
            None,
        ),
        # 5.0B is not < 5B.
        (
            "exactly 5B",
            [model("five", params=5.0)],
            [score("five", "mmlu", 70, "2026-05-01", open_=True)],
            [],
            TODAY,
            "at risk",
            None,
        ),
        (
            "67.9 is below 68",
            [SMALL],
            [replace(SMALL_SCORE, value=67.9)],
            [],
            TODAY,
            "at risk",
            None,
        ),
        (
            "proprietary small model",
            [model("small-3.8b", open_=False, params=3.8)],
            [replace(SMALL_SCORE, open_weights=False)],
            [],
            TODAY,
            "at risk",
            None,
        ),
        # 2026-12-31 − 2026-03-01 = 305 days > 90: pending, not at risk.
        ("nothing yet, far from the date", [], [], [], d("2026-03-01"), "pending", None),
        ("nothing by the date", [], [], [], AFTER, "miss", DEADLINE),
        # The score appears after the verification date: too late.
        (
            "score after the date",
            [SMALL],
            [replace(SMALL_SCORE, available_on=d("2027-01-02"))],
            [mobile(True, "2027-01-03")],
            AFTER,
            "miss",
            DEADLINE,
        ),
    ],
)
def test_ob002(
    case: str,
    models: list[ModelSpec],
    scores: list[Score],
    attestations: list[Attestation],
    today: date,
    status: str,
    resolved_on: date | None,
) -> None:
    verdict = evaluate(OB002, data(scores, models, attestations), today=today)
    assert verdict.status == status, case
    assert verdict.resolved_on == resolved_on, case


def test_ob002_lists_the_attestation_criterion() -> None:
    unattested = evaluate(OB002, data([SMALL_SCORE], [SMALL]), today=TODAY)
    assert [str(c) for c in unattested.criteria] == ["mobile demo (SMALL-3.8B): not attested"]
    assert "missing attestation is not evidence" in unattested.what_would_change_it
    attested = evaluate(
        OB002, data([SMALL_SCORE], [SMALL], [mobile(True, "2026-06-01")]), today=TODAY
    )
    (criterion,) = attested.criteria
    assert isinstance(criterion, AttestedCriterion) and criterion.holds is True
    assert str(criterion) == "mobile demo (SMALL-3.8B): attested by hand-built on 2026-06-01"
    # The claim says 4B, the threshold < 5B: the verdict says which it follows.
    assert any("4B" in n and "under 5B" in n for n in attested.notes)


def test_ob002_unsized_model_is_listed_not_counted() -> None:
    verdict = evaluate(OB002, data([SMALL_SCORE], [model("small-3.8b")]), today=TODAY)
    assert verdict.status == "at risk"
    assert any("Parameter count not sourced" in e.text for e in verdict.evidence)


# --- OB-003 -----------------------------------------------------------------------------------


def mmlu(slug: str, value: float, on: str = "2026-04-01", open_: bool = True) -> Score:
    return score(slug, "mmlu", value, on, open_=open_)


def cost_attestation(holds: bool, slug: str, on: str = "2026-06-01") -> Attestation:
    return Attestation("OB-003", "training_cost", holds, "trained for $0.8M", d(on), CITE, slug)


@pytest.mark.parametrize(
    ("case", "models", "scores", "attestations", "today", "status", "resolved_on"),
    [
        (
            "sourced cost under $1M",
            [model("cheap", cost=800_000)],
            [mmlu("cheap", 86)],
            [],
            TODAY,
            "hit",
            d("2026-04-01"),
        ),
        (
            "cost not sourced",
            [model("cheap", cost=800_000, cost_sourced=False)],
            [mmlu("cheap", 86)],
            [],
            TODAY,
            "at risk",
            None,
        ),
        ("cost unknown", [model("big")], [mmlu("big", 90)], [], TODAY, "at risk", None),
        (
            "MMLU exactly 85 is not > 85",
            [model("cheap", cost=500_000)],
            [mmlu("cheap", 85)],
            [],
            TODAY,
            "at risk",
            None,
        ),
        (
            "exactly $1M is not < $1M",
            [model("cheap", cost=1_000_000)],
            [mmlu("cheap", 86)],
            [],
            TODAY,
            "at risk",
            None,
        ),
        (
            "attested cost",
            [model("big")],
            [mmlu("big", 90)],
            [cost_attestation(True, "big")],
            TODAY,
            "hit",
            d("2026-06-01"),
        ),
        (
            "attested, but MMLU not > 85",
            [model("mid")],
            [mmlu("mid", 80)],
            [cost_attestation(True, "mid")],
            TODAY,
            "needs review",
            None,
        ),
        (
            "attested as not holding",
            [model("big")],
            [mmlu("big", 90)],
            [cost_attestation(False, "big")],
            TODAY,
            "at risk",
            None,
        ),
        ("nothing by the date", [model("big")], [mmlu("big", 90)], [], AFTER, "miss", DEADLINE),
        ("far from the date", [], [], [], d("2026-01-01"), "pending", None),
    ],
)
def test_ob003(
    case: str,
    models: list[ModelSpec],
    scores: list[Score],
    attestations: list[Attestation],
    today: date,
    status: str,
    resolved_on: date | None,
) -> None:
    verdict = evaluate(OB003, data(scores, models, attestations), today=today)
    assert verdict.status == status, case
    assert verdict.resolved_on == resolved_on, case


def test_ob003_unsourced_cost_is_evidence() -> None:
    verdict = evaluate(OB003, data([mmlu("big", 90)], [model("big")]), today=TODAY)
    assert [e.text for e in verdict.evidence] == [
        "MMLU > 85, cost not sourced: BIG 90 (2026-04-01)"
    ]


# --- AV-003 -----------------------------------------------------------------------------------

# Qwen2.5-32B architecture (64 layers, 8 KV heads, head dim 128): 32.8B at Q4_K_M is
# 32.8e9 × 4.8944 / 8 / 2**30 = 18.7 GiB + 2.0 GiB KV at 8k + 1 GiB = 21.7 GiB ≤ 24: fits.
QWEN_ARCH = Architecture(layers=64, kv_heads=8, head_dim=128, max_context=131072)
DISTILL = model("distill-32b", params=32.8, arch=QWEN_ARCH)
# 70B at Q4_K_M: 70e9 × 4.8944 / 8 / 2**30 = 39.9 GiB of weights alone: does not fit at 4-bit.
BIG_70B = model("big-70b", params=70, arch=Architecture(layers=80, kv_heads=8, head_dim=128))
GPT4 = model("gpt-4", open_=False)
BASELINE = [
    score("gpt-4", "mmlu", 86.4, "2023-03-15", open_=False),
    score("gpt-4", "humaneval", 67.0, "2023-03-15", open_=False),
    score("gpt-4", "gsm8k", 92.0, "2023-03-15", open_=False),
]


def trio(slug: str, values: tuple[float, float, float], on: str = "2025-01-20") -> list[Score]:
    return [score(slug, k, v, on, open_=True) for k, v in zip(KEYS, values, strict=True)]


@pytest.mark.parametrize(
    ("case", "models", "scores", "today", "status", "resolved_on"),
    [
        # 87.5 ≥ 86.4, 85.4 ≥ 67, 95.6 ≥ 92 and fits: hit when its last score appeared.
        (
            "fits and matches",
            [GPT4, DISTILL],
            trio("distill-32b", (87.5, 85.4, 95.6)),
            TODAY,
            "hit",
            d("2025-01-20"),
        ),
        # Ties count: ≥.
        (
            "ties the baseline",
            [GPT4, DISTILL],
            trio("distill-32b", (86.4, 67.0, 92.0)),
            TODAY,
            "hit",
            d("2025-01-20"),
        ),
        # GSM8K 91.9 < 92.0: below the baseline on one benchmark → miss (the date has passed).
        (
            "below on one benchmark",
            [GPT4, DISTILL],
            trio("distill-32b", (87.5, 85.4, 91.9)),
            TODAY,
            "miss",
            d("2026-06-30"),
        ),
        (
            "too big to fit at 4-bit",
            [GPT4, BIG_70B],
            trio("big-70b", (90, 90, 95)),
            TODAY,
            "miss",
            d("2026-06-30"),
        ),
        (
            "scores after the date",
            [GPT4, DISTILL],
            trio("distill-32b", (87.5, 85.4, 95.6), on="2026-07-01"),
            TODAY,
            "miss",
            d("2026-06-30"),
        ),
        # 2026-06-30 − 2026-01-01 = 180 days > 90: pending; 60 days: at risk.
        ("nothing, far from the date", [GPT4], [], d("2026-01-01"), "pending", None),
        ("nothing, near the date", [GPT4], [], d("2026-05-01"), "at risk", None),
    ],
)
def test_av003(
    case: str,
    models: list[ModelSpec],
    scores: list[Score],
    today: date,
    status: str,
    resolved_on: date | None,
) -> None:
    verdict = evaluate(AV003, data(BASELINE + scores, models), today=today)
    assert verdict.status == status, case
    assert verdict.resolved_on == resolved_on, case


def test_av003_evidence_lists_baseline_candidate_and_memory() -> None:
    scores = BASELINE + trio("distill-32b", (87.5, 85.4, 95.6)) + trio("big-70b", (90, 90, 95))
    verdict = evaluate(AV003, data(scores, [GPT4, DISTILL, BIG_70B]), today=TODAY)
    texts = [e.text for e in verdict.evidence]
    assert texts[:3] == [
        "Baseline MMLU: GPT-4 86.4 (2023-03-15)",
        "Baseline HumanEval: GPT-4 67 (2023-03-15)",
        "Baseline GSM8K: GPT-4 92 (2023-03-15)",
    ]
    assert any(t.startswith("DISTILL-32B (32.8B) fits 24 GiB") and "21.7 GiB" in t for t in texts)
    assert any(t.startswith("Excluded: BIG-70B (70B) does not fit") for t in texts)


def test_av003_baseline_without_a_score_needs_review() -> None:
    verdict = evaluate(AV003, data(BASELINE[:2], [GPT4, DISTILL]), today=TODAY)
    assert verdict.status == "needs review"
    assert "no GSM8K score" in verdict.summary


# --- unknown rules, bad parameters --------------------------------------------------------------


def test_unknown_rule_needs_review() -> None:
    verdict = evaluate(replace(OB001, rule="no_such_rule"), data(BASE), today=TODAY)
    assert (verdict.status, verdict.resolved, verdict.resolved_on) == ("needs review", False, None)
    assert "'no_such_rule'" in verdict.summary


def test_missing_parameter_needs_review() -> None:
    verdict = evaluate(replace(OB001, params={"benchmarks": list(KEYS)}), data(BASE), today=TODAY)
    assert verdict.status == "needs review"
    assert "'max_gap' is missing" in verdict.summary


def test_every_csv_rule_is_registered() -> None:
    assert {p.rule for p in prediction_defs()} <= set(RULES)


# --- track record and transitions -------------------------------------------------------------


def verdict_with(status: str) -> PredictionVerdict:
    resolved = status in ("hit", "miss")
    return PredictionVerdict(
        code="X",
        status=status,  # type: ignore[arg-type]
        resolved=resolved,
        resolved_on=DEADLINE if resolved else None,
        summary="",
        evidence=(),
        what_would_change_it="",
        days_to_verification=0,
        verification_date=DEADLINE,
        as_of=DEADLINE,
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        # 2 hits + 1 miss resolved: hit rate 2/3; 1 in review; pending, on track, at risk open.
        (
            ["hit", "hit", "miss", "needs review", "pending", "on track", "at risk"],
            (3, 2, 1, 2 / 3, 1, 3),
        ),
        (["on track", "needs review"], (0, 0, 0, None, 1, 1)),
        ([], (0, 0, 0, None, 0, 0)),
        (["miss"], (1, 0, 1, 0.0, 0, 0)),
    ],
)
def test_track_record(statuses: list[str], expected: tuple[object, ...]) -> None:
    record = track_record([verdict_with(s) for s in statuses])
    got = (
        record.resolved,
        record.hits,
        record.misses,
        record.hit_rate,
        record.needs_review,
        record.pending,
    )
    assert got == expected
    assert len(record.verdicts) == len(statuses)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("on track", "at risk", "on track → at risk"),
        ("at risk", "on track", "at risk → on track"),
        ("on track", "hit", "resolved: hit"),
        ("needs review", "miss", "resolved: miss"),
        ("pending", "needs review", "pending → needs review"),
        ("hit", "needs review", "reopened: hit → needs review"),
        ("at risk", "at risk", None),
        ("hit", "hit", None),
        (None, "on track", None),
        (None, "hit", "resolved: hit"),
    ],
)
def test_status_change(old: str | None, new: str, expected: str | None) -> None:
    assert status_change(old, verdict_with(new)) == expected


# --- the bundled dataset as of 2026-12-04 -----------------------------------------------------


@pytest.fixture(scope="module")
def bundled(sqlite_templates: dict[str, Path]) -> Iterator[PredictionData]:
    """Benchmarks, headline scores and model facts as the seeded store gives them."""
    engine = make_engine(f"sqlite:///{sqlite_templates['seeded']}")
    try:
        with Session(engine) as session:
            rows = queries.tracked_benchmarks(session)
            yield PredictionData(
                benchmarks={b.key: queries.to_benchmark(b) for b in rows},
                scores={b.key: queries.headline_scores(session, b) for b in rows},
                models={m.slug: m for m in queries.model_specs(session)},
            )
    finally:
        engine.dispose()


def test_bundled_verdicts(bundled: PredictionData) -> None:
    verdicts = {p.code: evaluate(p, bundled, today=TODAY) for p in prediction_defs()}
    # OB-001: gaps MMLU 88.7 − 90.8 = −2.1, HumanEval 92.4 − 96.3 = −3.9, GSM8K 95.3 − 97.3
    # = −2.0; none above 2 and none within noise of it → on track.
    # OB-002: no open model under 5B has an MMLU score; 27 days left (≤ 90) → at risk.
    # OB-003: the only sourced cost above MMLU 85 is DeepSeek-R1's ~$5.6M → at risk.
    # AV-003: DeepSeek-R1-Distill-Qwen-32B (87.5 / 85.4 / 95.6 ≥ 86.4 / 67 / 92, 21.7 GiB at
    # Q4_K_M) → hit on 2025-01-20, its scores' date.
    got = {code: (v.status, v.resolved_on) for code, v in verdicts.items()}
    assert got == {
        "OB-001": ("on track", None),
        "OB-002": ("at risk", None),
        "OB-003": ("at risk", None),
        "AV-003": ("hit", d("2025-01-20")),
    }
    av003 = verdicts["AV-003"]
    assert av003.days_to_verification == -157
    winners = {e.model.slug for e in av003.evidence if e.model and "≥ baseline" in e.text}
    assert winners == {"deepseek-r1-distill-qwen-32b"}
    assert track_record(list(verdicts.values())).hits == 1
