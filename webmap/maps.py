"""Folium maps of a city and of one kelurahan, built as pure functions that return a ``folium.Map``.

Views embed a map with Folium's component split (:func:`map_components`): the header (scripts and
style sheets), the map ``<div>`` and the script, rendered into our own template.

Offline by design: city intranets often have no internet, so every script and style sheet the page
loads is served by the app from ``/static/vendor`` (copied from npm by
``scripts/vendor_assets.py``, see :data:`VENDOR_ASSETS`).  :func:`offline_assets` rewrites what
folium and its plugins would load from CDNs; :func:`map_components` refuses a map that still
references a remote script or style sheet.  Only the background tiles come from a tile server
(:data:`DEFAULT_TILE_URL`, configurable); the "Tanpa latar" base layer keeps the map usable without
them.

Labels are written in Indonesian and go through the builders' ``translate`` function (the views
pass ``flask_babel.gettext``); literals in the tables below and those passed to ``lang.html``
are marked with :func:`N_`, other inline ones are passed to ``lang.gettext(...)``, so
``pybabel extract`` finds them all with its default keywords.  Numbers use the Indonesian
format (``1.234,5``) unless ``decimal_comma=False`` (``1,234.5``).

Texts users typed (kelurahan, kecamatan and facility names, operators, statuses, codes) reach a
map only as GeoJSON properties or JSON data, HTML-escaped here (:func:`_text`): folium embeds
data with ``tojson`` and its ``GeoJsonTooltip``/``GeoJsonPopup`` put property values into
``innerHTML`` as they are (so does the legend, from JSON).  ``folium.Tooltip`` and
``folium.Popup``, which splice their text into a JavaScript template literal, are not used, and
layer names are only our own translated labels: a user's ``${...}`` or backtick would run.

The estimated signal surface is drawn as a PNG (:func:`surface_image`), reprojected to Web
Mercator so that Leaflet's image overlay lines up with the map, one colour per signal class and
transparent where nobody measured.
"""
from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

import folium
import geopandas as gpd
import rasterio.crs
import shapely
from folium.plugins import FastMarkerCluster
from rasterio.io import MemoryFile
from rasterio.transform import Affine
from rasterio.warp import Resampling, reproject, transform_bounds

from geo.coverage import ANY_OPERATOR, classify_signal
from geo.exports import h3_cells_to_geodataframe
from geo.surface import REFERENCE_TECHNOLOGY, SurfaceResult

__all__ = [
    "DEFAULT_TILE_URL",
    "FACILITY_STYLES",
    "INDICATORS",
    "VENDOR_ASSETS",
    "N_",
    "SurfaceImage",
    "city_map",
    "facility_map",
    "format_number",
    "kelurahan_map",
    "map_components",
    "offline_assets",
    "surface_image",
]


def N_(text: str) -> str:
    """Mark a text for extraction by pybabel without translating it here."""
    return text


#: Background tiles (images, not scripts); a deployment may point this at an intranet tile server.
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                            'OpenStreetMap</a> contributors')

#: Local file (under the app's static folder) of every asset folium 0.20 and the plugins used here
#: load, by folium's asset name.  ``scripts/vendor_assets.py`` copies them from npm.
VENDOR_ASSETS: dict[str, str] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "jquery": "vendor/jquery/jquery.min.js",
    "awesome_markers": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "awesome_markers_font_css": "vendor/fontawesome-free/css/all.min.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "awesome_rotate_css": "vendor/folium/leaflet.awesome.rotate.css",
    "markerclusterjs": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
}
#: Folium assets deliberately not loaded: Bootstrap 3 glyphicons (our icons are Font Awesome) and
#: Bootstrap itself (no map feature used here needs it; the page has its own style sheet), which
#: keeps a kelurahan page's first visit under 500 KB.
OMITTED_ASSETS = frozenset({"glyphicons_css", "bootstrap", "bootstrap_css"})

#: Round coordinates to this many decimals (about 1 m, well below GPS accuracy and the 100 m
#: surface) and simplify kelurahan by this much (degrees, about 10 m) for display.
COORDINATE_DECIMALS = 5
SIMPLIFY_DEGREES = 1e-4
#: At city zoom cells and blank spots are drawn with this many decimals (about 10 m, a tenth of
#: a surface cell and less of an H3 cell), and the cells of one status are merged per kelurahan
#: (their figures are on the kelurahan pages): a filter showing thousands of blank cells must
#: not make the page several megabytes.
CITY_ZOOM_DECIMALS = 4
#: At city zoom blank-spot outlines (steps of the 100 m surface grid) are simplified by this much
#: (degrees, about 50 m: half a surface cell, within the estimate's own resolution).
CITY_ZOOM_SIMPLIFY_DEGREES = 4.5e-4


@dataclass(frozen=True)
class Indicator:
    """A kelurahan figure the choropleth can show."""

    label: str
    unit: str
    decimals: int
    higher_is_better: bool


#: Indicators of the kelurahan choropleth (columns of :func:`geo.coverage.kelurahan_stats`).
INDICATORS: dict[str, Indicator] = {
    "covered_area_pct": Indicator(N_("Luas tercakup sinyal (% terhadap luas terukur)"), "%", 1,
                                  True),
    "blank_area_km2": Indicator(N_("Luas blank spot (km²)"), "km²", 2, False),
    "population_blank": Indicator(N_("Penduduk di blank spot (jiwa)"), N_("jiwa"), 0, False),
}
# ColorBrewer RdYlGn, 5 classes, from bad to good.
_CLASS_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
_NO_DATA_COLOUR = "#cccccc"

#: Status of an H3 cell ("any" operator): colour and Indonesian label.
CELL_STATUS_STYLES: dict[str, tuple[str, str]] = {
    "blank": ("#d7301f", N_("Blank spot (tanpa sinyal)")),
    "weak": ("#fd8d3c", N_("Sinyal lemah")),
    "covered": ("#31a354", N_("Tercakup")),
    "unmeasured": ("#969696", N_("Belum cukup data")),
}
#: Signal class of a measurement: colour and Indonesian label.
SIGNAL_CLASS_STYLES: dict[str, tuple[str, str]] = {
    "very_good": ("#1a9641", N_("Sangat baik")),
    "good": ("#a6d96a", N_("Baik")),
    "fair": ("#e6c200", N_("Cukup")),
    "weak": ("#fd8d3c", N_("Lemah")),
    "no_coverage": ("#d7191c", N_("Tidak ada sinyal")),
    "unknown": ("#969696", N_("Tidak diketahui")),
}
#: Quick-win statuses of a kelurahan (``geo.coverage.FREE``, ``HAS_BLANK``, ``NOT_ENOUGH_DATA``),
#: spelled out so that pybabel extracts them; popups and pages show them translated.
KELURAHAN_STATUSES = (N_("bebas blank spot"), N_("ada blank spot"), N_("belum cukup data"))


