"""Where a waste-processing building may go: excluded land, suitable land, a score raster.

Everything here works in the city's metric CRS (its UTM zone, :func:`geo.projection.utm_crs_for`)
on constraint layers keyed by kind (``geo.layers``), with the rules of one rule set
(:func:`geo.settings.siting_rules_from_config`):

- :func:`excluded_land`: the land each hard rule excludes, as polygons that list every rule
  excluding them (where a river buffer overlaps a flood zone, that part lists both).
- :func:`suitable_land`: the city minus the excluded land, without parts smaller than the
  minimum plot.
- :func:`score_raster`: the weighted sum of the soft criteria, each normalised to 0-1, on a grid
  over the city; :func:`write_score_geotiff` exports it.
- :func:`check_sites`: for given sites (points or plots), every rule each one breaks, with the
  distance that broke it ("sungai: 230 m < 500 m").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

import geopandas as gpd
import pyproj
import rasterio
import rasterio.features
import shapely
import shapely.geometry

from geo.layers import airport_class
from geo.settings import Exclusion, SitingRules

#: A slope grid in percent and its transform in the metric CRS (``geo.terrain.slope_percent``).
Slope = tuple[np.ndarray, Affine]

ROAD_RULE = "jalan"
SLOPE_RULE = "lereng"
AREA_RULE = "luas"

#: Pieces of excluded land smaller than this (m2) are rounding slivers of the overlay, dropped.
SLIVER_M2 = 1.0


@dataclass(frozen=True)
class Violation:
    """One rule a site breaks: the measured value against the rule's limit.

    ``unit`` is ``m`` for distances (then ``distance_m``/``required_m`` repeat value and limit),
    ``%`` for slope, ``m2`` for plot area.
    """

    rule: str
    value: float
    limit: float
    unit: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: rule, distance_m, required_m, value, limit, unit, text."""
        metres = self.unit == "m"
        return {"rule": self.rule, "distance_m": round(self.value, 1) if metres else None,
                "required_m": self.limit if metres else None, "value": round(self.value, 2),
                "limit": self.limit, "unit": self.unit, "text": self.text}


@dataclass(frozen=True)
class ScoreRaster:
    """Suitability score 0-1 per pixel (NaN outside the city), in ``crs`` with ``transform``."""

    data: np.ndarray
    transform: Affine
    crs: pyproj.CRS
    criteria: tuple[str, ...]


def excluded_land(city: shapely.Geometry, layers: Mapping[str, gpd.GeoDataFrame],
                  rules: SitingRules, *, slope: Slope | None = None) -> gpd.GeoDataFrame:
    """Land inside ``city`` that the hard rules exclude, each part with every rule excluding it.

    Parameters
    ----------
    city
        The city's area in the metric CRS.
    layers
        Constraint layers by kind, in the metric CRS; kinds absent are not checked (except
        roads: without a ``jalan`` layer road reach is not checked either).
    rules
        The rule set.
    slope
        Slope in percent on a metric grid; land steeper than the rule set's maximum is excluded.

    Returns
    -------
    geopandas.GeoDataFrame
        ``rules`` (sorted list of rule names), ``area_m2`` and the polygon, in no CRS of its
        own (the caller's metric CRS is set by :func:`geo.waste_siting`).
    """
    zones = [(name, zone) for name, zone in _rule_zones(city, layers, rules, slope)
             if not zone.is_empty]
    parts: list[tuple[shapely.Geometry, frozenset[str]]] = []
    for name, zone in zones:
        parts = _overlaid(parts, zone, name)
    return gpd.GeoDataFrame(
        {"rules": [sorted(r) for _, r in parts],
         "area_m2": [float(g.area) for g, _ in parts]},
        geometry=[g for g, _ in parts])


def suitable_land(city: shapely.Geometry, excluded: gpd.GeoDataFrame,
                  rules: SitingRules) -> gpd.GeoDataFrame:
    """Return the city minus the excluded land, as parts of at least the minimum plot area."""
    remaining = shapely.difference(city, shapely.union_all(excluded.geometry.array))
    parts = shapely.get_parts(remaining)
    parts = parts[shapely.area(parts) >= rules.min_plot_m2]
    return gpd.GeoDataFrame({"area_m2": shapely.area(parts)}, geometry=parts)


