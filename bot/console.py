"""The terminal console: the bot's commands answered from stdin, alerts printed to stdout."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from sqlalchemy.exc import OperationalError

from bot.answers import Answers
from bot.commandline import parse_line
from bot.registry import console_commands
from bot.settings import Settings
from bot.specs import CommandSpec
from frontier.errors import InputError

log = logging.getLogger(__name__)

PROMPT = "gapwatch> "
DATABASE_UNAVAILABLE = "The database is unavailable right now; please try again in a minute."


class Console:
    """Answers console lines with the same specs and ``Answers`` as the Discord commands."""

    def __init__(self, answers: Answers, specs: dict[str, CommandSpec] | None = None) -> None:
        self.answers = answers
        self.specs = specs if specs is not None else console_commands()

    def answer(self, line: str) -> tuple[bool, str]:
        """Answer one line: ``(ok, text)``; a refusal is ``(False, message)``, never a traceback."""
        if line.strip().lstrip("/").lower() in ("help", "?"):
            return True, self.help_text()
        try:
            spec, values = parse_line(line, self.specs)
            result = spec.answer(self.answers, **values)
            return True, spec.text(result)
        except InputError as exc:
            return False, str(exc)
        except OperationalError:
            log.warning("database unavailable during console command %r", line[:200])
            return False, DATABASE_UNAVAILABLE
        except Exception:
            log.exception("console command failed: %r", line[:200])
            return False, "Something went wrong answering that; the error is logged."

    def help_text(self) -> str:
        """Every command with its options and an example."""
        lines = ["Commands (type them as in Discord; options by position or name:value):"]
        for spec in self.specs.values():
            options = " ".join(f"{o.name}" if o.required else f"[{o.name}]" for o in spec.options)
            lines.append(f"  /{spec.name} {options}".rstrip() + f" — {spec.description}")
        lines.append("  /help — this list; Ctrl-D or /quit leaves")
        return "\n".join(lines)


def ask(line: str, settings: Settings) -> int:
    """``gapwatch ask``: answer one line on stdout; exit code 0, or 1 with the message on stderr."""
    from bot.app import make_answers, open_data

    engine = open_data(settings)
    try:
        ok, output = Console(make_answers(engine, settings)).answer(line)
    finally:
        engine.dispose()
    print(output, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


class _LineReader:
    """Lines from a blocking stream, read in a daemon thread.

    Not the event loop's default executor: a thread blocked in ``readline`` there would keep
    the process from exiting on SIGTERM or Ctrl-C until someone pressed Enter.
    """

    def __init__(self, stream: TextIO) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True, name="stdin").start()

    def _read(self, stream: TextIO) -> None:
        while True:
            try:
                line = stream.readline()
            except (OSError, ValueError):  # closed stream
                line = ""
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
            except RuntimeError:  # the loop has closed: the process is exiting
                return
            if not line:
                return

    async def next(self) -> str:
        """The next line, or ``""`` at end of input."""
        return await self._queue.get()


async def run_console(
    console: Console,
    *,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    interactive: Callable[[], bool] | None = None,
) -> None:
    """Read lines until end of input (Ctrl-D) or ``/quit``, answering each in a worker thread."""
    is_tty = interactive() if interactive else stdin.isatty()
    lines = _LineReader(stdin)
    print("gapwatch console — type /help for the commands, Ctrl-D to leave.", file=stdout)
    while True:
        if is_tty:
            print(PROMPT, end="", file=stdout, flush=True)
        line = await lines.next()
        if not line:
            break
        if not line.strip():
            continue
        if line.strip().lstrip("/").lower() in ("quit", "exit"):
            break
        _ok, output = await asyncio.to_thread(console.answer, line)
        print(output, file=stdout, flush=True)
    print("bye", file=stdout, flush=True)
