"""Constraint-layer page for planners: ``/lapisan`` lists a city's layers and imports new ones.

A planner (or admin) sees every layer of the city (kind, name, version, features, date; previous
versions marked inactive), uploads a layer file with its kind, name and CRS exactly as
``flask import-layer`` does (:func:`webmap.layers.import_layer`: archived first, read against the
city's boundaries, stored in one transaction as the kind's next version), and sees the row-level
report.  ``/lapisan/<id>`` shows the stored report of any version.

The reasons :mod:`geo.layers` gives in English are worded here in the user's language from their
``code`` and ``params`` (:func:`localized_problems`), for this page and for the CLI.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from geo.errors import CRSError, InputFileError
from geo.layers import ALL_KINDS, LAYER_KINDS, LINE, POINT, POLYGON
from webmap import store
from webmap.archive import client_file_name
from webmap.db import get_engine
from webmap.ingest import IngestOptions
from webmap.layers import get_layer, import_layer, list_layers
from webmap.maps import N_
from webmap.overviews import request_filters
from webmap.permissions import require_role, signed_in_scope

bp = Blueprint("layer_pages", __name__)

LAYER_ROLES = ("admin", "perencana")

#: Label of each layer kind (:data:`geo.layers.ALL_KINDS`).
KIND_LABELS = {
    "sungai": _l("Sungai"), "badan_air": _l("Badan air (danau, waduk, laut)"),
    "kawasan_lindung": _l("Kawasan lindung"), "rawan_banjir": _l("Kawasan rawan banjir"),
    "bandara": _l("Bandara"), "jalan": _l("Jalan"), "permukiman": _l("Permukiman"),
    "lahan": _l("Lahan yang dapat dipakai (lahan pemerintah, persil)"),
    "sumber_air": _l("Sumber air minum"), "dem": _l("DEM (model elevasi, GeoTIFF)"),
}
_FAMILY_LABELS = {POINT: _l("titik"), LINE: _l("garis"), POLYGON: _l("area (poligon)")}

#: Wording of each reason code of :data:`geo.layers.REASONS` (same ``%(name)s`` parameters).
REASON_TEXTS = {
    "empty": N_("geometri kosong"),
    "wrong_type": N_("berupa %(found)s; lapisan %(kind)s hanya menerima %(allowed)s"),
    "outside": N_("di luar kota: %(distance_km)s km dari batasnya (lebih dari %(tolerance_km)s "
                  "km); periksa koordinat dan CRS-nya"),
    "repaired": N_("geometri tidak valid (%(detail)s) diperbaiki dengan make_valid"),
    "lost": N_("geometri tidak valid; setelah diperbaiki tidak tersisa %(allowed)s"),
    "airport_class": N_("jenis bandara tidak dikenal; gunakan %(classes)s (selama belum "
                        "diketahui, jarak untuk pesawat lain yang dipakai)"),
    "no_crs": N_("file tidak menyebutkan CRS; koordinatnya bujur/lintang, jadi EPSG:4326 "
                 "dipakai"),
    "crs_given": N_("CRS %(crs)s dipakai sesuai masukan, bukan %(declared)s dari file"),
    "crs_set": N_("CRS %(crs)s dipakai sesuai masukan (file tidak menyebutkan CRS)"),
    "reprojected": N_("diproyeksikan ulang dari %(crs)s ke EPSG:4326"),
    "first_layer": N_("dibaca lapisan %(layer)s, yang pertama dari %(count)s lapisan "
                      "(%(layers)s)"),
    "reader": N_("peringatan pembaca file: %(detail)s"),
}


class LayerForm(FlaskForm):
    """A layer file, its kind, a name and the CRS when the file has none."""

    file = FileField(_l("File lapisan"), validators=[
        FileRequired(message=_l("Pilih file yang akan diimpor terlebih dahulu."))])
    kind = SelectField(_l("Jenis lapisan"),
                       choices=[SelectChoice(k, KIND_LABELS[k]) for k in ALL_KINDS])
    name = StringField(_l("Nama lapisan (boleh kosong: nama file)"),
                       validators=[Optional(), Length(max=200)])
    crs = StringField(_l("CRS koordinat, bila file tidak menyebutkannya (mis. EPSG:32647)"),
                      validators=[Optional(), Length(max=40)])


def localized_problems(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Problems (``Problem.as_dict()``) with their reason in the current language.

    Problems without a known ``code`` keep their reason as given.
    """
    return [_localized(problem) for problem in problems]


