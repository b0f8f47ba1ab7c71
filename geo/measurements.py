"""Reading coverage-measurement files uploaded by field teams.

Three layouts are understood:

* the **canonical CSV** documented in ``docs/measurement-csv.md`` (:func:`template_csv` gives an
  example to download),
* **G-NetTrack Pro/Lite logs**, the tab- or comma-separated exports of the Android drive-test app,
* **Ookla open-data performance tiles** (:func:`read_ookla_tiles`).

Reading is parsing and validation only: no database and no boundaries (the caller decides later
whether a point is inside the city and which kelurahan it belongs to).  A problem with the whole
file raises one :class:`~geo.errors.InputFileError`; a problem with a row rejects that row and is
listed, every one of them, in the returned batch so that the field team gets a complete report and
can fix and re-upload only the rejected rows (:meth:`MeasurementBatch.write_rejected_csv`).
Large files can be read part by part (:class:`MeasurementReader`), so that a caller stores the
first rows while the next ones are validated.

Every value is first read as the raw string (``pyarrow.csv``), then converted column by column with
``pyarrow.compute`` and numpy; no Python code runs per row except to build the problem list.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

import geopandas as gpd
import shapely

from geo import settings
from geo.csv_safety import neutralize_formula, neutralize_frame
from geo.errors import N_, InputFileError, Problem

__all__ = [
    "CANONICAL_COLUMNS",
    "MeasurementBatch",
    "MeasurementChunk",
    "MeasurementReader",
    "RejectedRows",
    "RejectedRowsWriter",
    "RejectionCounts",
    "TileBatch",
    "byte_size",
    "check_upload_size",
    "detect_format",
    "read_measurements",
    "ookla_period",
    "read_ookla_tiles",
    "template_csv",
    "upload_too_large",
]

#: Columns of the canonical measurement CSV, in the order of the template.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "latitude", "longitude", "timestamp", "operator", "technology", "signal_dbm", "no_service",
    "download_mbps", "upload_mbps", "latency_ms", "accuracy_m", "device_id",
)

#: Canonical columns a file must have (plus ``signal_dbm`` or ``no_service``).
REQUIRED_COLUMNS: tuple[str, ...] = ("latitude", "longitude", "timestamp", "technology")

#: Header names accepted for each canonical column.  A header is compared after lower-casing it and
#: turning every run of other characters into ``_`` ("Signal (dBm)" -> ``signal_dbm``); when a file
#: has several accepted names for one column, the first in this order wins.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "latitude": ("latitude", "lat", "lintang"),
    "longitude": ("longitude", "lon", "lng", "long", "bujur"),
    "timestamp": ("timestamp", "waktu", "tanggal_waktu", "time", "datetime", "date_time"),
    "operator": ("operator", "provider", "operator_seluler", "operator_name"),
    "technology": ("technology", "teknologi", "tech", "network", "jaringan", "network_type"),
    "signal_dbm": ("signal_dbm", "sinyal_dbm", "sinyal", "signal", "rsrp", "rscp", "rssi", "level",
                   "level_dbm", "signal_strength", "kekuatan_sinyal"),
    "no_service": ("no_service", "tanpa_layanan", "tidak_ada_sinyal", "no_signal"),
    "download_mbps": ("download_mbps", "unduh_mbps", "download", "unduh"),
    "upload_mbps": ("upload_mbps", "unggah_mbps", "upload", "unggah"),
    "latency_ms": ("latency_ms", "latensi_ms", "ping_ms", "latency", "latensi", "ping"),
    "accuracy_m": ("accuracy_m", "akurasi_m", "accuracy", "akurasi"),
    "device_id": ("device_id", "id_perangkat", "perangkat", "device"),
}

#: G-NetTrack log columns (compared case-insensitively) for each canonical column; the first
#: present wins.  ``Level`` is G-NetTrack's signal of the serving technology (RSRP on 4G, RSCP on
#: 3G, RSSI on 2G); logs without it carry the same per-technology value in ``RSRP`` (see
#: :func:`_gnettrack_signal`).  ``TESTDOWNLINK``/``TESTUPLINK`` are speed-test results and
#: ``DL_bitrate``/``UL_bitrate`` the traffic throughput, both in kbps.
GNETTRACK_COLUMNS: dict[str, tuple[str, ...]] = {
    "latitude": ("latitude",),
    "longitude": ("longitude",),
    "timestamp": ("timestamp",),
    "operator": ("operatorname", "operator"),
    "technology": ("networktech", "networkmode"),
    "signal_dbm": ("level", "rsrp"),
    "nr_signal_dbm": ("nrxrsrp",),
    "download_mbps": ("testdownlink", "dl_bitrate"),
    "upload_mbps": ("testuplink", "ul_bitrate"),
    "latency_ms": ("pingavg",),
    "accuracy_m": ("accuracy",),
}

#: Columns an Ookla performance-tile file must have (``tile``, the WKT polygon, is optional).
OOKLA_COLUMNS: tuple[str, ...] = (
    "quadkey", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices",
)

#: Technology names accepted (upper case; ``_``, ``-`` and no separator work instead of a space).
TECHNOLOGY_NAMES: dict[str, str] = {
    **dict.fromkeys(("2G", "GSM", "EDGE", "GPRS", "EGPRS"), "2G"),
    **dict.fromkeys(("3G", "UMTS", "WCDMA", "HSPA", "HSPA+", "HSPAP", "HSDPA", "HSUPA",
                     "DC HSPA+"), "3G"),
    **dict.fromkeys(("4G", "4G+", "LTE", "LTE-A", "LTE+", "LTE CA", "LTE ADVANCED"), "4G"),
    **dict.fromkeys(("5G", "NR", "5G NSA", "5G SA", "NR NSA", "NR SA", "5G NR", "NR5G"), "5G"),
}

#: Network-mode values that mean the phone had no service.  Such a row is kept as a ``no_service``
#: observation: a phone without signal is real evidence of a blank spot.
NO_SERVICE_NAMES: frozenset[str] = frozenset({
    "NO SERVICE", "NONE", "EMERGENCY", "EMERGENCY ONLY", "NO SIGNAL", "NO NETWORK",
    "OUT OF SERVICE", "LIMITED SERVICE", "TANPA LAYANAN", "TIDAK ADA SINYAL", "TIDAK ADA LAYANAN",
})

#: Words accepted in the ``no_service`` column (compared case-insensitively; empty means false).
TRUE_WORDS: frozenset[str] = frozenset({"true", "1", "yes", "ya"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "0", "no", "tidak"})

#: Timestamps earlier than this (UTC epoch seconds, 2000-01-01T00:00:00Z) are rejected: they come
#: from a phone whose clock was never set (1970-01-01 is the classic).  Candidate for
#: ``geo.settings``.
EARLIEST_MEASUREMENT_S = 946_684_800

#: An Ookla ``tile`` polygon may differ from the polygon computed from its quadkey by at most this
#: many degrees (Hausdorff distance; the open data prints 15 significant digits).  Candidate for
#: ``geo.settings``.
TILE_TOLERANCE_DEG = 1e-6

#: Timestamp layout of G-NetTrack logs (device local time, no zone).
GNETTRACK_TIME_FORMAT = "%Y.%m.%d_%H.%M.%S"

#: Name of each technology's signal measure, used in messages.
_SIGNAL_MEASURE = {"5G": "RSRP", "4G": "RSRP", "3G": "RSCP", "2G": "RSSI"}
_GENERATIONS = ("2G", "3G", "4G", "5G")
_NO_TECHNOLOGY = -1
_SNIFF_BYTES = 64 * 1024
#: A line longer than this that the parser cannot read is named in the error (a measurement row
#: is a few hundred bytes; the parser's blocks are 1 MiB).
_LONG_LINE_BYTES = 1 << 20
_PADDING = "__petakota_padding_"
_MIN_TIMESTAMP_CHARS = len("2024-03-01T08:00")
_ZONE_PATTERN = r"(?i)(z|[+-]\d\d(:?\d\d)?)$"
_NUMBER_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_QUADKEY_PATTERN = r"^[0-3]{1,23}$"
#: What a file is when it starts with these bytes (format names, the same in every language).
_BINARY_SIGNATURES = {
    b"\x89PNG": "PNG",
    b"PK\x03\x04": "ZIP / Excel .xlsx",
    b"\xd0\xcf\x11\xe0": "Excel .xls",
    b"%PDF": "PDF",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"\x1f\x8b": "gzip",
    b"SQLite format 3": "SQLite / GeoPackage",
}
#: Text formats recognised by their first non-blank character.
_TEXT_SIGNATURES = {b"{": "JSON / GeoJSON", b"[": "JSON", b"<": "XML / HTML / KML"}


@dataclass
class _Batch:
    """What was read from one file: accepted rows, every problem, and the rejected raw rows."""

    format: str
    source: str
    rows: int
    frame: pd.DataFrame
    problems: list[Problem]
    rejected_rows: np.ndarray
    rejected_raw: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    delimiter: str = field(default=",", repr=False)
    raw: _RawTable | None = field(default=None, repr=False)

    def reject(self, rows: np.ndarray, problems: list[Problem]) -> None:
        """Reject accepted rows for a reason found later (e.g. "outside the city").

        Parameters
        ----------
        rows
            Line numbers (``frame["row"]`` values) of accepted rows to reject.
        problems
            One or more problems per rejected row, listed with the others.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        self.frame = self.frame.loc[~self.frame["row"].isin(rows)].reset_index(drop=True)
        self.problems = sorted([*self.problems, *problems], key=lambda p: int(p.row or 0))
        self.rejected_rows = np.sort(np.concatenate([self.rejected_rows, rows]))
        if self.raw is not None:
            taken = self.raw.table.filter(pa.array(np.isin(self.raw.rows, rows))).to_pandas()
            taken.index = self.raw.rows[np.isin(self.raw.rows, rows)]
            self.rejected_raw = pd.concat([self.rejected_raw, taken]).sort_index()

    def write_rejected_csv(self, path: str | Path) -> Path:
        """Write the rejected rows, as they were in the file, for the field team to fix.

        Parameters
        ----------
        path
            Where to write the CSV: UTF-8 with a byte-order mark (so that Excel shows it correctly),
            semicolon-separated if the upload was, else comma-separated.

        Returns
        -------
        Path
            ``path``.  Columns: ``row`` (line number in the uploaded file), the file's own columns
            with their original text (a text a spreadsheet would run as a formula gets a leading
            ``'``, see :mod:`geo.csv_safety`), then ``errors`` (the reasons of every problem of
            the row, joined with ``"; "``).
        """
        errors = _errors_by_row(self.problems)
        table = _rejected_table(self.rejected_rows, self.rejected_raw,
                                [errors.get(int(r), "") for r in self.rejected_rows])
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            write_rejected_records(handle, table, delimiter=self.delimiter, header=True)
        return Path(path)


def _rejected_table(rows: np.ndarray, records: pd.DataFrame, errors: list[str]) -> pd.DataFrame:
    """The rejected-rows CSV's records: ``row``, the file's own columns, ``errors``."""
    return pd.concat([pd.DataFrame({"row": np.asarray(rows, dtype=np.int64)}),
                      records.reset_index(drop=True),
                      pd.DataFrame({"errors": errors})], axis=1)


def write_rejected_records(handle: Any, table: pd.DataFrame, *, delimiter: str, header: bool
                           ) -> None:
    """Write rejected rows (``row``, the file's columns with their original text, ``errors``) to
    an open text file: the one place where a rejected row is written, whole file or streamed."""
    neutralize_frame(table).to_csv(handle, index=False, header=header, sep=delimiter,
                                   lineterminator="\n")


