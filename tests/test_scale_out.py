"""Scale-out with real processes: ``python -m bot run`` subprocesses on one PostgreSQL database
and the Discord emulator (in this test process, on 127.0.0.1 and a real port).

* Two processes, one shard each: one leads (the advisory lock), only the leader polls; both
  answer the commands of their own shard's guild; ``kill -9`` of the leader hands the poll to
  the other within 30 s (measured).
* 200 alerts, two processes delivering at once: each delivery claimed once, posted once.

The harness (:class:`BotProcess`, :func:`bot_env`, :func:`until`) is shared with
``test_kill9.py``. Every process is killed in the test's ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import web

from bot.answers import Answers
from bot.discord_bot import sync_commands
from db.engine import make_engine, session_scope
from jobs.delivery import Target, write_alert
from jobs.leader import LEADER_LOCK_KEY, libpq_conninfo
from tests.discord_emulator import DiscordEmulator
from tests.sources.conftest import LocalServer, server  # noqa: F401 (fixture)

pytest_plugins = ("tests.discord_emulator.fixtures",)

POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]
REPO = Path(__file__).resolve().parent.parent
HANDOVER_LIMIT = 30.0


# --- harness ------------------------------------------------------------------------------


@dataclass
class BotProcess:
    """A ``python -m bot …`` subprocess; its stdout and stderr go to ``log_path``."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill_now(self) -> None:
        """``kill -9`` without waiting (safe inside an emulator predicate)."""
        self.killed = True
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """``kill -9`` (no cleanup of any kind in the process) and reap it."""
        self.kill_now()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


