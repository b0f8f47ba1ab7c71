"""The fictional demo city: deterministic, plausible, and in the formats the importers read."""
from __future__ import annotations

import importlib.util
import re

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import rasterio
import shapely

from geo import demo, settings
from geo.boundaries import KELURAHAN_COLUMNS, read_boundaries
from geo.kelurahan_lookup import assign_kelurahan
from tests.conftest import ROOT

N_MEASUREMENTS = 20_000


@pytest.fixture(scope="module")
def city():
    return demo.generate_city()


@pytest.fixture(scope="module")
def metric(city):
    return city.to_crs(demo.CITY_CRS)


@pytest.fixture(scope="module")
def measurements(city):
    return demo.generate_measurements(city, N_MEASUREMENTS)


@pytest.fixture(scope="module")
def facilities(city):
    return demo.generate_facilities(city)


def _blank(frame: pd.DataFrame) -> pd.Series:
    """No usable coverage: no service, RSRP < -120, RSCP/RSSI < -110 (the DOMAIN classes)."""
    floor = frame["technology"].map({"4G": -120, "5G": -120, "3G": -110, "2G": -110})
    return frame["no_service"] | (frame["signal_dbm"].astype("float") < floor)


# --- city --------------------------------------------------------------------------------------

def test_city_has_35_kelurahan_in_7_kecamatan(city):
    assert list(city.columns) == KELURAHAN_COLUMNS
    assert city.crs.to_epsg() == 4326
    assert len(city) == 35
    assert city["kode"].is_monotonic_increasing and city["kode"].is_unique
    assert city["kode"].str.fullmatch(r"99\.71\.0[1-7]\.1\d{3}").all()
    assert (city["kode"].str[:8] == city["kecamatan_kode"]).all()
    sizes = city.groupby("kecamatan_kode").size()
    assert list(sizes.index) == [f"99.71.0{i}" for i in range(1, 8)]
    assert sizes.between(4, 7).all()
    assert city.groupby("kecamatan_kode")["kecamatan"].nunique().eq(1).all()
    assert city["kecamatan"].nunique() == 7
    assert set(city["kota_kode"]) == {"99.71"} and set(city["kota"]) == {"Kota Pesisir Demo"}
    assert city["nama"].is_unique


def test_city_is_a_valid_coverage_of_about_2000_km2(city, metric):
    polygons = np.asarray(metric.geometry.array)
    assert (city.geometry.geom_type == "MultiPolygon").all()
    assert shapely.is_valid(polygons).all()
    assert (shapely.get_num_geometries(polygons) == 1).all()  # no kelurahan in pieces
    union = shapely.union_all(polygons)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0  # no gaps
    assert union.area == pytest.approx(shapely.area(polygons).sum(), abs=100)  # no overlaps
    assert 1700 < union.area / 1e6 < 2300
    assert city["area_km2"].to_numpy() == pytest.approx(shapely.area(polygons) / 1e6, abs=1e-3)
    assert city.estimate_utm_crs().to_epsg() == 32647
    centre = gpd.GeoSeries([union.centroid], crs=metric.crs).to_crs("EPSG:4326").iloc[0]
    lon, lat = centre.x, centre.y
    assert 101.0 < lon < 101.9 and 1.1 < lat < 2.0


def test_kecamatan_are_contiguous_and_kelurahan_small_downtown(city, metric):
    dissolved = metric.dissolve("kecamatan_kode")
    assert (dissolved.geometry.geom_type == "Polygon").all()
    area = city["area_km2"]
    assert area.max() / area.min() > 20
    downtown = city[city["kecamatan_kode"] == "99.71.01"]["area_km2"]
    assert downtown.median() < area.median()


def test_city_is_deterministic_per_seed(city):
    again = demo.generate_city()
    pd.testing.assert_frame_equal(city.drop(columns="geometry"), again.drop(columns="geometry"))
    assert city.geometry.geom_equals_exact(again.geometry, tolerance=0).all()
    other = demo.generate_city(seed=7)
    assert not other.geometry.iloc[:5].geom_equals_exact(city.geometry.iloc[:5], 1e-6).all()
    assert len(other) == 35


def test_city_coordinates_are_on_a_micro_degree_grid(city):
    coords = shapely.get_coordinates(np.asarray(city.geometry.array))
    np.testing.assert_allclose(coords, np.round(coords, 6), atol=1e-9)


# --- towers and blank zones --------------------------------------------------------------------

def test_towers_and_blank_zones(city, metric):
    towers = demo.generate_towers(city)
    zones = demo.generate_blank_zones(city).to_crs(metric.crs)
    union = shapely.union_all(np.asarray(metric.geometry.array))

    assert set(towers["operator"]) == set(demo.OPERATORS)
    assert (towers["status"] == "planned").sum() == 2
    assert (towers["on_air"] == demo.NEW_TOWER_ON_AIR).sum() == len(demo.OPERATORS)
    assert len(zones) == 3 and zones["zone"].tolist() == [1, 2, 3]
    assert all(shapely.contains(union, zone) for zone in zones.geometry)
    existing = towers[(towers["status"] == "existing")
                      & (towers["on_air"] < "2024-01-01")].to_crs(metric.crs)
    for zone in zones.geometry:
        assert existing.distance(zone.centroid).min() > 8000  # blank zones are far from towers
    pd.testing.assert_frame_equal(towers, demo.generate_towers(city))


