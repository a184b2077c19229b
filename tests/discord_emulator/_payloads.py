"""Discord object payloads as the API sends them, and the snowflakes that name them.

Only the fields discord.py 2.7.1 reads (or Discord always sends) are filled in; every
builder returns a fresh ``dict`` so callers may mutate the result.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

JSON = dict[str, Any]

# https://discord.com/developers/docs/reference#snowflakes: milliseconds since this epoch.
DISCORD_EPOCH_MS = 1_420_070_400_000

# https://discord.com/developers/docs/resources/channel#channel-object-channel-types
GUILD_TEXT = 0
DM = 1

# https://discord.com/developers/docs/resources/message#message-object-message-types
MESSAGE_DEFAULT = 0
MESSAGE_CHAT_INPUT_COMMAND = 20

# https://discord.com/developers/docs/topics/permissions (bit values)
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_GUILD = 1 << 5
USE_APPLICATION_COMMANDS = 1 << 31
ADMINISTRATOR = 1 << 3

#: What an ordinary member may do in a text channel: read, write, embed, attach, use commands.
MEMBER_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)

# https://discord.com/developers/docs/reference#uploading-files: 10 MiB without boosts.
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class SnowflakeFactory:
    """Makes unique, increasing snowflakes whose timestamps are "now"."""

    def __init__(self) -> None:
        self._increment = itertools.count()

    def next(self) -> int:
        """Return a new snowflake."""
        now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        return ((now_ms - DISCORD_EPOCH_MS) << 22) | (next(self._increment) & 0x3FFFFF)


def iso_now() -> str:
    """Return the current time as Discord writes timestamps (ISO 8601, UTC)."""
    return dt.datetime.now(dt.UTC).isoformat()


def user(user_id: int, username: str, *, bot: bool = False) -> JSON:
    """A user object."""
    return {
        "id": str(user_id),
        "username": username,
        "global_name": username.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def role(role_id: int, name: str, *, permissions: int, position: int = 0) -> JSON:
    """A role object (the @everyone role has the guild's id)."""
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(channel_id: int, guild_id: int, name: str, *, position: int = 0) -> JSON:
    """A guild text channel object."""
    return {
        "id": str(channel_id),
        "type": GUILD_TEXT,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "parent_id": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def dm_channel(channel_id: int, recipient: JSON) -> JSON:
    """A DM channel object with one recipient."""
    return {
        "id": str(channel_id),
        "type": DM,
        "last_message_id": None,
        "recipients": [recipient],
        "flags": 0,
    }


def member(user_payload: JSON, *, roles: list[int] | None = None) -> JSON:
    """A guild member object (``flags`` is required by discord.py)."""
    return {
        "user": user_payload,
        "nick": None,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in roles or []],
        "joined_at": iso_now(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def application(app_id: int, owner: JSON, *, name: str) -> JSON:
    """The ``GET /oauth2/applications/@me`` object, with the fields discord.py requires."""
    return {
        "id": str(app_id),
        "name": name,
        "icon": None,
        "description": "Loopback Discord emulator application",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": owner,
        "team": None,
        "flags": 0,
        "guild_id": None,
        "rpc_origins": [],
        "redirect_uris": [],
        "tags": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "approximate_guild_count": 0,
    }


def attachment(
    attachment_id: int, *, filename: str, size: int, content_type: str | None, url: str
) -> JSON:
    """An attachment object pointing at the emulator's own file URL."""
    return {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    }
