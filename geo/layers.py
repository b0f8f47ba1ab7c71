"""Constraint layers for siting: rivers, water bodies, protected and flood-prone land, airports,
roads, settlements, usable land and drinking-water sources, read from the files cities have.

:func:`read_layer` reads one vector file (GeoJSON, GeoPackage, zipped Shapefile, FlatGeobuf) in
any CRS for one *kind* (:data:`LAYER_KINDS`) and returns its features in EPSG:4326 with a ``nama``
column and the file's own attributes kept as JSON-ready ``properties``.  Each kind takes certain
geometry families (a road is a line, a lake an area, an airport a point or an area); a feature
that is empty, of the wrong family, or beyond :data:`OUTSIDE_TOLERANCE_M` of the city's
boundaries is rejected and reported with its feature number, value and reason, like the other
importers do; the rest of the file is kept.  Invalid polygons are repaired with ``make_valid``
and the repair is reported.

Coordinates are never placed by assumption: a file whose coordinates are plainly metres while it
declares no CRS (or longitude/latitude, as every GeoJSON does) is refused with a ``CRSError`` that
suggests the UTM zone (:mod:`geo.projection`); ``crs=`` overrides what the file declares.

Every problem is a :class:`LayerProblem`: a :class:`geo.errors.Problem` that also carries a
reason ``code`` and its ``params``, so that the web layer can word the reason in the user's
language (the English ``reason`` is :data:`REASONS` filled with the params).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import pyogrio
import pyproj
import shapely

from geo.errors import CRSError, InputFileError, Problem
from geo.projection import (
    WGS84,
    candidate_utm_crs,
    guess_projected_crs,
    looks_like_lonlat,
    utm_zone_crs,
)

POINT, LINE, POLYGON = "titik", "garis", "area"

#: Each vector kind and the geometry families it takes.
LAYER_KINDS: dict[str, tuple[str, ...]] = {
    "sungai": (LINE, POLYGON),          # rivers: centre lines or river polygons
    "badan_air": (POLYGON,),            # lakes, reservoirs, sea
    "kawasan_lindung": (POLYGON,),      # protected areas
    "rawan_banjir": (POLYGON,),         # flood-prone land
    "bandara": (POINT, POLYGON),        # airports: a point or the aerodrome area
    "jalan": (LINE,),                   # roads
    "permukiman": (POLYGON, POINT),     # settlements: areas or village centres
    "lahan": (POLYGON,),                # land that may be used: government plots, parcels
    "sumber_air": (POINT, POLYGON),     # drinking-water sources: wells, intakes, springs
}

#: Raster kinds, read by :mod:`geo.terrain` (``dem``: a GeoTIFF elevation model).
RASTER_KINDS: tuple[str, ...] = ("dem",)

#: Every kind ``import-layer`` accepts.
ALL_KINDS: tuple[str, ...] = (*LAYER_KINDS, *RASTER_KINDS)

#: A feature farther than this from the union of the city's kelurahan, in metres, is rejected as
#: outside the city.  5 km is more than the largest siting buffer (3,000 m around a turbojet
#: airport, SNI 03-3241-1994), so an airport or river just beyond the boundary that still
#: constrains land inside the city is kept.  City policy, not regulation; candidate for
#: ``geo/settings.py``.
OUTSIDE_TOLERANCE_M = 5_000.0

#: Attribute names read as a feature's name (case-insensitive, first match wins).
NAME_FIELDS = ("nama", "name", "namobj", "nama_objek", "nama_sungai", "nama_jalan", "nama_lahan",
               "nama_bandara", "label")

#: ``bandara``: the attribute saying whether turbojet aircraft use the airport, and how its
#: values are read (the distance rules differ: 3,000 m turbojet, 1,500 m other aircraft).
AIRPORT_CLASS_FIELD = "jenis"
AIRPORT_CLASSES = ("turbojet", "lainnya")
AIRPORT_CLASS_SYNONYMS: dict[str, str] = {
    "turbojet": "turbojet", "jet": "turbojet", "pesawatjet": "turbojet",
    "lainnya": "lainnya", "lain": "lainnya", "other": "lainnya", "nonturbojet": "lainnya",
    "nonjet": "lainnya", "propeller": "lainnya", "baling": "lainnya", "balingbaling": "lainnya",
    "perintis": "lainnya",
}

#: File name endings :func:`read_layer` reads.
SUPPORTED_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".fgb")

#: Columns of :attr:`LayerImport.frame`, in order.
FRAME_COLUMNS = ("row", "nama", "properties", "geometry")

#: English wording of each reason ``code`` (``%(name)s`` filled from the problem's params).
REASONS: dict[str, str] = {
    "empty": "empty geometry",
    "wrong_type": "is a %(found)s; a %(kind)s layer takes %(allowed)s",
    "outside": "outside the city: %(distance_km)s km from its boundary (more than "
               "%(tolerance_km)s km); check the coordinates and the CRS",
    "repaired": "invalid geometry (%(detail)s) repaired with make_valid",
    "lost": "invalid geometry with nothing of a %(allowed)s left after repair",
    "airport_class": "unknown airport class; use %(classes)s (the rule for other aircraft is "
                     "applied while it is unknown)",
    "no_crs": "the file declares no CRS; its coordinates are longitude/latitude, so EPSG:4326 "
              "was assumed",
    "crs_given": "CRS %(crs)s used as given instead of the file's %(declared)s",
    "crs_set": "CRS %(crs)s used as given (the file declares none)",
    "reprojected": "reprojected from %(crs)s to EPSG:4326",
    "first_layer": "read layer %(layer)s, the first of %(count)s layers (%(layers)s)",
    "reader": "reader warning: %(detail)s",
}

_FAMILY_OF_TYPE = {"Point": POINT, "MultiPoint": POINT, "LineString": LINE,
                   "LinearRing": LINE, "MultiLineString": LINE, "Polygon": POLYGON,
                   "MultiPolygon": POLYGON}
_FAMILY_NAMES = {POINT: "points", LINE: "lines", POLYGON: "polygons"}


@dataclass(frozen=True)
class LayerProblem(Problem):
    """A :class:`Problem` with a reason ``code`` (a key of :data:`REASONS`) and its ``params``."""

    code: str = ""
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class LayerImport:
    """The features read from one constraint-layer file and everything said about them.

    Attributes
    ----------
    kind
        The layer kind (a key of :data:`LAYER_KINDS`).
    source
        File name used in messages.
    rows
        Features in the file.
    frame
        Accepted features in EPSG:4326 with :data:`FRAME_COLUMNS`: ``row`` is the 1-based feature
        number in the file, ``nama`` the feature's name (None without a name field),
        ``properties`` a dict of the file's attributes as JSON-ready values (for ``bandara`` its
        ``jenis`` is ``turbojet``, ``lainnya`` or None).
    problems
        One entry per rejected feature (row, column, value, reason).
    notes
        Repairs and choices the reader made (CRS assumed or reprojected, geometry repaired...).
    source_crs
        The CRS the coordinates were read in, as text (e.g. ``EPSG:32647``).
    """

    kind: str
    source: str
    rows: int
    frame: gpd.GeoDataFrame
    problems: list[LayerProblem] = field(default_factory=list)
    notes: list[LayerProblem] = field(default_factory=list)
    source_crs: str = "EPSG:4326"

    @property
    def accepted_rows(self) -> int:
        """Number of features in ``frame``."""
        return len(self.frame)


def check_kind(kind: str, *, kinds: tuple[str, ...] = ALL_KINDS) -> str:
    """Return ``kind`` when it is one of ``kinds``; else raise an error listing the valid ones.

    Raises
    ------
    InputFileError
        For an empty or unknown kind.
    """
    if kind not in kinds:
        raise InputFileError(f"unknown layer kind {kind!r}; valid kinds: {', '.join(kinds)}",
                             [Problem("unknown layer kind", column="kind", value=kind)])
    return kind


def read_layer(
    path: str | Path,
    kind: str,
    *,
    city: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    crs: Any = None,
    tolerance_m: float | None = None,
    source_name: str | None = None,
) -> LayerImport:
    """Read a constraint layer of one kind from a vector file in any CRS.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage (first layer), zipped Shapefile or FlatGeobuf file.
    kind
        One of :data:`LAYER_KINDS`.
    city
        The city's kelurahan boundaries (any CRS).  Features farther than ``tolerance_m`` from
        them are rejected; they also let a UTM zone be suggested for a file without a CRS.
    crs
        CRS the coordinates are written in (e.g. ``"EPSG:32647"``), overriding the file's.
    tolerance_m
        Distance beyond the city boundary still accepted, in metres (default
        :data:`OUTSIDE_TOLERANCE_M`).
    source_name
        File name for messages (default: the file's name).

    Returns
    -------
    LayerImport
        Accepted features in EPSG:4326 with the rejected ones and the notes.

    Raises
    ------
    InputFileError
        Unknown kind, unreadable or empty file, or no usable feature at all (every problem is
        listed).
    CRSError
        Coordinates that do not fit the CRS declared (or given), or an unknown ``crs``.
    """
    path = Path(path)
    source = source_name or path.name
    check_kind(kind, kinds=tuple(LAYER_KINDS))
    frame, notes = _read_frame(path, source)
    frame, source_crs, crs_notes = _to_lonlat(frame, _parse_crs(crs, source), city, source)
    rows = np.arange(1, len(frame) + 1)
    geoms, problems, repair_notes = _clean_geometry(
        np.asarray(frame.geometry.array, dtype=object), rows, kind, source)
    if city is not None:
        tolerance = OUTSIDE_TOLERANCE_M if tolerance_m is None else float(tolerance_m)
        problems += _outside_problems(geoms, rows, city, tolerance, source)
    keep = ~np.isin(rows, [p.row for p in problems])
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    properties, class_notes = _properties(attributes, kind, keep, rows, source)
    if not keep.any():
        raise InputFileError(f"{source}: no feature of the {kind} layer could be read; every "
                             "feature has a problem", problems)
    result = gpd.GeoDataFrame(
        {"row": rows[keep], "nama": pd.Series(_names(attributes)[keep], dtype=object),
         "properties": [properties[i] for i in np.flatnonzero(keep)]},
        geometry=list(geoms[keep]), crs=WGS84)
    return LayerImport(kind=kind, source=source, rows=len(frame), frame=result,
                       problems=sorted(problems, key=lambda p: p.row or 0),
                       notes=notes + crs_notes + repair_notes + class_notes,
                       source_crs=source_crs)


def airport_class(value: Any) -> str | None:
    """``turbojet`` or ``lainnya`` for an airport's class attribute, None when blank or unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    key = "".join(ch for ch in str(value).lower() if ch.isalnum())
    return AIRPORT_CLASS_SYNONYMS.get(key)


def _problem(code: str, *, source: str, row: int | None = None, column: str | None = None,
             value: Any = None, **params: Any) -> LayerProblem:
    return LayerProblem(REASONS[code] % params, file=source, row=row, column=column, value=value,
                        code=code, params=params)


# --- reading -----------------------------------------------------------------------------------

def _read_frame(path: Path, source: str) -> tuple[gpd.GeoDataFrame, list[LayerProblem]]:
    """The features of the file's first layer; reader warnings and layer choice as notes."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputFileError(f"{source}: unsupported layer file type '{path.suffix}'; use "
                             "GeoJSON, GeoPackage, a zipped Shapefile (.zip) or FlatGeobuf (.fgb)")
    if not path.is_file():
        raise InputFileError(f"{source}: file not found")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layers = pyogrio.list_layers(path)
            frame = gpd.read_file(path, engine="pyogrio", layer=layers[0][0])
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, IndexError, ValueError) as error:
        raise InputFileError(f"{source}: cannot be read as a vector layer (GeoJSON, GeoPackage, "
                             f"zipped Shapefile, FlatGeobuf): {error}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or len(frame) == 0:
        raise InputFileError(f"{source}: the layer holds no features; valid kinds: "
                             f"{', '.join(ALL_KINDS)}", [Problem("no features", file=source)])
    notes = [_problem("reader", source=source, detail=str(w.message)) for w in caught]
    if len(layers) > 1:
        notes.append(_problem("first_layer", source=source, layer=str(layers[0][0]),
                              count=len(layers), layers=", ".join(str(n) for n in layers[:, 0])))
    return frame, notes


def _parse_crs(crs: Any, source: str) -> pyproj.CRS | None:
    if crs is None or crs == "":
        return None
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        raise CRSError(f"{source}: unknown CRS {crs!r}; give an EPSG code such as EPSG:4326 or "
                       "EPSG:32647") from None


# --- coordinate reference system ---------------------------------------------------------------

def _to_lonlat(frame: gpd.GeoDataFrame, given: pyproj.CRS | None, city: Any, source: str
               ) -> tuple[gpd.GeoDataFrame, str, list[LayerProblem]]:
    """Reproject to EPSG:4326 after checking that the coordinates fit the CRS they are read in."""
    declared = pyproj.CRS.from_user_input(frame.crs) if frame.crs is not None else None
    crs = given or declared
    xy = shapely.get_coordinates(np.asarray(frame.geometry.array, dtype=object))
    if len(xy):
        _check_fits(xy[:, 0], xy[:, 1], crs, given is not None, city, source)
    notes = []
    if given is not None and declared is not None:
        notes.append(_problem("crs_given", source=source, crs=_crs_name(given),
                              declared=_crs_name(declared)))
    elif given is not None:
        notes.append(_problem("crs_set", source=source, crs=_crs_name(given)))
    elif declared is None:
        notes.append(_problem("no_crs", source=source))
    if crs is None or crs.is_geographic and crs.equals(WGS84):
        frame = frame.set_crs(WGS84, allow_override=True)
        return frame, "EPSG:4326", notes
    if given is None:
        notes.append(_problem("reprojected", source=source, crs=_crs_name(crs)))
    return frame.set_crs(crs, allow_override=True).to_crs(WGS84), _crs_name(crs), notes


def _check_fits(x: np.ndarray, y: np.ndarray, crs: pyproj.CRS | None, given: bool, city: Any,
                source: str) -> None:
    lonlat = looks_like_lonlat(x, y)
    example = f"({x[0]:.6g}, {y[0]:.6g})"
    if (crs is None or crs.is_geographic) and not lonlat:
        said = (f"is said to be in {_crs_name(crs)} (longitude/latitude)" if given
                else "declares no CRS" if crs is None
                else f"declares {_crs_name(crs)} (longitude/latitude; every GeoJSON does)")
        raise CRSError(f"{source}: coordinates such as {example} look like projected metres "
                       f"(e.g. UTM easting/northing), but the file {said}. "
                       f"{_zone_advice(x, y, city)}",
                       [Problem("coordinates look like projected metres", file=source,
                                column="geometry", value=example)])
    if crs is not None and crs.is_projected and lonlat:
        raise CRSError(f"{source}: coordinates such as {example} look like longitude/latitude "
                       f"but are said to be in the projected {_crs_name(crs)}; pass --crs "
                       "EPSG:4326 or re-export the file with its real CRS",
                       [Problem("degrees in a projected CRS", file=source, column="geometry",
                                value=example)])


def _zone_advice(x: np.ndarray, y: np.ndarray, city: Any) -> str:
    guess = guess_projected_crs(x, y, near=city)
    if guess is not None:
        return (f"Pass --crs {_crs_name(guess)} ({guess.name}), which puts them "
                f"{'in the city area' if city is not None else 'over Indonesia'}.")
    zones = [_crs_name(c) for c in candidate_utm_crs(x, y)]
    if zones:
        return (f"Pass --crs with the UTM zone of your city (the values fit {zones[0]} to "
                f"{zones[-1]}).")
    return "Pass --crs with the CRS the file was written in (ask whoever exported it)."


def _crs_name(crs: pyproj.CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_string()


# --- geometry ----------------------------------------------------------------------------------

def _clean_geometry(geoms: np.ndarray, rows: np.ndarray, kind: str, source: str
                    ) -> tuple[np.ndarray, list[LayerProblem], list[LayerProblem]]:
    """2D geometries of the kind's families; empty, wrong and unrepairable ones reported."""
    allowed = LAYER_KINDS[kind]
    allowed_text = " or ".join(_FAMILY_NAMES[f] for f in allowed)
    geoms = shapely.force_2d(geoms)
    problems: list[LayerProblem] = []
    notes: list[LayerProblem] = []
    out = np.full(len(geoms), None, dtype=object)
    for i, (geom, row) in enumerate(zip(geoms, rows, strict=True)):
        if geom is None or geom.is_empty:
            problems.append(_problem("empty", source=source, row=int(row), column="geometry"))
            continue
        found = _families(geom)
        if not found <= set(allowed):
            problems.append(_problem("wrong_type", source=source, row=int(row),
                                     column="geometry", value=geom.geom_type,
                                     found=geom.geom_type, kind=kind, allowed=allowed_text))
            continue
        if not shapely.is_valid(geom):
            detail = shapely.is_valid_reason(geom)
            geom = _keep_families(shapely.make_valid(geom), found)
            if geom is None:
                problems.append(_problem("lost", source=source, row=int(row), column="geometry",
                                         value=detail, allowed=allowed_text))
                continue
            notes.append(_problem("repaired", source=source, row=int(row), column="geometry",
                                  detail=detail))
        out[i] = geom
    return out, problems, notes


def _families(geom: shapely.Geometry) -> set[str]:
    """Geometry families of a geometry's parts ("other" for anything unknown)."""
    parts = shapely.get_parts(geom) if geom.geom_type == "GeometryCollection" else [geom]
    return {_FAMILY_OF_TYPE.get(part.geom_type, "other") for part in parts}


def _keep_families(geom: shapely.Geometry, families: set[str]) -> shapely.Geometry | None:
    """The parts of a repaired geometry in ``families``, unioned; None when none is left."""
    parts = [part for part in shapely.get_parts(shapely.get_parts(geom))
             if _FAMILY_OF_TYPE.get(part.geom_type) in families and not part.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _outside_problems(geoms: np.ndarray, rows: np.ndarray, city: Any, tolerance: float,
                      source: str) -> list[LayerProblem]:
    """Features farther than ``tolerance`` metres from the city's boundaries."""
    city = city if city.crs is not None else city.set_crs(WGS84)
    west, south, east, north = city.to_crs(WGS84).total_bounds
    metric_crs = utm_zone_crs((west + east) / 2, (south + north) / 2)
    boundary = shapely.union_all(np.asarray(city.to_crs(metric_crs).geometry.array))
    present = ~shapely.is_missing(geoms)
    metric = np.full(len(geoms), None, dtype=object)
    metric[present] = np.asarray(gpd.GeoSeries(geoms[present], crs=WGS84).to_crs(metric_crs)
                                 .array, dtype=object)
    distance = np.where(present, shapely.distance(metric, boundary), 0.0)
    far = np.flatnonzero(distance > tolerance)
    return [_problem("outside", source=source, row=int(rows[i]), column="geometry",
                     value=_short_wkt(geoms[i]), distance_km=f"{distance[i] / 1000:.1f}",
                     tolerance_km=f"{tolerance / 1000:g}") for i in far]


def _short_wkt(geom: shapely.Geometry) -> str:
    text = shapely.to_wkt(shapely.centroid(geom), rounding_precision=6)
    return f"{geom.geom_type} near {text}"


# --- attributes --------------------------------------------------------------------------------

def _names(attributes: pd.DataFrame) -> np.ndarray:
    """Each feature's name from the first name field present, None where blank."""
    by_lower = {str(c).lower(): c for c in reversed(list(attributes.columns))}
    column = next((by_lower[n] for n in NAME_FIELDS if n in by_lower), None)
    if column is None:
        return np.full(len(attributes), None, dtype=object)
    text = attributes[column].astype("string").str.strip().fillna("")
    return np.array([value or None for value in text], dtype=object)


def _properties(attributes: pd.DataFrame, kind: str, keep: np.ndarray, rows: np.ndarray,
                source: str) -> tuple[list[dict[str, Any]], list[LayerProblem]]:
    """Each feature's attributes as JSON-ready dicts; an airport's class read into ``jenis``."""
    records = [{str(k): _plain(v) for k, v in record.items()}
               for record in attributes.to_dict(orient="records")]
    if kind != "bandara":
        return records, []
    notes = []
    by_lower = {k.lower(): k for k in (records[0] if records else {})}
    column = by_lower.get(AIRPORT_CLASS_FIELD)
    for record, kept, row in zip(records, keep, rows, strict=True):
        raw = record.get(column) if column else None
        record[AIRPORT_CLASS_FIELD] = airport_class(raw)
        if kept and raw not in (None, "") and record[AIRPORT_CLASS_FIELD] is None:
            notes.append(_problem("airport_class", source=source, row=int(row), column=column,
                                  value=raw, classes=" or ".join(AIRPORT_CLASSES)))
    return records, notes


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python, NaN/NaT as None, dates as ISO text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, datetime) and value.tzinfo is None and value == datetime.combine(
            value.date(), datetime.min.time()):
        return value.date().isoformat()  # a date field (GDAL reads dates as midnight)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
