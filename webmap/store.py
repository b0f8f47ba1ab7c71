"""Reading and writing petakota's tables: the only module that writes SQL by hand.

Measurements are written in bulk through ADBC (see :func:`measurement_write` and
:mod:`webmap.bulk_write`): binary COPY on PostgreSQL, an ADBC child process on SQLite, in the one
transaction that also records the upload, so a file's rows land atomically.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd

from geo.errors import NotFoundError, PetakotaError
from webmap.bulk_write import BulkTransaction, bulk_transaction, start_bulk_writer
from webmap.database import geometry_from_db, geometry_to_db
from webmap.models import (
    BoundaryVersion,
    City,
    Facility,
    Kelurahan,
    Measurement,
    OoklaTile,
    Upload,
)
from webmap.sqlite_reader import read_arrow

class StorageError(PetakotaError):
    """The database refused to store a file for a reason that is not the file's (the write was
    rolled back).  The message is safe to show; the database's own words go to the log."""


FACILITY_COLUMNS = [
    "city_kode", "upload_id", "dedup_key", "type", "nama", "status", "operator", "capacity",
    "range_m", "samples", "source", "external_id", "latitude", "longitude", "kelurahan_kode",
]


# --- cities and boundaries ----------------------------------------------------------------------

def list_cities(conn: Connection) -> list[dict[str, Any]]:
    """All cities, by code."""
    table = City.__table__
    return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.kode))]


def get_city(conn: Connection, kode: str | None) -> dict[str, Any]:
    """Return a city as a dict; with ``kode=None`` the only city in the database.

    Raises
    ------
    NotFoundError
        When the city does not exist, or ``kode`` is None and there is not exactly one city.
    """
    rows = list_cities(conn)
    if kode is None:
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise NotFoundError("Choose a city: there is none yet; import a kelurahan boundary "
                                "file first (flask --app webmap import-boundaries PATH).")
        known = ", ".join(r["kode"] for r in rows)
        raise NotFoundError(f"Choose a city: several are in the database ({known}); give one "
                            f"with --city on the command line or ?city={rows[0]['kode']} in the "
                            "web address.")
    for row in rows:
        if row["kode"] == kode:
            return row
    known = ", ".join(r["kode"] for r in rows) or "none yet"
    raise NotFoundError(f"City '{kode}' does not exist (cities in the database: {known}).")


def ensure_city(conn: Connection, *, kode: str, nama: str, utm_epsg: int, timezone: str) -> bool:
    """Create the city if it does not exist; return True when it was created."""
    table = City.__table__
    if conn.execute(sa.select(table.c.kode).where(table.c.kode == kode)).first():
        return False
    conn.execute(sa.insert(table).values(kode=kode, nama=nama, utm_epsg=utm_epsg,
                                         timezone=timezone, created_at=_utcnow()))
    return True


def find_boundary_version(conn: Connection, city_kode: str, sha256: str) -> dict | None:
    """The boundary version imported from a file with this hash, if any."""
    table = BoundaryVersion.__table__
    row = conn.execute(sa.select(table).where(table.c.city_kode == city_kode,
                                              table.c.sha256 == sha256)).first()
    return dict(row._mapping) if row else None


def current_boundary_version(conn: Connection, city_kode: str) -> dict | None:
    """The boundary version currently in force for a city."""
    table = BoundaryVersion.__table__
    row = conn.execute(sa.select(table).where(table.c.city_kode == city_kode,
                                              table.c.is_current.is_(True))
                       .order_by(table.c.id.desc())).first()
    return dict(row._mapping) if row else None


def insert_boundary_version(conn: Connection, kelurahan: gpd.GeoDataFrame, **values: Any) -> int:
    """Store a new boundary version with its kelurahan and make it the city's current one."""
    versions = BoundaryVersion.__table__
    conn.execute(sa.update(versions).where(versions.c.city_kode == values["city_kode"])
                 .values(is_current=False))
    version_id = conn.execute(sa.insert(versions).values(
        is_current=True, imported_at=_utcnow(), kelurahan_count=len(kelurahan), **values)
    ).inserted_primary_key[0]
    dialect = conn.dialect.name
    records = [
        {"boundary_version_id": version_id, "city_kode": values["city_kode"], "kode": r.kode,
         "nama": r.nama, "kecamatan_kode": r.kecamatan_kode, "kecamatan": r.kecamatan,
         "area_km2": float(r.area_km2), "geom": geometry_to_db(dialect, r.geometry)}
        for r in kelurahan.itertuples(index=False)
    ]
    conn.execute(sa.insert(Kelurahan.__table__), records)
    return int(version_id)


