"""Ingest limits: values longer than their column, and files of many rejected rows.

Both databases must treat an over-long text the same way (its row is rejected with a reason),
and a file of hundreds of thousands of bad rows must ingest in bounded memory with a small
stored report, its rejected rows complete in the rejected-rows CSV.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from geo import settings
from tests.conftest import ROOT
from tests.webmap.test_ingest import HEADER, NOW, stored, write_csv
from webmap.ingest import ingest_measurements
from webmap.models import Upload

GOOD = "1.605,101.405,2024-03-01T08:00:00,{operator},4G,-95,false,,,,5,{device}"


def measurement(minute: int, *, operator: str = "Telkomsel", device: str = "dev-1") -> str:
    return GOOD.format(operator=operator, device=device).replace("08:00", f"08:{minute:02d}")


def stored_report(engine, upload_id: int) -> str:
    """The upload's report as the database holds it (JSON text)."""
    with engine.connect() as conn:
        report = conn.execute(sa.select(Upload.report).where(Upload.id == upload_id)).scalar_one()
    return json.dumps(report)


def test_long_operator_and_device_id_reject_only_their_row(city_engine, options, tmp_path):
    """Before: PostgreSQL refused the whole file ("value too long for type character
    varying(60)"), SQLite stored a 100,002-character operator."""
    options.now = NOW
    at_limit = "O" * settings.MAX_OPERATOR_CHARS
    device_at_limit = "D" * settings.MAX_DEVICE_ID_CHARS
    rows = [
        measurement(0),                                                    # row 2: kept
        measurement(1, operator=at_limit, device=device_at_limit),         # row 3: kept
        measurement(2, operator="O" * (settings.MAX_OPERATOR_CHARS + 1)),  # row 4
        measurement(3, operator="X" * 100_002),                            # row 5
        measurement(4, device="D" * (settings.MAX_DEVICE_ID_CHARS + 1)),   # row 6
        measurement(5, operator=f"  {at_limit}  "),  # row 7: white space around is not counted
    ]
    report = ingest_measurements(city_engine, write_csv(tmp_path / "long.csv", rows), options)
    assert (report["accepted"], report["rejected"]) == (3, 3)
    by_row = {e["row"]: e for e in report["errors"]}
    assert sorted(by_row) == [4, 5, 6]
    assert by_row[4]["column"] == "operator"
    assert by_row[4]["reason"] == "operator is longer than 60 characters; shorten it"
    assert by_row[6]["column"] == "device_id"
    assert by_row[6]["reason"] == "device id is longer than 80 characters; shorten it"
    assert report["errors_by_reason"] == {
        "operator is longer than 60 characters; shorten it": 2,
        "device id is longer than 80 characters; shorten it": 1}
    assert by_row[5]["value"] == "X" * settings.REJECTED_EXAMPLE_VALUE_CHARS + "…"
    kept = stored(city_engine)
    assert [r["operator"] for r in kept] == ["Telkomsel", at_limit, at_limit]
    assert kept[1]["device_id"] == device_at_limit
    with open(report["rejected_csv"], newline="", encoding="utf-8-sig") as handle:
        rejected = list(csv.DictReader(handle))
    assert [int(r["row"]) for r in rejected] == [4, 5, 6]
    assert rejected[1]["operator"] == "X" * 100_002  # the full original text, to fix


# --- a file of many bad rows ----------------------------------------------------------------------

#: One kind of bad row per reason, each in 1/5 of the file.
BAD_ROWS = {
    "latitude is not a number (decimal degrees expected, e.g. 1.6654)":
        "abc,101.405,2024-03-01T08:00:00,XL,4G,-95,false,,,,5,d{i}",
    "technology is not one of 2G, 3G, 4G, 5G (GSM, EDGE, UMTS, HSPA+, LTE, NR... are accepted "
    "too)": "1.605,101.405,2024-03-01T08:00:00,XL,6G,-95,false,,,,5,d{i}",
    "timestamp is in the future; check the phone's clock and the time zone":
        "1.605,101.405,2099-03-01T08:00:00,XL,4G,-95,false,,,,5,d{i}",
    "operator is longer than 60 characters; shorten it":
        "1.605,101.405,2024-03-01T08:00:00," + "X" * 61 + ",4G,-95,false,,,,5,d{i}",
    "outside the kelurahan boundaries of Kota Uji (more than 50 m from any kelurahan)":
        "1.70,101.405,2024-03-01T08:00:00,XL,4G,-95,false,,,,5,d{i}",
}
BAD_FILE_ROWS = 200_000


def write_bad_file(path: Path, rows: int) -> Path:
    """A canonical CSV of ``rows`` bad rows, the kinds of :data:`BAD_ROWS` in turn."""
    kinds = list(BAD_ROWS.values())
    path.write_text("\n".join([HEADER, *(kinds[i % len(kinds)].format(i=i)
                                          for i in range(rows))]) + "\n")
    return path


