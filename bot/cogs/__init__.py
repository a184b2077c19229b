"""The bot's command groups, one cog each."""

from __future__ import annotations

from bot.cogs.data import DataCog

COGS = (DataCog,)
