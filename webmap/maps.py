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

Labels are Indonesian; numbers use the Indonesian format (``1.234,5``).
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
import shapely
from folium.plugins import FastMarkerCluster

from geo.coverage import ANY_OPERATOR, classify_signal
from geo.exports import h3_cells_to_geodataframe

__all__ = [
    "DEFAULT_TILE_URL",
    "FACILITY_STYLES",
    "INDICATORS",
    "VENDOR_ASSETS",
    "SurfaceImage",
    "city_map",
    "format_number",
    "kelurahan_map",
    "map_components",
    "offline_assets",
]

#: Background tiles (images, not scripts); a deployment may point this at an intranet tile server.
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                            'OpenStreetMap</a> contributors')

#: Local file (under the app's static folder) of every asset folium 0.20 and the plugins used here
#: load, by folium's asset name.  ``scripts/vendor_assets.py`` copies them from npm.
VENDOR_ASSETS: dict[str, str] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "jquery": "vendor/jquery/jquery.min.js",
    "bootstrap": "vendor/bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "bootstrap_css": "vendor/bootstrap/css/bootstrap.min.css",
    "awesome_markers_font_css": "vendor/fontawesome-free/css/all.min.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "awesome_rotate_css": "vendor/folium/leaflet.awesome.rotate.css",
    "markerclusterjs": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
}
#: Folium assets deliberately not loaded: Bootstrap 3 glyphicons (our icons are Font Awesome).
OMITTED_ASSETS = frozenset({"glyphicons_css"})

#: Round coordinates to this many decimals (about 0.1 m) and simplify kelurahan by this much
#: (degrees, about 10 m) for display.
COORDINATE_DECIMALS = 6
SIMPLIFY_DEGREES = 1e-4


@dataclass(frozen=True)
class Indicator:
    """A kelurahan figure the choropleth can show."""

    label: str
    unit: str
    decimals: int
    higher_is_better: bool


#: Indicators of the kelurahan choropleth (columns of :func:`geo.coverage.kelurahan_stats`).
INDICATORS: dict[str, Indicator] = {
    "covered_area_pct": Indicator("Luas tercakup sinyal (% luas terukur)", "%", 1, True),
    "blank_area_km2": Indicator("Luas blank spot (km²)", "km²", 2, False),
    "population_blank": Indicator("Penduduk di blank spot (jiwa)", "jiwa", 0, False),
}
# ColorBrewer RdYlGn, 5 classes, from bad to good.
_CLASS_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
_NO_DATA_COLOUR = "#cccccc"

#: Status of an H3 cell ("any" operator): colour and Indonesian label.
CELL_STATUS_STYLES: dict[str, tuple[str, str]] = {
    "blank": ("#d7301f", "Blank spot (tanpa sinyal)"),
    "weak": ("#fd8d3c", "Sinyal lemah"),
    "covered": ("#31a354", "Tercakup"),
    "unmeasured": ("#969696", "Belum cukup data"),
}
#: Signal class of a measurement: colour and Indonesian label.
SIGNAL_CLASS_STYLES: dict[str, tuple[str, str]] = {
    "very_good": ("#1a9641", "Sangat baik"),
    "good": ("#a6d96a", "Baik"),
    "fair": ("#e6c200", "Cukup"),
    "weak": ("#fd8d3c", "Lemah"),
    "no_coverage": ("#d7191c", "Tidak ada sinyal"),
    "unknown": ("#969696", "Tidak diketahui"),
}


@dataclass(frozen=True)
class FacilityStyle:
    """Marker of a facility type: Font Awesome 6 icon, awesome-markers colour, label."""

    icon: str
    colour: str
    label: str


#: Marker per facility type (``geo.demo.FACILITY_TYPES``); unknown types use "other".
FACILITY_STYLES: dict[str, FacilityStyle] = {
    "bts": FacilityStyle("tower-cell", "darkblue", "BTS (menara seluler)"),
    "tps": FacilityStyle("trash-can", "cadetblue", "TPS"),
    "tps3r": FacilityStyle("recycle", "green", "TPS3R"),
    "tpst": FacilityStyle("dumpster", "darkgreen", "TPST"),
    "tpa": FacilityStyle("mound", "black", "TPA"),
    "bank_sampah": FacilityStyle("piggy-bank", "orange", "Bank sampah"),
    "sekolah": FacilityStyle("school", "blue", "Sekolah"),
    "puskesmas": FacilityStyle("house-medical", "red", "Puskesmas"),
    "kantor_lurah": FacilityStyle("building-columns", "darkpurple", "Kantor lurah"),
    "other": FacilityStyle("location-dot", "gray", "Lainnya"),
}
# Approximate fill of each awesome-markers colour, for the legend.
_MARKER_HEX = {"darkblue": "#0067a3", "cadetblue": "#436978", "green": "#72b026",
               "darkgreen": "#728224", "black": "#303030", "orange": "#f69730",
               "blue": "#38aadd", "red": "#d63e2a", "darkpurple": "#5b396b", "gray": "#575757",
               "lightgray": "#a3a3a3"}
