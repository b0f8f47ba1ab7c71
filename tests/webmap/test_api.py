"""The JSON API: role-scoped, paginated, JSON errors, OpenAPI document."""
from __future__ import annotations

import pytest

from tests.webmap.conftest import KEL_A, KEL_B, PASSWORD, make_app, signed_in
from tests.webmap.test_analysis_cli import MARCH
from webmap import accounts
from webmap.db import dispose_engine, get_engine


@pytest.fixture
def app(db_url, city_file, tmp_path):
    """The two-square city with March's blank spot in kelurahan A, uploaded by ``budi``."""
    app = make_app(db_url, city_file, tmp_path, rows=MARCH, uploader="budi")
    yield app
    dispose_engine(app)


def test_planner_lists_every_kelurahan_with_figures(app):
    client = signed_in(app, "rina", "perencana")
    body = client.get("/api/kelurahan").get_json()
    assert body["total"] == 2 and body["boundary_version"] == 1
    rows = {row["kode"]: row for row in body["items"]}
    assert rows[KEL_A]["status"] == "ada blank spot" and rows[KEL_B]["blank_cells"] == 0


def test_lurah_gets_own_kelurahan_only(app):
    lurah = signed_in(app, "lurah.a", "lurah", kelurahan_kode=KEL_A)
    assert [r["kode"] for r in lurah.get("/api/kelurahan").get_json()["items"]] == [KEL_A]
    assert lurah.get(f"/api/kelurahan/{KEL_A}").status_code == 200
    for url in (f"/api/kelurahan/{KEL_B}", f"/api/kelurahan/{KEL_B}/blankspots.geojson",
                f"/api/cells?kelurahan={KEL_B}", f"/api/facilities.geojson?kelurahan={KEL_B}",
                "/api/cells", "/api/progress", "/api/uploads"):
        response = lurah.get(url)
        assert response.status_code == 403, url
        assert "error" in response.get_json() and b"Bukit Uji" not in response.data


def test_bearer_token_and_anonymous(app):
    engine = get_engine(app)
    accounts.create_user(engine, username="portal", password=PASSWORD,
                         role="perencana")
    _, token = accounts.create_token(engine, "portal", name="SPBE")
    client = app.test_client()
    assert client.get("/api/kelurahan").status_code == 401
    response = client.get("/api/cells?per_page=1",
                          headers={"Authorization": f"Bearer {token}"})
    body = response.get_json()
    assert response.status_code == 200 and body["per_page"] == 1 and len(body["items"]) == 1
    assert body["items"][0]["status"] == "blank"


def test_field_team_sees_own_uploads(app):
    assert signed_in(app, "budi", "tim_lapangan").get("/api/uploads").get_json()["total"] == 1
    assert signed_in(app, "ani", "tim_lapangan").get("/api/uploads").get_json()["total"] == 0


def test_blank_spots_geojson_and_openapi(app):
    client = signed_in(app, "rina", "perencana")
    geojson = client.get(f"/api/kelurahan/{KEL_A}/blankspots.geojson")
    assert geojson.mimetype == "application/geo+json"
    assert geojson.get_json()["type"] == "FeatureCollection"
    assert len(geojson.get_json()["features"]) == 1  # March's one blank spot in kelurahan A
    other = client.get(f"/api/kelurahan/{KEL_B}/blankspots.geojson").get_json()
    assert other["type"] == "FeatureCollection" and other["features"] == []  # B is covered
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/kelurahan/{kode}" in spec["paths"]


def test_bad_page_is_a_json_error(app):
    response = signed_in(app, "rina", "perencana").get("/api/cells?page=abc")
    assert response.status_code == 422 and "page" in response.get_json()["error"]


def test_blank_spot_on_the_border_is_split_between_the_kelurahan(db_url, city_file, tmp_path):
    """No service on both sides of the A|B border: one blank spot, a piece in each kelurahan
    with its own area, and each kelurahan's figures are those of its piece."""
    rows = [f"1.6050,{lon},2024-03-0{d}T10:00:00,Telkomsel,4G,,true,dev-{d}"
            for lon in (101.4095, 101.4105) for d in range(1, 6)]
    app = make_app(db_url, city_file, tmp_path, rows=rows)
    try:
        client = signed_in(app, "rina", "perencana")
        pieces = {kode: client.get(f"/api/kelurahan/{kode}/blankspots.geojson").get_json()
                  ["features"] for kode in (KEL_A, KEL_B)}
        figures = {row["kode"]: row for row in client.get("/api/kelurahan").get_json()["items"]}
    finally:
        dispose_engine(app)
    assert len(pieces[KEL_A]) == len(pieces[KEL_B]) == 1
    a, b = (pieces[kode][0]["properties"] for kode in (KEL_A, KEL_B))
    assert a["blank_spot_id"] == b["blank_spot_id"] and a["id"] != b["id"]
    assert (a["kelurahan_kode"], b["kelurahan_kode"]) == (KEL_A, KEL_B)
    # the readings sit symmetrically 55 m either side of the border: two pieces alike in size
    assert a["area_km2"] == pytest.approx(b["area_km2"], rel=0.1)
    assert a["samples"] == b["samples"] == 5
    for kode, piece in ((KEL_A, a), (KEL_B, b)):
        assert figures[kode]["blank_spots"] == 1
        assert figures[kode]["blank_spot_area_km2"] == pytest.approx(piece["area_km2"])
