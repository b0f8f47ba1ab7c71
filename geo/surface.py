"""Estimated signal surface of a city and the blank spots it shows.

The surface is a raster in the city's UTM zone (:func:`~geo.projection.utm_crs_for`) whose cells
hold the signal estimated from the measurements around them, and which says nothing where nobody
measured: a cell farther than ``max_distance_m`` from every measurement, or whose centre lies
outside the city, is NaN.  Blank spots are the connected groups of cells estimated below the
no-coverage threshold, turned into polygons with the evidence behind them.

How measurements become one surface (each step a documented choice):

1. **Evidence.** Rows are kept when their position is known (and, if ``accuracy_m`` is given, no
   less accurate than ``settings.MAX_ACCURACY_M``), they match the ``operator``/``technology``
   filter and were taken at or before ``as_of``.  A *no-service* row is evidence of no coverage for
   every technology, so it passes any technology filter.  A row with neither a signal nor a
   no-service flag, or of a technology without signal classes, says nothing and is skipped.
2. **One scale for all technologies.**  RSRP (4G/5G), RSCP (3G) and RSSI (2G) are different
   physical quantities, so they are never averaged as such.  Each reading is mapped onto the
   4G/5G RSRP scale, piecewise linearly, so that the class bounds of its technology
   (``settings.SIGNAL_CLASSES_DBM``: very good, good, fair, weak) land on the RSRP bounds of the
   same classes, with slope 1 beyond the outer bounds: 3G RSCP -85 dBm ("good" bound) becomes
   -90, 2G RSSI -111 dBm (1 dB below "weak") becomes -121.  Every value in a surface is therefore
   **dBm on the 4G/5G RSRP scale ("RSRP-equivalent")**, and a reading keeps its class after the
   mapping; no coverage is below the 4G weak bound (-120 dBm).
3. **No service is a value, not a gap.**  A no-service observation becomes :data:`NO_SERVICE_DBM`
   (-140 dBm, the floor of the RSRP reporting range, 20 dB below the no-coverage bound), so that
   places where phones found no network pull the estimate down instead of being left out.
4. **Recent evidence per place.**  Readings are grouped by square bins of
   :data:`SURFACE_AGGREGATION_M` metres (at most half a surface cell) and operator.  In each
   group only readings from the last ``settings.EVIDENCE_WINDOW_DAYS`` days before its latest
   reading are used, extended back only as far as needed to reach
   ``settings.MIN_SAMPLES_PER_CELL`` readings (the rule of :mod:`geo.coverage`), so a tower put
   on air mid-year shows up as soon as the place is measured again.
5. **Aggregation.**  Each group becomes one point: the mean position of its readings and their
   median value.  Without an operator filter the value of a bin is that of the **best operator**
   there (the highest median): a blank spot is a place where *no* operator serves.  This keeps a
   million readings to a few hundred thousand points and damps single outliers.
6. **Interpolation.**  ``method="idw"``: inverse-distance weighting, ``sum(v / d**p) / sum(1 /
   d**p)`` over the ``neighbours`` nearest points (``scipy.spatial.cKDTree``), the point's own
   value at distance 0.  ``method="kriging"``: ordinary kriging (PyKrige, spherical variogram
   fitted to the points, moving window of ``neighbours`` points).  Kriging uses at most
   :data:`KRIGING_MAX_POINTS` points: larger sets are re-aggregated on ever coarser bins
   (doubling) until they fit, so it smooths more than IDW on big surveys; its estimates are
   clipped to the range of the data.  With PyKrige's compiled moving-window backend a whole
   city (1 million readings, 200,000 cells) takes about 2.5 s; PyKrige's pure-Python loop,
   used when the compiled backend is missing, is one to two orders of magnitude slower.
7. **Mask.**  The distance from each cell centre to the nearest *individual* reading (not bin
   mean) is exact (k-d tree); cells beyond ``max_distance_m`` are NaN.

Defaults are the module constants below, read at call time; a constant of the same name in
:mod:`geo.settings` takes precedence, so a city deployment can move them there.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

import geopandas as gpd
import pyproj
import rasterio
import rasterio.features
import shapely
from rasterio.transform import Affine

from geo import settings
from geo.errors import InputFileError, Problem
from geo.projection import WGS84, require_crs, utm_crs_for

__all__ = [
    "BLANK_SPOT_COLUMNS",
    "BLANK_SPOT_POINT_COLUMNS",
    "EvidenceSelection",
    "METHODS",
    "NO_SERVICE_DBM",
    "REFERENCE_TECHNOLOGY",
    "SurfaceResult",
    "blank_spot_points",
    "blank_spot_polygons",
    "evidence_points",
    "interpolate_signal",
    "read_surface_geotiff",
    "write_surface_geotiff",
]

#: Cell size of the surface in metres.
SURFACE_RESOLUTION_M = 100.0

#: Cells whose centre is farther than this (metres) from every measurement are left empty (NaN):
#: the map never claims coverage, or its absence, where nobody measured.
SURFACE_MAX_DISTANCE_M = 500.0

#: Size (metres) of the square bins in which readings are aggregated before interpolating; the
#: bins are never larger than half a surface cell.
SURFACE_AGGREGATION_M = 50.0

#: Value (dBm, RSRP scale) given to a no-service observation: the floor of the RSRP reporting
#: range (3GPP TS 36.133), 20 dB below the no-coverage bound of -120 dBm.
NO_SERVICE_DBM = -140.0

#: Technology whose measure and class bounds are the common scale of the surface (RSRP).
REFERENCE_TECHNOLOGY = "4G"

#: Interpolation methods of :func:`interpolate_signal`.
METHODS = ("idw", "kriging")

#: Largest number of aggregated points handed to PyKrige (its variogram fit holds all pairwise
#: distances in memory: 3,000 points are 4.5 million pairs).
KRIGING_MAX_POINTS = 3000

#: Variogram model fitted for kriging (a PyKrige model name).
KRIGING_VARIOGRAM_MODEL = "spherical"

#: Blank-spot polygons smaller than this (m2) are dropped; 0 keeps single cells, which are real
#: evidence when measured (their ``samples`` column tells).
BLANK_SPOT_MIN_AREA_M2 = 0.0

#: Columns of :func:`blank_spot_polygons`, in order.
BLANK_SPOT_COLUMNS = ("id", "area_km2", "kelurahan", "kelurahan_kode_main", "population",
                      "samples", "no_service_samples", "last_measured", "centroid_lat",
                      "centroid_lon", "geometry")

#: Columns of :func:`blank_spot_points`, in order (Kominfo's blank-spot proposals: one point per
#: place with its evidence).
BLANK_SPOT_POINT_COLUMNS = ("id", "latitude", "longitude", "kelurahan_kode_main", "kelurahan",
                            "area_km2", "population", "samples", "no_service_samples",
                            "last_measured", "last_measured_utc", "geometry")

# overlaps smaller than this (m2) are rounding noise of a shared edge, not a kelurahan's share
_MIN_OVERLAP_M2 = 1.0
_REQUIRED_COLUMNS = ("latitude", "longitude", "measured_at", "signal_dbm", "no_service")
_SECONDS_PER_DAY = 86_400


# --- results -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EvidenceSelection:
    """Which measurements a surface rests on; :func:`blank_spot_polygons` counts the same ones.

    Attributes
    ----------
    operator, technology
        Filters (``None``: all).  No-service rows pass every technology filter.
    as_of
        Latest measurement time used (UTC epoch seconds), ``None`` for all.
    aggregation_m
        Bin size in metres.
    evidence_window_days, min_samples
        Per bin and operator, readings of the last ``evidence_window_days`` before the latest,
        extended back to reach ``min_samples`` readings.
    max_accuracy_m
        Readings less accurate than this (metres) are not used; ``None`` keeps all.
    classes_dbm
        Lower bounds of very good, good, fair, weak per technology (dBm).
    """

    operator: str | None
    technology: str | None
    as_of: int | None
    aggregation_m: float
    evidence_window_days: float
    min_samples: int
    max_accuracy_m: float | None
    classes_dbm: dict[str, tuple[float, float, float, float]]

    @property
    def no_coverage_dbm(self) -> float:
        """No-coverage bound of the surface scale (the reference technology's weak bound)."""
        return float(self.classes_dbm[REFERENCE_TECHNOLOGY][-1])


@dataclass(frozen=True, eq=False)
class SurfaceResult:
    """An estimated signal surface.

    Attributes
    ----------
    values
        2-D float32 signal estimate in dBm on the 4G/5G RSRP scale (see the module notes), NaN
        where masked: outside the city or farther than ``max_distance_m`` from any measurement.
        Row 0 is the northern edge.
    transform
        Affine transform from (column, row) to UTM metres of the cell corners.
    crs
        The city's UTM zone.
    resolution_m
        Cell size in metres.
    method
        ``"idw"`` or ``"kriging"``.
    samples
        Measurements the surface rests on.
    points
        Aggregated points interpolated.
    max_distance_m
        Masking distance in metres.
    selection
        The evidence rule (filters, aggregation), reused to count evidence in blank spots.
    distance_m
        Float32 distance (metres) from each cell centre to the nearest measurement, ``inf``
        beyond ``max_distance_m`` and NaN outside the city; ``None`` when read from a file.
    """

    values: np.ndarray
    transform: Affine
    crs: pyproj.CRS
    resolution_m: float
    method: str
    samples: int
    points: int
    max_distance_m: float
    selection: EvidenceSelection
    distance_m: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns of the grid."""
        return self.values.shape  # type: ignore[return-value]

    @property
    def no_coverage_dbm(self) -> float:
        """Estimates below this (dBm, RSRP scale) mean no usable coverage."""
        return self.selection.no_coverage_dbm

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """UTM x and y (metres) of every cell centre, each of the grid's shape."""
        rows, cols = np.indices(self.shape)
        return _apply(self.transform, cols + 0.5, rows + 0.5)


# --- surface -----------------------------------------------------------------------------------

def interpolate_signal(
    measurements: pd.DataFrame,
    kelurahan: gpd.GeoDataFrame,
    *,
    resolution_m: float | None = None,
    max_distance_m: float | None = None,
    method: str = "idw",
    power: float = 2,
    neighbours: int = 12,
    operator: str | None = None,
    technology: str | None = None,
    as_of: int | datetime | None = None,
    thresholds: Any = None,
) -> SurfaceResult:
    """Estimate the signal on a grid over the city from the measurements.

    Parameters
    ----------
    measurements
        Accepted measurements: ``latitude``, ``longitude`` (degrees WGS84), ``measured_at`` (UTC
        epoch seconds), ``signal_dbm`` (NaN where no service), ``no_service``, and optionally
        ``technology``, ``operator`` and ``accuracy_m`` (metres).
    kelurahan
        The city's kelurahan (any CRS); the grid covers their bounds in their UTM zone.
    resolution_m
        Cell size in metres (default :data:`SURFACE_RESOLUTION_M`).
    max_distance_m
        Cells farther than this (metres) from every measurement are NaN (default
        :data:`SURFACE_MAX_DISTANCE_M`).
    method
        ``"idw"`` (inverse-distance weighting) or ``"kriging"`` (ordinary kriging).
    power
        IDW distance exponent.
    neighbours
        Number of nearest aggregated points each cell is estimated from.
    operator, technology
        Use only this operator's / technology's readings (no-service rows pass any technology).
    as_of
        Use only measurements taken at or before this time (UTC epoch seconds or an aware
        datetime).
    thresholds
        Signal classes to use (an object with ``classes_dbm``, e.g.
        :class:`geo.settings.SignalThresholds`); default ``settings.SIGNAL_CLASSES_DBM``.

    Returns
    -------
    SurfaceResult
        The surface in dBm on the 4G/5G RSRP scale.

    Raises
    ------
    InputFileError
        When required measurement columns are missing.
    CRSError
        When ``kelurahan`` has no CRS.
    """
    _check_options(method, power, neighbours)
    resolution = float(_setting("SURFACE_RESOLUTION_M") if resolution_m is None else resolution_m)
    max_distance = float(_setting("SURFACE_MAX_DISTANCE_M") if max_distance_m is None
                         else max_distance_m)
    selection = _selection(operator, technology, as_of, resolution, thresholds)
    crs = utm_crs_for(kelurahan)
    transform, inside = _city_grid(kelurahan, crs, resolution)
    readings = _readings(measurements, crs, selection)
    points = _aggregate(readings, selection.aggregation_m)
    values, distance = _estimate(readings, points, transform, inside, max_distance,
                                 method=method, power=power, neighbours=neighbours)
    return SurfaceResult(values=values, transform=transform, crs=crs, resolution_m=resolution,
                         method=method, samples=len(readings.x), points=len(points.x),
                         max_distance_m=max_distance, selection=selection, distance_m=distance)


def _setting(name: str) -> Any:
    """Return ``geo.settings.<name>`` when defined there, else this module's constant."""
    return getattr(settings, name, globals()[name])


def _check_options(method: str, power: float, neighbours: int) -> None:
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not known; use one of {', '.join(METHODS)}")
    if not power > 0:
        raise ValueError(f"power must be positive, not {power!r}")
    if int(neighbours) < 1:
        raise ValueError(f"neighbours must be at least 1, not {neighbours!r}")


def _selection(operator: str | None, technology: str | None, as_of: int | datetime | None,
               resolution: float, thresholds: Any) -> EvidenceSelection:
    if not resolution > 0:
        raise ValueError(f"resolution_m must be positive, not {resolution!r}")
    classes = dict(getattr(thresholds, "classes_dbm", None)
                   or settings.SIGNAL_CLASSES_DBM)
    classes = {name: tuple(float(v) for v in bounds) for name, bounds in classes.items()}
    if technology is not None and technology not in classes:
        raise ValueError(f"technology {technology!r} is not known; use one of "
                         f"{', '.join(classes)}")
    accuracy = getattr(settings, "MAX_ACCURACY_M", None)
    return EvidenceSelection(
        operator=operator, technology=technology, as_of=_epoch_seconds(as_of),
        aggregation_m=min(float(_setting("SURFACE_AGGREGATION_M")), resolution / 2),
        evidence_window_days=float(getattr(settings, "EVIDENCE_WINDOW_DAYS", 90)),
        min_samples=int(getattr(settings, "MIN_SAMPLES_PER_CELL", 3)),
        max_accuracy_m=None if accuracy is None else float(accuracy),
        classes_dbm=classes)  # type: ignore[arg-type]


def _epoch_seconds(as_of: int | datetime | None) -> int | None:
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            raise ValueError(f"as_of {as_of!r} has no time zone; give an aware datetime or UTC "
                             "epoch seconds")
        return int(as_of.timestamp())
    return int(as_of)


def _city_grid(kelurahan: gpd.GeoDataFrame, crs: pyproj.CRS, resolution: float
               ) -> tuple[Affine, np.ndarray]:
    """Grid snapped to multiples of ``resolution`` over the city; True where a centre is inside."""
    city = shapely.union_all(np.asarray(kelurahan.to_crs(crs).geometry.array))
    # a bound within a millionth of a cell of a multiple of the resolution is that multiple
    low = np.floor(np.asarray(city.bounds[:2]) / resolution + 1e-6) * resolution
    high = np.ceil(np.asarray(city.bounds[2:]) / resolution - 1e-6) * resolution
    width = max(1, round((high[0] - low[0]) / resolution))
    height = max(1, round((high[1] - low[1]) / resolution))
    transform = Affine(resolution, 0.0, low[0], 0.0, -resolution, high[1])
    inside = rasterio.features.geometry_mask([city], out_shape=(height, width),
                                             transform=transform, invert=True)
    return transform, inside


# --- evidence ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Readings:
    """Usable readings in UTM: value on the RSRP scale, operator code, time, no-service flag."""

    x: np.ndarray
    y: np.ndarray
    value: np.ndarray
    operator: np.ndarray
    measured_at: np.ndarray
    no_service: np.ndarray

    def take(self, keep: np.ndarray) -> _Readings:
        return _Readings(*(getattr(self, name)[keep] for name in self.__dataclass_fields__))


def _readings(measurements: pd.DataFrame, crs: pyproj.CRS, selection: EvidenceSelection
              ) -> _Readings:
    """Return the readings the selection uses, in ``crs`` (recent evidence per bin/operator)."""
    _check_columns(measurements)
    no_service = measurements["no_service"].fillna(False).to_numpy(dtype=bool)
    value = _reference_dbm(measurements, no_service, selection.classes_dbm)
    keep = _selected(measurements, no_service, selection) & np.isfinite(value)
    frame = measurements.loc[keep]
    x, y = _transformer(crs).transform(frame["longitude"].to_numpy(dtype=float),
                                       frame["latitude"].to_numpy(dtype=float))
    operator = pd.factorize(frame["operator"].fillna("unknown").astype(str))[0] \
        if "operator" in frame.columns else np.zeros(len(frame), dtype=np.int64)
    readings = _Readings(np.asarray(x), np.asarray(y), value[keep], operator.astype(np.int64),
                         frame["measured_at"].to_numpy(dtype=np.int64), no_service[keep])
    return readings.take(_recent(readings, selection))


def _check_columns(measurements: pd.DataFrame) -> None:
    missing = [name for name in _REQUIRED_COLUMNS if name not in measurements.columns]
    if missing:
        raise InputFileError(
            f"measurements: missing column(s) {', '.join(missing)}",
            [Problem("required column is missing", column=name) for name in missing])


def _reference_dbm(measurements: pd.DataFrame, no_service: np.ndarray,
                   classes: dict[str, tuple[float, float, float, float]]) -> np.ndarray:
    """Each reading on the reference (RSRP) scale; no service -> NO_SERVICE_DBM; NaN unusable."""
    signal = pd.to_numeric(measurements["signal_dbm"]).to_numpy(dtype=float, na_value=np.nan)
    names = list(classes)
    if "technology" in measurements.columns:
        code = pd.Index(names).get_indexer(measurements["technology"])
    else:
        code = np.full(len(measurements), -1)
    value = np.full(len(measurements), np.nan)
    reference = np.asarray(classes[REFERENCE_TECHNOLOGY])[::-1]
    for index, name in enumerate(names):
        rows = code == index
        value[rows] = _piecewise(signal[rows], np.asarray(classes[name])[::-1], reference)
    return np.where(no_service, float(_setting("NO_SERVICE_DBM")), value)


def _piecewise(signal: np.ndarray, own: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map ascending bounds ``own`` onto ``reference`` linearly; slope 1 beyond both ends."""
    inner = np.interp(signal, own, reference)
    below = reference[0] + (signal - own[0])
    above = reference[-1] + (signal - own[-1])
    return np.where(signal < own[0], below, np.where(signal > own[-1], above, inner))


def _selected(measurements: pd.DataFrame, no_service: np.ndarray, selection: EvidenceSelection
              ) -> np.ndarray:
    """Rows with a position that pass the filters."""
    lon = pd.to_numeric(measurements["longitude"]).to_numpy(dtype=float, na_value=np.nan)
    lat = pd.to_numeric(measurements["latitude"]).to_numpy(dtype=float, na_value=np.nan)
    keep = np.isfinite(lon) & np.isfinite(lat) & measurements["measured_at"].notna().to_numpy()
    if selection.operator is not None:
        keep &= (measurements["operator"] == selection.operator).to_numpy(dtype=bool)
    if selection.technology is not None:
        keep &= (measurements["technology"] == selection.technology).to_numpy(dtype=bool) \
            | no_service
    if selection.as_of is not None:
        keep &= (measurements["measured_at"] <= selection.as_of).to_numpy(dtype=bool)
    if selection.max_accuracy_m is not None and "accuracy_m" in measurements.columns:
        accuracy = pd.to_numeric(measurements["accuracy_m"]).to_numpy(dtype=float,
                                                                     na_value=np.nan)
        keep &= ~(accuracy > selection.max_accuracy_m)
    return keep


def _bin_keys(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    """Integer id of the ``size`` metre square bin of each point (absolute, from UTM 0/0)."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    column = np.floor(x / size).astype(np.int64)
    row = np.floor(y / size).astype(np.int64)
    column -= column.min()
    return (row - row.min()) * (int(column.max()) + 1) + column


def _recent(readings: _Readings, selection: EvidenceSelection) -> np.ndarray:
    """Mask of readings within the evidence window of their bin and operator (see module)."""
    n = len(readings.x)
    if n == 0:
        return np.zeros(0, dtype=bool)
    key = _bin_keys(readings.x, readings.y, selection.aggregation_m) * (
        int(readings.operator.max()) + 1) + readings.operator
    order = np.lexsort((-readings.measured_at, key))
    start = _group_starts(key[order])
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    rank = np.arange(n) - first[group]
    latest = readings.measured_at[order][first][group]
    window = selection.evidence_window_days * _SECONDS_PER_DAY
    keep = np.empty(n, dtype=bool)
    keep[order] = (readings.measured_at[order] >= latest - window) | (rank < selection.min_samples)
    return keep


def _group_starts(sorted_key: np.ndarray) -> np.ndarray:
    start = np.ones(len(sorted_key), dtype=bool)
    start[1:] = sorted_key[1:] != sorted_key[:-1]
    return start


@dataclass(frozen=True)
class _Points:
    """Aggregated points: mean position, median value."""

    x: np.ndarray
    y: np.ndarray
    value: np.ndarray


def _aggregate(readings: _Readings, size: float) -> _Points:
    """One point per bin: the best operator's median value at its readings' mean position."""
    bins = _bin_keys(readings.x, readings.y, size)
    operators = int(readings.operator.max()) + 1 if len(bins) else 1
    per_operator, bin_of = _group_medians(bins * operators + readings.operator, readings.x,
                                          readings.y, readings.value)
    best = np.lexsort((-per_operator.value, bin_of // operators))
    first = best[_group_starts((bin_of // operators)[best])]
    return _Points(per_operator.x[first], per_operator.y[first], per_operator.value[first])


def _group_medians(key: np.ndarray, x: np.ndarray, y: np.ndarray, value: np.ndarray
                   ) -> tuple[_Points, np.ndarray]:
    """Per key: mean x, mean y and median value (vectorized); also the keys, ascending."""
    if len(key) == 0:
        empty = np.zeros(0)
        return _Points(empty, empty, empty), np.zeros(0, dtype=np.int64)
    order = np.lexsort((value, key))
    start = np.flatnonzero(_group_starts(key[order]))
    count = np.diff(np.append(start, len(key)))
    mean_x = np.add.reduceat(x[order], start) / count
    mean_y = np.add.reduceat(y[order], start) / count
    sorted_value = value[order]
    median = (sorted_value[start + (count - 1) // 2] + sorted_value[start + count // 2]) / 2
    return _Points(mean_x, mean_y, median), key[order][start]


# --- interpolation -----------------------------------------------------------------------------

def _estimate(readings: _Readings, points: _Points, transform: Affine, inside: np.ndarray,
              max_distance: float, *, method: str, power: float, neighbours: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Values and distances on the grid: NaN outside the city, masked beyond the distance."""
    values = np.full(inside.shape, np.nan, dtype=np.float32)
    distance = np.full(inside.shape, np.nan, dtype=np.float32)
    rows, cols = np.nonzero(inside)
    x, y = _apply(transform, cols + 0.5, rows + 0.5)
    centres = np.column_stack([x, y])
    nearest = _nearest_distance(readings, centres, max_distance)
    distance[rows, cols] = nearest
    near = nearest <= max_distance
    if near.any():
        estimate = (_idw(points, centres[near], power, neighbours) if method == "idw"
                    else _krige(points, centres[near], neighbours))
        values[rows[near], cols[near]] = estimate
    return values, distance


def _apply(transform: Affine, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``transform`` applied to arrays of coordinates (columns/rows or x/y)."""
    a, b, c, d, e, f = transform[:6]
    return a * x + b * y + c, d * x + e * y + f


def _nearest_distance(readings: _Readings, centres: np.ndarray, max_distance: float
                      ) -> np.ndarray:
    """Exact distance to the nearest reading, ``inf`` beyond ``max_distance``."""
    if len(readings.x) == 0 or len(centres) == 0:
        return np.full(len(centres), np.inf)
    tree = cKDTree(np.column_stack([readings.x, readings.y]), balanced_tree=False,
                   compact_nodes=False)
    distance, _ = tree.query(centres, k=1, distance_upper_bound=max_distance * (1 + 1e-9),
                             workers=-1)
    return distance


def _idw(points: _Points, targets: np.ndarray, power: float, neighbours: int) -> np.ndarray:
    """Inverse-distance weighted mean of the ``neighbours`` nearest points; exact at a point."""
    k = min(int(neighbours), len(points.x))
    tree = cKDTree(np.column_stack([points.x, points.y]))
    distance, index = tree.query(targets, k=k, workers=-1)
    distance, index = distance.reshape(len(targets), k), index.reshape(len(targets), k)
    value = points.value[index]
    with np.errstate(divide="ignore"):
        weight = 1.0 / distance ** power
    exact = distance[:, 0] == 0
    weight[exact] = (distance[exact] == 0).astype(float)
    return (weight * value).sum(axis=1) / weight.sum(axis=1)


def _krige(points: _Points, targets: np.ndarray, neighbours: int) -> np.ndarray:
    """Ordinary kriging (PyKrige) on at most ``KRIGING_MAX_POINTS`` points, moving window."""
    from pykrige.ok import OrdinaryKriging

    points = _thin(points, int(_setting("KRIGING_MAX_POINTS")))
    if len(points.x) < 3 or np.ptp(points.value) == 0:
        return _idw(points, targets, 2.0, neighbours)
    origin = np.array([points.x.mean(), points.y.mean()])
    model = OrdinaryKriging(points.x - origin[0], points.y - origin[1], points.value,
                            variogram_model=_setting("KRIGING_VARIOGRAM_MODEL"),
                            enable_plotting=False, verbose=False)
    estimate, _ = model.execute("points", targets[:, 0] - origin[0], targets[:, 1] - origin[1],
                                backend=_kriging_backend(),
                                n_closest_points=min(int(neighbours), len(points.x)))
    return np.clip(np.asarray(estimate, dtype=float), points.value.min(), points.value.max())


def _kriging_backend() -> str:
    """PyKrige's compiled moving-window backend when it is built, else its Python loop."""
    try:
        from pykrige.lib.cok import _c_exec_loop_moving_window  # noqa: F401
    except ImportError:
        return "loop"
    return "C"


def _thin(points: _Points, largest: int) -> _Points:
    """Re-aggregate on bins doubling in size until at most ``largest`` points remain."""
    if len(points.x) <= largest:
        return points
    span = max(np.ptp(points.x), np.ptp(points.y), 1.0)
    size = span / np.sqrt(largest)
    while True:
        thinned, _ = _group_medians(_bin_keys(points.x, points.y, size), points.x, points.y,
                                    points.value)
        if len(thinned.x) <= largest:
            return thinned
        size *= 2


# --- GeoTIFF -----------------------------------------------------------------------------------

def write_surface_geotiff(result: SurfaceResult, path: str | Path) -> Path:
    """Write the surface as a single-band float32 GeoTIFF (NaN nodata, deflate, CRS declared).

    The evidence rule and method are kept as dataset tags, so that :func:`read_surface_geotiff`
    gives back a result :func:`blank_spot_polygons` can use.

    Parameters
    ----------
    result
        The surface.
    path
        File to write (replaced if it exists).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    height, width = result.shape
    profile = {"driver": "GTiff", "height": height, "width": width, "count": 1,
               "dtype": "float32", "nodata": np.nan, "crs": _rasterio_crs(result.crs),
               "transform": result.transform, "compress": "deflate", "predictor": 3,
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    if width < 256 or height < 256:
        profile.update(tiled=False, blockxsize=None, blockysize=None)
        profile = {key: value for key, value in profile.items() if value is not None}
    with rasterio.open(path, "w", **profile) as raster:
        raster.write(result.values.astype(np.float32), 1)  # noqa: PD011 (a numpy array)
        raster.set_band_description(1, "signal_dbm_rsrp_equivalent")
        raster.set_band_unit(1, "dBm")
        raster.update_tags(**_tags(result))
    return Path(path)


def read_surface_geotiff(path: str | Path) -> SurfaceResult:
    """Read a surface written by :func:`write_surface_geotiff`.

    Parameters
    ----------
    path
        The GeoTIFF.

    Returns
    -------
    SurfaceResult
        Values with nodata as NaN; ``distance_m`` is ``None``.  Rasters written elsewhere get
        method ``"unknown"`` and the current default evidence rule.
    """
    with rasterio.open(path) as raster:
        values = raster.read(1).astype(np.float32)
        if raster.nodata is not None and not np.isnan(raster.nodata):
            values[values == raster.nodata] = np.nan
        tags = raster.tags()
        crs = _pyproj_crs(raster.crs)
        transform = raster.transform
    resolution = float(abs(transform.a))
    selection = (_selection_from_json(tags["selection"]) if "selection" in tags
                 else _selection(None, None, None, resolution, None))
    return SurfaceResult(values=values, transform=transform, crs=crs, resolution_m=resolution,
                         method=tags.get("method", "unknown"),
                         samples=int(tags.get("samples", 0)), points=int(tags.get("points", 0)),
                         max_distance_m=float(tags.get("max_distance_m", np.nan)),
                         selection=selection)


def _tags(result: SurfaceResult) -> dict[str, str]:
    selection = {**result.selection.__dict__,
                 "classes_dbm": {k: list(v) for k, v in result.selection.classes_dbm.items()}}
    return {"method": result.method, "samples": str(result.samples),
            "points": str(result.points), "max_distance_m": repr(result.max_distance_m),
            "resolution_m": repr(result.resolution_m),
            "scale": "dBm on the 4G/5G RSRP scale (RSRP-equivalent)",
            "no_coverage_dbm": repr(result.no_coverage_dbm),
            "selection": json.dumps(selection, sort_keys=True)}


def _selection_from_json(text: str) -> EvidenceSelection:
    data = json.loads(text)
    data["classes_dbm"] = {k: tuple(float(x) for x in v) for k, v in data["classes_dbm"].items()}
    return EvidenceSelection(**data)


def _rasterio_crs(crs: pyproj.CRS) -> rasterio.crs.CRS:
    code = crs.to_epsg()
    return rasterio.crs.CRS.from_epsg(code) if code else rasterio.crs.CRS.from_wkt(crs.to_wkt())


def _pyproj_crs(crs: rasterio.crs.CRS | None) -> pyproj.CRS:
    if crs is None:
        from geo.errors import CRSError

        raise CRSError("the surface GeoTIFF declares no CRS")
    code = crs.to_epsg()
    return pyproj.CRS.from_epsg(code) if code else pyproj.CRS.from_wkt(crs.to_wkt())


# --- blank spots -------------------------------------------------------------------------------

def blank_spot_polygons(
    result: SurfaceResult,
    measurements: pd.DataFrame,
    kelurahan: gpd.GeoDataFrame,
    *,
    threshold_dbm: float | None = None,
    population_raster: str | Path | None = None,
    min_area_m2: float | None = None,
) -> gpd.GeoDataFrame:
    """Polygons of the connected groups of surface cells estimated to have no coverage.

    Cells whose estimate is below the threshold are grouped by shared edges (4-connectivity, so
    polygons are always valid) and polygonized with ``rasterio.features.shapes``; each group is
    one polygon, holes included.

    Parameters
    ----------
    result
        The surface (:func:`interpolate_signal` or :func:`read_surface_geotiff`).
    measurements
        The measurements the surface was made from; the same selection
        (``result.selection``) is counted as evidence.
    kelurahan
        The city's kelurahan (any CRS) with ``kode``.
    threshold_dbm
        Cells below this estimate (dBm on the surface's RSRP scale) are blank; default the
        no-coverage bound ``result.no_coverage_dbm`` (-120 dBm).
    population_raster
        Population GeoTIFF (people per cell); without it ``population`` is NaN.
    min_area_m2
        Drop smaller polygons (default :data:`BLANK_SPOT_MIN_AREA_M2`).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, largest first, columns :data:`BLANK_SPOT_COLUMNS`: ``id`` (1 = largest),
        ``area_km2`` (computed in UTM), ``kelurahan`` (codes of every kelurahan it overlaps,
        comma-separated, largest overlap first), ``kelurahan_kode_main`` (largest overlap),
        ``population`` (people, apportioned by area), ``samples`` and ``no_service_samples``
        (measurements in its cells), ``last_measured`` (UTC epoch seconds of the latest of them,
        missing without any), ``centroid_lat``/``centroid_lon`` (degrees) and the polygon.
    """
    threshold = result.no_coverage_dbm if threshold_dbm is None else float(threshold_dbm)
    labels, polygons = _blank_regions(result, threshold)
    smallest = float(_setting("BLANK_SPOT_MIN_AREA_M2") if min_area_m2 is None else min_area_m2)
    area = shapely.area(polygons)
    keep = np.flatnonzero(area >= smallest)
    keep = keep[np.lexsort((keep, -area[keep]))]
    polygons, area = polygons[keep], area[keep]
    table = pd.DataFrame({"id": np.arange(1, len(keep) + 1, dtype=np.int64),
                          "area_km2": area / 1e6})
    table = table.join(_kelurahan_overlap(polygons, kelurahan, result.crs))
    table["population"] = _population(polygons, result.crs, population_raster)
    table = table.join(_evidence(labels, keep + 1, result, measurements))
    table = table.join(_centroids(polygons, result.crs))
    frame = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(polygons, crs=result.crs),
                             crs=result.crs)
    return frame.to_crs(WGS84)[list(BLANK_SPOT_COLUMNS)]


def _blank_regions(result: SurfaceResult, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Label raster of 4-connected blank cells (0 elsewhere) and a polygon per label (1..n)."""
    with np.errstate(invalid="ignore"):
        blank = result.values < threshold  # noqa: PD011 (a numpy array)
    labels, count = ndimage.label(blank)
    polygons = np.empty(count, dtype=object)
    if count == 0:
        return labels, polygons
    pieces: dict[int, list[shapely.Geometry]] = {}
    for geometry, label in rasterio.features.shapes(labels.astype(np.int32), mask=blank,
                                                    connectivity=4,
                                                    transform=result.transform):
        pieces.setdefault(int(label), []).append(shapely.geometry.shape(geometry))
    for label, parts in pieces.items():
        polygons[label - 1] = parts[0] if len(parts) == 1 else shapely.union_all(parts)
    return labels, polygons


def _kelurahan_overlap(polygons: np.ndarray, kelurahan: gpd.GeoDataFrame, crs: pyproj.CRS
                       ) -> pd.DataFrame:
    """Kelurahan codes each polygon overlaps (largest first) and the main one."""
    require_crs(kelurahan, source="kelurahan boundaries")
    kode = kelurahan["kode"].astype(str).to_numpy()
    areas = np.asarray(kelurahan.to_crs(crs).geometry.array, dtype=object)
    blank, kel = shapely.STRtree(areas).query(polygons, predicate="intersects")
    overlap = shapely.area(shapely.intersection(polygons[blank], areas[kel]))
    pairs = pd.DataFrame({"blank": blank, "kode": kode[kel], "overlap": overlap})
    pairs = pairs[pairs["overlap"] >= _MIN_OVERLAP_M2].sort_values(["blank", "overlap", "kode"],
                                                    ascending=[True, False, True])
    grouped = pairs.groupby("blank")["kode"]
    listed = grouped.agg(",".join).reindex(range(len(polygons)), fill_value="")
    main = grouped.first().reindex(range(len(polygons)))
    return pd.DataFrame({"kelurahan": listed.to_numpy(dtype=object).astype(str),
                         "kelurahan_kode_main": main.to_numpy(dtype=object)})


def _population(polygons: np.ndarray, crs: pyproj.CRS, raster: str | Path | None) -> np.ndarray:
    if raster is None or len(polygons) == 0:
        return np.full(len(polygons), np.nan)
    from geo.population import population_in_polygons

    return np.asarray(population_in_polygons(gpd.GeoSeries(polygons, crs=crs), raster),
                      dtype=float)


def _evidence(labels: np.ndarray, wanted: np.ndarray, result: SurfaceResult,
              measurements: pd.DataFrame) -> pd.DataFrame:
    """Count samples, no-service samples and the latest time of the readings per wanted label."""
    readings = _readings(measurements, result.crs, result.selection)
    col, row = _apply(~result.transform, readings.x, readings.y)
    col, row = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    height, width = labels.shape
    on_grid = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    label = np.zeros(len(col), dtype=np.int64)
    label[on_grid] = labels[row[on_grid], col[on_grid]]
    size = int(labels.max()) + 1 if labels.size else 1
    samples = np.bincount(label, minlength=size)
    no_service = np.bincount(label, weights=readings.no_service, minlength=size)
    latest = np.full(size, np.iinfo(np.int64).min)
    np.maximum.at(latest, label, readings.measured_at)
    last = pd.array(np.where(samples > 0, latest, 0)[wanted], dtype="Int64")
    last[samples[wanted] == 0] = pd.NA
    return pd.DataFrame({"samples": samples[wanted].astype(np.int64),
                         "no_service_samples": no_service[wanted].astype(np.int64),
                         "last_measured": last})


def evidence_points(result: SurfaceResult, measurements: pd.DataFrame) -> gpd.GeoDataFrame:
    """The readings a surface's blank spots count as evidence, as points.

    The same rows :func:`blank_spot_polygons` counts (``result.selection``), so that a blank
    spot cut into pieces (:func:`geo.coverage.split_blank_spots`) can count them per piece.

    Returns
    -------
    geopandas.GeoDataFrame
        In ``result.crs``: ``no_service`` (bool), ``measured_at`` (UTC epoch seconds) and the
        point.
    """
    readings = _readings(measurements, result.crs, result.selection)
    return gpd.GeoDataFrame({"no_service": readings.no_service.astype(bool),
                             "measured_at": readings.measured_at},
                            geometry=gpd.points_from_xy(readings.x, readings.y),
                            crs=result.crs)


def _centroids(polygons: np.ndarray, crs: pyproj.CRS) -> pd.DataFrame:
    centre = shapely.get_coordinates(shapely.centroid(polygons)) if len(polygons) else \
        np.zeros((0, 2))
    lon, lat = _transformer(crs, inverse=True).transform(centre[:, 0], centre[:, 1])
    return pd.DataFrame({"centroid_lat": np.asarray(lat, dtype=float),
                         "centroid_lon": np.asarray(lon, dtype=float)})


def blank_spot_points(polygons: gpd.GeoDataFrame, *, min_samples: int = 0) -> gpd.GeoDataFrame:
    """One point per blank-spot polygon, with its evidence, for Kominfo's blank-spot channel.

    Parameters
    ----------
    polygons
        Output of :func:`blank_spot_polygons`.
    min_samples
        Keep only polygons resting on at least this many measurements inside them (the
        "minimum-sample rule" a provincial office can check).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, columns :data:`BLANK_SPOT_POINT_COLUMNS`: the point is the polygon's
        representative point (always inside it, computed in UTM), ``latitude``/``longitude``
        its coordinates and ``last_measured_utc`` the ISO 8601 time of the latest evidence.
    """
    require_crs(polygons, source="blank-spot polygons")
    chosen = polygons[polygons["samples"] >= min_samples]
    metric = chosen.to_crs(utm_crs_for(chosen)) if len(chosen) else chosen
    point = gpd.GeoSeries(metric.geometry.representative_point(), crs=metric.crs).to_crs(WGS84)
    table = pd.DataFrame(chosen.drop(columns="geometry")).reset_index(drop=True)
    table["longitude"] = point.x.to_numpy()
    table["latitude"] = point.y.to_numpy()
    table["last_measured_utc"] = _iso_utc(table["last_measured"])
    frame = gpd.GeoDataFrame(table, geometry=point.to_numpy(), crs=WGS84)
    return frame[list(BLANK_SPOT_POINT_COLUMNS)]


def _iso_utc(seconds: pd.Series) -> pd.Series:
    """Return ISO 8601 UTC text of epoch seconds (``None`` where missing)."""
    times = pd.to_datetime(seconds.astype("Int64"), unit="s", utc=True)
    text = times.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
    return pd.Series(np.where(times.isna().to_numpy(), None, text), index=seconds.index,
                     dtype=object)


def _transformer(crs: pyproj.CRS, *, inverse: bool = False) -> pyproj.Transformer:
    source, target = (crs, WGS84) if inverse else (WGS84, crs)
    return pyproj.Transformer.from_crs(source, target, always_xy=True)

