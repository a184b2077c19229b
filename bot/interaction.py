"""Answering an interaction well: acknowledge in time, reply once, ephemeral errors."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import discord

from bot.embeds import error_embed

log = logging.getLogger(__name__)

T = TypeVar("T")

# Discord invalidates an interaction not acknowledged within 3 s; answers that take longer
# than this are deferred first (the DB query is usually a few milliseconds).
DEFER_AFTER_SECONDS = 0.8

NO_MENTIONS = discord.AllowedMentions.none()


async def compute(
    interaction: discord.Interaction, work: Callable[[], T], *, ephemeral: bool = False
) -> T:
    """Run blocking ``work`` in a thread; defer the interaction if it is not done quickly."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.wait_for(asyncio.shield(task), DEFER_AFTER_SECONDS)
    except TimeoutError:
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=ephemeral)
        return await task


async def send(
    interaction: discord.Interaction,
    *,
    content: str | None = None,
    embed: discord.Embed | None = None,
    files: list[discord.File] | None = None,
    view: discord.ui.View | None = None,
    ephemeral: bool = False,
) -> None:
    """Reply once: the response if it is still open, else a follow-up. Never pings."""
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS, "ephemeral": ephemeral}
    if content is not None:
        kwargs["content"] = content
    if embed is not None:
        kwargs["embed"] = embed
    if files:
        kwargs["files"] = files
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


async def send_error(interaction: discord.Interaction, message: str) -> None:
    """An ephemeral refusal or failure message, whatever state the interaction is in."""
    try:
        await send(interaction, embed=error_embed(message), ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about an error (interaction %s)", interaction.id)


async def defer_for_chart(interaction: discord.Interaction) -> None:
    """Acknowledge before rendering a chart (a few hundred milliseconds)."""
    if not interaction.response.is_done():
        await interaction.response.defer(thinking=True)


async def render_png(render: Callable[[Any], bytes], answer: Any, name: str) -> discord.File:
    """Render a chart in a worker thread as an attachment."""
    data = await asyncio.to_thread(render, answer)
    return discord.File(io.BytesIO(data), filename=name)
