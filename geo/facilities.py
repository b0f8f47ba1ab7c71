"""Facility points: BTS towers, waste sites, schools, puskesmas... read from the files cities have.

Three kinds of file are read into one shape (``FacilityBatch.frame``, EPSG:4326):

* a CSV with latitude/longitude columns and Indonesian or English headers (``lintang``/``bujur``,
  ``jenis``, ``nama``, ``kondisi``, ``pengelola``, ``kapasitas``...);
* a vector file (GeoJSON, GeoPackage, shapefile...) with point geometry and the same properties;
* an OpenCelliD cell export, with or without its header row.

Every row that cannot be used is rejected with a ``Problem`` naming the file, row (the line number
a spreadsheet shows, or the 1-based feature number of a vector file, also given in
``Problem.row``), column, value and reason; every choice or repair the reader makes is reported as a
note.  Coordinates are never placed on the map by assumption: projected metres in a file that
declares no CRS (or only GeoJSON's implied longitude/latitude) raise a ``CRSError`` suggesting the
UTM zone, and, when the city is known, points far from it are rejected.

Type vocabulary.  ``TPST3R`` (as Kabupaten Malang labels its village facilities) is read as
``tps3r``: those sites are run by a village community group, named after the desa, and serve that
neighbourhood, which is what a TPS3R is ("skala kawasan"); ``tpst`` is kept for city-scale
integrated processing plants such as Dumai's MASARO.  A note records the choice; pass
``facility_type="tpst"`` or write ``TPST`` in the type column to override it.  The type and status
options only fill blank cells and files without such a column; a value in the file wins.
"""
from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import pyogrio
import pyproj
import shapely

from geo import settings
from geo.errors import CRSError, InputFileError, Problem
from geo.projection import (
    WGS84,
    Bounds,
    Near,
    bounds_of,
    candidate_utm_crs,
    distance_to_bounds,
    guess_projected_crs,
    looks_like_lonlat,
)

FACILITY_TYPES = ("bts", "tps", "tps3r", "tpst", "tpa", "bank_sampah", "sekolah", "puskesmas",
                  "kantor_lurah", "other")
FACILITY_STATUSES = ("existing", "planned")
FORMATS = ("auto", "csv", "vector", "opencellid")

#: Columns of ``FacilityBatch.frame``, in order.  ``capacity`` is tonnes/day (waste sites);
#: ``range_m`` (metres) and ``samples`` come from OpenCelliD and are NaN for other files.
FRAME_COLUMNS = ("row", "type", "nama", "status", "operator", "capacity", "source", "external_id",
                 "range_m", "samples", "geometry")

#: A point that is valid longitude/latitude but farther than this from the city's bounding box, in
#: metres, is rejected as "outside the city area" when a location hint is given.  Candidate for
#: ``geo/settings.py``.
NEAR_TOLERANCE_M = 50_000.0

#: A file whose coordinates are taken as degrees is rejected as "projected metres" when fewer than
#: this share of its points are valid longitude/latitude (otherwise the odd bad point is a row
#: problem).  Candidate for ``geo/settings.py``.
LONLAT_MIN_SHARE = 0.5

#: Generous upper bounds of the daily capacity of each kind of waste site, in tonnes/day.  They are
#: order-of-magnitude guards, not regulation: exceeding them almost always means the column is in
#: kg/day (or m3), and the reader says so in a note.  For scale: Dumai's MASARO TPST handles
#: 10-30 t/day; Bantar Gebang, Indonesia's largest landfill, receives roughly 7,500 t/day.
#: Candidate for ``geo/settings.py``.
CAPACITY_PLAUSIBLE_MAX_T_PER_DAY: dict[str, float] = {
    "tps": 10.0, "tps3r": 50.0, "tpst": 1500.0, "tpa": 10_000.0, "bank_sampah": 10.0,
}

#: Header aliases per field, compared after lower-casing and turning spaces/dashes into "_".
#: Any column starting with "kapasitas" or "capacity" is also a capacity column.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "lat": ("latitude", "lat", "lintang", "y"),
    "lon": ("longitude", "lon", "lng", "long", "bujur", "x"),
    "type": ("type", "tipe", "jenis", "kategori", "category", "jenis_fasilitas", "tipe_fasilitas"),
    "nama": ("nama", "name", "nama_fasilitas"),
    "status": ("status", "kondisi"),
    "operator": ("operator", "pengelola", "provider"),
    "capacity": ("kapasitas", "capacity", "kapasitas_"),
    "external_id": ("external_id", "id", "site_id", "facility_id", "kode_fasilitas"),
}

#: Type values (lower-cased, everything but letters and digits removed) and the type they mean.
TYPE_SYNONYMS: dict[str, str] = {
    **{t.replace("_", ""): t for t in FACILITY_TYPES},
    "menara": "bts", "tower": "bts", "menarabts": "bts", "menaratelekomunikasi": "bts",
    "tempatpenampungansementara": "tps",
    "tps3r": "tps3r", "tpst3r": "tps3r",
    "tempatpengolahansampahterpadu": "tpst",
    "landfill": "tpa", "tempatpemrosesanakhir": "tpa", "tempatpembuanganakhir": "tpa",
    "banksampah": "bank_sampah", "wastebank": "bank_sampah",
    "sekolah": "sekolah", "school": "sekolah", "sd": "sekolah", "sdn": "sekolah", "smp": "sekolah",
    "smpn": "sekolah", "sma": "sekolah", "sman": "sekolah", "smk": "sekolah", "smkn": "sekolah",
    "mi": "sekolah", "mts": "sekolah", "ma": "sekolah", "madrasah": "sekolah",
    "pustu": "puskesmas", "puskesmaspembantu": "puskesmas",
    "kantorlurah": "kantor_lurah", "kantorkelurahan": "kantor_lurah", "kantordesa": "kantor_lurah",
    "lainnya": "other", "lain": "other", "lainlain": "other",
}

