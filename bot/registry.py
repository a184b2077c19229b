"""Every command the console answers, built on the same ``Answers`` the Discord commands use."""

from __future__ import annotations

from datetime import date

from bot import text
from bot.specs import CommandSpec, OptionSpec


def console_commands() -> dict[str, CommandSpec]:
    """Command name (``"gap"``, ``"prediction show"``) → spec."""
    specs = [
        CommandSpec(
            name="gap",
            description="Best proprietary vs best open-weights score on a benchmark, over time.",
            answer=lambda answers, benchmark, as_of=None: answers.gap(benchmark, as_of),
            text=text.gap_text,
            options=(
                OptionSpec("benchmark", str, "benchmark to compare, e.g. MMLU", required=True),
                OptionSpec("as_of", date, "date to look back to (YYYY-MM-DD); today if left out"),
            ),
            examples=("/gap mmlu", "/gap humaneval as_of:2024-06-01"),
        ),
        CommandSpec(
            name="about",
            description="Version, data freshness and what the store holds.",
            answer=lambda answers: answers.about(),
            text=text.about_text,
        ),
    ]
    return {spec.name: spec for spec in specs}
