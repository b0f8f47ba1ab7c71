"""Tower siting over a city stored in the database: load, call ``geo.tower_siting``, export.

No Flask here: the CLI (and later the siting page and API) call :func:`plan_towers`.  Loading is
the only database work; the model, the candidates' rules and the evidence are in ``geo``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd

from geo import coverage, tower_siting
from geo.errors import N_, InputFileError, NotFoundError
from geo.kominfo_export import write_proposals
from geo.settings import SignalThresholds
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