#: Status values (normalised like types) and the status they mean.
STATUS_SYNONYMS: dict[str, str] = {
    "existing": "existing", "ada": "existing", "eksisting": "existing", "beroperasi": "existing",
    "operasional": "existing", "aktif": "existing",
    "planned": "planned", "rencana": "planned", "usulan": "planned", "direncanakan": "planned",
    "proposed": "planned",
}

#: OpenCelliD cell export columns (the per-country downloads omit this header row).
OPENCELLID_COLUMNS = ("radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range",
                      "samples", "changeable", "created", "updated", "averageSignal")
OPENCELLID_RADIOS = ("GSM", "UMTS", "LTE", "NR", "CDMA")

#: Indonesian operators by MCC-MNC; other codes are shown as "MCC-MNC".
OPERATORS: dict[str, str] = {
    "510-01": "Indosat", "510-03": "Indosat StarOne", "510-08": "XL (AXIS)", "510-09": "Smartfren",
    "510-10": "Telkomsel", "510-11": "XL", "510-21": "Indosat (IM3)", "510-28": "Smartfren",
    "510-89": "3 (Hutchison)",
}

_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".kml", ".gml")
_AREA_LABEL = {"LTE": "TAC", "NR": "TAC", "GSM": "LAC", "UMTS": "LAC", "CDMA": "NID"}
_GEOMETRY_TYPES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                   "MultiPolygon", "GeometryCollection", "missing")
_FIELDS = ("type", "nama", "status", "operator", "capacity", "external_id")


@dataclass(frozen=True)
class FacilityBatch:
    """The facilities read from one file, with everything that was rejected or decided.

    Attributes
    ----------
    format
        "csv", "vector" or "opencellid".
    source
        File name used in messages and in the frame's ``source`` column.
    rows
        Data rows (or features) in the file, blank lines not counted.
    frame
        Accepted facilities, EPSG:4326, columns ``FRAME_COLUMNS``.
    problems
        One entry per reason a row was rejected (a row may have several).
    rejected_rows
        Row (or feature) numbers of the rejected rows.
    notes
        Choices and repairs the reader made (CRS used, unit read, vocabulary...).
    """

    format: str
    source: str
    rows: int
    frame: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)
    rejected_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    notes: list[Problem] = field(default_factory=list)

    @property
    def accepted_rows(self) -> int:
        """Number of facilities in ``frame``."""
        return len(self.frame)


@dataclass(frozen=True)
class _Options:
    facility_type: str | None
    type_given: str | None
    status: str
    crs: pyproj.CRS | None
    near: Bounds | None


@dataclass
class _Table:
    """A file read into canonical columns: ``row``, ``x``, ``y`` and the ``_FIELDS`` it has."""

    kind: str
    data: pd.DataFrame
    columns: dict[str, str]
    declared_crs: pyproj.CRS | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    hint: tuple[Bounds, str] | None = None
    driver: str | None = None


def read_facilities(
    path: str | Path,
    *,
    format: str = "auto",
    facility_type: str | None = None,
    status: str | None = None,
    crs: Any = None,
    near: Near | None = None,
    source_name: str | None = None,
) -> FacilityBatch:
    """Read facility points from a CSV, vector or OpenCelliD file.

    Parameters
    ----------
    path
        The file.
    format
        "auto" (by extension, then content), "csv", "vector" or "opencellid".
    facility_type
        Type for rows whose type is blank or files without a type column (a type or synonym,
        e.g. "TPST3R" for the Malang files).
    status
        Status for blank status cells or files without one ("existing" unless given).
    crs
        CRS the coordinates are written in (e.g. "EPSG:32749"), overriding what the file declares.
    near
        Where the city is: ``(lon, lat)``, a bounding box in degrees or the kelurahan boundaries.
        Points more than ``NEAR_TOLERANCE_M`` from it are rejected; it also lets a CRS be guessed.
    source_name
        Name shown in messages and the ``source`` column (default: the file name).

    Returns
    -------
    FacilityBatch
        Accepted facilities, row problems and notes.

    Raises
    ------
    InputFileError
        Missing, empty or unreadable file, no coordinate or type columns, latitude and longitude
        swapped, or no usable row at all.
    CRSError
        Coordinates that are projected metres without a CRS saying so, or an unknown ``crs``.
    ValueError
        An unknown ``format``, ``facility_type`` or ``status`` option.
    """
    path = Path(path)
    source = source_name or path.name
    options = _options(facility_type, status, crs, near, source)
    table = _read_table(path, source=source, format=format)
    lon, lat, crs_notes = _locate(table, options, source)
    fields, problems, notes = _resolve_fields(table, options, source)
    problems = table.problems + problems + _coordinate_problems(table, lon, lat, options, source)
    keep = ~table.data["row"].isin([p.row for p in problems]).to_numpy()
    problems += _duplicate_problems(table, fields, keep, source)
    keep &= ~table.data["row"].isin([p.row for p in problems]).to_numpy()
    _require_some_rows(keep, problems, source)
    notes = table.notes + crs_notes + notes + _capacity_notes(table, fields[keep], source)
    return FacilityBatch(
        format=table.kind, source=source, rows=len(table.data),
        frame=_frame(table.data[keep], fields[keep], lon[keep], lat[keep], source),
        problems=sorted(problems, key=lambda p: p.row or 0), rejected_rows=table.data["row"].to_numpy()[~keep].astype(np.int64),
        notes=notes,
    )


