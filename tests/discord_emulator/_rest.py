"""The REST API under ``/api/v10``: routing, the request pipeline, and the handlers.

Every request goes through :meth:`RestApi._serve`: parse (JSON or multipart with
``payload_json`` and ``files[n]``), record, injected faults, rate limits, authorization, the
handler, then an answer whose ``Content-Type`` is exactly ``application/json`` (discord.py
parses nothing else as JSON, trap 1) with ``X-RateLimit-*`` and ``Via`` headers.

A handler bug answers 400 and is kept in :attr:`RestApi.internal_errors`, never 500: discord.py
retries 5xx for about 25 s, which would stall a test instead of failing it (trap 9).
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import _payloads as p
from ._records import (
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    EPHEMERAL,
    MODAL,
    UPDATE_MESSAGE,
    Changes,
    InteractionCallback,
    InteractionHandle,
    RecordedRequest,
    StoredMessage,
    UploadedFile,
)
from ._traffic import VIA, FaultRule, RateLimiter, RateLimitVerdict
from ._validation import DiscordAPIError, choices_errors, raise_if_invalid
from ._world import World, mark_loading

log = logging.getLogger(__name__)

JSON = dict[str, Any]
API_PREFIX = "/api/v10"

# https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060
INTERNAL_ERROR = 0


@dataclass
class Reply:
    """A handler's answer: JSON body (None for an empty body), status, extra headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RecordedRequest, web.Request], Awaitable[Any]]


