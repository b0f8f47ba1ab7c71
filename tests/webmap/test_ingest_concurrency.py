"""Ingests running at the same time, and ingests killed with SIGKILL, on both databases.

A file's rows land whole or not at all; the same file sent twice at once lands once and the
other sender is told it was already ingested (with the first upload's report); different files
sent at once into one city both land completely.  The kills come from the test: the command
line ingest runs in a subprocess and is killed at several moments.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT
from tests.webmap.test_ingest import HEADER, NOW, ROWS, stored, upload_count, write_csv
from tests.webmap.test_ingest_limits import cli_environment
from webmap import store
from webmap.ingest import ingest_measurements
from webmap.models import Measurement, Upload

CITY = "99.01"


def measurement_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Measurement)).scalar_one()


def field_log(path: Path, rows: int, *, day: int = 1, bad_every: int = 0) -> Path:
    """A canonical CSV of ``rows`` distinct measurements inside the test city; with
    ``bad_every``, every such row (the first and the last included) has a bad latitude."""
    lines = []
    for i in range(rows):
        bad = bad_every and (i % bad_every == 0 or i == rows - 1)
        lat = "abc" if bad else f"{1.6001 + (i % 97) * 1e-4:.4f}"
        lines.append(f"{lat},{101.4001 + (i % 193) * 1e-4:.4f},2024-03-{day:02d}T"
                     f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d},XL,4G,"
                     f"{-60 - i % 50},false,,,,,dev-{i}")
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def cli_ingest(path: Path, env: dict[str, str], **options: object) -> subprocess.Popen:
    """``flask --app webmap ingest PATH --json`` started in a subprocess."""
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "webmap", "ingest",
                             str(path), "--json"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **options)


def finished_report(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    assert process.returncode == 0, (out + err).decode()[-3000:]
    return json.loads(out)


# --- the same file twice at once ------------------------------------------------------------------

@contextmanager
def city_write_lock(engine):
    """Hold the city's measurement write lock (as an ingest does) for the block."""
    with store.measurement_write(engine, CITY) as holder:
        holder.stored_hashes()  # SQLite takes the lock with the transaction's first statement
        yield


def test_same_file_twice_at_once_lands_once(city_engine, options, tmp_path, monkeypatch):
    """Both ingests check for an earlier upload before either stores anything (the test holds
    the city's write lock meanwhile).  Before: the second failed with "UNIQUE constraint
    failed" (SQLite) or the driver's error and its SQL (PostgreSQL)."""
    options.now = NOW
    path = write_csv(tmp_path / "day1.csv", ROWS)
    waiting = threading.Semaphore(0)
    measurement_write = store.measurement_write

    @contextmanager
    def counted_write(*args, **kwargs):
        waiting.release()  # this ingest found no earlier upload and now waits for the lock
        with measurement_write(*args, **kwargs) as writer:
            yield writer

    monkeypatch.setattr(store, "measurement_write", counted_write)
    pool = ThreadPoolExecutor(max_workers=2)
    with city_write_lock(city_engine):
        ingests = [pool.submit(ingest_measurements, city_engine, path, options)
                   for _ in range(2)]
        for _ in ingests:
            while not waiting.acquire(timeout=0.05):
                for ingest in ingests:
                    if ingest.done():
                        ingest.result()  # an error in either ingest fails the test now
    reports = sorted((ingest.result() for ingest in ingests),
                     key=lambda report: report["already_ingested"])
    pool.shutdown()
    first, second = reports
    assert (first["already_ingested"], second["already_ingested"]) == (False, True)
    assert second["upload_id"] == first["upload_id"] and second["accepted"] == 0
    assert (second["rejected"], second["duplicates"]) == (first["rejected"],
                                                         first["accepted"] + first["duplicates"])
    assert second["errors"] == first["errors"]
    assert upload_count(city_engine) == 1 and len(stored(city_engine)) == first["accepted"] == 2


