"""Benchmark: re-imports into a city that already holds a million measurements.

A city with ``--rows`` measurements (default 1,000,000, generated inside the demo city) gets,
each timed:

  * the *same rows again* from another file (the rows in reverse order, so not the same file):
    every row is a repeat of a stored one and nothing may be added;
  * a boundary *revision*: every polygon grown by ~1 m (what a corrected boundary file looks
    like: almost every point keeps its kelurahan, only rows that change are written);
  * a boundary *re-coding*: every kelurahan code renamed (every row is written).

The baseline, measured in the same run, is the first ingest of the rows into the same
database; the ratios are each step's time over it.  SQLite always; PostgreSQL + PostGIS on a
throwaway server unless ``--no-postgis``.  No target in the issues: the figures go to
docs/benchmarks.md.

    .venv/bin/python scripts/bench_reimport.py [--rows 1000000] [--no-postgis]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _boundary_files(folder: Path) -> dict[str, Path]:
    """The demo city as imported first, revised (grown ~1 m) and re-coded."""
    from geo.demo import generate_city

    city = generate_city()
    files = {"original": folder / "city.geojson", "revision": folder / "city_revised.geojson",
             "re-coding": folder / "city_recoded.geojson"}
    city.to_file(files["original"], driver="GeoJSON")
    metric = city.to_crs(city.estimate_utm_crs())
    revised = city.copy()
    revised["geometry"] = metric.buffer(1.0).to_crs(city.crs)
    revised.to_file(files["revision"], driver="GeoJSON")
    recoded = city.copy()
    recoded["kode"] = recoded["kode"].str.replace(
        r"\.(\d)(\d{3})$", lambda m: f".{(int(m.group(1)) + 5) % 10}{m.group(2)}", regex=True)
    recoded.to_file(files["re-coding"], driver="GeoJSON")
    return files


def _run(name: str, url: str, folder: Path, csv: Path, files: dict[str, Path]) -> None:
    from webmap.database import create_db_engine, upgrade_database
    from webmap.ingest import IngestOptions, import_boundaries, ingest_measurements

    engine = create_db_engine(url)
    upgrade_database(engine)
    options = IngestOptions(archive_dir=folder / f"archive_{name}", uploaded_by="bench")
    import_boundaries(engine, files["original"], options)
    started = time.perf_counter()
    report = ingest_measurements(engine, csv, options)
    ingest = time.perf_counter() - started
    print(f"{name}: ingest of {report['accepted']:,} rows {ingest:.2f} s (baseline)", flush=True)
    started = time.perf_counter()
    report = ingest_measurements(engine, files["same rows"], options)
    seconds = time.perf_counter() - started
    print(f"{name}: same rows {seconds:6.2f} s = {seconds / ingest:5.2f} x ingest; "
          f"added {report['accepted']:,}, repeats {report['duplicates']:,}", flush=True)
    for version in ("revision", "re-coding"):
        started = time.perf_counter()
        report = import_boundaries(engine, files[version], options)
        seconds = time.perf_counter() - started
        print(f"{name}: {version:9s} {seconds:6.2f} s = {seconds / ingest:5.2f} x ingest; "
              f"rows that changed kelurahan: {report['retagged']}", flush=True)
    engine.dispose()


def main() -> None:
    """Generate the data, then time the re-imports on each database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgis", action="store_true")
    options = parser.parse_args()
    if options.rows < 1:
        parser.error("--rows must be at least 1")
    from geo.demo import generate_city, generate_measurements, write_measurements_csv
    from webmap.database import sqlite_url

    with tempfile.TemporaryDirectory(prefix="petakota-bench-") as tmp:
        folder = Path(tmp)
        files = _boundary_files(folder)
        csv = folder / "measurements.csv"
        write_measurements_csv(generate_measurements(generate_city(), options.rows, seed=11), csv)
        header, *rows = csv.read_bytes().splitlines()
        files["same rows"] = folder / "measurements_again.csv"
        files["same rows"].write_bytes(b"\n".join([header, *reversed(rows)]) + b"\n")
        _run("sqlite", sqlite_url(folder / "bench.db"), folder, csv, files)
        if not options.no_postgis:
            from tests.pgserver import PostgisServer

            server = PostgisServer().start()
            try:
                server.execute("CREATE DATABASE bench")
                server.execute("CREATE EXTENSION postgis", "bench")
                _run("postgis", server.url("bench"), folder, csv, files)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
