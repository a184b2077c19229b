"""A Discord API emulator on loopback for end-to-end tests of the real discord.py client.

See README.md in this folder. The main entry points:

* :class:`DiscordEmulator` (``server.py``): REST, gateway, state and test controls.
* ``fixtures.discord_emulator``: the pytest fixture (endpoint configured, emulator started).
* :func:`running_client` (``harness.py``): log a client in and wait for ``on_ready``.
"""

from ._records import (
    InteractionCallback,
    InteractionHandle,
    RecordedRequest,
    StoredMessage,
    UploadedFile,
)
from ._traffic import FaultRule
from .harness import GUILD_READY_TIMEOUT, client_options, running_client
from .server import DiscordEmulator

__all__ = [
    "GUILD_READY_TIMEOUT",
    "DiscordEmulator",
    "FaultRule",
    "InteractionCallback",
    "InteractionHandle",
    "RecordedRequest",
    "StoredMessage",
    "UploadedFile",
    "client_options",
    "running_client",
]
