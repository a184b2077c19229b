"""Buttons that page through a long answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.interaction import NO_MENTIONS


class PageView(discord.ui.View):
    """Previous/next buttons over ``pages`` pages of one answer (10 minutes, then inert).

    Args:
        render: Page number → embed.
        pages: How many pages there are.
        owner: The user who asked; only they can turn the pages.
    """

    def __init__(self, render: Callable[[int], discord.Embed], pages: int, owner: int) -> None:
        super().__init__(timeout=600)
        self.render = render
        self.pages = pages
        self.owner = owner
        self.page = 0
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner:
            await interaction.response.send_message(
                "Only the person who asked can turn these pages; run the command yourself.",
                ephemeral=True,
            )
            return False
        return True

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        self.page = min(max(page, 0), self.pages - 1)
        self._sync_buttons()
        await interaction.response.edit_message(
            embed=self.render(self.page), view=self, allowed_mentions=NO_MENTIONS
        )

    @discord.ui.button(label="◀ Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _button: Any) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _button: Any) -> None:
        await self._show(interaction, self.page + 1)
