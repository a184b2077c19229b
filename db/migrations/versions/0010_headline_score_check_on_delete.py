"""PostgreSQL checks the headline's score when a score goes, not when a headline row comes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 04:00:00.000000

``headline.score_id`` named its score through a deferred foreign key, which PostgreSQL checks
with one query per inserted headline row at commit (50,000 queries, 0.2 s, for a poll of
10,000 new models). Those rows are written by ``db.headlines`` from the scores themselves, so
that side of the check cannot fail; the side that can is a score deleted without recomputing
its model's headline. On PostgreSQL that side is now a deferred constraint trigger on
``score`` (deletes and id changes only), which fails the commit with the foreign-key
violation's SQLSTATE if a headline row still names the score. SQLite keeps the foreign key:
it counts deferred violations as rows are written, at no cost per row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE FUNCTION headline_score_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM headline WHERE score_id = OLD.id) THEN
        RAISE EXCEPTION 'headline row still names score %, which is gone', OLD.id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'recompute the model''s headline (db.headlines) in the same transaction';
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGER = """
CREATE CONSTRAINT TRIGGER headline_score_kept
AFTER DELETE OR UPDATE OF id ON score
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION headline_score_kept()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('SET CONSTRAINTS ALL IMMEDIATE')  # no table is altered with checks pending
    op.drop_constraint('headline_score_id_fkey', 'headline', type_='foreignkey')
    op.execute(FUNCTION)
    op.execute(TRIGGER)
    op.execute('SET CONSTRAINTS ALL DEFERRED')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('SET CONSTRAINTS ALL IMMEDIATE')
    op.execute('DROP TRIGGER headline_score_kept ON score')
    op.execute('DROP FUNCTION headline_score_kept()')
    op.create_foreign_key(
        'headline_score_id_fkey',
        'headline',
        'score',
        ['score_id'],
        ['id'],
        deferrable=True,
        initially='DEFERRED',
    )
    op.execute('SET CONSTRAINTS ALL DEFERRED')
