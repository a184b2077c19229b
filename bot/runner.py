"""``gapwatch run``: the Discord bot when a token is set, else the terminal console."""

from __future__ import annotations

import logging

from bot.app import runtime
from bot.console import Console, run_console
from bot.settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings) -> int:
    """Serve Discord or the console until stopped (Ctrl-D or /quit in the console)."""
    async with runtime(settings) as rt:
        if settings.discord_token is None:
            log.info("no DISCORD_TOKEN: running the terminal console")
            await run_console(Console(rt.answers))
            return 0
        from bot.discord_bot import serve

        await serve(rt)
        return 0
