"""The application's database engine, created lazily per app and migrated by ``init-db``."""
from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.engine import Engine

from webmap.database import create_db_engine, upgrade_database

_KEY = "petakota.engine"


def init_app(app: Flask) -> None:
    """Register the engine's disposal with the app."""
    app.extensions[_KEY] = None


def get_engine(app: Flask | None = None) -> Engine:
    """The engine of the current (or given) app, created on first use."""
    app = app or current_app._get_current_object()
    engine = app.extensions.get(_KEY)
    if engine is None:
        engine = create_db_engine(app.config["DATABASE_URL"])
        app.extensions[_KEY] = engine
    return engine


def migrate(app: Flask | None = None) -> None:
    """Bring the database schema up to date (Alembic ``upgrade head``)."""
    upgrade_database(get_engine(app))


def dispose_engine(app: Flask) -> None:
    """Close the app's pooled connections (tests, and worker shutdown)."""
    engine = app.extensions.get(_KEY)
    if engine is not None:
        engine.dispose()
        app.extensions[_KEY] = None
