"""Storing measurements: de-duplication through upload spans, the bulk-write transaction, the
PostGIS points, and migrations 0004 (lean measurement table), 0006 (city from the upload) and
0007 (points written by the ingest), on SQLite and PostGIS."""
from __future__ import annotations

import os
import signal
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa

from geo import settings
from tests.webmap.test_ingest import stored, write_csv
from webmap.bulk_write import BulkWriteError, bulk_transaction, start_bulk_writer
from webmap.database import create_db_engine, sqlite_url, upgrade_database
from webmap.ingest import ingest_measurements
from webmap.store import measurement_write
from webmap.models import Upload

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def row(minute: int, signal_dbm: int = -90, lon: float = 101.405, day: int = 1) -> str:
    return (f"1.605,{lon},2024-03-{day:02d}T08:{minute:02d}:00,XL,4G,{signal_dbm},false,,,,5,"
            "dev-1")


def uploads(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(Upload).order_by(Upload.id))]


def epoch(day: int, minute: int) -> int:
    """UTC epoch seconds of 2024-03-<day> 08:<minute> WIB."""
    return int(datetime(2024, 3, day, 1, minute, tzinfo=UTC).timestamp())


def test_duplicates_within_a_file_are_found_across_chunks(city_engine, options, tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr(settings, "INGEST_CHUNK_ROWS", 2)
    options.now = NOW
    # Rows 2 and 5 are equal and fall into different chunks, as do rows 3 and 7.
    lines = [row(0), row(1), row(2), row(0), row(3), row(1, lon=101.415), row(1)]
    report = ingest_measurements(city_engine, write_csv(tmp_path / "dup.csv", lines), options)
    assert (report["rows"], report["accepted"], report["duplicates"]) == (7, 5, 2)
    rows = stored(city_engine)
    assert len(rows) == 5 and len({r["row_hash"] for r in rows}) == 5


def test_the_writer_started_for_a_repeated_file_is_closed_unused(city_engine, options, tmp_path,
                                                                monkeypatch):
    """The ingest starts its writer while it archives the file; a file ingested before gets
    its earlier report, and the writer is closed without having taken the write lock."""
    from webmap import store

    started = []
    start = store.start_measurement_writer
    monkeypatch.setattr(store, "start_measurement_writer",
                        lambda engine: started.append(start(engine)) or started[-1])
    options.now = NOW
    path = write_csv(tmp_path / "again.csv", [row(0), row(1)])
    assert ingest_measurements(city_engine, path, options)["accepted"] == 2
    report = ingest_measurements(city_engine, path, options)
    assert report["already_ingested"] and report["accepted"] == 0
    assert len(started) == 2 and not started[1]._open
    if city_engine.dialect.name == "sqlite":
        assert started[1]._child.returncode is not None and not started[1]._begun


def test_point_ewkb_is_what_shapely_writes():
    import shapely

    from webmap.store import point_ewkb

    lon, lat = np.array([101.405, -0.0, 180.0, 1e-300]), np.array([1.605, 0.0, -90.0, 2.5])
    points = shapely.set_srid(shapely.points(lon, lat), 4326)
    expected = shapely.to_wkb(points, include_srid=True, byte_order=1)
    assert point_ewkb(lon, lat).to_pylist() == list(expected)
    assert point_ewkb(np.zeros(0), np.zeros(0)).type == pa.binary()


def test_postgis_points_are_the_coordinates(city_engine, options, tmp_path):
    if city_engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores no geometry")
    options.now = NOW
    lines = [row(0), row(1, lon=101.415), row(2, lon=101.4049999)]
    assert ingest_measurements(city_engine, write_csv(tmp_path / "p.csv", lines),
                               options)["accepted"] == 3
    with city_engine.connect() as conn:
        points = conn.execute(sa.text(
            "SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom), longitude, latitude "
            "FROM measurement ORDER BY id")).all()
    assert [(x, y, srid) for x, y, srid, _, _ in points] == [
        (lon, lat, 4326) for *_, lon, lat in points]
    assert [p[3] for p in points] == [101.405, 101.415, 101.4049999]


def test_upload_records_time_span_and_row_ids(city_engine, options, tmp_path):
    options.now = NOW
    lines = [row(30), row(5), row(10, lon=101.415), "abc,101.405,2024-03-01T08:00:00,XL,4G,-90,"
             "false,,,,5,dev-1"]
    report = ingest_measurements(city_engine, write_csv(tmp_path / "span.csv", lines), options)
    assert report["accepted"] == 3
    upload = uploads(city_engine)[0]
    assert (upload["measured_from"], upload["measured_until"]) == (epoch(1, 5), epoch(1, 30))
    ids = [r["id"] for r in stored(city_engine)]  # ordered by time: a chunk is stored in time order
    assert ids == sorted(ids)
    assert (upload["first_row_id"], upload["last_row_id"]) == (min(ids), max(ids))


def test_rows_of_earlier_uploads_are_found_when_spans_overlap(city_engine, options, tmp_path):
    options.now = NOW
    ingest_measurements(city_engine, write_csv(tmp_path / "d1.csv", [row(0), row(1)]), options)
    ingest_measurements(city_engine, write_csv(tmp_path / "d2.csv", [row(0, day=2)]), options)
    mixed = [row(1), row(0, day=2), row(5, day=2), row(7, day=3)]
    report = ingest_measurements(city_engine, write_csv(tmp_path / "d3.csv", mixed), options)
    assert (report["accepted"], report["duplicates"]) == (2, 2)
    assert len(stored(city_engine)) == 5
    empty = ingest_measurements(city_engine, write_csv(tmp_path / "d4.csv", ["abc,1,2,3"]),
                                options)
    assert empty["accepted"] == 0 and uploads(city_engine)[-1]["first_row_id"] is None


@pytest.fixture
def deletes(monkeypatch) -> list[str]:
    """The DELETE statements the bulk-write transactions run."""
    from webmap import bulk_write

    seen: list[str] = []
    for transaction in (bulk_write._SqliteTransaction, bulk_write._PostgresTransaction):
        original = transaction.execute

        def execute(self, sql, params=(), original=original):
            if sql.lstrip().upper().startswith("DELETE"):
                seen.append(sql)
            return original(self, sql, params)

        monkeypatch.setattr(transaction, "execute", execute)
    return seen


def test_repeats_of_earlier_uploads_are_never_written(city_engine, options, tmp_path,
                                                      monkeypatch, deletes):
    """Rows an earlier upload stored are held back before the append (nothing is deleted);
    the upload's counts, rows and time span are those of the rows kept."""
    monkeypatch.setattr(settings, "INGEST_CHUNK_ROWS", 2)
    options.now = NOW
    first = [row(minute) for minute in range(5)]
    ingest_measurements(city_engine, write_csv(tmp_path / "e1.csv", first), options)
    assert deletes == []
    again = [row(minute) for minute in range(7)]  # five repeats, two new rows
    report = ingest_measurements(city_engine, write_csv(tmp_path / "e2.csv", again), options)
    assert (report["rows"], report["accepted"], report["duplicates"]) == (7, 2, 5)
    assert deletes == []
    rows = stored(city_engine)
    assert len(rows) == 7 and len({r["row_hash"] for r in rows}) == 7
    upload = uploads(city_engine)[-1]
    assert (upload["accepted"], upload["duplicates"]) == (2, 5)
    kept = [r for r in rows if r["upload_id"] == upload["id"]]
    assert (upload["first_row_id"], upload["last_row_id"]) == (min(r["id"] for r in kept),
                                                              max(r["id"] for r in kept))
    assert (upload["measured_from"], upload["measured_until"]) == (epoch(1, 5), epoch(1, 6))
    # The same rows once more (other bytes, so not the same file): nothing is added.
    third = ingest_measurements(city_engine, write_csv(tmp_path / "e3.csv", again[::-1]),
                                options)
    assert (third["accepted"], third["duplicates"], deletes) == (0, 7, [])
    assert len(stored(city_engine)) == 7


def test_a_file_of_many_stored_rows_writes_nothing(city_engine, options, tmp_path, deletes):
    # Regression: the repeats were appended, then deleted 10,000 hashes per statement, each
    # statement scanning all the upload's rows (20 s for a million rows stored before).
    options.now = NOW
    lines = [f"1.605,101.405,2024-03-{1 + i // 3600:02d}T08:{i // 60 % 60:02d}:{i % 60:02d},"
             f"XL,4G,-90,false,,,,5,dev-1" for i in range(10_001)]
    first = ingest_measurements(city_engine, write_csv(tmp_path / "big.csv", lines), options)
    again = ingest_measurements(city_engine, write_csv(tmp_path / "big2.csv", lines[::-1]),
                                options)
    assert (first["accepted"], again["accepted"], again["duplicates"]) == (10_001, 0, 10_001)
    assert deletes == [] and uploads(city_engine)[-1]["first_row_id"] is None
    with city_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM measurement")).scalar_one() == 10_001


def test_same_observation_in_another_city_is_not_a_duplicate(city_engine, options, tmp_path):
    from tests.webmap.conftest import write_city
    from webmap.ingest import import_boundaries

    other = {"99.02.01.1001": (101.40, 1.60, 101.41, 1.61)}
    path = write_city(tmp_path / "other.geojson", other, {"99.02.01.1001": "Lain"})
    text = path.read_text().replace('"99.01"', '"99.02"').replace("Kota Uji", "Kota Lain")
    path.write_text(text)
    import_boundaries(city_engine, path, options)
    options.now, options.city_kode = NOW, "99.01"
    ingest_measurements(city_engine, write_csv(tmp_path / "a.csv", [row(0)]), options)
    options.city_kode = "99.02"
    report = ingest_measurements(city_engine, write_csv(tmp_path / "b.csv", [row(0)]), options)
    assert report["accepted"] == 1 and len(stored(city_engine)) == 2


# --- the bulk-write transaction --------------------------------------------------------------------

SCHEMA = pa.schema([("upload_id", pa.int32()), ("row_hash", pa.int64()),
                    ("measured_at", pa.int64()), ("latitude", pa.float64()),
                    ("longitude", pa.float64()),
                    ("operator", pa.string()), ("technology", pa.string()),
                    ("no_service", pa.bool_()), ("h3_cell", pa.int64())])


def batch(n: int, start: int = 0) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({
        "upload_id": [1] * n, "row_hash": list(range(start, start + n)),
        "measured_at": [1_700_000_000] * n, "latitude": [1.605] * n, "longitude": [101.405] * n,
        "operator": ["XL"] * n, "technology": ["4G"] * n, "no_service": [False] * n,
        "h3_cell": [0] * n}, schema=SCHEMA)


def as_stored(tx, batches):
    """Schema and batches as the database takes them (PostGIS: with each row's point)."""
    if tx.dialect != "postgresql":
        return SCHEMA, batches
    from webmap.store import point_ewkb

    schema = SCHEMA.append(pa.field("geom", pa.binary()))
    return schema, (pa.RecordBatch.from_arrays(
        [*b.columns, point_ewkb(b.column("longitude").to_numpy(), b.column("latitude").to_numpy())],
        schema=schema) for b in batches)


def measurement_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM measurement")).scalar_one()


def test_bulk_append_commits_everything_together(engine):
    with bulk_transaction(engine) as tx:
        assert tx.append("measurement", *as_stored(tx, iter([batch(3), batch(2, start=3)]))) == 5
        assert tx.execute("SELECT count(*) FROM measurement")[0][0] == 5
        assert len(tx.execute("SELECT row_hash FROM measurement")) == 5
        assert measurement_rows(engine) == 0  # not visible before the commit
        tx.commit()
    assert measurement_rows(engine) == 5


def test_bulk_transaction_rolls_back_unless_committed(engine):
    with bulk_transaction(engine) as tx:
        tx.append("measurement", *as_stored(tx, [batch(4)]))
    assert measurement_rows(engine) == 0


def test_error_while_preparing_batches_is_raised_unchanged(engine):
    def batches():
        yield batch(2)
        raise ValueError("bad chunk 2")

    with pytest.raises(ValueError, match="bad chunk 2"):
        with bulk_transaction(engine) as tx:
            tx.append("measurement", *as_stored(tx, batches()))
            tx.commit()
    assert measurement_rows(engine) == 0


def test_database_error_names_the_problem(engine):
    with pytest.raises(BulkWriteError, match="no_such_table"):
        with bulk_transaction(engine) as tx:
            tx.execute("SELECT * FROM no_such_table")
    with bulk_transaction(engine) as tx:  # the database is usable afterwards
        tx.append("measurement", *as_stored(tx, [batch(1)]))
        tx.commit()
    assert measurement_rows(engine) == 1


def test_a_writer_started_ahead_takes_the_lock_only_when_its_transaction_begins(engine):
    """Started while the file is prepared, it lets other writers through until it is used;
    closed unused, it leaves nothing behind."""
    started = start_bulk_writer(engine)
    with bulk_transaction(engine) as tx:  # another writer, while the first one is starting
        tx.append("measurement", *as_stored(tx, [batch(2)]))
        tx.commit()
    with bulk_transaction(engine, started) as tx:
        tx.append("measurement", *as_stored(tx, [batch(3, start=2)]))
        tx.commit()
    assert measurement_rows(engine) == 5
    unused = start_bulk_writer(engine)
    unused.rollback()
    if engine.dialect.name == "sqlite":
        assert unused._child.returncode is not None  # the process is gone
    with bulk_transaction(engine) as tx:
        assert tx.execute("SELECT count(*) FROM measurement")[0][0] == 5


def test_sqlite_writer_process_killed_mid_transaction(tmp_path):
    engine = create_db_engine(sqlite_url(tmp_path / "k.db"))
    upgrade_database(engine)
    with pytest.raises(BulkWriteError, match="ended unexpectedly|Broken pipe|failed"):
        with bulk_transaction(engine) as tx:
            tx.append("measurement", *as_stored(tx, [batch(10)]))
            os.kill(tx._child.pid, signal.SIGKILL)
            tx._child.wait()
            tx.append("measurement", *as_stored(tx, [batch(10, start=10)]))
            tx.commit()
    assert measurement_rows(engine) == 0
    engine.dispose()


def test_sqlite_in_memory_database_is_refused_with_advice():
    engine = create_db_engine("sqlite://")
    with pytest.raises(BulkWriteError, match="DATABASE_URL"):
        with bulk_transaction(engine):
            pass


# --- migration 0004 --------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "old.db")
    server = request.getfixturevalue("postgis_server")
    url = server.create_database()
    server.execute("CREATE EXTENSION postgis", url.rsplit("/", 1)[1])
    return url


def test_migration_fills_upload_spans_and_drops_the_unique_hash(empty_url):
    engine = create_db_engine(empty_url)
    upgrade_database(engine, "0003")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO city (kode, nama, utm_epsg, timezone, created_at) "
                             "VALUES ('99.01', 'Kota Uji', 32647, 'Asia/Jakarta', '2025-01-01 00:00:00')"))
        conn.execute(sa.text(
            "INSERT INTO upload (id, city_kode, kind, sha256, original_name, archive_path, "
            "size_bytes, uploaded_by, uploaded_at, format, rows, accepted, rejected, duplicates, "
            "report) VALUES (7, '99.01', 'measurements', 'abc', 'a.csv', '/x', 1, 't', "
            "'2025-01-01 00:00:00', 'canonical', 2, 2, 0, 0, '{}')"))
        for i, (row_hash, at) in enumerate([(11, 1_700_000_500), (12, 1_700_000_100)]):
            conn.execute(sa.text(
                "INSERT INTO measurement (id, upload_id, city_kode, row_hash, measured_at, "
                "latitude, longitude, operator, technology, no_service, h3_cell) VALUES "
                f"({40 + i}, 7, '99.01', {row_hash}, {at}, 1.6, 101.4, 'XL', '4G', false, 0)"))
    upgrade_database(engine, "0004")
    with engine.begin() as conn:
        span = conn.execute(sa.text("SELECT measured_from, measured_until, first_row_id, "
                                    "last_row_id FROM upload WHERE id = 7")).one()
        assert tuple(span) == (1_700_000_100, 1_700_000_500, 40, 41)
        kept = conn.execute(sa.text("SELECT id, row_hash FROM measurement ORDER BY id")).all()
        assert [tuple(r) for r in kept] == [(40, 11), (41, 12)]
        conn.execute(sa.text(  # no unique index on row_hash any more
            "INSERT INTO measurement (upload_id, city_kode, row_hash, measured_at, latitude, "
            "longitude, operator, technology, no_service, h3_cell) VALUES "
            "(7, '99.01', 11, 1, 1.6, 101.4, 'XL', '4G', false, 0)"))
    engine.dispose()


