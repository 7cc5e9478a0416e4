"""what sources hold about a case's person, the checklist staff tick off, disclosures,
complaint outcomes

Revision ID: 0005s
Revises: 0005c
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision = "0005s"
down_revision = "0005c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("request.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("erasable", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("found_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_source_finding_request_id", "source_finding", ["request_id"])
    op.create_table(
        "checklist_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("request.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_checklist_item_request_id", "checklist_item", ["request_id"])
    op.create_table(
        "disclosure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subject_id",
            sa.Integer(),
            sa.ForeignKey("subject.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("recipient_email", sa.String(), nullable=True),
        sa.Column("disclosed_on", sa.Date(), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_disclosure_subject_id", "disclosure", ["subject_id"])
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("complaint_outcome", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_column("complaint_outcome")
    op.drop_index("ix_disclosure_subject_id", table_name="disclosure")
    op.drop_table("disclosure")
    op.drop_index("ix_checklist_item_request_id", table_name="checklist_item")
    op.drop_table("checklist_item")
    op.drop_index("ix_source_finding_request_id", table_name="source_finding")
    op.drop_table("source_finding")
