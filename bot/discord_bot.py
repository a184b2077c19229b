"""The Discord bot: a typed ``commands.Bot`` whose tree owns error replies.

Commands live in ``bot/cogs`` (one cog per slash group); they parse, call one ``Answers``
method in a worker thread, render an embed (and a chart) and reply once. Command registration
is explicit (``gapwatch sync``), never on start.

One gateway connection per shard: :func:`serve` connects only while this process holds the
gateway lock of its shards (:class:`jobs.leader.GatewayLock`); a second process with the same
token and shards stands by, delivering alerts over REST, and connects when the lock frees.

Crash loops: Discord resets a bot's token after 1,000 IDENTIFYs in 24 hours, and Docker's
restart policy does not back off for a process that crashes after running 10 s or more. So
:func:`serve` records each gateway start in ``<data_dir>/gateway-starts.json`` and waits
before connecting when there were many recently (:func:`gateway_start_delay`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.exc import OperationalError

from bot.answers import Answers
from bot.choices import ChoiceCache, benchmark_choices, model_choices, prediction_choices
from bot.interaction import NO_MENTIONS, send_error
from bot.metrics import Metrics
from frontier.errors import InputError
from jobs.alerts import AlertService

if TYPE_CHECKING:
    from jobs.leader import GatewayLock, HeldGatewayLock
    from jobs.polling import Poller

log = logging.getLogger(__name__)

ADMIN_REFUSAL = "You need the Manage Server permission to change this server's alerts."


class GapwatchTree(app_commands.CommandTree):
    """Turns every command error into one useful ephemeral message; logs the unexpected.

    With ``metrics`` set it also times every command, from the tree receiving it to its
    answer (``observe``), by outcome.
    """

    metrics: Metrics | None = None

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        interaction.extras["gapwatch_started"] = time.monotonic()
        return True

    def observe(self, interaction: discord.Interaction, outcome: str) -> None:
        """Record a finished command's latency (not autocomplete) when metrics are on."""
        started = interaction.extras.get("gapwatch_started")
        if (
            self.metrics is None
            or started is None
            or interaction.type is not discord.InteractionType.application_command
        ):
            return
        self.metrics.observe_command(
            _command_name(interaction), outcome, time.monotonic() - started
        )

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        outcome = "refused"
        if isinstance(original, InputError):
            message = str(original)
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = "This command works only in a server."
        elif isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
            message = ADMIN_REFUSAL
        elif isinstance(error, app_commands.TransformerError):
            message = f"{error.value!r} is not a valid value for this option."
        elif isinstance(original, OperationalError):
            log.warning("database unavailable during /%s", _command_name(interaction))
            message = "The database is unavailable right now; please try again in a minute."
            outcome = "db_unavailable"
        else:
            outcome = "error"
            log.error(
                "command /%s failed (user %s, guild %s)",
                _command_name(interaction),
                interaction.user.id,
                interaction.guild_id,
                exc_info=original,
            )
            message = "Something went wrong answering that; the error is logged."
        await send_error(interaction, message)
        self.observe(interaction, outcome)


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.qualified_name if command is not None else "?"


class GapwatchBot(commands.Bot):
    """The bot: holds the answer service and the autocomplete caches.

    Args:
        answers: The answer service (the store behind it).
        metrics: Counters and health state to keep up to date, if any.
        alert_service: Alert settings and subscriptions (built from the store if not given).
        **options: Further ``discord.Client`` options (tests pass ``guild_ready_timeout``).
    """

    def __init__(
        self,
        answers: Answers,
        *,
        metrics: Metrics | None = None,
        alert_service: AlertService | None = None,
        poller: Poller | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            tree_cls=GapwatchTree,
            help_command=None,
            **options,
        )
        self.answers = answers
        self.poller = poller  # None when polling is off: /sources poll says so
        self.alert_service = alert_service
        self.metrics = metrics
        self.tree.metrics = metrics  # type: ignore[attr-defined]
        self.benchmark_names: ChoiceCache = benchmark_choices(answers.engine)
        self.model_names: ChoiceCache = model_choices(answers.engine)
        self.prediction_codes: ChoiceCache = prediction_choices(answers.engine)

    async def setup_hook(self) -> None:
        from bot.cogs import COGS

        for cog in COGS:
            await self.add_cog(cog(self))

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))
        self._set_discord("connected")

    async def on_resumed(self) -> None:
        self._set_discord("connected")

    async def on_disconnect(self) -> None:
        self._set_discord("disconnected")

    async def on_app_command_completion(
        self, interaction: discord.Interaction, _command: object
    ) -> None:
        self.tree.observe(interaction, "ok")  # type: ignore[attr-defined]

    def _set_discord(self, state: Any) -> None:
        if self.metrics is not None:
            self.metrics.set_discord(state)


