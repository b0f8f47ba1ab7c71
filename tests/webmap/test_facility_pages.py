"""Facility pages: list and map scoped by role, add/edit with validation, import with a report."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

import geopandas as gpd
from shapely.geometry import Point

from tests.webmap.conftest import (KEL_A, KEL_B, csrf_token, external_assets, figure, make_app,
                                   signed_in, signed_in_through_form)
from tests.webmap.test_facilities_db import CSV
from webmap.db import dispose_engine, get_engine
from webmap.models import Facility, Upload

#: A valid point in KEL_A (the square 101.40..101.41 x 1.60..1.61).
IN_A = {"latitude": "1.603", "longitude": "101.403"}
#: Four rows; row 4 (the third data line) has an unknown type.
IMPORT_CSV = """nama,jenis,lintang,bujur,kondisi,pengelola,kapasitas_ton
Bank Sampah Melati,bank sampah,1.6021,101.4021,ada,PKK,"0,5"
Puskesmas Uji,puskesmas,1.6081,101.4181,ada,Dinkes,
Menara Hantu,piramida,1.6051,101.4051,ada,,
TPS3R Bukit,TPS3R,1.6011,101.4111,rencana,KSM Bukit,12
"""


@pytest.fixture
def app(db_url, city_file, tmp_path):
    """The two-square city with the three facilities of ``test_facilities_db.CSV``."""
    app = make_app(db_url, city_file, tmp_path, facilities=CSV)
    yield app
    dispose_engine(app)


def stored(app) -> dict[str, dict]:
    with get_engine(app).connect() as conn:
        rows = conn.execute(sa.select(Facility.__table__))
        return {r.nama: dict(r._mapping) for r in rows}


def api_features(client, **params) -> dict[str, dict]:
    response = client.get("/api/facilities.geojson", query_string=params)
    assert response.status_code == 200
    return {f["properties"]["nama"]: f["properties"] for f in response.get_json()["features"]}


def table_names(html: str) -> list[str]:
    body = html.split('id="facilities"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", body)


def new_facility(**values) -> dict[str, str]:
    return {"type": "tps", "nama": "TPS Baru", "status": "existing", "operator": "DLH",
            "capacity": "3,5", **IN_A, **values}


def import_file(client, text: str, name: str = "fasilitas_baru.csv", **form):
    return client.post("/fasilitas/impor", data={"file": (io.BytesIO(text.encode()), name),
                                                 **form}, content_type="multipart/form-data")


# --- list and map --------------------------------------------------------------------------------

def test_list_shows_every_facility_on_map_and_table(planner):
    response = planner.get("/fasilitas")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert sorted(table_names(html)) == ["Menara Bukit", "SD Negeri 1", "TPS Pasar Uji"]
    assert "L.map(" in html and "/static/vendor/leaflet/" in html
    assert external_assets(html) == []
    assert "fa-tower-cell" in html and "Legenda" in html  # per-type icon and legend
    assert "BTS (menara seluler)" in html and "Rencana" in html and "Telkomsel" in html
    assert "2,5" in html and "1,605000" in html  # capacity and latitude in Indonesian format
    assert html.count("/ubah") == 3 and "/fasilitas/baru" in html and "/fasilitas/impor" in html


def test_list_in_english_uses_english_numbers(planner):
    html = planner.get("/fasilitas?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html and "1.605000" in html and "2.5" in html


def test_list_filters_by_type_kelurahan_and_status(planner):
    def names(**args):
        return sorted(table_names(planner.get("/fasilitas", query_string=args)
                                  .get_data(as_text=True)))

    assert names(type="bts") == ["Menara Bukit"]
    assert names(kelurahan=KEL_A) == ["SD Negeri 1", "TPS Pasar Uji"]
    assert names(status="planned") == ["Menara Bukit"]
    assert names(type="tps", kelurahan=KEL_B) == []


def test_list_is_paginated(planner, app, monkeypatch):
    from webmap import facility_pages

    monkeypatch.setattr(facility_pages, "PER_PAGE", 2)
    first = planner.get("/fasilitas").get_data(as_text=True)
    second = planner.get("/fasilitas?page=2").get_data(as_text=True)
    assert len(table_names(first)) == 2 and len(table_names(second)) == 1
    assert "page=2" in first and "3 fasilitas" in first


def test_lurah_sees_only_own_kelurahan(app):
    lurah = signed_in(app, "lurah.a", "lurah", kelurahan_kode=KEL_A)
    response = lurah.get("/fasilitas")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert sorted(table_names(html)) == ["SD Negeri 1", "TPS Pasar Uji"]
    assert "Menara Bukit" not in html and KEL_B not in html  # not in the map either
    assert "/ubah" not in html and "/fasilitas/baru" not in html
    refused = lurah.get("/fasilitas", query_string={"kelurahan": KEL_B})
    assert refused.status_code == 403 and b"Menara Bukit" not in refused.data


def test_camat_sees_the_whole_kecamatan(app):
    camat = signed_in(app, "camat", "camat", kecamatan_kode="99.01.01")
    html = camat.get("/fasilitas").get_data(as_text=True)
    assert sorted(table_names(html)) == ["Menara Bukit", "SD Negeri 1", "TPS Pasar Uji"]


def test_facility_map_is_a_pure_function():
    from webmap import maps
    from webmap.maps import facility_map

    kelurahan = gpd.GeoDataFrame({"kode": [KEL_A], "nama": ["Sungai Uji"]},
                                 geometry=[Point(101.405, 1.605).buffer(0.005)], crs="EPSG:4326")
    facilities = gpd.GeoDataFrame({"type": ["sekolah", "zzz"], "nama": ["SD 1", "Aneh"],
                                   "status": ["existing", "planned"]},
                                  geometry=[Point(101.401, 1.601), Point(101.402, 1.602)],
                                  crs="EPSG:4326")
    parts = maps.map_components(facility_map(kelurahan, facilities, tile_url=None))
    assert "fa-school" in parts["script"] + parts["html"] + parts["header"]
    assert "Sungai Uji" in parts["script"] and "Lainnya" in parts["script"]
    empty = maps.map_components(facility_map(kelurahan, facilities.iloc[:0]))
    assert "Fasilitas" not in empty["script"]


# --- add and edit --------------------------------------------------------------------------------

def test_add_creates_a_facility_visible_in_the_api(app, planner):
    assert "TPS Baru" not in api_features(planner)  # the overview is cached before the change
    response = planner.post("/fasilitas/baru", data=new_facility())
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    row = stored(app)["TPS Baru"]
    assert (row["type"], row["status"], row["operator"], row["capacity"]) == \
        ("tps", "existing", "DLH", 3.5)
    assert row["kelurahan_kode"] == KEL_A and row["latitude"] == 1.603
    feature = api_features(planner)["TPS Baru"]
    assert feature["kelurahan_kode"] == KEL_A and feature["type"] == "tps"
    listed = planner.get(response.headers["Location"]).get_data(as_text=True)
    assert "TPS Baru" in listed and "disimpan" in listed


def test_add_is_audited_and_archived(app, planner, tmp_path):
    assert planner.post("/fasilitas/baru", data=new_facility()).status_code == 302
    facility = stored(app)["TPS Baru"]
    with get_engine(app).connect() as conn:
        upload = conn.execute(sa.select(Upload.__table__)
                              .where(Upload.id == facility["upload_id"])).one()._mapping
    assert (upload["kind"], upload["uploaded_by"], upload["format"]) == \
        ("facility_edit", "rina", "form")
    document = json.loads(Path(upload["archive_path"]).read_text())
    assert document["action"] == "create" and document["facility_id"] == facility["id"]
    assert document["after"]["nama"] == "TPS Baru" and document["before"] is None
    assert Path(upload["archive_path"]).is_relative_to(tmp_path / "archive")


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"latitude": "95"}, "latitude", "Lintang harus antara -90 dan 90 derajat."),
    ({"longitude": "-200"}, "longitude", "Bujur harus antara -180 dan 180 derajat."),
    ({"latitude": "utara"}, "latitude", "harus berupa angka"),
    ({"latitude": ""}, "latitude", "Lintang wajib diisi."),
    ({"latitude": "1.70", "longitude": "101.40"}, "latitude", "di luar batas kelurahan"),
    ({"latitude": "101.403", "longitude": "1.603"}, "latitude", "tertukar"),
    ({"nama": " "}, "nama", "Nama wajib diisi."),
    ({"nama": "x" * 121}, "nama", "Nama paling panjang 120 karakter."),
    ({"capacity": "-1"}, "capacity", "Kapasitas tidak boleh negatif."),
    ({"type": "piramida"}, "type", ""),
])
def test_invalid_values_are_rejected_next_to_their_field(app, planner, values, field,
                                                         message):
    response = planner.post("/fasilitas/baru", data=new_facility(**values))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    errors = re.findall(rf'<p class="error field-error" id="{field}-error">([^<]*)</p>', html)
    assert errors and message in " ".join(errors), html
    assert "TPS Baru" not in stored(app)


def test_same_facility_twice_is_refused(app, planner):
    assert planner.post("/fasilitas/baru", data=new_facility()).status_code == 302
    again = planner.post("/fasilitas/baru", data=new_facility())
    assert again.status_code == 422 and "sudah ada" in again.get_data(as_text=True)
    assert sum(name == "TPS Baru" for name in stored(app)) == 1


def test_edit_changes_values_and_kelurahan(app, planner):
    before = stored(app)["TPS Pasar Uji"]
    form = planner.get(f"/fasilitas/{before['id']}/ubah")
    assert form.status_code == 200
    assert 'value="TPS Pasar Uji"' in form.get_data(as_text=True)
    assert api_features(planner)["TPS Pasar Uji"]["status"] == "existing"  # warm the cache
    response = planner.post(f"/fasilitas/{before['id']}/ubah", data={
        "type": "tps3r", "nama": "TPS3R Pasar Uji", "status": "closed", "operator": "",
        "capacity": "4", "latitude": "1.604", "longitude": "101.414"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    after = stored(app)["TPS3R Pasar Uji"]
    assert after["id"] == before["id"] and "TPS Pasar Uji" not in stored(app)
    assert (after["type"], after["status"], after["operator"], after["capacity"]) == \
        ("tps3r", "closed", None, 4.0)
    assert after["kelurahan_kode"] == KEL_B and after["dedup_key"] == before["dedup_key"]
    feature = api_features(planner)["TPS3R Pasar Uji"]
    assert feature["status"] == "closed" and feature["kelurahan_kode"] == KEL_B
    assert "Tutup" in planner.get("/fasilitas").get_data(as_text=True)


def test_edit_of_a_missing_facility_is_404(planner):
    assert planner.get("/fasilitas/9999/ubah").status_code == 404


@pytest.mark.parametrize(("role", "area"), [("tim_lapangan", {}),
                                            ("lurah", {"kelurahan_kode": KEL_A}),
                                            ("camat", {"kecamatan_kode": "99.01.01"})])
def test_only_planners_and_admins_change_facilities(app, role, area):
    client = signed_in(app, "orang", role, **area)
    facility_id = stored(app)["TPS Pasar Uji"]["id"]
    assert client.get("/fasilitas/baru").status_code == 403
    assert client.post("/fasilitas/baru", data=new_facility()).status_code == 403
    assert client.get(f"/fasilitas/{facility_id}/ubah").status_code == 403
    assert client.post(f"/fasilitas/{facility_id}/ubah",
                       data=new_facility(nama="Diubah")).status_code == 403
    assert client.get("/fasilitas/impor").status_code == 403
    assert import_file(client, IMPORT_CSV).status_code == 403
    assert set(stored(app)) == {"TPS Pasar Uji", "Menara Bukit", "SD Negeri 1"}


def test_admin_may_add(app):
    admin = signed_in(app, "admin", "admin")
    assert admin.post("/fasilitas/baru", data=new_facility()).status_code == 302
    assert "TPS Baru" in stored(app)


# --- import --------------------------------------------------------------------------------------

def test_import_reports_the_bad_row_and_stores_the_rest(app, planner, tmp_path):
    response = import_file(planner, IMPORT_CSV)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (figure(html, "rows"), figure(html, "accepted"), figure(html, "rejected")) == \
        ("4", "3", "1")
    errors = html.split('id="errors"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<tr><td class=\"n\">(\d+)</td><td>([^<]*)</td>\s*<td>([^<]*)</td>"
                       r"<td>([^<]*)</td></tr>", errors)
    assert len(cells) == 1
    row, column, value, reason = cells[0]
    assert (row, column, value) == ("4", "jenis", "piramida") and "unknown facility type" in reason
    rows = stored(app)
    assert "Menara Hantu" not in rows
    assert rows["Bank Sampah Melati"]["type"] == "bank_sampah"
    assert rows["Bank Sampah Melati"]["capacity"] == 0.5
    assert rows["Puskesmas Uji"]["kelurahan_kode"] == KEL_B
    assert rows["TPS3R Bukit"]["status"] == "planned"
    sha = re.search(r"SHA-256[^:]*: ([0-9a-f]{64})", html).group(1)
    archived = tmp_path / "archive" / sha[:2] / sha / "fasilitas_baru.csv"
    assert archived.read_text() == IMPORT_CSV


def test_reimport_is_idempotent(app, planner):
    import_file(planner, IMPORT_CSV)
    count = len(stored(app))
    again = import_file(planner, IMPORT_CSV).get_data(as_text=True)
    assert figure(again, "accepted") == "0" and "sudah pernah diimpor" in again
    renamed = import_file(planner, IMPORT_CSV.replace("\n", "\r\n"), "salinan.csv")
    html = renamed.get_data(as_text=True)
    assert (figure(html, "accepted"), figure(html, "duplicates")) == ("0", "3")
    assert len(stored(app)) == count


def test_unreadable_file_is_refused_and_stores_nothing(app, planner):
    response = import_file(planner, "nama,jenis\nTPS X,TPS\n", "tanpa_koordinat.csv")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "tidak dapat diimpor" in html and "tanpa_koordinat.csv" in html
    assert len(stored(app)) == 3


def test_import_without_a_file_says_so(planner):
    response = planner.post("/fasilitas/impor", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Pilih file yang akan diimpor" in response.get_data(as_text=True)


def test_import_type_option_fills_files_without_a_type_column(app, planner):
    text = "nama,lintang,bujur\nTPA Uji,1.605,101.415\n"
    response = import_file(planner, text, "tpa.csv", facility_type="tpa")
    assert response.status_code == 200
    assert stored(app)["TPA Uji"]["type"] == "tpa"


def test_forms_carry_a_csrf_token(db_url, city_file, tmp_path):
    app = make_app(db_url, city_file, tmp_path, WTF_CSRF_ENABLED=True)
    try:
        client = signed_in_through_form(app, "rina", "perencana")
        assert client.post("/fasilitas/baru", data=new_facility()).status_code == 400
        assert import_file(client, IMPORT_CSV).status_code == 400
        for page in ("/fasilitas/baru", "/fasilitas/impor"):
            assert 'name="csrf_token"' in client.get(page).get_data(as_text=True)
        token = csrf_token(client.get("/fasilitas/baru").get_data(as_text=True))
        assert client.post("/fasilitas/baru",
                           data=new_facility(csrf_token=token)).status_code == 302
    finally:
        dispose_engine(app)
