"""Population from a raster (GeoTIFF, e.g. WorldPop): zonal sums over polygons and H3 cells.

A raster cell cut by a polygon boundary is shared between the polygons by area: each raster cell
is split into ``k x k`` sub-cells (``settings.POPULATION_SUPERSAMPLE``), each sub-cell carries
``1/k**2`` of the cell's people and belongs to the polygon containing its centre
(``rasterio.features.rasterize``).  Polygons are reprojected to the raster's CRS first, so a raster
in EPSG:4326 (WorldPop) and one in UTM (``geo.demo.generate_population``) both work.  NaN and
nodata count as nobody.

Polygons that do not overlap each other are burnt together in one pass, so every sub-cell is
counted at most once and sums over polygons that tile the raster add up to the raster's total.
Polygons that do overlap (two boundary versions, say) are put into separate passes: each polygon
gets its own full sum.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

import geopandas as gpd
import h3ronpy.vector as h3_vector
import rasterio
import rasterio.features
import rasterio.windows
import shapely

from geo import settings
from geo.errors import CRSError
from geo.projection import require_crs

__all__ = ["population_in_cells", "population_in_polygons", "raster_total"]

#: Sub-cells handled per block while burning polygons (bounds memory to a few hundred MB).
_BLOCK_SUBCELLS = 4_000_000


def population_in_polygons(polygons: gpd.GeoSeries | gpd.GeoDataFrame, raster_path: str | Path,
                           *, supersample: int | None = None) -> np.ndarray:
    """People living in each polygon.

    Parameters
    ----------
    polygons
        Polygons with a CRS (any); they may overlap each other.
    raster_path
        Population raster (people per raster cell) with a CRS.
    supersample
        Split each raster cell into this many x this many sub-cells to share cells cut by a
        boundary (default ``settings.POPULATION_SUPERSAMPLE``).

    Returns
    -------
    numpy.ndarray
        Float64 people per polygon, in the order of ``polygons``; 0 for empty geometries and
        for polygons outside the raster.

    Raises
    ------
    CRSError
        When the polygons or the raster have no CRS.
    """
    require_crs(polygons, source="the polygons")
    k = _supersample(supersample)
    with rasterio.open(raster_path) as raster:
        geometries = _in_raster_crs(polygons, raster, str(raster_path))
        return _zonal_sums(raster, geometries, k)


def population_in_cells(h3_cells: npt.ArrayLike, raster_path: str | Path, *,
                        supersample: int | None = None) -> np.ndarray:
    """People living in each H3 cell.

    Parameters
    ----------
    h3_cells
        H3 cell indexes as 64-bit integers (any resolution; signed or unsigned).
    raster_path
        Population raster (people per raster cell) with a CRS.
    supersample
        As for :func:`population_in_polygons`.

    Returns
    -------
    numpy.ndarray
        Float64 people per cell, in the order of ``h3_cells``.
    """
    unique, position = np.unique(np.asarray(h3_cells).astype(np.int64), return_inverse=True)
    polygons = cell_polygons(unique)
    k = _supersample(supersample)
    with rasterio.open(raster_path) as raster:
        geometries = _in_raster_crs(polygons, raster, str(raster_path))
        # cells of one resolution never overlap: all of them are burnt in one pass
        return _zonal_sums(raster, geometries, k, disjoint=True)[position.ravel()]


def cell_polygons(h3_cells: npt.ArrayLike) -> gpd.GeoSeries:
    """Hexagons (pentagons) of H3 cells as polygons in EPSG:4326, in the given order."""
    cells = np.asarray(h3_cells).astype(np.int64).view(np.uint64)
    if len(cells) == 0:
        return gpd.GeoSeries([], crs="EPSG:4326")
    wkb = pa.array(h3_vector.cells_to_wkb_polygons(pa.array(cells)))
    return gpd.GeoSeries(shapely.from_wkb(wkb.to_numpy(zero_copy_only=False)), crs="EPSG:4326")


def raster_total(raster_path: str | Path) -> float:
    """Sum of all valid cells of a population raster (NaN and nodata count as nobody)."""
    with rasterio.open(raster_path) as raster:
        return float(sum(_valid(raster.read(1, window=window, masked=True)).sum(dtype=np.float64)
                         for _, window in raster.block_windows(1)))


# --- helpers -----------------------------------------------------------------------------------

def _supersample(supersample: int | None) -> int:
    k = int(settings.POPULATION_SUPERSAMPLE if supersample is None else supersample)
    if k < 1:
        raise ValueError(f"supersample must be a positive whole number, not {supersample!r}")
    return k


def _in_raster_crs(polygons: gpd.GeoSeries | gpd.GeoDataFrame, raster: rasterio.DatasetReader,
                   source: str) -> np.ndarray:
    if raster.crs is None:
        raise CRSError(f"{source}: the population raster declares no CRS, so it cannot be "
                       "matched with the boundaries; write it with its CRS (e.g. EPSG:4326)")
    series = polygons.geometry if isinstance(polygons, gpd.GeoDataFrame) else polygons
    return np.asarray(series.to_crs(raster.crs.to_wkt()).array, dtype=object)


def _zonal_sums(raster: rasterio.DatasetReader, geometries: np.ndarray, k: int, *,
                disjoint: bool = False) -> np.ndarray:
    """Sum over each geometry, one burning pass per layer of non-overlapping geometries."""
    sums = np.zeros(len(geometries))
    usable = np.flatnonzero(~(shapely.is_missing(geometries) | shapely.is_empty(geometries)))
    layers = [np.arange(len(usable))] if disjoint else _layers(geometries[usable])
    for layer in layers:
        sums[usable[layer]] = _layer_sums(raster, geometries[usable[layer]], k)
    return sums


def _layers(geometries: np.ndarray) -> list[np.ndarray]:
    """Split the geometries into groups whose members' interiors do not meet (greedy colouring)."""
    tree = shapely.STRtree(geometries)
    first, second = tree.query(geometries, predicate="intersects")
    pair = first < second
    first, second = first[pair], second[pair]
    overlap = shapely.relate_pattern(geometries[first], geometries[second], "T********")
    first, second = first[overlap], second[overlap]
    if len(first) == 0:
        return [np.arange(len(geometries))]
    colour = np.zeros(len(geometries), dtype=np.int64)
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        neighbours.setdefault(b, []).append(a)
    for index in sorted(neighbours):  # only polygons that overlap an earlier one
        taken = {int(colour[other]) for other in neighbours[index]}
        colour[index] = next(c for c in range(len(taken) + 1) if c not in taken)
    return [np.flatnonzero(colour == c) for c in range(int(colour.max()) + 1)]


