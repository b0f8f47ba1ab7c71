"""Which kelurahan is a point in: fast, deterministic assignment of millions of points.

Real boundary files overlap slightly and leave sliver gaps, yet every measurement must belong to
exactly one kelurahan, the same one every time.  The rule:

1. A point inside one polygon (its boundary included) belongs to that kelurahan.
2. A point inside several belongs to the one whose boundary is farthest from it (the point lies
   deepest inside it); ties, such as a point on a shared boundary, go to the smallest ``kode``.
3. A point inside none belongs to the nearest kelurahan if that is at most ``tolerance_m`` metres
   away (equally near ones: smallest ``kode``); otherwise to none.

Distances are measured in the city's UTM zone.  Build the index once per boundary set with
:func:`build_kelurahan_index`, then call :meth:`KelurahanIndex.assign` on as many chunks as needed.
A coarse grid answers most points without a point-in-polygon test: only points in grid cells
crossed by a boundary are tested, and only the few ambiguous or unassigned points are measured.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

import geopandas as gpd
import pyproj
import shapely

from geo import settings
from geo.errors import BoundaryError, CRSError, Problem
from geo.projection import utm_zone_crs

#: Largest number of grid cells the index lays over the city (at most 1024 per kelurahan).  More
#: cells answer more points without a point-in-polygon test but take longer to build (about 0.3 s
#: for 2**16 cells and 50 kelurahan).
GRID_CELLS = 2**16

_EMPTY, _MIXED = -1, -2  # grid cell states besides "covered by polygon i"
_LONLAT = "EPSG:4326"


@dataclass(frozen=True)
class _Grid:
    """A regular lon/lat grid; each cell is covered by one polygon, by none, or mixed."""

    origin: tuple[float, float]
    step: tuple[float, float]
    shape: tuple[int, int]
    state: np.ndarray
    start: np.ndarray
    candidates: np.ndarray

    def cells(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cell number of each point; -1 outside the grid or for non-finite coordinates."""
        column = np.floor((x - self.origin[0]) / self.step[0])
        row = np.floor((y - self.origin[1]) / self.step[1])
        nx, ny = self.shape
        # a point on the far edge of the grid belongs to the last cell
        column = np.where(column == nx, nx - 1, column)
        row = np.where(row == ny, ny - 1, row)
        inside = (column >= 0) & (column < nx) & (row >= 0) & (row < ny)
        # zero the others before combining, so that NaN and inf never meet in arithmetic
        row, column = np.where(inside, row, 0), np.where(inside, column, 0)
        return np.where(inside, row * nx + column, -1).astype(np.int64)


@dataclass(frozen=True)
class _Segments:
    """Boundary segments of all polygons (metric CRS) in a tree, with the polygon of each.

    The distance from a point outside a polygon to the polygon is its distance to the nearest
    boundary segment; a tree of two-point segments finds it far faster than whole polygons.
    """

    tree: shapely.STRtree
    polygon: np.ndarray


