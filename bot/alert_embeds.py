"""Alert messages rendered for Discord (embeds) and the terminal (text). Renderers never query.

Alert payloads are plain text written by ``jobs/alerts.py`` from data; every data string is
cleaned here (markdown and mentions escaped, cut to Discord's limits). A role is mentioned only
when the server opted in, and ``allowed_mentions`` then allows that one role and nothing else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import discord

from bot.embeds import (
    COLOR_NEUTRAL,
    COLOR_OPEN,
    COLOR_PROPRIETARY,
    COLOR_WARNING,
    add_field,
    footer,
)
from bot.safe_text import EMBED_DESCRIPTION, EMBED_TITLE, EMBED_TOTAL, clean, cut
from jobs.alerts import AlertSettingsView, SubscriptionView, TraceLine
from jobs.delivery import Outgoing, plain_text

COLORS = {
    "open": COLOR_OPEN,
    "proprietary": COLOR_PROPRIETARY,
    "warning": COLOR_WARNING,
    "neutral": COLOR_NEUTRAL,
}
DIGEST_ITEMS = 20  # items listed in one digest embed; the rest are counted


@dataclass(frozen=True)
class AlertMessage:
    """What ``channel.send`` gets."""

    content: str | None
    embed: discord.Embed
    files: list[discord.File]
    allowed_mentions: discord.AllowedMentions


def _lines(payload: dict[str, Any]) -> str:
    return "\n".join(clean(line, 400) for line in payload.get("lines", []))


def alert_embed(payload: dict[str, Any], *, chart_name: str | None = None) -> discord.Embed:
    """One alert as an embed."""
    embed = discord.Embed(
        title=clean(payload.get("title", "gapwatch alert"), EMBED_TITLE),
        description=cut(_lines(payload), EMBED_DESCRIPTION),
        colour=COLORS.get(str(payload.get("color")), COLOR_NEUTRAL),
    )
    for name, value in payload.get("fields", []):
        add_field(embed, clean(name, 100), "\n".join(clean(v, 300) for v in str(value).split("\n")))
    if chart_name:
        embed.set_image(url=f"attachment://{chart_name}")
    return embed


def digest_embed(message: Outgoing) -> discord.Embed:
    """A server's daily digest: one line per alert."""
    items = message.items
    lines = [f"• {clean(i.payload.get('title', i.kind), 200)}" for i in items[:DIGEST_ITEMS]]
    if len(items) > DIGEST_ITEMS:
        lines.append(f"… and {len(items) - DIGEST_ITEMS} more")
    return discord.Embed(
        title=f"gapwatch daily digest: {len(items)} alerts",
        description=cut("\n".join(lines), EMBED_DESCRIPTION),
        colour=COLOR_NEUTRAL,
    )


def alert_message(message: Outgoing) -> AlertMessage:
    """The Discord message for an outgoing alert (or digest)."""
    chart = message.files[0] if message.files else None
    if message.digest:
        embed = digest_embed(message)
    else:
        embed = alert_embed(message.items[0].payload, chart_name=chart.name if chart else None)
    notes = " · ".join(message.notes)
    footer(embed, notes or "alerts: /alerts show")
    if len(embed) > EMBED_TOTAL:  # never fail a send on Discord's total limit
        embed.description = cut(embed.description or "", max(100, EMBED_TOTAL - len(embed) + 50))
    files = [discord.File(io.BytesIO(f.data), filename=f.name) for f in message.files]
    # The default role's id is the server's: never mention it, whatever the settings hold.
    if message.ping_role_id and message.ping_role_id != message.target.guild_id:
        role = discord.Object(message.ping_role_id)
        mentions = discord.AllowedMentions(everyone=False, users=False, roles=[role])
        content = f"<@&{message.ping_role_id}>"
    else:
        mentions = discord.AllowedMentions.none()
        content = None
    return AlertMessage(content, embed, files, mentions)


def alert_text(message: Outgoing) -> str:
    """The console's rendering."""
    return plain_text(message)


# --- command answers ---------------------------------------------------------------------------


def settings_embed(view: AlertSettingsView, *, changed: str | None = None) -> discord.Embed:
    """``/alerts show`` and the reply to every settings change."""
    embed = discord.Embed(
        title="Alert settings" if changed is None else f"Alert settings: {changed}",
        colour=COLOR_NEUTRAL,
    )
    channel = f"<#{view.channel_id}>" if view.channel_id else "none (alerts are off)"
    add_field(embed, "Channel", channel, inline=True)
    add_field(
        embed, "Gap threshold", f"{view.threshold:g} points (±{view.hysteresis:g})", inline=True
    )
    add_field(embed, "VRAM budget", f"{view.vram_gib:g} GiB", inline=True)
    add_field(embed, "Kinds", ", ".join(view.kinds) if view.kinds else "all", inline=True)
    mute = (
        f"until {view.muted_until:%Y-%m-%d %H:%M} UTC" if view.muted and view.muted_until else "off"
    )
    add_field(embed, "Muted", mute, inline=True)
    add_field(embed, "Digest", "daily" if view.digest else "off", inline=True)
    add_field(embed, "Role to ping", f"<@&{view.role_id}>" if view.role_id else "none", inline=True)
    return footer(embed, "Manage Server members change these with /alerts")


def why_embed(lines: list[TraceLine]) -> discord.Embed:
    """``/alerts why``: the last events and where each stopped."""
    if not lines:
        text = "No events yet: nothing has changed in the data since alerts were turned on."
    else:
        text = "\n".join(
            f"`{line.at:%m-%d %H:%M}` **{clean(line.stage, 30)}** · {clean(line.subject, 120)}"
            + (f" — {clean(line.detail, 160)}" if line.detail else "")
            for line in lines
        )
    embed = discord.Embed(
        title="Recent events and what happened to them",
        description=cut(text, EMBED_DESCRIPTION),
        colour=COLOR_NEUTRAL,
    )
    return footer(
        embed,
        "stages: queued, delivered, deduplicated, within noise, muted, digest, filtered, "
        "source stale, baseline, superseded, no net change, target lost",
    )


def subscriptions_embed(rows: list[SubscriptionView]) -> discord.Embed:
    """``/subscriptions``."""
    if not rows:
        text = "No subscriptions. Follow one with /subscribe prediction OB-001 (or all)."
    else:
        text = "\n".join(
            f"• {clean(r.topic.removeprefix('prediction:').replace('*', 'all predictions'), 60)}"
            f" → {'your DMs' if r.target_kind == 'user' else f'<#{r.target_id}>'}"
            + ("" if r.active else " (paused: Discord refused delivery)")
            for r in rows
        )
    return discord.Embed(
        title="Subscriptions", description=cut(text, EMBED_DESCRIPTION), colour=COLOR_NEUTRAL
    )
