"""/sources and /audit: where the figures come from and what the report got wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.cogs._pages import PageView
from bot.cogs.data import everywhere
from bot.interaction import compute, send

if TYPE_CHECKING:
    from bot.discord_bot import GapwatchBot

AUDIT_PER_PAGE = 8


class InfoCog(commands.Cog):
    """Provenance questions."""

    def __init__(self, bot: GapwatchBot) -> None:
        self.bot = bot
        self.answers = bot.answers

    @everywhere
    @app_commands.command()
    async def sources(self, interaction: discord.Interaction) -> None:
        """Each source's last poll, last success and last error."""
        statuses = await compute(interaction, self.answers.sources)
        await send(interaction, embed=embeds.sources_embed(statuses))

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
