"""Every role against every page and API endpoint: the full permission matrix."""
from __future__ import annotations

import pytest

from tests.webmap.conftest import KEL_A, KEL_B, signed_in
from tests.webmap.test_analysis_cli import HEADER, MARCH
from webmap import create_app
from webmap.db import dispose_engine

ROLES = {
    "admin": ("admin", {}),
    "perencana": ("perencana", {}),
    "tim": ("tim_lapangan", {}),
    "lurah_a": ("lurah", {"kelurahan_kode": KEL_A}),
    "camat": ("camat", {"kecamatan_kode": "99.01.01"}),
}
OK, FORBIDDEN = 200, 403
#: endpoint -> expected status for admin, perencana, tim, lurah_a, camat, anonymous
MATRIX = {
    "/": (OK, OK, OK, OK, OK, 302),
    "/peta": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    "/peta/surface.png": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    f"/kelurahan/{KEL_A}": (OK, OK, OK, OK, OK, 302),
    f"/kelurahan/{KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 302),
    "/unggah": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    "/template.csv": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    "/admin/users": (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/fasilitas": (OK, OK, OK, OK, OK, 302),
    "/fasilitas/baru": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/fasilitas/impor": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/dasbor": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/api/kelurahan": (OK, OK, OK, OK, OK, 401),
    f"/api/kelurahan/{KEL_A}": (OK, OK, OK, OK, OK, 401),
    f"/api/kelurahan/{KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 401),
    f"/api/kelurahan/{KEL_B}/blankspots.geojson": (OK, OK, OK, FORBIDDEN, OK, 401),
    f"/api/cells?kelurahan={KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 401),
    "/api/cells": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 401),
    f"/api/facilities.geojson?kelurahan={KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 401),
    "/api/progress": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 401),
    "/api/uploads": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 401),
    "/api/openapi.json": (OK, OK, OK, OK, OK, OK),
}


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    from webmap.database import create_db_engine, sqlite_url, upgrade_database

    folder = tmp_path_factory.mktemp("matrix")
    url = sqlite_url(folder / "m.db")
    engine = create_db_engine(url)
    upgrade_database(engine)
    engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "WTF_CSRF_ENABLED": False,
                      "ARCHIVE_DIR": str(folder / "archive")})
    from tests.webmap.conftest import write_city

    runner = app.test_cli_runner()
    runner.invoke(args=["import-boundaries", str(write_city(folder / "kota.geojson"))])
    csv = folder / "spot.csv"
    csv.write_text("\n".join([HEADER, *MARCH]) + "\n")
    runner.invoke(args=["ingest", str(csv)])
    clients = {name: signed_in(app, name.replace("_", "."), role, **area)
               for name, (role, area) in ROLES.items()}
    clients["anonymous"] = app.test_client()
    yield clients
    dispose_engine(app)


@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_matrix(clients, endpoint):
    who = [*ROLES, "anonymous"]
    got = {name: clients[name].get(endpoint).status_code for name in who}
    assert got == dict(zip(who, MATRIX[endpoint], strict=True))


def test_refusals_never_carry_the_other_kelurahan(clients):
    for endpoint in (f"/kelurahan/{KEL_B}", f"/api/kelurahan/{KEL_B}"):
        response = clients["lurah_a"].get(endpoint)
        assert response.status_code == 403 and b"Bukit Uji" not in response.data