_FACILITY_STATUS = {"existing": "ada", "planned": "rencana", "closed": "tutup"}


@dataclass(frozen=True)
class SurfaceImage:
    """A rendered signal surface to lay over the map.

    ``image`` is PNG bytes (embedded in the page) or a URL served by the app; ``bounds`` is
    ``((south, west), (north, east))`` in degrees.
    """

    image: bytes | str
    bounds: tuple[tuple[float, float], tuple[float, float]]


def _default_static_url(path: str) -> str:
    return "/static/" + path


# --- public builders ---------------------------------------------------------------------------

def city_map(kelurahan_stats_gdf: gpd.GeoDataFrame, *, cells: pd.DataFrame | None = None,
             blank_spots: gpd.GeoDataFrame | None = None,
             facilities: gpd.GeoDataFrame | None = None,
             measurements_sample: pd.DataFrame | None = None,
             surface_png: SurfaceImage | None = None, indicator: str = "covered_area_pct",
             tile_url: str | None = DEFAULT_TILE_URL,
             tile_attribution: str = DEFAULT_TILE_ATTRIBUTION,
             static_url: Callable[[str], str] = _default_static_url) -> folium.Map:
    """Map of a city: kelurahan choropleth, H3 cells, blank spots, measurements, facilities.

    Parameters
    ----------
    kelurahan_stats_gdf
        Kelurahan polygons (with a CRS) carrying the columns of
        :func:`geo.coverage.kelurahan_stats` (at least ``kode``, ``nama`` and ``indicator``).
    cells
        Output of :func:`geo.coverage.aggregate_cells` (only "any" rows are drawn), or a
        GeoDataFrame of cells with ``status``.
    blank_spots
        Output of :func:`geo.surface.blank_spot_polygons`.
    facilities
        Points with ``type``, ``nama`` and optionally ``status``, ``operator``, ``capacity``.
    measurements_sample
        Measurements to show (the caller samples them): ``latitude``, ``longitude``,
        ``technology``, ``signal_dbm``, ``no_service`` and optionally ``operator``.
    surface_png
        Rendered signal surface to overlay.
    indicator
        Kelurahan figure of the choropleth, a key of :data:`INDICATORS`.
    tile_url, tile_attribution
        Background tile URL template and its attribution; ``None`` for no tile layer.
    static_url
        Turns a path under the static folder ("vendor/leaflet/leaflet.js") into its URL, e.g.
        ``lambda path: url_for("static", filename=path)``.

    Returns
    -------
    folium.Map
        Fitted to the kelurahan, every asset served locally.
    """
    kelurahan = _wgs84(kelurahan_stats_gdf, "kelurahan_stats_gdf")
    m = _base_map(kelurahan, tile_url, tile_attribution)
    legend = [_add_choropleth(m, kelurahan, indicator)]
    legend += _add_overlays(m, cells=cells, blank_spots=blank_spots, facilities=facilities,
                            measurements_sample=measurements_sample, surface_png=surface_png)
    return _finish(m, legend, static_url)