@dataclass(frozen=True, eq=False)
class KelurahanIndex:
    """Kelurahan polygons prepared for fast point assignment.

    Build it with :func:`build_kelurahan_index`.

    Attributes
    ----------
    kode
        Kelurahan codes, sorted; the position of a code is its polygon number.
    polygons
        The polygons in EPSG:4326 (prepared).
    metric_crs
        The city's UTM CRS, in which distances are measured.
    tolerance_m
        Sliver tolerance in metres, or ``None`` to read ``settings.SLIVER_TOLERANCE_M`` at each
        call.
    """

    kode: np.ndarray
    polygons: np.ndarray
    metric_crs: pyproj.CRS
    tolerance_m: float | None
    _to_metric: pyproj.Transformer = field(repr=False)
    _metric_polygons: np.ndarray = field(repr=False)
    _metric_boundaries: np.ndarray = field(repr=False)
    _segments: _Segments = field(repr=False)
    _grid: _Grid = field(repr=False)
    _near_zones: dict[float, shapely.Geometry] = field(default_factory=dict, repr=False)

    def assign(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
        """Kelurahan code of each point.

        Parameters
        ----------
        lon, lat
            Longitudes and latitudes in degrees (EPSG:4326), same length.

        Returns
        -------
        numpy.ndarray
            Object array of ``kode`` strings, ``None`` where a point is farther than the
            tolerance from every kelurahan or has non-finite coordinates.
        """
        return _codes(self.kode, self.positions(lon, lat))

    def positions(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
        """Like :meth:`assign`, as positions in ``kode`` (int64; -1 where :meth:`assign` gives
        ``None``): cheaper to filter and to encode than an object array of strings."""
        x, y = _coordinates(lon, lat)
        cells = self._grid.cells(x, y)
        owner = np.where(cells >= 0, self._grid.state[np.maximum(cells, 0)], _EMPTY)
        mixed = np.flatnonzero(owner == _MIXED)
        owner[mixed] = self._test_points(mixed, cells[mixed], x, y)
        unassigned = np.flatnonzero((owner == _EMPTY) & np.isfinite(x) & np.isfinite(y))
        owner[unassigned] = self._nearest(unassigned, x, y)
        return np.where(owner >= 0, owner, -1).astype(np.int64)

    def _test_points(self, points: np.ndarray, cells: np.ndarray, x: np.ndarray, y: np.ndarray
                     ) -> np.ndarray:
        """Owner of points in mixed cells, by point-in-polygon tests against the cell's polygons."""
        point, polygon = _candidate_pairs(self._grid, cells)
        hit = shapely.intersects_xy(self.polygons[polygon], x[points][point], y[points][point])
        point, polygon = point[hit], polygon[hit]
        count = np.bincount(point, minlength=len(points))
        owner = np.full(len(points), _EMPTY, dtype=np.int64)
        single = count[point] == 1
        owner[point[single]] = polygon[single]
        several = ~single
        owner[np.unique(point[several])] = self._deepest(
            points[point[several]], polygon[several], x, y)
        return owner

    def _deepest(self, points: np.ndarray, polygon: np.ndarray, x: np.ndarray, y: np.ndarray
                 ) -> np.ndarray:
        """For (point, polygon) pairs sorted by point: per point, the polygon it is deepest in."""
        metric = shapely.points(*self._to_metric.transform(x[points], y[points]))
        depth = shapely.distance(self._metric_boundaries[polygon], metric)
        return _first_per_group(points, polygon, -depth)

    def _nearest(self, points: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Owner of points inside no polygon: the nearest within the tolerance, else none."""
        tolerance = _tolerance(self.tolerance_m)
        owner = np.full(len(points), _EMPTY, dtype=np.int64)
        if tolerance <= 0 or len(points) == 0:
            return owner
        near = np.flatnonzero(shapely.intersects_xy(self._near_zone(tolerance), x[points],
                                                    y[points]))
        metric = shapely.points(*self._to_metric.transform(x[points[near]], y[points[near]]))
        (point, segment), distance = self._segments.tree.query_nearest(
            metric, max_distance=tolerance, return_distance=True, all_matches=True)
        owner[near[np.unique(point)]] = _first_per_group(
            point, self._segments.polygon[segment], distance)
        return owner

    def _near_zone(self, tolerance: float) -> shapely.Geometry:
        """Area (lon/lat) within a little more than ``tolerance`` metres of any kelurahan."""
        if tolerance not in self._near_zones:
            zone = shapely.union_all(self._metric_polygons).buffer(tolerance * 1.01 + 1.0)
            zone = shapely.transform(zone, _transformer(self.metric_crs, _LONLAT).transform,
                                   interleaved=False)
            shapely.prepare(zone)
            self._near_zones[tolerance] = zone
        return self._near_zones[tolerance]


def build_kelurahan_index(kelurahan: gpd.GeoDataFrame, *,
                          tolerance_m: float | None = None) -> KelurahanIndex:
    """Prepare kelurahan polygons for :meth:`KelurahanIndex.assign`.

    Parameters
    ----------
    kelurahan
        Kelurahan with a unique ``kode`` column and polygon geometries, in any CRS.
    tolerance_m
        A point in no polygon goes to the nearest kelurahan at most this many metres away.
        Default: ``settings.SLIVER_TOLERANCE_M``, read at each :meth:`~KelurahanIndex.assign`.

    Returns
    -------
    KelurahanIndex
        The index; build it once and query it with as many chunks of points as needed.

    Raises
    ------
    CRSError
        ``kelurahan`` has no CRS.
    BoundaryError
        ``kode`` is missing, empty or duplicated, or a geometry is empty or not a polygon.
    """
    kelurahan = _checked(kelurahan).to_crs(_LONLAT).sort_values("kode", ignore_index=True)
    polygons = np.asarray(kelurahan.geometry.array, dtype=object)
    shapely.prepare(polygons)
    west, south, east, north = shapely.total_bounds(polygons)
    metric_crs = utm_zone_crs((west + east) / 2, (south + north) / 2)
    metric = np.asarray(kelurahan.to_crs(metric_crs).geometry.array, dtype=object)
    return KelurahanIndex(
        kode=kelurahan["kode"].to_numpy(dtype=object), polygons=polygons, metric_crs=metric_crs,
        tolerance_m=tolerance_m, _to_metric=_transformer(_LONLAT, metric_crs),
        _metric_polygons=metric, _metric_boundaries=shapely.boundary(metric),
        _segments=_boundary_segments(metric),
        _grid=_build_grid(polygons, min(GRID_CELLS, 1024 * len(polygons))))


def assign_kelurahan(lon: npt.ArrayLike, lat: npt.ArrayLike, kelurahan: gpd.GeoDataFrame, *,
                     tolerance_m: float | None = None) -> np.ndarray:
    """Kelurahan code of each point; see :meth:`KelurahanIndex.assign`.

    Builds the index on every call: to tag many chunks, build it once with
    :func:`build_kelurahan_index`.
    """
    return build_kelurahan_index(kelurahan, tolerance_m=tolerance_m).assign(lon, lat)


# --- helpers -----------------------------------------------------------------------------------

def _checked(kelurahan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the kelurahan table, or raise one error listing all that prevents indexing it."""
    if kelurahan.crs is None:
        raise CRSError("the kelurahan table has no CRS; set it (EPSG:4326 for lon/lat) first")
    if "kode" not in kelurahan.columns:
        raise BoundaryError("the kelurahan table has no 'kode' column")
    codes = kelurahan["kode"]
    types = kelurahan.geometry.geom_type.fillna("missing")
    bad = ~types.isin(["Polygon", "MultiPolygon"]) | kelurahan.geometry.is_empty
    problems = [Problem(f"kelurahan {n}: no code", column="kode")
                for n in np.flatnonzero(codes.isna().to_numpy()) + 1]
    problems += [Problem(f"kelurahan {n}: code is used more than once", column="kode", value=code)
                 for n, code in zip(np.flatnonzero(codes.duplicated(keep=False).to_numpy()) + 1,
                                    codes[codes.duplicated(keep=False)], strict=True)]
    problems += [Problem(f"kelurahan {code}: geometry is {kind} (empty or not a polygon)",
                         column="geometry", value=code)
                 for code, kind in zip(codes[bad], types[bad], strict=True)]
    if problems:
        raise BoundaryError("the kelurahan table cannot be used for point lookup", problems)
    return kelurahan


def _coordinates(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"lon and lat differ in length ({len(x)} and {len(y)})")
    return x, y


def _tolerance(tolerance_m: float | None) -> float:
    return float(settings.SLIVER_TOLERANCE_M if tolerance_m is None else tolerance_m)


def _transformer(source: str | pyproj.CRS, target: str | pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def _codes(kode: np.ndarray, owner: np.ndarray) -> np.ndarray:
    codes = np.full(len(owner), None, dtype=object)
    found = owner >= 0
    codes[found] = kode[owner[found]]
    return codes


def _first_per_group(group: np.ndarray, polygon: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Per group (ascending), the polygon with the smallest key, ties to the smallest polygon."""
    order = np.lexsort((polygon, key, group))
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    return polygon[order][first]


def _candidate_pairs(grid: _Grid, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, polygon) pairs for every polygon touching each point's cell, sorted by point."""
    start, stop = grid.start[cells], grid.start[cells + 1]
    count = stop - start
    point = np.repeat(np.arange(len(cells)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return point, grid.candidates[np.repeat(start, count) + offset]


def _boundary_segments(metric: np.ndarray) -> _Segments:
    """Every two-point segment of every ring of the (metric) polygons, in a tree."""
    parts, polygon = shapely.get_parts(metric, return_index=True)
    rings, part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = np.flatnonzero(ring[1:] == ring[:-1])
    segments = shapely.linestrings(np.stack([coords[same], coords[same + 1]], axis=1))
    return _Segments(shapely.STRtree(segments), polygon[part[ring[same]]])


def _build_grid(polygons: np.ndarray, cells: int) -> _Grid:
    """Lay a grid of about ``cells`` cells over the polygons and classify each cell."""
    origin, step, shape = _grid_layout(shapely.total_bounds(polygons), cells)
    boxes = _cell_boxes(origin, step, shape)
    cell, polygon = shapely.STRtree(polygons).query(boxes, predicate="intersects")
    order = np.lexsort((polygon, cell))
    cell, polygon = cell[order], polygon[order]
    count = np.bincount(cell, minlength=len(boxes))
    state = np.where(count == 0, _EMPTY, _MIXED).astype(np.int64)
    alone = count[cell] == 1
    covered = shapely.covers(polygons[polygon[alone]], boxes[cell[alone]])
    state[cell[alone][covered]] = polygon[alone][covered]
    start = np.r_[0, np.cumsum(count)]
    return _Grid(origin, step, shape, state, start, polygon)


def _grid_layout(bounds: np.ndarray, cells: int
                 ) -> tuple[tuple[float, float], tuple[float, float], tuple[int, int]]:
    width = max(bounds[2] - bounds[0], 1e-9)
    height = max(bounds[3] - bounds[1], 1e-9)
    nx = max(1, round(np.sqrt(cells * width / height)))
    ny = max(1, round(cells / nx))
    return (bounds[0], bounds[1]), (width / nx, height / ny), (nx, ny)


def _cell_boxes(origin: tuple[float, float], step: tuple[float, float], shape: tuple[int, int]
                ) -> np.ndarray:
    """Cell boxes, each grown by a millionth of a cell so that rounding never loses a point."""
    column, row = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]))
    x0 = origin[0] + column.ravel() * step[0]
    y0 = origin[1] + row.ravel() * step[1]
    grow_x, grow_y = step[0] * 1e-6, step[1] * 1e-6
    return shapely.box(x0 - grow_x, y0 - grow_y, x0 + step[0] + grow_x, y0 + step[1] + grow_y)
