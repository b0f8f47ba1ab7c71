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

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from geo import measurements, settings
from geo.errors import InputFileError
from tests.peak_memory import run_with_peak
from tests.webmap.test_ingest import HEADER, NOW, stored, write_csv
from webmap.ingest import ingest_measurements
from webmap.models import Measurement, Upload

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
    and its children's: the SQLite writer process too), measured through a small launcher so
    that the test process's own size does not count (see tests/peak_memory.py)."""
    with open(output, "wb") as sink:
        process, peak = run_with_peak(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    return process.returncode, peak


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


# --- a file over the in-memory threshold ----------------------------------------------------------

#: Rows of every kind: both kelurahan, a repeat, bad rows, one outside, multi-byte UTF-8 text.
MIXED_ROWS = [
    measurement(0), measurement(1, operator="Telkomsél"), measurement(0),  # row 4 repeats 2
    GOOD.format(operator="XL ✓", device="d").replace("101.405", "101.415"),
    *(kind.format(i=i) for i, kind in enumerate(BAD_ROWS.values())),
    *(measurement(10 + i, operator="Indosat Ooredoo Hutchison é", device=f"dev-{i}")
      for i in range(40)),
]


def ingest_and_forget(engine, path: Path, options) -> tuple[dict, list[dict], str]:
    """Ingest ``path``; return its report, stored rows and rejected-rows CSV, then delete the
    upload so that the same file can be ingested again."""
    report = ingest_measurements(engine, path, options)
    rows = [{k: v for k, v in row.items() if k not in ("id", "upload_id")}
            for row in stored(engine)]
    rejected = Path(report["rejected_csv"]).read_text(encoding="utf-8-sig")
    with engine.begin() as conn:
        conn.execute(sa.delete(Measurement.__table__))
        conn.execute(sa.delete(Upload.__table__))
    comparable = {k: v for k, v in report.items() if k not in ("upload_id", "message")}
    return comparable, rows, rejected


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_file_over_the_threshold_is_read_from_disk_with_the_same_outcome(
        city_engine, options, tmp_path, monkeypatch, quoted):
    """A file over ``INGEST_IN_MEMORY_MAX_BYTES`` (lowered here) is parsed from disk in small
    parts and blocks (some ending inside a multi-byte character): same report, rows and
    rejected-rows CSV as the same file read into memory."""
    options.now = NOW
    quoted_rows = [measurement(59, operator='"Tel, kom"'), measurement(58, operator='"Tel\nkom"'),
                   *MIXED_ROWS[-20:]]  # a line break in a quoted value: no part ends there
    rows = MIXED_ROWS + (quoted_rows if quoted else [])
    path = write_csv(tmp_path / "campur.csv", rows)
    monkeypatch.setattr(settings, "INGEST_CHUNK_ROWS", 7)
    in_memory = ingest_and_forget(city_engine, path, options)
    monkeypatch.setattr(settings, "INGEST_IN_MEMORY_MAX_BYTES", path.stat().st_size - 1)
    monkeypatch.setattr(measurements._FileContent, "BLOCK", 11)
    read_ahead = []
    monkeypatch.setattr(Path, "read_bytes", lambda self: read_ahead.append(self) or b"")
    from_disk = ingest_and_forget(city_engine, path, options)
    assert read_ahead == []  # the file was never read whole
    assert from_disk == in_memory
    assert (in_memory[0]["accepted"], in_memory[0]["duplicates"], in_memory[0]["rejected"]) == (
        43 + 2 * quoted, 1 + 20 * quoted, len(BAD_ROWS))


@pytest.mark.parametrize("bad", [b"\xe9", b"\x00"], ids=["latin-1", "nul"])
def test_a_file_over_the_threshold_names_the_same_bad_byte(tmp_path, monkeypatch, bad):
    path = tmp_path / "rusak.csv"
    text = write_csv(tmp_path / "rusak.csv", MIXED_ROWS).read_bytes()
    path.write_bytes(text[:300] + b"Telkomsel" + bad + text[300:])
    with pytest.raises(InputFileError) as in_memory:
        measurements.MeasurementReader(path, now=NOW)
    monkeypatch.setattr(settings, "INGEST_IN_MEMORY_MAX_BYTES", 0)
    monkeypatch.setattr(measurements._FileContent, "BLOCK", 11)
    with pytest.raises(InputFileError) as from_disk:
        measurements.MeasurementReader(path, now=NOW)
    assert str(from_disk.value) == str(in_memory.value)
    assert "posisi byte 309" in str(in_memory.value) or "posisi 309" in str(in_memory.value)


def write_good_file(path: Path, rows: int) -> Path:
    """``rows`` distinct accepted rows in the test city, a second apart."""
    start = int(datetime(2024, 3, 1, 8, tzinfo=UTC).timestamp())
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for first in range(0, rows, 50_000):
            out.write("".join(
                f"{1.6001 + i % 997 * 1e-5:.5f},{101.4001 + i % 1993 * 1e-5:.5f},"
                f"{datetime.fromtimestamp(start + i, UTC):%Y-%m-%dT%H:%M:%S},XL,4G,-70,false,"
                f"12.5,3.1,40,5,d{i}\n" for i in range(first, min(first + 50_000, rows))))
    return path


def test_a_file_over_the_threshold_is_not_held_in_memory(city_file, tmp_path):
    """The peak memory of an ingest of a file over the threshold does not include the file:
    it stays below that of the same ingest reading the file into memory by a good part of the
    file's size, and well under 1 GB (the SQLite writer process counted too).  Before, every
    file was read whole.  On SQLite only: the reader is the same for both databases."""
    rows = 1_200_000  # ~90 MB: the file must stand out of ~600 MB of modules and work space
    path = write_good_file(tmp_path / "besar.csv", rows)
    size = path.stat().st_size
    peaks = {}
    for threshold in (size, size - 1):  # in memory, then from disk
        folder = tmp_path / str(threshold)
        folder.mkdir()
        env = cli_environment(f"sqlite:///{folder / 'petakota.db'}", folder)
        command = [sys.executable, "-m", "tests.webmap.test_ingest_limits", str(threshold)]
        for args in (["init-db"], ["import-boundaries", str(city_file)]):
            assert run_measured(command + args, env, folder.with_suffix(".txt"))[0] == 0
        output = folder.with_suffix(".json")
        status, peaks[threshold] = run_measured(command + ["ingest", str(path), "--json"], env,
                                                output)
        assert status == 0, output.read_text()[-3000:]
        assert json.loads(output.read_text())["accepted"] == rows
    assert peaks[size - 1] < peaks[size] - size / 4, (size, peaks)
    assert peaks[size - 1] < 1024**3 * 3 / 4


if __name__ == "__main__":  # `python -m tests.webmap.test_ingest_limits THRESHOLD <flask args>`
    # The CLI with INGEST_IN_MEMORY_MAX_BYTES set, for the memory test above.
    from flask.cli import main

    settings.INGEST_IN_MEMORY_MAX_BYTES = int(sys.argv.pop(1))
    sys.argv[1:1] = ["--app", "webmap"]
    main()
