"""line_messages indexes for a million messages: (friend_id, id), (shop_id, id) and, on PostgreSQL, short grams

The inbox finds each listed conversation's newest message with one probe of
(friend_id, id) instead of grouping the shop's whole history. A search of one or
two characters has no trigram for pg_trgm: on PostgreSQL a GIN index over each
text's characters and character pairs (crm_short_grams, an immutable SQL function)
answers it; elsewhere the search walks (shop_id, id) newest first.

Revision ID: f13d1a2b3c4e
Revises: e17b0a1b2c3d
Create Date: 2026-12-03 16:45:00
"""
from alembic import op


revision = 'f13d1a2b3c4e'
down_revision = 'e17b0a1b2c3d'
branch_labels = None
depends_on = None


SHORT_GRAMS = """
CREATE OR REPLACE FUNCTION crm_short_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
    SELECT substr(lower(t), i, 1) AS g FROM generate_series(1, length(t)) AS i
    UNION ALL
    SELECT substr(lower(t), i, 2) FROM generate_series(1, length(t) - 1) AS i) AS grams
$$
"""


def upgrade():
    op.create_index('ix_line_messages_friend_id', 'line_messages', ['friend_id', 'id'])
    op.create_index('ix_line_messages_shop_newest', 'line_messages', ['shop_id', 'id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(SHORT_GRAMS)
        op.execute("CREATE INDEX ix_line_messages_text_short_grams ON line_messages USING gin (crm_short_grams(text))")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_line_messages_text_short_grams")
        op.execute("DROP FUNCTION IF EXISTS crm_short_grams(text)")
    op.drop_index('ix_line_messages_shop_newest', table_name='line_messages')
    op.drop_index('ix_line_messages_friend_id', table_name='line_messages')
