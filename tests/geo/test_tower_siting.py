"""Tower siting on hand-built cases near Dumai (UTM 47N), optima checked by brute force."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import h3
import shapely

from geo import settings
from geo.errors import InputFileError, SitingError
from geo.tower_siting import (
    check_candidates,
    facility_candidates,
    grid_candidates,
    plot_candidates,
    read_candidate_file,
    site_towers,
)

LON0, LAT0 = 101.45, 1.65
KODE = "14.72.01.1001"
METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON = 111_320.0 * math.cos(math.radians(LAT0))
T0 = 1_700_000_000  # 2023-11-14, epoch seconds


def lonlat(dx_m: float, dy_m: float) -> tuple[float, float]:
    """Longitude and latitude of a point dx_m east and dy_m north of the origin."""
    return LON0 + dx_m / METRES_PER_DEGREE_LON, LAT0 + dy_m / METRES_PER_DEGREE_LAT


def point(dx_m: float, dy_m: float) -> shapely.Point:
    return shapely.Point(*lonlat(dx_m, dy_m))


def square(cx_m: float, cy_m: float, half_m: float) -> shapely.Polygon:
    return shapely.Polygon([lonlat(cx_m + sx * half_m, cy_m + sy * half_m)
                            for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


@pytest.fixture
def kelurahan() -> gpd.GeoDataFrame:
    """One 20 x 20 km kelurahan centred on the origin."""
    return gpd.GeoDataFrame({"kode": [KODE], "nama": ["Sungai Uji"], "kecamatan": ["Uji Barat"]},
                            geometry=[square(0, 0, 10_000)], crs="EPSG:4326")


def cells_frame(spec: list[tuple[float, float, str]], *, operator: str = "any"
                ) -> pd.DataFrame:
    """An analysis cell table: one cell at each (dx, dy) offset with the given status."""
    ids = [h3.str_to_int(h3.latlng_to_cell(*reversed(lonlat(dx, dy)), 9)) for dx, dy, _ in spec]
    assert len(set(ids)) == len(ids), "test cells must be distinct"
    return pd.DataFrame({
        "h3_cell": np.array(ids, dtype=np.uint64).view(np.int64),
        "h3": [h3.int_to_str(i) for i in ids], "operator": operator,
        "samples": 5, "first_at": T0, "last_at": T0 + 86_400,
        "status": [s for _, _, s in spec], "kelurahan_kode": KODE, "area_km2": 0.1,
    })


def candidates_frame(offsets: dict[str, tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": list(offsets), "source": "upload"},
                            geometry=[point(*xy) for xy in offsets.values()], crs="EPSG:4326")


def towers_frame(offsets: dict[int, tuple[float, float]], operator: str | None = None
                 ) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": list(offsets), "type": "bts",
                             "nama": [f"BTS {i}" for i in offsets], "operator": operator},
                            geometry=[point(*xy) for xy in offsets.values()], crs="EPSG:4326")


def centre_xy(cells: pd.DataFrame) -> np.ndarray:
    """Cell centres in metres from the origin (the same local approximation as the offsets)."""
    lat_lng = np.array([h3.cell_to_latlng(c) for c in cells["h3"]])
    return np.column_stack([(lat_lng[:, 1] - LON0) * METRES_PER_DEGREE_LON,
                            (lat_lng[:, 0] - LAT0) * METRES_PER_DEGREE_LAT])


def coverage_sets(cells: pd.DataFrame, sites: dict[str, tuple[float, float]], radius: float
                  ) -> dict[str, frozenset[int]]:
    xy = centre_xy(cells)
    return {name: frozenset(np.flatnonzero(np.hypot(*(xy - np.array(at)).T) <= radius))
            for name, at in sites.items()}


# --- candidates --------------------------------------------------------------------------------

def test_candidate_in_a_lake_is_refused_with_the_reason(kelurahan):
    lake = gpd.GeoDataFrame(geometry=[square(2_000, 0, 300)], crs="EPSG:4326")
    river = gpd.GeoDataFrame(geometry=[shapely.LineString([lonlat(-985, -500),
                                                           lonlat(-985, 500)])],
                             crs="EPSG:4326")
    candidates = candidates_frame({"dry": (0, 0), "lake": (2_000, 0), "bank": (-1_000, 0),
                                   "far": (15_000, 0)})
    checked = check_candidates(candidates, kelurahan,
                               layers={"badan_air": lake, "sungai": river},
                               buffers_m={"badan_air": 0.0, "sungai": 10.0})
    result = dict(zip(checked["id"], checked["violations"], strict=True))
    assert result["dry"] == []
    assert result["lake"] == ["badan_air: 0 m"]
    # the river runs 15 m east of the mast, 5 m from the edge of its 20 x 20 m plot
    assert result["bank"] == ["sungai: 5 m < 10 m"]
    assert len(result["far"]) == 1 and result["far"][0].startswith("batas_kota: ")
    assert int(result["far"][0].split()[1]) == pytest.approx(5_000, abs=60)
    assert checked["eligible"].tolist() == [True, False, False, False]


def test_plot_too_small_for_the_mast_square_is_refused(kelurahan):
    lahan = gpd.GeoDataFrame({"id": ["P-big", "P-small"]},
                             geometry=[square(0, 0, 30), square(500, 0, 8)], crs="EPSG:4326")
    checked = check_candidates(plot_candidates(lahan), kelurahan, layers={})
    assert checked["id"].tolist() == ["P-big", "P-small"]
    assert checked["violations"].tolist() == [[], [f"petak: {settings.TOWER_PLOT_SIDE_M:g} x "
                                                   f"{settings.TOWER_PLOT_SIDE_M:g} m"]]
    mast = checked.geometry.iloc[0]  # the pole of inaccessibility of a square: its centre
    assert (mast.x, mast.y) == pytest.approx(lonlat(0, 0), abs=1e-6)


def test_grid_and_facility_candidates(kelurahan):
    grid = grid_candidates(kelurahan, spacing_m=5_000)
    assert len(grid) == 16  # a 20 km square holds 4 x 4 points 5 km apart
    assert grid["id"].iloc[0] == "grid-1" and set(grid["source"]) == {"grid"}
    facilities = gpd.GeoDataFrame({"id": [7, 8, 9], "type": ["sekolah", "bts", "kantor_lurah"]},
                                  geometry=[point(0, 0), point(1, 1), point(2, 2)],
                                  crs="EPSG:4326")
    hosts = facility_candidates(facilities)
    assert hosts["id"].tolist() == ["sekolah-7", "kantor_lurah-9"]


def test_uploaded_csv_keeps_ids_and_reports_bad_rows(tmp_path):
    good = tmp_path / "kandidat.csv"
    good.write_text(f"id,lat,lon\nA-1,{LAT0},{LON0}\n,{LAT0},{LON0 + 0.01}\n")
    frame = read_candidate_file(good)
    assert frame["id"].tolist() == ["A-1", "baris-3"]
    bad = tmp_path / "salah.csv"
    bad.write_text(f"id,lat,lon\nA-1,{LAT0},{LON0}\nA-2,utara,{LON0}\n")
    with pytest.raises(InputFileError) as error:
        read_candidate_file(bad)
    assert [(p.row, p.value) for p in error.value.problems] == [(3, f"utara, {LON0}")]


# --- models ------------------------------------------------------------------------------------

SPEC = [(0, 0, "blank"), (900, 0, "blank"), (2_600, 0, "blank"), (3_400, 200, "blank"),
        (0, 2_500, "blank"), (1_500, 2_600, "blank"), (5_000, 5_000, "weak")]
SITES = {"a": (450, 0), "b": (3_000, 100), "c": (750, 2_550), "d": (1_500, 1_000),
         "e": (2_000, 2_000), "f": (-300, 1_300)}


def test_lscp_uses_the_fewest_sites_found_by_brute_force(kelurahan):
    cells = cells_frame(SPEC)
    radius = 1_400.0
    result = site_towers(cells, candidates_frame(SITES), kelurahan, model="lscp",
                         radius_m=radius)
    reach = coverage_sets(cells, SITES, radius)
    demand = set(np.flatnonzero(cells["status"] == "blank"))
    fewest = next(k for k in range(1, len(SITES) + 1)
                  if any(set().union(*(reach[s] for s in subset)) >= demand
                         for subset in itertools.combinations(SITES, k)))
    chosen = result.sites["id"].tolist()
    assert result.status == "optimal"
    assert len(chosen) == fewest == result.objective
    assert set().union(*(reach[s] for s in chosen)) >= demand
    assert result.demand_total == len(demand) and result.demand_covered == len(demand)
    assert result.sites["cells"].sum() == len(demand)
    assert result.unreachable.empty


def test_mclp_serves_the_most_cells_found_by_brute_force(kelurahan):
    cells = cells_frame(SPEC)
    radius = 1_400.0
    result = site_towers(cells, candidates_frame(SITES), kelurahan, model="mclp",
                         radius_m=radius, max_sites=2)
    reach = coverage_sets(cells, SITES, radius)
    demand = set(np.flatnonzero(cells["status"] == "blank"))
    best = max(len(set().union(*(reach[s] for s in pair)) & demand)
               for pair in itertools.combinations(SITES, 2))
    chosen = result.sites["id"].tolist()
    assert len(chosen) == 2
    assert len(set().union(*(reach[s] for s in chosen)) & demand) == best
    assert result.demand_covered == best == result.sites["cells"].sum()
    served = result.sites["cells"].tolist()
    assert served == sorted(served, reverse=True)  # ranked by demand served


def test_measured_blank_beside_a_registered_tower_stays_demand_and_is_listed(kelurahan):
    cells = cells_frame([(0, 0, "blank"), (3_000, 0, "blank")])
    towers = towers_frame({41: (300, 400)})
    result = site_towers(cells, candidates_frame({"x": (100, 0)}), kelurahan,
                         radius_m=1_000.0, towers=towers)
    listed = result.registered_tower_measured_blank
    assert listed["h3"].tolist() == [cells["h3"].iloc[0]]
    assert listed["tower_id"].tolist() == [41]
    distance = np.hypot(*(centre_xy(cells)[0] - (300, 400)))
    assert listed["distance_m"].iloc[0] == pytest.approx(distance, abs=5)
    assert result.sites["id"].tolist() == ["x"]  # the tower does not serve the measured cell
    assert result.served_by_existing == 0
    assert result.unreachable["h3"].tolist() == [cells["h3"].iloc[1]]
    assert (result.demand_total, result.demand_covered) == (2, 1)


def test_weak_cells_near_an_existing_tower_count_as_served(kelurahan):
    cells = cells_frame([(0, 0, "weak"), (200, 300, "weak"), (4_000, 0, "weak"),
                         (4_000, 4_000, "blank")])
    towers = towers_frame({5: (100, 100)})
    candidates = candidates_frame({"near-tower": (0, 200), "east": (4_000, 200),
                                   "north-east": (4_000, 3_800)})
    result = site_towers(cells, candidates, kelurahan, radius_m=1_000.0, towers=towers,
                         include=("weak",))
    assert sorted(result.sites["id"]) == ["east", "north-east"]
    assert (result.demand_total, result.demand_covered, result.served_by_existing) == (4, 4, 2)
    assert result.registered_tower_measured_blank.empty
    without_weak = site_towers(cells, candidates, kelurahan, radius_m=1_000.0, towers=towers)
    assert without_weak.sites["id"].tolist() == ["north-east"]
    assert without_weak.demand_total == 1


def test_towers_of_another_operator_do_not_serve(kelurahan):
    cells = cells_frame([(0, 0, "weak")], operator="Telkomsel")
    towers = towers_frame({5: (100, 100)}, operator="Indosat")
    result = site_towers(cells, candidates_frame({"x": (0, 300)}), kelurahan,
                         radius_m=1_000.0, towers=towers, include=("weak",))
    assert result.sites["id"].tolist() == ["x"] and result.served_by_existing == 0


def test_unreachable_cells_are_listed_and_left_out_of_lscp(kelurahan):
    cells = cells_frame([(0, 0, "blank"), (8_000, -8_000, "blank")])
    result = site_towers(cells, candidates_frame({"x": (0, 0)}), kelurahan, radius_m=2_000.0)
    assert result.status == "optimal" and result.sites["id"].tolist() == ["x"]
    assert result.unreachable["h3"].tolist() == [cells["h3"].iloc[1]]
    assert result.unreachable["status"].tolist() == ["blank"]


def test_no_eligible_candidate_says_what_to_change(kelurahan):
    lake = gpd.GeoDataFrame(geometry=[square(0, 0, 500)], crs="EPSG:4326")
    with pytest.raises(SitingError, match="Tidak ada calon lokasi yang memenuhi syarat") as error:
        site_towers(cells_frame([(0, 0, "blank")]), candidates_frame({"wet": (0, 0)}),
                    kelurahan, radius_m=2_000.0, layers={"badan_air": lake})
    assert [(p.value, p.reason) for p in error.value.problems] == [("wet", "badan_air: 0 m")]


def test_lscp_needing_more_sites_than_allowed_is_refused(kelurahan):
    cells = cells_frame([(0, 0, "blank"), (6_000, 0, "blank")])
    candidates = candidates_frame({"w": (0, 0), "e": (6_000, 0)})
    with pytest.raises(SitingError, match="perlu 2 lokasi baru, lebih dari 1 yang diizinkan"):
        site_towers(cells, candidates, kelurahan, radius_m=1_000.0, max_sites=1)


def test_site_evidence_and_kelurahan(kelurahan):
    cells = cells_frame([(0, 0, "blank"), (500, 0, "blank"), (9_000, 9_000, "blank")])
    cells.loc[1, ["first_at", "last_at", "samples"]] = [T0 - 86_400, T0 + 2 * 86_400, 4]
    measurements = pd.DataFrame({
        "h3_cell": cells["h3_cell"].iloc[[0, 0, 1, 1, 2]].to_numpy(),
        "measured_at": [T0, T0 - 10 * 86_400, T0 + 86_400, T0 + 2 * 86_400, T0],
        "operator": "Telkomsel", "upload_id": [3, 1, 4, 9, 7]})
    result = site_towers(cells, candidates_frame({"x": (250, 0), "y": (9_000, 9_000)}),
                         kelurahan, radius_m=1_000.0, measurements=measurements)
    site = result.sites.set_index("id").loc["x"]
    assert (site["kelurahan"], site["kecamatan"], site["kode"]) == ("Sungai Uji", "Uji Barat",
                                                                    KODE)
    assert (site["cells"], site["blank_cells"], site["measurements"]) == (2, 2, 9)
    assert (site["first_measured"], site["last_measured"]) == (T0 - 86_400, T0 + 2 * 86_400)
    assert site["upload_ids"] == [3, 4, 9]  # upload 1 is older than the evidence window
    assert site["area_km2"] == pytest.approx(0.2)
    assert sorted(site["h3_cells"]) == sorted(cells["h3"].iloc[:2])


def test_population_weights_mclp(kelurahan, tmp_path):
    import rasterio

    cells = cells_frame([(0, 0, "blank"), (300, 0, "blank"), (5_000, 0, "blank")])
    raster = tmp_path / "penduduk.tif"
    west, north = lonlat(4_500, 500)
    data = np.zeros((10, 10), dtype="float32")
    data[:, :] = 50.0  # 5,000 people around the lone eastern cell, nobody around the others
    with rasterio.open(raster, "w", driver="GTiff", width=10, height=10, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=rasterio.Affine(0.001, 0, west, 0, -0.001, north)) as out:
        out.write(data, 1)
    result = site_towers(cells, candidates_frame({"west": (150, 0), "east": (5_000, 0)}),
                         kelurahan, model="mclp", max_sites=1, radius_m=1_000.0,
                         population_raster=raster)
    assert result.sites["id"].tolist() == ["east"]
    assert result.sites["population"].iloc[0] > 0


def test_to_dict_has_the_issue_keys(kelurahan):
    cells = cells_frame([(0, 0, "blank")])
    data = site_towers(cells, candidates_frame({"x": (0, 0)}), kelurahan,
                       technology="4G").to_dict()
    assert {"model", "status", "objective", "distance", "sites", "candidates", "demand_total",
            "demand_covered", "unreachable", "registered_tower_measured_blank"} <= set(data)
    assert data["distance"] == "straight"
    assert data["radius_m"] == settings.TOWER_RADIUS_M["4G"]
    assert data["candidates"] == [{"id": "x", "source": "upload",
                                   "latitude": pytest.approx(LAT0),
                                   "longitude": pytest.approx(LON0), "eligible": True,
                                   "violations": []}]
    assert data["sites"][0]["id"] == "x" and data["sites"][0]["kelurahan"] == "Sungai Uji"


def test_statuses_when_there_is_no_model_to_solve(kelurahan):
    lake = gpd.GeoDataFrame(geometry=[square(0, 0, 500)], crs="EPSG:4326")
    weak = cells_frame([(0, 0, "weak"), (200, 100, "weak")])
    served = site_towers(weak, candidates_frame({"wet": (0, 0)}), kelurahan, radius_m=1_000.0,
                         include=("weak",), towers=towers_frame({9: (100, 0)}),
                         layers={"badan_air": lake})
    assert served.status == "existing_towers_suffice" and served.sites.empty
    assert (served.demand_total, served.demand_covered, served.served_by_existing) == (2, 2, 2)
    far = site_towers(cells_frame([(0, 0, "blank")]), candidates_frame({"x": (5_000, 0)}),
                      kelurahan, radius_m=1_000.0)
    assert (far.status, far.demand_covered, len(far.unreachable)) == ("no_reachable_demand", 0,
                                                                       1)
    none = site_towers(weak, candidates_frame({"x": (0, 0)}), kelurahan, radius_m=1_000.0)
    assert (none.status, none.demand_total) == ("no_demand", 0)


def test_unmeasured_cells_are_demand_only_when_asked(kelurahan):
    cells = cells_frame([(0, 0, "unmeasured"), (3_000, 0, "blank")])
    candidates = candidates_frame({"w": (0, 0), "e": (3_000, 0)})
    blank_only = site_towers(cells, candidates, kelurahan, radius_m=1_000.0)
    assert blank_only.sites["id"].tolist() == ["e"]
    with_unmeasured = site_towers(cells, candidates, kelurahan, radius_m=1_000.0,
                                  include=("unmeasured",))
    assert sorted(with_unmeasured.sites["id"]) == ["e", "w"]
    west = with_unmeasured.sites.set_index("id").loc["w"]
    assert (west["blank_cells"], west["area_km2"], west["blank_area_km2"]) == (0, 0.1, 0.0)
    with pytest.raises(SitingError, match="Status sel 'covered' tidak dikenal"):
        site_towers(cells, candidates, kelurahan, include=("covered",))


def test_clearance_distances_never_read_as_reaching_the_clearance(kelurahan):
    river = gpd.GeoDataFrame(geometry=[shapely.LineString([lonlat(19.6, -500),
                                                           lonlat(19.6, 500)])],
                             crs="EPSG:4326")
    checked = check_candidates(candidates_frame({"bank": (0, 0)}), kelurahan,
                               layers={"sungai": river}, buffers_m={"sungai": 10.0})
    violation, = checked["violations"].iloc[0]
    assert violation.startswith("sungai: 9.") and violation.endswith(" m < 10 m")


@pytest.mark.parametrize("seed", range(4))
def test_random_cases_with_towers_match_brute_force(kelurahan, seed):
    rng = np.random.default_rng(seed)
    spots = {(int(x), int(y)) for x, y in rng.integers(-4_000, 4_000, size=(14, 2)) // 300 * 300}
    spec = [(x, y, "blank" if rng.random() < 0.6 else "weak") for x, y in sorted(spots)]
    cells = cells_frame(spec)
    sites = {f"c{i}": tuple(xy) for i, xy in enumerate(rng.integers(-4_000, 4_000, (7, 2)))}
    towers = {100 + i: tuple(xy) for i, xy in enumerate(rng.integers(-4_000, 4_000, (2, 2)))}
    radius = 1_800.0
    result = site_towers(cells, candidates_frame(sites), kelurahan, radius_m=radius,
                         include=("weak",), towers=towers_frame(towers))
    reach = coverage_sets(cells, sites, radius)
    weak = set(np.flatnonzero(cells["status"] == "weak"))
    by_tower = set().union(*coverage_sets(cells, towers, radius).values()) & weak
    reachable = set().union(*reach.values()) | by_tower
    need = reachable - by_tower
    fewest = next(k for k in range(len(sites) + 1)
                  if any(set().union(*(reach[s] for s in subset)) >= need
                         for subset in itertools.combinations(sites, k)))
    assert len(result.sites) == fewest
    assert set().union(*(reach[s] for s in result.sites["id"])) >= need
    only_towers = by_tower - set().union(*(reach[s] for s in result.sites["id"]))
    assert len(only_towers) <= result.served_by_existing <= len(by_tower)
    assert result.demand_covered == len(reachable)
    near_tower = set().union(*coverage_sets(cells, towers, radius).values()) - weak
    assert set(result.registered_tower_measured_blank["h3"]) == set(cells["h3"].iloc[
        sorted(near_tower)])
    assert len(result.unreachable) == len(cells) - len(reachable)


def test_mclp_asked_for_more_sites_than_useful_candidates_places_the_useful_ones(kelurahan):
    cells = cells_frame([(0, 0, "blank"), (3_000, 0, "blank")])
    candidates = candidates_frame({"w": (0, 0), "e": (3_000, 0), "nowhere": (-8_000, 8_000)})
    result = site_towers(cells, candidates, kelurahan, model="mclp", max_sites=3,
                         radius_m=1_000.0)
    assert sorted(result.sites["id"]) == ["e", "w"] and result.demand_covered == 2


def test_uploaded_vector_plots_and_a_file_outside_the_city(kelurahan, tmp_path):
    plots = gpd.GeoDataFrame({"id": ["LAHAN-7"], "nama": ["Tanah kas kelurahan"]},
                             geometry=[square(0, 0, 40)], crs="EPSG:4326")
    path = tmp_path / "lahan.geojson"
    plots.to_file(path, driver="GeoJSON")
    frame = read_candidate_file(path)
    assert frame["id"].tolist() == ["LAHAN-7"] and frame.geometry.iloc[0].geom_type == "Polygon"
    result = site_towers(cells_frame([(0, 0, "blank")]), frame, kelurahan, radius_m=1_000.0)
    assert result.sites["id"].tolist() == ["LAHAN-7"]
    assert (result.sites["latitude"].iloc[0], result.sites["longitude"].iloc[0]) == \
        pytest.approx(tuple(reversed(lonlat(0, 0))), abs=1e-5)
    outside = candidates_frame({"jakarta": (-3_000_000, -700_000)})
    with pytest.raises(SitingError) as error:
        site_towers(cells_frame([(0, 0, "blank")]), outside, kelurahan, radius_m=1_000.0)
    problem, = error.value.problems
    assert problem.value == "jakarta" and problem.reason.startswith("batas_kota: ")
