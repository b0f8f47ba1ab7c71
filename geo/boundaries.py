"""Reading kelurahan boundary files into one clean table of polygons.

A city's boundary file comes from many places (the Kemendagri code set, BIG's RBI
``ADMINISTRASIDESA`` layers, a consultant's shapefile), each with its own field names and CRS.
:func:`read_boundaries` turns any of them into the same GeoDataFrame in EPSG:4326 with the columns
of :data:`KELURAHAN_COLUMNS`, reports every change it makes, and rejects a file with all its
problems listed at once.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd
import pyogrio
import pyproj
import shapely

from geo.errors import BoundaryError, CRSError, InputFileError, Problem

#: Columns of an imported kelurahan table, in this order.
KELURAHAN_COLUMNS = [
    "kode", "nama", "kecamatan_kode", "kecamatan", "kota_kode", "kota", "area_km2", "geometry",
]

#: Source field names recognised for each output column, compared case-insensitively, first match
#: wins.  Kemendagri-style exports use ``kode``/``nama``; BIG's RBI administrative layers use
#: ``KDEPUM``/``WADMKD``/``WADMKC``/``WADMKK`` (``KDCPUM``, ``KDPKAB`` for the codes).
FIELD_CANDIDATES: dict[str, tuple[str, ...]] = {
    "kode": ("kode", "kode_kel", "kode_kelurahan", "kode_desa", "kd_kel", "kd_desa", "kdepum",
             "kode_kemendagri", "kode_wilayah", "id_desa", "id_kel"),
    "nama": ("nama", "nama_kel", "nama_kelurahan", "nama_desa", "nm_kel", "nm_desa", "kelurahan",
             "desa", "wadmkd", "namobj", "name"),
    "kecamatan_kode": ("kecamatan_kode", "kode_kec", "kode_kecamatan", "kd_kec", "kdcpum"),
    "kecamatan": ("kecamatan", "nama_kec", "nama_kecamatan", "nm_kec", "wadmkc"),
    "kota_kode": ("kota_kode", "kode_kota", "kode_kab", "kd_kota", "kdpkab"),
    "kota": ("kota", "nama_kota", "kabupaten_kota", "nm_kota", "wadmkk"),
}

#: File name endings read by :func:`read_boundaries`.
SUPPORTED_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp")

_TEXT_COLUMNS = KELURAHAN_COLUMNS[:6]
_POLYGON, _MULTIPOLYGON = 3, 6
_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                        "MultiLineString", "MultiPolygon", "GeometryCollection"])
_LONLAT = "EPSG:4326"


class BoundaryCRSError(BoundaryError, CRSError):
    """A boundary file whose coordinates do not fit its CRS, or that declares none it could use.

    It is both a :class:`BoundaryError` and a :class:`CRSError`, so it is caught by either.
    """


@dataclass(frozen=True)
class BoundaryImport:
    """The result of reading one boundary file.

    Attributes
    ----------
    kelurahan
        One row per kelurahan in EPSG:4326 with the columns of :data:`KELURAHAN_COLUMNS`,
        sorted by ``kode``; geometries are valid MultiPolygons, ``area_km2`` is measured in the
        city's UTM zone.
    notes
        Repairs and other changes made while reading, for the import report.
    source_crs
        The CRS the file's coordinates were read in (``EPSG:4326`` when none was declared and the
        coordinates were plainly longitude/latitude; a note says so).
    field_map
        Output column -> source field it was read from (derived or given values are not listed).
    source
        File name, as used in notes and error messages.
    """

    kelurahan: gpd.GeoDataFrame
    notes: list[Problem] = field(default_factory=list)
    source_crs: str = _LONLAT
    field_map: dict[str, str] = field(default_factory=dict)
    source: str = ""


def read_boundaries(
    path: str | Path,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    kecamatan_field: str | None = None,
    kecamatan_code_field: str | None = None,
    city_code: str | None = None,
    city_name: str | None = None,
    layer: str | None = None,
) -> BoundaryImport:
    """Read a kelurahan boundary file (GeoJSON, GeoPackage or zipped Shapefile) in any CRS.

    Parameters
    ----------
    path
        The boundary file.  A ``.zip`` must hold one Shapefile (or name it with ``layer``).
    code_field, name_field, kecamatan_field, kecamatan_code_field
        Source fields holding the kelurahan code and name and the kecamatan name and code.  When
        not given they are detected from :data:`FIELD_CANDIDATES`.
    city_code
        Kemendagri code of the city (``"14.72"``).  Used as ``kota_kode`` for every kelurahan, and
        every kelurahan code must start with it.
    city_name
        Name of the city (``"Kota Dumai"``), used as ``kota`` for every kelurahan.
    layer
        Layer to read from a GeoPackage or zip holding several.

    Returns
    -------
    BoundaryImport
        The kelurahan table and the notes, CRS and fields of the import.

    Raises
    ------
    InputFileError
        The file is missing, unreadable or of an unsupported kind.
    BoundaryError
        Code or name fields cannot be found, or features are empty, not polygons, without a
        code or name, duplicated or outside ``city_code``; all of them are listed.
    BoundaryCRSError
        The coordinates do not fit the declared CRS, or no CRS is declared and they are not
        longitude/latitude.
    """
    path = Path(path)
    frame, notes = _read_vector(path, layer=layer)
    frame, source_crs, crs_notes = _to_lonlat(frame, path.name)
    explicit = {"kode": code_field, "nama": name_field, "kecamatan": kecamatan_field,
                "kecamatan_kode": kecamatan_code_field}
    field_map = _map_fields(list(frame.columns.drop(frame.geometry.name)), explicit, path.name)
    attributes, attribute_notes = _read_attributes(frame, field_map, city_code=city_code,
                                                   city_name=city_name, source=path.name)
    geometry, problems, geometry_notes = _clean_geometry(frame.geometry, attributes["kode"],
                                                         path.name)
    problems += _attribute_problems(attributes, field_map, city_code=city_code, source=path.name)
    _raise_problems(problems, path.name)
    kelurahan = _assemble(attributes, geometry)
    notes += crs_notes + attribute_notes + geometry_notes + _coverage_notes(kelurahan, path.name)
    return BoundaryImport(kelurahan, notes, source_crs, field_map, path.name)


# --- reading -----------------------------------------------------------------------------------

def _read_vector(path: Path, *, layer: str | None) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Read the file's features; warnings from the reader become notes."""
    _check_readable(path)
    layer = layer if layer is not None else _only_layer(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = gpd.read_file(path, layer=layer)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
            raise InputFileError(f"{path.name}: cannot be read as a boundary file ({exc})") from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputFileError(f"{path.name}: the layer has no geometry; it is a plain table")
    if len(frame) == 0:
        raise BoundaryError(f"{path.name}: the file holds no features")
    return frame, [Problem(f"reader warning: {w.message}", file=path.name) for w in caught]


def _check_readable(path: Path) -> None:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            f"{path.name}: unsupported boundary file type '{path.suffix}'; use GeoJSON (.geojson), "
            "GeoPackage (.gpkg) or a zipped Shapefile (.zip)")
    if not path.is_file():
        raise InputFileError(f"{path.name}: file not found")


