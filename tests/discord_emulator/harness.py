"""Run a real discord.py client against the emulator, deterministically.

discord.py waits ``guild_ready_timeout`` (2 s by default, a ``Client`` option read by
``ConnectionState``) after the last GUILD_CREATE before ``on_ready``; the emulator sends every
GUILD_CREATE right after READY, so a tenth of a second is plenty and keeps tests fast.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import discord

#: Seconds of GUILD_CREATE silence before ``on_ready`` (discord.py's default is 2.0).
GUILD_READY_TIMEOUT = 0.1

ClientT = TypeVar("ClientT", bound=discord.Client)


def client_options(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for a ``discord.Client`` under test (fast ``on_ready``).

    Args:
        **overrides: Further or different client options.
    """
    return {"guild_ready_timeout": GUILD_READY_TIMEOUT, **overrides}


@contextlib.asynccontextmanager
async def running_client(
    client: ClientT, token: str, *, timeout: float = 5.0
) -> AsyncIterator[ClientT]:
    """Log in, connect and wait for ``on_ready``; close the client on exit.

    Args:
        client: A client built after the endpoint was pointed at the emulator.
        token: The emulator's bot token.
        timeout: Seconds to wait for ready.

    Raises:
        TimeoutError: If the client is not ready in time.
        discord.DiscordException: If it fails to log in or connect.
    """
    await client.login(token)
    connection = asyncio.create_task(client.connect(), name="discord-client-connect")
    ready = asyncio.create_task(client.wait_until_ready(), name="discord-client-ready")
    try:
        done, _ = await asyncio.wait(
            {connection, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if connection in done:
            connection.result()  # raises the connection error, if any
            raise RuntimeError("the client stopped before it was ready")
        if ready not in done:
            raise TimeoutError(f"the client was not ready within {timeout}s")
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(connection, timeout)
