"""The Discord emulator drives the real discord.py client end to end.

A minimal ``discord.Client`` with an ``app_commands.CommandTree`` (defined here; the product's
bot is tested elsewhere) logs in, connects to the emulator's gateway, syncs commands and
answers interactions; the tests assert on what reached the emulator.
"""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio
from discord import app_commands

from bot.discord_endpoint import configure_discord_endpoint, current_discord_endpoint
from tests.discord_emulator import DiscordEmulator, running_client

# The emulator fixtures (discord_emulator, discord_client_options) as a plugin: importing them
# by name would make ruff see every fixture parameter as a redefinition (F811).
pytest_plugins = ("tests.discord_emulator.fixtures",)

MANAGE_GUILD = 1 << 5
BENCHMARKS = ["MMLU", "MMLU-Pro", "GPQA Diamond", "HumanEval", "SWE-bench Verified"]


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built by hand so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --- the bot under test ---------------------------------------------------------------------


class VoteView(discord.ui.View):
    """One button that replaces the message when clicked."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Agree", custom_id="vote:agree")
    async def agree(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="Thanks for voting", view=None)


class LabTree(app_commands.CommandTree):
    """Turns check failures into an ephemeral reply, as the product's tree will."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.MissingPermissions):
            await interaction.response.send_message("You need Manage Server.", ephemeral=True)
            return
        await super().on_error(interaction, error)


alerts = app_commands.Group(name="alerts", description="Manage alert subscriptions")
thresholds = app_commands.Group(name="threshold", description="Gap thresholds", parent=alerts)


@thresholds.command(name="set")
@app_commands.checks.has_permissions(manage_guild=True)
async def threshold_set(
    interaction: discord.Interaction,
    channel: discord.TextChannel,
    points: app_commands.Range[float, 0, 100],
) -> None:
    """Alert a channel when the gap crosses a number of points.

    Args:
        channel: Channel to alert.
        points: Gap in benchmark points.
    """
    await interaction.response.send_message(f"Alerting {channel.mention} at {points:.1f} points")


async def benchmark_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=name, value=name)
        for name in BENCHMARKS
        if current.lower() in name.lower()
    ]


@app_commands.command()
@app_commands.autocomplete(benchmark=benchmark_choices)
async def gap(interaction: discord.Interaction, benchmark: str) -> None:
    """Show the gap between proprietary and open-weights models.

    Args:
        benchmark: Benchmark to compare.
    """
    embed = discord.Embed(title=f"Gap on {benchmark}", description="Open weights trail by 4.2")
    embed.add_field(name="Proprietary", value="91.0")
    embed.add_field(name="Open weights", value="86.8")
    await interaction.response.send_message(
        f"<@{interaction.user.id}> here you go",
        embed=embed,
        allowed_mentions=discord.AllowedMentions.none(),
    )


@app_commands.command()
async def chart(interaction: discord.Interaction) -> None:
    """Draw the gap over time."""
    await interaction.response.defer(thinking=True)
    await interaction.followup.send(
        "Gap over time", file=discord.File(io.BytesIO(tiny_png()), "gap.png")
    )


@app_commands.command()
async def private(interaction: discord.Interaction) -> None:
    """Answer only to the caller."""
    await interaction.response.send_message("Only you can see this", ephemeral=True)


@app_commands.command()
async def vote(interaction: discord.Interaction) -> None:
    """Ask for a vote with a button."""
    await interaction.response.send_message("Is the gap closing?", view=VoteView())


@app_commands.command()
async def overfull(interaction: discord.Interaction) -> None:
    """Send an embed with one field too many."""
    embed = discord.Embed(title="Too much")
    for index in range(26):
        embed.add_field(name=f"Model {index}", value="1.0")
    await interaction.response.send_message(embed=embed)


class LabClient(discord.Client):
    """The smallest client with slash commands."""

    def __init__(self, **options: object) -> None:
        super().__init__(intents=discord.Intents.default(), **options)  # type: ignore[arg-type]
        self.tree = LabTree(self)
        for command in (gap, chart, private, vote, overfull, alerts):
            self.tree.add_command(command)
        self.resumed = asyncio.Event()

    async def on_resumed(self) -> None:
        self.resumed.set()


