"""Startup: process start to ready on a migrated store, and ``open_data`` alone.

* ``gapwatch ask "/about"``: the whole command line in a fresh process (interpreter, imports,
  settings, opening the store with its migration check and the snapshot check, one answer).
* ``runtime()`` ready: in a fresh process, from the first line of the child to the moment
  ``bot.app.runtime`` yields (store open and migrations checked, poller built, scheduler
  started), with its imports timed apart.
* ``open_data`` alone: the same child's time for ``bot.app.open_data``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(url: str) -> dict[str, Any]:
    """In the child: time imports, ``open_data`` and ``runtime`` entry."""
    import asyncio

    start = time.perf_counter()
    from bot.app import open_data, runtime
    from bot.settings import Settings

    imported = time.perf_counter()
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    engine = open_data(settings)
    opened = time.perf_counter()
    engine.dispose()

    async def ready() -> float:
        begin = time.perf_counter()
        async with runtime(settings):
            return time.perf_counter() - begin

    runtime_s = asyncio.run(ready())
    return {
        "imports_s": imported - start,
        "open_data_s": opened - imported,
        "runtime_ready_s": runtime_s,
    }


def measure_startup(url: str, runs: int = 3) -> dict[str, Any]:
    """Median of ``runs`` fresh processes for each figure."""
    env = {**os.environ, "DATABASE_URL": url, "GAPWATCH_POLL_ENABLED": "false"}
    env.pop("DISCORD_TOKEN", None)
    asks, children = [], []
    for _ in range(runs):
        begin = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "ask", "/about"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=True,
        )
        asks.append(time.perf_counter() - begin)
        done = subprocess.run(
            [sys.executable, "-m", "bench.startup", "--child", url],
            cwd=ROOT,
            env={**env, "GAPWATCH_POLL_ENABLED": "true"},
            capture_output=True,
            text=True,
            check=True,
        )
        children.append(json.loads(done.stdout.strip().splitlines()[-1]))
    mid = runs // 2
    return {
        "ask_about_s": sorted(asks)[mid],
        **{k: sorted(c[k] for c in children)[mid] for k in children[0]},
    }


def main() -> int:
    """``python -m bench.startup [--db sqlite|postgres] [--quick]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.startup")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    from bench import synthetic

    size = synthetic.QUICK if args.quick else synthetic.FULL
    print(measure_startup(synthetic.ensure_store(args.db, size)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
