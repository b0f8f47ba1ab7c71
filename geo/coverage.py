"""Mobile coverage per H3 cell and per kelurahan: status, state as of a date, trends, targets.

Definitions (thresholds are in :mod:`geo.settings`, read at call time):

Cells
    Measurements are grouped by their ``h3_cell`` at ``settings.H3_RESOLUTION`` (cells stored at
    a finer resolution count in their parent).  Dates without a time mean the whole local day in
    ``settings.DEFAULT_TIMEZONE``; naive datetimes are local too.

Signal class
    Each observation is classed with its own technology's bounds
    (``settings.SIGNAL_CLASSES_DBM``): very_good, good, fair, weak, or no_coverage (below the weak
    bound, or no service).  Rows with a signal but no known technology, or with neither a signal
    nor a no-service flag, are "unknown" and are not evidence.

Evidence
    Rows with a position less accurate than ``settings.MAX_ACCURACY_M`` are dropped (a missing
    accuracy is kept).  *As of* a date, rows after it are ignored; for each (cell, operator) the
    evidence is then its rows from the ``settings.EVIDENCE_WINDOW_DAYS`` days up to its latest
    row, extended back to its ``min_samples`` most recent rows when the window holds fewer.  So
    the most recent evidence decides, evidence never expires, and a single new reading does not
    overturn older, better supported evidence.

Cell status (per operator)
    ``unmeasured`` with fewer than ``min_samples`` evidence rows (default
    ``settings.MIN_SAMPLES_PER_CELL``); else ``blank`` when the no-coverage share (no service or
    below the weak bound) is at least ``BLANK_SHARE``; else ``weak`` when the weak-or-worse share is
    at least ``WEAK_SHARE``; else ``covered``.

"Any operator"
    A resident gets service from at least one operator: the cell takes the best status among the
    operators measured there (covered > weak > blank), so it is blank only when every measured
    operator is blank.  When no single operator has ``min_samples`` rows, the pooled rows of all
    operators are judged together by the same rule.  The statistics of an "any" row (samples,
    median...) are over the pooled evidence rows of all operators.

Ookla tiles
    Separate evidence, never mixed with the readings: the ``ookla_*`` columns of the "any" row of
    a cell come from the tiles containing the cell's centre (of the most recent period that ended
    on or before the as-of date; tiles whose period cannot be read are always used, ranked
    oldest).  They never change a status.  Cells that only Ookla tested appear as "any" rows with
    0 samples, status ``unmeasured``.

Kelurahan
    A cell belongs to the kelurahan most of its rows fall in (``kelurahan_kode``).  Area is
    computed in the local UTM CRS.  Measured area is the area of the kelurahan's measured cells,
    all scaled down by one factor when they add up to more than the kelurahan (cells straddling
    its border), so that it never exceeds the kelurahan's area; population sums are scaled the
    same way.  Quick-win status: "ada blank spot" with at least one blank cell; else "bebas blank
    spot" when the measured share of area is at least ``MIN_MEASURED_SHARE_FOR_QUICK_WIN``; else
    "belum cukup data".

Changes between two dates
    A cell is *resolved* when blank at the first date and weak or covered at the second, *newly
    blank* when blank at the second date only, *still blank* when blank at both.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

import geopandas as gpd
import h3ronpy
import h3ronpy.vector as h3_vector
import shapely

from geo import settings
from geo.errors import BoundaryError, Problem
from geo.population import population_in_cells, population_in_polygons
from geo.projection import project_to_metric, require_crs
from geo.settings import SignalThresholds, thresholds_from_config

__all__ = [
    "ANY_OPERATOR",
    "CITY_TOTAL_CODE",
    "SPLIT_BLANK_SPOT_COLUMNS",
    "STATUSES",
    "aggregate_cells",
    "blank_spot_totals",
    "classify_signal",
    "compare_dates",
    "kelurahan_operator_stats",
    "kelurahan_stats",
    "split_blank_spots",
    "target_progress",
    "time_series",
]

#: Operator label of the rows that answer "can a resident get service from any operator".
ANY_OPERATOR = "any"
#: ``kode`` of the city-total rows of :func:`time_series`.
CITY_TOTAL_CODE = "ALL"
#: Cell statuses, in the order "any operator" ranks them (a better status wins).
STATUSES: tuple[str, ...] = ("unmeasured", "blank", "weak", "covered")
#: Quick-win status of a kelurahan.
FREE, HAS_BLANK, NOT_ENOUGH_DATA = "bebas blank spot", "ada blank spot", "belum cukup data"
#: Technologies from worst to best (``best_technology`` is the best seen with service).
TECHNOLOGIES: tuple[str, ...] = ("2G", "3G", "4G", "5G")

AsOf: TypeAlias = date | datetime | pd.Timestamp | np.datetime64 | str | int | float | None
Thresholds: TypeAlias = SignalThresholds | Mapping[str, Any] | None

_UNMEASURED, _BLANK, _WEAK, _COVERED = range(4)
_WEAK_CLASS, _NO_COVERAGE, _UNKNOWN = 3, 4, 5
_REQUIRED = ("measured_at", "operator", "technology", "signal_dbm", "no_service", "h3_cell")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- signal classes ----------------------------------------------------------------------------

def classify_signal(technology: npt.ArrayLike, signal_dbm: npt.ArrayLike,
                    no_service: npt.ArrayLike, *, thresholds: Thresholds = None) -> np.ndarray:
    """Signal class of each observation.

    Parameters
    ----------
    technology
        "2G", "3G", "4G" or "5G" per observation (anything else is unknown).
    signal_dbm
        RSSI (2G), RSCP (3G) or RSRP (4G/5G) in dBm; NaN when not measured.
    no_service
        True where the phone had no service (class "no_coverage" whatever the signal).
    thresholds
        Class bounds; default the settings (a mapping is read with
        :func:`geo.settings.thresholds_from_config`).

    Returns
    -------
    numpy.ndarray
        Object array of "very_good", "good", "fair", "weak", "no_coverage", or "unknown" for an
        unknown technology or a missing signal without a no-service flag.
    """
    codes = _class_codes(_technology_ranks(technology), np.asarray(signal_dbm, dtype=float),
                         _as_bool(no_service), _thresholds(thresholds))
    return np.array([*settings.SIGNAL_CLASS_NAMES, "unknown"], dtype=object)[codes]


def _class_codes(technology: np.ndarray, signal: np.ndarray, no_service: np.ndarray,
                 thresholds: SignalThresholds) -> np.ndarray:
    """Class code per row: 0 very good ... 4 no coverage, 5 unknown."""
    bounds = np.array([thresholds.classes_dbm[name] for name in TECHNOLOGIES] + [[np.nan] * 4])
    row_bounds = bounds[np.where(technology >= 0, technology, len(TECHNOLOGIES))]
    with np.errstate(invalid="ignore"):
        codes = (signal[:, None] < row_bounds).sum(axis=1)
    known = (technology >= 0) & np.isfinite(signal)
    codes = np.where(known, codes, _UNKNOWN)
    return np.where(no_service, _NO_COVERAGE, codes).astype(np.int8)


def _technology_ranks(technology: npt.ArrayLike) -> np.ndarray:
    """Index into :data:`TECHNOLOGIES` per row, -1 when unknown or missing."""
    codes, names = pd.factorize(pd.Series(np.asarray(technology, dtype=object)
                                          if not isinstance(technology, pd.Series)
                                          else technology))
    lookup = pd.Index(TECHNOLOGIES).get_indexer(pd.Index(names).astype(str).str.upper())
    return np.append(lookup, -1)[codes].astype(np.int8)


def _thresholds(thresholds: Thresholds) -> SignalThresholds:
    if isinstance(thresholds, SignalThresholds):
        return thresholds
    if thresholds is None:
        return SignalThresholds.from_settings()
    return thresholds_from_config(thresholds)


# --- cells -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Observations:
    """Usable evidence rows as arrays of codes (built once, cut at several as-of dates)."""

    cell: np.ndarray
    time: np.ndarray
    operator: np.ndarray
    operators: np.ndarray
    klass: np.ndarray
    signal: np.ndarray
    no_service: np.ndarray
    technology: np.ndarray
    download: np.ndarray
    device: np.ndarray
    upload: np.ndarray
    kode: np.ndarray
    kodes: np.ndarray

    def take(self, rows: np.ndarray) -> _Observations:
        """Return the observations at ``rows`` (indexes or a boolean mask)."""
        return replace(self, **{name: getattr(self, name)[rows] for name in _ROW_FIELDS})


_ROW_FIELDS = ("cell", "time", "operator", "klass", "signal", "no_service", "technology",
               "download", "device", "upload", "kode")


def aggregate_cells(measurements: pd.DataFrame, *, as_of: AsOf = None,
                    operator: str | Sequence[str] | None = None, min_samples: int | None = None,
                    thresholds: Thresholds = None,
                    ookla_tiles: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Coverage statistics and status per H3 cell and operator, as of a date.

    Parameters
    ----------
    measurements
        Rows with ``measured_at`` (UTC epoch seconds), ``operator``, ``technology``,
        ``signal_dbm``, ``no_service``, ``h3_cell`` and, when present, ``download_mbps``,
        ``accuracy_m``, ``device_id``, ``upload_id``, ``kelurahan_kode``.
    as_of
        Ignore rows after this moment: a date (its whole local day, ``settings.DEFAULT_TIMEZONE``),
        a datetime (naive means local), or epoch seconds.  Default: use every row.
    operator
        Use only this operator's (or these operators') rows; "any" then means any of them.
    min_samples
        Evidence rows a cell needs to be measured (default ``settings.MIN_SAMPLES_PER_CELL``).
    thresholds
        Signal classes and status shares (default from settings).
    ookla_tiles
        Ookla tiles (EPSG:4326) with ``period``, ``tests``, ``avg_d_mbps`` and
        ``kelurahan_kode``; reported in separate columns, never used for the status.

    Returns
    -------
    pandas.DataFrame
        One row per (cell, operator) and per cell for operator "any", sorted by cell and
        operator: ``h3_cell`` (int64), ``h3`` (hex string), ``operator``, ``samples``,
        ``devices``, ``uploads``, ``median_dbm``, ``p10_dbm`` (10th percentile, linear
        interpolation), ``no_service_share``, ``no_coverage_share``, ``weak_or_worse_share``,
        ``best_technology``, ``first_at`` and ``last_at`` (epoch seconds of the evidence used),
        ``median_download_mbps``, ``status``, ``kelurahan_kode``, ``area_km2``, ``ookla_tests``,
        ``ookla_avg_d_mbps``, ``ookla_period``.  See the module notes for the definitions.
    """
    thresholds = _thresholds(thresholds)
    observations = _prepare(measurements, thresholds=thresholds, operator=operator)
    return _cells_as_of(observations, _cutoff(as_of), min_samples=_min_samples(min_samples),
                        thresholds=thresholds, ookla_tiles=ookla_tiles)


