"""Coordinate reference systems: choosing a metric CRS, checking and guessing CRSs.

Analysis measures, buffers and interpolates in the local UTM zone chosen with geopandas'
``estimate_utm_crs()`` (Dumai is UTM 47N, Payakumbuh 47S, Singkawang 49N) and hands EPSG:4326 to the
web.  Files that arrive without a usable CRS are never placed on the map by assumption: the
helpers here say whether coordinates look like longitude/latitude and, when they look like
projected metres, which UTM zone over Indonesia they most plausibly belong to, so that an error
message can suggest it.

A *location hint* (``near``) is any of: a ``(lon, lat)`` pair, a ``(min_lon, min_lat, max_lon,
max_lat)`` bounding box, or a GeoDataFrame/GeoSeries with a CRS (typically the city's kelurahan
boundaries), whose bounds are used.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

import geopandas as gpd
import pyproj
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geo.errors import CRSError

#: Geographic CRS of everything handed to the web layer and stored with facilities.
WGS84 = pyproj.CRS.from_epsg(4326)

#: Bounding box of Indonesia in degrees (min lon, min lat, max lon, max lat), generous by a few
#: tenths of a degree: Sabang/Weh (95 E, 6 N) to Merauke (141 E, 9 S) and Rote (11 S).
INDONESIA_BOUNDS: tuple[float, float, float, float] = (94.0, -11.5, 142.0, 6.5)

#: UTM zones (WGS 84) that cover Indonesia: 46 to 54, north (EPSG:326zz) and south (EPSG:327zz).
INDONESIA_UTM_ZONES: tuple[int, ...] = tuple(range(46, 55))

#: ``guess_projected_crs`` with a hint gives no answer when even the best UTM zone puts the points
#: farther than this from the hint, in metres.  Adjacent zones shift points by about 660 km at the
#: equator, so 200 km separates "the right zone, city hint a little off" from "not UTM at all"
#: (for example Indonesia's TM-3 zones, whose false northing of 1,500,000 m looks like UTM north).
GUESS_MAX_DISTANCE_M = 200_000.0

Near: TypeAlias = Sequence[float] | gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry
Bounds: TypeAlias = tuple[float, float, float, float]
_GEOD = pyproj.Geod(ellps="WGS84")


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, source: str) -> pyproj.CRS:
    """Return the CRS of ``gdf``, or raise when it has none.

    Parameters
    ----------
    gdf
        Data that must know where its coordinates are.
    source
        What the data is, for the message (a file name, "kelurahan boundaries"...).

    Returns
    -------
    pyproj.CRS
        The declared CRS.

    Raises
    ------
    CRSError
        When no CRS is declared.
    """
    if gdf.crs is None:
        raise CRSError(
            f"{source}: no coordinate reference system (CRS) is declared, so its coordinates "
            "cannot be placed on the map. Declare it in the file (for a shapefile, the .prj next "
            "to it) or pass the CRS explicitly, e.g. --crs EPSG:4326 for longitude/latitude."
        )
    return pyproj.CRS.from_user_input(gdf.crs)


def utm_zone_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS 84 UTM zone of a point: EPSG:326zz north of the equator, 327zz south of it.

    The standard 6-degree zones (Indonesia has none of the Norwegian exceptions), computed
    instead of searched in the PROJ database: about 40 times faster than
    :func:`utm_crs_for`, for code that only needs distances in metres.
    """
    zone = min(max(int((lon + 180.0) // 6.0) + 1, 1), 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def utm_crs_for(gdf_or_bounds: Near) -> pyproj.CRS:
    """Return the WGS 84 UTM zone that suits the data or area, for measuring in metres.

    Parameters
    ----------
    gdf_or_bounds
        A GeoDataFrame/GeoSeries with a CRS, or a location hint in degrees (see module docs).

    Returns
    -------
    pyproj.CRS
        For example EPSG:32647 (UTM 47N) for Dumai, EPSG:32747 (47S) for Payakumbuh, EPSG:32649
        (49N) for Singkawang.
    """
    if isinstance(gdf_or_bounds, (gpd.GeoDataFrame, gpd.GeoSeries)):
        require_crs(gdf_or_bounds, source="the data")
        if gdf_or_bounds.is_empty.all():
            raise ValueError("cannot choose a metric CRS for data without any geometry")
        return gdf_or_bounds.estimate_utm_crs()
    return gpd.GeoSeries([box(*bounds_of(gdf_or_bounds))], crs=WGS84).estimate_utm_crs()


def project_to_metric(
    gdf: gpd.GeoDataFrame, *, crs: pyproj.CRS | str | int | None = None
) -> gpd.GeoDataFrame:
    """Return ``gdf`` in a metric CRS (its local UTM zone unless ``crs`` is given).

    Parameters
    ----------
    gdf
        Data with a declared CRS.
    crs
        Metric CRS to use instead of the estimated UTM zone (e.g. the city's zone, so that
        several layers share one CRS).

    Returns
    -------
    geopandas.GeoDataFrame
        A reprojected copy; distances and areas are then in metres.
    """
    require_crs(gdf, source="the data")
    return gdf.to_crs(crs if crs is not None else utm_crs_for(gdf))


def looks_like_lonlat(x: npt.ArrayLike, y: npt.ArrayLike) -> bool:
    """Tell whether all finite coordinates fit longitude/latitude (within +-180 / +-90 degrees).

    Returns ``False`` when no coordinate pair is finite: nothing then looks like anything.
    """
    x, y = _finite_pairs(x, y)
    return bool(x.size) and bool(_fits_lonlat(x, y).all())


def guess_projected_crs(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    near: Near | None = None,
    max_distance_m: float | None = None,
) -> pyproj.CRS | None:
    """Guess the UTM zone over Indonesia in which coordinates that are plainly metres were written.

    Each zone 46N..54N and 46S..54S (EPSG:32646-32654, 32746-32754) is tried.  With a location
    hint the zone that puts the points nearest to (or inside) it wins; without one, a zone is
    returned only when it is the single zone that puts every point over Indonesia.

    Parameters
    ----------
    x, y
        Eastings and northings (non-finite pairs are ignored).
    near
        Where the points should be: the city's ``(lon, lat)``, its bounding box, or its boundaries.
    max_distance_m
        With a hint, give up when the best zone still puts the median point farther than this
        from it, in metres (default ``GUESS_MAX_DISTANCE_M``).

    Returns
    -------
    pyproj.CRS or None
        The zone, or ``None`` when the coordinates look like longitude/latitude, no zone fits, or
        several fit equally well.
    """
    x, y = _finite_pairs(x, y)
    if not x.size or looks_like_lonlat(x, y):
        return None
    placements = {code: _utm_to_lonlat(code, x, y) for code in _indonesian_utm_codes()}
    if near is None:
        return _single_zone_over_indonesia(placements)
    limit = GUESS_MAX_DISTANCE_M if max_distance_m is None else max_distance_m
    return _zone_nearest(placements, bounds_of(near), limit)


def candidate_utm_crs(x: npt.ArrayLike, y: npt.ArrayLike) -> list[pyproj.CRS]:
    """Return every UTM zone over Indonesia that puts all the (metre) points inside Indonesia.

    Useful for a message when ``guess_projected_crs`` cannot decide without a hint.
    """
    x, y = _finite_pairs(x, y)
    if not x.size or looks_like_lonlat(x, y):
        return []
    return [pyproj.CRS.from_epsg(code) for code in _indonesian_utm_codes()
            if _inside(*_utm_to_lonlat(code, x, y), INDONESIA_BOUNDS).all()]


def bounds_of(near: Near) -> Bounds:
    """Return a location hint as ``(min_lon, min_lat, max_lon, max_lat)`` in degrees.

    Parameters
    ----------
    near
        ``(lon, lat)``, ``(min_lon, min_lat, max_lon, max_lat)``, a shapely geometry in degrees, or
        a GeoDataFrame/GeoSeries with a CRS.
    """
    if isinstance(near, (gpd.GeoDataFrame, gpd.GeoSeries)):
        require_crs(near, source="the location hint")
        values = tuple(float(v) for v in near.to_crs(WGS84).total_bounds)
    elif isinstance(near, BaseGeometry):
        values = tuple(float(v) for v in near.bounds)
    else:
        values = tuple(float(v) for v in near)
    return _checked_bounds(values * 2 if len(values) == 2 else values, near)


def distance_to_bounds(lon: npt.ArrayLike, lat: npt.ArrayLike, bounds: Bounds) -> np.ndarray:
    """Return the geodesic distance in metres from each point to a lon/lat box (0 inside it).

    Points that are not valid longitude/latitude get ``inf``.
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    valid = _fits_lonlat(lon, lat) & np.isfinite(lon) & np.isfinite(lat)
    out = np.full(lon.shape, np.inf)
    near_lon = np.clip(lon[valid], bounds[0], bounds[2])
    near_lat = np.clip(lat[valid], bounds[1], bounds[3])
    out[valid] = _GEOD.inv(lon[valid], lat[valid], near_lon, near_lat)[2]
    return out


def _checked_bounds(values: tuple[float, ...], near: object) -> Bounds:
    if len(values) != 4 or not np.isfinite(values).all():
        raise ValueError(f"location hint {near!r}: give (lon, lat) or (min_lon, min_lat, max_lon, "
                         "max_lat) in degrees, or a GeoDataFrame")
    min_lon, min_lat, max_lon, max_lat = values
    if not (min_lon <= max_lon and min_lat <= max_lat and _fits_lonlat(
            np.array([min_lon, max_lon]), np.array([min_lat, max_lat])).all()):
        raise ValueError(f"location hint {near!r} is not a longitude/latitude box in degrees")
    return min_lon, min_lat, max_lon, max_lat


def _finite_pairs(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _fits_lonlat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)


def _inside(lon: np.ndarray, lat: np.ndarray, bounds: Bounds) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (lon >= bounds[0]) & (lon <= bounds[2]) & (lat >= bounds[1]) & (lat <= bounds[3])


def _indonesian_utm_codes() -> list[int]:
    return [base + zone for base in (32600, 32700) for zone in INDONESIA_UTM_ZONES]


@lru_cache(maxsize=64)
def _to_wgs84(code: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(code, 4326, always_xy=True)


def _utm_to_lonlat(code: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _to_wgs84(code).transform(x, y, errcheck=False)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _single_zone_over_indonesia(
    placements: dict[int, tuple[np.ndarray, np.ndarray]],
) -> pyproj.CRS | None:
    fitting = [code for code, (lon, lat) in placements.items()
               if _inside(lon, lat, INDONESIA_BOUNDS).all()]
    return pyproj.CRS.from_epsg(fitting[0]) if len(fitting) == 1 else None


def _zone_nearest(
    placements: dict[int, tuple[np.ndarray, np.ndarray]], bounds: Bounds, limit: float
) -> pyproj.CRS | None:
    codes = list(placements)
    scores = np.array([np.median(distance_to_bounds(*placements[c], bounds)) for c in codes])
    best = int(np.argmin(scores))
    tied = np.count_nonzero(scores <= scores[best] + 1.0) > 1
    if tied or not scores[best] <= limit:
        return None
    return pyproj.CRS.from_epsg(codes[best])