def load_kelurahan(conn: Connection, city_kode: str, *, version_id: int | None = None
                   ) -> gpd.GeoDataFrame:
    """The kelurahan polygons of a city's current (or a given) boundary version, EPSG:4326."""
    if version_id is None:
        current = current_boundary_version(conn, city_kode)
        if current is None:
            raise NotFoundError(f"City '{city_kode}' has no boundaries yet: run import-boundaries.")
        version_id = current["id"]
    table = Kelurahan.__table__
    rows = conn.execute(sa.select(table).where(table.c.boundary_version_id == version_id)
                        .order_by(table.c.kode)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows])
    geometry = [geometry_from_db(g) for g in frame.pop("geom")]
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def update_kelurahan_codes(conn: Connection, table: sa.Table, ids: np.ndarray,
                           codes: np.ndarray) -> None:
    """Set ``kelurahan_kode`` of the given rows (after a boundary update).

    Set-based: one ``UPDATE`` per new code with all its ids as one parameter (an array on
    PostgreSQL, a JSON list read by ``json_each`` on SQLite), not one statement per row; ``None``
    codes (outside every kelurahan) set NULL.
    """
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        chosen = sa.any_(sa.bindparam("ids", type_=postgresql_dialect.ARRAY(sa.BigInteger)))
        where = table.c.id == chosen
    else:
        where = table.c.id.in_(sa.select(sa.column("value", sa.BigInteger))
                               .select_from(sa.func.json_each(sa.bindparam("ids"))))
    by_code = pd.Series(np.asarray(ids, dtype=np.int64)).groupby(
        pd.Series(np.asarray(codes, dtype=object)), dropna=False)
    for code, group in by_code:
        rows = np.sort(group.to_numpy()).tolist()
        conn.execute(sa.update(table).where(where)
                     .values(kelurahan_kode=None if pd.isna(code) else str(code)),
                     {"ids": rows if postgres else json.dumps(rows)})


def point_rows(conn: Connection, table: sa.Table, city_kode: str) -> pd.DataFrame:
    """id, longitude, latitude and kelurahan_kode of every row of a point table in a city."""
    columns = (table.c.id, table.c.longitude, table.c.latitude, table.c.kelurahan_kode)
    query = (city_measurements(city_kode, *columns) if table is Measurement.__table__
             else sa.select(*columns).where(table.c.city_kode == city_kode))
    # Plain tuples: pandas probes each SQLAlchemy Row for attributes it lacks, and every miss
    # raises and catches an exception inside SQLAlchemy (13 s per million rows).
    rows = [tuple(row) for row in conn.execute(query)]
    ids, lon, lat, codes = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pd.DataFrame({"id": np.array(ids, dtype=np.int64),
                         "longitude": np.array(lon, dtype=np.float64),
                         "latitude": np.array(lat, dtype=np.float64),
                         "kelurahan_kode": np.array(codes, dtype=object)})


def city_measurements(city_kode: str, *columns: sa.ColumnElement) -> sa.Select:
    """``SELECT columns`` from a city's measurements.

    A measurement's city is its upload's, and each upload records the id range of its rows, so
    the rows are found through one primary-key range per upload (the upload id is checked too:
    on PostgreSQL concurrent ingests into other cities may interleave ids).
    """
    m, u = Measurement.__table__, Upload.__table__
    rows = m.join(u, sa.and_(m.c.upload_id == u.c.id,
                             m.c.id.between(u.c.first_row_id, u.c.last_row_id)))
    return (sa.select(*columns).select_from(rows)
            .where(u.c.city_kode == city_kode, u.c.kind == "measurements"))


