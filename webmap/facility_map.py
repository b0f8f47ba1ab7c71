"""The facility map: kelurahan outlines and one marker per facility, as a pure function.

Built from :mod:`webmap.maps`' skeleton (base map, facility markers with their per-type icons and
legend, offline assets), so the facility page looks like the city map and loads nothing from a
CDN.  No Flask here: the view passes the tile URL and a ``static_url`` function.
"""
from __future__ import annotations

import html
from collections.abc import Callable

import folium
import geopandas as gpd

from webmap import maps

__all__ = ["facility_map"]

#: Outline of the kelurahan under the markers.
OUTLINE_COLOUR = "#0b5d7a"


def facility_map(kelurahan_gdf: gpd.GeoDataFrame, facilities_gdf: gpd.GeoDataFrame, *,
                 tile_url: str | None = maps.DEFAULT_TILE_URL,
                 tile_attribution: str = maps.DEFAULT_TILE_ATTRIBUTION,
                 static_url: Callable[[str], str] = lambda path: "/static/" + path,
                 translate: Callable[[str], str] = str,
                 decimal_comma: bool = True) -> folium.Map:
    """Map of facilities over the kelurahan they belong to.

    Parameters
    ----------
    kelurahan_gdf
        Kelurahan polygons (with a CRS) the map is fitted to, with ``kode`` and ``nama``: the
        whole city, or only the kelurahan a lurah or camat may see.
    facilities_gdf
        Facility points (with a CRS) with ``type``, ``nama`` and optionally ``status``,
        ``operator`` and ``capacity``; may be empty.
    tile_url, tile_attribution
        Background tile URL template and its attribution; ``None`` for no tile layer.
    static_url
        Turns a path under the static folder into its URL (see :func:`maps.offline_assets`).
    translate
        Translates an Indonesian label (e.g. ``flask_babel.gettext``); default: none.
    decimal_comma
        Indonesian numbers (``1.234,5``) when true, English ones (``1,234.5``) when false.

    Returns
    -------
    folium.Map
        Fitted to the kelurahan, one layer per facility type, a legend, every asset local.
    """
    kelurahan = _wgs84(kelurahan_gdf, "kelurahan_gdf")
    facilities = _wgs84(facilities_gdf, "facilities_gdf")
    lang = maps._Language(translate, decimal_comma)
    m = maps._base_map(kelurahan, tile_url, tile_attribution, lang=lang)
    legend = [_add_outlines(m, kelurahan, lang)]
    if len(facilities):
        legend.append(maps._add_facilities(m, facilities, lang))
    return maps._finish(m, legend, static_url, lang=lang)


def _wgs84(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise ValueError(f"{name} must be a GeoDataFrame with a CRS")
    return frame.to_crs("EPSG:4326")


def _add_outlines(m: folium.Map, kelurahan: gpd.GeoDataFrame, lang: maps._Language) -> str:
    """Kelurahan outlines (no fill) with their name as tooltip; return the legend section."""
    outlines = kelurahan[["kode", "nama", "geometry"]].copy()
    outlines["geometry"] = outlines.geometry.simplify(maps.SIMPLIFY_DEGREES)
    label = html.escape(lang.gettext("Kelurahan"))
    folium.GeoJson(
        outlines.to_json(na="null", drop_id=True),
        name=html.escape(lang.gettext("Batas kelurahan")),
        style_function=lambda _feature: {"color": OUTLINE_COLOUR, "weight": 1.5,
                                         "fillOpacity": 0.03, "fillColor": OUTLINE_COLOUR},
        tooltip=folium.GeoJsonTooltip(fields=["nama", "kode"],
                                      aliases=[label, html.escape(lang.gettext("Kode"))]),
    ).add_to(m)
    swatch = (f'<span class="petakota-swatch" style="background:transparent;'
              f'border:2px solid {OUTLINE_COLOUR}"></span>')
    return (f'<div class="petakota-legend-section"><b>{html.escape(lang.gettext("Batas"))}</b>'
            f'<div>{swatch} {label}</div></div>')
