"""``/subscribe``, ``/unsubscribe``, ``/subscriptions``: follow predictions by DM or in a channel.

Anyone manages their own DM subscriptions. A channel subscription (the ``channel`` option)
needs Manage Server, checked on the server side. Users see and change only their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import alert_embeds
from bot.cogs import _autocomplete as ac
from bot.cogs.alerts import alert_service, require_manage_guild
from bot.interaction import compute, send

if TYPE_CHECKING:
    from bot.discord_bot import GapwatchBot


def _target(
    interaction: discord.Interaction, channel: discord.TextChannel | None
) -> tuple[str, int, str]:
    """(kind, id, how to say it): the channel if given (admins only), else the user's DMs."""
    if channel is None:
        return "user", interaction.user.id, "your DMs"
    require_manage_guild(interaction)
    return "channel", channel.id, f"<#{channel.id}>"


def _topic_name(topic: str) -> str:
    code = topic.removeprefix("prediction:")
    return "every prediction" if code == "*" else code


@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
class SubscriptionsCog(commands.Cog):
    """Following predictions."""

    subscribe = app_commands.Group(name="subscribe", description="Follow a prediction.")
    unsubscribe = app_commands.Group(name="unsubscribe", description="Stop following.")

    def __init__(self, bot: GapwatchBot) -> None:
        self.bot = bot
        self.service = alert_service(bot)

    @subscribe.command(name="prediction")
    @app_commands.autocomplete(code=ac.prediction)
    async def subscribe_prediction(
        self,
        interaction: discord.Interaction,
        code: str,
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Get a message when a prediction resolves or changes status.

        Args:
            code: Prediction code, e.g. OB-001, or "all".
            channel: Post in this channel instead of your DMs (Manage Server only).
        """
        kind, target_id, where = _target(interaction, channel)
        topic, new = await compute(
            interaction,
            lambda: self.service.subscribe(
                code=code,
                target_kind=kind,
                target_id=target_id,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
            ),
            ephemeral=True,
        )
        name = _topic_name(topic)
        text = f"Subscribed: {name} → {where}." if new else f"Already subscribed: {name} → {where}."
        await send(interaction, content=text, ephemeral=True)

    @unsubscribe.command(name="prediction")
    @app_commands.autocomplete(code=ac.prediction)
    async def unsubscribe_prediction(
        self,
        interaction: discord.Interaction,
        code: str,
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Stop getting messages about a prediction.

        Args:
            code: Prediction code, e.g. OB-001, or "all".
            channel: The channel to unsubscribe (Manage Server only); your DMs if left out.
        """
        kind, target_id, where = _target(interaction, channel)
        topic, removed = await compute(
            interaction,
            lambda: self.service.unsubscribe(code=code, target_kind=kind, target_id=target_id),
            ephemeral=True,
        )
        name = _topic_name(topic)
        text = (
            f"Unsubscribed: {name} → {where}."
            if removed
            else f"There was no subscription to {name} → {where}."
        )
        await send(interaction, content=text, ephemeral=True)

    @app_commands.command(name="subscriptions")
    async def subscriptions(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Your subscriptions (or a channel's, for Manage Server).

        Args:
            channel: Show this channel's subscriptions instead of yours.
        """
        kind, target_id, _where = _target(interaction, channel)
        rows = await compute(
            interaction,
            lambda: self.service.subscriptions(targets=[(kind, target_id)]),
            ephemeral=True,
        )
        await send(interaction, embed=alert_embeds.subscriptions_embed(rows), ephemeral=True)
