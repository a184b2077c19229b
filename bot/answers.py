"""The service the commands call: one method per question, one answer object back.

Each method opens its own read-only unit of work, asks ``db`` for rows as ``frontier`` types
and lets ``frontier`` compute. Methods are synchronous (SQL and pandas block); the Discord
layer and the console run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from db import queries
from db.dataset import stored_version
from db.engine import session_scope
from frontier.gap import GapReport, gap_report

VERSION = "0.1.0"


def utc_today() -> date:
    """Today's date in UTC (the default clock)."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class AboutAnswer:
    """Version, data freshness and what the store holds."""

    version: str
    dataset_version: str | None
    newest_data_on: date | None
    counts: dict[str, int]
    database: str


class Answers:
    """Answers every question from the store, with ``frontier`` doing the arithmetic.

    Args:
        engine: The store.
        today: The clock (tests pass a fixed date).
        gap_threshold: Default gap threshold in points (the OB-001 line).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        today: Callable[[], date] = utc_today,
        gap_threshold: float = 2.0,
    ) -> None:
        self.engine = engine
        self.today = today
        self.gap_threshold = gap_threshold

    def gap(self, benchmark: str, as_of: date | None = None) -> GapReport:
        """The gap between the best proprietary and best open-weights scores on a benchmark."""
        when = as_of or self.today()
        with session_scope(self.engine) as session:
            row = queries.find_benchmark(session, benchmark)
            scores = queries.headline_scores(session, row, as_of=when)
            return gap_report(
                queries.to_benchmark(row), scores, as_of=when, threshold=self.gap_threshold
            )

    def about(self) -> AboutAnswer:
        """Version, data freshness and store contents."""
        with session_scope(self.engine) as session:
            return AboutAnswer(
                version=VERSION,
                dataset_version=stored_version(session),
                newest_data_on=queries.newest_score_date(session),
                counts=queries.counts(session),
                database=self.engine.url.get_backend_name(),
            )