def score_raster(city: shapely.Geometry, crs: pyproj.CRS, layers: Mapping[str, gpd.GeoDataFrame],
                 rules: SitingRules, *, pixel_m: float, centre: shapely.Point | None = None,
                 facilities: gpd.GeoSeries | None = None,
                 slope: Slope | None = None) -> ScoreRaster:
    """Weighted sum of the soft criteria on a ``pixel_m`` grid over ``city`` (0 worst, 1 best).

    Each criterion is normalised linearly over its scale (``near``: 1 at the feature, 0 at the
    scale; ``far`` the reverse; ``lereng``: 1 flat, 0 at the rule set's maximum slope).  A
    criterion without data (no road layer, no DEM...) is left out and the remaining weights are
    rescaled to sum to 1; ``criteria`` lists those used.
    """
    west, south, east, north = city.bounds
    transform = Affine(pixel_m, 0, west, 0, -pixel_m, north)
    shape = (max(1, int(np.ceil((north - south) / pixel_m))),
             max(1, int(np.ceil((east - west) / pixel_m))))
    cols, rows = np.meshgrid(np.arange(shape[1]) + 0.5, np.arange(shape[0]) + 0.5)
    x, y = apply_transform(transform, cols.ravel(), rows.ravel())
    targets = _criterion_targets(layers, centre, facilities)
    total, weight, used = np.zeros(x.size), 0.0, []
    for criterion in rules.criteria:
        score = _criterion_score(criterion.name, criterion.direction, criterion.scale_m, x, y,
                                 targets, slope, rules.max_slope_pct)
        if score is not None and criterion.weight > 0:
            total += criterion.weight * score
            weight += criterion.weight
            used.append(criterion.name)
    values = total / weight if weight else np.full(x.size, np.nan)
    values[~shapely.contains_xy(city, x, y)] = np.nan
    return ScoreRaster(values.reshape(shape), transform, crs, tuple(used))


def write_score_geotiff(score: ScoreRaster, path: str | Path) -> Path:
    """Write the score raster as a single-band float32 GeoTIFF (NaN nodata) in its metric CRS."""
    path = Path(path)
    height, width = score.data.shape
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs=score.crs.to_wkt(), transform=score.transform,
                       nodata=np.nan) as out:
        out.write(score.data.astype("float32"), 1)
        out.update_tags(1, criteria=",".join(score.criteria))
    return path


def check_sites(sites: np.ndarray, layers: Mapping[str, gpd.GeoDataFrame], rules: SitingRules, *,
                slope: Slope | None = None) -> list[list[Violation]]:
    """Every rule each site (point or plot, metric CRS) breaks, in rule order.

    Distance rules measure from the site's geometry (a plot's edge) to the nearest feature of
    the layer.  Road reach is checked when there is a ``jalan`` layer, slope (the steepest pixel
    under the site) when ``slope`` is given, plot area for polygon sites only.
    """
    sites = np.asarray(sites, dtype=object)
    found: list[list[Violation]] = [[] for _ in range(len(sites))]
    for exclusion in rules.exclusions:
        features = _features(layers, exclusion)
        if features is not None:
            _add_too_close(found, exclusion, _nearest_distance(sites, features))
    roads = _layer_geometries(layers, ROAD_RULE)
    if roads is not None:
        _add_too_far(found, _nearest_distance(sites, roads), rules.road_max_m)
    if slope is not None:
        _add_too_steep(found, _steepest(sites, slope), rules.max_slope_pct)
    _add_too_small(found, sites, rules.min_plot_m2)
    return found


