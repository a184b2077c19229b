"""Bad input: every command's options under property tests, and every source's bad rows.

Commands: hypothesis drives each console command with hostile strings, numbers and dates
(``Console.answer``, the code path of ``gapwatch ask`` and the console); a smaller fixed set
goes through the Discord emulator. Either an answer or a clear refusal comes back — never
"Something went wrong", never a traceback, never a crash.

Sources: hypothesis builds tabular CSV tables and LMArena leaderboards with malformed rows;
each rejected row carries a reason, and ingesting the batch writes exactly the accepted rows.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import shlex
import uuid
from datetime import date

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from bot.answers import Answers
from bot.console import Console
from bot.discord_bot import build_bot
from bot.registry import console_commands
from db import tables as t
from jobs.ingest import ingest_batch
from jobs.sources.base import ScoreRecord
from jobs.sources.lmarena import parse_catalog
from jobs.sources.tabular import ColumnMapping, parse_table
from tests.discord_emulator import DiscordEmulator, running_client
from tests.test_bot import TODAY

pytest_plugins = ("tests.discord_emulator.fixtures",)

FAILURE = "Something went wrong"
# The store is shared by a test's examples: commands only read it, and ingest tests roll back.
FIXTURE = HealthCheck.function_scoped_fixture

HOSTILE_TEXT = [
    "",
    " ",
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@&123456789012345678>",
    "<#123456789012345678>",
    "**bold** __under__ ~~strike~~ ||spoiler|| `code` ```block```",
    "[click](https://evil.example)",
    "# heading\n> quote\n- list",
    "x" * 5000,
    "mmlu" + "\u200b" * 50,
    "\u200b\u200c\u200d\u2060\ufeff",
    "\u202eulmm\u202c",  # right-to-left override
    "مرحبا بالعالم",
    "שלום עולם",
    "Llama\u0000 3\x1b[31m",
    "😀" * 40,
    "Z\u0351\u0358\u0361a\u0336\u0334l\u0334g\u0335o",  # combining characters
    "'; DROP TABLE score; --",
    "%s %d {0} {name}",
    "\\",
    "../../etc/passwd",
    "null",
    "NaN",
]
HOSTILE_NUMBERS = [
    "-1",
    "0",
    "-0",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "-1e309",
    "1e-320",
    "99999999999999999999999999999",
    "-99999999999999999999999999999",
    "1_000",
    "0x10",
    "٣",  # Arabic-Indic digit three
    "2.5",
    "",
    "ten",
]
HOSTILE_DATES = [
    "2024-02-30",
    "0001-01-01",
    "9999-12-31",
    "1970-01-01",
    "2100-01-01",
    "soon",
    "2024-13-01",
    "24-06-01",
    "2024/06/01",
    "",
]

text_values = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=60))
number_values = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers().map(str),
    st.floats().map(repr),
)
date_values = st.one_of(
    st.sampled_from(HOSTILE_DATES), st.dates().map(date.isoformat), st.text(max_size=12)
)


def _value_for(kind: type) -> st.SearchStrategy[str]:
    if kind in (int, float):
        return number_values
    if kind is date:
        return date_values
    if kind is bool:
        return st.one_of(st.sampled_from(["true", "no", "maybe", ""]), text_values)
    return text_values


@st.composite
def console_lines(draw: st.DrawFn) -> str:
    """A console line for any command, each option present or not, by name or position."""
    specs = console_commands()
    spec = specs[draw(st.sampled_from(sorted(specs)))]
    words = [spec.name]
    for option in spec.options:
        if not option.required and not draw(st.booleans()):
            continue
        raw = draw(_value_for(option.kind))
        named = draw(st.booleans())
        words.append(shlex.quote(f"{option.name}:{raw}" if named else raw))
    if draw(st.integers(0, 9)) == 0:  # now and then, trailing garbage or broken quoting
        words.append(draw(st.sampled_from(['"unclosed', "extra", "a:b:c", "'"])))
    return "/" + " ".join(words)


def assert_clear(ok: bool, text: str, line: str) -> None:
    assert FAILURE not in text, line
    assert "Traceback" not in text, line
    assert text.strip(), line
    if not ok:
        assert len(text) < 2000, line


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(line=console_lines())
def test_every_console_command_answers_or_refuses_clearly(
    engine, caplog: pytest.LogCaptureFixture, line: str
) -> None:
    console = Console(Answers(engine, today=lambda: TODAY))
    with caplog.at_level(logging.ERROR):
        ok, text = console.answer(line)
    assert_clear(ok, text, line)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], line


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(line=st.one_of(st.text(max_size=200), st.sampled_from(HOSTILE_TEXT)))
def test_arbitrary_lines_are_refused_clearly(engine, line: str) -> None:
    ok, text = Console(Answers(engine, today=lambda: TODAY)).answer(line)
    assert_clear(ok, text, line)


# --- the Discord path ---------------------------------------------------------------------

DISCORD_CASES = [
    ("gap", {"benchmark": "@everyone", "as_of": "2024-02-30"}),
    ("gap", {"benchmark": "x" * 5000}),
    ("gap", {"benchmark": "mmlu", "as_of": "9999-12-31"}),
    ("gap", {"benchmark": "mmlu", "as_of": "0001-01-01"}),
    ("lag", {"benchmark": "\u202eulmm\u202c"}),
    ("model", {"name": "<@123456789012345678> **x**"}),
    ("model", {"name": "\u200b\u200c\u200d"}),
    ("model", {"name": "😀" * 40}),
    ("leaderboard", {"benchmark": "mmlu", "limit": -5}),
    ("leaderboard", {"benchmark": "mmlu", "limit": 2**53}),
    ("leaderboard", {"benchmark": "mmlu", "limit": 0}),
    ("fits", {"vram_gb": -1e308}),
    ("fits", {"vram_gb": 1e308}),
    ("fits", {"vram_gb": 0}),
    ("fits", {"context": -1}),
    ("fits", {"context": 2**53}),
    ("fits", {"model": "llama-3.1-70b", "quant": "@everyone"}),
    ("fits", {"model": "llama-3.1-70b", "context": 2**53, "vram_gb": 1e-300}),
    ("fits", {"benchmark": "# heading", "kv_cache": "q8_0"}),
    ("prediction show", {"code": "'; DROP TABLE prediction; --"}),
]


async def test_hostile_options_through_discord_get_clear_answers(
    engine, discord_emulator: DiscordEmulator, discord_client_options: dict[str, object]
) -> None:
    bot = build_bot(Answers(engine, today=lambda: TODAY), **discord_client_options)
    async with running_client(bot, discord_emulator.token):
        guild = discord.Object(discord_emulator.guild_id)
        bot.tree.copy_global_to(guild=guild)
        await bot.tree.sync(guild=guild)
        for name, options in DISCORD_CASES:
            handle = await discord_emulator.send_command(name, options)
            callback = await handle.wait_for_callback()
            if callback.type == 5:  # deferred: the answer (or refusal) is the follow-up
                [message] = await handle.wait_for_followups(1)
                embeds = message.embeds
            else:
                embeds = callback.embeds
            text = json.dumps(embeds, ensure_ascii=False)
            assert embeds, (name, options)
            assert FAILURE not in text, (name, options)
            assert not handle.rejected, (name, options, handle.rejected)
    assert not discord_emulator.rejected


# --- sources: malformed rows are rejected with a reason, and nothing of them is written ----

BAD_VALUES = ["", "n/a", "NaN", "nan", "inf", "-inf", "-1", "101", "abc", "1e400", "-", "None"]
GOOD_VALUES = st.one_of(
    st.floats(0, 100, allow_nan=False).map(lambda v: f"{v:.3f}"),
    st.integers(0, 100).map(lambda v: f"{v}%"),
)
row_kinds = st.sampled_from(["ok", "bad_value", "no_model", "no_benchmark", "long_name"])


def _count(session: Session, model: type, *where: object) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(row_kinds, min_size=1, max_size=12),
    good=st.lists(GOOD_VALUES, min_size=12, max_size=12),
    bad=st.lists(st.sampled_from(BAD_VALUES), min_size=12, max_size=12),
    dates=st.lists(date_values, min_size=12, max_size=12),
)
def test_tabular_rows_rejected_with_a_reason_and_never_written(
    engine, kinds: list[str], good: list[str], bad: list[str], dates: list[str]
) -> None:
    run = uuid.uuid4().hex[:8]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Model", "Benchmark", "Score", "Date"])
    expected_ok = set()
    for i, kind in enumerate(kinds):
        name = f"zz-{run}-{kind}-{i}"
        value = good[i]
        bench = "MMLU"
        if kind == "ok":
            expected_ok.add(name)
        elif kind == "bad_value":
            value = bad[i]
        elif kind == "no_model":
            name = " "
        elif kind == "no_benchmark":
            bench = ""
        elif kind == "long_name":
            name = f"zz-{run}-long-" + "y" * 300
        writer.writerow([name, bench, value, dates[i]])
    mapping = ColumnMapping(model="Model", value="Score", benchmark="Benchmark", date="Date")
    batch = parse_table(buffer.getvalue().encode(), "csv", mapping, source=f"fuzz-{run}")
    assert {s.model_name for s in batch.scores} == expected_ok
    assert len(batch.rejected) == len(kinds) - len(expected_ok)
    for rejection in batch.rejected:
        assert rejection.reason.strip()
        assert len(rejection.excerpt) <= 200
    for score in batch.scores:
        assert math.isfinite(score.value) and 0 <= score.value <= 100
    with Session(engine) as session:
        scores_before = _count(session, t.Score)
        result = ingest_batch(session, batch)
        session.flush()
        assert _count(session, t.Score) - scores_before == len(expected_ok)
        written = set(
            session.exec(select(t.Model.name).where(t.Model.name.like(f"zz-{run}-%"))).all()  # type: ignore[attr-defined]
        )
        assert written == expected_ok
        assert result.counts["scores_new"] == len(expected_ok)
        session.rollback()


rating_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.sampled_from([*BAD_VALUES, "1,234", "1234.5", " 1300 ", None, [], {}, True]),
    st.text(max_size=8),
)
name_kinds = st.sampled_from(["ok", "ok", "ok", "empty", "blank", "long"])
name_suffixes = st.one_of(st.sampled_from(HOSTILE_TEXT[2:10]), st.text(max_size=20))
entry_values = st.one_of(
    st.fixed_dictionaries({"rating": rating_values}), st.integers(), st.text(max_size=10)
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(name_kinds, name_suffixes, entry_values), max_size=10),
)
def test_lmarena_entries_rejected_with_a_reason_and_never_written(
    engine, rows: list[tuple[str, str, object]]
) -> None:
    run = uuid.uuid4().hex[:8]
    names = {
        "empty": lambda i, suffix: "",
        "blank": lambda i, suffix: "   ",
        "long": lambda i, suffix: f"zz{i}q{run}" + "n" * 300,
        # Distinct after normalization (an index and a run id), whatever the suffix.
        "ok": lambda i, suffix: f"zz{i}q{run} {suffix}",
    }
    entries = {names[kind](i, suffix): value for i, (kind, suffix, value) in enumerate(rows)}
    payload = json.dumps({"full": entries}, allow_nan=True).encode()
    batch = parse_catalog(payload, as_of=date(2026, 1, 1))
    accepted = {s.model_name for s in batch.scores}
    assert len(batch.scores) <= len(entries)
    assert len(batch.scores) + len(batch.rejected) >= len(entries)
    for rejection in batch.rejected:
        assert rejection.reason.strip()
    for score in batch.scores:
        ScoreRecord.model_validate(score.model_dump())  # still valid
        assert math.isfinite(score.value)
    with Session(engine) as session:
        before = _count(session, t.Score)
        ingest_batch(session, batch)
        session.flush()
        assert _count(session, t.Score) - before == len(accepted)
        session.rollback()
