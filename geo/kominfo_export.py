"""Proposed tower sites in the shape of Kominfo's blank-spot proposal channel: CSV, XLSX, GeoJSON.

Kominfo takes *point coordinates* of blank-spot locations from local governments, and a proposal
is only as good as the evidence that the place is really blank.  One row per proposed site (from
:func:`geo.tower_siting.site_towers`): its point (latitude and longitude in decimal degrees with a
decimal point, EPSG:4326), kelurahan, kecamatan, Kemendagri code, the population and blank area it
would serve, and the evidence (number of measurements, first and last date, upload ids).

Headers are Indonesian by default (``lang="id"``), English with ``lang="en"``; the columns are the
same.  Dates are local dates (``settings.DEFAULT_TIMEZONE``).  Text from users (site ids from an
uploaded file, kelurahan names from a boundary file) can never act as a spreadsheet formula: the
XLSX writer stores every text as text, and the CSV writer neutralises leading formula characters.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

import geopandas as gpd

from geo import settings
from geo.csv_safety import neutralize_frame
from geo.errors import N_, InputFileError
from geo.exports import export_frame
from geo.projection import WGS84
from geo.tower_siting import TowerSiting

__all__ = ["FORMATS", "PROPOSAL_COLUMNS", "proposal_table", "write_proposals"]

#: Columns of a proposal: key, Indonesian header, English header.
PROPOSAL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("no", "no", "no"),
    ("id", "id_lokasi", "site_id"),
    ("latitude", "lintang", "latitude"),
    ("longitude", "bujur", "longitude"),
    ("kelurahan", "kelurahan", "kelurahan"),
    ("kecamatan", "kecamatan", "kecamatan"),
    ("kode", "kode_kelurahan", "kelurahan_code"),
    ("population", "penduduk_terlayani", "population_served"),
    ("blank_area_km2", "luas_blank_spot_km2", "blank_area_km2"),
    ("blank_cells", "sel_blank_spot", "blank_cells"),
    ("measurements", "jumlah_pengukuran", "measurements"),
    ("first_measured", "tanggal_pengukuran_pertama", "first_measured"),
    ("last_measured", "tanggal_pengukuran_terakhir", "last_measured"),
    ("upload_ids", "id_unggahan", "upload_ids"),
    ("operator", "operator", "operator"),
    ("technology", "teknologi", "technology"),
    ("radius_m", "radius_layanan_m", "service_radius_m"),
)

#: File suffixes and the format written.
FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson"}

_SHEET = {"id": "usulan_blank_spot", "en": "blank_spot_proposals"}
_DECIMALS = {"latitude": 7, "longitude": 7, "blank_area_km2": 4, "population": 0}


def proposal_table(result: TowerSiting, *, lang: str = "id") -> pd.DataFrame:
    """The proposal rows of a siting result, one per new site, with ``lang`` headers.

    Parameters
    ----------
    result
        Output of :func:`geo.tower_siting.site_towers`.
    lang
        "id" (Indonesian headers) or "en".

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PROPOSAL_COLUMNS` in order; dates as ``YYYY-MM-DD`` text, upload ids
        comma-separated, population empty without a population raster.
    """
    headers = _headers(lang)
    sites = result.sites
    table = pd.DataFrame({
        "no": sites["rank"].astype(int), "id": sites["id"].astype(str),
        **{key: sites[key] for key in ("latitude", "longitude", "kelurahan", "kecamatan", "kode",
                                        "population", "blank_area_km2", "blank_cells",
                                        "measurements")},
        "first_measured": _local_dates(sites["first_measured"]),
        "last_measured": _local_dates(sites["last_measured"]),
        "upload_ids": [", ".join(str(i) for i in ids) for ids in sites["upload_ids"]],
        "operator": result.operator, "technology": result.technology,
        "radius_m": result.radius_m,
    }, columns=[key for key, _, _ in PROPOSAL_COLUMNS])
    for key, decimals in _DECIMALS.items():
        table[key] = pd.to_numeric(table[key]).round(decimals)
    return table.rename(columns=headers)


def write_proposals(result: TowerSiting, path: str | Path, *, lang: str = "id") -> Path:
    """Write the proposals to ``path``: ``.csv``, ``.xlsx`` or ``.geojson`` (by suffix).

    Returns
    -------
    pathlib.Path
        ``path`` (replaced if it existed).

    Raises
    ------
    InputFileError
        For another suffix or language.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputFileError.translatable(
            N_("%(file)s: tulis usulan sebagai file %(formats)s."), file=path.name,
            formats=", ".join(FORMATS))
    table = proposal_table(result, lang=lang)
    path.unlink(missing_ok=True)
    if kind == "csv":
        neutralize_frame(table).to_csv(path, index=False, encoding="utf-8")
    elif kind == "xlsx":
        _write_xlsx(table, path, sheet=_SHEET[lang])
    else:
        export_frame(_points(table, lang), path, format="geojson")
    return path


def _headers(lang: str) -> dict[str, str]:
    if lang not in ("id", "en"):
        raise InputFileError.translatable(
            N_("Bahasa '%(lang)s' tidak dikenal untuk judul kolom usulan: pakai id atau en."),
            lang=lang)
    position = 1 if lang == "id" else 2
    return {column[0]: column[position] for column in PROPOSAL_COLUMNS}


def _local_dates(seconds: pd.Series) -> list[str | None]:
    """Epoch seconds as local ``YYYY-MM-DD`` (``settings.DEFAULT_TIMEZONE``); None stays None."""
    stamps = pd.to_datetime(pd.to_numeric(seconds), unit="s", utc=True)
    local = stamps.dt.tz_convert(settings.DEFAULT_TIMEZONE)
    return [None if pd.isna(s) else s.strftime("%Y-%m-%d") for s in local]


def _write_xlsx(table: pd.DataFrame, path: Path, *, sheet: str) -> None:
    """One sheet, bold header row, numbers as numbers, every text stored as text."""
    book = Workbook()
    worksheet = book.active
    worksheet.title = sheet
    worksheet.append(list(table.columns))
    for cell in worksheet[1]:
        cell.font = Font(bold=True)
    for row in table.itertuples(index=False):
        worksheet.append([_xlsx_value(v) for v in row])
    for row in worksheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a leading "=" would otherwise make it a formula
    worksheet.freeze_panes = "A2"
    book.save(path)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _points(table: pd.DataFrame, lang: str) -> gpd.GeoDataFrame:
    headers = _headers(lang)
    lon, lat = table[headers["longitude"]], table[headers["latitude"]]
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
