"""Coverage analysis of a city stored in the database: load, call ``geo``, shape the answer.

No Flask here: the CLI and the web pages both call these.  Loading is the only database work;
every figure is computed by ``geo.coverage``, ``geo.surface`` and ``geo.population``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import geopandas as gpd
import shapely

from geo import coverage, surface
from geo.errors import InputFileError, NotFoundError
from geo.exports import export_frame, h3_cells_to_geodataframe
from geo.settings import SignalThresholds
from webmap import store
from webmap.archive import archive_file
from webmap.models import City, QuickWinTarget

#: Exports ``export`` can write, and what each holds.
EXPORTS = {
    "cells": "H3 cells with sample counts, signal statistics and status",
    "kelurahan": "per-kelurahan statistics and quick-win status (boundary polygons)",
    "blankspots": "blank-spot polygons from the coverage surface, with evidence",
    "blankspot-points": "one point per blank spot with evidence (Kominfo blank-spot channel)",
    "surface": "GeoTIFF of the estimated signal (dBm), masked where nobody measured",
}


@dataclass
class CityData:
    """What the analysis of one city needs, loaded once."""

    city: dict[str, Any]
    kelurahan: gpd.GeoDataFrame
    measurements: pd.DataFrame
    ookla_tiles: gpd.GeoDataFrame
    population: str | None

    @property
    def boundary_version(self) -> int:
        """The boundary version the statistics use (stated with every result)."""
        return int(self.kelurahan["boundary_version_id"].iloc[0])


def parse_date(value: str | date | datetime | None, *, end_of_day: bool = True
               ) -> datetime | None:
    """A user's date ("2024-06-30" or an ISO datetime) as an aware UTC datetime.

    A plain date means the end of that day in WIB-agnostic UTC terms (23:59:59 UTC), so "as of
    2024-06-30" includes everything measured that day.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.max if end_of_day else time.min, tzinfo=UTC)
    try:
        if len(value) == 10:
            return parse_date(date.fromisoformat(value), end_of_day=end_of_day)
        return parse_date(datetime.fromisoformat(value))
    except ValueError as error:
        raise InputFileError(f"'{value}' is not a date: use YYYY-MM-DD.") from error


def load_city_data(engine: Engine, city_kode: str | None, *, as_of: datetime | None = None
                   ) -> CityData:
    """Load a city's current kelurahan, its measurements up to ``as_of``, tiles and raster."""
    with engine.connect() as conn:
        city = store.get_city(conn, city_kode)
        kelurahan = store.load_kelurahan(conn, city["kode"])
        tiles = store.load_ookla_tiles(conn, city["kode"])
    until = int(as_of.timestamp()) if as_of else None
    measurements = store.load_measurements(engine, city["kode"], until=until)
    return CityData(city, kelurahan, measurements, tiles, city.get("population_raster"))


def all_cells(data: CityData, *, as_of: datetime | None = None,
              thresholds: SignalThresholds | None = None) -> pd.DataFrame:
    """H3 cell statistics per operator and "any" (with the Ookla tiles as evidence)."""
    return coverage.aggregate_cells(data.measurements, as_of=as_of, thresholds=thresholds,
                                    ookla_tiles=data.ookla_tiles if len(data.ookla_tiles) else
                                    None)


def _check_operator(operator: str, measured: set[str], data: CityData) -> None:
    if operator not in measured | {coverage.ANY_OPERATOR}:
        known = sorted(measured - {coverage.ANY_OPERATOR, ""})
        raise NotFoundError(f"No measurements of operator '{operator}' in {data.city['nama']} "
                            f"(operators measured: {', '.join(known) or 'none'}).")


