"""The gateway websocket: HELLO, IDENTIFY/READY, heartbeats, RESUME, dispatch, sharding.

Opcodes and close codes: https://discord.com/developers/docs/topics/opcodes-and-status-codes.
discord.py asks for ``compress=zlib-stream`` (``zstd-stream`` when ``zstandard`` is installed)
and decompresses only *binary* frames (gateway.py ``received_message``), so a zlib stream
ending each message with ``00 00 ff ff`` and plain text frames both work; the emulator
compresses when asked for zlib and otherwise sends text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ._records import Changes

log = logging.getLogger(__name__)

JSON = dict[str, Any]

DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
RESUME = 6
RECONNECT = 7
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

AUTHENTICATION_FAILED = 4004
INVALID_SHARD = 4010
#: "Unknown error ... Try reconnecting?": discord.py resumes after it.
RESUMABLE_CLOSE = 4000

# Discord's usual interval; discord.py beats once right after HELLO, then every interval.
HEARTBEAT_INTERVAL_MS = 41_250
REPLAY_BUFFER = 1000


@dataclass(frozen=True)
class GatewayFrame:
    """One frame the client sent (op and data), for assertions."""

    shard_id: int | None
    op: int
    data: Any


class _Connection:
    """One websocket, with its zlib stream; sends are serialised so frames stay whole."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    async def send(self, frame: JSON) -> None:
        text = json.dumps(frame)
        async with self._lock:
            if self.ws.closed:
                return
            if self._compressor is None:
                await self.ws.send_str(text)
            else:
                data = self._compressor.compress(text.encode())
                await self.ws.send_bytes(data + self._compressor.flush(zlib.Z_SYNC_FLUSH))


