"""Quick-win targets per city, and the population raster of a city.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quick_win_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city_kode", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("baseline_date", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["city_kode"], ["city.kode"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("city") as batch:
        batch.add_column(sa.Column("population_raster", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("city") as batch:
        batch.drop_column("population_raster")
    op.drop_table("quick_win_target")
