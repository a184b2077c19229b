"""Alerts end to end: the real bot and dispatcher against the Discord API emulator, both
databases. Faults are injected in the emulator; restarts are new bot and dispatcher instances."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import discord
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import select

from bot.answers import Answers
from bot.discord_bot import ADMIN_REFUSAL, GapwatchBot, build_bot
from bot.discord_sender import DiscordSender
from db import tables as t
from db.engine import session_scope
from jobs.alerts import AlertService, resolve_predictions
from jobs.delivery import Dispatcher, Outgoing, SendOutcome
from tests.discord_emulator import DiscordEmulator, running_client
from tests.test_alerts import Clock, FakeSource, World, frontier_model, hf_model, open_model

pytest_plugins = ("tests.discord_emulator.fixtures",)

MANAGE_GUILD = 1 << 5
EPHEMERAL = 64


@contextlib.asynccontextmanager
async def started_bot(
    engine: Engine, emulator: DiscordEmulator, options: dict[str, Any], clock: Clock
) -> AsyncIterator[GapwatchBot]:
    client = build_bot(
        Answers(engine, today=lambda: clock().date()),
        alert_service=AlertService(engine, clock=clock),
        **options,
    )
    async with running_client(client, emulator.token):
        yield client


@pytest_asyncio.fixture
async def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def bot(
    engine: Engine, discord_emulator: DiscordEmulator, discord_client_options: dict, clock: Clock
) -> AsyncIterator[GapwatchBot]:
    async with started_bot(engine, discord_emulator, discord_client_options, clock) as client:
        guild = discord.Object(discord_emulator.guild_id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client


@pytest_asyncio.fixture
async def world(
    engine: Engine, discord_emulator: DiscordEmulator, clock: Clock
) -> AsyncIterator[World]:
    """Alerts on in the emulator's channel; the source's first (baseline) poll done."""
    w = World(engine, clock, FakeSource())
    w.service.set_channel(discord_emulator.guild_id, discord_emulator.channel_id)
    await w.poll([hf_model(1.0, "seed/Baseline-1B")], [])
    yield w
    await w.close()


def dispatcher(engine: Engine, client: discord.Client, clock: Clock, **kw: Any) -> Dispatcher:
    return Dispatcher(engine=engine, sender=DiscordSender(client), clock=clock, **kw)


def posts(emulator: DiscordEmulator) -> list[Any]:
    """Messages in the alert channel, without the ephemeral answers to commands."""
    return [m for m in emulator.messages_in() if not m.is_ephemeral]


def states(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return [d.state for d in session.exec(select(t.Delivery).order_by(t.Delivery.id))]  # type: ignore[arg-type]


async def test_gap_crossing_posts_once_with_a_chart(
    bot: GapwatchBot, world: World, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    model, score = frontier_model()
    await world.poll([model], [score])
    sending = dispatcher(engine, bot, clock)
    await sending.drain()
    [message] = discord_emulator.messages_in()
    embed = message.embeds[0]
    assert embed["title"] == "MMLU: the gap rose above 2 points"
    assert embed["image"]["url"] == "attachment://gap.png"
    assert message.files[0].is_png and len(message.files[0].data) > 10_000
    assert message.nonce  # the delivery's own, stable nonce
    request = discord_emulator.requests_to("POST", "/channels/*/messages")[-1]
    assert request.json["allowed_mentions"]["parse"] == []
    await world.poll([model], [score])  # the same poll again
    await sending.drain()
    assert len(discord_emulator.messages_in()) == 1


async def test_fits_alert_for_8b_not_70b(
    bot: GapwatchBot, world: World, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    await world.poll([hf_model(8.0), hf_model(70.0)], [])
    await dispatcher(engine, bot, clock).drain()
    titles = [m.embeds[0]["title"] for m in discord_emulator.messages_in()]
    assert titles == ["test-org/Test-8B-Instruct fits your 24 GiB GPU"]


async def test_subscriber_gets_a_dm_when_a_prediction_resolves(
    bot: GapwatchBot, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    bob = discord_emulator.add_user("bob")
    handle = await discord_emulator.send_command("subscribe prediction", {"code": "OB-001"})
    callback = await handle.wait_for_callback()
    assert callback.flags & EPHEMERAL and "Subscribed: OB-001 → your DMs" in callback.content
    with session_scope(engine) as session:
        resolve_predictions(session, now=clock())  # first judgement: silent
    clock.now = datetime(2026, 12, 31, 0, 5, tzinfo=UTC)
    with session_scope(engine) as session:
        resolve_predictions(session, now=clock())
    await dispatcher(engine, bot, clock).drain()
    alice_dm = int(discord_emulator.world.dm_channel(discord_emulator.user_id)["id"])
    bob_dm = int(discord_emulator.world.dm_channel(bob)["id"])
    [dm] = discord_emulator.messages_in(alice_dm)
    assert dm.embeds[0]["title"] == "OB-001 resolved: hit"
    assert discord_emulator.messages_in(bob_dm) == []


async def test_429_then_success_posts_exactly_once(
    bot: GapwatchBot, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    AlertService(engine, clock=clock).set_channel(
        discord_emulator.guild_id, discord_emulator.channel_id
    )
    AlertService(engine, clock=clock).test(discord_emulator.guild_id)
    rule = discord_emulator.fail_next("POST", "/channels/*/messages", status=429, retry_after=0.05)
    await dispatcher(engine, bot, clock).drain()
    assert rule.hits == 1
    assert len(discord_emulator.messages_in()) == 1
    assert states(engine) == ["sent"]


async def test_500_then_restart_before_the_retry_posts_exactly_once(
    engine: Engine, discord_emulator: DiscordEmulator, discord_client_options: dict, clock: Clock
) -> None:
    service = AlertService(engine, clock=clock)
    service.set_channel(discord_emulator.guild_id, discord_emulator.channel_id)
    service.test(discord_emulator.guild_id)
    rule = discord_emulator.fail_next("POST", "/channels/*/messages", status=500)
    async with started_bot(engine, discord_emulator, discord_client_options, clock) as first:
        task = asyncio.create_task(dispatcher(engine, first, clock).run_once())
        await discord_emulator.wait_for(lambda: rule.hits == 1, what="the 500")
        task.cancel()  # the process dies while discord.py waits to retry
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert states(engine) == ["sending"]
    assert discord_emulator.messages_in() == []
    clock.advance(timedelta(minutes=6))  # past the reclaim timeout
    async with started_bot(engine, discord_emulator, discord_client_options, clock) as second:
        await dispatcher(engine, second, clock).drain()
    assert len(discord_emulator.messages_in()) == 1
    assert states(engine) == ["sent"]


class LostResponse:
    """Posts the message, then loses Discord's answer (a dropped connection)."""

    def __init__(self, inner: DiscordSender) -> None:
        self.inner = inner
        self.lost = 0

    async def send(self, message: Outgoing) -> SendOutcome:
        outcome = await self.inner.send(message)
        if self.lost == 0:
            self.lost += 1
            raise ConnectionResetError("response lost")
        return outcome


