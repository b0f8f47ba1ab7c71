"""Tests for geo.measurements.

Small hand-written files where the right answer is obvious, then the real G-NetTrack and Ookla files
from ../shared/data.
"""
from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import shapely

from geo import measurements, settings
from geo.errors import InputFileError
from geo.measurements import (
    CANONICAL_COLUMNS,
    MeasurementBatch,
    detect_format,
    read_measurements,
    read_ookla_tiles,
    template_csv,
)

NOW = datetime(2024, 6, 1, tzinfo=UTC)
HEADER = "latitude,longitude,timestamp,operator,technology,signal_dbm,no_service"
GOOD = "1.665,101.447,2024-03-01T08:00:00,Telkomsel,4G,-95,false"
MARCH_1_0100Z = int(datetime(2024, 3, 1, 1, tzinfo=UTC).timestamp())


def write(tmp_path: Path, text: str | bytes, name: str = "upload.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def read(tmp_path: Path, text: str | bytes, **options) -> MeasurementBatch:
    return read_measurements(write(tmp_path, text), now=NOW, **options)


def lines(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def only_problem(batch: MeasurementBatch):
    assert len(batch.problems) == 1, batch.problems
    return batch.problems[0]


# --------------------------------------------------------------------------------------------------
# Canonical CSV: accepted rows
# --------------------------------------------------------------------------------------------------

def test_template_is_accepted_and_has_a_no_service_row(tmp_path):
    batch = read(tmp_path, template_csv())
    assert template_csv().splitlines()[0] == ",".join(CANONICAL_COLUMNS)
    assert (batch.format, batch.rows, len(batch.frame), batch.problems) == ("canonical", 3, 3, [])
    assert batch.frame["no_service"].tolist() == [False, False, True]


def test_frame_has_documented_columns_and_dtypes(tmp_path):
    frame = read(tmp_path, template_csv()).frame
    assert list(frame.columns) == ["row", "latitude", "longitude", "measured_at", "operator",
                                   "technology", "signal_dbm", "no_service", "download_mbps",
                                   "upload_mbps", "latency_ms", "accuracy_m", "device_id"]
    for column in ("row", "measured_at"):
        assert frame[column].dtype == np.int64
    for column in ("latitude", "longitude", "signal_dbm", "download_mbps", "upload_mbps",
                   "latency_ms", "accuracy_m"):
        assert frame[column].dtype == np.float64
    assert frame["no_service"].dtype == bool
    assert frame["operator"].dtype == "str" and frame["technology"].dtype == "str"
    assert frame["device_id"].dtype == object
    assert frame["row"].tolist() == [2, 3, 4]


def test_values_are_converted(tmp_path):
    text = lines("1.5,101.25,2024-03-01T08:00:00, XL ,LTE,-101.5,0,12.5,3.25,45,8,hp-1",
                 header=",".join(CANONICAL_COLUMNS))
    row = read(tmp_path, text).frame.iloc[0]
    assert (row["latitude"], row["longitude"], row["signal_dbm"]) == (1.5, 101.25, -101.5)
    assert (row["operator"], row["technology"], row["device_id"]) == ("XL", "4G", "hp-1")
    assert (row["download_mbps"], row["upload_mbps"], row["latency_ms"], row["accuracy_m"]) == (
        12.5, 3.25, 45.0, 8.0)


def test_missing_optional_values(tmp_path):
    text = lines("1.5,101.25,2024-03-01T08:00:00,,4G,-95,,,,,,", header=",".join(CANONICAL_COLUMNS))
    row = read(tmp_path, text).frame.iloc[0]
    assert row["operator"] == "unknown"
    assert row["device_id"] is None
    assert all(math.isnan(row[c]) for c in ("download_mbps", "upload_mbps", "latency_ms",
                                            "accuracy_m"))
    assert not row["no_service"]


def test_timestamp_without_zone_is_wib(tmp_path):
    frame = read(tmp_path, lines(GOOD)).frame
    assert frame["measured_at"].tolist() == [MARCH_1_0100Z]  # 08:00 WIB is 01:00Z


def test_timestamp_zone_argument(tmp_path):
    frame = read(tmp_path, lines(GOOD), timezone="Asia/Jayapura").frame
    assert frame["measured_at"].tolist() == [MARCH_1_0100Z - 2 * 3600]  # WIT is UTC+9


def test_default_timezone_is_read_from_settings_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "DEFAULT_TIMEZONE", "UTC")
    assert read(tmp_path, lines(GOOD)).frame["measured_at"].tolist() == [MARCH_1_0100Z + 7 * 3600]


@pytest.mark.parametrize("stamp, expected", [
    ("2024-03-01T08:00:00+08:00", MARCH_1_0100Z - 3600),
    ("2024-03-01T01:00:00Z", MARCH_1_0100Z),
    ("2024-03-01 08:00:00", MARCH_1_0100Z),
    ("2024-03-01T08:00:00.750", MARCH_1_0100Z),
    ("2024-03-01T08:00", MARCH_1_0100Z),
])
def test_timestamp_forms(tmp_path, stamp, expected):
    frame = read(tmp_path, lines(f"1.6,101.4,{stamp},T,4G,-95,")).frame
    assert frame["measured_at"].tolist() == [expected]


def test_mixed_zones_in_one_file(tmp_path):
    frame = read(tmp_path, lines("1.6,101.4,2024-03-01T08:00:00,T,4G,-95,",
                                 "1.6,101.4,2024-03-01T08:00:00+08:00,T,4G,-95,",
                                 "1.6,101.4,2024-03-01 09:00:00,T,4G,-95,")).frame
    assert frame["measured_at"].tolist() == [MARCH_1_0100Z, MARCH_1_0100Z - 3600,
                                             MARCH_1_0100Z + 3600]


def test_no_service_row_is_kept_with_nan_signal(tmp_path):
    batch = read(tmp_path, lines("1.6,101.4,2024-03-01T08:00:00,Telkomsel,,,true"))
    row = batch.frame.iloc[0]
    assert batch.problems == []
    assert row["no_service"] and row["technology"] == "" and math.isnan(row["signal_dbm"])


def test_no_service_row_ignores_a_signal_value(tmp_path):
    row = read(tmp_path, lines("1.6,101.4,2024-03-01T08:00:00,T,4G,-200,ya")).frame.iloc[0]
    assert row["no_service"] and row["technology"] == "4G" and math.isnan(row["signal_dbm"])


@pytest.mark.parametrize("word, expected", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Ya", True),
    ("false", False), ("0", False), ("no", False), ("tidak", False), ("", False),
])
def test_no_service_words(tmp_path, word, expected):
    frame = read(tmp_path, lines(f"1.6,101.4,2024-03-01T08:00:00,T,4G,-95,{word}")).frame
    assert frame["no_service"].tolist() == [expected]