def apply_transform(transform: Affine, x: np.ndarray, y: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``transform`` applied to coordinate arrays (pixel to world, or world to pixel with ``~``)."""
    a, b, c, d, e, f = transform[:6]
    return a * x + b * y + c, d * x + e * y + f


def _rule_zones(city: shapely.Geometry, layers: Mapping[str, gpd.GeoDataFrame],
                rules: SitingRules, slope: Slope | None):
    """(rule name, excluded zone within the city) for each rule that has data."""
    for exclusion in rules.exclusions:
        features = _features(layers, exclusion)
        if features is not None:
            zone = shapely.union_all(shapely.buffer(features, exclusion.buffer_m))
            yield exclusion.rule, shapely.intersection(city, zone)
    roads = _layer_geometries(layers, ROAD_RULE)
    if roads is not None:
        reach = shapely.union_all(shapely.buffer(roads, rules.road_max_m))
        yield ROAD_RULE, shapely.difference(city, reach)
    if slope is not None:
        yield SLOPE_RULE, shapely.intersection(city, _steep_zone(slope, rules.max_slope_pct))


def _overlaid(parts: list[tuple[shapely.Geometry, frozenset[str]]], zone: shapely.Geometry,
              name: str) -> list[tuple[shapely.Geometry, frozenset[str]]]:
    """Split existing parts by ``zone`` (the overlap gains ``name``) and add the zone's rest."""
    result = []
    for geometry, names in parts:
        for piece, piece_names in ((shapely.intersection(geometry, zone), names | {name}),
                                   (shapely.difference(geometry, zone), names)):
            if piece.area > SLIVER_M2:
                result.append((piece, piece_names))
    covered = shapely.union_all([g for g, _ in parts]) if parts else shapely.Polygon()
    rest = shapely.difference(zone, covered)
    if rest.area > SLIVER_M2:
        result.append((rest, frozenset({name})))
    return result


def _layer_geometries(layers: Mapping[str, gpd.GeoDataFrame], kind: str) -> np.ndarray | None:
    layer = layers.get(kind)
    if layer is None or len(layer) == 0:
        return None
    geometries = layer.geometry.to_numpy()
    geometries = geometries[~(shapely.is_missing(geometries) | shapely.is_empty(geometries))]
    return geometries if len(geometries) else None


def _features(layers: Mapping[str, gpd.GeoDataFrame], exclusion: Exclusion) -> np.ndarray | None:
    """Return the features a rule applies to (airports split by class; blank counts turbojet)."""
    layer = layers.get(exclusion.layer)
    if layer is None or len(layer) == 0:
        return None
    if exclusion.layer == "bandara" and exclusion.rule.startswith("bandara_"):
        classes = (layer["jenis"].map(airport_class) if "jenis" in layer.columns
                   else np.full(len(layer), None))
        other = np.asarray(classes == "lainnya", dtype=bool)
        wanted = other if exclusion.rule == "bandara_lainnya" else ~other
        layer = layer[wanted]
    return _layer_geometries({exclusion.layer: layer}, exclusion.layer)


def _nearest_distance(sites: np.ndarray, features: np.ndarray) -> np.ndarray:
    if len(sites) == 0:
        return np.zeros(0)
    tree = shapely.STRtree(features)
    (site_index, _), distance = tree.query_nearest(sites, return_distance=True, all_matches=False)
    result = np.full(len(sites), np.inf)
    result[site_index] = distance
    return result


def _add_too_close(found: list[list[Violation]], exclusion: Exclusion,
                   distance: np.ndarray) -> None:
    required = exclusion.buffer_m
    for i in np.flatnonzero((distance < required) | ((required == 0) & (distance == 0))):
        text = (f"{exclusion.rule}: di dalam ({distance[i]:.0f} m)" if required == 0
                else f"{exclusion.rule}: {distance[i]:.0f} m < {required:.0f} m")
        found[i].append(Violation(exclusion.rule, float(distance[i]), required, "m", text))


def _add_too_far(found: list[list[Violation]], distance: np.ndarray, limit: float) -> None:
    for i in np.flatnonzero(distance > limit):
        text = f"{ROAD_RULE}: {distance[i]:.0f} m > {limit:.0f} m"
        found[i].append(Violation(ROAD_RULE, float(distance[i]), limit, "m", text))


def _add_too_steep(found: list[list[Violation]], steepest: np.ndarray, limit: float) -> None:
    for i in np.flatnonzero(steepest > limit):
        text = f"{SLOPE_RULE}: {steepest[i]:.1f} % > {limit:.0f} %"
        found[i].append(Violation(SLOPE_RULE, float(steepest[i]), limit, "%", text))


def _add_too_small(found: list[list[Violation]], sites: np.ndarray, limit: float) -> None:
    polygonal = np.isin(shapely.get_type_id(sites), (3, 6))
    area = shapely.area(sites)
    for i in np.flatnonzero(polygonal & (area < limit)):
        text = f"{AREA_RULE}: {area[i]:.0f} m2 < {limit:.0f} m2"
        found[i].append(Violation(AREA_RULE, float(area[i]), limit, "m2", text))


def _steepest(sites: np.ndarray, slope: Slope) -> np.ndarray:
    """Steepest slope pixel under each site (the pixel at a point); NaN counts as flat."""
    grid, transform = slope
    values = np.nan_to_num(grid, nan=0.0)
    result = np.zeros(len(sites))
    for i, site in enumerate(sites):
        mask = rasterio.features.geometry_mask([site], values.shape, transform, invert=True,
                                               all_touched=True)
        result[i] = values[mask].max(initial=0.0)
    return result


def _steep_zone(slope: Slope, limit: float) -> shapely.Geometry:
    grid, transform = slope
    steep = (np.nan_to_num(grid, nan=0.0) > limit).astype("uint8")
    shapes = [shapely.geometry.shape(g) for g, v in
              rasterio.features.shapes(steep, mask=steep.astype(bool), transform=transform)
              if v == 1]
    return shapely.union_all(shapes) if shapes else shapely.Polygon()


def _criterion_targets(layers: Mapping[str, gpd.GeoDataFrame], centre: shapely.Point | None,
                       facilities: gpd.GeoSeries | None) -> dict[str, np.ndarray | None]:
    points = None if facilities is None or len(facilities) == 0 else facilities.to_numpy()
    return {"jalan": _layer_geometries(layers, "jalan"),
            "permukiman": _layer_geometries(layers, "permukiman"),
            "pusat_sampah": None if centre is None else np.array([centre], dtype=object),
            "fasilitas": points}


def _criterion_score(name: str, direction: str, scale_m: float, x: np.ndarray, y: np.ndarray,
                     targets: dict[str, np.ndarray | None], slope: Slope | None,
                     max_slope: float) -> np.ndarray | None:
    if direction == "flat":
        if slope is None or max_slope <= 0:
            return None
        return 1.0 - np.clip(_sample(slope, x, y) / max_slope, 0.0, 1.0)
    features = targets.get(name)
    if features is None:
        return None
    share = np.clip(_nearest_distance(shapely.points(x, y), features) / scale_m, 0.0, 1.0)
    return 1.0 - share if direction == "near" else share


def _sample(slope: Slope, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    grid, transform = slope
    cols, rows = apply_transform(~transform, x, y)
    rows = np.clip(np.floor(rows).astype(int), 0, grid.shape[0] - 1)
    cols = np.clip(np.floor(cols).astype(int), 0, grid.shape[1] - 1)
    return np.nan_to_num(grid[rows, cols], nan=0.0)
