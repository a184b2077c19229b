"""PostgreSQL statistics on (open_weights, total_params_b) together

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:05:00.000000

Openness and size are correlated (open models nearly always state their size, proprietary ones
rarely), so the planner's independent estimates were 80 times too high for "open models without
a size" (/fits lists them) and it scanned the whole model table instead of ``ix_model_shape``.
Multivariate MCV statistics give it the joint frequencies. SQLite's planner needs nothing here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE STATISTICS IF NOT EXISTS st_model_open_size (mcv) ON open_weights, total_params_b FROM model')
        op.execute('ANALYZE model')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS st_model_open_size')
