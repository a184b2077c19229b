"""``kill -9`` of a real process in the middle of its work, on PostgreSQL.

* During an ingest (``python -m bot sources poll epoch``): the process is killed while its
  transaction is open and has written rows; the store is exactly as before, and the next
  poll writes everything.
* During delivery (``python -m bot run``): killed after some alerts were posted and with a
  claimed batch still in flight; after a restart every alert is in Discord exactly once
  (the delivery's nonce makes the resend of an in-flight message a no-op).

No test hook in the product: the ingest is held mid-transaction by a table lock this test
takes on ``score`` (the ingest writes models first, then blocks on its first score write),
which ``pg_stat_activity`` shows as a backend waiting on a lock with a transaction id.
"""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from aiohttp import web

from db.engine import make_engine
from jobs.leader import libpq_conninfo
from tests.discord_emulator import DiscordEmulator
from tests.sources.conftest import LocalServer, epoch_zip, server  # noqa: F401 (fixture)
from tests.test_ingest import source_scores, source_state, store_counts
from tests.test_scale_out import (
    CLAIM_LOG,
    Processes,
    bot_env,
    claims,
    message_posts,
    pg,
    posted_nonces,
    processes,  # noqa: F401 (fixture)
    queue_alerts,
    until,
)

pytest_plugins = ("tests.discord_emulator.fixtures",)

POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]


def _source_fields(db_url: str) -> tuple[object, ...] | None:
    engine = make_engine(db_url)
    try:
        row = source_state(engine, "epoch")
    finally:
        engine.dispose()
    if row is None:
        return None
    return (row.last_polled_at, row.last_success_at, row.etag, row.content_hash, row.url)


def _snapshot(db_url: str) -> tuple[dict[str, int], int, tuple[object, ...] | None]:
    engine = make_engine(db_url)
    try:
        return store_counts(engine), source_scores(engine, "epoch"), _source_fields(db_url)
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_kill9_during_an_ingest_leaves_the_store_as_before(
    db_url: str,
    server: LocalServer,  # noqa: F811
    processes: Processes,  # noqa: F811
) -> None:
    body = epoch_zip()

    async def epoch(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/zip")

    server.route("/benchmark_data.zip", epoch)
    env = bot_env(
        db_url,
        sources_enabled=["epoch"],
        source_base_urls={"epoch": server.url("/benchmark_data.zip")},
    )
    before = await asyncio.to_thread(_snapshot, db_url)

    blocker = await psycopg.AsyncConnection.connect(libpq_conninfo(db_url))
    try:
        await blocker.execute("LOCK TABLE score IN SHARE MODE")  # blocks writes, not reads
        poll = processes.start("poll", "sources", "poll", "epoch", env=env)

        async def ingest_blocked_mid_transaction() -> int | None:
            rows = await pg(
                db_url,
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                " AND backend_xid IS NOT NULL AND query ILIKE '%%score%%'",
            )
            return rows[0][0] if rows else None

        backend = await until(
            ingest_blocked_mid_transaction,
            timeout=40,
            what="the ingest's transaction, with rows written, waiting on its first score",
            processes=processes,
        )
        poll.kill()
    finally:
        await blocker.rollback()  # the backend may now run on, only to find its client gone
        await blocker.close()

    async def backend_gone() -> bool:
        rows = await pg(db_url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,))
        return not rows

    await until(backend_gone, timeout=10, what="the killed process's backend to end")
    assert await asyncio.to_thread(_snapshot, db_url) == before

    # Nothing half-done stands in the way: the next poll writes the whole batch.
    again = processes.start("poll-again", "sources", "poll", "epoch", env=env)
    await asyncio.to_thread(again.popen.wait, 60)
    assert again.popen.returncode == 0, again.log()
    counts, scores, _fields = await asyncio.to_thread(_snapshot, db_url)
    assert scores > before[1] and counts["score"] > before[0]["score"]


@pytest.mark.parametrize("db_url", POSTGRES, indirect=True)
async def test_kill9_during_delivery_then_restart_posts_each_alert_exactly_once(
    db_url: str,
    discord_emulator: DiscordEmulator,
    processes: Processes,  # noqa: F811
) -> None:
    emulator = discord_emulator
    channels = [emulator.channel_id] + [emulator.add_channel(f"alerts-{n}") for n in range(2)]
    await pg(db_url, CLAIM_LOG)
    nonces = await asyncio.to_thread(queue_alerts, db_url, channels, emulator.guild_id, 60)
    env = bot_env(db_url, emulator)

    first = processes.start("first", "run", env=env)
    killed_after: list[int] = []

    def kill_after_ten() -> bool:
        # Checked after every request the emulator serves: the tenth message is stored and
        # its response may not have reached the process yet.
        posted = sum(posted_nonces(emulator, channels).values())
        if posted >= 10 and not killed_after:
            first.kill_now()
            killed_after.append(posted)
        return bool(killed_after)

    try:
        await emulator.wait_for(kill_after_ten, timeout=40, what="ten alerts posted")
        await asyncio.to_thread(first.popen.wait, 10)
        states = dict(await pg(db_url, "SELECT state, count(*) FROM delivery GROUP BY state"))
        in_flight = states.get("sending", 0)
        assert in_flight > 0  # killed with a claimed batch not yet recorded
        assert states.get("sent", 0) + in_flight + states.get("pending", 0) == 60

        # The restart comes after the reclaim timeout (5 min): move the claims back in time
        # rather than wait.
        await pg(
            db_url,
            "UPDATE delivery SET claimed_at = claimed_at - interval '6 minutes'"
            " WHERE state = 'sending'",
        )
        started = time.monotonic()
        processes.start("second", "run", env=env)
        await emulator.wait_for(
            lambda: len(posted_nonces(emulator, channels)) >= 60, timeout=40, what="60 alerts"
        )

        async def all_sent() -> bool:
            rows = await pg(db_url, "SELECT count(*) FROM delivery WHERE state <> 'sent'")
            return rows[0][0] == 0

        await until(all_sent, timeout=20, what="every delivery marked sent", processes=processes)
    finally:
        processes.kill_all()

    posted = posted_nonces(emulator, channels)
    assert set(posted) == set(nonces) and set(posted.values()) == {1}
    claimed = await claims(db_url)
    reclaimed = len(claimed) - len({d for d, _pid in claimed})
    resends = message_posts(emulator) - 60
    print(
        f"\nkilled after {killed_after[0]} posts with {in_flight} in flight; after the restart "
        f"{reclaimed} reclaimed, {resends} resends absorbed by the nonce, "
        f"all 60 delivered once in {time.monotonic() - started:.1f} s"
    )
    assert reclaimed == in_flight
    assert 0 <= resends <= in_flight
