"""Read-only questions: gap, lag, dashboard, fits, model, leaderboard, about.

They work in servers, in DMs with the bot and, installed to a user account, anywhere.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import embeds
from bot.answers import FitListAnswer
from bot.cogs import _autocomplete as ac
from bot.cogs._pages import PageView
from bot.commandline import check_date
from bot.interaction import compute, defer_for_chart, render_png, send
from frontier import charts
from frontier.errors import InputError

if TYPE_CHECKING:
    from bot.discord_bot import GapwatchBot

PER_PAGE = 10


def everywhere(command: app_commands.Command) -> app_commands.Command:  # type: ignore[type-arg]
    """Installable to servers and user accounts; usable in servers, DMs and group DMs."""
    command = app_commands.allowed_installs(guilds=True, users=True)(command)
    return app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(command)


def parse_date(text: str | None) -> date | None:
    """A YYYY-MM-DD option, or a clear error."""
    if text is None or not text.strip():
        return None
    try:
        when = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"as_of must be a date like 2024-06-01, got {text.strip()[:40]!r}"
        ) from None
    return check_date("as_of", when)


class DataCog(commands.Cog):
    """The questions anyone can ask."""

    def __init__(self, bot: GapwatchBot) -> None:
        self.bot = bot
        self.answers = bot.answers

    @everywhere
    @app_commands.command()
    @app_commands.autocomplete(benchmark=ac.benchmark)
    async def gap(
        self, interaction: discord.Interaction, benchmark: str, as_of: str | None = None
    ) -> None:
        """Best proprietary vs best open-weights score on a benchmark, with its history.

        Args:
            benchmark: Benchmark to compare, e.g. MMLU.
            as_of: Date to look back to (YYYY-MM-DD); today if left out.
        """
        when = parse_date(as_of)
        report = await compute(interaction, lambda: self.answers.gap(benchmark, when))
        await defer_for_chart(interaction)
        chart = await render_png(charts.gap_chart, report, "gap.png")
        await send(interaction, embed=embeds.gap_embed(report, chart_name="gap.png"), files=[chart])

    @everywhere
    @app_commands.command()
    @app_commands.autocomplete(benchmark=ac.benchmark)
    async def lag(
        self, interaction: discord.Interaction, benchmark: str, as_of: str | None = None
    ) -> None:
        """How many months open-weights models trail the proprietary frontier.

        Args:
            benchmark: Benchmark, e.g. MMLU.
            as_of: Date to look back to (YYYY-MM-DD); today if left out.
        """
        when = parse_date(as_of)
        report = await compute(interaction, lambda: self.answers.lag(benchmark, when))
        await defer_for_chart(interaction)
        chart = await render_png(charts.lag_chart, report, "lag.png")
        await send(interaction, embed=embeds.lag_embed(report, chart_name="lag.png"), files=[chart])

    @everywhere
    @app_commands.command()
    async def dashboard(self, interaction: discord.Interaction) -> None:
        """Every tracked benchmark's gap and its direction."""
        board = await compute(interaction, self.answers.dashboard)
        await send(interaction, embed=embeds.dashboard_embed(board))

    @everywhere
    @app_commands.command()
    @app_commands.autocomplete(model=ac.model, quant=ac.quant, benchmark=ac.benchmark)
    @app_commands.choices(
        kv_cache=[app_commands.Choice(name=n, value=n) for n in ("f16", "q8_0", "q4_0")]
    )
    async def fits(
        self,
        interaction: discord.Interaction,
        model: str | None = None,
        vram_gb: float | None = None,
        context: int | None = None,
        quant: str | None = None,
        benchmark: str = "mmlu",
        kv_cache: str = "f16",
    ) -> None:
        """Which open models fit a GPU (24 GiB by default), or how one model fits.

        Args:
            model: A model; leave out to list the models that fit.
            vram_gb: VRAM budget in GiB (default 24, an RTX 4090).
            context: Context length in tokens (default 8192).
            quant: Quantization, e.g. Q4_K_M, Q8_0, FP16 (with a model).
            benchmark: Benchmark to rank the list by (default MMLU).
            kv_cache: KV cache type (default f16).
        """
        answer = await compute(
            interaction,
            lambda: self.answers.fits(model, vram_gb, context, quant, benchmark, kv_cache),
        )
        if not isinstance(answer, FitListAnswer):
            await send(interaction, embed=embeds.fits_embed(answer))
            return
        pages = max(1, -(-len(answer.ranking.fits) // PER_PAGE))
        render = lambda page: embeds.fits_embed(answer, page=page, per_page=PER_PAGE)  # noqa: E731
        view = PageView(render, pages, interaction.user.id) if pages > 1 else None
        await send(interaction, embed=render(0), view=view)

    @everywhere
    @app_commands.command()
    @app_commands.autocomplete(name=ac.model)
    async def model(self, interaction: discord.Interaction, name: str) -> None:
        """A model card: organization, openness, size, scores with sources, memory needs.

        Args:
            name: Model name, e.g. Llama 3.1 70B.
        """
        card = await compute(interaction, lambda: self.answers.model(name))
        await send(interaction, embed=embeds.model_embed(card))

    @everywhere
    @app_commands.command()
    @app_commands.autocomplete(benchmark=ac.benchmark)
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        benchmark: str,
        open_only: bool = False,
        limit: int = 10,
    ) -> None:
        """The best scores on a benchmark.

        Args:
            benchmark: Benchmark, e.g. GSM8K.
            open_only: Only open-weights models.
            limit: How many rows (1-25).
        """
        board = await compute(
            interaction, lambda: self.answers.leaderboard(benchmark, open_only, limit)
        )
        await send(interaction, embed=embeds.leaderboard_embed(board))

    @everywhere
    @app_commands.command()
    async def about(self, interaction: discord.Interaction) -> None:
        """Version, data freshness and attribution."""
        answer = await compute(interaction, self.answers.about)
        await send(interaction, embed=embeds.about_embed(answer))
