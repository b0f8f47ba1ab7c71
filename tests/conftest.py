"""Fixtures shared by the whole suite."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real public data files in ``../shared/data``; skips cleanly when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


# --- databases: every database test runs on SQLite and on PostgreSQL + PostGIS --------------------

@pytest.fixture(scope="session")
def postgis_server():
    """A throwaway PostgreSQL + PostGIS server for the session (missing PostGIS fails in CI)."""
    import os

    from tests.pgserver import PostgisServer, PostgisUnavailable

    try:
        server = PostgisServer().start()
    except PostgisUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostGIS is required in CI: {error}")
        pytest.skip(f"PostGIS not available: {error}")
    try:
        server.execute("CREATE DATABASE petakota_template")
        server.execute("CREATE EXTENSION postgis", "petakota_template")
        from webmap.database import create_db_engine, upgrade_database

        engine = create_db_engine(server.url("petakota_template"))
        upgrade_database(engine)
        engine.dispose()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request, tmp_path) -> str:
    """URL of a fresh, migrated database: an SQLite file, or a PostGIS database cloned from a
    migrated template."""
    if request.param == "sqlite":
        from webmap.database import create_db_engine, sqlite_url, upgrade_database

        url = sqlite_url(tmp_path / "petakota.db")
        engine = create_db_engine(url)
        upgrade_database(engine)
        engine.dispose()
        return url
    server = request.getfixturevalue("postgis_server")
    return server.create_database(template="petakota_template")


@pytest.fixture
def engine(db_url):
    """A SQLAlchemy engine on :func:`db_url`."""
    from webmap.database import create_db_engine

    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


# --- interface translations ----------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the .po catalogs when their .mo is missing or older (``make`` does the same)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (ROOT / "webmap" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog)
