"""Mapping of domain errors to HTTP responses, in one place.

API requests (``/api/...`` or a client that prefers JSON) get JSON ``{"error", "problems"}``;
people in a browser get the same message on an HTML page in their language.
"""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from geo.errors import CRSError, InputFileError, NotFoundError, PetakotaError
from webmap.permissions import ForbiddenError, UnauthorizedError

_STATUS = {NotFoundError: 404, InputFileError: 422, CRSError: 422, ForbiddenError: 403,
           UnauthorizedError: 401}


def wants_json() -> bool:
    """True for API paths and clients that ask for JSON rather than HTML."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _title(status: int) -> str:
    return {401: _("Perlu masuk"), 403: _("Akses ditolak"), 404: _("Tidak ditemukan"),
            413: _("File terlalu besar"), 422: _("Data tidak dapat diproses")}.get(
                status, _("Permintaan tidak dapat dipenuhi"))


def register_error_handlers(app: Flask) -> None:
    """Answer domain errors with their user-safe message and a fitting status code."""

    @app.errorhandler(PetakotaError)
    def _domain_error(error: PetakotaError):
        status = next((code for cls, code in _STATUS.items() if isinstance(error, cls)), 400)
        app.logger.info("request failed: %s", error)
        problems = [p.as_dict() for p in error.problems]
        if wants_json():
            return jsonify({"error": error.message, "problems": problems}), status
        return render_template("error.html", title=_title(status), message=error.message,
                               problems=[str(p) for p in error.problems]), status

    @app.errorhandler(413)
    def _too_large(error: HTTPException):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        size = f"{limit / 2**20:.0f} MiB" if limit >= 2**20 else f"{limit / 1024:.0f} KiB"
        message = _("File terlalu besar: batasnya %(size)s. Bagi file menjadi beberapa bagian.",
                    size=size)
        if wants_json():
            return jsonify({"error": message}), 413
        return message, 413