def kelurahan_map(kelurahan_row_gdf: gpd.GeoDataFrame, *, cells: pd.DataFrame | None,
                  blank_spots: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame | None,
                  measurements_sample: pd.DataFrame | None = None,
                  surface_png: SurfaceImage | None = None,
                  tile_url: str | None = DEFAULT_TILE_URL,
                  tile_attribution: str = DEFAULT_TILE_ATTRIBUTION,
                  static_url: Callable[[str], str] = _default_static_url) -> folium.Map:
    """Map of one kelurahan, zoomed to its boundary, with what lies in it.

    Parameters are those of :func:`city_map`; ``kelurahan_row_gdf`` holds the one kelurahan
    (polygon with a CRS and its statistics).  Cells are kept when their ``kelurahan_kode`` is the
    kelurahan's (or, without that column, when they intersect it), blank spots and measurements
    when they intersect it, facilities when they lie in it.
    """
    row = _wgs84(kelurahan_row_gdf, "kelurahan_row_gdf")
    if len(row) != 1:
        raise ValueError(f"kelurahan_row_gdf must hold one kelurahan, not {len(row)} rows")
    boundary = row.geometry.iloc[0]
    m = _base_map(row, tile_url, tile_attribution)
    legend = [_add_boundary(m, row)]
    legend += _add_overlays(
        m, cells=_cells_of(cells, row), blank_spots=_intersecting(blank_spots, boundary),
        facilities=_intersecting(facilities, boundary),
        measurements_sample=_points_in(measurements_sample, boundary), surface_png=surface_png)
    return _finish(m, legend, static_url)


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
    ``<script>`` element after it.

    Raises
    ------
    ValueError
        When the header still loads a remote script or style sheet (see :func:`offline_assets`).
    """
    root = m.get_root()
    root.render()
    components = {"header": root.header.render(), "html": root.html.render(),
                  "script": root.script.render()}
    remote = _remote_asset_urls(components["header"])
    if remote:
        raise ValueError(f"the map loads remote assets {remote}; build it with offline_assets()")
    return components


def format_number(value: Any, decimals: int = 0) -> str:
    """A number in Indonesian format: ``1234.5`` -> ``"1.234,5"``; missing -> ``"-"``."""
    if value is None or pd.isna(value):
        return "-"
    text = f"{float(value):,.{decimals}f}"
    return text.translate(str.maketrans({",": ".", ".": ","}))


# --- map skeleton ------------------------------------------------------------------------------

def _wgs84(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise ValueError(f"{name} must be a GeoDataFrame with a CRS")
    return frame.to_crs("EPSG:4326")


def _base_map(kelurahan: gpd.GeoDataFrame, tile_url: str | None, attribution: str
              ) -> folium.Map:
    """Empty map fitted to the kelurahan, with the tile layer and the "Tanpa latar" base layer."""
    west, south, east, north = kelurahan.total_bounds
    centre = [round((south + north) / 2, COORDINATE_DECIMALS),
              round((west + east) / 2, COORDINATE_DECIMALS)]
    m = folium.Map(location=centre, zoom_start=12, tiles=None,
                   control_scale=True, prefer_canvas=True)
    if tile_url:
        folium.TileLayer(tile_url, attr=attribution, name="Peta dasar (OpenStreetMap)"
                         if "openstreetmap" in tile_url else "Peta dasar").add_to(m)
    folium.FeatureGroup(name="Tanpa latar", overlay=False,
                        show=not tile_url).add_to(m)
    corners = np.round([[south, west], [north, east]], COORDINATE_DECIMALS)
    m.fit_bounds(corners.tolist())
    return m


def _add_overlays(m: folium.Map, *, cells: pd.DataFrame | None,
                  blank_spots: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame | None,
                  measurements_sample: pd.DataFrame | None, surface_png: SurfaceImage | None
                  ) -> list[str]:
    """Add the optional layers that are given; return their legend sections."""
    sections = []
    if surface_png is not None:
        sections.append(_add_surface(m, surface_png))
    if cells is not None and len(cells):
        sections.append(_add_cells(m, cells))
    if blank_spots is not None and len(blank_spots):
        sections.append(_add_blank_spots(m, blank_spots))
    if measurements_sample is not None and len(measurements_sample):
        sections.append(_add_measurements(m, measurements_sample))
    if facilities is not None and len(facilities):
        sections.append(_add_facilities(m, facilities))
    return sections


def _finish(m: folium.Map, legend: list[str], static_url: Callable[[str], str]) -> folium.Map:
    _Legend(legend).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return offline_assets(m, static_url)


# --- kelurahan -------------------------------------------------------------------------------

def _add_choropleth(m: folium.Map, kelurahan: gpd.GeoDataFrame, indicator: str) -> str:
    spec = _indicator(kelurahan, indicator)
    values = pd.to_numeric(kelurahan[indicator], errors="coerce").astype(float)
    edges = _class_edges(values, indicator)
    colours = _CLASS_COLOURS if spec.higher_is_better else _CLASS_COLOURS[::-1]
    table = _kelurahan_properties(kelurahan).assign(
        nilai=[format_number(v, spec.decimals) for v in values],
        warna=[_class_colour(v, edges, colours) for v in values])
    layer = folium.GeoJson(
        _feature_collection(table, simplify=True), name=f"Kelurahan: {spec.label}",
        style_function=lambda f: {"fillColor": f["properties"]["warna"], "color": "#555555",
                                  "weight": 1, "fillOpacity": 0.6},
        highlight_function=lambda f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(["nama", "kecamatan", "nilai"],
                                      aliases=["Kelurahan", "Kecamatan", spec.label]),
        popup=folium.GeoJsonPopup(*_kelurahan_popup_fields(table)))
    layer.add_to(m)
    rows = [(_swatch(colours[i]), f"{format_number(edges[i], spec.decimals)} – "
             f"{format_number(edges[i + 1], spec.decimals)}") for i in range(len(edges) - 1)]
    rows.append((_swatch(_NO_DATA_COLOUR), "Tidak ada data"))
    return _legend_section(f"Kelurahan: {spec.label}", rows)


def _add_boundary(m: folium.Map, row: gpd.GeoDataFrame) -> str:
    table = _kelurahan_properties(row)
    folium.GeoJson(_feature_collection(table, simplify=False), name="Batas kelurahan",
                   style_function=lambda f: {"color": "#2b2b2b", "weight": 3, "fill": False},
                   popup=folium.GeoJsonPopup(*_kelurahan_popup_fields(table))).add_to(m)
    return _legend_section("Kelurahan", [(_swatch("#ffffff", border="#2b2b2b"),
                                          "Batas kelurahan")])


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
    "covered_area_pct": ("Luas tercakup (% luas terukur)", 1),
    "measured_area_pct": ("Luas terukur (%)", 1),
    "blank_area_km2": ("Luas blank spot (km²)", 2),
    "area_km2": ("Luas kelurahan (km²)", 2),
    "samples": ("Jumlah pengukuran", 0),
    "blank_cells": ("Sel blank spot", 0),
    "population_blank": ("Penduduk di blank spot (jiwa)", 0),
    "status": ("Status", None),
}


def _kelurahan_properties(kelurahan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Display columns: escaped names and the figures of the popup as formatted text."""
    table = kelurahan[["geometry"]].copy()
    table["nama"] = _text(kelurahan, "nama")
    table["kecamatan"] = _text(kelurahan, "kecamatan")
    table["kode"] = _text(kelurahan, "kode")
    for column, (_, decimals) in _KELURAHAN_FIGURES.items():
        if column in kelurahan.columns:
            table[column] = (_text(kelurahan, column) if decimals is None else
                             [format_number(v, decimals) for v in kelurahan[column]])
    return table


