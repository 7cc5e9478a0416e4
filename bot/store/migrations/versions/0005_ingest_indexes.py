"""indexes for the queries the pipeline makes for every inbound message (flat cost)

Revision ID: 0005i
Revises: 0004
Create Date: 2026-12-04 12:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0005i"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_request_requester", "request", ["requester_address", "channel"])
    op.create_index("ix_verification_address", "verification", ["address", "method"])


def downgrade() -> None:
    op.drop_index("ix_verification_address", table_name="verification")
    op.drop_index("ix_request_requester", table_name="request")
