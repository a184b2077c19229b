"""Discord's request limits, refused the way Discord refuses them (400, code 50035).

discord.py sends whatever it is given; these checks make the emulator reject what the real
API rejects, so a test catches an over-long embed before production does. Sources:
message.mdx L602-619 (embed limits), L1080-1083 (content, embeds, nonce);
application-commands.mdx L33, L76-77, L122-124 (options, choices);
receiving-and-responding.mdx L313 (autocomplete results). See /work/shared/notes/reliability.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_TEXT_MAX = 2048
AUTHOR_NAME_MAX = 256
NONCE_MAX = 25
FILES_MAX = 10
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
COMMAND_DESCRIPTION_MAX = 100
OPTIONS_MAX = 25
# Discord's pattern is ^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$; Python's re has no \p,
# and \w (letters, digits, underscore) is the closest built-in class.
COMMAND_NAME = re.compile(r"[-\w]{1,32}")

CHAT_INPUT = 1
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING_OPTION = 3

INVALID_FORM_BODY = 50035
EMPTY_MESSAGE = 50006


@dataclass(frozen=True)
class FieldError:
    """One rejected field, addressed like Discord's ``errors`` tree (``embeds.0.title``)."""

    path: tuple[str | int, ...]
    code: str
    message: str

    @property
    def dotted(self) -> str:
        """The path as a dotted string, e.g. ``embeds.0.fields``."""
        return ".".join(str(part) for part in self.path)


class DiscordAPIError(Exception):
    """A refusal to turn into an error response: HTTP status plus Discord's JSON body."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.body: JSON = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors

    def nested_under(self, key: str) -> DiscordAPIError:
        """The same error with its field paths moved under ``key`` (e.g. ``data``)."""
        errors = self.body.get("errors")
        nested = {key: errors} if errors is not None else None
        return DiscordAPIError(self.status, self.body["code"], self.body["message"], nested)


def invalid_form_body(errors: Sequence[FieldError]) -> DiscordAPIError:
    """Build the 400/50035 error whose ``errors`` tree nests each field's path."""
    tree: JSON = {}
    for error in errors:
        node = tree
        for part in error.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": error.code, "message": error.message})
    return DiscordAPIError(400, INVALID_FORM_BODY, "Invalid Form Body", tree)


def raise_if_invalid(errors: Sequence[FieldError]) -> None:
    """Raise the 50035 error when any field was rejected."""
    if errors:
        raise invalid_form_body(errors)