@dataclass(frozen=True)
class FacilityStyle:
    """Marker of a facility type: Font Awesome 6 icon, awesome-markers colour, label."""

    icon: str
    colour: str
    label: str


#: Marker per facility type (``geo.demo.FACILITY_TYPES``); unknown types use "other".
FACILITY_STYLES: dict[str, FacilityStyle] = {
    "bts": FacilityStyle("tower-cell", "darkblue", N_("BTS (menara seluler)")),
    "tps": FacilityStyle("trash-can", "cadetblue", N_("TPS")),
    "tps3r": FacilityStyle("recycle", "green", N_("TPS3R")),
    "tpst": FacilityStyle("dumpster", "darkgreen", N_("TPST")),
    "tpa": FacilityStyle("mound", "black", N_("TPA")),
    "bank_sampah": FacilityStyle("piggy-bank", "orange", N_("Bank sampah")),
    "sekolah": FacilityStyle("school", "blue", N_("Sekolah")),
    "puskesmas": FacilityStyle("house-medical", "red", N_("Puskesmas")),
    "kantor_lurah": FacilityStyle("building-columns", "darkpurple", N_("Kantor lurah")),
    "other": FacilityStyle("location-dot", "gray", N_("Lainnya")),
}
# Approximate fill of each awesome-markers colour, for the legend.
_MARKER_HEX = {"darkblue": "#0067a3", "cadetblue": "#436978", "green": "#72b026",
               "darkgreen": "#728224", "black": "#303030", "orange": "#f69730",
               "blue": "#38aadd", "red": "#d63e2a", "darkpurple": "#5b396b", "gray": "#575757",
               "lightgray": "#a3a3a3"}
_FACILITY_STATUS = {"existing": N_("ada"), "planned": N_("rencana"), "closed": N_("tutup")}


@dataclass(frozen=True)
class SurfaceImage:
    """A rendered signal surface to lay over the map.

    ``image`` is PNG bytes (embedded in the page) or a URL served by the app; ``bounds`` is
    ``((south, west), (north, east))`` in degrees.
    """

    image: bytes | str
    bounds: tuple[tuple[float, float], tuple[float, float]]


#: The projection of web map tiles: Leaflet places an image overlay linearly in it.
_WEB_MERCATOR = "EPSG:3857"


def _default_static_url(path: str) -> str:
    return "/static/" + path


def _untranslated(text: str) -> str:
    return text


@dataclass(frozen=True)
class _Language:
    """How a map speaks: the translation function and the decimal separator."""

    translate: Callable[[str], str] = _untranslated
    decimal_comma: bool = True

    def gettext(self, text: str) -> str:
        """The text translated (pybabel extracts literal arguments of ``gettext``)."""
        return self.translate(text)

    def html(self, text: str) -> str:
        """The text translated and HTML-escaped (layer names, tooltip labels).

        Not a pybabel keyword: mark a literal argument with :func:`N_`.
        """
        return html.escape(self.translate(text))

    def number(self, value: Any, decimals: int = 0) -> str:
        """A number in this language's format."""
        return format_number(value, decimals, decimal_comma=self.decimal_comma)


_INDONESIAN = _Language()


# --- public builders ---------------------------------------------------------------------------

def city_map(kelurahan_stats_gdf: gpd.GeoDataFrame, *, cells: pd.DataFrame | None = None,
             blank_spots: gpd.GeoDataFrame | None = None,
             facilities: gpd.GeoDataFrame | None = None,
             measurements_sample: pd.DataFrame | None = None,
             surface_png: SurfaceImage | None = None, indicator: str = "covered_area_pct",
             tile_url: str | None = DEFAULT_TILE_URL,
             tile_attribution: str = DEFAULT_TILE_ATTRIBUTION,
             static_url: Callable[[str], str] = _default_static_url,
             translate: Callable[[str], str] = _untranslated,
             decimal_comma: bool = True) -> folium.Map:
    """Map of a city: kelurahan choropleth, H3 cells, blank spots, measurements, facilities.

    Parameters
    ----------
    kelurahan_stats_gdf
        Kelurahan polygons (with a CRS) carrying the columns of
        :func:`geo.coverage.kelurahan_stats` (at least ``kode``, ``nama`` and ``indicator``).
    cells
        Output of :func:`geo.coverage.aggregate_cells` (only "any" rows are drawn when there are
        any, else those of the one operator given), or a GeoDataFrame of cells with
        ``status``.  Drawn merged per kelurahan and status (see :data:`CITY_ZOOM_DECIMALS`).
    blank_spots
        Output of :func:`geo.surface.blank_spot_polygons`.
    facilities
        Points with ``type``, ``nama`` and optionally ``status``, ``operator``, ``capacity``.
    measurements_sample
        Measurements to show (the caller samples them): ``latitude``, ``longitude``,
        ``technology``, ``signal_dbm``, ``no_service`` and optionally ``operator``.
    surface_png
        Rendered signal surface to overlay (see :func:`surface_image`); the layer starts hidden.
    indicator
        Kelurahan figure of the choropleth, a key of :data:`INDICATORS`.
    tile_url, tile_attribution
        Background tile URL template and its attribution; ``None`` for no tile layer.
    static_url
        Turns a path under the static folder ("vendor/leaflet/leaflet.js") into its URL, e.g.
        ``lambda path: url_for("static", filename=path)``.
    translate
        Translates an Indonesian label (e.g. ``flask_babel.gettext``); default: none.
    decimal_comma
        Indonesian numbers (``1.234,5``) when true, English ones (``1,234.5``) when false.

    Returns
    -------
    folium.Map
        Fitted to the kelurahan, every asset served locally.
    """
    lang = _Language(translate, decimal_comma)
    kelurahan = _wgs84(kelurahan_stats_gdf, "kelurahan_stats_gdf")
    m = _base_map(kelurahan, tile_url, tile_attribution, lang=lang)
    legend = [_add_choropleth(m, kelurahan, indicator, lang)]
    legend += _add_overlays(m, cells=cells, blank_spots=blank_spots, facilities=facilities,
                            measurements_sample=measurements_sample, surface_png=surface_png,
                            lang=lang, city_zoom=True)
    return _finish(m, legend, static_url, lang=lang)


