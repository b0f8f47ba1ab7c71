"""Where the waste-processing building goes: rules, candidates, demand, distances, a solved model.

:func:`site_waste_facility` is the one entry point.  In outline (all in the city's UTM zone):

1. the rule set (``tpst`` or ``tpa``, :func:`geo.settings.siting_rules_from_config`) gives the
   excluded land (:mod:`geo.suitability`), the suitable land and the score raster;
2. candidates are the given ones (points or plots), or square plots of the minimum plot area on
   a grid over the suitable land, the best-scoring ``settings.WASTE_MAX_GENERATED_CANDIDATES``;
   every candidate is checked against every rule, and only eligible ones enter the model;
3. demand is waste per demand point: population (a population raster summed over square cells
   of ``settings.WASTE_DEMAND_CELL_M``, or a population column of the kelurahan at their inner
   points) x kg/person/day, in tonnes/day; for the capacitated p-median, with
   ``settings.WASTE_DEMAND_AGGREGATION`` at ``"kelurahan"``, the raster's cells are summed per
   kelurahan at its population-weighted centre, so it sees a few dozen demand points instead
   of thousands of cells (MCLP and LSCP keep the cells); existing
   TPS/TPS3R/TPST are fixed sites with their capacity (t/day; unknown capacity counts 0 in the
   capacitated p-median);
4. distances run along the roads (:mod:`geo.road_network`) when a ``jalan`` layer exists,
   straight otherwise;
5. the model (:mod:`geo.allocation`) is solved exactly, then a sensitivity table over
   p = 1..5 and three service distances.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import pyproj
import shapely

from geo import settings
from geo.allocation import MODELS, Allocation, solve_lscp, solve_mclp, solve_pmedian
from geo.errors import N_, Problem, SitingError
from geo.kelurahan_lookup import assign_kelurahan
from geo.population import population_in_polygons
from geo.projection import require_crs, utm_crs_for
from geo.road_network import road_distances
from geo.suitability import (
    ScoreRaster,
    Slope,
    apply_transform,
    check_sites,
    excluded_land,
    score_raster,
    suitable_land,
)

WGS84 = "EPSG:4326"
POPULATION_COLUMNS = ("penduduk", "population", "populasi", "jumlah_penduduk")


@dataclass
class WasteSiting:
    """The answer of one run; :meth:`to_dict` is its JSON form.

    ``sites`` has one row per chosen new site, ranked (rank, id, latitude, longitude, kode,
    kelurahan, tonnes_day, population, mean_distance_m, max_distance_m, rules_checked);
    ``candidates`` one row per candidate (id, source, latitude, longitude, eligible,
    in_model: whether it entered the model (p-median takes only the best-scoring
    ``settings.WASTE_PMEDIAN_MAX_CANDIDATES`` eligible ones), violations: list of dicts, score); ``unserved`` the demand points no site serves within the
    service distance (latitude, longitude, tonnes_day, population); ``sensitivity`` one row per
    (p, service_m) with objective, demand_covered (t/day) and status.  ``demand_covered`` is the
    waste (t/day) served within the service distance, whatever the model; ``objective`` is the
    model's own (p-median: tonne-metres per day of the waste served; MCLP: t/day covered;
    LSCP: new sites).  The capacitated p-median serves what the capacities allow, nearest waste
    first, and leaves the rest unserved.  ``status`` is ``"feasible"`` (with ``gap``, the
    relative MIP gap) when the p-median's time limit stopped the solver before it proved the
    optimum.  ``demand_level`` says what a demand point is
    (``"kelurahan"`` or ``"cell"``) and ``demand_points`` how many the models saw.
    """

    model: str
    status: str
    objective: float
    distance: str
    rules: settings.SitingRules
    sites: pd.DataFrame
    candidates: pd.DataFrame
    unserved: pd.DataFrame
    demand_total: float
    demand_covered: float
    service_m: float
    capacity_t_day: float
    gap: float | None
    sensitivity: pd.DataFrame
    demand_level: str
    demand_points: int
    exclusions: gpd.GeoDataFrame
    suitable: gpd.GeoDataFrame
    score: ScoreRaster | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result (exclusions and suitable land as GeoJSON in EPSG:4326)."""
        return {
            "model": self.model, "status": self.status, "objective": _plain(self.objective),
            "gap": _plain(self.gap),
            "distance": self.distance, "service_m": self.service_m,
            "capacity_t_day": self.capacity_t_day, "sites": _records(self.sites),
            "candidates": _records(self.candidates), "unserved": _records(self.unserved),
            "demand_total": round(self.demand_total, 3),
            "demand_covered": round(self.demand_covered, 3),
            "demand_level": self.demand_level, "demand_points": self.demand_points,
            "sensitivity": _records(self.sensitivity),
            "exclusions": _geojson(self.exclusions), "suitable": _geojson(self.suitable),
            "rules": self.rules.as_dict(),
        }


