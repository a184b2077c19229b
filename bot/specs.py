"""Command specifications shared by the Discord commands and the terminal console."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command: its name, Python type and help."""

    name: str
    kind: type
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandSpec:
    """A command as the console knows it: how to answer and how to render as text.

    ``answer`` takes the ``Answers`` service and the parsed options and returns an answer
    object; ``text`` renders that object for a terminal. Discord commands call the same
    ``answer`` and render the same object as an embed.
    """

    name: str
    description: str
    answer: Callable[..., Any]
    text: Callable[[Any], str]
    options: tuple[OptionSpec, ...] = ()
    admin: bool = False
    examples: tuple[str, ...] = field(default_factory=tuple)

    def option(self, name: str) -> OptionSpec | None:
        """The option called ``name`` (case-insensitive), if any."""
        for option in self.options:
            if option.name == name.lower():
                return option
        return None
