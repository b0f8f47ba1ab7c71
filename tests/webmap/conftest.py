"""Fixtures for database, ingest and web tests: a tiny city whose answers are obvious."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

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
#: A ``<script src>`` or ``<link href>`` to another host: pages must load none.
_EXTERNAL_ASSET = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"')
_CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- the web app ---------------------------------------------------------------------------------

def make_app(db_url: str, city_file: Path, tmp_path: Path, *, rows: list[str] | None = None,
             uploader: str | None = None, facilities: str | None = None, **config):
    """The app with the test city imported, CSRF off and archiving into ``tmp_path/archive``.

    ``rows``: measurement CSV lines (without the header) ingested with ``flask ingest``, by
    ``uploader`` when given; ``facilities``: a facility CSV imported with ``import-facilities``;
    ``config``: further settings, which win over the defaults (e.g. ``WTF_CSRF_ENABLED=True``).
    The caller disposes of the engine (:func:`webmap.db.dispose_engine`).
    """
    from tests.webmap.test_analysis_cli import HEADER
    from webmap import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "WTF_CSRF_ENABLED": False,
                      "ARCHIVE_DIR": str(tmp_path / "archive"), **config})
    runner = app.test_cli_runner()

    def flask(*args: str) -> None:
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output

    flask("import-boundaries", str(city_file))
    if rows is not None:
        csv = tmp_path / "spot.csv"
        csv.write_text("\n".join([HEADER, *rows]) + "\n")
        flask("ingest", str(csv), *(["--uploader", uploader] if uploader else []))
    if facilities is not None:
        path = tmp_path / "fasilitas.csv"
        path.write_text(facilities)
        flask("import-facilities", str(path))
    return app


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


def signed_in_through_form(app, username: str, role: str, **area) -> object:
    """A test client signed in as a new user through ``/login`` with its CSRF token."""
    from webmap import accounts
    from webmap.db import get_engine

    accounts.create_user(get_engine(app), username=username, password=PASSWORD, role=role,
                         **area)
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


@pytest.fixture
def planner(app):
    """The planner ``rina`` signed in to the module's ``app``."""
    return signed_in(app, "rina", "perencana")


@pytest.fixture
def client(planner):
    """The planner of :func:`planner`, under the name the page tests use."""
    return planner


@pytest.fixture(scope="session")
def vendored() -> Path:
    """``webmap/static/vendor`` after ``scripts/vendor_assets.py`` (run here when missing)."""
    vendor = ROOT / "webmap" / "static" / "vendor"
    if not (vendor / ".stamp").is_file():
        if shutil.which("npm") is None:
            reason = "npm is not installed, so the browser assets cannot be vendored"
            if os.environ.get("CI") == "true":
                pytest.fail(f"vendored assets are required in CI: {reason}")
            pytest.skip(reason)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "vendor_assets.py")],
                       check=True, cwd=ROOT)
    return vendor


# --- reading pages -------------------------------------------------------------------------------

def external_assets(html: str) -> list[str]:
    """Scripts and style sheets a page loads from another host (there must be none)."""
    return _EXTERNAL_ASSET.findall(html)


def figure(html: str, name: str) -> str:
    """The text of a report's ``<dd id="name">`` figure."""
    return re.search(rf'<dd id="{name}">([^<]*)</dd>', html).group(1)


def csrf_token(html: str) -> str:
    """The value of a form's hidden ``csrf_token`` field."""
    return _CSRF_TOKEN.search(html).group(1)
