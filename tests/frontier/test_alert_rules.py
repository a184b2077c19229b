"""The alert rules' pure decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from frontier import alert_rules as rules
from frontier.errors import InputError
from frontier.lag import CatchUp
from frontier.types import Architecture, Citation, ModelSpec, Score

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def run(gaps: list[float | None], threshold: float = 2.0, hysteresis: float = 0.25):
    state, out = None, []
    for gap in gaps:
        step = rules.step_gap(state, gap, threshold=threshold, hysteresis=hysteresis)
        state = step.state
        out.append(step.crossing or step.reason)
    return out, state


def test_hysteresis_sequence_worked_by_hand() -> None:
    # 1.9 baseline (armed); 2.1 crosses up; 1.95 is back below but within 0.25 of the line
    # right after an alert (not armed): noise; 2.3 is 0.25 past the line: re-armed; 1.7 down.
    out, state = run([1.9, 2.1, 1.95, 2.3, 1.7])
    assert out == ["baseline", "up", "within noise", "no crossing", "down"]
    assert state is not None and state.crossings == 2 and state.side == "below"


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [
        ([2.5, 2.4, 2.6], ["baseline", "no crossing", "no crossing"]),
        ([1.0, 3.0, 1.0, 3.0], ["baseline", "up", "down", "up"]),  # big moves always count
        (
            [1.9, 2.05, 1.99, 2.01, 1.98],
            ["baseline", "up", "within noise", "no crossing", "within noise"],
        ),
        ([2.1, 1.5], ["baseline", "down"]),
        ([2.0, 2.0], ["baseline", "no crossing"]),  # exactly on the line is not above it
        ([None, 1.0, None], ["no gap", "baseline", "no gap"]),
    ],
)
def test_latch_table(gaps, expected) -> None:
    assert run(gaps)[0] == expected


def test_a_new_threshold_is_a_silent_baseline() -> None:
    step = rules.step_gap(None, 1.0, threshold=2.0, hysteresis=0.25)
    again = rules.step_gap(step.state, 1.5, threshold=1.2, hysteresis=0.25)
    assert again.crossing is None and again.reason == "baseline"
    assert again.state is not None and again.state.side == "above"


def test_state_round_trips_and_bad_state_is_none() -> None:
    state = rules.GapState("above", False, 2.3, 2.0, 3)
    assert rules.GapState.from_dict(state.to_dict()) == state
    assert rules.GapState.from_dict({"side": "sideways"}) is None
    assert rules.GapState.from_dict({"side": "above", "gap": "x", "threshold": 2}) is None
    assert rules.GapState.from_dict(None) is None


def spec(params: float | None, open_weights: bool | None = True) -> ModelSpec:
    arch = Architecture(layers=32, kv_heads=8, head_dim=128, max_context=131072)
    return ModelSpec("m", "M", open_weights=open_weights, total_params_b=params, architecture=arch)


def test_fits_alert_only_for_open_models_that_fit_at_4_bits() -> None:
    report = rules.fits_alert(spec(8.0), budget_gib=24.0)
    assert report is not None and report.best_quant is not None
    assert report.best_quant.nominal_bits >= 8  # 8B fits at 8 bits or better in 24 GiB
    assert rules.fits_alert(spec(70.0), budget_gib=24.0) is None
    assert rules.fits_alert(spec(8.0, open_weights=False), budget_gib=24.0) is None
    assert rules.fits_alert(spec(None), budget_gib=24.0) is None
    assert rules.fits_alert(spec(70.0), budget_gib=80.0) is not None


def score(slug: str, value: float, day: date, open_weights: bool) -> Score:
    return Score(slug, slug.upper(), open_weights, "mmlu", value, day, Citation("x", "X"))


def test_new_catch_ups_by_key() -> None:
    pair = CatchUp(
        score("gpt-4", 86.4, date(2023, 3, 14), False),
        score("llama", 86.0, date(2024, 7, 23), True),
        16.3,
    )
    key = rules.catch_up_key(pair)
    assert rules.new_catch_ups([pair], []) == [pair]
    assert rules.new_catch_ups([pair], [key]) == []


def test_source_down_needs_failures_and_duration() -> None:
    since = T0 - timedelta(hours=7)
    assert rules.source_down(3, since, T0)
    assert not rules.source_down(2, since, T0)  # one blip or two is not an outage
    assert not rules.source_down(5, T0 - timedelta(hours=1), T0)  # not long enough
    assert not rules.source_down(5, None, T0)


def test_format_drift() -> None:
    assert rules.format_drifted(rows=4, rejected=6)
    assert not rules.format_drifted(rows=90, rejected=10)
    assert not rules.format_drifted(rows=1, rejected=3)  # too few rows to say


def test_kinds_and_durations() -> None:
    assert rules.parse_kinds("all") == []
    assert rules.parse_kinds("fits, gap") == ["gap", "fits"]
    with pytest.raises(InputError, match="unknown alert kind 'gpa'"):
        rules.parse_kinds("gpa")
    assert rules.kind_enabled([], "gap") and not rules.kind_enabled(["fits"], "gap")
    assert rules.kind_enabled(["fits"], "admin")
    assert rules.parse_duration("2h") == timedelta(hours=2)
    assert rules.parse_duration("1d") == timedelta(days=1)
    assert rules.parse_duration("30m") == timedelta(minutes=30)
    assert rules.parse_duration("off") is None
    for bad in ("soon", "-2h", "0h", "200d"):
        with pytest.raises(InputError):
            rules.parse_duration(bad)


def test_delivery_decision() -> None:
    decide = rules.delivery_decision
    base = {"now": T0, "kind": "gap", "created_at": T0, "digest": False, "digest_due": None}
    assert decide(**base, muted_until=None).action == "send"
    muted = decide(**base, muted_until=T0 + timedelta(hours=2))
    assert (muted.action, muted.until, muted.reason) == ("hold", T0 + timedelta(hours=2), "muted")
    assert decide(**{**base, "kind": "admin"}, muted_until=T0 + timedelta(hours=2)).action == "send"
    stale = decide(**{**base, "created_at": T0 - timedelta(days=8)}, muted_until=None)
    assert (stale.action, stale.reason) == ("drop", "stale")
    old_prediction = {**base, "kind": "prediction", "created_at": T0 - timedelta(days=30)}
    assert decide(**old_prediction, muted_until=None).action == "send"
    digest = decide(**{**base, "digest": True}, muted_until=None)
    assert digest.action == "hold" and digest.until == datetime(2026, 12, 5, 9, tzinfo=UTC)
    due = decide(**{**base, "digest": True, "digest_due": T0}, muted_until=None)
    assert due.action == "send"


def test_retry_delay_grows_and_respects_retry_after() -> None:
    delays = [rules.retry_delay(n) for n in range(1, 10)]
    assert delays[0] == timedelta(seconds=30) and delays[1] == timedelta(minutes=1)
    assert delays == sorted(delays) and delays[-1] == rules.RETRY_CAP
    assert rules.retry_delay(1, retry_after=120) == timedelta(seconds=120)


def test_keys_and_nonces() -> None:
    assert rules.dedupe_key("gap", 1, "mmlu") == "gap:1:mmlu"
    long = rules.dedupe_key("fits", "x" * 400)
    assert len(long) == rules.DEDUPE_KEY_LIMIT and long != rules.dedupe_key("fits", "x" * 401)
    nonce = rules.delivery_nonce(12, "channel", 99)
    assert len(nonce) <= 25 and nonce == rules.delivery_nonce(12, "channel", 99)
    assert nonce != rules.delivery_nonce(12, "user", 99)


@pytest.mark.parametrize(
    ("direction", "last_seen", "first_unseen", "news"),
    [
        ("up", None, "up", True),  # nothing missed: the crossing itself
        ("down", None, "up", False),  # up and back down, both unseen
        ("up", None, "up", True),  # up, down, up: ends above, the server knew below
        ("down", "up", "down", True),  # the server saw up; down is news
        ("up", "up", "down", False),  # saw up; down and up again unseen: still above
    ],
)
def test_a_held_crossing_is_news_only_if_the_side_changed(
    direction, last_seen, first_unseen, news
) -> None:
    assert (
        rules.crossing_still_news(direction, last_seen=last_seen, first_unseen=first_unseen) is news
    )


@pytest.mark.parametrize(
    ("role_id", "name", "refused"),
    [(1, "@everyone", True), (5, "@everyone", True), (5, " Here ", True), (5, "gap-alerts", False)],
)
def test_mass_mention_roles_are_refused(role_id, name, refused) -> None:
    refusal = rules.ping_role_refusal(role_id, guild_id=1, name=name)
    assert (refusal is not None) is refused


def test_prediction_benchmarks_from_params() -> None:
    assert rules.prediction_benchmarks({"benchmarks": ["mmlu", "gsm8k"]}) == {"mmlu", "gsm8k"}
    assert rules.prediction_benchmarks({"benchmark": "mmlu", "min_score": 68}) == {"mmlu"}
    assert rules.prediction_benchmarks({"benchmark": 3}) == frozenset()
