"""The siting page ``/tapak`` on the test city (SQLite and PostGIS): who may open it, a run
through the background job to its result, the result map's exclusions named by rule, an
infeasible run's message, saved scenarios on the page, and the read-only plans of the kelurahan
page (a lurah sees only those touching their kelurahan)."""
from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import time

import pytest

from tests.webmap.conftest import KEL_A, KEL_B, signed_in
from tests.webmap.test_scenarios import CANDIDATES, make_siting_app
from webmap.db import dispose_engine, get_engine
from webmap.models import Facility, SitingScenario
from webmap.siting_pages import sensitivity_table, siting_jobs

ROLES = {"admin": ("admin", {}), "perencana": ("perencana", {"city_kode": "99.01"}),
         "tim": ("tim_lapangan", {"city_kode": "99.01"}),
         "lurah_a": ("lurah", {"city_kode": "99.01", "kelurahan_kode": KEL_A}),
         "lurah_b": ("lurah", {"city_kode": "99.01", "kelurahan_kode": KEL_B}),
         "camat": ("camat", {"city_kode": "99.01", "kecamatan_kode": "99.01.01"})}


@pytest.fixture
def world(db_url, city_file, tmp_path):
    app = make_siting_app(db_url, city_file, tmp_path)
    clients = {name: signed_in(app, name.replace("_", "."), role, **area)
               for name, (role, area) in ROLES.items()}
    clients["anonymous"] = app.test_client()
    yield app, clients
    dispose_engine(app)


def waste_form(**fields) -> dict:
    values = {"sampah-rules": "tpst", "sampah-model": "pmedian", "sampah-sites": "1",
              "sampah-candidates": (io.BytesIO(CANDIDATES.encode()), "calon.csv")}
    return values | {f"sampah-{key}": value for key, value in fields.items()}


def run_to_end(app, client, form: dict, route: str = "/tapak/sampah") -> tuple[str, dict]:
    """Post the form, follow to the job, wait for the worker; the job id and its status."""
    response = client.post(route, data=form, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    job_id = re.search(r"/tapak/tugas/([0-9a-f]+)", response.headers["Location"]).group(1)
    siting_jobs(app).wait(job_id)
    status = client.get(f"/tapak/tugas/{job_id}.json")
    assert status.status_code == 200
    return job_id, status.get_json()


def count(app, model) -> int:
    with get_engine(app).connect() as conn:
        return len(conn.execute(model.__table__.select()).all())


def map_geojson_features(page: str) -> list[dict]:
    """Every GeoJSON feature embedded in a rendered Folium map script."""
    features = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r'\{"features": \[', page):
        collection, _ = decoder.raw_decode(page[match.start():])
        if collection.get("type") == "FeatureCollection":
            features += collection["features"]
    return features


def test_the_page_is_for_planners_only(world):
    _, clients = world
    statuses = {name: client.get("/tapak").status_code for name, client in clients.items()}
    assert statuses == {"admin": 200, "perencana": 200, "tim": 403, "lurah_a": 403,
                        "lurah_b": 403, "camat": 403, "anonymous": 302}
    page = clients["perencana"].get("/tapak").get_data(as_text=True)
    assert 'id="waste-form"' in page and 'id="towers-form"' in page
    assert "Belum ada skenario tersimpan" in page
    assert 'href="/tapak"' in page  # the nav link
    assert 'href="/tapak"' not in clients["lurah_a"].get(f"/kelurahan/{KEL_A}").get_data(
        as_text=True)
    refused = {name: clients[name].post("/tapak/sampah", data=waste_form()).status_code
               for name in ("tim", "lurah_a", "camat")}
    assert refused == {"tim": 403, "lurah_a": 403, "camat": 403}


