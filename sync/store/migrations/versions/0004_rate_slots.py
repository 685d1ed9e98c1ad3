"""rate slots: the shared (cross-replica) rate limiter's table

Revision ID: 0004_rate_slots
Revises: 0003_service_cells
Create Date: (written by hand)
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004_rate_slots'
down_revision: Union[str, None] = '0003_service_cells'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('rate_slots',
    sa.Column('app_id', sa.String(length=64), nullable=False),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('app_id', 'family', 'slot')
    )


def downgrade() -> None:
    op.drop_table('rate_slots')
