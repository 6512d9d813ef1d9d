"""LINE webhook deliveries: the request keeps the signed body, the drain splits it

Revision ID: 0c3d3d039b8b
Revises: 83bc4cabfd78
Create Date: 2026-11-21 23:31:04.785951

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0c3d3d039b8b'
down_revision = '83bc4cabfd78'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('line_webhook_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_line_webhook_deliveries_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_webhook_deliveries'))
    )


def downgrade():
    op.drop_table('line_webhook_deliveries')
