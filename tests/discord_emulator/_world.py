"""The emulated Discord's data: users, guilds, channels, messages and application commands.

Pure in-memory bookkeeping with Discord's rules (validation, nonce dedupe, deleted channels,
closed DMs); no HTTP here. Errors are raised as :class:`DiscordAPIError` for the REST layer.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _payloads as p
from ._records import EPHEMERAL, LOADING, StoredMessage, UploadedFile
from ._validation import (
    EMPTY_MESSAGE,
    DiscordAPIError,
    commands_errors,
    is_empty_message,
    message_errors,
    raise_if_invalid,
)

JSON = dict[str, Any]

# https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
MISSING_ACCESS = 50001
CANNOT_DM_USER = 50007

# Message flags a sender may set (SUPPRESS_EMBEDS 4, EPHEMERAL 64, SUPPRESS_NOTIFICATIONS 4096,
# IS_COMPONENTS_V2 32768); ephemeral only means something on interaction responses.
SETTABLE_FLAGS = 4 | EPHEMERAL | 4096 | 32768

EDITABLE_FIELDS = ("content", "embeds", "components", "flags", "allowed_mentions", "poll")


@dataclass
class GuildState:
    """A guild: its roles, text channels and members (by user id)."""

    id: int
    name: str
    owner_id: int
    roles: list[JSON]
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, JSON] = field(default_factory=dict)


class World:
    """Everything the emulated Discord knows.

    Args:
        bot_name: The bot user's name; the application shares the bot's id.

    ``base_url`` (the emulator's ``http://host:port``, for attachment URLs) is set once the
    server listens.
    """

    def __init__(self, *, bot_name: str = "gapwatch") -> None:
        self.base_url = ""
        self.ids = p.SnowflakeFactory()
        self.owner = p.user(self.ids.next(), "owner")
        self.bot = p.user(self.ids.next(), bot_name, bot=True)
        self.application_id = int(self.bot["id"])
        self.application = p.application(self.application_id, self.owner, name=bot_name)
        self.users: dict[int, JSON] = {int(self.owner["id"]): self.owner}
        self.guilds: dict[int, GuildState] = {}
        self.channels: dict[int, JSON] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.attachments: dict[int, UploadedFile] = {}
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        self.deleted_channels: set[int] = set()
        self.closed_dm_users: set[int] = set()

    @property
    def bot_id(self) -> int:
        return int(self.bot["id"])

    # --- setup --------------------------------------------------------------------------

    def add_user(self, username: str) -> int:
        """Create a user; returns its id."""
        user_id = self.ids.next()
        self.users[user_id] = p.user(user_id, username)
        return user_id

    def add_guild(self, name: str, *, guild_id: int | None = None) -> int:
        """Create a guild with an @everyone role and the bot as a member; returns its id."""
        guild_id = guild_id or self.ids.next()
        everyone = p.role(guild_id, "@everyone", permissions=p.MEMBER_PERMISSIONS)
        guild = GuildState(guild_id, name, owner_id=int(self.owner["id"]), roles=[everyone])
        self.guilds[guild_id] = guild
        self.add_member(guild_id, self.bot_id)
        self.add_member(guild_id, int(self.owner["id"]))
        return guild_id

    def add_member(self, guild_id: int, user_id: int) -> None:
        """Make a user a member of a guild."""
        self.guilds[guild_id].members[user_id] = p.member(self.users_and_bot()[user_id])

    def add_role(self, guild_id: int, name: str) -> int:
        """Create a role in a guild (no permissions); returns its id."""
        guild = self.guilds[guild_id]
        role_id = self.ids.next()
        guild.roles.append(p.role(role_id, name, permissions=0, position=len(guild.roles)))
        return role_id

    def add_channel(self, guild_id: int, name: str) -> int:
        """Create a text channel in a guild; returns its id."""
        guild = self.guilds[guild_id]
        channel_id = self.ids.next()
        channel = p.text_channel(channel_id, guild_id, name, position=len(guild.channel_ids))
        self.channels[channel_id] = channel
        guild.channel_ids.append(channel_id)
        return channel_id

    def users_and_bot(self) -> dict[int, JSON]:
        return {**self.users, self.bot_id: self.bot}

    # --- payloads -----------------------------------------------------------------------

    def guild_payload(self, guild_id: int) -> JSON:
        """The guild object of ``GET /guilds/{id}``."""
        guild = self.guild(guild_id)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "owner_id": str(guild.owner_id),
            "roles": guild.roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "system_channel_flags": 0,
            "premium_progress_bar_enabled": False,
        }

    def guild_create_payload(self, guild_id: int) -> JSON:
        """The GUILD_CREATE data: the guild plus channels, members and the gateway extras."""
        guild = self.guild(guild_id)
        payload = self.guild_payload(guild_id)
        payload.update(
            {
                "unavailable": False,
                "joined_at": p.iso_now(),
                "large": False,
                "member_count": len(guild.members),
                "members": list(guild.members.values()),
                "channels": [self.channels[c] for c in guild.channel_ids],
                "threads": [],
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return payload

    # --- lookups ------------------------------------------------------------------------

    def guild(self, guild_id: int) -> GuildState:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise DiscordAPIError(404, UNKNOWN_GUILD, "Unknown Guild") from None

    def channel(self, channel_id: int) -> JSON:
        """A channel that exists (deleted ones answer 404 Unknown Channel, code 10003)."""
        if channel_id in self.deleted_channels or channel_id not in self.channels:
            raise DiscordAPIError(404, UNKNOWN_CHANNEL, "Unknown Channel")
        return self.channels[channel_id]

    def user(self, user_id: int) -> JSON:
        try:
            return self.users_and_bot()[user_id]
        except KeyError:
            raise DiscordAPIError(404, UNKNOWN_USER, "Unknown User") from None

    def message(self, channel_id: int, message_id: int) -> StoredMessage:
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id:
            raise DiscordAPIError(404, UNKNOWN_MESSAGE, "Unknown Message")
        return message

    def channel_messages(self, channel_id: int) -> list[StoredMessage]:
        """Messages in a channel, oldest first (deleted ones left out)."""
        return [m for m in self.messages.values() if m.channel_id == channel_id and not m.deleted]

    def dm_channel(self, user_id: int) -> JSON:
        """The bot's DM channel with a user, created on first use."""
        recipient = self.user(user_id)
        for channel in self.channels.values():
            if channel["type"] == p.DM and channel["recipients"][0]["id"] == str(user_id):
                return channel
        channel = p.dm_channel(self.ids.next(), recipient)
        self.channels[int(channel["id"])] = channel
        return channel

    # --- messages -----------------------------------------------------------------------

    def create_message(
        self,
        channel_id: int,
        body: JSON,
        files: Sequence[UploadedFile] = (),
        *,
        message_type: int = p.MESSAGE_DEFAULT,
        extra: JSON | None = None,
        allow_empty: bool = False,
    ) -> StoredMessage:
        """Validate and store a new message from the bot; return it.

        A ``nonce`` with ``enforce_nonce`` that this channel already saw returns the existing
        message, as Discord does for retried creates (message.mdx L1092); if that message was
        deleted, the create gets 404 Unknown Message.

        Raises:
            DiscordAPIError: 404 10003 for unknown/deleted channels, 403 50007 for users with
                closed DMs, 400 50035/50006 for invalid or empty bodies.
        """
        channel = self.channel(channel_id)
        self._check_can_send(channel)
        duplicate = self._nonce_duplicate(channel_id, body)
        if duplicate is not None:
            return duplicate
        raise_if_invalid(message_errors(body, file_count=len(files)))
        if not allow_empty and is_empty_message(body, file_count=len(files)):
            raise DiscordAPIError(400, EMPTY_MESSAGE, "Cannot send an empty message")
        payload = self._new_message_payload(channel, body, message_type)
        payload.update(extra or {})
        message = StoredMessage(payload)
        self._set_attachments(message, body.get("attachments"), files)
        self.messages[message.id] = message
        channel["last_message_id"] = payload["id"]
        return message

    def edit_message(
        self, message: StoredMessage, body: JSON, files: Sequence[UploadedFile] = ()
    ) -> StoredMessage:
        """Apply an edit (content, embeds, components, attachments); clears "loading".

        Raises:
            DiscordAPIError: 400 50035 when the edited message breaks a limit.
        """
        raise_if_invalid(message_errors(body, file_count=len(files)))
        for key in EDITABLE_FIELDS:
            if key in body and key != "flags":
                message.payload[key] = body[key]
        flags = message.flags & EPHEMERAL  # ephemerality is fixed when a message is created
        if "flags" in body:
            flags |= int(body["flags"] or 0) & SETTABLE_FLAGS & ~EPHEMERAL
        message.payload["flags"] = flags  # an edit always ends a deferred "thinking" state
        if "attachments" in body or files:
            self._set_attachments(message, body.get("attachments"), files)
        message.payload["edited_timestamp"] = p.iso_now()
        return message

    def _check_can_send(self, channel: JSON) -> None:
        if channel["type"] != p.DM:
            return
        recipient = int(channel["recipients"][0]["id"])
        if recipient in self.closed_dm_users:
            raise DiscordAPIError(403, CANNOT_DM_USER, "Cannot send messages to this user")

    def _nonce_duplicate(self, channel_id: int, body: JSON) -> StoredMessage | None:
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return None
        for message in self.messages.values():
            if message.channel_id == channel_id and message.nonce == str(nonce):
                if message.deleted:  # discord.py documents NotFound for this case
                    raise DiscordAPIError(404, UNKNOWN_MESSAGE, "Unknown Message")
                return message
        return None

    def _new_message_payload(self, channel: JSON, body: JSON, message_type: int) -> JSON:
        payload: JSON = {
            "id": str(self.ids.next()),
            "channel_id": channel["id"],
            "author": self.bot,
            "content": body.get("content") or "",
            "timestamp": p.iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [{"type": "rich", **embed} for embed in body.get("embeds") or []],
            "components": body.get("components") or [],
            "pinned": False,
            "type": message_type,
            "flags": int(body.get("flags") or 0) & SETTABLE_FLAGS,
        }
        if "guild_id" in channel:
            payload["guild_id"] = channel["guild_id"]
        if body.get("nonce") is not None:
            payload["nonce"] = str(body["nonce"])
        return payload

    def _set_attachments(
        self,
        message: StoredMessage,
        wanted: Sequence[JSON] | None,
        files: Sequence[UploadedFile],
    ) -> None:
        """Keep the listed existing attachments and add one per uploaded file.

        discord.py lists new files as ``{"id": <index>, "filename": ...}`` matching
        ``files[index]`` and existing ones by their snowflake.
        """
        by_index = {int(f.field_name.removeprefix("files[").rstrip("]")): f for f in files}
        if wanted is None:
            wanted = [{"id": index, "filename": f.filename} for index, f in by_index.items()]
        kept: list[JSON] = []
        kept_files: list[UploadedFile] = []
        current = {a["id"]: (a, f) for a, f in zip(message.attachments, message.files, strict=True)}
        for entry in wanted:
            entry_id = int(entry["id"])
            if entry_id in by_index:
                upload = by_index[entry_id]
                kept.append(self._store_attachment(message.channel_id, upload, entry))
                kept_files.append(upload)
            elif str(entry_id) in current:
                attachment, upload = current[str(entry_id)]
                kept.append(attachment)
                kept_files.append(upload)
        message.payload["attachments"] = kept
        message.files = kept_files

    def _store_attachment(self, channel_id: int, upload: UploadedFile, entry: JSON) -> JSON:
        attachment_id = self.ids.next()
        self.attachments[attachment_id] = upload
        filename = entry.get("filename") or upload.filename
        content_type = mimetypes.guess_type(filename)[0] or upload.content_type
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        payload = p.attachment(
            attachment_id,
            filename=filename,
            size=len(upload.data),
            content_type=content_type,
            url=url,
        )
        if entry.get("description"):
            payload["description"] = entry["description"]
        return payload

    # --- application commands -----------------------------------------------------------

    def overwrite_commands(self, commands: Sequence[JSON], guild_id: int | None) -> list[JSON]:
        """Replace global (or one guild's) commands, keeping ids of commands that persist.

        Raises:
            DiscordAPIError: 400 50035 for invalid schemas, 403 50001 for a guild the bot is
                not in.
        """
        if guild_id is not None and guild_id not in self.guilds:
            raise DiscordAPIError(403, MISSING_ACCESS, "Missing Access")
        raise_if_invalid(commands_errors(commands))
        existing = self.commands(guild_id)
        ids = {(c["type"], c["name"]): c["id"] for c in existing}
        stored = [self._stored_command(c, guild_id, ids) for c in commands]
        if guild_id is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild_id] = stored
        return stored

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The registered global commands, or one guild's."""
        if guild_id is None:
            return self.global_commands
        return self.guild_commands.get(guild_id, [])

    def find_command(self, name: str, guild_id: int | None) -> JSON | None:
        """The chat-input command a user in ``guild_id`` (None: a DM) would invoke."""
        candidates = [*(self.commands(guild_id) if guild_id else []), *self.global_commands]
        return next((c for c in candidates if c["name"] == name and c["type"] == 1), None)

    def _stored_command(
        self, command: JSON, guild_id: int | None, ids: dict[tuple[int, str], str]
    ) -> JSON:
        command_type = int(command.get("type", 1))
        stored = {
            "type": command_type,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": ids.get((command_type, command["name"])) or str(self.ids.next()),
            "application_id": str(self.application_id),
            "version": str(self.ids.next()),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored


def mark_loading(message: StoredMessage) -> None:
    """Flag a message as a deferred "thinking" response."""
    message.payload["flags"] = message.flags | LOADING
