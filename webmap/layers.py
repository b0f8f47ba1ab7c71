"""Constraint layers of a city in the database: importing, versions, loading for siting.

:func:`import_layer` archives a layer file, reads it with :func:`geo.layers.read_layer` (or checks
a DEM GeoTIFF with :func:`geo.terrain.read_dem_info`) against the city's current boundaries, and
stores it in one transaction as the next version of its kind: the previous version of that kind
becomes inactive but stays stored and listable.  Importing the file that is already the active
version changes nothing.  :func:`load_layers` gives the siting models the active (or named)
versions as GeoDataFrames, and :func:`layer_versions` names them for a scenario's provenance.
No Flask here: the CLI, the ``/lapisan`` page and the demo loader call these.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd
import shapely

from geo.errors import InputFileError, NotFoundError, Problem
from geo.layers import LAYER_KINDS, check_kind, read_layer
from geo.terrain import read_dem_info, write_with_crs
from webmap import store
from webmap.archive import ArchivedFile, archive_file, archive_folder
from webmap.database import geometry_from_db, geometry_to_db
from webmap.ingest import IngestOptions
from webmap.models import ConstraintFeature, ConstraintLayer

#: Columns of each frame :func:`load_layers` returns (``jenis`` only for ``bandara``).
LAYER_FRAME_COLUMNS = ("layer_id", "row", "nama", "properties", "geometry")

_LAYERS = ConstraintLayer.__table__
_FEATURES = ConstraintFeature.__table__
#: Columns of a layer listed by :func:`list_layers` (the stored report is left out).
_LISTED = ("id", "city_kode", "kind", "name", "version", "active", "created_at", "created_by",
           "source_name", "sha256", "archive_path", "source_crs", "feature_count")


def import_layer(engine: Engine, path: Path, kind: str, options: IngestOptions, *,
                 name: str | None = None, crs: str | None = None) -> dict[str, Any]:
    """Import a constraint-layer file as the next version of its kind for the city.

    Parameters
    ----------
    engine
        The database.
    path
        The layer file (vector, or a GeoTIFF for ``dem``).
    kind
        One of :data:`geo.layers.ALL_KINDS`.
    options
        City (``city_kode``; optional with one city), archive folder, who imports, and
        ``extra["original_name"]`` for an uploaded file.
    name
        The layer's name (default: the file name).
    crs
        CRS of the coordinates when the file declares none or a wrong one (``EPSG:32647``).

    Returns
    -------
    dict
        The report: ``city, kind, name, file, sha256, layer_id, version, previous_version,
        already_imported, rows, accepted, rejected, errors`` (rejected features: row, column,
        value, reason, code, params), ``notes`` and ``source_crs`` (``dem`` for a DEM's facts).

    Raises
    ------
    InputFileError, CRSError, NotFoundError
        Unknown kind, unreadable or empty layer, no usable feature, wrong CRS, unknown city or a
        city without boundaries; nothing is stored.
    """
    check_kind(kind)
    original = options.extra.get("original_name") or Path(path).name
    archived = archive_file(Path(path), options.archive_dir, original_name=original,
                            uploaded_by=options.uploaded_by)
    with engine.connect() as conn:
        city = store.get_city(conn, options.city_kode)
        kelurahan = store.load_kelurahan(conn, city["kode"])
    read = (_read_dem(archived, kelurahan, crs) if kind == "dem"
            else _read_vector(archived, kind, kelurahan, crs))
    report = {"city": city["kode"], "kind": kind, "name": (name or "").strip() or original,
              "file": original, "sha256": archived.sha256, **read["report"]}
    with engine.begin() as conn:
        return _store(conn, report, archived, read["frame"], options.uploaded_by)


def load_layers(conn: Connection, city_kode: str, *, kinds: Iterable[str] | None = None,
                layer_ids: Mapping[str, int] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The city's vector constraint layers as GeoDataFrames (EPSG:4326), by kind.

    Parameters
    ----------
    conn
        A database connection.
    city_kode
        The city.
    kinds
        Only these kinds (default: every vector kind that has a layer).
    layer_ids
        Kind -> layer id to load instead of the active version (re-running a saved scenario
        with the versions it used).

    Returns
    -------
    dict
        Kind -> features with :data:`LAYER_FRAME_COLUMNS` (and ``jenis``, ``turbojet`` /
        ``lainnya`` / None, for ``bandara``).  Kinds without a layer are absent; ``dem`` is never
        included (see :func:`dem_layer`).

    Raises
    ------
    NotFoundError
        A ``layer_ids`` entry that is not a layer of that kind in the city.
    """
    wanted = set(LAYER_KINDS if kinds is None else kinds) & set(LAYER_KINDS)
    chosen = {row["kind"]: row["id"] for row in _active_layers(conn, city_kode)
              if row["kind"] in wanted}
    for kind, layer_id in (layer_ids or {}).items():
        layer = _layer_of_city(conn, city_kode, int(layer_id))
        if layer["kind"] != kind:
            raise NotFoundError(f"Layer {layer_id} of city '{city_kode}' is a {layer['kind']} "
                                f"layer, not {kind}.")
        chosen[kind] = layer["id"]
    return {kind: _features(conn, layer_id, kind) for kind, layer_id in sorted(chosen.items())
            if kind in wanted}


def list_layers(conn: Connection, city_kode: str, *, include_inactive: bool = True
                ) -> list[dict[str, Any]]:
    """The city's layers (every version, or only the active ones), by kind, newest first."""
    query = sa.select(*(_LAYERS.c[c] for c in _LISTED)).where(_LAYERS.c.city_kode == city_kode)
    if not include_inactive:
        query = query.where(_LAYERS.c.active.is_(True))
    query = query.order_by(_LAYERS.c.kind, _LAYERS.c.version.desc())
    return [dict(row._mapping) for row in conn.execute(query)]


def layer_versions(conn: Connection, city_kode: str) -> dict[str, dict[str, Any]]:
    """The active version of each kind, for a scenario's provenance.

    Returns kind -> ``{"id", "version", "name", "sha256", "feature_count"}``.
    """
    return {row["kind"]: {key: row[key] for key in ("id", "version", "name", "sha256",
                                                    "feature_count")}
            for row in _active_layers(conn, city_kode)}


def get_layer(conn: Connection, city_kode: str, layer_id: int) -> dict[str, Any]:
    """One layer of the city with its stored import report.

    Raises
    ------
    NotFoundError
        When the city has no such layer.
    """
    return _layer_of_city(conn, city_kode, layer_id)


def dem_layer(conn: Connection, city_kode: str) -> dict[str, Any] | None:
    """The city's active DEM, None without one.

    Returns the layer's row plus ``path``: a GeoTIFF that declares its CRS, to give to
    :func:`geo.terrain.slope_percent` (the archived file itself, or, when the import named the
    CRS with ``crs=``, a copy declaring it beside the archived file).
    """
    row = next((row for row in _active_layers(conn, city_kode) if row["kind"] == "dem"), None)
    if row is None:
        return None
    report = _layer_of_city(conn, city_kode, row["id"])["report"]
    return row | {"path": Path(report.get("raster_path") or row["archive_path"])}


# --- reading -----------------------------------------------------------------------------------

def _read_vector(archived: ArchivedFile, kind: str, kelurahan: gpd.GeoDataFrame,
                 crs: str | None) -> dict[str, Any]:
    imported = read_layer(archived.path, kind, city=kelurahan, crs=crs,
                          source_name=archived.original_name)
    frame = imported.frame
    if kind == "bandara":
        frame = frame.assign(jenis=[p.get("jenis") for p in frame["properties"]])
    return {"frame": frame, "report": {
        "rows": imported.rows, "accepted": imported.accepted_rows,
        "rejected": imported.rows - imported.accepted_rows,
        "errors": [p.as_dict() for p in imported.problems],
        "notes": [n.as_dict() for n in imported.notes], "source_crs": imported.source_crs,
        "geometry_types": sorted(set(frame.geom_type))}}


def _read_dem(archived: ArchivedFile, kelurahan: gpd.GeoDataFrame, crs: str | None
              ) -> dict[str, Any]:
    info = read_dem_info(archived.path, crs=crs, source_name=archived.original_name)
    city_box = shapely.box(*kelurahan.total_bounds)
    if not shapely.box(*info.bounds_lonlat).intersects(city_box):
        raise InputFileError(
            f"{archived.original_name}: the elevation model does not cover the city (it spans "
            f"{_bounds_text(info.bounds_lonlat)}, the city {_bounds_text(kelurahan.total_bounds)}"
            "); check the file and its CRS",
            [Problem("DEM outside the city", file=archived.original_name, value=_bounds_text(
                info.bounds_lonlat))])
    report = {"rows": 0, "accepted": 0, "rejected": 0, "errors": [], "notes": [],
              "source_crs": info.crs, "dem": info.as_dict()}
    if crs:
        copy = archive_folder(archived) / f"{archived.path.stem}_{info.crs.replace(':', '')}.tif"
        if not copy.exists():
            write_with_crs(archived.path, copy, crs=crs)
        report["raster_path"] = str(copy)
    return {"frame": None, "report": report}


def _bounds_text(bounds: Iterable[float]) -> str:
    west, south, east, north = (float(v) for v in bounds)
    return f"lon {west:.4f}..{east:.4f}, lat {south:.4f}..{north:.4f}"


# --- storing -----------------------------------------------------------------------------------

def _store(conn: Connection, report: dict[str, Any], archived: ArchivedFile,
           frame: gpd.GeoDataFrame | None, created_by: str) -> dict[str, Any]:
    """Insert the layer as the kind's next version (unless it is the active one already)."""
    city_kode, kind = report["city"], report["kind"]
    active = next((row for row in _active_layers(conn, city_kode) if row["kind"] == kind), None)
    if active is not None and active["sha256"] == archived.sha256:
        return report | {"already_imported": True, "layer_id": active["id"],
                         "version": active["version"], "previous_version": None}
    version = conn.execute(sa.select(sa.func.max(_LAYERS.c.version)).where(
        _LAYERS.c.city_kode == city_kode, _LAYERS.c.kind == kind)).scalar_one_or_none() or 0
    conn.execute(sa.update(_LAYERS).where(_LAYERS.c.city_kode == city_kode, _LAYERS.c.kind == kind)
                 .values(active=False))
    report |= {"already_imported": False, "version": version + 1,
               "previous_version": active["version"] if active else None}
    layer_id = conn.execute(sa.insert(_LAYERS).values(
        city_kode=city_kode, kind=kind, name=report["name"][:200], version=version + 1,
        active=True, created_at=datetime.now(UTC), created_by=created_by,
        source_name=archived.original_name[:255], sha256=archived.sha256,
        archive_path=str(archived.path), source_crs=report["source_crs"][:60],
        feature_count=report["accepted"], report=report)).inserted_primary_key[0]
    if frame is not None:
        _insert_features(conn, int(layer_id), frame)
    return report | {"layer_id": int(layer_id)}


def _insert_features(conn: Connection, layer_id: int, frame: gpd.GeoDataFrame) -> None:
    dialect = conn.dialect.name
    conn.execute(sa.insert(_FEATURES), [
        {"layer_id": layer_id, "row": int(row), "nama": None if nama is None else str(nama)[:200],
         "properties": properties, "geom": geometry_to_db(dialect, geometry)}
        for row, nama, properties, geometry in zip(
            frame["row"], frame["nama"], frame["properties"], frame.geometry, strict=True)])


# --- loading -----------------------------------------------------------------------------------

def _active_layers(conn: Connection, city_kode: str) -> list[dict[str, Any]]:
    return list_layers(conn, city_kode, include_inactive=False)


def _layer_of_city(conn: Connection, city_kode: str, layer_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(_LAYERS).where(_LAYERS.c.id == layer_id,
                                                _LAYERS.c.city_kode == city_kode)).first()
    if row is None:
        raise NotFoundError(f"Layer {layer_id} does not exist in city '{city_kode}'.")
    return dict(row._mapping)


def _features(conn: Connection, layer_id: int, kind: str) -> gpd.GeoDataFrame:
    rows = conn.execute(sa.select(_FEATURES.c.layer_id, _FEATURES.c.row, _FEATURES.c.nama,
                                  _FEATURES.c.properties, _FEATURES.c.geom)
                        .where(_FEATURES.c.layer_id == layer_id).order_by(_FEATURES.c.row)).all()
    frame = gpd.GeoDataFrame(
        {"layer_id": pd.Series([r.layer_id for r in rows], dtype="int64"),
         "row": pd.Series([r.row for r in rows], dtype="int64"),
         "nama": pd.Series([r.nama for r in rows], dtype=object),
         "properties": pd.Series([r.properties or {} for r in rows], dtype=object)},
        geometry=[geometry_from_db(r.geom) for r in rows], crs="EPSG:4326")
    if kind == "bandara":
        frame["jenis"] = pd.Series([p.get("jenis") for p in frame["properties"]], dtype=object)
    return frame
