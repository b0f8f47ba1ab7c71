"""The siting page ``/tapak`` for planners: run a siting in the background, see and keep the result.

A planner (or admin) chooses a quick win - the waste-processing building (``geo.waste_siting``)
or towers for blank spots (``geo.tower_siting``) - and its parameters; the run is handed to a
background worker (:class:`SitingJobs`, a thread pool per server process) and the browser is sent
to the job's page, whose script (``static/js/tapak.js``) polls a JSON status until the result is
there.  A job's state lives in a JSON file in the instance folder, so any server process answers
the status and shows the result, and a long solve never holds a request.

Results show as a map (:func:`webmap.siting_maps.siting_map`), the ranked sites and the
sensitivity table; saved scenarios (:mod:`webmap.scenarios`) are listed with links to view,
compare two, re-run (again as a job) and adopt as planned facilities.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.utils import secure_filename
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import Length, NumberRange, Optional

from geo.errors import N_, PetakotaError
from geo.settings import SIGNAL_CLASSES_DBM, SITING_RULE_SETS, thresholds_from_config
from webmap import maps, scenarios, siting, siting_maps, store
from webmap.archive import client_file_name
from webmap.db import get_engine
from webmap.errors import user_message
from webmap.overviews import request_filters
from webmap.pages import map_options
from webmap.permissions import require_role, signed_in_scope

bp = Blueprint("siting_pages", __name__)

PLANNER_ROLES = ("admin", "perencana")
#: Facility types drawn as the fixed sites of each quick win.
FIXED_SITE_TYPES = {"waste": ("tps", "tps3r", "tpst", "tpa"), "towers": ("bts",)}
#: Where job files live, under the instance folder.
JOB_FOLDER = "tapak-jobs"
#: How long a finished job's file is kept (seconds): a week, then the next job removes it.
JOB_KEEP_SECONDS = 7 * 24 * 3600
_JOB_ID_BYTES = 12
_LOG = logging.getLogger(__name__)
_JOBS_LOCK = threading.Lock()


# --- forms ---------------------------------------------------------------------------------------

class WasteForm(FlaskForm):
    """Parameters of a waste-processing siting (defaults: ``geo.settings``)."""

    rules = SelectField(_l("Aturan"), choices=[
        SelectChoice("tpst", _l("TPST/TPS3R (bangunan pengolahan)")),
        SelectChoice("tpa", _l("TPA (SNI 03-3241-1994, Bapedal 04/1995)"))])
    model = SelectField(_l("Model"), choices=[
        SelectChoice("pmedian", _l("p-median berkapasitas (ton-km terkecil)")),
        SelectChoice("mclp", _l("MCLP (ton terbanyak dalam jarak layanan)")),
        SelectChoice("lscp", _l("LSCP (lokasi paling sedikit yang melayani semua)"))])
    sites = IntegerField(_l("Jumlah lokasi baru (p)"), default=1,
                         validators=[NumberRange(min=1, max=50)])
    service_m = DecimalField(_l("Jarak layanan (m, kosong: bawaan)"),
                             validators=[Optional(), NumberRange(min=1)])
    capacity_t_day = DecimalField(_l("Kapasitas per lokasi (ton/hari, kosong: bawaan)"),
                                  validators=[Optional(), NumberRange(min=0.1)])
    candidates = FileField(_l("File calon lokasi (CSV lat/lon atau file vektor; kosong: "
                              "dibangkitkan dari lahan yang sesuai)"))
    save = StringField(_l("Simpan sebagai skenario (nama; kosong: tidak disimpan)"),
                       validators=[Optional(), Length(max=200)])


class TowerForm(FlaskForm):
    """Parameters of a tower siting for blank spots (defaults: ``geo.settings``)."""

    model = SelectField(_l("Model"), choices=[
        SelectChoice("lscp", _l("LSCP (menara paling sedikit untuk semua blank spot)")),
        SelectChoice("mclp", _l("MCLP (sel blank terbanyak dengan k menara)"))])
    radius_m = DecimalField(_l("Jangkauan menara (m, kosong: bawaan teknologi)"),
                            validators=[Optional(), NumberRange(min=1)])
    max_sites = IntegerField(_l("Jumlah menara paling banyak (kosong: tanpa batas)"),
                             validators=[Optional(), NumberRange(min=1, max=500)])
    operator = StringField(_l("Operator (kosong: semua)"), validators=[Optional(),
                                                                       Length(max=80)])
    technology = SelectField(_l("Teknologi"), choices=[SelectChoice("", _l("bawaan"))] + [
        SelectChoice(t, t) for t in sorted(SIGNAL_CLASSES_DBM)], validators=[Optional()])
    as_of = StringField(_l("Per tanggal (TTTT-BB-HH, kosong: semua data)"),
                        validators=[Optional(), Length(max=10)])
    include_weak = BooleanField(_l("Sel lemah juga dihitung sebagai permintaan"))
    candidates = FileField(_l("File calon lokasi (kosong: grid, fasilitas dan lahan)"))
    save = StringField(_l("Simpan sebagai skenario (nama; kosong: tidak disimpan)"),
                       validators=[Optional(), Length(max=200)])


def _forms() -> tuple[WasteForm, TowerForm]:
    return WasteForm(prefix="sampah"), TowerForm(prefix="menara")


# --- background jobs -----------------------------------------------------------------------------

class SitingJobs:
    """Siting runs in a thread pool, their state in JSON files any server process can read.

    A job file holds ``id``, ``kind``, ``city``, ``owner``, ``state`` (``running``, ``done``
    or ``failed``), ``started_at``, ``finished_at`` and then ``result`` or ``error`` (the
    Indonesian message with its translatable template and values).
    """

    def __init__(self, folder: Path, *, workers: int = 1) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=workers,
                                        thread_name_prefix="petakota-tapak")
        self._futures: dict[str, Future] = {}

    def submit(self, work: Any, *, kind: str, city: str, owner: str,
               cleanup: Path | None = None) -> str:
        """Start ``work()`` (returns the JSON-ready answer) and return the job's id."""
        self._forget_old()
        job_id = secrets.token_hex(_JOB_ID_BYTES)
        self._write(job_id, {"id": job_id, "kind": kind, "city": city, "owner": owner,
                             "state": "running", "started_at": _now(),
                             "host": socket.gethostname(), "pid": os.getpid()})
        self._futures[job_id] = self._pool.submit(self._run, job_id, work, cleanup)
        return job_id

    def read(self, job_id: str) -> dict[str, Any] | None:
        """The job's state, or None when there is no such job.

        A job still marked running whose server process on this machine has ended (a
        restart) is answered as failed, so its page stops waiting.
        """
        if not job_id.isalnum():
            return None
        try:
            job = json.loads(self._path(job_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        if job.get("state") == "running" and _process_ended(job):
            return job | {"state": "failed", "error": {
                "message": _INTERRUPTED, "template": _INTERRUPTED, "params": {}}}
        return job

    def wait(self, job_id: str) -> dict[str, Any] | None:
        """Wait until a job of this process has finished; its final state."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result()
        return self.read(job_id)

    def _run(self, job_id: str, work: Any, cleanup: Path | None) -> None:
        job = self.read(job_id) or {}
        try:
            job |= {"state": "done", "result": work()}
        except PetakotaError as error:
            job |= {"state": "failed", "error": {"message": error.message,
                                                 "template": error.template,
                                                 "params": _plain(error.params)}}
        except Exception as error:  # noqa: BLE001 - the job must end, the detail is logged
            _LOG.exception("siting job %s failed", job_id)
            job |= {"state": "failed", "error": {"message": str(error), "template": None,
                                                 "params": {}, "unexpected": True}}
        finally:
            if cleanup is not None:
                cleanup.unlink(missing_ok=True)
        self._write(job_id, job | {"finished_at": _now()})

    def _forget_old(self) -> None:
        """Remove the files of jobs that finished more than :data:`JOB_KEEP_SECONDS` ago."""
        oldest = datetime.now(UTC).timestamp() - JOB_KEEP_SECONDS
        for path in self.folder.glob("*.json"):
            if path.stat().st_mtime < oldest:
                path.unlink(missing_ok=True)

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def _write(self, job_id: str, job: dict[str, Any]) -> None:
        partial = self.folder / f".{job_id}.{threading.get_ident()}.tmp"
        partial.write_text(json.dumps(job, default=str), encoding="utf-8")
        os.replace(partial, self._path(job_id))



def siting_jobs(app: Flask | None = None) -> SitingJobs:
    """The app's :class:`SitingJobs` (created on first use; ``SITING_WORKERS`` threads)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    with _JOBS_LOCK:
        if "siting_jobs" not in app.extensions:
            app.extensions["siting_jobs"] = SitingJobs(
                Path(app.instance_path) / JOB_FOLDER,
                workers=int(app.config.get("SITING_WORKERS", 1)))
        return app.extensions["siting_jobs"]


#: The answer for a job whose server process ended before it finished.
_INTERRUPTED = N_("Perhitungan terhenti karena server dimulai ulang; jalankan lagi.")


def _process_ended(job: dict[str, Any]) -> bool:
    """Whether the job's server process (on this machine) no longer exists."""
    if job.get("host") != socket.gethostname() or not job.get("pid"):
        return False
    try:
        os.kill(int(job["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value if isinstance(value, (int, float, str, type(None))) else str(value)
            for key, value in values.items()}


# --- helpers -------------------------------------------------------------------------------------

def _city() -> dict[str, Any]:
    with get_engine().connect() as conn:
        return store.get_city(conn, request_filters()["city"])


def _city_args(city: dict[str, Any]) -> dict[str, str]:
    """``city=`` for URLs when the user is not tied to one city (admins)."""
    return {} if signed_in_scope().city_kode else {"city": city["kode"]}


def _username() -> str:
    return signed_in_scope().username or "web"


def _saved_upload(field: FileField, folder: Path) -> Path | None:
    """The uploaded candidate file, kept in the job folder while the job runs."""
    upload = field.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    original = client_file_name(upload.filename, "calon.csv")
    path = folder / f"calon-{secrets.token_hex(6)}-{secure_filename(original) or 'calon.csv'}"
    upload.save(path)
    return path


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _error_text(error: dict[str, Any]) -> str:
    if error.get("unexpected"):
        return _("Perhitungan gagal karena kesalahan di server; hubungi admin (detail ada di "
                 "log server).")
    template = error.get("template")
    if template:
        return _(template, **error.get("params", {}))
    return error.get("message") or "-"


def _page(city: dict[str, Any], forms: tuple[WasteForm, TowerForm], status: int = 200,
          **extra: Any) -> tuple[str, int]:
    with get_engine().connect() as conn:
        saved = scenarios.list_scenarios(conn, city["kode"])
    return render_template("tapak.html", city=city, waste_form=forms[0], tower_form=forms[1],
                           scenarios=saved, city_args=_city_args(city), **extra), status


def _submit(city: dict[str, Any], kind: str, request_: Any, name: str | None,
            cleanup: Path | None) -> str:
    engine, owner = get_engine(), _username()

    def work() -> dict[str, Any]:
        if name:
            return scenarios.run_scenario(engine, city["kode"], kind, request_, name=name,
                                          created_by=owner)
        return scenarios.plan(engine, city["kode"], kind, request_)

    return siting_jobs().submit(work, kind=kind, city=city["kode"], owner=owner,
                                cleanup=cleanup)


# --- views ---------------------------------------------------------------------------------------

@bp.get("/tapak")
@require_role(*PLANNER_ROLES)
def siting_page():
    """The forms of both quick wins and the city's saved scenarios."""
    return _page(_city(), _forms())


@bp.post("/tapak/sampah")
@require_role(*PLANNER_ROLES)
def run_waste():
    """Start a waste-processing siting; the browser goes on to the job's page."""
    city, forms = _city(), _forms()
    form = forms[0]
    if not form.validate_on_submit():
        return _page(city, forms, 422, active="waste")
    path = _saved_upload(form.candidates, siting_jobs().folder)
    try:
        request_ = siting.parse_waste_request(
            rules=form.rules.data, model=form.model.data, sites=form.sites.data,
            service_m=_number(form.service_m.data),
            capacity_t_day=_number(form.capacity_t_day.data),
            candidates=str(path) if path else None,
            rule_overrides=(current_app.config.get("SITING_RULES") or {}).get(form.rules.data))
    except PetakotaError as error:
        return _page(city, forms, 422, active="waste", error=user_message(error))
    job_id = _submit(city, "waste", request_, (form.save.data or "").strip() or None, path)
    return redirect(url_for("siting_pages.job_page", job_id=job_id, **_city_args(city)))


@bp.post("/tapak/menara")
@require_role(*PLANNER_ROLES)
def run_towers():
    """Start a tower siting for the blank spots; the browser goes on to the job's page."""
    city, forms = _city(), _forms()
    form = forms[1]
    if not form.validate_on_submit():
        return _page(city, forms, 422, active="towers")
    path = _saved_upload(form.candidates, siting_jobs().folder)
    try:
        request_ = siting.parse_request(
            model=form.model.data, radius_m=_number(form.radius_m.data),
            max_sites=form.max_sites.data, operator=(form.operator.data or "").strip() or None,
            technology=form.technology.data or None, as_of=form.as_of.data or None,
            candidates=str(path) if path else None, include_weak=bool(form.include_weak.data),
            include_unmeasured=False,
            thresholds=thresholds_from_config(current_app.config.get("SIGNAL_THRESHOLDS")))
    except PetakotaError as error:
        return _page(city, forms, 422, active="towers", error=user_message(error))
    job_id = _submit(city, "towers", request_, (form.save.data or "").strip() or None, path)
    return redirect(url_for("siting_pages.job_page", job_id=job_id, **_city_args(city)))


def _own_job(job_id: str) -> dict[str, Any]:
    """The job, when it is the caller's (admins see every job of their city)."""
    job = siting_jobs().read(job_id)
    scope = signed_in_scope()
    if job is None or (job["owner"] != scope.username and scope.role != "admin") or \
            (scope.city_kode and job["city"] != scope.city_kode):
        abort(404)
    return job


@bp.get("/tapak/tugas/<job_id>.json")
@require_role(*PLANNER_ROLES)
def job_status(job_id: str):
    """A job's state for the page's script: ``state``, ``message``, seconds ``elapsed``."""
    job = _own_job(job_id)
    started = datetime.fromisoformat(job["started_at"])
    finished = datetime.fromisoformat(job.get("finished_at") or _now())
    answer = {"state": job["state"], "elapsed": int((finished - started).total_seconds()),
              "url": url_for("siting_pages.job_page", job_id=job_id)}
    if job["state"] == "failed":
        answer["message"] = _error_text(job["error"])
    return jsonify(answer)


@bp.get("/tapak/tugas/<job_id>")
@require_role(*PLANNER_ROLES)
def job_page(job_id: str):
    """A job: progress while it runs, then its result (or what to change when it failed)."""
    job = _own_job(job_id)
    city = _city()
    if job["state"] != "done":
        error = _error_text(job["error"]) if job["state"] == "failed" else None
        return render_template("tapak_job.html", city=city, job=job, error=error,
                               city_args=_city_args(city))
    result = job["result"]
    scenario = result.get("scenario")
    return _result_page(city, job["kind"], result, scenario=scenario, job=job)


@bp.get("/tapak/skenario/<int:scenario_id>")
@require_role(*PLANNER_ROLES)
def scenario_page(scenario_id: int):
    """A saved scenario: its map, sites and sensitivity table, with re-run and adopt."""
    city = _city()
    with get_engine().connect() as conn:
        scenario = scenarios.get_scenario(conn, city["kode"], scenario_id)
    return _result_page(city, scenario["kind"], scenario["result"], scenario=scenario)


@bp.get("/tapak/banding")
@require_role(*PLANNER_ROLES)
def compare_page():
    """Two saved scenarios side by side (``a`` and ``b``)."""
    city = _city()
    try:
        a, b = int(request.args.get("a", "")), int(request.args.get("b", ""))
    except ValueError:
        flash(_("Pilih dua skenario untuk dibandingkan."))
        return redirect(url_for("siting_pages.siting_page", **_city_args(city)))
    with get_engine().connect() as conn:
        comparison = scenarios.compare_scenarios(conn, city["kode"], a, b)
    return render_template("tapak_compare.html", city=city, comparison=comparison,
                           city_args=_city_args(city))


@bp.post("/tapak/skenario/<int:scenario_id>/ulang")
@require_role(*PLANNER_ROLES)
def rerun(scenario_id: int):
    """Run a saved scenario again on today's data (a job; saved linked to the old one)."""
    city = _city()
    engine, owner = get_engine(), _username()
    thresholds = thresholds_from_config(current_app.config.get("SIGNAL_THRESHOLDS"))
    with engine.connect() as conn:
        kind = scenarios.get_scenario(conn, city["kode"], scenario_id)["kind"]
    job_id = siting_jobs().submit(
        lambda: scenarios.rerun_scenario(engine, city["kode"], scenario_id, created_by=owner,
                                         thresholds=thresholds),
        kind=kind, city=city["kode"], owner=owner)
    return redirect(url_for("siting_pages.job_page", job_id=job_id, **_city_args(city)))


@bp.post("/tapak/skenario/<int:scenario_id>/adopsi")
@require_role(*PLANNER_ROLES)
def adopt(scenario_id: int):
    """Turn a scenario's sites into planned facilities (``type`` for waste plans)."""
    city = _city()
    adopted = scenarios.adopt_scenario(get_engine(), city["kode"], scenario_id,
                                       adopted_by=_username(),
                                       facility_type=request.form.get("type") or None)
    flash(_("%(n)s fasilitas rencana (%(type)s) ditambahkan dari skenario ini; %(total)s "
            "tercatat seluruhnya.", n=adopted["created"], type=adopted["type"],
            total=len(adopted["facilities"])))
    return redirect(url_for("siting_pages.scenario_page", scenario_id=scenario_id,
                            **_city_args(city)))


# --- the result ----------------------------------------------------------------------------------

def _result_page(city: dict[str, Any], kind: str, result: dict[str, Any], *,
                 scenario: dict[str, Any] | None = None, job: dict[str, Any] | None = None
                 ) -> str:
    with get_engine().connect() as conn:
        kelurahan = store.load_kelurahan(conn, city["kode"])
        facilities = store.load_facilities(conn, city["kode"])
    fixed = facilities[facilities["type"].isin(FIXED_SITE_TYPES[kind])
                       & (facilities["status"] == "existing")]
    m = siting_maps.siting_map(kelurahan, result, fixed_sites=fixed, **map_options())
    return render_template(
        "tapak_result.html", city=city, kind=kind, result=result, scenario=scenario, job=job,
        map=maps.map_components(m), sensitivity=sensitivity_table(result.get("sensitivity") or []),
        rule_sets=SITING_RULE_SETS, city_args=_city_args(city))


def sensitivity_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sensitivity rows as a table: one row per p, one column per service distance.

    Returns
    -------
    dict
        ``services`` (metres, ascending) and ``rows``: ``{"p", "cells": [row or None]}``.
    """
    services = sorted({float(row["service_m"]) for row in rows})
    by_key = {(int(row["p"]), float(row["service_m"])): row for row in rows}
    return {"services": services,
            "rows": [{"p": p, "cells": [by_key.get((p, s)) for s in services]}
                     for p in sorted({int(row["p"]) for row in rows})]}


# --- the kelurahan page --------------------------------------------------------------------------

def plans_touching(conn: Any, city_kode: str, kelurahan_kode: str) -> list[dict[str, Any]]:
    """Saved plans that touch a kelurahan, with their sites inside it (read-only view).

    A plan touches a kelurahan when a site lies in it or within its reach
    (:func:`webmap.scenarios.touched_area`).
    """
    plans = []
    for summary in scenarios.list_scenarios(conn, city_kode, area=kelurahan_kode):
        scenario = scenarios.get_scenario(conn, city_kode, summary["id"])
        inside = [site for site in scenario["result"].get("sites") or []
                  if str(site.get("kode")) == kelurahan_kode]
        plans.append(summary | {"sites_here": inside})
    return plans

