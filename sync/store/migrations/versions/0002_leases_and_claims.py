"""wall-clock leases with holders, event claims, on-call escalation state

Revision ID: 0002_leases_and_claims
Revises: 0001_initial
Create Date: (issue 16)

Adds, never removes: `notifications.lease_holder`; `processed_events.status/holder/lease_until`
(existing rows are answered events: status "done"); `escalation_states.acked_level/notified_at/
repeats`; the `leases` table (the scheduler's leadership lease).
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from gtm.sync.store.base import UTCDateTime

revision: str = '0002_leases_and_claims'
down_revision: Union[str, None] = '0001_initial'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_holder', sa.String(length=128), nullable=False, server_default=''))
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='done'))
        batch_op.add_column(sa.Column('holder', sa.String(length=128), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('lease_until', UTCDateTime(), nullable=True))
    with op.batch_alter_table('escalation_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acked_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('notified_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('repeats', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('leases',
                    sa.Column('name', sa.String(length=64), nullable=False),
                    sa.Column('holder', sa.String(length=128), nullable=False),
                    sa.Column('expires_at', UTCDateTime(), nullable=False),
                    sa.Column('renewed_at', UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('name'))


def downgrade() -> None:
    op.drop_table('leases')
    with op.batch_alter_table('escalation_states', schema=None) as batch_op:
        batch_op.drop_column('repeats')
        batch_op.drop_column('notified_at')
        batch_op.drop_column('acked_level')
    with op.batch_alter_table('processed_events', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('holder')
        batch_op.drop_column('status')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('lease_holder')