# --- uploads --------------------------------------------------------------------------------------

def find_upload(conn: Connection, city_kode: str, kind: str, sha256: str) -> dict | None:
    """The upload of a file with this hash, if it was ingested before."""
    table = Upload.__table__
    row = conn.execute(sa.select(table).where(table.c.city_kode == city_kode,
                                              table.c.kind == kind,
                                              table.c.sha256 == sha256)).first()
    return dict(row._mapping) if row else None


def insert_upload(conn: Connection, **values: Any) -> int:
    """Create the upload record (counts are filled in by :func:`finish_upload`)."""
    table = Upload.__table__
    return int(conn.execute(sa.insert(table).values(uploaded_at=_utcnow(), report={}, **values))
               .inserted_primary_key[0])


def finish_upload(conn: Connection, upload_id: int, report: dict[str, Any]) -> None:
    """Store an upload's counts and full report."""
    table = Upload.__table__
    conn.execute(sa.update(table).where(table.c.id == upload_id)
                 .values(report=report, **_upload_counts(report)))


def _upload_counts(report: dict[str, Any]) -> dict[str, int]:
    """The counts an upload row keeps from its report."""
    return {name: int(report[name]) for name in ("rows", "accepted", "rejected", "duplicates")}


def measurement_count(conn: Connection, city_kode: str) -> int:
    """How many measurements a city has (from its uploads' counts: no scan of the rows)."""
    table = Upload.__table__
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(table.c.accepted), 0))
                            .where(table.c.city_kode == city_kode,
                                   table.c.kind == "measurements")).scalar_one())


def get_upload(conn: Connection, upload_id: int) -> dict[str, Any]:
    """An upload as a dict."""
    table = Upload.__table__
    row = conn.execute(sa.select(table).where(table.c.id == upload_id)).first()
    if row is None:
        raise NotFoundError(f"Upload {upload_id} does not exist.")
    return dict(row._mapping)


# --- measurements ------------------------------------------------------------------------------

#: The Arrow types of the measurement rows an ingest appends (``upload_id`` is a 32-bit column).
MEASUREMENT_SCHEMA = pa.schema([
    ("upload_id", pa.int32()), ("row_hash", pa.int64()),
    ("measured_at", pa.int64()), ("latitude", pa.float64()), ("longitude", pa.float64()),
    ("operator", pa.string()), ("technology", pa.string()), ("signal_dbm", pa.float64()),
    ("no_service", pa.bool_()), ("download_mbps", pa.float64()), ("upload_mbps", pa.float64()),
    ("latency_ms", pa.float64()), ("accuracy_m", pa.float64()), ("device_id", pa.string()),
    ("kelurahan_kode", pa.string()), ("h3_cell", pa.int64()),
])


#: What a PostGIS ingest appends: the rows and their point geometry (EWKB).
_POSTGIS_MEASUREMENT_SCHEMA = MEASUREMENT_SCHEMA.append(pa.field("geom", pa.binary()))

#: One EWKB point with an SRID, little-endian: byte order, type (point | SRID flag), SRID, x, y.
_EWKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"),
                        ("y", "<f8")])
_EWKB_SRID_FLAG = 0x20000000


def point_ewkb(longitude: np.ndarray, latitude: np.ndarray, srid: int = 4326) -> pa.Array:
    """Points as extended WKB (what ``shapely.to_wkb(..., include_srid=True)`` writes), built
    as one array: 25 bytes per point, ~30x faster than going through shapely objects."""
    points = np.empty(len(longitude), dtype=_EWKB_POINT)
    points["order"], points["type"], points["srid"] = 1, _EWKB_SRID_FLAG | 1, srid
    points["x"], points["y"] = longitude, latitude
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(_EWKB_POINT.itemsize), len(points), [None, pa.py_buffer(points.view(np.uint8))])
    return fixed.cast(pa.binary())