@dataclass
class RejectedRows:
    """Rejected rows of one part of a file: their original text and their problems.

    Attributes
    ----------
    rows
        Line numbers of the rejected rows, ascending (a row with several problems once).
    records
        The rows' original text under the file's column names, in the order of ``rows``
        (an Arrow table: compact, turned into Python strings a slice at a time when written).
    problems
        Row, column, value and reason of every problem, as four arrays sorted by row.
    """

    rows: np.ndarray
    records: pa.Table
    problems: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def joined(self, other: RejectedRows) -> RejectedRows:
        """These rows and ``other`` (rejected for other reasons, no row in both), in line
        order."""
        if not len(other):
            return self
        if not len(self):
            return other
        rows = np.concatenate([self.rows, other.rows])
        order = np.argsort(rows, kind="stable")
        records = pa.concat_tables([self.records, other.records]).take(pa.array(order))
        problems = [np.concatenate(pair) for pair in zip(self.problems, other.problems,
                                                         strict=True)]
        by_row = np.argsort(problems[0], kind="stable")
        return RejectedRows(rows[order], records, tuple(array[by_row] for array in problems))


class RejectionCounts:
    """A file's problems counted per reason, the first ones kept as examples.

    At most ``settings.REJECTED_EXAMPLES_PER_REASON`` examples per reason and
    ``settings.REJECTED_EXAMPLES_TOTAL`` in all are kept, each value cut to
    ``settings.REJECTED_EXAMPLE_VALUE_CHARS`` characters; at most
    ``settings.REJECTED_REASONS_COUNTED`` reasons are counted by name (the rest as
    :data:`OTHER_REASONS`): memory and report size stay small whatever the file.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.counts: dict[str, int] = {}
        self.examples: list[Problem] = []
        self._per_reason: dict[str, int] = {}

    def add(self, rows: np.ndarray, columns: np.ndarray, values: np.ndarray,
            reasons: np.ndarray) -> None:
        """Count problems (row, column, value and reason arrays, in row order)."""
        self._count(reasons)
        self._keep_examples(rows, columns, values, reasons)

    def add_problems(self, problems: list[Problem]) -> None:
        """Count problems given as :class:`~geo.errors.Problem` objects."""
        self.add(np.array([p.row or 0 for p in problems], dtype=np.int64),
                 np.array([p.column for p in problems], dtype=object),
                 np.array([p.value for p in problems], dtype=object),
                 np.array([p.reason for p in problems], dtype=object))

    def summary(self, rejected_rows: int) -> dict[str, Any]:
        """``rejected`` (rows, as given), ``problems`` (their count), ``by_reason`` (problems per
        reason, most frequent first) and ``errors`` (the example problems, as dicts)."""
        by_reason = dict(sorted(self.counts.items(), key=lambda item: (-item[1], item[0])))
        return {"rejected": int(rejected_rows), "problems": int(sum(self.counts.values())),
                "by_reason": by_reason, "errors": [p.as_dict() for p in self.examples]}

    def _count(self, reasons: np.ndarray) -> None:
        if not len(reasons):
            return
        names, counts = np.unique(reasons.astype(str), return_counts=True)
        for name, count in zip(names.tolist(), counts.tolist(), strict=True):
            if name not in self.counts and len(self.counts) >= settings.REJECTED_REASONS_COUNTED:
                name = OTHER_REASONS
            self.counts[name] = self.counts.get(name, 0) + count

    def _keep_examples(self, rows: np.ndarray, columns: np.ndarray, values: np.ndarray,
                       reasons: np.ndarray) -> None:
        """Keep the first problems of each reason that has room left (one array look-up per
        reason, not a Python step per problem)."""
        room = settings.REJECTED_EXAMPLES_TOTAL - len(self.examples)
        if room <= 0 or not len(reasons):
            return
        wanted = []
        for reason in np.unique(reasons.astype(str)).tolist():
            left = settings.REJECTED_EXAMPLES_PER_REASON - self._per_reason.get(reason, 0)
            if left > 0:
                wanted.append(np.flatnonzero(reasons == reason)[:left])
        if not wanted:
            return
        for i in np.sort(np.concatenate(wanted))[:room].tolist():
            reason = str(reasons[i])
            self._per_reason[reason] = self._per_reason.get(reason, 0) + 1
            self.examples.append(Problem(reason=reason, file=self.source, row=int(rows[i]),
                                         column=_shortened(columns[i]),
                                         value=_shortened(values[i])))


class RejectedRowsWriter:
    """The rejected rows of a file written to a CSV as they are found, counted per reason.

    Only the counts and the first problems (:class:`RejectionCounts`) stay in memory, so a file
    of a million bad rows needs no more memory than a good one.  The CSV (UTF-8 with a
    byte-order mark, for Excel; the upload's delimiter; columns ``row``, the file's own,
    ``errors``) is created with the first rejected row: no rejected row, no file.

    Parameters
    ----------
    path
        Where the CSV goes.
    source
        The file's name, given with each example problem.
    delimiter
        The uploaded file's delimiter (``;`` is kept, anything else becomes ``,``).
    """

    def __init__(self, path: str | Path, *, source: str, delimiter: str) -> None:
        self.path = Path(path)
        self.delimiter = ";" if delimiter == ";" else ","
        self.rows = 0
        self.counts = RejectionCounts(source)
        self._handle: Any = None

    def add(self, rejected: RejectedRows) -> None:
        """Append rejected rows (in line order, after those added before) and count them."""
        if not len(rejected):
            return
        rows, _, _, reasons = rejected.problems
        self.counts.add(*rejected.problems)
        errors = _reasons_of_rows(rows, reasons, rejected.rows)
        if self._handle is None:
            self._handle = open(self.path, "w", encoding="utf-8-sig", newline="")
        for start in range(0, len(rejected), _ROWS_PER_WRITE):
            stop = start + _ROWS_PER_WRITE
            table = _rejected_table(rejected.rows[start:stop],
                                    rejected.records.slice(start, _ROWS_PER_WRITE).to_pandas(),
                                    errors[start:stop])
            write_rejected_records(self._handle, table, delimiter=self.delimiter,
                                   header=self.rows == 0)
            self.rows += len(table)

    def close(self) -> Path | None:
        """Finish the CSV; return its path (None when no row was rejected)."""
        if self._handle is None:
            return None
        self._handle.close()
        return self.path

    def discard(self) -> None:
        """Close and remove the CSV (the file as a whole was refused)."""
        if self.close() is not None:
            self.path.unlink(missing_ok=True)

    def summary(self) -> dict[str, Any]:
        """As :meth:`RejectionCounts.summary`, with the rows written."""
        return self.counts.summary(self.rows)


def _reasons_of_rows(rows: np.ndarray, reasons: np.ndarray, wanted: np.ndarray) -> list[str]:
    """The reasons of each ``wanted`` row joined with ``"; "`` ("" for a row without any);
    ``rows`` and ``reasons`` are the problems, sorted by row."""
    if not len(rows):
        return [""] * len(wanted)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    joined = reasons[starts].astype(object)
    for i in np.flatnonzero(ends - starts > 1):  # rows with several problems: few
        joined[i] = "; ".join(reasons[starts[i]:ends[i]])
    distinct = rows[starts]
    where = np.minimum(np.searchsorted(distinct, wanted), len(distinct) - 1)
    found = distinct[where] == wanted
    return np.where(found, joined[where], "").tolist()


#: Rejected rows turned into Python strings at a time when written (bounds the memory it takes).
_ROWS_PER_WRITE = 10_000

#: The name under which reasons beyond ``settings.REJECTED_REASONS_COUNTED`` are counted.
OTHER_REASONS = "other reasons"


def _shortened(value: Any) -> Any:
    """An example value cut to ``settings.REJECTED_EXAMPLE_VALUE_CHARS`` characters."""
    limit = settings.REJECTED_EXAMPLE_VALUE_CHARS
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}…"
    return value


@dataclass
class MeasurementBatch(_Batch):
    """Measurements read from one file.

    Attributes
    ----------
    format
        ``"canonical"`` or ``"gnettrack"``.
    source
        File name, used in every message.
    rows
        Data rows read (blank lines are not rows).
    frame
        The accepted rows: ``row`` (line number in the file, the header is row 1), ``latitude`` and
        ``longitude`` (degrees WGS84), ``measured_at`` (UTC epoch seconds), ``operator`` ("unknown"
        when empty), ``technology`` ("2G" to "5G", "" only on a no-service row), ``signal_dbm`` (NaN
        on a no-service row), ``no_service``, ``download_mbps``, ``upload_mbps``, ``latency_ms``,
        ``accuracy_m`` (metres; NaN when missing) and ``device_id`` (None when missing).
    problems
        One problem per (row, column) issue, sorted by row.
    rejected_rows
        Line numbers of the rejected rows; a row with several problems is listed once.
    """


@dataclass
class TileBatch(_Batch):
    """Ookla performance tiles read from one file.

    ``frame`` is a GeoDataFrame in EPSG:4326 with ``row``, ``quadkey``, ``period``, ``avg_d_mbps``,
    ``avg_u_mbps``, ``avg_lat_ms``, ``tests``, ``devices`` and the tile polygon computed from the
    quadkey as ``geometry``; the other attributes are as in :class:`MeasurementBatch`.
    """


class _Column:
    """One column of the file: its header name and raw strings.

    ``name`` may also be an array giving the source column of each row (G-NetTrack's signal);
    ``tokens`` are the texts that mean "no value"; ``decimal_comma`` accepts ``-95,5`` as a number
    (in ``;``-separated files, where a comma cannot be the delimiter).
    """

    def __init__(
        self, name: str | np.ndarray, raw: pa.ChunkedArray | pa.Array,
        tokens: tuple[str, ...] = ("",), *, decimal_comma: bool = False,
        missing: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.raw = raw
        self.tokens = tokens
        self.decimal_comma = decimal_comma
        if missing is not None:
            self.missing = missing

    @cached_property
    def text(self) -> pa.ChunkedArray | pa.Array:
        """The values without surrounding white space."""
        return pc.utf8_trim_whitespace(self.raw)

    @cached_property
    def missing(self) -> np.ndarray:
        """Where the cell is empty or holds a missing-value token (G-NetTrack writes ``-``)."""
        return _equals_any(self.text, self.tokens)


@dataclass
class _RawTable:
    """A CSV file as raw strings, one record per data line, with the line number of each record."""

    source: str
    columns: list[str]
    table: pa.Table
    rows: np.ndarray
    broken: list[tuple[int, str]]
    delimiter: str

    @property
    def size(self) -> int:
        """Number of well-formed records."""
        return self.table.num_rows

    def column(self, name: str, missing: tuple[str, ...]) -> _Column:
        """Return the named column, treating the ``missing`` tokens as empty."""
        return _Column(name, self.table.column(name), missing, decimal_comma=self.delimiter == ";")


@dataclass
class _Columns:
    """The columns of one file by the name we give them (``names`` maps to the file's header)."""

    raw: _RawTable
    names: dict[str, str]
    missing: tuple[str, ...] = ("",)

    def __getitem__(self, key: str) -> _Column:
        return self.raw.column(self.names[key], self.missing)

    def get(self, key: str) -> _Column | None:
        """Return the column, or None when the file does not have it."""
        return self[key] if key in self.names else None


class _Findings:
    """Row-level problems found by column checks: each check flags records with one reason.

    The checks of a slice of the file (records ``offset`` to ``offset + size``) flag positions in
    the slice; they are kept as positions in the whole file, so that :meth:`merged` findings of
    every slice describe the whole file.
    """

    def __init__(self, size: int, offset: int = 0) -> None:
        self.size = size
        self.offset = offset
        self._found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    @classmethod
    def merged(cls, size: int, parts: list[_Findings]) -> _Findings:
        """The findings of every slice of a file of ``size`` records, as one."""
        whole = cls(size)
        whole._found = [found for part in parts for found in part._found]
        return whole

    def add(self, mask: np.ndarray, column: _Column, reason: str) -> None:
        """Record ``reason`` where ``mask`` is true, with the column's raw value."""
        index = np.flatnonzero(mask)
        if index.size:
            names = np.broadcast_to(np.asarray(column.name, dtype=object), (self.size,))[index]
            values = _clipped(column.raw.take(pa.array(index))).to_numpy(zero_copy_only=False)
            self._found.append((index + self.offset, names, values,
                                np.full(index.size, reason, dtype=object)))

    def rejected(self) -> np.ndarray:
        """Boolean mask of the records (of this slice) with at least one problem."""
        mask = np.zeros(self.size, dtype=bool)
        for index, *_ in self._found:
            mask[index - self.offset] = True
        return mask

    def problems(self, raw: _RawTable) -> list[Problem]:
        """Every problem, broken lines included, sorted by row, then by column in file order."""
        rows, names, values, reasons = self.problem_arrays(raw)
        return [Problem(reason=r, file=raw.source, row=int(n), column=c, value=v)
                for n, c, v, r in zip(rows, names, values, reasons, strict=True)]

    def problem_arrays(self, raw: _RawTable) -> tuple[np.ndarray, ...]:
        """Row, column, value and reason of every problem (broken lines included) as arrays,
        sorted by row, then by column in file order; ``raw`` is the slice the findings are of."""
        parts = [(raw.rows[index - self.offset], *found) for index, *found in self._found]
        parts.append(_broken_problems(raw))
        rows, names, values, reasons = (np.concatenate(part) for part in zip(*parts, strict=True))
        position = {name: i for i, name in enumerate(raw.columns)}
        place = np.array([position.get(name, -1) for name in names], dtype=np.int64)
        order = np.lexsort((place, rows))
        return rows[order], names[order], values[order], reasons[order]


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------

def read_measurements(
    path: str | Path,
    *,
    format: str = "auto",
    timezone: str | None = None,
    now: datetime | None = None,
    source_name: str | None = None,
    chunk_rows: int | None = None,
) -> MeasurementBatch:
    """Read and validate a coverage-measurement file.

    Parameters
    ----------
    path
        The uploaded file: a canonical CSV or a G-NetTrack log.
    format
        ``"auto"`` (detect from the header), ``"canonical"`` or ``"gnettrack"``.
    timezone
        IANA time zone of timestamps written without a zone (G-NetTrack logs always are);
        ``settings.DEFAULT_TIMEZONE`` (WIB) by default.
    now
        Time of the upload (timezone-aware); timestamps more than ``settings.FUTURE_TOLERANCE_S``
        seconds later are rejected.  Defaults to the current time.
    source_name
        Name to report instead of the file name (e.g. the name the user uploaded).
    chunk_rows
        Records validated at a time (``settings.INGEST_CHUNK_ROWS`` by default); the result
        does not depend on it.

    Returns
    -------
    MeasurementBatch
        Accepted rows, every row-level problem and the rejected rows.

    Raises
    ------
    InputFileError
        If the file as a whole cannot be used: missing, empty, binary, not UTF-8, too large, of an
        unknown layout or without a required column.
    """
    reader = MeasurementReader(path, format=format, timezone=timezone, now=now,
                               source_name=source_name, chunk_rows=chunk_rows)
    frames = [chunk.frame() for chunk in reader.chunks()]
    return reader.finish(pd.concat(frames, ignore_index=True) if frames else None)


class MeasurementReader:
    """A coverage-measurement file read and validated part by part.

    For pipelines that store the first rows while the next ones are checked (the ingest)::

        reader = MeasurementReader(path)          # whole-file checks: raises InputFileError
        for chunk in reader.chunks():             # accepted rows, about chunk_rows records a time
            store(chunk)
        batch = reader.finish()                   # problems and rejected rows of the whole file

    :func:`read_measurements` is the same with every chunk gathered into ``batch.frame``.
    Options as there; ``data`` is the file's content when the caller has read it already.
    Each chunk also carries the part's rejected rows (:attr:`MeasurementChunk.rejected`); with
    ``retain_rejected=False`` the reader keeps none of them, and the batch of :meth:`finish`
    has only the counts (for a caller that writes them as they come, such as the ingest).

    Attributes
    ----------
    format, source
        As in :class:`MeasurementBatch`.
    expected_rows
        Data rows of the file estimated from the length of its first lines (for a progress bar;
        the batch has the exact count).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        format: str = "auto",
        timezone: str | None = None,
        now: datetime | None = None,
        source_name: str | None = None,
        chunk_rows: int | None = None,
        data: bytes | None = None,
        retain_rejected: bool = True,
    ) -> None:
        _check_choice(format, ("auto", "canonical", "gnettrack"), "format")
        self._zone = _time_zone(timezone)
        self._now_s = _epoch_seconds(now)
        self._text = _open_csv(path, source_name=source_name, data=data)
        header = self._text.header
        self.format = _measurement_format(header, format)
        _measurement_columns(header, self.format)  # a missing column is refused now
        self.source = self._text.source
        self.expected_rows = self._text.expected_rows
        self.chunk_rows = max(int(chunk_rows or settings.INGEST_CHUNK_ROWS), 1)
        self.delimiter = self._text.delimiter
        self._retain = retain_rejected
        self._lines = 0
        self._parts: list[_RawTable] = []
        self._findings: list[_Findings] = []
        self._swapped = _SwapCount()
        self._read = False

    def chunks(self) -> Iterator[MeasurementChunk]:
        """Parse and validate the file part by part; yield the accepted rows of each (file
        order).  The first part is smaller, so that a pipeline gets going sooner."""
        offset = 0
        for part in _read_ahead(self._text.parts(self.chunk_rows)):
            values, findings = _parse_measurements(part, self.format, zone=self._zone,
                                                   now_s=self._now_s, offset=offset)
            offset += part.size
            self._lines += part.size + len(part.broken)
            self._keep(part, findings)
            self._swapped.add(values["latitude"], values["longitude"])
            rejected = findings.rejected()
            yield _measurement_chunk(values, part.rows, ~rejected, len(part.broken),
                                     rejected=_rejected_rows(part, findings, rejected), raw=part)
        self._read = True

    def _keep(self, part: _RawTable, findings: _Findings) -> None:
        """Keep a part for :meth:`finish`: every one when the rejected rows are retained, else
        only the first with data lines (enough to tell that the file has some)."""
        if self._retain:
            self._parts.append(part)
            self._findings.append(findings)
        elif not self._parts and (part.size or part.broken):
            self._parts.append(part)

    def finish(self, frame: pd.DataFrame | None = None) -> MeasurementBatch:
        """The problems and rejected rows of the whole file, once every chunk was read.

        ``frame`` becomes the batch's accepted rows (empty with the documented columns if not
        given).  Raises :class:`~geo.errors.InputFileError` when the file has no data rows or
        its latitude and longitude are exchanged throughout.
        """
        if not self._read:
            raise RuntimeError("MeasurementReader.finish() before every chunk was read")
        raw = self._text.join(self._parts)
        self._swapped.check(self.source)
        if frame is None:
            frame = _measurement_chunk(_no_values(), np.zeros(0, np.int64),
                                       np.zeros(0, bool)).frame()
        if not self._retain:  # the caller took each chunk's rejected rows
            return MeasurementBatch(self.format, self.source, self._lines, frame, [],
                                    np.zeros(0, np.int64), delimiter=self.delimiter)
        findings = _Findings.merged(raw.size, self._findings)
        return MeasurementBatch(**_batch_parts(self.format, raw, findings, frame))


def _read_ahead(parts: Iterator[_RawTable]) -> Iterator[_RawTable]:
    """The parts, the next one parsed in a thread while the caller works on the current one
    (the CSV parser releases the GIL)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-read-ahead") as pool:
        pending = pool.submit(next, parts, None)
        while (part := pending.result()) is not None:
            pending = pool.submit(next, parts, None)
            yield part


@dataclass
class MeasurementChunk:
    """The accepted rows of one part of a file, column by column (as in
    :attr:`MeasurementBatch.frame`; texts as Arrow arrays, the rest as numpy arrays)."""

    row: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    measured_at: np.ndarray
    operator: pa.Array
    technology: pa.Array
    signal_dbm: np.ndarray
    no_service: np.ndarray
    download_mbps: np.ndarray
    upload_mbps: np.ndarray
    latency_ms: np.ndarray
    accuracy_m: np.ndarray
    device_id: pa.Array
    lines: int = 0  #: data lines of the part, accepted or not
    #: The part's rejected rows (original text and problems).
    rejected: RejectedRows | None = field(default=None, repr=False)
    #: The part's original text, for rows rejected later (:meth:`reject`).
    raw: _RawTable | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.row)

    def reject(self, positions: np.ndarray, *, column: str, values: np.ndarray, reason: str
               ) -> RejectedRows:
        """The accepted rows at ``positions`` (of this chunk) as rejected rows, for one reason
        found after reading (e.g. outside the city); ``values`` are the values shown."""
        lines = self.row[positions]
        if self.raw is None or lines.size == 0:
            return _no_rejected_rows(self.raw)
        records = self.raw.table.take(pa.array(np.searchsorted(self.raw.rows, lines)))
        problems = (lines, np.full(lines.size, column, dtype=object),
                    np.asarray(values, dtype=object), np.full(lines.size, reason, dtype=object))
        return RejectedRows(lines, records, problems)

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the columns and dtypes of :attr:`MeasurementBatch.frame`."""
        columns: dict[str, Any] = {name: getattr(self, name) for name in _CHUNK_COLUMNS}
        columns["operator"] = self.operator.to_pandas()
        columns["technology"] = self.technology.to_pandas()
        columns["device_id"] = pd.Series(self.device_id.to_numpy(zero_copy_only=False),
                                         dtype=object)
        return pd.DataFrame(columns, copy=False)


_CHUNK_COLUMNS = ("row", "latitude", "longitude", "measured_at", "operator", "technology",
                  "signal_dbm", "no_service", "download_mbps", "upload_mbps", "latency_ms",
                  "accuracy_m", "device_id")


class _SwapCount:
    """Counts, part by part, the rows whose latitude and longitude look exchanged."""

    def __init__(self) -> None:
        self.rows = 0
        self.swapped = 0
        self.example: tuple[float, float] | None = None

    def add(self, lat: np.ndarray, lon: np.ndarray) -> None:
        """Count the rows of one slice that have both coordinates."""
        both = np.isfinite(lat) & np.isfinite(lon)
        lat, lon = lat[both], lon[both]
        swapped = (np.abs(lat) > 90.0) & (np.abs(lat) <= 180.0) & (np.abs(lon) <= 90)
        self.rows += int(both.sum())
        self.swapped += int(swapped.sum())
        if self.example is None and swapped.any():
            i = int(np.flatnonzero(swapped)[0])
            self.example = (float(lat[i]), float(lon[i]))

    def check(self, source: str) -> None:
        """Reject a file whose latitude and longitude columns are exchanged throughout.

        Latitude beyond +-90 on most rows, while the longitude column would be a valid latitude,
        can only mean swapped columns (always so in Indonesia, where longitudes are 95..141
        degrees).
        """
        if not self.rows:
            return
        share = self.swapped / self.rows
        if share >= settings.SWAPPED_COORDINATE_SHARE and self.example is not None:
            lat, lon = self.example
            raise InputFileError.translatable(
                N_("File '%(file)s': kolom lintang dan bujur tampaknya tertukar di seluruh file "
                   "(%(share)s baris punya 'latitude' %(lat)s, di luar 90 derajat, dan "
                   "'longitude' %(lon)s). Tukar kedua nama kolom lalu unggah lagi; tidak ada "
                   "yang disimpan."),
                file=source, share=f"{share:.0%}", lat=f"{lat:g}", lon=f"{lon:g}")


def read_columns(path: str | Path, *, source_name: str | None = None) -> list[str]:
    """Return the column names of a file's header, reading only its first bytes.

    Raises
    ------
    InputFileError
        If the file is missing, empty, binary or its header cannot be read.
    """
    path = Path(path)
    source = source_name or path.name
    if not path.is_file():
        raise _missing_file(source)
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head:
        raise _empty_file(source)
    _check_text(head, source)
    header, _ = _first_lines(head, source)
    fields = [name.strip() for name in _split_line(header, _sniff_delimiter(header), source)]
    return [name for name in fields if name]


def read_ookla_tiles(
    path: str | Path, *, period: str | None = None, source_name: str | None = None
) -> TileBatch:
    """Read and validate an Ookla open-data performance-tile CSV.

    Parameters
    ----------
    path
        CSV with ``quadkey``, ``tile`` (WKT polygon, optional), ``avg_d_kbps``, ``avg_u_kbps``,
        ``avg_lat_ms``, ``tests`` and ``devices``; other columns are ignored.
    period
        The quarter (or month, or year) the tiles describe, stored with every tile; written
        ``2022-Q3``, ``2022Q3``, ``2022-07`` or ``2022`` and kept as ``2022-Q3``, ``2022-07``,
        ``2022`` (see :func:`ookla_period`).
    source_name
        Name to report instead of the file name.

    Returns
    -------
    TileBatch
        Accepted tiles (speeds converted to Mbps, polygon computed from the quadkey) and problems.
        A row is rejected for an invalid quadkey, a ``tile`` polygon that does not match its
        quadkey, a missing, non-numeric or negative value, or fewer than one test.

    Raises
    ------
    InputFileError
        If the file cannot be read, lacks a required column, or ``period`` is not a period.
    """
    period = ookla_period(period)
    _check_ookla_size(Path(path), source_name or Path(path).name)
    raw = _read_table(path, source_name=source_name)
    names = _resolve_columns(raw, {c: (c,) for c in (*OOKLA_COLUMNS, "tile")}, OOKLA_COLUMNS)
    values, findings = _parse_tiles(raw, names)
    frame = _tile_frame(values, raw.rows, ~findings.rejected(), period)
    return TileBatch(**_batch_parts("ookla", raw, findings, frame))


def ookla_period(label: str | None) -> str | None:
    """The one spelling of an Ookla period label: ``2022-Q3``, ``2022-07`` or ``2022``.

    Accepts ``2022-Q3``, ``2022Q3``, ``2022 q3``, ``2022-07`` and ``2022``; ``None`` or blank
    gives ``None`` (no period).  The same quarter written two ways is then one period.

    Raises
    ------
    InputFileError
        If the label is not a quarter, a month or a year.
    """
    text = (label or "").strip()
    if not text:
        return None
    quarter = re.fullmatch(r"(\d{4})\s*-?\s*[Qq]([1-4])", text)
    if quarter:
        return f"{quarter[1]}-Q{quarter[2]}"
    month = re.fullmatch(r"(\d{4})-?(0[1-9]|1[0-2])", text)
    if month:
        return f"{month[1]}-{month[2]}"
    if re.fullmatch(r"\d{4}", text):
        return text
    raise InputFileError.translatable(
        N_("Periode Ookla '%(period)s' tidak dikenali: tulis kuartal yang digambarkan tile "
           "sebagai 2022-Q3 (atau bulan sebagai 2022-07, atau tahun sebagai 2022)."),
        period=text[:40])


def detect_format(columns: list[str], *, source: str | None = None) -> str:
    """Name the layout of a file from its header.

    Parameters
    ----------
    columns
        Column names of the header row.

    Returns
    -------
    str
        ``"ookla"`` (has ``quadkey`` and ``avg_d_kbps``), ``"gnettrack"`` (``Timestamp``,
        ``Longitude``, ``Latitude``, ``NetworkMode`` or ``NetworkTech``, ``RSRP`` or ``Level``) or
        ``"canonical"`` (a latitude and a longitude column under any accepted name).

    Raises
    ------
    InputFileError
        If the header matches none of them; the message lists the columns found and expected.
    """
    return _detect(columns, source=source)


def template_csv() -> str:
    """Return a canonical CSV template: the header and three example rows (one without service)."""
    rows = [
        CANONICAL_COLUMNS,
        ("1.665432", "101.447210", "2024-03-01T08:00:00", "Telkomsel", "4G", "-95", "false",
         "12.5", "3.2", "45", "5", "hp-tim-1"),
        ("1.667100", "101.450020", "2024-03-01T08:00:30+07:00", "Indosat", "3G", "-88", "false",
         "", "", "", "8", "hp-tim-1"),
        ("1.671230", "101.455870", "2024-03-01 08:01:00", "Telkomsel", "", "", "true",
         "", "", "", "6", "hp-tim-1"),
    ]
    return "".join(",".join(map(neutralize_formula, row)) + "\n" for row in rows)


# --------------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------------

def _read_table(path: str | Path, *, source_name: str | None) -> _RawTable:
    """Check the file as a whole and read every value as a raw string."""
    text = _open_csv(path, source_name=source_name)
    return text.join(list(text.parts(None)))


@dataclass
class _CsvText:
    """A CSV file checked as a whole (size, text, UTF-8, header), parsed part by part.

    Parts end at line breaks outside quoted values, and a part's records are numbered with their
    line in the file, so the parts of a file hold exactly what parsing it at once would.
    """

    source: str
    data: bytes | _FileContent
    names: list[str]  # for the parser, padding included
    named: int  # how many of them the header names
    delimiter: str
    body: int  # offset of the first line after the header
    line_bytes: float  # average length of the first lines

    @property
    def header(self) -> _RawTable:
        """The file's columns without records (enough to recognise its layout)."""
        columns = self.names[:self.named]
        empty = pa.table({name: pa.array([], pa.string()) for name in columns})
        return _RawTable(self.source, columns, empty, np.zeros(0, np.int64), [], self.delimiter)

    @property
    def expected_rows(self) -> int:
        """Data rows, estimated from the length of the first lines (for a progress bar)."""
        return max(round((len(self.data) - self.body) / self.line_bytes), 0)

    def parts(self, rows: int | None) -> Iterator[_RawTable]:
        """Parse about ``rows`` records at a time (everything at once if None)."""
        whole = pa.py_buffer(self.data) if isinstance(self.data, bytes) else None
        before = 1  # lines before the part: the header
        for start, stop in self._bounds(rows):
            part = (whole.slice(start, stop - start) if whole is not None
                    else pa.py_buffer(self.data[start:stop]))
            try:
                table, broken = _parse_csv(part, self.names,
                                           self.delimiter, self.source)
            except InputFileError as error:
                raise _long_line_error(self, start, stop, before) or error
            yield _tidy_part(table.select(self.names[:self.named]), broken, self, before)
            before += table.num_rows + len(broken)

    def join(self, parts: list[_RawTable]) -> _RawTable:
        """The whole file from its parts; refuse a file without data rows."""
        if not any(part.size or part.broken for part in parts):
            raise InputFileError.translatable(
                N_("File '%(file)s' hanya berisi baris judul kolom, tanpa baris data."),
                file=self.source)
        table = pa.concat_tables([part.table for part in parts])
        rows = np.concatenate([part.rows for part in parts])
        broken = [line for part in parts for line in part.broken]
        return _RawTable(self.source, self.names[:self.named], table, rows, broken,
                         self.delimiter)

    def _bounds(self, rows: int | None) -> Iterator[tuple[int, int]]:
        """Byte ranges of the parts, ending at a line break: about ``rows`` lines each, the first
        a quarter of that and the last two ``rows`` halved again and again down to a quarter, so
        that a pipeline gets going sooner and its last stage has little left when the first ends.

        A file in memory with a double quote anywhere is one part: a quoted value may hold a line
        break.  A file read from disk (too large to hold) is cut only at line breaks preceded by
        an even number of quotes since the part's start, that is outside quoted values.
        """
        start, size = self.body, len(self.data)
        quoted = self.data.find(b'"', start) >= 0
        cut = not quoted or isinstance(self.data, _FileContent)
        step = None if rows is None or not cut else max(int(rows * self.line_bytes), 1)
        reach = None if step is None else max(step // 4, 1)
        while start < size:
            left = size - start
            if step is not None and left <= 2 * step:
                reach = left if left <= step // 4 else max(left // 2, 1)
            end = -1 if reach is None else (
                self.data.record_end(start, start + reach - 1) if quoted
                else self.data.find(b"\n", start + reach - 1))
            stop = size if end < 0 else end + 1
            yield start, stop
            start, reach = stop, step


def _open_csv(path: str | Path, *, source_name: str | None, data: bytes | None = None
              ) -> _CsvText:
    """Check the file as a whole (size, text, UTF-8, header) before parsing it; ``data`` is its
    content if already read."""
    path = Path(path)
    source = source_name or path.name
    if data is None:
        data = _read_bytes(path, source)
    elif not data:  # content given: its size was the caller's to check (webmap: MAX_UPLOAD_BYTES)
        raise _empty_file(source)
    head = data[:_SNIFF_BYTES]
    _check_text(head, source)
    header, first_row = _first_lines(head, source)
    _check_utf8(data, source)
    _check_nul(data, source)
    delimiter = _sniff_delimiter(header)
    names, named = _column_names(header, first_row, delimiter, source)
    end = re.search(rb"\r\n|\r|\n", head)
    body = len(data) if end is None else end.end()
    line_bytes = len(head) / max(head.count(b"\n"), 1)
    return _CsvText(source, data, names, named, delimiter, body, line_bytes)


def _read_bytes(path: Path, source: str) -> bytes | _FileContent:
    """Return the content of the file, after checking that it exists and its size: in memory up
    to :data:`geo.settings.INGEST_IN_MEMORY_MAX_BYTES`, else read from disk where needed."""
    if not path.is_file():
        raise _missing_file(source)
    size = path.stat().st_size
    _check_size(size, source)
    if size > settings.INGEST_IN_MEMORY_MAX_BYTES:
        return _FileContent(path, size)
    return path.read_bytes()


class _FileContent:
    """A large file's content, read from disk a block at a time where it is needed, never whole.

    Offers what the checks and the parser use of ``bytes``: ``len``, slices, ``find`` and
    ``count`` of one byte (line breaks, quotes, NUL), and :meth:`blocks` for whole-file checks.
    The file is opened for each use, so no handle outlives a read.
    """

    BLOCK = 16 * 1024 * 1024

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice | int) -> bytes | int:
        if isinstance(key, int):
            return self[key:key + 1][0]
        start, stop, _ = key.indices(self.size)
        with open(self.path, "rb") as handle:
            handle.seek(start)
            return handle.read(max(stop - start, 0))

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(offset, content)`` of consecutive blocks of ``[start, stop)``; each but the last
        ends before the lead byte of a UTF-8 character, so each decodes on its own."""
        stop = self.size if stop is None else min(stop, self.size)
        with open(self.path, "rb") as handle:
            handle.seek(start)
            offset, carry = start, b""
            while offset < stop:
                block = carry + handle.read(min(self.BLOCK, stop - offset - len(carry)))
                if not block:
                    return
                cut = len(block)
                if offset + cut < stop:
                    cut = _character_start(block)
                yield offset, block[:cut]
                offset, carry = offset + cut, block[cut:]

    def find(self, byte: bytes, start: int = 0) -> int:
        """Offset of the first ``byte`` at or after ``start``, -1 if none."""
        for offset, block in self.blocks(start):
            found = block.find(byte)
            if found >= 0:
                return offset + found
        return -1

    def record_end(self, start: int, at: int) -> int:
        """Offset of the first line break at or after ``at`` that is outside quoted values (an
        even number of double quotes between ``start``, where a record begins, and it); -1 if
        none."""
        quotes = self.count(b'"', start, at)
        for offset, block in self.blocks(at):
            codes = np.frombuffer(block, dtype=np.uint8)
            seen = np.cumsum(codes == ord('"')) + quotes
            ends = np.flatnonzero((codes == ord("\n")) & (seen % 2 == 0))
            if ends.size:
                return offset + int(ends[0])
            quotes = int(seen[-1])
        return -1

    def count(self, byte: bytes, start: int = 0, stop: int | None = None) -> int:
        """How many times ``byte`` occurs in ``[start, stop)``."""
        return sum(block.count(byte) for _, block in self.blocks(start, stop))


def _character_start(block: bytes) -> int:
    """Where to cut ``block`` so that no UTF-8 character is split: before the lead byte of a
    character its last bytes may have begun (continuation bytes are ``10xxxxxx``)."""
    for i in range(len(block) - 1, max(len(block) - 4, 0) - 1, -1):
        if block[i] & 0xC0 != 0x80:
            return i if block[i] >= 0xC0 and i > 0 else len(block)
    return len(block)


def _missing_file(source: str) -> InputFileError:
    return InputFileError.translatable(N_("File '%(file)s' tidak ditemukan."), file=source)


def _empty_file(source: str) -> InputFileError:
    return InputFileError.translatable(N_("File '%(file)s' kosong (0 byte)."), file=source)


def _check_size(size: int, source: str) -> None:
    """Refuse an empty file and one over the upload limit."""
    if size == 0:
        raise _empty_file(source)
    check_upload_size(size, source)


def check_upload_size(size: int, source: str, *, limit: int | None = None) -> None:
    """Refuse a file larger than the upload limit (the web upload's 413 says the same).

    Parameters
    ----------
    size
        Size of the file in bytes.
    source
        File name for the message.
    limit
        Largest size accepted, in bytes (default ``settings.MAX_UPLOAD_BYTES``).

    Raises
    ------
    InputFileError
        If ``size`` is over the limit: "File 'x.csv' terlalu besar (600 MiB): batas unggah
        512 MiB. Bagi menjadi beberapa file yang lebih kecil."
    """
    limit = settings.MAX_UPLOAD_BYTES if limit is None else int(limit)
    if size > limit:
        raise InputFileError.translatable(
            N_("File '%(file)s' terlalu besar (%(size)s): batas unggah %(limit)s. Bagi menjadi "
               "beberapa file yang lebih kecil."),
            file=source, size=byte_size(size), limit=byte_size(limit))


def _check_ookla_size(path: Path, source: str) -> None:
    """Refuse a tile file over :data:`geo.settings.OOKLA_MAX_BYTES` (read whole, see there)."""
    size = path.stat().st_size if path.exists() else 0
    if size > settings.OOKLA_MAX_BYTES:
        raise InputFileError.translatable(
            N_("File tile Ookla '%(file)s' terlalu besar (%(size)s): batasnya %(limit)s, cukup "
               "untuk semua tile sebuah kota. Ambil hanya tile di dalam kota Anda (misalnya "
               "dengan kotak batas kota) lalu unggah lagi."),
            file=source, size=byte_size(size), limit=byte_size(settings.OOKLA_MAX_BYTES))


def upload_too_large(limit: int) -> InputFileError:
    """The error for an upload refused before its name and size are known (HTTP 413)."""
    return InputFileError.translatable(
        N_("File ini terlalu besar: batas unggah %(limit)s. Bagi menjadi beberapa file yang "
           "lebih kecil."), limit=byte_size(limit))


def byte_size(size: float) -> str:
    """A size for people: ``512 MiB``, ``1.5 MiB``, ``64 KiB``, ``20 byte``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == round(value) else f"{value:.1f} {unit}"
    return f"{size:.0f} byte"


def _check_text(head: bytes, source: str) -> None:
    """Reject binary content (images, archives, workbooks), JSON/XML and UTF-16 text."""
    for signature, kind in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise _not_csv(source, kind)
    for signature, kind in _TEXT_SIGNATURES.items():
        if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(signature):
            raise _not_csv(source, kind)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputFileError.translatable(
            N_("File '%(file)s' tersimpan sebagai teks UTF-16; simpan ulang sebagai 'CSV UTF-8' "
               "lalu unggah lagi."), file=source)
    order = _utf16_without_bom(head)
    if order:
        raise InputFileError.translatable(
            N_("File '%(file)s' tampaknya teks UTF-16 (%(order)s) tanpa BOM; simpan ulang "
               "sebagai 'CSV UTF-8' lalu unggah lagi."), file=source, order=order)
    _check_nul(head, source)


def _not_csv(source: str, kind: str) -> InputFileError:
    return InputFileError.translatable(
        N_("File '%(file)s' bukan file CSV: isinya berformat %(kind)s. Ekspor datanya sebagai "
           "CSV (dipisah koma, UTF-8) lalu unggah file itu."), file=source, kind=kind)


def _utf16_without_bom(head: bytes) -> str | None:
    """``"little-endian"`` or ``"big-endian"`` when the text looks like UTF-16 without a BOM.

    Text in a Latin script written as UTF-16 has a NUL byte in every other position (the high
    byte of each character): at odd offsets in little-endian, at even ones in big-endian.
    """
    sample = head[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    odd, even = sample[1::2].count(0) / pairs, sample[0::2].count(0) / pairs
    if odd >= 0.5 and even <= 0.1:
        return "little-endian"
    if even >= 0.5 and odd <= 0.1:
        return "big-endian"
    return None


def _check_nul(data: bytes | _FileContent, source: str) -> None:
    """Refuse a NUL byte anywhere: no text file holds one, and PostgreSQL cannot store it."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputFileError.translatable(
            N_("File '%(file)s' bukan file teks CSV: berisi data biner (byte NUL) pada baris "
               "%(line)s, posisi byte %(offset)s."),
            file=source, line=data.count(b"\n", 0, nul) + 1, offset=nul)


def _first_lines(head: bytes, source: str) -> tuple[str, str | None]:
    """Return the header line and, when complete, the first data line of the file."""
    start = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    lines = re.split(rb"\r\n|\r|\n", head[start:], maxsplit=2)
    if len(lines) == 1 and len(head) == _SNIFF_BYTES:
        raise InputFileError.translatable(
            N_("File '%(file)s' bukan file CSV: baris pertamanya (judul kolom) lebih panjang "
               "dari %(size)s."), file=source, size=byte_size(_SNIFF_BYTES))
    header = _decode_header(lines[0], source, offset=start)
    if not header.strip():
        raise InputFileError.translatable(
            N_("File '%(file)s': baris pertama kosong; baris itu harus berisi nama-nama kolom."),
            file=source)
    complete = len(lines) == 3 or len(head) < _SNIFF_BYTES
    first_row = lines[1].decode("utf-8", "replace") if len(lines) > 1 and complete else None
    return header, first_row


def _decode_header(line: bytes, source: str, *, offset: int) -> str:
    """Decode the header line, naming the first byte that is not UTF-8."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _encoding_error(source, offset + err.start, 1, line[err.start]) from err


def _sniff_delimiter(header: str) -> str:
    """Guess the delimiter from the header: tab, then semicolon if more frequent than comma."""
    if "\t" in header:
        return "\t"
    return ";" if header.count(";") > header.count(",") else ","


def _column_names(
    header: str, first_row: str | None, delimiter: str, source: str
) -> tuple[list[str], int]:
    """Return unique column names for the parser and how many of them the header really names.

    A trailing delimiter (G-NetTrack ends rows with a tab) makes the data one field wider than the
    header; the extra empty field is read under a padding name and dropped.
    """
    fields = [name.strip() for name in _split_line(header, delimiter, source)]
    while fields and not fields[-1]:
        fields.pop()
    if not fields:
        raise InputFileError.translatable(
            N_("File '%(file)s': baris pertama tidak berisi nama kolom."), file=source)
    width = len(fields)
    extra = _split_line(first_row, delimiter, source)[width:] if first_row is not None else []
    if extra and not any(value.strip() for value in extra):
        width += len(extra)
    names = _unique([name or f"column_{i + 1}" for i, name in enumerate(fields)])
    return names + [f"{_PADDING}{i}" for i in range(width - len(fields))], len(fields)


def _split_line(line: str, delimiter: str, source: str) -> list[str]:
    """Split one CSV line into fields, honouring quotes."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as err:
        raise InputFileError.translatable(
            N_("File '%(file)s': baris-baris pertamanya tidak dapat dibaca sebagai CSV "
               "(%(detail)s)."), file=source, detail=str(err)) from err


def _unique(names: list[str]) -> list[str]:
    """Make repeated column names unique by appending ``_2``, ``_3``..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _parse_csv(
    data: pa.Buffer, names: list[str], delimiter: str, source: str, *, threads: bool = True
) -> tuple[pa.Table, list]:
    """Read data lines (no header) as strings; lines with a wrong number of fields are set aside.

    Set-aside lines carry their line number in ``data`` (1-based).
    """
    broken: list = []

    def set_aside(row: object) -> str:
        broken.append(row)
        return "skip"

    try:
        table = pv.read_csv(
            pa.BufferReader(data),
            read_options=pv.ReadOptions(column_names=names, use_threads=threads),
            parse_options=pv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                          invalid_row_handler=set_aside),
            convert_options=pv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False, check_utf8=False),  # checked before
        )
    except pa.ArrowException as err:
        raise _csv_error(source, err) from err
    if threads and any(row.number is None for row in broken):
        return _parse_csv(data, names, delimiter, source, threads=False)  # to learn line numbers
    return table, broken


