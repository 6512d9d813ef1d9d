"""新着の通知 (instant_notices, notification_settings.instant_mode and quiet hours); index for 後で通知's remind_at

Revision ID: e17b0a1b2c3d
Revises: c13c0a1b2d3e
Create Date: 2026-12-03 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e17b0a1b2c3d'
down_revision = 'c13c0a1b2d3e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification_settings') as batch:
        batch.add_column(sa.Column('instant_mode', sa.String(length=16), nullable=False, server_default='none'))
        batch.add_column(sa.Column('quiet_from', sa.String(length=5), nullable=True))
        batch.add_column(sa.Column('quiet_until', sa.String(length=5), nullable=True))
    op.create_table(
        'instant_notices',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('shop_id', sa.Integer(), sa.ForeignKey('shops.id', ondelete='CASCADE'), nullable=False),
        sa.Column('staff_id', sa.Integer(), sa.ForeignKey('staff.id', ondelete='CASCADE'), nullable=False),
        sa.Column('slot', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('first_message_id', sa.Integer(), nullable=False),
        sa.Column('last_message_id', sa.Integer(), nullable=False),
        sa.Column('messages', sa.Integer(), nullable=False),
        sa.Column('line_retry_key', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.UniqueConstraint('staff_id', 'slot', name='uq_instant_notices_staff_slot'),
    )
    op.create_index('ix_instant_notices_status_slot', 'instant_notices', ['status', 'slot'])
    op.create_index('ix_instant_notices_shop_id', 'instant_notices', ['shop_id'])
    op.create_index('ix_line_friends_remind_at', 'line_friends', ['remind_at'])


def downgrade():
    op.drop_index('ix_line_friends_remind_at', table_name='line_friends')
    op.drop_table('instant_notices')
    with op.batch_alter_table('notification_settings') as batch:
        batch.drop_column('quiet_until')
        batch.drop_column('quiet_from')
        batch.drop_column('instant_mode')
