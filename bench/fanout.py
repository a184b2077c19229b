"""Fan-out: one alert to 1,000 channels through the Discord API emulator's rate limits.

The emulator enforces Discord's limits (50 requests per second globally, per-route buckets
of 5 per 5 s per channel, with the rate-limit headers discord.py reads). Two senders:

* ``dispatcher`` — the product path: ``jobs.delivery.write_alert`` puts one alert with 1,000
  channel deliveries in the outbox (a fresh SQLite store), and ``Dispatcher.drain`` claims and
  sends them through ``bot.discord_sender.DiscordSender`` and discord.py's HTTP client.
* ``concurrent`` — discord.py alone: ``channel.send`` to the 1,000 channels from 50 tasks at
  once, to show what the HTTP client does when the caller does not pace itself.

Reported: the achieved rate as a share of the 50/s limit, and the 429s discord.py absorbed
(the emulator's count of 429 answers; discord.py retries each one after ``retry_after``).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GLOBAL_LIMIT = 50  # requests per second: Discord's global limit for a bot
RATE_SHARE_TARGET = 0.90


async def _emulated(channels: int):  # type: ignore[no-untyped-def]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.discord_emulator.server import DiscordEmulator

    emulator = DiscordEmulator()
    await emulator.start()
    ids = [emulator.add_channel(f"alerts-{i}") for i in range(channels)]
    return emulator, ids


async def _client(emulator) -> Any:  # type: ignore[no-untyped-def]
    import discord

    client = discord.Client(intents=discord.Intents.none())
    await client.login(emulator.token)
    return client


def _count(emulator, status: int) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in emulator.requests if r.status == status and "/messages" in r.path)


async def fan_out_dispatcher(channels: int) -> dict[str, Any]:
    """One alert to ``channels`` channels through the outbox and the Dispatcher."""
    from bot.discord_endpoint import configure_discord_endpoint, current_discord_endpoint
    from bot.discord_sender import DiscordSender
    from db import migrate
    from db.engine import make_engine, session_scope
    from db.types import utcnow
    from jobs.delivery import Dispatcher, Target, write_alert

    saved = current_discord_endpoint()
    emulator, ids = await _emulated(channels)
    configure_discord_endpoint(emulator.api_base, emulator.gateway_url)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/fanout.db")
        try:
            migrate.upgrade(engine)
            guild = emulator.guild_id
            with session_scope(engine) as session:
                write_alert(
                    session,
                    kind="gap",
                    dedupe_key="bench:fanout",
                    payload={"title": "Benchmark fan-out: one alert to every channel"},
                    targets=[Target("channel", cid, guild) for cid in ids],
                    now=utcnow(),
                    guild_id=guild,
                )
            client = await _client(emulator)
            emulator.enable_rate_limits(global_per_second=GLOBAL_LIMIT)
            try:
                start = time.perf_counter()
                report = await Dispatcher(engine=engine, sender=DiscordSender(client)).drain(
                    passes=10 * channels
                )
                elapsed = time.perf_counter() - start
            finally:
                await client.close()
        finally:
            engine.dispose()
            emulator.disable_rate_limits()
            await emulator.stop()
            configure_discord_endpoint(*saved)
    sent = report.sent
    return _row("dispatcher (jobs/delivery.py)", sent, channels, elapsed, emulator)


async def fan_out_concurrent(channels: int, tasks: int = 50) -> dict[str, Any]:
    """``channel.send`` to every channel from ``tasks`` concurrent tasks (no pacing)."""
    import discord

    from bot.discord_endpoint import configure_discord_endpoint, current_discord_endpoint

    saved = current_discord_endpoint()
    emulator, ids = await _emulated(channels)
    configure_discord_endpoint(emulator.api_base, emulator.gateway_url)
    try:
        client = await _client(emulator)
        emulator.enable_rate_limits(global_per_second=GLOBAL_LIMIT)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for cid in ids:
            queue.put_nowait(cid)
        sent = 0
        failed = 0

        async def worker() -> None:
            nonlocal sent, failed
            while not queue.empty():
                cid = queue.get_nowait()
                try:
                    await client.get_partial_messageable(cid).send("Benchmark fan-out")
                    sent += 1
                except discord.HTTPException:  # 429s past discord.py's 5 tries: given up
                    failed += 1

        try:
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(tasks)))
            elapsed = time.perf_counter() - start
        finally:
            await client.close()
    finally:
        emulator.disable_rate_limits()
        await emulator.stop()
        configure_discord_endpoint(*saved)
    row = _row(f"discord.py channel.send, {tasks} tasks", sent, channels, elapsed, emulator)
    row["gave_up"] = failed
    return row


def _row(path: str, sent: int, channels: int, elapsed: float, emulator) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    rate = sent / elapsed if elapsed else 0.0
    limited = _count(emulator, 429)
    return {
        "path": path,
        "channels": channels,
        "sent": sent,
        "seconds": elapsed,
        "per_second": rate,
        "share_of_limit": rate / GLOBAL_LIMIT,
        "429s": limited,
        "meets": rate / GLOBAL_LIMIT >= RATE_SHARE_TARGET and limited <= 1 and sent == channels,
    }


def measure_fanout(channels: int) -> list[dict[str, Any]]:
    """Both senders, one after the other, each with its own emulator."""
    import logging

    logging.getLogger("discord").setLevel(logging.ERROR)  # 429 warnings are counted instead
    rows = []
    try:
        rows.append(asyncio.run(fan_out_dispatcher(channels)))
    except Exception as exc:
        rows.append({"path": "dispatcher (jobs/delivery.py)", "error": repr(exc)[:300]})
    try:
        rows.append(asyncio.run(fan_out_concurrent(channels)))
    except Exception as exc:
        rows.append({"path": "discord.py channel.send", "error": repr(exc)[:300]})
    return rows


def main() -> int:
    """``python -m bench.fanout [--channels N]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.fanout")
    parser.add_argument("--channels", type=int, default=1000)
    args = parser.parse_args()
    for row in measure_fanout(args.channels):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