def _csv_error(source: str, err: Exception) -> InputFileError:
    """Turn a parser error into a message for the user."""
    detail = str(err).replace("CSV parse error: ", "").splitlines()[0][:200]
    return InputFileError.translatable(
        N_("File '%(file)s' tidak dapat dibaca sebagai CSV: %(detail)s."), file=source,
        detail=detail)


def _long_line_error(text: _CsvText, start: int, stop: int, before: int) -> InputFileError | None:
    """Name the over-long line of a part the parser could not read (it says "straddling object").

    Returns ``None`` when the part has no line longer than :data:`_LONG_LINE_BYTES` (the parser
    failed for another reason).  Only runs on that error path: the part is scanned once, a
    window at a time, so memory stays bounded.
    """
    longest, longest_start = _longest_line(text.data, start, stop)
    if longest <= _LONG_LINE_BYTES:
        return None
    line = before + 1 + text.data.count(b"\n", start, longest_start)
    return InputFileError.translatable(
        N_("File '%(file)s': baris %(line)s panjangnya %(size)s, padahal satu baris log "
           "pengukuran hanya beberapa ratus byte (batas %(limit)s per baris) - mungkin ini bukan "
           "log pengukuran, atau ada tanda kutip yang tidak ditutup?"),
        file=text.source, line=line, size=byte_size(longest), limit=byte_size(_LONG_LINE_BYTES))


