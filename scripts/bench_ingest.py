"""Benchmark: ingest of a 1,000,000-row canonical coverage CSV, against baselines in the same run.

Measured, each in its own subprocess (so peak memory is that phase's alone; the work is timed
apart from the phase's imports, and both are printed):
  * petakota ingest into SQLite (parse, validate, kelurahan + H3 tagging, store);
  * the plain ``pyarrow.csv.read_csv`` of the same file (lower bound: parsing only);
  * a naive geopandas pipeline: ``pandas.read_csv``, ``points_from_xy``, ``sjoin``, ``to_sql``;
  * petakota ingest into PostgreSQL + PostGIS (a throwaway server started here).

Targets (issue #2): ingest <= 8x the pyarrow parse, >= 3x faster than the naive pipeline, peak
memory <= 2 GB, PostGIS ingest <= 2x the SQLite ingest.

The phases run ``--repeat`` times (default 3) in rounds, one of each phase per round, so that a
slow spell of a shared machine (its speed varies by up to ~45% from one minute to the next)
falls on every phase alike.  Every round's figures and ratios are printed; the ratios against
the targets are those of the phases' medians.  Each ingest gets a fresh database (a copy of one
prepared with the demo city's boundaries).

    .venv/bin/python scripts/bench_ingest.py [--rows 1000000] [--repeat 3] [--no-postgis]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
    os.sync()  # the previous phase's written files go to disk now, not during this phase
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
    engine = create_db_engine(sqlite_url(folder / "bench.db"))
    upgrade_database(engine)
    import_boundaries(engine, boundaries, IngestOptions(archive_dir=folder / "archive"))
    engine.dispose()
    return {"csv": str(csv), "rows": rows, "boundaries": str(boundaries),
            "template_db": str(folder / "bench.db"), "size_mb": csv.stat().st_size / 2**20}


def _start_postgis(folder: Path, args: dict) -> object:
    """A throwaway PostGIS server with a database ``bench`` (migrated, the demo boundaries) that
    each round clones."""
    from tests.pgserver import PostgisServer
    from webmap.database import create_db_engine, upgrade_database
    from webmap.ingest import IngestOptions, import_boundaries

    server = PostgisServer().start()
    try:
        server.execute("CREATE DATABASE bench")
        server.execute("CREATE EXTENSION postgis", "bench")
        engine = create_db_engine(server.url("bench"))
        upgrade_database(engine)
        import_boundaries(engine, Path(args["boundaries"]),
                          IngestOptions(archive_dir=folder / "archive_pg"))
        engine.dispose()
    except BaseException:
        server.stop()
        raise
    return server


def main() -> None:
    """Run the phases in rounds and print the figures and the ratios against the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--no-postgis", action="store_true")
    options = parser.parse_args()
    if options.rows < 1 or options.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="petakota-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        args = _prepare(folder, options.rows)
        print(f"generated {options.rows:,} rows ({args['size_mb']:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        server = None if options.no_postgis else _start_postgis(folder, args)
        rounds: list[dict] = []
        try:
            for number in range(1, options.repeat + 1):
                rounds.append(_run_round(folder, args, server, number))
                _print_round(number, rounds[-1])
        finally:
            if server is not None:
                server.stop()
    _report(rounds, options.rows)


def _run_round(folder: Path, args: dict, server: object | None, number: int) -> dict:
    """One run of every phase, each ingest into a fresh database."""
    from webmap.database import sqlite_url

    results = {"pyarrow_parse": _run_phase("pyarrow_parse", args)}
    db = folder / f"bench_{number}.db"
    shutil.copyfile(args["template_db"], db)
    results["petakota_ingest"] = _run_phase("petakota_ingest", args | {
        "db_url": sqlite_url(db),
        "archive": str(folder / f"archive_{number}")})
    if server is not None:
        name = f"bench_{number}"
        server.execute(f"CREATE DATABASE {name} TEMPLATE bench")
        results["petakota_ingest_postgis"] = _run_phase("petakota_ingest", args | {
            "db_url": server.url(name), "archive": str(folder / f"archive_pg_{number}")})
        server.execute(f"DROP DATABASE {name}")
    results["naive_geopandas"] = _run_phase("naive_geopandas", args | {
        "naive_db": str(folder / f"naive_{number}.db")})
    return results


def _print_round(number: int, results: dict) -> None:
    figures = ", ".join(f"{name} {r['seconds']:.2f} s" for name, r in results.items())
    ratios = ", ".join(f"{name.split(' (')[0]} {value:.2f}"
                       for name, value in _ratios(results, "seconds").items()
                       if "memory" not in name)
    print(f"round {number}: {figures}\n         {ratios}", flush=True)


def _median_results(rounds: list[dict]) -> dict:
    """Per phase: the median work and imports over the rounds, the largest peak memory."""
    return {name: {"seconds": statistics.median(r[name]["seconds"] for r in rounds),
                   "imports": statistics.median(r[name]["imports"] for r in rounds),
                   "peak_mb": max(r[name]["peak_mb"] for r in rounds),
                   "runs": [round(r[name]["seconds"], 3) for r in rounds]}
            for name in rounds[0]}


def _report(rounds: list[dict], rows: int) -> None:
    results = _median_results(rounds)
    print(f"\nmedians of {len(rounds)} round(s):")
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
    print(json.dumps({"rows": rows, "rounds": len(rounds), "results": results, "ratios": ratios,
                      "ratios_with_imports": _ratios(cold, "seconds"),
                      "round_ratios": [_ratios(r, "seconds") for r in rounds]}))


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
