"""Folium maps of a siting result (``/tapak``): pure functions that return a ``folium.Map``.

A result is the JSON answer of :func:`webmap.siting.plan_waste` or
:func:`webmap.siting.plan_towers` (also what a saved scenario keeps).  The map shows the excluded
land coloured by the rule that excluded it (a legend row per rule), the suitable land, the
candidates (eligible or excluded, the broken rules on click), the chosen sites with a circle of
their service distance (waste) or radius (towers), and the existing fixed sites.

The base map, the offline assets and the legend are those of :mod:`webmap.maps`.  As there, every
text reaches the map as an HTML-escaped GeoJSON property shown by ``GeoJsonTooltip`` /
``GeoJsonPopup``: candidate ids and rule texts come from uploaded files.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd

import folium
import geopandas as gpd

from webmap import maps
from webmap.maps import N_

#: Colour of each exclusion rule (the first rule of a part that breaks several); others grey.
RULE_COLOURS = {
    "badan_air": "#1f78b4", "sungai": "#a6cee3", "sumber_air": "#6a3d9a",
    "kawasan_lindung": "#33a02c", "rawan_banjir": "#fb9a99", "bandara": "#ff7f00",
    "permukiman": "#e31a1c", "jalan": "#b15928", "lereng": "#cab2d6", "batas_kota": "#999999",
}
_OTHER_RULE_COLOUR = "#666666"
SUITABLE_COLOUR, ELIGIBLE_COLOUR, EXCLUDED_COLOUR, SITE_COLOUR = (
    "#b2df8a", "#1a9641", "#d7191c", "#0b5d7a")


def siting_map(kelurahan_gdf: gpd.GeoDataFrame, result: dict[str, Any], *,
               fixed_sites: gpd.GeoDataFrame | None = None,
               tile_url: str | None = maps.DEFAULT_TILE_URL,
               tile_attribution: str = maps.DEFAULT_TILE_ATTRIBUTION,
               static_url: Callable[[str], str] = maps._default_static_url,
               translate: Callable[[str], str] = maps._untranslated,
               decimal_comma: bool = True) -> folium.Map:
    """Map of one siting result over the city's kelurahan outlines.

    Parameters
    ----------
    kelurahan_gdf
        The city's kelurahan polygons (with a CRS, ``kode`` and ``nama``).
    result
        A siting answer: ``exclusions`` and ``suitable`` (GeoJSON, waste runs), ``candidates``
        and ``sites`` (records with ``latitude``/``longitude``), ``service_m`` or ``radius_m``.
    fixed_sites
        Existing facilities the model kept fixed (``type``, ``nama``, ``status``), drawn as
        the facility markers of :mod:`webmap.maps`.
    tile_url, tile_attribution, static_url, translate, decimal_comma
        As for :func:`webmap.maps.city_map`.
    """
    lang = maps._Language(translate, decimal_comma)
    kelurahan = maps._wgs84(kelurahan_gdf, "kelurahan_gdf")
    m = maps._base_map(kelurahan, tile_url, tile_attribution, lang=lang)
    legend = [maps._add_outlines(m, kelurahan, lang)]
    for add in (_add_exclusions, _add_suitable, _add_candidates):
        section = add(m, result, lang)
        if section:
            legend.append(section)
    legend.append(_add_sites(m, result, lang))
    if fixed_sites is not None and len(fixed_sites):
        legend.append(maps._add_facilities(m, fixed_sites, lang))
    return maps._finish(m, legend, static_url, lang=lang)


def rule_colour(rules: list[str]) -> str:
    """The colour of an excluded part: that of its first rule with a colour of its own."""
    return next((RULE_COLOURS[rule] for rule in rules if rule in RULE_COLOURS),
                _OTHER_RULE_COLOUR)


def _add_exclusions(m: folium.Map, result: dict[str, Any], lang: maps._Language) -> str:
    """Excluded land, one polygon per combination of rules; ``aturan`` names the rules."""
    features = [f for f in (result.get("exclusions") or {}).get("features", [])
                if f.get("geometry")]
    if not features:
        return ""
    drawn = []
    for feature in features:
        rules = [str(rule) for rule in feature["properties"].get("rules") or []]
        drawn.append({"type": "Feature", "geometry": feature["geometry"], "properties": {
            "aturan": html.escape(", ".join(rules)), "rules": [html.escape(r) for r in rules],
            "luas_ha": lang.number((feature["properties"].get("area_m2") or 0) / 1e4, 2),
            "warna": rule_colour(rules)}})
    folium.GeoJson(
        {"type": "FeatureCollection", "features": drawn},
        name=lang.html(N_("Lahan yang dikecualikan")),
        style_function=lambda f: {"color": f["properties"]["warna"], "weight": 1,
                                  "fillColor": f["properties"]["warna"], "fillOpacity": 0.45},
        tooltip=folium.GeoJsonTooltip(["aturan"], aliases=[lang.html(N_("Aturan"))]),
        popup=folium.GeoJsonPopup(["aturan", "luas_ha"], aliases=[
            lang.html(N_("Dikecualikan oleh aturan")), lang.html(N_("Luas (ha)"))]),
    ).add_to(m)
    used = sorted({rule for f in drawn for rule in f["properties"]["rules"]})
    rows = [(maps._swatch(rule_colour([rule])), rule) for rule in used]
    return maps._legend_section(lang.gettext("Dikecualikan oleh aturan"), rows)


def _add_suitable(m: folium.Map, result: dict[str, Any], lang: maps._Language) -> str:
    features = [f for f in (result.get("suitable") or {}).get("features", [])
                if f.get("geometry")]
    if not features:
        return ""
    folium.GeoJson({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": f["geometry"], "properties": {}} for f in features]},
        name=lang.html(N_("Lahan yang sesuai")),
        style_function=lambda f: {"color": ELIGIBLE_COLOUR, "weight": 1,
                                  "fillColor": SUITABLE_COLOUR, "fillOpacity": 0.35},
    ).add_to(m)
    return maps._legend_section(lang.gettext("Lahan"), [
        (maps._swatch(SUITABLE_COLOUR, border=ELIGIBLE_COLOUR),
         lang.gettext("Lahan yang sesuai"))])


def _add_candidates(m: folium.Map, result: dict[str, Any], lang: maps._Language) -> str:
    """Candidates as small circles: green eligible, red excluded with the broken rules."""
    candidates = _points(result.get("candidates") or [])
    if candidates is None:
        return ""
    eligible = candidates["eligible"].fillna(False).astype(bool)
    table = gpd.GeoDataFrame({
        "id": maps._text(candidates, "id"),
        "status": [lang.html(N_("memenuhi syarat")) if ok else lang.html(N_("dikecualikan"))
                   for ok in eligible],
        "alasan": [_violation_text(v) or "-" for v in candidates["violations"]],
        "warna": [ELIGIBLE_COLOUR if ok else EXCLUDED_COLOUR for ok in eligible]},
        geometry=candidates.geometry.to_numpy(), crs="EPSG:4326")
    folium.GeoJson(
        maps._feature_collection(table), name=lang.html(N_("Calon lokasi")),
        marker=folium.CircleMarker(radius=4, weight=1, fill_opacity=0.8),
        style_function=lambda f: {"color": f["properties"]["warna"],
                                  "fillColor": f["properties"]["warna"]},
        tooltip=folium.GeoJsonTooltip(["id", "status"], labels=False),
        popup=folium.GeoJsonPopup(["id", "status", "alasan"], aliases=[
            lang.html(N_("Calon")), lang.html(N_("Status")),
            lang.html(N_("Aturan yang dilanggar"))]),
    ).add_to(m)
    return maps._legend_section(lang.gettext("Calon lokasi"), [
        (maps._swatch(ELIGIBLE_COLOUR, round_=True), lang.gettext("memenuhi syarat")),
        (maps._swatch(EXCLUDED_COLOUR, round_=True), lang.gettext("dikecualikan"))])


def _add_sites(m: folium.Map, result: dict[str, Any], lang: maps._Language) -> str:
    """Chosen sites (markers, ranked) and the circle each one serves."""
    sites = _points(result.get("sites") or [])
    reach = float(result.get("service_m") or result.get("radius_m") or 0.0)
    label = (lang.gettext("Jangkauan menara") if "radius_m" in result
             else lang.gettext("Jarak layanan"))
    rows = [(maps._swatch(SITE_COLOUR, border=SITE_COLOUR, round_=True),
             lang.gettext("Lokasi terpilih")),
            (maps._swatch("transparent", border=SITE_COLOUR, dashed=True, round_=True),
             f"{label}: {lang.number(reach)} m")]
    if sites is None:
        return maps._legend_section(lang.gettext("Hasil"), rows[:1])
    group = folium.FeatureGroup(name=lang.html(N_("Lokasi terpilih dan jangkauannya")))
    for point in sites.geometry:
        if reach > 0:
            folium.Circle([round(point.y, 6), round(point.x, 6)], radius=reach,
                          color=SITE_COLOUR, weight=2, dash_array="6 4", fill=True,
                          fill_opacity=0.08).add_to(group)
    table = gpd.GeoDataFrame({
        "peringkat": [lang.number(v) for v in sites["rank"]] if "rank" in sites else "-",
        "id": maps._text(sites, "id"), "kelurahan": maps._text(sites, "kelurahan"),
        "dilayani": [lang.number(v, 2) for v in _served(sites)]},
        geometry=sites.geometry.to_numpy(), crs="EPSG:4326")
    folium.GeoJson(
        maps._feature_collection(table),
        marker=folium.Marker(icon=folium.Icon(color="darkblue", icon="star", prefix="fa")),
        tooltip=folium.GeoJsonTooltip(["peringkat", "id", "kelurahan"], aliases=[
            lang.html(N_("Peringkat")), lang.html(N_("Lokasi")), lang.html(N_("Kelurahan"))]),
        popup=folium.GeoJsonPopup(["peringkat", "id", "kelurahan", "dilayani"], aliases=[
            lang.html(N_("Peringkat")), lang.html(N_("Lokasi")), lang.html(N_("Kelurahan")),
            lang.html(N_("Dilayani (ton/hari atau sel blank)"))]),
    ).add_to(group)
    group.add_to(m)
    return maps._legend_section(lang.gettext("Hasil"), rows if reach > 0 else rows[:1])


def _points(records: list[dict[str, Any]]) -> gpd.GeoDataFrame | None:
    """Records with ``latitude``/``longitude`` as points (None when there are none)."""
    frame = pd.DataFrame(records)
    if frame.empty or not {"latitude", "longitude"} <= set(frame.columns):
        return None
    if "violations" not in frame.columns:
        frame["violations"] = None
    if "eligible" not in frame.columns:
        frame["eligible"] = True
    return gpd.GeoDataFrame(frame, crs="EPSG:4326", geometry=gpd.points_from_xy(
        frame["longitude"].astype(float), frame["latitude"].astype(float)))


def _violation_text(violations: Any) -> str:
    """The broken rules of a candidate, escaped: ``"sungai: 230 m < 500 m; ..."``."""
    if not isinstance(violations, list):
        return ""
    texts = [str(v.get("text") or v.get("rule")) if isinstance(v, dict) else str(v)
             for v in violations]
    return html.escape("; ".join(texts))


def _served(sites: pd.DataFrame) -> list[Any]:
    for column in ("tonnes_day", "blank_cells", "cells"):
        if column in sites.columns:
            return sites[column].tolist()
    return [None] * len(sites)
