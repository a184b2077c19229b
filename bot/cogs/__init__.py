"""The bot's command groups, one cog each."""

from __future__ import annotations

from bot.cogs.alerts import AlertsCog
from bot.cogs.data import DataCog
from bot.cogs.info import InfoCog, SourcesCog
from bot.cogs.predictions import PredictionCog
from bot.cogs.subscriptions import SubscriptionsCog

COGS = (DataCog, PredictionCog, InfoCog, SourcesCog, AlertsCog, SubscriptionsCog)
