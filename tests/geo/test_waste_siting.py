"""The waste-processing building siting on a small synthetic city with every layer kind."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from affine import Affine

import geopandas as gpd
import rasterio
import shapely

from geo.errors import SitingError
from geo.road_network import road_distances
from geo.terrain import plane_dem
from geo.waste_siting import site_waste_facility

UTM = "EPSG:32647"
X0, Y0 = 600_000.0, 180_000.0  # Kota Dumai, UTM 47N


def _frame(geometries, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geometries), crs=UTM).to_crs("EPSG:4326")


def _kelurahan() -> gpd.GeoDataFrame:
    return _frame([shapely.box(X0, Y0, X0 + 4000, Y0 + 4000),
                   shapely.box(X0 + 4000, Y0, X0 + 8000, Y0 + 4000)],
                  kode=["1472011001", "1472011002"], nama=["Barat", "Timur"],
                  kecamatan=["Dumai Barat", "Dumai Barat"], penduduk=[20_000, 10_000])


def _layers(with_roads: bool = True) -> dict[str, gpd.GeoDataFrame]:
    layers = {
        "sungai": _frame([shapely.LineString([(X0, Y0 + 2000), (X0 + 8000, Y0 + 2000)])]),
        "badan_air": _frame([shapely.box(X0 + 200, Y0 + 200, X0 + 700, Y0 + 700)]),
        "kawasan_lindung": _frame([shapely.box(X0 + 7000, Y0 + 3000, X0 + 8000, Y0 + 4000)]),
        "rawan_banjir": _frame([shapely.box(X0 + 1500, Y0 + 1500, X0 + 3000, Y0 + 2500)]),
        "bandara": _frame([shapely.Point(X0 + 9000, Y0 - 1000)], jenis=["lainnya"]),
        "permukiman": _frame([shapely.box(X0 + 500, Y0 + 2500, X0 + 1500, Y0 + 3500)]),
        "lahan": _frame([shapely.box(X0 + 5000, Y0 + 500, X0 + 5100, Y0 + 600)]),
        "sumber_air": _frame([shapely.Point(X0 + 6000, Y0 + 3000)]),
    }
    if with_roads:
        layers["jalan"] = _frame([
            shapely.LineString([(X0, Y0 + 1000), (X0 + 8000, Y0 + 1000)]),
            shapely.LineString([(X0, Y0 + 3000), (X0 + 8000, Y0 + 3000)]),
            shapely.LineString([(X0 + 4000, Y0), (X0 + 4000, Y0 + 4000)])])
    return layers


def _facilities() -> gpd.GeoDataFrame:
    return _frame([shapely.Point(X0 + 1000, Y0 + 1000), shapely.Point(X0 + 3000, Y0 + 3000)],
                  type=["tps3r", "sekolah"], status=["existing", "existing"],
                  capacity=[5.0, None], nama=["TPS3R Barat", "SD 1"])


def _candidates() -> gpd.GeoDataFrame:
    points = [(X0 + 1000, Y0 + 3100), (X0 + 3500, Y0 + 1100), (X0 + 5000, Y0 + 900),
              (X0 + 6800, Y0 + 3050), (X0 + 2500, Y0 + 2100), (X0 + 6030, Y0 + 2950)]
    return _frame([shapely.Point(p) for p in points], id=["A", "B", "C", "D", "E", "F"])


def _demand_points() -> np.ndarray:
    return shapely.point_on_surface(_kelurahan().to_crs(UTM).geometry.to_numpy())


def test_road_mclp_run_checks_candidates_and_matches_brute_force():
    result = site_waste_facility(_kelurahan(), _layers(), facilities=_facilities(),
                                 candidates=_candidates(), model="mclp", sites=2,
                                 service_m=3000.0)
    candidates = result.candidates.set_index("id")
    assert candidates["eligible"].to_dict() == {"A": True, "B": True, "C": True, "D": True,
                                                "E": False, "F": False}
    assert [v["text"] for v in candidates.at["E", "violations"]] == [
        "rawan_banjir: di dalam (0 m)", "jalan: 900 m > 300 m"]
    assert [v["text"] for v in candidates.at["F", "violations"]] == ["sumber_air: 58 m < 100 m"]
    assert result.distance == "road"
    assert result.demand_total == pytest.approx(30_000 * 0.7 / 1000)
    # Brute force over every pair of eligible candidates, the fixed TPS3R kept open.
    sites = np.append(_candidates().to_crs(UTM).geometry.to_numpy()[:4],
                      shapely.Point(X0 + 1000, Y0 + 1000))
    cost = road_distances(_layers()["jalan"].to_crs(UTM).geometry.to_numpy(),
                          _demand_points(), sites)
    weights = np.array([14.0, 7.0])
    best = max(weights[(cost[:, list(pair) + [4]] <= 3000.0).any(axis=1)].sum()
               for pair in itertools.combinations(range(4), 2))
    assert result.objective == pytest.approx(best)
    assert result.demand_covered == pytest.approx(best)
    assert len(result.sites) == 2 and set(result.sites["id"]) <= set("ABCD")
    assert set(result.sites["kelurahan"]) <= {"Barat", "Timur"}


def test_violation_is_exact_for_a_candidate_near_a_river():
    result = site_waste_facility(_kelurahan(), _layers(), candidates=_candidates(),
                                 rules="tpa", model="mclp", sites=1)
    a = result.candidates.set_index("id").at["A", "violations"]
    assert {v["rule"]: v["text"] for v in a}["permukiman"] == "permukiman: 0 m < 1000 m"
    e = {v["rule"]: v for v in result.candidates.set_index("id").at["E", "violations"]}
    assert e["sungai"]["distance_m"] == pytest.approx(100.0)
    assert e["sungai"]["text"] == "sungai: 100 m < 500 m"


def test_straight_distance_without_roads_and_generated_plots():
    result = site_waste_facility(_kelurahan(), _layers(with_roads=False), sites=1,
                                 model="pmedian")
    assert result.distance == "straight"
    assert result.status == "optimal"
    assert result.candidates["eligible"].all()
    assert result.candidates["id"].str.startswith("petak-").all()
    assert result.sites.at[0, "tonnes_day"] == pytest.approx(21.0)
    plots = gpd.GeoSeries.from_xy(result.candidates["longitude"], result.candidates["latitude"],
                                  crs="EPSG:4326").to_crs(UTM)
    barat, timur = _demand_points()
    best = min(14.0 * barat.distance(p) + 7.0 * timur.distance(p) for p in plots)
    assert result.objective == pytest.approx(best, rel=1e-6)


def test_population_raster_demand_and_json_shape(tmp_path):
    raster = tmp_path / "penduduk.tif"
    grid = np.zeros((8, 16), dtype="float32")
    grid[2, 3] = 1000.0
    grid[5, 12] = 3000.0
    with rasterio.open(raster, "w", driver="GTiff", width=16, height=8, count=1,
                       dtype="float32", crs=UTM,
                       transform=Affine(500.0, 0, X0, 0, -500.0, Y0 + 4000)) as out:
        out.write(grid, 1)
    result = site_waste_facility(_kelurahan(), _layers(), population=raster,
                                 candidates=_candidates(), model="lscp", sites=3,
                                 service_m=4000.0)
    assert result.demand_total == pytest.approx(4000 * 0.7 / 1000)
    assert result.demand_covered == pytest.approx(result.demand_total)
    data = json.loads(json.dumps(result.to_dict()))
    for key in ("model", "status", "objective", "distance", "sites", "candidates",
                "demand_total", "demand_covered", "sensitivity", "exclusions", "rules"):
        assert key in data
    assert data["exclusions"]["type"] == "FeatureCollection"
    rules = {tuple(f["properties"]["rules"]) for f in data["exclusions"]["features"]}
    assert ("badan_air", "jalan") in rules
    assert {(r["p"], r["service_m"]) for r in data["sensitivity"]} == {
        (p, s) for p in range(1, 6) for s in (2000.0, 4000.0, 8000.0)}


def _two_kelurahan_raster(path):
    """Barat: 1,000 people in the 1 km cell centred (1500, 2500) and 3,000 in the one centred
    (500, 500); Timur: 2,000 people in the cell centred (6500, 1500) (metres from X0, Y0)."""
    grid = np.zeros((8, 16), dtype="float32")
    grid[2, 3] = 1000.0
    grid[6, 1] = 3000.0
    grid[5, 12] = 2000.0
    with rasterio.open(path, "w", driver="GTiff", width=16, height=8, count=1,
                       dtype="float32", crs=UTM,
                       transform=Affine(500.0, 0, X0, 0, -500.0, Y0 + 4000)) as out:
        out.write(grid, 1)
    return path


def _unserved_demand(raster, model="pmedian"):
    """Run with a 1 m service distance, so every demand point is listed as unserved."""
    result = site_waste_facility(_kelurahan(), _layers(), population=raster,
                                 candidates=_candidates(), model=model, sites=1,
                                 service_m=1.0)
    unserved = gpd.GeoDataFrame(
        result.unserved, crs="EPSG:4326",
        geometry=gpd.points_from_xy(result.unserved["longitude"], result.unserved["latitude"]))
    return result, unserved.to_crs(UTM).sort_values("population")


def test_raster_demand_is_aggregated_to_kelurahan_at_population_weighted_centres(tmp_path):
    result, unserved = _unserved_demand(_two_kelurahan_raster(tmp_path / "penduduk.tif"))
    data = result.to_dict()
    assert (data["demand_level"], data["demand_points"]) == ("kelurahan", 2)
    assert unserved["population"].tolist() == pytest.approx([2000.0, 4000.0])
    assert unserved["tonnes_day"].tolist() == pytest.approx([1.4, 2.8])
    timur, barat = unserved.geometry.tolist()
    assert (timur.x - X0, timur.y - Y0) == pytest.approx((6500.0, 1500.0), abs=0.01)
    # (1500 x 1000 + 500 x 3000) / 4000 = 750; (2500 x 1000 + 500 x 3000) / 4000 = 1000
    assert (barat.x - X0, barat.y - Y0) == pytest.approx((750.0, 1000.0), abs=0.01)


@pytest.mark.parametrize("model", ["mclp", "pmedian-cell"])
def test_cell_demand_level_keeps_one_point_per_populated_cell(tmp_path, monkeypatch, model):
    if model == "pmedian-cell":  # the p-median at the setting's other level
        monkeypatch.setattr("geo.settings.WASTE_DEMAND_AGGREGATION", "cell")
    result, unserved = _unserved_demand(_two_kelurahan_raster(tmp_path / "penduduk.tif"),
                                        "mclp" if model == "mclp" else "pmedian")
    assert (result.demand_level, result.demand_points) == ("cell", 3)
    assert unserved["tonnes_day"].tolist() == pytest.approx([0.7, 1.4, 2.1])


def test_candidates_outside_the_city_are_refused_with_their_ids():
    outside = _frame([shapely.Point(X0 - 5000, Y0)], id=["Z"])
    with pytest.raises(SitingError, match=r"1 calon lokasi berada di luar kota.*\(Z\)"):
        site_waste_facility(_kelurahan(), _layers(), candidates=outside)


def test_no_eligible_candidate_says_what_to_change():
    bad = _candidates()[_candidates()["id"].isin(["E", "F"])]
    with pytest.raises(SitingError, match="Tidak ada calon lokasi yang memenuhi syarat") as error:
        site_waste_facility(_kelurahan(), _layers(), candidates=bad)
    assert {p.value for p in error.value.problems} == {"E", "F"}


def test_unknown_model_and_bad_numbers_are_refused():
    with pytest.raises(SitingError, match="Model 'gravity' tidak dikenal"):
        site_waste_facility(_kelurahan(), _layers(), model="gravity")
    with pytest.raises(SitingError, match="service_m harus lebih dari 0"):
        site_waste_facility(_kelurahan(), _layers(), service_m=-5)


def test_dem_slope_excludes_land_steeper_than_the_rule(tmp_path):
    dem = plane_dem(tmp_path / "dem.tif", crs=UTM, origin=(X0 - 1000, Y0 - 1000), size=100,
                    resolution_m=100.0, rise_x=0.1)
    flat_enough = site_waste_facility(_kelurahan(), _layers(), candidates=_candidates(),
                                      slope=dem, model="mclp")
    assert "lereng" not in {v["rule"] for vs in flat_enough.candidates["violations"] for v in vs}
    with pytest.raises(SitingError, match="Tidak ada calon lokasi yang memenuhi") as error:
        site_waste_facility(_kelurahan(), _layers(), candidates=_candidates(), slope=dem,
                            model="mclp", rule_overrides={"max_slope_pct": 5})
    assert error.value.problems[0].value == "A"
    assert error.value.problems[0].reason == "lereng: 10.0 % > 5 %"
    with pytest.raises(SitingError, match="Tidak ada lahan yang cocok untuk petak 2000 m2"):
        site_waste_facility(_kelurahan(), _layers(), slope=dem,
                            rule_overrides={"max_slope_pct": 5})


def test_capacity_below_demand_serves_the_nearest_waste_that_fits():
    result = site_waste_facility(_kelurahan(), _layers(with_roads=False), sites=1,
                                 model="pmedian", capacity_t_day=10.0)
    assert result.status == "optimal"
    assert result.sites["tonnes_day"].tolist() == pytest.approx([7.0])
    assert result.unserved["tonnes_day"].tolist() == pytest.approx([14.0])
    in_model = result.candidates[result.candidates["in_model"]]
    assert len(in_model) == min(30, int(result.candidates["eligible"].sum()))
    assert in_model["score"].min() >= result.candidates[~result.candidates["in_model"]
                                                        & result.candidates["eligible"]
                                                        ]["score"].max()
    plots = gpd.GeoSeries.from_xy(in_model["longitude"], in_model["latitude"],
                                  crs="EPSG:4326").to_crs(UTM)
    timur = _demand_points()[1]
    assert result.objective == pytest.approx(7.0 * min(timur.distance(p) for p in plots),
                                             rel=1e-6)
