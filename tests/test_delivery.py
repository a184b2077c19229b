"""The outbox and the dispatcher's claim, retry, reclaim and dead-target logic (both databases)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import select

from db import tables as t
from db.engine import session_scope
from frontier import alert_rules as rules
from jobs.delivery import Dispatcher, Outgoing, SendOutcome, Target, write_alert
from tests.test_alerts import CHANNEL, GUILD, Clock


class Scripted:
    """A sender answering from a script of outcomes (then ``sent``), recording every call."""

    def __init__(self, *outcomes: SendOutcome) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[Outgoing] = []

    async def send(self, message: Outgoing) -> SendOutcome:
        self.calls.append(message)
        return self.outcomes.pop(0) if self.outcomes else SendOutcome.sent(1000 + len(self.calls))


def queue(engine: Engine, clock: Clock, key: str = "k1", *targets: Target) -> int | None:
    with session_scope(engine) as session:
        alert = write_alert(
            session,
            kind="gap",
            dedupe_key=key,
            payload={"title": key},
            targets=list(targets) or [Target("channel", CHANNEL, GUILD)],
            now=clock(),
            guild_id=GUILD,
        )
        return alert.id if alert else None


def rows(engine: Engine) -> list[t.Delivery]:
    with session_scope(engine) as session:
        return list(session.exec(select(t.Delivery).order_by(t.Delivery.id)))  # type: ignore[arg-type]


def test_same_dedupe_key_is_one_alert_and_one_delivery_per_target(engine: Engine) -> None:
    clock = Clock()
    targets = (Target("channel", CHANNEL, GUILD), Target("user", 7), Target("user", 7))
    assert queue(engine, clock, "k1", *targets) is not None
    assert queue(engine, clock, "k1", *targets) is None
    deliveries = rows(engine)
    assert [(d.target_kind, d.target_id) for d in deliveries] == [("channel", CHANNEL), ("user", 7)]
    assert deliveries[0].nonce == rules.delivery_nonce(deliveries[0].alert_id, "channel", CHANNEL)


async def test_two_dispatchers_never_claim_the_same_delivery(engine: Engine) -> None:
    clock = Clock()
    for n in range(6):
        queue(engine, clock, f"k{n}")
    a, b = Scripted(), Scripted()
    await asyncio.gather(
        Dispatcher(engine=engine, sender=a, clock=clock, batch=3).drain(),
        Dispatcher(engine=engine, sender=b, clock=clock, batch=3).drain(),
    )
    sent = [m.delivery_ids for m in a.calls + b.calls]
    assert sorted(sent) == [(i,) for i in range(1, 7)]  # each once
    assert {d.state for d in rows(engine)} == {"sent"}


async def test_retry_backs_off_exponentially_and_honours_retry_after(engine: Engine) -> None:
    clock = Clock()
    queue(engine, clock)
    sender = Scripted(SendOutcome.retry("503"), SendOutcome.retry("429", retry_after=300))
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=clock)
    await dispatcher.run_once()
    [row] = rows(engine)
    assert (row.state, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        clock() + timedelta(seconds=30),
    )
    assert (await dispatcher.run_once()).outcomes == []  # not due yet
    clock.advance(timedelta(seconds=30))
    await dispatcher.run_once()
    [row] = rows(engine)
    assert row.attempts == 2 and row.next_attempt_at == clock() + timedelta(seconds=300)
    clock.advance(timedelta(seconds=300))
    await dispatcher.run_once()
    [row] = rows(engine)
    assert (row.state, row.message_id) == ("sent", 1003)
    assert len({m.nonce for m in sender.calls}) == 1  # the same nonce on every attempt


async def test_an_abandoned_sending_delivery_is_reclaimed_after_the_timeout(engine: Engine) -> None:
    clock = Clock()
    queue(engine, clock)
    with session_scope(engine) as session:
        row = session.exec(select(t.Delivery)).one()
        row.state, row.claimed_by, row.claimed_at = "sending", "dead-worker:1", clock()
    dispatcher = Dispatcher(engine=engine, sender=Scripted(), clock=clock)
    clock.advance(timedelta(minutes=4))
    assert (await dispatcher.run_once()).outcomes == []  # maybe still sending elsewhere
    clock.advance(timedelta(minutes=2))
    assert (await dispatcher.run_once()).sent == 1


async def test_dead_channel_disables_it_and_tells_admins_once(engine: Engine) -> None:
    clock = Clock()
    with session_scope(engine) as session:
        session.add(t.GuildSettings(guild_id=GUILD, alert_channel_id=CHANNEL))
        session.add(
            t.Subscription(
                target_kind="channel",
                target_id=CHANNEL,
                guild_id=GUILD,
                topic="prediction:*",
                created_by=1,
            )
        )
    queue(engine, clock, "k1")
    queue(engine, clock, "k2")
    sender = Scripted(SendOutcome.dead("404 (10003) Unknown Channel"))
    await Dispatcher(engine=engine, sender=sender, clock=clock).drain()
    assert [m.target.kind for m in sender.calls] == ["channel", "admins"]
    assert [d.state for d in rows(engine)] == ["dead", "dead", "sent"]
    with session_scope(engine) as session:
        assert session.get(t.GuildSettings, GUILD).alert_channel_id is None
        assert not session.exec(select(t.Subscription)).one().active
        [notice] = session.exec(select(t.Alert).where(t.Alert.kind == "admin")).all()
        assert notice.dedupe_key == f"admin:channel-lost:{GUILD}:{CHANNEL}"


async def test_a_bad_message_is_dead_without_disabling_the_target(engine: Engine) -> None:
    clock = Clock()
    with session_scope(engine) as session:
        session.add(t.GuildSettings(guild_id=GUILD, alert_channel_id=CHANNEL))
    queue(engine, clock)
    sender = Scripted(SendOutcome.dead("400 (50035) Invalid Form Body", disable_target=False))
    await Dispatcher(engine=engine, sender=sender, clock=clock).drain()
    with session_scope(engine) as session:
        assert session.get(t.GuildSettings, GUILD).alert_channel_id == CHANNEL
    assert [d.state for d in rows(engine)] == ["dead"]


async def test_given_up_after_max_attempts(engine: Engine) -> None:
    clock = Clock()
    queue(engine, clock)
    sender = Scripted(*[SendOutcome.retry("502")] * rules.MAX_ATTEMPTS)
    dispatcher = Dispatcher(engine=engine, sender=sender, clock=clock)
    for _ in range(rules.MAX_ATTEMPTS):
        await dispatcher.run_once()
        clock.advance(rules.RETRY_CAP)
    [row] = rows(engine)
    assert (row.state, row.attempts) == ("dead", rules.MAX_ATTEMPTS)
