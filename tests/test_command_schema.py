"""The command surface: registered explicitly by `gapwatch sync`, reviewed as a snapshot.

Set GAPWATCH_UPDATE_SNAPSHOTS=1 to rewrite ``tests/snapshots/commands.json`` after an
intended change; the diff then shows the new surface in review.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.discord_emulator import DiscordEmulator

pytest_plugins = ("tests.discord_emulator.fixtures",)

SNAPSHOT = Path(__file__).with_name("snapshots") / "commands.json"
VOLATILE = {"id", "application_id", "guild_id", "version"}
ADMIN_GROUPS = {"alerts"}


def normalized(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in sorted(value.items()) if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return sorted((strip(c) for c in commands), key=lambda c: c["name"])


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GAPWATCH_", "DISCORD_"))
    }
    environment.pop("DATABASE_URL", None)
    environment.update(env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


def cli_env(emulator: DiscordEmulator) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": emulator.token,
        "GAPWATCH_DISCORD_API_BASE": emulator.api_base,
        "GAPWATCH_DISCORD_GATEWAY_URL": emulator.gateway_url,
    }


async def test_sync_registers_the_snapshot_schema_in_the_dev_guild(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    env = {**cli_env(discord_emulator), "GAPWATCH_DEV_GUILD_ID": str(discord_emulator.guild_id)}
    code, out, err = await run_cli("sync", env=env, cwd=tmp_path)
    assert code == 0, err
    assert f"in server {discord_emulator.guild_id}" in out
    stored = discord_emulator.commands(discord_emulator.guild_id)
    names = [c["name"] for c in stored]
    assert len(names) == len(set(names)), "two commands share a name"
    assert discord_emulator.commands(None) == []  # nothing global unless asked
    current = normalized(stored)
    if os.environ.get("GAPWATCH_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "the command schema changed; if intended, rerun with GAPWATCH_UPDATE_SNAPSHOTS=1"
    )


async def test_sync_global_and_admin_commands_are_guild_only(
    discord_emulator: DiscordEmulator, tmp_path: Path
) -> None:
    code, out, err = await run_cli("sync", "--global", env=cli_env(discord_emulator), cwd=tmp_path)
    assert code == 0, err
    assert "globally" in out
    stored = {c["name"]: c for c in discord_emulator.commands(None)}
    for name, command in stored.items():
        if name in ADMIN_GROUPS:
            assert int(command["default_member_permissions"]) == 1 << 5  # Manage Server
            assert command["contexts"] == [0]  # servers only
        elif name in ("gap", "fits", "prediction", "dashboard"):
            assert sorted(command["contexts"]) == [0, 1, 2]
            assert command["integration_types"] == [0, 1]


async def test_sync_refuses_without_token_or_scope(tmp_path: Path) -> None:
    code, _out, err = await run_cli("sync", env={}, cwd=tmp_path)
    assert code == 2
    assert "needs DISCORD_TOKEN" in err
    code, _out, err = await run_cli("sync", env={"DISCORD_TOKEN": "x" * 40}, cwd=tmp_path)
    assert code == 2
    assert "--guild ID" in err