class RestApi:
    """Discord's REST endpoints over a :class:`World`.

    Args:
        world: The data the endpoints read and change.
        changes: Notified after every request, so waiters re-check.
        token: The bot token ``Authorization: Bot ...`` must carry.
        rate_limiter: Decides rate-limit headers and 429s.
        gateway_url: Returned by ``GET /gateway`` and ``GET /gateway/bot``.
        recommended_shards: ``shards`` of ``GET /gateway/bot``.
    """

    def __init__(
        self,
        *,
        world: World,
        changes: Changes,
        token: str,
        rate_limiter: RateLimiter,
        gateway_url: Callable[[], str],
        recommended_shards: int = 1,
    ) -> None:
        self.world = world
        self.token = token
        self.rate_limiter = rate_limiter
        self.recommended_shards = recommended_shards
        self.requests: list[RecordedRequest] = []
        self.faults: list[FaultRule] = []
        self.internal_errors: list[str] = []
        self.interactions: dict[int, InteractionHandle] = {}
        self._changes = changes
        self._gateway_url = gateway_url

    # --- routing ------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Register every endpoint (most specific first) and a recorded 404 for the rest."""
        a = "/applications/{application_id}"
        w = "/webhooks/{webhook_id}/{webhook_token}"
        routes: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", "/users/{user_id}", self._get_user, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", f"{a}/commands", self._get_commands, True),
            ("PUT", f"{a}/commands", self._put_commands, True),
            ("GET", f"{a}/guilds/{{guild_id}}/commands", self._get_commands, True),
            ("PUT", f"{a}/guilds/{{guild_id}}/commands", self._put_commands, True),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback, False),
            ("POST", w, self._create_followup, False),
            ("GET", f"{w}/messages/{{message_id}}", self._get_webhook_message, False),
            ("PATCH", f"{w}/messages/{{message_id}}", self._edit_webhook_message, False),
            ("DELETE", f"{w}/messages/{{message_id}}", self._delete_webhook_message, False),
            ("GET", "/channels/{channel_id}", self._get_channel, True),
            ("POST", "/channels/{channel_id}/messages", self._create_message, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message, True),
            ("GET", "/guilds/{guild_id}", self._get_guild, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member, True),
        ]
        for method, template, handler, needs_auth in routes:
            app.router.add_route(
                method, API_PREFIX + template, self._endpoint(template, handler, needs_auth)
            )
        app.router.add_route(
            "*", API_PREFIX + "/{tail:.*}", self._endpoint("*", self._unknown, False)
        )
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)

    def _endpoint(
        self, template: str, handler: Handler, needs_auth: bool
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            return await self._serve(request, template, handler, needs_auth)

        return endpoint

    # --- pipeline -----------------------------------------------------------------------

    async def _serve(
        self, request: web.Request, template: str, handler: Handler, needs_auth: bool
    ) -> web.Response:
        record = await _record(request)
        self.requests.append(record)
        verdict = self.rate_limiter.check(
            record.method,
            template,
            _major_parameters(request),
            counts_globally=not template.startswith(("/interactions", "/webhooks")),
        )
        headers = {**verdict.headers, "Via": VIA}
        reply = await self._answer(record, request, handler, needs_auth, verdict)
        record.status, record.response = reply.status, reply.body
        headers.update(reply.headers)
        if record.status >= 400:
            self._note_rejection(record)
        self._changes.notify()
        return _response(reply, headers)

    async def _answer(
        self,
        record: RecordedRequest,
        request: web.Request,
        handler: Handler,
        needs_auth: bool,
        verdict: RateLimitVerdict,
    ) -> Reply:
        fault = next((f for f in self.faults if f.matches(record.method, record.path)), None)
        if fault is not None:
            fault.hits += 1
            return Reply(fault.response_body(), fault.status, fault.response_headers())
        if verdict.retry_after is not None:
            return Reply(verdict.body(), 429, verdict.headers)
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return Reply({"message": "401: Unauthorized", "code": 0}, 401)
        try:
            result = await handler(record, request)
        except DiscordAPIError as error:
            return Reply(error.body, error.status)
        except Exception as error:  # a bug in the emulator: fail the test, don't stall it
            detail = "".join(traceback.format_exception(error))
            self.internal_errors.append(f"{record.method} {record.path}: {detail}")
            log.error("emulator error on %s %s: %s", record.method, record.path, detail)
            return Reply({"message": f"emulator error: {error!r}", "code": INTERNAL_ERROR}, 400)
        return result if isinstance(result, Reply) else Reply(result)

    def _note_rejection(self, record: RecordedRequest) -> None:
        handle = self._handle_of(record)
        if handle is not None:
            handle.rejected.append(record)

    def _handle_of(self, record: RecordedRequest) -> InteractionHandle | None:
        parts = record.path.split("/")
        if record.path.startswith("/interactions/") and len(parts) > 2:
            return self.interactions.get(int(parts[2])) if parts[2].isdigit() else None
        if record.path.startswith("/webhooks/") and len(parts) > 3:
            return self._handle_by_token(parts[3])
        return None

    def _handle_by_token(self, token: str) -> InteractionHandle | None:
        return next((h for h in self.interactions.values() if h.token == token), None)

    # --- identity and gateway -----------------------------------------------------------

    async def _get_me(self, record: RecordedRequest, request: web.Request) -> Any:
        return self.world.bot

    async def _get_user(self, record: RecordedRequest, request: web.Request) -> Any:
        return self.world.user(int(request.match_info["user_id"]))

    async def _get_application(self, record: RecordedRequest, request: web.Request) -> Any:
        return self.world.application

    async def _get_gateway(self, record: RecordedRequest, request: web.Request) -> Any:
        return {"url": self._gateway_url()}

    async def _get_gateway_bot(self, record: RecordedRequest, request: web.Request) -> Any:
        return {
            "url": self._gateway_url(),
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    # --- application commands -----------------------------------------------------------

    async def _get_commands(self, record: RecordedRequest, request: web.Request) -> Any:
        self._check_application(request)
        return self.world.commands(_guild_id(request))

    async def _put_commands(self, record: RecordedRequest, request: web.Request) -> Any:
        self._check_application(request)
        if not isinstance(record.json, list):
            raise DiscordAPIError(400, 50035, "Invalid Form Body")
        return self.world.overwrite_commands(record.json, _guild_id(request))

    def _check_application(self, request: web.Request) -> None:
        if int(request.match_info["application_id"]) != self.world.application_id:
            raise DiscordAPIError(403, 50001, "Missing Access")

    # --- channels and messages ----------------------------------------------------------

    async def _get_channel(self, record: RecordedRequest, request: web.Request) -> Any:
        return self.world.channel(int(request.match_info["channel_id"]))

    async def _create_dm(self, record: RecordedRequest, request: web.Request) -> Any:
        recipient = (record.json or {}).get("recipient_id")
        if recipient is None:
            raise DiscordAPIError(400, 50035, "Invalid Form Body")
        return self.world.dm_channel(int(recipient))

    async def _create_message(self, record: RecordedRequest, request: web.Request) -> Any:
        channel_id = int(request.match_info["channel_id"])
        message = self.world.create_message(channel_id, record.json or {}, record.files)
        return message.payload

    async def _get_message(self, record: RecordedRequest, request: web.Request) -> Any:
        return self._channel_message(request).payload

    async def _edit_message(self, record: RecordedRequest, request: web.Request) -> Any:
        message = self._channel_message(request)
        return self.world.edit_message(message, record.json or {}, record.files).payload

    async def _delete_message(self, record: RecordedRequest, request: web.Request) -> Any:
        self._channel_message(request).deleted = True
        return Reply(None, 204)

    def _channel_message(self, request: web.Request) -> StoredMessage:
        channel_id = int(request.match_info["channel_id"])
        self.world.channel(channel_id)
        return self.world.message(channel_id, int(request.match_info["message_id"]))

    async def _get_guild(self, record: RecordedRequest, request: web.Request) -> Any:
        return self.world.guild_payload(int(request.match_info["guild_id"]))

    async def _get_member(self, record: RecordedRequest, request: web.Request) -> Any:
        guild = self.world.guild(int(request.match_info["guild_id"]))
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            raise DiscordAPIError(404, 10007, "Unknown Member")
        return member

    async def _unknown(self, record: RecordedRequest, request: web.Request) -> Any:
        return Reply({"message": "404: Not Found", "code": 0}, 404)

    async def _attachment(self, request: web.Request) -> web.Response:
        upload = self.world.attachments.get(int(request.match_info["attachment_id"]))
        if upload is None:
            return web.Response(status=404)
        return web.Response(
            body=upload.data, content_type=upload.content_type or "application/octet-stream"
        )

    # --- interactions -------------------------------------------------------------------

    async def _callback(self, record: RecordedRequest, request: web.Request) -> Any:
        handle = self.interactions.get(int(request.match_info["interaction_id"]))
        if handle is None or handle.token != request.match_info["token"]:
            raise DiscordAPIError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        now = asyncio.get_running_loop().time()
        if handle.callback is not None:
            raise DiscordAPIError(
                400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
            )
        if now > handle.deadline:
            raise DiscordAPIError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        body = record.json or {}
        callback_type, data = int(body.get("type", 0)), body.get("data") or {}
        try:
            message = self._apply_callback(handle, callback_type, data, record.files)
        except DiscordAPIError as error:  # the message is the body's "data"
            raise error.nested_under("data") from None
        handle.callback = InteractionCallback(
            callback_type, data, record.files, now - handle.dispatched_at, record
        )
        if record.query.get("with_response") not in ("1", "true", "True"):
            return Reply(None, 204)
        return _callback_resource(handle, callback_type, message)

    def _apply_callback(
        self, handle: InteractionHandle, callback_type: int, data: JSON, files: list[UploadedFile]
    ) -> StoredMessage | None:
        world = self.world
        if callback_type == CHANNEL_MESSAGE:
            handle.original = world.create_message(
                handle.channel_id,
                data,
                files,
                message_type=p.MESSAGE_CHAT_INPUT_COMMAND,
                extra=self._interaction_fields(handle),
            )
            return handle.original
        if callback_type == DEFERRED_CHANNEL_MESSAGE:
            flags = int(data.get("flags") or 0) & EPHEMERAL
            handle.original = world.create_message(
                handle.channel_id,
                {"content": "", "flags": flags},
                allow_empty=True,
                message_type=p.MESSAGE_CHAT_INPUT_COMMAND,
                extra=self._interaction_fields(handle),
            )
            mark_loading(handle.original)
            return handle.original
        if callback_type in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            return self._update_component_message(handle, callback_type, data, files)
        if callback_type == AUTOCOMPLETE_RESULT:
            raise_if_invalid(choices_errors(data.get("choices") or [], ("choices",)))
            return None
        if callback_type == MODAL:
            return None
        raise DiscordAPIError(400, 50035, f"Invalid interaction callback type {callback_type}")

    def _update_component_message(
        self, handle: InteractionHandle, callback_type: int, data: JSON, files: list[UploadedFile]
    ) -> StoredMessage:
        source = handle.message
        if source is None:
            raise DiscordAPIError(400, 50035, "Only component interactions can update a message")
        message = self.world.messages.get(int(source["id"]))
        if message is None:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        if callback_type == UPDATE_MESSAGE:
            self.world.edit_message(message, data, files)
        handle.original = message
        return message

    def _interaction_fields(self, handle: InteractionHandle) -> JSON:
        payload = handle.payload
        user = payload.get("user") or payload["member"]["user"]
        app_id = str(self.world.application_id)
        return {
            "webhook_id": app_id,
            "application_id": app_id,
            "interaction_metadata": {
                "id": payload["id"],
                "type": payload["type"],
                "user": user,
                "authorizing_integration_owners": payload["authorizing_integration_owners"],
            },
        }

    def _webhook_handle(self, request: web.Request) -> InteractionHandle:
        handle = self._handle_by_token(request.match_info["webhook_token"])
        if handle is None or int(request.match_info["webhook_id"]) != self.world.application_id:
            raise DiscordAPIError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        return handle

    async def _create_followup(self, record: RecordedRequest, request: web.Request) -> Any:
        handle = self._webhook_handle(request)
        if handle.callback is None:
            raise DiscordAPIError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        body = record.json or {}
        original = handle.original
        if handle.callback.type == DEFERRED_CHANNEL_MESSAGE and original and original.is_loading:
            # Discord turns the first follow-up after a deferral into the deferred message.
            message = self.world.edit_message(original, body, record.files)
        else:
            message = self.world.create_message(
                handle.channel_id,
                body,
                record.files,
                message_type=p.MESSAGE_CHAT_INPUT_COMMAND,
                extra=self._interaction_fields(handle),
            )
        handle.followups.append(message)
        if record.query.get("wait") in ("1", "true", "True"):
            return message.payload
        return Reply(None, 204)

    def _webhook_message(self, handle: InteractionHandle, request: web.Request) -> StoredMessage:
        wanted = request.match_info["message_id"]
        candidates = [m for m in (handle.original, *handle.followups) if m is not None]
        for message in candidates:
            if not message.deleted and (
                wanted == str(message.id) or (wanted == "@original" and message is handle.original)
            ):
                return message
        raise DiscordAPIError(404, 10008, "Unknown Message")

    async def _get_webhook_message(self, record: RecordedRequest, request: web.Request) -> Any:
        handle = self._webhook_handle(request)
        return self._webhook_message(handle, request).payload

    async def _edit_webhook_message(self, record: RecordedRequest, request: web.Request) -> Any:
        handle = self._webhook_handle(request)
        message = self._webhook_message(handle, request)
        self.world.edit_message(message, record.json or {}, record.files)
        if message is handle.original:
            handle.original_edits.append(record)
        return message.payload

    async def _delete_webhook_message(self, record: RecordedRequest, request: web.Request) -> Any:
        handle = self._webhook_handle(request)
        self._webhook_message(handle, request).deleted = True
        return Reply(None, 204)


# --- helpers ------------------------------------------------------------------------------


async def _record(request: web.Request) -> RecordedRequest:
    body, files = await _parse_body(request)
    return RecordedRequest(
        method=request.method,
        path=request.path.removeprefix(API_PREFIX),
        query=dict(request.query),
        headers=dict(request.headers),
        json=body,
        files=files,
        at=asyncio.get_running_loop().time(),
    )


async def _parse_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    if not request.can_read_body:
        return None, []
    if request.content_type == "multipart/form-data":
        return await _parse_multipart(request)
    text = await request.text()
    return (json.loads(text) if text else None), []


async def _parse_multipart(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    payload: Any = None
    files: list[UploadedFile] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        data = await part.read()  # type: ignore[union-attr]
        name = part.name or ""  # type: ignore[union-attr]
        if name == "payload_json":
            payload = json.loads(data)
        else:
            content_type = part.headers.get("Content-Type")  # type: ignore[union-attr]
            filename = part.filename or name  # type: ignore[union-attr]
            files.append(UploadedFile(name, filename, content_type, bytes(data)))
    return payload, files


def _major_parameters(request: web.Request) -> str:
    info = request.match_info
    keys = ("channel_id", "guild_id", "webhook_id", "webhook_token", "interaction_id")
    return "+".join(info[k] for k in keys if k in info)


def _guild_id(request: web.Request) -> int | None:
    guild_id = request.match_info.get("guild_id")
    return int(guild_id) if guild_id is not None else None


def _callback_resource(
    handle: InteractionHandle, callback_type: int, message: StoredMessage | None
) -> JSON:
    """The ``?with_response=1`` answer; discord.py stores a view under ``response_message_id``."""
    interaction: JSON = {
        "id": str(handle.id),
        "type": handle.payload["type"],
        "response_message_loading": callback_type == DEFERRED_CHANNEL_MESSAGE,
        "response_message_ephemeral": bool(message and message.is_ephemeral),
    }
    resource: JSON = {"type": callback_type}
    if message is not None:
        interaction["response_message_id"] = str(message.id)
        resource["message"] = message.payload
    return {"interaction": interaction, "resource": resource}


def _response(reply: Reply, headers: dict[str, str]) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    body = json.dumps(reply.body).encode()
    # Exactly "application/json": aiohttp's json_response would add "; charset=utf-8".
    headers = {**headers, "Content-Type": "application/json"}
    return web.Response(body=body, status=reply.status, headers=headers)
