"""mirror changes: which records each change of a mirror table touched (shared by replicas)

Revision ID: 0005_mirror_changes
Revises: 0004_rate_slots
Create Date: (written by hand)
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005_mirror_changes'
down_revision: Union[str, None] = '0004_rate_slots'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('mirror_changes',
    sa.Column('project', sa.String(length=64), nullable=False),
    sa.Column('table_key', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('record_ids', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('project', 'table_key', 'version')
    )


def downgrade() -> None:
    op.drop_table('mirror_changes')
