"""Mapping of domain errors to HTTP responses, in one place."""
from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from geo.errors import CRSError, InputFileError, NotFoundError, PetakotaError
from webmap.permissions import ForbiddenError, UnauthorizedError

_STATUS = {NotFoundError: 404, InputFileError: 422, CRSError: 422, ForbiddenError: 403,
           UnauthorizedError: 401}


def register_error_handlers(app: Flask) -> None:
    """Answer domain errors with their user-safe message and a fitting status code."""

    @app.errorhandler(PetakotaError)
    def _domain_error(error: PetakotaError):
        status = next((code for cls, code in _STATUS.items() if isinstance(error, cls)), 400)
        app.logger.info("request failed: %s", error)
        body = {"error": error.message, "problems": [p.as_dict() for p in error.problems]}
        return jsonify(body), status

    @app.errorhandler(413)
    def _too_large(error: HTTPException):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        size = f"{limit / 2**20:.0f} MiB" if limit >= 2**20 else f"{limit / 1024:.0f} KiB"
        message = (f"File terlalu besar: batasnya {size}. Bagi file menjadi beberapa bagian. "
                   f"(File too large: the limit is {size}.)")
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), 413
        return message, 413
