"""Property tests for geo.measurements: malformed input never crashes, accepted rows are valid."""
from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import measurements
from geo import settings as geo_settings
from geo.errors import InputFileError
from geo.measurements import (
    CANONICAL_COLUMNS,
    MeasurementBatch,
    read_measurements,
    read_ookla_tiles,
)

NOW = datetime(2024, 6, 1, tzinfo=UTC)
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GNETTRACK_HEADER = ["Timestamp", "Longitude", "Latitude", "Operatorname", "NetworkMode", "RSRP",
                    "NRxRSRP", "DL_bitrate", "UL_bitrate", "PINGAVG"]

# Cells that are sometimes valid, sometimes subtly wrong, sometimes CSV-hostile.
CELLS = st.one_of(
    st.sampled_from([
        "", " ", "-", "1.6", "101.4", "-95", "-200", "-24", "-340", "0", "95", "-181", "abc",
        "4G", "LTE", "HSPA+", "GSM", "5G NSA", "NR", "NO SERVICE", "none", "6G", "true", "ya",
        "tidak", "maybe", "2024-03-01T08:00:00", "2024-03-01 08:00:00", "2024-03-01T08:00:00Z",
        "2024-03-01T08:00:00+08:00", "2024-02-30T08:00:00", "2099-01-01T00:00:00",
        "1970-01-01T00:00:00", "2019.12.14_10.16.30", "2019.13.14_10.16.30", "nan", "inf",
        "1e999", "-0.5", '"', '"quoted, value"', "a\tb", "x;y", "1,5", "\u00a0-90\u00a0",
    ]),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def _read(data: bytes, **options) -> MeasurementBatch | None:
    """Read bytes as an uploaded file; None when the file as a whole was refused."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(data)
        try:
            return read_measurements(path, now=NOW, **options)
        except InputFileError:
            return None


def _check_invariants(batch: MeasurementBatch | None) -> None:
    """Check what every accepted row must satisfy, whatever the input."""
    if batch is None:
        return
    frame = batch.frame
    assert len(frame) + len(batch.rejected_rows) == batch.rows
    assert not set(frame["row"]) & set(batch.rejected_rows.tolist())
    assert set(batch.rejected_rows.tolist()) == {p.row for p in batch.problems}
    assert frame["latitude"].between(-90, 90).all()
    assert frame["longitude"].between(-180, 180).all()
    assert (frame["measured_at"] <= NOW.timestamp() + geo_settings.FUTURE_TOLERANCE_S).all()
    assert (frame["measured_at"] >= measurements.EARLIEST_MEASUREMENT_S).all()
    assert frame["technology"].isin(["2G", "3G", "4G", "5G", ""]).all()
    assert (frame.loc[frame["technology"] == "", "no_service"]).all()
    assert frame.loc[frame["no_service"], "signal_dbm"].isna().all()
    for technology, (low, high) in geo_settings.SIGNAL_RANGE_DBM.items():
        signal = frame.loc[(frame["technology"] == technology) & ~frame["no_service"], "signal_dbm"]
        assert signal.between(low, high).all()
        assert not signal.isin(list(geo_settings.SIGNAL_SENTINELS_DBM[technology])).any()
    for column in ("download_mbps", "upload_mbps", "latency_ms", "accuracy_m"):
        assert not (frame[column] < 0).any()
    assert (frame["operator"].str.len() > 0).all()


def _csv(rows: list[list[str]], delimiter: str = ",") -> bytes:
    return "\n".join(delimiter.join(row) for row in rows).encode()


@FEW
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data: bytes) -> None:
    _check_invariants(_read(data))


@FEW
@given(st.text(max_size=400))
def test_random_text_never_crashes(text: str) -> None:
    _check_invariants(_read(text.encode()))


@FEW
@given(st.lists(st.lists(CELLS, min_size=len(CANONICAL_COLUMNS), max_size=len(CANONICAL_COLUMNS)),
                min_size=1, max_size=15),
       st.sampled_from([",", ";", "\t"]))
def test_random_cells_under_a_canonical_header(rows: list[list[str]], delimiter: str) -> None:
    _check_invariants(_read(_csv([list(CANONICAL_COLUMNS), *rows], delimiter)))


@FEW
@given(st.lists(st.lists(CELLS, min_size=len(GNETTRACK_HEADER), max_size=len(GNETTRACK_HEADER)),
                min_size=1, max_size=15))
def test_random_cells_under_a_gnettrack_header(rows: list[list[str]]) -> None:
    _check_invariants(_read(_csv([GNETTRACK_HEADER, *rows], "\t")))


VALID_ROW = ["1.6", "101.4", "2024-03-01T08:00:00", "Telkomsel", "4G", "-95", "false", "10", "2",
             "40", "5", "hp-1"]


@FEW
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 11), CELLS), min_size=1, max_size=10))
def test_truncated_and_extended_lines(edits: list[tuple[int, int, str]]) -> None:
    rows = [list(VALID_ROW) for _ in range(5)]
    for kind, position, cell in edits:
        row = rows[position % len(rows)]
        if kind == 0:
            del row[max(1, position % len(row)):]  # truncated line
        elif kind == 1:
            row.append(cell)  # extra column
        else:
            row[position % len(row)] = cell  # any value in any column
    batch = _read(_csv([list(CANONICAL_COLUMNS), *rows]))
    _check_invariants(batch)


@FEW
@given(st.lists(st.lists(CELLS, min_size=7, max_size=7), min_size=1, max_size=10))
def test_random_ookla_cells_never_crash(rows: list[list[str]]) -> None:
    header = ["quadkey", "tile", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tiles.csv"
        path.write_bytes(_csv([header, *rows]))
        try:
            batch = read_ookla_tiles(path)
        except InputFileError:
            return
    assert len(batch.frame) + len(batch.rejected_rows) == batch.rows
    assert (batch.frame["tests"] >= 1).all()
    assert np.all(batch.frame["avg_d_mbps"] >= 0)


def _same_batches(whole: MeasurementBatch | None, parts: MeasurementBatch | None) -> None:
    assert (whole is None) == (parts is None)
    if whole is None or parts is None:
        return
    assert (whole.rows, whole.format) == (parts.rows, parts.format)
    assert whole.rejected_rows.tolist() == parts.rejected_rows.tolist()
    assert [p.as_dict() for p in whole.problems] == [p.as_dict() for p in parts.problems]
    assert whole.frame.reset_index(drop=True).equals(parts.frame.reset_index(drop=True))
    assert whole.rejected_raw.equals(parts.rejected_raw)


@FEW
@given(st.lists(st.lists(CELLS, min_size=len(CANONICAL_COLUMNS), max_size=len(CANONICAL_COLUMNS)),
                min_size=1, max_size=15),
       st.sampled_from([",", ";", "\t"]), st.integers(1, 4),
       st.lists(st.sampled_from(["", "\r", ",,,", "x,y"]), max_size=3))
def test_reading_in_parts_gives_the_whole_file_result(
        rows: list[list[str]], delimiter: str, chunk_rows: int, odd_lines: list[str]) -> None:
    """Parts end at line breaks and keep file line numbers: a file read a few lines at a time
    gives exactly what reading it at once gives (blank, broken and CR-ended lines included)."""
    lines = [delimiter.join(row) for row in rows]
    for i, odd in enumerate(odd_lines):
        lines.insert((i * 7) % (len(lines) + 1), odd)
    data = "\n".join([delimiter.join(CANONICAL_COLUMNS), *lines]).encode()
    _same_batches(_read(data, chunk_rows=10_000), _read(data, chunk_rows=chunk_rows))
