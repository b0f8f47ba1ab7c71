"""Where new towers remove the blank spots: candidates, demand, set covering, evidence.

Definitions (defaults in :mod:`geo.settings`, section "towers for blank spots", read at call time):

Demand
    The H3 cells of one coverage analysis (:func:`geo.coverage.aggregate_cells`, one operator or
    "any") whose status is ``blank``, and optionally ``weak`` and/or ``unmeasured`` cells (cells
    with readings, but fewer than the minimum).  Each cell is weighted by the people living in it
    when a population raster is given (MCLP maximises people served), else by 1 (cells served).

Candidates
    Points (generated grid, facilities that can host a mast, an uploaded file) or plots (the
    ``lahan`` layer, uploaded polygons).  A point's plot is the ``TOWER_PLOT_SIDE_M`` square
    centred on it; a plot's mast stands at its pole of inaccessibility, and the square there must
    lie inside the plot (BAKTI asks for a 20 x 20 m plot).  The square must keep the clearance of
    ``TOWER_EXCLUSION_BUFFERS_M`` from every exclusion layer, and the point must lie in the city.
    Each broken rule is listed as ``"<rule>: <distance> m"`` (the distance from the plot to the
    nearest feature), followed by ``" < <clearance> m"`` when the rule has a clearance, e.g.
    ``"sungai: 6 m < 10 m"``, ``"badan_air: 0 m"``, ``"batas_kota: 420 m"`` (outside the city by
    420 m), ``"petak: 20 x 20 m"`` (the plot cannot hold the square).

Existing towers
    Facilities of type ``bts`` (OpenCelliD and the like) are fixed sites of the model: a weak or
    unmeasured demand cell within the radius of one counts as served.  A cell *measured* blank
    is never served by a registered tower (the measurement beats the registry): it stays demand,
    and when a tower stands within the radius the result lists the pair ("registered tower
    nearby, measured blank": a dead, mis-placed or other-operator site worth a visit).  For one
    operator only that operator's towers (and towers without a known operator) count.

Distance
    Straight line between the cell centre and the mast in the city's UTM zone (``"straight"``).

Models
    LSCP (fewest new sites so that every reachable demand cell is served) and MCLP (the
    ``max_sites`` sites serving the most weight), solved exactly by :mod:`geo.allocation`.  Demand
    cells that no eligible candidate or existing tower reaches are left out of the model and
    listed as unreachable.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

import geopandas as gpd
import h3ronpy
import h3ronpy.vector as h3_vector
import pyproj
import shapely
from shapely.ops import polylabel

from geo import settings
from geo.errors import N_, InputFileError, Problem, SitingError
from geo.kelurahan_lookup import assign_kelurahan
from geo.population import population_in_cells
from geo.projection import WGS84, require_crs, utm_crs_for

__all__ = ["DEMAND_STATUSES", "MODELS", "TowerSiting", "check_candidates", "facility_candidates",
           "grid_candidates", "plot_candidates", "read_candidate_file", "site_towers"]

#: Cell statuses that can be demand (``blank`` always is).
DEMAND_STATUSES = ("blank", "weak", "unmeasured")
#: Models :func:`site_towers` solves.
MODELS = ("lscp", "mclp")
#: Columns of :attr:`TowerSiting.sites`, in order.
SITE_COLUMNS = ("rank", "id", "source", "latitude", "longitude", "kelurahan", "kecamatan", "kode",
                "cells", "blank_cells", "area_km2", "blank_area_km2", "population", "measurements",
                "first_measured", "last_measured", "upload_ids", "h3_cells")
#: Columns of :attr:`TowerSiting.candidates`, in order (plus ``geometry``: the mast point).
CANDIDATE_COLUMNS = ("id", "source", "latitude", "longitude", "eligible", "violations")

#: Cost from a measured-blank cell to a registered tower: beyond any radius (never served).
_UNREACHABLE_M = 1.0e12
_MEASURED_BLANK = "blank"


@dataclass(frozen=True)
class TowerSiting:
    """The answer of :func:`site_towers`.

    Attributes
    ----------
    model, status, objective
        Model solved ("lscp"/"mclp"), status and objective (new sites for LSCP, weight served
        for MCLP).  The status is the solver's ("optimal"), or, when there was no model to solve:
        "no_demand" (no demand cell), "no_reachable_demand" (no eligible candidate or
        registered tower reaches any demand cell) or "existing_towers_suffice" (no eligible
        candidate reaches a demand cell, and registered towers serve every reachable cell).
    radius_m, technology, operator
        The service radius used and where it came from; the operator of the analysis.
    sites
        New sites ranked by demand served, columns :data:`SITE_COLUMNS`: ``kelurahan`` and
        ``kecamatan`` are names, ``kode`` the kelurahan code; ``cells`` the demand cells the site
        serves, ``blank_cells`` those measured blank; ``area_km2`` and ``population`` of the
        served cells (population NaN without a raster), ``blank_area_km2`` of the blank ones;
        evidence ``measurements`` (readings the status
        of those cells rests on), ``first_measured``/``last_measured`` (UTC epoch seconds) and
        ``upload_ids``; ``h3_cells`` the hex ids.
    candidates
        Every candidate, columns :data:`CANDIDATE_COLUMNS` and the mast point.
    unreachable
        Demand cells no eligible candidate or existing tower reaches (``h3``, ``status``,
        ``kelurahan_kode``, ``latitude``, ``longitude``, ``area_km2``, ``population``).
    registered_tower_measured_blank
        Measured-blank cells within the radius of a registered tower (``h3``,
        ``kelurahan_kode``, ``tower_id``, ``tower_nama``, ``tower_operator``, ``distance_m``),
        nearest tower per cell.
    demand_total, demand_covered, served_by_existing
        Demand cells; those served after the plan (new sites or existing towers); those served
        by existing towers alone.
    """

    model: str
    status: str
    objective: float
    radius_m: float
    technology: str
    operator: str
    sites: pd.DataFrame
    candidates: gpd.GeoDataFrame
    unreachable: pd.DataFrame
    registered_tower_measured_blank: pd.DataFrame
    demand_total: int
    demand_covered: int
    served_by_existing: int

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (the keys of the CLI's and the API's answer)."""
        return {
            "model": self.model, "status": self.status, "objective": _plain(self.objective),
            "distance": "straight", "radius_m": self.radius_m, "technology": self.technology,
            "operator": self.operator, "sites": _records(self.sites),
            "candidates": _records(pd.DataFrame(self.candidates.drop(columns="geometry"))),
            "demand_total": self.demand_total, "demand_covered": self.demand_covered,
            "served_by_existing": self.served_by_existing,
            "unreachable": _records(self.unreachable),
            "registered_tower_measured_blank": _records(self.registered_tower_measured_blank),
        }