def _layer_sums(raster: rasterio.DatasetReader, geometries: np.ndarray, k: int) -> np.ndarray:
    """Sum over non-overlapping geometries, burning them block by block at ``k`` x resolution."""
    sums = np.zeros(len(geometries) + 1)
    tree = shapely.STRtree(geometries)
    shapes = _geojson_like(geometries)
    for window in _blocks(raster, shapely.total_bounds(geometries), k):
        transform = _window_transform(raster.transform, window)
        inside = tree.query(_window_box(transform, window))
        if len(inside) == 0:
            continue
        people = _valid(raster.read(1, window=window, masked=True)) / (k * k)
        labels = rasterio.features.rasterize(
            ((shapes[i], i + 1) for i in inside.tolist()),
            out_shape=(people.shape[0] * k, people.shape[1] * k),
            transform=_refined(transform, k),
            fill=0, dtype="int32")
        weights = np.repeat(np.repeat(people, k, axis=0), k, axis=1)
        sums += np.bincount(labels.ravel(), weights=weights.ravel(), minlength=len(sums))
    return sums[1:]


def _geojson_like(geometries: np.ndarray) -> list[dict]:
    """GeoJSON-like dicts of (multi)polygons, built from coordinate arrays in bulk.

    ``rasterize`` would otherwise ask every shapely geometry for ``__geo_interface__``, which
    costs far more than the burning itself for thousands of small hexagons.
    """
    parts, owner = shapely.get_parts(geometries, return_index=True)
    polygon = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    parts, owner = parts[polygon], owner[polygon]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coordinates, ring_of = shapely.get_coordinates(rings, return_index=True)
    cut = np.r_[0, np.cumsum(np.bincount(ring_of, minlength=len(rings)))].tolist()
    points = coordinates.tolist()
    polygons: list[list] = [[] for _ in range(len(parts))]
    for ring, part in enumerate(ring_part.tolist()):
        polygons[part].append(points[cut[ring]:cut[ring + 1]])
    shapes: list[dict] = [{"type": "MultiPolygon", "coordinates": []} for _ in geometries]
    for part, geometry in enumerate(owner.tolist()):
        shapes[geometry]["coordinates"].append(polygons[part])
    return shapes


def _blocks(raster: rasterio.DatasetReader, bounds: np.ndarray, k: int
            ) -> Iterator[rasterio.windows.Window]:
    """Windows of whole rows covering ``bounds`` (clipped to the raster), small enough in memory."""
    x0, y0, x1, y1 = bounds
    x, y = np.array([x0, x0, x1, x1]), np.array([y0, y1, y0, y1])
    inverse = ~raster.transform
    col = inverse.a * x + inverse.b * y + inverse.c
    row = inverse.d * x + inverse.e * y + inverse.f
    first_col = max(0, int(np.floor(col.min())))
    last_col = min(raster.width, int(np.ceil(col.max())))
    first_row = max(0, int(np.floor(row.min())))
    last_row = min(raster.height, int(np.ceil(row.max())))
    width = last_col - first_col
    step = max(1, _BLOCK_SUBCELLS // max(1, width * k * k))
    for start in range(first_row, last_row, step) if width > 0 else ():
        yield rasterio.windows.Window(first_col, start, width, min(step, last_row - start))


def _window_transform(transform: rasterio.Affine, window: rasterio.windows.Window
                      ) -> rasterio.Affine:
    """Transform of a window (written out: affine 3 warns on ``Affine * tuple``)."""
    col, row = window.col_off, window.row_off
    return rasterio.Affine(transform.a, transform.b, transform.c + transform.a * col
                           + transform.b * row, transform.d, transform.e,
                           transform.f + transform.d * col + transform.e * row)


def _window_box(transform: rasterio.Affine, window: rasterio.windows.Window) -> shapely.Polygon:
    """Footprint of a window (a polygon, so that rotated grids work too)."""
    col = np.array([0, window.width, window.width, 0])
    row = np.array([0, 0, window.height, window.height])
    return shapely.Polygon(np.column_stack([transform.a * col + transform.b * row + transform.c,
                                            transform.d * col + transform.e * row + transform.f]))


def _refined(transform: rasterio.Affine, k: int) -> rasterio.Affine:
    """Return the transform of the grid with each cell split into ``k`` x ``k`` sub-cells."""
    return rasterio.Affine(transform.a / k, transform.b / k, transform.c,
                           transform.d / k, transform.e / k, transform.f)


def _valid(values: np.ma.MaskedArray) -> np.ndarray:
    """Raster values as float64 with nodata, NaN and infinities set to 0."""
    data = np.ma.filled(values.astype(np.float64), 0.0)
    return np.where(np.isfinite(data), data, 0.0)
