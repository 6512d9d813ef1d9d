"""broadcasts: saved segments, broadcasts, their batches and recipients (一斉配信)

Revision ID: e7b1c2d3a4f5
Revises: e13b0c0a1f20
Create Date: 2026-12-04 10:00:00
"""
from alembic import op
import sqlalchemy as sa

import crm.database

revision = 'e7b1c2d3a4f5'
down_revision = 'e13b0c0a1f20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'broadcast_segments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('created_at', crm.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', crm.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'name', name='uq_broadcast_segments_shop_name'),
    )
    op.create_index('ix_broadcast_segments_shop_id', 'broadcast_segments', ['shop_id'])
    op.create_table(
        'broadcasts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('segment_definition', sa.JSON(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('coupon', sa.JSON(), nullable=True),
        sa.Column('coupon_id', sa.String(length=64), nullable=True),
        sa.Column('status', sa.Enum('draft', 'pending_approval', 'returned', 'scheduled', 'queued', 'sending', 'done',
                                    'cancelled', 'failed', name='broadcaststatus', native_enum=False, length=24),
                  nullable=False),
        sa.Column('mode', sa.String(length=12), nullable=True),
        sa.Column('scheduled_at', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('review_comment', sa.Text(), nullable=True),
        sa.Column('requested_at', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('started_at', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('failure_reason', sa.Text(), nullable=True),
        sa.Column('recipient_count', sa.Integer(), nullable=False),
        sa.Column('queued_at', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('created_at', crm.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', crm.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['approved_by_id'], ['staff.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['author_id'], ['staff.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_broadcasts_shop_id', 'broadcasts', ['shop_id'])
    op.create_index('ix_broadcasts_shop_created', 'broadcasts', ['shop_id', 'created_at'])
    op.create_index('ix_broadcasts_status_scheduled', 'broadcasts', ['status', 'scheduled_at'])
    op.create_table(
        'broadcast_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('broadcast_id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('first_recipient_id', sa.BigInteger(), nullable=False),
        sa.Column('last_recipient_id', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.Enum('pending', 'sending', 'done', 'cancelled', name='batchstatus', native_enum=False,
                                    length=16), nullable=False),
        sa.Column('retry_key', sa.String(length=36), nullable=False),
        sa.Column('claimed_until', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('sent_count', sa.Integer(), nullable=False),
        sa.Column('failed_count', sa.Integer(), nullable=False),
        sa.Column('blocked_count', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('failure_reason', sa.Text(), nullable=True),
        sa.Column('updated_at', crm.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('retry_key'),
    )
    op.create_index('ix_broadcast_batches_status', 'broadcast_batches', ['status', 'claimed_until'])
    op.create_index('ix_broadcast_batches_broadcast', 'broadcast_batches', ['broadcast_id', 'status'])
    op.create_table(
        'broadcast_recipients',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('broadcast_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('friend_id', sa.Integer(), nullable=True),
        sa.Column('line_user_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.Enum('pending', 'sent', 'failed', 'blocked', 'cancelled', name='recipientstatus',
                                    native_enum=False, length=16), nullable=False),
        sa.Column('retry_key', sa.String(length=36), nullable=True),
        sa.Column('failure_reason', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['friend_id'], ['line_friends.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('broadcast_id', 'customer_id', name='uq_broadcast_recipients_customer'),
    )
    op.create_index('ix_broadcast_recipients_progress', 'broadcast_recipients', ['broadcast_id', 'status', 'id'])
    # Segments: the shop's visits (booked, before now) or upcoming bookings in a time range, index only.
    op.create_index('ix_bookings_shop_status_starts_customer', 'bookings', ['shop_id', 'status', 'starts_at', 'customer_id'])


def downgrade():
    op.drop_index('ix_bookings_shop_status_starts_customer', table_name='bookings')
    op.drop_table('broadcast_recipients')
    op.drop_table('broadcast_batches')
    op.drop_index('ix_broadcasts_status_scheduled', table_name='broadcasts')
    op.drop_index('ix_broadcasts_shop_created', table_name='broadcasts')
    op.drop_index('ix_broadcasts_shop_id', table_name='broadcasts')
    op.drop_table('broadcasts')
    op.drop_index('ix_broadcast_segments_shop_id', table_name='broadcast_segments')
    op.drop_table('broadcast_segments')
