"""Siting scenarios: saved runs of the waste and tower siting, with the data they used.

``siting_scenario`` keeps each saved run's parameters, provenance (boundary version, newest
upload, constraint layer versions, population raster, facilities), result, the area codes it
touches, the scenario it re-ran (``parent_id``) and when it was adopted as planned facilities.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "siting_scenario",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city_kode", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adopted_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["city_kode"], ["city.kode"]),
        sa.ForeignKeyConstraint(["parent_id"], ["siting_scenario.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_siting_scenario_city_kind", "siting_scenario", ["city_kode", "kind"])


def downgrade() -> None:
    op.drop_index("ix_siting_scenario_city_kind", table_name="siting_scenario")
    op.drop_table("siting_scenario")
