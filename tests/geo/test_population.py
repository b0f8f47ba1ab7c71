"""Population zonal sums: apportioning of raster cells cut by boundaries, CRSs, real WorldPop."""
from __future__ import annotations

import numpy as np
import pytest

import geopandas as gpd
import h3
import pyproj
import rasterio
import shapely
from shapely.ops import split

from geo.demo import generate_city, generate_population
from geo.errors import CRSError
from geo.population import (
    cell_polygons,
    population_in_cells,
    population_in_polygons,
    raster_total,
)

UTM = "EPSG:32647"
WORLDPOP = "population/worldpop_sgp_popmap15adj_100m_from_SpatialDengue_rda.tif"
X0, Y0 = 600_000.0, 180_000.0  # a corner near Dumai in UTM 47N


def write_raster(path, values, *, x0=X0, y0=Y0, size=100.0, crs=UTM, nodata=np.nan):
    """GeoTIFF whose top-left corner is (x0, y0 + rows * size), cells ``size`` wide."""
    values = np.asarray(values, dtype=np.float32)
    transform = rasterio.Affine(size, 0, x0, 0, -size, y0 + values.shape[0] * size)
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1],
                       count=1, dtype="float32", crs=crs, transform=transform,
                       nodata=nodata) as out:
        out.write(values, 1)
    return path


def exact_sums(values, polygons, *, x0=X0, y0=Y0, size=100.0):
    """Independent answer: each raster cell shared by exact intersection areas (shapely)."""
    rows, cols = np.shape(values)
    total = np.zeros(len(polygons))
    for r in range(rows):
        for c in range(cols):
            value = values[r][c]
            if not np.isfinite(value):
                continue
            top = y0 + (rows - r) * size
            pixel = shapely.box(x0 + c * size, top - size, x0 + (c + 1) * size, top)
            total += value * shapely.area(shapely.intersection(polygons, pixel)) / pixel.area
    return total


def test_raster_cell_straddling_two_kelurahan_is_shared_half_and_half(tmp_path):
    path = write_raster(tmp_path / "one.tif", [[100.0, 0.0], [0.0, 0.0]])
    left = shapely.box(X0, Y0, X0 + 50, Y0 + 200)
    right = shapely.box(X0 + 50, Y0, X0 + 200, Y0 + 200)
    polygons = gpd.GeoSeries([left, right], crs=UTM)

    result = population_in_polygons(polygons, path)

    assert result == pytest.approx([50.0, 50.0], abs=1e-9)
    assert result == pytest.approx(exact_sums([[100.0, 0.0], [0.0, 0.0]], [left, right]))


def test_oblique_boundary_matches_exact_area_shares(tmp_path):
    values = np.random.default_rng(5).uniform(0, 50, (6, 7)).astype(np.float32).astype(float)
    path = write_raster(tmp_path / "random.tif", values)
    # a boundary cutting raster cells at odd angles, and a kelurahan with a hole
    cut = shapely.LineString([(X0 - 10, Y0 + 37), (X0 + 710, Y0 + 561)])
    whole = shapely.box(X0, Y0, X0 + 700, Y0 + 600)
    lower, upper = shapely.get_parts(split(whole, cut))
    holed = shapely.Polygon(shapely.box(X0 + 120, Y0 + 140, X0 + 480, Y0 + 430).exterior,
                            [shapely.Point(X0 + 300, Y0 + 290).buffer(77).exterior])
    polygons = [lower, upper, holed]

    result = population_in_polygons(gpd.GeoSeries(polygons, crs=UTM), path, supersample=20)

    expected = exact_sums(values, polygons)
    # supersampling is exact up to the sub-cells cut by a boundary: well below 1% here
    np.testing.assert_allclose(result, expected, rtol=0.01)
    assert result[:2].sum() == pytest.approx(values.sum(), rel=1e-9)


def test_polygons_tiling_the_raster_add_up_to_its_total(tmp_path):
    rng = np.random.default_rng(8)
    values = rng.uniform(0, 20, (40, 50)).astype(np.float32).astype(float)
    values[rng.random(values.shape) < 0.1] = np.nan  # nodata counts as nobody
    path = write_raster(tmp_path / "tiles.tif", values)
    extent = shapely.box(X0, Y0, X0 + 5000, Y0 + 4000)
    seeds = shapely.multipoints(rng.uniform([X0, Y0], [X0 + 5000, Y0 + 4000], (25, 2)))
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(
        seeds, extend_to=extent)), extent)

    result = population_in_polygons(gpd.GeoSeries(cells, crs=UTM), path)

    assert result.sum() == pytest.approx(np.nansum(values), rel=1e-9)
    assert raster_total(path) == pytest.approx(np.nansum(values), rel=1e-9)
    np.testing.assert_allclose(result, exact_sums(values, cells), rtol=0.02, atol=1.0)


