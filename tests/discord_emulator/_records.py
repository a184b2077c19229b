"""What the emulator remembers: requests, messages, interactions, and a way to wait on them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSON = dict[str, Any]
T = TypeVar("T")

EPHEMERAL = 1 << 6  # message flag 64
LOADING = 1 << 7  # message flag 128: a deferred "is thinking..." response

# https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-interaction-callback-type
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9


class Changes:
    """Lets tests wait for a condition on emulator state instead of sleeping.

    Every state change calls :meth:`notify`; :meth:`wait_for` re-evaluates its predicate
    after each one.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        """Wake every waiter so it re-checks its predicate."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_for(self, predicate: Callable[[], T], *, timeout: float, what: str) -> T:
        """Return the first truthy value of ``predicate()``.

        Raises:
            TimeoutError: If it stays falsy for ``timeout`` seconds; the message names ``what``.
        """
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while not (result := predicate()):
                    waiter = loop.create_future()
                    self._waiters.add(waiter)
                    await waiter
                return result
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (``files[n]``)."""

    field_name: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def is_png(self) -> bool:
        """Whether the bytes start with the PNG signature."""
        return self.data.startswith(b"\x89PNG\r\n\x1a\n")


@dataclass
class RecordedRequest:
    """One REST request and the emulator's answer to it."""

    method: str
    path: str
    """Path after ``/api/v10``, e.g. ``/channels/1/messages``."""
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    """The JSON body, or the parsed ``payload_json`` of a multipart body; None if neither."""
    files: list[UploadedFile]
    at: float
    """Event-loop time the request arrived."""
    status: int = 0
    response: Any = None

    @property
    def error_code(self) -> int | None:
        """Discord's JSON error code of a refused request (e.g. 50035)."""
        if self.status >= 400 and isinstance(self.response, dict):
            return self.response.get("code")
        return None


@dataclass
class StoredMessage:
    """A message the emulator holds, with the bytes of its attachments."""

    payload: JSON
    files: list[UploadedFile] = field(default_factory=list)
    deleted: bool = False

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def content(self) -> str:
        return self.payload.get("content") or ""

    @property
    def embeds(self) -> list[JSON]:
        return self.payload.get("embeds") or []

    @property
    def components(self) -> list[JSON]:
        return self.payload.get("components") or []

    @property
    def attachments(self) -> list[JSON]:
        """Attachment objects; the bytes are in :attr:`files`, in the same order."""
        return self.payload.get("attachments") or []

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags") or 0)

    @property
    def nonce(self) -> str | None:
        return self.payload.get("nonce")

    @property
    def is_ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def is_loading(self) -> bool:
        return bool(self.flags & LOADING)

    def custom_ids(self) -> list[str]:
        """The custom ids of every component, depth first (buttons, selects)."""
        found: list[str] = []
        stack = list(reversed(self.components))
        while stack:
            component = stack.pop()
            if "custom_id" in component:
                found.append(component["custom_id"])
            stack.extend(reversed(component.get("components") or []))
        return found


@dataclass
class InteractionCallback:
    """The bot's initial response to an interaction (``POST .../callback``)."""

    type: int
    data: JSON
    files: list[UploadedFile]
    elapsed: float
    """Seconds from dispatching INTERACTION_CREATE to receiving this callback."""
    request: RecordedRequest

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def is_ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def embeds(self) -> list[JSON]:
        return self.data.get("embeds") or []

    @property
    def content(self) -> str:
        return self.data.get("content") or ""

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete results (callback type 8)."""
        return self.data.get("choices") or []


class InteractionHandle:
    """An interaction the emulator dispatched, and everything the bot answered to it.

    Await :meth:`wait_for_callback` for the initial response, then
    :meth:`wait_for_followups` / :meth:`wait_for_original` for what came after it.
    """

    def __init__(
        self,
        *,
        payload: JSON,
        changes: Changes,
        dispatched_at: float,
        deadline: float,
    ) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.channel_id = int(payload["channel"]["id"])
        self.dispatched_at = dispatched_at
        self.deadline = deadline
        self.callback: InteractionCallback | None = None
        self.original: StoredMessage | None = None
        self.followups: list[StoredMessage] = []
        self.original_edits: list[RecordedRequest] = []
        self.rejected: list[RecordedRequest] = []
        """Requests about this interaction that the emulator refused (4xx)."""
        self._changes = changes

    @property
    def message(self) -> JSON | None:
        """The message a component interaction was sent from."""
        return self.payload.get("message")

    async def wait_for_callback(self, timeout: float = 5.0) -> InteractionCallback:
        """Wait for the initial response (message, defer, autocomplete result, update)."""
        return await self._changes.wait_for(
            lambda: self.callback, timeout=timeout, what=f"a callback to interaction {self.id}"
        )

    async def wait_for_rejection(self, timeout: float = 5.0) -> RecordedRequest:
        """Wait for a refused request about this interaction (e.g. 400 code 50035)."""
        return await self._changes.wait_for(
            lambda: self.rejected and self.rejected[0],
            timeout=timeout,
            what=f"a refused request for interaction {self.id}",
        )

    async def wait_for_followups(self, count: int = 1, timeout: float = 5.0) -> list[StoredMessage]:
        """Wait until at least ``count`` follow-up messages were sent; return them all."""
        return await self._changes.wait_for(
            lambda: len(self.followups) >= count and list(self.followups),
            timeout=timeout,
            what=f"{count} follow-up(s) to interaction {self.id}",
        )

    async def wait_for_original(
        self,
        predicate: Callable[[StoredMessage], bool] = lambda message: not message.is_loading,
        timeout: float = 5.0,
    ) -> StoredMessage:
        """Wait until the original response satisfies ``predicate`` (default: not loading)."""

        def ready() -> StoredMessage | None:
            original = self.original
            return original if original is not None and predicate(original) else None

        return await self._changes.wait_for(
            ready, timeout=timeout, what=f"the original response of interaction {self.id}"
        )
