"""Coverage analysis over the database (SQLite and PostGIS) through the CLI."""
from __future__ import annotations

import json

import pytest

import geopandas as gpd
import rasterio

from tests.webmap.conftest import KEL_A, KEL_B
from webmap import create_app
from webmap.db import dispose_engine

HEADER = "latitude,longitude,timestamp,operator,technology,signal_dbm,no_service,device_id"
# One spot in kelurahan A: no service in March, good signal in September (a new tower).
MARCH = [f"1.6050,101.4050,2024-03-0{d}T10:00:00,Telkomsel,4G,,true,dev-{d}" for d in range(1, 6)]
SEPTEMBER = [f"1.6050,101.4050,2024-09-0{d}T10:00:00,Telkomsel,4G,-80,false,dev-{d}"
             for d in range(1, 6)]


@pytest.fixture
def app(db_url, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": db_url,
                      "ARCHIVE_DIR": str(tmp_path / "archive")})
    yield app
    dispose_engine(app)


@pytest.fixture
def runner(app, city_file, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["import-boundaries", str(city_file)]).exit_code == 0
    csv = tmp_path / "spot.csv"
    csv.write_text("\n".join([HEADER, *MARCH, *SEPTEMBER]) + "\n")
    result = runner.invoke(args=["ingest", str(csv)])
    assert result.exit_code == 0, result.output
    return runner


def run_json(runner, *args):
    result = runner.invoke(args=[*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def by_kode(report):
    return {row["kode"]: row for row in report["kelurahan"]}


def test_coverage_as_of_april_shows_the_blank_spot(runner):
    report = run_json(runner, "coverage", "--as-of", "2024-04-30")
    rows = by_kode(report)
    assert report["boundary_version"] == 1 and report["operator"] == "any"
    assert rows[KEL_A]["status"] == "ada blank spot" and rows[KEL_A]["blank_cells"] == 1
    assert rows[KEL_A]["blank_area_km2"] > 0
    assert rows[KEL_B]["status"] == "belum cukup data" and rows[KEL_B]["blank_cells"] == 0
    assert rows[KEL_B]["measured_area_pct"] == 0
    for key in ("kode", "nama", "status", "blank_cells", "weak_cells", "covered_cells",
                "blank_area_km2", "measured_area_pct", "covered_area_pct"):
        assert key in rows[KEL_A]


def test_spot_is_resolved_as_of_october(runner):
    rows = by_kode(run_json(runner, "coverage", "--as-of", "2024-10-31"))
    assert rows[KEL_A]["blank_cells"] == 0 and rows[KEL_A]["covered_cells"] == 1
    assert rows[KEL_A]["status"] == "belum cukup data"  # one cell is not 80 % of the kelurahan


def test_unknown_operator_is_a_clear_error(runner):
    result = runner.invoke(args=["coverage", "--operator", "Nokia", "--json"])
    assert result.exit_code == 1
    assert "Telkomsel" in json.loads(result.output)["error"]


def test_monthly_series_resolves_the_cell(runner):
    series = run_json(runner, "timeseries", "--kelurahan", "ALL")["series"]
    months = {row["period"]: row for row in series}
    assert months["2024-03"]["blank_cells"] == 1
    assert months["2024-09"]["blank_cells"] == 0 and months["2024-09"]["resolved_cells"] == 1


def test_target_progress_lists_failing_kelurahan(runner):
    run_json(runner, "targets", "add", "--deadline", "2024-12-31", "--baseline", "2024-04-30")
    progress = run_json(runner, "progress", "--as-of", "2024-10-31")["targets"][0]
    assert progress["met"] is False and progress["deadline"] == "2024-12-31"
    assert {row["kode"] for row in progress["failing"]} == {KEL_A, KEL_B}
    assert progress["blank_area_resolved_pct"] == pytest.approx(100.0)


@pytest.mark.parametrize("suffix", ["geojson", "gpkg", "csv"])
def test_exports_declare_their_crs(runner, tmp_path, suffix):
    path = tmp_path / f"kelurahan.{suffix}"
    report = run_json(runner, "export", "kelurahan", str(path), "--as-of", "2024-04-30")
    assert report["features"] == 2
    if suffix == "csv":
        assert "longitude_wgs84" in path.read_text().splitlines()[0]
    else:
        frame = gpd.read_file(path)
        assert frame.crs.to_epsg() == 4326 and set(frame["kode"]) == {KEL_A, KEL_B}


def test_surface_and_blank_spot_exports(runner, tmp_path):
    run_json(runner, "export", "surface", str(tmp_path / "s.tif"), "--as-of", "2024-04-30")
    with rasterio.open(tmp_path / "s.tif") as raster:
        assert raster.crs.to_epsg() == 32647 and raster.res == (100.0, 100.0)
    cells = run_json(runner, "export", "cells", str(tmp_path / "c.geojson"),
                     "--as-of", "2024-04-30")
    assert cells["features"] == 1


def test_operator_breakdown_and_city_thresholds(app, runner):
    report = run_json(runner, "coverage", "--as-of", "2024-04-30")
    breakdown = [r for r in report["operator_breakdown"] if r["kode"] == KEL_A]
    assert [(r["operator"], r["status"]) for r in breakdown] == [("Telkomsel", "ada blank spot")]
    # A city that counts everything below -75 dBm as no coverage sees September's -80 as blank.
    app.config["SIGNAL_THRESHOLDS"] = {"signal_classes_dbm": {"4G": [-60, -65, -70, -75]}}
    rows = by_kode(run_json(runner, "coverage", "--as-of", "2024-10-31"))
    assert rows[KEL_A]["blank_cells"] == 1
