"""Lean measurement table: duplicates found through upload spans, not a unique index.

Each measurement upload records the time span and the id range of its rows; an ingest reads the
hashes of overlapping uploads only.  The unique index on ``row_hash`` goes, and so do the B-tree
indexes that made bulk ingest slow (SQLite: (city, time); PostGIS: (city, time) and
(city, kelurahan)).  PostGIS gets a BRIN index on (city, time) instead, nearly free to maintain
since each ingest appends its rows in time order.  Existing uploads get their spans filled in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SPAN_COLUMNS = ("measured_from", "measured_until", "first_row_id", "last_row_id")


def _measurement_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), nullable=False, primary_key=True),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("city_kode", sa.String(length=16), nullable=False),
        sa.Column("row_hash", sa.BigInteger(), nullable=False),
        sa.Column("measured_at", sa.BigInteger(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("operator", sa.String(length=60), nullable=False),
        sa.Column("technology", sa.String(length=4), nullable=False),
        sa.Column("signal_dbm", sa.Float(), nullable=True),
        sa.Column("no_service", sa.Boolean(), nullable=False),
        sa.Column("download_mbps", sa.Float(), nullable=True),
        sa.Column("upload_mbps", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("device_id", sa.String(length=80), nullable=True),
        sa.Column("kelurahan_kode", sa.String(length=20), nullable=True),
        sa.Column("h3_cell", sa.BigInteger(), nullable=False),
    ]


def _rebuild_sqlite_measurement(*constraints: sa.Constraint) -> None:
    """SQLite cannot drop or add a constraint: copy the rows into a new table (ids kept)."""
    op.create_table("_measurement_new", *_measurement_columns(), *constraints)
    names = ", ".join(c.name for c in _measurement_columns())
    op.execute(f"INSERT INTO _measurement_new ({names}) SELECT {names} FROM measurement")
    op.drop_table("measurement")
    op.rename_table("_measurement_new", "measurement")


def _fill_spans() -> None:
    bind = op.get_bind()
    spans = bind.execute(sa.text(
        "SELECT upload_id, min(measured_at), max(measured_at), min(id), max(id) "
        "FROM measurement GROUP BY upload_id")).fetchall()
    update = sa.text("UPDATE upload SET measured_from = :a, measured_until = :b, "
                     "first_row_id = :c, last_row_id = :d WHERE id = :u")
    for upload_id, first_s, last_s, first_id, last_id in spans:
        bind.execute(update, {"a": first_s, "b": last_s, "c": first_id, "d": last_id,
                              "u": upload_id})


def upgrade() -> None:
    with op.batch_alter_table("upload") as batch_op:
        for name in _SPAN_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE measurement DROP CONSTRAINT IF EXISTS measurement_row_hash_key")
        op.drop_index("ix_measurement_city_time", table_name="measurement")
        op.drop_index("ix_measurement_city_kelurahan", table_name="measurement")
        op.execute("CREATE INDEX ix_measurement_city_time ON measurement "
                   "USING brin (city_kode, measured_at)")
    else:
        _rebuild_sqlite_measurement()
    _fill_spans()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_measurement_city_time", table_name="measurement")
        op.create_index("ix_measurement_city_time", "measurement", ["city_kode", "measured_at"])
        op.create_index("ix_measurement_city_kelurahan", "measurement",
                        ["city_kode", "kelurahan_kode"])
        op.create_unique_constraint("measurement_row_hash_key", "measurement", ["row_hash"])
    else:
        _rebuild_sqlite_measurement(sa.UniqueConstraint("row_hash"))
        op.create_index("ix_measurement_city_time", "measurement", ["city_kode", "measured_at"])
    with op.batch_alter_table("upload") as batch_op:
        for name in _SPAN_COLUMNS:
            batch_op.drop_column(name)
