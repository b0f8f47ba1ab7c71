"""JSON / GeoJSON API under ``/api/``: the same data as the pages, scoped to the caller's area.

Authentication by session or ``Authorization: Bearer <token>``; errors are JSON with a message a
client can act on (see :mod:`webmap.errors`).  A lurah or camat only ever receives their own
kelurahan; another area's object answers 403 and never its data.  Blank spots are served cut
along kelurahan borders (:func:`geo.coverage.split_blank_spots`): a kelurahan's answer holds its
own pieces only, each with its own area, population and evidence.
"""
from __future__ import annotations

import json
from typing import Any

import pandas as pd
from flask import Blueprint, Response, jsonify, request

import geopandas as gpd

from geo.errors import InputFileError
from webmap import analysis
from webmap.db import get_engine
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


_FILTERS = ("city", "operator", "as_of")
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
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
        "parameters": {
            name: {"name": name, "in": "path" if name == "kode" else "query",
                   "required": name == "kode", "schema": {"type": schema}}
            for name, schema in (("kode", "string"), ("city", "string"), ("operator", "string"),
                                 ("as_of", "string"), ("kelurahan", "string"),
                                 ("type", "string"), ("page", "integer"),
                                 ("per_page", "integer"))},
        "responses": {"Error": {"description": "Error with a message",
                                "content": {"application/json": {"schema": {
                                    "type": "object", "properties": {
                                        "error": {"type": "string"},
                                        "problems": {"type": "array"}}}}}}},
    },
}
