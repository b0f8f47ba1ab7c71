"""Tests for geo.surface: the interpolated signal raster and the blank-spot polygons.

Most cases are built in UTM 47N (EPSG:32647, the demo city's zone) on a 100 m grid whose cell
edges fall on multiples of 100 m, so that the right answer can be computed by hand or by brute
force: two square kelurahan of 5 x 5 km side by side, West (x 770-775 km) and East (775-780 km).
"""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import pyproj
import rasterio
import shapely

from geo import demo
from geo.errors import CRSError, InputFileError
from geo.surface import (
    BLANK_SPOT_COLUMNS,
    BLANK_SPOT_POINT_COLUMNS,
    NO_SERVICE_DBM,
    blank_spot_points,
    blank_spot_polygons,
    interpolate_signal,
    read_surface_geotiff,
    write_surface_geotiff,
)

UTM = pyproj.CRS.from_epsg(32647)
X0, Y0 = 770_000.0, 170_000.0  # south-west corner of West
SIDE = 5_000.0
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
DAY = 86_400
TO_LONLAT = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)


@pytest.fixture(scope="module")
def two_kelurahan() -> gpd.GeoDataFrame:
    """West and East, 5 x 5 km each, in EPSG:4326 (as boundaries arrive)."""
    squares = [shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE),
               shapely.box(X0 + SIDE, Y0, X0 + 2 * SIDE, Y0 + SIDE)]
    table = gpd.GeoDataFrame({"kode": ["99.71.01.1001", "99.71.01.1002"],
                              "nama": ["West", "East"]}, geometry=squares, crs=UTM)
    return table.to_crs(4326)


def measurements(x, y, signal=-85.0, *, no_service=False, technology="4G",
                 operator="Telkomsel", measured_at=T0, accuracy_m=5.0) -> pd.DataFrame:
    """Build measurements at UTM points (metres) in the layout of accepted measurements."""
    x, y = np.broadcast_arrays(np.atleast_1d(np.asarray(x, dtype=float)),
                               np.atleast_1d(np.asarray(y, dtype=float)))
    lon, lat = TO_LONLAT.transform(x.copy(), y.copy())
    n = len(x)
    no_service = np.broadcast_to(np.asarray(no_service, dtype=bool), n)
    signal = np.where(no_service, np.nan, np.broadcast_to(np.asarray(signal, dtype=float), n))
    return pd.DataFrame({
        "measured_at": np.broadcast_to(np.asarray(measured_at, dtype=np.int64), n).copy(),
        "latitude": lat, "longitude": lon,
        "operator": np.broadcast_to(np.asarray(operator, dtype=object), n).copy(),
        "technology": np.where(no_service, "", np.broadcast_to(
            np.asarray(technology, dtype=object), n)).astype(object),
        "signal_dbm": signal, "no_service": no_service,
        "accuracy_m": np.broadcast_to(np.asarray(accuracy_m, dtype=float), n).copy(),
        "device_id": "dev-001"})


def grid_points(x_min, x_max, y_min, y_max, step=100.0) -> tuple[np.ndarray, np.ndarray]:
    """Points at ``step`` spacing, offset by half a step (cell centres when step is 100 m)."""
    x, y = np.meshgrid(np.arange(x_min + step / 2, x_max, step),
                       np.arange(y_min + step / 2, y_max, step))
    return x.ravel(), y.ravel()


def value_at(result, x, y) -> float:
    col, row = ~result.transform @ (x, y)
    return float(result.values[int(row), int(col)])


def in_city(result) -> np.ndarray:
    x, y = result.cell_centres()
    return (x > X0) & (x < X0 + 2 * SIDE) & (y > Y0) & (y < Y0 + SIDE)


