"""Chat operations: 要対応/対応済み, 担当者 and 迷惑メッセージ on line_friends, 自分の担当のみ on staff,
定型文 (line_saved_replies), and message search (pg_trgm GIN on PostgreSQL, FTS5 trigram on SQLite)

Revision ID: e13b0c0a1f20
Revises: c4e1a9d2b7f3
Create Date: 2026-12-03 15:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'e13b0c0a1f20'
down_revision = 'c4e1a9d2b7f3'
branch_labels = None
depends_on = None

_FTS_TRIGGERS = {
    "line_messages_fts_ai": """
        CREATE TRIGGER line_messages_fts_ai AFTER INSERT ON line_messages BEGIN
          INSERT INTO line_messages_fts(rowid, text) VALUES (new.id, new.text);
        END""",
    "line_messages_fts_ad": """
        CREATE TRIGGER line_messages_fts_ad AFTER DELETE ON line_messages BEGIN
          INSERT INTO line_messages_fts(line_messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END""",
    "line_messages_fts_au": """
        CREATE TRIGGER line_messages_fts_au AFTER UPDATE OF text ON line_messages BEGIN
          INSERT INTO line_messages_fts(line_messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
          INSERT INTO line_messages_fts(rowid, text) VALUES (new.id, new.text);
        END""",
}


def upgrade():
    with op.batch_alter_table('line_friends') as batch:
        batch.add_column(sa.Column('attention', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('attention_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('spam_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key('fk_line_friends_assignee_id_staff', 'staff', ['assignee_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_index('ix_line_friends_shop_attention', ['shop_id', 'attention', 'last_message_at'])
        batch.create_index('ix_line_friends_shop_assignee', ['shop_id', 'assignee_id', 'last_message_at'])
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('line_only_mine', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table(
        'line_saved_replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=40), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'title', name='uq_line_saved_replies_shop_title'),
    )

    # Existing conversations whose newest message is the customer's are waiting for an answer.
    op.execute("""
        UPDATE line_friends SET attention = 'open'
        WHERE EXISTS (SELECT 1 FROM line_messages m WHERE m.friend_id = line_friends.id AND m.direction = 'in'
                      AND NOT EXISTS (SELECT 1 FROM line_messages o WHERE o.friend_id = m.friend_id
                                      AND o.direction = 'out' AND o.id > m.id))
    """)

    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        # Trust/superuser in development and tests; in production the role needs CREATE on the
        # database, or an administrator runs this statement once beforehand.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_line_messages_text_trgm ON line_messages USING gin (text gin_trgm_ops)")
        op.execute("CREATE INDEX ix_line_friends_display_name_trgm ON line_friends "
                   "USING gin (display_name gin_trgm_ops)")
    elif dialect == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE line_messages_fts USING fts5("
                   "text, content='line_messages', content_rowid='id', tokenize='trigram')")
        for ddl in _FTS_TRIGGERS.values():
            op.execute(ddl)
        op.execute("INSERT INTO line_messages_fts(line_messages_fts) VALUES ('rebuild')")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_line_friends_display_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_line_messages_text_trgm")
    elif dialect == 'sqlite':
        for name in _FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS line_messages_fts")
    op.drop_table('line_saved_replies')
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('line_only_mine')
    with op.batch_alter_table('line_friends') as batch:
        batch.drop_index('ix_line_friends_shop_assignee')
        batch.drop_index('ix_line_friends_shop_attention')
        batch.drop_constraint('fk_line_friends_assignee_id_staff', type_='foreignkey')
        batch.drop_column('spam_at')
        batch.drop_column('assignee_id')
        batch.drop_column('attention_changed_at')
        batch.drop_column('attention')
