"""Benchmark: ingest of files whose every row is rejected (issue 14, defect 10).

For each size, a canonical CSV of bad rows (five reasons in turn: a latitude that is not a
number, an unknown technology, a future timestamp, an over-long operator, a point outside the
city) is ingested with ``flask --app webmap ingest --json`` as a fresh command into a fresh
SQLite database (or the empty database of ``--database-url``) holding a two-kelurahan test
city.  Printed per size: file size, time of the whole command, peak resident memory (the
command and its SQLite writer process), size of the report stored with the upload, size of the
rejected-rows CSV and the growth of the database file.

Target: memory <= 1 GB and stored report <= 1 MB whatever the file.

    .venv/bin/python scripts/bench_bad_rows.py [--rows 100000 200000]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = ("latitude,longitude,timestamp,operator,technology,signal_dbm,no_service,"
          "download_mbps,upload_mbps,latency_ms,accuracy_m,device_id")
BAD_ROWS = (
    "abc,101.405,2024-03-01T08:00:00,XL,4G,-95,false,,,,5,d{i}",
    "1.605,101.405,2024-03-01T08:00:00,XL,6G,-95,false,,,,5,d{i}",
    "1.605,101.405,2099-03-01T08:00:00,XL,4G,-95,false,,,,5,d{i}",
    "1.605,101.405,2024-03-01T08:00:00," + "X" * 61 + ",4G,-95,false,,,,5,d{i}",
    "1.70,101.405,2024-03-01T08:00:00,XL,4G,-95,false,,,,5,d{i}",
)
#: Two 0.01-degree kelurahan squares side by side (the test city of tests/webmap/conftest.py).
SQUARES = {"99.01.01.1001": (101.40, 1.60, 101.41, 1.61),
           "99.01.01.1002": (101.41, 1.60, 101.42, 1.61)}


def write_city(path: Path) -> Path:
    """The boundary GeoJSON of the test city."""
    features = [{"type": "Feature", "properties": {
        "kode": kode, "nama": kode, "kecamatan_kode": "99.01.01", "kecamatan": "Uji",
        "kota_kode": "99.01", "kota": "Kota Uji"}, "geometry": {"type": "Polygon", "coordinates": [
            [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}}
        for kode, (x0, y0, x1, y1) in SQUARES.items()]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def write_bad_file(path: Path, rows: int) -> Path:
    """A canonical CSV of ``rows`` rejected rows."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for i in range(rows):
            out.write(BAD_ROWS[i % len(BAD_ROWS)].format(i=i) + "\n")
    return path


def flask(args: list[str], env: dict[str, str], output: Path) -> tuple[float, int]:
    """Run ``flask --app webmap ARGS``; return its seconds and peak memory in bytes (the
    command's and its children's)."""
    started = time.perf_counter()
    with open(output, "wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "webmap", *args],
                                   cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{output.read_text()[-3000:]}")
    return seconds, usage.ru_maxrss * 1024


def stored_report_bytes(database_url: str, upload_id: int) -> int:
    """Size of the report the upload row holds, as JSON text."""
    import sqlalchemy as sa

    from webmap.models import Upload

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        report = conn.execute(sa.select(Upload.report).where(Upload.id == upload_id)).scalar_one()
    engine.dispose()
    return len(json.dumps(report).encode())


def measure(folder: Path, rows: int, database_url: str | None) -> dict[str, float]:
    """Ingest a file of ``rows`` bad rows into a fresh database; return the figures."""
    database = folder / "petakota.db"
    url = database_url or f"sqlite:///{database}"
    env = os.environ | {"DATABASE_URL": url, "PETAKOTA_INSTANCE": str(folder / "instance"),
                        "FLASK_ARCHIVE_DIR": str(folder / "archive")}
    flask(["init-db"], env, folder / "init.txt")
    flask(["import-boundaries", str(write_city(folder / "kota.geojson"))], env,
          folder / "boundaries.txt")
    before = database.stat().st_size if database.exists() else 0
    path = write_bad_file(folder / "buruk.csv", rows)
    seconds, peak = flask(["ingest", str(path), "--json"], env, folder / "report.json")
    report = json.loads((folder / "report.json").read_text())
    assert report["rejected"] == rows, report
    after = database.stat().st_size if database.exists() else 0
    return {"rows": rows, "file_mb": path.stat().st_size / 1e6, "seconds": seconds,
            "peak_mb": peak / 1e6, "report_kb": stored_report_bytes(url, report["upload_id"]) / 1e3,
            "csv_mb": Path(report["rejected_csv"]).stat().st_size / 1e6,
            "database_growth_mb": (after - before) / 1e6}


def main() -> None:
    """Measure each size and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 200_000])
    parser.add_argument("--database-url", help="an empty database instead of a fresh SQLite "
                        "file (the database growth is then not measured)")
    args = parser.parse_args()
    print(f"{'rows':>9} {'file MB':>8} {'seconds':>8} {'peak MB':>8} {'report kB':>10} "
          f"{'CSV MB':>7} {'db growth MB':>13}")
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="petakota-bad-rows-") as folder:
            figures = measure(Path(folder), rows, args.database_url)
        print(f"{figures['rows']:>9,} {figures['file_mb']:>8.1f} {figures['seconds']:>8.1f} "
              f"{figures['peak_mb']:>8.0f} {figures['report_kb']:>10.1f} "
              f"{figures['csv_mb']:>7.1f} {figures['database_growth_mb']:>13.2f}")


if __name__ == "__main__":
    main()