def _longest_line(data: bytes | _FileContent, start: int, stop: int, window: int = 1 << 22
                  ) -> tuple[int, int]:
    """Length and start offset of the longest line of ``data[start:stop]``, read a window at a
    time (the line breaks of one window at once)."""
    longest, longest_start, line_start = 0, start, start
    for offset in range(start, stop, window):
        chunk = np.frombuffer(data[offset:min(offset + window, stop)], dtype=np.uint8)
        ends = np.flatnonzero(chunk == 10) + offset
        if ends.size:
            starts = np.concatenate(([line_start], ends[:-1] + 1))
            lengths = ends - starts
            i = int(np.argmax(lengths))
            if lengths[i] > longest:
                longest, longest_start = int(lengths[i]), int(starts[i])
            line_start = int(ends[-1]) + 1
    if stop - line_start > longest:
        longest, longest_start = stop - line_start, line_start
    return longest, longest_start


def _encoding_error(source: str, offset: int, line: int, byte: int) -> InputFileError:
    """Say where the file stops being UTF-8 and how to fix it."""
    return InputFileError.translatable(
        N_("File '%(file)s' bukan teks UTF-8: byte 0x%(byte)s pada posisi %(offset)s (baris "
           "%(line)s) tidak dapat dibaca. Simpan ulang sebagai 'CSV UTF-8' (Excel: Save As > "
           "CSV UTF-8) lalu unggah lagi."),
        file=source, byte=f"{byte:02X}", offset=offset, line=line)