def kelurahan_map(kelurahan_row_gdf: gpd.GeoDataFrame, *, cells: pd.DataFrame | None,
                  blank_spots: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame | None,
                  measurements_sample: pd.DataFrame | None = None,
                  surface_png: SurfaceImage | None = None,
                  tile_url: str | None = DEFAULT_TILE_URL,
                  tile_attribution: str = DEFAULT_TILE_ATTRIBUTION,
                  static_url: Callable[[str], str] = _default_static_url,
                  translate: Callable[[str], str] = _untranslated,
                  decimal_comma: bool = True) -> folium.Map:
    """Map of one kelurahan, zoomed to its boundary, with what lies in it.

    Parameters are those of :func:`city_map`; ``kelurahan_row_gdf`` holds the one kelurahan
    (polygon with a CRS and its statistics).  Cells are kept when their ``kelurahan_kode`` is the
    kelurahan's (or, without that column, when they intersect it), blank spots and measurements
    when they intersect it, facilities when they lie in it.
    """
    lang = _Language(translate, decimal_comma)
    row = _wgs84(kelurahan_row_gdf, "kelurahan_row_gdf")
    if len(row) != 1:
        raise ValueError(f"kelurahan_row_gdf must hold one kelurahan, not {len(row)} rows")
    boundary = row.geometry.iloc[0]
    m = _base_map(row, tile_url, tile_attribution, lang=lang)
    legend = [_add_boundary(m, row, lang)]
    legend += _add_overlays(
        m, cells=_cells_of(cells, row), blank_spots=_intersecting(blank_spots, boundary),
        facilities=_intersecting(facilities, boundary),
        measurements_sample=_points_in(measurements_sample, boundary), surface_png=surface_png,
        lang=lang)
    return _finish(m, legend, static_url, lang=lang)


def facility_map(kelurahan_gdf: gpd.GeoDataFrame, facilities_gdf: gpd.GeoDataFrame, *,
                 tile_url: str | None = DEFAULT_TILE_URL,
                 tile_attribution: str = DEFAULT_TILE_ATTRIBUTION,
                 static_url: Callable[[str], str] = _default_static_url,
                 translate: Callable[[str], str] = _untranslated,
                 decimal_comma: bool = True) -> folium.Map:
    """Map of facilities over the outlines of the kelurahan they belong to.

    Parameters are those of :func:`city_map`; ``kelurahan_gdf`` holds the kelurahan polygons
    (with a CRS, ``kode`` and ``nama``) the map is fitted to, the whole city or only those a
    lurah or camat may see, and ``facilities_gdf`` the points (may be empty).
    """
    lang = _Language(translate, decimal_comma)
    kelurahan = _wgs84(kelurahan_gdf, "kelurahan_gdf")
    m = _base_map(kelurahan, tile_url, tile_attribution, lang=lang)
    legend = [_add_outlines(m, kelurahan, lang)]
    legend += _add_overlays(m, cells=None, blank_spots=None, facilities=facilities_gdf,
                            measurements_sample=None, surface_png=None, lang=lang)
    return _finish(m, legend, static_url, lang=lang)


def offline_assets(m: folium.Map, static_url: Callable[[str], str] = _default_static_url
                   ) -> folium.Map:
    """Make the map and every element in it load its scripts and style sheets locally.

    Call it after the last element was added (folium reads the assets when rendering).

    Raises
    ------
    ValueError
        Naming every asset that has no local copy in :data:`VENDOR_ASSETS`.
    """
    missing = []
    for element in _descendants(m):
        for kind in ("default_js", "default_css"):
            assets = getattr(element, kind, None)
            if assets is None:
                continue
            local, unknown = _localised(assets, static_url)
            setattr(element, kind, local)
            missing += [f"{type(element).__name__}.{name} ({url})" for name, url in unknown]
    if missing:
        raise ValueError("no local copy of: " + ", ".join(missing) + "; add it to "
                         "webmap/assets/package.json, scripts/vendor_assets.py and VENDOR_ASSETS")
    return m


def map_components(m: folium.Map) -> dict[str, str]:
    """Header, map ``<div>`` and script of a map, for embedding in our own template.

    The template puts ``header`` in ``<head>``, ``html`` where the map goes and ``script`` in a
    ``<script>`` element after it; ``name`` is the global JavaScript variable holding the
    Leaflet map (for the page's own scripts, e.g. zooming to a kelurahan).  The inline scripts
    folium puts in the header (Leaflet's ``L_NO_TOUCH`` flags) are moved to the start of
    ``script``, so that the header only loads files and the one inline script can carry the
    response's CSP nonce.

    Raises
    ------
    ValueError
        When the header still loads a remote script or style sheet (see :func:`offline_assets`).
    """
    root = m.get_root()
    root.render()
    header, inline = _without_inline_scripts(root.header.render())
    components = {"header": header, "html": root.html.render(),
                  "script": "\n".join([*inline, root.script.render()]), "name": m.get_name()}
    remote = _remote_asset_urls(components["header"])
    if remote:
        raise ValueError(f"the map loads remote assets {remote}; build it with offline_assets()")
    return components


def format_number(value: Any, decimals: int = 0, *, decimal_comma: bool = True) -> str:
    """A number with a thousands separator and fixed decimals; missing -> ``"-"``.

    Indonesian format by default (``1234.5`` -> ``"1.234,5"``); ``decimal_comma=False`` gives
    the English one (``"1,234.5"``).
    """
    if value is None or pd.isna(value):
        return "-"
    text = f"{float(value):,.{decimals}f}"
    return text.translate(str.maketrans({",": ".", ".": ","})) if decimal_comma else text


def surface_image(result: SurfaceResult) -> SurfaceImage:
    """The signal surface as a PNG to overlay: one colour per signal class, clear where unmeasured.

    The surface (UTM) is reprojected to Web Mercator with nearest-neighbour resampling, at about
    its own cell size, because Leaflet stretches an image overlay linearly in Web Mercator
    between its corners.  Values are classed with the reference technology's bounds of the
    surface's own evidence rule (the city's thresholds), the colours are those of the legend.

    Returns
    -------
    SurfaceImage
        PNG bytes and the image's ``((south, west), (north, east))`` in degrees.
    """
    values, transform = _web_mercator(result)
    rgba = _class_colours(values, result.selection.classes_dbm[REFERENCE_TECHNOLOGY])
    height, width = values.shape
    west, south, east, north = transform_bounds(
        _WEB_MERCATOR, "EPSG:4326", transform.c, transform.f + height * transform.e,
        transform.c + width * transform.a, transform.f)
    return SurfaceImage(_png(rgba, transform), ((south, west), (north, east)))