def cli_environment(db_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for ``flask --app webmap`` in a subprocess on the test's database."""
    return os.environ | {"DATABASE_URL": db_url, "PETAKOTA_INSTANCE": str(tmp_path / "instance"),
                         "FLASK_ARCHIVE_DIR": str(tmp_path / "archive")}


def run_measured(command: list[str], env: dict[str, str], output: Path) -> tuple[int, int]:
    """Run a command; return its exit status and its peak resident memory in bytes (its own
    and its children's: the SQLite writer process too)."""
    with open(output, "wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss * 1024  # Linux reports KiB


def test_many_bad_rows_ingest_in_bounded_memory_with_a_small_report(city_engine, db_url,
                                                                    tmp_path):
    """Before: 200,000 bad rows took 3.9 GB of memory and stored a 326 MB report."""
    path = write_bad_file(tmp_path / "buruk.csv", BAD_FILE_ROWS)
    output = tmp_path / "ingest.json"
    status, peak = run_measured([sys.executable, "-m", "flask", "--app", "webmap", "ingest",
                                 str(path), "--json"], cli_environment(db_url, tmp_path), output)
    assert status == 0, output.read_text()[-3000:]
    report = json.loads(output.read_text())
    assert (report["rows"], report["accepted"], report["rejected"]) == (BAD_FILE_ROWS, 0,
                                                                       BAD_FILE_ROWS)
    share = BAD_FILE_ROWS // len(BAD_ROWS)
    assert report["errors_by_reason"] == dict.fromkeys(BAD_ROWS, share)
    assert report["errors_total"] == BAD_FILE_ROWS
    assert len(report["errors"]) == len(BAD_ROWS) * settings.REJECTED_EXAMPLES_PER_REASON
    assert peak < 1024**3, f"peak memory {peak / 2**20:.0f} MiB"
    assert len(stored_report(city_engine, report["upload_id"]).encode()) <= 2**20
    with open(report["rejected_csv"], newline="", encoding="utf-8-sig") as handle:
        rejected = list(csv.DictReader(handle))
    assert [int(r["row"]) for r in rejected] == list(range(2, BAD_FILE_ROWS + 2))
    reasons = list(BAD_ROWS)
    assert all(r["errors"] == reasons[i % len(reasons)] for i, r in enumerate(rejected))
    assert stored(city_engine) == []


def test_report_keeps_the_first_examples_of_each_reason(city_engine, options, tmp_path,
                                                        monkeypatch):
    examples = 3
    monkeypatch.setattr(settings, "REJECTED_EXAMPLES_PER_REASON", examples)
    options.now = NOW
    report = ingest_measurements(city_engine, write_bad_file(tmp_path / "b.csv", 50), options)
    rows_by_reason: dict[str, list[int]] = {}
    for error in report["errors"]:
        rows_by_reason.setdefault(error["reason"], []).append(error["row"])
    kinds = len(BAD_ROWS)
    assert rows_by_reason == {reason: [2 + k + kinds * n for n in range(examples)]
                              for k, reason in enumerate(BAD_ROWS)}
    assert report["errors_by_reason"] == dict.fromkeys(BAD_ROWS, 50 // kinds)


def test_long_facility_texts_reject_only_their_row(city_engine, options, tmp_path):
    """Before: on PostgreSQL one name over 200 characters (or a dedup key over 160) refused the
    whole facility file with the driver's error; SQLite stored it."""
    from webmap.ingest import import_facilities
    from webmap.models import Facility

    long_name = "Puskesmas " + "N" * 191  # 201 characters
    name_at_limit = "P" * settings.MAX_FACILITY_NAME_CHARS
    path = tmp_path / "fasilitas.csv"
    path.write_text("nama,jenis,lintang,bujur,kondisi,pengelola\n"
                    "Puskesmas Uji,puskesmas,1.6081,101.4181,ada,Dinkes\n"
                    f"{long_name},puskesmas,1.6051,101.4051,ada,Dinkes\n"
                    f"Sekolah Uji,sekolah,1.6021,101.4021,ada,{'O' * 81}\n"
                    f"{name_at_limit},sekolah,1.6031,101.4031,ada,Disdik\n")
    report = import_facilities(city_engine, path, options)
    assert (report["accepted"], report["rejected"]) == (2, 2)
    assert [(e["row"], e["column"], e["reason"]) for e in report["errors"]] == [
        (3, "nama", "name is longer than 200 characters; shorten it"),
        (4, "operator", "operator is longer than 80 characters; shorten it")]
    with city_engine.connect() as conn:
        names = sorted(conn.execute(sa.select(Facility.nama)).scalars())
    assert names == [name_at_limit, "Puskesmas Uji"]