def site_waste_facility(
    kelurahan: gpd.GeoDataFrame,
    layers: dict[str, gpd.GeoDataFrame],
    *,
    population: str | Path | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | str | Path | None = None,
    rules: str = "tpst",
    model: str = "pmedian",
    sites: int = 1,
    service_m: float | None = None,
    capacity_t_day: float | None = None,
    slope: str | Path | None = None,
    rule_overrides: dict[str, Any] | None = None,
    kg_per_person_day: float | None = None,
) -> WasteSiting:
    """Choose ``sites`` new waste-processing sites for the city and explain the choice.

    Parameters
    ----------
    kelurahan
        The city's kelurahan (``kode``, ``nama``; a population column ``penduduk`` is used when
        no population raster is given).
    layers
        Constraint layers by kind (``geo.layers`` kinds), any CRS.
    population
        Population raster (people per cell), summed over square demand cells.
    facilities
        The facility registry (``type``, ``status``, ``capacity`` in t/day); existing
        ``settings.WASTE_FACILITY_TYPES`` are fixed sites.
    candidates
        Candidate points or plots (GeoDataFrame with ``id``, or a CSV / vector file); ``None``
        generates plots over the suitable land.
    rules
        ``tpst`` (processing building) or ``tpa`` (landfill).
    model
        ``pmedian`` (capacitated, minimum tonne-metres of the waste the capacity takes),
        ``mclp`` (most tonnes within the service distance) or ``lscp`` (fewest sites serving all
        demand within it; ``sites`` is then the most allowed).
    sites
        Number of new sites.
    service_m
        Service distance in metres (default ``settings.WASTE_SERVICE_M``).
    capacity_t_day
        Capacity of a new site in t/day (default ``settings.WASTE_SITE_CAPACITY_T_DAY``).
    slope
        A DEM GeoTIFF; its slope feeds the slope rule and criterion.
    rule_overrides
        The city's overrides of the rule set (see :func:`geo.settings.siting_rules_from_config`).
    kg_per_person_day
        Waste per person per day (default ``settings.WASTE_KG_PER_PERSON_DAY``).

    Raises
    ------
    SitingError
        Unknown model or rule set, bad numbers, candidates outside the city, no eligible
        candidate, no population, or a model that cannot be satisfied (with what to change).
    """
    options = _options(rules, model, sites, service_m, capacity_t_day, rule_overrides,
                       kg_per_person_day)
    city = _City.build(kelurahan, layers, slope)
    excluded = excluded_land(city.area, city.layers, options.rules, slope=city.slope)
    suitable = suitable_land(city.area, excluded, options.rules)
    demand, level = _demand(city, population, options.kg_per_person, options.model)
    fixed = _fixed_sites(city, facilities)
    score = score_raster(city.area, city.crs, city.layers, options.rules,
                         pixel_m=settings.WASTE_SCORE_PIXEL_M, centre=_centre(demand),
                         facilities=_processing_points(city, facilities), slope=city.slope)
    pool = _candidate_pool(city, candidates, suitable, options.rules, score)
    problem = _Problem.build(city, demand, pool, fixed, options)
    allocation = _solved(problem, options)
    return _result(city, problem, allocation, options, excluded, suitable, score, level)


