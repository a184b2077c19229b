"""Parsing console input such as ``/gap mmlu as_of:2024-06-01`` against the command specs."""

from __future__ import annotations

import shlex
from datetime import date

from bot.specs import CommandSpec, OptionSpec
from frontier.errors import InputError
from frontier.names import suggest


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
                raise InputError(f"/{spec.name} takes no more options (got {word!r})")
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
    raise InputError(f"no command /{first}", hint)


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
            return date.fromisoformat(raw)
    except ValueError:
        expected = {
            int: "a whole number",
            float: "a number",
            bool: "true or false",
            date: "a date YYYY-MM-DD",
        }
        raise InputError(f"{option.name} must be {expected[kind]}, got {raw!r}") from None
    if option.choices and raw.lower() not in {c.lower() for c in option.choices}:
        raise InputError(f"{option.name} must be one of: {', '.join(option.choices)}")
    return raw