@pytest.mark.parametrize("name, expected", [
    ("GSM", "2G"), ("edge", "2G"), ("GPRS", "2G"), ("UMTS", "3G"), ("WCDMA", "3G"),
    ("HSPA+", "3G"), ("HSDPA", "3G"), ("hsupa", "3G"), ("LTE", "4G"), ("LTE-A", "4G"),
    ("4g", "4G"), ("NR", "5G"), ("5G NSA", "5G"), ("5G_SA", "5G"), ("5G", "5G"),
])
def test_technology_names(tmp_path, name, expected):
    frame = read(tmp_path, lines(f"1.6,101.4,2024-03-01T08:00:00,T,{name},-80,")).frame
    assert frame["technology"].tolist() == [expected]


@pytest.mark.parametrize("name", ["NO SERVICE", "no_service", "NONE", "Emergency"])
def test_no_service_technology_name_makes_a_no_service_row(tmp_path, name):
    row = read(tmp_path, lines(f"1.6,101.4,2024-03-01T08:00:00,T,{name},,")).frame.iloc[0]
    assert row["no_service"] and row["technology"] == ""


def test_indonesian_header_aliases(tmp_path):
    header = ("Lintang,Bujur,Tanggal_Waktu,Operator_Seluler,Jaringan,Sinyal_dBm,Tanpa_Layanan,"
              "Unduh_Mbps,Unggah_Mbps,Latensi_ms,Akurasi_m,ID_Perangkat")
    batch = read(tmp_path, lines("1.6,101.4,2024-03-01T08:00:00,Indosat,3G,-80,tidak,5,1,60,4,hp-2",
                                 header=header))
    row = batch.frame.iloc[0]
    assert batch.problems == []
    assert (row["operator"], row["technology"], row["signal_dbm"], row["device_id"]) == (
        "Indosat", "3G", -80.0, "hp-2")
    assert (row["download_mbps"], row["upload_mbps"], row["latency_ms"], row["accuracy_m"]) == (
        5.0, 1.0, 60.0, 4.0)


@pytest.mark.parametrize("header", [
    "lat,lon,time,provider,tech,rsrp", "LAT,LNG,DATETIME,OPERATOR,NETWORK,LEVEL",
    "lat,long,waktu,operator,teknologi,signal", "Latitude,Longitude,Timestamp,Operator,Technology,"
    "Signal (dBm)",
])
def test_english_header_aliases(tmp_path, header):
    batch = read(tmp_path, lines("1.6,101.4,2024-03-01T08:00:00,T,4G,-95", header=header))
    assert (len(batch.frame), batch.problems) == (1, [])


def test_utf8_bom(tmp_path):
    batch = read(tmp_path, b"\xef\xbb\xbf" + lines(GOOD).encode())
    assert (len(batch.frame), batch.problems) == (1, [])


def test_semicolon_delimiter_with_decimal_comma(tmp_path):
    text = lines("1,665;101,447;2024-03-01T08:00:00;Telkomsel;4G;-95,5;false",
                 header=HEADER.replace(",", ";"))
    row = read(tmp_path, text).frame.iloc[0]
    assert (row["latitude"], row["longitude"], row["signal_dbm"]) == (1.665, 101.447, -95.5)


def test_crlf_and_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    text = "\r\n".join([HEADER, GOOD, "", GOOD, ",,,,,,", GOOD]) + "\r\n"
    batch = read(tmp_path, text)
    assert batch.rows == 3
    assert batch.frame["row"].tolist() == [2, 4, 6]


def test_extra_columns_are_ignored(tmp_path):
    batch = read(tmp_path, lines(GOOD + ",catatan", header=HEADER + ",keterangan"))
    assert (len(batch.frame), batch.problems) == (1, [])


def test_signal_column_may_be_absent_when_no_service_is_given(tmp_path):
    text = lines("1.6,101.4,2024-03-01T08:00:00,,true", "1.6,101.4,2024-03-01T08:00:00,4G,false",
                 header="latitude,longitude,timestamp,technology,no_service")
    batch = read(tmp_path, text)
    assert batch.frame["row"].tolist() == [2]
    assert only_problem(batch).reason.startswith("signal is missing")


# --------------------------------------------------------------------------------------------------
# Canonical CSV: row-level problems
# --------------------------------------------------------------------------------------------------

