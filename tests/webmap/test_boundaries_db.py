"""Boundary imports into the database: cities, versions kept as history, re-tagging of points."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.webmap.conftest import KEL_A, KEL_B, write_city
from webmap import store
from webmap.ingest import import_boundaries, ingest_measurements
from webmap.models import BoundaryVersion, Measurement


def test_import_creates_city_in_its_utm_zone(engine, city_file, options):
    report = import_boundaries(engine, city_file, options)
    assert report["kelurahan"] == 2 and report["kecamatan"] == 1
    assert report["city_created"] is True and report["already_imported"] is False
    with engine.connect() as conn:
        city = store.get_city(conn, None)
        kelurahan = store.load_kelurahan(conn, "99.01")
    assert (city["kode"], city["nama"], city["utm_epsg"]) == ("99.01", "Kota Uji", 32647)
    assert list(kelurahan["kode"]) == [KEL_A, KEL_B]
    assert kelurahan.geometry.iloc[0].bounds == pytest.approx((101.40, 1.60, 101.41, 1.61))
    assert kelurahan["area_km2"].iloc[0] == pytest.approx(1.113 * 1.106, rel=0.01)


def test_same_boundary_file_twice_changes_nothing(engine, city_file, options):
    import_boundaries(engine, city_file, options)
    again = import_boundaries(engine, city_file, options)
    assert again["already_imported"] is True and "already imported" in again["message"]
    with engine.connect() as conn:
        versions = conn.execute(sa.select(sa.func.count()).select_from(BoundaryVersion))
        assert versions.scalar_one() == 1


def test_boundary_update_keeps_history_and_retags_measurements(engine, city_file, options,
                                                               tmp_path):
    import_boundaries(engine, city_file, options)
    csv = tmp_path / "m.csv"
    csv.write_text("latitude,longitude,timestamp,technology,signal_dbm\n"
                   "1.605,101.402,2024-03-01T08:00:00,4G,-90\n"
                   "1.605,101.408,2024-03-01T08:00:00,4G,-91\n")
    options.now = datetime(2025, 1, 1, tzinfo=UTC)
    ingest_measurements(engine, csv, options)
    # 2025 code list: kelurahan A is split into a west (1003) and an east (1004) half.
    split = {"99.01.01.1003": (101.40, 1.60, 101.405, 1.61),
             "99.01.01.1004": (101.405, 1.60, 101.41, 1.61),
             KEL_B: (101.41, 1.60, 101.42, 1.61)}
    report = import_boundaries(engine, write_city(tmp_path / "v2.geojson", split), options)
    assert report["changes"] == {"added": ["99.01.01.1003", "99.01.01.1004"], "removed": [KEL_A]}
    with engine.connect() as conn:
        codes = conn.execute(sa.select(Measurement.kelurahan_kode)
                             .order_by(Measurement.longitude)).scalars().all()
        versions = conn.execute(sa.select(BoundaryVersion.id, BoundaryVersion.is_current)
                                .order_by(BoundaryVersion.id)).all()
        old = store.load_kelurahan(conn, "99.01", version_id=versions[0][0])
    assert codes == ["99.01.01.1003", "99.01.01.1004"]
    assert [current for _, current in versions] == [False, True]
    assert list(old["kode"]) == [KEL_A, KEL_B]  # history is kept


@pytest.mark.shared_data
def test_two_real_cities_in_one_database(engine, options, shared_data):
    folder = shared_data / "boundaries"
    payakumbuh = import_boundaries(engine, folder / "payakumbuh_13.76_kelurahan.geojson", options)
    singkawang = import_boundaries(engine, folder / "singkawang_61.72_kelurahan.geojson", options)
    assert (payakumbuh["kelurahan"], payakumbuh["kecamatan"]) == (47, 5)
    assert (singkawang["kelurahan"], singkawang["kecamatan"]) == (26, 5)
    with engine.connect() as conn:
        cities = {c["kode"]: c["utm_epsg"] for c in store.list_cities(conn)}
        kelurahan = store.load_kelurahan(conn, "13.76")
    assert cities == {"13.76": 32747, "61.72": 32649}
    assert kelurahan["kode"].str.match(r"^13\.76\.0\d\.\d{4}$").all()
