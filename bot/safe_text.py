"""Text from data made safe for Discord: no pings, no markdown surprises, within limits."""

from __future__ import annotations

import re
import unicodedata

import discord

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
EMBED_TOTAL = 6000
EMBED_FIELDS = 25
CONTENT = 2000
CHOICE_NAME = 100
CHOICES = 25

_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean(text: object, limit: int = 100) -> str:
    """Data text for an embed: invisible and direction characters removed, markdown and
    mentions escaped, control characters dropped, cut to ``limit`` characters with an ellipsis.
    """
    value = _INVISIBLE.sub("", str(text))
    value = "".join(ch for ch in value if unicodedata.category(ch) != "Cc" or ch in "\n")
    value = " ".join(value.split())
    escaped = _escape(value)
    if len(escaped) <= limit:
        return escaped
    # Cut on the source text, so an escape sequence is never split, then add the ellipsis.
    low, high = 0, len(value)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_escape(value[:middle].rstrip())) + 1 <= limit:
            low = middle
        else:
            high = middle - 1
    return _escape(value[:low].rstrip()) + "…"


def _escape(value: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(value))


def cut(text: str, limit: int) -> str:
    """Our own text (already safe) cut to a limit, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def choice_name(text: str) -> str:
    """An autocomplete choice's label: 1-100 visible characters, no invisible ones."""
    value = " ".join(_INVISIBLE.sub("", text).split()) or "?"
    return value if len(value) <= CHOICE_NAME else value[: CHOICE_NAME - 1] + "…"


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts towards the 6,000 embed total."""
    return len(embed)
