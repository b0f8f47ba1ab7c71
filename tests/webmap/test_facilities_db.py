"""Facility imports into the database: kelurahan tagging, de-duplication, real OpenCelliD cells."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from geo.errors import CRSError
from tests.webmap.conftest import KEL_A, KEL_B, write_city
from webmap.ingest import import_boundaries, import_facilities
from webmap.models import Facility

CSV = """nama,jenis,lintang,bujur,status,pengelola,kapasitas
TPS Pasar Uji,TPS,1.605,101.405,ada,DLH,2.5
Menara Bukit,BTS,1.606,101.415,rencana,Telkomsel,
SD Negeri 1,sekolah,1.607,101.401,,,
"""


def facilities(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Facility.__table__).order_by(Facility.nama))
        return [dict(r._mapping) for r in rows]


def test_facilities_get_type_status_and_kelurahan(city_engine, options, tmp_path):
    path = tmp_path / "fasilitas.csv"
    path.write_text(CSV)
    report = import_facilities(city_engine, path, options)
    assert (report["rows"], report["accepted"], report["rejected"]) == (3, 3, 0)
    rows = {r["nama"]: r for r in facilities(city_engine)}
    assert rows["TPS Pasar Uji"]["type"] == "tps" and rows["TPS Pasar Uji"]["capacity"] == 2.5
    assert rows["TPS Pasar Uji"]["kelurahan_kode"] == KEL_A
    assert rows["Menara Bukit"]["type"] == "bts" and rows["Menara Bukit"]["status"] == "planned"
    assert rows["Menara Bukit"]["kelurahan_kode"] == KEL_B
    assert rows["SD Negeri 1"]["status"] == "existing"


def test_reimport_adds_nothing(city_engine, options, tmp_path):
    path = tmp_path / "fasilitas.csv"
    path.write_text(CSV)
    import_facilities(city_engine, path, options)
    copy = tmp_path / "fasilitas_lagi.csv"
    copy.write_text(CSV.replace("\n", "\r\n"))  # same facilities, other file
    report = import_facilities(city_engine, copy, options)
    assert (report["accepted"], report["duplicates"]) == (0, 3)
    assert len(facilities(city_engine)) == 3


@pytest.mark.shared_data
def test_real_opencellid_cells_import_as_bts(engine, options, shared_data, tmp_path):
    # A test city covering the Riau bounding box of the OpenCelliD sample.
    city = write_city(tmp_path / "riau.geojson", {"99.01.01.1001": (100.3, -1.0, 103.5, 1.8)})
    import_boundaries(engine, city, options)
    cells = shared_data / "towers" / "opencellid_510_riau_bbox_with_header.csv"
    report = import_facilities(engine, cells, options)
    assert (report["format"], report["accepted"], report["rejected"]) == ("opencellid", 164, 0)
    rows = facilities(engine)
    assert {r["type"] for r in rows} == {"bts"}
    assert sum(r["operator"] == "Telkomsel" for r in rows) == 10  # MNC 10: 2 GSM + 8 LTE
    assert all(r["external_id"].startswith("opencellid:") for r in rows)
    again = import_facilities(engine, cells, options)
    assert again["accepted"] == 0 and again["duplicates"] == 164


@pytest.mark.shared_data
def test_real_tpa_file_in_utm_metres_is_not_put_in_the_ocean(engine, options, shared_data,
                                                             tmp_path):
    city = write_city(tmp_path / "malang.geojson", {"99.01.01.1001": (112.4, -8.4, 112.9, -7.7)})
    import_boundaries(engine, city, options)
    tpa = shared_data / "facilities" / "malang_waste_tpa.geojson"
    with pytest.raises(CRSError, match="EPSG:32749"):
        import_facilities(engine, tpa, options, facility_type="tpa")
    assert facilities(engine) == []
    report = import_facilities(engine, tpa, options, facility_type="tpa", crs="EPSG:32749")
    assert report["accepted"] == 3
    assert {round(r["latitude"], 2) for r in facilities(engine)} == {-8.12, -8.05, -7.85}