# --- options -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Options:
    rules: settings.SitingRules
    model: str
    sites: int
    service: float
    capacity: float
    kg_per_person: float


def _options(rules: str, model: str, sites: int, service_m: float | None,
             capacity_t_day: float | None, overrides: dict[str, Any] | None,
             kg_per_person_day: float | None) -> _Options:
    if model not in MODELS:
        raise SitingError.translatable(N_("Model '%(model)s' tidak dikenal: pilih %(models)s."),
                                       model=model, models=", ".join(MODELS))
    try:
        rule_set = settings.siting_rules_from_config(rules, overrides)
    except ValueError as error:
        raise SitingError.translatable(N_("Aturan tapak tidak sah: %(detail)s."),
                                       detail=str(error)) from error
    numbers = {"service_m": _default(service_m, settings.WASTE_SERVICE_M),
               "capacity_t_day": _default(capacity_t_day, settings.WASTE_SITE_CAPACITY_T_DAY),
               "kg_per_person_day": _default(kg_per_person_day, settings.WASTE_KG_PER_PERSON_DAY)}
    for name, value in numbers.items():
        if not value > 0:
            raise SitingError.translatable(N_("%(name)s harus lebih dari 0, bukan %(value)s."),
                                           name=name, value=value)
    if int(sites) < 1:
        raise SitingError.translatable(N_("Jumlah lokasi harus sedikitnya 1, bukan %(sites)s."),
                                       sites=sites)
    return _Options(rule_set, model, int(sites), numbers["service_m"],
                    numbers["capacity_t_day"], numbers["kg_per_person_day"])


def _default(value: float | None, default: float) -> float:
    return float(default if value is None else value)


# --- the city in metres --------------------------------------------------------------------------

