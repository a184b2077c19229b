"""Command latency: the full answer path against the bare SQL that fetches the same rows.

For each command the answer path is what a cog runs: the ``Answers`` method (queries and
``frontier`` arithmetic) and the embed render; charts are timed apart. The bare SQL is the
very statements that answer issued, captured from the engine on a warm-up run and replayed
through the DBAPI cursor with ``fetchall()`` and nothing else: the floor a Python answer could
reach with the same queries. The ratio says what the ORM, the domain objects and the
arithmetic cost on top. A second reference, "fetch all", is the plain join of every score of
the benchmark (what an answer that leaves "best per model" to Python has to read).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event

COMMAND_P95_TARGET_MS = 50.0
COMMAND_RATIO_TARGET = 3.0
CHART_TARGET_MS = 300.0
AUTOCOMPLETE_P95_TARGET_MS = 20.0
PER_PAGE = 10  # bot/cogs/data.py's page size for /fits

# What people type into the model option: empty, prefixes, typos, a miss.
TYPED = (
    "",
    "l",
    "llama",
    "qwen 3.4",
    "gpt 5.2 instruct",
    "lamma 3 70b",
    "deepsek",
    "gemma 4.1 9b chat 0",
    "claude 6 reasoning 01234",
    "mistral 2.3 7b base 04",
    "xyzzy plugh",
    "phi",
)


@dataclass(frozen=True)
class Timing:
    """Percentiles of one measured thing, in milliseconds."""

    p50: float
    p95: float
    runs: int


def percentiles(samples_ms: list[float]) -> Timing:
    """p50 and p95 (nearest rank) of a list of milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return Timing(statistics.median(ordered), p95, len(ordered))


def time_calls(call: Callable[[], object], runs: int, warmup: int = 1) -> Timing:
    """Time ``call`` ``runs`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def capture_statements(engine: Engine, call: Callable[[], object]) -> list[tuple[str, Any]]:
    """The (SQL, parameters) ``call`` sends to the database, in order."""
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany):  # type: ignore[no-untyped-def]
        if not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def replay(engine: Engine, statements: list[tuple[str, Any]]) -> Callable[[], int]:
    """A call that runs ``statements`` through a raw DBAPI cursor; returns the rows fetched."""

    def run() -> int:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            rows = 0
            for sql, params in statements:
                cursor.execute(sql, params)
                if cursor.description is not None:
                    rows += len(cursor.fetchall())
            raw.rollback()
            return rows
        finally:
            raw.close()

    return run


def fetch_all_scores(engine: Engine, benchmark_key: str) -> Callable[[], int]:
    """The naive reference: every score of a benchmark joined to its model and source."""
    sql = (
        "SELECT s.value, s.available_on, s.setting, s.approximate, s.url, s.section, "
        "s.retrieved_at, m.id, m.slug, m.name, m.open_weights, src.key, src.name, src.url, "
        "src.trust_rank FROM score s JOIN model m ON m.id = s.model_id "
        "JOIN source src ON src.id = s.source_id JOIN benchmark b ON b.id = s.benchmark_id "
        "WHERE b.key = {p} AND m.open_weights IS NOT NULL"
    )
    marker = "?" if engine.dialect.name == "sqlite" else "%s"

    def run() -> int:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql.format(p=marker), (benchmark_key,))
            rows = len(cursor.fetchall())
            raw.rollback()
            return rows
        finally:
            raw.close()

    return run


def commands(answers: Any) -> dict[str, Callable[[], object]]:
    """The measured commands: answer plus embed, as the cogs render them."""
    from bot import embeds

    return {
        "/gap mmlu": lambda: embeds.gap_embed(answers.gap("mmlu"), chart_name="gap.png"),
        "/fits vram:24": lambda: embeds.fits_embed(answers.fits(vram_gb=24.0), per_page=PER_PAGE),
        "/leaderboard mmlu": lambda: embeds.leaderboard_embed(answers.leaderboard("mmlu")),
        "/prediction show OB-001": lambda: embeds.prediction_embed(answers.prediction("OB-001")),
        "/dashboard": lambda: embeds.dashboard_embed(answers.dashboard()),
        "/model": lambda: embeds.model_embed(answers.model("Llama 3.1 70B")),
        "/lag mmlu": lambda: embeds.lag_embed(answers.lag("mmlu"), chart_name="lag.png"),
    }


def measure_commands(engine: Engine, runs: int) -> list[dict[str, Any]]:
    """Each command's p50/p95 beside the replay of its own SQL; one row each."""
    from bot.answers import Answers
    from bot.app import settle_heap

    answers = Answers(engine)
    calls = commands(answers)
    for call in calls.values():
        call()  # warm: caches, imports, the first connection
    settle_heap()  # as the bot does once it is up (bot.app)
    rows = []
    for name, call in calls.items():
        statements = capture_statements(engine, call)
        answer = time_calls(call, runs)
        bare = replay(engine, statements)
        fetched = bare()
        sql = time_calls(bare, runs)
        rows.append(
            {
                "command": name,
                "p50_ms": answer.p50,
                "p95_ms": answer.p95,
                "sql_p50_ms": sql.p50,
                "sql_p95_ms": sql.p95,
                "ratio": answer.p50 / sql.p50 if sql.p50 else float("inf"),
                "statements": len(statements),
                "rows": fetched,
                "meets": answer.p95 <= COMMAND_P95_TARGET_MS
                and answer.p50 <= COMMAND_RATIO_TARGET * sql.p50,
            }
        )
    naive = fetch_all_scores(engine, "mmlu")
    fetched = naive()
    timing = time_calls(naive, runs)
    rows.append(
        {
            "command": "(fetch all mmlu scores)",
            "p50_ms": timing.p50,
            "p95_ms": timing.p95,
            "sql_p50_ms": timing.p50,
            "sql_p95_ms": timing.p95,
            "ratio": 1.0,
            "statements": 1,
            "rows": fetched,
            "meets": None,
        }
    )
    return rows