def _check_utf8(data: bytes | _FileContent, source: str) -> None:
    """Refuse a file that is not UTF-8 text, naming the first offending byte.

    Checked before parsing, because the parser cannot report a broken line that is not UTF-8.
    """
    blocks = [(0, data)] if isinstance(data, bytes) else data.blocks()
    for offset, block in blocks:
        if block.isascii():
            continue
        try:
            block.decode("utf-8")
        except UnicodeDecodeError as err:
            at = offset + err.start
            line = data.count(b"\n", 0, at) + 1
            raise _encoding_error(source, at, line, block[err.start]) from err


def _tidy_part(table: pa.Table, broken: list, text: _CsvText, before: int) -> _RawTable:
    """Give the records of a part their file line (``before`` lines precede the part) and drop
    blank lines."""
    lines = np.arange(before + 1, before + table.num_rows + len(broken) + 1, dtype=np.int64)
    numbers = [before + row.number for row in broken]
    rows = lines[~np.isin(lines, numbers)] if numbers else lines
    blank = _blank_records(table)
    if blank.any():
        table, rows = table.filter(pa.array(~blank)), rows[~blank]
    kept = [(before + row.number, row.text) for row in broken
            if row.text.strip(f" {text.delimiter}\r\n")]
    return _RawTable(text.source, table.column_names, table, rows, kept, text.delimiter)


