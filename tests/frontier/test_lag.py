"""Epoch AI's catch-up lag, on hand-built series and on Epoch's own published pairs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontier.gap import frontier_series
from frontier.lag import (
    CatchUp,
    LagPoint,
    LagReport,
    OpenLag,
    SkippedRecord,
    UnsupportedBenchmarkError,
    catch_up_events,
    lag_report,
    log_error,
)
from frontier.types import Benchmark, Citation, Score

CITATION = Citation(source="test", label="hand-built")
MMLU = Benchmark(key="mmlu", name="MMLU")


def score(slug: str, value: float, on: date, *, open_: bool) -> Score:
    return Score(
        model_slug=slug,
        model_name=slug,
        open_weights=open_,
        benchmark="mmlu",
        value=value,
        available_on=on,
        citation=CITATION,
    )


def closed(slug: str, value: float, on: date) -> Score:
    return score(slug, value, on, open_=False)


def open_(slug: str, value: float, on: date) -> Score:
    return score(slug, value, on, open_=True)


def report(*scores: Score, as_of: date = date(2025, 1, 1), tolerance: float = 0.02) -> LagReport:
    return lag_report(MMLU, list(scores), as_of=as_of, tolerance=tolerance)


# --- the log-error scale -------------------------------------------------------------------------

LOG_ERROR_CASES = [
    (80.0, 1.6094),  # −ln(0.2)
    (79.5, 1.5847),  # −ln(0.205)
    (79.8, 1.5995),  # −ln(0.202)
    (0.0, 0.0),  # −ln(1)
    (100.0, 20.7233),  # clamped: −ln(1e-9) = 9·ln(10), not infinity
]


@pytest.mark.parametrize(("value", "expected"), LOG_ERROR_CASES)
def test_log_error(value: float, expected: float) -> None:
    assert log_error(value) == pytest.approx(expected, abs=1e-4)


# --- hand-built series -------------------------------------------------------------------------

JAN_23 = date(2023, 1, 1)
C80 = closed("c80", 80.0, JAN_23)


def test_just_outside_the_tolerance_is_no_match() -> None:
    # 1.6094 − 1.5847 = 0.0247 > 0.02: 79.5 does not reach 80. The record stays open:
    # 2023-01-01 → 2024-01-01 is 365 days → 12.0 months, a lower bound.
    lag = report(C80, open_("o", 79.5, date(2023, 7, 2)), as_of=date(2024, 1, 1))
    assert lag.pairs == ()
    assert lag.mean_months is None
    assert lag.open_lags == (OpenLag(C80, 12.0),)
    assert lag.series == (LagPoint(JAN_23, 12.0, True),)


def test_within_the_tolerance_is_a_match() -> None:
    # 1.6094 − 1.5995 = 0.0099 ≤ 0.02: 79.8 matches 80. 2023-01-01 → 2023-07-02 is 182 days
    # → 182/365·12 = 5.9836 months.
    o = open_("o", 79.8, date(2023, 7, 2))
    lag = report(C80, o)
    assert lag.pairs == (CatchUp(C80, o, pytest.approx(5.9836, abs=1e-4)),)
    assert lag.mean_months == pytest.approx(5.9836, abs=1e-4)
    assert lag.open_lags == ()


def test_a_tolerance_of_zero_needs_a_strictly_higher_score() -> None:
    lag = report(C80, open_("o", 79.8, date(2023, 7, 2)), tolerance=0.0, as_of=date(2024, 1, 1))
    assert (lag.pairs, len(lag.open_lags)) == ((), 1)


def test_a_record_an_earlier_open_model_already_beat_is_skipped() -> None:
    # Open 70 (2022-01-01, 1.2040) is above closed 69's bar (−ln .31 − .02 = 1.1512) and was
    # released before it: skipped, no negative lag. Closed 75 (1.3863, bar 1.3663): 70 falls
    # short, open 76 (1.4271) reaches it: 2022-09-01 → 2023-03-01 is 181 days → 5.9507 months.
    o70, c69 = open_("o70", 70.0, date(2022, 1, 1)), closed("c69", 69.0, date(2022, 6, 1))
    c75, o76 = closed("c75", 75.0, date(2022, 9, 1)), open_("o76", 76.0, date(2023, 3, 1))
    lag = report(o70, c69, c75, o76)
    assert lag.skipped == (SkippedRecord(c69, o70, "open already ahead"),)
    assert lag.pairs == (CatchUp(c75, o76, pytest.approx(5.9507, abs=1e-4)),)


def test_an_open_record_of_the_same_day_matches_with_no_lag() -> None:
    o = open_("o", 80.0, JAN_23)
    assert report(C80, o).pairs == (CatchUp(C80, o, 0.0),)


def test_a_record_the_last_match_covers_is_already_matched() -> None:
    # A 80 (1.6094) is matched by W 80.5 (1.6348 > 1.5894): 2023-01-01 → 2023-06-01 is
    # 151 days → 4.9644 months. B 80.3 (1.6246) ≤ W + tolerance (1.6548): already matched.
    # C 82 (1.7148) > 1.6548 needs its own match; bar 1.6948: W falls short, V 81.8 (1.7037)
    # reaches it: 2023-09-01 → 2024-03-01 is 182 days → 5.9836 months.
    # Mean (4.9644 + 5.9836)/2 = 5.4740.
    b = closed("b", 80.3, date(2023, 3, 1))
    w = open_("w", 80.5, date(2023, 6, 1))
    c = closed("c", 82.0, date(2023, 9, 1))
    v = open_("v", 81.8, date(2024, 3, 1))
    lag = report(C80, b, w, c, v)
    assert lag.pairs == (
        CatchUp(C80, w, pytest.approx(4.9644, abs=1e-4)),
        CatchUp(c, v, pytest.approx(5.9836, abs=1e-4)),
    )
    assert lag.skipped == (SkippedRecord(b, w, "already matched"),)
    assert lag.mean_months == pytest.approx(5.4740, abs=1e-4)
    assert [p.closed_on for p in lag.series] == [JAN_23, date(2023, 9, 1)]
    assert catch_up_events(lag) == lag.pairs
    assert catch_up_events(lag, since=date(2023, 6, 1)) == lag.pairs[1:]


def test_models_of_one_day_collapse_to_the_best() -> None:
    # 80 and 85 on the same day are one record, 85 (1.8971, bar 1.8771). Open 84 (1.8326)
    # falls short, so the 85 record is an open lag of 2023-01-01 → 2024-01-01 = 12.0 months;
    # the 80 alone would have been matched.
    c85 = closed("c85", 85.0, JAN_23)
    lag = report(C80, c85, open_("o", 84.0, date(2023, 7, 1)), as_of=date(2024, 1, 1))
    assert (lag.pairs, lag.open_lags) == ((), (OpenLag(c85, 12.0),))


def test_perfect_scores_match_through_the_clamp() -> None:
    # 100% on both sides: both clamp to 20.7233, and 20.7233 > 20.7033. 181 days → 5.9507.
    c100, o100 = closed("c", 100.0, JAN_23), open_("o", 100.0, date(2023, 7, 1))
    assert report(c100, o100).pairs == (CatchUp(c100, o100, pytest.approx(5.9507, abs=1e-4)),)
    # 99.99% is −ln(1e-4) = 9.21, nowhere near 20.70 on this scale.
    assert report(c100, open_("o", 99.99, date(2023, 7, 1))).pairs == ()


def test_scores_after_as_of_do_not_count() -> None:
    lag = report(C80, open_("o", 81.0, date(2023, 7, 2)), as_of=date(2023, 7, 1))
    assert lag.pairs == ()
    assert lag.open_lags == (OpenLag(C80, pytest.approx(181 / 365 * 12)),)


def test_lag_needs_an_accuracy_benchmark() -> None:
    perplexity = Benchmark(key="ppl", name="Perplexity", higher_is_better=False)
    with pytest.raises(UnsupportedBenchmarkError):
        lag_report(perplexity, [], as_of=JAN_23)


def test_events_since_a_day_leave_out_catch_ups_of_that_day_and_before() -> None:
    # Both frontiers rise, so the open dates of the pairs rise with the closed records: the
    # events come in the pairs' order. a 50 ← oa 55 (2021-01-01), b 60 ← ob 65 (2021-06-01).
    a, b = closed("a", 50.0, date(2020, 1, 1)), closed("b", 60.0, date(2020, 6, 1))
    oa, ob = open_("oa", 55.0, date(2021, 1, 1)), open_("ob", 65.0, date(2021, 6, 1))
    lag = report(a, b, oa, ob)
    assert [(e.closed, e.open) for e in catch_up_events(lag)] == [(a, oa), (b, ob)]
    assert [e.open for e in catch_up_events(lag, since=date(2021, 1, 1))] == [ob]
    assert catch_up_events(lag, since=date(2021, 6, 1)) == ()


# --- Epoch's published pairs ---------------------------------------------------------------------
# The matched records and their levels as benchmark_analysis.ipynb prints them
# (epoch-research/open-model-trends, "discrete_lags" cell). Fed only these records, the method
# must find the same pairs and lags.

EPOCH_MMLU = [
    closed("text-davinci-001", 39.7, date(2020, 5, 28)),
    closed("gopher-280b", 60.0, date(2021, 12, 8)),
    closed("code-davinci-002", 68.2, date(2022, 3, 1)),
    closed("palm-540b", 71.3, date(2022, 4, 4)),
    closed("gpt-4", 86.4, date(2023, 3, 15)),
    open_("bloom-176b", 39.13, date(2022, 7, 11)),
    open_("llama-1-65b", 63.4, date(2023, 2, 24)),
    open_("llama-2-70b", 68.9, date(2023, 7, 18)),
    open_("grok-1", 73.0, date(2023, 11, 3)),
    open_("llama-3.1-405b", 87.3, date(2024, 7, 23)),
]
# 39.7 (0.5058) ← 39.13 (0.4964 > 0.4858), 775 days; 60.0 (0.9163) ← 63.4 (1.0051), 443 days;
# 68.2 (1.1457) ← 68.9 (1.1712), 504 days; 71.3 (1.2483) ← 73.0 (1.3093), 578 days;
# 86.4 (1.9951) ← 87.3 (2.0636), 496 days. Mean 18.4 months, as the notebook prints.
EPOCH_MMLU_LAGS = [25.4466, 14.5644, 16.5699, 19.0027, 16.3068]

EPOCH_GSM1K = [
    closed("gpt-3.5-turbo", 75.3, date(2023, 6, 13)),
    closed("claude-2.1", 89.4, date(2023, 7, 11)),
    closed("gpt-4-0125-preview", 95.1, date(2024, 1, 25)),
    open_("mixtral-8x22b-instruct", 76.0, date(2024, 4, 17)),
    open_("llama-3-70b", 90.12, date(2024, 4, 18)),
    open_("llama-3.1-405b", 95.6, date(2024, 7, 23)),
]
# 309, 282 and 180 days. Mean 8.4 months.
EPOCH_GSM1K_LAGS = [10.1589, 9.2712, 5.9178]


@pytest.mark.parametrize(
    ("scores", "lags", "mean"),
    [(EPOCH_MMLU, EPOCH_MMLU_LAGS, 18.4), (EPOCH_GSM1K, EPOCH_GSM1K_LAGS, 8.4)],
)
def test_epoch_pairs_are_reproduced(scores: list[Score], lags: list[float], mean: float) -> None:
    lag = lag_report(MMLU, scores, as_of=date(2024, 10, 1))
    assert [p.months for p in lag.pairs] == pytest.approx(lags, abs=1e-4)
    assert [p.closed for p in lag.pairs] == [s for s in scores if not s.open_weights]
    assert [p.open for p in lag.pairs] == [s for s in scores if s.open_weights]
    assert lag.mean_months == pytest.approx(mean, abs=0.05)


# --- properties --------------------------------------------------------------------------------

EPOCH0 = date(2020, 1, 1)
days = st.integers(min_value=0, max_value=60).map(lambda d: EPOCH0 + timedelta(days=30 * d))
values = st.integers(min_value=0, max_value=200).map(lambda v: v / 2)  # 0.0 … 100.0
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
AS_OF = EPOCH0 + timedelta(days=30 * 61)


def _reference_pairs(scores: list[Score], tolerance: float = 0.02) -> list[tuple[Score, Score]]:
    """The notebook's loop, quadratic as written there, plus the earlier-open-model skip."""
    closed_records = frontier_series(scores, open_weights=False)
    open_records = frontier_series(scores, open_weights=True)
    pairs = []
    winner = None
    for c in closed_records:
        if winner is not None and log_error(c.value) <= log_error(winner.value) + tolerance:
            continue
        for o in open_records:
            if log_error(o.value) > log_error(c.value) - tolerance:
                if o.available_on >= c.available_on:
                    winner = o
                    pairs.append((c, o))
                break
    return pairs


