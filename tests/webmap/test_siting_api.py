"""The siting API (``/api/tapak/...``) on the test city (SQLite and PostGIS): who may run, read,
export and adopt; what a run and a saved scenario answer.  The GET routes are in the two-city
permission matrix too (tests/webmap/test_permission_matrix.py)."""
from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from tests.webmap.conftest import KEL_A, KEL_B, signed_in
from tests.webmap.test_scenarios import CANDIDATES, make_siting_app
from webmap.db import dispose_engine, get_engine
from webmap.models import Facility, SitingScenario

KECAMATAN = "99.01.01"
ROLES = {"admin": ("admin", {}), "perencana": ("perencana", {"city_kode": "99.01"}),
         "tim": ("tim_lapangan", {"city_kode": "99.01"}),
         "lurah_a": ("lurah", {"city_kode": "99.01", "kelurahan_kode": KEL_A}),
         "lurah_b": ("lurah", {"city_kode": "99.01", "kelurahan_kode": KEL_B}),
         "camat": ("camat", {"city_kode": "99.01", "kecamatan_kode": KECAMATAN})}
#: A plan whose one site (TIMUR, kelurahan B) reaches 300 m: it touches B and its kecamatan.
NEAR = {"model": "mclp", "service_m": 300, "save": "Dekat"}


def candidates_geojson() -> dict:
    rows = [line.split(",") for line in CANDIDATES.strip().splitlines()[1:]]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": name},
         "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]}}
        for name, lat, lon in rows]}


@pytest.fixture
def world(db_url, city_file, tmp_path):
    app = make_siting_app(db_url, city_file, tmp_path)
    clients = {name: signed_in(app, name.replace("_", "."), role, **area)
               for name, (role, area) in ROLES.items()}
    clients["anonymous"] = app.test_client()
    yield app, clients
    dispose_engine(app)


def count(app, model) -> int:
    with get_engine(app).connect() as conn:
        return len(conn.execute(model.__table__.select()).all())


def near_plan(clients) -> dict:
    response = clients["perencana"].post("/api/tapak/waste",
                                         json=NEAR | {"candidates": candidates_geojson()})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_runs_are_for_planners_only_and_a_refused_run_saves_nothing(world):
    app, clients = world
    body = {"candidates": candidates_geojson(), "save": "Coba"}
    statuses = {name: clients[name].post("/api/tapak/waste", json=body).status_code
                for name in (*ROLES, "anonymous")}
    assert statuses == {"admin": 200, "perencana": 200, "tim": 403, "lurah_a": 403,
                        "lurah_b": 403, "camat": 403, "anonymous": 401}
    assert count(app, SitingScenario) == 2  # the admin's run and the planner's
    other_city = clients["perencana"].post("/api/tapak/waste?city=99.02", json=body)
    infeasible = clients["perencana"].post("/api/tapak/waste", json=body | {
        "model": "lscp", "service_m": 300})
    bad_number = clients["perencana"].post("/api/tapak/waste", json=body | {"sites": "dua"})
    assert (other_city.status_code, infeasible.status_code, bad_number.status_code) == (
        403, 400, 422)
    assert "perbesar jarak layanan" in infeasible.get_json()["error"]
    assert bad_number.get_json()["error"] == "sites must be a number, not 'dua'."
    assert count(app, SitingScenario) == 2


def test_a_waste_run_answers_with_the_cli_keys(world):
    _, clients = world
    response = clients["perencana"].post("/api/tapak/waste",
                                         json={"candidates": candidates_geojson()})
    answer = response.get_json()
    assert {"model", "status", "objective", "distance", "sites", "candidates", "demand_total",
            "demand_covered", "sensitivity"} <= set(answer)
    assert (answer["model"], answer["status"], answer["distance"]) == ("pmedian", "optimal",
                                                                      "straight")
    assert [s["id"] for s in answer["sites"]] == ["TIMUR"]
    assert [(c["id"], c["eligible"]) for c in answer["candidates"]] == [
        ("TEPI", False), ("TIMUR", True), ("BARAT", True)]
    assert "scenario" not in answer


