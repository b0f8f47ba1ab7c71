"""Siting over a city stored in the database: load, call ``geo``, export.

No Flask here: the CLI, the siting page and the API call :func:`plan_towers` (towers for blank
spots, ``geo.tower_siting``) and :func:`plan_waste` (the waste-processing building,
``geo.waste_siting``).  Loading is the only database work; the models, the candidates' rules and
the evidence are in ``geo``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd

from geo import coverage, tower_siting, waste_siting
from geo.errors import N_, InputFileError, NotFoundError
from geo.kominfo_export import write_proposals
from geo.settings import SignalThresholds
from geo.settings import SITING_RULE_SETS
from webmap import analysis, store

#: Facility type of registered towers (fixed sites) and the status that counts.
TOWER_TYPE, EXISTING = "bts", "existing"


@dataclass(frozen=True)
class TowerRequest:
    """What a planner asks of a tower-siting run (defaults: ``geo.settings``)."""

    model: str = "lscp"
    radius_m: float | None = None
    max_sites: int | None = None
    operator: str | None = None
    technology: str | None = None
    as_of: datetime | None = None
    candidates_file: Path | None = None
    include_weak: bool = False
    include_unmeasured: bool = False
    grid_spacing_m: float | None = None
    thresholds: SignalThresholds | None = None

    def parameters(self) -> dict[str, Any]:
        """The request as JSON-ready values (a saved scenario's parameters; the signal
        thresholds are the deployment's configuration and are not among them)."""
        values = {key: getattr(self, key) for key in self.__dataclass_fields__
                  if key != "thresholds"}
        values["as_of"] = self.as_of.isoformat() if self.as_of else None
        values["candidates_file"] = str(self.candidates_file) if self.candidates_file else None
        return values


def plan_towers(engine: Engine, city_kode: str | None, request: TowerRequest, *,
                export: Path | None = None, lang: str = "id") -> dict[str, Any]:
    """Run the tower siting of a city and return the JSON-ready answer.

    Candidates are the uploaded file when given, else the generated grid, the facilities that
    can host a mast and the ``lahan`` plots.  Registered towers (``bts`` facilities, status
    ``existing``) are fixed sites.  With ``export`` the proposals are written there
    (:func:`geo.kominfo_export.write_proposals`, headers in ``lang``).
    """
    data = analysis.load_city_data(engine, city_kode, as_of=request.as_of)
    cells = _operator_cells(data, request)
    with engine.connect() as conn:
        facilities = store.load_facilities(conn, data.city["kode"])
        layers = _constraint_layers(conn, data.city["kode"])
    result = tower_siting.site_towers(
        cells, _candidates(request, data.kelurahan, facilities, layers), data.kelurahan,
        model=request.model, radius_m=request.radius_m, technology=request.technology,
        max_sites=request.max_sites, include=_demand_statuses(request),
        towers=_registered_towers(facilities), layers=layers,
        population_raster=data.population, measurements=data.measurements)
    answer = result.to_dict() | {
        "city": data.city["kode"], "nama": data.city["nama"],
        "boundary_version": data.boundary_version,
        "as_of": request.as_of.isoformat() if request.as_of else None,
        "candidate_source": "file" if request.candidates_file else "grid+facilities+lahan",
        "layers": sorted(layers), "export": None}
    if export is not None:
        answer["export"] = str(write_proposals(result, export, lang=lang))
    return answer


def _operator_cells(data: analysis.CityData, request: TowerRequest) -> pd.DataFrame:
    """The analysis cells of the requested operator (or "any"), as of the request's date.

    Only the cell table: the per-kelurahan statistics (and their population sums) of
    :func:`webmap.analysis.coverage_tables` are not needed here.
    """
    cells = analysis.all_cells(data, as_of=request.as_of, thresholds=request.thresholds)
    operator = request.operator or coverage.ANY_OPERATOR
    if request.operator and operator not in set(cells["operator"]):
        measured = sorted(set(cells["operator"]) - {coverage.ANY_OPERATOR, ""})
        raise NotFoundError.translatable(
            N_("Tidak ada pengukuran operator '%(operator)s' di %(city)s (operator yang "
               "terukur: %(known)s)."), operator=operator, city=data.city["nama"],
            known=", ".join(measured) or "-")
    return cells[cells["operator"] == operator].reset_index(drop=True)


def _demand_statuses(request: TowerRequest) -> tuple[str, ...]:
    return ("blank", *(("weak",) if request.include_weak else ()),
            *(("unmeasured",) if request.include_unmeasured else ()))


def _candidates(request: TowerRequest, kelurahan: gpd.GeoDataFrame,
                facilities: gpd.GeoDataFrame, layers: dict[str, gpd.GeoDataFrame]
                ) -> gpd.GeoDataFrame:
    """The uploaded candidates, or the grid, the host facilities and the lahan plots."""
    if request.candidates_file is not None:
        return tower_siting.read_candidate_file(request.candidates_file)
    parts = [tower_siting.grid_candidates(kelurahan, spacing_m=request.grid_spacing_m),
             tower_siting.facility_candidates(facilities)]
    if "lahan" in layers and len(layers["lahan"]):
        parts.append(tower_siting.plot_candidates(layers["lahan"]))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry",
                            crs="EPSG:4326")


