"""Benchmark: coverage analysis of 1,000,000 measurements over the ~2,000 km2 demo city.

Measured in one run:
  * cells + kelurahan statistics (``geo.coverage.aggregate_cells`` + ``kelurahan_stats``),
    target <= 2 s on 2 cores;
  * the 100 m coverage surface (IDW) + blank-spot polygons (``geo.surface``), target <= 10 s;
  * a baseline in the same run: the per-cell statistics written the obvious way with pandas
    ``groupby().apply`` (median, 10th percentile, no-service share per cell and operator), so the
    ratio shows what the vectorised implementation buys.

    .venv/bin/python scripts/bench_analysis.py [--rows 1000000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import coverage, settings, surface  # noqa: E402
from geo.demo import generate_city, generate_measurements  # noqa: E402
from geo.kelurahan_lookup import assign_kelurahan  # noqa: E402
from geo.h3_cells import CellIndexer  # noqa: E402


def _analysis_input(city, rows: int) -> pd.DataFrame:
    """Demo measurements in the columns the database hands to the analysis."""
    raw = generate_measurements(city, rows, seed=11)
    frame = pd.DataFrame({
        "measured_at": pd.to_datetime(raw["timestamp"], format="ISO8601", utc=True)
        .astype("int64") // 10**9,
        "latitude": raw["latitude"].astype(float), "longitude": raw["longitude"].astype(float),
        "operator": raw["operator"].astype(str), "technology": raw["technology"].astype(str),
        "signal_dbm": pd.to_numeric(raw["signal_dbm"], errors="coerce"),
        "no_service": raw["no_service"].astype(str).str.lower().eq("true"),
        "download_mbps": pd.to_numeric(raw["download_mbps"], errors="coerce"),
        "upload_mbps": pd.to_numeric(raw["upload_mbps"], errors="coerce"),
        "latency_ms": pd.to_numeric(raw["latency_ms"], errors="coerce"),
        "accuracy_m": pd.to_numeric(raw["accuracy_m"], errors="coerce"),
        "device_id": raw["device_id"].astype(object), "upload_id": 1,
    })
    frame["kelurahan_kode"] = assign_kelurahan(frame["longitude"].to_numpy(),
                                               frame["latitude"].to_numpy(), city)
    frame["h3_cell"] = CellIndexer(settings.H3_RESOLUTION).cells(frame["latitude"].to_numpy(),
                                                                 frame["longitude"].to_numpy())
    return frame


def _best(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def _naive_cells(frame: pd.DataFrame) -> pd.DataFrame:
    def stats(group: pd.DataFrame) -> pd.Series:
        signal = group["signal_dbm"].dropna()
        return pd.Series({"samples": len(group), "median_dbm": signal.median(),
                          "p10_dbm": signal.quantile(0.1) if len(signal) else np.nan,
                          "no_service_share": group["no_service"].mean()})

    return frame.groupby(["h3_cell", "operator"])[["signal_dbm", "no_service"]].apply(stats)


def main() -> None:
    """Run the measurements and print figures, ratios and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    city = generate_city()
    frame = _analysis_input(city, options.rows)
    area = float(city.to_crs(city.estimate_utm_crs()).area.sum() / 1e6)
    print(f"{options.rows:,} measurements over {area:,.0f} km2, {len(city)} kelurahan", flush=True)

    def cells_and_stats():
        cells = coverage.aggregate_cells(frame)
        any_cells = cells[cells["operator"] == coverage.ANY_OPERATOR]
        return cells, coverage.kelurahan_stats(city, any_cells)

    def surface_and_polygons():
        result = surface.interpolate_signal(frame, city)
        return result, surface.blank_spot_polygons(result, frame, city)

    cells_s, (cells, _) = _best(cells_and_stats, options.repeat)
    surface_s, (result, polygons) = _best(surface_and_polygons, options.repeat)
    naive_s, _ = _best(lambda: _naive_cells(frame), 1)
    figures = {
        "cells_and_kelurahan_stats_s": cells_s, "surface_and_blank_polygons_s": surface_s,
        "naive_groupby_apply_cells_s": naive_s, "cells": int(len(cells)),
        "surface_shape": list(result.values.shape), "blank_polygons": int(len(polygons)),
    }
    print(f"cells + kelurahan stats      {cells_s:6.2f} s  (target <= 2 s)")
    print(f"surface 100 m + blank spots  {surface_s:6.2f} s  (target <= 10 s)")
    print(f"naive groupby.apply cells    {naive_s:6.2f} s  (baseline)")
    print(f"naive / cells+stats          {naive_s / cells_s:6.1f} x")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
