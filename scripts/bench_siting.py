"""Benchmark: the location-allocation models of ``geo.allocation`` against plain spopt.

Two instances over the ~2,000 km2 demo city (``geo.demo.generate_city``), in its UTM zone:

  * MCLP: 20,000 demand points (random inside the city, weights 1-100), 2,000 candidates
    (random inside the city), p = 5, service distance 3,000 m;
  * LSCP: every H3 resolution-9 cell of the city as demand (~19,000: "every blank cell" when
    nothing is measured yet), candidates on a 1 km grid over the city (~2,000), radius 3,000 m
    (the 4G default).

Each is solved to proven optimality twice in the same run: by ``geo.allocation`` (distance
matrix + sparse model + HiGHS) and by spopt's own ``from_geodataframe`` + ``solve`` with
PuLP's default solver (CBC).  Both times start from the same GeoDataFrames; the objectives
must agree.

    .venv/bin/python scripts/bench_siting.py [--skip-spopt]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pulp
from scipy.spatial.distance import cdist

import geopandas as gpd
import h3
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.allocation import solve_lscp, solve_mclp  # noqa: E402
from geo.demo import generate_city  # noqa: E402
from geo.projection import utm_crs_for  # noqa: E402

SERVICE_M = 3000.0


def _random_points(area: shapely.Geometry, count: int, rng: np.random.Generator) -> np.ndarray:
    west, south, east, north = area.bounds
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < count:
        x = rng.uniform(west, east, count)
        y = rng.uniform(south, north, count)
        inside = shapely.contains_xy(area, x, y)
        found.append(np.column_stack([x[inside], y[inside]]))
    return np.concatenate(found)[:count]


def _grid_points(area: shapely.Geometry, spacing: float) -> np.ndarray:
    west, south, east, north = area.bounds
    x, y = np.meshgrid(np.arange(west + spacing / 2, east, spacing),
                       np.arange(south + spacing / 2, north, spacing))
    inside = shapely.contains_xy(area, x.ravel(), y.ravel())
    return np.column_stack([x.ravel()[inside], y.ravel()[inside]])


def _h3_centres(city: gpd.GeoDataFrame, crs) -> np.ndarray:
    cells: set[str] = set()
    for polygon in shapely.get_parts(city.union_all()):
        shape = h3.LatLngPoly([(lat, lon) for lon, lat in polygon.exterior.coords])
        cells.update(h3.polygon_to_cells(shape, 9))
    lat, lon = np.array([h3.cell_to_latlng(c) for c in sorted(cells)]).T
    return shapely.get_coordinates(gpd.GeoSeries.from_xy(lon, lat, crs="EPSG:4326")
                                   .to_crs(crs).to_numpy())


def _frame(xy: np.ndarray, crs, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def _ours_mclp(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> float:
    cost = cdist(shapely.get_coordinates(demand.geometry.array),
                 shapely.get_coordinates(sites.geometry.array))
    result = solve_mclp(cost, demand["weight"].to_numpy(float), service=SERVICE_M, p=5)
    assert result.status == "optimal", result.status
    return result.objective


def _ours_lscp(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> float:
    cost = cdist(shapely.get_coordinates(demand.geometry.array),
                 shapely.get_coordinates(sites.geometry.array))
    result = solve_lscp(cost, service=SERVICE_M)
    assert result.status == "optimal", result.status
    return result.objective


def _spopt_mclp(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> float:
    from spopt.locate import MCLP

    model = MCLP.from_geodataframe(demand, sites, "geometry", "geometry", "weight",
                                   service_radius=SERVICE_M, p_facilities=5)
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    return float(pulp.value(model.problem.objective))


def _spopt_lscp(demand: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> float:
    from spopt.locate import LSCP

    model = LSCP.from_geodataframe(demand, sites, "geometry", "geometry",
                                   service_radius=SERVICE_M)
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    return float(pulp.value(model.problem.objective))


def _timed(function, *args) -> tuple[float, float]:
    started = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - started, value


def main() -> None:
    """Build both instances, solve them both ways, print times, ratios and objectives."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-spopt", action="store_true",
                        help="time geo.allocation only (plain spopt takes minutes)")
    parser.add_argument("--only", choices=("mclp", "lscp"), help="run one instance only")
    args = parser.parse_args()
    city = generate_city()
    crs = utm_crs_for(city)
    area = shapely.union_all(city.to_crs(crs).geometry.array)
    rng = np.random.default_rng(15)
    print(f"city: {area.area / 1e6:,.0f} km2, {crs}", flush=True)
    runs = {
        "MCLP p=5": (_ours_mclp, _spopt_mclp,
                     _frame(_random_points(area, 20_000, rng), crs,
                            weight=rng.integers(1, 101, 20_000).astype(float)),
                     _frame(_random_points(area, 2_000, rng), crs)),
        "LSCP": (_ours_lscp, _spopt_lscp, _frame(_h3_centres(city, crs), crs),
                 _frame(_grid_points(area, 1000.0), crs)),
    }
    for name, (ours, plain, demand, sites) in runs.items():
        if args.only and not name.lower().startswith(args.only):
            continue
        print(f"{name}: {len(demand):,} demand x {len(sites):,} candidates, "
              f"service {SERVICE_M:,.0f} m", flush=True)
        seconds, objective = _timed(ours, demand, sites)
        print(f"  geo.allocation          {seconds:8.2f} s   objective {objective:,.1f}",
              flush=True)
        if args.skip_spopt:
            continue
        plain_seconds, plain_objective = _timed(plain, demand, sites)
        print(f"  spopt from_geodataframe {plain_seconds:8.2f} s   objective "
              f"{plain_objective:,.1f}")
        print(f"  ratio spopt / geo.allocation: {plain_seconds / seconds:.1f}")


if __name__ == "__main__":
    main()
