"""petakota web application: Flask application factory.

Configuration layers: defaults below, then environment (``DATABASE_URL``, ``PETAKOTA_INSTANCE``,
``FLASK_*`` variables and ``instance/config.py``), then the ``test_config`` override.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application (nothing runs at import time)."""
    instance = os.environ.get("PETAKOTA_INSTANCE")
    app = Flask(__name__, instance_path=str(Path(instance).resolve()) if instance else None,
                instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(_defaults(Path(app.instance_path)))
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if os.environ.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.from_mapping(test_config)

    from webmap import api, cli, db, errors, home, pages

    db.init_app(app)
    errors.register_error_handlers(app)
    cli.init_app(app)
    from webmap import admin, auth, cli_users, i18n
    auth.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(admin.bp)
    for command in cli_users.COMMANDS:
        app.cli.add_command(command)
    app.register_blueprint(api.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(pages.bp)
    from webmap import uploads
    app.register_blueprint(uploads.bp)
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    return app


def _defaults(instance: Path) -> dict[str, Any]:
    return {
        "SECRET_KEY": _secret_key(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'petakota.db'}",
        "ARCHIVE_DIR": str(instance / "archive"),
        "MAX_CONTENT_LENGTH": 200 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }


def _secret_key(instance: Path) -> str:
    """A per-instance secret key, created once and kept in the instance folder."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
