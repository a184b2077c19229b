"""Sharding: the bot on discord.py's ``AutoShardedBot`` when ``GAPWATCH_SHARD_COUNT`` is set,
against the Discord emulator (two shards, a guild on each, commands answered on both). Two
processes each running one shard are in ``test_scale_out.py``."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord.ext import commands
from sqlalchemy import Engine

from bot.answers import Answers
from bot.discord_bot import GapwatchBot, ShardedGapwatchBot, build_bot
from bot.settings import Settings, SettingsError, load_settings
from tests.discord_emulator import DiscordEmulator, running_client

pytest_plugins = ("tests.discord_emulator.fixtures",)

SQLITE = [pytest.param("sqlite")]


class FastIdentifyBot(ShardedGapwatchBot):
    """The sharded bot without discord.py's 5 s wait between shard IDENTIFYs (Discord's rule,
    kept in the product; the emulator does not rate-limit identifies)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def guild_on_other_shard(emulator: DiscordEmulator, shard_count: int = 2) -> int:
    """Add a guild whose shard differs from the emulator's default guild's."""
    return emulator.add_guild("Other", guild_id=emulator.guild_id + (1 << 22))


def shard_of(guild_id: int, shard_count: int = 2) -> int:
    return (guild_id >> 22) % shard_count


def interaction_shard(emulator: DiscordEmulator, interaction_id: int) -> int | None:
    """The shard whose gateway session carried an INTERACTION_CREATE."""
    for session in emulator.gateway.sessions:
        for _seq, frame in session.buffer:
            if frame.get("t") == "INTERACTION_CREATE" and int(frame["d"]["id"]) == interaction_id:
                return session.shard_id
    return None


def test_build_bot_is_sharded_only_when_a_shard_count_is_set(tmp_path) -> None:
    from db.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        plain = build_bot(Answers(engine))
        assert type(plain) is GapwatchBot
        assert not isinstance(plain, commands.AutoShardedBot)
        sharded = build_bot(Answers(engine), shard_count=4, shard_ids=[1, 3])
        assert isinstance(sharded, ShardedGapwatchBot)
        assert isinstance(sharded, commands.AutoShardedBot | discord.AutoShardedClient)
        assert (sharded.shard_count, sharded.shard_ids) == (4, [1, 3])
        # Same bot otherwise: the tree that owns error replies, no privileged intents.
        assert type(sharded.tree) is type(plain.tree)
        assert sharded.intents.value == plain.intents.value
    finally:
        engine.dispose()


def test_shard_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAPWATCH_SHARD_COUNT", "4")
    monkeypatch.setenv("GAPWATCH_SHARD_IDS", "[0, 2]")
    settings = load_settings(_env_file=None)
    assert (settings.shard_count, settings.shard_ids) == (4, [0, 2])
    for ids, count in (("[4]", "4"), ("[1, 1]", "4"), ("[]", "4"), ("[0]", None)):
        monkeypatch.setenv("GAPWATCH_SHARD_IDS", ids)
        if count is None:
            monkeypatch.delenv("GAPWATCH_SHARD_COUNT")
        with pytest.raises(SettingsError, match="GAPWATCH_SHARD_"):
            load_settings(_env_file=None)
    monkeypatch.delenv("GAPWATCH_SHARD_IDS")
    assert Settings(_env_file=None).shard_ids is None  # type: ignore[call-arg]


@pytest.mark.parametrize("db_url", SQLITE, indirect=True)
async def test_two_shards_connect_and_each_answers_its_guild(
    engine: Engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, Any]
) -> None:
    other = guild_on_other_shard(discord_emulator)
    guilds = {discord_emulator.guild_id: discord_emulator.channel_id}
    guilds[other] = discord_emulator.guild_channels(other)[0]
    assert {shard_of(g) for g in guilds} == {0, 1}
    bot = FastIdentifyBot(Answers(engine), shard_count=2, **discord_client_options)

    async with running_client(bot, discord_emulator.token):
        assert sorted(bot.shards) == [0, 1]
        for guild_id in guilds:
            guild = bot.get_guild(guild_id)
            assert guild is not None and guild.shard_id == shard_of(guild_id)
            bot.tree.copy_global_to(guild=discord.Object(guild_id))
            await bot.tree.sync(guild=discord.Object(guild_id))

        for guild_id, channel_id in guilds.items():
            handle = await discord_emulator.send_command(
                "gap", {"benchmark": "mmlu"}, guild_id=guild_id, channel_id=channel_id
            )
            callback = await handle.wait_for_callback()
            assert callback.elapsed < 3.0 and callback.type == 5
            [message] = await handle.wait_for_followups(1)
            assert message.embeds[0]["title"].startswith("MMLU")
            assert interaction_shard(discord_emulator, handle.id) == shard_of(guild_id)

    identifies = [f for f in discord_emulator.gateway_frames if f.op == 2]
    assert sorted(f.data["shard"][0] for f in identifies) == [0, 1]
    assert {tuple(f.data["shard"]) for f in identifies} == {(0, 2), (1, 2)}