def _only_layer(path: Path) -> str | None:
    """Choose the layer to read when none was named: the only one, or the only polygon layer."""
    try:
        layers = pyogrio.list_layers(path)
    except pyogrio.errors.DataSourceError as exc:
        raise InputFileError(f"{path.name}: cannot be read as a boundary file ({exc})") from exc
    if len(layers) == 1:
        return None
    polygonal = [str(name) for name, kind in layers if kind and "polygon" in str(kind).lower()]
    if len(polygonal) == 1:
        return polygonal[0]
    names = ", ".join(str(name) for name, _ in layers)
    raise InputFileError(f"{path.name}: holds several layers ({names}); choose one with `layer`")


# --- coordinate reference system ---------------------------------------------------------------

def _to_lonlat(frame: gpd.GeoDataFrame, source: str
               ) -> tuple[gpd.GeoDataFrame, str, list[Problem]]:
    """Reproject to EPSG:4326, assuming it when no CRS is declared and coordinates fit."""
    _check_crs_fits(frame.total_bounds, frame.crs, source)
    notes: list[Problem] = []
    if frame.crs is None:
        frame = frame.set_crs(_LONLAT)
        notes.append(Problem("the file declares no CRS; its coordinates are longitude/latitude, "
                             "so EPSG:4326 (WGS 84) was assumed", file=source))
    source_crs = frame.crs.to_string()
    frame = frame.to_crs(_LONLAT)
    bounds = frame.total_bounds
    if not (np.isnan(bounds).all() or _is_lonlat(bounds)):
        raise BoundaryCRSError(f"{source}: its coordinates cannot be reprojected from "
                               f"{source_crs} to longitude/latitude; check the declared CRS")
    return frame, source_crs, notes