def test_tower_runs_for_planners_only(world):
    _, clients = world
    body = {"radius_m": 500, "as_of": "2024-04-30", "candidates": {
        "type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
            "id": "MENARA-1"}, "geometry": {"type": "Point", "coordinates": [101.4052, 1.6052]}}]},
        "save": "Menara"}
    statuses = {name: clients[name].post("/api/tapak/towers", json=body).status_code
                for name in ("tim", "lurah_a", "camat", "anonymous")}
    assert statuses == {"tim": 403, "lurah_a": 403, "camat": 403, "anonymous": 401}
    answer = clients["perencana"].post("/api/tapak/towers", json=body).get_json()
    assert [s["id"] for s in answer["sites"]] == ["MENARA-1"]
    assert answer["scenario"]["kind"] == "towers"
    export = clients["lurah_a"].get(f"/api/tapak/scenarios/{answer['scenario']['id']}"
                                    "/export.xlsx?lang=en")
    assert export.status_code == 200
    header, row = list(load_workbook(io.BytesIO(export.data)).active.iter_rows(
        values_only=True))
    values = dict(zip(header, row, strict=True))
    assert values["site_id"] == "MENARA-1" and values["measurements"] == 5


def test_reading_scenarios_is_scoped_to_the_area(world):
    _, clients = world
    near = near_plan(clients)["scenario"]
    assert near["area_codes"] == [KECAMATAN, KEL_B]

    def listed(name: str) -> tuple[int, list[int]]:
        response = clients[name].get("/api/tapak/scenarios")
        ids = [row["id"] for row in response.get_json()["items"]] if response.is_json and \
            response.status_code == 200 else []
        return response.status_code, ids

    assert {name: listed(name) for name in (*ROLES, "anonymous")} == {
        "admin": (200, [near["id"]]), "perencana": (200, [near["id"]]), "tim": (403, []),
        "lurah_a": (200, []), "lurah_b": (200, [near["id"]]), "camat": (200, [near["id"]]),
        "anonymous": (401, [])}
    for suffix in ("", ".geojson", "/export.csv", "/export.geojson"):
        url = f"/api/tapak/scenarios/{near['id']}{suffix}"
        statuses = {name: clients[name].get(url).status_code for name in (*ROLES, "anonymous")}
        assert statuses == {"admin": 200, "perencana": 200, "tim": 403, "lurah_a": 403,
                            "lurah_b": 200, "camat": 200, "anonymous": 401}, url
    sites = clients["lurah_b"].get(f"/api/tapak/scenarios/{near['id']}.geojson").get_json()
    feature, = sites["features"]
    assert feature["properties"]["id"] == "TIMUR"
    assert feature["geometry"]["coordinates"] == pytest.approx([101.417, 1.6085])
    csv = clients["camat"].get(f"/api/tapak/scenarios/{near['id']}/export.csv").get_data(
        as_text=True)
    assert csv.splitlines()[0].startswith("no,id_lokasi,lintang,bujur,kode_kelurahan")
    assert clients["perencana"].get(f"/api/tapak/scenarios/{near['id']}/export.pdf"
                                    ).status_code == 404
    assert clients["perencana"].get("/api/tapak/scenarios/999").status_code == 404


def test_adopting_is_for_planners_and_happens_once(world):
    app, clients = world
    near = near_plan(clients)["scenario"]
    url = f"/api/tapak/scenarios/{near['id']}/adopt"
    refused = {name: clients[name].post(url, json={}).status_code
               for name in ("tim", "lurah_b", "camat", "anonymous")}
    assert refused == {"tim": 403, "lurah_b": 403, "camat": 403, "anonymous": 401}
    before = count(app, Facility)
    first = clients["perencana"].post(url, json={"type": "tps3r"}).get_json()
    again = clients["admin"].post(url, json={"type": "tps3r"}).get_json()
    assert (first["created"], again["created"], first["type"]) == (1, 0, "tps3r")
    assert count(app, Facility) == before + 1
    wrong = clients["perencana"].post(url, json={"type": "sekolah"})
    assert wrong.status_code == 422 and "tps3r" in wrong.get_json()["error"]


def test_the_openapi_document_names_the_siting_routes(world):
    _, clients = world
    paths = clients["anonymous"].get("/api/openapi.json").get_json()["paths"]
    assert {"/api/tapak/waste", "/api/tapak/towers", "/api/tapak/scenarios",
            "/api/tapak/scenarios/{scenario_id}", "/api/tapak/scenarios/{scenario_id}.geojson",
            "/api/tapak/scenarios/{scenario_id}/export.{fmt}",
            "/api/tapak/scenarios/{scenario_id}/adopt"} <= set(paths)
    assert set(paths["/api/tapak/waste"]) == {"post"}
    json.dumps(paths)