# --- options -----------------------------------------------------------------------------------

def _options(facility_type: str | None, status: str | None, crs: Any, near: Near | None,
             source: str) -> _Options:
    return _Options(
        facility_type=_option_value(facility_type, TYPE_SYNONYMS, FACILITY_TYPES, "facility_type"),
        type_given=facility_type,
        status=_option_value(status, STATUS_SYNONYMS, FACILITY_STATUSES, "status") or "existing",
        crs=_parse_crs(crs, source),
        near=bounds_of(near) if near is not None else None,
    )


def _option_value(value: str | None, synonyms: dict[str, str], valid: tuple[str, ...],
                  name: str) -> str | None:
    if value is None:
        return None
    found = synonyms.get(_norm_key(pd.Series([value])).iloc[0])
    if found is None:
        raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(valid)}")
    return found


def _parse_crs(crs: Any, source: str) -> pyproj.CRS | None:
    if crs is None:
        return None
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as err:
        raise CRSError(f"{source}: unknown CRS {crs!r} ({err}); give an EPSG code such as "
                       "EPSG:4326 or EPSG:32749") from None


# --- reading -----------------------------------------------------------------------------------

def _read_table(path: Path, *, source: str, format: str) -> _Table:
    kind, has_header = _detect_format(path, source, format)
    if kind == "vector":
        return _read_vector(path, source)
    text, notes = _read_text(path, source)
    if kind == "opencellid":
        table = _read_opencellid(text, source, has_header=has_header)
    else:
        table = _read_csv(text, source)
    table.notes[:0] = notes
    return table


def _detect_format(path: Path, source: str, format: str) -> tuple[str, bool]:
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise InputFileError(f"{source}: file not found ({path})",
                             [Problem("file not found", file=source)])
    if path.stat().st_size == 0:
        raise InputFileError(f"{source}: the file is empty", [Problem("empty file", file=source)])
    if format == "vector" or (format == "auto" and path.suffix.lower() in _VECTOR_SUFFIXES):
        return "vector", False
    first = _first_line(path)
    header = _opencellid_header(first)
    if format == "opencellid" and header is None:
        raise InputFileError(
            f"{source}: not an OpenCelliD cell export: expected 14 comma-separated columns "
            f"({','.join(OPENCELLID_COLUMNS)}) but the first line is {first[:120]!r}")
    if format == "auto" and first.lstrip().startswith("{"):
        return "vector", False
    if format in ("auto", "opencellid") and header is not None:
        return "opencellid", header
    return "csv", True


def _first_line(path: Path) -> str:
    with path.open("rb") as handle:
        return handle.readline(4096).decode("utf-8-sig", errors="replace").strip()


def _opencellid_header(first_line: str) -> bool | None:
    """Return True (header row), False (headerless export) or None (not OpenCelliD)."""
    cells = [c.strip() for c in first_line.split(",")]
    if [c.lower() for c in cells] == [c.lower() for c in OPENCELLID_COLUMNS]:
        return True
    if len(cells) == len(OPENCELLID_COLUMNS) and cells[0].upper() in OPENCELLID_RADIOS:
        return False
    return None


def _read_text(path: Path, source: str) -> tuple[str, list[Problem]]:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        note = Problem("the file is not UTF-8; read as Windows-1252 (Excel's default)", file=source)
        return data.decode("cp1252", errors="replace"), [note]


def _read_csv(text: str, source: str) -> _Table:
    raw = _parse_csv(text, source, sep=_sniff_separator(text))
    raw, notes = _drop_blank_rows(raw, source, first_row=2)
    columns = _match_columns(raw.columns)
    _require_coordinate_columns(columns, raw.columns, source)
    data = raw[[columns[f] for f in _FIELDS if f in columns]].set_axis(
        [f for f in _FIELDS if f in columns], axis=1)
    data.insert(0, "row", raw["__row__"].to_numpy())
    x, y, problems = _parse_xy(raw, columns, source)
    data["x"], data["y"] = x, y
    hint = _hint_from_columns(raw.drop(columns=[columns["lat"], columns["lon"]]))
    return _Table("csv", data.reset_index(drop=True), columns, problems=problems, notes=notes,
                  hint=hint)


def _parse_csv(text: str, source: str, *, sep: str, names: Iterable[str] | None = None,
               header: int | None = 0) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                          skip_blank_lines=False, header=header,
                          names=list(names) if names is not None else None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise InputFileError(f"{source}: cannot be read as a CSV file ({err})") from None
    if raw.empty:
        raise InputFileError(f"{source}: no data rows below the header",
                             [Problem("no data rows", file=source)])
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def _sniff_separator(text: str) -> str:
    first = text.lstrip("\r\n").split("\n", 1)[0]
    return max((",", ";", "\t", "|"), key=first.count)


