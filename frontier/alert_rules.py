"""The alert rules' decisions: pure functions from what a rule saw before and sees now.

``jobs/alerts.py`` wires them to the store (``RuleState`` rows hold each rule's memory) and
``jobs/delivery.py`` asks :func:`delivery_decision` what to do with a due delivery. Nothing
here reads a clock or a database.

Gap crossings use a latch with hysteresis, so a gap wobbling around the line does not flap:

- The state is the side of the line last *announced* (``above``: gap > threshold) and whether
  the latch is *armed*. The first observation is a silent baseline, armed.
- A crossing of the line is announced when the latch is armed, or when the new gap is already
  ``hysteresis`` points past the line (a big move is never swallowed).
- After an announcement the latch re-arms once the gap has been ``hysteresis`` points past the
  line on the announced side.

With the line at 2.0 and hysteresis 0.25, the gaps 1.9 → 2.1 → 1.95 → 2.3 → 1.7 give two
announcements: up at 2.1 (baseline armed) and down at 1.7. The fall to 1.95 is within the band
right after the announcement (not armed, not 0.25 past the line): dropped as noise; 2.3 re-arms.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from frontier.errors import InputError
from frontier.fits import DEFAULT_CONTEXT, FitReport, fit_report
from frontier.lag import CatchUp
from frontier.types import ModelSpec

Side = Literal["above", "below"]
Direction = Literal["up", "down"]

ALERT_KINDS: Mapping[str, str] = {
    "gap": "the gap crosses the server's threshold",
    "fits": "a new open model fits the server's VRAM budget",
    "open_best": "a new open-weights best on a tracked benchmark",
    "catch_up": "an open model matches a proprietary frontier record",
    "prediction": "a prediction resolves or changes status",
    "source_health": "a data source fails for hours or its format drifts",
}
"""Every kind a server can switch on or off (an empty list in the settings means all)."""

DEDUPE_KEY_LIMIT = 255  # alert.dedupe_key's column length

DIGEST_HOUR_UTC = 9
"""Digest servers get one message a day at this hour (UTC): morning in Europe, night in the
Americas; a judgement, changeable without a migration."""

STALE_ALERT_AFTER = timedelta(days=7)
"""An alert not delivered within a week (a long mute, an outage) is news no more; prediction
resolutions are exempt (they stay true)."""

NEVER_STALE_KINDS = frozenset({"prediction", "admin"})
IMMEDIATE_KINDS = frozenset({"admin", "test"})
"""Kinds a mute or a digest never holds: notices about the bot itself and /alerts test."""

RETRY_FIRST = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 12
"""Retries of 429/5xx: 30 s, 1, 2, 4 … minutes capped at an hour; after 12 attempts (about 8 h
of failures) the delivery is given up. Discord's own 429 ``retry_after`` wins when longer."""

SOURCE_DOWN_MIN_FAILURES = 3
SOURCE_DOWN_MIN_DURATION = timedelta(hours=6)
"""A source is "down" after at least 3 consecutive failed polls AND 6 hours without a success:
one failed poll is a blip (the poller backs off 1, 2, 4 … minutes), and superfeedr's users asked
for alerts only on sustained failure (notes/prior-art.md §3.2). Both must hold, so a source polled
every minute does not page after 3 minutes, nor one polled daily after a single failure."""

