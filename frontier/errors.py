"""Errors whose message is safe and useful to show to the person who asked."""

from __future__ import annotations

from collections.abc import Sequence


class InputError(ValueError):
    """Bad input from a user (a typo'd benchmark, a negative VRAM budget …).

    The message is shown as is; ``suggestions`` are offered as "did you mean …?".
    """

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = tuple(suggestions)

    def __str__(self) -> str:
        if not self.suggestions:
            return self.message
        return f"{self.message} — did you mean {_or_list(self.suggestions)}?"


class NotFoundError(InputError):
    """A benchmark, model or prediction that the store does not have."""


def _or_list(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]
