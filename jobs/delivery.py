"""Delivery: the transactional outbox, its dispatcher, and where messages go (``Sender``).

**Outbox.** :func:`write_alert` inserts an alert (unique ``dedupe_key``; a second insert of the
same key is a no-op) and one delivery row per target in the caller's transaction, the same one
that wrote the data that caused it. So a crash loses both or neither, and a restart, a crash or a
second ingest of the same data never creates a second alert.

**Claim.** :meth:`Dispatcher.run_once` claims due deliveries with one statement,
``UPDATE delivery SET state='sending', claimed_by=<token> WHERE id IN (SELECT … WHERE
state='pending' AND next_attempt_at <= now … FOR UPDATE SKIP LOCKED LIMIT n)``: on PostgreSQL any
number of workers share the queue without waiting on each other's rows; on SQLite the single
statement is atomic under the database's write lock (one writer at a time), which is enough.
A delivery left ``sending`` by a crashed process is reclaimed after :data:`RECLAIM_AFTER`.

**Send.** Outside any transaction, the ``Sender`` posts the message with the delivery's stable
nonce (``enforce_nonce``): a resend after a lost response or a crash returns Discord's first
message instead of posting a second. Outcomes: sent (message id recorded), retry (429/5xx:
exponential backoff, Discord's ``retry_after`` honoured), dead (404 Unknown Channel, 403 Missing
Permissions or Cannot DM: no retry; the target is disabled and, for a channel, the server's
admins are told once through an ``admin`` alert whose dedupe key names the lost target).
Sends are paced by one token bucket per process (``jobs.ratelimit``, 46/s against Discord's
global 50/s), with up to :data:`IN_FLIGHT` in flight to different targets; a target's own
messages go one after another.

States: ``pending`` → ``sending`` → ``sent`` | ``pending`` (retry, hold) | ``dead`` | ``dropped``
(stale, superseded). Mutes and digests hold a delivery (``held_reason``) until they end.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, TextIO

from sqlalchemy import Engine, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from db import queries
from db import tables as t
from db.engine import session_scope
from db.types import utcnow
from frontier import alert_rules as rules
from frontier.charts import gap_chart
from frontier.gap import gap_report
from jobs.ratelimit import TokenBucket

log = logging.getLogger(__name__)

RECLAIM_AFTER = timedelta(minutes=5)
"""A delivery ``sending`` for longer than this belongs to a crashed process: a send takes
seconds, discord.py's own retries under a minute; the nonce makes the resend safe."""

CLAIM_BATCH = 20
IN_FLIGHT = 4
"""Most sends awaiting Discord's answer at once (to different targets). Against the emulator
(~20 ms a send with its bookkeeping) one at a time keeps up with 46/s; a 100 ms round trip to
Discord would cap a sequential sender at 10/s, so a few run at once and the bucket paces them."""
DROP_DETAILS = {
    "superseded": "a newer crossing on the same benchmark replaced it before it was sent",
    "no net change": "the gap crossed the line and back while alerts were held",
    "stale": "not delivered within a week: old news",
}
TRACE_KEEP = timedelta(days=30)