def _drop_blank_rows(raw: pd.DataFrame, source: str, *, first_row: int
                     ) -> tuple[pd.DataFrame, list[Problem]]:
    raw = raw.assign(__row__=np.arange(first_row, first_row + len(raw)))
    blank = raw.drop(columns="__row__").apply(lambda c: c.str.strip().eq("")).all(axis=1)
    if not blank.any():
        return raw, []
    note = Problem(f"{int(blank.sum())} blank line(s) skipped", file=source)
    return raw[~blank], [note]


def _match_columns(names: Iterable[str]) -> dict[str, str]:
    """Map each field to the file's column for it (the first alias present wins)."""
    names = list(names)
    normalised = {_norm_name(n): n for n in reversed(names)}
    found = {f: next(normalised[a] for a in aliases if a in normalised)
             for f, aliases in COLUMN_ALIASES.items() if any(a in normalised for a in aliases)}
    if "capacity" not in found:
        prefixed = [n for n in names if _norm_name(n).startswith(("kapasitas", "capacity"))]
        found.update({"capacity": prefixed[0]} if prefixed else {})
    return found


def _require_coordinate_columns(columns: dict[str, str], names: Iterable[str],
                                source: str) -> None:
    missing = [f for f in ("lat", "lon") if f not in columns]
    if missing:
        wanted = " / ".join(f"{f}: {', '.join(COLUMN_ALIASES[f])}" for f in missing)
        found = ", ".join(repr(n) for n in names if n != "__row__")
        raise InputFileError(
            f"{source}: no coordinate columns ({wanted}); the file has columns {found}",
            [Problem("no coordinate columns", file=source, value=found)])


def _parse_xy(raw: pd.DataFrame, columns: dict[str, str], source: str
              ) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    x, y = _to_number(raw[columns["lon"]]), _to_number(raw[columns["lat"]])
    problems = []
    for values, name, label in ((x, columns["lon"], "longitude"), (y, columns["lat"], "latitude")):
        blank = _is_blank(raw[name]).to_numpy()
        problems += _problems(raw["__row__"], ~np.isfinite(values) & ~blank, raw[name], source,
                              name, f"{label} is not a number")
        problems += _problems(raw["__row__"], blank, raw[name], source, name,
                              f"missing {label}")
    return x, y, problems


def _read_vector(path: Path, source: str) -> _Table:
    gdf, driver, notes = _read_vector_file(path, source)
    columns = {f: name for f, name in _match_columns(gdf.columns.drop(gdf.geometry.name)).items()
               if f not in ("lat", "lon")}
    data = pd.DataFrame({f: gdf[columns[f]].to_numpy() for f in _FIELDS if f in columns},
                        index=pd.RangeIndex(len(gdf)))
    data.insert(0, "row", np.arange(1, len(gdf) + 1))
    points, problems, point_notes = _points(gdf.geometry.to_numpy(), data["row"], source)
    data["x"], data["y"] = shapely.get_x(points), shapely.get_y(points)
    return _Table("vector", data, columns, declared_crs=gdf.crs, problems=problems,
                  notes=notes + point_notes,
                  hint=_hint_from_columns(pd.DataFrame(gdf.drop(columns=gdf.geometry.name))),
                  driver=driver)


