"""Memory: peak RSS of a bot process after every command ran once on the big store.

A child process imports what the bot process imports (``bot.app`` and ``bot.discord_bot``
with its cogs), opens the store as the bot does, builds the answer service and the bot's
autocomplete caches (loaded: every model alias is held in memory), runs every command once
(answer, embed and, where the command has one, its chart, plus ``/prediction list``,
``/prediction trackrecord``, ``/audit``, ``/about``, ``/sources`` and a model autocomplete)
and reports ``VmHWM`` and ``ru_maxrss``.

It also says where the peak comes from. Before each step the child resets the kernel's
high-water mark (``echo 5 > /proc/self/clear_refs``), so each step reports its own peak and
the RSS it leaves behind; the process's peak is the largest of them. Where the kernel refuses
the reset, the step peaks are cumulative (each is the peak so far) and say the same thing less
directly.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PEAK_RSS_TARGET_MB = 250.0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); whether the kernel allowed it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _Phases:
    """RSS after, and peak during, each step of the child."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.resets = _reset_peak()
        self.peak = _status_mb("VmHWM")  # the imports' own peak, before any reset

    def step(self, name: str, call: Callable[[], object]) -> Any:
        before = _status_mb("VmRSS")
        self.resets = _reset_peak() and self.resets
        result = call()
        peak = _status_mb("VmHWM")
        self.peak = max(self.peak, peak)
        self.rows.append(
            {
                "step": name,
                "rss_before_mb": round(before, 1),
                "peak_mb": round(peak, 1),
                "rss_after_mb": round(_status_mb("VmRSS"), 1),
            }
        )
        return result


def child(url: str) -> dict[str, Any]:
    """Run in the child: every command once, then the peaks."""
    import bot.app  # the bot process's imports count
    import bot.discord_bot  # noqa: F401

    imports_peak = _status_mb("VmHWM")
    from bench.latency import commands
    from bot import embeds
    from bot.answers import Answers
    from bot.choices import benchmark_choices, model_choices, prediction_choices
    from db.engine import make_engine
    from frontier import charts

    phases = _Phases()
    engine = make_engine(url)
    answers = Answers(engine)
    baseline = _status_mb("VmRSS")
    caches = [benchmark_choices(engine), model_choices(engine), prediction_choices(engine)]
    for cache in caches:
        phases.step(f"cache {len(phases.rows)}", lambda cache=cache: cache.refresh(force=True))
    after_caches = _status_mb("VmRSS")
    for name, call in commands(answers).items():
        phases.step(name, call)
    phases.step("/prediction list", lambda: embeds.predictions_embed(answers.predictions()))
    phases.step("/prediction trackrecord", lambda: embeds.trackrecord_embed(answers.trackrecord()))
    phases.step("/audit", lambda: embeds.audit_embed(answers.audit()))
    phases.step("/about", lambda: embeds.about_embed(answers.about()))
    phases.step("/sources", lambda: embeds.sources_embed(answers.sources()))
    phases.step("gap chart", lambda: charts.gap_chart(answers.gap("mmlu")))
    phases.step("lag chart", lambda: charts.lag_chart(answers.lag("mmlu")))
    phases.step(
        "fits chart",
        lambda: charts.fits_chart(answers.fits(vram_gb=24.0).ranking),  # type: ignore[union-attr]
    )
    phases.step("autocomplete", lambda: caches[1].match("lamma 3 70b"))
    peak = max(phases.peak, _status_mb("VmHWM"), imports_peak)
    return {
        "rss_after_imports_mb": baseline,
        "rss_after_caches_mb": after_caches,
        "rss_end_mb": _status_mb("VmRSS"),
        "peak_vmhwm_mb": peak,
        "peak_ru_maxrss_mb": max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "model_cache_mb": caches[1].nbytes() / 2**20,
        "peak_per_step": phases.resets,
        "phases": phases.rows,
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
    figures = measure_memory(synthetic.ensure_store(args.db, size))
    for row in figures.pop("phases"):
        print(
            f"{row['step']:<26} RSS {row['rss_before_mb']:6.1f} → {row['rss_after_mb']:6.1f} MB,"
            f" peak {row['peak_mb']:6.1f} MB"
        )
    print(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