def _with_point_geometry(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A measurement batch with its ``geom`` column (PostGIS stores the points themselves)."""
    geometry = point_ewkb(batch.column("longitude").to_numpy(), batch.column("latitude").to_numpy())
    return pa.RecordBatch.from_arrays([*batch.columns, geometry],
                                      schema=_POSTGIS_MEASUREMENT_SCHEMA)


class MeasurementWrite:
    """The one transaction that stores a file's measurements and records its upload.

    Obtained from :func:`measurement_write`.  De-duplication works without a unique index (which
    would cost more than the rest of the ingest): each measurement upload records the time span
    and the id range of its rows, and an ingest holds back the rows whose content hash an
    earlier upload overlapping their time already stored (:meth:`stored_hashes`), so repeats are
    never written.  The transaction holds the city's write lock meanwhile.
    """

    def __init__(self, transaction: BulkTransaction, city_kode: str, engine: Engine) -> None:
        self._tx = transaction
        self._engine = engine
        self.city_kode = city_kode
        self._max_id_before: int | None = None

    def _p(self, number: int) -> str:
        return self._tx.placeholder(number)

    def insert_upload(self, **values: Any) -> int:
        """Create the upload record (counts and report come with :meth:`finish_upload`)."""
        defaults = {c.name: c.default.arg for c in Upload.__table__.columns
                    if c.default is not None and c.default.is_scalar}
        values = defaults | {"uploaded_at": _utcnow(), "report": {}} | values
        names = list(values)
        sql = (f"INSERT INTO upload ({', '.join(names)}) VALUES "
               f"({', '.join(self._cast(i + 1, n) for i, n in enumerate(names))}) RETURNING id")
        return int(self._tx.execute(sql, tuple(self._value(n, values[n]) for n in names))[0][0])

    def upload_exists(self, sha256: str) -> bool:
        """Whether the city already has a measurement upload of the file with this hash.

        Asked inside the transaction, which holds the city's write lock: an ingest of the same
        file that was running at the same time has committed by now, or has not begun.
        """
        p = self._p
        return bool(self._tx.execute(
            f"SELECT count(*) FROM upload WHERE city_kode = {p(1)} AND kind = 'measurements' "
            f"AND sha256 = {p(2)}", (self.city_kode, sha256))[0][0])

    def stored_hashes(self) -> StoredHashes:
        """The content hashes of the city's earlier measurement uploads (read lazily, see
        :class:`StoredHashes`)."""
        p = self._p
        spans = self._tx.execute(
            f"SELECT id, first_row_id, last_row_id, measured_from, measured_until FROM upload "
            f"WHERE city_kode = {p(1)} AND kind = 'measurements' AND first_row_id IS NOT NULL "
            f"AND measured_from IS NOT NULL AND measured_until IS NOT NULL", (self.city_kode,))
        return StoredHashes(self._engine, np.array(spans, dtype=np.int64).reshape(-1, 5))

    def append(self, batches: Iterable[pa.RecordBatch]) -> int:
        """Append measurement rows (:data:`MEASUREMENT_SCHEMA`, consumed lazily); return how many.

        On PostGIS each batch gets its ``geom`` column (:func:`point_ewkb` of its coordinates).
        """
        self._max_id_before = self._max_id()
        if self._tx.dialect == "postgresql":
            return self._tx.append("measurement", _POSTGIS_MEASUREMENT_SCHEMA,
                                   map(_with_point_geometry, batches))
        return self._tx.append("measurement", MEASUREMENT_SCHEMA, batches)

    def finish_upload(self, upload_id: int, report: dict[str, Any], *,
                      measured_from: int | None, measured_until: int | None) -> None:
        """Store the upload's counts, report, time span and the id range of its rows."""
        first, last = self._row_id_range(upload_id) if report["accepted"] else (None, None)
        values = _upload_counts(report) | {
            "report": report, "first_row_id": first, "last_row_id": last,
            "measured_from": measured_from, "measured_until": measured_until}
        names = list(values)
        sets = ", ".join(f"{n} = {self._cast(i + 1, n)}" for i, n in enumerate(names))
        self._tx.execute(f"UPDATE upload SET {sets} WHERE id = {self._p(len(names) + 1)}",
                         (*(self._value(n, values[n]) for n in names), int(upload_id)))

    def _max_id(self) -> int:
        return int(self._tx.execute("SELECT coalesce(max(id), 0) FROM measurement")[0][0])

    def _row_id_range(self, upload_id: int) -> tuple[int, int]:
        before = self._max_id_before or 0
        if self._tx.dialect == "sqlite":  # one writer at a time: the new rows follow the old
            return before + 1, self._max_id()
        first, last = self._tx.execute(
            f"SELECT min(id), max(id) FROM measurement WHERE id > {self._p(1)} "
            f"AND upload_id = {self._p(2)}", (before, int(upload_id)))[0]
        return int(first), int(last)

    def _cast(self, number: int, name: str) -> str:
        placeholder = self._p(number)
        if self._tx.dialect == "postgresql" and name == "report":
            return f"CAST({placeholder} AS json)"
        return placeholder

    def _value(self, name: str, value: Any) -> Any:
        """A parameter as the database stores it (SQLAlchemy's own conversions on SQLite)."""
        if name == "report":
            return json.dumps(value)
        if name == "uploaded_at" and self._tx.dialect == "sqlite":
            return _SQLITE_DATETIME(value)
        return value


