"""Security: the bot token never reaches a log or a message; secrets stay out of git and images.

The token tests run the real bot against the Discord emulator with a recognizable canary
token, everything at DEBUG, force failures (a refused login, an exception inside a command)
and search every captured line for the canary — in-process through ``caplog`` (raw records,
before any redaction) and in a ``gapwatch run`` subprocess, in plain and JSON log modes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.answers import Answers
from bot.discord_bot import build_bot, sync_commands
from bot.discord_endpoint import configure_discord_endpoint, current_discord_endpoint
from tests.discord_emulator import DiscordEmulator, client_options, running_client
from tests.test_bot import TODAY

pytest_plugins = ("tests.discord_emulator.fixtures",)

ROOT = Path(__file__).resolve().parents[1]
GAPWATCH = Path(sys.executable).with_name("gapwatch")
CANARY = "CANARY.gapwatch-bot-token.Zq8vK3xW9mN2pL5tR7yB"
WRONG_CANARY = "CANARY.wrong-bot-token.Hh4jK8sD2fG6aQ1wE3rT"


@pytest_asyncio.fixture
async def canary_emulator() -> AsyncIterator[DiscordEmulator]:
    """An emulator that accepts only the canary token; discord.py pointed at it."""
    saved = current_discord_endpoint()
    async with DiscordEmulator(token=CANARY) as emulator:
        configure_discord_endpoint(emulator.api_base, emulator.gateway_url)
        try:
            yield emulator
        finally:
            configure_discord_endpoint(*saved)
    assert not emulator.internal_errors


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: message, arguments and formatted traceback."""
    formatter = logging.Formatter()
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


