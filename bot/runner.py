"""``gapwatch run``: the Discord bot when a token is set, else the terminal console."""

from __future__ import annotations

import asyncio
import logging
import signal

from bot.app import runtime
from bot.console import Console, run_console
from bot.settings import Settings
from jobs.leader import InstanceLockedError

log = logging.getLogger(__name__)

EXIT_INSTANCE_LOCKED = 4
"""Another process already runs on this SQLite database (its lock file is held)."""

EXIT_GATEWAY_LOCK_LOST = 5
"""The gateway lock was lost while connected; the restart policy starts the process again."""


async def run(settings: Settings) -> int:
    """Serve Discord or the console until stopped (Ctrl-D or /quit in the console, SIGTERM).

    SIGTERM (``docker stop``) cancels the serving task, so the runtime closes in order: the
    scheduler stops, the bot disconnects, the HTTP client and the engine close. A delivery in
    flight is left 'sending' and reclaimed after its lease; its nonce makes the resend safe.

    Returns:
        The exit code: 0, :data:`EXIT_INSTANCE_LOCKED` or :data:`EXIT_GATEWAY_LOCK_LOST`.
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
    except InstanceLockedError as exc:
        log.error("not starting: %s", exc)
        return EXIT_INSTANCE_LOCKED
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _serve(settings: Settings) -> int:
    async with runtime(settings) as rt:
        if settings.discord_token is None:
            log.info("no DISCORD_TOKEN: running the terminal console")
            await run_console(Console(rt.answers))
            return 0
        from bot.discord_bot import GatewayLockLost, serve

        try:
            await serve(rt)
        except GatewayLockLost as exc:
            log.error("stopping: %s", exc)
            return EXIT_GATEWAY_LOCK_LOST
        return 0