def measure_charts(engine: Engine, runs: int) -> list[dict[str, Any]]:
    """Chart renders of the real answers on the big store (the answer itself not timed)."""
    from bot.answers import Answers
    from bot.app import settle_heap
    from frontier import charts

    answers = Answers(engine)
    gap, lag, fits = answers.gap("mmlu"), answers.lag("mmlu"), answers.fits(vram_gb=24.0)
    renders = {
        "gap_chart": lambda: charts.gap_chart(gap),
        "lag_chart": lambda: charts.lag_chart(lag),
        "fits_chart": lambda: charts.fits_chart(fits.ranking),  # type: ignore[union-attr]
    }
    for render in renders.values():
        render()  # matplotlib's first import and font cache
    settle_heap()  # as the bot does once it is up (bot.app)
    rows = []
    for name, render in renders.items():
        timing = time_calls(render, runs)
        rows.append(
            {
                "chart": name,
                "p50_ms": timing.p50,
                "p95_ms": timing.p95,
                "meets": timing.p95 <= CHART_TARGET_MS,
            }
        )
    return rows


def measure_autocomplete(engine: Engine, runs: int) -> dict[str, Any]:
    """ChoiceCache.match over every model alias, over ``TYPED`` inputs.

    Reports the load time, p50/p95 over every input's runs, each input's p95, and what the
    loaded names and their index hold (``cache_mb``).
    """
    from bot.choices import model_choices

    cache = model_choices(engine)
    start = time.perf_counter()
    cache.refresh(force=True)
    load_ms = (time.perf_counter() - start) * 1000
    samples: list[float] = []
    per_input: dict[str, float] = {}
    worst = ("", 0.0)
    for typed in TYPED:
        cache.match(typed)
        mine = []
        for _ in range(runs):
            start = time.perf_counter()
            cache.match(typed)
            elapsed = (time.perf_counter() - start) * 1000
            mine.append(elapsed)
            if elapsed > worst[1]:
                worst = (typed, elapsed)
        samples += mine
        per_input[typed] = round(percentiles(mine).p95, 2)
    timing = percentiles(samples)
    return {
        "aliases": len(cache),
        "cache_mb": round(cache.nbytes() / 2**20, 1),
        "load_ms": load_ms,
        "p50_ms": timing.p50,
        "p95_ms": timing.p95,
        "worst_input": worst[0],
        "worst_ms": worst[1],
        "p95_by_input_ms": per_input,
        "meets": timing.p95 <= AUTOCOMPLETE_P95_TARGET_MS,
    }


def profile(engine: Engine, command: str, top: int = 25) -> str:
    """A cProfile excerpt (cumulative time) of one command, for docs/performance.md."""
    import cProfile
    import io
    import pstats

    from bot.answers import Answers

    call = commands(Answers(engine))[command]
    call()
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> int:
    """``python -m bench.latency [--db sqlite|postgres] [--quick] [--profile COMMAND]``."""
    import argparse

    from bench import synthetic
    from db.engine import make_engine

    parser = argparse.ArgumentParser(prog="python -m bench.latency")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", help="print a cProfile excerpt of one command instead")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    size = synthetic.QUICK if args.quick else synthetic.FULL
    engine = make_engine(synthetic.ensure_store(args.db, size))
    if args.profile:
        print(profile(engine, args.profile))
        return 0
    runs = args.runs or (10 if args.quick else 30)
    for row in measure_commands(engine, runs):
        print(row)
    for row in measure_charts(engine, max(5, runs // 3)):
        print(row)
    print(measure_autocomplete(engine, max(5, runs // 3)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
