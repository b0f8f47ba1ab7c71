"""Saved siting scenarios on the two-square test city (SQLite and PostGIS): save, list, show,
re-run, compare, adopt, delete, provenance, scoped listing, nothing saved on failure."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

import geopandas as gpd
from shapely.geometry import LineString, box

from tests.webmap.conftest import KEL_A, KEL_B, make_app
from tests.webmap.test_analysis_cli import MARCH
from webmap import scenarios, siting
from webmap.db import dispose_engine, get_engine

KECAMATAN = "99.01.01"
#: An existing TPS (2 t/day) in kelurahan A and a tower 300 m east of the spot measured blank.
FACILITIES = ("nama,jenis,lintang,bujur,status,operator,kapasitas\n"
              "TPS Uji,TPS,1.6030,101.4030,ada,,2\n"
              "BTS Uji,BTS,1.6050,101.4077,ada,Telkomsel,\n")
#: A river along the middle of both kelurahan (TPST rule: 50 m from a river).
RIVER = LineString([(101.40, 1.6055), (101.42, 1.6055)])
#: TEPI is 22 m from the river; TIMUR and BARAT are eligible; LUAR lies outside the city.
CANDIDATES = ("id,latitude,longitude\nTEPI,1.6057,101.4150\nTIMUR,1.6085,101.4170\n"
              "BARAT,1.6020,101.4030\n")


def write_population(path: Path) -> Path:
    """20 x 10 pixels of 0.001 degree over the city: 20 people per pixel in its west third of
    kelurahan A (3 columns), 100 in the east half of kelurahan B (5 columns); 5,600 people."""
    data = np.zeros((10, 20), dtype="float32")
    data[:, :3], data[:, 15:] = 20.0, 100.0
    with rasterio.open(path, "w", driver="GTiff", width=20, height=10, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.001, 0.0, 101.40, 0.0, -0.001, 1.61)) as raster:
        raster.write(data, 1)
    return path


def make_siting_app(db_url: str, city_file: Path, tmp_path: Path, **config):
    """The test city with measurements (March: one blank spot), facilities, a population
    raster and a river layer; candidates in ``tmp_path/calon.csv``."""
    app = make_app(db_url, city_file, tmp_path, rows=MARCH, facilities=FACILITIES, **config)
    runner = app.test_cli_runner()
    river = tmp_path / "sungai.geojson"
    gpd.GeoDataFrame({"nama": ["Sungai Uji"]}, geometry=[RIVER], crs="EPSG:4326").to_file(river)
    for args in (["import-population", str(write_population(tmp_path / "penduduk.tif"))],
                 ["import-layer", str(river), "--kind", "sungai"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    (tmp_path / "calon.csv").write_text(CANDIDATES)
    return app


@pytest.fixture
def app(db_url, city_file, tmp_path):
    app = make_siting_app(db_url, city_file, tmp_path)
    yield app
    dispose_engine(app)


def cli(app, *args: str, ok: bool = True) -> dict:
    result = app.test_cli_runner().invoke(args=[*args, "--json"])
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.output)


def waste(app, tmp_path, *args: str, ok: bool = True) -> dict:
    return cli(app, "siting", "waste", "--candidates", str(tmp_path / "calon.csv"), *args, ok=ok)


def listed(app, **filters) -> list[dict]:
    with app.app_context(), get_engine().connect() as conn:
        return scenarios.list_scenarios(conn, "99.01", **filters)


def test_a_saved_waste_run_keeps_parameters_data_and_result(app, tmp_path):
    answer = waste(app, tmp_path, "--save", "TPST 2025", "--by", "budi")
    assert answer["scenario"]["name"] == "TPST 2025"
    shown = cli(app, "scenarios", "show", str(answer["scenario"]["id"]))
    assert (shown["kind"], shown["created_by"], shown["sites"]) == ("waste", "budi", 1)
    assert shown["result"]["sites"] == answer["sites"]
    assert shown["result"]["objective"] == pytest.approx(answer["objective"])
    parameters = shown["parameters"]
    assert (parameters["rules"], parameters["model"], parameters["sites"]) == ("tpst", "pmedian",
                                                                               1)
    assert [f["properties"]["id"] for f in parameters["candidates"]["features"]] == [
        "TEPI", "TIMUR", "BARAT"]
    with app.app_context(), get_engine().connect() as conn:
        layer_id = conn.exec_driver_sql("SELECT id FROM constraint_layer").scalar()
        boundary = conn.exec_driver_sql("SELECT id FROM boundary_version").scalar()
        uploads = conn.exec_driver_sql("SELECT max(id) FROM upload").scalar()
        newest = conn.exec_driver_sql("SELECT max(id) FROM facility").scalar()
        raster = conn.exec_driver_sql("SELECT population_raster FROM city").scalar()
    assert shown["provenance"] == {
        "boundary_version": boundary, "last_upload_id": uploads,
        "last_measurement_upload_id": 1, "layers": {"sungai": layer_id},
        "population_raster": raster, "facility_count": 2, "max_facility_id": newest}
    assert [row["id"] for row in cli(app, "scenarios", "list")["scenarios"]] == [shown["id"]]


#: Two candidates in the east: within 780 m neither reaches all of its demand points (the
#: 1 km demand cells' inner points), both together do; the TPS serves the west.
EAST = "id,latitude,longitude\nTIMUR-LAUT,1.6095,101.4195\nSELATAN,1.6020,101.4170\n"


@pytest.mark.parametrize(("candidates", "args", "words"), [
    (EAST, ("--model", "lscp", "--sites", "1", "--service-m", "780"),
     "perlu 2 lokasi baru, lebih dari 1: naikkan jumlah lokasi, perbesar jarak layanan, atau "
     "pakai MCLP"),
    (CANDIDATES, ("--model", "lscp", "--service-m", "300"),
     "perbesar jarak layanan atau tambahkan calon lokasi di dekatnya"),
    (CANDIDATES, ("--rules", "tpa"), "Tidak ada calon lokasi yang memenuhi syarat"),
])
def test_an_infeasible_run_says_what_to_change_and_saves_nothing(app, tmp_path, candidates,
                                                                 args, words):
    (tmp_path / "calon.csv").write_text(candidates)
    answer = waste(app, tmp_path, *args, "--save", "Gagal", ok=False)
    assert words in answer["error"]
    assert listed(app) == []


def test_candidates_outside_the_city_are_named_and_nothing_is_saved(app, tmp_path):
    (tmp_path / "calon.csv").write_text(CANDIDATES + "LUAR,1.7000,101.5000\n")
    answer = waste(app, tmp_path, "--save", "Luar kota", ok=False)
    assert "1 calon lokasi berada di luar kota" in answer["error"]
    assert "LUAR" in answer["error"]
    assert listed(app) == []


def test_an_empty_name_is_refused_before_the_run(app, tmp_path):
    answer = waste(app, tmp_path, "--save", "  ", ok=False)
    assert answer["error"].startswith("Beri nama skenario")
    assert listed(app) == []


def test_rerun_on_unchanged_data_and_after_a_new_layer(app, tmp_path):
    old = waste(app, tmp_path, "--save", "TPST A")["scenario"]["id"]
    (tmp_path / "calon.csv").unlink()  # the re-run uses the candidates stored with the scenario
    same = cli(app, "scenarios", "rerun", str(old))
    assert (same["rerun_of"], same["scenario"]["parent_id"]) == (old, old)
    assert same["data_changes"] == []
    assert "Data tidak berubah" in same["message"]
    assert [s["id"] for s in same["sites"]] == ["TIMUR"]
    lake = tmp_path / "danau.geojson"
    gpd.GeoDataFrame({"nama": ["Danau"]}, geometry=[box(101.4165, 1.608, 101.4175, 1.609)],
                     crs="EPSG:4326").to_file(lake)
    result = app.test_cli_runner().invoke(args=["import-layer", str(lake), "--kind", "badan_air"])
    assert result.exit_code == 0, result.output
    changed = cli(app, "scenarios", "rerun", str(old), "--name", "TPST A ulang")
    change, = changed["data_changes"]
    assert (change["what"], change["before"]) == ("layers.badan_air", None)
    assert [s["id"] for s in changed["sites"]] == ["BARAT"]  # TIMUR now lies in the lake
    assert changed["scenario"]["name"] == "TPST A ulang"
    assert [row["id"] for row in listed(app)] == [changed["scenario"]["id"],
                                                  same["scenario"]["id"], old]


def test_compare_two_runs_side_by_side(app, tmp_path):
    one = waste(app, tmp_path, "--save", "Satu")["scenario"]["id"]
    two = waste(app, tmp_path, "--sites", "2", "--save", "Dua")["scenario"]["id"]
    answer = cli(app, "scenarios", "compare", str(one), str(two))
    assert (answer["a"]["id"], answer["b"]["id"]) == (one, two)
    assert [s["id"] for s in answer["sites"]["both"]] == ["TIMUR"]
    assert answer["sites"]["only_a"] == []
    assert [s["id"] for s in answer["sites"]["only_b"]] == ["BARAT"]
    figures = answer["figures"]
    assert figures["sites"] == {"a": 1, "b": 2, "difference": 1.0}
    assert figures["objective"]["b"] <= figures["objective"]["a"]  # a 2nd site never costs
    assert figures["objective"]["difference"] == pytest.approx(
        figures["objective"]["b"] - figures["objective"]["a"])
    assert answer["parameters"] == [{"what": "sites", "before": 1, "after": 2}]
    assert answer["data"] == []


def test_adopting_creates_planned_facilities_once(app, tmp_path):
    saved = waste(app, tmp_path, "--save", "TPST final")["scenario"]["id"]
    first = cli(app, "scenarios", "adopt", str(saved), "--by", "budi")
    assert (first["created"], first["type"]) == (1, "tpst")
    facility, = first["facilities"]
    assert (facility["type"], facility["status"], facility["kelurahan_kode"],
            facility["external_id"]) == ("tpst", "planned", KEL_B, "TIMUR")
    assert facility["dedup_key"] == f"skenario:{saved}:TIMUR"
    again = cli(app, "scenarios", "adopt", str(saved))
    assert (again["created"], len(again["facilities"])) == (0, 1)
    shown = cli(app, "scenarios", "show", str(saved))
    assert shown["adopted_by"] == "budi" and shown["adopted_at"]
    with app.app_context(), get_engine().connect() as conn:
        counts = scenarios.planned_vs_built(conn, "99.01")
    assert counts["waste"] == {"types": ["tpst", "tps3r"], "built": 0, "planned": 1,
                               "planned_other": 0,
                               "scenarios": [{"id": saved, "name": "TPST final",
                                              "planned": 1}]}
    assert (counts["towers"]["built"], counts["towers"]["planned"]) == (1, 0)
    deleted = cli(app, "scenarios", "delete", str(saved))
    assert deleted == {"deleted": saved, "facilities_removed": 1,
                       "message": deleted["message"]}
    with app.app_context(), get_engine().connect() as conn:
        assert scenarios.planned_vs_built(conn, "99.01")["waste"]["planned"] == 0
    assert listed(app) == []


def test_lurah_and_camat_listing_holds_the_plans_that_touch_their_area(app, tmp_path):
    near = waste(app, tmp_path, "--model", "mclp", "--service-m", "300",
                 "--save", "Dekat")["scenario"]
    wide = waste(app, tmp_path, "--save", "Luas")["scenario"]
    assert near["area_codes"] == [KECAMATAN, KEL_B]  # TIMUR is 780 m from kelurahan A
    assert wide["area_codes"] == [KECAMATAN, KEL_A, KEL_B]
    assert [row["id"] for row in listed(app, area=KEL_A)] == [wide["id"]]
    assert [row["id"] for row in listed(app, area=KEL_B)] == [wide["id"], near["id"]]
    assert [row["id"] for row in listed(app, area=KECAMATAN)] == [wide["id"], near["id"]]
    assert listed(app, area="99.01.02") == []
    assert [row["id"] for row in cli(app, "scenarios", "list", "--area", KEL_A)["scenarios"]] \
        == [wide["id"]]


def test_a_saved_tower_plan_exports_as_the_run_did(app, tmp_path):
    (tmp_path / "menara.csv").write_text("id,latitude,longitude\nMENARA-1,1.6052,101.4052\n")
    common = ("siting", "towers", "--candidates", str(tmp_path / "menara.csv"), "--radius-m",
              "500")
    direct = cli(app, *common, "--export", str(tmp_path / "langsung.csv"))
    saved = cli(app, *common, "--save", "Menara 1", "--export", str(tmp_path / "simpan.csv"))
    assert saved["scenario"]["kind"] == "towers"
    assert (tmp_path / "simpan.csv").read_bytes() == (tmp_path / "langsung.csv").read_bytes()
    assert direct["sites"] == saved["sites"]
    adopted = cli(app, "scenarios", "adopt", str(saved["scenario"]["id"]))
    tower, = adopted["facilities"]
    assert (tower["type"], tower["external_id"], tower["kelurahan_kode"]) == (
        "bts", "MENARA-1", KEL_A)
    with app.app_context():
        scenario = scenarios.get_scenario(get_engine().connect(), "99.01",
                                          saved["scenario"]["id"])
        path = scenarios.export_plan("towers", scenario["result"], tmp_path / "lagi.csv")
    assert path.read_bytes() == (tmp_path / "langsung.csv").read_bytes()


def test_an_unknown_scenario_is_named(app):
    answer = cli(app, "scenarios", "show", "99", ok=False)
    assert answer["error"] == "Skenario 99 tidak ada di kota 99.01."


def test_run_scenario_refuses_an_unknown_kind(app):
    with app.app_context(), pytest.raises(Exception, match="Jenis skenario 'pabrik'"):
        scenarios.run_scenario(get_engine(), "99.01", "pabrik", siting.WasteRequest(),
                               name="x", created_by="t")
    assert listed(app) == []


def test_the_dashboard_counts_planned_against_built_with_links(app, tmp_path):
    from tests.webmap.conftest import signed_in

    saved = waste(app, tmp_path, "--save", "<b>TPST</b> & co")["scenario"]["id"]
    cli(app, "scenarios", "adopt", str(saved))
    html = signed_in(app, "rina", "perencana").get("/dasbor").get_data(as_text=True)
    waste_row = html.split('data-win="waste"')[1].split("</tr>")[0]
    towers_row = html.split('data-win="towers"')[1].split("</tr>")[0]
    assert '<td class="n built">0</td>' in waste_row
    assert '<td class="n planned">1</td>' in waste_row
    assert f'href="/tapak/skenario/{saved}">#{saved} &lt;b&gt;TPST&lt;/b&gt; &amp; co</a>' \
        in waste_row
    assert '<td class="n built">1</td>' in towers_row  # the registered BTS
    assert '<td class="n planned">0</td>' in towers_row


def test_migration_0010_downgrades_upgrades_and_matches_the_model(engine):
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from webmap.database import downgrade_database, upgrade_database
    from webmap.models import Base

    assert "siting_scenario" in sa.inspect(engine).get_table_names()
    downgrade_database(engine, "0009")
    assert "siting_scenario" not in sa.inspect(engine).get_table_names()
    upgrade_database(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in differences if "siting_scenario" in repr(d)] == []