def _registered_towers(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    towers = facilities[(facilities["type"] == TOWER_TYPE) & (facilities["status"] == EXISTING)]
    return towers.reset_index(drop=True)


def _constraint_layers(conn: Connection, city_kode: str) -> dict[str, gpd.GeoDataFrame]:
    """The city's active constraint layers by kind (none until layers are imported)."""
    from webmap import layers

    return dict(layers.load_layers(conn, city_kode))


def parse_request(*, model: str, radius_m: float | None, max_sites: int | None,
                  operator: str | None, technology: str | None, as_of: str | None,
                  candidates: str | None, include_weak: bool, include_unmeasured: bool,
                  thresholds: SignalThresholds | None = None) -> TowerRequest:
    """A :class:`TowerRequest` from the plain values a form or command line gives."""
    path = Path(candidates) if candidates else None
    if path is not None and not path.is_file():
        raise InputFileError.translatable(N_("File calon lokasi %(file)s tidak ada."),
                                          file=str(path))
    return TowerRequest(model=model, radius_m=radius_m, max_sites=max_sites,
                        operator=operator or None, technology=technology,
                        as_of=analysis.parse_date(as_of), candidates_file=path,
                        include_weak=include_weak, include_unmeasured=include_unmeasured,
                        thresholds=thresholds)


# --- the waste-processing building ---------------------------------------------------------------

#: Models of the waste siting (``geo.allocation``), the default first.
WASTE_MODELS = ("pmedian", "mclp", "lscp")


@dataclass(frozen=True)
class WasteRequest:
    """What a planner asks of a waste-siting run (defaults: ``geo.settings``).

    ``rule_overrides`` are the city's overrides of the rule set (instance config
    ``SITING_RULES[rules]``, see :func:`geo.settings.siting_rules_from_config`).
    """

    rules: str = "tpst"
    model: str = "pmedian"
    sites: int = 1
    service_m: float | None = None
    capacity_t_day: float | None = None
    candidates_file: Path | None = None
    rule_overrides: dict[str, Any] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        """The request as JSON-ready values (a saved scenario's parameters)."""
        values = asdict(self)
        values["candidates_file"] = str(self.candidates_file) if self.candidates_file else None
        return values


def plan_waste(engine: Engine, city_kode: str | None, request: WasteRequest) -> dict[str, Any]:
    """Run the waste-processing siting of a city and return the JSON-ready answer.

    Demand is the city's population raster when one is imported (else a population column of
    the kelurahan); existing TPS/TPS3R/TPST of the registry are fixed sites; the active
    constraint layers and the DEM (its slope), when imported, give the exclusions; a ``jalan``
    layer makes the distances run along the roads.

    Raises
    ------
    SitingError
        Bad parameters, candidates outside the city, no eligible candidate, an infeasible model:
        the message says what to change.
    """
    with engine.connect() as conn:
        city = store.get_city(conn, city_kode)
        kelurahan = store.load_kelurahan(conn, city["kode"])
        facilities = store.load_facilities(conn, city["kode"])
        layers = _constraint_layers(conn, city["kode"])
        dem = _dem_path(conn, city["kode"])
    result = waste_siting.site_waste_facility(
        kelurahan, layers, population=city.get("population_raster"), facilities=facilities,
        candidates=request.candidates_file, rules=request.rules, model=request.model,
        sites=request.sites, service_m=request.service_m,
        capacity_t_day=request.capacity_t_day, slope=dem,
        rule_overrides=request.rule_overrides or None)
    return result.to_dict() | {
        "city": city["kode"], "nama": city["nama"],
        "boundary_version": int(kelurahan["boundary_version_id"].iloc[0]),
        "candidate_source": "file" if request.candidates_file else "grid",
        "population_source": "raster" if city.get("population_raster") else "kelurahan",
        "layers": sorted(layers), "dem": dem is not None}


def _dem_path(conn: Connection, city_kode: str) -> Path | None:
    from webmap import layers

    dem = layers.dem_layer(conn, city_kode)
    return dem["path"] if dem else None


def parse_waste_request(*, rules: str, model: str, sites: int | None, service_m: float | None,
                        capacity_t_day: float | None, candidates: str | None,
                        rule_overrides: dict[str, Any] | None = None) -> WasteRequest:
    """A :class:`WasteRequest` from the plain values a form, the API or the command line gives.

    Raises
    ------
    InputFileError
        An unknown rule set or model, or a candidate file that does not exist.
    """
    if rules not in SITING_RULE_SETS:
        raise InputFileError.translatable(
            N_("Aturan '%(rules)s' tidak dikenal: pilih %(known)s."), rules=rules,
            known=", ".join(SITING_RULE_SETS))
    if model not in WASTE_MODELS:
        raise InputFileError.translatable(
            N_("Model '%(model)s' tidak dikenal: pilih %(known)s."), model=model,
            known=", ".join(WASTE_MODELS))
    path = Path(candidates) if candidates else None
    if path is not None and not path.is_file():
        raise InputFileError.translatable(N_("File calon lokasi %(file)s tidak ada."),
                                          file=str(path))
    return WasteRequest(rules=rules, model=model, sites=1 if sites is None else int(sites),
                        service_m=service_m, capacity_t_day=capacity_t_day,
                        candidates_file=path, rule_overrides=dict(rule_overrides or {}))