def test_migration_0004_downgrades(empty_url):
    from webmap.database import downgrade_database

    engine = create_db_engine(empty_url)
    upgrade_database(engine)
    downgrade_database(engine, "0003")
    inspector = sa.inspect(engine)
    assert "measured_from" not in {c["name"] for c in inspector.get_columns("upload")}
    assert any(u["column_names"] == ["row_hash"]
               for u in inspector.get_unique_constraints("measurement")) or any(
        i["unique"] and i["column_names"] == ["row_hash"]
        for i in inspector.get_indexes("measurement"))
    upgrade_database(engine)
    engine.dispose()


def test_migration_0006_reads_the_city_from_the_upload_and_downgrades(empty_url):
    from webmap.database import downgrade_database
    from webmap.store import load_measurements

    engine = create_db_engine(empty_url)
    upgrade_database(engine, "0005")
    with engine.begin() as conn:
        for kode in ("99.01", "99.02"):
            conn.execute(sa.text(
                "INSERT INTO city (kode, nama, utm_epsg, timezone, created_at) VALUES "
                f"('{kode}', 'Kota {kode}', 32647, 'Asia/Jakarta', '2025-01-01 00:00:00')"))
        # Upload 7 (99.01) has ids 40 and 42; upload 8 (99.02) was ingested at the same time
        # and got id 41, inside upload 7's id range.
        for upload, kode, first, last in ((7, "99.01", 40, 42), (8, "99.02", 41, 41)):
            conn.execute(sa.text(
                "INSERT INTO upload (id, city_kode, kind, sha256, original_name, archive_path, "
                "size_bytes, uploaded_by, uploaded_at, format, rows, accepted, rejected, "
                "duplicates, report, measured_from, measured_until, first_row_id, last_row_id) "
                f"VALUES ({upload}, '{kode}', 'measurements', 'h{upload}', 'a.csv', '/x', 1, "
                f"'t', '2025-01-01 00:00:00', 'canonical', 1, 1, 0, 0, '{{}}', 1, 2, {first}, "
                f"{last})"))
        for row_id, upload, kode in ((40, 7, "99.01"), (41, 8, "99.02"), (42, 7, "99.01")):
            conn.execute(sa.text(
                "INSERT INTO measurement (id, upload_id, city_kode, row_hash, measured_at, "
                "latitude, longitude, operator, technology, no_service, h3_cell) VALUES "
                f"({row_id}, {upload}, '{kode}', {row_id}, {row_id}, 1.6, 101.4, 'XL', '4G', "
                "false, 0)"))
    upgrade_database(engine)
    assert "city_kode" not in {c["name"] for c in sa.inspect(engine).get_columns("measurement")}
    assert load_measurements(engine, "99.01")["upload_id"].tolist() == [7, 7]
    assert load_measurements(engine, "99.02")["measured_at"].tolist() == [41]
    assert load_measurements(engine, "99.03").empty
    downgrade_database(engine, "0005")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, city_kode FROM measurement ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(40, "99.01"), (41, "99.02"), (42, "99.01")]
    engine.dispose()