def _read_vector_file(path: Path, source: str
                      ) -> tuple[gpd.GeoDataFrame, str, list[Problem]]:
    """Read the first layer; return it with its GDAL driver name and notes."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layers = pyogrio.list_layers(path)
            driver = pyogrio.read_info(path, layer=layers[0][0])["driver"]
            gdf = gpd.read_file(path, engine="pyogrio", layer=layers[0][0])
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, IndexError) as err:
        raise InputFileError(f"{source}: cannot be read as a vector file (GeoJSON, GeoPackage, "
                             f"shapefile...): {err}") from None
    if gdf.empty:
        raise InputFileError(f"{source}: the file contains no features",
                             [Problem("no features", file=source)])
    notes = [Problem(f"reader warning: {w.message}", file=source) for w in caught]
    if len(layers) > 1:
        notes.append(Problem(f"read layer {layers[0][0]!r}, the first of {len(layers)} layers "
                             f"({', '.join(str(n) for n in layers[:, 0])})", file=source))
    return gdf, str(driver), notes


def _points(geometry: np.ndarray, rows: pd.Series, source: str
            ) -> tuple[np.ndarray, list[Problem], list[Problem]]:
    kinds = shapely.get_type_id(geometry)
    single_multi = (kinds == 4) & (shapely.get_num_geometries(geometry) == 1)
    points = np.where(single_multi, shapely.get_geometry(geometry, 0), geometry)
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    other = ~missing & (shapely.get_type_id(points) != 0)
    types = pd.Series(np.asarray(_GEOMETRY_TYPES)[shapely.get_type_id(geometry)])
    problems = (_problems(rows, missing, None, source, "geometry", "missing geometry")
                + _problems(rows, other, types, source, "geometry",
                            "not a point; facilities must be points (use the building's "
                            "centroid or entrance)"))
    notes = [Problem(f"{int(single_multi.sum())} single-point MultiPoint feature(s) read as points",
                     file=source, column="geometry")] if single_multi.any() else []
    points = np.where(missing | other, None, points)
    return points, problems, notes


def _read_opencellid(text: str, source: str, *, has_header: bool) -> _Table:
    raw = _parse_csv(text, source, sep=",", names=OPENCELLID_COLUMNS, header=None)
    raw = raw.iloc[1:] if has_header else raw
    raw, notes = _drop_blank_rows(raw, source, first_row=2 if has_header else 1)
    columns = {"lat": "lat", "lon": "lon", "external_id": "cell"}
    ids, problems = _cell_ids(raw, source)
    x, y, xy_problems = _parse_xy(raw, columns, source)
    data = _cell_fields(ids).assign(x=x, y=y)
    data.insert(0, "row", raw["__row__"].to_numpy())
    notes.append(_opencellid_note(data, source))
    return _Table("opencellid", data, columns,
                  problems=problems + xy_problems, notes=notes)


def _cell_ids(raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[Problem]]:
    radio = raw["radio"].str.strip().str.upper()
    problems = _problems(raw["__row__"], ~radio.isin(OPENCELLID_RADIOS).to_numpy(), raw["radio"],
                         source, "radio", f"unknown radio; expected {', '.join(OPENCELLID_RADIOS)}")
    ids = pd.DataFrame({"radio": radio.to_numpy()})
    for name in ("mcc", "net", "area", "cell"):
        number = _to_number(raw[name])
        whole = np.isfinite(number) & (np.mod(number, 1) == 0) & (number >= 0)
        problems += _problems(raw["__row__"], ~whole, raw[name], source, name,
                              "not a whole non-negative number")
        ids[name] = np.where(whole, number, 0).astype(np.int64).astype(str)
    for name in ("range", "samples"):
        ids[name] = _to_number(raw[name])
    return ids, problems


def _cell_fields(ids: pd.DataFrame) -> pd.DataFrame:
    plmn = ids["mcc"] + "-" + ids["net"].str.zfill(2)
    area_label = ids["radio"].map(_AREA_LABEL).fillna("area")
    return pd.DataFrame({
        "type": "bts",
        "status": "existing",
        "nama": ids["radio"] + " " + plmn + " " + area_label + " " + ids["area"] + " cell "
        + ids["cell"],
        "operator": plmn.map(OPERATORS).fillna(plmn),
        "external_id": "opencellid:" + ids["radio"] + "-" + plmn + "-" + ids["area"] + "-"
        + ids["cell"],
        "range_m": ids["range"],
        "samples": ids["samples"],
    })


def _opencellid_note(data: pd.DataFrame, source: str) -> Problem:
    ranges = data["range_m"].dropna()
    spread = f" (estimated range {ranges.min():.0f}-{ranges.max():.0f} m)" if len(ranges) else ""
    return Problem(
        "OpenCelliD positions are estimated cell locations averaged from crowd-sourced "
        f"measurements{spread}, not surveyed towers; the cells of one site appear as separate, "
        "nearby points", file=source)


def _hint_from_columns(frame: pd.DataFrame) -> tuple[Bounds, str] | None:
    """Bounds of numeric lat/lon-like columns (e.g. ``lat_2``/``long_2``), to suggest a CRS."""
    names = {_norm_name(c): c for c in frame.columns}
    lats = [c for n, c in names.items() if n.startswith(("lat", "lintang"))]
    lons = [c for n, c in names.items() if n.startswith(("lon", "lng", "bujur"))]
    for lat_name in lats:
        for lon_name in lons:
            lon, lat = _to_number(frame[lon_name]), _to_number(frame[lat_name])
            ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
            if ok.mean() >= LONLAT_MIN_SHARE:
                bounds = (lon[ok].min(), lat[ok].min(), lon[ok].max(), lat[ok].max())
                return bounds, f"{lon_name}/{lat_name}"
    return None


# --- coordinates and CRS -------------------------------------------------------------------------

def _locate(table: _Table, options: _Options, source: str
            ) -> tuple[np.ndarray, np.ndarray, list[Problem]]:
    x, y = table.data["x"].to_numpy(float), table.data["y"].to_numpy(float)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return x, y, []
    crs, notes = _source_crs(table, options, x[finite], y[finite], source)
    if crs.is_geographic:
        _check_swapped(table, x[finite], y[finite], options.near, source)
    lon, lat = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True).transform(
        x, y, errcheck=False)
    return np.asarray(lon, float), np.asarray(lat, float), notes


def _source_crs(table: _Table, options: _Options, x: np.ndarray, y: np.ndarray, source: str
                ) -> tuple[pyproj.CRS, list[Problem]]:
    """The CRS the finite coordinates ``x``, ``y`` are written in, checked against them."""
    crs, notes = _chosen_crs(table, options, x, y, source)
    if not crs.is_geographic and looks_like_lonlat(x, y):
        raise CRSError(
            f"{source}: the coordinates look like longitude/latitude (e.g. ({x[0]:.6g}, "
            f"{y[0]:.6g})) but are said to be in the projected {_crs_name(crs)}; pass --crs "
            "EPSG:4326, or re-export the file with its real CRS",
            [Problem("degrees in a projected CRS", file=source, value=f"({x[0]}, {y[0]})")])
    return crs, notes


def _chosen_crs(table: _Table, options: _Options, x: np.ndarray, y: np.ndarray, source: str
                ) -> tuple[pyproj.CRS, list[Problem]]:
    declared = table.declared_crs
    if options.crs is not None:
        return options.crs, [_crs_given_note(options.crs, table, source)]
    if declared is not None and not declared.is_geographic:
        return declared, [Problem(f"reprojected from {_crs_name(declared)} to EPSG:4326",
                                  file=source)]
    if _looks_projected(x, y):
        raise _projected_error(table, x, y, options.near, source)
    if declared is None and table.kind == "vector":
        return WGS84, [Problem("the file declares no CRS; its coordinates look like "
                               "longitude/latitude and are read as EPSG:4326", file=source)]
    return (WGS84 if declared is None else declared), []


def _looks_projected(x: np.ndarray, y: np.ndarray) -> bool:
    """Most points fit neither (lon, lat) nor (lat, lon): a swap is reported separately."""
    as_given = _in_area(x, y, None).mean()
    return max(as_given, _in_area(y, x, None).mean()) < LONLAT_MIN_SHARE


def _crs_given_note(crs: pyproj.CRS, table: _Table, source: str) -> Problem:
    text = f"CRS {_crs_name(crs)} used as given"
    declared = table.declared_crs
    if table.driver == "GeoJSON" and declared is not None and declared != crs:
        text += f" instead of {_crs_name(declared)}, which GeoJSON implies"
    elif declared is not None and declared != crs:
        text += f" instead of the file's {_crs_name(declared)}"
    return Problem(text, file=source)


def _crs_name(crs: pyproj.CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name


def _projected_error(table: _Table, x: np.ndarray, y: np.ndarray, near: Bounds | None,
                     source: str) -> CRSError:
    metres = ~_in_area(x, y, None)
    x, y = x[metres], y[metres]
    example = f"({x[0]:.2f}, {y[0]:.2f})"
    message = (f"{source}: coordinates such as {example} are not longitude/latitude; they look "
               f"like projected metres (e.g. UTM easting/northing), but the file "
               f"{_declared_text(table)}. Read as degrees they would not even be on the globe. "
               f"{_crs_advice(table, x, y, near)}")
    column = ("geometry" if table.kind == "vector"
              else f"{table.columns['lon']}, {table.columns['lat']}")
    return CRSError(message, [Problem("coordinates look like projected metres", file=source,
                                      column=column, value=example)])


def _location_hint(table: _Table, near: Bounds | None) -> tuple[Bounds | None, str]:
    """Where the points should be, for guessing a CRS: the city, else the file's own columns."""
    if near is not None:
        return near, "puts them in the city area"
    if table.hint is not None:
        return table.hint[0], f"puts them where the file's columns {table.hint[1]} say"
    return None, "is the only UTM zone that puts them over Indonesia"


