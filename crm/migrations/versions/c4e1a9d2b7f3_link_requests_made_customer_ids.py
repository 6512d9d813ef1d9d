"""link_requests.made_customer_ids: the records a booking made while the request waited

Revision ID: c4e1a9d2b7f3
Revises: d4e5f6a7b8c9
Create Date: 2026-12-03 13:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e1a9d2b7f3'
down_revision = 'd4e5f6a7b8c9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('link_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('made_customer_ids', sa.JSON(), nullable=False, server_default='[]'))


def downgrade():
    with op.batch_alter_table('link_requests', schema=None) as batch_op:
        batch_op.drop_column('made_customer_ids')
