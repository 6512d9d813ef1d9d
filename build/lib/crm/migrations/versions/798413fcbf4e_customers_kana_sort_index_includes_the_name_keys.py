"""customers: kana sort index includes the name keys

The ledger's page query walks ix_customers_shop_kana_norm for broad searches in kana
order; with the name keys in the index (PostgreSQL INCLUDE) it filters index entries
without visiting the table. Other databases ignore postgresql_include and get the
index back as it was.

Autogenerate does not compare INCLUDE columns, so this revision is written by hand.

Revision ID: 798413fcbf4e
Revises: 42657bac1045
Create Date: 2026-11-21 21:07:26.494370

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '798413fcbf4e'
down_revision = '42657bac1045'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_shop_kana_norm')
        batch_op.create_index(
            'ix_customers_shop_kana_norm', ['shop_id', 'kana_norm', 'id'], unique=False,
            postgresql_include=['name_norm', 'given_name_norm', 'given_kana_norm'],
        )


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_shop_kana_norm')
        batch_op.create_index('ix_customers_shop_kana_norm', ['shop_id', 'kana_norm', 'id'], unique=False)