def test_a_waste_run_goes_through_the_job_to_its_result_map(world):
    app, clients = world
    planner = clients["perencana"]
    job_id, status = run_to_end(app, planner, waste_form())
    assert status["state"] == "done"
    page = planner.get(f"/tapak/tugas/{job_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    sites = re.search(r'<table class="data" id="sites">(.*?)</table>', text, re.S).group(1)
    assert "TIMUR" in sites and "TEPI" not in sites and "BARAT" not in sites
    assert 'id="sensitivity"' in text
    features = map_geojson_features(text)
    exclusions = [f["properties"] for f in features if "aturan" in f["properties"]]
    assert exclusions and all(p["rules"] == ["sungai"] for p in exclusions)
    candidates = {f["properties"]["id"]: f["properties"] for f in features
                  if "alasan" in f["properties"]}
    assert set(candidates) == {"TEPI", "TIMUR", "BARAT"}
    assert candidates["TEPI"]["alasan"].startswith("sungai")
    assert candidates["TIMUR"]["alasan"] == "-"
    assert "Dikecualikan oleh aturan" in text  # the legend's section
    assert count(app, SitingScenario) == 0  # no name: not saved
    other = clients["admin"].get(f"/tapak/tugas/{job_id}.json")
    assert other.status_code == 200  # an admin may follow any job of the city
    assert clients["tim"].get(f"/tapak/tugas/{job_id}.json").status_code == 403


def test_an_infeasible_run_says_what_to_change_and_saves_nothing(world):
    app, clients = world
    planner = clients["perencana"]
    job_id, status = run_to_end(app, planner, waste_form(model="lscp", service_m="300",
                                                         save="Tidak mungkin"))
    assert status["state"] == "failed"
    assert "perbesar jarak layanan" in status["message"]
    page = planner.get(f"/tapak/tugas/{job_id}").get_data(as_text=True)
    assert 'id="job-error"' in page and "perbesar jarak layanan" in page
    assert count(app, SitingScenario) == 0
    english = planner.get(f"/tapak/tugas/{job_id}.json",
                          headers={"Accept-Language": "en"}).get_json()
    assert english["message"]


def test_a_candidate_file_outside_the_city_names_the_candidate(world):
    app, clients = world
    outside = CANDIDATES + "LUAR,1.7000,101.5000\n"
    _, status = run_to_end(app, clients["perencana"], waste_form(
        candidates=(io.BytesIO(outside.encode()), "calon.csv"), save="Luar"))
    assert status["state"] == "failed" and "LUAR" in status["message"]
    assert count(app, SitingScenario) == 0
    assert list(siting_jobs(app).folder.glob("calon-*")) == []  # the upload is removed


def test_a_tower_run_goes_through_the_job_to_its_sites(world):
    app, clients = world
    candidates = "id,latitude,longitude\nMENARA-1,1.6052,101.4052\n"
    job_id, status = run_to_end(app, clients["perencana"], {
        "menara-model": "lscp", "menara-radius_m": "500", "menara-as_of": "2024-04-30",
        "menara-candidates": (io.BytesIO(candidates.encode()), "menara.csv"),
        "menara-save": "Menara uji"}, route="/tapak/menara")
    assert status["state"] == "done"
    text = clients["perencana"].get(f"/tapak/tugas/{job_id}").get_data(as_text=True)
    sites = re.search(r'<table class="data" id="sites">(.*?)</table>', text, re.S).group(1)
    assert "MENARA-1" in sites
    circles = re.findall(r"L\.circle\(\s*\[[^\]]+\],\s*\{[^}]*\"radius\": 500\.0", text)
    assert len(circles) == 1
    with get_engine(app).connect() as conn:
        saved = conn.execute(SitingScenario.__table__.select()).one()
    assert (saved.kind, saved.name) == ("towers", "Menara uji")


def test_a_new_job_removes_the_files_of_jobs_older_than_a_week(world):
    app, clients = world
    jobs = siting_jobs(app)
    old, recent = jobs.folder / "0ld.json", jobs.folder / "2ecent.json"
    for path, age_days in ((old, 8), (recent, 6)):
        path.write_text("{}")
        stamp = time.time() - age_days * 24 * 3600
        os.utime(path, (stamp, stamp))
    job_id, status = run_to_end(app, clients["perencana"], waste_form())
    assert status["state"] == "done"
    assert (old.exists(), recent.exists(), jobs.read(job_id)["state"]) == (False, True, "done")


def test_a_job_whose_server_process_ended_is_answered_as_failed(world):
    app, clients = world
    ended = subprocess.Popen(["true"])
    ended.wait()
    (siting_jobs(app).folder / "abc123.json").write_text(json.dumps({
        "id": "abc123", "kind": "waste", "city": "99.01", "owner": "perencana",
        "state": "running", "started_at": "2026-01-01T00:00:00+00:00",
        "host": socket.gethostname(), "pid": ended.pid}))
    status = clients["perencana"].get("/tapak/tugas/abc123.json").get_json()
    assert status["state"] == "failed" and "jalankan lagi" in status["message"]
    page = clients["perencana"].get("/tapak/tugas/abc123").get_data(as_text=True)
    assert 'id="job-error"' in page and "tapak.js" not in page


def test_a_bad_form_is_refused_on_the_page(world):
    _, clients = world
    response = clients["perencana"].post("/tapak/sampah", data=waste_form(sites="nol"),
                                         content_type="multipart/form-data")
    assert response.status_code == 422
    assert 'id="waste-form"' in response.get_data(as_text=True)


def test_saved_scenarios_are_listed_compared_and_adopted(world):
    app, clients = world
    planner = clients["perencana"]
    _, first = run_to_end(app, planner, waste_form(save="Satu"))
    _, second = run_to_end(app, planner, waste_form(model="mclp", service_m="300",
                                                    save="Dua"))
    assert (first["state"], second["state"]) == ("done", "done")
    page = planner.get("/tapak").get_data(as_text=True)
    assert "Satu" in page and "Dua" in page and 'id="scenarios"' in page
    with get_engine(app).connect() as conn:
        ids = sorted(row.id for row in conn.execute(SitingScenario.__table__.select()))
    shown = planner.get(f"/tapak/skenario/{ids[0]}")
    assert shown.status_code == 200 and "TIMUR" in shown.get_data(as_text=True)
    compared = planner.get(f"/tapak/banding?a={ids[0]}&b={ids[1]}")
    assert compared.status_code == 200
    assert 'id="comparison"' in compared.get_data(as_text=True)
    before = count(app, Facility)
    adopted = planner.post(f"/tapak/skenario/{ids[0]}/adopsi", data={"type": "tps3r"})
    assert adopted.status_code == 302
    assert count(app, Facility) == before + 1
    planner.post(f"/tapak/skenario/{ids[0]}/adopsi", data={"type": "tps3r"})
    assert count(app, Facility) == before + 1  # adopting twice adds nothing


def test_a_rerun_is_a_job_saved_linked_to_the_old_scenario(world):
    app, clients = world
    planner = clients["perencana"]
    run_to_end(app, planner, waste_form(save="Awal"))
    with get_engine(app).connect() as conn:
        old = conn.execute(SitingScenario.__table__.select()).one()
    response = planner.post(f"/tapak/skenario/{old.id}/ulang")
    job_id = re.search(r"/tapak/tugas/([0-9a-f]+)", response.headers["Location"]).group(1)
    assert siting_jobs(app).wait(job_id)["state"] == "done"
    with get_engine(app).connect() as conn:
        rows = conn.execute(SitingScenario.__table__.select()
                            .order_by(SitingScenario.__table__.c.id)).all()
    assert [row.parent_id for row in rows] == [None, old.id]


def test_lurah_see_only_the_plans_touching_their_kelurahan(world):
    app, clients = world
    # one site (TIMUR, kelurahan B) reaching 300 m: touches B, not A
    _, status = run_to_end(app, clients["perencana"], waste_form(
        model="mclp", service_m="300", save="Dekat TIMUR"))
    assert status["state"] == "done"
    page_b = clients["lurah_b"].get(f"/kelurahan/{KEL_B}").get_data(as_text=True)
    page_a = clients["lurah_a"].get(f"/kelurahan/{KEL_A}").get_data(as_text=True)
    plans_b = re.search(r'<table class="data" id="plans">(.*?)</table>', page_b, re.S)
    assert plans_b and "Dekat TIMUR" in plans_b.group(1) and "TIMUR (" in plans_b.group(1)
    assert "Dekat TIMUR" not in page_a and 'id="plans"' not in page_a
    camat = clients["camat"].get(f"/kelurahan/{KEL_B}").get_data(as_text=True)
    assert "Dekat TIMUR" in camat
    assert "<form" not in plans_b.group(1)  # read-only


def test_the_sensitivity_table_has_one_row_per_p_and_a_column_per_distance():
    rows = [{"p": p, "service_m": s, "objective": 1.0, "demand_covered": p * s / 1000,
             "status": "optimal"} for p in (1, 2) for s in (1500.0, 750.0, 3000.0)]
    table = sensitivity_table(rows)
    assert table["services"] == [750.0, 1500.0, 3000.0]
    assert [row["p"] for row in table["rows"]] == [1, 2]
    assert [cell["demand_covered"] for cell in table["rows"][1]["cells"]] == [1.5, 3.0, 6.0]