def _check_crs_fits(bounds: np.ndarray, crs: pyproj.CRS | None, source: str) -> None:
    """Reject coordinates that cannot be in the declared CRS (or, without one, in lon/lat)."""
    if np.isnan(bounds).all():
        return
    lonlat = _is_lonlat(bounds)
    found = (f"coordinates range x {bounds[0]:.6g}..{bounds[2]:.6g}, "
             f"y {bounds[1]:.6g}..{bounds[3]:.6g}")
    if crs is None and not lonlat:
        reason = (f"the file declares no CRS and its {found} are not longitude/latitude; declare "
                  "the CRS (add the .prj of the Shapefile, or set the layer's CRS in QGIS) and "
                  "upload it again")
    elif crs is not None and crs.is_geographic and not lonlat:
        reason = (f"the file declares {crs.to_string()} (longitude/latitude) but its {found}, "
                  "which look like metres; declare the CRS they are really in and upload it again")
    elif crs is not None and crs.is_projected and lonlat:
        reason = (f"the file declares {crs.to_string()} (metres) but its {found}, which look like "
                  "longitude/latitude; declare EPSG:4326 and upload it again")
    else:
        return
    raise BoundaryCRSError(f"{source}: {reason}")


def _is_lonlat(bounds: np.ndarray) -> bool:
    return bool(np.isfinite(bounds).all() and -180 <= bounds[0] <= bounds[2] <= 180
                and -90 <= bounds[1] <= bounds[3] <= 90)


# --- attributes --------------------------------------------------------------------------------

def _map_fields(columns: list[str], explicit: Mapping[str, str | None], source: str
                ) -> dict[str, str]:
    """Output column -> source field, from explicit names first, then the candidates."""
    by_lower = {name.lower(): name for name in reversed(columns)}
    unknown = [name for name in explicit.values()
               if name is not None and name not in columns and name.lower() not in by_lower]
    found = {column: _find_field(by_lower, explicit.get(column), candidates)
             for column, candidates in FIELD_CANDIDATES.items()}
    field_map = {column: name for column, name in found.items() if name is not None}
    missing = [column for column in ("kode", "nama") if column not in field_map]
    if unknown or missing:
        raise BoundaryError(_field_message(source, columns, unknown, missing))
    return field_map


def _find_field(by_lower: Mapping[str, str], explicit: str | None,
                candidates: tuple[str, ...]) -> str | None:
    """Find the field named ``explicit`` (exact, else ignoring case), else the first candidate."""
    if explicit is None:
        return next((by_lower[name] for name in candidates if name in by_lower), None)
    return explicit if explicit in by_lower.values() else by_lower.get(explicit.lower())


def _field_message(source: str, columns: list[str], unknown: list[str], missing: list[str]) -> str:
    parts = [f"field '{name}' does not exist" for name in unknown]
    parts += [f"no {'code' if column == 'kode' else 'name'} field was found (looked for "
              f"{', '.join(FIELD_CANDIDATES[column][:6])}, ...)" for column in missing]
    return (f"{source}: {'; '.join(parts)}. Available fields: {', '.join(columns) or 'none'}. "
            "Name the field to use with the code/name field options.")


