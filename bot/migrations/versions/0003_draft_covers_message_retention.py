"""draft covers (the kinds and changes a reply answers); message content_cleared_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.timeutil

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("covers", sa.JSON(), nullable=True))
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("content_cleared_at", bot.timeutil.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("content_cleared_at")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_column("covers")
