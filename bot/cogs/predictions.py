"""/prediction show, list, trackrecord — dated claims evaluated live against the data."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.cogs import _autocomplete as ac
from bot.interaction import compute, send

if TYPE_CHECKING:
    from bot.discord_bot import GapwatchBot


@app_commands.allowed_installs(guilds=True, users=True)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
class PredictionCog(commands.GroupCog, group_name="prediction"):
    """Dated, falsifiable claims about open vs proprietary models."""

    def __init__(self, bot: GapwatchBot) -> None:
        self.bot = bot
        self.answers = bot.answers
        super().__init__()

    @app_commands.command(name="show")
    @app_commands.autocomplete(code=ac.prediction)
    async def show(self, interaction: discord.Interaction, code: str) -> None:
        """A prediction evaluated now: status, evidence with sources, what would change it.

        Args:
            code: Prediction code, e.g. OB-001.
        """
        answer = await compute(interaction, lambda: self.answers.prediction(code))
        await send(interaction, embed=embeds.prediction_embed(answer))

    @app_commands.command(name="list")
    async def list_(self, interaction: discord.Interaction) -> None:
        """Every tracked prediction and its status."""
        answers = await compute(interaction, self.answers.predictions)
        await send(interaction, embed=embeds.predictions_embed(answers))

    @app_commands.command(name="trackrecord")
    async def trackrecord(self, interaction: discord.Interaction) -> None:
        """How the predictions have fared: resolved, hits, misses, hit rate."""
        record = await compute(interaction, self.answers.trackrecord)
        await send(interaction, embed=embeds.trackrecord_embed(record))
