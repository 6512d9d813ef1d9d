"""shops.link_automatically: rich-menu form links wait for the owner unless the owner chose automatic

Revision ID: a1d2e3f4b5c6
Revises: 0c3d3d039b8b
Create Date: 2026-12-03 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a1d2e3f4b5c6'
down_revision = '0c3d3d039b8b'
branch_labels = None
depends_on = None


def upgrade():
    # Existing shops get the safe default: links from the form wait for the owner (確認待ち).
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_automatically', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.drop_column('link_automatically')
