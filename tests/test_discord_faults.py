"""Discord faults: gateway drops and RESUMEs, REST 429s and 500s — the bot keeps serving.

discord.py retries a 5xx after 1 s, 3 s, … and a 429 after its ``retry_after``; the tests use
one 500 and 429s with a tiny ``retry_after`` to stay fast. Waits are on emulator conditions
with timeouts, never sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest_asyncio

from bot.answers import Answers
from bot.discord_bot import GapwatchBot, build_bot
from tests.discord_emulator import DiscordEmulator, running_client
from tests.test_bot import TODAY

pytest_plugins = ("tests.discord_emulator.fixtures",)


@pytest_asyncio.fixture
async def bot(
    engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> AsyncIterator[GapwatchBot]:
    client = build_bot(Answers(engine, today=lambda: TODAY), **discord_client_options)
    async with running_client(client, discord_emulator.token):
        guild = discord.Object(discord_emulator.guild_id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client


async def _still_serving(emulator: DiscordEmulator) -> None:
    handle = await emulator.send_command("about")
    callback = await handle.wait_for_callback()
    assert "gapwatch" in callback.embeds[0]["title"]


async def test_a_command_in_flight_survives_a_gateway_drop(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("gap", {"benchmark": "mmlu"})
    [session] = await discord_emulator.disconnect_gateway()  # while the chart renders
    resumes = session.resumes
    callback = await handle.wait_for_callback()
    [message] = await handle.wait_for_followups(1, timeout=10)
    assert callback.type == 5
    assert message.embeds[0]["title"].startswith("MMLU")
    await discord_emulator.wait_for(
        lambda: session.connected and session.resumes > resumes, what="the RESUME"
    )
    assert any(frame.op == 6 for frame in discord_emulator.gateway_frames)  # RESUME
    await _still_serving(discord_emulator)


async def test_a_command_sent_while_disconnected_is_answered_after_resume(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    [session] = await discord_emulator.disconnect_gateway()
    handle = await discord_emulator.send_command("model", {"name": "DeepSeek-R1"})
    await discord_emulator.wait_until_resumed(session)
    callback = await handle.wait_for_callback()
    assert callback.embeds[0]["title"] == "DeepSeek-R1"


async def test_an_invalidated_session_reidentifies_and_serves(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    identifies = sum(1 for f in discord_emulator.gateway_frames if f.op == 2)
    await discord_emulator.disconnect_gateway(invalidate=True)
    await discord_emulator.wait_for(
        lambda: sum(1 for f in discord_emulator.gateway_frames if f.op == 2) > identifies,
        timeout=15,  # discord.py waits ~5 s before a fresh IDENTIFY
        what="a new IDENTIFY",
    )
    await discord_emulator.wait_for_sessions(1, timeout=10)
    await bot.wait_until_ready()
    await _still_serving(discord_emulator)


async def test_follow_up_429_is_retried_after_retry_after(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    rule = discord_emulator.fail_next("POST", "/webhooks/*", status=429, retry_after=0.05)
    handle = await discord_emulator.send_command("gap", {"benchmark": "gsm8k"})
    [message] = await handle.wait_for_followups(1, timeout=10)
    assert rule.hits == 1
    assert message.embeds[0]["title"].startswith("GSM8K")
    assert len(handle.followups) == 1  # retried, not duplicated
    await _still_serving(discord_emulator)


async def test_follow_up_500_is_retried_once(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    rule = discord_emulator.fail_next("POST", "/webhooks/*", status=500)
    handle = await discord_emulator.send_command("lag", {"benchmark": "mmlu"})
    [message] = await handle.wait_for_followups(1, timeout=10)  # discord.py waits 1 s first
    assert rule.hits == 1
    assert "months" in message.embeds[0]["title"]
    assert len(handle.followups) == 1
    await _still_serving(discord_emulator)


async def test_interaction_callback_429_is_retried(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    rule = discord_emulator.fail_next(
        "POST", "/interactions/*/*/callback", status=429, retry_after=0.05
    )
    handle = await discord_emulator.send_command("dashboard")
    callback = await handle.wait_for_callback()
    assert rule.hits == 1
    assert callback.embeds[0]["title"] == "Gap dashboard"


async def test_channel_send_survives_429_and_500(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    channel = bot.get_channel(discord_emulator.channel_id)
    assert isinstance(channel, discord.TextChannel)
    limited = discord_emulator.fail_next(
        "POST", "/channels/*/messages", status=429, retry_after=0.05
    )
    await channel.send("after a 429")
    broken = discord_emulator.fail_next("POST", "/channels/*/messages", status=500)
    await channel.send("after a 500")
    assert (limited.hits, broken.hits) == (1, 1)
    contents = [m.content for m in discord_emulator.messages_in()]
    assert contents == ["after a 429", "after a 500"]  # the nonce kept retries single
    await _still_serving(discord_emulator)


async def test_rate_limits_on_every_route_do_not_stop_the_bot(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    discord_emulator.enable_rate_limits(route_limit=2, route_period=0.2)
    handles = [
        await discord_emulator.send_command("leaderboard", {"benchmark": "mmlu", "limit": 3})
        for _ in range(4)
    ]
    for handle in handles:
        callback = await handle.wait_for_callback()
        assert "leaderboard" in callback.embeds[0]["title"]
    discord_emulator.disable_rate_limits()
    await _still_serving(discord_emulator)
