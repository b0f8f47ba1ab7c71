"""Database tables (SQLAlchemy 2 declarative), the same on SQLite and PostgreSQL + PostGIS.

Geometry columns are real PostGIS geometries (GeoAlchemy2) with GiST indexes on PostgreSQL and WKB
blobs on SQLite, where analysis loads them into shapely.  Point tables (measurements, facilities)
keep plain ``longitude``/``latitude`` columns on both databases; on PostGIS the migrations add a
``geom`` point column with a spatial index (facilities: generated from the coordinates;
measurements: written by the ingest as extended WKB, see ``webmap.store.point_ewkb``).

Timestamps of measurements are UTC epoch seconds (``measured_at``): compact, exact, fast to filter
on both databases.  Bookkeeping timestamps use timezone-aware datetimes.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geoalchemy2 import Geometry


def _geometry(geometry_type: str) -> Any:
    """A geometry column type: PostGIS geometry(type, 4326) there, WKB blob on SQLite."""
    return LargeBinary().with_variant(
        Geometry(geometry_type, srid=4326, spatial_index=False), "postgresql"
    )


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of all petakota tables."""


class City(Base):
    """A kota/kabupaten: the unit of a deployment's analyses and quick-win targets."""

    __tablename__ = "city"

    kode: Mapped[str] = mapped_column(String(16), primary_key=True)  # Kemendagri, e.g. "14.72"
    nama: Mapped[str] = mapped_column(String(120))
    utm_epsg: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    population_raster: Mapped[str | None] = mapped_column(Text)  # archived GeoTIFF path


class BoundaryVersion(Base):
    """One imported boundary file for a city; the newest import is current, older ones are kept."""

    __tablename__ = "boundary_version"
    __table_args__ = (UniqueConstraint("city_kode", "sha256", name="uq_boundary_version_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"), index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    archive_path: Mapped[str] = mapped_column(Text)
    imported_by: Mapped[str] = mapped_column(String(80))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    kelurahan_count: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSON, default=dict)


class Kelurahan(Base):
    """A kelurahan/desa polygon within one boundary version."""

    __tablename__ = "kelurahan"
    __table_args__ = (
        UniqueConstraint("boundary_version_id", "kode", name="uq_kelurahan_version_kode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    boundary_version_id: Mapped[int] = mapped_column(ForeignKey("boundary_version.id"), index=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"), index=True)
    kode: Mapped[str] = mapped_column(String(20), index=True)  # "14.72.01.1003", kept as text
    nama: Mapped[str] = mapped_column(String(120))
    kecamatan_kode: Mapped[str | None] = mapped_column(String(16))
    kecamatan: Mapped[str | None] = mapped_column(String(120))
    area_km2: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geometry("MULTIPOLYGON"))


