"""petakota web application: Flask application factory.

Configuration layers: defaults below, then environment (``DATABASE_URL``, ``PETAKOTA_INSTANCE``,
``FLASK_*`` variables and ``instance/config.py``), then the ``test_config`` override.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application (nothing runs at import time).

    Flask is imported here, not at module level: batch jobs and notebooks that only use
    ``webmap.ingest`` or ``webmap.store`` do not load the web stack.
    """
    from flask import Flask
    from flask_compress import Compress

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
    _derive_request_limit(app.config)

    from webmap import (admin, api, auth, cli, cli_layers, cli_users, dashboard, db, errors,
                        facility_pages, home, i18n, layer_pages, overviews, pages,
                        siting_pages, uploads)

    db.init_app(app)
    # Compressed responses (zstd/br/gzip as the browser accepts): map pages are mostly GeoJSON
    # text and shrink ~8x, which matters on slow kelurahan-office links.
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(app)
    app.after_request(_buffer_static_files)  # runs before Compress's hook (reverse order)
    errors.register_error_handlers(app)
    cli.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(admin.bp)
    for command in (*cli_users.COMMANDS, *cli_layers.COMMANDS):
        app.cli.add_command(command)
    app.register_blueprint(api.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(facility_pages.bp)
    app.register_blueprint(layer_pages.bp)
    app.register_blueprint(siting_pages.bp)
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["filter_args"] = overviews.filter_args
    app.jinja_env.filters["status_label"] = pages.status_label
    return app


def _buffer_static_files(response: Response) -> Response:
    """Read static files into the response so they can be compressed as a whole.

    Flask streams them from disk, and Flask-Compress's streaming path leaves the file open;
    the app's own scripts and style sheets are small, and text compresses about 4x.
    """
    from flask import request

    if request.endpoint == "static" and response.status_code == 200 and response.is_streamed:
        response.direct_passthrough = False
        response.make_sequence()
    return response


def _defaults(instance: Path) -> dict[str, Any]:
    from geo import settings

    return {
        "SECRET_KEY": _secret_key(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'petakota.db'}",
        "ARCHIVE_DIR": str(instance / "archive"),
        "MAX_UPLOAD_BYTES": settings.MAX_UPLOAD_BYTES,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }


#: Room for the rest of an upload form (boundary lines, CSRF token, format) beside the file.
UPLOAD_FORM_OVERHEAD_BYTES = 64 * 1024


def _derive_request_limit(config: dict[str, Any]) -> None:
    """One upload limit, ``MAX_UPLOAD_BYTES``, for the web, the CLI and the docs.

    Flask's request limit ``MAX_CONTENT_LENGTH`` follows from it (plus the form around the file)
    unless a configuration sets it explicitly; the ingest checks the file itself against
    ``MAX_UPLOAD_BYTES``, so both refuse a file over it with the same message.
    """
    config["MAX_UPLOAD_BYTES"] = int(config["MAX_UPLOAD_BYTES"])
    if config.get("MAX_CONTENT_LENGTH") is None:
        config["MAX_CONTENT_LENGTH"] = config["MAX_UPLOAD_BYTES"] + UPLOAD_FORM_OVERHEAD_BYTES


def _secret_key(instance: Path) -> str:
    """A per-instance secret key, created once and kept in the instance folder."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