class ShardedLabClient(discord.AutoShardedClient):
    """An auto-sharded client that identifies its shards without the 5 s pause."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # The default sleeps 5 s between IDENTIFYs (Discord's max_concurrency of 1); the
        # emulator does not limit identify rate, so tests skip the wait.
        return None


# --- fixtures -------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def lab(
    discord_emulator: DiscordEmulator,
    discord_client_options: dict[str, object],
) -> AsyncIterator[LabClient]:
    """A ready client whose commands are synced to the emulator's guild."""
    client = LabClient(**discord_client_options)
    async with running_client(client, discord_emulator.token):
        guild = discord.Object(discord_emulator.guild_id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client


# --- tests ----------------------------------------------------------------------------------


async def test_client_logs_in_connects_and_gets_ready(
    discord_emulator: DiscordEmulator,
    discord_client_options: dict[str, object],
) -> None:
    client = LabClient(**discord_client_options)
    async with running_client(client, discord_emulator.token):
        assert client.user is not None and client.user.id == discord_emulator.bot_user_id
        assert client.application_id == discord_emulator.application_id
        guild = client.get_guild(discord_emulator.guild_id)
        assert guild is not None and not guild.unavailable
        assert [c.name for c in guild.text_channels] == ["alerts"]
        assert guild.me is not None
    paths = [r.path for r in discord_emulator.requests]
    assert paths[:2] == ["/users/@me", "/oauth2/applications/@me"]
    identify = next(f for f in discord_emulator.gateway_frames if f.op == 2)
    assert identify.data["token"] == discord_emulator.token
    assert identify.data["intents"] == discord.Intents.default().value


async def test_sync_stores_the_guild_command_schema(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    stored = {c["name"]: c for c in discord_emulator.commands(discord_emulator.guild_id)}

    assert set(stored) == {"gap", "chart", "private", "vote", "overfull", "alerts"}
    assert (
        stored["gap"]["description"] == "Show the gap between proprietary and open-weights models."
    )
    assert stored["gap"]["options"] == [
        {
            "type": 3,
            "name": "benchmark",
            "description": "Benchmark to compare.",
            "required": True,
            "autocomplete": True,
        }
    ]
    group = stored["alerts"]["options"][0]
    assert (group["type"], group["name"]) == (2, "threshold")
    assert [o["name"] for o in group["options"][0]["options"]] == ["channel", "points"]
    assert all(c["guild_id"] == str(discord_emulator.guild_id) for c in stored.values())


async def test_slash_command_answers_with_an_embed_within_three_seconds(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("gap", {"benchmark": "MMLU"})
    callback = await handle.wait_for_callback()

    assert callback.type == 4
    assert callback.elapsed < 3.0
    assert callback.embeds[0]["title"] == "Gap on MMLU"
    assert [(f["name"], f["value"]) for f in callback.embeds[0]["fields"]] == [
        ("Proprietary", "91.0"),
        ("Open weights", "86.8"),
    ]
    assert callback.data["allowed_mentions"] == {"parse": []}
    assert discord_emulator.messages_in() == [handle.original]


async def test_subcommand_group_gets_typed_options_and_member_permissions(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    options = {"channel": discord_emulator.channel_id, "points": 5}

    refused = await discord_emulator.send_command("alerts threshold set", options)
    allowed = await discord_emulator.send_command(
        "alerts threshold set", options, permissions=MANAGE_GUILD
    )

    assert (await refused.wait_for_callback()).content == "You need Manage Server."
    assert (await refused.wait_for_callback()).is_ephemeral
    answer = await allowed.wait_for_callback()
    assert answer.content == f"Alerting <#{discord_emulator.channel_id}> at 5.0 points"


async def test_deferred_command_follows_up_with_a_png(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("chart")

    assert (await handle.wait_for_callback()).type == 5
    [followup] = await handle.wait_for_followups(1)

    assert followup.content == "Gap over time"
    assert followup.attachments[0]["filename"] == "gap.png"
    assert followup.attachments[0]["content_type"] == "image/png"
    assert followup.files[0].is_png
    assert followup is handle.original and not followup.is_loading


async def test_ephemeral_reply_sets_flag_64(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("private")
    callback = await handle.wait_for_callback()

    assert callback.flags & 64
    assert handle.original is not None and handle.original.is_ephemeral


async def test_autocomplete_suggests_matching_choices(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_autocomplete(
        "gap", {"benchmark": "mml"}, focused="benchmark"
    )
    callback = await handle.wait_for_callback()

    assert callback.type == 8
    assert [c["name"] for c in callback.choices] == ["MMLU", "MMLU-Pro"]


async def test_button_click_reaches_the_view_callback(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("vote")
    await handle.wait_for_callback()
    assert handle.original is not None
    assert handle.original.custom_ids() == ["vote:agree"]

    click = await discord_emulator.click_button(handle.original, "vote:agree")
    callback = await click.wait_for_callback()

    assert callback.type == 7
    assert handle.original.content == "Thanks for voting"
    assert handle.original.components == []


async def test_embed_with_26_fields_is_refused_and_recorded(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("overfull")
    refused = await handle.wait_for_rejection()

    assert refused.status == 400
    assert refused.error_code == 50035
    errors = refused.response["errors"]["data"]["embeds"]["0"]["fields"]["_errors"]
    assert errors[0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert handle.callback is None
    assert discord_emulator.messages_in() == []


async def test_channel_send_waits_out_a_429_and_stores_one_message(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    rule = discord_emulator.fail_next("POST", "/channels/*/messages", status=429, retry_after=0.05)
    channel = lab.get_channel(discord_emulator.channel_id)
    assert isinstance(channel, discord.TextChannel)

    await channel.send("Gap closed on MMLU")

    attempts = discord_emulator.requests_to("POST", "/channels/*/messages")
    assert [r.status for r in attempts] == [429, 200]
    assert rule.hits == 1
    assert [m.content for m in discord_emulator.messages_in()] == ["Gap closed on MMLU"]


async def test_repeated_nonce_returns_the_existing_message(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    channel = lab.get_channel(discord_emulator.channel_id)
    assert isinstance(channel, discord.TextChannel)

    first = await channel.send("New frontier model", nonce="alert-42")
    second = await channel.send("New frontier model", nonce="alert-42")

    assert first.id == second.id
    assert len(discord_emulator.messages_in()) == 1
    bodies = [r.json for r in discord_emulator.requests_to("POST", "/channels/*/messages")]
    assert all(b["nonce"] == "alert-42" and b["enforce_nonce"] for b in bodies)


async def test_deleted_channel_and_closed_dms_are_refused(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    channel = lab.get_channel(discord_emulator.channel_id)
    assert isinstance(channel, discord.TextChannel)
    discord_emulator.delete_channel(discord_emulator.channel_id)
    discord_emulator.close_dms(discord_emulator.user_id)

    with pytest.raises(discord.NotFound) as gone:
        await channel.send("anyone there?")
    user = await lab.fetch_user(discord_emulator.user_id)
    with pytest.raises(discord.Forbidden) as closed:
        await user.send("psst")

    assert gone.value.code == 10003
    assert closed.value.code == 50007


async def test_command_is_answered_after_a_gateway_resume(
    lab: LabClient, discord_emulator: DiscordEmulator
) -> None:
    [session] = await discord_emulator.disconnect_gateway()
    # Dispatched while the socket is down: replayed on RESUME, as Discord does.
    handle = await discord_emulator.send_command("gap", {"benchmark": "GPQA Diamond"})

    await discord_emulator.wait_until_resumed(session)
    callback = await handle.wait_for_callback()

    assert callback.embeds[0]["title"] == "Gap on GPQA Diamond"
    resume = next(f for f in discord_emulator.gateway_frames if f.op == 6)
    assert resume.data["session_id"] == session.session_id
    await asyncio.wait_for(lab.resumed.wait(), timeout=5)
    assert sum(f.op == 2 for f in discord_emulator.gateway_frames) == 1


async def test_auto_sharded_client_connects_both_shards(
    discord_emulator: DiscordEmulator,
    discord_client_options: dict[str, object],
) -> None:
    # Shard of a guild = (guild_id >> 22) % shard_count.
    other = discord_emulator.add_guild("Other", guild_id=discord_emulator.guild_id + (1 << 22))
    guild_shards = {g: (g >> 22) % 2 for g in (discord_emulator.guild_id, other)}
    assert set(guild_shards.values()) == {0, 1}
    client = ShardedLabClient(
        shard_count=2,
        intents=discord.Intents.default(),
        **discord_client_options,  # type: ignore[arg-type]
    )

    async with running_client(client, discord_emulator.token):
        assert sorted(client.shards) == [0, 1]
        for guild_id, shard_id in guild_shards.items():
            guild = client.get_guild(guild_id)
            assert guild is not None and guild.shard_id == shard_id

    shards = sorted(s.shard_id for s in discord_emulator.gateway.sessions if s.shard_id is not None)
    assert shards == [0, 1]


async def test_command_in_a_dm_is_answered_in_the_dm_channel(
    lab: LabClient,
    discord_emulator: DiscordEmulator,
) -> None:
    await lab.tree.sync()  # DMs only see global commands

    handle = await discord_emulator.send_command("private", dm=True)
    await handle.wait_for_callback()

    assert "guild_id" not in handle.payload and handle.payload["user"]["username"] == "alice"
    assert handle.original is not None
    assert discord_emulator.messages_in(handle.channel_id) == [handle.original]


async def test_client_paces_itself_by_the_rate_limit_headers(
    lab: LabClient,
    discord_emulator: DiscordEmulator,
) -> None:
    discord_emulator.enable_rate_limits(route_limit=2, route_period=0.2)
    channel = lab.get_channel(discord_emulator.channel_id)
    assert isinstance(channel, discord.TextChannel)

    for index in range(5):
        await channel.send(f"alert {index}")

    sends = discord_emulator.requests_to("POST", "/channels/*/messages")
    assert [r.status for r in sends] == [200] * 5
    assert len(discord_emulator.messages_in()) == 5
    assert sends[2].at - sends[0].at >= 0.2  # the third waited for the window to roll


def test_endpoint_configuration_sets_and_restores_discord_urls() -> None:
    saved = current_discord_endpoint()
    try:
        configure_discord_endpoint("http://proxy.internal:8080", "ws://gateway.internal:7878/")
        assert current_discord_endpoint() == (
            "http://proxy.internal:8080/api/v10",
            "ws://gateway.internal:7878/",
        )
        configure_discord_endpoint(None, None)
        assert current_discord_endpoint()[0] == "http://proxy.internal:8080/api/v10"
        with pytest.raises(ValueError):
            configure_discord_endpoint("ftp://proxy.internal", None)
    finally:
        configure_discord_endpoint(*saved)
    assert current_discord_endpoint() == saved
