"""``python -m bench [--db sqlite|postgres|both] [--quick]``: every benchmark, one table.

Generates (or reuses) the synthetic stores, then measures on each database side by side:
command latency against the bare SQL, charts, autocomplete, ingest, memory and startup; then
the fan-out through the Discord API emulator (no database involved) and the chart timings on
the chart tests' inputs (``bench.charts_timing``). ``--quick`` uses the 100k-score store and
fewer runs (a smoke test of the benchmarks, not figures to quote).
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

from bench import fanout, ingest, latency, memory, startup, synthetic


def _mark(meets: object) -> str:
    return "" if meets is None else ("ok" if meets else "MISS")


def _machine() -> str:
    import os

    with open("/proc/meminfo") as info:
        total_kib = int(info.readline().split()[1])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{total_kib / 2**20:.0f} GiB, Python {platform.python_version()}, load {load}"
    )


def _print_commands(db: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n## Command latency ({db}): answer + embed vs the same SQL replayed bare (ms)")
    print(
        f"{'command':<26}{'p50':>9}{'p95':>9}{'SQL p50':>9}{'SQL p95':>9}{'ratio':>7}"
        f"{'stmts':>6}{'rows':>9}  target"
    )
    for r in rows:
        print(
            f"{r['command']:<26}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['sql_p50_ms']:>9.1f}"
            f"{r['sql_p95_ms']:>9.1f}{r['ratio']:>7.2f}{r['statements']:>6}{r['rows']:>9}"
            f"  {_mark(r['meets'])}"
        )


def run(db: str, size: synthetic.Size, quick: bool) -> dict[str, Any]:
    """Every database-bound benchmark on one database."""
    from db.engine import make_engine

    url = synthetic.ensure_store(db, size)
    engine = make_engine(url)
    runs = 10 if quick else 30
    results: dict[str, Any] = {}
    try:
        results["commands"] = latency.measure_commands(engine, runs)
        _print_commands(db, results["commands"])
        results["charts"] = latency.measure_charts(engine, max(5, runs // 3))
        print(f"\n## Charts on the {size.label} store's answers ({db}, ms)")
        for r in results["charts"]:
            print(f"{r['chart']:<12}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}  {_mark(r['meets'])}")
        results["autocomplete"] = ac = latency.measure_autocomplete(engine, max(5, runs // 3))
        print(
            f"\n## Autocomplete ({db}): {ac['aliases']:,} aliases, loaded in {ac['load_ms']:.0f} "
            f"ms; match p50 {ac['p50_ms']:.1f} ms, p95 {ac['p95_ms']:.1f} ms (worst "
            f"{ac['worst_input']!r} {ac['worst_ms']:.1f} ms)  {_mark(ac['meets'])}"
        )
        results["ingest"] = ing = ingest.measure_ingest(
            engine, models=2_000 if quick else 10_000, scores_per_model=5
        )
        print(
            f"\n## Ingest ({db}): {ing['records']:,} records in {ing['full_s']:.1f} s = "
            f"{ing['records_per_s']:,.0f}/s; bare insert {ing['bare_records_per_s']:,.0f}/s "
            f"(share {ing['share_of_bare']:.0%}), with their headline rows "
            f"{ing['bare_with_headlines_records_per_s']:,.0f}/s; "
            f"unchanged re-poll {ing['repoll_s']:.1f} s "
            f"({ing['repoll_share']:.1%} of a full one; with every record compared "
            f"{ing['repoll_compared_s']:.1f} s, {ing['repoll_compared_share']:.0%}); 304 "
            "not-modified "
            f"{ing['not_modified_ms']:.1f} ms  {_mark(ing['meets'])}"
        )
    finally:
        engine.dispose()
    results["memory"] = mem = memory.measure_memory(url)
    print(
        f"\n## Memory ({db}): RSS {mem['rss_after_imports_mb']:.0f} MB after imports, "
        f"{mem['rss_after_caches_mb']:.0f} MB with autocomplete caches, peak "
        f"{mem['peak_vmhwm_mb']:.0f} MB after every command  {_mark(mem['meets'])}"
    )
    results["startup"] = st = startup.measure_startup(url, runs=1 if quick else 3)
    print(
        f"\n## Startup ({db}): `gapwatch ask /about` {st['ask_about_s']:.2f} s; imports "
        f"{st['imports_s']:.2f} s; open_data {st['open_data_s']:.2f} s; runtime ready "
        f"{st['runtime_ready_s']:.2f} s"
    )
    return results


def main() -> int:
    """Run the benchmarks named on the command line and print their tables."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="100k scores, fewer runs")
    parser.add_argument("--skip-fanout", action="store_true")
    args = parser.parse_args()
    size = synthetic.QUICK if args.quick else synthetic.FULL
    print(f"# gapwatch benchmarks: {size.label} scores, {size.models:,} models")
    print(f"machine: {_machine()}")
    start = time.perf_counter()
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        run(db, size, args.quick)
    if not args.skip_fanout:
        channels = 200 if args.quick else 1000
        print(f"\n## Fan-out: one alert to {channels:,} channels, emulator at 50 requests/s")
        for row in fanout.measure_fanout(channels):
            if "error" in row:
                print(f"{row['path']}: failed: {row['error']}")
                continue
            print(
                f"{row['path']:<36} {row['sent']:>5} sent in {row['seconds']:6.1f} s = "
                f"{row['per_second']:5.1f}/s ({row['share_of_limit']:.0%} of the limit), "
                f"{row['429s']} × 429"
                + (f", {row['gave_up']} given up" if row.get("gave_up") else "")
                + f"  {_mark(row['meets'])}"
            )
    print("\n## Charts on the chart tests' inputs (bench.charts_timing)")
    from bench import charts_timing

    charts_timing.main()
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