def _min_samples(min_samples: int | None) -> int:
    value = int(settings.MIN_SAMPLES_PER_CELL if min_samples is None else min_samples)
    if value < 1:
        raise ValueError(f"min_samples must be at least 1, not {min_samples!r}")
    return value


def _prepare(measurements: pd.DataFrame, *, thresholds: SignalThresholds,
             operator: str | Sequence[str] | None) -> _Observations:
    """Check the columns, keep usable evidence rows and encode them as arrays."""
    missing = [name for name in _REQUIRED if name not in measurements.columns]
    if missing:
        raise ValueError(f"measurements lack the column(s) {', '.join(missing)}; "
                         f"they need {', '.join(_REQUIRED)}")
    frame = measurements[_usable_rows(measurements, operator)]
    operator_codes, operators = _codes(frame["operator"], missing="unknown")
    kode, kodes = _codes(frame.get("kelurahan_kode"), size=len(frame), sort=True)
    technology = _technology_ranks(frame["technology"])
    signal = frame["signal_dbm"].to_numpy(dtype=float, na_value=np.nan)
    no_service = _as_bool(frame["no_service"])
    klass = _class_codes(technology, signal, no_service, thresholds)
    observations = _Observations(
        cell=_at_resolution(frame["h3_cell"].to_numpy(dtype=np.int64)),
        time=_epoch_seconds(frame["measured_at"]),
        operator=operator_codes, operators=operators, klass=klass, signal=signal,
        no_service=no_service, technology=np.where(no_service, -1, technology).astype(np.int8),
        download=_floats(frame.get("download_mbps"), len(frame)),
        device=_codes(frame.get("device_id"), size=len(frame))[0],
        upload=_codes(frame.get("upload_id"), size=len(frame))[0], kode=kode, kodes=kodes)
    return observations.take(klass != _UNKNOWN)


def _at_resolution(cells: np.ndarray) -> np.ndarray:
    """Cells at ``settings.H3_RESOLUTION``: finer cells are replaced by their parent."""
    target = int(settings.H3_RESOLUTION)
    resolution = (cells >> 52) & 0xF  # the resolution field of an H3 index
    if (resolution < target).any():
        raise ValueError(f"measurements are stored at H3 resolution {int(resolution.min())}, "
                         f"coarser than settings.H3_RESOLUTION = {target}")
    finer = np.flatnonzero(resolution > target)
    if len(finer):
        parents = h3ronpy.change_resolution(pa.array(cells[finer].view(np.uint64)), target)
        cells = cells.copy()
        cells[finer] = pa.array(parents).to_numpy().view(np.int64)
    return cells


def _usable_rows(measurements: pd.DataFrame, operator: str | Sequence[str] | None) -> np.ndarray:
    """Rows with a cell, an accurate enough position and (optionally) a chosen operator."""
    keep = measurements["h3_cell"].fillna(0).to_numpy() > 0
    if "accuracy_m" in measurements.columns:
        accuracy = measurements["accuracy_m"].to_numpy(dtype=float, na_value=np.nan)
        keep &= ~(accuracy > float(settings.MAX_ACCURACY_M))
    if operator is not None:
        chosen = [operator] if isinstance(operator, str) else list(operator)
        keep &= measurements["operator"].isin(chosen).to_numpy()
    return keep


