"""The real bot (discord.py on the wire) against the Discord API emulator, on both databases."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import discord
import pytest_asyncio
from aiohttp import web
from sqlalchemy import Engine
from sqlmodel import select

from bot.answers import Answers
from bot.discord_bot import GapwatchBot, build_bot
from db import tables as t
from db.engine import session_scope
from jobs.polling import Poller
from jobs.sources.evalplus import EvalPlusSource
from jobs.sources.http import SourceClient
from tests.discord_emulator import DiscordEmulator, running_client

pytest_plugins = ("tests.discord_emulator.fixtures",)

REPO = Path(__file__).resolve().parents[1]
TODAY = date(2026, 12, 4)
MANAGE_GUILD = 1 << 5
EPHEMERAL = 64


@pytest_asyncio.fixture
async def bot(
    engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> AsyncIterator[GapwatchBot]:
    """The product's bot, ready, commands synced globally and to the emulator's guild."""
    async with synced_bot(engine, discord_emulator, discord_client_options) as client:
        yield client


@asynccontextmanager
async def synced_bot(
    engine: Engine, emulator: DiscordEmulator, options: dict[str, object]
) -> AsyncIterator[GapwatchBot]:
    """The product's bot on the emulator, ready, commands synced globally and to its guild."""
    client = build_bot(Answers(engine, today=lambda: TODAY), **options)
    async with running_client(client, emulator.token):
        await client.tree.sync()
        guild = discord.Object(emulator.guild_id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client


def fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_synced_schema_lists_every_command(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    stored = {c["name"]: c for c in discord_emulator.commands(None)}
    assert {"gap", "lag", "dashboard", "fits", "model", "leaderboard", "about"} <= set(stored)
    gap = stored["gap"]
    assert gap["description"].startswith("Best proprietary vs best open-weights score")
    assert [
        (o["name"], o.get("required", False), o.get("autocomplete", False)) for o in gap["options"]
    ] == [
        ("benchmark", True, True),
        ("as_of", False, False),
    ]
    assert gap["integration_types"] == [0, 1]
    assert sorted(gap["contexts"]) == [0, 1, 2]


async def test_gap_answers_with_embed_sources_and_a_png_chart(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("gap", {"benchmark": "mmlu"})
    callback = await handle.wait_for_callback()
    assert callback.elapsed < 3.0
    assert callback.type == 5  # deferred before the chart
    [message] = await handle.wait_for_followups(1)
    embed = message.embeds[0]
    assert embed["title"] == "MMLU: open-weights leads by 2.1 points"
    values = fields(embed)
    assert "DeepSeek-R1" in values["Best open weights"]
    assert "90.8%" in values["Best open weights"]
    assert "Source: Market Accurate report" in values["Best open weights"]
    assert "**-2.1** points" in values["Gap (proprietary − open)"]
    assert embed["image"]["url"] == "attachment://gap.png"
    assert message.files[0].is_png
    assert len(message.files[0].data) > 10_000
    request = discord_emulator.requests_to("POST", "/webhooks/*")[-1]
    assert request.json["allowed_mentions"] == {"parse": []}


async def test_typo_gets_an_ephemeral_suggestion(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("gap", {"benchmark": "mmul"})
    callback = await handle.wait_for_callback()
    assert callback.type == 4
    assert callback.flags & EPHEMERAL
    assert "no benchmark 'mmul' — did you mean MMLU" in callback.embeds[0]["description"]


async def test_bad_date_and_negative_vram_are_refused_clearly(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    date_handle = await discord_emulator.send_command("gap", {"benchmark": "mmlu", "as_of": "soon"})
    vram_handle = await discord_emulator.send_command("fits", {"vram_gb": -4})
    for handle, text in (
        (date_handle, "as_of must be a date like 2024-06-01"),
        (vram_handle, "VRAM must be a positive number of GiB"),
    ):
        callback = await handle.wait_for_callback()
        assert callback.flags & EPHEMERAL
        assert text in callback.embeds[0]["description"]


async def test_autocomplete_is_fuzzy_and_bounded(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    bench = await discord_emulator.send_autocomplete(
        "gap", {"benchmark": "mmul"}, focused="benchmark"
    )
    callback = await bench.wait_for_callback()
    assert callback.type == 8
    assert callback.choices[0]["value"] == "mmlu"
    model = await discord_emulator.send_autocomplete("model", {"name": "lama 3.1"}, focused="name")
    choices = (await model.wait_for_callback()).choices
    assert 1 <= len(choices) <= 25
    assert any(c["value"] == "llama-3.1-70b" for c in choices)
    empty = await discord_emulator.send_autocomplete("model", {"name": ""}, focused="name")
    assert len((await empty.wait_for_callback()).choices) == 25


async def test_fits_one_model_disagrees_with_the_report(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command(
        "fits", {"model": "llama-3.1-70b", "quant": "Q4_K_M"}
    )
    callback = await handle.wait_for_callback()
    memory = fields(callback.embeds[0])["Memory"]
    assert "**does not fit** 24 GiB" in memory
    assert "Q4_K_M (4.89 bits/weight)" in memory


async def test_fits_list_pages_with_buttons_for_its_owner_only(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("fits", {"vram_gb": 400})
    callback = await handle.wait_for_callback()
    first = callback.embeds[0]
    assert first["footer"]["text"].startswith("gapwatch · page 1/")
    message = handle.original
    assert message is not None
    next_id = message.custom_ids()[1]
    stranger = discord_emulator.add_user("mallory")
    refused = await discord_emulator.click_button(message, next_id, user_id=stranger)
    refusal = await refused.wait_for_callback()
    assert refusal.flags & EPHEMERAL
    assert "Only the person who asked" in refusal.content
    click = await discord_emulator.click_button(message, next_id)
    assert (await click.wait_for_callback()).type == 7
    assert message.embeds[0]["footer"]["text"].startswith("gapwatch · page 2/")


async def test_read_only_commands_work_in_dms(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("dashboard", dm=True)
    callback = await handle.wait_for_callback()
    names = [f["name"] for f in callback.embeds[0]["fields"]]
    assert names == ["GSM8K", "HumanEval", "MMLU"]


async def test_model_leaderboard_lag_about(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    model = await discord_emulator.send_command("model", {"name": "DeepSeek-R1-32B"})
    card = (await model.wait_for_callback()).embeds[0]
    assert card["title"] == "DeepSeek-R1-Distill-Qwen-32B"
    assert "open weights" in card["description"]
    board = await discord_emulator.send_command(
        "leaderboard", {"benchmark": "gsm8k", "open_only": True, "limit": 3}
    )
    ranking = fields((await board.wait_for_callback()).embeds[0])["Ranking"]
    assert ranking.splitlines()[0].startswith("1. **DeepSeek-R1** 97.3%")
    lag = await discord_emulator.send_command("lag", {"benchmark": "mmlu"})
    await lag.wait_for_callback()
    [lag_message] = await lag.wait_for_followups(1)
    assert "months" in lag_message.embeds[0]["title"]
    assert lag_message.files[0].is_png
    about = await discord_emulator.send_command("about")
    assert "gapwatch" in (await about.wait_for_callback()).embeds[0]["title"]


async def test_prediction_show_list_trackrecord(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    show = await discord_emulator.send_command("prediction show", {"code": "av-003"})
    embed = (await show.wait_for_callback()).embeds[0]
    assert embed["title"].startswith("AV-003")
    assert embed["title"].endswith("hit (resolved 2025-01-20)")
    evidence = fields(embed)["Evidence"]
    assert "DeepSeek-R1-Distill-Qwen-32B" in evidence
    listing = await discord_emulator.send_command("prediction list")
    names = [f["name"] for f in (await listing.wait_for_callback()).embeds[0]["fields"]]
    assert [n.split(" — ")[0] for n in names] == ["AV-003", "OB-001", "OB-002", "OB-003"]
    record = await discord_emulator.send_command("prediction trackrecord")
    description = (await record.wait_for_callback()).embeds[0]["description"]
    assert description.startswith("1 resolved — 1 hit, 0 missed")
    unknown = await discord_emulator.send_command("prediction show", {"code": "OB-9"})
    refusal = await unknown.wait_for_callback()
    assert refusal.flags & EPHEMERAL
    assert "did you mean OB-001" in refusal.embeds[0]["description"]
    complete = await discord_emulator.send_autocomplete(
        "prediction show", {"code": "ob-00"}, focused="code"
    )
    values = [c["value"] for c in (await complete.wait_for_callback()).choices]
    assert values[:3] == ["OB-001", "OB-002", "OB-003"]


async def test_audit_pages_disagreements_first(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    handle = await discord_emulator.send_command("audit")
    embed = (await handle.wait_for_callback()).embeds[0]
    assert "9 disagrees" in embed["description"]
    first = embed["fields"][0]
    assert first["name"].startswith("❌")
    text = " ".join(f["value"] for f in embed["fields"])
    assert "22 GB" in text or "22" in text
    assert handle.original is not None and len(handle.original.custom_ids()) == 2


async def test_sources_lists_health(bot: GapwatchBot, discord_emulator: DiscordEmulator) -> None:
    handle = await discord_emulator.send_command("sources status")
    embed = (await handle.wait_for_callback()).embeds[0]
    assert fields(embed)["Bundled dataset"].endswith(
        "cited references (model cards, papers, the report)"
    )


@pytest_asyncio.fixture
async def polling_bot(
    engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> AsyncIterator[GapwatchBot]:
    """The bot with a poller whose EvalPlus source is a local HTTP server."""
    payload = (REPO / "tests/fixtures/sources/evalplus/results.json").read_bytes()

    async def results(_request: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="application/json")

    app = web.Application()
    app.router.add_get("/results.json", results)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = SourceClient()
    poller = Poller(
        engine=engine,
        client=client,
        sources=[EvalPlusSource(url=f"http://127.0.0.1:{port}/results.json")],
    )
    bot = build_bot(Answers(engine, today=lambda: TODAY), poller=poller, **discord_client_options)
    try:
        async with running_client(bot, discord_emulator.token):
            await bot.tree.sync()
            guild = discord.Object(discord_emulator.guild_id)
            bot.tree.copy_global_to(guild=guild)
            await bot.tree.sync(guild=guild)
            yield bot
    finally:
        await client.aclose()
        await runner.cleanup()


async def test_sources_poll_is_for_admins_in_servers_with_a_cooldown(
    polling_bot: GapwatchBot, discord_emulator: DiscordEmulator, engine
) -> None:
    member = await discord_emulator.send_command("sources poll", {"name": "evalplus"})
    assert "Manage Server" in (await member.wait_for_callback()).embeds[0]["description"]
    dm = await discord_emulator.send_command("sources poll", {"name": "evalplus"}, dm=True)
    assert "only in a server" in (await dm.wait_for_callback()).embeds[0]["description"]
    typo = await discord_emulator.send_command(
        "sources poll", {"name": "evalplu"}, permissions=MANAGE_GUILD
    )
    assert "did you mean evalplus" in (await typo.wait_for_callback()).embeds[0]["description"]

    admin = await discord_emulator.send_command(
        "sources poll", {"name": "evalplus"}, permissions=MANAGE_GUILD
    )
    callback = await admin.wait_for_callback()
    assert callback.type == 5 and callback.flags & EPHEMERAL
    [summary] = await admin.wait_for_followups(1)
    assert summary.content.startswith("evalplus: models ")
    with session_scope(engine) as session:
        source = session.exec(select(t.Source).where(t.Source.key == "evalplus")).one()
        assert source.last_success_at is not None
        scores = session.exec(select(t.Score).where(t.Score.source_id == source.id)).all()
        assert len(scores) >= 10  # the trimmed fixture's pass@1 scores

    again = await discord_emulator.send_command(
        "sources poll", {"name": "evalplus"}, permissions=MANAGE_GUILD
    )
    assert "try again in" in (await again.wait_for_callback()).embeds[0]["description"]


async def test_a_slow_answer_is_deferred_within_a_second(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    release = threading.Event()
    slow_dashboard = bot.answers.dashboard

    def dashboard():  # type: ignore[no-untyped-def]
        release.wait(10)  # a backend that hangs until the test lets it go
        return slow_dashboard()

    bot.answers.dashboard = dashboard  # type: ignore[method-assign]
    handle = await discord_emulator.send_command("dashboard")
    callback = await handle.wait_for_callback()
    assert callback.type == 5  # deferred, not "the application did not respond"
    assert callback.elapsed < 1.5
    release.set()
    [answer] = await handle.wait_for_followups(1)
    assert answer.embeds[0]["title"] == "Gap dashboard"


async def test_autocomplete_answers_from_cache_when_the_store_hangs(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    first = await discord_emulator.send_autocomplete("model", {"name": "llama"}, focused="name")
    assert (await first.wait_for_callback()).choices
    release = threading.Event()
    cache = bot.model_names
    original = cache._load

    def hanging_load():  # type: ignore[no-untyped-def]
        release.wait(10)
        return original()

    cache._load = hanging_load  # type: ignore[method-assign]
    cache._loaded_at = float("-inf")  # due for a refresh
    try:
        handle = await discord_emulator.send_autocomplete(
            "model", {"name": "llama"}, focused="name"
        )
        callback = await handle.wait_for_callback()
        assert callback.elapsed < 2.5
        assert any("llama" in c["value"] for c in callback.choices)
    finally:
        release.set()


async def test_the_bot_asks_for_no_privileged_intents(
    bot: GapwatchBot, discord_emulator: DiscordEmulator
) -> None:
    identify = next(f for f in discord_emulator.gateway_frames if f.op == 2)
    intents = discord.Intents._from_value(identify.data["intents"])
    assert intents.guilds
    assert not (intents.members or intents.presences or intents.message_content)