def _too_long(path: tuple[str | int, ...], limit: int) -> FieldError:
    return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _length_between(
    path: tuple[str | int, ...], value: Any, low: int, high: int
) -> FieldError | None:
    text = "" if value is None else str(value)
    if low <= len(text) <= high:
        return None
    return FieldError(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


# --- messages -----------------------------------------------------------------------------


def message_errors(payload: JSON, *, file_count: int = 0) -> list[FieldError]:
    """Check a message create/edit body (content, embeds, nonce, files) against the limits."""
    errors: list[FieldError] = []
    content = payload.get("content")
    if content is not None and len(str(content)) > CONTENT_MAX:
        errors.append(_too_long(("content",), CONTENT_MAX))
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > NONCE_MAX:
        errors.append(_too_long(("nonce",), NONCE_MAX))
    if file_count > FILES_MAX:
        errors.append(_too_long(("files",), FILES_MAX))
    errors.extend(embeds_errors(payload.get("embeds") or []))
    return errors


def embeds_errors(embeds: Sequence[JSON]) -> list[FieldError]:
    """Check a list of embeds: count, each embed's fields, and the 6,000-character total."""
    errors: list[FieldError] = []
    if len(embeds) > EMBEDS_MAX:
        errors.append(_too_long(("embeds",), EMBEDS_MAX))
    for index, embed in enumerate(embeds):
        errors.extend(_embed_errors(("embeds", index), embed))
    if sum(embed_length(embed) for embed in embeds) > EMBED_TOTAL_MAX:
        errors.append(
            FieldError(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
            )
        )
    return errors


def embed_length(embed: JSON) -> int:
    """Characters Discord counts toward the 6,000 limit (as ``discord.Embed.__len__``)."""
    fields = embed.get("fields") or []
    parts = [
        embed.get("title"),
        embed.get("description"),
        (embed.get("footer") or {}).get("text"),
        (embed.get("author") or {}).get("name"),
        *(field.get("name") for field in fields),
        *(field.get("value") for field in fields),
    ]
    return sum(len(str(part)) for part in parts if part)


def _embed_errors(path: tuple[str | int, ...], embed: JSON) -> list[FieldError]:
    errors: list[FieldError] = []
    limits = {"title": EMBED_TITLE_MAX, "description": EMBED_DESCRIPTION_MAX}
    for key, limit in limits.items():
        if embed.get(key) is not None and len(str(embed[key])) > limit:
            errors.append(_too_long((*path, key), limit))
    footer = embed.get("footer") or {}
    if len(str(footer.get("text") or "")) > FOOTER_TEXT_MAX:
        errors.append(_too_long((*path, "footer", "text"), FOOTER_TEXT_MAX))
    author = embed.get("author") or {}
    if len(str(author.get("name") or "")) > AUTHOR_NAME_MAX:
        errors.append(_too_long((*path, "author", "name"), AUTHOR_NAME_MAX))
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_MAX:
        errors.append(_too_long((*path, "fields"), EMBED_FIELDS_MAX))
    for index, field in enumerate(fields):
        field_path = (*path, "fields", index)
        for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
            error = _length_between((*field_path, key), field.get(key), 1, limit)
            if error is not None:
                errors.append(error)
    return errors


def is_empty_message(payload: JSON, *, file_count: int) -> bool:
    """Whether a new message has nothing to show (Discord answers 50006)."""
    keys = ("content", "embeds", "components", "sticker_ids", "poll")
    return file_count == 0 and not any(payload.get(key) for key in keys)


# --- autocomplete -------------------------------------------------------------------------


def choices_errors(choices: Sequence[JSON], path: tuple[str | int, ...]) -> list[FieldError]:
    """Check autocomplete results or static choices: at most 25, names 1-100 characters."""
    errors: list[FieldError] = []
    if len(choices) > CHOICES_MAX:
        errors.append(_too_long(path, CHOICES_MAX))
    for index, choice in enumerate(choices):
        error = _length_between((*path, index, "name"), choice.get("name"), 1, CHOICE_NAME_MAX)
        if error is not None:
            errors.append(error)
        value = choice.get("value")
        if isinstance(value, str) and len(value) > CHOICE_VALUE_MAX:
            errors.append(_too_long((*path, index, "value"), CHOICE_VALUE_MAX))
    return errors


# --- application commands -----------------------------------------------------------------


def commands_errors(commands: Sequence[JSON]) -> list[FieldError]:
    """Check a bulk-overwrite body: names unique per type, each command well formed."""
    errors: list[FieldError] = []
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        key = (int(command.get("type", CHAT_INPUT)), str(command.get("name")))
        if key in seen:
            errors.append(
                FieldError(
                    (index, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique: {key[1]}",
                )
            )
        seen.add(key)
        errors.extend(_command_errors((index,), command))
    return errors


def _command_errors(path: tuple[str | int, ...], command: JSON) -> list[FieldError]:
    if int(command.get("type", CHAT_INPUT)) != CHAT_INPUT:
        # Context menus: any name up to 32 characters and an empty description.
        error = _length_between((*path, "name"), command.get("name"), 1, 32)
        return [error] if error else []
    errors = _name_and_description_errors(path, command)
    errors.extend(_options_errors((*path, "options"), command.get("options") or []))
    return errors


def _name_and_description_errors(path: tuple[str | int, ...], item: JSON) -> list[FieldError]:
    errors: list[FieldError] = []
    name = str(item.get("name") or "")
    if not COMMAND_NAME.fullmatch(name) or name != name.lower():
        errors.append(
            FieldError(
                (*path, "name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid: {name!r}",
            )
        )
    error = _length_between(
        (*path, "description"), item.get("description"), 1, COMMAND_DESCRIPTION_MAX
    )
    if error is not None:
        errors.append(error)
    return errors


def _options_errors(path: tuple[str | int, ...], options: Sequence[JSON]) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(options) > OPTIONS_MAX:
        errors.append(_too_long(path, OPTIONS_MAX))
    errors.extend(_required_order_errors(path, options))
    for index, option in enumerate(options):
        option_path = (*path, index)
        errors.extend(_name_and_description_errors(option_path, option))
        choices = option.get("choices") or []
        errors.extend(choices_errors(choices, (*option_path, "choices")))
        if choices and option.get("autocomplete"):
            errors.append(
                FieldError(
                    (*option_path, "autocomplete"),
                    "AUTOCOMPLETE_CHOICES_CONFLICT",
                    "Autocomplete cannot be set for options with choices.",
                )
            )
        if option.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
            errors.extend(_options_errors((*option_path, "options"), option.get("options") or []))
    return errors


def _required_order_errors(
    path: tuple[str | int, ...], options: Iterable[JSON]
) -> list[FieldError]:
    optional_seen = False
    for index, option in enumerate(options):
        if option.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP):
            continue
        if not option.get("required"):
            optional_seen = True
        elif optional_seen:
            return [
                FieldError(
                    (*path, index, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            ]
    return []