# --- candidates --------------------------------------------------------------------------------

def grid_candidates(kelurahan: gpd.GeoDataFrame, *, spacing_m: float | None = None
                    ) -> gpd.GeoDataFrame:
    """Points on a square grid over the city (in its UTM zone), those inside a kelurahan.

    Parameters
    ----------
    kelurahan
        The city's kelurahan polygons (any CRS).
    spacing_m
        Grid spacing in metres (default ``settings.TOWER_GRID_SPACING_M``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``id`` ("grid-1", ...), ``source`` "grid" and the point, EPSG:4326.
    """
    spacing = float(settings.TOWER_GRID_SPACING_M if spacing_m is None else spacing_m)
    if not spacing > 0:
        raise ValueError(f"grid spacing must be positive, not {spacing_m!r}")
    metric = kelurahan.to_crs(utm_crs_for(kelurahan))
    west, south, east, north = metric.total_bounds
    x, y = np.meshgrid(np.arange(west + spacing / 2, east, spacing),
                       np.arange(south + spacing / 2, north, spacing))
    points = shapely.points(x.ravel(), y.ravel())
    inside = shapely.contains_xy(metric.union_all(), x.ravel(), y.ravel())
    chosen = gpd.GeoSeries(points[inside], crs=metric.crs).to_crs(WGS84)
    ids = [f"grid-{n}" for n in range(1, len(chosen) + 1)]
    return gpd.GeoDataFrame({"id": ids, "source": "grid"}, geometry=chosen.array, crs=WGS84)


