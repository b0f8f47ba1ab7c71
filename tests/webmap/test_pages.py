"""City map and kelurahan pages: served with local assets only, figures from the analysis."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.webmap.conftest import KEL_A, KEL_B, external_assets, make_app, signed_in
from tests.webmap.test_analysis_cli import MARCH
from webmap.db import dispose_engine

#: Good 3G signal of operator XL at one spot of kelurahan B (A has Telkomsel 4G no-service rows).
THREE_G = [f"1.6050,101.4150,2024-03-0{d}T11:00:00,XL,3G,-70,false,dev-x{d}" for d in range(1, 6)]


@pytest.fixture
def app(db_url, city_file, tmp_path):
    app = make_app(db_url, city_file, tmp_path, rows=MARCH)
    yield app
    dispose_engine(app)


@pytest.fixture
def mixed_client(db_url, city_file, tmp_path):
    """A planner of the city with 4G no-service rows in A and good 3G rows in B."""
    app = make_app(db_url, city_file, tmp_path, rows=[*MARCH, *THREE_G])
    yield signed_in(app, "rina", "perencana")
    dispose_engine(app)


def test_city_map_uses_local_assets_and_lists_kelurahan(client):
    response = client.get("/peta")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert external_assets(html) == []
    assert "/static/vendor/leaflet/" in html and "L.map(" in html
    assert KEL_A in html and KEL_B in html and "ada blank spot" in html
    assert 'lang="id"' in html


def test_kelurahan_page_shows_its_blank_spot(client):
    response = client.get(f"/kelurahan/{KEL_A}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sungai Uji" in html and "ada blank spot" in html
    assert external_assets(html) == []
    assert "data-print" in html and "js/print-button.js" in html  # printing without inline JS
    assert '<p id="blank-spot-totals">1 blank spot di kelurahan ini' in html


def test_unknown_kelurahan_is_404(client):
    response = client.get("/kelurahan/99.01.01.9999")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "99.01.01.9999" in html and "Tidak ditemukan" in html and response.mimetype == "text/html"


def test_anonymous_is_sent_to_login(app):
    response = app.test_client().get("/peta")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_lurah_sees_own_kelurahan_only(app):
    lurah = signed_in(app, "lurah.a", "lurah", kelurahan_kode=KEL_A)
    assert lurah.get(f"/kelurahan/{KEL_A}").status_code == 200
    refused = lurah.get(f"/kelurahan/{KEL_B}")
    assert refused.status_code == 403 and b"Sungai" not in refused.data
    assert lurah.get("/peta").status_code == 403


# --- city map: filters, surface, language, search ----------------------------------------------

_ROW = re.compile(r'<tr><td><a href="[^"]+">([\d.]+)</a></td>\s*<td>[^<]*</td>\s*'
                  r'<td class="status-\w+">([^<]*)</td>' + r'\s*<td class="n">([^<]*)</td>' * 4)


def kelurahan_table(html: str) -> dict[str, dict[str, str]]:
    """The city map's kelurahan table: code -> status and figures as shown."""
    return {m[0]: {"status": m[1], "blank_cells": m[2], "blank_km2": m[3], "measured": m[4],
                   "covered": m[5]} for m in _ROW.findall(html)}


def test_technology_filter_changes_the_figures(mixed_client):
    every = mixed_client.get("/peta").get_data(as_text=True)
    four_g = mixed_client.get("/peta?technology=4G").get_data(as_text=True)
    three_g = mixed_client.get("/peta?technology=3g").get_data(as_text=True)
    assert "10 pengukuran" in every and "5 pengukuran" in four_g
    assert "10 pengukuran" in three_g  # 3G rows and the no-service rows (no 3G there either)
    tables = {name: kelurahan_table(html) for name, html in
              (("all", every), ("4G", four_g), ("3G", three_g))}
    assert {name: set(table) for name, table in tables.items()} == {
        name: {KEL_A, KEL_B} for name in tables}
    assert tables["4G"][KEL_B]["measured"] == "0,0"  # no 4G in B
    assert tables["3G"][KEL_B]["measured"] == tables["all"][KEL_B]["measured"] != "0,0"
    assert all(table[KEL_A]["status"] == "ada blank spot" for table in tables.values())
    assert '<option value="3G" selected>' in three_g and "teknologi 3G" in three_g


def test_unknown_technology_is_refused(mixed_client):
    response = mixed_client.get("/peta?technology=6G", headers={"Accept": "application/json"})
    assert response.status_code == 422 and "6G" in response.get_json()["error"]


def test_operator_select_lists_the_measured_operators_and_filters(mixed_client):
    html = mixed_client.get("/peta").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]*)"[^>]*>', html[html.index('name="operator"'):
                                                              html.index('name="technology"')])
    assert options == ["", "Telkomsel", "XL"]
    xl = mixed_client.get("/peta?operator=XL")
    assert xl.status_code == 200
    table = kelurahan_table(xl.get_data(as_text=True))
    assert table[KEL_A]["status"] == "belum cukup data"  # XL never measured A
    assert '<option value="XL" selected>' in xl.get_data(as_text=True)


def test_surface_png_is_served_with_the_map_filters(client):
    html = client.get("/peta?technology=4G").get_data(as_text=True)
    assert "/peta/surface.png?city=99.01\\u0026technology=4G" in html
    response = client.get("/peta/surface.png?city=99.01&technology=4G")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    again = client.get("/peta/surface.png?city=99.01&technology=4G",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_surface_png_is_refused_to_a_lurah(app):
    lurah = signed_in(app, "lurah.a", "lurah", kelurahan_kode=KEL_A)
    response = lurah.get("/peta/surface.png")
    assert response.status_code == 403 and not response.data.startswith(b"\x89PNG")
    anonymous = app.test_client().get("/peta/surface.png")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_city_map_in_english(client):
    english = client.get("/peta?lang=en").get_data(as_text=True)
    assert 'lang="en"' in english
    assert '"area_km2": "1.23"' in english  # map popups: English numbers
    assert kelurahan_table(english)[KEL_A]["blank_km2"] == "0.12"
    indonesian = client.get("/peta?lang=id").get_data(as_text=True)  # not the cached English map
    assert '"area_km2": "1,23"' in indonesian
    assert kelurahan_table(indonesian)[KEL_A]["blank_km2"] == "0,12"


def test_search_index_has_bounds_for_every_kelurahan(client):
    html = client.get("/peta").get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="kelurahan-index">(.*?)</script>',
                      html, re.S)
    index = {k["kode"]: k for k in json.loads(found.group(1))}
    assert set(index) == {KEL_A, KEL_B}
    squares = {KEL_A: (101.40, 1.60, 101.41, 1.61), KEL_B: (101.41, 1.60, 101.42, 1.61)}
    for kode, (west, south, east, north) in squares.items():
        assert np.allclose(index[kode]["bounds"], [[south, west], [north, east]], atol=1e-5)
        assert index[kode]["url"] == f"/kelurahan/{kode}"
    assert index[KEL_A]["nama"] == "Sungai Uji"
    assert "fitBounds(k.bounds)" in html and '<datalist id="kelurahan-list">' in html
