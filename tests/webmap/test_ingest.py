"""Ingest of coverage files into SQLite and PostGIS: counts, errors, idempotency, atomicity."""
from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

import h3

from geo.errors import InputFileError
from tests.webmap.conftest import KEL_A, KEL_B
from webmap.ingest import ingest_measurements
from webmap.models import Measurement, Upload

HEADER = ("latitude,longitude,timestamp,operator,technology,signal_dbm,no_service,"
          "download_mbps,upload_mbps,latency_ms,accuracy_m,device_id")
GOOD_A = "1.605,101.405,2024-03-01T08:00:00,Telkomsel,4G,-95,false,10.5,2.1,40,5,dev-1"
GOOD_B_NO_SERVICE = "1.605,101.415,2024-03-01T08:01:00,Telkomsel,4G,,true,,,,5,dev-1"
ROWS = [
    GOOD_A,                                                              # row 2: kelurahan A
    GOOD_B_NO_SERVICE,                                                   # row 3: B, no service
    "1.605,101.415,2024-03-01T08:02:00,Indosat,3G,-200,false,,,,5,dev-1",  # row 4: sentinel
    "abc,101.415,2024-03-01T08:03:00,XL,4G,-100,false,,,,5,dev-1",       # row 5: bad latitude
    "1.70,101.415,2024-03-01T08:04:00,XL,4G,-100,false,,,,5,dev-1",      # row 6: outside the city
    "1.606,101.406,2099-01-01T00:00:00,XL,4G,-100,false,,,,5,dev-1",     # row 7: future
    "1.606,101.406,2024-03-01T08:05:00,XL,6G,-100,false,,,,5,dev-1",     # row 8: unknown tech
    GOOD_A,                                                              # row 9: duplicate of 2
]
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def stored(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Measurement.__table__).order_by(Measurement.measured_at))
        return [dict(r._mapping) for r in rows]


def upload_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Upload)).scalar_one()


def test_report_counts_every_row_once(city_engine, options, tmp_path):
    options.now = NOW
    report = ingest_measurements(city_engine, write_csv(tmp_path / "day1.csv", ROWS), options)
    assert report["format"] == "canonical"
    assert (report["rows"], report["accepted"], report["rejected"], report["duplicates"]) == \
        (8, 2, 5, 1)
    assert report["rows"] == report["accepted"] + report["rejected"] + report["duplicates"]
    assert sorted({e["row"] for e in report["errors"]}) == [4, 5, 6, 7, 8]


def test_errors_say_row_column_value_and_reason(city_engine, options, tmp_path):
    options.now = NOW
    report = ingest_measurements(city_engine, write_csv(tmp_path / "day1.csv", ROWS), options)
    by_row = {e["row"]: e for e in report["errors"]}
    assert by_row[4]["column"] == "signal_dbm" and "sentinel" in by_row[4]["reason"]
    assert by_row[4]["value"] in ("-200", -200, -200.0)
    assert by_row[5]["column"] == "latitude" and by_row[5]["value"] == "abc"
    assert "outside" in by_row[6]["reason"] and "Kota Uji" in by_row[6]["reason"]
    assert by_row[7]["column"] == "timestamp" and "future" in by_row[7]["reason"]
    assert by_row[8]["column"] == "technology" and by_row[8]["value"] == "6G"
    assert all(e["file"] == "day1.csv" for e in report["errors"])


def test_rejected_rows_downloadable_as_csv(city_engine, options, tmp_path):
    options.now = NOW
    report = ingest_measurements(city_engine, write_csv(tmp_path / "day1.csv", ROWS), options)
    with open(report["rejected_csv"], newline="", encoding="utf-8-sig") as handle:
        rejected = list(csv.DictReader(handle))
    assert [int(r["row"]) for r in rejected] == [4, 5, 6, 7, 8]
    assert rejected[1]["latitude"] == "abc"  # original raw value, not a parsed one
    assert "outside" in rejected[2]["errors"]