def test_overlapping_polygons_each_get_their_own_sum(tmp_path):
    values = np.arange(12, dtype=float).reshape(3, 4)
    path = write_raster(tmp_path / "overlap.tif", values)
    everything = shapely.box(X0, Y0, X0 + 400, Y0 + 300)
    left_half = shapely.box(X0, Y0, X0 + 200, Y0 + 300)
    same_again = shapely.box(X0, Y0, X0 + 400, Y0 + 300)
    polygons = gpd.GeoSeries([everything, left_half, same_again], crs=UTM)

    result = population_in_polygons(polygons, path)

    assert result == pytest.approx([values.sum(), values[:, :2].sum(), values.sum()])


def test_polygons_in_another_crs_are_reprojected(tmp_path):
    values = np.full((20, 20), 10.0)
    path = write_raster(tmp_path / "utm.tif", values)
    square = gpd.GeoSeries([shapely.box(X0 + 500, Y0 + 500, X0 + 1500, Y0 + 1500)], crs=UTM)

    in_utm = population_in_polygons(square, path)
    in_lonlat = population_in_polygons(square.to_crs("EPSG:4326"), path)

    assert in_utm == pytest.approx([1000.0])
    assert in_lonlat == pytest.approx(in_utm, rel=1e-3)


def test_empty_and_outside_polygons_have_nobody(tmp_path):
    path = write_raster(tmp_path / "small.tif", [[5.0]])
    far = shapely.box(X0 + 10_000, Y0, X0 + 11_000, Y0 + 1000)
    polygons = gpd.GeoSeries([far, shapely.Polygon(), None], crs=UTM)

    assert population_in_polygons(polygons, path) == pytest.approx([0.0, 0.0, 0.0])


def test_missing_crs_is_an_error(tmp_path):
    path = write_raster(tmp_path / "small.tif", [[5.0]])
    with pytest.raises(CRSError):
        population_in_polygons(gpd.GeoSeries([shapely.box(0, 0, 1, 1)]), path)
    bare = write_raster(tmp_path / "bare.tif", [[5.0]], crs=None)
    with pytest.raises(CRSError, match="declares no CRS"):
        population_in_polygons(gpd.GeoSeries([shapely.box(X0, Y0, X0 + 1, Y0 + 1)], crs=UTM),
                               bare)


def test_cells_get_density_times_their_area(tmp_path):
    # 10 people per 100 m cell everywhere around the cells: 1,000 people per km2
    path = write_raster(tmp_path / "flat.tif", np.full((80, 80), 10.0))
    transformer = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(X0 + 4000, Y0 + 4000)
    centre = h3.latlng_to_cell(lat, lon, 9)
    cells = [h3.str_to_int(c) for c in sorted(h3.grid_disk(centre, 3))]
    cells = np.array(cells + cells[:2], dtype=np.int64)  # duplicates keep their place

    result = population_in_cells(cells, path)

    # UTM distorts areas by the scale factor (0.9996 squared); sub-cells share the rest
    expected = [1000.0 * h3.cell_area(h3.int_to_str(int(c)), "km^2") for c in cells]
    np.testing.assert_allclose(result, expected, rtol=0.01)
    assert result[-2:] == pytest.approx(result[:2])


def test_cell_polygons_match_h3_boundaries():
    cell = h3.latlng_to_cell(1.6, 101.45, 9)
    polygon = cell_polygons(np.array([h3.str_to_int(cell)]))[0]
    expected = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
    assert polygon.symmetric_difference(expected).area < 1e-14


def test_demo_city_population_is_kept(tmp_path):
    city = generate_city()
    path = generate_population(city, tmp_path / "population.tif")

    people = population_in_polygons(city, path)

    # the kelurahan tile the city; only raster cells on the coastline are partly outside them
    assert people.sum() == pytest.approx(raster_total(path), rel=2e-3)
    assert (people > 0).all()


@pytest.mark.shared_data
def test_worldpop_total_is_the_raster_sum(shared_data):
    path = shared_data / WORLDPOP
    with rasterio.open(path) as raster:
        values, bounds = raster.read(1).astype(np.float64), raster.bounds
    total = np.nansum(values)
    covering = shapely.box(*bounds).buffer(0.01)
    middle = (bounds.left + bounds.right) / 2 + 0.00041  # not on a cell edge
    west = shapely.box(bounds.left - 1, bounds.bottom - 1, middle, bounds.top + 1)
    east = shapely.box(middle, bounds.bottom - 1, bounds.right + 1, bounds.top + 1)

    whole = population_in_polygons(gpd.GeoSeries([covering], crs="EPSG:4326"), path)
    halves = population_in_polygons(gpd.GeoSeries([west, east], crs="EPSG:4326"), path)
    in_svy21 = population_in_polygons(gpd.GeoSeries([covering], crs="EPSG:4326")
                                      .to_crs("EPSG:3414"), path)

    assert whole[0] == pytest.approx(total, rel=1e-9)
    assert halves.sum() == pytest.approx(total, rel=1e-9)
    assert in_svy21[0] == pytest.approx(total, rel=1e-9)
    assert 5e6 < total < 6e6  # Singapore
