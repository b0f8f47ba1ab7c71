"""Files for reports and other GIS tools: GeoJSON, GeoPackage, CSV and GeoTIFF, CRS always declared.

The format follows the file name (:data:`FORMATS`) unless given:

* **GeoJSON** (``.geojson``, ``.json``): RFC 7946, so always EPSG:4326 longitude/latitude (the
  only CRS the RFC allows, hence declared by the format itself); a table without geometry becomes
  features with ``"geometry": null``.
* **GeoPackage** (``.gpkg``): one layer named after the file stem (``blank_spots.gpkg`` ->
  layer ``blank_spots``), in the data's own CRS, declared in the file.
* **CSV** (``.csv``): UTF-8 without byte-order mark, comma-separated.  Geometry is written in
  EPSG:4326 and the CRS is part of the column names, so it cannot be lost by a tool that drops
  comments or side files: ``geometry_wkt_wgs84`` (WKT, degrees) and ``longitude_wgs84`` /
  ``latitude_wgs84`` (the point itself, or a point inside a polygon: its representative point).
  QGIS reads it as "Delimited text, WKT field ``geometry_wkt_wgs84``, EPSG:4326", GDAL with
  ``-oo GEOM_POSSIBLE_NAMES=geometry_wkt_wgs84``.  A text cell that a spreadsheet would run as a
  formula gets a leading ``'`` (:mod:`geo.csv_safety`); numbers are written as they are.
* **GeoTIFF** (``.tif``, ``.tiff``): a :class:`~geo.surface.SurfaceResult`, written by
  :func:`geo.surface.write_surface_geotiff` (float32, NaN nodata, UTM CRS declared).

A plain DataFrame with ``longitude`` and ``latitude`` columns (degrees) is exported as points; one
without them as a table without geometry.  An existing file is replaced.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import h3
import pyogrio
import shapely

from geo.csv_safety import neutralize_frame
from geo.errors import InputFileError, PetakotaError, Problem
from geo.projection import WGS84, require_crs

__all__ = ["CSV_GEOMETRY_COLUMNS", "FORMATS", "export_frame", "h3_cells_to_geodataframe"]

#: Format of each file suffix (lower case).
FORMATS: dict[str, str] = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg",
                           ".csv": "csv", ".tif": "geotiff", ".tiff": "geotiff"}

#: Geometry columns added to CSV exports: WKT, then longitude and latitude, all EPSG:4326.
CSV_GEOMETRY_COLUMNS = ("geometry_wkt_wgs84", "longitude_wgs84", "latitude_wgs84")

#: Decimal places of CSV coordinates (1e-7 degree is about 1 cm, as in RFC 7946 output).
CSV_COORDINATE_DECIMALS = 7


def export_frame(data: Any, path: str | Path, *, format: str | None = None) -> Path:
    """Write a table, a GeoDataFrame or a surface to a file.

    Parameters
    ----------
    data
        A GeoDataFrame (with a CRS), a DataFrame (points when it has ``longitude`` and
        ``latitude`` in degrees) or, for GeoTIFF, a :class:`~geo.surface.SurfaceResult`.
    path
        File to write; replaced if it exists.
    format
        ``"geojson"``, ``"gpkg"``, ``"csv"`` or ``"geotiff"``; default from the suffix of
        ``path`` (:data:`FORMATS`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InputFileError
        For an unknown suffix or format, or data that format cannot hold.
    CRSError
        For a GeoDataFrame without a CRS.
    """
    path = Path(path)
    kind = _format(path, format)
    if kind == "geotiff":
        return _write_geotiff(data, path)
    frame = _as_frame(data, path)
    path.unlink(missing_ok=True)
    if kind == "csv":
        neutralize_frame(_csv_table(frame)).to_csv(path, index=False, encoding="utf-8")
    elif kind == "geojson":
        _write_vector(_in_wgs84(frame), path, driver="GeoJSON",
                      layer_options={"RFC7946": "YES"})
    else:
        _write_vector(frame, path, driver="GPKG", layer=path.stem)
    return path


def _format(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in set(FORMATS.values()):
            raise InputFileError(f"{path.name}: export format {format!r} is not known; use one "
                                 f"of {', '.join(sorted(set(FORMATS.values())))}")
        return format
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputFileError(
            f"{path.name}: cannot tell the export format from the suffix {path.suffix!r}; use "
            f"one of {', '.join(FORMATS)}")
    return kind


def _write_geotiff(data: Any, path: Path) -> Path:
    from geo.surface import SurfaceResult, write_surface_geotiff

    if not isinstance(data, SurfaceResult):
        raise InputFileError(f"{path.name}: only a signal surface can be written as GeoTIFF, not "
                             f"a {type(data).__name__}; use .geojson, .gpkg or .csv")
    path.unlink(missing_ok=True)
    return write_surface_geotiff(data, path)


def _as_frame(data: Any, path: Path) -> pd.DataFrame:
    """Return the data as a DataFrame, or a GeoDataFrame with a CRS (points from lon/lat)."""
    if isinstance(data, gpd.GeoDataFrame):
        require_crs(data, source=f"data exported to {path.name}")
        return data
    if not isinstance(data, pd.DataFrame):
        raise InputFileError(f"{path.name}: cannot export a {type(data).__name__} as a table")
    if {"longitude", "latitude"} <= set(data.columns):
        points = gpd.points_from_xy(pd.to_numeric(data["longitude"]),
                                    pd.to_numeric(data["latitude"]), crs=WGS84)
        return gpd.GeoDataFrame(data, geometry=points, crs=WGS84)
    return data


def _in_wgs84(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return the frame in EPSG:4326; a table without geometry gets null geometries."""
    if isinstance(frame, gpd.GeoDataFrame):
        return frame.to_crs(WGS84)
    empty = gpd.GeoSeries([None] * len(frame), index=frame.index, crs=WGS84)
    return gpd.GeoDataFrame(frame, geometry=empty, crs=WGS84)


def _write_vector(frame: pd.DataFrame, path: Path, **options: Any) -> None:
    pyogrio.write_dataframe(frame.reset_index(drop=True), path, **options)


def _csv_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Attributes plus :data:`CSV_GEOMETRY_COLUMNS` (EPSG:4326) in place of the geometry."""
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame
    geometry = np.asarray(frame.geometry.to_crs(WGS84).array, dtype=object)
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    point = shapely.point_on_surface(geometry)
    wkt = shapely.to_wkt(geometry, rounding_precision=CSV_COORDINATE_DECIMALS, trim=True)
    wkt_column, lon_column, lat_column = CSV_GEOMETRY_COLUMNS
    table[wkt_column] = np.where(shapely.is_missing(geometry), None, wkt)
    table[lon_column] = np.round(shapely.get_x(point), CSV_COORDINATE_DECIMALS)
    table[lat_column] = np.round(shapely.get_y(point), CSV_COORDINATE_DECIMALS)
    return table


# --- H3 cells ----------------------------------------------------------------------------------

def h3_cells_to_geodataframe(cells_frame: pd.DataFrame, *, column: str = "h3_cell"
                             ) -> gpd.GeoDataFrame:
    """Give every row of a table of H3 cells its hexagon, for cell exports and maps.

    Parameters
    ----------
    cells_frame
        A table with an H3 cell column: 64-bit integers (as stored with measurements) or
        hexadecimal strings.  Other columns are kept.
    column
        Name of the cell column.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows (same index and order) with the cell polygon (``h3.cell_to_boundary``) as
        ``geometry``, EPSG:4326; an existing ``geometry`` column is replaced.

    Raises
    ------
    PetakotaError
        Listing every row whose value is not a valid H3 cell (``row`` numbered as in a CSV of
        the table: the header is row 1, the first data row 2).
    """
    if column not in cells_frame.columns:
        raise InputFileError(f"the table has no {column!r} column of H3 cells",
                             [Problem("required column is missing", column=column)])
    cells, codes = _unique_cells(cells_frame[column])
    polygons = np.array([_hexagon(cell) for cell in cells], dtype=object)
    table = pd.DataFrame(cells_frame).drop(columns=["geometry"], errors="ignore")
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(
        polygons[codes], index=table.index, crs=WGS84), crs=WGS84)


def _unique_cells(values: pd.Series) -> tuple[list[int], np.ndarray]:
    """Distinct cells as integers and each row's position among them; raises on invalid ones."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    cells = [_cell_int(value) for value in uniques]
    invalid = [i for i, cell in enumerate(cells) if cell is None]
    if invalid:
        rows = np.flatnonzero(np.isin(codes, invalid))
        raise PetakotaError(
            f"{len(rows)} value(s) of column {values.name!r} are not H3 cells",
            [Problem("not a valid H3 cell", row=int(row) + 2, column=str(values.name),
                     value=values.iloc[row]) for row in rows])
    return cells, codes  # type: ignore[return-value]


def _cell_int(value: Any) -> int | None:
    """Return the cell as a positive integer, or None when it is not a valid H3 cell."""
    try:
        cell = h3.str_to_int(value) if isinstance(value, str) else int(value)
        valid = cell > 0 and h3.is_valid_cell(h3.int_to_str(cell))
    except (TypeError, ValueError, OverflowError, h3.H3BaseException):
        return None
    return cell if valid else None


def _hexagon(cell: int) -> shapely.Polygon:
    boundary = h3.cell_to_boundary(h3.int_to_str(cell))
    return shapely.Polygon([(lng, lat) for lat, lng in boundary])
