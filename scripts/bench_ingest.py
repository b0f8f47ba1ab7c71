"""Benchmark: ingest of a 1,000,000-row canonical coverage CSV, against baselines in the same run.

Measured, each in its own subprocess (so peak memory is that phase's alone; the work is timed
apart from the phase's imports, and both are printed):
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

#: Each phase: (imports, work).  Both are timed; the targets compare the work, which is what
#: a running server does for an upload (it imported its libraries when it started).  The cold
#: figures (a fresh interpreter's imports included) are printed beside them.
PHASES = {
    "pyarrow_parse": ("""
import pyarrow.csv as c
""", """
t = c.read_csv(ARGS['csv'])
assert t.num_rows == ARGS['rows']
"""),
    "naive_geopandas": ("""
import pandas as pd, geopandas as gpd, sqlalchemy as sa
""", """
df = pd.read_csv(ARGS['csv'])
kel = gpd.read_file(ARGS['boundaries'])
pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.longitude, df.latitude), crs=4326)
joined = gpd.sjoin(pts, kel[['kode', 'geometry']], how='left', predicate='within')
joined = joined.drop(columns=['geometry', 'index_right'])
engine = sa.create_engine('sqlite:///' + ARGS['naive_db'])
joined.to_sql('measurement', engine, index=False, if_exists='replace', chunksize=100_000)
"""),
    "petakota_ingest": ("""
from pathlib import Path
from webmap.database import create_db_engine
from webmap.ingest import IngestOptions, ingest_measurements
""", """
engine = create_db_engine(ARGS['db_url'])
report = ingest_measurements(engine, Path(ARGS['csv']),
                             IngestOptions(archive_dir=Path(ARGS['archive']), uploaded_by='bench'))
assert report['accepted'] == ARGS['rows'], {k: report[k] for k in ('rows', 'accepted', 'rejected', 'duplicates')}
"""),
}

_MEASURE = """
import time
_t0 = time.perf_counter()
{imports}
_t1 = time.perf_counter()
{work}
_t2 = time.perf_counter()
print('IMPORTS', _t1 - _t0)
print('SECONDS', _t2 - _t1)
import resource, threading
for _thread in threading.enumerate():  # e.g. the one reaping the SQLite writer process
    if _thread is not threading.main_thread():
        _thread.join()
print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print('CHILD_MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _run_phase(name: str, args: dict) -> dict:
    """Run one phase in a fresh interpreter; return its seconds (work, and imports) and the peak
    memory of the process plus that of its largest child process (an upper bound)."""
    imports, work = PHASES[name]
    code = f"ARGS = {args!r}\n" + _MEASURE.format(imports=imports, work=work)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stderr[-3000:]}")
    values = dict(line.split() for line in out.stdout.splitlines()
                  if line.startswith(("SECONDS", "IMPORTS", "MAXRSS", "CHILD_MAXRSS")))
    return {"seconds": float(values["SECONDS"]), "imports": float(values["IMPORTS"]),
            "peak_mb": (int(values["MAXRSS_KB"]) + int(values["CHILD_MAXRSS_KB"])) / 1024}


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
    print(f"{'phase':26s} {'work':>9s} {'imports':>9s} {'cold':>9s}   peak (process + child)")
    for name, r in results.items():
        print(f"{name:26s} {r['seconds']:7.2f} s {r['imports']:7.2f} s "
              f"{r['seconds'] + r['imports']:7.2f} s   {r['peak_mb']:7.0f} MB")
    ratios = _ratios(results, "seconds")
    for name, value in ratios.items():
        print(f"{name:40s} {value:6.2f}")
    cold = {name: r | {"seconds": r["seconds"] + r["imports"]} for name, r in results.items()}
    print("same ratios with each phase's imports included (a fresh command-line process):")
    for name, value in _ratios(cold, "seconds").items():
        if "memory" not in name:
            print(f"  {name:38s} {value:6.2f}")
    print(json.dumps({"rows": rows, "results": results, "ratios": ratios,
                      "ratios_with_imports": _ratios(cold, "seconds")}))


def _ratios(results: dict, key: str) -> dict[str, float]:
    ingest = results["petakota_ingest"][key]
    ratios = {
        "ingest / pyarrow parse (target <= 8)": ingest / results["pyarrow_parse"][key],
        "naive / ingest (target >= 3)": results["naive_geopandas"][key] / ingest,
        "ingest peak memory GB (target <= 2)": results["petakota_ingest"]["peak_mb"] / 1024,
    }
    if "petakota_ingest_postgis" in results:
        ratios["postgis / sqlite ingest (target <= 2)"] = (
            results["petakota_ingest_postgis"][key] / ingest)
    return ratios


if __name__ == "__main__":
    main()