# --- map skeleton ------------------------------------------------------------------------------

def _wgs84(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise ValueError(f"{name} must be a GeoDataFrame with a CRS")
    return frame.to_crs("EPSG:4326")


def _base_map(kelurahan: gpd.GeoDataFrame, tile_url: str | None, attribution: str, *,
              lang: _Language = _INDONESIAN) -> folium.Map:
    """Empty map fitted to the kelurahan, with the tile layer and the "Tanpa latar" base layer."""
    west, south, east, north = kelurahan.total_bounds
    centre = [round((south + north) / 2, COORDINATE_DECIMALS),
              round((west + east) / 2, COORDINATE_DECIMALS)]
    m = folium.Map(location=centre, zoom_start=12, tiles=None,
                   control_scale=True, prefer_canvas=True)
    if tile_url:
        name = (lang.html(N_("Peta dasar (OpenStreetMap)")) if "openstreetmap" in tile_url
                else lang.html(N_("Peta dasar")))
        folium.TileLayer(tile_url, attr=attribution, name=name).add_to(m)
    folium.FeatureGroup(name=lang.html(N_("Tanpa latar")), overlay=False,
                        show=not tile_url).add_to(m)
    corners = np.round([[south, west], [north, east]], COORDINATE_DECIMALS)
    m.fit_bounds(corners.tolist())
    return m


def _add_overlays(m: folium.Map, *, cells: pd.DataFrame | None,
                  blank_spots: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame | None,
                  measurements_sample: pd.DataFrame | None, surface_png: SurfaceImage | None,
                  lang: _Language, city_zoom: bool = False) -> list[str]:
    """Add the optional layers that are given; return their legend sections."""
    sections = []
    decimals = CITY_ZOOM_DECIMALS if city_zoom else COORDINATE_DECIMALS
    if surface_png is not None:
        sections.append(_add_surface(m, surface_png, lang))
    cells, operator = _cells_to_draw(cells)
    if cells is not None and len(cells):
        sections.append(_add_cells(m, cells, lang, operator=operator, merge=city_zoom))
    if blank_spots is not None and len(blank_spots):
        sections.append(_add_blank_spots(
            m, blank_spots, lang, decimals=decimals,
            simplify=CITY_ZOOM_SIMPLIFY_DEGREES if city_zoom else 0.0))
    if measurements_sample is not None and len(measurements_sample):
        sections.append(_add_measurements(m, measurements_sample, lang))
    if facilities is not None and len(facilities):
        sections.append(_add_facilities(m, facilities, lang))
    return sections


def _finish(m: folium.Map, legend: list[str], static_url: Callable[[str], str], *,
            lang: _Language = _INDONESIAN) -> folium.Map:
    _Legend(legend, title=lang.gettext("Legenda")).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return offline_assets(m, static_url)


# --- kelurahan -------------------------------------------------------------------------------

def _add_choropleth(m: folium.Map, kelurahan: gpd.GeoDataFrame, indicator: str,
                    lang: _Language) -> str:
    spec = _indicator(kelurahan, indicator)
    label = lang.gettext(spec.label)
    title = f"{lang.gettext('Kelurahan')}: {label}"
    values = pd.to_numeric(kelurahan[indicator], errors="coerce").astype(float)
    edges = _class_edges(values, indicator)
    colours = _CLASS_COLOURS if spec.higher_is_better else _CLASS_COLOURS[::-1]
    table = _kelurahan_properties(kelurahan, lang).assign(
        nilai=[lang.number(v, spec.decimals) for v in values],
        warna=[_class_colour(v, edges, colours) for v in values])
    layer = folium.GeoJson(
        _feature_collection(table, simplify=SIMPLIFY_DEGREES), name=html.escape(title),
        style_function=lambda f: {"fillColor": f["properties"]["warna"], "color": "#555555",
                                  "weight": 1, "fillOpacity": 0.6},
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(["nama", "kecamatan", "nilai"], aliases=[
            lang.html(N_("Kelurahan")), lang.html(N_("Kecamatan")), html.escape(label)]),
        popup=folium.GeoJsonPopup(*_kelurahan_popup_fields(table, lang)))
    layer.add_to(m)
    rows = [(_swatch(colours[i]), f"{lang.number(edges[i], spec.decimals)} – "
             f"{lang.number(edges[i + 1], spec.decimals)}") for i in range(len(edges) - 1)]
    rows.append((_swatch(_NO_DATA_COLOUR), lang.gettext("Tidak ada data")))
    return _legend_section(title, rows)


def _add_boundary(m: folium.Map, row: gpd.GeoDataFrame, lang: _Language = _INDONESIAN) -> str:
    table = _kelurahan_properties(row, lang)
    folium.GeoJson(_feature_collection(table),
                   name=lang.html(N_("Batas kelurahan")),
                   style_function=lambda f: {"color": "#2b2b2b", "weight": 3, "fill": False},
                   popup=folium.GeoJsonPopup(*_kelurahan_popup_fields(table, lang))).add_to(m)
    return _legend_section(lang.gettext("Kelurahan"),
                           [(_swatch("#ffffff", border="#2b2b2b"),
                             lang.gettext("Batas kelurahan"))])


#: Outline of the kelurahan under the facility markers.
OUTLINE_COLOUR = "#0b5d7a"


def _add_outlines(m: folium.Map, kelurahan: gpd.GeoDataFrame, lang: _Language) -> str:
    """Kelurahan outlines (barely filled) with their escaped name as tooltip."""
    table = _kelurahan_properties(kelurahan[["kode", "nama", "geometry"]], lang)
    folium.GeoJson(
        _feature_collection(table, simplify=SIMPLIFY_DEGREES),
        name=lang.html(N_("Batas kelurahan")),
        style_function=lambda _feature: {"color": OUTLINE_COLOUR, "weight": 1.5,
                                         "fillOpacity": 0.03, "fillColor": OUTLINE_COLOUR},
        tooltip=folium.GeoJsonTooltip(fields=["nama", "kode"],
                                      aliases=[lang.html(N_("Kelurahan")),
                                               lang.html(N_("Kode"))]),
    ).add_to(m)
    outline = _swatch("transparent", border=OUTLINE_COLOUR)
    return _legend_section(lang.gettext(N_("Batas")), [(outline, lang.gettext("Kelurahan"))])


def _indicator(kelurahan: gpd.GeoDataFrame, indicator: str) -> Indicator:
    if indicator not in INDICATORS:
        raise ValueError(f"indicator {indicator!r} is not known; use one of "
                         f"{', '.join(INDICATORS)}")
    if indicator not in kelurahan.columns:
        raise ValueError(f"the kelurahan table has no {indicator!r} column (population "
                         "figures need a population raster)")
    return INDICATORS[indicator]


def _class_edges(values: pd.Series, indicator: str) -> np.ndarray:
    """Five equal classes: 0-100 for percentages, else 0 to the largest value."""
    top = 100.0 if indicator.endswith("_pct") else float(np.nanmax([values.max(), 0.0]))
    return np.linspace(0.0, top if top > 0 else 1.0, len(_CLASS_COLOURS) + 1)


def _class_colour(value: float, edges: np.ndarray, colours: Sequence[str]) -> str:
    if not np.isfinite(value):
        return _NO_DATA_COLOUR
    index = int(np.searchsorted(edges, value, side="right")) - 1
    return colours[min(max(index, 0), len(colours) - 1)]


_KELURAHAN_FIGURES = {  # column: (label, decimals)
    "covered_area_pct": (N_("Luas tercakup (% terhadap luas terukur)"), 1),
    "measured_area_pct": (N_("Luas terukur (%)"), 1),
    "blank_area_km2": (N_("Luas blank spot (km²)"), 2),
    "area_km2": (N_("Luas kelurahan (km²)"), 2),
    "samples": (N_("Jumlah pengukuran"), 0),
    "blank_cells": (N_("Sel blank spot"), 0),
    "population_blank": (N_("Penduduk di blank spot (jiwa)"), 0),
    "status": (N_("Status"), None),
}


def _kelurahan_properties(kelurahan: gpd.GeoDataFrame, lang: _Language = _INDONESIAN
                          ) -> gpd.GeoDataFrame:
    """Display columns: escaped names and the figures of the popup as formatted text."""
    table = kelurahan[["geometry"]].copy()
    table["nama"] = _text(kelurahan, "nama")
    table["kecamatan"] = _text(kelurahan, "kecamatan")
    table["kode"] = _text(kelurahan, "kode")
    for column, (_, decimals) in _KELURAHAN_FIGURES.items():
        if column in kelurahan.columns:
            table[column] = (_text(kelurahan, column, lang) if decimals is None else
                             [lang.number(v, decimals) for v in kelurahan[column]])
    return table


def _kelurahan_popup_fields(table: pd.DataFrame, lang: _Language = _INDONESIAN
                            ) -> tuple[list[str], list[str]]:
    fields = ["nama", "kode", *[c for c in _KELURAHAN_FIGURES if c in table.columns]]
    labels = [lang.html(N_("Kelurahan")), lang.html(N_("Kode")),
              *[lang.html(_KELURAHAN_FIGURES[c][0]) for c in fields[2:]]]
    return fields, labels


# --- cells, blank spots, surface ---------------------------------------------------------------

def _cells_to_draw(cells: pd.DataFrame | None) -> tuple[pd.DataFrame | None, str]:
    """The "any" operator rows when there are some, else the rows of the one operator given."""
    if cells is None or "operator" not in cells.columns or not len(cells):
        return cells, ANY_OPERATOR
    if (cells["operator"] == ANY_OPERATOR).any():
        return cells[cells["operator"] == ANY_OPERATOR], ANY_OPERATOR
    operators = sorted(set(cells["operator"].astype(str)))
    if len(operators) > 1:
        raise ValueError(f"cells hold several operators ({', '.join(operators)}) and no "
                         f"{ANY_OPERATOR!r} rows: pass one operator's cells")
    return cells, operators[0]


def _add_cells(m: folium.Map, cells: pd.DataFrame, lang: _Language = _INDONESIAN, *,
               operator: str = ANY_OPERATOR, merge: bool = False) -> str:
    frame = (cells if isinstance(cells, gpd.GeoDataFrame)
             else h3_cells_to_geodataframe(cells)).to_crs("EPSG:4326")
    status = frame["status"].astype(str).where(frame["status"].isin(list(CELL_STATUS_STYLES)),
                                               "unmeasured")
    if merge:
        table, fields, aliases = _merged_cells(frame, status, lang)
    else:
        table, fields, aliases = _single_cells(frame, status, lang)
    folium.GeoJson(
        _feature_collection(table,
                            decimals=CITY_ZOOM_DECIMALS if merge else COORDINATE_DECIMALS),
        name=lang.html(N_("Sel H3 (status sinyal)")),
        style_function=lambda f: {"fillColor": f["properties"]["warna"], "color": "#ffffff",
                                  "weight": 0.5, "fillOpacity": 0.55},
        tooltip=folium.GeoJsonTooltip(fields, aliases=aliases)).add_to(m)
    title = (lang.gettext("Sel H3 (semua operator)") if operator == ANY_OPERATOR
             else f"{lang.gettext('Sel H3')} ({operator})")
    return _legend_section(title, [(_swatch(c), lang.gettext(label))
                                   for c, label in CELL_STATUS_STYLES.values()])


def _single_cells(frame: gpd.GeoDataFrame, status: pd.Series, lang: _Language
                  ) -> tuple[gpd.GeoDataFrame, list[str], list[str]]:
    """One feature per cell (the unmeasured ones merged), with its own figures."""
    labels = {key: lang.html(label) for key, (_, label) in CELL_STATUS_STYLES.items()}
    table = gpd.GeoDataFrame({
        "warna": status.map(lambda s: CELL_STATUS_STYLES[s][0]),
        "status": status.map(labels),
        "sampel": _figures(frame, "samples", 0, lang),
        "median": _figures(frame, "median_dbm", 0, lang)}, geometry=frame.geometry)
    aliases = [lang.html(N_("Status")), lang.html(N_("Jumlah pengukuran")),
               lang.html(N_("Median sinyal (dBm)"))]
    return (_dissolve_unmeasured(table, status == "unmeasured", lang),
            ["status", "sampel", "median"], aliases)


def _merged_cells(frame: gpd.GeoDataFrame, status: pd.Series, lang: _Language
                  ) -> tuple[gpd.GeoDataFrame, list[str], list[str]]:
    """One feature per kelurahan and status: the cells' union, their count and samples."""
    kode = (frame["kelurahan_kode"].fillna("").astype(str) if "kelurahan_kode" in frame.columns
            else pd.Series("", index=frame.index))
    samples = (pd.to_numeric(frame["samples"], errors="coerce") if "samples" in frame.columns
               else pd.Series(np.nan, index=frame.index))
    # Shared hexagon edges dissolve only when both sides have exactly the same vertices.
    geometry = shapely.transform(np.asarray(frame.geometry.array),
                                 lambda xy: np.round(xy, COORDINATE_DECIMALS + 1))
    rows = []
    for (key, code), positions in pd.DataFrame({"s": status.to_numpy(), "k": kode.to_numpy()}
                                               ).groupby(["s", "k"], sort=True).indices.items():
        colour, label = CELL_STATUS_STYLES[key]
        rows.append({"warna": colour, "status": lang.html(label), "kelurahan": html.escape(code),
                     "sel": lang.number(len(positions)),
                     "sampel": lang.number(samples.iloc[positions].sum(min_count=1)),
                     "geometry": shapely.union_all(geometry[positions])})
    aliases = [lang.html(N_("Status")), lang.html(N_("Kode kelurahan")),
               lang.html(N_("Jumlah sel")), lang.html(N_("Jumlah pengukuran"))]
    return (gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326"),
            ["status", "kelurahan", "sel", "sampel"], aliases)


def _dissolve_unmeasured(table: gpd.GeoDataFrame, unmeasured: pd.Series,
                         lang: _Language = _INDONESIAN) -> gpd.GeoDataFrame:
    """Merge the unmeasured cells into one feature: they are most cells and say little each."""
    if not unmeasured.any():
        return table
    colour, label = CELL_STATUS_STYLES["unmeasured"]
    count = f"{lang.number(unmeasured.sum())} {lang.html(N_('sel dengan data kurang'))}"
    merged = gpd.GeoDataFrame(
        {"warna": [colour], "status": [lang.html(label)], "sampel": [count], "median": ["-"]},
        geometry=[shapely.union_all(np.asarray(table.geometry[unmeasured].array))],
        crs=table.crs)
    return pd.concat([merged, table[~unmeasured]], ignore_index=True)


def _add_blank_spots(m: folium.Map, blank_spots: gpd.GeoDataFrame,
                     lang: _Language = _INDONESIAN, *, decimals: int = COORDINATE_DECIMALS,
                     simplify: float = 0.0) -> str:
    frame = _wgs84(blank_spots, "blank_spots")
    table = gpd.GeoDataFrame({
        "nomor": _text(frame, "id"), "luas": _figures(frame, "area_km2", 2, lang),
        "penduduk": _figures(frame, "population", 0, lang),
        "sampel": _figures(frame, "samples", 0, lang),
        "tanpa_layanan": _figures(frame, "no_service_samples", 0, lang),
        "terakhir": [_date_text(v, lang)
                     for v in frame.get("last_measured", [None] * len(frame))],
        "kelurahan": _text(frame, "kelurahan")}, geometry=frame.geometry)
    fields = ["nomor", "luas", "penduduk", "sampel", "tanpa_layanan", "terakhir", "kelurahan"]
    labels = [lang.html(text) for text in (
        N_("Blank spot nomor"), N_("Luas (km²)"), N_("Penduduk (jiwa)"),
        N_("Jumlah pengukuran"), N_("Pengukuran tanpa layanan"), N_("Pengukuran terakhir"),
        N_("Kode kelurahan"))]
    folium.GeoJson(
        _feature_collection(table, simplify=simplify, decimals=decimals),
        name=lang.html(N_("Blank spot (perkiraan)")),
        style_function=lambda f: {"fillColor": "#67000d", "color": "#67000d", "weight": 2,
                                  "fillOpacity": 0.35, "dashArray": "4 3"},
        tooltip=folium.GeoJsonTooltip(fields[:3], aliases=labels[:3]),
        popup=folium.GeoJsonPopup(fields, aliases=labels)).add_to(m)
    return _legend_section(lang.gettext("Blank spot"),
                           [(_swatch("#67000d", dashed=True),
                             lang.gettext("Perkiraan wilayah tanpa sinyal"))])


def _add_surface(m: folium.Map, surface: SurfaceImage, lang: _Language = _INDONESIAN) -> str:
    overlay = folium.raster_layers.ImageOverlay(
        "data:,", bounds=[list(corner) for corner in surface.bounds],
        name=lang.html(N_("Perkiraan kuat sinyal")), opacity=0.6, show=False)
    overlay.url = _image_url(surface.image)  # folium would read a relative URL as a file path
    overlay.add_to(m)
    rows = [(_swatch(c), lang.gettext(label)) for key, (c, label) in SIGNAL_CLASS_STYLES.items()
            if key != "unknown"]
    rows.append((_swatch("transparent"), lang.gettext("Belum diukur (tanpa warna)")))
    return _legend_section(lang.gettext("Perkiraan kuat sinyal"), rows)


def _image_url(image: bytes | str) -> str:
    if isinstance(image, bytes):
        return "data:image/png;base64," + base64.b64encode(image).decode("ascii")
    return image


def _web_mercator(result: SurfaceResult) -> tuple[np.ndarray, Affine]:
    """The surface values on a Web Mercator grid, and the grid's transform."""
    rows, cols = result.shape
    t = result.transform
    source_crs = rasterio.crs.CRS.from_wkt(result.crs.to_wkt())
    left, bottom, right, top = transform_bounds(
        source_crs, _WEB_MERCATOR, t.c, t.f + rows * t.e, t.c + cols * t.a, t.f)
    # Web Mercator stretches lengths by 1 / cos(latitude): keep about one surface cell per pixel.
    latitude = np.radians(transform_bounds(_WEB_MERCATOR, "EPSG:4326",
                                           left, bottom, right, top)[1::2]).mean()
    size = float(result.resolution_m) / np.cos(latitude)
    width = max(int(np.ceil((right - left) / size)), 1)
    height = max(int(np.ceil((top - bottom) / size)), 1)
    transform = Affine(size, 0.0, left, 0.0, -size, top)
    values = np.full((height, width), np.nan, dtype=np.float32)
    reproject(np.asarray(result.values, dtype=np.float32), values, src_transform=t,
              src_crs=source_crs, src_nodata=np.nan, dst_transform=transform,
              dst_crs=_WEB_MERCATOR, dst_nodata=np.nan, resampling=Resampling.nearest)
    return values, transform


def _class_colours(values: np.ndarray, bounds_dbm: Sequence[float]) -> np.ndarray:
    """RGBA (rows, cols, 4) of each value's signal class; transparent where NaN."""
    names = ["no_coverage", "weak", "fair", "good", "very_good"]  # worst first
    palette = np.array([[*_rgb(SIGNAL_CLASS_STYLES[n][0]), 255] for n in names]
                       + [[0, 0, 0, 0]], dtype=np.uint8)
    ascending = np.sort(np.asarray(bounds_dbm, dtype=float))
    index = np.searchsorted(ascending, np.nan_to_num(values, nan=-np.inf), side="right")
    return palette[np.where(np.isnan(values), len(names), index)]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _png(rgba: np.ndarray, transform: Affine) -> bytes:
    """RGBA pixels encoded as PNG (GDAL's PNG driver, in memory).

    The georeference goes to a side file GDAL keeps in memory; only the PNG itself is returned.
    """
    height, width, _ = rgba.shape
    with MemoryFile(ext=".png") as memory:
        with memory.open(driver="PNG", width=width, height=height, count=4, dtype="uint8",
                         crs=_WEB_MERCATOR, transform=transform) as image:
            image.write(np.moveaxis(rgba, -1, 0))
        return memory.read()


# --- measurements and facilities ---------------------------------------------------------------

# FastMarkerCluster assigns this function to ``var callback``; ``row`` is [latitude, longitude,
# class index, label], the class colours and names are filled in per map (see
# :func:`_measurement_callback`), so each of thousands of points carries only its index.
_MEASUREMENT_CALLBACK = """\
function (row) {
    var classes = %s;
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 5, weight: 1, color: '#333333', fillColor: classes[row[2]][0],
         fillOpacity: 0.9});
    marker.bindTooltip(row[3] + ' (' + classes[row[2]][1] + ')');
    return marker;
}"""


def _add_measurements(m: folium.Map, sample: pd.DataFrame, lang: _Language = _INDONESIAN
                      ) -> str:
    classes = classify_signal(sample["technology"], sample["signal_dbm"], sample["no_service"])
    index = pd.Index(list(SIGNAL_CLASS_STYLES)).get_indexer(classes)
    lat = np.round(sample["latitude"].to_numpy(dtype=float), COORDINATE_DECIMALS)
    lon = np.round(sample["longitude"].to_numpy(dtype=float), COORDINATE_DECIMALS)
    labels = _measurement_labels(sample, lang)
    data = [[float(y), float(x), int(i), label]
            for y, x, i, label in zip(lat, lon, index, labels, strict=True)
            if np.isfinite(y) and np.isfinite(x)]
    FastMarkerCluster(data, callback=_measurement_callback(lang),
                      name=lang.html(N_("Titik pengukuran (sampel)"))).add_to(m)
    return _legend_section(lang.gettext("Titik pengukuran (sampel)"),
                           [(_swatch(c, round_=True), lang.gettext(label))
                            for c, label in SIGNAL_CLASS_STYLES.values()])


def _measurement_callback(lang: _Language) -> str:
    classes = [[colour, lang.html(label).lower()] for colour, label in
               SIGNAL_CLASS_STYLES.values()]
    return _MEASUREMENT_CALLBACK % _script_json(classes)


def _script_json(value: Any) -> str:
    """JSON safe to place inside a ``<script>`` element."""
    return (json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
            .replace(">", "\\u003e").replace("&", "\\u0026"))


def _measurement_labels(sample: pd.DataFrame, lang: _Language = _INDONESIAN) -> list[str]:
    operator = _text(sample, "operator")
    technology = _text(sample, "technology")
    signal = [lang.number(v, 0) for v in sample["signal_dbm"]]
    no_service = sample["no_service"].fillna(False).astype(bool).to_numpy()
    none = lang.html(N_("tanpa layanan"))
    return [f"{op} {tech}: " + (none if ns else f"{dbm} dBm")
            for op, tech, dbm, ns in zip(operator, technology, signal, no_service, strict=True)]


def _add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame,
                    lang: _Language = _INDONESIAN) -> str:
    """One GeoJSON layer of markers per facility type, named in the layer control.

    A facility's texts (name, operator, status) are typed by users: they travel as HTML-escaped
    GeoJSON properties, which folium embeds as JSON and its tooltip and popup show as text.
    They are never passed to ``folium.Tooltip``/``folium.Popup``, which splice their text into
    a JavaScript template literal where ``${...}`` and backticks would run.
    """
    frame = _wgs84(facilities, "facilities")
    kinds = frame["type"].astype(str).where(frame["type"].isin(list(FACILITY_STYLES)), "other")
    rows = []
    for kind in [k for k in FACILITY_STYLES if (kinds == k).any()]:
        style = FACILITY_STYLES[kind]
        _facility_layer(frame[kinds == kind], style, lang).add_to(m)
        rows.append((_marker_swatch(style), lang.gettext(style.label)))
    return _legend_section(lang.gettext("Fasilitas"), rows)