def test_migration_0007_keeps_the_postgis_points_and_downgrades(empty_url):
    from webmap.database import downgrade_database

    if not empty_url.startswith("postgresql"):
        pytest.skip("PostGIS only")
    engine = create_db_engine(empty_url)
    upgrade_database(engine, "0006")
    insert = sa.text("INSERT INTO measurement (upload_id, row_hash, measured_at, latitude, "
                     "longitude, operator, technology, no_service, h3_cell) VALUES "
                     "(7, 1, 1, 1.6, 101.4, 'XL', '4G', false, 0)")
    generated = sa.text("SELECT attgenerated FROM pg_attribute WHERE attname = 'geom' "
                        "AND attrelid = 'measurement'::regclass")
    with engine.begin() as conn:
        conn.execute(insert)  # geom generated by the server
    upgrade_database(engine)
    with engine.begin() as conn:
        assert conn.execute(generated).scalar_one() == ""
        assert conn.execute(sa.text("SELECT ST_AsText(geom) FROM measurement")).scalar_one() \
            == "POINT(101.4 1.6)"
        with pytest.raises(sa.exc.IntegrityError):  # every writer must give the point now
            with conn.begin_nested():
                conn.execute(insert)
    downgrade_database(engine, "0006")
    with engine.begin() as conn:
        assert conn.execute(generated).scalar_one() == "s"
        conn.execute(insert)
        assert conn.execute(sa.text("SELECT count(*) FROM measurement WHERE geom IS NOT NULL")
                            ).scalar_one() == 2
    engine.dispose()


