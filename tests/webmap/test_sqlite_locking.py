"""Reading measurements must not drop the process's SQLite file locks (data-integrity bug).

ADBC's SQLite driver links its own copy of SQLite.  Opening and closing the database file through
it dropped the POSIX locks the app's ``sqlite3`` connections held, so another process's WAL
checkpoint overwrote pages a live reader still needed (found by ``scripts/bench_web.py``).  The
bulk read now runs ADBC in a child process (:mod:`webmap.sqlite_reader`).
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys


def test_load_measurements_keeps_readers_snapshot_safe(tmp_path):
    from webmap import store
    from webmap.database import create_db_engine, sqlite_url, upgrade_database

    path = tmp_path / "lock.db"
    engine = create_db_engine(sqlite_url(path))
    upgrade_database(engine)
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("pragma journal_mode=WAL")
    setup.execute("create table t(id integer primary key, v text)")
    setup.execute("with recursive s(i) as (select 1 union all select i + 1 from s where i < 5000)"
                  " insert into t(v) select hex(randomblob(100)) from s")
    setup.close()

    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("begin")
    before = reader.execute("select count(*), sum(length(v)) from t").fetchone()

    store.load_measurements(engine, "99.01")  # the read under test (no rows: it's the file I/O)

    writer = subprocess.run([sys.executable, "-c", f"""
import sqlite3
c = sqlite3.connect({str(path)!r}, isolation_level=None, timeout=1)
c.execute("update t set v = hex(randomblob(100))")
c.execute("delete from t where id % 2 = 0")
print(*c.execute("pragma wal_checkpoint(TRUNCATE)").fetchone())
"""], capture_output=True, text=True, check=True)
    busy = int(writer.stdout.split()[0])
    # The checkpoint must wait for our reader (busy) and the reader keeps its snapshot.
    assert busy == 1, "a checkpoint ran over a live reader: its file locks were dropped"
    assert reader.execute("select count(*), sum(length(v)) from t").fetchone() == before
    assert reader.execute("pragma quick_check").fetchone() == ("ok",)
    reader.close()
    engine.dispose()


def test_child_reader_returns_arrow_and_reports_failures(tmp_path):
    import pytest

    from webmap.sqlite_reader import SQLiteReadError, read_arrow

    path = tmp_path / "r.db"
    conn = sqlite3.connect(path)
    conn.execute("create table t(a integer, b text)")
    conn.executemany("insert into t values (?, ?)", [(1, "x"), (2, None)])
    conn.commit()
    conn.close()
    table = read_arrow(str(path), "select a, b from t order by a")
    assert table.to_pydict() == {"a": [1, 2], "b": ["x", None]}
    with pytest.raises(SQLiteReadError, match="no such table"):
        read_arrow(str(path), "select * from missing")
    # The reason comes first, not cut off by the echo of a long query.
    long_query = " union all ".join(["select a from t"] * 600)
    with pytest.raises(SQLiteReadError, match="too many terms in compound SELECT$"):
        read_arrow(str(path), long_query)
    with pytest.raises(SQLiteReadError, match="DATABASE_URL"):
        read_arrow(":memory:", "select 1")


def test_new_database_gets_the_larger_page_size_and_an_old_one_keeps_its_own(tmp_path):
    from webmap.database import SQLITE_PAGE_SIZE, create_db_engine, sqlite_url, upgrade_database

    fresh = tmp_path / "new.db"
    upgrade_database(create_db_engine(sqlite_url(fresh)))
    assert SQLITE_PAGE_SIZE != 4096
    assert sqlite3.connect(fresh).execute("pragma page_size").fetchone()[0] == SQLITE_PAGE_SIZE

    old = tmp_path / "old.db"
    setup = sqlite3.connect(old)
    setup.execute("create table t(x)")  # created with SQLite's default page size
    setup.close()
    upgrade_database(create_db_engine(sqlite_url(old)))
    pages = sqlite3.connect(old)
    assert pages.execute("pragma page_size").fetchone()[0] == 4096
    assert pages.execute("pragma journal_mode").fetchone()[0] == "wal"