class ShardedGapwatchBot(GapwatchBot, commands.AutoShardedBot):
    """The bot on discord.py's ``AutoShardedBot``: ``shard_count`` shards in all, this process
    running ``shard_ids`` (all by default), each shard a gateway connection of its own.

    discord.py's ``before_identify_hook`` waits 5 s before each IDENTIFY after the first
    (Discord's identify rate limit); kept as is (tests override it).
    """


def build_bot(
    answers: Answers,
    *,
    metrics: Metrics | None = None,
    alert_service: AlertService | None = None,
    shard_count: int | None = None,
    shard_ids: list[int] | None = None,
    **options: Any,
) -> GapwatchBot:
    """The bot with every cog (added on login); sharded when ``shard_count`` is set.

    Args:
        answers: The answer service.
        metrics: Counters and health state, if any.
        alert_service: Alert settings and subscriptions.
        shard_count: Shards in all (None: one unsharded connection).
        shard_ids: The shards this process runs (None: all of them).
        **options: Further ``discord.Client`` options.
    """
    if shard_count is None:
        return GapwatchBot(answers, metrics=metrics, alert_service=alert_service, **options)
    return ShardedGapwatchBot(
        answers,
        metrics=metrics,
        alert_service=alert_service,
        shard_count=shard_count,
        shard_ids=shard_ids,
        **options,
    )


GATEWAY_STARTS_FILE = "gateway-starts.json"
FREE_STARTS_PER_HOUR = 3
"""Gateway starts in an hour that wait for nothing (a deploy, a restart or two)."""
FIRST_START_DELAY = 10.0
MAX_START_DELAY = 900.0
DAILY_START_CAP = 500
"""At most this many gateway starts in 24 hours (half of Discord's IDENTIFY budget)."""


def gateway_start_delay(starts: Sequence[float], now: float) -> float:
    """Seconds to wait before the next gateway start, given the earlier ones (epoch seconds).

    The first :data:`FREE_STARTS_PER_HOUR` starts in an hour go at once; each further one waits
    twice as long as the one before (10 s, 20 s, 40 s … at most 15 min), and never more than
    :data:`DAILY_START_CAP` in 24 hours. A process crashing right after connecting therefore
    IDENTIFYs about 200 times a day instead of thousands (tests/test_single_gateway.py).
    """
    last_hour = sum(1 for start in starts if 0 <= now - start < 3600)
    delay = 0.0
    if last_hour >= FREE_STARTS_PER_HOUR:
        extra = min(last_hour - FREE_STARTS_PER_HOUR, 16)
        delay = min(MAX_START_DELAY, FIRST_START_DELAY * 2**extra)
    last_day = sorted(start for start in starts if 0 <= now - start < 86400)
    if len(last_day) >= DAILY_START_CAP:
        delay = max(delay, last_day[len(last_day) - DAILY_START_CAP] + 86400 - now)
    return delay


