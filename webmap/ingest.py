"""Getting files into the database: boundaries, coverage measurements, Ookla tiles, facilities.

Each function archives the file first (nothing is ever lost), parses and validates it with
``geo``, tags points with their kelurahan and H3 cell, then writes everything in ONE transaction:
a crash or kill mid-ingest leaves no partial batch.  Re-ingesting a file, or rows already stored,
adds nothing and says so.  No Flask here: the CLI, the upload page and the benchmarks call these.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd
import shapely
# How hash_pandas_object combines the columns of a frame (tests pin the equality):
from pandas.core.util.hashing import combine_hash_arrays

from geo import settings
from geo.boundaries import read_boundaries
from geo.errors import N_, InputFileError, Problem
from geo.h3_cells import CellIndexer
from geo.facilities import read_facilities
from geo.kelurahan_lookup import KelurahanIndex, build_kelurahan_index
from geo.measurements import (MeasurementChunk, MeasurementReader, RejectedRowsWriter,
                              RejectionCounts, check_upload_size, detect_format, read_columns,
                              read_ookla_tiles)
from geo.projection import utm_crs_for
from webmap import store
from webmap.archive import ArchivedFile, archive_file, archive_folder
from webmap.bulk_write import BulkWriteError
from webmap.database import geometry_to_db
from webmap.models import Facility, Measurement, OoklaTile

Progress = Callable[[int], None]

_log = logging.getLogger(__name__)

@dataclass
class IngestOptions:
    """Who ingests into which city, and where the archive lives."""

    archive_dir: Path
    uploaded_by: str = "cli"
    city_kode: str | None = None
    now: datetime | None = None
    progress: Callable[[int, int], Progress] | None = None  # (total, unit) -> advance callback
    max_upload_bytes: int | None = None  # largest file accepted (None: settings.MAX_UPLOAD_BYTES)
    extra: dict[str, Any] = field(default_factory=dict)


# --- boundaries ------------------------------------------------------------------------------------

def import_boundaries(engine: Engine, path: Path, options: IngestOptions, **read_options: Any
                      ) -> dict[str, Any]:
    """Import a kelurahan boundary file as a new boundary version of its city.

    ``read_options`` go to :func:`geo.boundaries.read_boundaries` (field names, layer, city).
    Older versions are kept; measurements and facilities are re-tagged with the new kelurahan.
    """
    archived = archive_file(Path(path), options.archive_dir, uploaded_by=options.uploaded_by)
    imported = read_boundaries(archived.path, **read_options)
    kelurahan = imported.kelurahan
    reports = []
    with engine.begin() as conn:
        for kota_kode, city_frame in kelurahan.groupby("kota_kode", sort=True):
            reports.append(_import_city_boundaries(conn, archived, imported, str(kota_kode),
                                                   city_frame, options))
    return reports[0] if len(reports) == 1 else {"cities": reports}


def _import_city_boundaries(conn: Connection, archived: ArchivedFile, imported: Any,
                            kota_kode: str, frame: gpd.GeoDataFrame, options: IngestOptions
                            ) -> dict[str, Any]:
    nama = str(frame["kota"].dropna().iloc[0]) if frame["kota"].notna().any() else kota_kode
    created = store.ensure_city(conn, kode=kota_kode, nama=nama,
                                utm_epsg=int(utm_crs_for(frame).to_epsg()),
                                timezone=options.extra.get("timezone") or settings.DEFAULT_TIMEZONE)
    report: dict[str, Any] = {
        "city": kota_kode, "city_created": created, "file": archived.original_name,
        "sha256": archived.sha256, "kelurahan": int(len(frame)),
        "kecamatan": int(frame["kecamatan_kode"].nunique()), "source_crs": imported.source_crs,
        "field_map": imported.field_map, "notes": [n.as_dict() for n in imported.notes],
    }
    existing = store.find_boundary_version(conn, kota_kode, archived.sha256)
    if existing:
        return report | {"already_imported": True, "boundary_version": existing["id"],
                         "message": f"This file was already imported as boundary version "
                                    f"{existing['id']}; nothing changed."}
    previous = store.current_boundary_version(conn, kota_kode)
    version_id = store.insert_boundary_version(
        conn, frame, city_kode=kota_kode, source_name=archived.original_name,
        sha256=archived.sha256, archive_path=str(archived.path), imported_by=options.uploaded_by,
        report=report)
    report |= {"already_imported": False, "boundary_version": version_id,
               "changes": _boundary_changes(conn, kota_kode, previous, frame),
               "retagged": _retag_points(conn, kota_kode, frame)}
    moved = report["retagged"]
    report["message"] = (f"Imported {len(frame)} kelurahan of {nama} as boundary version "
                         f"{version_id}; {moved['measurement']} measurement(s) and "
                         f"{moved['facility']} facility(ies) changed kelurahan.")
    return report


def _boundary_changes(conn: Connection, city_kode: str, previous: dict | None,
                      frame: gpd.GeoDataFrame) -> dict[str, list[str]]:
    if previous is None:
        return {"added": sorted(frame["kode"]), "removed": []}
    old = set(store.load_kelurahan(conn, city_kode, version_id=previous["id"])["kode"])
    new = set(frame["kode"])
    return {"added": sorted(new - old), "removed": sorted(old - new)}


def _retag_points(conn: Connection, city_kode: str, kelurahan: gpd.GeoDataFrame
                  ) -> dict[str, int]:
    """Give stored measurements and facilities the kelurahan of the new boundaries; return how
    many rows of each table changed kelurahan (only those are written)."""
    index = build_kelurahan_index(kelurahan)
    counts = {}
    for table in (Measurement.__table__, Facility.__table__):
        rows = store.point_rows(conn, table, city_kode)
        codes = index.assign(rows["longitude"].to_numpy(), rows["latitude"].to_numpy())
        old = rows["kelurahan_kode"].to_numpy(dtype=object)
        same = (pd.isna(old) & pd.isna(codes)) | (old == codes)
        store.update_kelurahan_codes(conn, table, rows["id"].to_numpy()[~same], codes[~same])
        counts[table.name] = int((~same).sum())
    return counts


# --- coverage measurements -----------------------------------------------------------------------

def ingest_measurements(engine: Engine, path: Path, options: IngestOptions, *,
                        format: str = "auto", timezone: str | None = None,
                        period: str | None = None) -> dict[str, Any]:
    """Validate and store a coverage file; return the report (also stored with the upload).

    The report has ``format, rows, accepted, rejected, duplicates`` plus ``file``, ``sha256``,
    ``upload_id``, ``city``, ``already_ingested``, ``rejected_csv`` and ``message``;
    ``rows = accepted + rejected + duplicates``.  Of the problems it keeps ``errors_total``,
    ``errors_by_reason`` (counts) and ``errors``, the first ones as examples (see
    ``settings.REJECTED_EXAMPLES_*``): every rejected row, with its reasons, is in the
    ``rejected_csv`` beside the archived file, written as the rows are checked, so neither the
    memory an ingest needs nor the stored report grows with the number of bad rows.

    When the same file is being ingested at the same time, the one that gets the city's write
    lock second answers as for a file ingested before (``already_ingested``, the first upload's
    report).  A database failure raises :class:`webmap.store.StorageError` (the detail is
    logged, not shown).
    """
    path = Path(path)
    _check_size(path, options)
    name = options.extra.get("original_name")
    source = name or path.name
    data = _content_in_memory(path)
    # The file is archived (copied and hashed) in a thread while its format is detected, the
    # database writer starts (on SQLite a process, ~0.1 s) and the kelurahan index is built.
    started = None
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            archiving = pool.submit(archive_file, path, options.archive_dir, data=data,
                                    uploaded_by=options.uploaded_by, original_name=name)
            try:
                if format == "auto":
                    format = detect_format(read_columns(path, source_name=source), source=source)
                kind = "ookla" if format == "ookla" else "measurements"
                if kind == "measurements":
                    started = store.start_measurement_writer(engine)
                with engine.connect() as conn:
                    city = store.get_city(conn, options.city_kode)
                    kelurahan = store.load_kelurahan(conn, city["kode"])
            except BaseException:
                archiving.result()  # a refused file is archived too (or the archive's error shown)
                raise
            if kind == "measurements":
                index = pool.submit(build_kelurahan_index, kelurahan)
            archived = archiving.result()
            earlier = _earlier_upload(engine, archived, city, kind)
            if earlier is not None:
                return earlier
            if kind == "ookla":
                return _ingest_ookla(engine, archived, city, kelurahan, options, period=period)
            with store.measurement_write(engine, city["kode"], started) as writer:
                if not writer.upload_exists(archived.sha256):
                    reader = MeasurementReader(archived.path, format=format, data=data,
                                               timezone=timezone or city["timezone"],
                                               now=options.now, retain_rejected=False,
                                               source_name=archived.original_name)
                    return _store_measurements(writer, archived, city, index.result(), reader,
                                               options)
            # The same file was being ingested at the same time, and that ingest committed
            # while this one waited for the city's write lock.
            return _earlier_upload(engine, archived, city, kind)
    except (BulkWriteError, sa.exc.SQLAlchemyError) as error:
        raise _storage_error(source, error) from error
    finally:
        if started is not None:
            started.rollback()  # closes it when unused (nothing to undo after the commit)


def _content_in_memory(path: Path) -> bytes | None:
    """The file's content, read once to be archived, hashed and parsed from memory (the fastest
    way); ``None`` for a file over ``settings.INGEST_IN_MEMORY_MAX_BYTES``, which is archived,
    hashed and parsed from disk a block or a part at a time, so that memory stays bounded."""
    if path.stat().st_size > settings.INGEST_IN_MEMORY_MAX_BYTES:
        return None
    return path.read_bytes()


def _storage_error(source: str, error: Exception) -> store.StorageError:
    """The error to show when the database refused to store a file (the detail, which may hold
    SQL and driver messages, goes to the log only)."""
    _log.error("storing %s failed: %s", source, " ".join(str(error).split())[:2000])
    return store.StorageError.translatable(
        N_("File '%(file)s' tidak dapat disimpan karena basis data menolak penulisannya; tidak "
           "ada data yang disimpan. Coba unggah lagi; bila terulang, minta admin memeriksa log "
           "server."), file=source)


def _earlier_upload(engine: Engine, archived: ArchivedFile, city: dict, kind: str
                    ) -> dict[str, Any] | None:
    """The report to give when an earlier upload already ingested this very file."""
    with engine.connect() as conn:
        previous = store.find_upload(conn, city["kode"], kind, archived.sha256)
    return None if previous is None else _already_ingested(previous, archived)


def _check_size(path: Path, options: IngestOptions) -> None:
    """Refuse a missing file, and one over the upload limit (the message the web's 413 gives)."""
    source = options.extra.get("original_name") or path.name
    if not path.is_file():
        raise InputFileError.translatable(N_("File '%(file)s' tidak ditemukan."), file=source)
    check_upload_size(path.stat().st_size, source, limit=options.max_upload_bytes)


def _already_ingested(previous: dict, archived: ArchivedFile) -> dict[str, Any]:
    report = dict(previous["report"])
    return report | {
        "file": archived.original_name, "accepted": 0, "rejected": previous["rejected"],
        "duplicates": previous["accepted"] + previous["duplicates"], "already_ingested": True,
        "upload_id": previous["id"],
        "message": f"This file (SHA-256 {archived.sha256[:12]}…) was already ingested as upload "
                   f"{previous['id']} on {previous['uploaded_at']:%Y-%m-%d %H:%M}; nothing added.",
    }


def _store_measurements(writer: store.MeasurementWrite, archived: ArchivedFile, city: dict,
                        index: KelurahanIndex, reader: MeasurementReader,
                        options: IngestOptions) -> dict[str, Any]:
    """Validate, tag, de-duplicate and store the file's rows through ``writer``, chunk by chunk.

    Each chunk is read, validated and prepared here (kelurahan, H3 cell, content hash) while the
    database stores the previous ones.  Repeats within the file and of earlier uploads are held
    back as they come (an earlier upload's hashes are read once the file reaches its time
    span), so they are never written.  Whole-file checks (no data rows, swapped coordinates)
    run after the last chunk, before the commit, so a refused file stores nothing.
    """
    advance = options.progress(reader.expected_rows, "rows") if options.progress else None
    upload_id = writer.insert_upload(**_upload_values(city, "measurements", archived, options,
                                                      reader.format))
    rejected = RejectedRowsWriter(archive_folder(archived) / REJECTED_CSV_NAME,
                                  source=archived.original_name, delimiter=reader.delimiter)
    chunks = _MeasurementChunks(reader, index, city, advance, writer.stored_hashes(), rejected)
    try:
        accepted = writer.append(chunks.record_batches(upload_id))
        batch = reader.finish()
        _reject_if_swapped(batch, chunks, city)
    except BaseException:
        rejected.discard()  # nothing of a refused file is kept but the archived file
        raise
    rejected_csv = rejected.close()
    report = _base_report(batch, archived, city) | _rejection_report(rejected.summary())
    report |= {"upload_id": upload_id, "accepted": accepted,
               "duplicates": chunks.inside - accepted,
               "rejected_csv": str(rejected_csv) if rejected_csv else None}
    report["message"] = _summary(report)
    writer.finish_upload(upload_id, report, measured_from=chunks.first_time,
                         measured_until=chunks.last_time)
    return report


class _MeasurementChunks:
    """The accepted rows of a file as measurement record batches, prepared chunk by chunk.

    Each chunk gets its kelurahan (rows outside the city are held back), its content hash (rows
    seen earlier in the file, or ``stored`` by an earlier upload, are held back), then its H3
    cell; it is stored in time order (a file's chunks follow each other in file order).  Once
    the batches have been consumed, the counts of valid rows, of those ``inside`` the city and
    of those inside with latitude and longitude exchanged (``inside_swapped``), the first
    valid point and the time span of the rows handed out are known (nothing is kept per row).
    Each chunk's rejected rows, those outside the city included, go to ``rejected`` as they
    are found.
    """

    def __init__(self, reader: MeasurementReader, index: KelurahanIndex, city: dict,
                 progress: Progress | None, stored: store.StoredHashes,
                 rejected: RejectedRowsWriter) -> None:
        self.reader, self.index, self.progress = reader, index, progress
        self.city_kode = city["kode"]
        self.stored = stored
        self.rejected = rejected
        self._outside_reason = _outside_reason(city)
        self.first_time: int | None = None
        self.last_time: int | None = None
        self._kode = pa.array(index.kode, pa.string())
        self._cells = CellIndexer(settings.H3_RESOLUTION)  # one for the file: hexagons recur
        self._near_city = _near_bounds(index)
        self.first_point: tuple[float, float] | None = None  # latitude, longitude
        self.inside_swapped = 0  # valid rows inside the city once latitude and longitude swap
        self._progressed = 0
        self.valid = 0  # rows that passed the checks
        self.inside = 0  # valid rows inside the city

    def record_batches(self, upload_id: int) -> Iterator[pa.RecordBatch]:
        """Yield the rows to store, as :data:`webmap.store.MEASUREMENT_SCHEMA` batches."""
        seen = _SeenHashes()
        for chunk in self.reader.chunks():
            where = self.index.positions(chunk.longitude, chunk.latitude)
            self._count_swapped(chunk)
            self._write_rejected(chunk, where)
            inside = np.flatnonzero(where >= 0)
            self.valid += len(where)
            self.inside += len(inside)
            hashes = measurement_hashes(chunk, inside, self.city_kode)
            first = np.flatnonzero(seen.first_seen(hashes))
            if first.size:  # held back too: rows an earlier upload stored
                first = first[~self.stored.repeated(hashes[first],
                                                    chunk.measured_at[inside[first]])]
            if first.size:
                times = chunk.measured_at[inside[first]]
                if not np.all(times[1:] >= times[:-1]):  # field logs usually are in time order
                    first = first[np.argsort(times, kind="stable")]
                fresh, fresh_hashes = inside[first], hashes[first]
                low, high = (int(chunk.measured_at[fresh[i]]) for i in (0, -1))
                self.first_time = low if self.first_time is None else min(self.first_time, low)
                self.last_time = high if self.last_time is None else max(self.last_time, high)
                yield self._record_batch(chunk, fresh, where[fresh], fresh_hashes, upload_id)
            if self.progress:
                self.progress(chunk.lines)
                self._progressed += chunk.lines
        if self.progress and self._progressed < self.reader.expected_rows:
            self.progress(self.reader.expected_rows - self._progressed)  # blank lines

    def _count_swapped(self, chunk: MeasurementChunk) -> None:
        """Count the chunk's rows that fall inside the city with latitude and longitude
        exchanged; only the points whose exchanged position is near the city are looked up
        (in an ordinary file, none)."""
        lat, lon = chunk.latitude, chunk.longitude
        if self.first_point is None and len(lat):
            self.first_point = (float(lat[0]), float(lon[0]))
        west, south, east, north = self._near_city
        near = np.flatnonzero((lat >= west) & (lat <= east) & (lon >= south) & (lon <= north))
        if near.size:
            found = self.index.positions(lat[near], lon[near])
            self.inside_swapped += int(np.count_nonzero(found >= 0))

    def _write_rejected(self, chunk: MeasurementChunk, where: np.ndarray) -> None:
        """Hand the chunk's rejected rows, those outside the city included, to the rejected-rows
        writer (which keeps only counts and a few examples in memory)."""
        outside = np.flatnonzero(where < 0)
        found = chunk.rejected
        if outside.size:
            shown = [f"{y:.6f}, {x:.6f}" for y, x in zip(chunk.latitude[outside],
                                                          chunk.longitude[outside], strict=True)]
            late = chunk.reject(outside, column="latitude, longitude", values=np.array(shown),
                                reason=self._outside_reason)
            found = late if found is None else found.joined(late)
        if found is not None:
            self.rejected.add(found)

    def _record_batch(self, chunk: MeasurementChunk, take: np.ndarray, where: np.ndarray,
                      hashes: np.ndarray, upload_id: int) -> pa.RecordBatch:
        size = len(take)
        every = _is_everything(take, len(chunk))

        def pick(values: np.ndarray) -> np.ndarray:
            return values if every else values[take]

        lat, lon = pick(chunk.latitude), pick(chunk.longitude)
        columns = {
            "upload_id": pa.array(np.full(size, upload_id, dtype=np.int32)),
            "row_hash": pa.array(hashes), "measured_at": pa.array(pick(chunk.measured_at)),
            "latitude": pa.array(lat), "longitude": pa.array(lon),
            "no_service": pa.array(pick(chunk.no_service)),
            "kelurahan_kode": self._kode.take(where),
            "h3_cell": pa.array(self._cells.cells(lat, lon)),
            "operator": _take(chunk.operator, take), "technology": _take(chunk.technology, take),
            "device_id": _take(chunk.device_id, take),
        }
        for name in ("signal_dbm", "download_mbps", "upload_mbps", "latency_ms", "accuracy_m"):
            columns[name] = pa.array(pick(getattr(chunk, name)), from_pandas=True)
        return pa.RecordBatch.from_arrays([columns[f.name] for f in store.MEASUREMENT_SCHEMA],
                                          schema=store.MEASUREMENT_SCHEMA)


def _take(values: pa.Array, rows: np.ndarray) -> pa.Array:
    """``values[rows]``; no copy when ``rows`` is every position in order (the usual case)."""
    return values if _is_everything(rows, len(values)) else values.take(pa.array(rows))


def _is_everything(rows: np.ndarray, size: int) -> bool:
    """Whether ``rows`` is ``0, 1, ..., size - 1``."""
    return len(rows) == size and (size == 0 or (rows[0] == 0 and rows[-1] == size - 1 and
                                                bool((np.diff(rows) == 1).all())))


class _SeenHashes:
    """The content hashes met so far in a file, chunk by chunk (vectorised, no Python loop).

    Each chunk's new hashes are kept as a sorted array; a bitmap of their top bits (2**23
    flags, ~1% filled per 100,000 hashes) tells which hashes of a later chunk may repeat one,
    and only those are looked up in the arrays.
    """

    FLAG_BITS = 23

    def __init__(self) -> None:
        self.flags = np.zeros(1 << self.FLAG_BITS, dtype=bool)
        self.chunks: list[np.ndarray] = []

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of the hashes seen for the first time (the first of equal ones); remember them."""
        if len(hashes) == 0:
            return np.zeros(0, dtype=bool)
        order = np.argsort(hashes)  # not stable: the first of equal ones is found below
        ordered = hashes[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        unique, first = ordered[starts], np.minimum.reduceat(order, starts)
        flag = (unique.view(np.uint64) >> np.uint64(64 - self.FLAG_BITS)).astype(np.intp)
        maybe = np.flatnonzero(self.flags[flag])
        known = np.zeros(len(unique), dtype=bool)
        if maybe.size:
            values = unique[maybe]  # sorted
            for stored in self.chunks:
                where = np.minimum(np.searchsorted(stored, values), len(stored) - 1)
                known[maybe] |= stored[where] == values
        self.flags[flag] = True
        if not known.all():
            self.chunks.append(unique[~known])
        mask = np.zeros(len(hashes), dtype=bool)
        mask[first[~known]] = True
        return mask


def _upload_values(city: dict, kind: str, archived: ArchivedFile, options: IngestOptions,
                   file_format: str) -> dict[str, Any]:
    return {"city_kode": city["kode"], "kind": kind, "sha256": archived.sha256,
            "original_name": archived.original_name, "archive_path": str(archived.path),
            "size_bytes": archived.size_bytes, "uploaded_by": options.uploaded_by,
            "format": file_format}


_HASH_COLUMNS = ["measured_at", "latitude", "longitude", "operator", "technology", "signal_dbm",
                 "no_service", "device_id"]


def measurement_hashes(chunk: MeasurementChunk, rows: np.ndarray, city_kode: str) -> np.ndarray:
    """A 64-bit content hash per observation (``rows`` of a chunk): stored only once.

    The hash is ``pandas.util.hash_pandas_object(frame, index=False)`` of the
    :data:`_HASH_COLUMNS` (coordinates rounded to 1e-6 degrees, ~0.1 m, so re-exports with
    different float formatting still match; a missing device id as "") plus the city code: the
    definition the stored ``row_hash`` values follow.  It is computed column by column, each
    text column once per distinct value, which gives the same numbers in a fraction of the time.
    """
    def texts(values: pa.Array) -> np.ndarray:
        coded = pc.dictionary_encode(_take(values, rows))
        distinct = np.asarray(coded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        return pd.util.hash_array(distinct)[coded.indices.to_numpy(zero_copy_only=False)]

    columns = [
        pd.util.hash_array(chunk.measured_at[rows]),
        pd.util.hash_array(chunk.latitude[rows].round(6)),
        pd.util.hash_array(chunk.longitude[rows].round(6)),
        texts(chunk.operator), texts(chunk.technology),
        pd.util.hash_array(chunk.signal_dbm[rows]), pd.util.hash_array(chunk.no_service[rows]),
        texts(pc.fill_null(chunk.device_id, "")),
        np.full(len(rows), pd.util.hash_array(np.array([city_kode], dtype=object))[0]),
    ]
    return combine_hash_arrays(iter(columns), len(columns)).view(np.int64)


def _reject_if_swapped(batch: Any, chunks: _MeasurementChunks, city: dict) -> None:
    """Reject the whole file when its latitude and longitude columns are exchanged.

    (Latitudes beyond 90 degrees are caught by the reader; this catches the case where both
    orders are valid degrees but only the exchanged one falls in the city.)
    """
    if chunks.valid == 0 or chunks.inside / chunks.valid >= settings.SWAPPED_COORDINATE_SHARE:
        return
    inside_swapped = chunks.inside_swapped / chunks.valid
    if inside_swapped >= settings.SWAPPED_COORDINATE_SHARE:
        lat, lon = chunks.first_point
        raise InputFileError(
            f"'{batch.source}': latitude and longitude look swapped for the whole file (e.g. "
            f"latitude {lat:g}, longitude {lon:g}); exchanged, {inside_swapped:.0%} of the "
            f"points fall inside {city['nama']}. Exchange the two column names and upload "
            "again; nothing was stored.")


def _near_bounds(index: KelurahanIndex) -> tuple[float, float, float, float]:
    """The city's bounds in degrees (west, south, east, north), widened by a margin well over
    the sliver tolerance (four times it, a degree taken as 111.32 km: Indonesia lies within 11
    degrees of the equator): no point farther out can be assigned a kelurahan."""
    tolerance_m = index.tolerance_m if index.tolerance_m is not None else \
        settings.SLIVER_TOLERANCE_M
    margin = max(0.05, 4 * tolerance_m / 111_320)
    west, south, east, north = shapely.total_bounds(index.polygons)
    return west - margin, south - margin, east + margin, north + margin


def _reject_outside(batch: Any, rows: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                    city: dict) -> None:
    """Move the valid rows outside the city (beyond the sliver tolerance of every kelurahan;
    line numbers and coordinates) to the rejected rows."""
    reason = _outside_reason(city)
    batch.reject(rows, [
        Problem(reason=reason, file=batch.source, row=int(r), column="latitude, longitude",
                value=f"{y:.6f}, {x:.6f}")
        for r, y, x in zip(rows, lat, lon, strict=True)])


def _outside_reason(city: dict) -> str:
    """Why a valid row is rejected when it lies outside the city."""
    return (f"outside the kelurahan boundaries of {city['nama']} "
            f"(more than {settings.SLIVER_TOLERANCE_M:g} m from any kelurahan)")


def _insert_upload(conn: Connection, city: dict, kind: str, archived: ArchivedFile,
                   options: IngestOptions, file_format: str) -> int:
    """Record the upload of an archived file (its counts are filled in when the rows are in)."""
    return store.insert_upload(conn, **_upload_values(city, kind, archived, options,
                                                      file_format))


def _base_report(batch: Any, archived: ArchivedFile, city: dict) -> dict[str, Any]:
    """The report's figures of a file read (its rejections come from :func:`_rejection_report`)."""
    return {
        "format": batch.format, "file": archived.original_name, "sha256": archived.sha256,
        "city": city["kode"], "rows": int(batch.rows), "accepted": 0, "duplicates": 0,
        "already_ingested": False,
    }


def _rejection_report(summary: dict[str, Any]) -> dict[str, Any]:
    """The report's account of the rejected rows: ``rejected`` (rows), ``errors`` (the first
    problems, as examples), ``errors_total`` (every problem) and ``errors_by_reason``."""
    return {"rejected": summary["rejected"], "errors": summary["errors"],
            "errors_total": summary["problems"], "errors_by_reason": summary["by_reason"]}


def _write_rejected(batch: Any, archived: ArchivedFile) -> str | None:
    """Write the rejected rows (original text plus reasons) beside the archived file."""
    if len(batch.rejected_rows) == 0:
        return None
    target = archive_folder(archived) / REJECTED_CSV_NAME
    batch.write_rejected_csv(target)
    return str(target)


#: The rejected rows of an upload, beside its archived file.
REJECTED_CSV_NAME = "rejected_rows.csv"


def _summary(report: dict[str, Any]) -> str:
    return (f"{report['rows']} rows read: {report['accepted']} stored, {report['rejected']} "
            f"rejected, {report['duplicates']} already stored (duplicates).")


# --- Ookla tiles -----------------------------------------------------------------------------------

def _ingest_ookla(engine: Engine, archived: ArchivedFile, city: dict, kelurahan: gpd.GeoDataFrame,
                  options: IngestOptions, *, period: str | None) -> dict[str, Any]:
    batch = read_ookla_tiles(archived.path, period=period, source_name=archived.original_name)
    centroids = shapely.centroid(batch.frame.geometry.to_numpy())
    index = build_kelurahan_index(kelurahan, tolerance_m=OOKLA_TILE_TOLERANCE_M)
    codes = index.assign(shapely.get_x(centroids), shapely.get_y(centroids))
    batch.frame["latitude"], batch.frame["longitude"] = shapely.get_y(centroids), \
        shapely.get_x(centroids)
    outside = batch.frame[pd.isna(codes)]
    _reject_outside(batch, outside["row"].to_numpy(), outside["latitude"].to_numpy(),
                    outside["longitude"].to_numpy(), city)
    tiles = batch.frame.copy()
    tiles["kelurahan_kode"] = codes[pd.notna(codes)]
    report = _base_report(batch, archived, city)
    report |= _rejection_report(_bounded_rejections(batch))
    try:
        with engine.begin() as conn:
            upload_id = _insert_upload(conn, city, "ookla", archived, options, "ookla")
            accepted = _insert_tiles(conn, tiles, city["kode"], upload_id)
            report |= {"upload_id": upload_id, "accepted": accepted,
                       "duplicates": len(tiles) - accepted,
                       "rejected_csv": _write_rejected(batch, archived)}
            report["message"] = _summary(report)
            store.finish_upload(conn, upload_id, report)
    except sa.exc.IntegrityError:  # the same file, ingested at the same time, came first
        earlier = _earlier_upload(engine, archived, city, "ookla")
        if earlier is None:
            raise
        return earlier
    return report


def _bounded_rejections(batch: Any) -> dict[str, Any]:
    """Counts and examples of a whole batch's problems (so that a stored report stays small,
    as a measurement upload's)."""
    counts = RejectionCounts(batch.source)
    counts.add_problems(batch.problems)
    return counts.summary(len(batch.rejected_rows))


#: Ookla zoom-16 tiles are ~600 m wide: a tile whose centre lies this close to the city counts.
OOKLA_TILE_TOLERANCE_M = 450.0


def _insert_tiles(conn: Connection, tiles: gpd.GeoDataFrame, city_kode: str, upload_id: int
                  ) -> int:
    table = OoklaTile.__table__
    known = {(q, p) for q, p in conn.execute(sa.select(table.c.quadkey, table.c.period)
                                             .where(table.c.city_kode == city_kode))}
    records = [
        {"upload_id": upload_id, "city_kode": city_kode, "quadkey": t.quadkey,
         "period": t.period or "", "avg_d_mbps": float(t.avg_d_mbps),
         "avg_u_mbps": float(t.avg_u_mbps), "avg_lat_ms": float(t.avg_lat_ms),
         "tests": int(t.tests), "devices": int(t.devices), "kelurahan_kode": t.kelurahan_kode,
         "geom": geometry_to_db(conn.dialect.name, t.geometry)}
        for t in tiles.itertuples(index=False) if (t.quadkey, t.period or "") not in known
    ]
    unique = list({(r["quadkey"], r["period"]): r for r in records}.values())
    if unique:
        conn.execute(sa.insert(table), unique)
    return len(unique)


# --- facilities --------------------------------------------------------------------------------------

def import_facilities(engine: Engine, path: Path, options: IngestOptions, **read_options: Any
                      ) -> dict[str, Any]:
    """Import facility points (CSV, GeoJSON/GeoPackage, OpenCelliD) into a city.

    ``read_options`` go to :func:`geo.facilities.read_facilities` (``facility_type``, ``status``,
    ``crs``, ``format``).  Facilities already stored (same ``external_id``, or same type, name
    and position) are counted as duplicates.
    """
    archived = archive_file(Path(path), options.archive_dir, uploaded_by=options.uploaded_by,
                            original_name=options.extra.get("original_name"))
    with engine.connect() as conn:
        city = store.get_city(conn, options.city_kode)
        previous = store.find_upload(conn, city["kode"], "facilities", archived.sha256)
        if previous is not None:
            return _already_ingested(previous, archived)
        kelurahan = store.load_kelurahan(conn, city["kode"])
    batch = read_facilities(archived.path, near=tuple(kelurahan.total_bounds),
                            source_name=archived.original_name, **read_options)
    too_long, problems = _too_long_facility_texts(batch.frame, batch.source)
    frame = batch.frame.loc[~too_long].reset_index(drop=True)
    codes = build_kelurahan_index(kelurahan).assign(np.asarray(frame.geometry.x),
                                                    np.asarray(frame.geometry.y))
    rows = facility_rows(frame, codes, city["kode"])
    counts = RejectionCounts(batch.source)
    counts.add_problems(sorted([*batch.problems, *problems], key=lambda p: p.row or 0))
    report = _base_report(batch, archived, city)
    report |= _rejection_report(counts.summary(len(batch.rejected_rows) + int(too_long.sum())))
    report["notes"] = [n.as_dict() for n in batch.notes]
    report["outside_kelurahan"] = int(pd.isna(codes).sum())
    with engine.begin() as conn:
        upload_id = _insert_upload(conn, city, "facilities", archived, options, batch.format)
        rows["upload_id"] = upload_id
        accepted = store.insert_facilities(conn, rows[store.FACILITY_COLUMNS])
        report |= {"upload_id": upload_id, "accepted": accepted,
                   "duplicates": len(rows) - accepted,
                   "already_ingested": accepted == 0 and len(rows) > 0}
        report["message"] = _summary(report)
        store.finish_upload(conn, upload_id, report)
    return report


def _too_long_facility_texts(frame: gpd.GeoDataFrame, source: str
                             ) -> tuple[np.ndarray, list[Problem]]:
    """Facility rows with a text longer than its column holds (``settings.MAX_FACILITY_*``):
    the mask of those rows and one problem per text."""
    limits = {"nama": ("name", settings.MAX_FACILITY_NAME_CHARS),
              "operator": ("operator", settings.MAX_FACILITY_OPERATOR_CHARS),
              "external_id": ("external id", settings.MAX_FACILITY_EXTERNAL_ID_CHARS)}
    too_long = np.zeros(len(frame), dtype=bool)
    problems = []
    for column, (label, limit) in limits.items():
        lengths = frame[column].astype("string").str.len().fillna(0).to_numpy()
        over = lengths > limit
        too_long |= over
        problems += [Problem(reason=f"{label} is longer than {limit} characters; shorten it",
                             file=source, row=int(row), column=column,
                             value=_clipped_text(str(value)))
                     for row, value in zip(frame["row"][over], frame[column][over], strict=True)]
    return too_long, problems


def _clipped_text(text: str) -> str:
    """A value as a problem shows it: at most ``settings.REJECTED_EXAMPLE_VALUE_CHARS``
    characters."""
    limit = settings.REJECTED_EXAMPLE_VALUE_CHARS
    return text if len(text) <= limit else f"{text[:limit]}…"


def facility_rows(frame: gpd.GeoDataFrame, codes: np.ndarray, city_kode: str) -> pd.DataFrame:
    """Return the ``facility`` table rows of a facility frame (as read by ``read_facilities``).

    ``codes`` is each point's kelurahan code (or ``None``), ``city_kode`` the city they belong
    to.  ``dedup_key`` is the external id when there is one, else type|name|lon|lat (rounded to
    5 decimals); ``upload_id`` is left for the caller to set.
    """
    rows = pd.DataFrame({
        "city_kode": city_kode, "type": frame["type"], "nama": frame["nama"],
        "status": frame["status"], "operator": frame["operator"],
        "capacity": frame["capacity"].astype("float64"),
        "range_m": _optional(frame, "range_m"),
        "samples": pd.array(_optional(frame, "samples"), dtype="Float64").round().astype("Int64"),
        "source": frame["source"], "external_id": frame["external_id"],
        "latitude": np.asarray(frame.geometry.y), "longitude": np.asarray(frame.geometry.x),
        "kelurahan_kode": codes,
    })
    position_key = (rows["type"] + "|" + rows["nama"].str.lower() + "|"
                    + rows["longitude"].round(5).astype(str) + "|"
                    + rows["latitude"].round(5).astype(str))
    keys = rows["external_id"].where(rows["external_id"].notna(), position_key)
    rows["dedup_key"] = keys.map(_fitting_key)
    return rows


#: Length of ``facility.dedup_key``.
_DEDUP_KEY_CHARS = 160


def _fitting_key(key: str) -> str:
    """A de-duplication key that fits its column: a long one (a long name) by its SHA-1."""
    if len(key) <= _DEDUP_KEY_CHARS:
        return key
    return "sha1:" + hashlib.sha1(key.encode()).hexdigest()


def _optional(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column in frame:
        return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
    return np.full(len(frame), np.nan)
