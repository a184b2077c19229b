"""The ``gapwatch`` command line: run the bot, ask one question, manage the store."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, load_settings

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
    quiet = args.command == "ask"
    setup_logging(
        "WARNING" if quiet else settings.log_level, json_lines=settings.log_json, secrets=secrets
    )
    try:
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from db.store import StoreUnavailableError

    try:
        if args.command == "db":
            return _db(args, settings)
        if args.command == "ask":
            from bot.console import ask

            return ask(" ".join(args.line), settings)
        if args.command == "run":
            from bot.runner import run

            return asyncio.run(run(settings))
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
