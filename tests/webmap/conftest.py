"""Fixtures for database and ingest tests: a tiny city whose answers are obvious."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

#: Two 0.01-degree squares side by side (about 1.1 km x 1.1 km each) in "Kota Uji" (99.01).
KEL_A = "99.01.01.1001"
KEL_B = "99.01.01.1002"
SQUARES = {KEL_A: (101.40, 1.60, 101.41, 1.61), KEL_B: (101.41, 1.60, 101.42, 1.61)}


def _square(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def write_city(path: Path, squares: dict = SQUARES, names: dict | None = None) -> Path:
    """Write a boundary GeoJSON of squares keyed by kelurahan code."""
    names = names or {KEL_A: "Sungai Uji", KEL_B: "Bukit Uji"}
    features = [{"type": "Feature", "geometry": _square(*box),
                 "properties": {"kode": kode, "nama": names.get(kode, kode),
                                "kecamatan_kode": "99.01.01", "kecamatan": "Uji Barat",
                                "kota_kode": "99.01", "kota": "Kota Uji"}}
                for kode, box in squares.items()]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture
def city_file(tmp_path) -> Path:
    """Boundary file of the two-square test city."""
    return write_city(tmp_path / "kota_uji.geojson")


@pytest.fixture
def options(tmp_path):
    """Ingest options archiving into tmp_path."""
    from webmap.ingest import IngestOptions

    return IngestOptions(archive_dir=tmp_path / "archive", uploaded_by="tester")


@pytest.fixture
def city_engine(engine, city_file, options):
    """A migrated database holding the two-square test city."""
    from webmap.ingest import import_boundaries

    import_boundaries(engine, city_file, options)
    return engine


PASSWORD = "rahasia-kota-123"


def signed_in(app, username: str, role: str, **area) -> object:
    """A test client signed in as a new user of the only city (CSRF off in that app)."""
    from webmap import accounts
    from webmap.db import get_engine

    accounts.create_user(get_engine(app), username=username, password=PASSWORD, role=role,
                         **area)
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    return client
