"""The demo city loads into both databases and the landing page shows it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from webmap import create_app
from webmap.db import dispose_engine
from webmap.models import Facility, Measurement


@pytest.fixture
def app(db_url, tmp_path):
    import os

    os.environ["PETAKOTA_INSTANCE"] = str(tmp_path / "instance")
    try:
        app = create_app({"TESTING": True, "DATABASE_URL": db_url, "WTF_CSRF_ENABLED": False,
                          "ARCHIVE_DIR": str(tmp_path / "archive")})
    finally:
        del os.environ["PETAKOTA_INSTANCE"]
    yield app
    dispose_engine(app)


def test_load_demo_once_then_home_page_lists_it(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["load-demo", "--if-empty", "--measurements", "20000"])
    assert result.exit_code == 0, result.output
    assert "35 kelurahan" in result.output
    password = result.output.rsplit("kata sandi: ", 1)[1].strip()
    again = runner.invoke(args=["load-demo", "--if-empty"])
    assert "not loaded" in again.output
    from webmap.db import get_engine

    with get_engine(app).connect() as conn:
        measurements = conn.execute(sa.select(sa.func.count()).select_from(Measurement))
        assert measurements.scalar_one() == 20_000
        untagged = conn.execute(sa.select(sa.func.count()).select_from(Facility)
                                .where(Facility.kelurahan_kode.is_(None)))
        assert untagged.scalar_one() == 0
    client = app.test_client()
    assert client.post("/login", data={"username": "demo", "password": password}).status_code \
        == 302
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kota Pesisir Demo" in html and "20.000" in html
