"""Indexes for bulk ingest: model repo ids by lower case, no second index on score.model_id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 00:40:00.000000

Ingest finds models by Hugging Face repo id case-insensitively. It asked twice (the repo ids as
written, through ``ix_model_hf_repo``, then the rest by ``lower(hf_repo)``, which scanned the
table); one lookup through an index on ``lower(hf_repo)`` answers both, and nothing else reads
``hf_repo`` by value. ``ix_score_model_id`` repeated the first column of ``uq_score_key``
(``model_id``, ``benchmark_id``, ``source_id``, ``setting``), which serves the same lookups, so
every score insert maintained one index too many.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.drop_index('ix_model_hf_repo')
    op.create_index('ix_model_hf_repo_lower', 'model', [sa.text('lower(hf_repo)')], unique=False)
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.drop_index('ix_score_model_id')


def downgrade() -> None:
    with op.batch_alter_table('score', schema=None) as batch_op:
        batch_op.create_index('ix_score_model_id', ['model_id'], unique=False)
    op.drop_index('ix_model_hf_repo_lower', table_name='model')
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.create_index('ix_model_hf_repo', ['hf_repo'], unique=False)