def _blank_records(table: pa.Table) -> np.ndarray:
    """Find records whose every field is empty (blank lines, ``,,,,`` rows of spreadsheets)."""
    blank = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        candidates = np.flatnonzero(blank)
        if candidates.size == 0:
            break
        values = column if candidates.size == len(blank) else column.take(pa.array(candidates))
        empty = pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))
        blank[candidates] = empty.to_numpy(zero_copy_only=False)
    return blank


def _broken_problems(raw: _RawTable) -> tuple[np.ndarray, ...]:
    """Row, column (none), value and reason of each line with a wrong number of fields."""
    return (np.array([number for number, _ in raw.broken], dtype=np.int64),
            np.full(len(raw.broken), None, dtype=object),
            np.array([text for _, text in raw.broken], dtype=object),
            np.array([_broken_reason(text, raw) for _, text in raw.broken], dtype=object))


def _broken_reason(text: str, raw: _RawTable) -> str:
    """Explain a line whose number of fields does not match the header."""
    if text.count('"') % 2:
        return ('this line has an unmatched double quote ("), which joins it with the lines after '
                "it; remove the quote or close it")
    found = len(_split_line(text, raw.delimiter, raw.source))
    return (f"this line has {found} fields but the header has {len(raw.columns)} columns; "
            "check for a missing value or an unquoted delimiter inside a value")


# --------------------------------------------------------------------------------------------------
# Layout detection and column names
# --------------------------------------------------------------------------------------------------

def _normalize(name: str) -> str:
    """Compare header names case-insensitively, ignoring punctuation and spaces."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _detect(columns: list[str], *, source: str | None) -> str:
    """Return the layout of a header, or raise naming what was found and expected."""
    keys = {_normalize(c) for c in columns}
    if {"quadkey", "avg_d_kbps"} <= keys:
        return "ookla"
    if _is_gnettrack(keys):
        return "gnettrack"
    if _first_alias(keys, "latitude") and _first_alias(keys, "longitude"):
        return "canonical"
    raise InputFileError.translatable(
        N_("File '%(file)s': kolom-kolomnya tidak cocok dengan format yang dikenal. Ditemukan: "
           "%(found)s. Yang diharapkan: kolom kanonik (%(canonical)s), log G-NetTrack "
           "(Timestamp, Longitude, Latitude, NetworkMode atau NetworkTech, RSRP atau Level) atau "
           "tile Ookla (%(ookla)s). Lihat docs/measurement-csv.md."),
        file=source or "", found=_column_list(columns), canonical=", ".join(CANONICAL_COLUMNS),
        ookla=", ".join(OOKLA_COLUMNS))


def _column_list(columns: list[str]) -> str:
    """The first 40 column names, each cut to 40 characters, for a message."""
    names = [name if len(name) <= 40 else name[:39] + "…" for name in columns[:40]]
    return ", ".join(names) + (", …" if len(columns) > 40 else "")


def _is_gnettrack(keys: set[str]) -> bool:
    """G-NetTrack logs name their columns Timestamp, Longitude, Latitude, NetworkMode, RSRP..."""
    return ({"timestamp", "longitude", "latitude"} <= keys
            and bool(keys & {"networkmode", "networktech"}) and bool(keys & {"rsrp", "level"}))


def _first_alias(keys: set[str], column: str) -> str | None:
    """Return the first accepted name of a canonical column among normalized header keys."""
    return next((alias for alias in COLUMN_ALIASES[column] if alias in keys), None)


def _measurement_format(raw: _RawTable, requested: str) -> str:
    """Return the layout to read: the requested or the detected one (never Ookla tiles)."""
    if requested != "auto":
        return requested
    kind = _detect(raw.columns, source=raw.source)
    if kind == "ookla":
        raise InputFileError.translatable(
            N_("File '%(file)s' berisi tile kinerja Ookla, bukan pengukuran; unggah dengan "
               "format Ookla (tile)."), file=raw.source)
    return kind


def _resolve_columns(
    raw: _RawTable, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> dict[str, str]:
    """Map each wanted column to the file's header name; raise naming every missing one."""
    by_key: dict[str, str] = {}
    for name in raw.columns:
        by_key.setdefault(_normalize(name), name)
    found = {wanted: next((by_key[a] for a in names if a in by_key), None)
             for wanted, names in aliases.items()}
    missing = [wanted for wanted in required if found[wanted] is None]
    if missing:
        expected = "; ".join(f"{m} ({' / '.join(aliases[m])})" for m in missing)
        raise InputFileError.translatable(
            N_("File '%(file)s' tidak memiliki kolom wajib: %(missing)s. Nama yang diterima: "
               "%(expected)s. Ditemukan: %(found)s."),
            file=raw.source, missing=", ".join(missing), expected=expected,
            found=_column_list(raw.columns))
    return {wanted: name for wanted, name in found.items() if name is not None}


def _measurement_columns(raw: _RawTable, kind: str) -> dict[str, str]:
    """Header names of the measurement columns in this file."""
    if kind == "gnettrack":
        return _resolve_columns(raw, GNETTRACK_COLUMNS, ("latitude", "longitude", "timestamp",
                                                         "technology", "signal_dbm"))
    names = _resolve_columns(raw, COLUMN_ALIASES, REQUIRED_COLUMNS)
    if "signal_dbm" not in names and "no_service" not in names:
        raise InputFileError.translatable(
            N_("File '%(file)s' tidak memiliki kolom wajib: signal_dbm atau no_service (file "
               "perlu sinyal dalam dBm, atau kolom no_service bila hanya mencatat tempat tanpa "
               "layanan). Ditemukan: %(found)s."), file=raw.source, found=_column_list(raw.columns))
    return names


# --------------------------------------------------------------------------------------------------
# Measurements: column checks
# --------------------------------------------------------------------------------------------------

def _parse_measurements(
    raw: _RawTable, kind: str, *, zone: str, now_s: int, offset: int = 0
) -> tuple[dict[str, Any], _Findings]:
    """Convert and check every measurement column; return the values and the problems found.

    ``raw`` may be a part of the file starting at record ``offset``.
    """
    columns = _Columns(raw, _measurement_columns(raw, kind),
                       ("", "-") if kind == "gnettrack" else ("",))
    checks = _Findings(raw.size, offset)
    values: dict[str, Any] = {
        "latitude": _check_coordinate(columns["latitude"], "latitude", 90.0, checks),
        "longitude": _check_coordinate(columns["longitude"], "longitude", 180.0, checks),
        "measured_at": _check_timestamps(columns["timestamp"], zone, now_s, checks),
    }
    technology, no_service = _check_technology(columns["technology"], columns.get("no_service"),
                                                checks)
    signal = (_gnettrack_signal(columns["signal_dbm"], columns.get("nr_signal_dbm"), technology)
              if kind == "gnettrack" else _canonical_signal(columns.get("signal_dbm"), raw))
    values["signal_dbm"] = _check_signal(*signal, technology, no_service, checks)
    speed_unit = 0.001 if kind == "gnettrack" else 1.0  # G-NetTrack throughput is in kbps
    for key, label, unit in (("download_mbps", "download speed", speed_unit),
                             ("upload_mbps", "upload speed", speed_unit),
                             ("latency_ms", "latency", 1.0), ("accuracy_m", "accuracy", 1.0)):
        values[key] = _check_amount(columns.get(key), label, checks, size=raw.size) * unit
    operator, device = columns.get("operator"), columns.get("device_id")
    values.update(technology=technology, no_service=no_service,
                  operator=_operators(operator, raw.size), device_id=_device_ids(device, raw.size))
    _check_length(operator, "operator", settings.MAX_OPERATOR_CHARS, checks)
    _check_length(device, "device id", settings.MAX_DEVICE_ID_CHARS, checks)
    return values, checks


def _numbers(column: _Column) -> tuple[np.ndarray, np.ndarray]:
    """Convert a column to float64: NaN where empty or not a number, plus the not-a-number mask."""
    empty = _equals_any(column.raw, column.tokens)
    try:
        converted = pc.cast(_null_where(empty, column.raw), pa.float64())
    except pa.ArrowInvalid:
        present = _null_where(column.missing, column.text)
        converted = _lenient_numbers(present, decimal_comma=column.decimal_comma)
    else:
        column.missing = empty  # a clean cast proves that no cell has surrounding white space
    values = np.asarray(converted.to_numpy(zero_copy_only=False), dtype=np.float64)
    bad = ~column.missing & ~np.isfinite(values)
    return np.where(bad, np.nan, values), bad


def _equals_any(values: pa.ChunkedArray | pa.Array, tokens: tuple[str, ...]) -> np.ndarray:
    """Where the values equal one of the tokens."""
    found = np.zeros(len(values), dtype=bool)
    for token in tokens:
        found |= pc.equal(values, token).to_numpy(zero_copy_only=False)
    return found