# --- measurements ------------------------------------------------------------------------------

def test_measurements_have_the_canonical_columns(measurements):
    assert list(measurements.columns) == demo.MEASUREMENT_COLUMNS
    assert len(measurements) == N_MEASUREMENTS
    assert set(measurements["operator"]) == set(demo.OPERATORS)
    assert set(measurements["technology"]) == {"2G", "3G", "4G", "5G"}
    assert (measurements["technology"] == "4G").mean() > 0.5
    assert measurements["device_id"].str.fullmatch(r"dev-\d{3}").all()
    assert measurements["accuracy_m"].between(3, 30).all()


def test_measurements_are_in_the_city_and_the_period(city, measurements):
    codes = assign_kelurahan(measurements["longitude"], measurements["latitude"], city,
                             tolerance_m=1.0)
    assert all(code is not None for code in codes)
    stamp = measurements["timestamp"]
    assert stamp.str.fullmatch(r"2024-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00").all()
    assert stamp.is_monotonic_increasing
    when = pd.to_datetime(stamp, format="ISO8601")
    assert when.min() >= pd.Timestamp("2024-01-01T00:00+07:00")
    assert when.max() <= pd.Timestamp("2024-12-31T23:59:59+07:00")
    assert when.dt.month.nunique() == 12


def test_signal_values_are_always_plausible(measurements):
    signal = measurements["signal_dbm"]
    assert (signal.isna() == measurements["no_service"]).all()
    for technology, (low, high) in settings.SIGNAL_RANGE_DBM.items():
        values = signal[measurements["technology"] == technology].dropna()
        assert values.between(low, high).all(), technology
    assert 0 < measurements["no_service"].mean() < 0.2


def test_speed_tests_on_about_a_fifth_of_the_rows(measurements):
    tested = measurements["download_mbps"].notna()
    assert 0.15 < tested.mean() < 0.25
    assert (measurements["upload_mbps"].notna() == tested).all()
    assert (measurements["latency_ms"].notna() == tested).all()
    assert not (tested & measurements["no_service"]).any()
    assert (measurements.loc[tested, "download_mbps"] > 0).all()


def test_blank_zones_show_up_and_the_new_tower_fixes_zone_1(city, measurements):
    zones = demo.generate_blank_zones(city)
    blank = _blank(measurements)
    after = measurements["timestamp"] >= demo.NEW_TOWER_ON_AIR
    share = {}
    for zone in zones.itertuples():
        inside = shapely.contains_xy(zone.geometry, measurements["longitude"],
                                     measurements["latitude"])
        share[zone.zone] = (blank[inside & ~after].mean(), blank[inside & after].mean())
    assert share[1][0] > 0.7 and share[1][1] < 0.1  # fixed mid-year
    assert share[2][0] > 0.7 and share[2][1] > 0.7
    assert share[3][0] > 0.7 and share[3][1] > 0.7
    assert blank.mean() < 0.25  # most of the city has coverage


def test_measurements_are_deterministic_per_seed(city, measurements):
    pd.testing.assert_frame_equal(measurements, demo.generate_measurements(city, N_MEASUREMENTS))
    other = demo.generate_measurements(city, 100, seed=2)
    assert not other["latitude"].equals(measurements["latitude"].iloc[:100])


def test_measurement_csv_layout(tmp_path, measurements):
    path = demo.write_measurements_csv(measurements.iloc[:500], tmp_path / "m.csv")

    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(demo.MEASUREMENT_COLUMNS)
    assert len(lines) == 501
    assert '"' not in path.read_text()
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert set(back["no_service"]) <= {"true", "false"}
    assert (back.loc[back["no_service"] == "true", "signal_dbm"] == "").all()
    assert (back["download_mbps"] == "").mean() > 0.5
    assert back["timestamp"].tolist() == measurements["timestamp"].iloc[:500].tolist()
    assert re.fullmatch(r"-?\d+\.\d+", back["latitude"].iloc[0])


# --- facilities --------------------------------------------------------------------------------

def test_facilities_types_and_counts(city, facilities):
    assert list(facilities.columns) == ["type", "nama", "status", "operator", "capacity",
                                        "geometry"]
    assert facilities.crs.to_epsg() == 4326
    counts = facilities["type"].value_counts()
    assert set(counts.index) <= set(demo.FACILITY_TYPES)
    assert counts["kantor_lurah"] == 35 and counts["puskesmas"] == 7
    assert counts["tpa"] == 1 and counts["tps3r"] == 2
    assert 10 <= counts["tps"] <= 20 and 3 <= counts["bank_sampah"] <= 8
    assert 15 <= counts["sekolah"] <= 25
    assert set(facilities["status"]) == {"existing", "planned"}
    assert (facilities.loc[facilities["status"] == "planned", "type"] == "bts").all()
    assert (facilities["status"] == "planned").sum() == 2


