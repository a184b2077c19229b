"""score index for choosing headline scores in SQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:45:00.000000

The headline query (``db.queries._headline``) ranks each model's scores on one benchmark by
setting, source and retrieval time; with every column it reads in one index, in model order,
SQLite answers it from the index alone instead of visiting a million table rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ['benchmark_id', 'model_id', 'setting', 'source_id', 'retrieved_at', 'available_on', 'value']


def upgrade() -> None:
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.create_index('ix_score_headline', COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.drop_index('ix_score_headline')