#: Fields of a facility's popup (GeoJSON properties of :func:`_facility_properties`) and labels.
_FACILITY_POPUP = {"nama": N_("Nama"), "jenis": N_("Jenis"), "status": N_("Status"),
                   "operator": N_("Operator"), "kapasitas": N_("Kapasitas (ton/hari)")}


def _facility_layer(frame: gpd.GeoDataFrame, style: FacilityStyle,
                    lang: _Language = _INDONESIAN) -> folium.GeoJson:
    """Markers of one facility type; planned facilities drawn light grey."""
    table = _facility_properties(frame, style, lang)
    name = f"{lang.gettext('Fasilitas')}: {lang.gettext(style.label)}"
    return folium.GeoJson(
        _feature_collection(table), name=html.escape(name),
        marker=folium.Marker(icon=folium.Icon(color=style.colour, icon=style.icon, prefix="fa")),
        style_function=lambda f: ({"markerColor": "lightgray"} if f["properties"]["rencana"]
                                  else {}),
        tooltip=folium.GeoJsonTooltip(["nama", "jenis"], labels=False),
        popup=folium.GeoJsonPopup(list(_FACILITY_POPUP),
                                  aliases=[lang.html(label) for label in
                                           _FACILITY_POPUP.values()]))


def _facility_properties(frame: gpd.GeoDataFrame, style: FacilityStyle,
                         lang: _Language = _INDONESIAN) -> gpd.GeoDataFrame:
    """Display properties of facilities: escaped texts, "-" where missing, a numeric id."""
    label = lang.html(style.label)
    status = frame.get("status", pd.Series(None, index=frame.index, dtype=object))
    known = {key: lang.html(text) for key, text in _FACILITY_STATUS.items()}
    names = _text(frame, "nama")
    capacity = (frame["capacity"] if "capacity" in frame.columns
                else pd.Series(np.nan, index=frame.index))
    return gpd.GeoDataFrame({
        "nama": [name or label for name in names],
        "jenis": label,
        "status": [known.get(str(s)) or text or "-"
                   for s, text in zip(status, _text(frame, "status"), strict=True)],
        "operator": [text or "-" for text in _text(frame, "operator")],
        "kapasitas": [lang.number(v, 1) for v in capacity],
        "rencana": (status.astype(str) == "planned").to_list()},
        geometry=frame.geometry.to_numpy(), crs=frame.crs)


