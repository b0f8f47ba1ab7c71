"""DEM checks and slopes: planes whose slope is known, in metres and in degrees of longitude."""
from __future__ import annotations

import numpy as np
import pytest

import rasterio

from geo.errors import CRSError, InputFileError
from geo.terrain import (
    elevation_grid,
    plane_dem,
    read_dem_info,
    slope_degrees,
    slope_percent,
    write_dem,
)
from rasterio.transform import Affine
from rasterio.warp import Resampling, reproject

UTM = "EPSG:32647"
ORIGIN = (760_000.0, 170_000.0)
#: Output window well inside the 3 km x 3 km synthetic DEM.
WINDOW = (760_300.0, 170_300.0, 762_000.0, 172_000.0)


@pytest.fixture
def ramp(tmp_path):
    """A plane rising 10 m per 100 m towards the east, 30 m cells."""
    return plane_dem(tmp_path / "ramp.tif", crs=UTM, origin=ORIGIN, size=100, resolution_m=30.0,
                     rise_x=0.1)


@pytest.mark.parametrize("resolution_m", [20.0, 30.0, 50.0, 100.0])
def test_a_plane_rising_10_m_per_100_m_has_a_10_percent_slope(ramp, resolution_m):
    slope, transform = slope_percent(ramp, crs=UTM, bounds=WINDOW, resolution_m=resolution_m)
    assert slope.shape == (int(np.ceil(1700 / resolution_m)),) * 2
    np.testing.assert_allclose(slope, 10.0, atol=1e-6)
    assert (transform.a, transform.e, transform.c, transform.f) == (
        resolution_m, -resolution_m, WINDOW[0], WINDOW[3])


def test_slope_in_degrees_of_a_diagonal_plane(tmp_path):
    dem = plane_dem(tmp_path / "diag.tif", crs=UTM, origin=ORIGIN, size=100, resolution_m=30.0,
                    rise_x=0.3, rise_y=-0.4)  # 0.5 m per m downhill to the south-east
    degrees, _ = slope_degrees(dem, crs=UTM, bounds=WINDOW, resolution_m=50.0)
    np.testing.assert_allclose(degrees, np.degrees(np.arctan(0.5)), atol=1e-6)


def test_a_dem_in_degrees_is_measured_in_metres(ramp, tmp_path):
    """The same plane resampled to longitude/latitude still reads as about 10 %."""
    cell = 30.0 / 111_320.0
    transform = Affine(cell, 0.0, 101.335, 0.0, -cell, 1.566)
    lonlat = np.full((105, 105), np.nan, dtype="float64")
    with rasterio.open(ramp) as source:
        reproject(rasterio.band(source, 1), lonlat, dst_transform=transform, dst_crs="EPSG:4326",
                  dst_nodata=np.nan, resampling=Resampling.bilinear)
    path = write_dem(tmp_path / "lonlat.tif", lonlat, crs="EPSG:4326", transform=transform)
    slope, _ = slope_percent(path, crs=UTM, bounds=WINDOW, resolution_m=50.0)
    inner = slope[2:-2, 2:-2]
    assert np.isfinite(inner).all()
    np.testing.assert_allclose(np.median(inner), 10.0, atol=0.1)


def test_cells_without_elevation_give_no_slope(tmp_path):
    elevation = np.tile(np.arange(50, dtype="float64") * 3.0, (50, 1))  # 3 m per 30 m cell
    elevation[:, :10] = np.nan
    path = write_dem(tmp_path / "gap.tif", elevation, crs=UTM,
                     transform=Affine(30.0, 0.0, ORIGIN[0], 0.0, -30.0, ORIGIN[1] + 1500.0))
    slope, _ = slope_percent(path, crs=UTM, bounds=(ORIGIN[0], ORIGIN[1], ORIGIN[0] + 1500.0,
                                                    ORIGIN[1] + 1500.0), resolution_m=30.0)
    assert np.isnan(slope[:, :9]).all()
    np.testing.assert_allclose(slope[1:-1, 12:-1], 10.0, atol=1e-6)


def test_dem_info_reports_crs_size_and_range(ramp):
    info = read_dem_info(ramp)
    assert (info.crs, info.width, info.height, info.resolution) == (UTM, 100, 100, (30.0, 30.0))
    assert info.elevation_min_m == pytest.approx(10.0 + 0.1 * 15.0)
    assert info.elevation_max_m == pytest.approx(10.0 + 0.1 * (3000.0 - 15.0))
    assert info.nodata_share == 0.0
    lon0, lat0, lon1, lat1 = info.bounds_lonlat
    assert 101.3 < lon0 < lon1 < 101.4 and 1.5 < lat0 < lat1 < 1.6


def test_a_raster_without_crs_needs_one(tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       transform=Affine(30.0, 0.0, ORIGIN[0], 0.0, -30.0, ORIGIN[1])) as ds:
        ds.write(np.ones((4, 4), dtype="float32"), 1)
    with pytest.raises(CRSError, match="declares no CRS; pass --crs"):
        read_dem_info(path)
    assert read_dem_info(path, crs=UTM).crs == UTM
    grid, _ = elevation_grid(path, crs=UTM, bounds=(ORIGIN[0], ORIGIN[1] - 120.0,
                                                    ORIGIN[0] + 120.0, ORIGIN[1]),
                             resolution_m=30.0, dem_crs=UTM)
    np.testing.assert_allclose(grid, 1.0)


def test_elevations_that_are_not_metres_are_refused(tmp_path):
    path = write_dem(tmp_path / "cm.tif", np.full((5, 5), 25_000.0), crs=UTM,
                     transform=Affine(30.0, 0.0, ORIGIN[0], 0.0, -30.0, ORIGIN[1]))
    with pytest.raises(InputFileError, match="elevations in metres"):
        read_dem_info(path)


def test_a_file_that_is_not_a_raster_is_refused(tmp_path):
    path = tmp_path / "dem.tif"
    path.write_text("not a raster")
    with pytest.raises(InputFileError, match="cannot be read as a GeoTIFF"):
        read_dem_info(path)


def test_slope_needs_a_metric_crs(ramp):
    with pytest.raises(CRSError, match="metric CRS"):
        slope_percent(ramp, crs="EPSG:4326", bounds=(101.3, 1.5, 101.4, 1.6), resolution_m=30.0)