ROW_PROBLEMS = [
    # (row, column, value, reason fragment)
    (",101.4,2024-03-01T08:00:00,T,4G,-95,", "latitude", "", "latitude is missing"),
    ("abc,101.4,2024-03-01T08:00:00,T,4G,-95,", "latitude", "abc", "latitude is not a number"),
    ("91,101.4,2024-03-01T08:00:00,T,4G,-95,", "latitude", "91", "between -90 and 90"),
    ("1.6,,2024-03-01T08:00:00,T,4G,-95,", "longitude", "", "longitude is missing"),
    ("1.6,181,2024-03-01T08:00:00,T,4G,-95,", "longitude", "181", "between -180 and 180"),
    ("1.6,nan,2024-03-01T08:00:00,T,4G,-95,", "longitude", "nan", "not a number"),
    ("1.6,101.4,2024-03-01T08:00:00,T,4G,-30,", "signal_dbm", "-30",
     "outside the plausible RSRP range -140..-44 dBm for 4G"),
    ("1.6,101.4,2024-03-01T08:00:00,T,3G,-130,", "signal_dbm", "-130",
     "outside the plausible RSCP range -120..-25 dBm for 3G"),
    ("1.6,101.4,2024-03-01T08:00:00,T,2G,-40,", "signal_dbm", "-40",
     "outside the plausible RSSI range -113..-51 dBm for 2G"),
    ("1.6,101.4,2024-03-01T08:00:00,T,4G,-200,", "signal_dbm", "-200",
     "sentinel value -200 means 'unknown' in app exports"),
    ("1.6,101.4,2024-03-01T08:00:00,T,3G,-24,", "signal_dbm", "-24",
     "sentinel value -24 means 'unknown' in app exports"),
    ("1.6,101.4,2024-03-01T08:00:00,T,4G,,", "signal_dbm", "", "signal is missing"),
    ("1.6,101.4,2024-03-01T08:00:00,T,4G,strong,", "signal_dbm", "strong", "not a number"),
    ("1.6,101.4,yesterday,T,4G,-95,", "timestamp", "yesterday", "timestamp is not a date"),
    ("1.6,101.4,2024-02-30T08:00:00,T,4G,-95,", "timestamp", "2024-02-30T08:00:00",
     "timestamp is not a date"),
    ("1.6,101.4,2024-03-01,T,4G,-95,", "timestamp", "2024-03-01", "timestamp is not a date"),
    ("1.6,101.4,,T,4G,-95,", "timestamp", "", "timestamp is missing"),
    ("1.6,101.4,2024-06-01T07:10:00,T,4G,-95,", "timestamp", "2024-06-01T07:10:00",
     "in the future"),
    ("1.6,101.4,1970-01-01T07:00:00,T,4G,-95,", "timestamp", "1970-01-01T07:00:00",
     "before 2000-01-01"),
    ("1.6,101.4,2024-03-01T08:00:00,T,6G,-95,", "technology", "6G", "technology is not one of"),
    ("1.6,101.4,2024-03-01T08:00:00,T,,-95,", "technology", "", "technology is missing"),
    ("1.6,101.4,2024-03-01T08:00:00,T,4G,-95,maybe", "no_service", "maybe",
     "no_service must be true or false"),
]


@pytest.mark.parametrize("row, column, value, reason", ROW_PROBLEMS)
def test_row_problem(tmp_path, row, column, value, reason):
    batch = read(tmp_path, lines(GOOD, row, GOOD))
    problem = only_problem(batch)
    assert (problem.row, problem.column, problem.value, problem.file) == (3, column, value,
                                                                          "upload.csv")
    assert reason in problem.reason
    assert batch.rejected_rows.tolist() == [3]
    assert batch.frame["row"].tolist() == [2, 4]
    assert batch.rows == 3


@pytest.mark.parametrize("column", ["download_mbps", "upload_mbps", "latency_ms", "accuracy_m"])
def test_negative_amounts_are_rejected(tmp_path, column):
    values = dict.fromkeys(("download_mbps", "upload_mbps", "latency_ms", "accuracy_m"), "1")
    values[column] = "-1"
    row = "1.6,101.4,2024-03-01T08:00:00,T,4G,-95,false," + ",".join(values.values()) + ",hp"
    problem = only_problem(read(tmp_path, lines(row, header=",".join(CANONICAL_COLUMNS))))
    assert (problem.column, problem.value) == (column, "-1")
    assert "must not be negative" in problem.reason


def test_future_tolerance_is_read_from_settings(tmp_path, monkeypatch):
    text = lines("1.6,101.4,2024-06-01T07:03:00,T,4G,-95,")  # 3 minutes after NOW (00:00Z)
    assert read(tmp_path, text).problems == []
    monkeypatch.setattr(settings, "FUTURE_TOLERANCE_S", 60)
    assert "in the future" in only_problem(read(tmp_path, text)).reason


def test_signal_ranges_are_read_from_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "SIGNAL_RANGE_DBM", {**settings.SIGNAL_RANGE_DBM,
                                                       "4G": (-100.0, -44.0)})
    problem = only_problem(read(tmp_path, lines(GOOD.replace("-95", "-110"))))
    assert "range -100..-44 dBm for 4G" in problem.reason


def test_a_row_with_several_problems_is_rejected_once_with_every_problem(tmp_path):
    batch = read(tmp_path, lines(GOOD, "95,abc,soon,T,6G,-95,maybe"))
    assert [(p.row, p.column) for p in batch.problems] == [
        (3, "latitude"), (3, "longitude"), (3, "timestamp"), (3, "technology"), (3, "no_service")]
    assert batch.rejected_rows.tolist() == [3]
    assert len(batch.frame) == 1


