"""``gapwatch run``: the Discord bot when a token is set, else the terminal console."""

from __future__ import annotations

import logging

from bot.answers import Answers
from bot.console import Console, run_console
from bot.settings import Settings
from db.store import open_store

log = logging.getLogger(__name__)


async def run(settings: Settings) -> int:
    """Open the store, then serve Discord or the console until stopped."""
    engine = open_store(settings.db_url)
    answers = Answers(engine, gap_threshold=settings.default_gap_threshold)
    try:
        if settings.discord_token is None:
            log.info("no DISCORD_TOKEN: running the terminal console")
            await run_console(Console(answers))
            return 0
        raise SystemExit(
            "gapwatch: Discord mode is not built yet; unset DISCORD_TOKEN for the console"
        )
    finally:
        engine.dispose()
