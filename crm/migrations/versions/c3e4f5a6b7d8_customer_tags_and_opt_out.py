"""tags, customer_tags, customers.broadcast_opt_out(_at), customer_imports

Revision ID: c3e4f5a6b7d8
Revises: b7c8d9e0f1a2
Create Date: 2026-12-03 13:10:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'c3e4f5a6b7d8'
down_revision = 'b7c8d9e0f1a2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tags',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=30), nullable=False),
        sa.Column('colour', sa.String(length=16), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'name', name='uq_tags_shop_name'),
    )
    op.create_index('ix_tags_shop_id', 'tags', ['shop_id'])
    op.create_table(
        'customer_tags',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('tag_id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('customer_id', 'tag_id'),
    )
    op.create_index('ix_customer_tags_shop_tag', 'customer_tags', ['shop_id', 'tag_id', 'customer_id'])
    op.create_table(
        'customer_imports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('encoding', sa.String(length=16), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_customer_imports_shop_id', 'customer_imports', ['shop_id'])
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('broadcast_opt_out', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('broadcast_opt_out_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('broadcast_opt_out_at')
        batch_op.drop_column('broadcast_opt_out')
    op.drop_index('ix_customer_imports_shop_id', table_name='customer_imports')
    op.drop_table('customer_imports')
    op.drop_index('ix_customer_tags_shop_tag', table_name='customer_tags')
    op.drop_table('customer_tags')
    op.drop_index('ix_tags_shop_id', table_name='tags')
    op.drop_table('tags')