def test_facilities_capacity_and_operator_only_where_they_apply(facilities):
    waste = facilities["type"].isin(["tps", "tps3r", "tpst", "tpa", "bank_sampah"])
    assert (facilities.loc[waste, "capacity"] > 0).all()
    assert facilities.loc[~waste, "capacity"].isna().all()
    bts = facilities["type"] == "bts"
    assert facilities.loc[bts, "operator"].isin(demo.OPERATORS).all()
    assert facilities.loc[~bts, "operator"].isna().all()


def test_facilities_use_the_same_towers_as_the_measurements(city, facilities):
    towers = demo.generate_towers(city)
    bts = facilities[facilities["type"] == "bts"]
    assert bts["nama"].tolist() == towers["nama"].tolist()
    assert bts.geometry.reset_index(drop=True).geom_equals_exact(towers.geometry, 0).all()


def test_facilities_lie_in_the_city_and_kantor_lurah_in_their_kelurahan(city, facilities):
    codes = assign_kelurahan(facilities.geometry.x, facilities.geometry.y, city, tolerance_m=0)
    assert all(code is not None for code in codes)
    office = facilities["type"] == "kantor_lurah"
    names = city.set_index("kode")["nama"]
    assert (("Kantor Lurah " + names.loc[codes[office]]).tolist()
            == facilities.loc[office, "nama"].tolist())
    tpa = facilities[facilities["type"] == "tpa"].to_crs(demo.CITY_CRS).geometry.iloc[0]
    edge = shapely.union_all(np.asarray(city.to_crs(demo.CITY_CRS).geometry.array)).boundary
    assert tpa.distance(edge) < 2500


# --- population --------------------------------------------------------------------------------

def test_population_raster(tmp_path, city, metric):
    path = demo.generate_population(city, tmp_path / "pop.tif")

    with rasterio.open(path) as raster:
        values = raster.read(1)
        assert raster.crs.to_epsg() == 32647
        assert raster.res == (100.0, 100.0)
        assert raster.dtypes[0] == "float32"
        assert np.isnan(raster.nodata)
        rows, cols = np.indices(values.shape)
        x, y = raster.xy(rows.ravel(), cols.ravel())
    inside = shapely.contains_xy(shapely.union_all(np.asarray(metric.geometry.array)), x, y)
    assert np.isnan(values.ravel()[~inside]).all()
    assert not np.isnan(values.ravel()[inside]).any()
    assert np.nansum(values) == pytest.approx(demo.POPULATION_TOTAL, rel=1e-3)
    assert (values.ravel()[inside] >= 0).all()
    # denser downtown (the small kelurahan) than at the edge (the large ones)
    small, large = metric.nsmallest(5, "area_km2"), metric.nlargest(5, "area_km2")
    density = {}
    for name, part in (("small", small), ("large", large)):
        mask = shapely.contains_xy(shapely.union_all(np.asarray(part.geometry.array)), x, y)
        density[name] = np.nanmean(values.ravel()[mask])
    assert density["small"] > 5 * density["large"]


# --- files -------------------------------------------------------------------------------------

def _script():
    spec = importlib.util.spec_from_file_location("make_demo_city",
                                                  ROOT / "scripts" / "make_demo_city.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_writes_byte_identical_files_for_a_seed(tmp_path, capsys):
    script = _script()
    for run in ("first", "second"):
        assert script.main(["--out-dir", str(tmp_path / run), "--measurements", "2000"]) == 0
    names = ["boundaries/demo_99.71_kelurahan.geojson", "demo/facilities.geojson",
             "demo/measurements.csv", "demo/population_100m.tif"]
    for name in names:
        first, second = (tmp_path / run / name for run in ("first", "second"))
        assert first.read_bytes() == second.read_bytes(), name
    assert "demo_99.71_kelurahan.geojson" in capsys.readouterr().out
    assert len((tmp_path / "first" / names[2]).read_text().splitlines()) == 2001


def test_demo_boundary_file_reads_back_through_the_importer(tmp_path, city):
    path = demo.write_demo_city(tmp_path, n_measurements=10)["boundaries"]
    text = path.read_text()
    assert re.search(r"\d\.\d{7,}", text.split('"features"')[1].replace('"area_km2"', "")) is None

    result = read_boundaries(path, city_code="99.71")

    assert result.notes == []  # valid, no overlaps, no gaps, codes as text
    assert result.kelurahan["kode"].tolist() == city["kode"].tolist()
    assert result.kelurahan.geometry.geom_equals_exact(city.geometry, tolerance=1e-9).all()
    facilities = gpd.read_file(tmp_path / "demo" / "facilities.geojson")
    assert len(facilities) == len(demo.generate_facilities(city))


def test_committed_demo_boundaries_match_the_generator(city):
    path = ROOT / "data" / "boundaries" / "demo_99.71_kelurahan.geojson"
    if not path.exists():
        pytest.skip("run scripts/make_demo_city.py to write the demo data")
    committed = read_boundaries(path).kelurahan
    assert committed["kode"].tolist() == city["kode"].tolist()
    assert committed.geometry.geom_equals_exact(city.geometry, tolerance=1e-9).all()
