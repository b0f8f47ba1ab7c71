"""Terrain from a digital elevation model (DEM): checking the GeoTIFF and computing slope.

A city's DEM (DEMNAS from BIG, SRTM, a consultant's survey) arrives as a one-band GeoTIFF of
elevations in metres in any CRS.  :func:`read_dem_info` checks it before it is stored;
:func:`slope_percent` and :func:`slope_degrees` resample it with ``rasterio.warp`` onto a square
grid in the city's metric CRS and take the gradient with NumPy, because a slope is only a ratio of
metres to metres when both axes are in metres (a DEM in degrees has cells ~110 km wide per unit).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import pyproj
import rasterio
from rasterio.crs import CRS as RasterioCRS
from rasterio.errors import RasterioIOError
from rasterio.transform import Affine
from rasterio.warp import Resampling, reproject, transform_bounds

from geo.errors import CRSError, InputFileError, Problem

#: Elevations outside this range, in metres, are not terrain of Indonesia (Puncak Jaya is
#: 4,884 m; the lowest land is a few metres below sea level): such a raster is not a DEM in
#: metres.  Order-of-magnitude guard, not regulation.
PLAUSIBLE_ELEVATION_M = (-100.0, 6_000.0)


@dataclass(frozen=True)
class DemInfo:
    """What a DEM file holds, for the import report.

    Attributes
    ----------
    crs
        The CRS of the raster (as text, e.g. ``EPSG:32647``).
    width, height
        Size in cells.
    resolution
        Cell size ``(x, y)`` in the raster's units.
    bounds_lonlat
        ``(min_lon, min_lat, max_lon, max_lat)``.
    elevation_min_m, elevation_max_m
        Range of the valid cells, in metres.
    nodata_share
        Share of cells without a value (0..1).
    """

    crs: str
    width: int
    height: int
    resolution: tuple[float, float]
    bounds_lonlat: tuple[float, float, float, float]
    elevation_min_m: float
    elevation_max_m: float
    nodata_share: float

    def as_dict(self) -> dict[str, Any]:
        """The information as a JSON-ready dict."""
        return {"crs": self.crs, "width": self.width, "height": self.height,
                "resolution": list(self.resolution), "bounds_lonlat": list(self.bounds_lonlat),
                "elevation_min_m": self.elevation_min_m, "elevation_max_m": self.elevation_max_m,
                "nodata_share": self.nodata_share}


def read_dem_info(path: str | Path, *, crs: Any = None, source_name: str | None = None
                  ) -> DemInfo:
    """Check a DEM GeoTIFF and describe it.

    Parameters
    ----------
    path
        A one-band raster of elevations in metres.
    crs
        The raster's CRS when the file declares none (e.g. ``"EPSG:32647"``); overrides the file.
    source_name
        File name for messages.

    Raises
    ------
    InputFileError
        Unreadable file, not one band, no valid cell, or elevations that are not metres.
    CRSError
        No CRS declared nor given, or an unknown ``crs``.
    """
    path = Path(path)
    source = source_name or path.name
    with _open(path, source) as dataset:
        src_crs = _source_crs(dataset, crs, source)
        if dataset.count != 1:
            raise InputFileError(f"{source}: a DEM has one band of elevations; this raster has "
                                 f"{dataset.count}")
        values = dataset.read(1, masked=True).astype("float64")
        bounds = transform_bounds(src_crs, "EPSG:4326", *dataset.bounds)
        info = (dataset.width, dataset.height, (abs(dataset.res[0]), abs(dataset.res[1])))
    valid = values.compressed()
    valid = valid[np.isfinite(valid)]
    if not valid.size:
        raise InputFileError(f"{source}: the raster has no cell with an elevation")
    low, high = float(valid.min()), float(valid.max())
    if low < PLAUSIBLE_ELEVATION_M[0] or high > PLAUSIBLE_ELEVATION_M[1]:
        raise InputFileError(
            f"{source}: elevations range {low:,.1f}..{high:,.1f}, outside "
            f"{PLAUSIBLE_ELEVATION_M[0]:,.0f}..{PLAUSIBLE_ELEVATION_M[1]:,.0f} m; a DEM must hold "
            "elevations in metres (check the units and the nodata value)",
            [Problem("elevation out of range", file=source, value=f"{low:g}..{high:g}")])
    return DemInfo(crs=_crs_text(src_crs), width=info[0], height=info[1], resolution=info[2],
                   bounds_lonlat=tuple(float(v) for v in bounds), elevation_min_m=low,
                   elevation_max_m=high, nodata_share=1.0 - valid.size / values.size)


def slope_percent(
    dem_path: str | Path,
    *,
    crs: Any,
    bounds: tuple[float, float, float, float],
    resolution_m: float,
    dem_crs: Any = None,
) -> tuple[np.ndarray, Affine]:
    """Slope of the terrain in percent (rise per run x 100) on a grid in a metric CRS.

    Parameters
    ----------
    dem_path
        The DEM GeoTIFF (elevations in metres, any CRS).
    crs
        The metric CRS of the output grid (the city's UTM zone, e.g. ``"EPSG:32647"``).
    bounds
        ``(min_x, min_y, max_x, max_y)`` of the output grid in ``crs``, in metres.
    resolution_m
        Output cell size in metres (square cells).
    dem_crs
        CRS of the DEM when its file declares none.

    Returns
    -------
    (numpy.ndarray, affine.Affine)
        ``float64`` slope in percent, row 0 at the north edge, NaN where the DEM has no value
        (and at cells next to one); and the grid's transform in ``crs``.  A plane rising 10 m
        per 100 m gives 10.
    """
    elevation, transform = elevation_grid(dem_path, crs=crs, bounds=bounds,
                                          resolution_m=resolution_m, dem_crs=dem_crs)
    dz_dy, dz_dx = np.gradient(elevation, resolution_m)
    return 100.0 * np.hypot(dz_dx, dz_dy), transform


def slope_degrees(dem_path: str | Path, *, crs: Any, bounds: tuple[float, float, float, float],
                  resolution_m: float, dem_crs: Any = None) -> tuple[np.ndarray, Affine]:
    """Slope in degrees (0 flat, 45 for a rise equal to the run); see :func:`slope_percent`."""
    percent, transform = slope_percent(dem_path, crs=crs, bounds=bounds,
                                       resolution_m=resolution_m, dem_crs=dem_crs)
    return np.degrees(np.arctan(percent / 100.0)), transform


def elevation_grid(dem_path: str | Path, *, crs: Any, bounds: tuple[float, float, float, float],
                   resolution_m: float, dem_crs: Any = None) -> tuple[np.ndarray, Affine]:
    """The DEM on a square grid in a metric CRS; NaN where it has no value.

    Parameters are those of :func:`slope_percent`; returns elevations in metres and the transform.
    The DEM is resampled bilinearly onto a grid at least as fine as its own cells, then averaged
    over each output cell: GDAL's bilinear kernel, widened when it shrinks a raster, would bend a
    plane (a 10 % slope read as 9.75-10.5 %), while a block mean keeps it exact.
    """
    if not resolution_m > 0:
        raise ValueError(f"resolution_m must be positive, not {resolution_m!r}")
    target_crs = _metric_crs(crs)
    min_x, min_y, max_x, max_y = bounds
    width = max(int(np.ceil((max_x - min_x) / resolution_m)), 1)
    height = max(int(np.ceil((max_y - min_y) / resolution_m)), 1)
    path = Path(dem_path)
    with _open(path, path.name) as dataset:
        src_crs = _source_crs(dataset, dem_crs, path.name)
        factor = max(int(np.ceil(resolution_m / _cell_size_m(dataset, src_crs, target_crs))), 1)
        fine = np.full((height * factor, width * factor), np.nan, dtype="float64")
        reproject(source=rasterio.band(dataset, 1), destination=fine, src_crs=src_crs,
                  src_nodata=dataset.nodata,
                  dst_transform=_north_up(min_x, max_y, resolution_m / factor),
                  dst_crs=target_crs, dst_nodata=np.nan, resampling=Resampling.bilinear)
    blocks = fine.reshape(height, factor, width, factor).mean(axis=(1, 3))
    return blocks, _north_up(min_x, max_y, resolution_m)


def _cell_size_m(dataset: Any, src_crs: RasterioCRS, target_crs: RasterioCRS) -> float:
    """The DEM's cell size in the target CRS's metres (the smaller side)."""
    left, bottom, right, top = transform_bounds(src_crs, target_crs, *dataset.bounds)
    return min((right - left) / dataset.width, (top - bottom) / dataset.height)


def _open(path: Path, source: str) -> Any:
    try:
        return rasterio.open(path)
    except RasterioIOError as error:
        raise InputFileError(f"{source}: cannot be read as a GeoTIFF elevation model ({error})"
                             ) from None


def _source_crs(dataset: Any, given: Any, source: str) -> RasterioCRS:
    if given not in (None, ""):
        try:
            return RasterioCRS.from_user_input(pyproj.CRS.from_user_input(given).to_wkt())
        except pyproj.exceptions.CRSError:
            raise CRSError(f"{source}: unknown CRS {given!r}; give an EPSG code such as "
                           "EPSG:32647") from None
    if dataset.crs is None:
        raise CRSError(f"{source}: the raster declares no CRS; pass --crs with the CRS it was "
                       "written in (e.g. EPSG:32647 for UTM 47N, EPSG:4326 for degrees)")
    return dataset.crs


def _metric_crs(crs: Any) -> RasterioCRS:
    parsed = pyproj.CRS.from_user_input(crs)
    if not parsed.is_projected:
        raise CRSError(f"slope needs a metric CRS (the city's UTM zone), not {crs!r}")
    return RasterioCRS.from_user_input(parsed.to_wkt())


def _north_up(west: float, north: float, cell: float) -> Affine:
    """A north-up transform (written out: rasterio's ``from_origin`` warns with affine 3)."""
    return Affine(cell, 0.0, west, 0.0, -cell, north)


def _crs_text(crs: RasterioCRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_string()


def write_with_crs(path: str | Path, target: str | Path, *, crs: Any) -> Path:
    """Copy a raster to ``target`` declaring ``crs`` (for a DEM whose file declares none or a
    wrong one), so that readers need no separate CRS argument."""
    source = Path(path)
    with _open(source, source.name) as dataset:
        profile = dataset.profile | {"crs": _source_crs(dataset, crs, source.name)}
        data = dataset.read()
    with rasterio.open(target, "w", **profile) as copy:
        copy.write(data)
    return Path(target)


def plane_dem(path: str | Path, *, crs: str, origin: tuple[float, float], size: int,
              resolution_m: float, rise_x: float = 0.0, rise_y: float = 0.0,
              base_m: float = 10.0) -> Path:
    """Write a DEM of an inclined plane (``rise_x``/``rise_y`` metres per metre east/north).

    Used by the demo city and for checking slopes whose answer is known.
    """
    x = origin[0] + (np.arange(size) + 0.5) * resolution_m
    y = origin[1] + size * resolution_m - (np.arange(size) + 0.5) * resolution_m
    grid_x, grid_y = np.meshgrid(x - origin[0], y - origin[1])
    elevation = (base_m + rise_x * grid_x + rise_y * grid_y).astype("float32")
    write_dem(path, elevation, crs=crs,
              transform=_north_up(origin[0], origin[1] + size * resolution_m, resolution_m))
    return Path(path)


def write_dem(path: str | Path, elevation: npt.NDArray[np.floating], *, crs: str,
              transform: Affine, nodata: float = -9999.0) -> Path:
    """Write elevations (NaN = no value) as a one-band float32 GeoTIFF."""
    data = np.where(np.isfinite(elevation), elevation, nodata).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype="float32", crs=crs, transform=transform, nodata=nodata,
                       compress="deflate") as dataset:
        dataset.write(data, 1)
    return Path(path)
