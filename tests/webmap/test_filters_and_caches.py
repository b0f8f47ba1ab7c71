"""Filters carried from page to page, one analysis per report, cached facility maps, escaped
facility-map labels, a web-actionable "choose a city" message and the API's kelurahan scope."""
from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import Point

from tests.webmap.conftest import KEL_A, KEL_B, make_app, signed_in, write_city
from tests.webmap.test_analysis_cli import MARCH
from webmap import analysis, maps
from webmap.db import dispose_engine, get_engine


@pytest.fixture
def app(db_url, city_file, tmp_path):
    app = make_app(db_url, city_file, tmp_path, rows=MARCH)
    yield app
    dispose_engine(app)


def test_facility_map_escapes_kelurahan_names():
    kelurahan = gpd.GeoDataFrame({"kode": ["1"], "nama": ["<img src=x onerror=alert(1)>"]},
                                 geometry=[Point(101.4, 1.6).buffer(0.01)], crs="EPSG:4326")
    none = gpd.GeoDataFrame({"type": [], "nama": []}, geometry=[], crs="EPSG:4326")
    script = maps.map_components(maps.facility_map(kelurahan, none))["script"]
    assert "<img src" not in script and "&lt;img" in script.replace("\\u0026", "&")


def test_kelurahan_links_and_filter_form_keep_the_filters(app, planner):
    html = planner.get("/peta?operator=Telkomsel&city=99.01").get_data(as_text=True)
    assert f"/kelurahan/{KEL_A}?city=99.01&amp;operator=Telkomsel" in html
    dashboard = planner.get("/dasbor?city=99.01&technology=4G").get_data(as_text=True)
    assert f"/kelurahan/{KEL_A}?city=99.01&amp;technology=4G" in dashboard
    assert '<input type="hidden" name="city" value="99.01">' in dashboard
    assert '<select name="operator">' in dashboard and '<option value="Telkomsel"' in dashboard
    assert 'href="/peta?city=99.01"' in dashboard  # the navigation keeps the city


def test_several_cities_ask_web_users_for_city_in_the_address(app, tmp_path):
    other = write_city(tmp_path / "other.geojson", {"99.02.01.1001": (101.5, 1.6, 101.51, 1.61)})
    other.write_text(other.read_text().replace('"99.01"', '"99.02"'))
    result = app.test_cli_runner().invoke(args=["import-boundaries", str(other)])
    assert result.exit_code == 0, result.output
    admin = signed_in(app, "adm", "admin")
    answer = admin.get("/api/kelurahan")
    assert answer.status_code == 404
    assert "?city=99.01" in answer.get_json()["error"]


def test_coverage_report_aggregates_cells_once(app, monkeypatch):
    calls = []
    aggregate = analysis.coverage.aggregate_cells
    monkeypatch.setattr(analysis.coverage, "aggregate_cells",
                        lambda *a, **k: calls.append(1) or aggregate(*a, **k))
    with app.app_context():
        data = analysis.load_city_data(get_engine(app), None)
        report = analysis.coverage_report(data)
        assert len(calls) == 1 and report["operator_breakdown"]
        with pytest.raises(analysis.NotFoundError, match="operators measured"):
            analysis.coverage_report(data, operator="Tidak Ada")
        assert len(calls) == 2  # refused before the cells were aggregated


def test_facility_map_is_drawn_once_for_every_page_of_the_table(app, planner, monkeypatch):
    calls = []
    draw = maps.facility_map
    monkeypatch.setattr(maps, "facility_map", lambda *a, **k: calls.append(1) or draw(*a, **k))
    for page in (1, 2, 1):
        assert planner.get(f"/fasilitas?page={page}").status_code == 200
    assert len(calls) == 1
    planner.get("/fasilitas?type=bts")
    assert len(calls) == 2


def test_api_scopes_a_camat_by_the_kecamatan_column(db_url, tmp_path):
    squares = {KEL_A: (101.40, 1.60, 101.41, 1.61), KEL_B: (101.41, 1.60, 101.42, 1.61)}
    city = write_city(tmp_path / "kota.geojson", squares)
    data = json.loads(city.read_text())  # kelurahan B belongs to another kecamatan than its code
    data["features"][1]["properties"]["kecamatan_kode"] = "99.01.02"
    city.write_text(json.dumps(data))
    app = make_app(db_url, city, tmp_path, rows=MARCH)
    camat = signed_in(app, "camat2", "camat", kecamatan_kode="99.01.02")
    items = camat.get("/api/kelurahan").get_json()["items"]
    assert [k["kode"] for k in items] == [KEL_B]
    dispose_engine(app)
