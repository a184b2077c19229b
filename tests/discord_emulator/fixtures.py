"""pytest fixtures: a started emulator with discord.py pointed at it.

Import them into a test module (or a conftest) to use them::

    from tests.discord_emulator.fixtures import discord_emulator  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.discord_endpoint import configure_discord_endpoint, current_discord_endpoint

from .harness import client_options
from .server import DiscordEmulator


@pytest_asyncio.fixture
async def discord_emulator() -> AsyncIterator[DiscordEmulator]:
    """A running emulator; discord.py's REST base and gateway point at it for the test.

    Fails the test if the emulator hit a bug of its own while serving it.
    """
    saved = current_discord_endpoint()
    async with DiscordEmulator() as emulator:
        configure_discord_endpoint(emulator.api_base, emulator.gateway_url)
        try:
            yield emulator
        finally:
            configure_discord_endpoint(*saved)
    if emulator.internal_errors:
        pytest.fail("emulator errors:\n" + "\n".join(emulator.internal_errors))


@pytest.fixture
def discord_client_options() -> dict[str, Any]:
    """Options for a ``discord.Client`` under test: ``on_ready`` 0.1 s after the guilds."""
    return client_options()