@dataclass(frozen=True)
class _City:
    kelurahan: gpd.GeoDataFrame
    crs: pyproj.CRS
    area: shapely.Geometry
    layers: dict[str, gpd.GeoDataFrame]
    slope: Slope | None

    @classmethod
    def build(cls, kelurahan: gpd.GeoDataFrame, layers: dict[str, gpd.GeoDataFrame],
              dem: str | Path | None) -> _City:
        require_crs(kelurahan, source="kelurahan")
        crs = utm_crs_for(kelurahan)
        area = shapely.union_all(kelurahan.to_crs(crs).geometry.array)
        metric = {}
        for kind, layer in layers.items():
            if layer is not None and len(layer):
                require_crs(layer, source=f"layer {kind}")
                metric[kind] = layer.to_crs(crs)
        return cls(kelurahan, crs, area, metric, _slope(dem, crs, area))

    def to_metric(self, frame: gpd.GeoDataFrame) -> np.ndarray:
        return frame.to_crs(self.crs).geometry.to_numpy()

    def to_lonlat(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        series = gpd.GeoSeries(points, crs=self.crs).to_crs(WGS84)
        return series.x.to_numpy(), series.y.to_numpy()


def _slope(dem: str | Path | None, crs: pyproj.CRS, area: shapely.Geometry) -> Slope | None:
    if dem is None:
        return None
    from geo.terrain import slope_percent

    return slope_percent(dem, crs=crs, bounds=area.bounds,
                         resolution_m=settings.WASTE_SCORE_PIXEL_M)


# --- demand and existing sites -------------------------------------------------------------------

def _demand(city: _City, population: str | Path | None, kg_per_person: float,
            model: str) -> tuple[pd.DataFrame, str]:
    """Demand points (metric ``point``), ``population`` and ``tonnes_day``, and their level.

    The level is ``"kelurahan"`` (a population column, or, for the p-median, raster cells
    summed per kelurahan when ``settings.WASTE_DEMAND_AGGREGATION`` says so) or ``"cell"``;
    no empty points.
    """
    level = settings.WASTE_DEMAND_AGGREGATION if model == "pmedian" else "cell"
    if level not in settings.WASTE_DEMAND_LEVELS:
        raise SitingError.translatable(
            N_("Tingkat agregasi permintaan '%(level)s' tidak dikenal: pilih %(levels)s."),
            level=level, levels=", ".join(settings.WASTE_DEMAND_LEVELS))
    if population is None:
        points, people, level = *_kelurahan_demand(city), "kelurahan"
    else:
        points, people = _raster_demand(city, population)
        if level == "kelurahan":
            points, people = _per_kelurahan(city, points, people)
    keep = people > 0
    if not keep.any():
        raise SitingError.translatable(N_(
            "Tidak ada penduduk di kota ini: impor raster penduduk atau isi kolom 'penduduk' "
            "pada kelurahan."))
    return pd.DataFrame({"point": points[keep], "population": people[keep],
                         "tonnes_day": people[keep] * kg_per_person / 1000.0}), level


def _raster_demand(city: _City, raster: str | Path) -> tuple[np.ndarray, np.ndarray]:
    side = settings.WASTE_DEMAND_CELL_M
    west, south, east, north = city.area.bounds
    x, y = np.meshgrid(np.arange(west, east, side), np.arange(south, north, side))
    squares = shapely.box(x.ravel(), y.ravel(), x.ravel() + side, y.ravel() + side)
    cells = shapely.intersection(squares, city.area)
    cells = cells[~shapely.is_empty(cells)]
    people = population_in_polygons(gpd.GeoSeries(cells, crs=city.crs), raster)
    return shapely.point_on_surface(cells), people


def _per_kelurahan(city: _City, points: np.ndarray,
                   people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum demand cells per kelurahan, placed at the kelurahan's population-weighted centre.

    A cell belongs to the kelurahan its point lies in, or the nearest one for a point in a gap
    between boundaries.  A kelurahan without people gets population 0 (dropped later).
    """
    zones = gpd.GeoDataFrame(geometry=city.to_metric(city.kelurahan), crs=city.crs)
    cells = gpd.GeoDataFrame({"people": people}, geometry=points, crs=city.crs)
    joined = gpd.sjoin_nearest(cells, zones, how="left")
    zone = joined[~joined.index.duplicated()]["index_right"].to_numpy(int)
    xy = shapely.get_coordinates(points)
    total = np.bincount(zone, weights=people, minlength=len(zones))
    weight = np.where(total > 0, total, 1.0)
    x = np.bincount(zone, weights=people * xy[:, 0], minlength=len(zones)) / weight
    y = np.bincount(zone, weights=people * xy[:, 1], minlength=len(zones)) / weight
    return shapely.points(x, y), total


def _kelurahan_demand(city: _City) -> tuple[np.ndarray, np.ndarray]:
    column = next((c for c in POPULATION_COLUMNS if c in city.kelurahan.columns), None)
    if column is None:
        raise SitingError.translatable(N_(
            "Tidak ada data penduduk: impor raster penduduk atau tambahkan kolom 'penduduk' "
            "pada kelurahan."))
    people = pd.to_numeric(city.kelurahan[column], errors="coerce").fillna(0).to_numpy(float)
    return shapely.point_on_surface(city.to_metric(city.kelurahan)), people


def _centre(demand: pd.DataFrame) -> shapely.Point:
    """Return the waste centroid: the demand points' mean weighted by tonnes/day."""
    xy = shapely.get_coordinates(demand["point"].to_numpy())
    return shapely.Point(np.average(xy, axis=0, weights=demand["tonnes_day"]))


def _fixed_sites(city: _City, facilities: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Existing waste sites: ``id``, ``type``, ``capacity`` (t/day, 0 when unknown), metric."""
    empty = gpd.GeoDataFrame({"id": [], "type": [], "capacity": []}, geometry=[], crs=city.crs)
    if facilities is None or len(facilities) == 0:
        return empty
    chosen = facilities[facilities["type"].isin(settings.WASTE_FACILITY_TYPES)]
    if "status" in chosen.columns:
        chosen = chosen[chosen["status"].fillna("existing") == "existing"]
    if len(chosen) == 0:
        return empty
    metric = chosen.to_crs(city.crs)
    capacity = (pd.to_numeric(metric["capacity"], errors="coerce") if "capacity" in metric
                else pd.Series(np.nan, index=metric.index)).fillna(0.0)
    ids = metric["id"] if "id" in metric.columns else pd.Series(range(1, len(metric) + 1))
    return gpd.GeoDataFrame(
        {"id": [f"{t}-{i}" for t, i in zip(metric["type"], ids, strict=True)],
         "type": metric["type"].to_numpy(), "capacity": capacity.to_numpy(float)},
        geometry=shapely.point_on_surface(metric.geometry.to_numpy()), crs=city.crs)


def _processing_points(city: _City, facilities: gpd.GeoDataFrame | None) -> gpd.GeoSeries | None:
    if facilities is None or len(facilities) == 0:
        return None
    chosen = facilities[facilities["type"].isin(settings.WASTE_PROCESSING_TYPES)]
    return chosen.to_crs(city.crs).geometry if len(chosen) else None


# --- candidates ----------------------------------------------------------------------------------

def _candidate_pool(city: _City, given: gpd.GeoDataFrame | str | Path | None,
                    suitable: gpd.GeoDataFrame, rules: settings.SitingRules,
                    score: ScoreRaster) -> gpd.GeoDataFrame:
    """Candidates (metric) with ``id``, ``source``, ``score``, ``violations``, ``eligible``."""
    frame = _given(city, given) if given is not None else _generated(suitable, rules, score)
    found = check_sites(frame.geometry.to_numpy(), city.layers, rules, slope=city.slope)
    frame["violations"] = [[v.as_dict() for v in vs] for vs in found]
    frame["eligible"] = [not vs for vs in found]
    frame["score"] = _sampled(score, frame.geometry.to_numpy())
    return frame


def _given(city: _City, given: gpd.GeoDataFrame | str | Path) -> gpd.GeoDataFrame:
    if isinstance(given, (str, Path)):
        from geo.tower_siting import read_candidate_file

        given = read_candidate_file(given)
    require_crs(given, source="candidates")
    metric = given.to_crs(city.crs)
    ids = (metric["id"].astype(str).to_numpy() if "id" in metric.columns
           else [f"calon-{n}" for n in range(1, len(metric) + 1)])
    outside = ~shapely.intersects(metric.geometry.to_numpy(), city.area)
    if outside.any():
        problems = [Problem(N_("di luar kota"), column="id", value=ids[i])
                    for i in np.flatnonzero(outside)]
        raise SitingError.translatable(
            N_("%(count)d calon lokasi berada di luar kota: perbaiki koordinatnya atau hapus "
               "dari berkas (%(ids)s)."), problems, count=int(outside.sum()),
            ids=", ".join(str(ids[i]) for i in np.flatnonzero(outside)[:10]))
    return gpd.GeoDataFrame({"id": ids, "source": "upload"},
                            geometry=metric.geometry.to_numpy(), crs=city.crs)


def _generated(suitable: gpd.GeoDataFrame, rules: settings.SitingRules,
               score: ScoreRaster) -> gpd.GeoDataFrame:
    """Square plots of the minimum area on a grid, inside suitable land, best scores first."""
    side = float(np.sqrt(max(rules.min_plot_m2, 1.0)))
    land = shapely.union_all(suitable.geometry.array)
    spacing = settings.WASTE_GRID_SPACING_M
    west, south, east, north = land.bounds if not land.is_empty else (0, 0, 0, 0)
    x, y = np.meshgrid(np.arange(west + spacing / 2, east, spacing),
                       np.arange(south + spacing / 2, north, spacing))
    plots = shapely.box(x.ravel() - side / 2, y.ravel() - side / 2,
                        x.ravel() + side / 2, y.ravel() + side / 2)
    shapely.prepare(land)
    plots = plots[shapely.contains(land, plots)]
    ranked = np.argsort(-np.nan_to_num(_sampled(score, plots), nan=-1.0), kind="stable")
    plots = plots[ranked[: settings.WASTE_MAX_GENERATED_CANDIDATES]]
    ids = [f"petak-{n}" for n in range(1, len(plots) + 1)]
    return gpd.GeoDataFrame({"id": ids, "source": "grid"}, geometry=plots, crs=score.crs)


def _sampled(score: ScoreRaster, geometries: np.ndarray) -> np.ndarray:
    if len(geometries) == 0:
        return np.zeros(0)
    xy = shapely.get_coordinates(shapely.point_on_surface(geometries))
    cols, rows = apply_transform(~score.transform, xy[:, 0], xy[:, 1])
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = ((rows >= 0) & (rows < score.data.shape[0]) & (cols >= 0)
              & (cols < score.data.shape[1]))
    values = np.full(len(geometries), np.nan)
    values[inside] = score.data[rows[inside], cols[inside]]
    return values


# --- the model -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Problem:
    demand: pd.DataFrame
    pool: gpd.GeoDataFrame
    eligible: np.ndarray
    fixed: gpd.GeoDataFrame
    cost: np.ndarray
    distance: str

    @classmethod
    def build(cls, city: _City, demand: pd.DataFrame, pool: gpd.GeoDataFrame,
              fixed: gpd.GeoDataFrame, options: _Options) -> _Problem:
        eligible = np.flatnonzero(pool["eligible"].to_numpy(bool))
        if len(pool) == 0:
            raise SitingError.translatable(N_(
                "Tidak ada lahan yang cocok untuk petak %(area).0f m2: berikan calon lokasi, "
                "atau tinjau lapisan pengecualian, jaraknya dan luas petak minimum."),
                area=options.rules.min_plot_m2)
        if len(eligible) == 0:
            raise _no_eligible(pool)
        if options.model == "pmedian":
            eligible = _best_scoring(pool, eligible, settings.WASTE_PMEDIAN_MAX_CANDIDATES)
        sites = np.concatenate([shapely.point_on_surface(pool.geometry.to_numpy()[eligible]),
                                fixed.geometry.to_numpy()])
        points = demand["point"].to_numpy()
        roads = city.layers.get("jalan")
        if roads is not None and len(roads):
            cost, kind = road_distances(roads.geometry.to_numpy(), points, sites), "road"
        else:
            cost, kind = _straight(points, sites), "straight"
        return cls(demand, pool, eligible, fixed, cost, kind)

    @property
    def fixed_columns(self) -> list[int]:
        return list(range(len(self.eligible), len(self.eligible) + len(self.fixed)))

    def capacities(self, capacity: float) -> np.ndarray:
        return np.concatenate([np.full(len(self.eligible), capacity),
                               self.fixed["capacity"].to_numpy(float)])


def _best_scoring(pool: gpd.GeoDataFrame, eligible: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` best-scoring eligible rows of the pool, in pool order (ties: pool order)."""
    score = np.nan_to_num(pool["score"].to_numpy(float)[eligible], nan=-1.0)
    return np.sort(eligible[np.argsort(-score, kind="stable")[:count]])


def _no_eligible(pool: gpd.GeoDataFrame) -> SitingError:
    problems = [Problem("; ".join(v["text"] for v in vs), column="id", value=i)
                for i, vs in zip(pool["id"], pool["violations"], strict=True)]
    return SitingError.translatable(
        N_("Tidak ada calon lokasi yang memenuhi syarat: %(count)d calon melanggar aturan. "
           "Berikan calon lain, atau tinjau lapisan pengecualian dan jaraknya."),
        problems, count=len(pool))


def _straight(points: np.ndarray, sites: np.ndarray) -> np.ndarray:
    a, b = shapely.get_coordinates(points), shapely.get_coordinates(sites)
    return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])


def _solved(problem: _Problem, options: _Options, *, sites: int | None = None,
            service: float | None = None) -> Allocation:
    sites = options.sites if sites is None else sites
    service = options.service if service is None else service
    weights = problem.demand["tonnes_day"].to_numpy(float)
    fixed = problem.fixed_columns
    if options.model == "mclp":
        return solve_mclp(problem.cost, weights, service=service, p=sites, fixed=fixed)
    if options.model == "pmedian":
        return solve_pmedian(problem.cost, weights, p=sites, fixed=fixed,
                             capacities=problem.capacities(options.capacity),
                             unserved_cost=_unserved_cost(problem.cost),
                             time_limit_s=settings.WASTE_PMEDIAN_TIME_LIMIT_S)
    result = solve_lscp(problem.cost, service=service, fixed=fixed)
    if len(result.selected) > sites:
        raise SitingError.translatable(
            N_("Melayani semua permintaan dalam %(service).0f m perlu %(need)d lokasi baru, lebih "
               "dari %(sites)d: naikkan jumlah lokasi, perbesar jarak layanan, atau pakai MCLP."),
            service=service, need=len(result.selected), sites=sites)
    return result


def _unserved_cost(cost: np.ndarray) -> float:
    """Cost per tonne of waste no site takes: ten times the longest real distance.

    A city's waste usually exceeds what a few 10-30 t/day buildings process; the capacitated
    p-median then fills each site with the nearest waste it can take and reports the rest as
    unserved, rather than refusing the run.
    """
    finite = cost[np.isfinite(cost)]
    return 10.0 * (float(finite.max()) if finite.size else 0.0) + 1.0


# --- the result ----------------------------------------------------------------------------------

def _result(city: _City, problem: _Problem, allocation: Allocation, options: _Options,
            excluded: gpd.GeoDataFrame, suitable: gpd.GeoDataFrame,
            score: ScoreRaster, level: str) -> WasteSiting:
    weights = problem.demand["tonnes_day"].to_numpy(float)
    distance = _assigned_distance(problem.cost, allocation.assignment)
    within = (allocation.assignment >= 0) & (distance <= options.service)
    return WasteSiting(
        model=options.model, status=allocation.status, objective=allocation.objective,
        distance=problem.distance, rules=options.rules,
        sites=_sites(city, problem, allocation, distance, options.rules),
        candidates=_candidates(city, problem), unserved=_unserved(city, problem, within),
        demand_total=float(weights.sum()), demand_covered=float(weights[within].sum()),
        service_m=options.service, capacity_t_day=options.capacity,
        gap=allocation.gap, sensitivity=_sensitivity(problem, options, allocation),
        demand_level=level,
        demand_points=len(problem.demand),
        exclusions=excluded.set_crs(city.crs), suitable=suitable.set_crs(city.crs), score=score)


def _assigned_distance(cost: np.ndarray, assignment: np.ndarray) -> np.ndarray:
    distance = np.full(len(cost), np.inf)
    served = assignment >= 0
    distance[served] = cost[np.flatnonzero(served), assignment[served]]
    return distance


def _sites(city: _City, problem: _Problem, allocation: Allocation, distance: np.ndarray,
           rules: settings.SitingRules) -> pd.DataFrame:
    chosen = problem.pool.iloc[problem.eligible[allocation.selected]]
    lon, lat = city.to_lonlat(shapely.point_on_surface(chosen.geometry.to_numpy()))
    codes = assign_kelurahan(lon, lat, city.kelurahan) if len(chosen) else np.array([])
    names = city.kelurahan.set_index("kode")["nama"] if "nama" in city.kelurahan else {}
    checked = [e.rule for e in rules.exclusions] + ["jalan", "lereng", "luas"]
    rows = []
    for rank, column in enumerate(allocation.selected, start=1):
        served = allocation.assignment == column
        far = distance[served]
        rows.append({
            "rank": rank, "id": chosen["id"].iloc[rank - 1], "latitude": float(lat[rank - 1]),
            "longitude": float(lon[rank - 1]), "kode": codes[rank - 1],
            "kelurahan": names.get(codes[rank - 1]) if codes[rank - 1] is not None else None,
            "tonnes_day": float(problem.demand["tonnes_day"][served].sum()),
            "population": float(problem.demand["population"][served].sum()),
            "mean_distance_m": float(far.mean()) if len(far) else None,
            "max_distance_m": float(far.max()) if len(far) else None,
            "rules_checked": checked})
    return pd.DataFrame(rows, columns=SITE_COLUMNS)


SITE_COLUMNS = ("rank", "id", "latitude", "longitude", "kode", "kelurahan", "tonnes_day",
                "population", "mean_distance_m", "max_distance_m", "rules_checked")


def _candidates(city: _City, problem: _Problem) -> pd.DataFrame:
    pool = problem.pool
    lon, lat = city.to_lonlat(shapely.point_on_surface(pool.geometry.to_numpy()))
    return pd.DataFrame({"id": pool["id"].to_numpy(), "source": pool["source"].to_numpy(),
                         "latitude": lat, "longitude": lon, "eligible": pool["eligible"],
                         "in_model": np.isin(np.arange(len(pool)), problem.eligible),
                         "violations": pool["violations"], "score": pool["score"]})


def _unserved(city: _City, problem: _Problem, within: np.ndarray) -> pd.DataFrame:
    rows = problem.demand[~within]
    lon, lat = city.to_lonlat(rows["point"].to_numpy())
    return pd.DataFrame({"latitude": lat, "longitude": lon,
                         "tonnes_day": rows["tonnes_day"].to_numpy(),
                         "population": rows["population"].to_numpy()})


def _sensitivity(problem: _Problem, options: _Options, allocation: Allocation) -> pd.DataFrame:
    """Objective and tonnes/day covered for p = 1..5 at half, the given and double service.

    p-median runs are solved once per p and their coverage read at each service distance; MCLP
    and LSCP runs use MCLP (LSCP has no p: the table shows what p sites cover); the run's own
    p-median ``allocation`` is reused for its p.  A p that cannot be solved (too few
    candidates, too little capacity) gets its reason as status; ``gap`` is the MIP gap of a
    p-median stopped by the time limit (status ``"feasible"``).
    """
    weights = problem.demand["tonnes_day"].to_numpy(float)
    services = [options.service * f for f in settings.WASTE_SENSITIVITY_SERVICE_FACTORS]
    model = "pmedian" if options.model == "pmedian" else "mclp"
    rows = []
    for p in range(1, settings.WASTE_SENSITIVITY_MAX_SITES + 1):
        median = (allocation if model == options.model and p == options.sites
                  else _attempt(problem, options, model, p, options.service))
        for service in services:
            solved = median if model == "pmedian" else _attempt(problem, options, model, p,
                                                                 service)
            rows.append(_sensitivity_row(problem, solved, weights, p, service))
    return pd.DataFrame(rows, columns=["p", "service_m", "objective", "demand_covered",
                                       "status", "gap"])


def _attempt(problem: _Problem, options: _Options, model: str, p: int,
             service: float) -> Allocation | SitingError:
    try:
        return _solved(problem, _Options(options.rules, model, p, service, options.capacity,
                                         options.kg_per_person))
    except SitingError as error:
        return error


def _sensitivity_row(problem: _Problem, solved: Allocation | SitingError, weights: np.ndarray,
                     p: int, service: float) -> dict[str, Any]:
    if isinstance(solved, SitingError):
        return {"p": p, "service_m": service, "objective": None, "demand_covered": None,
                "status": solved.message, "gap": None}
    distance = _assigned_distance(problem.cost, solved.assignment)
    return {"p": p, "service_m": service, "objective": float(solved.objective),
            "demand_covered": float(weights[distance <= service].sum()),
            "status": solved.status, "gap": solved.gap}


# --- JSON ----------------------------------------------------------------------------------------

def _geojson(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    import json

    return json.loads(frame.to_crs(WGS84).to_json(drop_id=True))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    return value