def test_same_file_twice_at_once_through_the_command_line(city_engine, db_url, tmp_path):
    path = field_log(tmp_path / "hari1.csv", 30_000)
    env = cli_environment(db_url, tmp_path)
    reports = sorted((finished_report(p) for p in [cli_ingest(path, env) for _ in range(2)]),
                     key=lambda report: report["already_ingested"])
    first, second = reports
    assert (first["accepted"], first["already_ingested"]) == (30_000, False)
    assert second["already_ingested"] is True and second["upload_id"] == first["upload_id"]
    assert upload_count(city_engine) == 1 and measurement_count(city_engine) == 30_000


def test_different_files_at_once_both_land(city_engine, db_url, tmp_path):
    env = cli_environment(db_url, tmp_path)
    paths = [field_log(tmp_path / f"hari{day}.csv", 20_000, day=day) for day in (1, 2)]
    reports = [finished_report(p) for p in [cli_ingest(path, env) for path in paths]]
    assert [r["accepted"] for r in reports] == [20_000, 20_000]
    assert len({r["upload_id"] for r in reports}) == 2
    assert upload_count(city_engine) == 2 and measurement_count(city_engine) == 40_000
    with city_engine.connect() as conn:
        spans = conn.execute(sa.select(Upload.first_row_id, Upload.last_row_id)).all()
    assert sum(last - first + 1 for first, last in spans) == 40_000


# --- SIGKILL during an ingest ---------------------------------------------------------------------

KILLED_ROWS = 200_000
BAD_EVERY = 1000


def _archived(archive: Path, name: str) -> Callable[[], bool]:
    return lambda: any(archive.rglob(name))


def _rejected_csv(archive: Path) -> Callable[[], bool]:
    return lambda: any(archive.rglob("rejected_rows.csv"))


def _last_row_rejected(archive: Path) -> Callable[[], bool]:
    """The rejected-rows CSV holds the file's last line: every row has been read and checked;
    the last rows are being written and the commit is to come."""
    last = f"\n{KILLED_ROWS + 1},"

    def check() -> bool:
        found = list(archive.rglob("rejected_rows.csv"))
        return bool(found) and last in found[0].read_text(encoding="utf-8-sig")[-4000:]
    return check


def _rejected_rows_written(archive: Path, count: int) -> Callable[[], bool]:
    """The rejected-rows CSV has ``count`` rows: several parts of the file have been checked and
    handed to the database writer (the rows of an upload are written as they are checked)."""
    def check() -> bool:
        found = list(archive.rglob("rejected_rows.csv"))
        return bool(found) and found[0].read_bytes().count(b"\n") > count
    return check


KILL_POINTS = {
    "archived": lambda archive: _archived(archive, "besar.csv"),
    "rejected_csv_started": lambda archive: _rejected_csv(archive),
    "rows_being_written": lambda archive: _rejected_rows_written(archive, 60),
    "last_row_read": lambda archive: _last_row_rejected(archive),
}


def kill_when(process: subprocess.Popen, moment: Callable[[], bool]) -> bool:
    """SIGKILL the process as soon as ``moment()`` is true; False if it ended before."""
    while process.poll() is None:
        if moment():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_ingest_leaves_the_whole_upload_or_nothing(city_engine, db_url, options, tmp_path,
                                                          point):
    """Before each kill nothing is committed; after it the database holds the whole upload or
    nothing, and ingesting the file again stores every row."""
    path = field_log(tmp_path / "besar.csv", KILLED_ROWS, bad_every=BAD_EVERY)
    bad = len(range(0, KILLED_ROWS, BAD_EVERY)) + 1
    env = cli_environment(db_url, tmp_path)
    process = cli_ingest(path, env, start_new_session=True)
    killed = kill_when(process, KILL_POINTS[point](tmp_path / "archive"))
    process.communicate()
    uploads, rows = upload_count(city_engine), measurement_count(city_engine)
    assert (uploads, rows) in ((0, 0), (1, KILLED_ROWS - bad))
    if killed and point != "last_row_read":  # the one moment the commit may still win
        assert (uploads, rows) == (0, 0)
    options.archive_dir = tmp_path / "archive"
    report = ingest_measurements(city_engine, path, options)
    assert report["accepted"] + report["duplicates"] == KILLED_ROWS - bad
    assert report["rejected"] == bad
    assert upload_count(city_engine) == 1
    assert measurement_count(city_engine) == KILLED_ROWS - bad