class Upload(Base):
    """An archived input file (measurements, Ookla tiles, facilities) and its ingest report."""

    __tablename__ = "upload"
    __table_args__ = (UniqueConstraint("city_kode", "kind", "sha256", name="uq_upload_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # measurements | ookla | facilities
    sha256: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(255))
    archive_path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    format: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    # Measurement uploads: the time span (UTC epoch seconds) and the id range of the rows they
    # stored.  A new file's duplicates are looked for among the rows of overlapping uploads only.
    measured_from: Mapped[int | None] = mapped_column(BigInteger)
    measured_until: Mapped[int | None] = mapped_column(BigInteger)
    first_row_id: Mapped[int | None] = mapped_column(BigInteger)
    last_row_id: Mapped[int | None] = mapped_column(BigInteger)


class Measurement(Base):
    """One coverage observation: a signal reading or an explicit no-service observation.

    Built for bulk appends: no foreign-key constraint on ``upload_id`` (rows are only ever
    written by the ingest transaction that creates their upload) and no secondary index on
    SQLite, where each B-tree costs about as much as the rest of an ingest.  The city is the
    upload's (read a city's rows with ``webmap.store.city_measurements``).  ``row_hash``
    identifies an observation; duplicates are found through the uploads' time spans and id
    ranges (see ``webmap.store.MeasurementWrite``), not through a unique index.  The PostGIS
    migrations add a point ``geom`` (written by the ingest) and a BRIN index on the time and the
    point.
    """

    __tablename__ = "measurement"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    upload_id: Mapped[int] = mapped_column(Integer)  # upload.id (see class docstring)
    row_hash: Mapped[int] = mapped_column(BigInteger)
    measured_at: Mapped[int] = mapped_column(BigInteger)  # UTC epoch seconds
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    operator: Mapped[str] = mapped_column(String(60))
    technology: Mapped[str] = mapped_column(String(4))
    signal_dbm: Mapped[float | None] = mapped_column(Float)
    no_service: Mapped[bool] = mapped_column(Boolean)
    download_mbps: Mapped[float | None] = mapped_column(Float)
    upload_mbps: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    device_id: Mapped[str | None] = mapped_column(String(80))
    kelurahan_kode: Mapped[str | None] = mapped_column(String(20))
    h3_cell: Mapped[int] = mapped_column(BigInteger)


class OoklaTile(Base):
    """An Ookla open-data performance tile: separate evidence of service, never mixed with dBm."""

    __tablename__ = "ookla_tile"
    __table_args__ = (
        UniqueConstraint("city_kode", "quadkey", "period", name="uq_ookla_tile"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("upload.id"), index=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"))
    quadkey: Mapped[str] = mapped_column(String(24))
    period: Mapped[str] = mapped_column(String(16))  # e.g. "2022Q3"; "" when unknown
    avg_d_mbps: Mapped[float] = mapped_column(Float)
    avg_u_mbps: Mapped[float] = mapped_column(Float)
    avg_lat_ms: Mapped[float] = mapped_column(Float)
    tests: Mapped[int] = mapped_column(Integer)
    devices: Mapped[int] = mapped_column(Integer)
    kelurahan_kode: Mapped[str | None] = mapped_column(String(20))
    geom: Mapped[Any] = mapped_column(_geometry("POLYGON"))


class Facility(Base):
    """A facility point: BTS, TPS/TPS3R/TPST/TPA, bank sampah, sekolah, puskesmas..."""

    __tablename__ = "facility"
    __table_args__ = (
        UniqueConstraint("city_kode", "dedup_key", name="uq_facility_key"),
        Index("ix_facility_city_type", "city_kode", "type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("upload.id"))
    dedup_key: Mapped[str] = mapped_column(String(160))
    type: Mapped[str] = mapped_column(String(20))
    nama: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))
    operator: Mapped[str | None] = mapped_column(String(80))
    capacity: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    samples: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(120))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    kelurahan_kode: Mapped[str | None] = mapped_column(String(20))


class QuickWinTarget(Base):
    """A quick-win target of a city, e.g. "no blank spot left by 2024-12-31"."""

    __tablename__ = "quick_win_target"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"))
    kind: Mapped[str] = mapped_column(String(30))  # "no_blank_spot"
    name: Mapped[str] = mapped_column(String(200))
    deadline: Mapped[date] = mapped_column(Date)
    baseline_date: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class UserAccount(Base):
    """A person who signs in: a role, a city (none for admins) and, for lurah/camat, an area."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("username", name="uq_user_account_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))  # lower case
    password_hash: Mapped[str] = mapped_column(String(255))  # werkzeug scrypt
    role: Mapped[str] = mapped_column(String(20))  # admin|perencana|tim_lapangan|lurah|camat
    city_kode: Mapped[str | None] = mapped_column(ForeignKey("city.kode"))
    kelurahan_kode: Mapped[str | None] = mapped_column(String(20))  # lurah only
    kecamatan_kode: Mapped[str | None] = mapped_column(String(16))  # camat only
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # Copied into a session at sign-in; raised by sign-out, a password change or disabling,
    # which ends every session holding an older number (see webmap.accounts.end_sessions).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiToken(Base):
    """A machine client's bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_token_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64))  # hex sha256
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """One sign-in attempt, kept for a day to throttle guessing across workers."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
        Index("ix_login_attempt_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str | None] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    success: Mapped[bool] = mapped_column(Boolean)


class LoginThrottle(Base):
    """Failed (and pending) sign-ins of one account or address in the current window.

    ``key`` is ``account:<username>`` or ``ip:<address>``; ``failures`` is raised by one atomic
    upsert before a password is checked, so parallel attempts cannot all pass the limit; the
    window (or the lockout) ends at ``resets_at``.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(130), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    resets_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ConstraintLayer(Base):
    """One imported constraint layer (rivers, roads, a DEM...) of a city: a version of a kind.

    Importing a kind again adds a new version and makes it the active one; earlier versions stay
    stored (``active`` false), so a siting scenario can name the versions it used.  A ``dem``
    layer has no features: its GeoTIFF is the archived file.
    """

    __tablename__ = "constraint_layer"
    __table_args__ = (
        UniqueConstraint("city_kode", "kind", "version", name="uq_constraint_layer_version"),
        Index("ix_constraint_layer_city_kind", "city_kode", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"))
    kind: Mapped[str] = mapped_column(String(20))  # geo.layers.ALL_KINDS
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per city and kind
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    created_by: Mapped[str] = mapped_column(String(80))
    source_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    archive_path: Mapped[str] = mapped_column(Text)
    source_crs: Mapped[str] = mapped_column(String(60))
    feature_count: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSON, default=dict)


class ConstraintFeature(Base):
    """A feature of a constraint layer: any geometry (EPSG:4326) and the file's attributes."""

    __tablename__ = "constraint_feature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("constraint_layer.id"), index=True)
    row: Mapped[int] = mapped_column(Integer)  # 1-based feature number in the file
    nama: Mapped[str | None] = mapped_column(String(200))
    properties: Mapped[dict] = mapped_column(JSON, default=dict)
    geom: Mapped[Any] = mapped_column(_geometry("GEOMETRY"))


class SitingScenario(Base):
    """A saved siting run: its parameters, the data it used and its result.

    ``kind`` is ``waste`` (the waste-processing building) or ``towers`` (towers for blank spots).
    ``provenance`` names the data of the run (boundary version, newest upload, constraint layer
    versions, population raster, facility count and newest facility id), so a re-run can say
    what changed.  ``area_codes`` are the kelurahan and kecamatan codes the plan touches (a site
    in them, or within its service distance), for the read-only listing of lurah and camat.
    ``parent_id`` is the scenario this one re-ran; ``adopted_at`` is set when its sites became
    ``planned`` facilities (their ``dedup_key`` names the scenario, see ``webmap.scenarios``).
    """

    __tablename__ = "siting_scenario"
    __table_args__ = (Index("ix_siting_scenario_city_kind", "city_kode", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_kode: Mapped[str] = mapped_column(ForeignKey("city.kode"))
    kind: Mapped[str] = mapped_column(String(10))  # waste | towers
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    provenance: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    area_codes: Mapped[list] = mapped_column(JSON, default=list)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("siting_scenario.id"))
    adopted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    adopted_by: Mapped[str | None] = mapped_column(String(80))
