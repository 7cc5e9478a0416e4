"""draft covers (the kinds and changes a reply answers); message content_cleared_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("covers", sa.JSON(), nullable=True))
    _reply_drafts_cover_their_case()
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "content_cleared_at", bot.store.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def _reply_drafts_cover_their_case() -> None:
    """Reply drafts still open answer what their case asks now: without this, approval
    (which checks `covers`) would refuse every one of them after the upgrade."""
    draft = sa.table(
        "draft",
        sa.column("id", sa.Integer),
        sa.column("request_id", sa.Integer),
        sa.column("purpose", sa.String),
        sa.column("status", sa.String),
        sa.column("covers", sa.JSON),
    )
    request = sa.table(
        "request",
        sa.column("id", sa.Integer),
        sa.column("kinds", sa.JSON),
        sa.column("requested_changes", sa.JSON),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(draft.c.id, request.c.kinds, request.c.requested_changes)
        .join(request, request.c.id == draft.c.request_id)
        .where(
            draft.c.purpose == "reply",
            draft.c.status.in_(["awaiting_approval", "rejected"]),
        )
    ).all()
    for draft_id, kinds, changes in rows:
        bind.execute(
            draft.update()
            .where(draft.c.id == draft_id)
            .values(covers={"kinds": kinds or [], "changes": changes or []})
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("content_cleared_at")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_column("covers")
