"""Autocomplete callbacks shared by the cogs."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands

from bot.choices import ChoiceCache
from frontier.quant import QUANTS


async def _choices(cache: ChoiceCache, current: str) -> list[app_commands.Choice[str]]:
    if cache.stale():
        await asyncio.to_thread(cache.refresh)
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
