"""Exclusions, violations and scores with hand-computed distances in UTM zone 47N (Dumai)."""
from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

import geopandas as gpd
import pyproj
import rasterio
import shapely

from geo.settings import siting_rules_from_config
from geo.suitability import (
    check_sites,
    excluded_land,
    score_raster,
    suitable_land,
    write_score_geotiff,
)

UTM = "EPSG:32647"
X0, Y0 = 600_000.0, 180_000.0
CITY = shapely.box(X0, Y0, X0 + 4000, Y0 + 4000)


def _layer(*geometries, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geometries), crs=UTM)


def _river() -> gpd.GeoDataFrame:
    return _layer(shapely.LineString([(X0, Y0 + 2000), (X0 + 4000, Y0 + 2000)]))


def _texts(found) -> list[list[str]]:
    return [[v.text for v in site] for site in found]


def test_candidate_230_m_from_a_river_breaks_the_500_m_landfill_rule():
    site = shapely.Point(X0 + 1000, Y0 + 2230)
    found = check_sites(np.array([site]), {"sungai": _river()}, siting_rules_from_config("tpa"))
    assert _texts(found) == [["sungai: 230 m < 500 m"]]
    violation = found[0][0].as_dict()
    assert violation["rule"] == "sungai"
    assert violation["distance_m"] == pytest.approx(230.0)
    assert violation["required_m"] == 500.0


def test_plot_distance_is_measured_from_its_edge_and_overrides_apply():
    plot = shapely.box(X0 + 1000, Y0 + 2100, X0 + 1050, Y0 + 2150)
    rules = siting_rules_from_config("tpa", {"exclusions_m": {"sungai": 120}})
    assert _texts(check_sites(np.array([plot]), {"sungai": _river()}, rules)) == [
        ["sungai: 100 m < 120 m", "luas: 2500 m2 < 20000 m2"]]
    assert check_sites(np.array([plot]), {"sungai": _river()},
                       siting_rules_from_config("tpst")) == [[]]


def test_airport_clearance_depends_on_its_class():
    airports = _layer(shapely.Point(X0, Y0), shapely.Point(X0 + 20_000, Y0),
                      shapely.Point(X0 + 40_000, Y0), jenis=["turbojet", "lainnya", None])
    sites = np.array([shapely.Point(X0 + 2000, Y0), shapely.Point(X0 + 22_000, Y0),
                      shapely.Point(X0 + 21_000, Y0), shapely.Point(X0 + 42_500, Y0)])
    found = check_sites(sites, {"bandara": airports}, siting_rules_from_config("tpa"))
    assert _texts(found) == [["bandara_turbojet: 2000 m < 3000 m"], [],
                             ["bandara_lainnya: 1000 m < 1500 m"],
                             ["bandara_turbojet: 2500 m < 3000 m"]]


def test_inside_a_zero_buffer_layer_and_too_far_from_road():
    layers = {"kawasan_lindung": _layer(shapely.box(X0, Y0, X0 + 500, Y0 + 500)),
              "jalan": _layer(shapely.LineString([(X0, Y0 + 3000), (X0 + 4000, Y0 + 3000)]))}
    sites = np.array([shapely.Point(X0 + 100, Y0 + 2380), shapely.Point(X0 + 100, Y0 + 100)])
    found = check_sites(sites, layers, siting_rules_from_config("tpst"))
    assert _texts(found) == [["jalan: 620 m > 300 m"],
                             ["kawasan_lindung: di dalam (0 m)", "jalan: 2900 m > 300 m"]]


def test_slope_rule_reads_the_steepest_pixel_under_the_site():
    grid = np.zeros((40, 40))
    grid[:, 20:] = 25.0
    slope = (grid, Affine(100.0, 0, X0, 0, -100.0, Y0 + 4000))
    sites = np.array([shapely.Point(X0 + 1050, Y0 + 1050), shapely.Point(X0 + 2550, Y0 + 1050)])
    found = check_sites(sites, {}, siting_rules_from_config("tpst"), slope=slope)
    assert _texts(found) == [[], ["lereng: 25.0 % > 15 %"]]
    excluded = excluded_land(CITY, {}, siting_rules_from_config("tpst"), slope=slope)
    assert excluded["rules"].tolist() == [["lereng"]]
    assert excluded["area_m2"].sum() == pytest.approx(2000 * 4000)


def test_overlapping_exclusions_list_every_rule():
    flood = _layer(shapely.box(X0, Y0 + 1000, X0 + 1000, Y0 + 3000))
    excluded = excluded_land(CITY, {"sungai": _river(), "rawan_banjir": flood},
                             siting_rules_from_config("tpst"))
    areas = {tuple(r): a for r, a in zip(excluded["rules"], excluded["area_m2"], strict=True)}
    assert areas == pytest.approx({("rawan_banjir", "sungai"): 1000 * 100,
                                   ("rawan_banjir",): 1000 * 1900,
                                   ("sungai",): 3000 * 100})
    suitable = suitable_land(CITY, excluded, siting_rules_from_config("tpst"))
    assert suitable["area_m2"].sum() == pytest.approx(16e6 - 2e6 - 3e5)


def test_suitable_land_drops_parts_below_the_minimum_plot():
    water = _layer(shapely.box(X0 + 30, Y0, X0 + 4000, Y0 + 4000))
    rules = siting_rules_from_config("tpst", {"min_plot_m2": 130_000})
    excluded = excluded_land(CITY, {"badan_air": water}, rules)
    assert len(suitable_land(CITY, excluded, rules)) == 0
    rules = siting_rules_from_config("tpst", {"min_plot_m2": 110_000})
    assert suitable_land(CITY, excluded, rules)["area_m2"].tolist() == pytest.approx([120_000])


def test_score_is_highest_near_the_road_and_the_waste_centre(tmp_path):
    roads = _layer(shapely.LineString([(X0, Y0 + 50), (X0 + 4000, Y0 + 50)]))
    score = score_raster(CITY, pyproj.CRS(UTM), {"jalan": roads},
                         siting_rules_from_config("tpst"), pixel_m=100.0,
                         centre=shapely.Point(X0 + 50, Y0 + 50))
    assert score.criteria == ("jalan", "pusat_sampah")
    assert score.data.shape == (40, 40)
    assert score.data[-1, 0] == pytest.approx(1.0)
    # 1,000 m from the road, (50, 1050) from the centre: weights 0.3 and 0.4 rescaled to 1.
    expected = (0.3 * 0.0 + 0.4 * (1 - np.hypot(0, 1000) / 5000)) / 0.7
    assert score.data[-11, 0] == pytest.approx(expected)
    path = write_score_geotiff(score, tmp_path / "skor.tif")
    with rasterio.open(path) as raster:
        assert raster.crs.to_epsg() == 32647
        assert raster.read(1)[-1, 0] == pytest.approx(1.0)
        assert raster.tags(1)["criteria"] == "jalan,pusat_sampah"


def test_rule_overrides_are_validated_all_at_once():
    with pytest.raises(ValueError) as error:
        siting_rules_from_config("tpst", {"exclusions_m": {"laut": 5}, "road_max_m": -1,
                                          "colour": "red"})
    for fragment in ("unknown key 'colour'", "unknown name 'laut'", "road_max_m -1"):
        assert fragment in str(error.value)
