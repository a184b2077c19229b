"""Frontier series, gap reports and the dashboard, on hand-built series and the report's tables."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontier.gap import (
    Dashboard,
    GapReport,
    dashboard,
    frontier_series,
    gap_at,
    gap_report,
)
from frontier.types import Benchmark, Citation, Score

CITATION = Citation(source="test", label="hand-built")
MMLU = Benchmark(key="mmlu", name="MMLU", canonical_setting="5-shot")
GSM8K = Benchmark(key="gsm8k", name="GSM8K")
HUMANEVAL = Benchmark(key="humaneval", name="HumanEval")


def score(
    slug: str,
    value: float,
    on: date,
    *,
    open_: bool,
    benchmark: str = "mmlu",
    approximate: bool = False,
    setting: str | None = None,
) -> Score:
    return Score(
        model_slug=slug,
        model_name=slug,
        open_weights=open_,
        benchmark=benchmark,
        value=value,
        available_on=on,
        citation=CITATION,
        setting=setting,
        approximate=approximate,
    )


def closed(slug: str, value: float, on: date, **kw: object) -> Score:
    return score(slug, value, on, open_=False, **kw)  # type: ignore[arg-type]


def open_(slug: str, value: float, on: date, **kw: object) -> Score:
    return score(slug, value, on, open_=True, **kw)  # type: ignore[arg-type]


def month(year: int, mon: int) -> date:
    return date(year, mon, 1)


# --- frontier_series ---------------------------------------------------------------------------

JAN, FEB, MAR, APR = (date(2023, m, 1) for m in (1, 2, 3, 4))
A80 = closed("a", 80.0, JAN)
B85 = closed("b", 85.0, JAN)
C85 = closed("c", 85.0, FEB)
D84 = closed("d", 84.0, MAR)
E90 = closed("e", 90.0, APR)
X99 = open_("x", 99.0, JAN)

FRONTIER_CASES = [
    # Nothing in, nothing out.
    ([], {}, ()),
    # Same day: 80 and 85 collapse to 85. C ties 85 a month later: no change (B keeps it).
    # D is below. E beats 85. The open X is on the other side and does not count.
    ([A80, B85, C85, D84, E90, X99], {}, (B85, E90)),
    # Input order does not matter.
    ([E90, D84, C85, B85, A80], {}, (B85, E90)),
    # as_of 2023-03-31 leaves E (April) out.
    ([A80, B85, E90], {"as_of": date(2023, 3, 31)}, (B85,)),
    # Lower is better: A's 80 is the best on JAN, D's 84 on MAR is worse than 80.
    ([A80, B85, D84], {"higher_is_better": False}, (A80,)),
    # Same day, same value: the exact figure beats the approximate one, whatever the order.
    (
        [closed("z", 70.0, JAN, approximate=True), closed("y", 70.0, JAN)],
        {},
        (closed("y", 70.0, JAN),),
    ),
    # Same day, same value, both exact: the smaller slug wins, whatever the order.
    ([closed("n", 70.0, JAN), closed("m", 70.0, JAN)], {}, (closed("m", 70.0, JAN),)),
]


@pytest.mark.parametrize(("scores", "kwargs", "expected"), FRONTIER_CASES)
def test_frontier_series(scores: list[Score], kwargs: dict, expected: tuple[Score, ...]) -> None:
    assert frontier_series(scores, open_weights=False, **kwargs) == expected


def test_frontier_series_of_the_open_side() -> None:
    assert frontier_series([A80, X99], open_weights=True) == (X99,)


# --- the report's tables (seed-report.md, "Historical Gap Trajectory") ------------------------
# Dates are the first of the table's month. "~44%" etc. are marked approximate.

MMLU_ROWS = [
    closed("gpt-3", 43.9, month(2020, 6)),
    closed("chinchilla", 67.5, month(2022, 4)),
    open_("bloom", 44.0, month(2022, 4), approximate=True),
    closed("chatgpt", 70.0, month(2022, 11), approximate=True),
    open_("opt-175b", 53.0, month(2022, 11), approximate=True),
    closed("gpt-4", 86.4, month(2023, 3)),
    open_("llama-65b", 63.4, month(2023, 3)),
    open_("llama-2-70b", 68.9, month(2023, 7)),
    closed("gpt-4-turbo", 86.5, month(2024, 4)),
    open_("llama-3-70b", 82.0, month(2024, 4)),
    closed("claude-3.5", 88.7, month(2024, 7)),
    open_("llama-3.1-405b", 88.6, month(2024, 7)),
    closed("gpt-4o", 88.7, month(2025, 1)),
    open_("deepseek-r1", 90.8, month(2025, 1)),
]

# (row date, report's Gap, proprietary best, open best). All eight rows agree with the
# definition. 2023-03: 86.4 − 63.4 = 23.0 (the report writes 23). 2025-01: GPT-4o's 88.7 only
# ties Claude 3.5's 88.7 from 2024-07, so Claude 3.5 stays the proprietary best (the report
# names GPT-4o; the figure is the same): 88.7 − 90.8 = −2.1.
MMLU_TABLE = [
    (month(2020, 6), None, "gpt-3", None),
    (month(2022, 4), 23.5, "chinchilla", "bloom"),  # 67.5 − 44
    (month(2022, 11), 17.0, "chatgpt", "opt-175b"),  # 70 − 53
    (month(2023, 3), 23.0, "gpt-4", "llama-65b"),  # 86.4 − 63.4
    (month(2023, 7), 17.5, "gpt-4", "llama-2-70b"),  # 86.4 − 68.9
    (month(2024, 4), 4.5, "gpt-4-turbo", "llama-3-70b"),  # 86.5 − 82.0
    (month(2024, 7), 0.1, "claude-3.5", "llama-3.1-405b"),  # 88.7 − 88.6
    (month(2025, 1), -2.1, "claude-3.5", "deepseek-r1"),  # 88.7 − 90.8
]


def _slug(s: Score | None) -> str | None:
    return None if s is None else s.model_slug


@pytest.mark.parametrize(("on", "gap", "prop", "opn"), MMLU_TABLE)
def test_report_mmlu_table_is_reproduced(
    on: date, gap: float | None, prop: str, opn: str | None
) -> None:
    report = gap_report(MMLU, MMLU_ROWS, as_of=on)
    assert report.gap == (None if gap is None else pytest.approx(gap, abs=1e-9))
    assert (_slug(report.proprietary), _slug(report.open)) == (prop, opn)


def test_mmlu_trajectory_has_a_point_per_table_row() -> None:
    report = gap_report(MMLU, MMLU_ROWS, as_of=date(2026, 3, 1))
    assert [p.date for p in report.trajectory] == [row[0] for row in MMLU_TABLE]
    assert [p.gap for p in report.trajectory] == [row[1] for row in MMLU_TABLE]
    assert report.leader == "open"


GSM8K_ROWS = [
    closed("gpt-4", 92.0, month(2023, 3), benchmark="gsm8k"),
    open_("llama-65b", 50.9, month(2023, 3), benchmark="gsm8k"),
    closed("gpt-4-turbo", 95.3, month(2024, 4), benchmark="gsm8k"),
    open_("llama-3-70b", 93.0, month(2024, 4), benchmark="gsm8k"),
    closed("o1", 94.8, month(2025, 1), benchmark="gsm8k"),
    open_("deepseek-r1", 97.3, month(2025, 1), benchmark="gsm8k"),
]

# The report's 2025-01 row compares o1's 94.8 with DeepSeek-R1's 97.3 and states −2.5. By the
# definition P is the best proprietary score available by then: GPT-4 Turbo's 95.3 (2024-04)
# beats o1's 94.8, so the gap is 95.3 − 97.3 = −2.0. The bot reports the computed figure.
GSM8K_TABLE = [
    (month(2023, 3), 41.1, "gpt-4"),  # 92.0 − 50.9, agrees
    (month(2024, 4), 2.3, "gpt-4-turbo"),  # 95.3 − 93.0, agrees
    (month(2025, 1), -2.0, "gpt-4-turbo"),  # report: −2.5 (o1); computed −2.0
]


@pytest.mark.parametrize(("on", "gap", "prop"), GSM8K_TABLE)
def test_report_gsm8k_table_uses_the_definition(on: date, gap: float, prop: str) -> None:
    report = gap_report(GSM8K, GSM8K_ROWS, as_of=on)
    assert report.gap == pytest.approx(gap, abs=1e-9)
    assert _slug(report.proprietary) == prop


HUMANEVAL_ROWS = [
    closed("gpt-4", 67.0, month(2023, 3), benchmark="humaneval"),
    open_("codellama-34b", 48.8, month(2023, 3), benchmark="humaneval"),
    closed("gpt-4-turbo", 87.1, month(2024, 4), benchmark="humaneval"),
    open_("llama-3-70b", 81.7, month(2024, 4), benchmark="humaneval"),
    closed("claude-3.5", 92.0, month(2024, 12), benchmark="humaneval"),
    open_("qwen-2.5-72b", 86.4, month(2024, 12), benchmark="humaneval"),
    closed("o1", 92.4, month(2025, 1), benchmark="humaneval"),
    open_("deepseek-r1", 96.3, month(2025, 1), benchmark="humaneval"),
]

# Every HumanEval row agrees: each proprietary model in the table is a new best.
HUMANEVAL_TABLE = [
    (month(2023, 3), 18.2),  # 67.0 − 48.8
    (month(2024, 4), 5.4),  # 87.1 − 81.7
    (month(2024, 12), 5.6),  # 92.0 − 86.4
    (month(2025, 1), -3.9),  # 92.4 − 96.3
]


@pytest.mark.parametrize(("on", "gap"), HUMANEVAL_TABLE)
def test_report_humaneval_table_is_reproduced(on: date, gap: float) -> None:
    assert gap_report(HUMANEVAL, HUMANEVAL_ROWS, as_of=on).gap == pytest.approx(gap, abs=1e-9)


# --- changes over 3/6/12 months ----------------------------------------------------------------

CHANGE_CASES = [
    # as_of 2025-01-01, gap −2.1. 3 months back (2024-10-01) and 6 (2024-07-01): 0.1 → −2.2.
    # 12 months back (2024-01-01): 17.5 (GPT-4 vs Llama 2) → −19.6.
    (date(2025, 1, 1), (-2.2, -2.2, -19.6)),
    # as_of 2022-06-01, gap 23.5. 2022-03-01 and earlier: no open score yet → undefined.
    (date(2022, 6, 1), (None, None, None)),
    # as_of 2023-05-15, gap 23.0: 2023-02-15 → 17.0 (+6.0); 2022-11-15 → 17.0 (+6.0);
    # 2022-05-15 → 23.5 (−0.5).
    (date(2023, 5, 15), (6.0, 6.0, -0.5)),
]


@pytest.mark.parametrize(("as_of", "changes"), CHANGE_CASES)
def test_changes(as_of: date, changes: tuple[float | None, ...]) -> None:
    report = gap_report(MMLU, MMLU_ROWS, as_of=as_of)
    got = (report.change_3m, report.change_6m, report.change_12m)
    assert got == tuple(None if c is None else pytest.approx(c, abs=1e-9) for c in changes)


def test_months_back_clamp_to_the_end_of_a_shorter_month() -> None:
    # 2024-05-31 minus 3 months is 2024-02-29 (leap year), the day before the open step of
    # 2024-03-01, so the change covers that step: gap 10 → 5, change −5.
    scores = [
        closed("p", 90.0, date(2024, 1, 1)),
        open_("o", 80.0, date(2024, 1, 1)),
        open_("o2", 85.0, date(2024, 3, 1)),
    ]
    assert gap_report(MMLU, scores, as_of=date(2024, 5, 31)).change_3m == -5.0


# --- leader, filtering, freshness, notes, noise -----------------------------------------------


@pytest.mark.parametrize(
    ("p", "o", "leader", "gap"),
    [(80.0, 78.0, "proprietary", 2.0), (80.0, 80.0, "tie", 0.0), (79.0, 80.0, "open", -1.0)],
)
def test_leader(p: float, o: float, leader: str, gap: float) -> None:
    report = gap_report(MMLU, [closed("p", p, JAN), open_("o", o, JAN)], as_of=JAN)
    assert (report.leader, report.gap) == (leader, gap)
    assert report.exceeds_threshold is False  # 2.0 is not above 2.0


def test_lower_is_better_keeps_positive_meaning_proprietary_leads() -> None:
    perplexity = Benchmark(key="ppl", name="Perplexity", higher_is_better=False)
    scores = [
        closed("p", 3.0, JAN, benchmark="ppl"),
        open_("o", 5.0, JAN, benchmark="ppl"),
        open_("o2", 6.0, FEB, benchmark="ppl"),  # worse, ignored
    ]
    report = gap_report(perplexity, scores, as_of=FEB)
    assert (report.gap, report.leader, _slug(report.open)) == (2.0, "proprietary", "o")


def test_only_scores_available_by_as_of_and_of_this_benchmark_count() -> None:
    scores = [
        closed("p", 80.0, JAN),
        open_("o", 70.0, JAN),
        open_("later", 79.0, date(2023, 1, 2)),
        open_("gsm", 99.0, JAN, benchmark="gsm8k"),
    ]
    report = gap_report(MMLU, scores, as_of=JAN)
    assert report.gap == 10.0
    assert report.newest_data_on == JAN


def test_missing_side() -> None:
    report = gap_report(MMLU, [closed("p", 80.0, JAN)], as_of=FEB)
    assert (report.gap, report.leader, report.open, report.change_12m) == (None, None, None, None)
    assert report.notes == ("No open-weights score on MMLU as of 2023-02-01.",)


def test_no_scores_at_all() -> None:
    report = gap_report(MMLU, [], as_of=FEB)
    assert report.trajectory == ()
    assert (report.newest_data_on, report.data_age_days, report.stale) == (None, None, False)


def test_freshness() -> None:
    # Newest MMLU row 2025-01-01; as_of 2026-03-01 is 365 + 31 + 28 = 424 days later (> 180).
    report = gap_report(MMLU, MMLU_ROWS, as_of=date(2026, 3, 1))
    assert (report.newest_data_on, report.data_age_days, report.stale) == (
        month(2025, 1),
        424,
        True,
    )
    assert (
        "The newest MMLU data is from 2025-01-01, 424 days before 2026-03-01; "
        "trackers may have stopped measuring it." in report.notes
    )
    fresh = gap_report(MMLU, MMLU_ROWS, as_of=date(2025, 6, 30))  # 180 days: not stale yet
    assert (fresh.data_age_days, fresh.stale) == (180, False)


def test_notes_on_approximate_figures() -> None:
    report = gap_report(MMLU, MMLU_ROWS, as_of=month(2022, 11))
    assert report.notes == (
        "chatgpt's 70 is approximate.",
        "opt-175b's 53 is approximate.",
    )


def test_notes_on_settings() -> None:
    scores = [closed("p", 86.4, JAN, setting="5-shot"), open_("o", 85.0, JAN, setting="0-shot CoT")]
    report = gap_report(MMLU, scores, as_of=JAN)
    assert report.notes == (
        "The scores use different settings: p 5-shot, o 0-shot CoT.",
        "o's score is 0-shot CoT, not the canonical 5-shot.",
    )
    unknown = [closed("p", 86.4, JAN, setting="5-shot"), open_("o", 85.0, JAN)]
    assert gap_report(MMLU, unknown, as_of=JAN).notes == (
        "The scores use different settings: p 5-shot, o (setting unknown).",
    )


def test_noise_on_humaneval() -> None:
    # 164 questions: the gap 92.4 − 90.0 = 2.4 has the interval (−3.9, 8.8) (test_noise.py),
    # which holds the 2.0 threshold.
    humaneval = Benchmark(key="humaneval", name="HumanEval", question_count=164)
    scores = [
        closed("p", 92.4, JAN, benchmark="humaneval"),
        open_("o", 90.0, JAN, benchmark="humaneval"),
    ]
    report = gap_report(humaneval, scores, as_of=JAN)
    assert report.exceeds_threshold is True
    assert report.within_noise is True
    assert report.noise is not None and report.noise.n_questions == 164
    assert report.notes[-1] == (
        "The gap's 95% interval (-3.9 to 8.8) includes the 2-point threshold: "
        "within sampling noise on 164 questions."
    )


def test_noise_on_mmlu_outside_noise() -> None:
    # 14,042 questions, 86.5 vs 82.0: (3.65, 5.35) stays above 2.0.
    mmlu = Benchmark(key="mmlu", name="MMLU", question_count=14_042)
    report = gap_report(mmlu, MMLU_ROWS, as_of=month(2024, 4))
    assert report.within_noise is False
    assert not any("noise" in note for note in report.notes)


def test_no_noise_without_question_count() -> None:
    report = gap_report(MMLU, MMLU_ROWS, as_of=month(2024, 4))
    assert (report.noise, report.within_noise) == (None, None)


# --- dashboard ---------------------------------------------------------------------------------

D2023, D2024_JAN, D2024_MAR = date(2023, 1, 1), date(2024, 1, 1), date(2024, 3, 1)
NOW = date(2024, 6, 1)  # 12 months back: 2023-06-01


def _report(*scores: Score) -> GapReport:
    return gap_report(MMLU, list(scores), as_of=NOW)


DASHBOARD_CASES = [
    # Gap 10 on 2023-06-01 (90 − 80), 5 now (90 − 85): −5 → narrowing.
    (
        _report(closed("p", 90, D2023), open_("o", 80, D2023), open_("o2", 85, D2024_MAR)),
        ("narrowing", -5.0, date(2023, 6, 1)),
    ),
    # Gap 10 then, 15 now (95 − 80): +5 → widening.
    (
        _report(closed("p", 90, D2023), open_("o", 80, D2023), closed("p2", 95, D2024_MAR)),
        ("widening", 5.0, date(2023, 6, 1)),
    ),
    # Nothing moved in 12 months: change 0 → stable (freshness is the row's other column).
    (_report(closed("p", 90, D2023), open_("o", 80, D2023)), ("stable", 0.0, date(2023, 6, 1))),
    # −0.4 is inside the ±0.5 band → stable; −0.6 is outside → narrowing.
    (
        _report(closed("p", 90, D2023), open_("o", 80, D2023), open_("o2", 80.4, D2024_MAR)),
        ("stable", -0.4, date(2023, 6, 1)),
    ),
    (
        _report(closed("p", 90, D2023), open_("o", 80, D2023), open_("o2", 80.6, D2024_MAR)),
        ("narrowing", -0.6, date(2023, 6, 1)),
    ),
    # Open leads or ties → closed/reversed, whatever the change.
    (
        _report(closed("p", 90, D2023), open_("o", 80, D2023), open_("o2", 90, D2024_MAR)),
        ("closed/reversed", -10.0, date(2023, 6, 1)),
    ),
    # No open score 12 months ago: measured from the first day both sides existed
    # (2024-01-01, gap 10) → 5 now: −5 → narrowing.
    (
        _report(closed("p", 90, D2023), open_("o", 80, D2024_JAN), open_("o2", 85, D2024_MAR)),
        ("narrowing", -5.0, D2024_JAN),
    ),
    # The gap exists since 2024-01-01 and never moved: no history to judge.
    (_report(closed("p", 90, D2023), open_("o", 80, D2024_JAN)), (None, None, None)),
    # No open side at all.
    (_report(closed("p", 90, D2023)), (None, None, None)),
]


@pytest.mark.parametrize(("report", "expected"), DASHBOARD_CASES)
def test_dashboard_direction(report: GapReport, expected: tuple) -> None:
    (row,) = dashboard([report]).rows
    assert (row.direction, row.change, row.change_since) == expected
    assert row.gap == report.gap
    assert row.newest_data_on == report.newest_data_on


def test_dashboard_over_the_report_benchmarks() -> None:
    as_of = date(2025, 1, 1)
    board = dashboard(
        [
            gap_report(MMLU, MMLU_ROWS, as_of=as_of),
            gap_report(GSM8K, GSM8K_ROWS, as_of=as_of),
            gap_report(HUMANEVAL, HUMANEVAL_ROWS, as_of=as_of),
        ]
    )
    assert isinstance(board, Dashboard)
    assert [(r.benchmark.key, r.gap, r.direction) for r in board.rows] == [
        ("mmlu", -2.1, "closed/reversed"),
        ("gsm8k", -2.0, "closed/reversed"),
        ("humaneval", -3.9, "closed/reversed"),
    ]
    assert [r.newest_data_on for r in board.rows] == [month(2025, 1)] * 3


# --- properties --------------------------------------------------------------------------------

EPOCH = date(2020, 1, 1)
days = st.integers(min_value=0, max_value=60).map(lambda d: EPOCH + timedelta(days=30 * d))
# Values on a coarse grid so ties and same-day collisions happen often.
values = st.integers(min_value=0, max_value=40).map(lambda v: v * 2.5)
scores_strategy = st.lists(
    st.builds(
        score,
        slug=st.sampled_from(["a", "b", "c", "d", "e", "f"]),
        value=values,
        on=days,
        open_=st.booleans(),
    ),
    max_size=30,
)
AS_OF_ALL = EPOCH + timedelta(days=30 * 61)


def _brute_best(scores: list[Score], *, open_weights: bool, on: date) -> float | None:
    side = [s.value for s in scores if s.open_weights == open_weights and s.available_on <= on]
    return max(side, default=None)


@given(scores_strategy)
def test_frontier_rises_strictly_and_matches_a_brute_force_best(scores: list[Score]) -> None:
    for side in (False, True):
        series = frontier_series(scores, open_weights=side)
        assert all(a.value < b.value for a, b in pairwise(series))
        assert all(a.available_on < b.available_on for a, b in pairwise(series))
        for record in series:
            assert _brute_best(scores, open_weights=side, on=record.available_on) == record.value


@given(scores_strategy)
def test_trajectory_gap_is_best_proprietary_minus_best_open(scores: list[Score]) -> None:
    report = gap_report(MMLU, scores, as_of=AS_OF_ALL)
    for point in report.trajectory:
        p = _brute_best(scores, open_weights=False, on=point.date)
        o = _brute_best(scores, open_weights=True, on=point.date)
        assert point.gap == (None if p is None or o is None else pytest.approx(p - o, abs=1e-9))


@given(scores_strategy, st.randoms(use_true_random=False))
def test_input_order_does_not_matter(scores: list[Score], rnd: random.Random) -> None:
    shuffled = list(scores)
    rnd.shuffle(shuffled)
    assert gap_report(MMLU, shuffled, as_of=AS_OF_ALL) == gap_report(MMLU, scores, as_of=AS_OF_ALL)


def _swap(s: Score) -> Score:
    return score(s.model_slug, s.value, s.available_on, open_=not s.open_weights)


@given(scores_strategy)
def test_swapping_labels_flips_the_gap(scores: list[Score]) -> None:
    report = gap_report(MMLU, scores, as_of=AS_OF_ALL)
    swapped = gap_report(MMLU, [_swap(s) for s in scores], as_of=AS_OF_ALL)
    assert [p.date for p in swapped.trajectory] == [p.date for p in report.trajectory]
    for mine, theirs in zip(report.trajectory, swapped.trajectory, strict=True):
        assert theirs.gap == (None if mine.gap is None else -mine.gap)


@given(scores_strategy, st.data())
def test_a_score_below_its_sides_frontier_changes_nothing(
    scores: list[Score], data: st.DataObject
) -> None:
    # Holds only for a score at or after a better score of its own side: placed before its
    # side's first record, a low score would start the frontier earlier.
    if not scores:
        return
    base = data.draw(st.sampled_from(scores))
    later = data.draw(st.integers(min_value=0, max_value=90))
    extra = score(
        "extra",
        base.value - 0.5,
        base.available_on + timedelta(days=later),
        open_=base.open_weights,
    )
    before = gap_report(MMLU, scores, as_of=AS_OF_ALL)
    after = gap_report(MMLU, [*scores, extra], as_of=AS_OF_ALL)
    assert after.trajectory == before.trajectory
    assert (after.proprietary, after.open, after.gap) == (
        before.proprietary,
        before.open,
        before.gap,
    )


@given(scores_strategy, values, days)
def test_a_new_open_score_never_widens_the_gap(scores: list[Score], value: float, on: date) -> None:
    before = gap_report(MMLU, scores, as_of=AS_OF_ALL)
    after = gap_report(MMLU, [*scores, open_("new", value, on)], as_of=AS_OF_ALL)
    for point in before.trajectory:
        old, new = point.gap, gap_at(after.trajectory, point.date)
        if old is not None:
            assert new is not None and new <= old
