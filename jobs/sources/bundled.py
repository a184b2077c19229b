"""Offline snapshots bundled with the package, parsed by the live adapters' parsers.

Used on first start (empty store) so the bot can answer before any poll. Attribution and
licences: ``snapshots/ATTRIBUTION.md``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import resources
from importlib.resources.abc import Traversable

from jobs.sources import epoch, evalplus, llm_stats, lmarena
from jobs.sources.base import SourceBatch

LMARENA_SNAPSHOT_DATE = date(2025, 12, 11)  # last change of the bundled leaderboard-text.json

# When each snapshot was taken (see snapshots/ATTRIBUTION.md): a score the snapshot does not
# date was public no later than this, so it is dated here rather than on the day of loading.
SNAPSHOT_TAKEN = {
    "epoch": datetime(2026, 3, 9, tzinfo=UTC),
    "llm_stats": datetime(2025, 5, 22, tzinfo=UTC),
    "evalplus": datetime(2024, 12, 26, tzinfo=UTC),
    "lmarena": datetime(2025, 12, 11, tzinfo=UTC),
}

SNAPSHOT_URLS = {
    "epoch": epoch.DEFAULT_URL,
    "llm_stats": llm_stats.REPO_URL,
    "evalplus": evalplus.DEFAULT_URL,
    "lmarena": lmarena.CATALOG_BASE + "/leaderboard-text.json",
}


def snapshot_dir() -> Traversable:
    """The package's ``snapshots`` folder."""
    return resources.files("jobs.sources").joinpath("snapshots")


def load_bundled() -> list[SourceBatch]:
    """Parse every bundled snapshot into batches (one per source)."""
    root = snapshot_dir()
    epoch_dir = root.joinpath("epoch")
    tables = {
        entry.name: entry.read_text(encoding="utf-8-sig")
        for entry in epoch_dir.iterdir()
        if entry.name.endswith(".csv")
    }
    arena = root.joinpath("lmarena")
    return [
        epoch.parse_tables(tables, url=SNAPSHOT_URLS["epoch"], fetched_at=SNAPSHOT_TAKEN["epoch"]),
        llm_stats.parse_flat_csv(
            root.joinpath("llm_stats", "llm_stats_mmlu_humaneval_gsm8k.csv").read_text("utf-8"),
            fetched_at=SNAPSHOT_TAKEN["llm_stats"],
        ),
        evalplus.parse_results(
            root.joinpath("evalplus", "results.json").read_bytes(),
            fetched_at=SNAPSHOT_TAKEN["evalplus"],
        ),
        lmarena.parse_catalog(
            arena.joinpath("leaderboard-text.json").read_bytes(),
            arena.joinpath("scatterplot-data.json").read_bytes(),
            url=SNAPSHOT_URLS["lmarena"],
            as_of=LMARENA_SNAPSHOT_DATE,
            fetched_at=SNAPSHOT_TAKEN["lmarena"],
        ),
    ]