def _declared_text(table: _Table) -> str:
    if table.kind != "vector":
        return "is a CSV without a CRS, so its coordinate columns are read as degrees"
    if table.driver == "GeoJSON":
        return "is GeoJSON without another CRS, so its coordinates mean longitude/latitude"
    if table.declared_crs is None:
        return "declares no CRS"
    return f"declares {_crs_name(table.declared_crs)}, which is longitude/latitude"


def _crs_advice(table: _Table, x: np.ndarray, y: np.ndarray, near: Bounds | None) -> str:
    hint, why = _location_hint(table, near)
    guess = guess_projected_crs(x, y, near=hint)
    if guess is not None:
        return (f"Pass --crs {_crs_name(guess)} ({guess.name}), which {why} "
                f"(crs=\"{_crs_name(guess)}\" in Python).")
    zones = [_crs_name(c) for c in candidate_utm_crs(x, y)]
    if not zones:
        return "Pass --crs with the CRS the file was written in (ask whoever exported it)."
    return (f"Pass --crs with the UTM zone of your city: the values fit {zones[0]} to "
            f"{zones[-1]}; importing for a known city (near=...) lets the zone be suggested.")


def _check_swapped(table: _Table, x: np.ndarray, y: np.ndarray, near: Bounds | None,
                   source: str) -> None:
    as_given = _in_area(x, y, near).mean()
    swapped = _in_area(y, x, near).mean()
    share = settings.SWAPPED_COORDINATE_SHARE
    if as_given < share <= swapped:
        where = "near the city" if near is not None else "as longitude/latitude"
        raise InputFileError(
            f"{source}: latitude and longitude look swapped: {_swap_subject(table, x, y)}; only "
            f"{as_given:.0%} of the points fit {where} as given, {swapped:.0%} with the two "
            f"exchanged. {_swap_advice(table)}",
            [_swap_problem(table, x, y, source)])


def _swap_subject(table: _Table, x: np.ndarray, y: np.ndarray) -> str:
    if table.kind == "vector":
        return f"points are written like ({x[0]:.6g}, {y[0]:.6g})"
    return (f"column '{table.columns['lat']}' holds values like {y[0]:.6g} and column "
            f"'{table.columns['lon']}' values like {x[0]:.6g}")