@dataclass
class GatewaySession:
    """A gateway session: survives disconnects so the client can RESUME it."""

    session_id: str
    shard_id: int | None
    shard_count: int | None
    identify: JSON
    seq: int = 0
    resumes: int = 0
    connection: _Connection | None = None
    ended: bool = False
    buffer: deque[tuple[int, JSON]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.ws.closed

    def owns_guild(self, guild_id: int) -> bool:
        """Whether a guild's events go to this shard: ``(guild_id >> 22) % shard_count``."""
        if self.shard_id is None or not self.shard_count:
            return True
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def next_frame(self, event: str, data: JSON) -> JSON:
        self.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append((self.seq, frame))
        return frame


class Gateway:
    """Serves ``/gateway`` and routes dispatched events to the shard that owns them.

    Args:
        changes: Notified on every session change (identify, resume, disconnect).
        authenticate: Whether a token from IDENTIFY/RESUME is the bot's.
        ready_payload: READY data for a session (without ``session_id``/``shard``).
        guild_creates: GUILD_CREATE payloads for the guilds a session owns.
        resume_url: URL sent as ``resume_gateway_url``.
        compress: Honour ``compress=zlib-stream`` with binary zlib frames.
    """

    def __init__(
        self,
        *,
        changes: Changes,
        authenticate: Callable[[str], bool],
        ready_payload: Callable[[GatewaySession], JSON],
        guild_creates: Callable[[GatewaySession], list[JSON]],
        resume_url: Callable[[], str],
        compress: bool = True,
    ) -> None:
        self.sessions: list[GatewaySession] = []
        self.frames: list[GatewayFrame] = []
        self.compress = compress
        self._changes = changes
        self._authenticate = authenticate
        self._ready_payload = ready_payload
        self._guild_creates = guild_creates
        self._resume_url = resume_url

    # --- queries ------------------------------------------------------------------------

    def live_sessions(self) -> list[GatewaySession]:
        """Sessions that may still receive events (connected or resumable)."""
        return [session for session in self.sessions if not session.ended]

    def session_for(
        self, *, guild_id: int | None = None, shard_id: int | None = None
    ) -> GatewaySession:
        """The live session that receives a guild's events (or DMs, on shard 0).

        Raises:
            LookupError: If no client has identified for that shard.
        """
        for session in reversed(self.live_sessions()):
            if shard_id is not None and session.shard_id not in (None, shard_id):
                continue
            if guild_id is not None and not session.owns_guild(guild_id):
                continue
            if guild_id is None and shard_id is None and session.shard_id not in (None, 0):
                continue
            return session
        raise LookupError(
            f"no gateway session for guild={guild_id} shard={shard_id}; is the client connected?"
        )

    # --- actions ------------------------------------------------------------------------

    async def dispatch(self, session: GatewaySession, event: str, data: JSON) -> None:
        """Send a DISPATCH frame, or keep it for replay if the session is disconnected."""
        frame = session.next_frame(event, data)
        if session.connected:
            assert session.connection is not None
            await session.connection.send(frame)

    async def disconnect(
        self, *, shard_id: int | None = None, code: int = RESUMABLE_CLOSE, invalidate: bool = False
    ) -> list[GatewaySession]:
        """Close the websocket of one shard's (or every) live session.

        Args:
            shard_id: Only this shard; every shard when None.
            code: Close code; 4000 makes discord.py RESUME.
            invalidate: Forget the session, so the RESUME gets INVALID_SESSION and the client
                must IDENTIFY again.

        Returns:
            The sessions that were disconnected.
        """
        closed = []
        for session in self.live_sessions():
            if shard_id is not None and session.shard_id != shard_id:
                continue
            if session.connection is not None:
                await session.connection.ws.close(code=code, message=b"emulator disconnect")
            session.connection = None
            session.ended = invalidate
            closed.append(session)
        self._changes.notify()
        return closed

    async def close_all(self) -> None:
        """Close every websocket (emulator shutdown)."""
        for session in self.sessions:
            if session.connection is not None:
                await session.connection.ws.close(code=1001, message=b"emulator stopping")
            session.connection = None
            session.ended = True

    # --- the websocket ------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for the gateway websocket."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = self.compress and request.query.get("compress") == "zlib-stream"
        connection = _Connection(ws, compress=compress)
        await connection.send({"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        session: GatewaySession | None = None
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            op, data = frame.get("op"), frame.get("d")
            self.frames.append(GatewayFrame(session and session.shard_id, op, data))
            if op == HEARTBEAT:
                await connection.send({"op": HEARTBEAT_ACK})
            elif op == IDENTIFY:
                session = await self._identify(connection, data)
            elif op == RESUME:
                session = await self._resume(connection, data)
        if session is not None and session.connection is connection:
            session.connection = None
            # A client's own clean close ends its session, as on Discord.
            session.ended = session.ended or ws.close_code in (1000, 1001)
        self._changes.notify()
        return ws

    async def _identify(self, connection: _Connection, data: JSON) -> GatewaySession | None:
        if not self._authenticate(str(data.get("token", ""))):
            await connection.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        shard = data.get("shard")
        shard_id, shard_count = (int(shard[0]), int(shard[1])) if shard else (None, None)
        if shard_id is not None and shard_count is not None and not 0 <= shard_id < shard_count:
            await connection.ws.close(code=INVALID_SHARD, message=b"Invalid shard.")
            return None
        for old in self.live_sessions():
            if old.shard_id == shard_id:
                old.ended = True
        session = GatewaySession(uuid.uuid4().hex, shard_id, shard_count, identify=data)
        session.connection = connection
        self.sessions.append(session)
        ready = self._ready_payload(session)
        ready["session_id"] = session.session_id
        ready["resume_gateway_url"] = self._resume_url()
        if shard:
            ready["shard"] = [shard_id, shard_count]
        await self.dispatch(session, "READY", ready)
        for guild in self._guild_creates(session):
            await self.dispatch(session, "GUILD_CREATE", guild)
        log.debug("gateway: shard %s identified (session %s)", shard_id, session.session_id)
        self._changes.notify()
        return session

    async def _resume(self, connection: _Connection, data: JSON) -> GatewaySession | None:
        session = next(
            (s for s in self.live_sessions() if s.session_id == data.get("session_id")), None
        )
        if session is None or not self._authenticate(str(data.get("token", ""))):
            await connection.send({"op": INVALID_SESSION, "d": False})
            return None
        session.connection = connection
        last_seen = int(data.get("seq") or 0)
        for seq, frame in list(session.buffer):
            if seq > last_seen:
                await connection.send(frame)
        session.resumes += 1
        await self.dispatch(session, "RESUMED", {})
        log.debug("gateway: session %s resumed from seq %s", session.session_id, last_seen)
        self._changes.notify()
        return session
