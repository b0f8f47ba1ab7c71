"""JSON / GeoJSON API under ``/api/``: the same data as the pages, scoped to the caller's area.

Authentication by session or ``Authorization: Bearer <token>``; errors are JSON with a message a
client can act on (see :mod:`webmap.errors`).  A lurah or camat only ever receives their own
kelurahan; another area's object answers 403 and never its data.  Blank spots are served cut
along kelurahan borders (:func:`geo.coverage.split_blank_spots`): a kelurahan's answer holds its
own pieces only, each with its own area, population and evidence.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, request

import geopandas as gpd

from geo.errors import InputFileError, NotFoundError
from geo.settings import thresholds_from_config
from webmap import analysis, scenarios, siting, store
from webmap.db import get_engine
from webmap.i18n import current_language
from webmap.overviews import request_filters, request_overview
from webmap.permissions import (
    ALL_ROLES,
    CITY_ROLES,
    ForbiddenError,
    current_scope,
    require_kelurahan_access,
    require_role,
    visible_kelurahan,
)
from webmap.uploads import uploads_query

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_PER_PAGE = 1000


def _geojson(frame: gpd.GeoDataFrame) -> Response:
    text = frame.to_crs("EPSG:4326").to_json(drop_id=True, na="null") if len(frame) else \
        json.dumps({"type": "FeatureCollection", "features": []})
    return Response(text, mimetype="application/geo+json")


def _page() -> tuple[int, int]:
    try:
        page = max(int(request.args.get("page", 1)), 1)
        per_page = min(max(int(request.args.get("per_page", 200)), 1), MAX_PER_PAGE)
    except ValueError as error:
        raise InputFileError("page and per_page must be whole numbers.") from error
    return page, per_page


def _paginated(rows: list[dict[str, Any]]) -> dict[str, Any]:
    page, per_page = _page()
    start = (page - 1) * per_page
    return {"page": page, "per_page": per_page, "total": len(rows),
            "items": rows[start:start + per_page]}


def _visible(overview: analysis.CityOverview) -> pd.DataFrame:
    """The kelurahan statistics rows the caller may see."""
    codes = visible_kelurahan(current_scope(), overview.data.kelurahan)["kode"]
    return overview.stats[overview.stats["kode"].isin(set(codes))]


@bp.get("/kelurahan")
@require_role(*ALL_ROLES)
def kelurahan_list():
    """Kelurahan with their coverage figures (only the caller's area for lurah/camat)."""
    _, overview = request_overview()
    rows = analysis.records(_visible(overview))
    return jsonify({"city": overview.data.city["kode"],
                    "boundary_version": overview.data.boundary_version, **_paginated(rows)})


@bp.get("/kelurahan/<kode>")
@require_role(*ALL_ROLES)
def kelurahan_detail(kode: str):
    """One kelurahan: figures, its blank-spot pieces (with evidence) and facilities."""
    require_kelurahan_access(kode)
    _, overview = request_overview()
    detail = analysis.kelurahan_overview(overview, kode)
    return jsonify({"kelurahan": detail["stats"],
                    "boundary_version": overview.data.boundary_version,
                    "blank_spots": analysis.records(detail["blank_spots"]),
                    "facilities": analysis.records(detail["facilities"])})


@bp.get("/kelurahan/<kode>/blankspots.geojson")
@require_role(*ALL_ROLES)
def kelurahan_blank_spots(kode: str):
    """Blank-spot polygons of one kelurahan as GeoJSON, cut at its border (a blank spot
    reaching into a neighbour is one piece here and one there, with ``blank_spot_id`` in
    common)."""
    require_kelurahan_access(kode)
    _, overview = request_overview()
    return _geojson(analysis.kelurahan_overview(overview, kode)["blank_spots"])


@bp.get("/cells")
@require_role(*ALL_ROLES)
def cells():
    """H3 cells with statistics and status, paginated; ``kelurahan`` filters (and is required
    for lurah and camat)."""
    kode = request.args.get("kelurahan")
    scope = current_scope()
    if scope and scope.role in ("lurah", "camat") and not kode:
        raise ForbiddenError("Give ?kelurahan=KODE: your account sees only its own area.")
    if kode:
        require_kelurahan_access(kode)
    _, overview = request_overview()
    table = overview.cells if not kode else overview.cells[overview.cells["kelurahan_kode"] == kode]
    return jsonify(_paginated(analysis.records(table)))


@bp.get("/facilities.geojson")
@require_role(*ALL_ROLES)
def facilities():
    """Facilities as GeoJSON (``type`` and ``kelurahan`` filter; lurah/camat: own area only)."""
    _, overview = request_overview()
    table = overview.facilities
    if request.args.get("type"):
        table = table[table["type"] == request.args["type"]]
    if request.args.get("kelurahan"):
        require_kelurahan_access(request.args["kelurahan"])
        table = table[table["kelurahan_kode"] == request.args["kelurahan"]]
    scope = current_scope()
    if scope and scope.role in ("lurah", "camat"):
        codes = set(_visible(overview)["kode"])
        table = table[table["kelurahan_kode"].isin(codes)]
    return _geojson(table)


@bp.get("/progress")
@require_role("admin", "perencana")
def progress():
    """Progress towards the city's quick-win targets."""
    filters = request_filters()
    return jsonify({"targets": analysis.target_progress(
        get_engine(), filters["city"], as_of=analysis.parse_date(filters["as_of"]))})


@bp.get("/uploads")
@require_role(*CITY_ROLES)
def uploads():
    """Uploads of the city, newest first (a field team sees its own only)."""
    query = uploads_query(current_scope())
    rows = []
    if query is not None:
        with get_engine().connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
    return jsonify(_paginated([{k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                for k, v in row.items()} for row in rows]))


# --- siting (/tapak): run, saved scenarios, exports, adoption ------------------------------------

PLANNERS = ("admin", "perencana")
SCENARIO_READERS = ("admin", "perencana", "lurah", "camat")
_EXPORT_TYPES = {"csv": "text/csv", "geojson": "application/geo+json",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@bp.post("/tapak/waste")
@require_role(*PLANNERS)
def siting_waste():
    """Run the waste-processing siting (JSON body: rules, model, sites, service_m,
    capacity_t_day, candidates as GeoJSON, save: a scenario name to save it under)."""
    body = _json_body()
    with _candidate_file(body) as candidates:
        request_ = siting.parse_waste_request(
            rules=str(body.get("rules") or "tpst"), model=str(body.get("model") or "pmedian"),
            sites=_number(body, "sites", int), service_m=_number(body, "service_m", float),
            capacity_t_day=_number(body, "capacity_t_day", float), candidates=candidates,
            rule_overrides=(current_app.config.get("SITING_RULES") or {}).get(
                body.get("rules") or "tpst"))
        return jsonify(_run_siting("waste", request_, body))


@bp.post("/tapak/towers")
@require_role(*PLANNERS)
def siting_towers():
    """Run the tower siting (JSON body: model, radius_m, max_sites, operator, technology,
    as_of, include_weak, include_unmeasured, candidates as GeoJSON, save)."""
    body = _json_body()
    with _candidate_file(body) as candidates:
        request_ = siting.parse_request(
            model=str(body.get("model") or "lscp"), radius_m=_number(body, "radius_m", float),
            max_sites=_number(body, "max_sites", int), operator=body.get("operator"),
            technology=body.get("technology"), as_of=body.get("as_of"),
            candidates=candidates, include_weak=bool(body.get("include_weak")),
            include_unmeasured=bool(body.get("include_unmeasured")),
            thresholds=thresholds_from_config(current_app.config.get("SIGNAL_THRESHOLDS")))
        return jsonify(_run_siting("towers", request_, body))


@bp.get("/tapak/scenarios")
@require_role(*SCENARIO_READERS)
def siting_scenarios():
    """Saved scenarios of the city (``kind`` filters); a lurah or camat gets those that
    touch their area only."""
    city, area = _scenario_scope()
    with get_engine().connect() as conn:
        rows = scenarios.list_scenarios(conn, city, kind=request.args.get("kind") or None,
                                        area=area)
    return jsonify({"city": city, **_paginated(rows)})


@bp.get("/tapak/scenarios/<int:scenario_id>")
@require_role(*SCENARIO_READERS)
def siting_scenario(scenario_id: int):
    """One saved scenario: parameters, provenance and result."""
    return jsonify(_readable_scenario(scenario_id))


@bp.get("/tapak/scenarios/<int:scenario_id>.geojson")
@require_role(*SCENARIO_READERS)
def siting_scenario_sites(scenario_id: int):
    """The sites of a saved scenario as GeoJSON points."""
    return Response(json.dumps(scenarios.sites_geojson(_readable_scenario(scenario_id))),
                    mimetype="application/geo+json")


@bp.get("/tapak/scenarios/<int:scenario_id>/export.<fmt>")
@require_role(*SCENARIO_READERS)
def siting_scenario_export(scenario_id: int, fmt: str):
    """A saved plan as CSV, XLSX or GeoJSON (tower plans: Kominfo's proposal shape);
    ``lang`` (id or en) names the columns."""
    if fmt not in _EXPORT_TYPES:
        raise NotFoundError(f"No export as .{fmt}: use {', '.join(_EXPORT_TYPES)}.")
    scenario = _readable_scenario(scenario_id)
    lang = request.args.get("lang") or current_language()
    with tempfile.TemporaryDirectory(prefix="petakota-ekspor-") as folder:
        path = scenarios.export_plan(scenario["kind"], scenario["result"],
                                     Path(folder) / f"skenario-{scenario_id}.{fmt}", lang=lang)
        data = path.read_bytes()
    return Response(data, mimetype=_EXPORT_TYPES[fmt], headers={
        "Content-Disposition": f"attachment; filename=skenario-{scenario_id}.{fmt}"})


@bp.post("/tapak/scenarios/<int:scenario_id>/adopt")
@require_role(*PLANNERS)
def siting_scenario_adopt(scenario_id: int):
    """Turn a scenario's sites into planned facilities (JSON body: ``type`` for waste plans:
    tpst, tps3r or tpa); adopting again adds nothing."""
    city, _ = _scenario_scope()
    body = _json_body()
    return jsonify(scenarios.adopt_scenario(
        get_engine(), city, scenario_id, adopted_by=_username(),
        facility_type=body.get("type") or None))


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise InputFileError("Send a JSON object as the request body.")
    return body


def _number(body: dict[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError) as error:
        raise InputFileError(f"{key} must be a number, not {value!r}.") from error


@contextmanager
def _candidate_file(body: dict[str, Any]) -> Iterator[str | None]:
    """The body's ``candidates`` (a GeoJSON FeatureCollection) as a file while the run lasts."""
    candidates = body.get("candidates")
    if not candidates:
        yield None
        return
    if not isinstance(candidates, dict) or candidates.get("type") != "FeatureCollection":
        raise InputFileError("candidates must be a GeoJSON FeatureCollection.")
    with tempfile.TemporaryDirectory(prefix="petakota-calon-") as folder:
        path = Path(folder) / "calon.geojson"
        path.write_text(json.dumps(candidates))
        yield str(path)


def _run_siting(kind: str, request_: Any, body: dict[str, Any]) -> dict[str, Any]:
    city = request_filters()["city"]
    name = body.get("save")
    if name is None:
        return scenarios.plan(get_engine(), city, kind, request_)
    return scenarios.run_scenario(get_engine(), city, kind, request_, name=str(name),
                                  created_by=_username())


def _username() -> str:
    scope = current_scope()
    return (scope.username if scope else None) or "api"


def _scenario_scope() -> tuple[str, str | None]:
    """The caller's city and, for a lurah or camat, the area code they may read."""
    scope = current_scope()
    with get_engine().connect() as conn:
        city = store.get_city(conn, request_filters()["city"])["kode"]
    if scope and scope.role == "lurah":
        return city, scope.kelurahan_kode or "-"
    if scope and scope.role == "camat":
        return city, scope.kecamatan_kode or "-"
    return city, None


def _readable_scenario(scenario_id: int) -> dict[str, Any]:
    """The scenario, when it is the caller's city's and (lurah, camat) touches their area."""
    city, area = _scenario_scope()
    with get_engine().connect() as conn:
        scenario = scenarios.get_scenario(conn, city, scenario_id)
    if area is not None and area not in scenario["area_codes"]:
        raise ForbiddenError("This plan does not touch your area.")
    return scenario


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(OPENAPI)


def _operation(summary: str, *, params: tuple[str, ...] = (), geojson: bool = False
               ) -> dict[str, Any]:
    media = "application/geo+json" if geojson else "application/json"
    return {"summary": summary, "security": [{"bearer": []}, {"session": []}],
            "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params],
            "responses": {"200": {"description": "OK", "content": {media: {}}},
                          "401": {"$ref": "#/components/responses/Error"},
                          "403": {"$ref": "#/components/responses/Error"},
                          "404": {"$ref": "#/components/responses/Error"}}}


def _body(fields: str) -> dict[str, Any]:
    """A JSON request body whose fields are described in words."""
    return {"requestBody": {"required": False, "description": f"JSON object: {fields}.",
                            "content": {"application/json": {"schema": {"type": "object"}}}}}


_FILTERS = ("city", "operator", "as_of")
_PATH_PARAMETERS = ("kode", "scenario_id", "fmt")
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "petakota API", "version": "1",
             "description": "Blank spots, coverage figures and facilities per kelurahan."},
    "paths": {
        "/api/kelurahan": {"get": _operation("Kelurahan with coverage figures",
                                             params=(*_FILTERS, "page", "per_page"))},
        "/api/kelurahan/{kode}": {"get": _operation("One kelurahan",
                                                    params=("kode", *_FILTERS))},
        "/api/kelurahan/{kode}/blankspots.geojson": {"get": _operation(
            "Blank-spot polygons of a kelurahan, cut at its border", params=("kode", *_FILTERS),
            geojson=True)},
        "/api/cells": {"get": _operation("H3 cells with status",
                                         params=(*_FILTERS, "kelurahan", "page", "per_page"))},
        "/api/facilities.geojson": {"get": _operation("Facilities",
                                                      params=("type", "kelurahan"),
                                                      geojson=True)},
        "/api/progress": {"get": _operation("Quick-win target progress", params=_FILTERS)},
        "/api/uploads": {"get": _operation("Uploads", params=("page", "per_page"))},
        "/api/me": {"get": _operation("The caller's role and area")},
        "/api/tapak/waste": {"post": _operation(
            "Run the waste-processing siting (perencana, admin); saved with `save`",
            params=("city",)) | _body("rules, model, sites, service_m, capacity_t_day, "
                                      "candidates (GeoJSON), save (scenario name)")},
        "/api/tapak/towers": {"post": _operation(
            "Run the tower siting for blank spots (perencana, admin); saved with `save`",
            params=("city",)) | _body("model, radius_m, max_sites, operator, technology, "
                                      "as_of, include_weak, include_unmeasured, candidates "
                                      "(GeoJSON), save (scenario name)")},
        "/api/tapak/scenarios": {"get": _operation(
            "Saved siting scenarios (lurah/camat: those touching their area)",
            params=("city", "kind", "page", "per_page"))},
        "/api/tapak/scenarios/{scenario_id}": {"get": _operation(
            "One saved scenario: parameters, provenance, result", params=("scenario_id",
                                                                          "city"))},
        "/api/tapak/scenarios/{scenario_id}.geojson": {"get": _operation(
            "The sites of a saved scenario", params=("scenario_id", "city"), geojson=True)},
        "/api/tapak/scenarios/{scenario_id}/export.{fmt}": {"get": _operation(
            "A saved plan as csv, xlsx or geojson (towers: Kominfo's proposal shape)",
            params=("scenario_id", "fmt", "city", "lang"))},
        "/api/tapak/scenarios/{scenario_id}/adopt": {"post": _operation(
            "Adopt a scenario: its sites become planned facilities (idempotent)",
            params=("scenario_id", "city")) | _body("type (waste plans: tpst, tps3r, tpa)")},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
        "parameters": {
            name: {"name": name, "in": "path" if name in _PATH_PARAMETERS else "query",
                   "required": name in _PATH_PARAMETERS, "schema": {"type": schema}}
            for name, schema in (("kode", "string"), ("city", "string"), ("operator", "string"),
                                 ("as_of", "string"), ("kelurahan", "string"),
                                 ("type", "string"), ("page", "integer"),
                                 ("per_page", "integer"), ("scenario_id", "integer"),
                                 ("fmt", "string"), ("kind", "string"), ("lang", "string"))},
        "responses": {"Error": {"description": "Error with a message",
                                "content": {"application/json": {"schema": {
                                    "type": "object", "properties": {
                                        "error": {"type": "string"},
                                        "problems": {"type": "array"}}}}}}},
    },
}