def _swap_problem(table: _Table, x: np.ndarray, y: np.ndarray, source: str) -> Problem:
    if table.kind == "vector":
        return Problem("latitude and longitude swapped", file=source, column="geometry",
                       value=f"({x[0]:.6g}, {y[0]:.6g})")
    return Problem("latitude and longitude swapped", file=source,
                   column=f"{table.columns['lat']}, {table.columns['lon']}",
                   value=f"{y[0]:.6g}, {x[0]:.6g}")


def _swap_advice(table: _Table) -> str:
    if table.kind == "vector":
        return "GeoJSON and GeoPackage store (longitude, latitude): re-export the file."
    return "Exchange the two column headers and upload the file again."


def _in_area(lon: np.ndarray, lat: np.ndarray, near: Bounds | None) -> np.ndarray:
    fits = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if near is None:
        return fits
    return fits & (distance_to_bounds(lon, lat, near) <= NEAR_TOLERANCE_M)


def _coordinate_problems(table: _Table, lon: np.ndarray, lat: np.ndarray, options: _Options,
                         source: str) -> list[Problem]:
    data = table.data
    finite = np.isfinite(data["x"].to_numpy(float)) & np.isfinite(data["y"].to_numpy(float))
    with np.errstate(invalid="ignore"):
        bad_lat = finite & ~(np.abs(lat) <= 90)
        bad_lon = finite & ~bad_lat & ~(np.abs(lon) <= 180)
    lat_col, lon_col = (("geometry",) * 2 if table.kind == "vector"
                        else (table.columns["lat"], table.columns["lon"]))
    problems = (_problems(data["row"], bad_lat, data["y"], source, lat_col,
                          "latitude must be between -90 and 90 degrees")
                + _problems(data["row"], bad_lon, data["x"], source, lon_col,
                            "longitude must be between -180 and 180 degrees"))
    if options.near is None:
        return problems
    column = lat_col if table.kind == "vector" else f"{lon_col}, {lat_col}"
    return problems + _far_problems(data["row"], lon, lat, finite & ~bad_lat & ~bad_lon,
                                    options.near, source, column)


def _far_problems(rows: pd.Series, lon: np.ndarray, lat: np.ndarray, valid: np.ndarray,
                  near: Bounds, source: str, column: str) -> list[Problem]:
    distance = distance_to_bounds(lon, lat, near)
    far = valid & (distance > NEAR_TOLERANCE_M)
    return [Problem(f"outside the city area ({distance[i] / 1000:,.0f} km from it); check "
                    "coordinates", file=source, row=int(rows.iloc[i]), column=column,
                    value=f"({lon[i]:.6f}, {lat[i]:.6f})") for i in np.flatnonzero(far)]


# --- attributes --------------------------------------------------------------------------------

def _resolve_fields(table: _Table, options: _Options, source: str
                    ) -> tuple[pd.DataFrame, list[Problem], list[Problem]]:
    data = table.data
    types, type_problems = _types(table, options.facility_type, source)
    notes = _tpst3r_note(table, options.type_given, source)
    statuses, status_problems = _statuses(table, options.status, source)
    capacity, capacity_problems, capacity_notes = _capacities(table, source)
    fields = pd.DataFrame({
        "type": types, "nama": _text(data, "nama"), "status": statuses,
        "operator": _text(data, "operator"), "capacity": capacity,
        "external_id": _text(data, "external_id"),
        "range_m": _floats(data, "range_m"), "samples": _floats(data, "samples"),
    })
    return (fields, type_problems + status_problems + capacity_problems,
            notes + capacity_notes)


def _types(table: _Table, default: str | None, source: str
           ) -> tuple[pd.Series, list[Problem]]:
    data = table.data
    if "type" not in data and default is None:
        raise InputFileError(
            f"{source}: no facility type column ({', '.join(COLUMN_ALIASES['type'])}); add one or "
            f"pass --type (facility_type=...) with one of {', '.join(FACILITY_TYPES)}")
    raw = data["type"] if "type" in data else pd.Series("", index=data.index)
    key = _norm_key(raw)
    types = key.map(TYPE_SYNONYMS).mask(key.eq(""), default)
    column = table.columns.get("type", "type")
    problems = (_problems(data["row"], key.eq("").to_numpy() & types.isna().to_numpy(), None,
                          source, column, "missing facility type; fill it in or pass --type")
                + _problems(data["row"], key.ne("").to_numpy() & types.isna().to_numpy(), raw,
                            source, column, f"unknown facility type; valid types: "
                            f"{', '.join(FACILITY_TYPES)} (or synonyms such as menara, TPS 3R, "
                            "landfill, bank sampah, SD, pustu, kantor desa)"))
    return types, problems


def _tpst3r_note(table: _Table, type_given: str | None, source: str) -> list[Problem]:
    raw = table.data["type"] if "type" in table.data else pd.Series([], dtype=object)
    if not _norm_key(pd.concat([raw, pd.Series([type_given or ""])])).eq("tpst3r").any():
        return []
    return [Problem("TPST3R/TPS3R sites read as type tps3r (village-scale 3R sites); write TPST "
                    "or pass --type tpst for a city-scale integrated processing plant",
                    file=source)]


