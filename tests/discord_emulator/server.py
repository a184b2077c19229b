"""A Discord API emulator on loopback, for driving the real discord.py client in tests.

One :class:`DiscordEmulator` serves the REST API (``/api/v10``) and the gateway websocket
(``/gateway``) on ``127.0.0.1`` and a free port. It starts with one guild, one text channel and
one member besides the bot; tests add more, sync commands through the real client, send
interactions, inject faults, and assert on what the bot sent.

Example::

    async with DiscordEmulator() as emulator:
        configure_discord_endpoint(emulator.api_base, emulator.gateway_url)
        ...
        handle = await emulator.send_command("gap", {"benchmark": "MMLU"})
        callback = await handle.wait_for_callback()
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from . import _payloads as p
from ._gateway import RESUMABLE_CLOSE, Gateway, GatewayFrame, GatewaySession
from ._interactions import (
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    Invoker,
    OptionBuilder,
    component_data,
    interaction_payload,
)
from ._records import Changes, InteractionHandle, RecordedRequest, StoredMessage
from ._rest import RestApi
from ._traffic import (
    GLOBAL_PER_SECOND,
    ROUTE_LIMIT,
    ROUTE_PERIOD,
    FaultRule,
    RateLimiter,
    request_matches,
)
from ._world import World

JSON = dict[str, Any]
T = TypeVar("T")

#: Seconds Discord allows for the first response to an interaction
#: (discord-api-docs receiving-and-responding.mdx L351).
INTERACTION_DEADLINE = 3.0
DEFAULT_TIMEOUT = 5.0


class DiscordEmulator:
    """The emulated Discord: REST, gateway, state, and the test-facing controls.

    Args:
        token: The bot token the emulator accepts (REST ``Authorization`` and IDENTIFY).
        host: Interface to listen on; loopback by default.
        rate_limits: Enforce the global (50/s) and per-route (5 per 5 s) limits with 429s;
            see :meth:`enable_rate_limits` for other limits.
        recommended_shards: ``shards`` answered by ``GET /gateway/bot``.
        compress_gateway: Answer ``compress=zlib-stream`` with zlib binary frames (else text).
        interaction_deadline: Seconds after dispatch within which the bot must call back;
            later callbacks get 404 Unknown interaction (10062), as on Discord.
    """

    def __init__(
        self,
        *,
        token: str = "emulator-bot-token",
        host: str = "127.0.0.1",
        rate_limits: bool = False,
        recommended_shards: int = 1,
        compress_gateway: bool = True,
        interaction_deadline: float = INTERACTION_DEADLINE,
    ) -> None:
        self.token = token
        self.host = host
        self.port = 0
        self.interaction_deadline = interaction_deadline
        self.changes = Changes()
        self.world = World()
        self.rate_limiter = RateLimiter(enabled=rate_limits)
        self.rest = RestApi(
            world=self.world,
            changes=self.changes,
            token=token,
            rate_limiter=self.rate_limiter,
            gateway_url=lambda: self.gateway_url,
            recommended_shards=recommended_shards,
        )
        self.gateway = Gateway(
            changes=self.changes,
            authenticate=lambda candidate: secrets.compare_digest(candidate, token),
            ready_payload=self._ready_payload,
            guild_creates=self._guild_creates,
            resume_url=lambda: self.gateway_url,
            compress=compress_gateway,
        )
        self.user_id = self.world.add_user("alice")
        self.guild_id = self.world.add_guild("Gapwatch Lab")
        self.channel_id = self.world.add_channel(self.guild_id, "alerts")
        self.world.add_member(self.guild_id, self.user_id)
        self._runner: web.AppRunner | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host`` and a free port."""
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        self.rest.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.world.base_url = self.base_url

    async def stop(self) -> None:
        """Close gateway connections and stop listening."""
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The REST base for ``discord.http.Route.BASE``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway websocket URL (discord.py adds its query string)."""
        return f"ws://{self.host}:{self.port}/gateway"

    # --- identities ---------------------------------------------------------------------

    @property
    def application_id(self) -> int:
        """The application id (the bot user's id, as for modern applications)."""
        return self.world.application_id

    @property
    def bot_user_id(self) -> int:
        return self.world.bot_id

    # --- world setup --------------------------------------------------------------------

    def add_guild(self, name: str, *, guild_id: int | None = None, channel: str = "general") -> int:
        """Add a guild (with one text channel and the default user as member); returns its id.

        Add guilds before the client connects: they are announced in GUILD_CREATE on IDENTIFY.
        """
        guild_id = self.world.add_guild(name, guild_id=guild_id)
        self.world.add_channel(guild_id, channel)
        self.world.add_member(guild_id, self.user_id)
        return guild_id

    def add_channel(self, name: str, *, guild_id: int | None = None) -> int:
        """Add a text channel (to the default guild unless told); returns its id."""
        return self.world.add_channel(guild_id or self.guild_id, name)

    def add_user(self, username: str, *, guild_id: int | None = None) -> int:
        """Add a user, member of the default guild (or ``guild_id``); returns its id."""
        user_id = self.world.add_user(username)
        self.world.add_member(guild_id or self.guild_id, user_id)
        return user_id

    def guild_channels(self, guild_id: int) -> list[int]:
        """Ids of a guild's text channels."""
        return list(self.world.guild(guild_id).channel_ids)

    # --- fault injection ----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int,
        body: JSON | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> FaultRule:
        """Answer the next ``times`` matching REST requests with an error.

        Args:
            method: HTTP method, or ``"*"``.
            path: Glob over the path after ``/api/v10``, e.g. ``/channels/*/messages``.
            status: 429, 500, 404, ...
            body: JSON body; Discord's usual one for the status when None.
            retry_after: Seconds, for 429 (body ``retry_after`` and ``Retry-After`` header).
            times: How many requests to fail.

        Returns:
            The rule; its ``hits`` counts the requests it answered.
        """
        rule = FaultRule(method.upper(), path, status, body, retry_after, times)
        self.rest.faults.append(rule)
        return rule

    def delete_channel(self, channel_id: int) -> None:
        """Make a channel answer 404 Unknown Channel (10003) from now on."""
        self.world.deleted_channels.add(channel_id)

    def close_dms(self, user_id: int) -> None:
        """Make messages to this user's DM answer 403 Cannot send messages (50007)."""
        self.world.closed_dm_users.add(user_id)

    def enable_rate_limits(
        self,
        *,
        global_per_second: int = GLOBAL_PER_SECOND,
        route_limit: int = ROUTE_LIMIT,
        route_period: float = ROUTE_PERIOD,
    ) -> None:
        """Enforce rate limits from now on: 429s once a bucket or the global limit is spent.

        Args:
            global_per_second: Requests per second across routes (interactions exempt).
            route_limit: Requests per bucket (route and channel/guild/webhook) per period.
            route_period: The bucket's window in seconds.
        """
        limiter = self.rate_limiter
        limiter.global_per_second = global_per_second
        limiter.route_limit, limiter.route_period = route_limit, route_period
        limiter.enabled = True

    def disable_rate_limits(self) -> None:
        """Stop enforcing rate limits (headers still describe a never-empty bucket)."""
        self.rate_limiter.enabled = False

    # --- recorded traffic ---------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request so far, in arrival order."""
        return self.rest.requests

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests matching a method and a path glob (as in :meth:`fail_next`)."""
        return [r for r in self.requests if request_matches(method, path, r.method, r.path)]

    @property
    def rejected(self) -> list[RecordedRequest]:
        """Requests answered with a 4xx/5xx."""
        return [r for r in self.requests if r.status >= 400]

    @property
    def internal_errors(self) -> list[str]:
        """Emulator bugs (answered 400); the fixture fails the test if any occurred."""
        return self.rest.internal_errors

    @property
    def gateway_frames(self) -> list[GatewayFrame]:
        """Frames the client sent on the gateway (IDENTIFY, heartbeats, RESUME, ...)."""
        return self.gateway.frames

    def messages_in(self, channel_id: int | None = None) -> list[StoredMessage]:
        """Messages in a channel (the default channel unless told), oldest first."""
        return self.world.channel_messages(channel_id or self.channel_id)

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """Synced global commands, or one guild's."""
        return self.world.commands(guild_id)

    def attachment_bytes(self, message: StoredMessage, index: int = 0) -> bytes:
        """The bytes of a message's attachment."""
        return message.files[index].data

    async def wait_for(
        self,
        predicate: Callable[[], T],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        what: str = "condition",
    ) -> T:
        """Wait until ``predicate()`` is truthy.

        The predicate is re-checked after every REST request and gateway session change, so
        it should read emulator state; wait for the client's own state with its events.

        Raises:
            TimeoutError: After ``timeout`` seconds.
        """
        return await self.changes.wait_for(predicate, timeout=timeout, what=what)

    # --- gateway ------------------------------------------------------------------------

    @property
    def sessions(self) -> list[GatewaySession]:
        """Gateway sessions still alive (connected or resumable)."""
        return self.gateway.live_sessions()

    async def wait_for_sessions(
        self, count: int = 1, *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[GatewaySession]:
        """Wait until ``count`` sessions (shards) are identified and connected."""
        return await self.wait_for(
            lambda: (
                (live := [s for s in self.sessions if s.connected]) and len(live) >= count and live
            ),
            timeout=timeout,
            what=f"{count} connected gateway session(s)",
        )

    async def disconnect_gateway(
        self, *, shard_id: int | None = None, code: int = RESUMABLE_CLOSE, invalidate: bool = False
    ) -> list[GatewaySession]:
        """Close the gateway connection(s); with the default code the client RESUMEs.

        Args:
            shard_id: Only this shard; all when None.
            code: Close code (4000: resumable).
            invalidate: Forget the session so the RESUME is refused (op 9) and the client must
                IDENTIFY again.
        """
        return await self.gateway.disconnect(shard_id=shard_id, code=code, invalidate=invalidate)

    async def wait_until_resumed(
        self, session: GatewaySession, *, timeout: float = DEFAULT_TIMEOUT
    ) -> GatewaySession:
        """Wait until a disconnected session was resumed and is connected again."""
        resumes = session.resumes
        return await self.wait_for(
            lambda: session.connected and session.resumes > resumes and session,
            timeout=timeout,
            what=f"session {session.session_id} to resume",
        )

    async def dispatch(
        self,
        event: str,
        data: JSON,
        *,
        guild_id: int | None = None,
        shard_id: int | None = None,
    ) -> None:
        """Send a gateway event to the shard that owns ``guild_id`` (shard 0 without one).

        Events for a disconnected session are kept and replayed when it resumes.
        """
        session = self.gateway.session_for(guild_id=guild_id, shard_id=shard_id)
        await self.gateway.dispatch(session, event, data)

    # --- interactions -------------------------------------------------------------------

    async def send_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        **where: Any,
    ) -> InteractionHandle:
        """Invoke a synced slash command, as a user would.

        Args:
            name: Command name, with subcommands after spaces: ``"alerts add"``.
            options: Option values by name; ids for user, channel and role options. Values
                are typed from the synced schema.
            **where: Who and where, see :meth:`send_interaction`.

        Raises:
            LookupError: If the command was not synced (Discord could not send it).
        """
        command, path, invoker = self._command_and_invoker(name, where)
        builder = OptionBuilder(self.world, invoker.guild)
        data = builder.command_data(command, path, options or {})
        return await self._send(APPLICATION_COMMAND, data, invoker)

    async def send_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        **where: Any,
    ) -> InteractionHandle:
        """Ask for autocomplete suggestions while the user types option ``focused``.

        Args:
            name: Command name, with subcommands after spaces.
            options: What the user has filled in so far (the focused value is sent as text).
            focused: The option being typed.
            **where: Who and where, see :meth:`send_interaction`.
        """
        command, path, invoker = self._command_and_invoker(name, where)
        builder = OptionBuilder(self.world, invoker.guild)
        data = builder.command_data(command, path, options, focused=focused)
        return await self._send(APPLICATION_COMMAND_AUTOCOMPLETE, data, invoker)

    async def click_button(
        self, message: StoredMessage, custom_id: str, **where: Any
    ) -> InteractionHandle:
        """Click a button of a message the bot sent.

        Args:
            message: The message carrying the button (e.g. ``handle.original``).
            custom_id: The button's custom id (see ``message.custom_ids()``).
            **where: Who clicks (``user_id``, ``permissions``...); the channel is the message's.
        """
        if custom_id not in message.custom_ids():
            raise ValueError(f"message {message.id} has no component {custom_id!r}")
        channel = self.world.channel(message.channel_id)
        dm = channel["type"] == p.DM
        where = {"dm": dm, **where}
        if not dm:
            where.setdefault("channel_id", message.channel_id)
            where.setdefault("guild_id", int(channel["guild_id"]))
        invoker = self._invoker(**where)
        return await self._send(
            MESSAGE_COMPONENT, component_data(custom_id), invoker, message=message.payload
        )

    async def send_interaction(
        self, interaction_type: int, data: JSON, *, message: JSON | None = None, **where: Any
    ) -> InteractionHandle:
        """Dispatch any INTERACTION_CREATE with a hand-made ``data``.

        Args:
            interaction_type: 2 command, 3 component, 4 autocomplete, 5 modal submit.
            data: The interaction's ``data`` object.
            message: The source message of a component interaction.
            **where: ``user_id`` (default: the default user), ``guild_id`` and ``channel_id``
                (default guild and channel), ``dm=True`` for the bot's DM with the user,
                ``permissions`` (the member's, an int; default: an ordinary member, without
                Manage Server 0x20), ``locale``.
        """
        return await self._send(interaction_type, data, self._invoker(**where), message=message)

    def _command_and_invoker(
        self, name: str, where: Mapping[str, Any]
    ) -> tuple[JSON, list[str], Invoker]:
        invoker = self._invoker(**where)
        root, *path = name.split()
        guild_id = invoker.guild.id if invoker.guild else None
        command = self.world.find_command(root, guild_id)
        if command is None:
            raise LookupError(f"command {root!r} is not synced for guild {guild_id}")
        return command, path, invoker

    def _invoker(
        self,
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        permissions: int = p.MEMBER_PERMISSIONS,
        locale: str = "en-US",
    ) -> Invoker:
        user = self.world.user(user_id or self.user_id)
        if dm:
            channel = self.world.dm_channel(int(user["id"]))
            return Invoker(user=user, channel=channel, locale=locale)
        guild = self.world.guild(guild_id or self.guild_id)
        channel = self.world.channel(channel_id or guild.channel_ids[0])
        member = guild.members.get(int(user["id"]))
        if member is None:
            raise LookupError(f"user {user['id']} is not a member of guild {guild.id}")
        return Invoker(user, channel, guild, member, permissions, locale)

    async def _send(
        self, interaction_type: int, data: JSON, invoker: Invoker, *, message: JSON | None = None
    ) -> InteractionHandle:
        payload = interaction_payload(
            interaction_id=self.world.ids.next(),
            token=f"interaction-{secrets.token_urlsafe(24)}",
            application_id=self.application_id,
            interaction_type=interaction_type,
            data=data,
            invoker=invoker,
            message=message,
        )
        guild_id = invoker.guild.id if invoker.guild else None
        session = self.gateway.session_for(guild_id=guild_id)
        now = asyncio.get_running_loop().time()
        handle = InteractionHandle(
            payload=payload,
            changes=self.changes,
            dispatched_at=now,
            deadline=now + self.interaction_deadline,
        )
        self.rest.interactions[handle.id] = handle
        await self.gateway.dispatch(session, "INTERACTION_CREATE", payload)
        return handle

    # --- gateway payloads ---------------------------------------------------------------

    def _ready_payload(self, session: GatewaySession) -> JSON:
        guilds = [g for g in self.world.guilds if session.owns_guild(g)]
        return {
            "v": 10,
            "user": {**self.world.bot, "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(guild_id), "unavailable": True} for guild_id in guilds],
            "private_channels": [],
            "relationships": [],
            "application": {"id": str(self.application_id), "flags": 0},
        }

    def _guild_creates(self, session: GatewaySession) -> list[JSON]:
        return [
            self.world.guild_create_payload(guild_id)
            for guild_id in self.world.guilds
            if session.owns_guild(guild_id)
        ]