async def test_token_never_logged_in_process_at_debug(
    engine, canary_emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("discord", "discord.http", "discord.gateway", "discord.client", "bot"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    answers = Answers(engine, today=lambda: TODAY)

    def explode() -> None:
        raise RuntimeError("the store blew up")

    answers.about = explode  # type: ignore[method-assign]
    try:
        # A refused login first.
        stranger = build_bot(answers, **client_options())
        with pytest.raises(discord.LoginFailure) as refused:
            await stranger.login(WRONG_CANARY)
        await stranger.close()
        assert WRONG_CANARY not in str(refused.value)
        # Then a real session with a command that crashes inside.
        bot = build_bot(answers, **client_options())
        async with running_client(bot, canary_emulator.token):
            guild = discord.Object(canary_emulator.guild_id)
            bot.tree.copy_global_to(guild=guild)
            await bot.tree.sync(guild=guild)
            handle = await canary_emulator.send_command("about")
            callback = await handle.wait_for_callback()
            assert callback.is_ephemeral
            assert CANARY not in json.dumps(callback.data)
            gap = await canary_emulator.send_command("gap", {"benchmark": "mmlu"})
            await gap.wait_for_followups(1)
            [session] = await canary_emulator.disconnect_gateway()
            await canary_emulator.wait_until_resumed(session)
    finally:
        for name in ("discord", "discord.http", "discord.gateway", "discord.client", "bot"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    text = _all_text(caplog)
    assert "command /about failed" in text  # the crash was logged, with its traceback
    assert "RuntimeError: the store blew up" in text
    assert "RESUME" in text or "resum" in text.lower()  # the DEBUG gateway chatter was captured
    assert CANARY not in text
    assert WRONG_CANARY not in text
    # The bot's own messages never carry it either.
    for request in canary_emulator.requests:
        assert CANARY not in json.dumps(request.json or {})


def _gapwatch_env(emulator: DiscordEmulator, token: str, db: Path, *, json_logs: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAPWATCH_", "DISCORD_"))}
    env.update(
        DISCORD_TOKEN=token,
        DATABASE_URL=f"sqlite:///{db}",
        GAPWATCH_DISCORD_API_BASE=emulator.api_base,
        GAPWATCH_DISCORD_GATEWAY_URL=emulator.gateway_url,
        GAPWATCH_POLL_ENABLED="false",
        GAPWATCH_LOG_LEVEL="DEBUG",
        GAPWATCH_LOG_JSON="true" if json_logs else "false",
    )
    return env


@pytest.mark.parametrize("json_logs", [False, True], ids=["plain", "json"])
async def test_token_never_logged_by_gapwatch_run_with_a_refused_token(
    canary_emulator: DiscordEmulator, tmp_path: Path, json_logs: bool
) -> None:
    process = await asyncio.create_subprocess_exec(
        str(GAPWATCH),
        "run",
        env=_gapwatch_env(canary_emulator, WRONG_CANARY, tmp_path / "g.db", json_logs=json_logs),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    output = out.decode() + err.decode()
    assert process.returncode == 2  # a refused token stops the bot, with a message
    assert "Discord refused the token" in output
    assert "Traceback" not in output
    assert WRONG_CANARY not in output
    assert CANARY not in output
    if json_logs:
        entries = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
        assert entries
        assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
        assert any(e["message"] == "logging in using static token" for e in entries)


async def test_token_and_interaction_tokens_never_logged_by_a_serving_gapwatch_run(
    engine, canary_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    # The commands are registered by the deploy step (``gapwatch sync``), not on start.
    await sync_commands(Answers(engine), CANARY, canary_emulator.guild_id)
    process = await asyncio.create_subprocess_exec(
        str(GAPWATCH),
        "run",
        env=_gapwatch_env(canary_emulator, CANARY, tmp_path / "g.db", json_logs=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        await canary_emulator.wait_for_sessions(1, timeout=60)
        handle = await canary_emulator.send_command("about")
        callback = await handle.wait_for_callback(timeout=30)
        assert "gapwatch" in callback.embeds[0]["title"]
        unknown = await canary_emulator.send_command("prediction show", {"code": "ZZ-404"})
        assert (await unknown.wait_for_callback(timeout=30)).is_ephemeral
        interaction_tokens = [h.payload["token"] for h in (handle, unknown)]
    finally:
        process.terminate()
        out, err = await asyncio.wait_for(process.communicate(), 60)
    output = out.decode() + err.decode()
    assert "logging in using static token" in output
    assert CANARY not in output
    for token in interaction_tokens:  # follow-up URLs carry them: discord.http stays quiet
        assert token not in output


def test_dotenv_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "-q", ".env"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, ".env must be listed in .gitignore"
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", ".env"], cwd=ROOT, capture_output=True, check=False
    )
    assert tracked.returncode != 0, ".env is tracked by git"
    assert re.search(r"^\.env$", (ROOT / ".gitignore").read_text(), re.MULTILINE)


def test_env_example_holds_no_secrets() -> None:
    secrets = re.compile(r"^(\w*(TOKEN|PASSWORD|KEY|SECRET)\w*)=(.+)$", re.MULTILINE)
    assert secrets.findall((ROOT / ".env.example").read_text()) == []


def _dockerfile_stages() -> list[list[str]]:
    lines = []
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_runs_as_non_root_and_holds_no_secrets() -> None:
    stages = _dockerfile_stages()
    final = stages[-1]
    users = [line.split(None, 1)[1].strip() for line in final if line.upper().startswith("USER ")]
    assert users, "the final stage must switch to a non-root USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    for stage in stages:
        for line in stage:
            instruction = line.split(None, 1)[0].upper()
            if instruction in ("ENV", "ARG"):
                assert not re.search(r"(TOKEN|PASSWORD|SECRET|_KEY)\w*\s*=\s*\S", line, re.I), line
            if instruction in ("COPY", "ADD"):
                assert ".env" not in line.split()[1:-1], line
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in dockerignore
    assert "tests" in dockerignore  # test fixtures (and fake tokens) stay out of the image


def _compose_service(name: str) -> list[str]:
    """The lines of one service in docker-compose.yml (no YAML parser in the dev tools)."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    start = lines.index(f"  {name}:")
    block = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line.split("#", 1)[0].rstrip())
    return [line for line in block if line.strip()]


def test_compose_restarts_the_bot_which_paces_its_gateway_starts() -> None:
    """Checklist 35: a crash loop restarts (Docker's policy) but cannot spend 1,000 IDENTIFYs
    a day: the bot's own pacing (bot/discord_bot.py) keeps its record in the /data volume,
    and the operations page says so with the same figures."""
    from bot.discord_bot import (
        DAILY_START_CAP,
        FIRST_START_DELAY,
        FREE_STARTS_PER_HOUR,
        GATEWAY_STARTS_FILE,
        MAX_START_DELAY,
    )

    bot = _compose_service("bot")
    restart = [line.split(":", 1)[1].strip() for line in bot if line.strip().startswith("restart:")]
    assert restart in (["unless-stopped"], ["on-failure"], ["always"]), restart
    assert any(line.strip().startswith("- ") and line.strip().endswith(":/data") for line in bot)
    assert "GAPWATCH_DATA_DIR=/data" in (ROOT / "Dockerfile").read_text()
    docs = " ".join((ROOT / "docs" / "operations.md").read_text().split())
    assert "1,000 IDENTIFYs in 24 hours" in docs
    assert f"`<data dir>/{GATEWAY_STARTS_FILE}`" in docs
    assert f"the first {FREE_STARTS_PER_HOUR} starts in an hour connect at once" in docs
    assert f"({FIRST_START_DELAY:.0f} s, {2 * FIRST_START_DELAY:.0f} s" in docs
    assert f"at most {MAX_START_DELAY / 60:.0f} minutes" in docs
    assert f"never more than {DAILY_START_CAP} in 24 hours" in docs
    assert "RestartSec=10" in docs and "CrashLoopBackOff" in docs


# --- admin commands: checked server-side, not only by Discord's default permissions --------

MANAGE_GUILD = 1 << 5
_PLACEHOLDER = {3: "1h", 4: 1, 5: True, 10: 5.0}  # option type -> a plausible value


def _values(emulator: DiscordEmulator, options: list[dict]) -> dict[str, object]:
    values: dict[str, object] = {}
    for option in options:
        if not option.get("required"):
            continue
        if option.get("choices"):
            values[option["name"]] = option["choices"][0]["value"]
        elif option["type"] == 7:
            values[option["name"]] = emulator.channel_id
        elif option["type"] == 8:
            values[option["name"]] = emulator.guild_id  # @everyone's role id
        else:
            values[option["name"]] = _PLACEHOLDER[option["type"]]
    return values


async def test_every_alerts_command_refuses_members_without_manage_server(
    engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> None:
    from bot.discord_bot import ADMIN_REFUSAL

    bot = build_bot(Answers(engine, today=lambda: TODAY), **discord_client_options)
    async with running_client(bot, discord_emulator.token):
        guild = discord.Object(discord_emulator.guild_id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        schema = {c["name"]: c for c in discord_emulator.commands(discord_emulator.guild_id)}
        assert "alerts" in schema, "the alerts command group is not registered"
        alerts = schema["alerts"]
        # Discord's own lock (a hint admins can change) and guild-only…
        assert int(alerts["default_member_permissions"]) == MANAGE_GUILD
        assert alerts.get("contexts") in (None, [0])
        subcommands = [o for o in alerts["options"] if o["type"] == 1]
        assert subcommands
        # …and ours: a member the server let see the commands is still refused, every time.
        for sub in subcommands:
            values = _values(discord_emulator, sub.get("options", []))
            handle = await discord_emulator.send_command(
                f"alerts {sub['name']}", values, permissions=0
            )
            callback = await handle.wait_for_callback()
            assert callback.is_ephemeral, sub["name"]
            assert callback.embeds[0]["description"] == ADMIN_REFUSAL, sub["name"]
        shown = await discord_emulator.send_command("alerts show", permissions=MANAGE_GUILD)
        answer = await shown.wait_for_callback()
        assert ADMIN_REFUSAL not in json.dumps(answer.data)