def facility_candidates(facilities: gpd.GeoDataFrame, *,
                        types: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Facilities whose grounds can host a mast (default ``settings.TOWER_HOST_FACILITY_TYPES``).

    The id is ``"<type>-<id>"`` with the facility's registry id (or its row number).
    """
    chosen = tuple(settings.TOWER_HOST_FACILITY_TYPES if types is None else types)
    hosts = facilities[facilities["type"].isin(chosen)].to_crs(WGS84)
    numbers = hosts["id"] if "id" in hosts.columns else pd.Series(range(1, len(hosts) + 1),
                                                                  index=hosts.index)
    ids = [f"{kind}-{number}" for kind, number in zip(hosts["type"], numbers, strict=True)]
    return gpd.GeoDataFrame({"id": ids, "source": hosts["type"].to_numpy()},
                            geometry=hosts.geometry.array, crs=WGS84)


def plot_candidates(lahan: gpd.GeoDataFrame, *, id_column: str = "id") -> gpd.GeoDataFrame:
    """Plots of land the city may use (the ``lahan`` layer) as candidates.

    The id is the layer's ``id_column`` when it has one, else ``"lahan-<n>"``.
    """
    require_crs(lahan, source="the lahan layer")
    plots = lahan[lahan.geometry.notna() & ~lahan.geometry.is_empty].to_crs(WGS84)
    ids = (plots[id_column].astype(str).to_numpy() if id_column in plots.columns
           else [f"lahan-{n}" for n in range(1, len(plots) + 1)])
    return gpd.GeoDataFrame({"id": ids, "source": "lahan"}, geometry=plots.geometry.array,
                            crs=WGS84)


def read_candidate_file(path: str | Path, *, id_column: str = "id") -> gpd.GeoDataFrame:
    """Candidates from a CSV (``latitude``/``longitude`` or ``lat``/``lon``) or a vector file.

    Points or plots (polygons); ids come from ``id_column`` when the file has it, else the row
    (feature) number.  Vector files must declare their CRS.

    Raises
    ------
    InputFileError
        Unreadable file, no coordinate columns, or rows with coordinates that are not numbers
        (every such row listed).
    """
    path = Path(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return _candidates_from_csv(path, id_column)
    try:
        frame = gpd.read_file(path)
    except Exception as error:  # pyogrio raises several types for unreadable files
        raise _unreadable(path, error) from error
    require_crs(frame, source=path.name)
    return _uploaded(frame.to_crs(WGS84), id_column, first_row=1)


def _unreadable(path: Path, error: Exception) -> InputFileError:
    return InputFileError.translatable(
        N_("File calon lokasi '%(file)s' tidak dapat dibaca (%(detail)s)."), file=path.name,
        detail=str(error))


def _candidates_from_csv(path: Path, id_column: str) -> gpd.GeoDataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (OSError, ValueError) as error:
        raise _unreadable(path, error) from error
    columns = {name.strip().lower(): name for name in raw.columns}
    lat = next((columns[n] for n in ("latitude", "lat", "lintang") if n in columns), None)
    lon = next((columns[n] for n in ("longitude", "lon", "lng", "bujur") if n in columns), None)
    if lat is None or lon is None:
        raise InputFileError.translatable(
            N_("File calon lokasi '%(file)s' perlu kolom 'latitude' dan 'longitude' dalam "
               "derajat (ditemukan: %(found)s)."), file=path.name, found=", ".join(raw.columns))
    y, x = (pd.to_numeric(raw[c].str.replace(",", ".", regex=False), errors="coerce")
            for c in (lat, lon))
    bad = x.isna() | y.isna() | ~x.between(-180, 180) | ~y.between(-90, 90)
    if bad.any():
        problems = [Problem("bukan lintang, bujur dalam derajat", file=path.name,
                            row=int(i) + 2, value=f"{raw.loc[i, lat]}, {raw.loc[i, lon]}")
                    for i in raw.index[bad]]
        raise InputFileError.translatable(
            N_("File calon lokasi '%(file)s': %(count)s baris tanpa koordinat yang dapat "
               "dipakai; perbaiki lalu unggah lagi."), problems, file=path.name,
            count=int(bad.sum()))
    frame = gpd.GeoDataFrame(raw, geometry=gpd.points_from_xy(x, y), crs=WGS84)
    if id_column not in frame.columns and id_column in columns:
        frame[id_column] = raw[columns[id_column]]
    return _uploaded(frame, id_column, first_row=2)


def _uploaded(frame: gpd.GeoDataFrame, id_column: str, *, first_row: int) -> gpd.GeoDataFrame:
    rows = range(first_row, first_row + len(frame))
    given = frame[id_column] if id_column in frame.columns else pd.Series(None, index=frame.index)
    ids = [str(g).strip() if pd.notna(g) and str(g).strip() else f"baris-{r}"
           for g, r in zip(given, rows, strict=True)]
    return gpd.GeoDataFrame({"id": ids, "source": "upload"}, geometry=frame.geometry.array,
                            crs=WGS84)


def check_candidates(candidates: gpd.GeoDataFrame, kelurahan: gpd.GeoDataFrame, *,
                     layers: Mapping[str, gpd.GeoDataFrame] | None = None,
                     buffers_m: Mapping[str, float] | None = None,
                     plot_side_m: float | None = None) -> gpd.GeoDataFrame:
    """Place each candidate's mast and plot and list the rules it breaks.

    Parameters
    ----------
    candidates
        ``id``, ``source`` and a point or polygon geometry, with a CRS.
    kelurahan
        The city's kelurahan polygons: a mast outside all of them breaks ``batas_kota``.
    layers
        Constraint layers by kind (S1's ``dict[kind, GeoDataFrame]``); kinds without a clearance
        in ``buffers_m`` are not exclusions.
    buffers_m
        Clearance per exclusion kind in metres (default ``settings.TOWER_EXCLUSION_BUFFERS_M``).
    plot_side_m
        Side of the square plot (default ``settings.TOWER_PLOT_SIDE_M``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`CANDIDATE_COLUMNS` and the mast point, EPSG:4326, in the given order.
    """
    require_crs(candidates, source="the candidates")
    crs = utm_crs_for(kelurahan)
    side = float(settings.TOWER_PLOT_SIDE_M if plot_side_m is None else plot_side_m)
    shapes = np.asarray(candidates.to_crs(crs).geometry.array, dtype=object)
    masts, fits = _masts(shapes, side)
    squares = shapely.buffer(masts, side / 2, cap_style="square")
    violations: list[list[str]] = [[] if fit else [f"petak: {side:g} x {side:g} m"]
                                   for fit in fits]
    _outside_city(masts, kelurahan.to_crs(crs), violations)
    clearances = dict(settings.TOWER_EXCLUSION_BUFFERS_M if buffers_m is None else buffers_m)
    for kind, layer in sorted((layers or {}).items()):
        if kind in clearances and len(layer):
            _too_close(squares, layer, crs, kind, float(clearances[kind]), violations)
    points = gpd.GeoSeries(masts, crs=crs).to_crs(WGS84)
    return gpd.GeoDataFrame({
        "id": candidates["id"].astype(str).to_numpy(), "source": candidates["source"].to_numpy(),
        "latitude": points.y.round(7).to_numpy(), "longitude": points.x.round(7).to_numpy(),
        "eligible": [not v for v in violations], "violations": violations,
    }, geometry=points.array, crs=WGS84)


def _masts(shapes: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Mast point of each candidate and whether its square plot fits (always for points)."""
    masts = shapes.copy()
    fits = np.ones(len(shapes), dtype=bool)
    for i, shape in enumerate(shapes):
        if shapely.get_dimensions(shape) == 2:
            masts[i] = polylabel(shape, tolerance=0.5) if shape.geom_type == "Polygon" else \
                polylabel(max(shape.geoms, key=lambda part: part.area), tolerance=0.5)
            fits[i] = shapely.buffer(masts[i], side / 2, cap_style="square").within(shape)
        elif shapely.get_dimensions(shape) != 0:
            masts[i] = shapely.point_on_surface(shape)
    return masts, fits


def _outside_city(masts: np.ndarray, city: gpd.GeoDataFrame, violations: list[list[str]]
                  ) -> None:
    area = city.union_all()
    distance = shapely.distance(masts, area)
    for i in np.flatnonzero(distance > 0):
        violations[i].append(f"batas_kota: {distance[i]:.0f} m")


def _too_close(squares: np.ndarray, layer: gpd.GeoDataFrame, crs: pyproj.CRS, kind: str,
               clearance: float, violations: list[list[str]]) -> None:
    """Append ``kind`` to the violations of the plots closer than ``clearance`` to the layer."""
    require_crs(layer, source=f"the {kind} layer")
    features = np.asarray(layer.to_crs(crs).geometry.array, dtype=object)
    features = features[~(shapely.is_missing(features) | shapely.is_empty(features))]
    if len(features) == 0:
        return
    tree = shapely.STRtree(features)
    (plot, _), distance = tree.query_nearest(squares, max_distance=clearance or 1e-9,
                                             return_distance=True, all_matches=False)
    for i, d in zip(plot, distance, strict=True):
        if (clearance > 0 and d < clearance) or (clearance == 0 and d == 0):
            violations[i].append(f"{kind}: {_metres(d, clearance)} m"
                                 + (f" < {clearance:g} m" if clearance else ""))


def _metres(distance: float, clearance: float) -> str:
    """Whole metres, or one decimal where rounding would reach the clearance (9.6 < 10)."""
    whole = f"{distance:.0f}"
    return whole if float(whole) < clearance or clearance == 0 else f"{distance:.1f}"


# --- the model ---------------------------------------------------------------------------------

def site_towers(cells: pd.DataFrame, candidates: gpd.GeoDataFrame,
                kelurahan: gpd.GeoDataFrame, *, model: str = "lscp",
                radius_m: float | None = None, technology: str | None = None,
                max_sites: int | None = None, include: Sequence[str] = ("blank",),
                towers: gpd.GeoDataFrame | None = None,
                layers: Mapping[str, gpd.GeoDataFrame] | None = None,
                population_raster: str | Path | None = None,
                measurements: pd.DataFrame | None = None) -> TowerSiting:
    """Choose new tower sites that serve the blank (and optionally weak) cells of an analysis.

    Parameters
    ----------
    cells
        Cells of one operator (or "any") from :func:`geo.coverage.aggregate_cells`.
    candidates
        ``id``, ``source`` and point or plot geometry (see :func:`grid_candidates`,
        :func:`facility_candidates`, :func:`plot_candidates`, :func:`read_candidate_file`).
    kelurahan
        The city's kelurahan (``kode``, ``nama``, optionally ``kecamatan``), for the city limit
        and for naming each site's kelurahan.
    model
        "lscp" (fewest sites serving every reachable demand cell) or "mclp" (the ``max_sites``
        sites serving the most people, or cells without a population raster).
    radius_m
        Service radius in metres (default ``settings.TOWER_RADIUS_M[technology]``).
    technology
        Technology whose default radius applies (default ``settings.TOWER_DEFAULT_TECHNOLOGY``).
    max_sites
        MCLP: number of new sites (required; fewer when fewer eligible candidates reach a demand
        cell).  LSCP: an upper limit; a plan needing more is refused with the number it needs.
    include
        Statuses that are demand (:data:`DEMAND_STATUSES`); ``blank`` is always included.
    towers
        Registered towers (facilities of type ``bts``; ``id``, ``nama``, ``operator``).
    layers
        Constraint layers by kind for :func:`check_candidates`.
    population_raster
        People per raster cell; weights the demand and gives each site's population.
    measurements
        The measurement frame the cells came from (``h3_cell``, ``measured_at``, ``operator``,
        ``upload_id``): the upload ids of each site's evidence.

    Returns
    -------
    TowerSiting

    Raises
    ------
    SitingError
        An unknown model, technology or status, a missing ``max_sites`` for MCLP, no eligible
        candidate while some demand needs a new site, or an LSCP plan that needs more than
        ``max_sites`` (messages in Indonesian, translatable; they say what to change).
    """
    model, technology, radius = _run_options(model, technology, radius_m, max_sites)
    operator = str(cells["operator"].iloc[0]) if len(cells) else "any"
    demand = _demand(cells, include, population_raster)
    checked = check_candidates(candidates, kelurahan, layers=layers)
    tower_sites = _towers_for(towers, operator)
    problem = _Problem.build(demand, checked, tower_sites, kelurahan, radius)
    return _solved(problem, model=model, max_sites=max_sites, technology=technology,
                   operator=operator, kelurahan=kelurahan, measurements=measurements)


def _run_options(model: str, technology: str | None, radius_m: float | None,
                 max_sites: int | None) -> tuple[str, str, float]:
    model = str(model).lower()
    if model not in MODELS:
        raise SitingError.translatable(N_("Model '%(model)s' tidak dikenal: pilih %(models)s."),
                                       model=model, models=" / ".join(MODELS))
    technology = str(technology or settings.TOWER_DEFAULT_TECHNOLOGY).upper()
    if radius_m is None and technology not in settings.TOWER_RADIUS_M:
        raise SitingError.translatable(
            N_("Tidak ada radius bawaan untuk teknologi '%(technology)s': pilih salah satu dari "
               "%(known)s, atau berikan radiusnya."), technology=technology,
            known=", ".join(settings.TOWER_RADIUS_M))
    radius = float(settings.TOWER_RADIUS_M[technology] if radius_m is None else radius_m)
    if not radius > 0:
        raise SitingError.translatable(
            N_("Radius layanan harus lebih dari 0 m, bukan %(radius)s m."), radius=radius_m)
    if max_sites is not None and max_sites < 1:
        raise SitingError.translatable(
            N_("Jumlah lokasi baru harus sedikitnya 1, bukan %(sites)s."), sites=max_sites)
    if model == "mclp" and max_sites is None:
        raise SitingError.translatable(
            N_("MCLP memilih sejumlah lokasi yang ditentukan: berikan jumlah lokasi baru."))
    return model, technology, radius


def _demand(cells: pd.DataFrame, include: Sequence[str], population_raster: str | Path | None
            ) -> pd.DataFrame:
    """Demand cells (statuses ``include`` plus blank) with centre, population and weight."""
    unknown = sorted(set(include) - set(DEMAND_STATUSES))
    if unknown:
        raise SitingError.translatable(
            N_("Status sel '%(status)s' tidak dikenal: pilih dari %(known)s."),
            status=", ".join(unknown), known=", ".join(DEMAND_STATUSES))
    statuses = {_MEASURED_BLANK, *include}
    demand = cells[cells["status"].isin(statuses)].reset_index(drop=True)
    ids = pa.array(demand["h3_cell"].to_numpy(dtype=np.int64).view(np.uint64))
    centres = h3_vector.cells_to_coordinates(ids)
    demand["latitude"] = np.asarray(centres.column("lat"))
    demand["longitude"] = np.asarray(centres.column("lng"))
    if population_raster is not None and len(demand):
        demand["population"] = population_in_cells(demand["h3_cell"], population_raster)
        demand["weight"] = demand["population"]
    else:
        demand["population"] = np.nan
        demand["weight"] = 1.0
    return demand


def _towers_for(towers: gpd.GeoDataFrame | None, operator: str) -> gpd.GeoDataFrame:
    """Registered towers that count for ``operator`` (all for "any"; unknown operators count)."""
    if towers is None or len(towers) == 0:
        return gpd.GeoDataFrame({"id": [], "nama": [], "operator": []}, geometry=[], crs=WGS84)
    require_crs(towers, source="the registered towers")
    towers = towers.to_crs(WGS84).reset_index(drop=True)
    for column in ("id", "nama", "operator"):
        if column not in towers.columns:
            towers[column] = None if column != "id" else np.arange(1, len(towers) + 1)
    if operator != "any":
        named = towers["operator"].fillna("").astype(str).str.strip().str.lower()
        towers = towers[(named == "") | (named == operator.strip().lower())]
    return towers.reset_index(drop=True)


@dataclass(frozen=True)
class _Problem:
    """The covering problem: demand rows, site columns (candidates, then registered towers).

    ``columns`` are the rows of ``candidates`` that are model columns: eligible and within the
    radius of at least one demand cell (the others cannot serve anything).
    """

    demand: pd.DataFrame
    candidates: gpd.GeoDataFrame
    columns: np.ndarray
    towers: gpd.GeoDataFrame
    cost: np.ndarray
    radius: float
    crs: pyproj.CRS

    @classmethod
    def build(cls, demand: pd.DataFrame, candidates: gpd.GeoDataFrame,
              towers: gpd.GeoDataFrame, kelurahan: gpd.GeoDataFrame, radius: float) -> _Problem:
        crs = utm_crs_for(kelurahan)
        cells_xy = _xy(demand["longitude"], demand["latitude"], crs)
        sites_xy = _xy(candidates["longitude"], candidates["latitude"], crs)
        columns = np.flatnonzero(candidates["eligible"].to_numpy(dtype=bool)
                                 & _near_any(sites_xy, cells_xy, radius))
        towers_xy = _xy(towers.geometry.x, towers.geometry.y, crs)
        cost = _distances(cells_xy, np.concatenate([sites_xy[columns], towers_xy]))
        blank = demand["status"].to_numpy() == _MEASURED_BLANK
        cost[np.ix_(blank, np.arange(len(columns), cost.shape[1]))] = _UNREACHABLE_M
        return cls(demand, candidates, columns, towers, cost, radius, crs)

    @property
    def tower_columns(self) -> np.ndarray:
        return np.arange(len(self.columns), self.cost.shape[1])

    @property
    def reachable(self) -> np.ndarray:
        return (self.cost <= self.radius).any(axis=1)

    def tower_distances(self) -> np.ndarray:
        """Straight-line distance from each demand cell to each registered tower (metres)."""
        return _distances(_xy(self.demand["longitude"], self.demand["latitude"], self.crs),
                          _xy(self.towers.geometry.x, self.towers.geometry.y, self.crs))


def _near_any(points: np.ndarray, targets: np.ndarray, radius: float) -> np.ndarray:
    """Whether each point has a target within ``radius`` (same metric CRS)."""
    if len(targets) == 0 or len(points) == 0:
        return np.zeros(len(points), dtype=bool)
    distance, _ = cKDTree(targets).query(points, distance_upper_bound=radius)
    return np.isfinite(distance)


def _xy(lon: Any, lat: Any, crs: pyproj.CRS) -> np.ndarray:
    transformer = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    x, y = transformer.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)]).reshape(-1, 2)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances, rows of ``a`` x rows of ``b`` (one array, no temporaries)."""
    return cdist(a, b)


def _solved(problem: _Problem, *, model: str, max_sites: int | None, technology: str,
            operator: str, kelurahan: gpd.GeoDataFrame,
            measurements: pd.DataFrame | None) -> TowerSiting:
    """Solve the covering model over the reachable rows and describe the answer."""
    rows = np.flatnonzero(problem.reachable)
    _require_candidates(problem)
    assignment = np.full(len(problem.demand), -1, dtype=np.int64)
    allocation = None
    if len(rows) and len(problem.columns):
        allocation = _solve(problem, rows, model=model, max_sites=max_sites)
        assignment[rows] = allocation.assignment
    elif len(rows):  # no candidate reaches a demand cell: registered towers serve every row
        assignment[rows] = problem.tower_columns[problem.cost[rows][:, problem.tower_columns]
                                                 .argmin(axis=1)]
    return TowerSiting(
        model=model, status=_status(problem, allocation, rows),
        objective=float(allocation.objective) if allocation is not None else 0.0,
        radius_m=problem.radius, technology=technology, operator=operator,
        sites=_sites(problem, allocation, assignment, kelurahan, measurements),
        candidates=problem.candidates, unreachable=_unreachable(problem),
        registered_tower_measured_blank=_measured_blank_near_towers(problem),
        demand_total=len(problem.demand), demand_covered=int((assignment >= 0).sum()),
        served_by_existing=int(np.isin(assignment, problem.tower_columns).sum()))


def _status(problem: _Problem, allocation: Any, rows: np.ndarray) -> str:
    if allocation is not None:
        return str(allocation.status)
    if len(problem.demand) == 0:
        return "no_demand"
    return "existing_towers_suffice" if len(rows) else "no_reachable_demand"


def _require_candidates(problem: _Problem) -> None:
    """Refuse a run whose demand only new sites could serve when no candidate is eligible."""
    needs_new = len(problem.demand) and not (problem.cost[:, problem.tower_columns]
                                             <= problem.radius).any(axis=1).all()
    if not needs_new or problem.candidates["eligible"].any():
        return
    refused = problem.candidates
    problems = [Problem("; ".join(v), column="id", value=i)
                for i, v in zip(refused["id"], refused["violations"], strict=True)]
    raise SitingError.translatable(
        N_("Tidak ada calon lokasi yang memenuhi syarat (%(count)s calon, semuanya melanggar "
           "aturan). Berikan calon lain (file, fasilitas, lahan atau grid), atau tinjau lapisan "
           "pengecualian dan jarak amannya."), problems, count=len(refused))


def _solve(problem: _Problem, rows: np.ndarray, *, model: str, max_sites: int | None) -> Any:
    from geo import allocation as solver

    cost = problem.cost[rows]
    fixed = list(problem.tower_columns)
    if model == "mclp":
        weights = problem.demand["weight"].to_numpy(dtype=float)[rows]
        p = min(int(max_sites or 0), len(problem.columns))  # more would serve nothing
        return solver.solve_mclp(cost, weights, service=problem.radius, p=p, fixed=fixed)
    result = solver.solve_lscp(cost, service=problem.radius, fixed=fixed)
    if max_sites is not None and len(result.selected) > max_sites:
        raise SitingError.translatable(
            N_("Melayani semua sel yang terjangkau perlu %(needed)s lokasi baru, lebih dari "
               "%(allowed)s yang diizinkan: naikkan jumlah lokasi, atau pakai MCLP untuk "
               "memilih %(allowed)s lokasi terbaik."),
            needed=len(result.selected), allowed=max_sites)
    return result


def _sites(problem: _Problem, allocation: Any, assignment: np.ndarray,
           kelurahan: gpd.GeoDataFrame, measurements: pd.DataFrame | None) -> pd.DataFrame:
    """One row per selected new site, in the solver's rank order (:data:`SITE_COLUMNS`)."""
    selected = list(allocation.selected) if allocation is not None else []
    chosen = problem.candidates.iloc[problem.columns[selected]].reset_index(drop=True)
    uploads = _cell_uploads(problem.demand, measurements) if selected else None
    rows = [_site_row(rank, chosen.iloc[rank - 1], problem.demand[assignment == column],
                      uploads)
            for rank, column in enumerate(selected, start=1)]
    sites = pd.DataFrame(rows, columns=[c for c in SITE_COLUMNS
                                        if c not in ("kelurahan", "kecamatan", "kode")])
    return _with_kelurahan(sites, kelurahan)[list(SITE_COLUMNS)]


