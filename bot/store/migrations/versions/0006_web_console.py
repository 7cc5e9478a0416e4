"""staff accounts and browser sessions for the web console

Revision ID: 0005w
Revises: 0005i
Create Date: 2026-12-04 12:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision = "0005w"
down_revision = "0005i"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("setup_token_hash", sa.String(), nullable=True),
        sa.Column("setup_expires_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_account_name", "staff_account", ["name"], unique=True)
    op.create_index(
        "ix_staff_account_setup_token_hash", "staff_account", ["setup_token_hash"], unique=False
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_session_token_hash", "web_session", ["token_hash"], unique=True)
    op.create_index("ix_web_session_staff_id", "web_session", ["staff_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_session_staff_id", table_name="web_session")
    op.drop_index("ix_web_session_token_hash", table_name="web_session")
    op.drop_table("web_session")
    op.drop_index("ix_staff_account_setup_token_hash", table_name="staff_account")
    op.drop_index("ix_staff_account_name", table_name="staff_account")
    op.drop_table("staff_account")
