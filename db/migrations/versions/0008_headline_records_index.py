"""The frontier records' index holds only the records

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:00:00.000000

``ix_headline_record`` (benchmark, record) indexed every headline row for the few dozen per
benchmark that are records, and SQLite's planner, whose statistics average the flag over a
benchmark's rows, preferred ``ix_headline_frontier`` for one side's records and walked all of
that side's rows (a quarter of a second per poll on the 1M store). ``ix_headline_records`` is
partial (only records), holds what both readers read, and costs a new row, not a record,
nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ['benchmark_id', 'open_weights', 'available_on', 'value', 'score_id']


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        # Migrating in one transaction from before 0004, which filled the table, leaves its
        # deferred checks pending, and PostgreSQL alters no table with pending checks: run
        # them now, then defer again as declared ("ALL": headline_score_id_fkey is the only
        # deferrable constraint, and it is INITIALLY DEFERRED; a later one declared
        # INITIALLY IMMEDIATE would need naming here instead).
        op.execute('SET CONSTRAINTS ALL IMMEDIATE')
    op.drop_index('ix_headline_record', table_name='headline')
    op.create_index(
        'ix_headline_records',
        'headline',
        COLUMNS,
        unique=False,
        sqlite_where=sa.text('record = 1'),
        postgresql_where=sa.text('record'),
    )
    if postgres:
        op.execute('SET CONSTRAINTS ALL DEFERRED')


def downgrade() -> None:
    op.drop_index('ix_headline_records', table_name='headline')
    op.create_index('ix_headline_record', 'headline', ['benchmark_id', 'record'], unique=False)
