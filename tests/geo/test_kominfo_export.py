"""The Kominfo-shaped proposal export: columns, values, languages, formats, formula safety."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import geopandas as gpd

from geo.errors import InputFileError
from geo.kominfo_export import PROPOSAL_COLUMNS, proposal_table, write_proposals
from geo.tower_siting import SITE_COLUMNS, TowerSiting

T_FIRST = 1_704_043_800  # 2023-12-31 17:30 UTC = 2024-01-01 00:30 WIB
T_LAST = 1_718_000_000   # 2024-06-10 06:13 UTC


def siting(site_id: str = "BTS-01", kelurahan: str = "Sungai Geniot") -> TowerSiting:
    sites = pd.DataFrame([{
        "rank": 1, "id": site_id, "source": "upload", "latitude": 1.6512345678,
        "longitude": 101.4498765432, "kelurahan": kelurahan, "kecamatan": "Dumai Barat",
        "kode": "14.72.01.1005", "cells": 3, "blank_cells": 2, "area_km2": 0.45,
        "blank_area_km2": 0.31234567,
        "population": 1234.4, "measurements": 17, "first_measured": T_FIRST,
        "last_measured": T_LAST, "upload_ids": [4, 12], "h3_cells": ["89651234567ffff"],
    }], columns=list(SITE_COLUMNS))
    empty = pd.DataFrame()
    candidates = gpd.GeoDataFrame({"id": [site_id]}, geometry=gpd.points_from_xy([101.45],
                                                                                  [1.65]),
                                  crs="EPSG:4326")
    return TowerSiting(model="lscp", status="Optimal", objective=1.0, radius_m=3000.0,
                       technology="4G", operator="Telkomsel", sites=sites,
                       candidates=candidates, unreachable=empty,
                       registered_tower_measured_blank=empty, demand_total=3,
                       demand_covered=3, served_by_existing=0)


def test_table_has_indonesian_headers_and_the_evidence():
    table = proposal_table(siting())
    assert list(table.columns) == [indonesian for _, indonesian, _ in PROPOSAL_COLUMNS]
    row = table.iloc[0]
    assert (row["lintang"], row["bujur"]) == (1.6512346, 101.4498765)
    assert (row["kelurahan"], row["kecamatan"], row["kode_kelurahan"]) == (
        "Sungai Geniot", "Dumai Barat", "14.72.01.1005")
    assert (row["penduduk_terlayani"], row["luas_blank_spot_km2"]) == (1234.0, 0.3123)
    assert (row["jumlah_pengukuran"], row["sel_blank_spot"]) == (17, 2)
    # local dates (WIB): the first reading was just before midnight UTC, already 1 January
    assert (row["tanggal_pengukuran_pertama"], row["tanggal_pengukuran_terakhir"]) == (
        "2024-01-01", "2024-06-10")
    assert row["id_unggahan"] == "4, 12"
    assert (row["operator"], row["teknologi"], row["radius_layanan_m"]) == (
        "Telkomsel", "4G", 3000.0)


def test_english_headers():
    table = proposal_table(siting(), lang="en")
    assert list(table.columns) == [english for _, _, english in PROPOSAL_COLUMNS]
    assert table.iloc[0]["upload_ids"] == "4, 12"
    with pytest.raises(InputFileError, match="Bahasa 'fr' tidak dikenal"):
        proposal_table(siting(), lang="fr")


def test_csv_uses_a_decimal_point_and_neutralises_formulas(tmp_path):
    path = write_proposals(siting(site_id="=HYPERLINK(\"http://x\")", kelurahan="+SUM(A1)"),
                           tmp_path / "usulan.csv")
    text = path.read_text(encoding="utf-8")
    header, line = text.splitlines()
    assert header.split(",")[:4] == ["no", "id_lokasi", "lintang", "bujur"]
    assert ",1.6512346,101.4498765," in line
    back = pd.read_csv(path, dtype=str)
    assert not back["id_lokasi"].iloc[0].startswith("=")
    assert not back["kelurahan"].iloc[0].startswith("+")
    assert "HYPERLINK" in back["id_lokasi"].iloc[0]


def test_xlsx_reads_back_with_text_never_a_formula(tmp_path):
    path = write_proposals(siting(site_id="=1+1"), tmp_path / "usulan.xlsx", lang="en")
    sheet = load_workbook(path).active
    assert sheet.title == "blank_spot_proposals"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [english for _, _, english in PROPOSAL_COLUMNS]
    values = dict(zip(rows[0], rows[1], strict=True))
    assert values["site_id"] == "=1+1"
    assert sheet["B2"].data_type == "s"
    assert (values["latitude"], values["longitude"]) == (1.6512346, 101.4498765)
    assert values["population_served"] == 1234 and values["measurements"] == 17
    assert values["first_measured"] == "2024-01-01" and values["upload_ids"] == "4, 12"


def test_geojson_points(tmp_path):
    path = write_proposals(siting(), tmp_path / "usulan.geojson")
    data = json.loads(path.read_text())
    feature, = data["features"]
    assert feature["geometry"]["coordinates"] == pytest.approx([101.4498765, 1.6512346])
    assert feature["properties"]["kode_kelurahan"] == "14.72.01.1005"
    assert feature["properties"]["jumlah_pengukuran"] == 17


def test_no_sites_gives_a_header_only_file_and_bad_suffix_is_refused(tmp_path):
    result = siting()
    empty = TowerSiting(**{**result.__dict__, "sites": result.sites.iloc[0:0]})
    path = write_proposals(empty, tmp_path / "kosong.csv")
    assert path.read_text().strip().split(",")[0] == "no"
    assert len(path.read_text().strip().splitlines()) == 1
    with pytest.raises(InputFileError, match="usulan.pdf"):
        write_proposals(result, tmp_path / "usulan.pdf")
    assert np.isnan(proposal_table(TowerSiting(**{
        **result.__dict__, "sites": result.sites.assign(population=np.nan)}))[
        "penduduk_terlayani"].iloc[0])