def test_stored_rows_carry_kelurahan_h3_and_utc_time(city_engine, options, tmp_path):
    options.now = NOW
    ingest_measurements(city_engine, write_csv(tmp_path / "day1.csv", ROWS), options)
    rows = stored(city_engine)
    assert [r["kelurahan_kode"] for r in rows] == [KEL_A, KEL_B]
    first, second = rows
    assert first["measured_at"] == int(datetime(2024, 3, 1, 1, 0, tzinfo=UTC).timestamp())
    assert first["h3_cell"] == h3.str_to_int(h3.latlng_to_cell(1.605, 101.405, 9))
    assert first["signal_dbm"] == -95 and first["no_service"] is False
    assert first["download_mbps"] == pytest.approx(10.5)
    assert second["no_service"] is True and second["signal_dbm"] is None


def test_same_file_twice_adds_nothing_and_says_so(city_engine, options, tmp_path):
    options.now = NOW
    path = write_csv(tmp_path / "day1.csv", ROWS)
    first = ingest_measurements(city_engine, path, options)
    again = ingest_measurements(city_engine, path, options)
    assert again["already_ingested"] is True
    assert again["accepted"] == 0 and again["upload_id"] == first["upload_id"]
    assert "already ingested" in again["message"]
    assert len(stored(city_engine)) == 2 and upload_count(city_engine) == 1


def test_rows_already_stored_count_as_duplicates(city_engine, options, tmp_path):
    options.now = NOW
    ingest_measurements(city_engine, write_csv(tmp_path / "day1.csv", ROWS), options)
    new_row = "1.607,101.407,2024-03-02T09:00:00,XL,4G,-101,false,,,,,"
    report = ingest_measurements(
        city_engine, write_csv(tmp_path / "day2.csv", [GOOD_A, GOOD_B_NO_SERVICE, new_row]),
        options)
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (1, 2, 0)
    assert len(stored(city_engine)) == 3


def test_point_in_sliver_gap_near_the_city_is_kept(city_engine, options, tmp_path):
    near_edge = "1.605,101.4202,2024-03-01T08:00:00,XL,4G,-90,false,,,,,"  # ~22 m east of B
    far = "1.605,101.43,2024-03-01T08:00:00,XL,4G,-90,false,,,,,"  # ~1.1 km east of B
    options.now = NOW
    report = ingest_measurements(city_engine, write_csv(tmp_path / "edge.csv", [near_edge, far]),
                                 options)
    assert (report["accepted"], report["rejected"]) == (1, 1)
    assert stored(city_engine)[0]["kelurahan_kode"] == KEL_B


def test_file_level_problem_stores_nothing_but_archives(city_engine, options, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("nama,alamat\nBudi,Jl. Sudirman\n")
    with pytest.raises(InputFileError) as excinfo:
        ingest_measurements(city_engine, bad, options)
    assert "notes.csv" in str(excinfo.value)
    assert upload_count(city_engine) == 0 and stored(city_engine) == []
    assert list((tmp_path / "archive").rglob("notes.csv"))


def test_archive_of_content_already_read_equals_the_archive_of_the_file(tmp_path):
    """The ingest reads a file once and archives that content: same hash, bytes and mode."""
    from webmap.archive import archive_file

    path = tmp_path / "m.csv"
    path.write_bytes(b"latitude,longitude\n1.6,101.4\n")
    from_file = archive_file(path, tmp_path / "a1")
    from_memory = archive_file(path, tmp_path / "a2", data=path.read_bytes())
    assert from_memory.sha256 == from_file.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert from_memory.path.read_bytes() == path.read_bytes()
    assert from_memory.path.stat().st_mode == from_file.path.stat().st_mode
    assert from_memory.size_bytes == from_file.size_bytes


def test_swapped_latitude_longitude_rejects_whole_file(city_engine, options, tmp_path):
    header = HEADER.replace("latitude,longitude", "longitude,latitude")
    path = tmp_path / "swapped.csv"
    path.write_text("\n".join([header, GOOD_A, GOOD_B_NO_SERVICE]) + "\n")
    with pytest.raises(InputFileError, match="swapped"):
        ingest_measurements(city_engine, path, options)
    assert stored(city_engine) == [] and upload_count(city_engine) == 0


def test_unknown_city_is_a_clear_error(city_engine, options, tmp_path):
    from geo.errors import NotFoundError

    options.city_kode = "14.72"
    with pytest.raises(NotFoundError, match="14.72"):
        ingest_measurements(city_engine, write_csv(tmp_path / "d.csv", [GOOD_A]), options)