_SQLITE_DATETIME = Upload.__table__.c.uploaded_at.type.dialect_impl(
    sqlite_dialect.dialect()).bind_processor(sqlite_dialect.dialect())


class StoredHashes:
    """Content hashes of a city's earlier measurement uploads, for holding back repeats.

    ``spans`` has one row per upload: id, first and last row id, first and last measurement
    time (UTC epoch seconds).  An upload's hashes are read only once a file's rows reach its
    time span (a repeat has the same time as the row it repeats), through a read connection:
    the ingest's transaction holds the city's write lock, so they cannot change meanwhile.
    """

    def __init__(self, engine: Engine, spans: np.ndarray) -> None:
        self._engine = engine
        self._spans = spans
        self._read = np.zeros(len(spans), dtype=bool)
        self._sorted = np.zeros(0, dtype=np.int64)

    def repeated(self, hashes: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Mask of the ``hashes`` (of rows taken at ``times``) that an earlier upload stored."""
        if len(hashes) == 0 or len(self._spans) == 0:
            return np.zeros(len(hashes), dtype=bool)
        low, high = int(times.min()), int(times.max())
        due = ~self._read & (self._spans[:, 3] <= high) & (self._spans[:, 4] >= low)
        if due.any():
            self._sorted = np.union1d(self._sorted, _row_hashes(self._engine, self._spans[due]))
            self._read |= due
        if len(self._sorted) == 0:
            return np.zeros(len(hashes), dtype=bool)
        where = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
        return self._sorted[where] == hashes


#: Uploads per query when reading stored hashes (SQLite refuses a compound SELECT of more than
#: 500 terms).
_SPANS_PER_READ = 250


def _row_hashes(engine: Engine, spans: np.ndarray) -> np.ndarray:
    """The stored content hashes of the uploads in ``spans`` (rows as in StoredHashes)."""
    read = _read_postgres if engine.dialect.name == "postgresql" else _read_sqlite
    parts = [np.zeros(0, dtype=np.int64)]
    for start in range(0, len(spans), _SPANS_PER_READ):
        sql = " UNION ALL ".join(
            f"SELECT row_hash FROM measurement WHERE id BETWEEN {int(first)} AND {int(last)} "
            f"AND upload_id = {int(upload)}"
            for upload, first, last, _, _ in spans[start:start + _SPANS_PER_READ])
        table = read(engine, sql)
        if table.num_rows:
            parts.append(table.column(0).to_numpy().astype(np.int64))
    return np.concatenate(parts)


def start_measurement_writer(engine: Engine) -> BulkTransaction:
    """Start the writer of a :func:`measurement_write` ahead of it (on SQLite its process needs
    ~0.1 s to start); ``rollback()`` closes it if it is not used."""
    return start_bulk_writer(engine)


@contextmanager
def measurement_write(engine: Engine, city_kode: str, started: BulkTransaction | None = None
                      ) -> Iterator[MeasurementWrite]:
    """Open the transaction that stores one file's measurements; commit when the block ends.

    Ingests into the same city are serialised: SQLite has one writer at a time anyway, and on
    PostgreSQL the transaction takes an advisory lock on the city first.  Anything raised inside
    the block, or a crash or kill of this process, leaves the database as it was.  ``started``
    is a writer from :func:`start_measurement_writer` (started while the file was prepared).
    """
    with bulk_transaction(engine, started) as transaction:
        if transaction.dialect == "postgresql":
            transaction.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                                (f"petakota.measurement.{city_kode}",))
        yield MeasurementWrite(transaction, city_kode, engine)
        transaction.commit()


def insert_facilities(conn: Connection, frame: pd.DataFrame) -> int:
    """Insert facility rows (columns :data:`FACILITY_COLUMNS`), skipping known ``dedup_key``."""
    if conn.dialect.name == "postgresql":
        return _insert_chunk_postgres(conn, "facility", frame)
    return _insert_chunk_sqlite(conn, "facility", frame)


_CONFLICT_KEYS = {"facility": "city_kode, dedup_key"}


def _insert_chunk_sqlite(conn: Connection, table: str, chunk: pd.DataFrame) -> int:
    raw = conn.connection.driver_connection
    columns = list(chunk.columns)
    sql = (f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    before = raw.total_changes
    raw.cursor().executemany(sql, _python_rows(chunk))
    return raw.total_changes - before


def _python_rows(chunk: pd.DataFrame) -> list[tuple]:
    """Rows as tuples of plain Python values, NaN/NA as None (vectorised column conversion)."""
    return list(zip(*(_python_column(chunk[name]) for name in chunk.columns), strict=True))


def _python_column(series: pd.Series) -> list:
    if series.dtype.kind == "f" and isinstance(series.dtype, np.dtype):
        values = series.to_numpy()
        column = values.astype(object)
        column[np.isnan(values)] = None
        return column.tolist()
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iub":
        return series.to_numpy().tolist()
    return series.astype(object).where(series.notna(), None).tolist()


def _insert_chunk_postgres(conn: Connection, table: str, chunk: pd.DataFrame) -> int:
    cursor = conn.connection.driver_connection.cursor()
    columns = ", ".join(chunk.columns)
    staging = f"_load_{table}"
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
                   f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
    cursor.execute(f"TRUNCATE {staging}")
    with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(_csv_bytes(chunk))
    cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "
                   f"ON CONFLICT ({_CONFLICT_KEYS[table]}) DO NOTHING")
    return cursor.rowcount


def _csv_bytes(chunk: pd.DataFrame) -> bytes:
    """CSV of a chunk for COPY: every value quoted, nulls as bare empty fields (COPY's CSV null)."""
    table = pa.Table.from_pandas(chunk, preserve_index=False)
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    pacsv.write_csv(table, sink, write_options=options)
    return sink.getvalue()


def _utcnow() -> Any:
    from datetime import UTC, datetime
    return datetime.now(UTC)


# --- reading for analysis ----------------------------------------------------------------------------

ANALYSIS_COLUMNS = [
    "measured_at", "latitude", "longitude", "operator", "technology", "signal_dbm", "no_service",
    "download_mbps", "upload_mbps", "latency_ms", "accuracy_m", "device_id", "upload_id",
    "kelurahan_kode", "h3_cell",
]


def load_measurements(engine: Engine, city_kode: str, *, until: int | None = None,
                      operator: str | None = None, technology: str | None = None
                      ) -> pd.DataFrame:
    """A city's measurements as a DataFrame (columns :data:`ANALYSIS_COLUMNS`), time-ordered.

    ``until`` (UTC epoch seconds) keeps only measurements taken at or before it.  Bulk reads go
    through Arrow (ADBC on SQLite, COPY on PostgreSQL): a million rows in about a second.
    """
    table = Measurement.__table__
    query = city_measurements(city_kode, *(table.c[name] for name in ANALYSIS_COLUMNS))
    if until is not None:
        query = query.where(table.c.measured_at <= int(until))
    if operator:
        query = query.where(table.c.operator == operator)
    if technology:
        query = query.where(table.c.technology == technology)
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    arrow = (_read_postgres(engine, sql) if engine.dialect.name == "postgresql"
             else _read_sqlite(engine, sql))
    # Sorted here, not by the database: the table has no time B-tree (it would slow every ingest).
    order = pc.sort_indices(arrow, sort_keys=[("measured_at", "ascending")]) \
        if arrow.num_rows else None
    return _analysis_frame(arrow.take(order) if order is not None else arrow)


def _read_sqlite(engine: Engine, sql: str) -> pa.Table:
    """Through ADBC in a child process (see :mod:`webmap.sqlite_reader` for why not in ours)."""
    return read_arrow(engine.url.database, sql)


def _read_postgres(engine: Engine, sql: str) -> pa.Table:
    sink = io.BytesIO()
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER true)") as copy:
            for block in copy:
                sink.write(block)
    sink.seek(0)
    types = {"operator": pa.string(), "technology": pa.string(), "device_id": pa.string(),
             "kelurahan_kode": pa.string(), "no_service": pa.string()}
    return pacsv.read_csv(sink, convert_options=pacsv.ConvertOptions(
        column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False))


def _analysis_frame(arrow: pa.Table) -> pd.DataFrame:
    frame = arrow.to_pandas()
    if len(frame) == 0:
        frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in ANALYSIS_COLUMNS})
    for name in ("measured_at", "h3_cell", "upload_id"):
        frame[name] = frame[name].astype("int64")
    for name in ("latitude", "longitude", "signal_dbm", "download_mbps", "upload_mbps",
                 "latency_ms", "accuracy_m"):
        frame[name] = frame[name].astype("float64")
    no_service = frame["no_service"]
    if no_service.dtype == object or str(no_service.dtype) in ("str", "string"):
        no_service = no_service.astype(str).str.lower().isin(["t", "true", "1"])
    frame["no_service"] = no_service.astype(bool)
    for name in ("operator", "technology", "kelurahan_kode"):
        column = frame[name]
        if column.dtype.kind == "f":  # every value null (or no rows): read as numbers
            column = column.astype(object)
        frame[name] = column.fillna("").astype(str)
    frame["device_id"] = frame["device_id"].astype(object).where(frame["device_id"].notna(), None)
    return frame