@given(scores_strategy)
def test_the_linear_walk_agrees_with_the_notebooks_loop(scores: list[Score]) -> None:
    lag = lag_report(MMLU, scores, as_of=AS_OF)
    assert [(p.closed, p.open) for p in lag.pairs] == _reference_pairs(scores)


@given(scores_strategy)
def test_lags_are_never_negative(scores: list[Score]) -> None:
    # True here only because an earlier open model's record is skipped; the notebook's loop
    # would pair it and print a negative lag.
    lag = lag_report(MMLU, scores, as_of=AS_OF)
    assert all(p.months >= 0 for p in lag.pairs)
    assert all(o.months >= 0 for o in lag.open_lags)
    assert lag.mean_months is None or lag.mean_months >= 0


@given(scores_strategy)
def test_every_closed_record_is_paired_open_or_skipped_exactly_once(scores: list[Score]) -> None:
    lag = lag_report(MMLU, scores, as_of=AS_OF)
    accounted = (
        [p.closed for p in lag.pairs]
        + [o.closed for o in lag.open_lags]
        + [s.closed for s in lag.skipped]
    )
    assert sorted(accounted, key=lambda s: s.available_on) == list(
        frontier_series(scores, open_weights=False)
    )
    assert len(lag.series) == len(lag.pairs) + len(lag.open_lags)


@given(scores_strategy)
def test_each_pair_is_within_tolerance_and_each_open_record_matches_once(
    scores: list[Score],
) -> None:
    lag = lag_report(MMLU, scores, as_of=AS_OF)
    for p in lag.pairs:
        assert log_error(p.open.value) > log_error(p.closed.value) - lag.tolerance
        assert p.open.available_on >= p.closed.available_on
    assert len({p.open for p in lag.pairs}) == len(lag.pairs)
    events = catch_up_events(lag)
    assert sorted(events, key=lambda e: e.open.available_on) == list(events)
    assert set(events) == set(lag.pairs)
