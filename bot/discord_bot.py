"""The Discord bot: a typed ``commands.Bot`` whose tree owns error replies.

Commands live in ``bot/cogs`` (one cog per slash group); they parse, call one ``Answers``
method in a worker thread, render an embed (and a chart) and reply once. Command registration
is explicit (``gapwatch sync``), never on start.
"""

from __future__ import annotations

import logging
import time
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


async def serve(runtime: Any) -> None:
    """Run the bot until it is closed (the token comes from the runtime's settings)."""
    from bot.discord_endpoint import configure_discord_endpoint

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
    async with bot:
        await bot.start(token)


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
