"""PostgreSQL's headline checks find their table whatever the caller's search path, and refuse
a TRUNCATE of score that leaves headline rows

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 05:00:00.000000

0010's trigger function named ``headline`` through the deleting session's search path: a
session whose path did not reach the table could delete no score at all (``relation
"headline" does not exist`` at commit), and a ``headline`` table earlier on its path would be
checked instead. The function now keeps the search path the migration runs with. Row
triggers do not see a ``TRUNCATE``; the key 0010 replaced refused ``TRUNCATE score`` unless
``CASCADE`` emptied ``headline`` too, so a statement trigger now refuses one that leaves
headline rows. SQLite keeps its foreign key: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRUNCATE_FUNCTION = """
CREATE FUNCTION headline_scores_truncated() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM headline) THEN
        RAISE EXCEPTION 'score was truncated but headline still has rows'
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'truncate headline with it (TRUNCATE score, headline)';
    END IF;
    RETURN NULL;
END
$$
"""

TRUNCATE_TRIGGER = """
CREATE TRIGGER headline_scores_truncated
AFTER TRUNCATE ON score
FOR EACH STATEMENT EXECUTE FUNCTION headline_scores_truncated()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('ALTER FUNCTION headline_score_kept() SET search_path FROM CURRENT')
    op.execute(TRUNCATE_FUNCTION)
    op.execute(TRUNCATE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP TRIGGER headline_scores_truncated ON score')
    op.execute('DROP FUNCTION headline_scores_truncated()')
    op.execute('ALTER FUNCTION headline_score_kept() RESET search_path')
