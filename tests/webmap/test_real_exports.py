"""Real app exports from ../shared/data through the whole ingest.

The G-NetTrack logs were recorded abroad (Cork, Dakar; no Indonesian log is public): to run a city
workflow with them, each test TRANSLATES the track into a test city by shifting every coordinate,
writing the shifted copy into tmp_path.  The files in ../shared are never edited.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.webmap.conftest import write_city
from webmap.ingest import import_boundaries, ingest_measurements
from webmap.models import Measurement, OoklaTile

pytestmark = pytest.mark.shared_data


def _translated(source, target, *, sep, dlon, dlat):
    """Copy a G-NetTrack log with every position shifted by (dlon, dlat) degrees."""
    table = pd.read_csv(source, sep=sep, dtype=str, keep_default_na=False)
    table["Longitude"] = (table["Longitude"].astype(float) + dlon).round(6).astype(str)
    table["Latitude"] = (table["Latitude"].astype(float) + dlat).round(6).astype(str)
    table.to_csv(target, sep=sep, index=False)
    return table


def _city_around(table, tmp_path):
    lon, lat = table["Longitude"].astype(float), table["Latitude"].astype(float)
    box = (lon.min() - 0.01, lat.min() - 0.01, lon.max() + 0.01, lat.max() + 0.01)
    return write_city(tmp_path / "city.geojson", {"99.01.01.1001": box})


def test_ireland_driving_log(engine, options, shared_data, tmp_path):
    source = shared_data / "measurements" / "gnettrack_pro_5g_ireland_ucc_driving.csv"
    table = _translated(source, tmp_path / "drive.csv", sep=",", dlon=109.8, dlat=-50.3)
    import_boundaries(engine, _city_around(table, tmp_path), options)
    options.now = datetime(2025, 1, 1, tzinfo=UTC)
    report = ingest_measurements(engine, tmp_path / "drive.csv", options)
    assert report["format"] == "gnettrack" and report["rows"] == 1155
    sentinel_rows = sorted(e["row"] for e in report["errors"])
    assert sentinel_rows == [560, 561, 562]  # RSRP = -200
    assert all("sentinel" in e["reason"] for e in report["errors"])
    assert report["accepted"] + report["duplicates"] == 1152
    with engine.connect() as conn:
        techs = dict(conn.execute(sa.select(Measurement.technology, sa.func.count())
                                  .group_by(Measurement.technology)).all())
    assert set(techs) == {"5G", "4G", "3G"}


def test_senegal_tab_separated_log(engine, options, shared_data, tmp_path):
    source = shared_data / "measurements" / "gnettrack_pro_datatest_senegal_orange.txt"
    table = _translated(source, tmp_path / "dakar.txt", sep="\t", dlon=118.9, dlat=-13.0)
    import_boundaries(engine, _city_around(table, tmp_path), options)
    options.now = datetime(2026, 1, 1, tzinfo=UTC)
    report = ingest_measurements(engine, tmp_path / "dakar.txt", options)
    assert (report["rows"], report["accepted"], report["rejected"]) == (40, 26, 14)
    with engine.connect() as conn:
        speeds = conn.execute(sa.select(Measurement.download_mbps)).scalars().all()
    assert max(speeds) == pytest.approx(table["TESTDOWNLINK"].astype(float).max() / 1000)


def test_ookla_tiles_are_stored_as_separate_evidence(engine, options, shared_data, tmp_path):
    # A test city over Kota Depok's extent; Ookla tiles are stored apart from signal readings.
    import_boundaries(engine, write_city(tmp_path / "depok.geojson",
                                         {"99.01.01.1001": (106.70, -6.50, 106.92, -6.30)}),
                      options)
    tiles = shared_data / "ookla" / "ookla_tiles_depok_2022q3_from_rds.csv"
    report = ingest_measurements(engine, tiles, options, period="2022Q3")
    assert report["format"] == "ookla"
    assert report["accepted"] + report["rejected"] == 621
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(OoklaTile)).scalar_one()
        readings = conn.execute(sa.select(sa.func.count()).select_from(Measurement)).scalar_one()
    assert stored == report["accepted"] and readings == 0
    again = ingest_measurements(engine, tiles, options, period="2022Q3")
    assert again["already_ingested"] is True
