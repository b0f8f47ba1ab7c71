"""Benchmark: ingest of a 1,000,000-row canonical coverage CSV, against baselines in the same run.

Measured, each in its own subprocess (so peak memory is that phase's alone):
  * petakota ingest into SQLite (parse, validate, kelurahan + H3 tagging, store);
  * the plain ``pyarrow.csv.read_csv`` of the same file (lower bound: parsing only);
  * a naive geopandas pipeline: ``pandas.read_csv``, ``points_from_xy``, ``sjoin``, ``to_sql``;
  * petakota ingest into PostgreSQL + PostGIS (a throwaway server started here).

Targets (issue #2): ingest <= 8x the pyarrow parse, >= 3x faster than the naive pipeline, peak
memory <= 2 GB, PostGIS ingest <= 2x the SQLite ingest.

    .venv/bin/python scripts/bench_ingest.py [--rows 1000000] [--no-postgis]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHASES = {
    "pyarrow_parse": """
import pyarrow.csv as c
t = c.read_csv(ARGS['csv'])
assert t.num_rows == ARGS['rows']
""",
    "naive_geopandas": """
import pandas as pd, geopandas as gpd, sqlalchemy as sa
df = pd.read_csv(ARGS['csv'])
kel = gpd.read_file(ARGS['boundaries'])
pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.longitude, df.latitude), crs=4326)
joined = gpd.sjoin(pts, kel[['kode', 'geometry']], how='left', predicate='within')
joined = joined.drop(columns=['geometry', 'index_right'])
engine = sa.create_engine('sqlite:///' + ARGS['naive_db'])
joined.to_sql('measurement', engine, index=False, if_exists='replace', chunksize=100_000)
""",
    "petakota_ingest": """
from pathlib import Path
from webmap.database import create_db_engine
from webmap.ingest import IngestOptions, ingest_measurements
engine = create_db_engine(ARGS['db_url'])
report = ingest_measurements(engine, Path(ARGS['csv']),
                             IngestOptions(archive_dir=Path(ARGS['archive']), uploaded_by='bench'))
assert report['accepted'] == ARGS['rows'], {k: report[k] for k in ('rows', 'accepted', 'rejected', 'duplicates')}
""",
}


def _run_phase(name: str, args: dict) -> dict:
    """Run one phase in a fresh interpreter; return wall seconds and the child's peak RSS."""
    code = f"ARGS = {args!r}\nimport time\n_t = time.perf_counter()\n{PHASES[name]}\n" \
           "print('SECONDS', time.perf_counter() - _t)\n" \
           "import resource; print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stderr[-3000:]}")
    values = dict(line.split() for line in out.stdout.splitlines() if line.startswith(("SECONDS",
                                                                                       "MAXRSS")))
    return {"seconds": float(values["SECONDS"]), "peak_mb": int(values["MAXRSS_KB"]) / 1024}


def _prepare(folder: Path, rows: int) -> dict:
    from geo.demo import generate_city, generate_measurements, write_measurements_csv
    from webmap.database import create_db_engine, sqlite_url, upgrade_database
    from webmap.ingest import IngestOptions, import_boundaries

    city = generate_city()
    boundaries = folder / "city.geojson"
    city.to_file(boundaries, driver="GeoJSON")
    csv = folder / "measurements.csv"
    write_measurements_csv(generate_measurements(city, rows, seed=11), csv)
    db_url = sqlite_url(folder / "bench.db")
    engine = create_db_engine(db_url)
    upgrade_database(engine)
    import_boundaries(engine, boundaries, IngestOptions(archive_dir=folder / "archive"))
    engine.dispose()
    return {"csv": str(csv), "rows": rows, "boundaries": str(boundaries), "db_url": db_url,
            "archive": str(folder / "archive"), "naive_db": str(folder / "naive.db"),
            "size_mb": csv.stat().st_size / 2**20}


def _postgis_args(folder: Path, args: dict) -> tuple[dict, object]:
    from tests.pgserver import PostgisServer
    from webmap.database import create_db_engine, upgrade_database
    from webmap.ingest import IngestOptions, import_boundaries

    server = PostgisServer().start()
    server.execute("CREATE DATABASE bench")
    server.execute("CREATE EXTENSION postgis", "bench")
    engine = create_db_engine(server.url("bench"))
    upgrade_database(engine)
    import_boundaries(engine, Path(args["boundaries"]),
                      IngestOptions(archive_dir=folder / "archive_pg"))
    engine.dispose()
    return args | {"db_url": server.url("bench"), "archive": str(folder / "archive_pg")}, server


def main() -> None:
    """Run the phases and print the figures and the ratios against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgis", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="petakota-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        args = _prepare(folder, options.rows)
        print(f"generated {options.rows:,} rows ({args['size_mb']:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        results = {name: _run_phase(name, args) for name in PHASES}
        if not options.no_postgis:
            pg_args, server = _postgis_args(folder, args)
            try:
                results["petakota_ingest_postgis"] = _run_phase("petakota_ingest", pg_args)
            finally:
                server.stop()
    _report(results, options.rows)


def _report(results: dict, rows: int) -> None:
    for name, r in results.items():
        print(f"{name:26s} {r['seconds']:7.2f} s   peak {r['peak_mb']:7.0f} MB")
    ingest = results["petakota_ingest"]["seconds"]
    ratios = {
        "ingest / pyarrow parse (target <= 8)": ingest / results["pyarrow_parse"]["seconds"],
        "naive / ingest (target >= 3)": results["naive_geopandas"]["seconds"] / ingest,
        "ingest peak memory GB (target <= 2)": results["petakota_ingest"]["peak_mb"] / 1024,
    }
    if "petakota_ingest_postgis" in results:
        ratios["postgis / sqlite ingest (target <= 2)"] = (
            results["petakota_ingest_postgis"]["seconds"] / ingest)
    for name, value in ratios.items():
        print(f"{name:40s} {value:6.2f}")
    print(json.dumps({"rows": rows, "results": results, "ratios": ratios}))


if __name__ == "__main__":
    main()