# --- filters for one kelurahan -----------------------------------------------------------------

def _cells_of(cells: pd.DataFrame | None, row: gpd.GeoDataFrame) -> pd.DataFrame | None:
    if cells is None or "kelurahan_kode" not in cells.columns or "kode" not in row.columns:
        return (_intersecting(cells, row.geometry.iloc[0])
                if isinstance(cells, gpd.GeoDataFrame) else cells)
    return cells[cells["kelurahan_kode"] == row["kode"].iloc[0]]


def _intersecting(frame: gpd.GeoDataFrame | None, boundary: shapely.Geometry
                  ) -> gpd.GeoDataFrame | None:
    if frame is None:
        return None
    frame = _wgs84(frame, "a layer of kelurahan_map")
    return frame[frame.intersects(boundary)]


def _points_in(sample: pd.DataFrame | None, boundary: shapely.Geometry) -> pd.DataFrame | None:
    if sample is None:
        return None
    inside = shapely.contains_xy(boundary, sample["longitude"].to_numpy(dtype=float),
                                 sample["latitude"].to_numpy(dtype=float))
    return sample[inside]


# --- GeoJSON and text helpers ------------------------------------------------------------------

def _feature_collection(table: gpd.GeoDataFrame, *, simplify: float = 0.0,
                        decimals: int = COORDINATE_DECIMALS) -> dict[str, Any]:
    """GeoJSON of a table: coordinates rounded, polygons optionally simplified, NaN as null.

    ``simplify`` is the tolerance in degrees (0: none), ``decimals`` those of the coordinates.
    """
    geometry = np.asarray(table.geometry.array)
    if simplify:
        geometry = shapely.simplify(geometry, simplify, preserve_topology=True)
    geometry = shapely.transform(geometry, lambda xy: np.round(xy, decimals))
    frame = table.set_geometry(gpd.GeoSeries(geometry, index=table.index, crs=table.crs))
    return json.loads(frame.to_json(na="null", drop_id=True))


