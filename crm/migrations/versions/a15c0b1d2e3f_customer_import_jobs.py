"""customer_imports as a job: status, the owner's choices, the resume point and counts; customer_import_skips

Revision ID: a15c0b1d2e3f
Revises: f13d1a2b3c4e
Create Date: 2026-12-03 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a15c0b1d2e3f'
down_revision = 'f13d1a2b3c4e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('uploaded', 'queued', 'running', 'done', 'failed',
                                                        name='importstatus', native_enum=False, length=16),
                                      nullable=False, server_default='uploaded'))
        batch_op.add_column(sa.Column('mapping', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('match_key', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('mode', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('byte_offset', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_row', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('created_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('updated_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('skipped_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'customer_import_skips',
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('row_number', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('reasons', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['import_id'], ['customer_imports.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('import_id', 'row_number'),
    )


def downgrade():
    op.drop_table('customer_import_skips')
    with op.batch_alter_table('customer_imports', schema=None) as batch_op:
        for column in ('finished_at', 'started_at', 'skipped_count', 'updated_count', 'created_count', 'next_row',
                       'byte_offset', 'mode', 'match_key', 'mapping', 'status'):
            batch_op.drop_column(column)