def test_lines_with_a_wrong_number_of_fields_are_rejected(tmp_path):
    batch = read(tmp_path, lines(GOOD, "1.6,101.4,2024-03-01T08:00:00", GOOD + ",extra", GOOD))
    assert batch.rows == 4
    assert batch.rejected_rows.tolist() == [3, 4]
    assert [p.row for p in batch.problems] == [3, 4]
    assert "3 fields but the header has 7 columns" in batch.problems[0].reason
    assert batch.frame["row"].tolist() == [2, 5]


def test_unmatched_quote_is_reported(tmp_path):
    batch = read(tmp_path, lines(GOOD, '1.6,101.4,"2024-03-01T08:00:00,T,4G,-95,'))
    assert "unmatched double quote" in only_problem(batch).reason
    assert batch.frame["row"].tolist() == [2]


def test_write_rejected_csv_keeps_raw_values(tmp_path):
    text = lines(GOOD, "95, 101.40 ,2024-03-01T08:00:00,T,4G,-200,", "1.6,101.4", GOOD)
    batch = read(tmp_path, text)
    out = batch.write_rejected_csv(tmp_path / "rejected.csv")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", *HEADER.split(","), "errors"]
    assert rows[1] == ["3", "95", " 101.40 ", "2024-03-01T08:00:00", "T", "4G", "-200", "",
                       "latitude must be between -90 and 90 degrees; "
                       "sentinel value -200 means 'unknown' in app exports"]
    assert rows[2][:3] == ["4", "1.6", "101.4"] and rows[2][3:8] == [""] * 5
    assert "2 fields but the header has 7 columns" in rows[2][8]
    assert len(rows) == 3


def test_rejected_rows_of_a_semicolon_file_can_be_fixed_and_uploaded_again(tmp_path):
    header = HEADER.replace(",", ";")
    batch = read(tmp_path, lines("1,6;101,4;2024-03-01T08:00:00;T;4G;-95,5;",
                                 "1,6;101,4;2024-03-01T08:00:00;T;4G;-200;", header=header))
    out = batch.write_rejected_csv(tmp_path / "rejected.csv")
    fixed = out.read_text(encoding="utf-8-sig").replace(";-200;", ";-101,5;")
    again = read(tmp_path, fixed)
    assert again.problems == []
    assert again.frame[["latitude", "signal_dbm"]].to_numpy().tolist() == [[1.6, -101.5]]


def test_write_rejected_csv_without_rejections(tmp_path):
    out = read(tmp_path, lines(GOOD)).write_rejected_csv(tmp_path / "none.csv")
    assert out.read_text(encoding="utf-8-sig").splitlines() == ["row," + HEADER + ",errors"]


def test_source_name_is_used_in_problems_and_errors(tmp_path):
    path = write(tmp_path, lines("x,101.4,2024-03-01T08:00:00,T,4G,-95,"))
    batch = read_measurements(path, now=NOW, source_name="tim-a.csv")
    assert batch.source == "tim-a.csv" and batch.problems[0].file == "tim-a.csv"


# --------------------------------------------------------------------------------------------------
# File-level problems
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"", "kosong (0 byte)"),
    (HEADER.encode() + b"\n", "tanpa baris data"),
    (HEADER.encode() + b"\n\n\n", "tanpa baris data"),
    (b"\x89PNG\r\n\x1a\n" + bytes(40), "bukan file CSV: isinya berformat PNG"),
    (b"PK\x03\x04" + bytes(40), "bukan file CSV: isinya berformat ZIP / Excel .xlsx"),
    (b"SQLite format 3\x00" + bytes(40), "berformat SQLite / GeoPackage"),
    (b'{"type": "FeatureCollection", "features": []}\n', "berformat JSON / GeoJSON"),
    (b"\xff\xfel\x00a\x00t\x00", "teks UTF-16; simpan ulang sebagai 'CSV UTF-8'"),
    (b"latitude,longitude\x00\x01\x02", "berisi data biner (byte NUL) pada baris 1, posisi "
                                         "byte 18"),
    (b"\n1,2,3\n", "baris pertama kosong"),
    ((HEADER + "\n1.6,101.4,2024-03-01T08:00:00,Caf\xe9,4G,-95,\n").encode("latin-1"),
     f"bukan teks UTF-8: byte 0xE9 pada posisi {len(HEADER) + 34} (baris 2)"),
    (b"a,b,c\n1,2,3\n", "tidak cocok dengan format yang dikenal. Ditemukan: a, b, c. Yang "
                         "diharapkan"),
    (b"lat,lon\n1,2\n", "tidak memiliki kolom wajib: timestamp, technology"),
    (b"lat,lon,time,tech\n1,2,2024-03-01T08:00:00,4G\n", "signal_dbm atau no_service"),
])
def test_file_problems(tmp_path, content, message):
    with pytest.raises(InputFileError) as caught:
        read(tmp_path, content)
    assert message in str(caught.value)
    assert "upload.csv" in str(caught.value)


def test_file_errors_keep_their_template_for_translation(tmp_path):
    with pytest.raises(InputFileError) as caught:
        read(tmp_path, b"")
    error = caught.value
    assert error.template == "File '%(file)s' kosong (0 byte)."
    assert error.params == {"file": "upload.csv"}
    assert error.template % error.params == error.message


