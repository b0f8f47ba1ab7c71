"""``flask --app webmap siting towers`` on the two-square test city (SQLite and PostGIS)."""
from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook

import h3
import pyproj

from tests.webmap.conftest import KEL_A, make_app
from tests.webmap.test_analysis_cli import MARCH, SEPTEMBER
from webmap.db import dispose_engine

#: A registered tower about 300 m east of the spot measured blank in March, and a school that can
#: host a mast.
FACILITIES = ("nama,jenis,lintang,bujur,status,operator\n"
              "BTS Uji,BTS,1.6050,101.4077,ada,Telkomsel\n"
              "SDN 1 Uji,SD,1.6060,101.4060,ada,\n")


@pytest.fixture
def runner(db_url, city_file, tmp_path):
    app = make_app(db_url, city_file, tmp_path, rows=[*MARCH, *SEPTEMBER],
                   facilities=FACILITIES)
    yield app.test_cli_runner()
    dispose_engine(app)


def towers(runner, *args: str, ok: bool = True) -> dict:
    result = runner.invoke(args=["siting", "towers", *args, "--json"])
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.output)


def test_the_blank_spot_of_april_gets_the_uploaded_site_with_its_evidence(runner, tmp_path):
    candidates = tmp_path / "kandidat.csv"
    candidates.write_text("id,latitude,longitude\nMENARA-1,1.6052,101.4052\n"
                          "JAUH,1.6090,101.4190\n")
    answer = towers(runner, "--as-of", "2024-04-30", "--candidates", str(candidates),
                    "--radius-m", "500")
    assert (answer["model"], answer["status"], answer["distance"]) == ("lscp", "optimal",
                                                                      "straight")
    assert (answer["demand_total"], answer["demand_covered"]) == (1, 1)
    site, = answer["sites"]
    assert site["id"] == "MENARA-1" and site["kode"] == KEL_A
    assert site["kelurahan"] == "Sungai Uji" and site["kecamatan"] == "Uji Barat"
    assert (site["blank_cells"], site["measurements"], site["upload_ids"]) == (1, 5, [1])
    assert [c["id"] for c in answer["candidates"]] == ["MENARA-1", "JAUH"]
    assert all(c["eligible"] for c in answer["candidates"])
    # the registered tower 300 m away did not make the measured blank cell served
    near, = answer["registered_tower_measured_blank"]
    lat, lon = h3.cell_to_latlng(near["h3"])  # distances run from the cell's centre
    metres = pyproj.Geod(ellps="WGS84").inv(lon, lat, 101.4077, 1.6050)[2]
    assert near["tower_operator"] == "Telkomsel"
    assert near["distance_m"] == pytest.approx(metres, abs=1.0)
    assert near["h3"] == h3.latlng_to_cell(1.6050, 101.4050, 9)


def test_default_candidates_and_the_xlsx_export(runner, tmp_path):
    path = tmp_path / "usulan.xlsx"
    answer = towers(runner, "--as-of", "2024-04-30", "--model", "mclp", "--max-sites", "1",
                    "--export", str(path))
    assert answer["candidate_source"] == "grid+facilities+lahan"
    assert {c["id"].split("-")[0] for c in answer["candidates"]} >= {"grid", "sekolah"}
    assert len(answer["sites"]) == 1 and answer["demand_covered"] == 1
    assert answer["export"] == str(path)
    header, row = list(load_workbook(path).active.iter_rows(values_only=True))
    values = dict(zip(header, row, strict=True))
    assert values["id_lokasi"] == answer["sites"][0]["id"]
    assert values["kode_kelurahan"] == KEL_A and values["jumlah_pengukuran"] == 5
    assert values["tanggal_pengukuran_pertama"] == "2024-03-01"


def test_nothing_to_do_once_the_spot_is_resolved(runner):
    answer = towers(runner, "--as-of", "2024-10-31")
    assert (answer["status"], answer["demand_total"], answer["sites"]) == ("no_demand", 0, [])


def test_summary_is_indonesian_by_default(runner):
    result = runner.invoke(args=["siting", "towers", "--as-of", "2024-04-30"])
    assert result.exit_code == 0, result.output
    assert "lokasi menara baru" in result.output and "1 dari 1 sel terlayani" in result.output


def test_mclp_without_a_number_of_sites_is_refused_in_the_chosen_language(runner):
    answer = towers(runner, "--model", "mclp", ok=False)
    assert answer["error"] == ("MCLP memilih sejumlah lokasi yang ditentukan: berikan jumlah "
                               "lokasi baru.")
    answer = towers(runner, "--model", "mclp", "--lang", "en", ok=False)
    assert answer["error"] == "MCLP chooses a given number of sites: give the number of new sites."