def _site_row(rank: int, candidate: pd.Series, served: pd.DataFrame,
              uploads: pd.DataFrame | None) -> dict[str, Any]:
    evidence = _evidence(served, uploads)
    blank = (served["status"] == _MEASURED_BLANK).to_numpy()
    return {"rank": rank, "id": candidate["id"], "source": candidate["source"],
            "latitude": candidate["latitude"], "longitude": candidate["longitude"],
            "cells": len(served), "blank_cells": int(blank.sum()),
            "area_km2": float(served["area_km2"].sum()),
            "blank_area_km2": float(served.loc[blank, "area_km2"].sum()),
            "population": float(served["population"].sum(min_count=1)), **evidence,
            "h3_cells": served["h3"].astype(str).tolist()}


def _with_kelurahan(sites: pd.DataFrame, kelurahan: gpd.GeoDataFrame) -> pd.DataFrame:
    """Add ``kode``, ``kelurahan`` (name) and ``kecamatan`` (name) of each site's point."""
    if len(sites):
        codes = assign_kelurahan(sites["longitude"].to_numpy(dtype=float),
                                 sites["latitude"].to_numpy(dtype=float), kelurahan)
    else:
        codes = np.array([], dtype=object)
    table = pd.DataFrame(kelurahan.drop(columns=kelurahan.geometry.name)).set_index("kode")
    sites["kode"] = pd.Series(codes, dtype=object).to_numpy()
    for name, column in (("kelurahan", "nama"), ("kecamatan", "kecamatan")):
        names = table[column] if column in table.columns else pd.Series(dtype=object)
        sites[name] = [names.get(code) if code is not None else None for code in codes]
    return sites