@dataclass
class Processes:
    """Starts subprocesses and kills every one of them at the end."""

    folder: Path
    started: list[BotProcess] = field(default_factory=list)

    def start(self, name: str, *args: str, env: dict[str, str]) -> BotProcess:
        log_path = self.folder / f"{name}.log"
        with log_path.open("wb") as log_file:
            popen = subprocess.Popen(
                [sys.executable, "-m", "bot", *args],
                cwd=self.folder,  # no .env from the repository
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = BotProcess(name, popen, log_path)
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            process.kill()

    def check_alive(self, *processes: BotProcess) -> None:
        for process in processes or tuple(self.started):
            if not process.alive() and not process.killed:
                code = process.popen.returncode
                raise AssertionError(f"{process.name} exited with {code}:\n{process.log()[-4000:]}")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Subprocesses for the test; all are killed afterwards, whatever happened."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


def bot_env(
    db_url: str, emulator: DiscordEmulator | None = None, **settings: Any
) -> dict[str, str]:
    """The environment of a gapwatch process: this one's, without any gapwatch setting, plus
    the database, the emulator as Discord, no polling unless asked, and ``settings``
    (``shard_ids=[0]`` becomes ``GAPWATCH_SHARD_IDS=[0]``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GAPWATCH_", "DISCORD_")) and k != "DATABASE_URL"
    }
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": db_url,
            "GAPWATCH_POLL_ENABLED": "false",
            "GAPWATCH_LOG_LEVEL": "INFO",
        }
    )
    if emulator is not None:
        env["DISCORD_TOKEN"] = emulator.token
        env["GAPWATCH_DISCORD_API_BASE"] = emulator.api_base
        env["GAPWATCH_DISCORD_GATEWAY_URL"] = emulator.gateway_url
    for key, value in settings.items():
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"GAPWATCH_{key.upper()}"] = text
    return env


async def until(
    check: Callable[[], Any | Awaitable[Any]],
    *,
    timeout: float,
    what: str,
    processes: Processes | None = None,
) -> Any:
    """Re-check ``check`` (sync or async) until it is truthy; fail early if a process died."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if processes is not None:
            processes.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def pg_rows(db_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_conninfo(db_url), autocommit=True) as conn:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


async def pg(db_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A query in a worker thread: the emulator and the HTTP server share this event loop."""
    return await asyncio.to_thread(pg_rows, db_url, sql, params)


async def leader_pid(db_url: str) -> int | None:
    """The OS pid of the process holding the leader lock (from its ``application_name``)."""
    rows = await pg(
        db_url,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
        " AND l.classid = %s AND l.objid = %s",
        (LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF),
    )
    if not rows:
        return None
    [(name,)] = rows
    return int(name.removeprefix("gapwatch leader ").split("@")[0])


def shard_of(guild_id: int, shard_count: int = 2) -> int:
    return (guild_id >> 22) % shard_count


CLAIM_LOG = """
CREATE TABLE claim_log (delivery_id integer, claimed_by text);
CREATE FUNCTION log_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO claim_log VALUES (NEW.id, NEW.claimed_by); RETURN NEW; END $$;
CREATE TRIGGER log_claim AFTER UPDATE ON delivery FOR EACH ROW
WHEN (NEW.state = 'sending' AND OLD.state IS DISTINCT FROM 'sending')
EXECUTE FUNCTION log_claim();
"""
"""Test instrumentation in the test's own database: every claim, with the claiming worker
(``pid@host:batch``), so a test sees who claimed what and whether anything was claimed twice."""


async def claims(db_url: str) -> list[tuple[int, int]]:
    """(delivery id, claiming process pid) of every claim so far."""
    rows = await pg(db_url, "SELECT delivery_id, claimed_by FROM claim_log")
    return [(delivery_id, int(worker.split("@")[0])) for delivery_id, worker in rows]


def queue_alerts(db_url: str, channels: list[int], guild_id: int, count: int) -> list[str]:
    """``count`` test alerts spread over ``channels``; returns the deliveries' nonces."""
    from db.types import utcnow

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            for n in range(count):
                write_alert(
                    session,
                    kind="test",
                    dedupe_key=f"scale-out:{n}",
                    payload={"title": f"alert {n}", "subject": f"alert {n}", "lines": ["x"]},
                    targets=[Target("channel", channels[n % len(channels)], guild_id)],
                    now=utcnow(),
                    guild_id=guild_id,
                )
        rows = pg_rows(db_url, "SELECT nonce FROM delivery ORDER BY id")
    finally:
        engine.dispose()
    return [nonce for (nonce,) in rows]


def posted_nonces(emulator: DiscordEmulator, channels: list[int]) -> Counter[str]:
    """Messages stored by the emulator in ``channels``, counted by nonce."""
    return Counter(m.nonce for c in channels for m in emulator.messages_in(c) if m.nonce)


def message_posts(emulator: DiscordEmulator) -> int:
    return len(emulator.requests_to("POST", "/channels/*/messages"))


# --- leader, shards, handover --------------------------------------------------------------


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_two_processes_one_leader_each_shard_answered_and_kill9_hands_over(
    db_url: str,
    discord_emulator: DiscordEmulator,
    server: LocalServer,  # noqa: F811
    processes: Processes,
) -> None:
    emulator = discord_emulator
    other = emulator.add_guild("Other", guild_id=emulator.guild_id + (1 << 22))
    guilds = {emulator.guild_id: emulator.channel_id, other: emulator.guild_channels(other)[0]}
    assert {shard_of(g) for g in guilds} == {0, 1}
    engine = make_engine(db_url)
    try:
        for guild_id in guilds:  # a deploy step, as `gapwatch sync --guild` does it
            await sync_commands(Answers(engine), emulator.token, guild_id)
    finally:
        engine.dispose()

    # Each process polls epoch from its own path; the poll never gets an answer, so the
    # source stays due and the next leader polls it again. A hit = a leader-only job ran.
    hits: dict[str, list[float]] = {"a": [], "b": []}
    release = asyncio.Event()

    def blocking(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(_request: web.Request) -> web.StreamResponse:
            hits[name].append(time.monotonic())
            await release.wait()
            return web.Response(status=503)

        return handler

    bots = {}
    try:
        for shard, name in enumerate(("a", "b")):
            server.route(f"/{name}/benchmark_data.zip", blocking(name))
            env = bot_env(
                db_url,
                emulator,
                poll_enabled="true",
                sources_enabled=["epoch"],
                source_base_urls={"epoch": server.url(f"/{name}/benchmark_data.zip")},
                poll_jitter_seconds=0,
                shard_count=2,
                shard_ids=[shard],
            )
            bots[name] = processes.start(name, "run", env=env)
        by_pid = {bot.pid: name for name, bot in bots.items()}

        await until(
            lambda: len([s for s in emulator.sessions if s.connected]) == 2,
            timeout=40,
            what="both processes on the gateway",
            processes=processes,
        )
        assert sorted(s.shard_id for s in emulator.sessions) == [0, 1]
        leader = by_pid[await until(lambda: leader_pid(db_url), timeout=10, what="a leader")]
        follower = "b" if leader == "a" else "a"

        # Commands: each guild's interaction goes to its shard's process, which answers it.
        for guild_id, channel_id in guilds.items():
            handle = await emulator.send_command(
                "gap", {"benchmark": "mmlu"}, guild_id=guild_id, channel_id=channel_id
            )
            callback = await handle.wait_for_callback()
            assert callback.type == 5 and callback.elapsed < 3.0
            [message] = await handle.wait_for_followups(1, timeout=15)
            assert message.embeds[0]["title"].startswith("MMLU")

        # Only the leader polls.
        await until(lambda: hits[leader], timeout=20, what="the leader's first poll")
        assert hits[follower] == []
        assert f"this process now leads (gapwatch leader {bots[leader].pid}@" in bots[leader].log()
        assert "this process follows" not in bots[leader].log()

        killed_at = time.monotonic()
        bots[leader].kill()
        await until(
            lambda: hits[follower],
            timeout=HANDOVER_LIMIT + 5,
            what="the follower's first poll",
            processes=None,
        )
        handover = hits[follower][0] - killed_at
        print(f"\nhandover after kill -9: {handover:.1f} s (limit {HANDOVER_LIMIT:.0f} s)")
        assert handover < HANDOVER_LIMIT
        assert await leader_pid(db_url) == bots[follower].pid
        assert len(hits[leader]) == 1  # the killed leader polled once, before it died
        processes.check_alive(bots[follower])
    finally:
        processes.kill_all()
        release.set()


# --- delivery across workers ---------------------------------------------------------------


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_200_alerts_two_delivering_processes_each_posted_exactly_once(
    db_url: str, discord_emulator: DiscordEmulator, processes: Processes
) -> None:
    emulator = discord_emulator
    channels = [emulator.channel_id] + [emulator.add_channel(f"alerts-{n}") for n in range(3)]
    await pg(db_url, CLAIM_LOG)
    nonces = await asyncio.to_thread(queue_alerts, db_url, channels, emulator.guild_id, 200)
    assert len(set(nonces)) == 200

    try:
        first = processes.start(
            "a", "run", env=bot_env(db_url, emulator, shard_count=2, shard_ids=[0])
        )
        second = processes.start(
            "b", "run", env=bot_env(db_url, emulator, shard_count=2, shard_ids=[1])
        )
        pids = {first.pid: first, second.pid: second}

        # Make both deliver: freeze the first claimer mid-batch until the other has claimed
        # too (a stalled worker), then let both race over what is left.
        first_claims = await until(
            lambda: claims(db_url), timeout=40, what="a first claim", processes=processes
        )
        stalled = pids[first_claims[0][1]]
        os.kill(stalled.pid, signal.SIGSTOP)
        try:

            async def other_claimed() -> bool:
                return any(pid != stalled.pid for _id, pid in await claims(db_url))

            await until(other_claimed, timeout=40, what="the other process's claim")
        finally:
            os.kill(stalled.pid, signal.SIGCONT)

        await emulator.wait_for(
            lambda: len(posted_nonces(emulator, channels)) >= 200, timeout=40, what="200 messages"
        )

        async def all_sent() -> bool:
            rows = await pg(db_url, "SELECT count(*) FROM delivery WHERE state <> 'sent'")
            return rows[0][0] == 0

        await until(all_sent, timeout=20, what="every delivery marked sent", processes=processes)
        processes.check_alive()
    finally:
        processes.kill_all()

    posted = posted_nonces(emulator, channels)
    assert set(posted) == set(nonces)
    assert set(posted.values()) == {1}  # each alert exactly once, none lost
    assert message_posts(emulator) == 200  # not even a resend: no row was claimed twice
    claimed = await claims(db_url)
    assert sorted(d for d, _pid in claimed) == sorted(set(d for d, _pid in claimed))
    assert len(claimed) == 200
    per_process = Counter(pid for _d, pid in claimed)
    print(f"\nclaims per process: {dict(per_process)}")
    assert set(per_process) == set(pids)  # both delivered
