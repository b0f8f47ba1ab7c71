"""Benchmark: ingest of files whose every row is rejected (issue 14, defect 10).

For each size, a canonical CSV of bad rows (five reasons in turn: a latitude that is not a
number, an unknown technology, a future timestamp, an over-long operator, a point outside the
city) is ingested with ``flask --app webmap ingest --json`` as a fresh command into a fresh
SQLite database (or the empty database of ``--database-url``) holding a two-kelurahan test
city.  Printed per size: file size, time of the whole command, peak resident memory (the
command and its SQLite writer process), size of the report stored with the upload, size of the
rejected-rows CSV and the growth of the database file.

Target: memory <= 1 GB and stored report <= 1 MB whatever the file.  ``--megabytes`` measures
instead a good file and a bad file of about that size each (the memory at the upload limit: a
file over ``geo.settings.INGEST_IN_MEMORY_MAX_BYTES`` is read from disk, never held whole).

    .venv/bin/python scripts/bench_bad_rows.py [--rows 100000 200000]
    .venv/bin/python scripts/bench_bad_rows.py --megabytes 500
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


def write_good_file(path: Path, megabytes: float) -> Path:
    """A canonical CSV of distinct accepted rows inside the test city, about ``megabytes`` MB."""
    start = 1_709_280_000  # 2024-03-01 08:00 UTC, a second per row
    limit = int(megabytes * 1e6)
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        i = 0
        while out.tell() < limit:
            lines = [f"{1.6001 + (j % 997) * 1e-5:.5f},{101.4001 + (j % 1993) * 1e-5:.5f},"
                     f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start + j))},XL,4G,"
                     f"{-60 - j % 50},false,12.5,3.1,40,5,d{j}\n" for j in range(i, i + 100_000)]
            out.write("".join(lines))
            i += len(lines)
    return path


def write_bad_megabytes(path: Path, megabytes: float) -> Path:
    """A canonical CSV of rejected rows (as :func:`write_bad_file`), about ``megabytes`` MB."""
    line = sum(len(row) + 7 for row in BAD_ROWS) / len(BAD_ROWS)
    return write_bad_file(path, int(megabytes * 1e6 / line))


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
    figures = measure_file(folder, write_bad_file(folder / "buruk.csv", rows), database_url)
    assert figures["rejected"] == rows, figures
    return figures


def measure_file(folder: Path, path: Path, database_url: str | None) -> dict[str, float]:
    """Ingest ``path`` into a fresh database holding the test city; return the figures."""
    database = folder / "petakota.db"
    url = database_url or f"sqlite:///{database}"
    env = os.environ | {"DATABASE_URL": url, "PETAKOTA_INSTANCE": str(folder / "instance"),
                        "FLASK_ARCHIVE_DIR": str(folder / "archive")}
    flask(["init-db"], env, folder / "init.txt")
    flask(["import-boundaries", str(write_city(folder / "kota.geojson"))], env,
          folder / "boundaries.txt")
    before = database.stat().st_size if database.exists() else 0
    seconds, peak = flask(["ingest", str(path), "--json"], env, folder / "report.json")
    report = json.loads((folder / "report.json").read_text())
    after = database.stat().st_size if database.exists() else 0
    rejected_csv = Path(report["rejected_csv"]) if report["rejected_csv"] else None
    return {"rows": report["rows"], "accepted": report["accepted"],
            "rejected": report["rejected"], "file_mb": path.stat().st_size / 1e6,
            "seconds": seconds, "peak_mb": peak / 1e6,
            "report_kb": stored_report_bytes(url, report["upload_id"]) / 1e3,
            "csv_mb": rejected_csv.stat().st_size / 1e6 if rejected_csv else 0.0,
            "database_growth_mb": (after - before) / 1e6}


def _print_row(label: str, figures: dict[str, float]) -> None:
    print(f"{label:>6} {figures['rows']:>10,} {figures['file_mb']:>8.1f} "
          f"{figures['seconds']:>8.1f} {figures['peak_mb']:>8.0f} {figures['report_kb']:>10.1f} "
          f"{figures['csv_mb']:>7.1f} {figures['database_growth_mb']:>13.2f}", flush=True)


def main() -> None:
    """Measure each size and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 200_000])
    parser.add_argument("--megabytes", type=float, help="instead of --rows: a good file and a "
                        "bad file of about this size (e.g. 500, near the upload limit)")
    parser.add_argument("--database-url", help="an empty database instead of a fresh SQLite "
                        "file (the database growth is then not measured)")
    args = parser.parse_args()
    print(f"{'file':>6} {'rows':>10} {'file MB':>8} {'seconds':>8} {'peak MB':>8} "
          f"{'report kB':>10} {'CSV MB':>7} {'db growth MB':>13}", flush=True)
    if args.megabytes:
        for label, write in (("good", write_good_file), ("bad", write_bad_megabytes)):
            with tempfile.TemporaryDirectory(prefix="petakota-upload-limit-") as folder:
                path = write(Path(folder) / f"{label}.csv", args.megabytes)
                _print_row(label, measure_file(Path(folder), path, args.database_url))
        return
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="petakota-bad-rows-") as folder:
            _print_row("bad", measure(Path(folder), rows, args.database_url))


if __name__ == "__main__":
    main()