def test_english_summary(runner):
    result = runner.invoke(args=["siting", "towers", "--as-of", "2024-04-30", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "new tower sites; 1 of 1 cells served" in result.output


def test_unknown_operator_is_refused(runner):
    answer = towers(runner, "--operator", "Nokia", ok=False)
    assert "Telkomsel" in answer["error"]


def test_an_imported_lake_refuses_the_candidate_inside_it(runner, tmp_path):
    lake = tmp_path / "danau.geojson"
    ring = [[101.4045, 1.6045], [101.4060, 1.6045], [101.4060, 1.6060], [101.4045, 1.6060],
            [101.4045, 1.6045]]
    lake.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"nama": "Danau Uji"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    imported = runner.invoke(args=["import-layer", str(lake), "--kind", "badan_air"])
    assert imported.exit_code == 0, imported.output
    candidates = tmp_path / "kandidat.csv"
    candidates.write_text("id,latitude,longitude\nMENARA-1,1.6052,101.4052\n"
                          "JAUH,1.6090,101.4190\n")
    answer = towers(runner, "--as-of", "2024-04-30", "--candidates", str(candidates),
                    "--radius-m", "500")
    assert answer["layers"] == ["badan_air"]
    verdicts = {c["id"]: (c["eligible"], c["violations"]) for c in answer["candidates"]}
    assert verdicts == {"MENARA-1": (False, ["badan_air: 0 m"]), "JAUH": (True, [])}
    assert (answer["status"], answer["sites"], answer["demand_covered"]) == (
        "no_reachable_demand", [], 0)
    assert [cell["status"] for cell in answer["unreachable"]] == ["blank"]


# --- siting waste ---------------------------------------------------------------------------------

@pytest.fixture
def waste_app(db_url, city_file, tmp_path):
    from tests.webmap.test_scenarios import make_siting_app

    app = make_siting_app(db_url, city_file, tmp_path)
    yield app
    dispose_engine(app)


def waste(app, *args: str, ok: bool = True) -> dict:
    result = app.test_cli_runner().invoke(args=["siting", "waste", *args, "--json"])
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.output)


def test_waste_json_has_the_issue_keys_and_explains_each_candidate(waste_app, tmp_path):
    answer = waste(waste_app, "--candidates", str(tmp_path / "calon.csv"), "--model", "mclp",
                   "--sites", "1", "--service-m", "1000", "--capacity-t-day", "12")
    assert {"model", "status", "objective", "distance", "sites", "candidates", "demand_total",
            "demand_covered", "sensitivity", "unserved", "exclusions", "suitable"} <= set(answer)
    assert (answer["model"], answer["status"], answer["distance"]) == ("mclp", "optimal",
                                                                      "straight")
    assert (answer["service_m"], answer["capacity_t_day"]) == (1000.0, 12.0)
    assert answer["population_source"] == "raster" and answer["layers"] == ["sungai"]
    # 5,600 people x 0.7 kg/person/day
    assert answer["demand_total"] == pytest.approx(3.92)
    site, = answer["sites"]
    assert (site["id"], site["kode"], site["kelurahan"]) == ("TIMUR", "99.01.01.1002",
                                                             "Bukit Uji")
    assert {"latitude", "longitude", "tonnes_day", "population"} <= set(site)
    tepi = answer["candidates"][0]
    assert (tepi["id"], tepi["eligible"]) == ("TEPI", False)
    violation, = tepi["violations"]
    assert violation["rule"] == "sungai" and violation["required_m"] == 50.0
    assert violation["text"] == f"sungai: {violation['distance_m']:.0f} m < 50 m"
    assert {(row["p"], row["service_m"]) for row in answer["sensitivity"]} >= {
        (1, 1000.0), (5, 1000.0)}
    assert "message" in answer and "scenario" not in answer


def test_waste_human_output_in_indonesian_and_english(waste_app, tmp_path):
    runner = waste_app.test_cli_runner()
    base = ["siting", "waste", "--candidates", str(tmp_path / "calon.csv")]
    indonesian = runner.invoke(args=[*base, "--save", "Uji"])
    english = runner.invoke(args=[*base, "--lang", "en"])
    assert indonesian.exit_code == 0 and english.exit_code == 0, indonesian.output
    assert "aturan TPST: 1 lokasi baru; 3.9 dari 3.9 ton/hari terlayani dalam 5,000 m " \
        "(jarak garis lurus)." in indonesian.output
    assert "Kandidat: 3, tidak memenuhi syarat: 1." in indonesian.output
    assert 'Disimpan sebagai skenario #1 "Uji".' in indonesian.output
    assert "rules TPST: 1 new sites; 3.9 of 3.9 tonnes/day served within 5,000 m " \
        "(straight-line distance)." in english.output
    # the TPS in kelurahan A keeps the west's 0.42 t/day (600 people); the p-median's demand
    # points are the kelurahan's population-weighted centres (WASTE_DEMAND_AGGREGATION)
    assert "kel. Bukit Uji: 3.50 tonnes/day, 5000 people, mean distance 413 m" in english.output
    refused = runner.invoke(args=[*base, "--model", "lscp", "--service-m", "300", "--lang",
                                  "en"])
    assert refused.exit_code == 1
    assert "demand point(s) are more than 300 m from every candidate site: increase the " \
        "service distance or add candidate sites near them." in refused.output


def test_towers_save_names_the_scenario(runner, tmp_path):
    result = runner.invoke(args=["siting", "towers", "--as-of", "2024-04-30", "--save",
                                 "Menara April"])
    assert result.exit_code == 0, result.output
    assert 'Disimpan sebagai skenario #1 "Menara April".' in result.output
    listed = runner.invoke(args=["scenarios", "list", "--lang", "en"])
    assert "#1 Menara April (menara, LSCP, optimal): 1 sites, 1 of 1 served" in listed.output