async def test_a_resend_after_a_lost_response_does_not_post_twice(
    bot: GapwatchBot, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    service = AlertService(engine, clock=clock)
    service.set_channel(discord_emulator.guild_id, discord_emulator.channel_id)
    service.test(discord_emulator.guild_id)
    sending = Dispatcher(engine=engine, sender=LostResponse(DiscordSender(bot)), clock=clock)
    first = await sending.run_once()
    assert first.retried == 1 and states(engine) == ["pending"]
    clock.advance(timedelta(minutes=1))
    await sending.run_once()
    [message] = discord_emulator.messages_in()
    assert len(discord_emulator.requests_to("POST", "/channels/*/messages")) == 2
    with session_scope(engine) as session:
        delivery = session.exec(select(t.Delivery)).one()
        assert (delivery.state, delivery.message_id) == ("sent", message.id)


async def test_deleted_channel_kills_the_delivery_and_tells_the_owner_once(
    bot: GapwatchBot, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    guild_id, channel_id = discord_emulator.guild_id, discord_emulator.channel_id
    service = AlertService(engine, clock=clock)
    service.set_channel(guild_id, channel_id)
    service.test(guild_id)
    clock.advance(timedelta(seconds=1))
    service.test(guild_id)
    discord_emulator.delete_channel(channel_id)
    await dispatcher(engine, bot, clock).drain()
    posts = discord_emulator.requests_to("POST", f"/channels/{channel_id}/messages")
    assert [r.status for r in posts] == [404]  # no retry, and the second delivery not tried
    assert states(engine) == ["dead", "dead", "sent"]
    with session_scope(engine) as session:
        assert session.get(t.GuildSettings, guild_id).alert_channel_id is None
    owner = int(discord_emulator.world.owner["id"])
    [notice] = discord_emulator.messages_in(int(discord_emulator.world.dm_channel(owner)["id"]))
    assert notice.embeds[0]["title"] == "gapwatch stopped posting alerts to a channel"


async def test_closed_dms_deactivate_the_subscription(
    bot: GapwatchBot, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    service = AlertService(engine, clock=clock)
    user = discord_emulator.user_id
    service.subscribe(code="all", target_kind="user", target_id=user, guild_id=None, user_id=user)
    discord_emulator.close_dms(user)
    with session_scope(engine) as session:
        resolve_predictions(session, now=clock())
    clock.now = datetime(2026, 12, 31, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        resolve_predictions(session, now=clock())
    await dispatcher(engine, bot, clock).drain()
    assert set(states(engine)) == {"dead"}
    dm_posts = [r for r in discord_emulator.rejected if r.method == "POST"]
    assert len(dm_posts) == 1  # one 403, then the other deliveries to that user are given up
    with session_scope(engine) as session:
        assert [s.active for s in session.exec(select(t.Subscription))] == [False]


async def test_muted_guild_gets_nothing_until_the_mute_ends(
    bot: GapwatchBot, world: World, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    handle = await discord_emulator.send_command(
        "alerts mute", {"duration": "2h"}, permissions=MANAGE_GUILD
    )
    assert "Muted" in str((await handle.wait_for_callback()).embeds[0])
    await world.poll(*map(list, zip(frontier_model(), strict=True)))
    sending = dispatcher(engine, bot, clock)
    await sending.drain()
    assert posts(discord_emulator) == []
    clock.advance(timedelta(hours=2, minutes=1))
    await sending.drain()
    [message] = posts(discord_emulator)
    assert "mute ended 2026-12-04 14:00 UTC" in message.embeds[0]["footer"]["text"]


async def ask(emulator: DiscordEmulator, name: str, options: dict | None = None, **where: Any):
    return await (await emulator.send_command(name, options or {}, **where)).wait_for_callback()


async def test_alerts_commands_need_manage_server(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    [alerts] = [
        c for c in discord_emulator.commands(discord_emulator.guild_id) if c["name"] == "alerts"
    ]
    assert str(alerts["default_member_permissions"]) == str(MANAGE_GUILD)
    assert alerts["contexts"] in (None, [0])
    refused = await ask(discord_emulator, "alerts show")  # a member without Manage Server
    assert refused.flags & EPHEMERAL and ADMIN_REFUSAL in refused.embeds[0]["description"]
    channel_sub = await ask(
        discord_emulator,
        "subscribe prediction",
        {"code": "all", "channel": discord_emulator.channel_id},
    )
    assert ADMIN_REFUSAL in channel_sub.embeds[0]["description"]
    shown = await ask(discord_emulator, "alerts show", permissions=MANAGE_GUILD)
    assert shown.embeds[0]["title"] == "Alert settings"


async def test_alerts_settings_are_validated(
    bot: GapwatchBot, discord_emulator: DiscordEmulator, engine: Engine
) -> None:
    admin = {"permissions": MANAGE_GUILD}
    cases: list[tuple[str, dict, Callable[[Any], bool]]] = [
        ("alerts threshold", {"points": -1}, lambda c: "threshold must be more than 0" in c),
        ("alerts mute", {"duration": "soon"}, lambda c: "duration must look like 30m" in c),
        ("alerts vram", {"gb": 0}, lambda c: "VRAM must be a positive number" in c),
        ("alerts kinds", {"kinds": "gpa"}, lambda c: "unknown alert kind 'gpa'" in c),
    ]
    for name, options, check in cases:
        callback = await ask(discord_emulator, name, options, **admin)
        assert callback.flags & EPHEMERAL
        assert check(callback.embeds[0]["description"]), callback.embeds[0]
    ok = await ask(discord_emulator, "alerts threshold", {"points": 3.5}, **admin)
    assert "3.5 points" in str(ok.embeds[0])
    channel = await ask(
        discord_emulator, "alerts channel", {"channel": discord_emulator.channel_id}, **admin
    )
    assert channel.flags & EPHEMERAL
    with session_scope(engine) as session:
        row = session.get(t.GuildSettings, discord_emulator.guild_id)
        assert (row.gap_threshold, row.alert_channel_id) == (3.5, discord_emulator.channel_id)
        assert session.exec(select(t.RuleState)).first() is not None  # latches set silently


async def test_subscribe_unsubscribe_and_list(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    typo = await ask(discord_emulator, "subscribe prediction", {"code": "OB-01"})
    assert "no prediction 'OB-01' — did you mean OB-001" in typo.embeds[0]["description"]
    assert (
        "Subscribed"
        in (await ask(discord_emulator, "subscribe prediction", {"code": "ob-002"})).content
    )
    again = await ask(discord_emulator, "subscribe prediction", {"code": "OB-002"})
    assert "Already subscribed" in again.content
    listed = await ask(discord_emulator, "subscriptions")
    assert "OB-002 → your DMs" in listed.embeds[0]["description"]
    mallory = discord_emulator.add_user("mallory")
    theirs = await ask(discord_emulator, "subscriptions", user_id=mallory)
    assert "No subscriptions" in theirs.embeds[0]["description"]  # users see only their own
    gone = await ask(discord_emulator, "unsubscribe prediction", {"code": "OB-002"})
    assert "Unsubscribed: OB-002" in gone.content
    in_channel = await ask(
        discord_emulator,
        "subscribe prediction",
        {"code": "all", "channel": discord_emulator.channel_id},
        permissions=MANAGE_GUILD,
    )
    assert "every prediction" in in_channel.content


async def test_the_opt_in_role_is_the_only_mention(
    bot: GapwatchBot, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    guild_id = discord_emulator.guild_id
    role_id = discord_emulator.world.add_role(guild_id, "gap-alerts")
    fake_everyone = discord_emulator.world.add_role(guild_id, "@everyone")
    admin = {"permissions": MANAGE_GUILD}
    await ask(discord_emulator, "alerts channel", {"channel": discord_emulator.channel_id}, **admin)
    for refused_role in (guild_id, fake_everyone):  # the default role, and one named like it
        refused = await ask(discord_emulator, "alerts role", {"role": refused_role}, **admin)
        assert refused.flags & EPHEMERAL
        assert "never pings @everyone or @here" in refused.embeds[0]["description"]
    chosen = await ask(discord_emulator, "alerts role", {"role": role_id}, **admin)
    assert f"<@&{role_id}>" in str(chosen.embeds[0]["fields"])
    AlertService(engine, clock=clock).test(guild_id)
    await dispatcher(engine, bot, clock).drain()
    [request] = discord_emulator.requests_to("POST", f"/channels/{discord_emulator.channel_id}/*")
    assert request.json["content"] == f"<@&{role_id}>"
    mentions = request.json["allowed_mentions"]
    assert mentions["parse"] == [] and [int(r) for r in mentions["roles"]] == [role_id]
    assert not mentions.get("users") and "everyone" not in mentions["parse"]


async def test_digest_is_one_message_at_the_daily_time(
    bot: GapwatchBot, world: World, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    on = await ask(discord_emulator, "alerts digest", {"mode": "on"}, permissions=MANAGE_GUILD)
    assert "daily" in str(on.embeds[0]["fields"])
    await world.poll([hf_model(8.0), hf_model(3.0)], [])
    sending = dispatcher(engine, bot, clock)
    await sending.drain()
    clock.now = datetime(2026, 12, 5, 8, 59, tzinfo=UTC)
    await sending.drain()
    assert posts(discord_emulator) == []
    clock.now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    await sending.drain()
    [digest] = posts(discord_emulator)
    embed = digest.embeds[0]
    assert embed["title"] == "gapwatch daily digest: 2 alerts"
    assert "Test-8B-Instruct fits your 24 GiB GPU" in embed["description"]
    assert "Test-3B-Instruct fits your 24 GiB GPU" in embed["description"]
    assert len(discord_emulator.requests_to("POST", "/channels/*/messages")) == 1
    assert set(states(engine)) == {"sent"}


async def test_catch_up_alert_reaches_the_channel(
    bot: GapwatchBot, world: World, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    model, score = frontier_model("Frontier X", 93.5)
    june = date(2026, 6, 1)
    await world.poll(
        [model.model_copy(update={"released_on": june})],
        [score.model_copy(update={"available_on": june})],
    )
    await world.poll(*map(list, zip(open_model("Open Giant", 93.6), strict=True)))
    await dispatcher(engine, bot, clock).drain()
    titles = [m.embeds[0]["title"] for m in posts(discord_emulator)]
    assert "Open Giant now matches Frontier X's MMLU level of 6 months ago" in titles


async def test_alerts_why_lists_each_stage_an_event_stopped_at(
    bot: GapwatchBot, world: World, discord_emulator: DiscordEmulator, engine: Engine, clock: Clock
) -> None:
    poll = world.poll
    await poll(*map(list, zip(frontier_model("Frontier X", 92.9), strict=True)))  # gap +2.1: up
    await poll(*map(list, zip(open_model("Open A", 91.0), strict=True)))  # 1.9: within noise
    await poll(*map(list, zip(open_model("Open A", 89.0), strict=True)))  # a correction …
    await poll(*map(list, zip(open_model("Open A", 91.0), strict=True)))  # … undone: deduplicated
    sending = dispatcher(engine, bot, clock)
    await sending.drain()  # the crossing and the open best are posted
    world.service.set_kinds(discord_emulator.guild_id, "gap, open_best, catch_up")
    await poll([hf_model(8.0)], [])  # a fits alert: filtered
    world.service.set_kinds(discord_emulator.guild_id, "all")
    old = hf_model(7.0, "old-org/Old-7B").model_copy(update={"released_on": date(2024, 1, 1)})
    await poll([old], [])  # released long ago: source stale
    world.service.mute(discord_emulator.guild_id, "2h")
    await poll([hf_model(3.0)], [])
    await sending.drain()  # the fits alert is held: muted
    why = await ask(discord_emulator, "alerts why", permissions=MANAGE_GUILD)
    assert why.flags & EPHEMERAL
    text = why.embeds[0]["description"]
    for stage, subject in [
        ("deduplicated", "MMLU: Open A 91.0%"),
        ("within noise", "MMLU gap +1.9"),
        ("muted", "test-org/Test-3B-Instruct fits 24 GiB"),
        ("filtered", "test-org/Test-8B-Instruct fits 24 GiB"),
        ("source stale", "new model old-org/Old-7B"),
    ]:
        assert f"**{stage}** · {subject}" in text, (stage, text)
    assert [m.embeds[0]["title"] for m in posts(discord_emulator)] == [
        "MMLU: the gap rose above 2 points",
        "New open-weights best on MMLU: Open A",
    ]
