"""The database goes away for a while: polite refusals, no exit, recovery when it returns.

PostgreSQL only: each test gets its own database (cloned from the seeded template), which the
test makes unavailable with ``ALTER DATABASE … ALLOW_CONNECTIONS false`` and
``pg_terminate_backend`` (as a failover or a restart looks to the bot), then allows again.
/gap goes through the Discord emulator before, during and after; the console and
``gapwatch ask`` say so clearly, with exit code 3 and no traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine

from bot.answers import Answers
from bot.console import Console
from bot.discord_bot import GapwatchBot, build_bot
from bot.health import HealthServer
from bot.metrics import Metrics
from db.engine import make_engine
from tests.conftest import PostgresTemplates, _pg_conninfo, _pg_execute
from tests.discord_emulator import DiscordEmulator, running_client
from tests.test_bot import TODAY

pytest_plugins = ("tests.discord_emulator.fixtures",)

pytestmark = pytest.mark.postgres

UNAVAILABLE = "The database is unavailable right now"
GAPWATCH = Path(sys.executable).with_name("gapwatch")


class Outage:
    """Switches one PostgreSQL database off (no new connections, existing ones killed) and on."""

    def __init__(self, name: str) -> None:
        self.name = name

    def begin(self) -> None:
        _pg_execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        _pg_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()"
        )

    def end(self) -> None:
        _pg_execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def pg_database(postgres_templates: PostgresTemplates | None) -> Iterator[tuple[str, Outage]]:
    """A fresh seeded PostgreSQL database: (URL, its outage switch)."""
    if postgres_templates is None:
        pytest.skip("PostgreSQL not reachable at GAPWATCH_TEST_POSTGRES_URL")
    name = postgres_templates.clone("seeded")
    outage = Outage(name)
    try:
        yield _pg_conninfo(name), outage
    finally:
        outage.end()
        postgres_templates.drop(name)


@pytest.fixture
def pg_engine(pg_database: tuple[str, Outage]) -> Iterator[Engine]:
    engine = make_engine(pg_database[0], connect_args={"connect_timeout": 3})
    yield engine
    engine.dispose()


@pytest_asyncio.fixture
async def bot(
    pg_engine: Engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> AsyncIterator[GapwatchBot]:
    client = build_bot(Answers(pg_engine, today=lambda: TODAY), **discord_client_options)
    async with running_client(client, discord_emulator.token):
        guild = discord.Object(discord_emulator.guild_id)
        client.tree.copy_global_to(guild=guild)
        await client.tree.sync(guild=guild)
        yield client


async def _gap(emulator: DiscordEmulator) -> tuple[bool, str]:
    """/gap mmlu: (answered with the gap, the text the user saw)."""
    handle = await emulator.send_command("gap", {"benchmark": "mmlu"})
    callback = await handle.wait_for_callback(timeout=10)
    if callback.type == 5:
        [message] = await handle.wait_for_followups(1, timeout=10)
        embed, ephemeral = message.embeds[0], message.is_ephemeral
    else:
        embed, ephemeral = callback.embeds[0], callback.is_ephemeral
    text = embed.get("title", "") + embed.get("description", "")
    answered = text.startswith("MMLU") and not ephemeral
    if not answered:
        assert ephemeral, text  # refusals are only shown to the one who asked
    return answered, text


async def test_gap_before_during_and_after_an_outage(
    bot: GapwatchBot,
    discord_emulator: DiscordEmulator,
    pg_database: tuple[str, Outage],
    pg_engine: Engine,
) -> None:
    _url, outage = pg_database
    metrics = Metrics()
    health = HealthServer(metrics, pg_engine, port=0)
    await health.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{health.port}") as http:
            answered, text = await _gap(discord_emulator)
            assert answered, text
            assert (await http.get("/healthz")).status_code == 200

            await asyncio.to_thread(outage.begin)
            for _ in range(2):  # the pooled connections are dead, and no new one is allowed
                answered, text = await _gap(discord_emulator)
                assert not answered
                assert UNAVAILABLE in text
                assert "Something went wrong" not in text
            down = await http.get("/healthz")
            assert down.status_code == 503
            assert down.json()["database"] == "error"
            assert not bot.is_closed()

            await asyncio.to_thread(outage.end)
            answered, text = await _gap(discord_emulator)
            assert answered, text
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await health.stop()
    assert not discord_emulator.rejected
    assert not bot.is_closed()


async def test_console_says_the_database_is_unavailable_and_recovers(
    pg_engine: Engine, pg_database: tuple[str, Outage]
) -> None:
    _url, outage = pg_database
    console = Console(Answers(pg_engine, today=lambda: TODAY))
    ok, _text = await asyncio.to_thread(console.answer, "/gap mmlu")
    assert ok
    await asyncio.to_thread(outage.begin)
    ok, text = await asyncio.to_thread(console.answer, "/gap mmlu")
    assert (ok, text.split(";")[0]) == (False, UNAVAILABLE)
    await asyncio.to_thread(outage.end)
    ok, text = await asyncio.to_thread(console.answer, "/leaderboard mmlu")
    assert ok, text


def test_gapwatch_ask_exits_3_with_a_clear_message(
    pg_database: tuple[str, Outage], tmp_path: Path
) -> None:
    url, outage = pg_database
    outage.begin()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAPWATCH_", "DISCORD_"))}
    env.update(DATABASE_URL=url, GAPWATCH_POLL_ENABLED="false")
    done = subprocess.run(
        [str(GAPWATCH), "ask", "/gap mmlu"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("gapwatch: cannot open the database") for line in lines)
    assert "not currently accepting connections" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    outage.end()
    again = subprocess.run(
        [str(GAPWATCH), "ask", "/gap mmlu"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "MMLU" in again.stdout