def _text(frame: pd.DataFrame, column: str, lang: _Language | None = None) -> list[str]:
    """HTML-escaped text of a column ("" where missing or absent), translated if ``lang``."""
    if column not in frame.columns:
        return [""] * len(frame)
    translate = lang.translate if lang is not None else _untranslated
    return ["" if v is None or (not isinstance(v, str) and pd.isna(v))
            else html.escape(translate(str(v))) for v in frame[column]]


def _figures(frame: pd.DataFrame, column: str, decimals: int,
             lang: _Language = _INDONESIAN) -> list[str]:
    if column not in frame.columns:
        return ["-"] * len(frame)
    return [lang.number(v, decimals) for v in frame[column]]


def _date_text(seconds: Any, lang: _Language = _INDONESIAN) -> str:
    """A UTC day: ``31-12-2024`` with Indonesian numbers, else ISO ``2024-12-31``."""
    if seconds is None or pd.isna(seconds):
        return "-"
    day = datetime.fromtimestamp(int(seconds), tz=UTC)
    return day.strftime("%d-%m-%Y" if lang.decimal_comma else "%Y-%m-%d")


# --- assets ------------------------------------------------------------------------------------

def _descendants(element: Any) -> Iterator[Any]:
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _descendants(child)


def _localised(assets: Sequence[tuple[str, str]], static_url: Callable[[str], str]
               ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Assets with local URLs, and those without a local copy (omitted ones dropped)."""
    local, unknown = [], []
    for name, url in assets:
        if name in VENDOR_ASSETS:
            local.append((name, static_url(VENDOR_ASSETS[name])))
        elif name not in OMITTED_ASSETS and _is_remote(url):
            unknown.append((name, url))
        elif name not in OMITTED_ASSETS:
            local.append((name, url))
    return local, unknown


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


_ASSET_URL = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""",
                        re.IGNORECASE)


