"""Tests for geo.projection: metric CRS choice, CRS checks and guessing a UTM zone."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geopandas as gpd
import pyproj
from shapely.geometry import Point

from geo.errors import CRSError
from geo.projection import (
    INDONESIA_BOUNDS,
    bounds_of,
    candidate_utm_crs,
    distance_to_bounds,
    guess_projected_crs,
    looks_like_lonlat,
    project_to_metric,
    require_crs,
    utm_crs_for,
    utm_zone_crs,
)

# Approximate city boxes (min lon, min lat, max lon, max lat), enough to pick a UTM zone.
DUMAI = (101.35, 1.55, 101.75, 1.80)
PAYAKUMBUH = (100.57, -0.30, 100.70, -0.17)
SINGKAWANG = (108.90, 0.75, 109.10, 1.05)
MALANG = (112.4, -8.3, 112.9, -7.75)

# The three TPA of Kabupaten Malang as written in the shared file (UTM 49S metres).
TPA_X = np.array([672232.95, 695076.09, 683758.91])
TPA_Y = np.array([9102190.38, 9109382.27, 9132019.24])


def _points(lonlat: list[tuple[float, float]], crs: int = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[Point(p) for p in lonlat], crs=crs)


def _to_utm(code: int, lon: list[float], lat: list[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = pyproj.Transformer.from_crs(4326, code, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


# --- utm_crs_for / project_to_metric / require_crs --------------------------------------------

@pytest.mark.parametrize(("bounds", "epsg"), [(DUMAI, 32647), (PAYAKUMBUH, 32747),
                                               (SINGKAWANG, 32649)])
def test_utm_crs_for_city_boxes(bounds, epsg):
    assert utm_crs_for(bounds).to_epsg() == epsg


@pytest.mark.parametrize(("bounds", "epsg"), [(DUMAI, 32647), (PAYAKUMBUH, 32747),
                                               (SINGKAWANG, 32649)])
def test_utm_zone_crs_agrees_with_utm_crs_for(bounds, epsg):
    west, south, east, north = bounds
    assert utm_zone_crs((west + east) / 2, (south + north) / 2).to_epsg() == epsg


@pytest.mark.parametrize(("lon", "lat", "epsg"), [(-180.0, 1.0, 32601), (179.99, -1.0, 32760),
                                                   (180.0, 0.0, 32660), (102.0, 0.0, 32648)])
def test_utm_zone_crs_zone_edges(lon, lat, epsg):
    assert utm_zone_crs(lon, lat).to_epsg() == epsg


def test_utm_crs_for_geodataframe_and_lonlat_pair():
    assert utm_crs_for(_points([(101.45, 1.67), (101.5, 1.7)])).to_epsg() == 32647
    assert utm_crs_for((100.63, -0.22)).to_epsg() == 32747


def test_utm_crs_for_projected_input_uses_its_location():
    gdf = _points([(108.98, 0.9)]).to_crs(3857)
    assert utm_crs_for(gdf).to_epsg() == 32649


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "epsg"), [("payakumbuh_13.76_kelurahan.geojson", 32747),
                                             ("singkawang_61.72_kelurahan.geojson", 32649)])
def test_utm_crs_for_real_boundaries(shared_data, name, epsg):
    boundaries = gpd.read_file(shared_data / "boundaries" / name)
    assert utm_crs_for(boundaries).to_epsg() == epsg
    assert utm_crs_for(boundaries.total_bounds).to_epsg() == epsg


def test_project_to_metric_gives_metres():
    # 0.01 degree of longitude on the equator is 1113.2 m.
    metric = project_to_metric(_points([(101.0, 0.001), (101.01, 0.001)]))
    assert metric.crs.to_epsg() == 32647
    assert metric.geometry.iloc[0].distance(metric.geometry.iloc[1]) == pytest.approx(1113.2,
                                                                                     abs=1.0)


def test_project_to_metric_with_explicit_crs():
    metric = project_to_metric(_points([(101.45, 1.67)]), crs="EPSG:32648")
    assert metric.crs.to_epsg() == 32648


def test_require_crs_returns_crs_or_raises_naming_the_source():
    assert require_crs(_points([(101.45, 1.67)]), source="x").to_epsg() == 4326
    with pytest.raises(CRSError, match="towers.shp: no coordinate reference system"):
        require_crs(gpd.GeoDataFrame(geometry=[Point(1, 1)]), source="towers.shp")


def test_metric_helpers_refuse_data_without_crs():
    no_crs = gpd.GeoDataFrame(geometry=[Point(101.45, 1.67)])
    with pytest.raises(CRSError):
        utm_crs_for(no_crs)
    with pytest.raises(CRSError):
        project_to_metric(no_crs)


def test_utm_crs_for_empty_data_is_an_error():
    with pytest.raises(ValueError, match="without any geometry"):
        utm_crs_for(gpd.GeoDataFrame(geometry=[], crs=4326))


# --- looks_like_lonlat ------------------------------------------------------------------------

@pytest.mark.parametrize(("x", "y", "expected"), [
    ([101.45, 112.6], [1.67, -7.9], True),
    ([-180.0, 180.0], [-90.0, 90.0], True),
    ([101.45, np.nan], [1.67, 5000.0], True),  # pairs with a missing value are ignored
    (TPA_X, TPA_Y, False),
    ([101.45, 672232.95], [1.67, 9102190.38], False),
    ([1.67], [101.45], False),  # latitude beyond 90
    ([], [], False),
    ([np.nan], [np.nan], False),
])
def test_looks_like_lonlat(x, y, expected):
    assert looks_like_lonlat(x, y) is expected


# --- guess_projected_crs ----------------------------------------------------------------------

def test_guess_without_hint_is_none_when_several_zones_fit():
    assert guess_projected_crs(TPA_X, TPA_Y) is None
    zones = [c.to_epsg() for c in candidate_utm_crs(TPA_X, TPA_Y)]
    assert zones == list(range(32746, 32754))  # 46S..53S; 54S would put them past 142 E


@pytest.mark.parametrize("near", [(112.63, -7.98), MALANG,
                                  _points([(112.5, -8.2), (112.8, -7.8)]).to_crs(32749)])
def test_guess_with_hint_picks_the_zone_near_the_city(near):
    assert guess_projected_crs(TPA_X, TPA_Y, near=near).to_epsg() == 32749


def test_guess_north_hemisphere_city():
    x, y = _to_utm(32647, [101.45, 101.50], [1.67, 1.70])
    assert guess_projected_crs(x, y, near=DUMAI).to_epsg() == 32647


def test_guess_refuses_lonlat_and_far_away_points():
    assert guess_projected_crs([101.45], [1.67], near=DUMAI) is None
    # Rome in UTM 33N: no Indonesian zone puts it anywhere near Malang.
    assert guess_projected_crs([291_000.0], [4_640_000.0], near=MALANG) is None
    assert guess_projected_crs([], []) is None


def test_guess_with_a_hint_covering_several_zones_is_none():
    assert guess_projected_crs(TPA_X, TPA_Y, near=INDONESIA_BOUNDS) is None


@settings(deadline=None, max_examples=40, derandomize=True)
@given(lon=st.floats(95.0, 141.0), lat=st.floats(-10.5, 5.5))
def test_guess_recovers_the_zone_of_any_indonesian_point(lon, lat):
    zone = int((lon + 180) // 6) + 1
    code = (32600 if lat >= 0 else 32700) + zone
    x, y = _to_utm(code, [lon], [lat])
    assert guess_projected_crs(x, y, near=(lon, lat)).to_epsg() == code


# --- bounds_of / distance_to_bounds -----------------------------------------------------------

def test_bounds_of_accepts_pairs_boxes_and_frames():
    assert bounds_of((101.45, 1.67)) == (101.45, 1.67, 101.45, 1.67)
    assert bounds_of(DUMAI) == DUMAI
    frame = _points([(101.4, 1.6), (101.7, 1.8)]).to_crs(32647)
    assert bounds_of(frame) == pytest.approx((101.4, 1.6, 101.7, 1.8))


@pytest.mark.parametrize("near", [(1.0, 2.0, 3.0), (200.0, 1.0), (101.7, 1.6, 101.4, 1.8)])
def test_bounds_of_rejects_bad_hints(near):
    with pytest.raises(ValueError, match="location hint"):
        bounds_of(near)


def test_distance_to_bounds():
    box = (101.0, 0.0, 101.2, 0.2)
    distance = distance_to_bounds([101.1, 101.1, 300.0, np.nan], [0.1, 1.2, 0.0, 0.0], box)
    assert distance[0] == 0.0
    assert distance[1] == pytest.approx(110_574, rel=1e-3)  # one degree of latitude
    assert np.isinf(distance[2:]).all()
