"""The demo city's constraint layers and DEM: every kind, readable, deterministic, plausible."""
from __future__ import annotations

import numpy as np
import pytest

import shapely

from geo import demo
from geo.layers import LAYER_KINDS, read_layer
from geo.terrain import read_dem_info, slope_percent


@pytest.fixture(scope="module")
def city():
    return demo.generate_city()


@pytest.fixture(scope="module")
def layers(city):
    return demo.generate_layers(city)


@pytest.fixture(scope="module")
def metric(layers):
    return {kind: frame.to_crs(demo.CITY_CRS) for kind, frame in layers.items()}


def test_every_kind_is_generated_and_reads_back_without_a_problem(city, layers, tmp_path):
    assert sorted(layers) == sorted(LAYER_KINDS)
    for kind, frame in layers.items():
        path = tmp_path / f"{kind}.geojson"
        frame.to_file(path, driver="GeoJSON")
        read = read_layer(path, kind, city=city)
        assert read.problems == [], kind
        assert len(read.frame) == len(frame) > 0
        assert read.frame["nama"].notna().all()


def test_the_layers_are_deterministic(city, layers):
    again = demo.generate_layers(city)
    for kind, frame in layers.items():
        assert frame.geom_equals_exact(again[kind], tolerance=0).all(), kind
    other = demo.generate_layers(city, seed=demo.LAYER_SEED + 1)
    assert not other["lahan"].geom_equals_exact(layers["lahan"], tolerance=1e-6).all()


def test_the_river_crosses_the_city_with_its_flood_zone(city, metric):
    land = shapely.union_all(np.asarray(city.to_crs(demo.CITY_CRS).geometry.array))
    river = metric["sungai"].geometry.iloc[0]
    assert shapely.length(shapely.intersection(river, land)) > 30_000
    assert shapely.length(shapely.difference(river, land)) > 0  # runs on beyond the edge
    flood = metric["rawan_banjir"].geometry.iloc[0]
    assert flood.contains(shapely.intersection(river, shapely.buffer(land, -700)))
    assert shapely.hausdorff_distance(flood.boundary, river) < 5000


def test_plots_are_1_to_5_ha_clear_of_river_water_forest_and_flood(metric, layers):
    plots = metric["lahan"]
    assert len(plots) == 8
    assert plots.area.between(1e4, 5e4).all()
    np.testing.assert_allclose(layers["lahan"]["luas_ha"], plots.area / 1e4, atol=0.01)
    river = metric["sungai"].geometry.iloc[0]
    assert (plots.distance(river) >= 1000).all()
    for kind in ("badan_air", "kawasan_lindung", "rawan_banjir"):
        area = shapely.union_all(np.asarray(metric[kind].geometry.array))
        assert not plots.intersects(area).any(), kind


def test_airport_roads_settlements_and_wells(city, metric, layers):
    assert layers["bandara"]["jenis"].tolist() == ["turbojet"]
    runway = metric["bandara"].geometry.iloc[0]
    assert runway.area == pytest.approx(2500 * 300, rel=0.01)
    roads = metric["jalan"]
    assert len(roads) >= len(city) - 1 and set(roads.geom_type) == {"LineString"}
    assert len(metric["permukiman"]) == len(city)
    settled = shapely.union_all(np.asarray(metric["permukiman"].geometry.array))
    assert metric["sumber_air"].within(settled.buffer(1)).all()


def test_the_dem_has_a_steep_hill_in_the_forest_and_flat_land_elsewhere(city, metric, tmp_path):
    path = demo.generate_dem(city, tmp_path / "dem.tif")
    info = read_dem_info(path)
    assert info.crs == demo.CITY_CRS and info.nodata_share == 0.0
    assert 0.0 <= info.elevation_min_m < 5.0 and info.elevation_max_m > 150.0
    bounds = tuple(metric["kawasan_lindung"].total_bounds)
    slope, transform = slope_percent(path, crs=demo.CITY_CRS, bounds=bounds, resolution_m=100.0)
    assert np.nanmax(slope) > 10.0
    plots = metric["lahan"].centroid
    grid, origin = slope_percent(path, crs=demo.CITY_CRS,
                                 bounds=tuple(metric["lahan"].total_bounds), resolution_m=100.0)
    rows = np.minimum(((origin.f - plots.y) // 100).astype(int), grid.shape[0] - 1)
    cols = np.minimum(((plots.x - origin.c) // 100).astype(int), grid.shape[1] - 1)
    assert (grid[rows, cols] < 5.0).all()  # the plots lie on gentle land
    assert np.nanmedian(grid) < 2.0
