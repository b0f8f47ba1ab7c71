"""Mapping of domain errors to HTTP responses, in one place.

API requests (see :func:`webmap.permissions.is_api_request`) get JSON ``{"error", "problems"}``;
people in a browser get the same message on an HTML page in their language.
"""
from __future__ import annotations

from flask import Flask, jsonify, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from geo.errors import CRSError, InputFileError, NotFoundError, PetakotaError
from geo.measurements import upload_too_large
from webmap.permissions import ForbiddenError, UnauthorizedError, is_api_request

_STATUS = {NotFoundError: 404, InputFileError: 422, CRSError: 422, ForbiddenError: 403,
           UnauthorizedError: 401}


def _title(status: int) -> str:
    return {401: _("Perlu masuk"), 403: _("Akses ditolak"), 404: _("Tidak ditemukan"),
            422: _("Data tidak dapat diproses")}.get(
                status, _("Permintaan tidak dapat dipenuhi"))


def user_message(error: PetakotaError) -> str:
    """The error's message in the user's language.

    Errors raised with :meth:`~geo.errors.PetakotaError.translatable` carry their Indonesian
    template and its values, looked up in the translation catalogue; others keep their text.
    """
    if not error.template:
        return error.message
    return _(error.template, **error.params)


def upload_limit(app: Flask) -> int:
    """Largest file accepted, in bytes: ``MAX_UPLOAD_BYTES`` (or a smaller request limit)."""
    limits = [app.config.get("MAX_UPLOAD_BYTES"), app.config.get("MAX_CONTENT_LENGTH")]
    return int(min(limit for limit in limits if limit))


def register_error_handlers(app: Flask) -> None:
    """Answer domain errors with their user-safe message and a fitting status code."""

    @app.errorhandler(PetakotaError)
    def _domain_error(error: PetakotaError):
        status = next((code for cls, code in _STATUS.items() if isinstance(error, cls)), 400)
        app.logger.info("request failed: %s", error)
        problems = [p.as_dict() for p in error.problems]
        message = user_message(error)
        if is_api_request():
            return jsonify({"error": message, "problems": problems}), status
        return render_template("error.html", title=_title(status), message=message,
                               problems=[str(p) for p in error.problems]), status

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        app.logger.info("CSRF check failed: %s", error.description)
        message = _("Formulir ini sudah kedaluwarsa atau tidak lengkap. "
                    "Muat ulang halaman, lalu kirim lagi.")
        if is_api_request():
            return jsonify({"error": message, "problems": []}), 400
        return render_template("error.html", title=_("Formulir kedaluwarsa"), message=message,
                               problems=[]), 400

    @app.errorhandler(413)
    def _too_large(error: HTTPException):
        message = user_message(upload_too_large(upload_limit(app)))
        app.logger.info("request refused: %s", message)
        if is_api_request():
            return jsonify({"error": message}), 413
        return message, 413

