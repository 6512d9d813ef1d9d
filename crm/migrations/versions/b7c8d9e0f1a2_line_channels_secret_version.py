"""line_channels.secret_version: a changed secret invalidates every process's cached copy at once

Revision ID: b7c8d9e0f1a2
Revises: a12c4e5d0b34
Create Date: 2026-12-04 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c8d9e0f1a2'
down_revision = 'a12c4e5d0b34'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('line_channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('line_channels', schema=None) as batch_op:
        batch_op.drop_column('secret_version')
