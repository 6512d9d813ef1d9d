"""line_messages.origin: who or what wrote an outgoing message (staff, 自動応答, 一斉配信)

Revision ID: d4e5f6a7b8c9
Revises: c3e4f5a6b7d8
Create Date: 2026-12-03 13:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'd4e5f6a7b8c9'
down_revision = 'c3e4f5a6b7d8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('line_messages') as batch:
        batch.add_column(sa.Column('origin', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('origin_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('line_messages') as batch:
        batch.drop_column('origin_id')
        batch.drop_column('origin')
