"""headline table (each model's headline score per benchmark, chosen at write time); model shape index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:30:00.000000

``db.headlines`` keeps this table current on every write; this migration creates it and fills
it from the scores already stored, with the same choice (canonical setting, then source trust,
then newest retrieval, then lowest id). The SQL is written out here rather than imported so that
the migration keeps meaning what it meant when it was written. ``ix_model_shape`` lets /fits
group the open models by shape from an index alone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHAPE = [
    'open_weights', 'total_params_b', 'active_params_b', 'layers', 'kv_heads', 'head_dim',
    'hidden_size', 'attention_heads', 'max_context', 'attention', 'sliding_window',
    'full_attention_layers', 'kv_lora_rank', 'qk_rope_head_dim', 'experts', 'experts_per_token',
]

FILL = """
INSERT INTO headline (benchmark_id, model_id, score_id, value, available_on, open_weights)
SELECT benchmark_id, model_id, score_id, value, available_on, open_weights FROM (
    SELECT s.benchmark_id, s.model_id, s.id AS score_id, s.value, s.available_on,
           m.open_weights,
           row_number() OVER (
               PARTITION BY s.benchmark_id, s.model_id
               ORDER BY CASE WHEN s.setting IN ('', COALESCE(b.canonical_setting, ''))
                             THEN 0 ELSE 1 END,
                        src.trust_rank, s.retrieved_at DESC, s.id
           ) AS rn
    FROM score s
    JOIN source src ON src.id = s.source_id
    JOIN benchmark b ON b.id = s.benchmark_id
    JOIN model m ON m.id = s.model_id
) ranked
WHERE rn = 1
"""

# A record: no headline score on its side was better on or before its date.
RECORDS = """
UPDATE headline SET record = TRUE WHERE score_id IN (
    SELECT score_id FROM (
        SELECT h.score_id, h.value, b.higher_is_better AS higher,
               max(h.value) OVER w AS high, min(h.value) OVER w AS low
        FROM headline h
        JOIN benchmark b ON b.id = h.benchmark_id
        WHERE h.open_weights IS NOT NULL
        WINDOW w AS (
            PARTITION BY h.benchmark_id, h.open_weights ORDER BY h.available_on
            RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        )
    ) marked
    WHERE (higher AND value >= high) OR (NOT higher AND value <= low)
)
"""


def upgrade() -> None:
    op.create_table('headline',
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('benchmark_id', sa.Integer(), nullable=False),
    sa.Column('score_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('available_on', sa.Date(), nullable=False),
    sa.Column('open_weights', sa.Boolean(), nullable=True),
    sa.Column('record', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.ForeignKeyConstraint(['benchmark_id'], ['benchmark.id'], ),
    sa.ForeignKeyConstraint(['model_id'], ['model.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['score_id'], ['score.id'], initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('model_id', 'benchmark_id')
    )
    with op.batch_alter_table('headline', schema=None) as batch_op:
        batch_op.create_index('ix_headline_frontier', ['benchmark_id', 'open_weights', 'available_on', 'value', 'score_id'], unique=False)
        batch_op.create_index('ix_headline_record', ['benchmark_id', 'record'], unique=False)
        batch_op.create_index('ix_headline_value', ['benchmark_id', 'value'], unique=False)
        batch_op.create_index(batch_op.f('ix_headline_score_id'), ['score_id'], unique=False)
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.create_index('ix_model_shape', SHAPE, unique=False)
    op.execute(FILL)
    op.execute(RECORDS)
    if op.get_bind().dialect.name == 'postgresql':
        # Fresh statistics, so the planner knows a benchmark has thousands of headline rows.
        op.execute('ANALYZE headline')


def downgrade() -> None:
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.drop_index('ix_model_shape')

    with op.batch_alter_table('headline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_headline_score_id'))
        batch_op.drop_index('ix_headline_record')
        batch_op.drop_index('ix_headline_value')
        batch_op.drop_index('ix_headline_frontier')

    op.drop_table('headline')