class GatewayStarts:
    """The times of this data folder's recent gateway starts, in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[float]:
        """The recorded starts (none if the file is missing or unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [float(x) for x in data if isinstance(x, int | float)]

    def record(self, now: float) -> None:
        """Add a start at ``now`` and forget those older than a day (best effort)."""
        starts = [s for s in self.read() if 0 <= now - s < 86400] + [now]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temporary.write_text(json.dumps(starts[-DAILY_START_CAP:]), encoding="utf-8")
            temporary.replace(self.path)
        except OSError as exc:
            log.warning("gateway: cannot record the start in %s: %s", self.path, exc)


async def _pace_gateway_start(starts: GatewayStarts) -> None:
    """Wait as :func:`gateway_start_delay` says, then record this start."""
    delay = gateway_start_delay(await asyncio.to_thread(starts.read), time.time())
    if delay > 0:
        log.warning(
            "gateway: connected many times recently (a crash loop?); waiting %.0f s before "
            "connecting, since Discord resets the token after 1,000 IDENTIFYs a day "
            "(alerts are still delivered meanwhile)",
            delay,
        )
        await asyncio.sleep(delay)
    await asyncio.to_thread(starts.record, time.time())


class GatewayLockLost(RuntimeError):
    """The gateway lock was lost while connected (its database connection ended): the bot has
    disconnected, so that two processes never run the same shard; the process should exit and
    be restarted (it then connects again or stands by)."""


def gateway_shards(shard_count: int | None, shard_ids: Sequence[int] | None) -> list[int]:
    """The shards this process connects: ``[0]`` unsharded, else ``shard_ids`` (all by
    default)."""
    if shard_count is None:
        return [0]
    return sorted(shard_ids) if shard_ids is not None else list(range(shard_count))


async def serve(runtime: Any, *, takeover_grace: float | None = None) -> None:
    """Run the bot until it is closed (the token comes from the runtime's settings).

    The bot logs in (REST: alerts are delivered from then on), takes the gateway lock of its
    shards and connects. If another process holds it, this one stands by (logged once, at
    WARNING) until the lock frees, waits ``takeover_grace`` seconds (default: the lock's
    retry interval plus its check timeout, the longest a previous owner that lost its
    database connection may stay connected) and connects. Before connecting it waits if it
    has connected many times recently (:func:`gateway_start_delay`).

    Raises:
        GatewayLockLost: The lock was lost while connected; the bot is closed.
    """
    from bot.discord_endpoint import configure_discord_endpoint
    from jobs.leader import gateway_lock

    settings = runtime.settings
    configure_discord_endpoint(settings.discord_api_base, settings.discord_gateway_url)
    bot = build_bot(
        runtime.answers,
        metrics=getattr(runtime, "metrics", None),
        alert_service=getattr(runtime, "alert_service", None),
        poller=getattr(runtime, "poller", None),
        shard_count=settings.shard_count,
        shard_ids=settings.shard_ids,
    )
    if hasattr(runtime, "use_sender"):
        from bot.discord_sender import DiscordSender

        runtime.use_sender(DiscordSender(bot))  # alerts go out through this bot from now on
    token = settings.discord_token.get_secret_value()
    shards = gateway_shards(settings.shard_count, settings.shard_ids)
    lock = gateway_lock(settings.db_url, token, shards)
    try:
        async with bot:
            await bot.login(token)
            await lock.start()
            if not lock.is_leader:
                log.warning(
                    "gateway: another process runs shard(s) %s of this bot; standing by "
                    "(delivering alerts, not connected) until it stops",
                    shards,
                )
                await lock.acquired.wait()
                grace = (
                    takeover_grace
                    if takeover_grace is not None
                    else getattr(lock, "retry_every", 0.0) + getattr(lock, "check_timeout", 0.0)
                )
                await asyncio.sleep(grace)
            await _pace_gateway_start(GatewayStarts(Path(settings.data_dir) / GATEWAY_STARTS_FILE))
            await _connect_while_held(bot, lock, shards)
    finally:
        await lock.stop()


async def _connect_while_held(
    bot: GapwatchBot, lock: GatewayLock | HeldGatewayLock, shards: list[int]
) -> None:
    """Connect the gateway until the bot closes, or disconnect when the lock is lost."""
    if not lock.is_leader:  # lost during the grace period
        raise GatewayLockLost(f"gateway lock of shard(s) {shards} lost before connecting")
    log.info("gateway: connecting shard(s) %s", shards)
    gateway = asyncio.create_task(bot.connect(), name="gapwatch-gateway")
    lost = asyncio.create_task(lock.lost.wait(), name="gapwatch-gateway-lock")
    try:
        done, _pending = await asyncio.wait({gateway, lost}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        lost.cancel()
        if not gateway.done():
            gateway.cancel()
    if gateway in done:
        await gateway  # re-raises the gateway's error, if any
        return
    log.error(
        "gateway: lost the gateway lock of shard(s) %s (database connection lost); "
        "disconnecting so that no other process runs them twice",
        shards,
    )
    await asyncio.gather(gateway, return_exceptions=True)
    raise GatewayLockLost(f"gateway lock of shard(s) {shards} lost while connected")


async def sync_commands(answers: Answers, token: str, guild_id: int | None) -> list[str]:
    """Register the slash commands (guild-scoped for development, else global); no gateway."""
    bot = build_bot(answers)
    async with bot:
        await bot.login(token)
        if guild_id is not None:
            guild = discord.Object(guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
        else:
            synced = await bot.tree.sync()
    return [command.name for command in synced]
