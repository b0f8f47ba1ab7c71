"""Accounts: revocable sessions (a session version per user) and atomic login throttling.

``user_account.session_version`` is copied into a session at sign-in and raised by sign-out, a
password change or disabling the user; a session holding an older number is no longer valid.
``login_throttle`` keeps one counter row per account and per address, raised by a single
upsert before a password is checked, so parallel attempts cannot all pass the limit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False,
                                   server_default="0"))
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=130), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("resets_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_login_throttle_resets_at", "login_throttle", ["resets_at"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_resets_at", table_name="login_throttle")
    op.drop_table("login_throttle")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("session_version")
