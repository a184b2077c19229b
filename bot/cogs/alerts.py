"""``/alerts …``: a server's alert settings, for members with Manage Server only.

Three locks, because Discord's own can be changed by a server's admins: the command group's
default permissions (``manage_guild``, hides it from others), ``guild_only``, and a server-side
check of the invoking member's permissions on every call (a refusal raises ``CheckFailure``,
which ``GapwatchTree`` answers with ``ADMIN_REFUSAL``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import alert_embeds
from bot.interaction import compute, send
from jobs.alerts import AlertService, AlertSettingsView

if TYPE_CHECKING:
    from bot.discord_bot import GapwatchBot


def require_manage_guild(interaction: discord.Interaction) -> int:
    """The server's id, if the member may manage it; else ``CheckFailure``.

    Raises:
        app_commands.NoPrivateMessage: Used outside a server.
        app_commands.CheckFailure: The member lacks Manage Server.
    """
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    if not interaction.permissions.manage_guild:
        raise app_commands.CheckFailure("manage_guild required")
    return interaction.guild_id


def alert_service(bot: GapwatchBot) -> AlertService:
    """The bot's alert service (built from its store when the app did not give one)."""
    service = getattr(bot, "alert_service", None)
    return service if service is not None else AlertService(bot.answers.engine)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AlertsCog(commands.GroupCog, group_name="alerts"):
    """Where and when this server gets alerts."""

    def __init__(self, bot: GapwatchBot) -> None:
        self.bot = bot
        self.service = alert_service(bot)
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        require_manage_guild(interaction)
        return True

    async def _reply(
        self, interaction: discord.Interaction, view: AlertSettingsView, changed: str
    ) -> None:
        await send(
            interaction, embed=alert_embeds.settings_embed(view, changed=changed), ephemeral=True
        )

    @app_commands.command()
    async def channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        """Post this server's alerts in a channel (leave out to turn alerts off).

        Args:
            channel: The channel for alerts; leave out to stop alerts.
        """
        guild_id = require_manage_guild(interaction)
        target = channel.id if channel is not None else None
        view = await compute(
            interaction, lambda: self.service.set_channel(guild_id, target), ephemeral=True
        )
        await self._reply(interaction, view, "channel set" if target else "alerts off")

    @app_commands.command()
    async def threshold(self, interaction: discord.Interaction, points: float) -> None:
        """Gap threshold in points (default 2, the OB-001 line).

        Args:
            points: Alert when the proprietary − open gap crosses this many points.
        """
        guild_id = require_manage_guild(interaction)
        view = await compute(
            interaction, lambda: self.service.set_threshold(guild_id, points), ephemeral=True
        )
        await self._reply(interaction, view, f"threshold {points:g} points")

    @app_commands.command()
    async def vram(self, interaction: discord.Interaction, gb: float) -> None:
        """VRAM budget for "a new model fits" alerts (default 24 GiB).

        Args:
            gb: GPU memory in GiB, e.g. 24.
        """
        guild_id = require_manage_guild(interaction)
        view = await compute(
            interaction, lambda: self.service.set_vram(guild_id, gb), ephemeral=True
        )
        await self._reply(interaction, view, f"VRAM {gb:g} GiB")

    @app_commands.command()
    async def mute(self, interaction: discord.Interaction, duration: str) -> None:
        """Hold alerts for a while; they follow when the mute ends.

        Args:
            duration: How long, e.g. 30m, 2h, 1d; "off" to unmute.
        """
        guild_id = require_manage_guild(interaction)
        view = await compute(
            interaction, lambda: self.service.mute(guild_id, duration), ephemeral=True
        )
        await self._reply(interaction, view, "muted" if view.muted else "unmuted")

    @app_commands.command()
    async def kinds(self, interaction: discord.Interaction, kinds: str) -> None:
        """Which alerts to post: all, or some of gap, fits, open_best, catch_up, prediction,
        source_health.

        Args:
            kinds: "all", or kinds separated by commas, e.g. gap, fits.
        """
        guild_id = require_manage_guild(interaction)
        view = await compute(
            interaction, lambda: self.service.set_kinds(guild_id, kinds), ephemeral=True
        )
        await self._reply(interaction, view, "kinds")

    @app_commands.command()
    async def digest(self, interaction: discord.Interaction, mode: Literal["on", "off"]) -> None:
        """One message a day instead of one per alert (for busy servers).

        Args:
            mode: on for a daily digest, off for one message per alert.
        """
        guild_id = require_manage_guild(interaction)
        view = await compute(
            interaction, lambda: self.service.set_digest(guild_id, mode == "on"), ephemeral=True
        )
        await self._reply(interaction, view, f"digest {mode}")

    @app_commands.command()
    async def role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        """An opt-in role to ping with alerts (never @everyone); leave out for no ping.

        Args:
            role: The role to mention; leave out to stop pinging.
        """
        guild_id = require_manage_guild(interaction)
        role_id, name = (role.id, role.name) if role is not None else (None, None)
        view = await compute(
            interaction,
            lambda: self.service.set_role(guild_id, role_id, name=name),
            ephemeral=True,
        )
        await self._reply(interaction, view, "role to ping" if role_id else "no role ping")

    @app_commands.command()
    async def test(self, interaction: discord.Interaction) -> None:
        """Send a test alert to the alert channel."""
        guild_id = require_manage_guild(interaction)
        view = await compute(interaction, lambda: self.service.test(guild_id), ephemeral=True)
        await send(
            interaction, content=f"Test alert queued for <#{view.channel_id}>.", ephemeral=True
        )

    @app_commands.command()
    async def why(self, interaction: discord.Interaction) -> None:
        """The last events and which stage stopped or sent each one."""
        guild_id = require_manage_guild(interaction)
        lines = await compute(interaction, lambda: self.service.why(guild_id), ephemeral=True)
        await send(interaction, embed=alert_embeds.why_embed(lines), ephemeral=True)

    @app_commands.command()
    async def show(self, interaction: discord.Interaction) -> None:
        """This server's alert settings."""
        guild_id = require_manage_guild(interaction)
        view = await compute(interaction, lambda: self.service.show(guild_id), ephemeral=True)
        await send(interaction, embed=alert_embeds.settings_embed(view), ephemeral=True)
