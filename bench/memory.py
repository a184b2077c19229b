"""Memory: peak RSS of a bot process after every command ran once on the big store.

A child process opens the store as the bot does, builds the answer service and the bot's
autocomplete caches (loaded: every model alias is held in memory), runs every command once
(answer, embed and, where the command has one, its chart) and reports ``ru_maxrss`` and
``VmHWM`` from ``/proc/self/status``. The child also reports its RSS before the commands, so
the table can say what the interpreter and imports cost and what the data costs.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

PEAK_RSS_TARGET_MB = 250.0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(url: str) -> dict[str, Any]:
    """Run in the child: every command once, then the peaks."""
    import discord  # noqa: F401 - the bot's imports count

    from bench.latency import commands
    from bot.answers import Answers
    from bot.choices import benchmark_choices, model_choices, prediction_choices
    from db.engine import make_engine
    from frontier import charts

    engine = make_engine(url)
    answers = Answers(engine)
    baseline = _status_mb("VmRSS")
    caches = [benchmark_choices(engine), model_choices(engine), prediction_choices(engine)]
    for cache in caches:
        cache.refresh(force=True)
    after_caches = _status_mb("VmRSS")
    for call in commands(answers).values():
        call()
    answers.predictions()
    answers.trackrecord()
    answers.about()
    answers.sources()
    charts.gap_chart(answers.gap("mmlu"))
    charts.lag_chart(answers.lag("mmlu"))
    charts.fits_chart(answers.fits(vram_gb=24.0).ranking)  # type: ignore[union-attr]
    caches[1].match("lamma 3 70b")
    return {
        "rss_after_imports_mb": baseline,
        "rss_after_caches_mb": after_caches,
        "rss_end_mb": _status_mb("VmRSS"),
        "peak_vmhwm_mb": _status_mb("VmHWM"),
        "peak_ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_memory(url: str) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return its figures."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--child", url],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["meets"] = figures["peak_vmhwm_mb"] <= PEAK_RSS_TARGET_MB
    return figures


def main() -> int:
    """``python -m bench.memory [--db sqlite|postgres] [--quick]`` (``--child URL`` inside)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    from bench import synthetic

    size = synthetic.QUICK if args.quick else synthetic.FULL
    print(measure_memory(synthetic.ensure_store(args.db, size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
