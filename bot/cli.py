"""The ``gapwatch`` command line: run the bot, ask one question, manage the store."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from jobs.polling import PollOutcome
    from jobs.sources import Source

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="gapwatch",
        description="Track the gap between proprietary and open-weights AI models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "run", help="run the bot: Discord when DISCORD_TOKEN is set, else the terminal console"
    )
    ask = sub.add_parser("ask", help='answer one command and exit, e.g. gapwatch ask "/gap mmlu"')
    ask.add_argument("line", nargs="+", help="the command, as typed in Discord or the console")
    database = sub.add_parser("db", help="manage the store")
    db_sub = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="migrate the schema to the newest version")
    load = db_sub.add_parser("load", help="load or update the bundled dataset")
    load.add_argument("--force", action="store_true", help="compare every row even if unchanged")
    db_sub.add_parser("status", help="schema revision, dataset version and row counts")
    sources = sub.add_parser("sources", help="poll the data sources now, or list their state")
    sources_sub = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    poll = sources_sub.add_parser(
        "poll", help="poll one source (or every enabled one) now; exit 1 if any poll failed"
    )
    poll.add_argument("name", nargs="?", help="source key, e.g. epoch (default: all enabled)")
    sources_sub.add_parser(
        "list", help="each source: last poll, last success, last error, failures, next due"
    )
    sync = sub.add_parser(
        "sync",
        help="register the slash commands with Discord (the bot never does it on start)",
    )
    scope = sync.add_mutually_exclusive_group()
    scope.add_argument(
        "--guild", type=int, help="register in this server only (default: GAPWATCH_DEV_GUILD_ID)"
    )
    scope.add_argument(
        "--global",
        dest="global_",
        action="store_true",
        help="register globally (can take up to an hour to show everywhere)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"gapwatch: {exc}", file=sys.stderr)
        return 2
    from bot.logs import setup_logging

    secrets = [s.get_secret_value() for s in (settings.discord_token,) if s is not None]
    quiet = args.command in ("ask", "sources")
    setup_logging(
        "WARNING" if quiet else settings.log_level, json_lines=settings.log_json, secrets=secrets
    )
    try:
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    """Register the commands in a server (development) or globally."""
    if settings.discord_token is None:
        print("gapwatch: sync needs DISCORD_TOKEN (the bot's token)", file=sys.stderr)
        return 2
    guild = args.guild if args.guild is not None else settings.dev_guild_id
    if guild is None and not args.global_:
        print(
            "gapwatch: say where: --guild ID (or set GAPWATCH_DEV_GUILD_ID) for one server, "
            "or --global",
            file=sys.stderr,
        )
        return 2
    from bot.answers import Answers
    from bot.discord_bot import sync_commands
    from bot.discord_endpoint import configure_discord_endpoint
    from db.engine import make_engine

    configure_discord_endpoint(settings.discord_api_base, settings.discord_gateway_url)
    engine = make_engine(settings.db_url)  # the cogs need the service, not the data
    try:
        token = settings.discord_token.get_secret_value()
        names = asyncio.run(sync_commands(Answers(engine), token, None if args.global_ else guild))
    except Exception as exc:  # discord.LoginFailure, HTTPException: say it without a traceback
        print(f"gapwatch: sync failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    where = "globally" if args.global_ else f"in server {guild}"
    print(f"registered {len(names)} commands {where}: " + ", ".join(f"/{n}" for n in names))
    return 0


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from db.store import StoreUnavailableError

    if args.command == "sync":
        return _sync(args, settings)
    try:
        if args.command == "db":
            return _db(args, settings)
        if args.command == "sources":
            return _sources(args, settings)
        if args.command == "ask":
            from bot.console import ask

            return ask(" ".join(args.line), settings)
        if args.command == "run":
            import discord

            from bot.runner import run

            try:
                return asyncio.run(run(settings))
            except discord.LoginFailure:
                print(
                    "gapwatch: Discord refused the token (DISCORD_TOKEN); check it in the "
                    "developer portal, or unset it to run the console",
                    file=sys.stderr,
                )
                return 2
    except StoreUnavailableError as exc:
        print(f"gapwatch: {exc}", file=sys.stderr)
        return 3
    raise AssertionError(args.command)


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from db import migrate
    from db.dataset import bundled_version, load_bundled_dataset, stored_version
    from db.engine import make_engine, session_scope
    from db.queries import counts
    from db.store import open_store

    if args.db_command == "upgrade":
        engine = open_store(settings.db_url, load_dataset=False)
        print(
            f"schema at {migrate.current_revision(engine)} (head {migrate.head_revision(engine)})"
        )
        return 0
    if args.db_command == "load":
        engine = open_store(settings.db_url, load_dataset=False)
        with session_scope(engine) as session:
            summary = load_bundled_dataset(session, force=args.force)
        print(summary)
        return 0
    engine = make_engine(settings.db_url)
    revision = migrate.current_revision(engine)
    print(f"database: {engine.url.render_as_string(hide_password=True)}")
    print(f"schema: {revision or 'empty'} (head {migrate.head_revision(engine)})")
    if revision:
        with session_scope(engine) as session:
            print(
                f"dataset: {stored_version(session) or 'not loaded'} (bundled {bundled_version()})"
            )
            print(", ".join(f"{k} {v}" for k, v in counts(session).items()))
    return 0


def _sources(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import sources_config
    from db.store import open_store
    from jobs.sources import build_sources

    sources = build_sources(sources_config(settings))
    keys = [source.key for source in sources]
    name = getattr(args, "name", None)
    if name is not None and name not in keys:
        print(f"gapwatch: {_unknown_source(name, keys)}", file=sys.stderr)
        return 1
    engine = open_store(settings.db_url)
    try:
        if args.sources_command == "list":
            return _list_sources(engine, keys, settings)
        chosen = [source for source in sources if name is None or source.key == name]
        return asyncio.run(_poll_sources(engine, chosen, settings))
    finally:
        engine.dispose()


def _unknown_source(name: str, keys: Sequence[str]) -> str:
    from jobs.ingest import SOURCE_NAMES

    valid = ", ".join(keys) or "none"
    if name in SOURCE_NAMES:
        return (
            f"source {name!r} is not enabled (GAPWATCH_SOURCES_ENABLED); enabled sources: {valid}"
        )
    return f"unknown source {name!r}; valid sources: {valid}"


async def _poll_sources(engine: Engine, sources: Sequence[Source], settings: Settings) -> int:
    from jobs.polling import Poller
    from jobs.sources.http import SourceClient

    outcomes = []
    async with SourceClient() as client:
        poller = Poller(
            engine=engine,
            client=client,
            sources=sources,
            interval=timedelta(minutes=settings.poll_interval_minutes),
            jitter_seconds=settings.poll_jitter_seconds,
        )
        for source in sources:
            async with _progress(source.key):
                outcome = await poller.poll(source.key)
            print(outcome.summary(), flush=True)
            outcomes.append(outcome)
    print(_poll_summary(outcomes))
    return 0 if all(outcome.ok for outcome in outcomes) else 1


@asynccontextmanager
async def _progress(key: str, *, after: float = 1.0) -> AsyncIterator[None]:
    """In a terminal, show ``polling epoch … 12 s`` on stderr while a poll takes long."""
    if not sys.stderr.isatty():
        yield
        return
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def tick() -> None:
        await asyncio.sleep(after)
        while True:
            sys.stderr.write(f"\rpolling {key} … {loop.time() - started:.0f} s ")
            sys.stderr.flush()
            await asyncio.sleep(0.5)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _poll_summary(outcomes: Sequence[PollOutcome], *, reasons_shown: int = 10) -> str:
    """The closing lines: rows new, changed and rejected over all polls, and why."""
    from collections import Counter

    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for outcome in outcomes:
        if outcome.result is not None:
            counts.update(outcome.result.counts)
            reasons.update(f"{outcome.source}: {r.reason}" for r in outcome.result.rejected)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    lines = [
        f"total: {len(outcomes)} polled, {len(failed)} failed; "
        f"models {counts['models_new']} new, {counts['models_updated']} updated; "
        f"scores {counts['scores_new']} new, {counts['scores_changed']} changed, "
        f"{counts['scores_unchanged']} unchanged; {reasons.total()} rejected"
    ]
    if reasons:
        lines.append("rejected, and why:")
        lines += [f"  {n}× {reason}" for reason, n in reasons.most_common(reasons_shown)]
        if len(reasons) > reasons_shown:
            lines.append(f"  … and {len(reasons) - reasons_shown} more reasons")
    lines += [f"failed: {outcome.source}: {outcome.error}" for outcome in failed]
    return "\n".join(lines)


def _list_sources(engine: Engine, keys: Sequence[str], settings: Settings) -> int:
    from sqlmodel import select

    from db import tables as t
    from db.engine import session_scope
    from db.types import utcnow
    from jobs.polling import next_due

    interval = timedelta(minutes=settings.poll_interval_minutes)
    with session_scope(engine) as session:
        rows = {row.key: row for row in session.exec(select(t.Source))}
    now = utcnow()
    header = ("source", "last poll", "last success", "failures", "next due", "last error")
    table = [header]
    for key in keys:
        row = rows.get(key)
        due = next_due(row, interval, settings.poll_jitter_seconds)
        error = row.last_error if row is not None and row.last_error else "-"
        table.append(
            (
                key,
                _when(row.last_polled_at if row else None),
                _when(row.last_success_at if row else None),
                str(row.consecutive_failures if row else 0),
                "now" if due is None or due <= now else _when(due),
                error if len(error) <= 70 else error[:69] + "…",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, line[-1]]).rstrip())
    return 0


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"
