"""staff card edits: the chat message of a draft's card, and when it was closed

Revision ID: 0005c
Revises: 0005w
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision = "0005c"
down_revision = "0005w"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_message_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "staff_card_closed_at", bot.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_column("staff_card_closed_at")
        batch_op.drop_column("staff_message_id")