TargetKind = Literal["channel", "user", "admins"]


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: a channel, a user's DMs, or a server's admins (``id`` = guild)."""

    kind: TargetKind
    id: int
    guild_id: int | None = None


# --- outbox ----------------------------------------------------------------------------------


def write_alert(
    session: Session,
    *,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
    targets: Sequence[Target],
    now: datetime,
    guild_id: int | None = None,
    topic: str | None = None,
    group_key: str | None = None,
) -> t.Alert | None:
    """Insert an alert and its deliveries in the caller's transaction (no commit).

    Returns:
        The new alert, or None when an alert with this dedupe key exists already.
    """
    values = {
        "dedupe_key": dedupe_key,
        "kind": kind,
        "guild_id": guild_id,
        "topic": topic,
        "payload": payload,
        "group_key": group_key,
        "created_at": now,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(t.Alert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(t.Alert.id)  # type: ignore[arg-type]
    )
    alert_id = session.execute(statement).scalar()
    if alert_id is None:
        return None
    seen: set[tuple[str, int]] = set()
    for target in targets:
        if (target.kind, target.id) in seen:
            continue
        seen.add((target.kind, target.id))
        session.add(
            t.Delivery(
                alert_id=alert_id,
                target_kind=target.kind,
                target_id=target.id,
                guild_id=target.guild_id,
                nonce=rules.delivery_nonce(alert_id, target.kind, target.id),
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.flush()
    return session.get(t.Alert, alert_id)


def record_trace(
    session: Session,
    *,
    guild_id: int,
    kind: str,
    subject: str,
    stage: str,
    at: datetime,
    detail: str | None = None,
    alert_id: int | None = None,
) -> None:
    """Note what happened to one event for one server (``/alerts why``)."""
    session.add(
        t.AlertTrace(
            guild_id=guild_id,
            at=at,
            kind=kind[:32],
            subject=subject[:200],
            stage=stage[:32],
            detail=detail[:500] if detail else None,
            alert_id=alert_id,
        )
    )


def prune_traces(session: Session, now: datetime) -> None:
    """Forget traces older than :data:`TRACE_KEEP`."""
    session.execute(delete(t.AlertTrace).where(t.AlertTrace.at < now - TRACE_KEEP))  # type: ignore[arg-type]


# --- what a sender gets ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A file to attach (a chart)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Item:
    """One alert inside a message (a digest holds several)."""

    alert_id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Outgoing:
    """One message to send: one alert, or a server's daily digest of several.

    Attributes:
        delivery_ids: The deliveries this message completes.
        target: Where it goes.
        nonce: Stable across retries and restarts (Discord dedupes on it).
        items: The alerts (one, or several for a digest).
        digest: Whether this is a digest.
        ping_role_id: The server's opt-in role to mention (never @everyone).
        notes: Footer notes, e.g. that the alert was held while the server was muted.
        files: Attachments (a gap alert's chart).
    """

    delivery_ids: tuple[int, ...]
    target: Target
    nonce: str
    items: tuple[Item, ...]
    digest: bool = False
    ping_role_id: int | None = None
    notes: tuple[str, ...] = ()
    files: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SendOutcome:
    """What a send did: ``sent`` (with the message id), ``retry`` (429/5xx) or ``dead``."""

    status: Literal["sent", "retry", "dead"]
    message_id: int | None = None
    retry_after: float | None = None
    error: str | None = None
    disable_target: bool = True

    @classmethod
    def sent(cls, message_id: int | None) -> SendOutcome:
        return cls("sent", message_id=message_id)

    @classmethod
    def retry(cls, error: str, retry_after: float | None = None) -> SendOutcome:
        return cls("retry", retry_after=retry_after, error=error)

    @classmethod
    def dead(cls, error: str, *, disable_target: bool = True) -> SendOutcome:
        """Never retried; ``disable_target`` when the target itself is gone or closed (not
        when the message was at fault, e.g. a 400)."""
        return cls("dead", error=error, disable_target=disable_target)


class Sender(Protocol):
    """Posts one message somewhere (Discord, the terminal)."""

    async def send(self, message: Outgoing) -> SendOutcome:
        """Send, mapping every failure to an outcome (never raise for a Discord error)."""
        ...


def plain_text(message: Outgoing) -> str:
    """A message as plain text (the console): title, lines, footer notes."""
    blocks = []
    for item in message.items:
        lines = [str(item.payload.get("title", item.kind))]
        lines += [f"  {line}" for line in item.payload.get("lines", [])]
        lines += [f"  {name}: {value}" for name, value in item.payload.get("fields", [])]
        blocks.append("\n".join(lines))
    head = "[gapwatch digest]" if message.digest else "[gapwatch alert]"
    text = f"{head} → {message.target.kind} {message.target.id}\n" + "\n".join(blocks)
    for note in message.notes:
        text += f"\n  ({note})"
    for attachment in message.files:
        text += f"\n  (chart {attachment.name}: {len(attachment.data)} bytes, not shown here)"
    return text


class ConsoleSender:
    """Prints alerts to a stream (console mode): every send succeeds.

    Args:
        stream: Where to print (stdout in the console).
        render: Message → text (``bot.alert_embeds.alert_text`` in the app).
    """

    def __init__(self, stream: TextIO, render: Callable[[Outgoing], str] = plain_text) -> None:
        self.stream = stream
        self.render = render
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> SendOutcome:
        print(self.render(message), file=self.stream, flush=True)
        self.sent.append(message)
        return SendOutcome.sent(None)


# --- the dispatcher --------------------------------------------------------------------------


@dataclass
class DispatchReport:
    """What one dispatcher pass did (for logs and tests)."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0
    dropped: int = 0
    outcomes: list[tuple[Outgoing, SendOutcome]] = field(default_factory=list)


@dataclass
class _Claimed:
    messages: list[Outgoing]
    token: str


class Dispatcher:
    """Sends due deliveries through a ``Sender``, exactly once per target.

    Args:
        engine: The store.
        sender: Discord or the console.
        clock: The time (tests control it).
        worker: A name for this process (in ``claimed_by``).
        batch: Most deliveries claimed per pass.
        reclaim_after: When a ``sending`` delivery counts as abandoned.
        pace: Awaited before every send: the process's one token bucket (default 46/s, below
            Discord's global 50/s). One process runs one dispatcher, so this paces them all.
        in_flight: Most sends at once; a target's own messages always go one after another.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        sender: Sender,
        clock: Callable[[], datetime] = utcnow,
        worker: str | None = None,
        batch: int = CLAIM_BATCH,
        reclaim_after: timedelta = RECLAIM_AFTER,
        pace: TokenBucket | None = None,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.clock = clock
        self.worker = (worker or f"w-{uuid.uuid4().hex[:8]}")[:40]
        self.batch = batch
        self.reclaim_after = reclaim_after
        self.pace = pace or TokenBucket()
        self.in_flight = max(1, in_flight)

    async def run_once(self) -> DispatchReport:
        """Claim what is due, send it (paced, a few targets at once), record each outcome."""
        report = DispatchReport()
        claimed = await asyncio.to_thread(self._claim, report)
        by_target: dict[tuple[str, int], list[Outgoing]] = {}
        for message in claimed.messages:
            by_target.setdefault((message.target.kind, message.target.id), []).append(message)
        slots = asyncio.Semaphore(self.in_flight)

        async def deliver(messages: list[Outgoing]) -> None:
            async with slots:
                await self._deliver_to_target(messages, claimed.token, report)

        try:
            async with asyncio.TaskGroup() as group:
                for messages in by_target.values():
                    group.create_task(deliver(messages))
        except ExceptionGroup as failed:  # a store error: raise it as one send in turn did
            raise failed.exceptions[0] from None
        return report

    async def _deliver_to_target(
        self, messages: list[Outgoing], token: str, report: DispatchReport
    ) -> None:
        """One target's messages in order; once the target is lost the rest are dead."""
        lost = False  # the target died in this pass: never try it again
        for message in messages:
            if lost:
                outcome = SendOutcome.dead("target disabled", disable_target=False)
            else:
                try:
                    await self.pace.acquire()
                    outcome = await self.sender.send(message)
                except Exception as exc:  # a sender bug must not lose the delivery
                    log.exception("sending delivery %s failed unexpectedly", message.delivery_ids)
                    outcome = SendOutcome.retry(f"{type(exc).__name__}")
            if outcome.status == "dead" and outcome.disable_target:
                lost = True
            report.outcomes.append((message, outcome))
            await asyncio.to_thread(self._record, message, outcome, token, report)

    async def drain(self, passes: int = 10) -> DispatchReport:
        """Run passes until nothing is due (tests, the console's start)."""
        total = DispatchReport()
        for _ in range(passes):
            report = await self.run_once()
            total.outcomes += report.outcomes
            for name in ("sent", "retried", "dead", "held", "dropped"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            if not report.outcomes:
                break
        return total

    # claim ----------------------------------------------------------------------------------

    def _claim(self, report: DispatchReport) -> _Claimed:
        now = self.clock()
        token = f"{self.worker}:{uuid.uuid4().hex[:12]}"
        with session_scope(self.engine) as session:
            reclaimed = session.execute(
                update(t.Delivery)
                .where(t.Delivery.state == "sending")  # type: ignore[arg-type]
                .where(t.Delivery.claimed_at < now - self.reclaim_after)  # type: ignore[arg-type,operator]
                .values(state="pending", claimed_by=None)
            ).rowcount
            if reclaimed:
                log.warning("reclaimed %d deliveries abandoned while sending", reclaimed)
            due = (
                select(t.Delivery.id)
                .where(t.Delivery.state == "pending")
                .where(t.Delivery.next_attempt_at <= now)
                .order_by(t.Delivery.next_attempt_at, t.Delivery.id)  # type: ignore[arg-type]
                .limit(self.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            session.execute(
                update(t.Delivery)
                .where(t.Delivery.id.in_(due.scalar_subquery()))  # type: ignore[union-attr]
                .values(state="sending", claimed_by=token, claimed_at=now)
            )
            rows = session.exec(
                select(t.Delivery, t.Alert)
                .join(t.Alert, t.Alert.id == t.Delivery.alert_id)  # type: ignore[arg-type]
                .where(t.Delivery.claimed_by == token)
                .order_by(t.Delivery.id)  # type: ignore[arg-type]
            ).all()
            messages = self._plan(session, rows, now, report)
        charts: dict[tuple[str, str, float], Attachment] = {}
        return _Claimed([self._with_files(m, charts) for m in messages], token)

    def _plan(
        self,
        session: Session,
        rows: Sequence[tuple[t.Delivery, t.Alert]],
        now: datetime,
        report: DispatchReport,
    ) -> list[Outgoing]:
        """Decide each claimed delivery: drop, hold, or send (alone, or in a server's digest)."""
        messages: list[Outgoing] = []
        digests: dict[tuple[str, int], list[tuple[t.Delivery, t.Alert]]] = {}
        settings_cache: dict[int, t.GuildSettings | None] = {}
        for delivery, alert in rows:
            settings = _channel_settings(session, delivery, settings_cache)
            old_news = self._old_news(session, delivery, alert)
            if old_news is not None:
                self._drop(session, delivery, alert, old_news, now, report)
                continue
            decision = rules.delivery_decision(
                now=now,
                kind=alert.kind,
                created_at=alert.created_at,
                muted_until=settings.muted_until if settings else None,
                digest=bool(settings and settings.digest),
                digest_due=delivery.held_until if delivery.held_reason == "digest" else None,
            )
            if decision.action == "drop":
                self._drop(session, delivery, alert, decision.reason or "dropped", now, report)
            elif decision.action == "hold":
                self._hold(session, delivery, alert, decision, now, report)
            elif (
                settings is not None and settings.digest and alert.kind not in rules.IMMEDIATE_KINDS
            ):
                digests.setdefault((delivery.target_kind, delivery.target_id), []).append(
                    (delivery, alert)
                )
            else:
                messages.append(self._outgoing([(delivery, alert)], settings, digest=False))
        for group in digests.values():
            settings = settings_cache.get(group[0][0].guild_id or 0)
            messages.append(self._outgoing(group, settings, digest=len(group) > 1))
        return messages

    def _old_news(self, session: Session, delivery: t.Delivery, alert: t.Alert) -> str | None:
        """Why an alert of a relevance group (the gap crossings on one benchmark) is no news for
        its target any more: ``superseded`` by a newer one, or ``no net change`` when it ends
        a chain of crossings the target never got on the side it last heard of (up and back
        down during a mute); None when it is news."""
        if alert.group_key is None:
            return None
        in_group = (
            select(t.Alert.id, t.Alert.payload, t.Delivery.state)
            .join(t.Delivery, t.Delivery.alert_id == t.Alert.id)  # type: ignore[arg-type]
            .where(t.Alert.group_key == alert.group_key)
            .where(t.Delivery.target_kind == delivery.target_kind)
            .where(t.Delivery.target_id == delivery.target_id)
        )
        newer = session.exec(in_group.where(t.Alert.id > alert.id).limit(1)).first()  # type: ignore[operator]
        if newer is not None:
            return "superseded"
        unseen: list[str | None] = []  # directions since the last crossing the target got
        last_seen: str | None = None
        earlier = in_group.where(t.Alert.id < alert.id).order_by(t.Alert.id.desc())  # type: ignore[operator,union-attr]
        for _id, payload, state in session.exec(earlier):
            if state in ("sent", "sending"):  # sending: another worker is posting it now
                last_seen = payload.get("direction") or "?"
                break
            unseen.insert(0, payload.get("direction"))
        direction = alert.payload.get("direction")
        chain = [direction, *unseen, *([last_seen] if last_seen else [])]
        if not unseen or not all(d in ("up", "down") for d in chain):
            return None  # nothing missed (or alerts written before directions were stored)
        still_news = rules.crossing_still_news(
            direction,
            last_seen=last_seen,
            first_unseen=unseen[0],  # type: ignore[arg-type]
        )
        return None if still_news else "no net change"

    def _outgoing(
        self,
        group: Sequence[tuple[t.Delivery, t.Alert]],
        settings: t.GuildSettings | None,
        *,
        digest: bool,
    ) -> Outgoing:
        first = group[0][0]
        notes = []
        held = [d.held_until for d, _a in group if d.held_reason == "muted" and d.held_until]
        if held:
            notes.append(f"held while this server was muted; the mute ended {_when(max(held))}")
        return Outgoing(
            delivery_ids=tuple(d.id for d, _a in group if d.id is not None),
            target=Target(first.target_kind, first.target_id, first.guild_id),  # type: ignore[arg-type]
            nonce=first.nonce,
            items=tuple(Item(a.id or 0, a.kind, dict(a.payload), a.created_at) for _d, a in group),
            digest=digest,
            ping_role_id=settings.ping_role_id
            if settings and first.target_kind == "channel"
            else None,
            notes=tuple(notes),
        )

    def _with_files(
        self, message: Outgoing, cache: dict[tuple[str, str, float], Attachment]
    ) -> Outgoing:
        if message.digest:
            return message
        chart = message.items[0].payload.get("chart")
        if not chart:
            return message
        key = (chart["benchmark"], chart["as_of"], float(chart["threshold"]))
        if key not in cache:
            try:
                cache[key] = Attachment("gap.png", self._gap_png(*key))
            except Exception:
                log.exception("chart for %s could not be drawn; sending without it", key[0])
                return message
        return Outgoing(**{**message.__dict__, "files": (cache[key],)})

    def _gap_png(self, benchmark: str, as_of: str, threshold: float) -> bytes:
        day = date.fromisoformat(as_of)
        with session_scope(self.engine) as session:
            row = queries.find_benchmark(session, benchmark)
            scores = queries.headline_scores(session, row, as_of=day)
            report = gap_report(queries.to_benchmark(row), scores, as_of=day, threshold=threshold)
        return gap_chart(report)

    def _drop(
        self,
        session: Session,
        delivery: t.Delivery,
        alert: t.Alert,
        reason: str,
        now: datetime,
        report: DispatchReport,
    ) -> None:
        delivery.state = "dropped"
        delivery.last_error = reason
        delivery.claimed_by = None
        report.dropped += 1
        if delivery.guild_id is not None:
            _trace_delivery(session, delivery, alert, reason, now, DROP_DETAILS.get(reason))

    def _hold(
        self,
        session: Session,
        delivery: t.Delivery,
        alert: t.Alert,
        decision: rules.DeliveryDecision,
        now: datetime,
        report: DispatchReport,
    ) -> None:
        first_hold = delivery.held_reason != decision.reason
        delivery.state = "pending"
        delivery.claimed_by = None
        delivery.next_attempt_at = decision.until or now
        delivery.held_reason = decision.reason
        delivery.held_until = decision.until
        report.held += 1
        if first_hold and delivery.guild_id is not None:
            _trace_delivery(
                session,
                delivery,
                alert,
                decision.reason or "held",
                now,
                f"held until {_when(decision.until)}" if decision.until else None,
            )

    # record ---------------------------------------------------------------------------------

    def _record(
        self, message: Outgoing, outcome: SendOutcome, token: str, report: DispatchReport
    ) -> None:
        now = self.clock()
        with session_scope(self.engine) as session:
            for delivery_id in message.delivery_ids:
                delivery = session.get(t.Delivery, delivery_id)
                if delivery is None:
                    continue
                alert = session.get(t.Alert, delivery.alert_id)
                if outcome.status == "sent":
                    self._sent(session, delivery, alert, outcome, now)
                elif delivery.claimed_by != token or delivery.state != "sending":
                    continue  # reclaimed by another worker meanwhile: its outcome counts
                elif outcome.status == "retry":
                    self._retry(session, delivery, alert, outcome, now)
                else:
                    self._dead(session, delivery, alert, outcome, now)
        if outcome.status == "sent":
            report.sent += 1
        elif outcome.status == "retry":
            report.retried += 1
        else:
            report.dead += 1

    def _sent(
        self,
        session: Session,
        delivery: t.Delivery,
        alert: t.Alert | None,
        outcome: SendOutcome,
        now: datetime,
    ) -> None:
        if delivery.state == "sent":
            return
        delivery.state = "sent"
        delivery.attempts += 1
        delivery.message_id = outcome.message_id
        delivery.sent_at = now
        delivery.last_error = None
        delivery.claimed_by = None
        if delivery.guild_id is not None and alert is not None:
            _trace_delivery(
                session,
                delivery,
                alert,
                "delivered",
                now,
                f"to {delivery.target_kind} {delivery.target_id}",
            )

    def _retry(
        self,
        session: Session,
        delivery: t.Delivery,
        alert: t.Alert | None,
        outcome: SendOutcome,
        now: datetime,
    ) -> None:
        delivery.attempts += 1
        delivery.last_error = (outcome.error or "retry")[:500]
        delivery.claimed_by = None
        if delivery.attempts >= rules.MAX_ATTEMPTS:
            delivery.state = "dead"
            log.warning("delivery %s given up after %d attempts", delivery.id, delivery.attempts)
            return
        delivery.state = "pending"
        delivery.next_attempt_at = now + rules.retry_delay(delivery.attempts, outcome.retry_after)
        log.info(
            "delivery %s: %s; retry %d at %s",
            delivery.id,
            delivery.last_error,
            delivery.attempts,
            delivery.next_attempt_at.isoformat(),
        )

    def _dead(
        self,
        session: Session,
        delivery: t.Delivery,
        alert: t.Alert | None,
        outcome: SendOutcome,
        now: datetime,
    ) -> None:
        error = outcome.error or "dead"
        delivery.state = "dead"
        delivery.attempts += 1
        delivery.last_error = error[:500]
        delivery.claimed_by = None
        log.warning(
            "delivery %s to %s %s is dead: %s",
            delivery.id,
            delivery.target_kind,
            delivery.target_id,
            error,
        )
        if delivery.target_kind == "admins" or not outcome.disable_target:
            return  # nobody left to tell (never loop), or the message was at fault
        disable_target(session, delivery.target_kind, delivery.target_id, error, now)
        if delivery.target_kind == "channel" and delivery.guild_id is not None:
            tell_admins_target_lost(session, delivery.guild_id, delivery.target_id, error, now)
        if delivery.guild_id is not None and alert is not None:
            _trace_delivery(session, delivery, alert, "target lost", now, error)


def disable_target(session: Session, kind: str, target_id: int, error: str, now: datetime) -> None:
    """Stop using a target Discord refused for good: clear the alert channel, deactivate its
    subscriptions, and give up its other waiting deliveries (no retry loop)."""
    if kind == "channel":
        for settings in session.exec(
            select(t.GuildSettings).where(t.GuildSettings.alert_channel_id == target_id)
        ):
            settings.alert_channel_id = None
            settings.updated_at = now
    for subscription in session.exec(
        select(t.Subscription)
        .where(t.Subscription.target_kind == kind)
        .where(t.Subscription.target_id == target_id)
        .where(t.Subscription.active)
    ):
        subscription.active = False
    session.execute(
        update(t.Delivery)
        .where(t.Delivery.target_kind == kind)  # type: ignore[arg-type]
        .where(t.Delivery.target_id == target_id)  # type: ignore[arg-type]
        .where(t.Delivery.state == "pending")  # type: ignore[arg-type]
        .values(state="dead", last_error=f"target disabled: {error}"[:500])
    )


def tell_admins_target_lost(
    session: Session, guild_id: int, channel_id: int, error: str, now: datetime
) -> None:
    """One notice per lost channel to the server's admins (deduplicated by the channel id)."""
    write_alert(
        session,
        kind="admin",
        dedupe_key=rules.dedupe_key("admin", "channel-lost", guild_id, channel_id),
        payload={
            "title": "gapwatch stopped posting alerts to a channel",
            "lines": [
                f"Discord refused alerts for channel {channel_id}: {error}.",
                "Alerts to that channel are switched off. Pick a channel again with "
                "/alerts channel (the bot needs View Channel, Send Messages, Embed Links "
                "and Attach Files there).",
            ],
            "color": "warning",
            "channel_id": channel_id,
        },
        targets=[Target("admins", guild_id, guild_id)],
        now=now,
        guild_id=guild_id,
    )


def _channel_settings(
    session: Session, delivery: t.Delivery, cache: dict[int, t.GuildSettings | None]
) -> t.GuildSettings | None:
    """The server settings (mute, digest, role) that govern a delivery to a server's channel;
    None for DMs and admin notices."""
    if delivery.guild_id is None or delivery.target_kind != "channel":
        return None
    if delivery.guild_id not in cache:
        cache[delivery.guild_id] = session.get(t.GuildSettings, delivery.guild_id)
    return cache[delivery.guild_id]


def _trace_delivery(
    session: Session,
    delivery: t.Delivery,
    alert: t.Alert,
    stage: str,
    at: datetime,
    detail: str | None,
) -> None:
    """Record one step of an alert's delivery in its server's trace (``/alerts why``)."""
    assert delivery.guild_id is not None
    record_trace(
        session,
        guild_id=delivery.guild_id,
        kind=alert.kind,
        subject=_subject(alert),
        stage=stage,
        at=at,
        detail=detail,
        alert_id=alert.id,
    )


def _subject(alert: t.Alert) -> str:
    return str(alert.payload.get("subject") or alert.payload.get("title") or alert.kind)[:200]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


def png_file(attachment: Attachment) -> io.BytesIO:
    """An attachment's bytes as a file object."""
    return io.BytesIO(attachment.data)