@pytest.mark.parametrize("encoding, order", [("utf-16-le", "little-endian"),
                                             ("utf-16-be", "big-endian")])
def test_utf16_without_bom_is_named(tmp_path, encoding, order):
    with pytest.raises(InputFileError) as caught:
        read(tmp_path, lines(GOOD, GOOD).encode(encoding))
    assert str(caught.value) == (f"File 'upload.csv' tampaknya teks UTF-16 ({order}) tanpa BOM; "
                                 "simpan ulang sebagai 'CSV UTF-8' lalu unggah lagi.")


def test_nul_byte_after_the_first_block_is_refused_with_its_line(tmp_path):
    text = lines(*[GOOD] * 2000).encode() + b"1.6,101.4,2024-03-01T08:00:00,T\x00,4G,-95,\n"
    with pytest.raises(InputFileError, match="byte NUL\\) pada baris 2002"):
        read(tmp_path, text)


@pytest.mark.parametrize("quoted", [False, True])
def test_ten_megabyte_field_names_its_line_not_the_parser(tmp_path, quoted):
    value = "x" * 10_000_000
    field = f'"{value}"' if quoted else value
    text = lines(GOOD, f"1.6,101.4,2024-03-01T08:00:00,{field},4G,-95,", GOOD)
    with pytest.raises(InputFileError) as caught:
        read(tmp_path, text)
    message = str(caught.value)
    assert "straddl" not in message
    assert message.startswith("File 'upload.csv': baris 3 panjangnya 9.5 MiB")
    assert "bukan log pengukuran" in message


@pytest.mark.parametrize("window", [1, 3, 7, 1 << 22])
def test_longest_line_is_found_across_windows(window):
    data = b"ab\ncdefgh\nij\n" + b"k" * 20 + b"\nl"
    assert measurements._longest_line(data, 0, len(data), window) == (20, 13)
    assert measurements._longest_line(data, 3, 12, window) == (6, 3)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="File 'nothing.csv' tidak ditemukan"):
        read_measurements(tmp_path / "nothing.csv")


