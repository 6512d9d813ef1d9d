"""images on drafts and broadcasts: the stored original's and preview's storage keys

Revision ID: c13c0a1b2d3e
Revises: e7a1c4d2b9f3
Create Date: 2026-12-03 14:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c13c0a1b2d3e'
down_revision = 'e7a1c4d2b9f3'
branch_labels = None
depends_on = None

TABLES = ('line_drafts', 'broadcasts')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('image_key', sa.String(255), nullable=True))
            batch.add_column(sa.Column('image_preview_key', sa.String(255), nullable=True))
            batch.add_column(sa.Column('image_content_type', sa.String(100), nullable=True))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('image_content_type')
            batch.drop_column('image_preview_key')
            batch.drop_column('image_key')
