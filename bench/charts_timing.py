"""Time each chart: the median of 20 renders of the realistic inputs of the chart tests.

Run from the repository root: ``.venv/bin/python -m bench.charts_timing``. The target is
300 ms per chart on a 2-core machine. The first render of a process also pays for font
loading, so it is timed apart and left out of the median. CPU time is printed beside wall
time: on a busy machine the wall time includes waiting for a core, the CPU time does not.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RUNS = 20
TARGET_MS = 300.0


@dataclass(frozen=True)
class Timing:
    """One chart's figures, in milliseconds, and its PNG size in bytes."""

    first_ms: float
    median_ms: float
    median_cpu_ms: float
    png_bytes: int


def time_chart(render: Callable[[], bytes], runs: int = RUNS) -> Timing:
    """Render once to warm up, then ``runs`` times; return the medians.

    Args:
        render: Renders one chart and returns its PNG.
        runs: Renders timed after the first.

    Returns:
        The first render's wall time and the medians of the rest.
    """
    start = time.perf_counter()
    size = len(render())
    first = (time.perf_counter() - start) * 1000
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        render()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return Timing(first, statistics.median(wall), statistics.median(cpu), size)


def main() -> int:
    """Print the figures per chart; exit 1 if a median wall time misses the target."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from frontier.charts import fits_chart, gap_chart, lag_chart
    from frontier.fits import models_that_fit
    from frontier.gap import gap_report
    from frontier.lag import lag_report
    from tests.frontier.test_charts import AS_OF, FIT_SCORES, MMLU, MMLU_SCORES, MODELS

    gap = gap_report(MMLU, MMLU_SCORES, as_of=AS_OF)
    lag = lag_report(MMLU, MMLU_SCORES, as_of=AS_OF)
    ranking = models_that_fit(MODELS, FIT_SCORES)
    charts: dict[str, Callable[[], bytes]] = {
        "gap_chart": lambda: gap_chart(gap),
        "lag_chart": lambda: lag_chart(lag),
        "fits_chart": lambda: fits_chart(ranking),
    }
    slow = False
    print(f"{'chart':<12}{'first ms':>10}{'median ms':>11}{'cpu ms':>8}{'PNG KiB':>9}")
    for name, render in charts.items():
        t = time_chart(render)
        slow = slow or t.median_ms > TARGET_MS
        print(
            f"{name:<12}{t.first_ms:>10.0f}{t.median_ms:>11.0f}{t.median_cpu_ms:>8.0f}"
            f"{t.png_bytes / 1024:>9.0f}"
        )
    print(f"target: median ≤ {TARGET_MS:.0f} ms per chart ({RUNS} renders after a first)")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