def _null_where(mask: np.ndarray, values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Return the values with nulls where ``mask`` is true (the values themselves if nowhere)."""
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def _lenient_numbers(text: pa.Array, *, decimal_comma: bool) -> pa.Array:
    """Convert what looks like a number (a decimal comma too, in ``;`` files); null the rest."""
    if decimal_comma:
        text = pc.replace_substring(text, ",", ".")
    valid = pc.match_substring_regex(text, _NUMBER_PATTERN)
    return pc.cast(pc.if_else(valid, text, pa.scalar(None, pa.string())), pa.float64())


def _check_coordinate(
    column: _Column, label: str, limit: float, checks: _Findings
) -> np.ndarray:
    """Degrees of latitude or longitude; missing, bad or out-of-range ones are problems."""
    values, bad = _numbers(column)
    checks.add(column.missing, column, f"{label} is missing")
    checks.add(bad, column, f"{label} is not a number (decimal degrees expected, e.g. 1.6654)")
    checks.add(np.abs(values) > limit, column,
               f"{label} must be between -{limit:g} and {limit:g} degrees")
    return values


def _check_timestamps(column: _Column, zone: str, now_s: int, checks: _Findings) -> np.ndarray:
    """UTC epoch seconds of each timestamp; bad, future or unset-clock ones are problems."""
    seconds = _parse_timestamps(column, zone)
    bad = ~column.missing & np.isnan(seconds)
    checks.add(column.missing, column, "timestamp is missing")
    checks.add(bad, column, "timestamp is not a date and time such as 2024-03-01T08:00:00, "
               "2024-03-01 08:00:00 or 2024-03-01T08:00:00+07:00")
    checks.add(seconds > now_s + settings.FUTURE_TOLERANCE_S, column,
               "timestamp is in the future; check the phone's clock and the time zone")
    checks.add(seconds < EARLIEST_MEASUREMENT_S, column,
               "timestamp is before 2000-01-01; the phone's clock was probably not set")
    return seconds


def _check_technology(
    column: _Column, flag_column: _Column | None, checks: _Findings
) -> tuple[np.ndarray, np.ndarray]:
    """Technology code per row (index into 2G..5G, -1 for none) and the no-service flag."""
    code = _technology_codes(column.text)
    says_no_service = code == len(_GENERATIONS)
    unknown = ~column.missing & (code < 0)
    no_service = says_no_service | _check_no_service(flag_column, checks, size=column.missing.size)
    checks.add(unknown, column, "technology is not one of 2G, 3G, 4G, 5G (GSM, EDGE, UMTS, HSPA+, "
               "LTE, NR... are accepted too)")
    checks.add(column.missing & ~no_service, column,
               "technology is missing; it may only be empty on a row without service")
    return np.where(says_no_service, _NO_TECHNOLOGY, code), no_service


def _technology_codes(text: pa.Array) -> np.ndarray:
    """Index of each technology name's generation in 2G..5G, 4 for "no service", -1 if unknown."""
    names, codes = _technology_lookup()
    position = pc.index_in(pc.utf8_upper(text), value_set=names)
    found = pc.fill_null(position, -1).to_numpy(zero_copy_only=False)
    return np.where(found >= 0, codes[np.maximum(found, 0)], -1)


def _technology_lookup() -> tuple[pa.Array, np.ndarray]:
    """Every accepted spelling of a technology name and its code."""
    coded = {name: _GENERATIONS.index(gen) for name, gen in TECHNOLOGY_NAMES.items()}
    coded |= dict.fromkeys(NO_SERVICE_NAMES, len(_GENERATIONS))
    spelled = {variant: code for name, code in coded.items() for variant in (
        name, name.replace(" ", "_"), name.replace(" ", "-"), name.replace(" ", ""))}
    return pa.array(list(spelled), pa.string()), np.array(list(spelled.values()), dtype=np.int64)


def _check_no_service(column: _Column | None, checks: _Findings, *, size: int) -> np.ndarray:
    """Read the ``no_service`` flag: true/false/1/0/yes/no/ya/tidak, empty meaning false."""
    if column is None:
        return np.zeros(size, dtype=bool)
    word = pc.utf8_lower(column.text)
    yes = pc.is_in(word, value_set=pa.array(sorted(TRUE_WORDS))).to_numpy(zero_copy_only=False)
    no = pc.is_in(word, value_set=pa.array(sorted(FALSE_WORDS))).to_numpy(zero_copy_only=False)
    checks.add(~column.missing & ~yes & ~no, column,
               "no_service must be true or false (1/0, yes/no, ya/tidak)")
    return yes


def _canonical_signal(
    column: _Column | None, raw: _RawTable
) -> tuple[_Column, np.ndarray, np.ndarray]:
    """Return the signal column of a canonical file and its values (all empty if absent)."""
    if column is None:
        empty = pa.array(np.full(raw.size, "", dtype=object), pa.string())
        column = _Column("signal_dbm", empty, missing=np.ones(raw.size, dtype=bool))
    return (column, *_numbers(column))


def _gnettrack_signal(
    base: _Column, nr: _Column | None, technology: np.ndarray
) -> tuple[_Column, np.ndarray, np.ndarray]:
    """Choose the signal of each G-NetTrack row and name the column it came from.

    ``Level`` (or, in logs without it, ``RSRP``) holds the serving technology's signal: RSRP on
    4G, RSCP on 3G and RSSI on 2G.  The Cork log shows it: HSPA+/UMTS rows carry -85..-51 dBm in
    ``RSRP`` (an RSCP; RSRQ holds Ec/No) while ``NRxRSRP`` keeps a stale -51.0 and ``RSSI`` is
    empty.
    On 5G (NSA) rows ``RSRP`` is the LTE anchor, so a plausible ``NRxRSRP`` (the NR SS-RSRP) is
    preferred.
    """
    values, bad = _numbers(base)
    if nr is None:
        return base, values, bad
    nr_values, nr_bad = _numbers(nr)
    low, high = settings.SIGNAL_RANGE_DBM["5G"]
    use_nr = ((technology == _GENERATIONS.index("5G")) & (nr_values >= low) & (nr_values <= high)
              & ~np.isin(nr_values, list(settings.SIGNAL_SENTINELS_DBM["5G"])))
    merged = _Column(np.where(use_nr, nr.name, base.name),
                     pc.if_else(pa.array(use_nr), nr.raw, base.raw), base.tokens,
                     decimal_comma=base.decimal_comma, missing=base.missing & ~use_nr)
    return merged, np.where(use_nr, nr_values, values), bad & ~use_nr


def _check_signal(
    column: _Column, values: np.ndarray, bad: np.ndarray, technology: np.ndarray,
    no_service: np.ndarray, checks: _Findings,
) -> np.ndarray:
    """Signal in dBm (NaN without service); missing, sentinel or implausible ones are problems."""
    expected = ~no_service
    checks.add(expected & column.missing, column,
               "signal is missing; give the signal in dBm, or mark the row as no service")
    checks.add(expected & bad, column, "signal is not a number (dBm expected, e.g. -95)")
    for code, generation in enumerate(_GENERATIONS):
        measured = expected & (technology == code) & np.isfinite(values)
        _check_signal_range(column, values, measured, generation, checks)
    return np.where(no_service, np.nan, values)


def _check_signal_range(
    column: _Column, values: np.ndarray, measured: np.ndarray, generation: str, checks: _Findings
) -> None:
    """Flag app sentinels, then values outside the physical range of one technology."""
    sentinels = sorted(settings.SIGNAL_SENTINELS_DBM.get(generation, ()))
    for sentinel in sentinels:
        checks.add(measured & (values == sentinel), column,
                   f"sentinel value {sentinel:g} means 'unknown' in app exports")
    low, high = settings.SIGNAL_RANGE_DBM[generation]
    outside = measured & ~np.isin(values, sentinels) & ((values < low) | (values > high))
    measure = _SIGNAL_MEASURE.get(generation, "signal")
    checks.add(outside, column,
               f"outside the plausible {measure} range {low:g}..{high:g} dBm for {generation}")


def _check_amount(
    column: _Column | None, label: str, checks: _Findings, *, size: int,
    required: bool = False,
) -> np.ndarray:
    """Read an optional non-negative quantity (speed, latency, accuracy); NaN where empty."""
    if column is None:
        return np.full(size, np.nan)
    values, bad = _numbers(column)
    if required:
        checks.add(column.missing, column, f"{label} is missing")
    checks.add(bad, column, f"{label} is not a number")
    checks.add(values < 0, column, f"{label} must not be negative")
    return values


def _check_length(column: _Column | None, label: str, limit: int, checks: _Findings) -> None:
    """Flag texts longer than ``limit`` characters (white space around them not counted): the
    database column holds no more."""
    if column is None:
        return
    longer = pc.greater(pc.utf8_length(column.text), limit)
    checks.add(pc.fill_null(longer, False).to_numpy(zero_copy_only=False), column,
               f"{label} is longer than {limit} characters; shorten it")


def _operators(column: _Column | None, size: int) -> pa.Array:
    """Operator names, stripped; "unknown" where empty."""
    if column is None:
        return pa.array(np.full(size, "unknown", dtype=object), pa.string())
    if not column.missing.any():
        return column.text
    return pc.if_else(pa.array(column.missing), "unknown", column.text)


def _device_ids(column: _Column | None, size: int) -> pa.Array:
    """Device identifiers, stripped; null where empty."""
    if column is None:
        return pa.nulls(size, pa.string())
    return _null_where(column.missing, column.text)


# --------------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------------

def _parse_timestamps(column: _Column, zone: str) -> np.ndarray:
    """UTC epoch seconds (float, NaN where unreadable); times without a zone are in ``zone``."""
    empty = _equals_any(column.raw, column.tokens)
    present = _null_where(empty, column.raw)
    seconds = _iso_timestamps(present, zone)
    if seconds is None:
        present = _null_where(column.missing, column.text)
        seconds = _mixed_timestamps(present, zone)
    else:
        column.missing = empty  # a clean cast proves that no cell has surrounding white space
    too_short = pc.less(pc.utf8_length(present), _MIN_TIMESTAMP_CHARS)  # a date without a time
    return np.where(pc.fill_null(too_short, False).to_numpy(zero_copy_only=False), np.nan, seconds)


def _iso_timestamps(present: pa.Array, zone: str) -> np.ndarray | None:
    """Fast path: every value is ISO 8601 without a zone, or every value has one; else None.

    The two casts accept disjoint sets of values; the one matching the first value is tried
    first, because a cast that fails costs several times one that succeeds.
    """
    first = pc.index(present.is_valid(), True).as_py()
    zoned = first >= 0 and re.search(_ZONE_PATTERN, present[first].as_py()) is not None
    for local in ((False, True) if zoned else (True, False)):
        try:
            parsed = pc.cast(present, pa.timestamp("ms") if local else pa.timestamp("ms", "UTC"))
        except pa.ArrowInvalid:
            continue
        return _seconds(_localize(parsed, zone) if local else parsed)
    return None


def _mixed_timestamps(present: pa.Array, zone: str) -> np.ndarray:
    """Slow path, value by value: G-NetTrack ``2019.12.14_10.16.30`` first, then ISO 8601."""
    seconds = _gnettrack_timestamps(present, zone)
    rest = np.isnan(seconds) & present.is_valid().to_numpy(zero_copy_only=False)
    if rest.any():
        seconds[rest] = _pandas_timestamps(present.filter(pa.array(rest)), zone)
    return seconds


def _gnettrack_timestamps(present: pa.Array, zone: str) -> np.ndarray:
    """Parse ``%Y.%m.%d_%H.%M.%S`` strictly (a value must print back identically)."""
    parsed = pc.strptime(present, GNETTRACK_TIME_FORMAT, unit="s", error_is_null=True)
    exact = pc.equal(pc.strftime(parsed, GNETTRACK_TIME_FORMAT), present)
    return _seconds(_localize(pc.if_else(exact, parsed, pa.scalar(None, parsed.type)), zone))


def _pandas_timestamps(text: pa.Array, zone: str) -> np.ndarray:
    """ISO 8601 values one by one (mixed zones, fractions, errors), via pandas."""
    values = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    zoned = pc.match_substring_regex(text, _ZONE_PATTERN).to_numpy(zero_copy_only=False)
    seconds = np.full(len(values), np.nan)
    aware = pd.to_datetime(values[zoned], format="ISO8601", errors="coerce", utc=True)
    seconds[zoned] = _seconds(pa.array(aware.dt.tz_localize(None)))
    naive = pd.to_datetime(values[~zoned], format="ISO8601", errors="coerce")
    seconds[~zoned] = _seconds(_localize(pa.array(naive), zone))
    return seconds


def _localize(local: pa.Array, zone: str) -> pa.Array:
    """Read naive wall-clock times in ``zone`` (ambiguous or skipped DST times: the earliest)."""
    return pc.assume_timezone(local, timezone=zone, ambiguous="earliest", nonexistent="earliest")


def _seconds(timestamps: pa.Array) -> np.ndarray:
    """Whole UTC epoch seconds of timestamps as float64, NaN for nulls."""
    unit = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[timestamps.type.unit]
    ticks = pc.cast(timestamps, pa.int64()).to_numpy(zero_copy_only=False)
    return np.floor(np.asarray(ticks, dtype=np.float64) / unit)


def _time_zone(name: str | None) -> str:
    """Return the time zone to use, checked to be a known IANA name."""
    zone = name or settings.DEFAULT_TIMEZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {zone!r}; use an IANA name such as 'Asia/Jakarta', "
                         "'Asia/Makassar' or 'Asia/Jayapura'") from err
    return zone


