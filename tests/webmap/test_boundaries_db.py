"""Boundary imports into the database: cities, versions kept as history, re-tagging of points."""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine.row import Row

from tests.webmap.conftest import KEL_A, KEL_B, write_city
from webmap import store
from webmap.ingest import import_boundaries, import_facilities, ingest_measurements
from webmap.models import BoundaryVersion, Facility, Measurement


def _ingest(engine, options, tmp_path, lines: str, *, device: bool = False) -> None:
    """Ingest measurement rows (CSV lines after the header) at a fixed "now"."""
    csv = tmp_path / "m.csv"
    csv.write_text("latitude,longitude,timestamp,technology,signal_dbm"
                   + (",device_id" if device else "") + "\n" + lines)
    options.now = datetime(2025, 1, 1, tzinfo=UTC)
    ingest_measurements(engine, csv, options)


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
    _ingest(engine, options, tmp_path, "1.605,101.402,2024-03-01T08:00:00,4G,-90\n"
                                       "1.605,101.408,2024-03-01T08:00:00,4G,-91\n")
    # 2025 code list: kelurahan A is split into a west (1003) and an east (1004) half.
    split = {"99.01.01.1003": (101.40, 1.60, 101.405, 1.61),
             "99.01.01.1004": (101.405, 1.60, 101.41, 1.61),
             KEL_B: (101.41, 1.60, 101.42, 1.61)}
    report = import_boundaries(engine, write_city(tmp_path / "v2.geojson", split), options)
    assert report["changes"] == {"added": ["99.01.01.1003", "99.01.01.1004"], "removed": [KEL_A]}
    assert report["retagged"] == {"measurement": 2, "facility": 0}
    with engine.connect() as conn:
        codes = conn.execute(sa.select(Measurement.kelurahan_kode)
                             .order_by(Measurement.longitude)).scalars().all()
        versions = conn.execute(sa.select(BoundaryVersion.id, BoundaryVersion.is_current)
                                .order_by(BoundaryVersion.id)).all()
        old = store.load_kelurahan(conn, "99.01", version_id=versions[0][0])
    assert codes == ["99.01.01.1003", "99.01.01.1004"]
    assert [current for _, current in versions] == [False, True]
    assert list(old["kode"]) == [KEL_A, KEL_B]  # history is kept


def _codes_by_name(engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        measured = conn.execute(sa.select(Measurement.device_id, Measurement.kelurahan_kode))
        facilities = conn.execute(sa.select(Facility.nama, Facility.kelurahan_kode))
        return dict(measured.all()) | dict(facilities.all())


def test_boundary_update_writes_only_the_rows_that_change_kelurahan(engine, city_file, options,
                                                                    tmp_path):
    import_boundaries(engine, city_file, options)
    _ingest(engine, options, tmp_path, "1.605,101.402,2024-03-01T08:00:00,4G,-90,west\n"
                                       "1.605,101.408,2024-03-01T08:00:00,4G,-91,east\n"
                                       "1.605,101.415,2024-03-01T08:00:00,4G,-92,bukit\n",
            device=True)
    facility_csv = tmp_path / "fasilitas.csv"
    facility_csv.write_text("nama,jenis,lintang,bujur\nTPS Barat,TPS,1.605,101.401\n"
                            "BTS Bukit,BTS,1.606,101.416\n")
    import_facilities(engine, facility_csv, options)
    # The east half of A moves to a new kelurahan 1004; A shrinks to its west half; B is kept.
    moved = {KEL_A: (101.40, 1.60, 101.405, 1.61), "99.01.01.1004": (101.405, 1.60, 101.41, 1.61),
             KEL_B: (101.41, 1.60, 101.42, 1.61)}
    report = import_boundaries(engine, write_city(tmp_path / "v2.geojson", moved), options)
    assert report["retagged"] == {"measurement": 1, "facility": 0}
    assert "1 measurement(s) and 0 facility(ies) changed kelurahan" in report["message"]
    assert _codes_by_name(engine) == {"west": KEL_A, "east": "99.01.01.1004", "bukit": KEL_B,
                                      "TPS Barat": KEL_A, "BTS Bukit": KEL_B}
    # B is dropped from the list: its points are farther than the tolerance from every
    # kelurahan and lose their code (NULL), the others keep theirs.
    without_b = {KEL_A: moved[KEL_A], "99.01.01.1004": moved["99.01.01.1004"]}
    report = import_boundaries(engine, write_city(tmp_path / "v3.geojson", without_b), options)
    assert report["retagged"] == {"measurement": 1, "facility": 1}
    assert _codes_by_name(engine) == {"west": KEL_A, "east": "99.01.01.1004", "bukit": None,
                                      "TPS Barat": KEL_A, "BTS Bukit": None}


def test_update_kelurahan_codes_sets_each_code_on_its_rows(engine, city_file, options, tmp_path):
    import_boundaries(engine, city_file, options)
    rows = "".join(f"1.605,101.40{i % 9 + 1},2024-03-01T08:{i // 60:02d}:{i % 60:02d},4G,-90,d{i}\n"
                   for i in range(40))
    _ingest(engine, options, tmp_path, rows, device=True)
    table = Measurement.__table__
    with engine.begin() as conn:
        frame = store.point_rows(conn, table, "99.01")
        ids = frame["id"].to_numpy()
        codes = np.array([("K3" if i % 3 else None) if i % 2 else "K2" for i in range(len(ids))],
                         dtype=object)
        store.update_kelurahan_codes(conn, table, ids, codes)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(table.c.id, table.c.kelurahan_kode)).all())
    assert len(ids) == 40 and stored == dict(zip(ids.tolist(), codes.tolist(), strict=True))


def test_point_rows_reads_plain_values(engine, city_file, options, tmp_path, monkeypatch):
    # Regression: building the frame from SQLAlchemy rows made pandas probe every row for
    # attributes it does not have; each miss raised inside SQLAlchemy (13 s per million rows).
    import_boundaries(engine, city_file, options)
    _ingest(engine, options, tmp_path, "1.605,101.402,2024-03-01T08:00:00,4G,-90\n"
                                       "1.606,101.415,2024-03-01T08:00:00,4G,-91\n")
    probes = []
    original = Row.__getattr__
    monkeypatch.setattr(Row, "__getattr__",
                        lambda row, name: probes.append(name) or original(row, name))
    with engine.connect() as conn:
        frame = store.point_rows(conn, Measurement.__table__, "99.01")
        empty = store.point_rows(conn, Facility.__table__, "99.01")
    assert probes == []
    assert frame["kelurahan_kode"].tolist() == [KEL_A, KEL_B]
    assert frame["longitude"].tolist() == [101.402, 101.415]
    assert frame["id"].dtype == np.int64 and frame["latitude"].dtype == np.float64
    assert len(empty) == 0 and list(empty.columns) == list(frame.columns)


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
