"""line_messages.claimed_until: a send claim's lease, so the tick resends a killed worker's message within a minute

Revision ID: a12c4e5d0b34
Revises: a1d2e3f4b5c6
Create Date: 2026-12-03 11:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a12c4e5d0b34'
down_revision = 'a1d2e3f4b5c6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('line_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('line_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