def _statuses(table: _Table, default: str, source: str) -> tuple[pd.Series, list[Problem]]:
    data = table.data
    raw = data["status"] if "status" in data else pd.Series("", index=data.index)
    key = _norm_key(raw)
    statuses = key.map(STATUS_SYNONYMS).mask(key.eq(""), default)
    problems = _problems(data["row"], statuses.isna().to_numpy(), raw, source,
                         table.columns.get("status", "status"),
                         "unknown status; use existing (ada, eksisting, beroperasi) or planned "
                         "(rencana, usulan)")
    return statuses, problems


def _capacities(table: _Table, source: str
                ) -> tuple[np.ndarray, list[Problem], list[Problem]]:
    data = table.data
    if "capacity" not in data:
        return np.full(len(data), np.nan), [], []
    raw, column = data["capacity"], table.columns["capacity"]
    value, blank = _to_number(raw), _is_blank(raw).to_numpy()
    problems = (_problems(data["row"], ~blank & ~np.isfinite(value), raw, source, column,
                          "capacity is not a number")
                + _problems(data["row"], value < 0, raw, source, column,
                            "capacity cannot be negative"))
    factor, notes = _capacity_unit(column, source)
    return value * factor, problems, notes


def _capacity_unit(column: str, source: str) -> tuple[float, list[Problem]]:
    name = _norm_name(column)
    if "kg" in name:
        return 0.001, [Problem("capacity read as kg/day and converted to tonnes/day",
                               file=source, column=column)]
    if "ton" in name:
        return 1.0, []
    return 1.0, [Problem("the capacity column names no unit; values read as tonnes/day",
                         file=source, column=column)]


def _capacity_notes(table: _Table, fields: pd.DataFrame, source: str) -> list[Problem]:
    limit = fields["type"].map(CAPACITY_PLAUSIBLE_MAX_T_PER_DAY).to_numpy(float)
    over = fields["capacity"].to_numpy(float) > limit
    if not over.any():
        return []
    column = table.columns["capacity"]
    return [Problem(
        f"{int(over.sum())} of {len(fields)} capacities exceed what such a site handles per day "
        f"(up to {fields['capacity'].max():,.6g} t/day for "
        f"{', '.join(sorted(set(fields['type'][over])))}); if the column is in kg/day, rename it "
        f"to '{column.rstrip('_')}_kg' and import again", file=source, column=column)]


def _duplicate_problems(table: _Table, fields: pd.DataFrame, keep: np.ndarray,
                        source: str) -> list[Problem]:
    ids = fields["external_id"].where(keep)
    duplicate = (ids.notna() & ids.duplicated(keep="first")).to_numpy()
    if not duplicate.any():
        return []
    present = ids.notna()
    first_row = table.data["row"][present].groupby(ids[present]).first()
    return [Problem(f"same id as row {first_row[ids.iloc[i]]}; duplicate skipped", file=source,
                    row=int(table.data["row"].iloc[i]), column=table.columns.get("external_id"),
                    value=ids.iloc[i]) for i in np.flatnonzero(duplicate)]


def _require_some_rows(keep: np.ndarray, problems: list[Problem], source: str) -> None:
    if not keep.any():
        raise InputFileError(f"{source}: no facility could be read; every row has a problem",
                             sorted(problems, key=lambda p: p.row or 0))


# --- output ------------------------------------------------------------------------------------

def _frame(data: pd.DataFrame, fields: pd.DataFrame, lon: np.ndarray, lat: np.ndarray,
           source: str) -> gpd.GeoDataFrame:
    frame = fields.reset_index(drop=True).assign(
        row=data["row"].to_numpy(np.int64), source=source)
    frame = frame.astype({"type": "str", "status": "str", "source": "str"})
    return gpd.GeoDataFrame(frame[list(FRAME_COLUMNS[:-1])],
                            geometry=gpd.points_from_xy(lon, lat), crs=WGS84)


# --- small helpers -----------------------------------------------------------------------------

def _problems(rows: pd.Series, mask: np.ndarray, values: pd.Series | None, source: str,
              column: str | None, reason: str) -> list[Problem]:
    """One Problem per flagged row (building the report, not processing rows)."""
    index = np.flatnonzero(np.asarray(mask, dtype=bool))
    row_numbers = rows.to_numpy()[index]
    picked = [None] * len(index) if values is None else _plain(values.to_numpy()[index])
    return [Problem(reason, file=source, row=int(r), column=column, value=v)
            for r, v in zip(row_numbers, picked, strict=True)]


def _plain(values: np.ndarray) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _norm_name(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _norm_key(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.lower().str.replace(r"[^0-9a-z]", "", regex=True)
    return text.fillna("").astype(object)


def _is_blank(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().fillna("").eq("")


def _to_number(values: pd.Series) -> np.ndarray:
    """Numbers from text or numeric cells; a single decimal comma ("2,5") is accepted."""
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype("string").str.strip()
    decimal_comma = text.str.count(",").eq(1) & ~text.str.contains(".", regex=False)
    text = text.mask(decimal_comma.fillna(False), text.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(numbers), numbers, np.nan)


def _text(data: pd.DataFrame, name: str) -> pd.Series:
    if name not in data:
        return pd.Series(None, index=data.index, dtype=object)
    text = data[name].astype("string").str.strip()
    return text.astype(object).where(text.fillna("").ne("").to_numpy(), None)


def _floats(data: pd.DataFrame, name: str) -> np.ndarray:
    return data[name].to_numpy(float) if name in data else np.full(len(data), np.nan)
