"""The upload page: field teams send coverage files, see the validation report and history.

The view only saves the file to a temporary folder and calls :func:`webmap.ingest.
ingest_measurements`, which archives, validates and stores it; the report it returns (also kept
with the upload) is what the report page shows.
"""
from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (Blueprint, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.utils import secure_filename

from geo.errors import CRSError, InputFileError, NotFoundError
from webmap import store
from webmap.archive import client_file_name
from webmap.db import get_engine
from webmap.errors import upload_limit, user_message
from webmap.i18n import number
from webmap.ingest import IngestOptions, ingest_measurements
from webmap.models import Upload
from webmap.permissions import (
    UPLOAD_ROLES,
    ForbiddenError,
    Scope,
    require_role,
    signed_in_scope,
)

bp = Blueprint("uploads", __name__)

#: Roles that may upload and see upload reports.
#: Formats offered in the form (``auto`` detects from the header).
FORMATS = {"auto": _l("Otomatis (deteksi dari header)"), "canonical": _l("CSV petakota (kanonik)"),
           "gnettrack": "G-NetTrack", "ookla": _l("Ookla (tile)")}
#: At most this many per-row errors are listed on the report page (a report keeps at most
#: ``geo.settings.REJECTED_EXAMPLES_TOTAL``; the rejected-rows CSV has every one).
MAX_ERROR_ROWS = 1000
#: At most this many uploads are listed in the history.
MAX_HISTORY = 200
_KINDS = ("measurements", "ookla")


# --- helpers --------------------------------------------------------------------------------------

def _summary(report: dict[str, Any]) -> str:
    """A one-line summary of an ingest report in the user's language."""
    return _("%(rows)s baris dibaca: %(accepted)s disimpan, %(rejected)s ditolak, "
             "%(duplicates)s duplikat (sudah tersimpan sebelumnya).",
             **{key: number(report.get(key) or 0)
                for key in ("rows", "accepted", "rejected", "duplicates")})


def _local_time(value: datetime | None, timezone: str | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(ZoneInfo(timezone)) if timezone else value
    except (KeyError, ValueError):
        pass
    return value.strftime("%Y-%m-%d %H:%M %Z").strip()


def _timezones() -> dict[str, str]:
    with get_engine().connect() as conn:
        return {c["kode"]: c["timezone"] for c in store.list_cities(conn)}


def uploads_query(scope: Scope) -> sa.Select | None:
    """The coverage uploads ``scope`` may see, newest first (``None``: none at all).

    A user's own city only (admins: every city), a field team member's own files only;
    facility imports and edits are not listed here.
    """
    table = Upload.__table__
    query = sa.select(table.c.id, table.c.city_kode, table.c.kind, table.c.original_name,
                      table.c.uploaded_by, table.c.uploaded_at, table.c.format, table.c.rows,
                      table.c.accepted, table.c.rejected, table.c.duplicates
                      ).where(table.c.kind.in_(_KINDS))
    if scope.city_kode:
        query = query.where(table.c.city_kode == scope.city_kode)
    elif scope.role != "admin":
        return None
    if scope.role == "tim_lapangan":
        query = query.where(table.c.uploaded_by == scope.username)
    return query.order_by(table.c.uploaded_at.desc(), table.c.id.desc())


def _history(scope: Scope) -> list[dict[str, Any]]:
    """The uploads this user may see, newest first."""
    query = uploads_query(scope)
    if query is None:
        return []
    query = query.limit(MAX_HISTORY)
    with get_engine().connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    zones = _timezones()
    for row in rows:
        row["when"] = _local_time(row["uploaded_at"], zones.get(row["city_kode"]))
    return rows


def _visible_upload(upload_id: int) -> dict[str, Any]:
    """The upload, or 404 (unknown, other city) / 403 (a field team member's colleague's file)."""
    scope = signed_in_scope()
    with get_engine().connect() as conn:
        upload = store.get_upload(conn, upload_id)
    if upload["kind"] not in _KINDS or (scope.city_kode and upload["city_kode"] != scope.city_kode) \
            or (not scope.city_kode and scope.role != "admin"):
        raise NotFoundError(f"Upload {upload_id} does not exist.")
    if scope.role == "tim_lapangan" and upload["uploaded_by"] != scope.username:
        raise ForbiddenError(f"Upload {upload_id} was sent by another user; field team members "
                             "see only their own uploads.")
    return upload


def _can_view(upload_id: int) -> bool:
    try:
        _visible_upload(upload_id)
    except (NotFoundError, ForbiddenError):
        return False
    return True


def _form(*, error: str | None = None, info: str | None = None, status: int = 200,
          selected: str = "auto", period: str = ""):
    return render_template("upload.html", formats=FORMATS, selected=selected, period=period,
                           uploads=_history(signed_in_scope()), error=error, info=info,
                           max_mib=_max_mib()), status


def _max_mib() -> int:
    return int(upload_limit(current_app) / 2**20)


# --- views ----------------------------------------------------------------------------------------

@bp.get("/unggah")
@require_role(*UPLOAD_ROLES)
def upload_page():
    """The upload form and the upload history."""
    return _form()


@bp.post("/unggah")
@require_role(*UPLOAD_ROLES)
def upload_file():
    """Ingest an uploaded coverage file, then show its report (303)."""
    scope = signed_in_scope()
    selected = request.form.get("format", "auto")
    period = (request.form.get("period") or "").strip()
    if selected not in FORMATS:
        return _form(error=_("Format '%(format)s' tidak dikenal.", format=selected), status=422)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form(error=_("Pilih file yang akan diunggah terlebih dahulu."), status=422,
                     selected=selected, period=period)
    original = client_file_name(upload.filename or "", "unggahan.csv")
    options = IngestOptions(archive_dir=Path(current_app.config["ARCHIVE_DIR"]),
                            uploaded_by=scope.username or "web", city_kode=scope.city_kode,
                            max_upload_bytes=upload_limit(current_app))
    options.extra["original_name"] = original
    try:
        with tempfile.TemporaryDirectory(prefix="petakota-upload-") as folder:
            path = Path(folder) / (secure_filename(original) or "unggahan.csv")
            upload.save(path)
            report = ingest_measurements(get_engine(), path, options, format=selected,
                                         period=period or None)
    except store.StorageError as error:  # the detail was logged by the ingest
        current_app.logger.warning("upload of %s by %s not stored: %s", original, scope.username,
                                   error)
        return _form(error=user_message(error), status=503, selected=selected, period=period)
    except (InputFileError, CRSError, NotFoundError) as error:
        current_app.logger.info("upload of %s by %s refused: %s", original, scope.username, error)
        return _form(error=_("File tidak dapat diproses: %(reason)s",
                             reason=user_message(error)), status=422,
                     selected=selected, period=period)
    if report.get("already_ingested"):
        message = _("File '%(name)s' sudah pernah diunggah (unggahan %(id)s); "
                    "tidak ada data yang ditambahkan.", name=original, id=report["upload_id"])
        if not _can_view(int(report["upload_id"])):
            return _form(info=message, selected=selected, period=period)
        flash(message)
    return redirect(url_for("uploads.report_page", upload_id=report["upload_id"]), code=303)


@bp.get("/unggah/<int:upload_id>")
@require_role(*UPLOAD_ROLES)
def report_page(upload_id: int):
    """The validation report of one upload."""
    upload = _visible_upload(upload_id)
    report = dict(upload.get("report") or {})
    errors = list(report.get("errors") or [])[:MAX_ERROR_ROWS]
    rejected_csv = report.get("rejected_csv")
    return render_template(
        "upload_report.html", upload=upload, report=report, summary=_summary(upload),
        errors=errors, total_errors=int(report.get("errors_total") or len(errors)),
        by_reason=report.get("errors_by_reason") or {},
        has_rejected=bool(rejected_csv and Path(rejected_csv).is_file()),
        when=_local_time(upload["uploaded_at"], _timezones().get(upload["city_kode"])),
        formats=FORMATS)


@bp.get("/unggah/<int:upload_id>/ditolak.csv")
@require_role(*UPLOAD_ROLES)
def rejected_rows(upload_id: int):
    """The rejected rows of an upload (original text plus reasons) as a CSV download."""
    upload = _visible_upload(upload_id)
    path = (upload.get("report") or {}).get("rejected_csv")
    if not path or not Path(path).is_file():
        raise NotFoundError(f"Upload {upload_id} has no rejected rows.")
    return send_file(Path(path).resolve(), mimetype="text/csv", as_attachment=True,
                     download_name=f"ditolak_unggahan_{upload_id}.csv", max_age=0)