def _kelurahan_popup_fields(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    fields = ["nama", "kode", *[c for c in _KELURAHAN_FIGURES if c in table.columns]]
    labels = ["Kelurahan", "Kode", *[_KELURAHAN_FIGURES[c][0] for c in fields[2:]]]
    return fields, labels


# --- cells, blank spots, surface ---------------------------------------------------------------

def _add_cells(m: folium.Map, cells: pd.DataFrame) -> str:
    if "operator" in cells.columns:
        cells = cells[cells["operator"] == ANY_OPERATOR]
    frame = (cells if isinstance(cells, gpd.GeoDataFrame)
             else h3_cells_to_geodataframe(cells)).to_crs("EPSG:4326")
    status = frame["status"].astype(str).where(frame["status"].isin(list(CELL_STATUS_STYLES)),
                                               "unmeasured")
    table = gpd.GeoDataFrame({
        "warna": status.map(lambda s: CELL_STATUS_STYLES[s][0]),
        "status": status.map(lambda s: CELL_STATUS_STYLES[s][1]),
        "sampel": _figures(frame, "samples", 0),
        "median": _figures(frame, "median_dbm", 0)}, geometry=frame.geometry)
    folium.GeoJson(
        _feature_collection(_dissolve_unmeasured(table, status == "unmeasured"),
                            simplify=False),
        name="Sel H3 (status sinyal)",
        style_function=lambda f: {"fillColor": f["properties"]["warna"], "color": "#ffffff",
                                  "weight": 0.5, "fillOpacity": 0.55},
        tooltip=folium.GeoJsonTooltip(["status", "sampel", "median"],
                                      aliases=["Status", "Jumlah pengukuran",
                                               "Median sinyal (dBm)"])).add_to(m)
    return _legend_section("Sel H3 (semua operator)",
                           [(_swatch(c), label) for c, label in CELL_STATUS_STYLES.values()])


def _dissolve_unmeasured(table: gpd.GeoDataFrame, unmeasured: pd.Series) -> gpd.GeoDataFrame:
    """Merge the unmeasured cells into one feature: they are most cells and say little each."""
    if not unmeasured.any():
        return table
    colour, label = CELL_STATUS_STYLES["unmeasured"]
    merged = gpd.GeoDataFrame(
        {"warna": [colour], "status": [label],
         "sampel": [f"{format_number(unmeasured.sum())} sel dengan data kurang"], "median": ["-"]},
        geometry=[shapely.union_all(np.asarray(table.geometry[unmeasured].array))],
        crs=table.crs)
    return pd.concat([merged, table[~unmeasured]], ignore_index=True)


def _add_blank_spots(m: folium.Map, blank_spots: gpd.GeoDataFrame) -> str:
    frame = _wgs84(blank_spots, "blank_spots")
    table = gpd.GeoDataFrame({
        "nomor": _text(frame, "id"), "luas": _figures(frame, "area_km2", 2),
        "penduduk": _figures(frame, "population", 0), "sampel": _figures(frame, "samples", 0),
        "tanpa_layanan": _figures(frame, "no_service_samples", 0),
        "terakhir": [_date_text(v) for v in frame.get("last_measured", [None] * len(frame))],
        "kelurahan": _text(frame, "kelurahan")}, geometry=frame.geometry)
    fields = ["nomor", "luas", "penduduk", "sampel", "tanpa_layanan", "terakhir", "kelurahan"]
    labels = ["Blank spot nomor", "Luas (km²)", "Penduduk (jiwa)", "Jumlah pengukuran",
              "Pengukuran tanpa layanan", "Pengukuran terakhir", "Kode kelurahan"]
    folium.GeoJson(
        _feature_collection(table, simplify=False), name="Blank spot (perkiraan)",
        style_function=lambda f: {"fillColor": "#67000d", "color": "#67000d", "weight": 2,
                                  "fillOpacity": 0.35, "dashArray": "4 3"},
        tooltip=folium.GeoJsonTooltip(fields[:3], aliases=labels[:3]),
        popup=folium.GeoJsonPopup(fields, aliases=labels)).add_to(m)
    return _legend_section("Blank spot", [(_swatch("#67000d", dashed=True),
                                           "Perkiraan wilayah tanpa sinyal")])


def _add_surface(m: folium.Map, surface: SurfaceImage) -> str:
    folium.raster_layers.ImageOverlay(
        _image_url(surface.image), bounds=[list(corner) for corner in surface.bounds],
        name="Perkiraan kuat sinyal", opacity=0.6, show=False).add_to(m)
    return _legend_section("Perkiraan kuat sinyal",
                           [(_swatch(c), label) for key, (c, label) in SIGNAL_CLASS_STYLES.items()
                            if key != "unknown"])


def _image_url(image: bytes | str) -> str:
    if isinstance(image, bytes):
        return "data:image/png;base64," + base64.b64encode(image).decode("ascii")
    return image


# --- measurements and facilities ---------------------------------------------------------------

# FastMarkerCluster assigns this function to ``var callback``.
_MEASUREMENT_CALLBACK = """\
function (row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 5, weight: 1, color: '#333333', fillColor: row[2], fillOpacity: 0.9});
    marker.bindTooltip(row[3]);
    return marker;
}"""


def _add_measurements(m: folium.Map, sample: pd.DataFrame) -> str:
    classes = classify_signal(sample["technology"], sample["signal_dbm"], sample["no_service"])
    lat = np.round(sample["latitude"].to_numpy(dtype=float), COORDINATE_DECIMALS)
    lon = np.round(sample["longitude"].to_numpy(dtype=float), COORDINATE_DECIMALS)
    labels = _measurement_labels(sample, classes)
    data = [[float(y), float(x), SIGNAL_CLASS_STYLES[c][0], label]
            for y, x, c, label in zip(lat, lon, classes, labels, strict=True)
            if np.isfinite(y) and np.isfinite(x)]
    FastMarkerCluster(data, callback=_MEASUREMENT_CALLBACK,
                      name="Titik pengukuran (sampel)").add_to(m)
    return _legend_section("Titik pengukuran (sampel)",
                           [(_swatch(c, round_=True), label)
                            for c, label in SIGNAL_CLASS_STYLES.values()])


def _measurement_labels(sample: pd.DataFrame, classes: np.ndarray) -> list[str]:
    operator = _text(sample, "operator")
    technology = _text(sample, "technology")
    signal = [format_number(v, 0) for v in sample["signal_dbm"]]
    no_service = sample["no_service"].fillna(False).astype(bool).to_numpy()
    return [f"{op} {tech}: " + ("tanpa layanan" if ns else f"{dbm} dBm")
            + f" ({SIGNAL_CLASS_STYLES[c][1].lower()})"
            for op, tech, dbm, ns, c in zip(operator, technology, signal, no_service, classes,
                                            strict=True)]


def _add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame) -> str:
    frame = _wgs84(facilities, "facilities")
    kinds = frame["type"].astype(str).where(frame["type"].isin(list(FACILITY_STYLES)), "other")
    rows = []
    for kind in [k for k in FACILITY_STYLES if (kinds == k).any()]:
        style = FACILITY_STYLES[kind]
        group = folium.FeatureGroup(name=f"Fasilitas: {style.label}").add_to(m)
        for _, facility in frame[kinds == kind].iterrows():
            _facility_marker(facility, style).add_to(group)
        rows.append((_marker_swatch(style), style.label))
    return _legend_section("Fasilitas", rows)