def test_too_large_file(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(InputFileError,
                       match=r"terlalu besar \(242 byte\): batas unggah 100 byte\. Bagi"):
        read(tmp_path, lines(GOOD, GOOD, GOOD))


def test_unknown_layout_lists_expected_columns():
    with pytest.raises(InputFileError) as caught:
        detect_format(["foo", "bar"])
    assert "Ditemukan: foo, bar" in str(caught.value)
    for expected in ("latitude", "NetworkMode", "quadkey"):
        assert expected in str(caught.value)


def test_unknown_layout_cuts_huge_column_names():
    with pytest.raises(InputFileError) as caught:
        detect_format(["a" * 100_000, *map(str, range(100))])
    assert len(str(caught.value)) < 2000


def test_ookla_file_is_not_read_as_measurements(tmp_path):
    with pytest.raises(InputFileError, match="Ookla"):
        read(tmp_path, "quadkey,avg_d_kbps,avg_u_kbps,avg_lat_ms,tests,devices\n0,1,1,1,1,1\n")


@pytest.mark.parametrize("options", [
    {"format": "xlsx"}, {"timezone": "Mars/Olympus"}, {"now": datetime(2024, 6, 1)},
])
def test_bad_options_raise_value_error(tmp_path, options):
    with pytest.raises(ValueError):
        read_measurements(write(tmp_path, lines(GOOD)), **options)


# --------------------------------------------------------------------------------------------------
# Format detection and G-NetTrack logs
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("columns, expected", [
    (list(CANONICAL_COLUMNS), "canonical"),
    (["Lintang", "Bujur", "Waktu"], "canonical"),
    (["Timestamp", "Longitude", "Latitude", "NetworkMode", "RSRP"], "gnettrack"),
    (["Timestamp", "Longitude", "Latitude", "NetworkTech", "Level", ""], "gnettrack"),
    (["quadkey", "tile", "avg_d_kbps", "avg_u_kbps"], "ookla"),
])
def test_detect_format(columns, expected):
    assert detect_format(columns) == expected


GNETTRACK_HEADER = ("Timestamp\tLongitude\tLatitude\tOperatorname\tNetworkMode\tRSRP\tNRxRSRP\t"
                    "DL_bitrate\tUL_bitrate\tPINGAVG\t")


def gnettrack(*rows: str, header: str = GNETTRACK_HEADER) -> str:
    """Write a G-NetTrack log: tab-separated, CRLF, a trailing tab on every line."""
    return "".join(f"{line}\r\n" for line in (header, *rows))


def test_gnettrack_log_is_detected_and_converted(tmp_path):
    batch = read(tmp_path, gnettrack("2024.03.01_08.00.00\t101.4\t1.6\tTelkomsel\tLTE\t-95\t-\t"
                                     "12500\t800\t45.0\t"))
    row = batch.frame.iloc[0]
    assert (batch.format, batch.problems) == ("gnettrack", [])
    assert (row["measured_at"], row["technology"], row["signal_dbm"]) == (MARCH_1_0100Z, "4G", -95)
    assert (row["download_mbps"], row["upload_mbps"], row["latency_ms"]) == (12.5, 0.8, 45.0)
    assert row["operator"] == "Telkomsel" and math.isnan(row["accuracy_m"])


@pytest.mark.parametrize("mode", ["NO SERVICE", "NONE", "NO_SERVICE", "EMERGENCY"])
def test_gnettrack_no_service_rows_are_kept(tmp_path, mode):
    row = f"2024.03.01_08.00.00\t101.4\t1.6\t-\t{mode}\t-\t-\t0\t0\t-\t"
    batch = read(tmp_path, gnettrack(row))
    accepted = batch.frame.iloc[0]
    assert batch.problems == []
    assert accepted["no_service"] and accepted["technology"] == ""
    assert math.isnan(accepted["signal_dbm"]) and accepted["operator"] == "unknown"


def test_gnettrack_5g_prefers_a_valid_nr_rsrp(tmp_path):
    batch = read(tmp_path, gnettrack(
        "2024.03.01_08.00.00\t101.4\t1.6\tT\t5G\t-95\t-101.0\t0\t0\t-\t",
        "2024.03.01_08.00.01\t101.4\t1.6\tT\t5G\t-96\t-\t0\t0\t-\t",
        "2024.03.01_08.00.02\t101.4\t1.6\tT\t5G\t-97\t-200.0\t0\t0\t-\t",
        "2024.03.01_08.00.03\t101.4\t1.6\tT\tHSPA+\t-70\t-51.0\t0\t0\t-\t",
    ))
    assert batch.frame["signal_dbm"].tolist() == [-101.0, -96.0, -97.0, -70.0]
    assert batch.frame["technology"].tolist() == ["5G", "5G", "5G", "3G"]


def test_gnettrack_problems_name_the_signal_column(tmp_path):
    batch = read(tmp_path, gnettrack(
        "2024.03.01_08.00.00\t101.4\t1.6\tT\tLTE\t-200\t-\t0\t0\t-\t",
        "2024.03.01_08.00.01\t101.4\t1.6\tT\tLTE\t-\t-\t0\t0\t-\t",
        "2024.13.01_08.00.02\t101.4\t1.6\tT\tUNKNOWN\t-90\t-\t0\t0\t-\t",
    ))
    assert [(p.row, p.column, p.value) for p in batch.problems] == [
        (2, "RSRP", "-200"), (3, "RSRP", "-"), (4, "Timestamp", "2024.13.01_08.00.02"),
        (4, "NetworkMode", "UNKNOWN")]


def test_gnettrack_comma_separated_level_variant(tmp_path):
    text = ("Timestamp,Longitude,Latitude,Operatorname,NetworkTech,Level,TESTDOWNLINK,TESTUPLINK\n"
            "2024.03.01_08.00.00,101.4,1.6,XL,3G,-85,2000,500\n"
            "2024.03.01_08.00.01,101.4,1.6,XL,2G,-40,-,-\n")
    batch = read(tmp_path, text)
    assert batch.frame["signal_dbm"].tolist() == [-85.0]
    assert batch.frame["download_mbps"].tolist() == [2.0]
    assert "RSSI range -113..-51 dBm for 2G" in only_problem(batch).reason


# --------------------------------------------------------------------------------------------------
# Ookla tiles (synthetic)
# --------------------------------------------------------------------------------------------------

OOKLA_HEADER = "quadkey,tile,avg_d_kbps,avg_u_kbps,avg_lat_ms,tests,devices"


def tile_bounds(quadkey: str) -> tuple[float, float, float, float]:
    """Compute (west, south, east, north) of a quadkey digit by digit (reference)."""
    x = y = 0
    for digit in quadkey:
        x, y = 2 * x + (int(digit) & 1), 2 * y + (int(digit) >> 1)
    n = 2 ** len(quadkey)

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def test_ookla_tiles_from_quadkeys(tmp_path):
    west, south, east, north = tile_bounds("3100121113332222")
    wkt = shapely.box(west, south, east, north).wkt
    text = "\n".join([OOKLA_HEADER, f'3100121113332222,"{wkt}",34924,43062,4,233,62',
                      "0,,1000,500,20,1,1", "3,,1000,500,20,1,1"]) + "\n"
    batch = read_ookla_tiles(write(tmp_path, text), period="2022-Q3")
    assert (batch.format, batch.rows, batch.problems) == ("ookla", 3, [])
    assert batch.frame.crs.to_epsg() == 4326
    assert batch.frame["quadkey"].tolist() == ["3100121113332222", "0", "3"]
    assert batch.frame["period"].tolist() == ["2022-Q3"] * 3
    assert batch.frame["avg_d_mbps"].tolist() == [34.924, 1.0, 1.0]
    assert batch.frame["tests"].dtype == np.int64
    np.testing.assert_allclose(batch.frame.geometry.iloc[0].bounds, (west, south, east, north))
    np.testing.assert_allclose(batch.frame.geometry.iloc[1].bounds,  # north-west quarter
                               (-180, 0, 0, 85.0511287798), atol=1e-9)
    np.testing.assert_allclose(batch.frame.geometry.iloc[2].bounds,  # south-east quarter
                               (0, -85.0511287798, 180, 0), atol=1e-9)


@pytest.mark.parametrize("row, column, reason", [
    ("3100121113332224,,1,1,1,1,1", "quadkey", "quadkey is not valid"),
    ("3.10012E+15,,1,1,1,1,1", "quadkey", "quadkey is not valid"),
    ('3,"POLYGON((0 0, 1 0, 1 1, 0 0))",1,1,1,1,1', "tile", "does not match its quadkey"),
    ('3,"not wkt",1,1,1,1,1', "tile", "not a WKT polygon"),
    ("3,,-1,1,1,1,1", "avg_d_kbps", "must not be negative"),
    ("3,,1,1,,1,1", "avg_lat_ms", "latency is missing"),
    ("3,,1,1,1,0,1", "tests", "at least 1"),
    ("3,,1,1,1,1.5,1", "tests", "whole number"),
    ("3,,1,1,1,1,-2", "devices", "at least 0"),
])
def test_ookla_row_problems(tmp_path, row, column, reason):
    batch = read_ookla_tiles(write(tmp_path, f"{OOKLA_HEADER}\n0,,1,1,1,1,1\n{row}\n"))
    problem = only_problem(batch)
    assert (problem.row, problem.column) == (3, column)
    assert reason in problem.reason
    assert batch.frame["row"].tolist() == [2]


def test_ookla_missing_columns(tmp_path):
    with pytest.raises(InputFileError, match="tidak memiliki kolom wajib: tests, devices"):
        read_ookla_tiles(write(tmp_path, "quadkey,avg_d_kbps,avg_u_kbps,avg_lat_ms\n0,1,1,1\n"))


# --------------------------------------------------------------------------------------------------
# Real files from ../shared/data
# --------------------------------------------------------------------------------------------------

def _signal_reference(frame: pd.DataFrame, base: str, tech: pd.Series) -> pd.Series:
    """Independent choice of the signal: NRxRSRP on 5G rows when plausible, else the base column."""
    signal = pd.to_numeric(frame[base], errors="coerce")
    if "NRxRSRP" in frame:
        nr = pd.to_numeric(frame["NRxRSRP"], errors="coerce")
        use_nr = (tech == "5G") & nr.between(-140, -44) & ~nr.isin([-200, -340, 0])
        signal = signal.where(~use_nr, nr)
    return signal


def _rejected_reference(frame: pd.DataFrame, signal: pd.Series, tech: pd.Series) -> list[int]:
    """Rows a reader following settings.SIGNAL_* must reject (no other problem in these files)."""
    bad = pd.Series(False, index=frame.index)
    for generation, (low, high) in settings.SIGNAL_RANGE_DBM.items():
        mine = tech == generation
        sentinel = signal.isin(list(settings.SIGNAL_SENTINELS_DBM[generation]))
        bad |= mine & (sentinel | ~signal.between(low, high))
    return (frame.index[bad] + 2).tolist()


@pytest.mark.shared_data
def test_real_ireland_gnettrack_log(shared_data):
    path = shared_data / "measurements" / "gnettrack_pro_5g_ireland_ucc_driving.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    tech = raw["NetworkMode"].map({"5G": "5G", "LTE": "4G", "HSPA+": "3G", "UMTS": "3G"})
    signal = _signal_reference(raw, "RSRP", tech)
    expected_rejected = _rejected_reference(raw, signal, tech)

    batch = read_measurements(path)

    assert batch.format == "gnettrack"
    assert batch.rows == len(raw) == 1155
    assert batch.rejected_rows.tolist() == expected_rejected == [560, 561, 562]
    assert len(batch.frame) == 1152
    assert {(p.column, p.value, p.reason) for p in batch.problems} == {
        ("RSRP", "-200", "sentinel value -200 means 'unknown' in app exports")}
    accepted = batch.frame.set_index("row")
    reference = raw.set_index(raw.index + 2).loc[accepted.index]
    assert (accepted["technology"] == tech.set_axis(raw.index + 2).loc[accepted.index]).all()
    np.testing.assert_array_equal(accepted["signal_dbm"],
                                  signal.set_axis(raw.index + 2).loc[accepted.index])
    np.testing.assert_allclose(accepted["download_mbps"],
                               reference["DL_bitrate"].astype(float) / 1000)
    # HSPA+/UMTS rows carry their RSCP in the RSRP column.
    three_g = accepted["technology"] == "3G"
    assert three_g.sum() == 433
    assert accepted.loc[three_g, "signal_dbm"].between(-85, -51).all()


@pytest.mark.shared_data
def test_real_ireland_timestamps_use_the_given_zone(shared_data):
    path = shared_data / "measurements" / "gnettrack_pro_5g_ireland_ucc_driving.csv"
    first = int(datetime(2019, 12, 14, 10, 16, 30, tzinfo=UTC).timestamp())
    assert read_measurements(path).frame["measured_at"].iloc[0] == first - 7 * 3600  # WIB
    dublin = read_measurements(path, timezone="Europe/Dublin").frame
    assert dublin["measured_at"].iloc[0] == first  # Irish winter time is UTC


@pytest.mark.shared_data
def test_real_senegal_gnettrack_log(shared_data):
    path = shared_data / "measurements" / "gnettrack_pro_datatest_senegal_orange.txt"
    assert b"\t" in path.read_bytes() and b"\r\n" in path.read_bytes()
    raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    tech = raw["NetworkTech"]
    signal = pd.to_numeric(raw["Level"], errors="coerce")
    expected_rejected = _rejected_reference(raw, signal, tech)

    batch = read_measurements(path)

    assert batch.format == "gnettrack"
    assert batch.rows == len(raw) == 40
    assert batch.rejected_rows.tolist() == expected_rejected
    assert (len(expected_rejected), len(batch.frame)) == (14, 26)
    reasons = {p.reason for p in batch.problems}
    assert reasons == {"sentinel value -24 means 'unknown' in app exports",
                       "outside the plausible RSRP range -140..-44 dBm for 4G"}
    accepted = batch.frame.set_index("row")
    reference = raw.set_index(raw.index + 2).loc[accepted.index]
    np.testing.assert_allclose(accepted["download_mbps"],
                               reference["TESTDOWNLINK"].astype(float) / 1000)
    np.testing.assert_allclose(accepted["latency_ms"], reference["PINGAVG"].astype(float))
    assert set(accepted["operator"]) == {"Orange"}


@pytest.mark.shared_data
def test_real_rejected_rows_round_trip(shared_data, tmp_path):
    path = shared_data / "measurements" / "gnettrack_pro_5g_ireland_ucc_driving.csv"
    batch = read_measurements(path)
    out = batch.write_rejected_csv(tmp_path / "rejected.csv")
    again = read_measurements(out)  # the field team fixes and re-uploads this file
    assert again.format == "gnettrack"
    assert again.rejected_rows.tolist() == [2, 3, 4]


@pytest.mark.shared_data
def test_real_ookla_depok_tiles(shared_data):
    path = shared_data / "ookla" / "ookla_tiles_depok_2022q3_from_rds.csv"
    raw = pd.read_csv(path, dtype={"quadkey": str})
    batch = read_ookla_tiles(path, period="2022-Q3")
    assert (batch.format, batch.rows, len(batch.frame), batch.problems) == ("ookla", 621, 621, [])
    given = shapely.from_wkt(raw["tile"].to_numpy())
    assert (shapely.hausdorff_distance(given, batch.frame.geometry.to_numpy()) < 1e-9).all()
    expected = np.array([tile_bounds(key) for key in raw["quadkey"]])
    np.testing.assert_allclose(batch.frame.geometry.bounds.to_numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(batch.frame["avg_d_mbps"], raw["avg_d_kbps"] / 1000)
    assert (batch.frame["tests"] == raw["tests"]).all()
    assert detect_format(list(raw.columns)) == "ookla"


@pytest.mark.shared_data
def test_real_ookla_tile_that_disagrees_with_its_quadkey(shared_data, tmp_path):
    text = (shared_data / "ookla" / "ookla_tiles_depok_2022q3_from_rds.csv").read_text()
    changed = text.replace("106.787109375 -6.30983868009336", "106.7875 -6.30983868009336", 1)
    batch = read_ookla_tiles(write(tmp_path, changed))
    problem = only_problem(batch)
    assert (problem.row, problem.column) == (2, "tile")
    assert len(batch.frame) == 620


@pytest.mark.parametrize("label, expected", [
    ("2022-Q3", "2022-Q3"), ("2022Q3", "2022-Q3"), (" 2022 q3 ", "2022-Q3"),
    ("2022-07", "2022-07"), ("202207", "2022-07"), ("2022", "2022"), ("", None), (None, None)])
def test_ookla_period_has_one_spelling(label, expected):
    from geo.measurements import ookla_period

    assert ookla_period(label) == expected


def test_ookla_file_over_its_limit_is_refused_before_reading(tmp_path, monkeypatch):
    """Tile files are read whole: one larger than a city's tiles is refused (issue 14, memory)."""
    path = write(tmp_path, f"{OOKLA_HEADER}\n" + "0,,1000,500,20,1,1\n" * 200)
    monkeypatch.setattr(settings, "OOKLA_MAX_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputFileError, match="File tile Ookla .* terlalu besar") as error:
        read_ookla_tiles(path, period="2022-Q3")
    assert error.value.params["limit"] == measurements.byte_size(path.stat().st_size - 1)
    monkeypatch.setattr(settings, "OOKLA_MAX_BYTES", path.stat().st_size)
    assert read_ookla_tiles(path, period="2022-Q3").rows == 200


def test_unreadable_ookla_period_is_refused_before_reading(tmp_path):
    from geo.measurements import ookla_period

    with pytest.raises(InputFileError, match="2022-Q3"):
        ookla_period("kuartal tiga")
    with pytest.raises(InputFileError, match="tidak dikenali"):
        read_ookla_tiles(tmp_path / "missing.csv", period="2022-Q5")


def test_parts_are_about_chunk_rows_lines_with_a_small_first_and_last(tmp_path):
    """The reader's parts: ~chunk_rows lines each, a quarter of that first, the last ones halving
    (so a pipeline starts and ends sooner), nothing lost between them."""
    path = tmp_path / "lines.csv"
    path.write_text("a,b\n" + "".join(f"{i:05d},x\n" for i in range(1000)))
    text = measurements._open_csv(path, source_name=None)
    lines = [(stop - start) // len("00000,x\n") for start, stop in text._bounds(100)]
    assert lines == [25, 100, 100, 100, 100, 100, 100, 100, 100, 88, 44, 22, 21]
    assert sum(part.size for part in text.parts(100)) == 1000


def test_reader_refuses_to_finish_before_every_chunk_was_read(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(template_csv())
    reader = measurements.MeasurementReader(path, chunk_rows=1)
    next(iter(reader.chunks()))
    with pytest.raises(RuntimeError, match="before every chunk"):
        reader.finish()


def test_reader_given_the_file_content_reads_nothing_again(tmp_path):
    """``data``: the caller read the file already (the ingest archives and parses one copy)."""
    path = tmp_path / "m.csv"
    path.write_text(template_csv())
    content = path.read_bytes()
    path.unlink()  # only the given content can be read now
    from_memory = measurements.MeasurementReader(path, data=content, chunk_rows=1)
    chunks = list(from_memory.chunks())
    path.write_bytes(content)
    from_file = measurements.MeasurementReader(path, chunk_rows=1)
    expected = list(from_file.chunks())
    assert len(chunks) == len(expected) > 1
    for got, want in zip(chunks, expected):
        pd.testing.assert_frame_equal(got.frame(), want.frame())
    with pytest.raises(InputFileError, match="kosong"):
        measurements.MeasurementReader(path, data=b"")
