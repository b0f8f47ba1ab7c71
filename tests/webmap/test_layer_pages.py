"""``/lapisan``: the city's constraint layers, upload with a row-level report, permissions."""
from __future__ import annotations

import io
import re

import pytest

import geopandas as gpd
from shapely.geometry import LineString, Point, box

from tests.webmap.conftest import (KEL_A, csrf_token, figure, make_app, signed_in,
                                   signed_in_through_form)
from webmap.db import dispose_engine

ROAD = LineString([(101.401, 1.601), (101.419, 1.609)])


@pytest.fixture
def app(db_url, city_file, tmp_path):
    application = make_app(db_url, city_file, tmp_path)
    yield application
    dispose_engine(application)


def layer_file(tmp_path, name, geometries, **columns) -> bytes:
    path = tmp_path / name
    gpd.GeoDataFrame(columns, geometry=list(geometries), crs="EPSG:4326").to_file(path)
    return path.read_bytes()


def upload(client, content: bytes, filename: str, kind: str, **fields):
    return client.post("/lapisan", data={"file": (io.BytesIO(content), filename), "kind": kind,
                                         **fields}, content_type="multipart/form-data")


def table_rows(html: str) -> list[list[str]]:
    body = html.split('id="layers"', 1)[1].split("</table>", 1)[0]
    return [re.findall(r"<td[^>]*>([^<]*)", row) for row in re.findall(r"<tr class.*?</tr>", body,
                                                                       re.S)]


def test_upload_shows_the_report_and_the_list(app, tmp_path):
    client = signed_in(app, "rina", "perencana")
    content = layer_file(tmp_path, "jalan.geojson", [ROAD, Point(101.41, 1.605)],
                         nama=["Jl. <b>Sudirman</b>", "Titik"])
    response = upload(client, content, "jalan kota.geojson", "jalan", name="Jalan kota")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:2000]
    assert (figure(html, "rows"), figure(html, "accepted"), figure(html, "rejected")) == (
        "2", "1", "1")
    assert "berupa Point; lapisan jalan hanya menerima garis" in html
    assert table_rows(html)[0][:5] == ["Jalan", "Jalan kota", "1", "aktif", "1"]
    assert "<script>" not in html.split('id="report"', 1)[1]
    assert " on" + "click=" not in html


def test_replacing_a_kind_lists_the_previous_version(app, tmp_path):
    client = signed_in(app, "rina", "perencana")
    plot = box(101.405, 1.602, 101.408, 1.604)
    upload(client, layer_file(tmp_path, "a.geojson", [plot]), "a.geojson", "lahan")
    response = upload(client, layer_file(tmp_path, "b.geojson", [plot, plot.buffer(0.001)]),
                      "b.geojson", "lahan")
    html = response.get_data(as_text=True)
    assert "menggantikan versi 1, yang tetap disimpan" in html
    rows = table_rows(html)
    assert [row[:5] for row in rows] == [
        ["Lahan yang dapat dipakai (lahan pemerintah, persil)", "b.geojson", "2", "aktif", "2"],
        ["Lahan yang dapat dipakai (lahan pemerintah, persil)", "a.geojson", "1", "versi lama",
         "1"]]
    old = re.findall(r'href="(/lapisan/\d+)"', html)[1]
    report = client.get(old).get_data(as_text=True)
    assert figure(report, "version") == "1" and figure(report, "accepted") == "1"


def test_a_refused_file_shows_why_and_stores_nothing(app, tmp_path):
    client = signed_in(app, "rina", "perencana")
    response = upload(client, layer_file(tmp_path, "x.geojson", [Point(101.41, 1.605)]),
                      "x.geojson", "kawasan_lindung")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "File tidak dapat diimpor; tidak ada yang disimpan." in html
    assert "berupa Point; lapisan kawasan_lindung hanya menerima area (poligon)" in html
    assert "Belum ada lapisan" in html


def test_the_page_in_english(app, tmp_path):
    client = signed_in(app, "rina", "perencana")
    content = layer_file(tmp_path, "s.geojson", [ROAD, None])
    upload(client, content, "s.geojson", "sungai")
    html = client.get("/lapisan?lang=en").get_data(as_text=True)
    assert "Constraint layers" in html and "Rivers" in html
    response = client.post("/lapisan?lang=en", data={
        "file": (io.BytesIO(content), "s2.geojson"), "kind": "sungai", "name": "x"},
        content_type="multipart/form-data")
    assert "empty geometry" in response.get_data(as_text=True)


@pytest.mark.parametrize("role, area", [("lurah", {"kelurahan_kode": KEL_A}),
                                        ("camat", {"kecamatan_kode": "99.01.01"}),
                                        ("tim_lapangan", {})])
def test_other_roles_are_refused(app, tmp_path, role, area):
    client = signed_in(app, f"user_{role}", role, **area)
    assert client.get("/lapisan").status_code == 403
    response = upload(client, layer_file(tmp_path, "j.geojson", [ROAD]), "j.geojson", "jalan")
    assert response.status_code == 403
    assert client.get("/lapisan/1").status_code == 403


def test_anonymous_users_are_sent_to_sign_in(app):
    response = app.test_client().get("/lapisan")
    assert response.status_code in (302, 401)


def test_admins_see_the_page_and_the_nav_link(app):
    client = signed_in(app, "root", "admin")
    html = client.get("/lapisan?city=99.01").get_data(as_text=True)
    assert 'href="/lapisan' in html and "Lapisan kendala Kota Uji" in html


def test_the_form_needs_its_csrf_token(db_url, city_file, tmp_path):
    app = make_app(db_url, city_file, tmp_path, WTF_CSRF_ENABLED=True)
    try:
        client = signed_in_through_form(app, "rina", "perencana")
        content = layer_file(tmp_path, "j.geojson", [ROAD])
        refused = upload(client, content, "j.geojson", "jalan")
        assert refused.status_code == 400
        token = csrf_token(client.get("/lapisan").get_data(as_text=True))
        accepted = upload(client, content, "j.geojson", "jalan", csrf_token=token)
        assert accepted.status_code == 200 and figure(accepted.get_data(as_text=True),
                                                      "accepted") == "1"
    finally:
        dispose_engine(app)
