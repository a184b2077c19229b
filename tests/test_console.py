"""The console answers every command from the store, on both databases."""

from __future__ import annotations

import asyncio
import io
from datetime import date

import pytest

from bot.answers import Answers, FitAnswer, FitListAnswer
from bot.commandline import parse_line
from bot.console import Console, run_console
from bot.registry import console_commands
from frontier.errors import InputError

TODAY = date(2026, 12, 4)


@pytest.fixture
def answers(engine) -> Answers:
    return Answers(engine, today=lambda: TODAY)


@pytest.fixture
def console(answers: Answers) -> Console:
    return Console(answers)


def test_gap_from_the_bundled_dataset(answers: Answers) -> None:
    report = answers.gap("MMLU")
    assert report.proprietary is not None and report.open is not None
    assert report.open.model_slug == "deepseek-r1"
    assert report.gap == pytest.approx(88.7 - 90.8)
    assert report.leader == "open"
    # The gap as of mid-2023: GPT-4 86.4 vs Llama 2 70B 68.9.
    then = answers.gap("mmlu", date(2023, 8, 1))
    assert then.gap == pytest.approx(86.4 - 68.9)


def test_gsm8k_gap_follows_the_definition_not_the_report(answers: Answers) -> None:
    # The report compares DeepSeek-R1 97.3 with o1 94.8 (-2.5); GPT-4 Turbo's 95.3 came first.
    report = answers.gap("gsm8k")
    assert report.proprietary is not None
    assert report.proprietary.model_name == "GPT-4 Turbo"
    assert report.gap == pytest.approx(-2.0)


def test_fits_of_the_reports_70b_claim(answers: Answers) -> None:
    answer = answers.fits(model="Llama 3.1 70B", quant="Q4_K_M")
    assert isinstance(answer, FitAnswer)
    assert not answer.report.fits
    assert answer.report.estimate.weights_gib > 35


def test_fits_list_ranks_open_models_by_mmlu(answers: Answers) -> None:
    answer = answers.fits(vram_gb=24)
    assert isinstance(answer, FitListAnswer)
    names = [item.report.model_slug for item in answer.ranking.fits]
    assert "llama-3.1-70b" not in names
    assert names[0] == "deepseek-r1-distill-qwen-32b"
    scored = [item.score.value for item in answer.ranking.fits if item.score]
    assert scored == sorted(scored, reverse=True)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/gap mmlu", "open-weights leads by 2.1 points"),
        ("/gap benchmark:humaneval as_of:2024-05-01", "proprietary leads by 5.4 points"),
        ("/lag mmlu", "matched GPT-4 86.4%"),
        ("/dashboard", "closed/reversed"),
        ("/fits vram_gb:24", "DeepSeek-R1-Distill-Qwen-32B"),
        ('/fits "llama 3.1 70b" quant:Q4_K_M', "does NOT fit 24 GiB"),
        ('/model "DeepSeek-R1-32B"', "DeepSeek-R1-Distill-Qwen-32B"),
        ("/leaderboard gsm8k open_only:true limit:3", "1. DeepSeek-R1 97.3%"),
        ("/about", "gapwatch"),
        ("/help", "/leaderboard"),
    ],
)
def test_console_lines(console: Console, line: str, expected: str) -> None:
    ok, output = console.answer(line)
    assert ok, output
    assert expected in output


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/gap mmul", "no benchmark 'mmul' — did you mean MMLU"),
        ("/gap", "/gap needs benchmark"),
        ("/gap mmlu as_of:yesterday", "as_of must be a date YYYY-MM-DD"),
        ("/fits vram_gb:-4", "VRAM must be a positive number of GiB"),
        ("/fits vram_gb:lots", "vram_gb must be a number"),
        ("/fits quant:Q9_K", "quant applies to one model"),
        ('/fits "llama 3.1 70b" quant:Q9_K', "Q9_K"),
        ("/model gpt-17", "no model 'gpt-17'"),
        ("/leaderboard mmlu limit:0", "limit must be from 1 to 25"),
        ("/nothing", "no command /nothing"),
        ('/gap "unclosed', "cannot read that line"),
    ],
)
def test_bad_input_gets_a_clear_message(console: Console, line: str, expected: str) -> None:
    ok, output = console.answer(line)
    assert not ok
    assert expected in output
    assert "Traceback" not in output


def test_every_console_command_has_a_parseable_example() -> None:
    specs = console_commands()
    for spec in specs.values():
        for example in spec.examples:
            parsed, _values = parse_line(example, specs)
            assert parsed is spec


def test_option_given_twice_is_refused() -> None:
    with pytest.raises(InputError, match="given twice"):
        parse_line("/gap mmlu benchmark:gsm8k", console_commands())


async def test_console_loop_ends_cleanly_at_end_of_input(console: Console) -> None:
    stdin = io.StringIO("/gap mmlu\n\n/quit\n/gap gsm8k\n")
    stdout = io.StringIO()
    await asyncio.wait_for(run_console(console, stdin=stdin, stdout=stdout), 30)
    text = stdout.getvalue()
    assert "MMLU: open-weights leads" in text
    assert "GSM8K" not in text  # /quit stopped before it
    assert text.rstrip().endswith("bye")
