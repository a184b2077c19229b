"""One gateway connection per (bot token, shard) (checklist 33: no 40060 races).

* PostgreSQL: :class:`GatewayLock` takes one advisory lock per shard, all of a process's shards
  or none; a second ``gapwatch run`` with the same token and shards stands by (it delivers
  alerts over REST, never IDENTIFYs) and connects when the owner dies.
* SQLite: one process per database file (an OS lock next to it); a second ``gapwatch run``
  exits with code 4 and says why.

Real processes and the Discord emulator, with the scale-out harness (tests/test_scale_out.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio

from bot.answers import Answers
from bot.discord_bot import (
    DAILY_START_CAP,
    GatewayStarts,
    gateway_shards,
    gateway_start_delay,
    sync_commands,
)
from bot.runner import EXIT_GATEWAY_LOCK_LOST, EXIT_INSTANCE_LOCKED
from db.engine import make_engine
from jobs.leader import (
    LEADER_LOCK_KEY,
    GatewayLock,
    InstanceLockedError,
    gateway_lock_keys,
    instance_lock,
    libpq_conninfo,
    lock_path,
)
from tests.discord_emulator import DiscordEmulator
from tests.test_scale_out import (
    Processes,
    bot_env,
    pg_rows,
    posted_nonces,
    processes,  # noqa: F401 (fixture)
    queue_alerts,
    until,
)

pytest_plugins = ("tests.discord_emulator.fixtures",)

POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]
SQLITE = [pytest.param("sqlite")]
TOKEN = "MTIz.fake.token-for-lock-tests"
TAKEOVER_LIMIT = 30.0  # standby retry (5 s) + grace (8 s) + IDENTIFY, with room for a slow box


# --- keys and the lock itself --------------------------------------------------------------


def test_gateway_lock_keys_are_per_token_and_shard() -> None:
    [a0, a1] = gateway_lock_keys(TOKEN, [0, 1])
    assert gateway_lock_keys(TOKEN, [1, 0, 1]) == [a0, a1]
    assert gateway_lock_keys(TOKEN, [1]) == [a1]
    assert gateway_lock_keys(TOKEN + "x", [0]) != [a0]
    keys = [*gateway_lock_keys(TOKEN, range(64)), LEADER_LOCK_KEY]
    assert len(set(keys)) == len(keys)
    assert all(0 < k < 2**63 for k in keys)
    assert gateway_shards(None, None) == [0]
    assert gateway_shards(4, None) == [0, 1, 2, 3]
    assert gateway_shards(4, [3, 1]) == [1, 3]


def held_gateway_keys(db_url: str) -> dict[int, str]:
    """Advisory bigint locks held in this database: key -> holder's application_name."""
    with psycopg.connect(libpq_conninfo(db_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT (l.classid::bigint << 32) | l.objid::bigint, a.application_name"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND a.datname = current_database()"
        ).fetchall()
    return dict(rows)


@pytest_asyncio.fixture
async def gateway_locks(db_url: str) -> AsyncIterator[Callable[..., GatewayLock]]:
    made: list[GatewayLock] = []

    def make(name: str, shards: list[int], token: str = TOKEN) -> GatewayLock:
        lock = GatewayLock(db_url, token, shards, name=name, retry_every=0.2)
        made.append(lock)
        return lock

    try:
        yield make
    finally:
        for lock in made:
            await lock.stop()


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_same_shards_are_held_once_all_or_none(
    db_url: str, gateway_locks: Callable[..., GatewayLock]
) -> None:
    owner = gateway_locks("owner", [0, 1])
    assert await owner.step() and owner.acquired.is_set()
    same = gateway_locks("same", [0, 1])
    overlap = gateway_locks("overlap", [1, 2])
    other_shard = gateway_locks("other-shard", [3])
    other_token = gateway_locks("other-token", [0, 1], token=TOKEN + "2")
    assert not await same.step() and not same.acquired.is_set()
    assert not await overlap.step()
    assert await other_shard.step()
    assert await other_token.step()

    held = held_gateway_keys(db_url)
    [k0, k1, k2, k3] = gateway_lock_keys(TOKEN, [0, 1, 2, 3])
    assert held[k0] == held[k1] == "gapwatch gateway owner"
    assert k2 not in held  # the overlapping process let go of what it had taken
    assert held[k3] == "gapwatch gateway other-shard"

    await owner.stop()
    assert await same.step() and same.is_leader
    assert not await overlap.step()  # shard 1 is the new owner's now


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_the_owner_notices_a_lost_lock(
    db_url: str, gateway_locks: Callable[..., GatewayLock]
) -> None:
    owner = gateway_locks("owner", [0])
    assert await owner.step()
    with psycopg.connect(libpq_conninfo(db_url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE application_name = 'gapwatch gateway owner'"
        )
    assert not await owner.step()
    assert owner.lost.is_set()
    standby = gateway_locks("standby", [0])
    assert await standby.step()


def test_sqlite_instance_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'gapwatch.db'}"
    assert lock_path(url) == (tmp_path / "data" / "gapwatch.db.lock").resolve()
    assert lock_path("postgresql://u@h/db") is None
    assert lock_path("sqlite://") is None
    with instance_lock(url):
        with pytest.raises(InstanceLockedError) as caught, instance_lock(url):
            pass
        message = str(caught.value)
        assert f"{os.getpid()}@" in message  # who holds it
        assert "one bot process per database file" in message and "PostgreSQL" in message
        assert (tmp_path / "data" / "gapwatch.db.lock").stat().st_mode & 0o077 == 0
    with instance_lock(url):  # released on exit
        pass
    with instance_lock("postgresql://u@h/db"), instance_lock("postgresql://u@h/db"):
        pass  # a no-op on PostgreSQL


# --- crash loops cannot spend the IDENTIFY budget (checklist 35) ----------------------------


def crash_loop_identifies(seconds_up: float, days: int = 2) -> int:
    """IDENTIFYs in the last day of a process that crashes ``seconds_up`` after connecting and
    is restarted 1 s later (Docker's policy: no back-off once a run lasted 10 s)."""
    now, starts = 0.0, []
    while now < 86400 * days:
        now += gateway_start_delay(starts, now)
        starts.append(now)
        now += seconds_up + 1
    return sum(1 for start in starts if start >= 86400 * (days - 1))


@pytest.mark.parametrize("seconds_up", [0.5, 10, 60, 600])
def test_a_crash_loop_stays_far_below_1000_identifies_a_day(seconds_up: float) -> None:
    assert crash_loop_identifies(seconds_up) < 300


def test_ordinary_restarts_connect_at_once_and_the_daily_cap_holds() -> None:
    now = 1_000_000.0
    assert gateway_start_delay([], now) == 0
    assert gateway_start_delay([now - 600, now - 60], now) == 0  # a deploy and a restart
    assert gateway_start_delay([now - 3, now - 2, now - 1], now) == 10
    assert gateway_start_delay([now - 4, now - 3, now - 2, now - 1], now) == 20
    assert gateway_start_delay([now - n for n in range(1, 30)], now) == 900
    spread = [now - 86000 + n * 100 for n in range(DAILY_START_CAP)]  # hourly counts are low
    assert gateway_start_delay(spread[:-1], now) == 0
    assert gateway_start_delay(spread, now) == pytest.approx(400)  # the oldest's day ends


def test_gateway_starts_file_survives_damage(tmp_path: Path) -> None:
    starts = GatewayStarts(tmp_path / "data" / "gateway-starts.json")
    assert starts.read() == []
    starts.record(1000.0)
    starts.record(2000.0)
    assert starts.read() == [1000.0, 2000.0]
    starts.record(2000.0 + 86400)  # the first two are forgotten after a day
    assert starts.read() == [2000.0 + 86400]
    starts.path.write_text("{not json")
    assert starts.read() == []


# --- real processes ------------------------------------------------------------------------


def identifies(emulator: DiscordEmulator) -> int:
    return len([f for f in emulator.gateway_frames if f.op == 2])


@pytest.mark.parametrize("db_url", SQLITE, indirect=True)
async def test_second_process_on_one_sqlite_file_refuses_to_start(
    db_url: str,
    discord_emulator: DiscordEmulator,
    processes: Processes,  # noqa: F811 (the fixture)
) -> None:
    emulator = discord_emulator
    first = processes.start("first", "run", env=bot_env(db_url, emulator))
    await until(
        lambda: emulator.sessions, timeout=40, what="the first process on the gateway",
        processes=processes,
    )  # fmt: skip
    second = processes.start("second", "run", env=bot_env(db_url, emulator))
    code = await asyncio.to_thread(second.popen.wait, 40)
    assert code == EXIT_INSTANCE_LOCKED
    log = second.log()
    assert f"another gapwatch process ({first.pid}@" in log
    assert "one bot process per database file" in log
    assert identifies(emulator) == 1
    processes.check_alive(first)


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_same_token_and_shard_one_gateway_standby_delivers_then_takes_over(
    db_url: str,
    discord_emulator: DiscordEmulator,
    processes: Processes,  # noqa: F811 (the fixture)
) -> None:
    emulator = discord_emulator
    engine = make_engine(db_url)
    try:
        await sync_commands(Answers(engine), emulator.token, emulator.guild_id)
    finally:
        engine.dispose()
    env = bot_env(db_url, emulator)  # unsharded, the same token: the same shard
    owner = processes.start("owner", "run", env=env)
    await until(
        lambda: emulator.sessions, timeout=40, what="the owner on the gateway", processes=processes
    )
    standby = processes.start("standby", "run", env=env)
    await until(
        lambda: "standing by" in standby.log(),
        timeout=40,
        what="the standby",
        processes=processes,
    )
    await asyncio.sleep(1.0)
    assert identifies(emulator) == 1

    # One answer per command: no second process receives the interaction (no 40060).
    handle = await emulator.send_command("gap", {"benchmark": "mmlu"})
    assert (await handle.wait_for_callback()).type == 5
    await handle.wait_for_followups(1, timeout=15)
    await asyncio.sleep(0.5)
    assert len(emulator.requests_to("POST", "/interactions/*")) == 1
    assert not [r for r in emulator.rejected if r.json and r.json.get("code") == 40060]

    # The standby delivers alerts (REST) while the owner is frozen.
    os.kill(owner.pid, signal.SIGSTOP)
    try:
        nonces = await asyncio.to_thread(
            queue_alerts, db_url, [emulator.channel_id], emulator.guild_id, 3
        )
        await emulator.wait_for(
            lambda: len(posted_nonces(emulator, [emulator.channel_id])) >= 3,
            timeout=30,
            what="the standby's deliveries",
        )
    finally:
        os.kill(owner.pid, signal.SIGCONT)
    assert set(posted_nonces(emulator, [emulator.channel_id])) == set(nonces)
    assert identifies(emulator) == 1

    killed_at = time.monotonic()
    owner.kill()
    await until(
        lambda: identifies(emulator) == 2 and emulator.sessions,
        timeout=TAKEOVER_LIMIT + 10,
        what="the standby's takeover",
        processes=None,
    )
    takeover = time.monotonic() - killed_at
    print(f"\ngateway takeover after kill -9: {takeover:.1f} s (limit {TAKEOVER_LIMIT:.0f} s)")
    assert takeover < TAKEOVER_LIMIT
    handle = await emulator.send_command("gap", {"benchmark": "mmlu"})
    assert (await handle.wait_for_callback()).type == 5
    [message] = await handle.wait_for_followups(1, timeout=15)
    assert message.embeds[0]["title"].startswith("MMLU")
    processes.check_alive(standby)


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_an_owner_that_loses_its_lock_disconnects_and_exits_5(
    db_url: str,
    discord_emulator: DiscordEmulator,
    processes: Processes,  # noqa: F811 (the fixture)
) -> None:
    emulator = discord_emulator
    owner = processes.start("owner", "run", env=bot_env(db_url, emulator))
    await until(
        lambda: emulator.sessions, timeout=40, what="the owner on the gateway", processes=processes
    )
    await asyncio.to_thread(
        pg_rows,
        db_url,
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
        " WHERE application_name LIKE 'gapwatch gateway %%' AND datname = current_database()",
    )
    code = await asyncio.to_thread(owner.popen.wait, 30)  # the check runs every 5 s
    assert code == EXIT_GATEWAY_LOCK_LOST
    log = owner.log()
    assert "lost the gateway lock of shard(s) [0]" in log and "disconnecting" in log
    assert not [s for s in emulator.sessions if s.connected]
