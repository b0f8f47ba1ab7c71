"""Property-based ingest: whatever rows a file holds, the counts add up and match the database."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import InputFileError
from tests.webmap.test_ingest import HEADER
from webmap.database import create_db_engine, sqlite_url, upgrade_database
from webmap.ingest import IngestOptions, import_boundaries, ingest_measurements
from webmap.models import Measurement

cell = st.one_of(st.just(""), st.text(alphabet="-0123456789.abcXYZ ,\"", max_size=8))
latitude = st.one_of(st.floats(1.599, 1.611).map(lambda v: f"{v:.6f}"), cell)
longitude = st.one_of(st.floats(101.399, 101.421).map(lambda v: f"{v:.6f}"), cell)
timestamp = st.one_of(st.sampled_from(["2024-03-01T08:00:00", "2024-03-01 09:30:00+07:00",
                                       "2099-01-01T00:00:00", "kemarin"]), cell)
technology = st.one_of(st.sampled_from(["4G", "3G", "2G", "5G", "LTE", "6G", ""]), cell)
signal = st.one_of(st.integers(-150, -20).map(str), st.sampled_from(["-200", "", "-24"]), cell)
no_service = st.sampled_from(["", "true", "false", "ya", "maybe"])
row = st.tuples(latitude, longitude, timestamp, st.sampled_from(["XL", "Telkomsel", ""]),
                technology, signal, no_service)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=25))
def test_counts_add_up_and_match_the_database(rows, tmp_path_factory, city_file):
    folder = tmp_path_factory.mktemp("prop")
    engine = create_db_engine(sqlite_url(folder / "p.db"))
    upgrade_database(engine)
    options = IngestOptions(archive_dir=folder / "archive", now=datetime(2025, 1, 1, tzinfo=UTC))
    import_boundaries(engine, city_file, options)
    lines = [",".join(f'"{v}"' if ("," in v or '"' in v) and '"' not in v else v.replace('"', "")
                      for v in r) + ",,,,," for r in rows]
    path = folder / "m.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    try:
        report = ingest_measurements(engine, path, options)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(Measurement))
            stored = stored.scalar_one()
    except InputFileError:  # a whole-file problem is an acceptable, user-facing answer
        return
    finally:
        engine.dispose()
    assert report["rows"] == report["accepted"] + report["rejected"] + report["duplicates"]
    assert stored == report["accepted"]
    assert {e["row"] for e in report["errors"]} <= set(range(2, len(rows) + 2))