def test_stored_hashes_are_read_only_for_uploads_the_file_reaches(city_engine, options,
                                                                   tmp_path, monkeypatch):
    from webmap import store

    options.now = NOW
    ingest_measurements(city_engine, write_csv(tmp_path / "d1.csv",
                                               [row(m, day=1) for m in range(3)]), options)
    ingest_measurements(city_engine, write_csv(tmp_path / "d5.csv",
                                               [row(m, day=5) for m in range(2)]), options)
    rows = stored(city_engine)
    day1 = np.array([r["row_hash"] for r in rows if r["measured_at"] < epoch(2, 0)])
    day5 = np.array([r["row_hash"] for r in rows if r["measured_at"] > epoch(2, 0)])
    reads: list[list[int]] = []
    original = store._row_hashes
    monkeypatch.setattr(store, "_row_hashes",
                        lambda engine, spans: reads.append(spans[:, 0].tolist())
                        or original(engine, spans))
    with measurement_write(city_engine, "99.01") as writer:
        known = writer.stored_hashes()
        assert known.repeated(np.zeros(0, np.int64), np.zeros(0, np.int64)).shape == (0,)
        assert reads == []
        probe = np.array([day1[0], 12345, day5[0]])
        # Rows of day 1: only the first upload is read; day 5's hash is not known yet.
        assert known.repeated(probe, np.full(3, epoch(1, 1))).tolist() == [True, False, False]
        assert known.repeated(probe, np.full(3, epoch(3, 0))).tolist() == [True, False, False]
        assert known.repeated(probe, np.full(3, epoch(5, 1))).tolist() == [True, False, True]
    ids = [u["id"] for u in uploads(city_engine)]
    assert reads == [[ids[0]], [ids[1]]]


def test_stored_hashes_of_many_uploads_are_read(city_engine, options, tmp_path):
    # Regression: the hashes of all due uploads were read in one compound SELECT, which SQLite
    # refuses beyond 500 terms (a year-long export meeting the daily uploads of several teams).
    from webmap import store

    options.now = NOW
    ingest_measurements(city_engine, write_csv(tmp_path / "d1.csv",
                                               [row(m) for m in range(3)]), options)
    upload = uploads(city_engine)[-1]
    span = [upload["id"], upload["first_row_id"], upload["last_row_id"],
            upload["measured_from"], upload["measured_until"]]
    hashes = store._row_hashes(city_engine, np.array([span] * 600, dtype=np.int64))
    assert len(hashes) == 1800
    assert set(hashes.tolist()) == {r["row_hash"] for r in stored(city_engine)}


def test_a_city_without_uploads_has_no_stored_hashes(city_engine):
    with measurement_write(city_engine, "99.01") as writer:
        known = writer.stored_hashes()
        assert known.repeated(np.array([1, 2]), np.array([0, 2**40])).tolist() == [False, False]
