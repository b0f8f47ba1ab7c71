"""Constraint layers for siting: versioned layers per city and kind, and their features.

``constraint_layer`` records each imported layer file (rivers, roads, a DEM...): kind, version,
active flag, archived file and report; ``constraint_feature`` holds its features with a geometry
of any type (PostGIS geometry with a GiST index; WKB on SQLite) and the file's attributes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from __future__ import annotations

from alembic import op
import geoalchemy2
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "constraint_layer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city_kode", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_path", sa.Text(), nullable=False),
        sa.Column("source_crs", sa.String(length=60), nullable=False),
        sa.Column("feature_count", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["city_kode"], ["city.kode"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_kode", "kind", "version", name="uq_constraint_layer_version"),
    )
    op.create_index("ix_constraint_layer_city_kind", "constraint_layer", ["city_kode", "kind"])
    op.create_table(
        "constraint_feature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("nama", sa.String(length=200), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("geom", sa.LargeBinary().with_variant(geoalchemy2.types.Geometry(
            geometry_type="GEOMETRY", srid=4326, spatial_index=False), "postgresql"),
            nullable=False),
        sa.ForeignKeyConstraint(["layer_id"], ["constraint_layer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_constraint_feature_layer_id", "constraint_feature", ["layer_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_constraint_feature_geom ON constraint_feature "
                   "USING gist (geom)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_constraint_feature_geom")
    op.drop_index("ix_constraint_feature_layer_id", table_name="constraint_feature")
    op.drop_table("constraint_feature")
    op.drop_index("ix_constraint_layer_city_kind", table_name="constraint_layer")
    op.drop_table("constraint_layer")
