"""``flask import-layer`` and ``flask layers``: reports, JSON, languages, exit codes."""
from __future__ import annotations

import json

import pytest

import geopandas as gpd
from shapely.geometry import LineString, Point, box

from geo.terrain import plane_dem
from tests.webmap.conftest import make_app
from webmap.db import dispose_engine

ROAD = LineString([(101.401, 1.601), (101.419, 1.609)])


@pytest.fixture
def app(db_url, city_file, tmp_path):
    application = make_app(db_url, city_file, tmp_path)
    yield application
    dispose_engine(application)


def write(path, geometries, **columns):
    gpd.GeoDataFrame(columns, geometry=list(geometries), crs="EPSG:4326").to_file(path)
    return path


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_import_layer_json_report_in_indonesian(app, tmp_path):
    path = write(tmp_path / "jalan.geojson", [ROAD, Point(101.41, 1.605)], nama=["Jl. A", "X"])
    result = invoke(app, "import-layer", str(path), "--kind", "jalan", "--name", "Jalan OSM",
                    "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["kind"], report["name"], report["version"], report["accepted"],
            report["rejected"]) == ("jalan", "Jalan OSM", 1, 1, 1)
    error = report["errors"][0]
    assert (error["row"], error["column"], error["value"], error["code"]) == (
        2, "geometry", "Point", "wrong_type")
    assert error["reason"] == "berupa Point; lapisan jalan hanya menerima garis"
    assert report["message"] == ('Lapisan jalan "Jalan OSM" disimpan sebagai versi 1: 1 dari 2 '
                                 'fitur, 1 ditolak.')


def test_import_layer_in_english_and_the_replacement_message(app, tmp_path):
    first = write(tmp_path / "a.geojson", [box(101.405, 1.602, 101.408, 1.604)])
    second = write(tmp_path / "b.geojson", [box(101.405, 1.602, 101.409, 1.604), ROAD])
    assert invoke(app, "import-layer", str(first), "--kind", "lahan").exit_code == 0
    result = invoke(app, "import-layer", str(second), "--kind", "lahan", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert 'Layer lahan "b.geojson" stored as version 2: 1 of 2 features, 1 rejected.' in (
        result.output)
    assert "Version 1 is no longer active but stays stored." in result.output
    assert "is a LineString; a lahan layer takes area (polygon)" in result.output


def test_layers_lists_active_and_all_versions(app, tmp_path):
    path = write(tmp_path / "a.geojson", [ROAD])
    invoke(app, "import-layer", str(path), "--kind", "sungai")
    invoke(app, "import-layer", str(write(tmp_path / "b.geojson", [ROAD, ROAD])), "--kind",
           "sungai")
    active = json.loads(invoke(app, "layers", "--json").output)
    assert [(r["kind"], r["version"], r["active"]) for r in active["layers"]] == [
        ("sungai", 2, True)]
    every = invoke(app, "layers", "--all").output.splitlines()
    assert every[0].split() == ["jenis", "versi", "status", "fitur", "nama"]
    assert every[1].split() == ["sungai", "2", "aktif", "2", "b.geojson"]
    assert every[2].split() == ["sungai", "1", "versi", "lama", "1", "a.geojson"]


def test_refusals_exit_1_with_the_reason(app, tmp_path):
    path = write(tmp_path / "x.geojson", [Point(101.41, 1.605)])
    result = invoke(app, "import-layer", str(path), "--kind", "hutan", "--json")
    assert result.exit_code == 1
    assert "valid kinds: sungai, badan_air" in json.loads(result.output)["error"]
    refused = invoke(app, "import-layer", str(path), "--kind", "lahan", "--json")
    assert refused.exit_code == 1
    body = json.loads(refused.output)
    assert body["problems"][0]["reason"] == ("berupa Point; lapisan lahan hanya menerima area "
                                             "(poligon)")
    assert json.loads(invoke(app, "layers", "--json").output)["layers"] == []


def test_import_a_dem(app, tmp_path):
    dem = plane_dem(tmp_path / "dem.tif", crs="EPSG:32647", origin=(766_000.0, 176_000.0),
                    size=100, resolution_m=30.0, rise_y=0.02)
    result = invoke(app, "import-layer", str(dem), "--kind", "dem")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("DEM dem.tif disimpan sebagai versi 1 (EPSG:32647, elevasi "
                                    "10.3-69.7 m).")
