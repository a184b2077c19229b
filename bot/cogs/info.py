"""/sources and /audit: where the figures come from and what the report got wrong."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.cogs._pages import PageView
from bot.cogs.alerts import require_manage_guild
from bot.cogs.data import everywhere
from bot.interaction import compute, send
from bot.safe_text import cut
from frontier.errors import InputError
from frontier.names import normalize_name, suggest

if TYPE_CHECKING:
    from bot.discord_bot import GapwatchBot
    from jobs.polling import Poller

# A poll on demand is refused within this time of the last one: sources are shared public
# services, and any server's admins can ask.
POLL_COOLDOWN = timedelta(minutes=5)

AUDIT_PER_PAGE = 8


class InfoCog(commands.Cog):
    """Provenance questions."""

    def __init__(self, bot: GapwatchBot) -> None:
        self.bot = bot
        self.answers = bot.answers

    @everywhere
    @app_commands.command()
    async def audit(self, interaction: discord.Interaction) -> None:
        """The analyst report's figures against what the data and arithmetic say."""
        report = await compute(interaction, self.answers.audit)
        pages = max(1, -(-len(report.items) // AUDIT_PER_PAGE))

        def render(page: int) -> discord.Embed:
            return embeds.audit_embed(report, page=page, per_page=AUDIT_PER_PAGE)

        view = PageView(render, pages, interaction.user.id) if pages > 1 else None
        await send(interaction, embed=render(0), view=view)


def _keys(poller: Poller) -> dict[str, str]:
    return {normalize_name(key): key for key in poller.sources}


async def _source_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    poller = interaction.client.poller  # type: ignore[attr-defined]
    keys = sorted(poller.sources) if poller is not None else []
    typed = current.strip().lower()
    return [app_commands.Choice(name=k, value=k) for k in keys if typed in k][:25]


@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
class SourcesCog(commands.GroupCog, group_name="sources"):
    """Where the data comes from: each source's health, and polling one now."""

    def __init__(self, bot: GapwatchBot) -> None:
        self.bot = bot
        self.answers = bot.answers
        super().__init__()

    @app_commands.command(name="status")
    async def status(self, interaction: discord.Interaction) -> None:
        """Each source's last poll, last success and last error."""
        statuses = await compute(interaction, self.answers.sources)
        await send(interaction, embed=embeds.sources_embed(statuses))

    @app_commands.command(name="poll")
    @app_commands.autocomplete(name=_source_choices)
    async def poll(self, interaction: discord.Interaction, name: str) -> None:
        """Poll one source now (Manage Server; at most once every 5 minutes per source).

        Args:
            name: Source key, e.g. epoch.
        """
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        require_manage_guild(interaction)
        poller = self.bot.poller
        if poller is None:
            raise InputError("Polling is off on this bot (GAPWATCH_POLL_ENABLED=false).")
        key = name.strip().lower()
        if key not in poller.sources:
            raise InputError(f"no source {name.strip()[:40]!r}", suggest(key, _keys(poller)))
        statuses = {s.key: s for s in await asyncio.to_thread(self.answers.sources)}
        last = statuses.get(key)
        if last is not None and last.last_polled_at is not None:
            wait = last.last_polled_at + POLL_COOLDOWN - datetime.now(UTC)
            if wait.total_seconds() > 0:
                raise InputError(
                    f"{key} was polled at {last.last_polled_at:%H:%M} UTC; "
                    f"try again in {int(wait.total_seconds() // 60) + 1} min"
                )
        await interaction.response.defer(thinking=True, ephemeral=True)
        outcome = await poller.poll(key)
        await send(interaction, content=cut(outcome.summary(), 1900), ephemeral=True)
