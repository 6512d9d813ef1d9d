"""autoreply: settings, own hours and 休業日, keyword rules, fires (once per event), booking reminders

Revision ID: e7a1c4d2b9f3
Revises: e7b1c2d3a4f5
Create Date: 2026-11-23 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e7a1c4d2b9f3'
down_revision = 'e7b1c2d3a4f5'
branch_labels = None
depends_on = None


def _shop_id():
    return sa.Column('shop_id', sa.Integer(), sa.ForeignKey('shops.id', ondelete='CASCADE'), nullable=False)


def upgrade():
    op.create_table(
        'autoreply_settings',
        sa.Column('id', sa.Integer(), primary_key=True),
        _shop_id(),
        sa.Column('greeting_enabled', sa.Boolean(), nullable=False),
        sa.Column('greeting_bubbles', sa.JSON(), nullable=False),
        sa.Column('refollow_text', sa.Text(), nullable=False),
        sa.Column('away_enabled', sa.Boolean(), nullable=False),
        sa.Column('hours_source', sa.Enum('booking', 'custom', name='hourssource', native_enum=False, length=16),
                  nullable=False),
        sa.Column('away_text', sa.Text(), nullable=False),
        sa.Column('holiday_text', sa.Text(), nullable=False),
        sa.Column('away_window_hours', sa.Integer(), nullable=False),
        sa.Column('push_when_late', sa.Boolean(), nullable=False),
        sa.Column('rules_version', sa.Integer(), nullable=False),
        sa.Column('reminder_enabled', sa.Boolean(), nullable=False),
        sa.Column('reminder_time', sa.Time(), nullable=False),
        sa.Column('reminder_text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('shop_id', name='uq_autoreply_settings_shop'),
        sa.CheckConstraint('away_window_hours >= 0', name=op.f('ck_autoreply_settings_away_window_not_negative')),
    )
    op.create_index('ix_autoreply_settings_shop_id', 'autoreply_settings', ['shop_id'])
    op.create_table(
        'autoreply_hours',
        sa.Column('id', sa.Integer(), primary_key=True),
        _shop_id(),
        sa.Column('weekday', sa.SmallInteger(), nullable=False),
        sa.Column('opens_minute', sa.SmallInteger(), nullable=False),
        sa.Column('closes_minute', sa.SmallInteger(), nullable=False),
        sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_autoreply_hours_weekday_range')),
        sa.CheckConstraint('opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 1440',
                           name=op.f('ck_autoreply_hours_opens_before_closing')),
    )
    op.create_index('ix_autoreply_hours_shop_id', 'autoreply_hours', ['shop_id'])
    op.create_table(
        'autoreply_closures',
        sa.Column('id', sa.Integer(), primary_key=True),
        _shop_id(),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('note', sa.String(100), nullable=False),
        sa.CheckConstraint('first_day <= last_day', name=op.f('ck_autoreply_closures_first_day_before_last')),
    )
    op.create_index('ix_autoreply_closures_shop_id', 'autoreply_closures', ['shop_id'])
    op.create_table(
        'autoreply_rules',
        sa.Column('id', sa.Integer(), primary_key=True),
        _shop_id(),
        sa.Column('name', sa.String(60), nullable=False),
        sa.Column('keyword', sa.String(200), nullable=False),
        sa.Column('match_type', sa.Enum('exact', 'contains', 'prefix', name='matchtype', native_enum=False,
                                        length=16), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('reply_kind', sa.Enum('text', 'image', 'bookings', name='replykind', native_enum=False,
                                        length=16), nullable=False),
        sa.Column('reply_text', sa.Text(), nullable=False),
        sa.Column('image_url', sa.String(1000), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_autoreply_rules_shop_id', 'autoreply_rules', ['shop_id'])
    op.create_table(
        'autoreply_fires',
        sa.Column('id', sa.Integer(), primary_key=True),
        _shop_id(),
        sa.Column('friend_id', sa.Integer(), sa.ForeignKey('line_friends.id', ondelete='CASCADE'), nullable=False),
        sa.Column('webhook_event_id', sa.String(64), nullable=False),
        sa.Column('kind', sa.Enum('greeting', 'away', 'holiday', 'keyword', name='firekind', native_enum=False,
                                  length=16), nullable=False),
        sa.Column('rule_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.Integer(), sa.ForeignKey('line_messages.id', ondelete='SET NULL'), nullable=True),
        sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reply_token', sa.String(255), nullable=True),
        sa.Column('refollow', sa.Boolean(), nullable=False),
        sa.UniqueConstraint('shop_id', 'webhook_event_id', name='uq_autoreply_fires_shop_event'),
    )
    op.create_index('ix_autoreply_fires_shop_id', 'autoreply_fires', ['shop_id'])
    op.create_index('ix_autoreply_fires_friend_kind', 'autoreply_fires', ['friend_id', 'kind', 'fired_at'])
    op.create_table(
        'autoreply_reminders',
        sa.Column('id', sa.Integer(), primary_key=True),
        _shop_id(),
        sa.Column('booking_id', sa.Integer(), sa.ForeignKey('bookings.id', ondelete='CASCADE'), nullable=False),
        sa.Column('friend_id', sa.Integer(), sa.ForeignKey('line_friends.id', ondelete='SET NULL'), nullable=True),
        sa.Column('message_id', sa.Integer(), sa.ForeignKey('line_messages.id', ondelete='SET NULL'), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('booking_id', name='uq_autoreply_reminders_booking_id'),
    )
    op.create_index('ix_autoreply_reminders_shop_id', 'autoreply_reminders', ['shop_id'])


def downgrade():
    for table in ('autoreply_reminders', 'autoreply_fires', 'autoreply_rules', 'autoreply_closures',
                  'autoreply_hours', 'autoreply_settings'):
        op.drop_table(table)
