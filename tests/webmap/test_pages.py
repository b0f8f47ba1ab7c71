"""City map and kelurahan pages: served with local assets only, figures from the analysis."""
from __future__ import annotations

import re

import pytest

from tests.webmap.conftest import KEL_A, KEL_B, signed_in
from tests.webmap.test_analysis_cli import HEADER, MARCH
from webmap import create_app
from webmap.db import dispose_engine


@pytest.fixture
def app(db_url, city_file, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "WTF_CSRF_ENABLED": False,
                      "ARCHIVE_DIR": str(tmp_path / "archive")})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["import-boundaries", str(city_file)]).exit_code == 0
    csv = tmp_path / "spot.csv"
    csv.write_text("\n".join([HEADER, *MARCH]) + "\n")
    assert runner.invoke(args=["ingest", str(csv)]).exit_code == 0
    yield app
    dispose_engine(app)


@pytest.fixture
def client(app):
    return signed_in(app, "rina", "perencana")


def external_assets(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)


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
    assert "window.print()" in html


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