def _facility_marker(facility: pd.Series, style: FacilityStyle) -> folium.Marker:
    point = facility.geometry
    name = html.escape(str(facility.get("nama", "") or style.label))
    status = _FACILITY_STATUS.get(str(facility.get("status")), facility.get("status"))
    lines = [f"<b>{name}</b>", f"Jenis: {html.escape(style.label)}"]
    if status is not None and not pd.isna(status):
        lines.append(f"Status: {html.escape(str(status))}")
    if pd.notna(facility.get("operator")):
        lines.append(f"Operator: {html.escape(str(facility['operator']))}")
    if pd.notna(facility.get("capacity")):
        lines.append(f"Kapasitas: {format_number(facility['capacity'], 1)} ton/hari")
    colour = "lightgray" if facility.get("status") == "planned" else style.colour
    return folium.Marker(
        [round(point.y, COORDINATE_DECIMALS), round(point.x, COORDINATE_DECIMALS)],
        icon=folium.Icon(color=colour, icon=style.icon, prefix="fa"),
        tooltip=folium.Tooltip(f"{name} ({html.escape(style.label)})"),
        popup=folium.Popup("<br>".join(lines), max_width=300))


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

def _feature_collection(table: gpd.GeoDataFrame, *, simplify: bool) -> dict[str, Any]:
    """GeoJSON of a table: coordinates rounded, polygons optionally simplified, NaN as null."""
    geometry = np.asarray(table.geometry.array)
    if simplify:
        geometry = shapely.simplify(geometry, SIMPLIFY_DEGREES, preserve_topology=True)
    geometry = shapely.transform(geometry, lambda xy: np.round(xy, COORDINATE_DECIMALS))
    frame = table.set_geometry(gpd.GeoSeries(geometry, index=table.index, crs=table.crs))
    return json.loads(frame.to_json(na="null", drop_id=True))


def _text(frame: pd.DataFrame, column: str) -> list[str]:
    """HTML-escaped text of a column ("" where missing or absent)."""
    if column not in frame.columns:
        return [""] * len(frame)
    return ["" if v is None or (not isinstance(v, str) and pd.isna(v)) else html.escape(str(v))
            for v in frame[column]]


def _figures(frame: pd.DataFrame, column: str, decimals: int) -> list[str]:
    if column not in frame.columns:
        return ["-"] * len(frame)
    return [format_number(v, decimals) for v in frame[column]]


def _date_text(seconds: Any) -> str:
    if seconds is None or pd.isna(seconds):
        return "-"
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%d-%m-%Y")


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
    """A Leaflet control in the bottom-right corner holding the legend (Indonesian)."""

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
            var {{ this.get_name() }} = L.control({position: 'bottomright'});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create('div', 'petakota-legend');
                div.innerHTML = {{ this.content|tojson }};
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, sections: list[str]) -> None:
        super().__init__()
        self._name = "Legend"
        self.content = "<b>Legenda</b>" + "".join(sections)

