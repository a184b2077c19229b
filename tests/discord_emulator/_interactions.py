"""INTERACTION_CREATE payloads, built the way Discord sends them to discord.py 2.7.1.

The fields discord.py needs but one would not guess (trap 7): ``attachment_size_limit``,
``version``, ``application_id``, ``token``, members with ``flags``, ``data.guild_id`` for guild
commands (the tree looks guild commands up by it), typed option values, ``data.resolved`` for
user/channel/role options, and ``message`` on component interactions (views are found by the
message id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import _payloads as p
from ._world import GuildState, World

JSON = dict[str, Any]

# https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-type
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
# ...#interaction-object-interaction-context-types
CONTEXT_GUILD = 0
CONTEXT_BOT_DM = 1
# https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10
BUTTON = 2

#: What the bot may do in the channel (sent as ``app_permissions``).
BOT_PERMISSIONS = p.MEMBER_PERMISSIONS


@dataclass(frozen=True)
class Invoker:
    """Who triggers an interaction, and where: a guild member in a channel, or a DM user."""

    user: JSON
    channel: JSON
    guild: GuildState | None = None
    member: JSON | None = None
    permissions: int = p.MEMBER_PERMISSIONS
    locale: str = "en-US"


def interaction_payload(
    *,
    interaction_id: int,
    token: str,
    application_id: int,
    interaction_type: int,
    data: JSON,
    invoker: Invoker,
    message: JSON | None = None,
) -> JSON:
    """The INTERACTION_CREATE data for any interaction type."""
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": interaction_type,
        "data": data,
        "token": token,
        "version": 1,
        "locale": invoker.locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": p.DEFAULT_ATTACHMENT_SIZE_LIMIT,
        "app_permissions": str(BOT_PERMISSIONS),
    }
    guild = invoker.guild
    if guild is None:
        payload["user"] = invoker.user
        payload["channel"] = invoker.channel
        payload["channel_id"] = invoker.channel["id"]
        payload["context"] = CONTEXT_BOT_DM
        payload["authorizing_integration_owners"] = {"0": "0"}
    else:
        member = dict(invoker.member or p.member(invoker.user))
        member["user"] = invoker.user
        member["permissions"] = str(invoker.permissions)
        payload["member"] = member
        payload["guild_id"] = str(guild.id)
        payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["channel"] = {**invoker.channel, "permissions": str(invoker.permissions)}
        payload["channel_id"] = invoker.channel["id"]
        payload["context"] = CONTEXT_GUILD
        payload["authorizing_integration_owners"] = {"0": str(guild.id)}
    if message is not None:
        payload["message"] = message
    return payload


def component_data(custom_id: str, *, component_type: int = BUTTON) -> JSON:
    """``data`` of a MESSAGE_COMPONENT interaction (a button click by default)."""
    return {"custom_id": custom_id, "component_type": component_type}


class OptionBuilder:
    """Turns ``{"option": value}`` into typed options, following the synced command schema.

    Args:
        world: Where user, channel and role ids are resolved.
        guild: The guild of the interaction (members are resolved there), or None in DMs.
    """

    def __init__(self, world: World, guild: GuildState | None) -> None:
        self._world = world
        self._guild = guild
        self.resolved: dict[str, dict[str, JSON]] = {}

    def command_data(
        self,
        command: JSON,
        path: Sequence[str],
        values: Mapping[str, Any],
        *,
        focused: str | None = None,
    ) -> JSON:
        """``data`` of an APPLICATION_COMMAND (or AUTOCOMPLETE, when ``focused`` is set).

        Args:
            command: The stored command (from a sync).
            path: Subcommand group/subcommand names below the command, e.g. ``["show"]``.
            values: Option values by name; ids for user/channel/role options.
            focused: The option being typed in an autocomplete interaction.

        Raises:
            ValueError: For unknown subcommands or options, or missing required options.
        """
        schema, wrap = command.get("options") or [], []
        for name in path:
            sub = _option_named(schema, name)
            if sub is None or sub["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
                raise ValueError(f"{command['name']} has no subcommand {name!r}")
            wrap.append(sub)
            schema = sub.get("options") or []
        options = self._options(schema, values, focused=focused)
        for sub in reversed(wrap):
            options = [{"type": sub["type"], "name": sub["name"], "options": options}]
        data: JSON = {
            "id": command["id"],
            "name": command["name"],
            "type": command.get("type", 1),
            "options": options,
        }
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        if self.resolved:
            data["resolved"] = self.resolved
        return data

    def _options(
        self, schema: Sequence[JSON], values: Mapping[str, Any], *, focused: str | None
    ) -> list[JSON]:
        unknown = set(values) - {option["name"] for option in schema}
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        options = []
        for option in schema:
            name = option["name"]
            if name not in values:
                if option.get("required") and focused is None:
                    raise ValueError(f"required option {name!r} missing")
                continue
            if name == focused:
                value: Any = str(values[name])  # what the user has typed so far
                options.append(
                    {"type": option["type"], "name": name, "value": value, "focused": True}
                )
            else:
                value = self._value(option["type"], values[name])
                options.append({"type": option["type"], "name": name, "value": value})
        return options

    def _value(self, option_type: int, value: Any) -> Any:
        if option_type == STRING:
            return str(value)
        if option_type == INTEGER:
            return int(value)
        if option_type == NUMBER:
            return float(value)
        if option_type == BOOLEAN:
            return bool(value)
        if option_type in (USER, MENTIONABLE):
            return self._resolve_user(int(value))
        if option_type == CHANNEL:
            return self._resolve_channel(int(value))
        if option_type == ROLE:
            return self._resolve_role(int(value))
        raise ValueError(f"option type {option_type} is not supported by the emulator")

    def _section(self, name: str) -> dict[str, JSON]:
        return self.resolved.setdefault(name, {})

    def _resolve_user(self, user_id: int) -> str:
        user = self._world.user(user_id)
        self._section("users")[str(user_id)] = user
        if self._guild is not None and user_id in self._guild.members:
            member = {k: v for k, v in self._guild.members[user_id].items() if k != "user"}
            member["permissions"] = str(p.MEMBER_PERMISSIONS)
            self._section("members")[str(user_id)] = member
        return str(user_id)

    def _resolve_channel(self, channel_id: int) -> str:
        channel = self._world.channel(channel_id)
        resolved = {**channel, "permissions": str(p.MEMBER_PERMISSIONS)}
        self._section("channels")[str(channel_id)] = resolved
        return str(channel_id)

    def _resolve_role(self, role_id: int) -> str:
        roles = self._guild.roles if self._guild is not None else []
        role = next((r for r in roles if r["id"] == str(role_id)), None)
        if role is None:
            raise ValueError(f"role {role_id} is not in the interaction's guild")
        self._section("roles")[str(role_id)] = role
        return str(role_id)


def _option_named(options: Sequence[JSON], name: str) -> JSON | None:
    return next((option for option in options if option["name"] == name), None)