#: An inline script element of folium's header (no attributes, so no ``src``).
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.IGNORECASE | re.DOTALL)


def _without_inline_scripts(header: str) -> tuple[str, list[str]]:
    """The header without its inline scripts, and their code."""
    return _INLINE_SCRIPT.sub("", header), _INLINE_SCRIPT.findall(header)


def _remote_asset_urls(header: str) -> list[str]:
    return [url for url in _ASSET_URL.findall(header) if _is_remote(url)]


# --- legend ------------------------------------------------------------------------------------

def _swatch(colour: str, *, border: str = "#555555", dashed: bool = False,
            round_: bool = False) -> str:
    style = (f"background:{colour};border:1px {'dashed' if dashed else 'solid'} {border};"
             f"{'border-radius:50%;' if round_ else ''}")
    return f'<span class="petakota-swatch" style="{style}"></span>'


def _marker_swatch(style: FacilityStyle) -> str:
    colour = _MARKER_HEX.get(style.colour, "#575757")
    return (f'<span class="petakota-swatch petakota-marker" style="background:{colour}">'
            f'<i class="fa fa-{style.icon}"></i></span>')


def _legend_section(title: str, rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<div>{swatch} {html.escape(label)}</div>" for swatch, label in rows)
    return f'<div class="petakota-legend-section"><b>{html.escape(title)}</b>{items}</div>'


class _Legend(MacroElement):
    """The legend: a Leaflet control in the bottom-left corner, clear of the layer control."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        <style>
            .petakota-legend {background: rgba(255,255,255,0.92); padding: 6px 8px;
                font: 12px/1.4 sans-serif; border-radius: 4px; max-height: 45vh;
                overflow-y: auto; box-shadow: 0 0 4px rgba(0,0,0,0.3);}
            .petakota-legend-section {margin-top: 4px;}
            .petakota-swatch {display: inline-block; width: 14px; height: 14px;
                vertical-align: middle; margin-right: 4px; text-align: center;}
            .petakota-marker {border-radius: 50%; color: #fff; font-size: 8px;
                line-height: 14px;}
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: 'bottomleft'});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create('div', 'petakota-legend');
                div.innerHTML = {{ this.content|tojson }};
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, sections: list[str], *, title: str = "Legenda") -> None:
        super().__init__()
        self._name = "Legend"
        self.content = f"<b>{html.escape(title)}</b>" + "".join(sections)

