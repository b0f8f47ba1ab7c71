"""Facility pages: list and map for every role, add, edit and import for planners.

``/fasilitas`` lists a city's facilities (BTS, waste sites, schools, puskesmas...) on a map and in
a table; a lurah or camat sees only those in their own area, by the same rule as
``/api/facilities.geojson``.  Planners (and admins) add or edit one facility with a form, or
import a file with :func:`webmap.ingest.import_facilities`, exactly as ``flask import-facilities``
does: the file is archived first, read by :func:`geo.facilities.read_facilities`, and stored in one
transaction; importing it again adds nothing.

A facility saved with the form gets its kelurahan as an import would (the city's
:class:`geo.kelurahan_lookup.KelurahanIndex`, sliver tolerance included) and must lie in one.
Form saves go through :mod:`webmap.facility_edits`, which keeps every one as an audit record (an
archived JSON document and an ``upload`` row of kind ``facility_edit``, in the same transaction
as the change; that row also moves the city's data version, so cached overviews update).
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import FloatField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import TextInput

import geopandas as gpd

from geo.errors import CRSError, InputFileError, NotFoundError
from geo.facilities import FACILITY_TYPES
from geo.kelurahan_lookup import build_kelurahan_index
from webmap import maps, store
from webmap.archive import client_file_name
from webmap.db import get_engine
from webmap.facility_edits import (
    DuplicateFacilityError,
    create_facility,
    get_facility,
    update_facility,
)
from webmap.ingest import IngestOptions, import_facilities
from webmap.i18n import current_language
from webmap.overviews import cached, request_filters
from webmap.pages import map_options
from webmap.permissions import (
    ALL_ROLES,
    Scope,
    require_kelurahan_access,
    require_role,
    signed_in_scope,
    visible_kelurahan,
)

bp = Blueprint("facility_pages", __name__)

EDIT_ROLES = ("admin", "perencana")
#: Rows per page of the facility table (the map shows every listed facility).
PER_PAGE = 100
#: Longest facility name the form accepts: the de-duplication key (type|name|lon|lat, at most
#: 160 characters in the database) must fit.
MAX_NAME = 120

#: Indonesian label of each facility type (``geo.facilities.FACILITY_TYPES``).
TYPE_LABELS = {
    "bts": _l("BTS (menara seluler)"), "tps": _l("TPS (tempat penampungan sementara)"),
    "tps3r": _l("TPS3R (reduce, reuse, recycle)"),
    "tpst": _l("TPST (tempat pengolahan sampah terpadu)"),
    "tpa": _l("TPA (tempat pemrosesan akhir)"), "bank_sampah": _l("Bank sampah"),
    "sekolah": _l("Sekolah"), "puskesmas": _l("Puskesmas"), "kantor_lurah": _l("Kantor lurah"),
    "other": _l("Lainnya"),
}
#: Stored status values and their labels ("closed" is only set here; imports read the others).
STATUS_LABELS = {"existing": _l("Ada"), "planned": _l("Rencana"), "closed": _l("Tutup")}


# --- forms ---------------------------------------------------------------------------------------

class _NumberField(FloatField):
    """A number that may be written with a decimal comma ("2,5"), as Indonesian users do.

    Rendered as a text box (a browser's number box refuses the comma in some locales).
    """

    widget = TextInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]).strip() if valuelist else ""
        if not text:
            self.data = None
            return
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        try:
            self.data = float(text)
        except ValueError:
            self.data = None
            raise ValueError(_("%(field)s harus berupa angka, bukan \"%(value)s\".",
                               field=self.label.text, value=valuelist[0])) from None
        if not math.isfinite(self.data):
            self.data = None
            raise ValueError(_("%(field)s harus berupa angka.", field=self.label.text))


class FacilityForm(FlaskForm):
    """One facility: type, name, status, operator, capacity and position."""

    type = SelectField(_l("Jenis"), choices=[SelectChoice(t, TYPE_LABELS[t])
                                             for t in FACILITY_TYPES])
    nama = StringField(_l("Nama"), validators=[
        DataRequired(message=_l("Nama wajib diisi.")),
        Length(max=MAX_NAME, message=_l("Nama paling panjang %(n)s karakter.", n=MAX_NAME))])
    status = SelectField(_l("Status"), choices=[SelectChoice(s, label)
                                                for s, label in STATUS_LABELS.items()])
    operator = StringField(_l("Operator / pengelola"), validators=[Optional(), Length(max=80)])
    capacity = _NumberField(_l("Kapasitas (ton/hari)"), validators=[
        Optional(), NumberRange(min=0, message=_l("Kapasitas tidak boleh negatif."))])
    latitude = _NumberField(_l("Lintang (latitude)"), validators=[
        InputRequired(message=_l("Lintang wajib diisi.")),
        NumberRange(min=-90, max=90, message=_l("Lintang harus antara -90 dan 90 derajat."))])
    longitude = _NumberField(_l("Bujur (longitude)"), validators=[
        InputRequired(message=_l("Bujur wajib diisi.")),
        NumberRange(min=-180, max=180,
                    message=_l("Bujur harus antara -180 dan 180 derajat."))])

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate the fields; say so when latitude and longitude look exchanged."""
        valid = super().validate(extra_validators)
        lat, lon = self.latitude.data, self.longitude.data
        if lat is not None and lon is not None and 90 < abs(lat) <= 180 and abs(lon) <= 90:
            self.latitude.errors.append(_("Lintang dan bujur tampaknya tertukar."))
        return valid


class ImportForm(FlaskForm):
    """A facility file and the defaults for what it leaves out."""

    file = FileField(_l("File fasilitas"), validators=[
        FileRequired(message=_l("Pilih file yang akan diimpor terlebih dahulu."))])
    facility_type = SelectField(_l("Jenis untuk baris tanpa jenis"), default="", choices=[
        SelectChoice("", _l("(dari kolom jenis di file)")),
        *(SelectChoice(t, TYPE_LABELS[t]) for t in FACILITY_TYPES)])
    status = SelectField(_l("Status untuk baris tanpa status"), default="", choices=[
        SelectChoice("", _l("(dari file; kosong berarti ada)")),
        SelectChoice("existing", STATUS_LABELS["existing"]),
        SelectChoice("planned", STATUS_LABELS["planned"])])
    crs = StringField(_l("CRS koordinat, bila file tidak menyebutkannya (mis. EPSG:32749)"),
                      validators=[Optional(), Length(max=40)])


# --- helpers -------------------------------------------------------------------------------------

def _city() -> dict[str, Any]:
    """Return the city of the request (``?city=`` for admins; a user's own city otherwise)."""
    with get_engine().connect() as conn:
        return store.get_city(conn, request_filters()["city"])


def _archive_dir() -> Path:
    return Path(current_app.config["ARCHIVE_DIR"])


def _city_args(city: dict[str, Any]) -> dict[str, str]:
    """``city=`` for URLs when the user is not tied to one city (admins)."""
    return {} if signed_in_scope().city_kode else {"city": city["kode"]}


def _list_filters() -> dict[str, str]:
    return {name: (request.args.get(name) or "").strip()
            for name in ("type", "kelurahan", "status")}


def _page_number() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def _page_url(page: int) -> str:
    """Return the URL of another page of this list, with the same filters."""
    return url_for("facility_pages.facility_list", **{**request.args.to_dict(), "page": page})


def _listed(scope: Scope, facilities: gpd.GeoDataFrame, visible: gpd.GeoDataFrame,
            filters: dict[str, str]) -> gpd.GeoDataFrame:
    """Facilities in the scope's area that match the filters (as the GeoJSON API scopes them)."""
    if scope.role in ("lurah", "camat"):
        facilities = facilities[facilities["kelurahan_kode"].isin(set(visible["kode"]))]
    for column in ("type", "kelurahan", "status"):
        if filters[column]:
            key = "kelurahan_kode" if column == "kelurahan" else column
            facilities = facilities[facilities[key] == filters[column]]
    return facilities


def _table_rows(facilities: pd.DataFrame, names: dict[str, str]) -> list[dict[str, Any]]:
    """Rows of the facility table (labels looked up, missing values as None)."""
    def plain(value: Any) -> Any:
        return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value

    return [{"id": int(row["id"]), "type": row["type"],
             "type_label": TYPE_LABELS.get(row["type"], row["type"]), "nama": row["nama"],
             "status": row["status"],
             "status_label": STATUS_LABELS.get(row["status"], row["status"]),
             "operator": plain(row["operator"]), "capacity": plain(row["capacity"]),
             "kelurahan_kode": plain(row["kelurahan_kode"]),
             "kelurahan": names.get(row["kelurahan_kode"]),
             "latitude": row["latitude"], "longitude": row["longitude"]}
            for row in facilities.to_dict(orient="records")]


def _locate(form: FacilityForm, kelurahan: gpd.GeoDataFrame, city: dict[str, Any]
            ) -> str | None:
    """Kelurahan of the form's point, as an import assigns it; else note the error on the form."""
    lat, lon = form.latitude.data, form.longitude.data
    index = build_kelurahan_index(kelurahan)
    kode = index.assign([lon], [lat])[0]
    if kode is not None:
        return str(kode)
    swapped = index.assign([lat], [lon])[0] if abs(lon) <= 90 else None
    hint = (_("Lintang dan bujur tampaknya tertukar.") if swapped is not None
            else _("Periksa lintang dan bujur."))
    form.latitude.errors.append(_(
        "Lintang/bujur: titik (%(lat)s, %(lon)s) berada di luar batas kelurahan %(city)s. "
        "%(hint)s", lat=lat, lon=lon, city=city["nama"], hint=hint))
    return None


def _form_values(form: FacilityForm) -> dict[str, Any]:
    return {"type": form.type.data, "nama": form.nama.data.strip(), "status": form.status.data,
            "operator": (form.operator.data or "").strip() or None,
            "capacity": form.capacity.data, "latitude": form.latitude.data,
            "longitude": form.longitude.data}


def _form_page(form: FacilityForm, city: dict[str, Any], facility: dict[str, Any] | None,
               status: int) -> tuple[str, int]:
    return render_template("facility_form.html", form=form, city=city, facility=facility,
                           city_args=_city_args(city)), status


# --- views ---------------------------------------------------------------------------------------

_MAP_CACHE = "petakota.facility_maps"


@bp.get("/fasilitas")
@require_role(*ALL_ROLES)
def facility_list():
    """Facilities of the city (a lurah's or camat's own area) on a map and in a table."""
    scope = signed_in_scope()
    filters = _list_filters()
    if filters["kelurahan"]:
        require_kelurahan_access(filters["kelurahan"], scope=scope)
    city = _city()
    with get_engine().connect() as conn:
        kelurahan = visible_kelurahan(scope, store.load_kelurahan(conn, city["kode"]))
        facilities = _listed(scope, store.load_facilities(conn, city["kode"]), kelurahan,
                             filters)
        version = store.data_version(conn, city["kode"])
    pages = max(math.ceil(len(facilities) / PER_PAGE), 1)
    page = min(_page_number(), pages)
    # The same map on every page of the table: drawn once per data version, area, filter and
    # language.
    key = (city["kode"], version, tuple(kelurahan["kode"]), tuple(sorted(filters.items())),
           current_language())
    rendered = cached(_MAP_CACHE, key, lambda: maps.map_components(
        maps.facility_map(kelurahan, facilities, **map_options())))
    return render_template(
        "facilities.html", map=rendered, city=city, filters=filters,
        rows=_table_rows(facilities.iloc[(page - 1) * PER_PAGE:page * PER_PAGE],
                         dict(zip(kelurahan["kode"], kelurahan["nama"], strict=True))),
        total=len(facilities), page=page, pages=pages, kelurahan=kelurahan[["kode", "nama"]]
        .to_dict(orient="records"), type_labels=TYPE_LABELS, status_labels=STATUS_LABELS,
        can_edit=scope.role in EDIT_ROLES, city_args=_city_args(city), page_url=_page_url)


@bp.route("/fasilitas/baru", methods=["GET", "POST"])
@require_role(*EDIT_ROLES)
def facility_new():
    """Add one facility (it must lie in one of the city's kelurahan)."""
    city = _city()
    form = FacilityForm()
    if form.validate_on_submit():
        with get_engine().connect() as conn:
            kelurahan = store.load_kelurahan(conn, city["kode"])
        kode = _locate(form, kelurahan, city)
        if kode is not None:
            values = _form_values(form)
            try:
                create_facility(get_engine(), _archive_dir(), city, values, kode,
                                signed_in_scope().username or "web")
            except DuplicateFacilityError:
                form.nama.errors.append(_("Fasilitas dengan jenis, nama dan lokasi yang sama "
                                          "sudah ada."))
            else:
                flash(_("Fasilitas %(nama)s disimpan.", nama=values["nama"]))
                return redirect(url_for("facility_pages.facility_list", kelurahan=kode,
                                        **_city_args(city)))
    return _form_page(form, city, None, 422 if form.is_submitted() else 200)


@bp.route("/fasilitas/<int:facility_id>/ubah", methods=["GET", "POST"])
@require_role(*EDIT_ROLES)
def facility_edit(facility_id: int):
    """Change one facility of the user's city."""
    scope = signed_in_scope()
    with get_engine().connect() as conn:
        facility = get_facility(conn, facility_id)
        if scope.city_kode and facility["city_kode"] != scope.city_kode:
            raise NotFoundError(f"Facility {facility_id} does not exist.")
        city = store.get_city(conn, facility["city_kode"])
    form = FacilityForm(data={key: facility[key] for key in (
        "type", "nama", "status", "operator", "capacity", "latitude", "longitude")})
    if form.validate_on_submit():
        with get_engine().connect() as conn:
            kelurahan = store.load_kelurahan(conn, city["kode"])
        kode = _locate(form, kelurahan, city)
        if kode is not None:
            values = _form_values(form)
            update_facility(get_engine(), _archive_dir(), city, facility, values, kode,
                            scope.username or "web")
            flash(_("Perubahan fasilitas %(nama)s disimpan.", nama=values["nama"]))
            return redirect(url_for("facility_pages.facility_list", kelurahan=kode,
                                    **_city_args(city)))
    return _form_page(form, city, facility, 422 if form.is_submitted() else 200)


@bp.route("/fasilitas/impor", methods=["GET", "POST"])
@require_role(*EDIT_ROLES)
def facility_import():
    """Import a facility file (CSV, GeoJSON, GeoPackage, OpenCelliD) and show its report."""
    city = _city()
    form = ImportForm()
    page = {"form": form, "city": city, "city_args": _city_args(city)}
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("facility_import.html", **page), status
    original = client_file_name(form.file.data.filename or "", "fasilitas.csv")
    options = IngestOptions(archive_dir=_archive_dir(),
                            uploaded_by=signed_in_scope().username or "web", city_kode=city["kode"])
    options.extra["original_name"] = original
    try:
        with tempfile.TemporaryDirectory(prefix="petakota-facilities-") as folder:
            path = Path(folder) / (secure_filename(original) or "fasilitas.csv")
            form.file.data.save(path)
            report = import_facilities(get_engine(), path, options,
                                       facility_type=form.facility_type.data or None,
                                       status=form.status.data or None,
                                       crs=(form.crs.data or "").strip() or None)
    except (InputFileError, CRSError) as error:
        current_app.logger.info("facility import of %s refused: %s", original, error)
        return render_template("facility_import.html", **page, error=error.message,
                               problems=[p.as_dict() for p in error.problems]), 422
    return render_template("facility_import.html", **page, report=report,
                           errors=report.get("errors") or [], notes=report.get("notes") or [])