def load_ookla_tiles(conn: Connection, city_kode: str) -> gpd.GeoDataFrame:
    """A city's Ookla tiles (EPSG:4326) with their test counts and speeds."""
    table = OoklaTile.__table__
    rows = conn.execute(sa.select(table).where(table.c.city_kode == city_kode)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows])
    if frame.empty:
        return gpd.GeoDataFrame({"quadkey": [], "period": [], "avg_d_mbps": [], "avg_u_mbps": [],
                                 "avg_lat_ms": [], "tests": [], "devices": [],
                                 "kelurahan_kode": []}, geometry=[], crs="EPSG:4326")
    geometry = [geometry_from_db(g) for g in frame.pop("geom")]
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def load_facilities(conn: Connection, city_kode: str) -> gpd.GeoDataFrame:
    """A city's facilities as points (EPSG:4326)."""
    table = Facility.__table__
    columns = [table.c[name] for name in ("id", "type", "nama", "status", "operator", "capacity",
                                          "kelurahan_kode", "longitude", "latitude", "source")]
    rows = conn.execute(sa.select(*columns).where(table.c.city_kode == city_kode)
                        .order_by(table.c.type, table.c.nama)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows],
                         columns=[c.name for c in columns])
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["longitude"],
                                                               frame["latitude"]),
                            crs="EPSG:4326")


def data_version(conn: Connection, city_kode: str) -> tuple[int, int, int]:
    """(boundary version, newest upload id, facility count): changes whenever the data does."""
    version = current_boundary_version(conn, city_kode)
    upload = Upload.__table__
    newest = conn.execute(sa.select(sa.func.max(upload.c.id))
                          .where(upload.c.city_kode == city_kode)).scalar() or 0
    facilities = conn.execute(sa.select(sa.func.count()).select_from(Facility)
                              .where(Facility.city_kode == city_kode)).scalar_one()
    return (version["id"] if version else 0, int(newest), int(facilities))
