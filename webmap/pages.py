"""Map pages: the city map (planners) and the kelurahan page (lurah and everyone allowed).

Views parse the request, call :mod:`webmap.analysis` and :mod:`webmap.maps`, and render.  The
analysis of a city is cached per data version and filter, so a warm page does no analysis.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for

from webmap import analysis, maps
from webmap.overviews import cached_overview, request_filters
from webmap.permissions import require_kelurahan_access, require_role

#: Roles that see the whole city map (lurah and camat see their own kelurahan pages).
CITY_ROLES = ("admin", "perencana", "tim_lapangan")
ALL_ROLES = (*CITY_ROLES, "lurah", "camat")

bp = Blueprint("pages", __name__)

def _map_options() -> dict[str, Any]:
    return {"tile_url": current_app.config.get("TILE_URL", maps.DEFAULT_TILE_URL),
            "static_url": lambda path: url_for("static", filename=path)}


@bp.get("/peta")
@require_role(*CITY_ROLES)
def city_map():
    """The city map with choropleth, cells, blank spots, measurements and facilities."""
    filters = request_filters()
    indicator = request.args.get("indicator", "covered_area_pct")
    if indicator not in maps.INDICATORS:
        indicator = "covered_area_pct"
    overview = cached_overview(filters["city"], filters["operator"], filters["as_of"])
    rendered = overview.rendered.get(("city", indicator))
    if rendered is None:
        # At city zoom only blank cells are drawn (weak and covered show in the choropleth
        # and on the kelurahan pages), keeping the page small.
        problem = overview.cells[overview.cells["status"] == "blank"]
        m = maps.city_map(overview.stats, cells=problem, blank_spots=overview.blank_spots,
                          facilities=overview.facilities, measurements_sample=overview.sample,
                          indicator=indicator, **_map_options())
        rendered = overview.rendered[("city", indicator)] = maps.map_components(m)
    return render_template("city_map.html", map=rendered, overview=overview,
                           filters=filters, indicator=indicator, indicators=maps.INDICATORS,
                           kelurahan=analysis.records(overview.stats))


@bp.get("/kelurahan/<kode>")
@require_role(*ALL_ROLES)
def kelurahan_page(kode: str):
    """One kelurahan: map zoomed to it, figures, blank spots, facilities."""
    require_kelurahan_access(kode)
    filters = request_filters()
    overview = cached_overview(filters["city"], filters["operator"], filters["as_of"])
    detail = analysis.kelurahan_overview(overview, kode)
    rendered = overview.rendered.get(("kelurahan", kode))
    if rendered is None:
        m = maps.kelurahan_map(detail["row"], cells=overview.cells,
                               blank_spots=overview.blank_spots, facilities=overview.facilities,
                               measurements_sample=overview.sample, **_map_options())
        rendered = overview.rendered[("kelurahan", kode)] = maps.map_components(m)
    return render_template("kelurahan.html", map=rendered, detail=detail,
                           stats=detail["stats"], overview=overview,
                           blank_spots=analysis.records(detail["blank_spots"]),
                           facilities=analysis.records(detail["facilities"]))