def _localized(problem: dict[str, Any]) -> dict[str, Any]:
    code, params = problem.get("code"), dict(problem.get("params") or {})
    if code not in REASON_TEXTS:
        return problem
    kind = params.get("kind")
    if kind in LAYER_KINDS:
        params["allowed"] = _(" atau ").join(str(_FAMILY_LABELS[f]) for f in LAYER_KINDS[kind])
    elif code == "lost":
        params["allowed"] = _("bagian yang dapat dipakai")
    if code == "airport_class":
        params["classes"] = _("turbojet atau lainnya")
    return problem | {"reason": _(REASON_TEXTS[code], **params)}


def _city() -> dict[str, Any]:
    with get_engine().connect() as conn:
        return store.get_city(conn, request_filters()["city"])


def _city_args(city: dict[str, Any]) -> dict[str, str]:
    """``city=`` for URLs when the user is not tied to one city (admins)."""
    return {} if signed_in_scope().city_kode else {"city": city["kode"]}


def _page(city: dict[str, Any], form: LayerForm, status: int = 200, **extra: Any
          ) -> tuple[str, int]:
    with get_engine().connect() as conn:
        layers = list_layers(conn, city["kode"])
    return render_template("layers.html", city=city, form=form, layers=layers,
                           kind_labels=KIND_LABELS, city_args=_city_args(city), **extra), status


def _import(city: dict[str, Any], form: LayerForm) -> dict[str, Any]:
    original = client_file_name(form.file.data.filename or "", "lapisan.geojson")
    options = IngestOptions(archive_dir=Path(current_app.config["ARCHIVE_DIR"]),
                            uploaded_by=signed_in_scope().username or "web",
                            city_kode=city["kode"])
    options.extra["original_name"] = original
    with tempfile.TemporaryDirectory(prefix="petakota-layer-") as folder:
        path = Path(folder) / (secure_filename(original) or "lapisan.geojson")
        form.file.data.save(path)
        return import_layer(get_engine(), path, form.kind.data, options,
                            name=(form.name.data or "").strip() or None,
                            crs=(form.crs.data or "").strip() or None)


@bp.route("/lapisan", methods=["GET", "POST"])
@require_role(*LAYER_ROLES)
def layer_list():
    """The city's constraint layers and the form to import one."""
    city = _city()
    form = LayerForm()
    if not form.validate_on_submit():
        return _page(city, form, 422 if form.is_submitted() else 200)
    try:
        report = _import(city, form)
    except (InputFileError, CRSError) as error:
        current_app.logger.info("layer import refused: %s", error)
        return _page(city, form, 422, error=error.message,
                     problems=localized_problems([p.as_dict() for p in error.problems]))
    return _page(city, form, report=report, errors=localized_problems(report["errors"]),
                 notes=localized_problems(report["notes"]))


@bp.get("/lapisan/<int:layer_id>")
@require_role(*LAYER_ROLES)
def layer_report(layer_id: int):
    """The stored import report of one layer version of the city."""
    city = _city()
    with get_engine().connect() as conn:
        layer = get_layer(conn, city["kode"], layer_id)
    report = layer["report"]
    return _page(city, LayerForm(), report=report | {"stored": True, "created_at": layer[
        "created_at"], "active": layer["active"]}, errors=localized_problems(report["errors"]),
        notes=localized_problems(report["notes"]))[0]