def one_per_bin(rng, count, *, bin_m=50.0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random points in West, each alone in its 50 m aggregation bin."""
    bins = rng.choice(int(SIDE / bin_m) ** 2, count, replace=False)
    column, row = bins % int(SIDE / bin_m), bins // int(SIDE / bin_m)
    x = X0 + (column + rng.uniform(0.05, 0.95, count)) * bin_m
    y = Y0 + (row + rng.uniform(0.05, 0.95, count)) * bin_m
    return x, y


# --- the surface -------------------------------------------------------------------------------

def test_grid_is_the_city_bounds_in_its_utm_zone(two_kelurahan):
    result = interpolate_signal(measurements(X0 + 2500, Y0 + 2500), two_kelurahan)
    assert result.crs.to_epsg() == 32647
    assert result.resolution_m == 100.0
    assert result.shape == (50, 100)
    assert result.transform.c == pytest.approx(X0) and result.transform.f == pytest.approx(Y0
                                                                                           + SIDE)
    assert result.values.dtype == np.float32
    assert result.method == "idw" and result.samples == 1 and result.points == 1


def test_constant_signal_gives_a_constant_surface(two_kelurahan):
    x, y = grid_points(X0, X0 + SIDE, Y0, Y0 + SIDE, step=250.0)
    result = interpolate_signal(measurements(x, y, -85.0), two_kelurahan)
    values = result.values[np.isfinite(result.values)]
    assert values.size > 2500  # all of West and a strip of East
    np.testing.assert_allclose(values, -85.0, atol=1e-4)


def test_single_measurement_fills_exactly_the_cells_within_the_distance(two_kelurahan):
    px, py = X0 + 4_830.0, Y0 + 2_470.0  # near the West/East border, off the cell centres
    result = interpolate_signal(measurements(px, py, -95.0), two_kelurahan)
    x, y = result.cell_centres()
    distance = np.hypot(x - px, y - py)
    expected = in_city(result) & (distance <= 500.0)
    np.testing.assert_array_equal(np.isfinite(result.values), expected)
    np.testing.assert_allclose(result.values[expected], -95.0)
    np.testing.assert_allclose(result.distance_m[expected], distance[expected], rtol=1e-6)
    assert np.isinf(result.distance_m[in_city(result) & ~expected]).all()


def test_distance_limit_is_configurable(two_kelurahan):
    px, py = X0 + 2_510.0, Y0 + 2_490.0
    result = interpolate_signal(measurements(px, py), two_kelurahan, max_distance_m=1_000,
                                resolution_m=50)
    x, y = result.cell_centres()
    np.testing.assert_array_equal(np.isfinite(result.values),
                                  in_city(result) & (np.hypot(x - px, y - py) <= 1_000))
    assert result.shape == (100, 200)


def test_cells_outside_the_city_stay_empty():
    shape = shapely.Polygon([(X0, Y0), (X0 + SIDE, Y0), (X0, Y0 + SIDE - 30)])
    triangle = gpd.GeoDataFrame({"kode": ["99.71.01.1001"]}, geometry=[shape], crs=UTM)
    x, y = grid_points(X0, X0 + SIDE, Y0, Y0 + SIDE, step=200.0)
    result = interpolate_signal(measurements(x, y), triangle)
    inside = shapely.contains_xy(shape, *result.cell_centres())
    assert 0 < inside.sum() < inside.size
    np.testing.assert_array_equal(np.isfinite(result.values), inside)


def test_idw_at_a_measurement_is_its_value(two_kelurahan):
    rng = np.random.default_rng(5)
    x, y = one_per_bin(rng, 300)
    x[0], y[0] = X0 + 1_250.0, Y0 + 3_350.0  # a cell centre
    keep = (np.hypot(x - x[0], y - y[0]) > 60) | (np.arange(300) == 0)
    signal = rng.uniform(-125, -70, 300)
    result = interpolate_signal(measurements(x[keep], y[keep], signal[keep]), two_kelurahan)
    assert value_at(result, x[0], y[0]) == pytest.approx(signal[0], abs=1e-4)


@pytest.mark.parametrize("power, k", [(2, 12), (1, 4), (3, 1)])
def test_idw_matches_brute_force_over_the_k_nearest(two_kelurahan, power, k):
    rng = np.random.default_rng(7)
    x, y = one_per_bin(rng, 400)
    signal = rng.uniform(-125, -70, 400)
    result = interpolate_signal(measurements(x, y, signal), two_kelurahan, power=power,
                                neighbours=k)
    cx, cy = result.cell_centres()
    rows, cols = np.nonzero(np.isfinite(result.values))
    for i in rng.choice(len(rows), 40, replace=False):
        d = np.hypot(x - cx[rows[i], cols[i]], y - cy[rows[i], cols[i]])
        nearest = np.argsort(d)[:k]
        weight = 1 / d[nearest] ** power
        expected = (weight * signal[nearest]).sum() / weight.sum()
        assert result.values[rows[i], cols[i]] == pytest.approx(expected, abs=1e-3)


def test_no_service_counts_as_no_coverage(two_kelurahan):
    result = interpolate_signal(measurements(X0 + 2_550, Y0 + 2_550, no_service=True),
                                two_kelurahan)
    values = result.values[np.isfinite(result.values)]
    assert values.size > 0
    np.testing.assert_allclose(values, NO_SERVICE_DBM)


@pytest.mark.parametrize("technology, signal, expected", [
    ("4G", -95.0, -95.0),
    ("5G", -130.0, -130.0),
    ("3G", -85.0, -90.0),     # RSCP "good" bound -> RSRP "good" bound
    ("3G", -102.5, -110.0),   # halfway through weak (-95..-110) -> halfway (-100..-120)
    ("2G", -111.0, -121.0),   # 1 dB below the 2G weak bound -> 1 dB below the 4G one
    ("2G", -60.0, -70.0),     # 10 dB above very good stays 10 dB above
])
def test_technologies_are_put_on_the_rsrp_scale_by_class(two_kelurahan, technology, signal,
                                                         expected):
    result = interpolate_signal(measurements(X0 + 2_550, Y0 + 2_550, signal,
                                             technology=technology), two_kelurahan)
    assert value_at(result, X0 + 2_550, Y0 + 2_550) == pytest.approx(expected)


def test_best_operator_decides_a_place_unless_one_is_chosen(two_kelurahan):
    frame = pd.concat([
        measurements(X0 + 2_560, Y0 + 2_560, -130.0, operator="Indosat"),
        measurements(X0 + 2_580, Y0 + 2_570, -85.0, operator="Telkomsel")])  # one bin
    pooled = interpolate_signal(frame, two_kelurahan)
    indosat = interpolate_signal(frame, two_kelurahan, operator="Indosat")
    assert value_at(pooled, X0 + 2_550, Y0 + 2_550) == pytest.approx(-85.0)
    assert value_at(indosat, X0 + 2_550, Y0 + 2_550) == pytest.approx(-130.0)
    assert pooled.samples == 2 and indosat.samples == 1


def test_median_per_bin_resists_an_outlier(two_kelurahan):
    frame = measurements(X0 + 2_510 + np.arange(5) * 5, Y0 + 2_520,
                         [-90, -91, -92, -40, -93])
    result = interpolate_signal(frame, two_kelurahan)
    assert result.points == 1
    assert value_at(result, X0 + 2_550, Y0 + 2_550) == pytest.approx(-91.0)


def test_technology_filter_keeps_no_service_rows(two_kelurahan):
    frame = pd.concat([measurements(X0 + 1_050, Y0 + 1_050, -80.0, technology="3G"),
                       measurements(X0 + 3_050, Y0 + 3_050, -80.0, technology="4G"),
                       measurements(X0 + 4_050, Y0 + 1_050, no_service=True)])
    result = interpolate_signal(frame, two_kelurahan, technology="4G")
    assert result.samples == 2
    assert np.isnan(value_at(result, X0 + 1_050, Y0 + 1_050))
    assert value_at(result, X0 + 4_050, Y0 + 1_050) == pytest.approx(NO_SERVICE_DBM)


def test_as_of_and_the_evidence_window(two_kelurahan):
    place = (X0 + 2_520 + np.arange(6) * 5.0, np.full(6, Y0 + 2_520))
    january = measurements(*map(lambda a: a[:3], place), no_service=True,
                           measured_at=T0 + np.arange(3) * DAY)
    december = measurements(*map(lambda a: a[3:], place), -85.0,
                            measured_at=T0 + 340 * DAY + np.arange(3) * DAY)
    frame = pd.concat([january, december], ignore_index=True)
    latest = interpolate_signal(frame, two_kelurahan)
    february = interpolate_signal(frame, two_kelurahan,
                                  as_of=datetime(2024, 2, 1, tzinfo=UTC))
    assert value_at(latest, X0 + 2_550, Y0 + 2_550) == pytest.approx(-85.0)  # tower came
    assert latest.samples == 3  # the January readings are older than the 90-day window
    assert value_at(february, X0 + 2_550, Y0 + 2_550) == pytest.approx(NO_SERVICE_DBM)
    assert february.samples == 3


def test_window_reaches_back_for_the_minimum_samples(two_kelurahan):
    frame = measurements(X0 + 2_510 + np.arange(3) * 10.0, Y0 + 2_520, [-90.0, -95.0, -100.0],
                         measured_at=[T0, T0 + 200 * DAY, T0 + 300 * DAY])
    result = interpolate_signal(frame, two_kelurahan)
    assert result.samples == 3


def test_inaccurate_positions_are_not_evidence(two_kelurahan):
    frame = measurements([X0 + 1_050, X0 + 3_050], [Y0 + 1_050, Y0 + 1_050],
                         accuracy_m=[5.0, 80.0])
    assert interpolate_signal(frame, two_kelurahan).samples == 1


def test_no_measurements_give_an_empty_surface_and_no_blank_spots(two_kelurahan):
    frame = measurements(X0 + 10, Y0 + 10).iloc[:0]
    result = interpolate_signal(frame, two_kelurahan)
    assert np.isnan(result.values).all() and result.samples == 0
    blank = blank_spot_polygons(result, frame, two_kelurahan)
    assert len(blank) == 0
    assert list(blank.columns) == list(BLANK_SPOT_COLUMNS) and blank.crs.to_epsg() == 4326
    assert len(blank_spot_points(blank)) == 0


def test_bad_input_is_refused(two_kelurahan):
    frame = measurements(X0 + 10, Y0 + 10)
    with pytest.raises(InputFileError, match="measured_at"):
        interpolate_signal(frame.drop(columns=["measured_at", "no_service"]), two_kelurahan)
    with pytest.raises(ValueError, match="spline"):
        interpolate_signal(frame, two_kelurahan, method="spline")
    with pytest.raises(ValueError, match="6G"):
        interpolate_signal(frame, two_kelurahan, technology="6G")
    with pytest.raises(ValueError, match="time zone"):
        interpolate_signal(frame, two_kelurahan, as_of=datetime(2024, 1, 1))
    with pytest.raises(CRSError):
        interpolate_signal(frame, two_kelurahan.set_crs(None, allow_override=True))


# --- kriging -----------------------------------------------------------------------------------

def test_kriging_is_finite_near_data_and_respects_the_mask(two_kelurahan):
    rng = np.random.default_rng(11)
    x, y = one_per_bin(rng, 600)
    x, y = x[(x - X0) < 4_000], y[(x - X0) < 4_000]  # leave a gap to the East
    signal = -80 - 30 * (x - X0) / 4_000 + rng.normal(0, 2, len(x))
    frame = measurements(x, y, signal)
    kriged = interpolate_signal(frame, two_kelurahan, method="kriging")
    idw = interpolate_signal(frame, two_kelurahan)
    np.testing.assert_array_equal(np.isfinite(kriged.values), np.isfinite(idw.values))
    values = kriged.values[np.isfinite(kriged.values)]
    assert values.min() >= signal.min() - 1e-3 and values.max() <= signal.max() + 1e-3
    west, east = value_at(kriged, X0 + 350, Y0 + 2_550), value_at(kriged, X0 + 3_650, Y0 + 2_550)
    assert west == pytest.approx(-80 - 30 * 350 / 4_000, abs=4)
    assert east == pytest.approx(-80 - 30 * 3_650 / 4_000, abs=4)
    assert kriged.method == "kriging"


def test_kriging_thins_large_inputs(two_kelurahan, monkeypatch):
    import geo.surface

    monkeypatch.setattr(geo.surface, "KRIGING_MAX_POINTS", 200)
    rng = np.random.default_rng(12)
    x, y = one_per_bin(rng, 1_500)
    result = interpolate_signal(measurements(x, y, -90 + rng.normal(0, 1, len(x))),
                                two_kelurahan, method="kriging")
    assert np.nanmax(np.abs(result.values + 90)) < 5
    assert result.points == 1_500  # aggregated points; kriging itself used at most 200


def test_kriging_finds_the_blank_zone(two_kelurahan):
    frame = blank_zone_measurements(jitter=np.random.default_rng(4))
    result = interpolate_signal(frame, two_kelurahan, method="kriging")
    blank = blank_spot_polygons(result, frame, two_kelurahan, min_area_m2=200_000)
    assert len(blank) == 1
    zone = gpd.GeoSeries([ZONE], crs=UTM).to_crs(4326).iloc[0]
    assert blank.geometry.iloc[0].intersection(zone).area > 0.5 * zone.area


# --- blank spots -------------------------------------------------------------------------------

ZONE = shapely.box(X0 + 2_000, Y0 + 2_000, X0 + 3_000, Y0 + 3_000)  # 1 km2, on cell edges
ZONE_LAST = T0 + 100 * DAY


def blank_zone_measurements(*, zone=ZONE, jitter=None) -> pd.DataFrame:
    """-80 dBm readings every 100 m over both kelurahan, no service in ``zone``.

    Without jitter the readings sit on the cell centres, so the blank cells are exactly the
    zone's; with a random generator they are moved up to 45 m in x and y.
    """
    x, y = grid_points(X0, X0 + 2 * SIDE, Y0, Y0 + SIDE)
    inside = shapely.contains_xy(zone, x, y)
    if jitter is not None:
        x, y = x + jitter.uniform(-45, 45, len(x)), y + jitter.uniform(-45, 45, len(y))
        inside = shapely.contains_xy(zone, x, y)
    times = np.where(inside, T0 + np.arange(len(x)) % 50 * DAY + 10 * DAY, ZONE_LAST + DAY)
    times[np.flatnonzero(inside)[-1]] = ZONE_LAST
    return measurements(x, y, -80.0, no_service=inside, measured_at=times)


def test_square_blank_zone_gives_one_polygon_of_its_area(two_kelurahan):
    frame = blank_zone_measurements()
    result = interpolate_signal(frame, two_kelurahan)
    blank = blank_spot_polygons(result, frame, two_kelurahan)
    assert len(blank) == 1
    spot = blank.iloc[0]
    assert spot["area_km2"] == pytest.approx(1.0, abs=1e-9)
    assert spot["samples"] == 100 and spot["no_service_samples"] == 100
    assert spot["last_measured"] == ZONE_LAST
    assert spot["kelurahan"] == "99.71.01.1001" and spot["kelurahan_kode_main"] == "99.71.01.1001"
    assert np.isnan(spot["population"]) and spot["id"] == 1
    metric = gpd.GeoSeries([spot.geometry], crs=4326).to_crs(UTM).iloc[0]
    assert metric.symmetric_difference(ZONE).area < 1.0  # m2: the same square
    lon, lat = TO_LONLAT.transform(X0 + 2_500, Y0 + 2_500)
    assert (spot["centroid_lon"], spot["centroid_lat"]) == pytest.approx((lon, lat), abs=1e-7)
    assert list(blank.columns) == list(BLANK_SPOT_COLUMNS) and blank.crs.to_epsg() == 4326


def test_blank_area_equals_the_count_of_blank_cells(two_kelurahan):
    frame = blank_zone_measurements(jitter=np.random.default_rng(1))
    result = interpolate_signal(frame, two_kelurahan)
    blank = blank_spot_polygons(result, frame, two_kelurahan)
    cells = np.count_nonzero(result.values < -120)
    assert blank["area_km2"].sum() == pytest.approx(cells * 0.01)
    metric = blank.to_crs(UTM).union_all()
    # the polygons differ from the zone at most by a band of one cell along its edge
    assert metric.symmetric_difference(ZONE).area <= ZONE.length * 100.0


def test_evidence_counts_match_a_point_in_polygon_check(two_kelurahan):
    frame = blank_zone_measurements(jitter=np.random.default_rng(2))
    result = interpolate_signal(frame, two_kelurahan)
    blank = blank_spot_polygons(result, frame, two_kelurahan)
    lon, lat = frame["longitude"].to_numpy(), frame["latitude"].to_numpy()
    for _, spot in blank.iterrows():
        inside = shapely.contains_xy(spot.geometry, lon, lat)
        assert spot["samples"] == inside.sum()
        assert spot["no_service_samples"] == (inside & frame["no_service"].to_numpy()).sum()
        if inside.any():
            assert spot["last_measured"] == frame["measured_at"].to_numpy()[inside].max()


def test_blank_spot_across_two_kelurahan_lists_both(two_kelurahan):
    zone = shapely.box(X0 + 4_400, Y0 + 2_000, X0 + 5_500, Y0 + 3_000)  # 600 m West, 500 m East
    frame = blank_zone_measurements(zone=zone)
    blank = blank_spot_polygons(interpolate_signal(frame, two_kelurahan), frame, two_kelurahan)
    assert len(blank) == 1
    assert blank.iloc[0]["kelurahan"] == "99.71.01.1001,99.71.01.1002"
    assert blank.iloc[0]["kelurahan_kode_main"] == "99.71.01.1001"
    assert blank.iloc[0]["area_km2"] == pytest.approx(1.1)
    along = shapely.box(X0 + 4_000, Y0 + 2_000, X0 + 5_000, Y0 + 3_000)  # edge on the border
    frame = blank_zone_measurements(zone=along)
    blank = blank_spot_polygons(interpolate_signal(frame, two_kelurahan), frame, two_kelurahan)
    assert blank["kelurahan"].tolist() == ["99.71.01.1001"]


def test_threshold_and_minimum_area(two_kelurahan):
    small = shapely.box(X0 + 500, Y0 + 500, X0 + 700, Y0 + 700)  # 4 cells
    frame = pd.concat([blank_zone_measurements(), measurements(
        *grid_points(*small.bounds[::2], *small.bounds[1::2]), -110.0, measured_at=T0)])
    frame = frame.drop_duplicates(["latitude", "longitude"], keep="last")
    result = interpolate_signal(frame, two_kelurahan)
    assert len(blank_spot_polygons(result, frame, two_kelurahan)) == 1
    weak = blank_spot_polygons(result, frame, two_kelurahan, threshold_dbm=-100)
    assert sorted(weak["area_km2"].round(6)) == [0.04, 1.0]
    assert weak["id"].tolist() == [1, 2]  # largest first
    large = blank_spot_polygons(result, frame, two_kelurahan, threshold_dbm=-100,
                                min_area_m2=50_000)
    assert large["area_km2"].tolist() == pytest.approx([1.0])


def test_blank_spot_points_lie_in_their_polygons(two_kelurahan):
    zone = shapely.Polygon([(X0 + 1_000, Y0 + 1_000), (X0 + 3_000, Y0 + 1_000),
                            (X0 + 3_000, Y0 + 1_400), (X0 + 1_400, Y0 + 1_400),
                            (X0 + 1_400, Y0 + 3_000), (X0 + 1_000, Y0 + 3_000)])  # an L
    frame = blank_zone_measurements(zone=zone)
    blank = blank_spot_polygons(interpolate_signal(frame, two_kelurahan), frame, two_kelurahan)
    points = blank_spot_points(blank)
    assert list(points.columns) == list(BLANK_SPOT_POINT_COLUMNS)
    assert points.crs.to_epsg() == 4326 and len(points) == len(blank) == 1
    assert blank.geometry.iloc[0].contains(points.geometry.iloc[0])
    assert not blank.geometry.iloc[0].contains(shapely.Point(blank.iloc[0]["centroid_lon"],
                                                             blank.iloc[0]["centroid_lat"]))
    assert points.iloc[0]["longitude"] == points.geometry.iloc[0].x
    assert points.iloc[0]["last_measured_utc"] == datetime.fromtimestamp(
        int(blank.iloc[0]["last_measured"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(blank_spot_points(blank, min_samples=10_000)) == 0


def test_blank_spot_points_without_evidence_have_no_time():
    polygons = gpd.GeoDataFrame({
        "id": [1, 2], "area_km2": [0.01, 0.02], "kelurahan": ["a", "a"],
        "kelurahan_kode_main": ["a", "a"], "population": [np.nan, np.nan], "samples": [0, 2],
        "no_service_samples": [0, 1], "last_measured": pd.array([None, T0], dtype="Int64"),
        "centroid_lat": [1.55, 1.56], "centroid_lon": [101.5, 101.5]},
        geometry=[shapely.box(101.5, 1.55, 101.501, 1.551), shapely.box(101.5, 1.56, 101.501,
                                                                         1.561)], crs=4326)
    points = blank_spot_points(polygons)
    assert points["last_measured_utc"].tolist() == [None, "2024-01-01T00:00:00Z"]
    assert blank_spot_points(polygons, min_samples=1)["id"].tolist() == [2]


# --- GeoTIFF -----------------------------------------------------------------------------------

def test_geotiff_round_trip(two_kelurahan, tmp_path):
    frame = blank_zone_measurements(jitter=np.random.default_rng(3))
    result = interpolate_signal(frame, two_kelurahan, operator="Telkomsel",
                                as_of=ZONE_LAST + 2 * DAY)
    path = write_surface_geotiff(result, tmp_path / "surface.tif")
    with rasterio.open(path) as raster:
        assert raster.crs.to_epsg() == 32647
        assert np.isnan(raster.nodata) and raster.dtypes == ("float32",)
        assert raster.compression is not None and raster.compression.value == "DEFLATE"
    back = read_surface_geotiff(path)
    np.testing.assert_array_equal(back.values, result.values)
    assert back.transform == result.transform and back.crs == result.crs
    assert (back.method, back.samples, back.points, back.resolution_m, back.max_distance_m) == (
        result.method, result.samples, result.points, result.resolution_m,
        result.max_distance_m)
    assert back.selection == result.selection
    again = blank_spot_polygons(back, frame, two_kelurahan)
    first = blank_spot_polygons(result, frame, two_kelurahan)
    pd.testing.assert_frame_equal(pd.DataFrame(again.drop(columns="geometry")),
                                  pd.DataFrame(first.drop(columns="geometry")))


def test_large_geotiff_is_tiled(tmp_path):
    big = gpd.GeoDataFrame({"kode": ["a"]}, geometry=[shapely.box(X0, Y0, X0 + 30_000,
                                                                  Y0 + 30_000)], crs=UTM)
    result = interpolate_signal(measurements(X0 + 100, Y0 + 100), big)
    with rasterio.open(write_surface_geotiff(result, tmp_path / "big.tif")) as raster:
        assert raster.profile["tiled"] and raster.block_shapes == [(256, 256)]


# --- the demo city -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_city():
    city = demo.generate_city()
    raw = demo.generate_measurements(city, 40_000)
    when = pd.to_datetime(raw["timestamp"], format="ISO8601", utc=True)
    frame = raw.drop(columns="timestamp").assign(
        measured_at=((when - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)),
        signal_dbm=raw["signal_dbm"].astype("float64"))
    return city, frame, demo.generate_blank_zones(city)


def test_demo_blank_zones_show_up_as_blank_spots(demo_city):
    city, frame, zones = demo_city
    before_fix = int(datetime(2024, 6, 30, 17, tzinfo=UTC).timestamp())
    result = interpolate_signal(frame, city, as_of=before_fix)
    blank = blank_spot_polygons(result, frame, city, min_area_m2=1e6)
    centres = zones.to_crs(UTM).centroid.to_crs(4326)
    for zone, centre in zip(zones.itertuples(), centres, strict=True):
        hit = blank[blank.intersects(centre)]
        assert len(hit) == 1, f"zone {zone.zone} is not blank"
        assert hit.iloc[0]["samples"] > 20 and hit.iloc[0]["no_service_samples"] > 0
        assert hit.iloc[0]["last_measured"] <= before_fix
        assert hit.iloc[0]["kelurahan_kode_main"] in set(city["kode"])
    downtown = city.to_crs(UTM).geometry.area.idxmin()
    assert not blank.intersects(city.geometry.loc[downtown].representative_point()).any()


def test_demo_surface_is_masked_where_nobody_measured(demo_city):
    city, frame, _ = demo_city
    result = interpolate_signal(frame.iloc[::20], city)  # 2,000 readings: large gaps
    x, y = result.cell_centres()
    finite = np.isfinite(result.values)
    px, py = pyproj.Transformer.from_crs(4326, result.crs, always_xy=True).transform(
        frame["longitude"].to_numpy()[::20], frame["latitude"].to_numpy()[::20])
    rng = np.random.default_rng(0)
    cells = rng.choice(result.values.size, 300, replace=False)
    for cell in cells:
        row, col = divmod(int(cell), result.shape[1])
        if np.isnan(result.distance_m[row, col]):
            assert not finite[row, col]  # outside the city
            continue
        nearest = np.hypot(px - x[row, col], py - y[row, col]).min()
        assert finite[row, col] == (nearest <= 500.0)
    assert 0.2 < finite.sum() / (~np.isnan(result.distance_m)).sum() < 0.9


def test_demo_blank_spots_count_population(demo_city, tmp_path):
    city, frame, _ = demo_city
    raster = demo.generate_population(city, tmp_path / "population.tif")
    result = interpolate_signal(frame, city)
    blank = blank_spot_polygons(result, frame, city, population_raster=raster,
                                min_area_m2=1e6)
    assert len(blank) >= 2
    assert (blank["population"] > 0).all()
    assert blank["population"].sum() < demo.POPULATION_TOTAL
    total = blank_spot_polygons(result, frame, city, population_raster=raster)
    assert total["population"].sum() >= blank["population"].sum()