def _evidence(served: pd.DataFrame, uploads: pd.DataFrame | None) -> dict[str, Any]:
    """Readings the served cells' status rests on: count, first and last time, upload ids.

    Counts and times are those of the analysis (its evidence window per cell); the upload ids
    are those of :func:`_cell_uploads`.
    """
    measured = served[served["samples"] > 0]
    first = measured["first_at"].min() if len(measured) else None
    last = measured["last_at"].max() if len(measured) else None
    return {"measurements": int(measured["samples"].sum()),
            "first_measured": None if first is None else int(first),
            "last_measured": None if last is None else int(last),
            "upload_ids": _upload_ids(measured, uploads)}


def _upload_ids(cells: pd.DataFrame, uploads: pd.DataFrame | None) -> list[int]:
    if uploads is None or len(cells) == 0:
        return []
    ids = uploads.loc[uploads["h3_cell"].isin(cells["h3_cell"]), "upload_id"].unique()
    return sorted(int(i) for i in ids)


def _cell_uploads(demand: pd.DataFrame, measurements: pd.DataFrame | None
                  ) -> pd.DataFrame | None:
    """Distinct (``h3_cell``, ``upload_id``) of the readings each demand cell's status rests on.

    Readings of the cell (of the analysis' operator unless "any") between its ``first_at`` and
    ``last_at``; None without measurements or upload ids.
    """
    if measurements is None or "upload_id" not in measurements.columns or len(demand) == 0:
        return None
    rows = measurements.assign(h3_cell=_cells_at_resolution(measurements["h3_cell"]))
    operator = str(demand["operator"].iloc[0])
    if operator != "any":
        rows = rows[rows["operator"] == operator]
    joined = rows[["h3_cell", "measured_at", "upload_id"]].merge(
        demand[["h3_cell", "first_at", "last_at"]], on="h3_cell")
    time = joined["measured_at"].to_numpy(dtype=np.int64)
    inside = (time >= joined["first_at"].to_numpy()) & (time <= joined["last_at"].to_numpy())
    found = joined.loc[inside & joined["upload_id"].notna().to_numpy(), ["h3_cell", "upload_id"]]
    return found.astype({"upload_id": np.int64}).drop_duplicates()