def _epoch_seconds(now: datetime | None) -> int:
    """``now`` (timezone-aware) as UTC epoch seconds; the current time by default."""
    if now is None:
        now = datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return int(now.timestamp())


def _check_choice(value: str, allowed: tuple[str, ...], name: str) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


# --------------------------------------------------------------------------------------------------
# Ookla tiles
# --------------------------------------------------------------------------------------------------

def _parse_tiles(raw: _RawTable, names: dict[str, str]) -> tuple[dict[str, Any], _Findings]:
    """Convert and check every tile column; return the values and the problems found."""
    columns = _Columns(raw, names)
    checks = _Findings(raw.size)
    tiles = _check_quadkeys(columns["quadkey"], checks)
    _check_tile_polygons(columns.get("tile"), tiles, checks)
    values: dict[str, Any] = {"quadkey": columns["quadkey"].text, "geometry": tiles}
    for key, out, label, scale in (("avg_d_kbps", "avg_d_mbps", "download speed", 0.001),
                                   ("avg_u_kbps", "avg_u_mbps", "upload speed", 0.001),
                                   ("avg_lat_ms", "avg_lat_ms", "latency", 1.0)):
        values[out] = _check_amount(columns[key], label, checks, size=raw.size,
                                    required=True) * scale
    values["tests"] = _check_count(columns["tests"], "tests", 1, checks)
    values["devices"] = _check_count(columns["devices"], "devices", 0, checks)
    return values, checks


def _check_quadkeys(column: _Column, checks: _Findings) -> np.ndarray:
    """Compute the tile polygon of each valid quadkey (None for invalid ones: problems)."""
    valid = pc.match_substring_regex(column.text, _QUADKEY_PATTERN).to_numpy(zero_copy_only=False)
    checks.add(column.missing, column, "quadkey is missing")
    checks.add(~column.missing & ~valid, column,
               "quadkey is not valid: it must be 1 to 23 digits 0-3; keep it as text, not a number")
    tiles = np.full(valid.size, None, dtype=object)
    if valid.any():
        keys = column.text.filter(pa.array(valid)).to_numpy(zero_copy_only=False)
        tiles[valid] = shapely.box(*_quadkey_bounds(keys.astype(str)))
    return tiles


def _quadkey_bounds(keys: np.ndarray) -> tuple[np.ndarray, ...]:
    """West, south, east and north edges (degrees) of the Web-Mercator tiles named by quadkeys."""
    zoom = np.char.str_len(keys).astype(np.int64)
    width = int(zoom.max())
    digits = keys.astype(f"U{width}").view(np.uint32).reshape(-1, width).astype(np.int64) - ord("0")
    shift = zoom[:, None] - 1 - np.arange(width)[None, :]
    weight = np.where(shift >= 0, np.left_shift(1, np.maximum(shift, 0)), 0)
    x = ((digits & 1) * weight).sum(axis=1)
    y = (((digits >> 1) & 1) * weight).sum(axis=1)
    size = 2.0 ** zoom
    return x / size * 360 - 180, _tile_latitude(y + 1, size), (x + 1) / size * 360 - 180, \
        _tile_latitude(y, size)


def _tile_latitude(y: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Latitude (degrees) of the northern edge of tile row ``y`` at a zoom with ``size`` rows."""
    return np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * y / size))))


def _check_tile_polygons(column: _Column | None, tiles: np.ndarray, checks: _Findings) -> None:
    """Check that the file's WKT polygon, where given, matches the quadkey's tile."""
    if column is None:
        return
    given = ~column.missing & ~shapely.is_missing(tiles)
    text = np.where(given, column.text.to_numpy(zero_copy_only=False), None)
    polygons = shapely.from_wkt(text, on_invalid="ignore")
    unreadable = given & shapely.is_missing(polygons)
    distance = shapely.hausdorff_distance(polygons, tiles)
    checks.add(unreadable, column, "tile is not a WKT polygon")
    checks.add(given & ~unreadable & ~(distance <= TILE_TOLERANCE_DEG), column,
               f"tile polygon does not match its quadkey (differs by more than "
               f"{TILE_TOLERANCE_DEG:g} degrees)")


def _check_count(
    column: _Column, label: str, minimum: int, checks: _Findings
) -> np.ndarray:
    """Read a whole number of at least ``minimum``."""
    values, bad = _numbers(column)
    checks.add(column.missing, column, f"{label} is missing")
    checks.add(bad, column, f"{label} is not a number")
    checks.add(np.isfinite(values) & (values != np.round(values)), column,
               f"{label} must be a whole number")
    checks.add(values < minimum, column, f"{label} must be at least {minimum}")
    return values


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------

def _measurement_chunk(values: dict, rows: np.ndarray, keep: np.ndarray, broken: int = 0, *,
                       rejected: RejectedRows | None = None, raw: _RawTable | None = None
                       ) -> MeasurementChunk:
    """The accepted (``keep``) records with the documented columns and dtypes (``broken``: lines
    of the part set aside by the parser; ``rejected`` and ``raw`` as in the chunk)."""
    every = bool(keep.all())  # the usual case: nothing to filter, nothing to copy

    def kept(array: np.ndarray) -> np.ndarray:
        return array if every else array[keep]

    def kept_texts(array: pa.ChunkedArray | pa.Array) -> pa.Array:
        return _one_array(array if every else array.filter(mask))

    mask = pa.array(keep)
    names = pa.array([*_GENERATIONS, ""])  # code -1 (no technology) is the last name
    technology = kept_texts(pa.DictionaryArray.from_arrays(
        pa.array(np.where(values["technology"] < 0, len(_GENERATIONS), values["technology"])),
        names)).cast(pa.string())
    return MeasurementChunk(
        row=kept(rows).astype(np.int64, copy=False),
        latitude=kept(values["latitude"]),
        longitude=kept(values["longitude"]),
        measured_at=kept(values["measured_at"]).astype(np.int64),
        operator=kept_texts(values["operator"]),
        technology=technology,
        signal_dbm=kept(values["signal_dbm"]),
        no_service=kept(values["no_service"]).astype(bool, copy=False),
        download_mbps=kept(values["download_mbps"]),
        upload_mbps=kept(values["upload_mbps"]),
        latency_ms=kept(values["latency_ms"]),
        accuracy_m=kept(values["accuracy_m"]),
        device_id=kept_texts(values["device_id"]),
        lines=len(keep) + broken,
        rejected=rejected,
        raw=raw,
    )


def _one_array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The values as one contiguous array."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _no_values() -> dict[str, Any]:
    """The values of a slice without records (for an empty batch frame)."""
    floats = np.zeros(0, dtype=np.float64)
    return {"latitude": floats, "longitude": floats, "measured_at": floats,
            "technology": np.zeros(0, dtype=np.int64), "operator": pa.array([], pa.string()),
            "signal_dbm": floats, "no_service": np.zeros(0, dtype=bool), "download_mbps": floats,
            "upload_mbps": floats, "latency_ms": floats, "accuracy_m": floats,
            "device_id": pa.array([], pa.string())}


def _tile_frame(
    values: dict, rows: np.ndarray, keep: np.ndarray, period: str | None
) -> gpd.GeoDataFrame:
    """Build the accepted tiles as a GeoDataFrame in EPSG:4326."""
    frame = pd.DataFrame({
        "row": rows[keep].astype(np.int64),
        "quadkey": pd.Series(values["quadkey"].filter(pa.array(keep)).to_pandas(), dtype="str"),
        "period": pd.Series(np.full(int(keep.sum()), period, dtype=object), dtype=object),
        "avg_d_mbps": values["avg_d_mbps"][keep],
        "avg_u_mbps": values["avg_u_mbps"][keep],
        "avg_lat_ms": values["avg_lat_ms"][keep],
        "tests": values["tests"][keep].astype(np.int64),
        "devices": values["devices"][keep].astype(np.int64),
    })
    tiles = gpd.GeoSeries(values["geometry"][keep], crs="EPSG:4326")
    return gpd.GeoDataFrame(frame, geometry=tiles)


def _batch_parts(kind: str, raw: _RawTable, findings: _Findings, frame: pd.DataFrame) -> dict:
    """Everything a batch holds besides the accepted rows."""
    rejected = findings.rejected()
    broken_rows = np.array([number for number, _ in raw.broken], dtype=np.int64)
    rejected_rows = np.sort(np.concatenate([raw.rows[rejected], broken_rows])).astype(np.int64)
    return {
        "format": kind, "source": raw.source, "rows": raw.size + len(raw.broken), "frame": frame,
        "problems": findings.problems(raw), "rejected_rows": rejected_rows,
        "rejected_raw": _rejected_raw(raw, rejected),
        "delimiter": ";" if raw.delimiter == ";" else ",", "raw": raw,
    }


def _rejected_rows(raw: _RawTable, findings: _Findings, rejected: np.ndarray) -> RejectedRows:
    """The rejected records (``rejected`` mask) and broken lines of a part, with their
    problems."""
    if not raw.broken and not rejected.any():
        return _no_rejected_rows(raw)
    records, rows = raw.table.filter(pa.array(rejected)), raw.rows[rejected]
    if raw.broken:
        fitted = [_fit_fields(text, raw) for _, text in raw.broken]
        broken = pa.table([pa.array(list(values), pa.string()) for values in zip(*fitted)],
                          schema=records.schema)
        rows = np.concatenate([rows, [number for number, _ in raw.broken]]).astype(np.int64)
        order = np.argsort(rows, kind="stable")
        records, rows = pa.concat_tables([records, broken]).take(pa.array(order)), rows[order]
    return RejectedRows(rows, records, findings.problem_arrays(raw))


def _no_rejected_rows(raw: _RawTable | None) -> RejectedRows:
    """No rejected row (under the part's column names)."""
    records = raw.table.slice(0, 0) if raw is not None else pa.table({})
    empty = np.zeros(0, dtype=object)
    return RejectedRows(np.zeros(0, np.int64), records,
                        (np.zeros(0, np.int64), empty, empty, empty))


def _clipped(texts: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Texts cut to ``settings.REJECTED_EXAMPLE_VALUE_CHARS`` characters (marked with "…"):
    the value a problem shows (the rejected-rows CSV keeps the whole text)."""
    limit = settings.REJECTED_EXAMPLE_VALUE_CHARS
    longer = pc.fill_null(pc.greater(pc.utf8_length(texts), limit), False)
    if not pc.any(longer).as_py():
        return texts
    cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(texts, 0, limit), "…", "")
    return pc.if_else(longer, cut, texts)


def _rejected_raw(raw: _RawTable, rejected: np.ndarray) -> pd.DataFrame:
    """Return the original text of the rejected rows, in file order, under the file's names."""
    records = raw.table.filter(pa.array(rejected)).to_pandas()
    records.index = raw.rows[rejected]
    broken = pd.DataFrame([_fit_fields(text, raw) for _, text in raw.broken], columns=raw.columns,
                          index=[number for number, _ in raw.broken], dtype=object)
    parts = [part for part in (records, broken) if len(part)]
    table = pd.concat(parts) if parts else records
    return table.sort_index()


def _fit_fields(text: str, raw: _RawTable) -> list[str]:
    """Fields of a broken line fitted to the header: padded, or the extra ones in the last one."""
    fields = _split_line(text, raw.delimiter, raw.source)
    width = len(raw.columns)
    if len(fields) > width:
        fields = fields[:width - 1] + [raw.delimiter.join(fields[width - 1:])]
    return fields + [""] * (width - len(fields))


def _errors_by_row(problems: list[Problem]) -> dict[int, str]:
    """Join the reasons of every problem of each row with ``"; "``."""
    by_row: dict[int, list[str]] = {}
    for problem in problems:
        by_row.setdefault(int(problem.row or 0), []).append(problem.reason)
    return {row: "; ".join(texts) for row, texts in by_row.items()}