DRIFT_MIN_ROWS = 10
DRIFT_REJECTED_SHARE = 0.5
"""A batch in which at least half of at least 10 rows were rejected signals format drift (a
renamed column, a new scale), not a few bad rows."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|mins|h|hr|hrs|d|day|days|w|wk|weeks?)\s*$")
_UNIT = {"m": 1, "min": 1, "mins": 1, "h": 60, "hr": 60, "hrs": 60, "d": 1440, "day": 1440}
MAX_MUTE = timedelta(days=90)


# --- gap crossings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GapState:
    """A gap rule's memory for one server and benchmark.

    Attributes:
        side: The side of the line last announced (or the baseline's).
        armed: Whether the next crossing of the line is announced even if small.
        gap: The gap last seen.
        threshold: The line the state was computed for (a new threshold means a new baseline).
        crossings: How many crossings were announced (part of the dedupe key).
    """

    side: Side
    armed: bool
    gap: float
    threshold: float
    crossings: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored in ``rule_state.state``."""
        return {
            "side": self.side,
            "armed": self.armed,
            "gap": self.gap,
            "threshold": self.threshold,
            "crossings": self.crossings,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> GapState | None:
        """The state stored by :meth:`to_dict`, or None if there is none (or it is unreadable)."""
        if not data or data.get("side") not in ("above", "below"):
            return None
        try:
            return cls(
                side=data["side"],
                armed=bool(data.get("armed", True)),
                gap=float(data["gap"]),
                threshold=float(data["threshold"]),
                crossings=int(data.get("crossings", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class GapStep:
    """What one new gap does to the latch.

    Attributes:
        state: The new state (store it).
        crossing: ``"up"`` (the gap rose above the line) or ``"down"``, when announced.
        reason: Why nothing is announced: ``baseline``, ``no crossing``, ``within noise`` or
            ``no gap``; None when a crossing is announced.
    """

    state: GapState | None
    crossing: Direction | None
    reason: str | None


def side_of(gap: float, threshold: float) -> Side:
    """``above`` when the gap exceeds the line (as ``GapReport.exceeds_threshold``)."""
    return "above" if gap > threshold else "below"


def _past_band(gap: float, side: Side, threshold: float, hysteresis: float) -> bool:
    """Whether ``gap`` is at least ``hysteresis`` points past the line on ``side``."""
    if side == "above":
        return gap >= threshold + hysteresis
    return gap <= threshold - hysteresis


def step_gap(
    state: GapState | None, gap: float | None, *, threshold: float, hysteresis: float
) -> GapStep:
    """Feed one new gap to a server's latch for one benchmark.

    Args:
        state: The stored state, or None before the first observation.
        gap: The gap now (P − O, points), or None when a side is missing.
        threshold: The server's line.
        hysteresis: How far past the line a gap must move to count as more than noise.

    Returns:
        The new state and the crossing to announce, if any.
    """
    if hysteresis < 0:
        raise ValueError("hysteresis must not be negative")
    if gap is None:
        return GapStep(state, None, "no gap")
    now = side_of(gap, threshold)
    if state is None or state.threshold != threshold:
        return GapStep(GapState(now, True, gap, threshold), None, "baseline")
    if now == state.side:
        armed = state.armed or _past_band(gap, now, threshold, hysteresis)
        return GapStep(GapState(now, armed, gap, threshold, state.crossings), None, "no crossing")
    if not (state.armed or _past_band(gap, now, threshold, hysteresis)):
        kept = GapState(state.side, False, gap, threshold, state.crossings)
        return GapStep(kept, None, "within noise")
    armed = _past_band(gap, now, threshold, hysteresis)
    direction: Direction = "up" if now == "above" else "down"
    return GapStep(GapState(now, armed, gap, threshold, state.crossings + 1), direction, None)


# --- fits, open bests, catch-ups -------------------------------------------------------------


def fits_alert(
    model: ModelSpec, *, budget_gib: float, context: int = DEFAULT_CONTEXT, min_bits: float = 4.0
) -> FitReport | None:
    """The fit report of a new model worth a "now fits your GPU" alert, or None.

    Only open-weights models with a known parameter count qualify, and only when some format of
    at least ``min_bits`` bits (4-bit or better) fits ``budget_gib`` at ``context``.
    """
    if not model.open_weights or not model.total_params_b:
        return None
    report = fit_report(model, budget_gib=budget_gib, context=context, min_bits=min_bits)
    return report if report.fits_at_min_bits else None


def catch_up_key(pair: CatchUp) -> str:
    """A pair's identity: which open record matched which proprietary record."""
    return (
        f"{pair.closed.benchmark}:{pair.closed.model_slug}@{pair.closed.available_on}"
        f"={pair.open.model_slug}@{pair.open.available_on}"
    )


def new_catch_ups(pairs: Iterable[CatchUp], seen: Iterable[str]) -> list[CatchUp]:
    """The pairs not announced before (``seen`` holds :func:`catch_up_key` values)."""
    known = set(seen)
    return [pair for pair in pairs if catch_up_key(pair) not in known]


def source_down(consecutive_failures: int, failing_since: datetime | None, now: datetime) -> bool:
    """Whether a source has failed long enough to tell the admins (both conditions hold)."""
    if consecutive_failures < SOURCE_DOWN_MIN_FAILURES or failing_since is None:
        return False
    return now - failing_since >= SOURCE_DOWN_MIN_DURATION


def format_drifted(rows: int, rejected: int) -> bool:
    """Whether a batch's rejections look like format drift rather than a few bad rows."""
    total = rows + rejected
    return total >= DRIFT_MIN_ROWS and rejected >= DRIFT_REJECTED_SHARE * total


# --- filtering, muting, digests --------------------------------------------------------------


def kind_enabled(kinds: Sequence[str], kind: str) -> bool:
    """Whether a server wants alerts of ``kind`` (no list: every kind)."""
    return kind in IMMEDIATE_KINDS or not kinds or kind in kinds


def parse_kinds(text: str) -> list[str]:
    """A kinds option (``gap, fits`` or ``all``) as a list; empty means all.

    Raises:
        InputError: An unknown kind, with the known ones.
    """
    words = [w for w in re.split(r"[\s,;]+", text.strip().lower()) if w]
    if not words or words == ["all"]:
        return []
    unknown = [w for w in words if w not in ALERT_KINDS]
    if unknown:
        raise InputError(
            f"unknown alert kind {unknown[0]!r}; use 'all' or some of: {', '.join(ALERT_KINDS)}"
        )
    return sorted(set(words), key=list(ALERT_KINDS).index)


def parse_duration(text: str) -> timedelta | None:
    """A mute duration: ``30m``, ``2h``, ``1d``, ``1w``; ``off`` (or ``0``) is None.

    Raises:
        InputError: Not a duration, or longer than 90 days.
    """
    raw = text.strip().lower()
    if raw in ("off", "0", "none", "unmute"):
        return None
    match = _DURATION.match(raw)
    if match is None:
        raise InputError(f"duration must look like 30m, 2h, 1d or off, got {text.strip()[:30]!r}")
    amount, unit = float(match.group(1)), match.group(2)
    minutes = amount * (_UNIT.get(unit) or 7 * 1440)
    if minutes <= 0:
        raise InputError("duration must be longer than zero; use 'off' to unmute")
    duration = timedelta(minutes=minutes)
    if duration > MAX_MUTE:
        raise InputError("a mute lasts at most 90 days")
    return duration


def next_digest_at(now: datetime, hour: int = DIGEST_HOUR_UTC) -> datetime:
    """The next digest time (``hour``:00 UTC) strictly after ``now``."""
    today = datetime.combine(now.date(), time(hour), tzinfo=now.tzinfo)
    return today if today > now else today + timedelta(days=1)


@dataclass(frozen=True)
class DeliveryDecision:
    """What the dispatcher does with a due delivery now.

    Attributes:
        action: ``send``, ``hold`` (try again at ``until``) or ``drop``.
        until: For ``hold``, when the delivery is due again.
        reason: For ``hold`` and ``drop``: ``muted``, ``digest``, ``stale`` …
    """

    action: Literal["send", "hold", "drop"]
    until: datetime | None = None
    reason: str | None = None


def delivery_decision(
    *,
    now: datetime,
    kind: str,
    created_at: datetime,
    muted_until: datetime | None,
    digest: bool,
    digest_due: datetime | None,
) -> DeliveryDecision:
    """Decide whether a due delivery to a server's channel goes out now.

    Args:
        now: The time.
        kind: The alert's kind.
        created_at: When the alert was written.
        muted_until: The server's mute, if any.
        digest: Whether the server wants one message a day.
        digest_due: When this delivery was scheduled for the digest (None if never held).
    """
    if kind not in NEVER_STALE_KINDS and now - created_at > STALE_ALERT_AFTER:
        return DeliveryDecision("drop", reason="stale")
    if kind in IMMEDIATE_KINDS:
        return DeliveryDecision("send")
    if muted_until is not None and muted_until > now:
        return DeliveryDecision("hold", muted_until, "muted")
    if digest and (digest_due is None or digest_due > now):
        return DeliveryDecision("hold", digest_due or next_digest_at(now), "digest")
    return DeliveryDecision("send")


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Wait before attempt ``attempts + 1``: exponential from 30 s, capped, at least Discord's
    ``retry_after``."""
    wait = min(RETRY_CAP, RETRY_FIRST * 2 ** max(0, min(attempts - 1, 20)))
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


def crossing_still_news(
    direction: Direction, *, last_seen: Direction | None, first_unseen: Direction
) -> bool:
    """Whether the last of a chain of held-back gap crossings still tells the server something.

    While alerts are held (a mute, a digest) the gap may cross the line and cross back; each
    crossing supersedes the one before, and the last is news only if the gap ended on another
    side than the one the server last heard of: after the last crossing delivered to it, or,
    if it never got one, before the first crossing it missed. Up and back down during a mute
    is nothing; up, down and up again is "above".

    Args:
        direction: The last crossing of the chain.
        last_seen: The last crossing delivered to the server (None: never one).
        first_unseen: The first crossing the server did not get (``direction`` itself when
            nothing was missed).
    """
    known = _side_after(last_seen) if last_seen else _side_before(first_unseen)
    return _side_after(direction) != known


def _side_after(direction: Direction) -> Side:
    return "above" if direction == "up" else "below"


def _side_before(direction: Direction) -> Side:
    return "below" if direction == "up" else "above"


# --- pings and predictions -------------------------------------------------------------------

MASS_MENTION_NAMES = frozenset({"everyone", "here"})


def ping_role_refusal(role_id: int, *, guild_id: int, name: str | None = None) -> str | None:
    """Why a role may not be the server's alert ping, or None when it may.

    The server's default role (its id is the server's id) mentions everyone; a role *named*
    everyone or here would only ping its members, but reads as a mass ping: both are refused.
    """
    named = (name or "").strip().lstrip("@").strip().lower()
    if role_id == guild_id or named in MASS_MENTION_NAMES:
        return (
            "gapwatch never pings @everyone or @here; pick an opt-in role that members join "
            "to get alerts (e.g. @gap-alerts)"
        )
    return None


def prediction_benchmarks(params: Mapping[str, object]) -> frozenset[str]:
    """The benchmark keys a prediction's rule reads (its ``benchmark`` or ``benchmarks``
    parameter), so an ingest re-judges only the predictions its scores can move."""
    keys: set[str] = set()
    one = params.get("benchmark")
    if isinstance(one, str):
        keys.add(one)
    many = params.get("benchmarks")
    if isinstance(many, list | tuple):
        keys.update(k for k in many if isinstance(k, str))
    return frozenset(keys)


# --- keys ------------------------------------------------------------------------------------


def dedupe_key(kind: str, *parts: object) -> str:
    """``kind:part:part…``; hashed tail when longer than the column allows."""
    key = ":".join([kind, *(str(p) for p in parts)])
    if len(key) <= DEDUPE_KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: DEDUPE_KEY_LIMIT - 33]}#{digest}"


def delivery_nonce(alert_id: int, target_kind: str, target_id: int) -> str:
    """A delivery's stable Discord nonce (at most 25 characters, Discord's limit)."""
    digest = hashlib.sha256(f"{alert_id}:{target_kind}:{target_id}".encode()).hexdigest()
    return f"gw{digest[:23]}"


def score_fingerprint(*values: object) -> str:
    """A short hash of the figures behind an alert (who and what moved), for dedupe keys."""
    return hashlib.sha256("|".join(str(v) for v in values).encode()).hexdigest()[:16]


def fmt_day(day: date) -> str:
    """``2026-12-31``."""
    return day.isoformat()
