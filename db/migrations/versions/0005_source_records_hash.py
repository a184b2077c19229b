"""source.records_hash: the digest of the records the last full ingest took

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:00:00.000000

A poll whose bytes changed but whose records did not (a timestamp, the key order) is then
recognised without reading the store (``jobs.ingest.records_digest``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('records_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_column('records_hash')
