"""Database engine, migrations and geometry conversion, for SQLite and PostgreSQL + PostGIS.

Nothing here imports Flask: scripts, benchmarks and tests use it with a plain engine.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(path: Path | str) -> str:
    """Return the SQLAlchemy URL of an SQLite database file."""
    return f"sqlite:///{Path(path).resolve()}"


def create_db_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL journaling and enforced foreign keys.

    ``postgresql://`` URLs are routed to the psycopg 3 driver.
    """
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


#: Page size of a new SQLite database (an existing one keeps its own).
SQLITE_PAGE_SIZE = 16384


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Takes effect only when the file is created: 16 KiB pages store a million measurements
    # ~5% faster than the default 4 KiB (scripts/bench_ingest.py) and make scans read fewer pages,
    # at little cost to the small writes of the web app.
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache: bulk index inserts
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _alembic_config() -> Any:
    from alembic.config import Config  # imported when needed: ingest jobs never migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (idempotent)."""
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade_database(engine: Engine, revision: str = "base") -> None:
    """Revert Alembic migrations down to ``revision``."""
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def is_postgis(engine_or_connection: Engine | sa.Connection) -> bool:
    """Tell whether the database is PostgreSQL (with PostGIS)."""
    return engine_or_connection.dialect.name == "postgresql"


def geometry_to_db(dialect_name: str, geometry: Any) -> Any:
    """Convert a shapely geometry (EPSG:4326) into the value its column stores."""
    if geometry is None:
        return None
    if dialect_name == "postgresql":
        return from_shape(geometry, srid=4326)
    return shapely.to_wkb(geometry)


def geometry_from_db(value: Any) -> Any:
    """Convert a stored geometry value (WKB blob or GeoAlchemy2 element) into shapely."""
    if value is None:
        return None
    if isinstance(value, WKBElement):
        value = value.data
    if isinstance(value, str):
        return shapely.from_wkb(bytes.fromhex(value))
    return shapely.from_wkb(bytes(value))