def _codes(values: pd.Series | None, *, size: int | None = None, missing: str | None = None,
           sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per row (-1 where missing, unless ``missing`` names them) and the names."""
    if values is None:
        return np.full(size or 0, -1, dtype=np.int64), np.array([], dtype=object)
    if missing is not None:
        values = values.fillna(missing).replace("", missing)
    codes, names = pd.factorize(values, sort=sort)
    return codes.astype(np.int64), np.asarray(names, dtype=object)


def _floats(values: pd.Series | None, size: int) -> np.ndarray:
    if values is None:
        return np.full(size, np.nan)
    return values.to_numpy(dtype=float, na_value=np.nan)


def _as_bool(values: npt.ArrayLike) -> np.ndarray:
    if isinstance(values, pd.Series):
        return values.fillna(False).to_numpy(dtype=bool)
    return np.asarray(values, dtype=bool)


def _epoch_seconds(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy(dtype="datetime64[s]").astype(np.int64)
    return values.to_numpy(dtype=np.int64)


def _cutoff(as_of: AsOf) -> int | None:
    """Last epoch second included ``as_of`` (a date includes its whole local day)."""
    if as_of is None:
        return None
    if isinstance(as_of, (int, float, np.integer, np.floating)) and not isinstance(as_of, bool):
        return int(np.floor(as_of))
    if isinstance(as_of, str) and _DATE_ONLY.fullmatch(as_of.strip()):
        as_of = date.fromisoformat(as_of.strip())
    if isinstance(as_of, date) and not isinstance(as_of, datetime):
        next_day = pd.Timestamp(as_of + timedelta(days=1)).tz_localize(settings.DEFAULT_TIMEZONE)
        return int(next_day.timestamp()) - 1
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(settings.DEFAULT_TIMEZONE)
    return int(np.floor(stamp.timestamp()))


def _cells_as_of(observations: _Observations, cutoff: int | None, *, min_samples: int,
                 thresholds: SignalThresholds,
                 ookla_tiles: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Build the cell table from prepared observations, cut at ``cutoff``."""
    if cutoff is not None:
        observations = observations.take(observations.time <= cutoff)
    cells, cell_code = np.unique(observations.cell, return_inverse=True)
    kelurahan = _most_common_kode(cell_code.ravel(), observations, len(cells))
    group, evidence = _evidence(observations, cell_code.ravel(), min_samples)
    n_operators = max(len(observations.operators), 1)
    per_operator = _group_stats(group, evidence, min_samples, thresholds)
    pooled = _group_stats(group // n_operators, evidence, min_samples, thresholds)
    first_of_cell = np.flatnonzero(np.r_[True, np.diff(per_operator["group"] // n_operators) > 0])
    best = np.maximum.reduceat(per_operator["status"], first_of_cell) if len(group) else \
        np.array([], dtype=np.int8)
    pooled["status"] = np.where(best > _UNMEASURED, best, pooled["status"])
    table = _cell_frame(per_operator, pooled, observations.operators, n_operators)
    table = _describe_cells(table, cells, kelurahan)
    return _with_ookla(table, ookla_tiles, cutoff)


def _most_common_kode(cell_code: np.ndarray, observations: _Observations, n_cells: int
                      ) -> np.ndarray:
    """Kelurahan code most of each cell's rows fall in (ties: the smallest code), or None."""
    n_kodes = len(observations.kodes)
    result = np.full(n_cells, None, dtype=object)
    known = observations.kode >= 0
    if n_kodes == 0 or not known.any():
        return result
    pair = cell_code[known] * n_kodes + observations.kode[known]
    pairs, counts = np.unique(pair, return_counts=True)
    order = np.lexsort((pairs % n_kodes, -counts, pairs // n_kodes))
    cell = pairs[order] // n_kodes
    first = np.r_[True, cell[1:] != cell[:-1]]
    result[cell[first]] = observations.kodes[pairs[order][first] % n_kodes]
    return result


def _evidence(observations: _Observations, cell_code: np.ndarray, min_samples: int
              ) -> tuple[np.ndarray, _Observations]:
    """Evidence rows sorted by (cell, operator), newest first, and their group numbers."""
    n_operators = max(len(observations.operators), 1)
    group = cell_code.astype(np.int64) * n_operators + observations.operator
    order = np.lexsort((-observations.time, group))
    group = group[order]
    number, start = _labels(group)
    time = observations.time[order]
    rank = np.arange(len(order)) - start[number]
    latest = time[start][number]
    window_s = int(round(float(settings.EVIDENCE_WINDOW_DAYS) * 86400))
    keep = (rank < min_samples) | (time >= latest - window_s)
    return group[keep], observations.take(order[keep])


def _group_stats(group: np.ndarray, rows: _Observations, min_samples: int,
                 thresholds: SignalThresholds) -> dict[str, np.ndarray]:
    """Statistics of contiguous groups of evidence rows (``group`` is sorted)."""
    labels, start = _labels(group)
    samples = np.bincount(labels, minlength=len(start)).astype(np.int64)
    stats = {"group": group[start], "samples": samples,
             "no_service_share": _share(labels, rows.no_service, samples),
             "no_coverage_share": _share(labels, rows.klass >= _NO_COVERAGE, samples),
             "weak_or_worse_share": _share(labels, rows.klass >= _WEAK_CLASS, samples),
             "median_dbm": _quantile(labels, rows.signal, len(start), 0.5),
             "p10_dbm": _quantile(labels, rows.signal, len(start), 0.1),
             "median_download_mbps": _quantile(labels, rows.download, len(start), 0.5),
             "devices": _distinct(labels, rows.device, len(start)),
             "uploads": _distinct(labels, rows.upload, len(start)),
             **_reduced(start, rows)}
    stats["status"] = _status(stats, min_samples, thresholds)
    return stats


def _labels(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense label of each row of sorted ``group`` and the first row of each label."""
    change = np.r_[True, group[1:] != group[:-1]] if len(group) else np.array([], dtype=bool)
    return np.cumsum(change) - 1, np.flatnonzero(change)


def _share(labels: np.ndarray, flag: np.ndarray, samples: np.ndarray) -> np.ndarray:
    return np.bincount(labels, weights=flag, minlength=len(samples)) / np.maximum(samples, 1)


def _quantile(labels: np.ndarray, values: np.ndarray, n_groups: int, q: float) -> np.ndarray:
    """Per-group quantile of the finite values (linear interpolation), NaN when none."""
    finite = np.isfinite(values)
    result = np.full(n_groups, np.nan)
    if finite.any():
        grouped = pd.Series(values[finite]).groupby(labels[finite])
        found = grouped.median() if q == 0.5 else grouped.quantile(q)
        result[found.index.to_numpy()] = found.to_numpy()
    return result


def _distinct(labels: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Count the distinct non-negative codes per group."""
    known = values >= 0
    if not known.any():
        return np.zeros(n_groups, dtype=np.int64)
    span = int(values[known].max()) + 1
    pairs = pd.unique(labels[known] * span + values[known])
    return np.bincount(pairs // span, minlength=n_groups).astype(np.int64)


def _reduced(start: np.ndarray, rows: _Observations) -> dict[str, np.ndarray]:
    if len(start) == 0:
        empty = np.array([], dtype=np.int64)
        return {"first_at": empty, "last_at": empty, "best_technology": empty}
    return {"first_at": np.minimum.reduceat(rows.time, start),
            "last_at": np.maximum.reduceat(rows.time, start),
            "best_technology": np.maximum.reduceat(rows.technology, start)}


def _status(stats: dict[str, np.ndarray], min_samples: int, thresholds: SignalThresholds
            ) -> np.ndarray:
    return np.select(
        [stats["samples"] < min_samples,
         stats["no_coverage_share"] >= thresholds.blank_share,
         stats["weak_or_worse_share"] >= thresholds.weak_share],
        [_UNMEASURED, _BLANK, _WEAK], _COVERED).astype(np.int8)


_STAT_COLUMNS = ("samples", "devices", "uploads", "median_dbm", "p10_dbm", "no_service_share",
                 "no_coverage_share", "weak_or_worse_share", "best_technology", "first_at",
                 "last_at", "median_download_mbps", "status")


def _cell_frame(per_operator: dict[str, np.ndarray], pooled: dict[str, np.ndarray],
                operators: np.ndarray, n_operators: int) -> pd.DataFrame:
    """Rows per (cell, operator) and per cell ("any"), cell codes in ``cell_code``."""
    operator_names = np.append(operators, ANY_OPERATOR).astype(object)
    cell_code = np.concatenate([per_operator["group"] // max(n_operators, 1), pooled["group"]])
    operator = np.concatenate([per_operator["group"] % max(n_operators, 1),
                               np.full(len(pooled["group"]), len(operators))])
    frame = pd.DataFrame({"cell_code": cell_code.astype(np.int64),
                          "operator": operator_names[operator]})
    for name in _STAT_COLUMNS:
        frame[name] = np.concatenate([per_operator[name], pooled[name]])
    return frame


def _describe_cells(frame: pd.DataFrame, cells: np.ndarray, kelurahan: np.ndarray
                    ) -> pd.DataFrame:
    """Replace codes by names; add the cell's id, hex id, kelurahan and area."""
    code = frame.pop("cell_code").to_numpy()
    unique = cells.astype(np.int64)
    frame.insert(0, "h3_cell", unique[code])
    frame.insert(1, "h3", _hex_ids(unique)[code])
    names = np.array([*TECHNOLOGIES, None], dtype=object)
    frame["best_technology"] = pd.array(names[frame["best_technology"].to_numpy()], dtype="str")
    frame["status"] = np.array(STATUSES, dtype=object)[frame["status"].to_numpy()]
    frame["kelurahan_kode"] = pd.array(kelurahan[code], dtype="str")
    frame["area_km2"] = _cell_areas(unique)[code]
    return frame.sort_values(["h3_cell", "operator"], ignore_index=True)


def _hex_ids(cells: np.ndarray) -> np.ndarray:
    if len(cells) == 0:
        return np.array([], dtype=object)
    text = h3ronpy.cells_to_string(pa.array(cells.view(np.uint64)))
    return pa.array(text).to_numpy(zero_copy_only=False).astype(object)


def _cell_areas(cells: np.ndarray) -> np.ndarray:
    """Geodesic area of each H3 cell in km2."""
    if len(cells) == 0:
        return np.array([], dtype=float)
    return pa.array(h3ronpy.cells_area_km2(pa.array(cells.view(np.uint64)))).to_numpy()


# --- Ookla tiles -------------------------------------------------------------------------------

def _with_ookla(table: pd.DataFrame, tiles: gpd.GeoDataFrame | None, cutoff: int | None
                ) -> pd.DataFrame:
    """Add the Ookla columns (on "any" rows) and rows for cells only Ookla tested."""
    table = table.assign(ookla_tests=np.nan, ookla_avg_d_mbps=np.nan,
                         ookla_period=pd.array([None] * len(table), dtype="str"))
    if tiles is None or len(tiles) == 0:
        return table
    tiles = _usable_tiles(tiles, cutoff)
    cells, kode = _tile_cells(tiles)
    new = np.setdiff1d(cells, table["h3_cell"].to_numpy())
    if len(new):
        table = pd.concat([table, _ookla_only_rows(new, kode[np.searchsorted(cells, new)],
                                                   table.columns)], ignore_index=True)
        table = table.sort_values(["h3_cell", "operator"], ignore_index=True)
    any_rows = np.flatnonzero(table["operator"].to_numpy() == ANY_OPERATOR)
    tests, speed, period = _tile_values(table["h3_cell"].to_numpy()[any_rows], tiles)
    table.loc[any_rows, "ookla_tests"] = tests
    table.loc[any_rows, "ookla_avg_d_mbps"] = speed
    table.loc[any_rows, "ookla_period"] = period
    return table


def _usable_tiles(tiles: gpd.GeoDataFrame, cutoff: int | None) -> gpd.GeoDataFrame:
    """Tiles in EPSG:4326 with a ``period_end`` (epoch s; -1 when unreadable), cut at ``cutoff``."""
    require_crs(tiles, source="the Ookla tiles")
    tiles = tiles.to_crs("EPSG:4326")
    labels = tiles["period"] if "period" in tiles.columns else pd.Series(None, index=tiles.index)
    ends = np.array([_period_end(label) for label in labels.tolist()], dtype=np.int64)
    tiles = tiles.assign(period_end=ends)
    if cutoff is not None:
        tiles = tiles[tiles["period_end"] <= cutoff]
    return tiles


def _period_end(label: Any) -> int:
    """Last epoch second of an Ookla period label ("2022-Q3", "2022-07"), -1 if unreadable."""
    try:
        period = pd.Period(str(label).strip())
    except (TypeError, ValueError):
        return -1
    if pd.isna(period):
        return -1
    end = (period.end_time.floor("s")).tz_localize(settings.DEFAULT_TIMEZONE)
    return int(end.timestamp())


def _tile_cells(tiles: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sorted H3 cells whose centre lies in a tile, and the tile's kelurahan code of each."""
    if len(tiles) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=object)
    wkb = pa.array(shapely.to_wkb(np.asarray(tiles.geometry.array)))
    nested = pa.array(h3_vector.wkb_to_cells(wkb, int(settings.H3_RESOLUTION)))
    cells = nested.flatten().to_numpy().view(np.int64)
    tile = np.repeat(np.arange(len(tiles)), np.diff(nested.offsets.to_numpy()))
    kode = (tiles["kelurahan_kode"].to_numpy(dtype=object) if "kelurahan_kode" in tiles.columns
            else np.full(len(tiles), None, dtype=object))
    unique, first = np.unique(cells, return_index=True)
    return unique, kode[tile[first]]


def _ookla_only_rows(cells: np.ndarray, kode: np.ndarray, columns: pd.Index) -> pd.DataFrame:
    rows = pd.DataFrame({"h3_cell": cells, "h3": _hex_ids(cells), "operator": ANY_OPERATOR,
                         "samples": 0, "devices": 0, "uploads": 0, "status": "unmeasured",
                         "kelurahan_kode": pd.array(kode, dtype="str"),
                         "area_km2": _cell_areas(cells)})
    return rows.reindex(columns=columns).astype({"samples": np.int64, "devices": np.int64,
                                                 "uploads": np.int64})


def _tile_values(cells: np.ndarray, tiles: gpd.GeoDataFrame
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return tests, test-weighted download (Mbps) and period of the newest tiles per cell."""
    tests, speed = np.full(len(cells), np.nan), np.full(len(cells), np.nan)
    period = np.full(len(cells), None, dtype=object)
    if len(cells) == 0 or len(tiles) == 0:
        return tests, speed, period
    coordinates = h3_vector.cells_to_coordinates(pa.array(cells.view(np.uint64)))
    lat = pa.array(coordinates.column("lat")).to_numpy()
    lng = pa.array(coordinates.column("lng")).to_numpy()
    cell, tile = shapely.STRtree(np.asarray(tiles.geometry.array)).query(
        shapely.points(lng, lat), predicate="within")
    end = tiles["period_end"].to_numpy()[tile]
    newest = end == pd.Series(end).groupby(cell).transform("max").to_numpy()
    cell, tile = cell[newest], tile[newest]
    count = tiles["tests"].to_numpy(dtype=float)[tile]
    total = np.bincount(cell, weights=count, minlength=len(cells))
    weighted = np.bincount(cell, weights=count * tiles["avg_d_mbps"].to_numpy(dtype=float)[tile],
                           minlength=len(cells))
    hit = np.bincount(cell, minlength=len(cells)) > 0
    tests[hit] = total[hit]
    speed[hit] = weighted[hit] / np.maximum(total[hit], 1e-12)
    labels = tiles["period"].to_numpy(dtype=object) if "period" in tiles.columns else \
        np.full(len(tiles), None, dtype=object)
    period[cell] = labels[tile]
    return tests, speed, period


# --- kelurahan ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Boundaries:
    """Kelurahan with their metric area and, when a raster is given, their population."""

    table: pd.DataFrame
    raster: Path | None


_COUNT_COLUMNS = ("blank", "weak", "covered")


def kelurahan_stats(kelurahan: gpd.GeoDataFrame, cells: pd.DataFrame, *,
                    population: str | Path | None = None,
                    min_measured_share: float | None = None) -> pd.DataFrame:
    """Coverage per kelurahan for operator "any", every kelurahan included.

    Parameters
    ----------
    kelurahan
        Boundaries with a CRS and ``kode``, ``nama``, ``kecamatan`` (polygons).
    cells
        Output of :func:`aggregate_cells` (only its "any" rows are used).  Cells whose
        ``kelurahan_kode`` is not in ``kelurahan`` (another boundary version, or none) are not
        counted.
    population
        Population raster (GeoTIFF) to add the population columns.
    min_measured_share
        Share of area (0-1) that must be measured for "bebas blank spot" (default
        ``settings.MIN_MEASURED_SHARE_FOR_QUICK_WIN``).

    Returns
    -------
    pandas.DataFrame
        One row per kelurahan, sorted by ``kode``: ``kode``, ``nama``, ``kecamatan``,
        ``area_km2`` (computed in the local UTM CRS), ``samples``, ``measured_area_km2``,
        ``measured_area_pct``, ``unmeasured_area_km2``, ``blank_cells``, ``weak_cells``,
        ``covered_cells``, ``unmeasured_cells`` (cells with too few samples), ``blank_area_km2``,
        ``weak_area_km2``, ``covered_area_km2``, ``covered_area_pct`` (of measured area),
        ``ookla_cells``, ``ookla_tests``, ``status``; with ``population``: ``population``,
        ``population_measured``, ``population_blank``, ``population_weak``,
        ``population_covered``, ``population_covered_pct`` (of measured population).
    """
    stats = kelurahan_operator_stats(kelurahan, cells, population=population,
                                     min_measured_share=min_measured_share,
                                     operators=[ANY_OPERATOR])
    return stats.drop(columns="operator")


def kelurahan_operator_stats(kelurahan: gpd.GeoDataFrame, cells: pd.DataFrame, *,
                             population: str | Path | None = None,
                             min_measured_share: float | None = None,
                             operators: Sequence[str] | None = None) -> pd.DataFrame:
    """Coverage per kelurahan and operator ("which operator must build here"), long format.

    Parameters are those of :func:`kelurahan_stats`, plus ``operators`` (default: every operator
    in ``cells``, "any" included).  Returns the columns of :func:`kelurahan_stats` with
    ``operator`` after ``kecamatan``, one row per kelurahan and operator, sorted by both.
    """
    boundaries = _boundaries(kelurahan, population)
    cell_population = _cell_population(cells, boundaries.raster)
    return _kelurahan_table(boundaries, cells, cell_population, _min_share(min_measured_share),
                            operators)


def _min_share(value: float | None) -> float:
    share = float(settings.MIN_MEASURED_SHARE_FOR_QUICK_WIN if value is None else value)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"min_measured_share must be a share between 0 and 1, not {value!r}")
    return share


def _boundaries(kelurahan: gpd.GeoDataFrame, population: str | Path | None) -> _Boundaries:
    """Kelurahan table with area in km2 (UTM) and population, after checking the input."""
    require_crs(kelurahan, source="the kelurahan boundaries")
    problems = [Problem(f"the kelurahan table has no '{name}' column", column=name)
                for name in ("kode",) if name not in kelurahan.columns]
    if not problems:
        problems = [Problem("kelurahan code is used more than once", column="kode", value=code)
                    for code in kelurahan["kode"][kelurahan["kode"].duplicated()].unique()]
    if problems:
        raise BoundaryError("the kelurahan boundaries cannot be used for coverage statistics",
                            problems)
    metric = project_to_metric(kelurahan)
    table = pd.DataFrame({
        "kode": kelurahan["kode"].astype("str").to_numpy(),
        "nama": _column(kelurahan, "nama"), "kecamatan": _column(kelurahan, "kecamatan"),
        "area_km2": metric.area.to_numpy() / 1e6})
    if population is not None:
        table["population"] = population_in_polygons(kelurahan, population)
    return _Boundaries(table.sort_values("kode", ignore_index=True),
                       Path(population) if population is not None else None)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    values = frame[name] if name in frame.columns else pd.Series(None, index=frame.index)
    return pd.array(values.to_numpy(dtype=object), dtype="str")


def _cell_population(cells: pd.DataFrame, raster: Path | None) -> pd.Series | None:
    """People per distinct cell of ``cells``, indexed by ``h3_cell``."""
    if raster is None:
        return None
    unique = np.unique(cells["h3_cell"].to_numpy(dtype=np.int64))
    return pd.Series(population_in_cells(unique, raster), index=unique)


def _kelurahan_table(boundaries: _Boundaries, cells: pd.DataFrame,
                     cell_population: pd.Series | None, min_share: float,
                     operators: Sequence[str] | None) -> pd.DataFrame:
    """Statistics per (kelurahan, operator), every pair included."""
    names = _operators(cells, operators)
    chosen = cells[cells["operator"].isin(names)]
    sums = _cell_sums(chosen, cell_population)
    index = pd.MultiIndex.from_product([boundaries.table["kode"], names],
                                       names=["kode", "operator"])
    sums = sums.reindex(index, fill_value=0).reset_index()
    table = boundaries.table.merge(sums, on="kode", how="right")
    table = _scaled_to_area(table, cell_population is not None)
    table["status"] = _quick_win_status(table, min_share)
    columns = ["kode", "nama", "kecamatan", "operator", *_STATS_COLUMNS,
               *(_POPULATION_COLUMNS if cell_population is not None else ())]
    return table[columns].sort_values(["kode", "operator"], ignore_index=True)


_STATS_COLUMNS = ("area_km2", "samples", "measured_area_km2", "measured_area_pct",
                  "unmeasured_area_km2", "blank_cells", "weak_cells", "covered_cells",
                  "unmeasured_cells", "blank_area_km2", "weak_area_km2", "covered_area_km2",
                  "covered_area_pct", "ookla_cells", "ookla_tests", "status")
_POPULATION_COLUMNS = ("population", "population_measured", "population_blank",
                       "population_weak", "population_covered", "population_covered_pct")


def _operators(cells: pd.DataFrame, operators: Sequence[str] | None) -> list[str]:
    if operators is not None:
        return list(operators)
    found = sorted(set(cells["operator"].dropna().tolist()) - {ANY_OPERATOR})
    return [ANY_OPERATOR, *found]


def _cell_sums(cells: pd.DataFrame, cell_population: pd.Series | None) -> pd.DataFrame:
    """Per (kelurahan, operator): cell counts, areas and population per status."""
    status = cells["status"].to_numpy()
    measured_samples = cells["samples"].to_numpy() > 0
    ookla_tests = (cells["ookla_tests"].fillna(0).to_numpy() if "ookla_tests" in cells.columns
                   else np.zeros(len(cells)))
    columns: dict[str, Any] = {"kode": cells["kelurahan_kode"], "operator": cells["operator"],
                               "samples": cells["samples"].to_numpy(),
                               "unmeasured_cells": (status == "unmeasured") & measured_samples,
                               "ookla_cells": ookla_tests > 0, "ookla_tests": ookla_tests}
    area = cells["area_km2"].to_numpy()
    people = (cell_population.reindex(cells["h3_cell"].to_numpy()).to_numpy()
              if cell_population is not None else None)
    for name in _COUNT_COLUMNS:
        columns[f"{name}_cells"] = status == name
        columns[f"{name}_area_km2"] = np.where(status == name, area, 0.0)
        if people is not None:
            columns[f"population_{name}"] = np.where(status == name, people, 0.0)
    frame = pd.DataFrame(columns).dropna(subset=["kode"])
    return frame.groupby(["kode", "operator"]).sum()


def _scaled_to_area(table: pd.DataFrame, with_population: bool) -> pd.DataFrame:
    """Measured area (and population) capped at the kelurahan's, shares in percent."""
    measured = sum(table[f"{name}_area_km2"] for name in _COUNT_COLUMNS)
    factor = np.minimum(1.0, table["area_km2"] / measured.where(measured > 0, 1.0))
    for name in _COUNT_COLUMNS:
        table[f"{name}_area_km2"] = table[f"{name}_area_km2"] * factor
    table["measured_area_km2"] = measured * factor
    table["measured_area_pct"] = _percent(table["measured_area_km2"], table["area_km2"])
    table["unmeasured_area_km2"] = table["area_km2"] - table["measured_area_km2"]
    table["covered_area_pct"] = _percent(table["covered_area_km2"], table["measured_area_km2"])
    if with_population:
        people = sum(table[f"population_{name}"] for name in _COUNT_COLUMNS)
        factor = np.minimum(1.0, table["population"] / people.where(people > 0, 1.0))
        for name in _COUNT_COLUMNS:
            table[f"population_{name}"] = table[f"population_{name}"] * factor
        table["population_measured"] = people * factor
        table["population_covered_pct"] = _percent(table["population_covered"],
                                                   table["population_measured"])
    return table


def _percent(part: pd.Series, whole: pd.Series) -> pd.Series:
    """``100 * part / whole``, NaN where ``whole`` is 0."""
    return 100.0 * part / whole.where(whole > 0)


def _quick_win_status(table: pd.DataFrame, min_share: float) -> np.ndarray:
    measured_enough = table["measured_area_km2"] >= min_share * table["area_km2"] - 1e-12
    return np.select([table["blank_cells"].to_numpy() > 0, measured_enough.to_numpy()],
                     [HAS_BLANK, FREE], NOT_ENOUGH_DATA).astype(object)


# --- over time ---------------------------------------------------------------------------------

def time_series(measurements: pd.DataFrame, kelurahan: gpd.GeoDataFrame, *, freq: str = "M",
                start: AsOf = None, end: AsOf = None, population: str | Path | None = None,
                operator: str = ANY_OPERATOR, min_samples: int | None = None,
                thresholds: Thresholds = None,
                min_measured_share: float | None = None) -> pd.DataFrame:
    """State at the end of each month or quarter, per kelurahan and for the whole city.

    Parameters
    ----------
    measurements
        As for :func:`aggregate_cells`.
    kelurahan
        Boundaries as for :func:`kelurahan_stats`.
    freq
        "M" (monthly) or "Q" (quarterly).
    start, end
        First and last period (any date inside them); default the first and last measurement.
    population
        Population raster to add ``population_blank`` and ``population_weak``.
    operator
        Operator whose cells are counted (default "any").
    min_samples, thresholds, min_measured_share
        As for :func:`aggregate_cells` and :func:`kelurahan_stats`.

    Returns
    -------
    pandas.DataFrame
        Per period and kelurahan, then a city row with ``kode`` "ALL": ``period`` ("2024-03",
        "2024Q1"), ``period_end`` (ISO date, the as-of date), ``kode``, ``nama``,
        ``blank_cells``, ``blank_area_km2``, ``weak_cells``, ``weak_area_km2``,
        ``covered_cells``, ``measured_area_km2``, ``measured_area_pct``, ``status``,
        ``resolved_cells``, ``newly_blank_cells``, ``still_blank_cells`` (changes since the
        previous period end; for the first period, since nothing), and with ``population``
        ``population``, ``population_blank``, ``population_weak``.
    """
    thresholds = _thresholds(thresholds)
    observations = _prepare(measurements, thresholds=thresholds, operator=None)
    boundaries = _boundaries(kelurahan, population)
    cell_population = (pd.Series(population_in_cells(np.unique(observations.cell),
                                                     boundaries.raster),
                                 index=np.unique(observations.cell))
                       if boundaries.raster is not None else None)
    minimum, share = _min_samples(min_samples), _min_share(min_measured_share)
    frames, previous = [], None
    for period in _periods(observations.time, freq, start, end):
        cells = _cells_as_of(observations, _cutoff(period.end_time.date()),
                             min_samples=minimum, thresholds=thresholds)
        cells = cells[cells["operator"] == operator]
        table = _kelurahan_table(boundaries, cells, cell_population, share, [operator])
        table = _with_changes(table, previous, cells)
        frames.append(_period_rows(table, period, cell_population is not None))
        previous = cells
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["period", "period_end", "kode", "nama", *_SERIES_COLUMNS])


_SERIES_COLUMNS = ("blank_cells", "blank_area_km2", "weak_cells", "weak_area_km2",
                   "covered_cells", "measured_area_km2", "measured_area_pct", "status",
                   "resolved_cells", "newly_blank_cells", "still_blank_cells")


def _periods(time: np.ndarray, freq: str, start: AsOf, end: AsOf) -> pd.PeriodIndex:
    if freq not in {"M", "Q"}:
        raise ValueError(f"freq must be 'M' (monthly) or 'Q' (quarterly), not {freq!r}")
    if len(time) == 0 and (start is None or end is None):
        return pd.PeriodIndex([], freq=freq)
    zone = settings.DEFAULT_TIMEZONE
    first = _local_day(start) if start is not None else \
        pd.Timestamp(int(time.min()), unit="s", tz="UTC").tz_convert(zone).date()
    last = _local_day(end) if end is not None else \
        pd.Timestamp(int(time.max()), unit="s", tz="UTC").tz_convert(zone).date()
    return pd.period_range(first, last, freq=freq)


def _local_day(value: AsOf) -> date:
    second = _cutoff(value)
    return pd.Timestamp(second, unit="s", tz="UTC").tz_convert(settings.DEFAULT_TIMEZONE).date()


def _with_changes(table: pd.DataFrame, previous: pd.DataFrame | None, cells: pd.DataFrame
                  ) -> pd.DataFrame:
    """Add resolved / newly blank / still blank cell counts since ``previous`` per kelurahan."""
    changes = _changes(previous, cells)
    counts = changes.pivot_table(index="kelurahan_kode", columns="change", values="h3_cell",
                                 aggfunc="count", fill_value=0)
    for name in ("resolved", "newly_blank", "still_blank"):
        column = counts[name] if name in counts.columns else pd.Series(dtype=np.int64)
        table[f"{name}_cells"] = column.reindex(table["kode"]).fillna(0).astype(np.int64).to_numpy()
    return table


def _period_rows(table: pd.DataFrame, period: pd.Period, with_population: bool) -> pd.DataFrame:
    """Return the kelurahan rows of one period plus the city total."""
    columns = ["kode", "nama", *_SERIES_COLUMNS,
               *(("population", "population_blank", "population_weak") if with_population
                 else ())]
    table = table[columns + ["area_km2"]]
    total = table.drop(columns=["kode", "nama", "status", "measured_area_pct"]).sum()
    city = pd.DataFrame([{**total.to_dict(), "kode": CITY_TOTAL_CODE, "nama": "Seluruh kota",
                          "measured_area_pct": 100.0 * total["measured_area_km2"]
                          / total["area_km2"] if total["area_km2"] > 0 else np.nan,
                          "status": _city_status(table["status"])}])
    rows = pd.concat([table, city.astype(table.dtypes.to_dict())], ignore_index=True)
    rows.insert(0, "period", str(period))
    rows.insert(1, "period_end", period.end_time.date().isoformat())
    return rows.drop(columns="area_km2")


def _city_status(statuses: pd.Series) -> str:
    if (statuses == HAS_BLANK).any():
        return HAS_BLANK
    return FREE if (statuses == FREE).all() and len(statuses) else NOT_ENOUGH_DATA


def compare_dates(measurements: pd.DataFrame, date_a: AsOf, date_b: AsOf, *,
                  operator: str = ANY_OPERATOR, min_samples: int | None = None,
                  thresholds: Thresholds = None) -> pd.DataFrame:
    """Cells that were blank at ``date_a`` or are blank at ``date_b``, and what happened.

    Parameters
    ----------
    measurements
        As for :func:`aggregate_cells`.
    date_a, date_b
        The earlier and the later as-of date.
    operator
        Operator whose status is compared (default "any").
    min_samples, thresholds
        As for :func:`aggregate_cells`.

    Returns
    -------
    pandas.DataFrame
        ``h3_cell``, ``h3``, ``kelurahan_kode``, ``area_km2``, ``status_a``, ``status_b`` and
        ``change``: "resolved" (blank, then weak or covered), "newly_blank" (blank at
        ``date_b`` only) or "still_blank", sorted by change and cell.
    """
    cut_a, cut_b = _cutoff(date_a), _cutoff(date_b)
    if cut_a is None or cut_b is None or cut_a > cut_b:
        raise ValueError(f"compare_dates needs date_a ({date_a!r}) on or before date_b "
                         f"({date_b!r})")
    thresholds = _thresholds(thresholds)
    observations = _prepare(measurements, thresholds=thresholds, operator=None)
    minimum = _min_samples(min_samples)
    a, b = (_cells_as_of(observations, cut, min_samples=minimum, thresholds=thresholds)
            for cut in (cut_a, cut_b))
    return _changes(a[a["operator"] == operator], b[b["operator"] == operator])


def _changes(before: pd.DataFrame | None, after: pd.DataFrame) -> pd.DataFrame:
    """Compare two cell tables of one operator (``before`` None: nothing known before)."""
    keys = ["h3_cell", "h3", "kelurahan_kode", "area_km2"]
    after = after[[*keys, "status"]].rename(columns={"status": "status_b"})
    if before is None:
        before = after.iloc[:0][["h3_cell"]].assign(status_a=pd.Series(dtype="str"))
    else:
        before = before[["h3_cell", "status"]].rename(columns={"status": "status_a"})
    both = after.merge(before, on="h3_cell", how="outer")
    both["status_a"] = both["status_a"].fillna("unmeasured")
    both["status_b"] = both["status_b"].fillna("unmeasured")
    blank_a, blank_b = both["status_a"] == "blank", both["status_b"] == "blank"
    resolved = blank_a & both["status_b"].isin(["weak", "covered"])
    both["change"] = np.select([blank_a & blank_b, resolved, ~blank_a & blank_b],
                               ["still_blank", "resolved", "newly_blank"], "")
    both = both[both["change"] != ""]
    return both[[*keys, "status_a", "status_b", "change"]].sort_values(
        ["change", "h3_cell"], ignore_index=True)


# --- targets -----------------------------------------------------------------------------------

def target_progress(stats_at_baseline: pd.DataFrame, stats_now: pd.DataFrame, *,
                    target: Mapping[str, Any], as_of: AsOf = None) -> dict[str, Any]:
    """Progress towards a quick-win target such as "no blank spot by 2024-12-31".

    Parameters
    ----------
    stats_at_baseline, stats_now
        :func:`kelurahan_stats` as of the baseline date and as of now.
    target
        ``{"kind": "no_blank_spot", "deadline": "2024-12-31"}``, optionally with
        ``"baseline_date"`` (reported back) and ``"kelurahan"`` (codes the target covers;
        default all).
    as_of
        Date of ``stats_now``, to report ``days_left``.

    Returns
    -------
    dict
        ``kind``, ``deadline``, ``baseline_date``, ``met`` (every kelurahan "bebas blank spot"),
        ``progress_pct`` (share of the target's kelurahan that are "bebas blank spot": 100 exactly
        when the target is met), ``kelurahan_total``, ``kelurahan_free``,
        ``baseline_blank_area_km2``, ``blank_area_km2``, ``blank_area_resolved_pct`` (share of the
        baseline blank area no longer blank; newly found blank spots count against it; clipped to
        0-100, None without baseline blank area), ``days_left`` (None without ``as_of``) and
        ``failing``: the kelurahan not yet free, each a dict with ``kode``, ``nama``, ``status``,
        ``blank_cells``, ``blank_area_km2``, ``measured_area_pct``.
    """
    kind = target.get("kind", "no_blank_spot")
    if kind != "no_blank_spot":
        raise ValueError(f"unknown target kind {kind!r}; known: 'no_blank_spot'")
    codes = target.get("kelurahan")
    now, baseline = (_target_rows(frame, codes) for frame in (stats_now, stats_at_baseline))
    free = int((now["status"] == FREE).sum())
    failing = now.loc[now["status"] != FREE, ["kode", "nama", "status", "blank_cells",
                                              "blank_area_km2", "measured_area_pct"]]
    return {"kind": kind, "deadline": target.get("deadline"),
            "baseline_date": target.get("baseline_date"),
            "met": bool(len(now) and free == len(now)),
            "progress_pct": 100.0 * free / len(now) if len(now) else 0.0,
            "kelurahan_total": len(now), "kelurahan_free": free,
            **_blank_area_progress(baseline, now),
            "days_left": _days_left(target.get("deadline"), as_of),
            "failing": _records(failing)}


def _target_rows(stats: pd.DataFrame, codes: Iterable[str] | None) -> pd.DataFrame:
    if "operator" in stats.columns:
        stats = stats[stats["operator"] == ANY_OPERATOR]
    return stats if codes is None else stats[stats["kode"].isin(list(codes))]


def _blank_area_progress(baseline: pd.DataFrame, now: pd.DataFrame) -> dict[str, Any]:
    before, after = float(baseline["blank_area_km2"].sum()), float(now["blank_area_km2"].sum())
    resolved = None if before <= 0 else float(np.clip(100.0 * (before - after) / before, 0, 100))
    return {"baseline_blank_area_km2": before, "blank_area_km2": after,
            "blank_area_resolved_pct": resolved}


def _days_left(deadline: Any, as_of: AsOf) -> int | None:
    if deadline is None or as_of is None:
        return None
    return (_local_day(deadline) - _local_day(as_of)).days


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN becomes None)."""
    frame = frame.astype(object).where(frame.notna(), None)
    return [{key: (value.item() if isinstance(value, np.generic) else value)
             for key, value in row.items()} for row in frame.to_dict(orient="records")]


# --- blank spots split along kelurahan borders ---------------------------------------------------

#: Columns of :func:`split_blank_spots`, in order.
SPLIT_BLANK_SPOT_COLUMNS = ("id", "blank_spot_id", "kelurahan_kode", "kelurahan",
                            "kelurahan_kode_main", "area_km2", "population", "samples",
                            "no_service_samples", "last_measured", "centroid_lat",
                            "centroid_lon", "geometry")

#: Pieces of a blank spot smaller than this (m2) are rounding noise along a shared border, not
#: a kelurahan's share of it.
MIN_BLANK_SPOT_PIECE_M2 = 1.0


def split_blank_spots(blank_spots: gpd.GeoDataFrame, kelurahan: gpd.GeoDataFrame, *,
                      evidence: gpd.GeoDataFrame | None = None,
                      population_raster: str | Path | None = None) -> gpd.GeoDataFrame:
    """Cut blank-spot polygons along kelurahan borders, each piece with its own figures.

    A blank spot spanning two kelurahan becomes two rows, each attributed to the kelurahan it
    lies in with its own area, population and evidence, so per-kelurahan figures never count
    land (or people) of a neighbour and a lurah is never shown a neighbour's ground.  Parts
    outside every kelurahan are dropped, as are pieces smaller than
    :data:`MIN_BLANK_SPOT_PIECE_M2` (a shared border's rounding noise).  Where real boundaries
    overlap, the overlap goes to the kelurahan with the smallest ``kode`` (the tie rule of
    :mod:`geo.kelurahan_lookup`), so pieces never overlap and nothing is counted twice.

    Parameters
    ----------
    blank_spots
        Blank-spot polygons with a CRS and ``id`` (:func:`geo.surface.blank_spot_polygons`),
        optionally with ``population``.
    kelurahan
        Boundaries with a CRS and ``kode``.
    evidence
        The measurements the blank spots rest on, as points with a CRS, ``no_service`` and
        ``measured_at`` (UTC epoch seconds) (:func:`geo.surface.evidence_points`); without it
        the evidence columns are missing values.
    population_raster
        Population GeoTIFF: each piece's people are counted in it; without it a blank spot's
        ``population`` (when it has one) is shared among its pieces by area.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, largest piece first, columns :data:`SPLIT_BLANK_SPOT_COLUMNS`: ``id`` of the
        piece (1 = largest), ``blank_spot_id`` (the blank spot it was cut from),
        ``kelurahan_kode`` (repeated in ``kelurahan`` and ``kelurahan_kode_main``, the columns
        of a whole blank spot), ``area_km2`` (computed in UTM), ``population`` (people),
        ``samples``, ``no_service_samples`` and ``last_measured`` (evidence points inside the
        piece), ``centroid_lat``/``centroid_lon`` (degrees) and the polygon.
    """
    require_crs(blank_spots, source="the blank-spot polygons")
    boundaries = _without_overlaps(project_to_metric(_checked_kelurahan(kelurahan)))
    pieces = _blank_spot_pieces(blank_spots.to_crs(boundaries.crs), boundaries)
    pieces["population"] = _piece_population(pieces, population_raster)
    pieces = pieces.join(_piece_evidence(pieces, evidence))
    centres = gpd.GeoSeries(pieces.geometry.centroid, crs=pieces.crs).to_crs("EPSG:4326")
    pieces["centroid_lat"], pieces["centroid_lon"] = centres.y.to_numpy(), centres.x.to_numpy()
    pieces["kelurahan"] = pieces["kelurahan_main"] = pieces["kelurahan_kode"]
    pieces = pieces.rename(columns={"kelurahan_main": "kelurahan_kode_main"})
    return pieces.to_crs("EPSG:4326")[list(SPLIT_BLANK_SPOT_COLUMNS)]


def _checked_kelurahan(kelurahan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The boundaries, after the checks of the statistics (a CRS, unique ``kode``)."""
    _boundaries(kelurahan, None)
    return kelurahan


def _without_overlaps(boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The kelurahan polygons with every overlap left to the smallest ``kode`` only."""
    ordered = boundaries.sort_values("kode", ignore_index=True)
    shapes = ordered.geometry.to_numpy()
    later, earlier = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    pairs = pd.DataFrame({"later": later, "earlier": earlier})
    pairs = pairs[pairs["earlier"] < pairs["later"]]
    cut = shapes.copy()
    for index, group in pairs.groupby("later")["earlier"]:
        cut[index] = shapely.difference(shapes[index], shapely.union_all(shapes[group.to_numpy()]))
    return ordered.set_geometry(gpd.GeoSeries(cut, crs=ordered.crs))


def _blank_spot_pieces(blank_spots: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame
                       ) -> gpd.GeoDataFrame:
    """Each blank spot intersected with each kelurahan (metric CRS), largest piece first."""
    whole_area = blank_spots.area.to_numpy()
    population = (pd.to_numeric(blank_spots["population"]).to_numpy(dtype=float)
                  if "population" in blank_spots.columns else np.full(len(blank_spots), np.nan))
    spots = gpd.GeoDataFrame({"blank_spot_id": blank_spots["id"].to_numpy(),
                              "whole_area": whole_area, "whole_population": population},
                             geometry=blank_spots.geometry.to_numpy(), crs=blank_spots.crs)
    areas = gpd.GeoDataFrame({"kelurahan_kode": boundaries["kode"].astype(str).to_numpy()},
                             geometry=boundaries.geometry.to_numpy(), crs=boundaries.crs)
    pieces = gpd.overlay(spots, areas, how="intersection", keep_geom_type=True)
    pieces["area"] = pieces.area
    pieces = pieces[pieces["area"] >= MIN_BLANK_SPOT_PIECE_M2]
    pieces = pieces.sort_values(["area", "blank_spot_id", "kelurahan_kode"],
                                ascending=[False, True, True], ignore_index=True)
    pieces.insert(0, "id", np.arange(1, len(pieces) + 1, dtype=np.int64))
    pieces["area_km2"] = pieces["area"] / 1e6
    return pieces


def _piece_population(pieces: gpd.GeoDataFrame, raster: str | Path | None) -> np.ndarray:
    """People per piece: counted in the raster, else the blank spot's share by area."""
    if raster is not None:
        return np.asarray(population_in_polygons(pieces.geometry, raster), dtype=float)
    share = pieces["area"].to_numpy() / pieces["whole_area"].to_numpy()
    return pieces["whole_population"].to_numpy(dtype=float) * share


def _piece_evidence(pieces: gpd.GeoDataFrame, evidence: gpd.GeoDataFrame | None
                    ) -> pd.DataFrame:
    """Samples, no-service samples and the latest time of the evidence points in each piece."""
    counts = pd.DataFrame({"samples": pd.array([pd.NA] * len(pieces), dtype="Int64"),
                           "no_service_samples": pd.array([pd.NA] * len(pieces), dtype="Int64"),
                           "last_measured": pd.array([pd.NA] * len(pieces), dtype="Int64")},
                          index=pieces.index)
    if evidence is None:
        return counts
    require_crs(evidence, source="the blank-spot evidence")
    points = evidence.to_crs(pieces.crs)
    point, piece = pieces.sindex.query(points.geometry, predicate="within")
    found = pd.DataFrame({"piece": piece,
                          "no_service": points["no_service"].to_numpy(dtype=bool)[point],
                          "measured_at": points["measured_at"].to_numpy(dtype=np.int64)[point]})
    grouped = found.groupby("piece")
    counts["samples"] = grouped.size().reindex(pieces.index, fill_value=0).astype("Int64")
    counts["no_service_samples"] = (grouped["no_service"].sum()
                                    .reindex(pieces.index, fill_value=0).astype("Int64"))
    counts["last_measured"] = grouped["measured_at"].max().reindex(pieces.index).astype("Int64")
    return counts


def blank_spot_totals(pieces: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per kelurahan: how many blank-spot pieces, their area and the people living in them.

    Parameters
    ----------
    pieces
        Output of :func:`split_blank_spots`.

    Returns
    -------
    pandas.DataFrame
        One row per kelurahan with blank spots, sorted by ``kode``: ``kode``, ``blank_spots``
        (pieces), ``blank_spot_area_km2`` and ``blank_spot_population`` (people; missing when
        no piece has a population).
    """
    grouped = pd.DataFrame(pieces.drop(columns="geometry")).groupby("kelurahan_kode", sort=True)
    return pd.DataFrame({"blank_spots": grouped.size(),
                         "blank_spot_area_km2": grouped["area_km2"].sum(),
                         "blank_spot_population": grouped["population"].sum(min_count=1)}
                        ).rename_axis("kode").reset_index()
