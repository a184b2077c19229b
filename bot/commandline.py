"""Parsing console input such as ``/gap mmlu as_of:2024-06-01`` against the command specs."""

from __future__ import annotations

import shlex
import unicodedata
from datetime import date

from bot.specs import CommandSpec, OptionSpec
from frontier.errors import InputError
from frontier.names import suggest

# Refusals quote what was typed, cut to this many characters (a 5,000-character paste must
# not come back as a 5,000-character error).
ECHO_LIMIT = 40


# Dates outside this range are typos (0001-01-01, 9999-12-31) and break date arithmetic
# and chart axes; refuse them at the edge.
EARLIEST_DATE = date(1950, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def check_date(name: str, value: date) -> date:
    """``value`` if it is a plausible date for ``name``, else a clear InputError."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InputError(
            f"{name} must be between {EARLIEST_DATE} and {LATEST_DATE}, got {value.isoformat()}"
        )
    return value


def _clip(text: str) -> str:
    """What the user typed, cut for an error message."""
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"


def _echo(text: str) -> str:
    """What the user typed, quoted (``repr``: control characters escaped) and cut."""
    return repr(_clip(text))


def parse_line(line: str, specs: dict[str, CommandSpec]) -> tuple[CommandSpec, dict[str, object]]:
    """Split a console line into a command and its typed options.

    Options are given in order (``/gap mmlu``) or by name (``/gap benchmark:mmlu``);
    multi-word values are quoted (``/model "llama 3.1 70b"``).

    Raises:
        InputError: unknown command, unknown option, missing or badly typed value.
    """
    try:
        words = shlex.split(line.strip().removeprefix("/"))
    except ValueError as exc:
        raise InputError(f"cannot read that line: {exc}") from None
    if not words:
        raise InputError("type a command, e.g. /gap mmlu (or /help)")
    spec, rest = _match_command(words, specs)
    values: dict[str, object] = {}
    positional = [o for o in spec.options]
    for word in rest:
        name, sep, raw = word.partition(":")
        option = spec.option(name) if sep else None
        if option is None:
            if not positional:
                raise InputError(f"/{spec.name} takes no more options (got {_echo(word)})")
            option, raw = positional[0], word
        if option.name in values:
            raise InputError(f"option {option.name!r} given twice")
        positional = [o for o in positional if o.name != option.name]
        values[option.name] = convert(option, raw)
    for option in spec.options:
        if option.required and option.name not in values:
            raise InputError(f"/{spec.name} needs {option.name}: {option.description}")
    return spec, values


def _match_command(
    words: list[str], specs: dict[str, CommandSpec]
) -> tuple[CommandSpec, list[str]]:
    first = words[0].lower()
    if len(words) > 1 and f"{first} {words[1].lower()}" in specs:
        return specs[f"{first} {words[1].lower()}"], words[2:]
    if first in specs:
        return specs[first], words[1:]
    groups = sorted({name for name in specs if name.startswith(first + " ")})
    if groups:
        raise InputError(f"/{first} needs a subcommand: " + ", ".join(f"/{g}" for g in groups))
    names = {name.replace(" ", ""): name for name in specs}
    hint = [f"/{n}" for n in suggest(first, names)]
    raise InputError(f"no command /{_clip(first)}", hint)


def convert(option: OptionSpec, raw: str) -> object:
    """A raw console word as the option's type, or a clear InputError."""
    kind = option.kind
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is bool:
            lowered = raw.lower()
            if lowered not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError(raw)
            return lowered in ("true", "yes", "1")
        if kind is date:
            return check_date(option.name, date.fromisoformat(raw))
    except ValueError:
        expected = {
            int: "a whole number",
            float: "a number",
            bool: "true or false",
            date: "a date YYYY-MM-DD",
        }
        raise InputError(f"{option.name} must be {expected[kind]}, got {_echo(raw)}") from None
    # Control characters are never part of a name, and PostgreSQL refuses NUL in text.
    raw = "".join(ch for ch in raw if unicodedata.category(ch) != "Cc")
    if option.choices and raw.lower() not in {c.lower() for c in option.choices}:
        raise InputError(f"{option.name} must be one of: {', '.join(option.choices)}")
    return raw
