"""Autocomplete callbacks shared by the cogs."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands

from bot.choices import ChoiceCache
from frontier.quant import QUANTS

log = logging.getLogger(__name__)


# Discord drops an autocomplete answer after 3 s; a refresh that takes longer (a slow or
# unreachable database) is left to finish in the background and the cached names answer.
REFRESH_BUDGET_SECONDS = 2.0


_refreshing: dict[int, asyncio.Future[None]] = {}


def _refresh(cache: ChoiceCache) -> asyncio.Future[None]:
    """One refresh in flight per cache, however fast people type."""
    running = _refreshing.get(id(cache))
    if running is None or running.done():
        running = asyncio.ensure_future(asyncio.to_thread(cache.refresh))
        running.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved
        _refreshing[id(cache)] = running
    return running


async def _choices(cache: ChoiceCache, current: str) -> list[app_commands.Choice[str]]:
    if cache.stale():
        refresh = _refresh(cache)
        try:
            await asyncio.wait_for(asyncio.shield(refresh), REFRESH_BUDGET_SECONDS)
        except TimeoutError:
            log.warning("autocomplete names not refreshed within %.1f s", REFRESH_BUDGET_SECONDS)
        except Exception as exc:  # the database is down: answer from the cache
            log.warning("autocomplete names not refreshed: %s", type(exc).__name__)
    return [app_commands.Choice(name=name, value=value) for name, value in cache.match(current)]


async def benchmark(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Benchmarks matching what the user typed (typos, aliases, case)."""
    return await _choices(interaction.client.benchmark_names, current)  # type: ignore[attr-defined]


async def model(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Models matching what the user typed."""
    return await _choices(interaction.client.model_names, current)  # type: ignore[attr-defined]


async def prediction(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Prediction codes and titles matching what the user typed."""
    return await _choices(interaction.client.prediction_codes, current)  # type: ignore[attr-defined]


async def quant(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Quantization formats, highest precision first."""
    typed = current.strip().lower().replace("-", "_")
    names = [q.name for q in QUANTS if typed in q.name.lower()] or [q.name for q in QUANTS]
    return [app_commands.Choice(name=n, value=n) for n in names[:25]]
