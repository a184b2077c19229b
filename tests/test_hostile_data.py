"""Hostile data in the store: names that ping, format, overflow or hide, through the real bot.

Models named ``@everyone``, ``<@123>``, ``**markdown**``, 5,000 characters, zero-width and
right-to-left text are ingested with top scores, so they lead every answer. Then /model,
/leaderboard, /gap and /fits go through the Discord emulator: every request the bot made
allows no mentions, the emulator (which enforces Discord's embed limits with 400/50035)
rejected nothing, and autocomplete choices stay within 1-100 characters.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import discord
import pytest
from sqlalchemy import update

from bot.answers import Answers
from bot.discord_bot import build_bot
from bot.safe_text import clean
from db import tables as t
from db.engine import session_scope
from jobs.ingest import ingest_batch
from jobs.sources.base import ModelRecord, ScoreRecord, SourceBatch
from tests.discord_emulator import DiscordEmulator, running_client
from tests.test_bot import TODAY

pytest_plugins = ("tests.discord_emulator.fixtures",)

LONG = "Ж" * 4990 + " 70B"
HOSTILE = {
    "everyone": "@everyone",
    "here": "@here free nitro",
    "user-ping": "<@123456789012345678>",
    "role-ping": "<@&123456789012345678> release",
    "markdown": "**markdown** __x__ ~~y~~ ||z|| `q` [link](https://evil.example) # h",
    "zero-width": "Ll\u200bama\u200d\u2060 Zero\ufeff",
    "rtl": "\u202eBDOM\u202c مرحبا שלום",
    "newlines": "line one\nline two\r\n> quote",
    "combining": "Z\u0351\u0358\u0361a\u0336\u0334l\u0334g\u0335o" * 20,
}
# What Discord would parse as a mention (ids are 17-20 digits); escape_mentions breaks them
# with a zero-width space after the @, which is the only invisible character allowed.
PING = re.compile(r"@(everyone|here)|<@[!&]?\d{17,20}>")
HIDDEN = re.compile(r"(?<!@)\u200b|[\u200c-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def _plant(engine) -> None:
    """Ingest the hostile models with top MMLU/GSM8K scores; stretch one name to 5,000."""
    fetched = datetime(2026, 12, 1, tzinfo=UTC)
    models, scores = [], []
    for i, (key, name) in enumerate(HOSTILE.items()):
        models.append(
            ModelRecord(
                name=name[:200],
                source_model_id=f"hostile-{key}",
                open_weights=i % 2 == 0,
                organization=name[:100],
                license="**MIT** @everyone",
                total_params_b=7.0 + i,
            )
        )
        for bench in ("mmlu", "gsm8k"):
            scores.append(
                ScoreRecord(
                    model_name=name[:200],
                    raw_model_id=f"hostile-{key}",
                    benchmark=bench,
                    value=99.0 + i / 100,
                    setting="@everyone <@1> **5-shot**",
                    available_on=date(2026, 11, 1 + i),
                    url="https://example.test/@everyone",
                )
            )
    batch = SourceBatch(
        "hostile", fetched, "https://example.test/hostile", models=models, scores=scores
    )
    with session_scope(engine) as session:
        result = ingest_batch(session, batch)
        assert not result.rejected, result.rejected
        session.execute(
            update(t.Model).where(t.Model.name == HOSTILE["markdown"][:200]).values(name=LONG)
        )


@pytest.fixture
def hostile_engine(engine):
    _plant(engine)
    return engine


def _sent_payloads(emulator: DiscordEmulator) -> list[dict]:
    """JSON bodies of every message-creating or -editing request the bot made."""
    return [
        r.json
        for r in emulator.requests
        if r.method in ("POST", "PATCH") and isinstance(r.json, dict) and "/commands" not in r.path
    ]


def _assert_no_pings(emulator: DiscordEmulator) -> None:
    payloads = _sent_payloads(emulator)
    assert payloads
    for payload in payloads:
        body = payload.get("data", payload)  # interaction callbacks wrap the message in data
        if not ({"content", "embeds"} & set(body)):
            continue  # a bare defer or an autocomplete result
        assert body.get("allowed_mentions") == {"parse": []}, payload
        assert not PING.search(_visible(body)), _visible(body)[:500]


def _visible(body: dict) -> str:
    """The text Discord would render (content, titles, descriptions, fields, footers)."""
    parts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f["name"] + "\n" + f["value"] for f in embed.get("fields", [])]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(parts)


def _embeds(callback, handle) -> list[dict]:
    if callback.type == 5:
        return handle.followups[0].embeds
    return callback.embeds


async def test_hostile_names_never_ping_break_embeds_or_overflow_choices(
    hostile_engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> None:
    bot = build_bot(Answers(hostile_engine, today=lambda: TODAY), **discord_client_options)
    async with running_client(bot, discord_emulator.token):
        guild = discord.Object(discord_emulator.guild_id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)

        seen_titles: list[str] = []
        for key, name in HOSTILE.items():
            # By the name it was ingested under (the 5,000-character one keeps that alias).
            handle = await discord_emulator.send_command("model", {"name": name[:200]})
            callback = await handle.wait_for_callback()
            [embed] = callback.embeds
            assert not callback.is_ephemeral, (key, embed)
            assert len(embed["title"]) <= 256
            seen_titles.append(embed["title"])
        assert any(title.endswith("…") for title in seen_titles)  # the 5,000 name was cut

        for command, options in (
            ("leaderboard", {"benchmark": "mmlu", "limit": 25}),
            ("leaderboard", {"benchmark": "gsm8k", "open_only": True, "limit": 25}),
            ("gap", {"benchmark": "mmlu"}),
            ("lag", {"benchmark": "gsm8k"}),
            ("fits", {"vram_gb": 400}),
            ("fits", {"model": HOSTILE["everyone"]}),
            ("dashboard", {}),
        ):
            handle = await discord_emulator.send_command(command, options)
            callback = await handle.wait_for_callback()
            if callback.type == 5:
                await handle.wait_for_followups(1)
            embeds = _embeds(callback, handle)
            assert embeds and not callback.is_ephemeral, (command, embeds)
            text = _visible({"embeds": embeds})
            assert not HIDDEN.search(text), command
            assert "Something went wrong" not in text, command

        leaderboard = _embeds(
            *(await _answer(discord_emulator, "leaderboard", {"benchmark": "mmlu", "limit": 25}))
        )
        ranking = _visible({"embeds": leaderboard})
        assert clean("@everyone") in ranking  # shown, escaped: @\u200beveryone
        assert "\\*\\*markdown\\*\\*" in ranking or "Ж" in ranking

        for typed in ("@every", "ЖЖЖ", "**mark", "\u202e", "<@1", "", "x" * 100):
            complete = await discord_emulator.send_autocomplete(
                "model", {"name": typed}, focused="name"
            )
            choices = (await complete.wait_for_callback()).choices
            assert len(choices) <= 25
            for choice in choices:
                assert 1 <= len(choice["name"]) <= 100, choice
                assert 1 <= len(choice["value"]) <= 100, choice
                assert not HIDDEN.search(choice["name"]), choice

    assert not discord_emulator.rejected, [
        (r.path, r.status, r.response) for r in discord_emulator.rejected
    ]
    _assert_no_pings(discord_emulator)


async def _answer(emulator: DiscordEmulator, command: str, options: dict):
    handle = await emulator.send_command(command, options)
    callback = await handle.wait_for_callback()
    if callback.type == 5:
        await handle.wait_for_followups(1)
    return callback, handle
