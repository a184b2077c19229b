"""``gapwatch run``: the Discord bot when a token is set, else the terminal console."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.app import runtime
from bot.console import Console, run_console
from bot.settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings) -> int:
    """Serve Discord or the console until stopped (Ctrl-D or /quit in the console, SIGTERM).

    SIGTERM (``docker stop``) cancels the serving task, so the runtime closes in order: the
    scheduler stops, the bot disconnects, the HTTP client and the engine close. A delivery in
    flight is left 'sending' and reclaimed after its lease; its nonce makes the resend safe.
    """
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await _serve(settings)
    except asyncio.CancelledError:
        log.info("stopped by SIGTERM")
        return 0
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _serve(settings: Settings) -> int:
    async with runtime(settings) as rt:
        if settings.discord_token is None:
            log.info("no DISCORD_TOKEN: running the terminal console")
            await run_console(Console(rt.answers))
            return 0
        from bot.discord_bot import serve

        await serve(rt)
        return 0
