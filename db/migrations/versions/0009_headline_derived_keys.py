"""The headline table keeps one foreign key: its score's

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 03:30:00.000000

``headline`` is derived from ``score`` (``db.headlines``): a row's model and benchmark are its
score's, and the deferred key on ``score_id`` already fails a commit that leaves a row whose
score is gone. The keys on ``model_id`` and ``benchmark_id`` checked again, row by row, what
the score's own keys check: on PostgreSQL each is a query per inserted row (a tenth of a
60,000-record poll). A model's headline rows went with it by ``ON DELETE CASCADE``; now the
session events recompute a deleted model's rows (none), as they do for a deleted score.

SQLite cannot drop a constraint: the table is rebuilt with the same columns, the deferred key
and the same indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["benchmark_id", "open_weights", "available_on", "value", "score_id"]
ROW = "model_id, benchmark_id, score_id, value, available_on, open_weights, record"


def _indexes() -> None:
    op.create_index("ix_headline_frontier", "headline", COLUMNS, unique=False)
    op.create_index("ix_headline_value", "headline", ["benchmark_id", "value"], unique=False)
    op.create_index("ix_headline_score_id", "headline", ["score_id"], unique=False)
    op.create_index(
        "ix_headline_records",
        "headline",
        COLUMNS,
        unique=False,
        sqlite_where=sa.text("record = 1"),
        postgresql_where=sa.text("record"),
    )


def _rebuild_sqlite(*, keys: bool) -> None:
    """Rebuild SQLite's headline table, with (``keys``) or without the model and benchmark
    keys; rows and indexes as they were."""
    extra = []
    if keys:
        extra = [
            sa.ForeignKeyConstraint(["benchmark_id"], ["benchmark.id"]),
            sa.ForeignKeyConstraint(["model_id"], ["model.id"], ondelete="CASCADE"),
        ]
    op.create_table(
        "_headline_new",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("benchmark_id", sa.Integer(), nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("available_on", sa.Date(), nullable=False),
        sa.Column("open_weights", sa.Boolean(), nullable=True),
        sa.Column("record", sa.Boolean(), nullable=False, server_default=sa.false()),
        *extra,
        sa.ForeignKeyConstraint(["score_id"], ["score.id"], initially="DEFERRED", deferrable=True),
        sa.PrimaryKeyConstraint("model_id", "benchmark_id"),
    )
    op.execute(f"INSERT INTO _headline_new ({ROW}) SELECT {ROW} FROM headline")
    op.drop_table("headline")  # and its indexes
    op.rename_table("_headline_new", "headline")
    _indexes()


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # No table is altered with deferred checks pending (see 0008).
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")
        op.drop_constraint("headline_model_id_fkey", "headline", type_="foreignkey")
        op.drop_constraint("headline_benchmark_id_fkey", "headline", type_="foreignkey")
        op.execute("SET CONSTRAINTS ALL DEFERRED")
    else:
        _rebuild_sqlite(keys=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")
        op.create_foreign_key(
            "headline_model_id_fkey", "headline", "model", ["model_id"], ["id"], ondelete="CASCADE"
        )
        op.create_foreign_key(
            "headline_benchmark_id_fkey", "headline", "benchmark", ["benchmark_id"], ["id"]
        )
        op.execute("SET CONSTRAINTS ALL DEFERRED")
    else:
        _rebuild_sqlite(keys=True)