def _read_attributes(frame: gpd.GeoDataFrame, field_map: Mapping[str, str], *,
                     city_code: str | None, city_name: str | None, source: str
                     ) -> tuple[pd.DataFrame, list[Problem]]:
    """Build the six text columns as stripped text, with derived and given values filled in."""
    notes = [Problem(f"field '{name}' holds numbers, not text; codes were written back as text, "
                     "but leading zeros may have been lost", file=source, column=name)
             for column, name in field_map.items()
             if column.endswith("kode") and pd.api.types.is_numeric_dtype(frame[name])]
    table = pd.DataFrame({column: _text(frame[field_map[column]]) if column in field_map
                          else pd.Series(pd.NA, index=frame.index, dtype="string")
                          for column in _TEXT_COLUMNS})
    notes += _fill_derived(table, field_map, source)
    if city_code is not None:
        table["kota_kode"] = city_code.strip()
    if city_name is not None:
        table["kota"] = city_name.strip()
    return table, notes


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped text (never via numbers); empty text is missing."""
    if pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all()):
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _fill_derived(table: pd.DataFrame, field_map: Mapping[str, str], source: str) -> list[Problem]:
    """Fill missing kecamatan and kota codes from dotted Kemendagri codes (``PP.KK.CC.DDDD``)."""
    parts = table["kode"].str.split(".")
    dotted = parts.str.len() == 4
    notes = []
    for column, depth in (("kecamatan_kode", 3), ("kota_kode", 2)):
        fill = table[column].isna() & dotted.fillna(False).astype(bool)
        if fill.any():
            table.loc[fill, column] = parts[fill].str[:depth].str.join(".")
            notes.append(Problem(f"{column} taken from the first {depth} parts of the kelurahan "
                                 f"code for {int(fill.sum())} feature(s)", file=source,
                                 column=field_map.get(column)))
    return notes


def _attribute_problems(table: pd.DataFrame, field_map: Mapping[str, str], *,
                        city_code: str | None, source: str) -> list[Problem]:
    """Missing codes and names, duplicate codes, codes of another city."""
    feature = pd.Series(np.arange(1, len(table) + 1), index=table.index)
    code_field, name_field = field_map["kode"], field_map["nama"]
    problems = [Problem(f"feature {n}: no kelurahan code", file=source, column=code_field)
                for n in feature[table["kode"].isna()]]
    problems += [Problem(f"feature {n}: no kelurahan name", file=source, column=name_field,
                         value=kode if pd.notna(kode) else None)
                 for n, kode in zip(feature[table["nama"].isna()],
                                    table.loc[table["nama"].isna(), "kode"], strict=True)]
    problems += _duplicate_problems(table["kode"], feature, code_field, source)
    if city_code is not None:
        problems += _foreign_problems(table["kode"], feature, city_code.strip(), code_field, source)
    return problems


def _duplicate_problems(codes: pd.Series, feature: pd.Series, column: str, source: str
                        ) -> list[Problem]:
    duplicated = codes.notna() & codes.duplicated(keep=False)
    groups = feature[duplicated].groupby(codes[duplicated]).agg(list)
    return [Problem(f"feature {n}: code is used by {len(numbers)} features "
                    f"({', '.join(map(str, numbers))}); each kelurahan needs its own code",
                    file=source, column=column, value=code)
            for code, numbers in groups.items() for n in numbers]


def _foreign_problems(codes: pd.Series, feature: pd.Series, city_code: str, column: str,
                      source: str) -> list[Problem]:
    prefix = city_code.replace(".", "")
    foreign = codes.notna() & ~codes.str.replace(".", "", regex=False).str.startswith(prefix)
    return [Problem(f"feature {n}: code does not belong to city {city_code}", file=source,
                    column=column, value=code)
            for n, code in zip(feature[foreign], codes[foreign], strict=True)]


# --- geometry ----------------------------------------------------------------------------------

def _clean_geometry(geometry: gpd.GeoSeries, codes: pd.Series, source: str
                    ) -> tuple[np.ndarray, list[Problem], list[Problem]]:
    """Make valid MultiPolygons; report empty and non-polygon features, note repairs."""
    geoms = shapely.force_2d(np.asarray(geometry.array, dtype=object))
    labels = _feature_labels(codes)
    problems = _shape_problems(geoms, labels, source)
    polygonal = np.isin(shapely.get_type_id(geoms), [_POLYGON, _MULTIPOLYGON])
    invalid = polygonal & ~shapely.is_valid(geoms)
    notes = [Problem(f"{label}: invalid geometry ({reason}) repaired with make_valid, keeping its "
                     "polygonal parts", file=source, column="geometry")
             for label, reason in zip(labels[invalid], shapely.is_valid_reason(geoms[invalid]),
                                      strict=True)]
    geoms = np.where(invalid, shapely.make_valid(geoms), geoms)
    multipolygons = _multipolygons(np.where(polygonal, geoms, None))
    lost = invalid & shapely.is_empty(multipolygons)
    problems += [Problem(f"{label}: invalid geometry has no area left after repair", file=source,
                         column="geometry") for label in labels[lost]]
    return multipolygons, problems, notes


def _feature_labels(codes: pd.Series) -> np.ndarray:
    numbers = np.arange(1, len(codes) + 1).astype(str)
    code_text = codes.fillna("").to_numpy(dtype=object).astype(str)
    return np.where(code_text != "", np.char.add(np.char.add(np.char.add(
        np.char.add("feature ", numbers), " (kode "), code_text), ")"),
        np.char.add("feature ", numbers)).astype(object)


def _shape_problems(geoms: np.ndarray, labels: np.ndarray, source: str) -> list[Problem]:
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    other = ~empty & ~np.isin(shapely.get_type_id(geoms), [_POLYGON, _MULTIPOLYGON])
    kinds = _TYPE_NAMES[shapely.get_type_id(geoms[other])]
    problems = [Problem(f"{label}: empty geometry", file=source, column="geometry")
                for label in labels[empty]]
    return problems + [Problem(f"{label}: is a {kind}, not a polygon; a kelurahan must be an area",
                               file=source, column="geometry")
                       for label, kind in zip(labels[other], kinds, strict=True)]


def _multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Each geometry's polygons (at any depth) as one MultiPolygon; others become empty."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    for _ in range(2):  # GeometryCollection -> MultiPolygon -> Polygon
        parts, inner = shapely.get_parts(parts, return_index=True)
        index = index[inner]
    keep = shapely.get_type_id(parts) == _POLYGON
    out = np.full(len(geoms), None, dtype=object)
    shapely.multipolygons(parts[keep], indices=index[keep], out=out)
    return np.where(shapely.is_missing(out), shapely.from_wkt("MULTIPOLYGON EMPTY"), out)


# --- result ------------------------------------------------------------------------------------

def _raise_problems(problems: list[Problem], source: str) -> None:
    if problems:
        raise BoundaryError(f"{source}: {len(problems)} problem(s) found; nothing was imported. "
                            "Fix them in the file and upload it again.", problems)


def _assemble(attributes: pd.DataFrame, geometry: np.ndarray) -> gpd.GeoDataFrame:
    kelurahan = gpd.GeoDataFrame(attributes.astype("str"), geometry=geometry, crs=_LONLAT)
    kelurahan["area_km2"] = kelurahan.to_crs(kelurahan.estimate_utm_crs()).area / 1e6
    return kelurahan[KELURAHAN_COLUMNS].sort_values("kode", ignore_index=True)


def _coverage_notes(kelurahan: gpd.GeoDataFrame, source: str) -> list[Problem]:
    """Report overlaps between kelurahan and gaps inside the city (common in simplified files)."""
    metric = np.asarray(kelurahan.to_crs(kelurahan.estimate_utm_crs()).geometry.array)
    overlaps = _overlaps(metric)
    gaps = _interior_gaps(metric)
    notes = []
    if len(overlaps):
        notes.append(Problem(f"{len(overlaps)} pair(s) of kelurahan overlap "
                             f"({shapely.area(overlaps).sum() / 1e4:.2f} ha in all); a point "
                             "there is given to the kelurahan it lies deepest in", file=source,
                             column="geometry"))
    if len(gaps):
        notes.append(Problem(f"{len(gaps)} gap(s) between kelurahan inside the city "
                             f"({shapely.area(gaps).sum() / 1e4:.2f} ha in all); a point there is "
                             "given to the nearest kelurahan within the sliver tolerance",
                             file=source, column="geometry"))
    return notes


def _overlaps(metric: np.ndarray) -> np.ndarray:
    """Areas shared by two polygons, one per overlapping pair."""
    first, second = shapely.STRtree(metric).query(metric, predicate="intersects")
    pair = first < second
    shared = shapely.intersection(metric[first[pair]], metric[second[pair]])
    return shared[shapely.area(shared) > 0]


def _interior_gaps(metric: np.ndarray) -> np.ndarray:
    """Holes of the union of all polygons: areas enclosed by the city but in no kelurahan."""
    union = shapely.get_parts(shapely.union_all(metric))
    filled = shapely.polygons(shapely.get_exterior_ring(union))
    gaps = shapely.get_parts(shapely.difference(filled, union))
    return gaps[shapely.area(gaps) > 0]
