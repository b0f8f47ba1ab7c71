"""Map pages: the city map (planners) and the kelurahan page (lurah and everyone allowed).

Views parse the request, call :mod:`webmap.analysis` and :mod:`webmap.maps`, and render.  The
analysis of a city is cached per data version and filter, so a warm page does no analysis.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import gettext

import folium

from geo.errors import NotFoundError
from geo.settings import SIGNAL_CLASSES_DBM
from webmap import analysis, maps
from webmap.i18n import current_language
from webmap.overviews import (
    cached_surface_image,
    filter_args,
    operator_choices,
    request_overview,
)
from webmap.permissions import ALL_ROLES, CITY_ROLES, require_kelurahan_access, require_role


bp = Blueprint("pages", __name__)
bp.add_app_template_global(operator_choices)  # the filters of the map and the dashboard

def status_label(status: str) -> str:
    """A kelurahan's quick-win status (see :data:`maps.KELURAHAN_STATUSES`) in the user's language."""
    return gettext(status) if status in maps.KELURAHAN_STATUSES else status


def map_options() -> dict[str, Any]:
    """Tile URL, static URLs and the request's language for the map builders."""
    return {"tile_url": current_app.config.get("TILE_URL", maps.DEFAULT_TILE_URL),
            "static_url": lambda path: url_for("static", filename=path),
            "translate": gettext, "decimal_comma": current_language() == "id"}


@bp.get("/peta")
@require_role(*CITY_ROLES)
def city_map():
    """The city map: choropleth, cells, blank spots, surface, measurements and facilities.

    Filters: ``operator``, ``technology``, ``as_of`` and ``indicator`` of the choropleth.  The
    rendered map is kept with the overview per indicator and language.
    """
    indicator = request.args.get("indicator", "covered_area_pct")
    if indicator not in maps.INDICATORS:
        indicator = "covered_area_pct"
    filters, overview = request_overview()
    key = ("city", indicator, current_language())
    if key not in overview.rendered:
        overview.rendered[key] = maps.map_components(_city_folium_map(overview, filters,
                                                                      indicator))
    return render_template("city_map.html", map=overview.rendered[key], overview=overview,
                           filters=filters, indicator=indicator,
                           # translated here: a template's _() would read "%" as a placeholder
                           indicators={k: gettext(v.label) for k, v in maps.INDICATORS.items()},
                           technologies=sorted(SIGNAL_CLASSES_DBM),
                           kelurahan=analysis.records(overview.stats),
                           kelurahan_index=_kelurahan_index(overview))


@bp.get("/peta/surface.png")
@require_role(*CITY_ROLES)
def city_surface():
    """The estimated signal surface of the city map as a PNG (same filters as ``/peta``)."""
    _, overview = request_overview()
    image = cached_surface_image(overview)
    if image is None:
        raise NotFoundError(f"No measurements in {overview.data.city['nama']} for this "
                            "filter, so there is no signal surface.")
    response = Response(image.image, mimetype="image/png",
                        headers={"Cache-Control": "private, no-cache"})
    response.add_etag()
    return response.make_conditional(request)


def _city_folium_map(overview: analysis.CityOverview, filters: dict[str, str | None],
                     indicator: str) -> folium.Map:
    # At city zoom only blank cells are drawn (weak and covered show in the choropleth and on
    # the kelurahan pages), keeping the page small; the surface is a separate image.
    problem = overview.cells[overview.cells["status"] == "blank"]
    surface = cached_surface_image(overview)
    if surface is not None:
        arguments = {**filters, "city": overview.data.city["kode"]}
        surface = maps.SurfaceImage(
            url_for("pages.city_surface", **{k: v for k, v in arguments.items() if v}),
            surface.bounds)
    return maps.city_map(overview.stats, cells=problem, blank_spots=overview.blank_spots,
                         facilities=overview.facilities, measurements_sample=overview.sample,
                         surface_png=surface, indicator=indicator, **map_options())


def _kelurahan_index(overview: analysis.CityOverview) -> list[dict[str, Any]]:
    """Per kelurahan: code, name, bounds ``[[south, west], [north, east]]`` and page URL."""
    stats = overview.stats
    bounds = stats.geometry.bounds.round(maps.COORDINATE_DECIMALS)
    return [{"kode": kode, "nama": nama, "bounds": [[box.miny, box.minx], [box.maxy, box.maxx]],
             "url": url_for("pages.kelurahan_page", kode=kode, **filter_args())}
            for kode, nama, box in zip(stats["kode"], stats["nama"], bounds.itertuples(),
                                       strict=True)]


@bp.get("/kelurahan/<kode>")
@require_role(*ALL_ROLES)
def kelurahan_page(kode: str):
    """One kelurahan: map zoomed to it, figures, blank-spot trend, blank spots, facilities."""
    require_kelurahan_access(kode)
    _, overview = request_overview()
    detail = analysis.kelurahan_overview(overview, kode)
    key = ("kelurahan", kode, current_language())
    rendered = overview.rendered.get(key)
    if rendered is None:
        m = maps.kelurahan_map(detail["row"], **analysis.kelurahan_layers(overview, kode),
                               **map_options())
        rendered = overview.rendered[key] = maps.map_components(m)
    return render_template("kelurahan.html", map=rendered,
                           plans=_plans_touching(overview, kode),
                           stats=detail["stats"], overview=overview,
                           blank_spots=analysis.blank_spot_records(detail["blank_spots"]),
                           facilities=analysis.records(detail["facilities"]),
                           trend=analysis.trend_records(analysis.overview_trend(overview), kode))


def _plans_touching(overview: analysis.CityOverview, kode: str) -> list[dict[str, Any]]:
    """Saved siting plans that touch the kelurahan, with their sites in it (read-only)."""
    from webmap.db import get_engine
    from webmap.siting_pages import plans_touching

    with get_engine().connect() as conn:
        return plans_touching(conn, overview.data.city["kode"], kode)