def coverage_tables(data: CityData, *, operator: str | None = None,
                    as_of: datetime | None = None,
                    thresholds: SignalThresholds | None = None,
                    cells: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """H3 cell statistics and per-kelurahan statistics of a city (for one operator or "any").

    ``cells`` are those of :func:`all_cells` when the caller has them already.
    """
    if operator:  # before the expensive part
        _check_operator(operator, set(data.measurements["operator"]), data)
    if cells is None:
        cells = all_cells(data, as_of=as_of, thresholds=thresholds)
    if operator:
        _check_operator(operator, set(cells["operator"]), data)
    cells = cells[cells["operator"] == (operator or coverage.ANY_OPERATOR)].reset_index(drop=True)
    stats = coverage.kelurahan_stats(data.kelurahan, cells, population=data.population)
    return cells, stats


def coverage_report(data: CityData, *, operator: str | None = None,
                    as_of: datetime | None = None,
                    thresholds: SignalThresholds | None = None) -> dict[str, Any]:
    """The per-kelurahan coverage answer as plain JSON-ready data."""
    every = all_cells(data, as_of=as_of, thresholds=thresholds)
    cells, stats = coverage_tables(data, operator=operator, as_of=as_of, thresholds=thresholds,
                                   cells=every)
    return {
        "operator_breakdown": operator_breakdown(data, as_of=as_of, thresholds=thresholds,
                                                 cells=every),
        "city": data.city["kode"], "nama": data.city["nama"],
        "boundary_version": data.boundary_version,
        "operator": operator or coverage.ANY_OPERATOR,
        "as_of": as_of.isoformat() if as_of else None,
        "population_raster": bool(data.population),
        "cells": int(len(cells)),
        "kelurahan": records(stats),
    }


#: Columns of the per-operator breakdown in the coverage report.
BREAKDOWN_COLUMNS = ["kode", "operator", "status", "blank_cells", "weak_cells", "covered_cells",
                     "blank_area_km2", "measured_area_pct", "covered_area_pct"]


def operator_breakdown(data: CityData, *, as_of: datetime | None = None,
                       thresholds: SignalThresholds | None = None,
                       cells: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Per kelurahan and operator: status and cells ("which operator must build here").

    ``cells`` are those of :func:`all_cells` when the caller has them already.
    """
    if cells is None:
        cells = all_cells(data, as_of=as_of, thresholds=thresholds)
    if cells.empty:
        return []
    table = coverage.kelurahan_operator_stats(data.kelurahan, cells)
    table = table[table["operator"] != coverage.ANY_OPERATOR]
    return records(table[BREAKDOWN_COLUMNS])


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame as JSON-ready dicts (NaN as None, numpy scalars as Python numbers)."""
    frame = frame.drop(columns=[c for c in ("geometry",) if c in frame.columns])
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def city_time_series(data: CityData, *, freq: str = "M", operator: str | None = None,
                     thresholds: SignalThresholds | None = None) -> pd.DataFrame:
    """Monthly ("M") or quarterly ("Q") blank cells, area and population per kelurahan and city."""
    return coverage.time_series(data.measurements, data.kelurahan, freq=freq,
                                population=data.population, thresholds=thresholds,
                                operator=operator or coverage.ANY_OPERATOR)


def compare_periods(data: CityData, date_a: datetime, date_b: datetime, *,
                    operator: str | None = None, thresholds: SignalThresholds | None = None
                    ) -> dict[str, Any]:
    """Cells resolved, newly blank and still blank between two dates, with counts."""
    changes = coverage.compare_dates(data.measurements, date_a, date_b,
                                     operator=operator or coverage.ANY_OPERATOR,
                                     thresholds=thresholds)
    counts = changes["change"].value_counts().to_dict()
    return {"city": data.city["kode"], "from": date_a.isoformat(), "to": date_b.isoformat(),
            "counts": {str(k): int(v) for k, v in counts.items()}, "cells": records(changes)}


# --- quick-win targets ---------------------------------------------------------------------------

def add_target(engine: Engine, city_kode: str | None, *, deadline: date, name: str | None = None,
               baseline_date: date | None = None, created_by: str = "cli") -> dict[str, Any]:
    """Store a "no blank spot left by <deadline>" target for a city."""
    with engine.begin() as conn:
        city = store.get_city(conn, city_kode)
        values = {"city_kode": city["kode"], "kind": "no_blank_spot",
                  "name": name or f"Tanpa blank spot pada {deadline.isoformat()}",
                  "deadline": deadline, "baseline_date": baseline_date, "created_by": created_by,
                  "created_at": datetime.now(UTC)}
        target_id = conn.execute(sa.insert(QuickWinTarget.__table__).values(**values)
                                 ).inserted_primary_key[0]
    return values | {"id": int(target_id)}


def list_targets(engine: Engine, city_kode: str | None) -> list[dict[str, Any]]:
    """A city's quick-win targets, by deadline."""
    table = QuickWinTarget.__table__
    with engine.connect() as conn:
        city = store.get_city(conn, city_kode)
        rows = conn.execute(sa.select(table).where(table.c.city_kode == city["kode"])
                            .order_by(table.c.deadline, table.c.id)).mappings().all()
    return [dict(r) for r in rows]


def target_progress(engine: Engine, city_kode: str | None, *, as_of: datetime | None = None,
                    thresholds: SignalThresholds | None = None) -> list[dict[str, Any]]:
    """Progress towards each target of a city as of a date (default: now)."""
    data = load_city_data(engine, city_kode)

    def stats_as_of(moment: datetime | None) -> pd.DataFrame:
        return coverage_tables(data, as_of=moment, thresholds=thresholds)[1]

    return _targets_progress(list_targets(engine, data.city["kode"]), stats_as_of, as_of=as_of,
                             days_from=as_of)


def _targets_progress(targets: list[dict[str, Any]],
                      stats_as_of: Callable[[datetime | None], pd.DataFrame], *,
                      as_of: datetime | None, days_from: datetime | None
                      ) -> list[dict[str, Any]]:
    """Progress per target from kelurahan statistics at its baseline and at ``as_of``."""
    now = stats_as_of(as_of) if targets else None
    results = []
    for target in targets:
        baseline = parse_date(target["baseline_date"]) if target["baseline_date"] else None
        spec = {"kind": target["kind"], "deadline": target["deadline"].isoformat(),
                "baseline_date": target["baseline_date"].isoformat()
                if target["baseline_date"] else None, "name": target["name"]}
        progress = coverage.target_progress(stats_as_of(baseline), now, target=spec,
                                            as_of=days_from)
        results.append({"target_id": target["id"], **spec, **_jsonable(progress)})
    return results


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return _plain(value)


# --- population and exports ------------------------------------------------------------------------

def import_population(engine: Engine, path: Path, city_kode: str | None, *, archive_dir: Path,
                      uploaded_by: str = "cli") -> dict[str, Any]:
    """Archive a population GeoTIFF and make it the city's population raster."""
    from geo.population import raster_total

    archived = archive_file(Path(path), archive_dir, uploaded_by=uploaded_by)
    total = raster_total(archived.path)
    with engine.begin() as conn:
        city = store.get_city(conn, city_kode)
        conn.execute(sa.update(City.__table__).where(City.__table__.c.kode == city["kode"])
                     .values(population_raster=str(archived.path)))
    return {"city": city["kode"], "file": archived.original_name, "sha256": archived.sha256,
            "population_total": total,
            "message": f"Population raster of {city['nama']} set: {total:,.0f} people."}


def export(data: CityData, what: str, path: Path, *, operator: str | None = None,
           as_of: datetime | None = None, resolution_m: float | None = None,
           method: str = "idw", thresholds: SignalThresholds | None = None) -> dict[str, Any]:
    """Write one of :data:`EXPORTS` to ``path`` (format from the suffix).

    ``method`` ("idw" or "kriging") chooses the surface interpolation.
    """
    if what not in EXPORTS:
        raise InputFileError(f"Unknown export '{what}': choose one of {', '.join(EXPORTS)}.")
    if what in ("cells", "kelurahan"):
        cells, stats = coverage_tables(data, operator=operator, as_of=as_of,
                                       thresholds=thresholds)
        frame = (h3_cells_to_geodataframe(cells) if what == "cells" else
                 gpd.GeoDataFrame(stats.merge(data.kelurahan[["kode", "geometry"]], on="kode"),
                                  geometry="geometry", crs="EPSG:4326"))
        written = export_frame(frame, path)
        return _exported(what, written, len(frame), data)
    result = surface.interpolate_signal(data.measurements, data.kelurahan, operator=operator,
                                        as_of=as_of, resolution_m=resolution_m, method=method,
                                        thresholds=thresholds)
    if what == "surface":
        return _exported(what, surface.write_surface_geotiff(result, path), 1, data)
    polygons = surface.blank_spot_polygons(result, data.measurements, data.kelurahan,
                                           population_raster=data.population)
    frame = polygons if what == "blankspots" else surface.blank_spot_points(polygons)
    return _exported(what, export_frame(frame, path), len(frame), data)


def _exported(what: str, path: Path, features: int, data: CityData) -> dict[str, Any]:
    return {"export": what, "path": str(path), "features": int(features),
            "city": data.city["kode"], "boundary_version": data.boundary_version,
            "message": f"Wrote {what} ({features} features) to {path}."}


# --- map pages ---------------------------------------------------------------------------------------

#: Measurement points drawn on a city map at most (a random sample; the cells carry the figures).
MAP_MEASUREMENT_SAMPLE = 3000


@dataclass
class CityOverview:
    """Everything a city or kelurahan map shows, computed once per data version and filter."""

    data: CityData
    cells: pd.DataFrame
    stats: gpd.GeoDataFrame
    blank_spots: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    sample: pd.DataFrame
    #: What the pages drew from it (rendered maps, the surface PNG), keyed by what they show.
    rendered: dict[tuple[str, ...], Any] = field(default_factory=dict)
    #: The filter it was computed with: ``operator``, ``as_of``, ``thresholds``.
    options: dict[str, Any] = field(default_factory=dict)
    #: Monthly trend per kelurahan and city, computed on first use (:func:`overview_trend`).
    trend: pd.DataFrame | None = None
    #: Kelurahan statistics (operator "any") per as-of date, for :func:`overview_progress`.
    target_stats: dict[datetime | None, pd.DataFrame] = field(default_factory=dict)
    #: Operators measured in the city up to the as-of date, whatever the filter (for choosers).
    operators: tuple[str, ...] = ()
    #: The estimated signal surface (``None`` without measurements).
    signal_surface: surface.SurfaceResult | None = None


def city_overview(engine: Engine, city_kode: str | None, *, operator: str | None = None,
                  as_of: datetime | None = None, technology: str | None = None,
                  thresholds: SignalThresholds | None = None) -> CityOverview:
    """Cells, kelurahan statistics (with polygons), blank spots, facilities and a point sample.

    ``technology`` ("2G" ... "5G") keeps that technology's measurements and every no-service
    one, the rule of :func:`geo.surface.interpolate_signal`: a phone that found no network is
    evidence of no coverage on any technology.  ``overview.data`` then holds only those rows,
    so figures derived from it later (trend, targets) answer for the same technology.  The
    point sample also follows the operator filter.
    """
    data = load_city_data(engine, city_kode, as_of=as_of)
    operators = tuple(sorted(set(data.measurements["operator"]) - {""}))
    if technology is not None:
        known = (thresholds or SignalThresholds.from_settings()).classes_dbm
        if technology not in known:
            raise InputFileError(f"Unknown technology '{technology}': use one of "
                                 f"{', '.join(sorted(known))}.")
        rows = data.measurements
        keep = (rows["technology"] == technology) | rows["no_service"].astype(bool)
        data = replace(data, measurements=rows[keep.to_numpy()].reset_index(drop=True))
    cells, stats = coverage_tables(data, operator=operator, as_of=as_of, thresholds=thresholds)
    result = None
    if len(data.measurements):
        result = surface.interpolate_signal(data.measurements, data.kelurahan, operator=operator,
                                            technology=technology, as_of=as_of,
                                            thresholds=thresholds)
        blank = blank_spots_by_kelurahan(data, result)
    else:
        blank = _no_blank_spots()
    stats_gdf = gpd.GeoDataFrame(
        _with_blank_spot_totals(stats, blank).merge(data.kelurahan[["kode", "geometry"]],
                                                    on="kode"),
        geometry="geometry", crs="EPSG:4326")
    with engine.connect() as conn:
        facilities = store.load_facilities(conn, data.city["kode"])
    shown = data.measurements
    if operator:
        shown = shown[shown["operator"] == operator]
    size = min(MAP_MEASUREMENT_SAMPLE, len(shown))
    sample = shown.sample(n=size, random_state=0) if size else shown
    return CityOverview(data, cells, stats_gdf, blank, facilities, sample,
                        options={"operator": operator, "as_of": as_of, "thresholds": thresholds,
                                 "technology": technology},
                        operators=operators, signal_surface=result)


def blank_spots_by_kelurahan(data: CityData, result: surface.SurfaceResult
                             ) -> gpd.GeoDataFrame:
    """The surface's blank spots cut along kelurahan borders
    (:func:`geo.coverage.split_blank_spots`).

    Each piece lies in one kelurahan and carries its own area, population and evidence, so a
    kelurahan's page, its API answers and its figures never reach over its border.
    """
    # the people of each piece are counted in the raster: none needed for the whole spots
    whole = surface.blank_spot_polygons(result, data.measurements, data.kelurahan)
    return coverage.split_blank_spots(whole, data.kelurahan,
                                      evidence=surface.evidence_points(result, data.measurements),
                                      population_raster=data.population)


def _no_blank_spots() -> gpd.GeoDataFrame:
    """An empty table of blank-spot pieces, with their columns."""
    columns = [c for c in coverage.SPLIT_BLANK_SPOT_COLUMNS if c != "geometry"]
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")


#: Per-kelurahan figures of the blank-spot pieces added to the kelurahan statistics.
BLANK_SPOT_TOTALS = ("blank_spots", "blank_spot_area_km2", "blank_spot_population")


def _with_blank_spot_totals(stats: pd.DataFrame, pieces: gpd.GeoDataFrame) -> pd.DataFrame:
    """``stats`` with the count, area and population of each kelurahan's blank-spot pieces
    (0 without any; population missing without a population raster)."""
    totals = coverage.blank_spot_totals(pieces)
    table = stats.merge(totals, on="kode", how="left")
    table["blank_spots"] = table["blank_spots"].fillna(0).astype(np.int64)
    table["blank_spot_area_km2"] = table["blank_spot_area_km2"].fillna(0.0).astype(float)
    if "population" in stats.columns:
        table["blank_spot_population"] = table["blank_spot_population"].fillna(0.0)
    return table


def blank_spot_records(blank_spots: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Blank-spot polygons as rows for a page, with ``last_measured_at`` (aware UTC datetime)."""
    table = pd.DataFrame(blank_spots.drop(columns="geometry", errors="ignore"))
    if "last_measured" in table.columns:
        table["last_measured_at"] = pd.to_datetime(table["last_measured"].astype("Int64"),
                                                   unit="s", utc=True)
    return records(table)


def kelurahan_overview(overview: CityOverview, kode: str) -> dict[str, Any]:
    """One kelurahan's figures, blank spots and facilities, taken from the city overview."""
    rows = overview.stats[overview.stats["kode"] == kode]
    if rows.empty:
        raise NotFoundError(f"Kelurahan '{kode}' does not exist in {overview.data.city['nama']} "
                            f"(boundary version {overview.data.boundary_version}).")
    blank = overview.blank_spots[overview.blank_spots["kelurahan_kode"] == kode]
    facilities = overview.facilities[overview.facilities["kelurahan_kode"] == kode]
    return {"row": rows, "stats": records(rows)[0], "blank_spots": blank,
            "facilities": facilities}


def kelurahan_layers(overview: CityOverview, kode: str) -> dict[str, Any]:
    """What a kelurahan's map draws, cut to its boundary: nothing of a neighbour shows.

    ``blank_spots`` are the kelurahan's own pieces, ``cells`` its H3 cells (those most of whose
    measurements lie in it) clipped to its polygon, ``facilities`` and ``measurements_sample``
    the points inside it.
    """
    detail = kelurahan_overview(overview, kode)
    boundary = detail["row"].geometry.iloc[0]
    cells = overview.cells[overview.cells["kelurahan_kode"] == kode]
    clipped = (gpd.clip(h3_cells_to_geodataframe(cells), boundary, keep_geom_type=True)
               if len(cells) else None)
    sample = overview.sample
    inside = shapely.contains_xy(boundary, sample["longitude"].to_numpy(dtype=float),
                                 sample["latitude"].to_numpy(dtype=float))
    return {"cells": clipped, "blank_spots": detail["blank_spots"],
            "facilities": detail["facilities"], "measurements_sample": sample[inside]}


def overview_trend(overview: CityOverview) -> pd.DataFrame:
    """The overview's monthly time series (kelurahan rows and the city row "ALL"), memoised."""
    if overview.trend is None:
        overview.trend = city_time_series(overview.data, freq="M",
                                          operator=overview.options.get("operator"),
                                          thresholds=overview.options.get("thresholds"))
    return overview.trend


#: Columns of a trend shown in the charts and their tables.
TREND_COLUMNS = ("period", "period_end", "blank_cells", "blank_area_km2", "resolved_cells",
                 "newly_blank_cells", "measured_area_pct", "population_blank")


def trend_records(trend: pd.DataFrame, kode: str) -> list[dict[str, Any]]:
    """The trend of one kelurahan (or of the city: ``kode`` "ALL") as JSON-ready rows."""
    rows = trend[trend["kode"] == kode]
    return records(rows[[c for c in TREND_COLUMNS if c in rows.columns]])


def overview_progress(overview: CityOverview, targets: list[dict[str, Any]], *,
                      now: datetime | None = None) -> list[dict[str, Any]]:
    """Progress towards ``targets`` (:func:`list_targets`) from the overview's data, memoised.

    The same figures as :func:`target_progress` (operator "any") at the overview's as-of date;
    ``days_left`` counts from that date, else from ``now`` (default: the current time).  A
    baseline later than the as-of date sees only the measurements up to the as-of date.
    """
    as_of = overview.options.get("as_of")
    return _targets_progress(targets, lambda moment: _overview_stats(overview, moment),
                             as_of=as_of, days_from=as_of or now or datetime.now(UTC))


def _overview_stats(overview: CityOverview, moment: datetime | None) -> pd.DataFrame:
    """Kelurahan statistics (operator "any") as of ``moment``, computed once per overview."""
    if moment not in overview.target_stats:
        options = overview.options
        if moment == options.get("as_of") and not options.get("operator"):
            stats = overview.stats  # the overview's own statistics are exactly these
        else:
            stats = coverage_tables(overview.data, as_of=moment,
                                    thresholds=options.get("thresholds"))[1]
        overview.target_stats[moment] = stats
    return overview.target_stats[moment]