def _cells_at_resolution(values: pd.Series) -> np.ndarray:
    """H3 cells at ``settings.H3_RESOLUTION`` (finer cells replaced by their parent)."""
    cells = values.fillna(0).to_numpy(dtype=np.int64)
    finer = np.flatnonzero(((cells >> 52) & 0xF) > int(settings.H3_RESOLUTION))
    if len(finer):
        parents = h3ronpy.change_resolution(pa.array(cells[finer].view(np.uint64)),
                                            int(settings.H3_RESOLUTION))
        cells = cells.copy()
        cells[finer] = np.asarray(parents).view(np.int64)
    return cells


def _unreachable(problem: _Problem) -> pd.DataFrame:
    """Demand cells no eligible candidate and no registered tower reaches."""
    columns = ["h3", "status", "kelurahan_kode", "latitude", "longitude", "area_km2",
               "population"]
    return problem.demand.loc[~problem.reachable, columns].reset_index(drop=True)


def _measured_blank_near_towers(problem: _Problem) -> pd.DataFrame:
    """Measured-blank cells within the radius of a registered tower, with the nearest one."""
    columns = ["h3", "kelurahan_kode", "tower_id", "tower_nama", "tower_operator", "distance_m"]
    distance = problem.tower_distances()
    blank = problem.demand["status"].to_numpy() == _MEASURED_BLANK
    if distance.shape[1] == 0 or not blank.any():
        return pd.DataFrame(columns=columns)
    nearest = distance.argmin(axis=1)
    metres = distance[np.arange(len(distance)), nearest]
    near = np.flatnonzero(blank & (metres <= problem.radius))
    towers = problem.towers.iloc[nearest[near]]
    return pd.DataFrame({
        "h3": problem.demand["h3"].to_numpy()[near],
        "kelurahan_kode": problem.demand["kelurahan_kode"].to_numpy()[near],
        "tower_id": towers["id"].to_numpy(), "tower_nama": towers["nama"].to_numpy(),
        "tower_operator": towers["operator"].to_numpy(), "distance_m": metres[near].round(1),
    }, columns=columns)


# --- JSON --------------------------------------------------------------------------------------

def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{key: _plain(value) for key, value in row.items()}
            for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
