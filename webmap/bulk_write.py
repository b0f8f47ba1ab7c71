"""One write transaction through ADBC: small SQL statements plus Arrow bulk appends, all or nothing.

ADBC appends Arrow record batches at C speed: binary ``COPY`` on PostgreSQL, prepared inserts
without per-value Python binding on SQLite.  A stream of batches is consumed as it is produced,
so the database stores chunk *k* while the caller prepares chunk *k + 1* (the two run on
different cores: the PostgreSQL server, or the SQLite child process below).

* **PostgreSQL**: an ADBC connection in this process.
* **SQLite**: the ADBC driver links its own copy of the SQLite library, and two SQLite libraries in
  one process break each other's POSIX file locks (see :mod:`webmap.sqlite_reader`).  So the
  transaction runs in a child process (:data:`_CHILD`, which imports nothing of the project) that
  this module drives over a pipe: one JSON line per request, Arrow IPC streams for bulk data, one
  JSON line per answer.  The child takes the database's write lock (``BEGIN IMMEDIATE``) when
  the transaction begins; if this process dies, the child reads end-of-file and rolls back.

A writer can be started ahead of its transaction (:func:`start_bulk_writer`): the SQLite child
then imports its libraries and connects while the caller prepares its data, and takes the lock
only when :func:`bulk_transaction` begins.

Nothing here knows about measurements; :mod:`webmap.store` writes the SQL.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import pyarrow as pa
from sqlalchemy.engine import Engine

from geo.errors import PetakotaError
from webmap.sqlite_reader import database_file


class BulkWriteError(PetakotaError):
    """The database refused a bulk write (the transaction was rolled back)."""


class BulkTransaction:
    """A write transaction; subclasses talk to one kind of database.

    ``dialect`` is ``"sqlite"`` or ``"postgresql"`` (placeholders are ``?`` and ``$1`` in the
    SQL given to :meth:`execute`).
    """

    dialect: str

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement; return its rows (empty when it returns none)."""
        raise NotImplementedError

    def append(self, table: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        """Append the batches (consumed lazily, one at a time) to ``table``; return the rows."""
        raise NotImplementedError

    def commit(self) -> None:
        """Make everything written so far permanent."""
        raise NotImplementedError

    def rollback(self) -> None:
        """Abandon the transaction (also what happens if this process dies)."""
        raise NotImplementedError

    def begin(self) -> None:
        """Start the transaction (SQLite: take the write lock; the wait for it is answered with
        the next request)."""

    def placeholder(self, number: int) -> str:
        """The placeholder of the ``number``-th parameter (1-based) in this dialect's SQL."""
        return "?" if self.dialect == "sqlite" else f"${number}"


def start_bulk_writer(engine: Engine) -> BulkTransaction:
    """Start a writer for one transaction on the engine's database, ahead of it (SQLite: the
    writer process starts now).  Give it to :func:`bulk_transaction`, or ``rollback()`` it to
    close it unused."""
    return (_PostgresTransaction(engine) if engine.dialect.name == "postgresql"
            else _SqliteTransaction(engine))


@contextmanager
def bulk_transaction(engine: Engine, started: BulkTransaction | None = None
                     ) -> Iterator[BulkTransaction]:
    """Open a write transaction on the engine's database (through the ``started`` writer if
    given); roll back unless committed."""
    transaction = started or start_bulk_writer(engine)
    try:
        transaction.begin()
        yield transaction
    except BaseException:
        transaction.rollback()
        raise
    transaction.rollback()  # no-op after a commit


# --- PostgreSQL: ADBC in this process ------------------------------------------------------------

class _PostgresTransaction(BulkTransaction):
    dialect = "postgresql"

    def __init__(self, engine: Engine) -> None:
        import adbc_driver_postgresql.dbapi as adbc_pg

        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            self._conn = adbc_pg.connect(url)
        except Exception as error:
            raise BulkWriteError(f"Cannot connect to PostgreSQL for a bulk write: "
                                 f"{_one_line(error)}") from error
        self._cursor = self._conn.cursor()
        self._open = True

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        self._run(sql, params)
        return list(self._cursor.fetchall()) if self._cursor.description else []

    def append(self, table: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        failures: list[BaseException] = []
        reader = pa.RecordBatchReader.from_batches(schema, _noting_failure(batches, failures))
        try:
            return int(self._cursor.adbc_ingest(table, reader, mode="append"))
        except Exception as error:
            if failures:  # the caller's own error while preparing a batch, not the database's
                raise failures[0] from None
            raise BulkWriteError(f"Writing to {table} failed: {_one_line(error)}") from error

    def commit(self) -> None:
        self._conn.commit()
        self._close()

    def rollback(self) -> None:
        if self._open:
            self._conn.rollback()
            self._close()

    def _run(self, sql: str, params: tuple) -> None:
        try:
            self._cursor.execute(sql, params or None)
        except Exception as error:
            raise BulkWriteError(f"{_one_line(error)} (in: {' '.join(sql.split())[:200]})"
                                 ) from error

    def _close(self) -> None:
        self._open = False
        self._cursor.close()
        self._conn.close()


# --- SQLite: ADBC in a child process -------------------------------------------------------------

#: The child: database path as argument; requests on stdin, answers on stdout.  It answers
#: {"ready": true} once connected; the transaction's first request is "BEGIN IMMEDIATE".  A
#: request is a JSON line {"op": "execute" | "append" | "commit", ...}; "append" is followed by
#: an Arrow IPC stream of the rows, "execute" with "params" by one of the parameters (converting
#: Python values in the child would make pyarrow import pandas: a slower start).  An answer is a
#: JSON line {"rows": [...]} / {"count": n} / {"error": "..."}.  After "commit" the child
#: checkpoints the write-ahead log and exits; at end-of-file it rolls back and exits.
_CHILD = r"""
import json, sys
import adbc_driver_manager as adbc
import adbc_driver_sqlite
import pyarrow as pa
source, sink = sys.stdin.buffer, sys.stdout.buffer

def answer(message):
    sink.write(json.dumps(message).encode() + b"\n")
    sink.flush()

def plain(value):
    return value if value is None or isinstance(value, (int, float, str)) else str(value)

def query(sql, params=None):
    statement = adbc.AdbcStatement(conn)
    try:
        statement.set_sql_query(sql)
        if params is not None:
            statement.bind(params)
        stream, _ = statement.execute_query()
        return pa.RecordBatchReader.from_stream(stream).read_all()
    finally:
        statement.close()

def ingest(table, stream):
    statement = adbc.AdbcStatement(conn)
    try:
        statement.set_options(**{adbc.INGEST_OPTION_TARGET_TABLE: table,
                                 adbc.INGEST_OPTION_MODE: adbc.INGEST_OPTION_MODE_APPEND})
        statement.bind_stream(stream)
        return statement.execute_update()
    finally:
        statement.close()

# The low-level ADBC API: the DB-API module would import pandas (a slower start).  The connection
# is in autocommit mode; the transaction is ours (BEGIN IMMEDIATE ... COMMIT).
database = adbc_driver_sqlite.connect(sys.argv[1])
conn = adbc.AdbcConnection(database)
try:
    # No checkpoint inside COMMIT (the caller would wait for it): the child checkpoints after
    # it has answered.
    for pragma in ("busy_timeout=30000", "synchronous=NORMAL", "foreign_keys=ON",
                   "cache_size=-65536", "wal_autocheckpoint=0"):
        query("PRAGMA " + pragma)
    answer({"ready": True})
except Exception as error:
    answer({"error": " ".join(str(error).split())})
    sys.exit(1)
committed = False
for line in source:
    request = json.loads(line)
    op = request["op"]
    try:
        if op == "append":
            count = ingest(request["table"], pa.ipc.open_stream(source))
            answer({"count": int(count)})
        elif op == "commit":
            query("COMMIT")
            committed = True
            answer({"committed": True})
            break
        else:
            params = None
            if request.get("params"):  # one row of parameters follows, as Arrow
                params = pa.ipc.open_stream(source).read_all().combine_chunks().to_batches()[0]
            table = query(request["sql"], params)
            columns = [column.to_pylist() for column in table.columns]
            answer({"rows": [[plain(v) for v in row] for row in zip(*columns)]})
    except Exception as error:
        answer({"error": " ".join(str(error).split())})
        break
if committed:
    sink.close()
    try:
        query("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception:
        pass
else:
    try:
        query("ROLLBACK")
    except Exception:
        pass
conn.close()
database.close()
"""


class _SqliteTransaction(BulkTransaction):
    dialect = "sqlite"

    def __init__(self, engine: Engine) -> None:
        database = database_file(engine.url.database, "Bulk writes", BulkWriteError)
        self._database = database
        self._child = subprocess.Popen([sys.executable, "-c", _CHILD, database],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
        _widen_pipe(self._child.stdin)
        self._open = True
        self._begun = False
        self._unanswered = 1  # "ready": the child imports and connects meanwhile

    def begin(self) -> None:
        self._send({"op": "execute", "sql": "BEGIN IMMEDIATE"}, answered=False)
        self._begun = True

    def _stdin(self) -> IO[bytes]:
        while self._unanswered:  # answers to requests sent without waiting
            self._unanswered -= 1
            self._answer()
        assert self._child.stdin is not None
        return self._child.stdin

    def _send(self, request: dict[str, Any], params: tuple = (), *, answered: bool = True
              ) -> IO[bytes]:
        """Write a request; with ``answered=False`` its answer is read before the next one's."""
        stdin = self._child.stdin if not answered else self._stdin()
        assert stdin is not None
        self._unanswered += not answered
        try:
            stdin.write(json.dumps(request | ({"params": True} if params else {})).encode()
                        + b"\n")
            if params:
                row = pa.record_batch([[value] for value in params],
                                      names=[str(i) for i in range(len(params))])
                with pa.ipc.new_stream(stdin, row.schema) as writer:
                    writer.write_batch(row)
            stdin.flush()
        except BrokenPipeError:
            while True:  # the child stopped reading: an answer of its (or its end) says why
                self._answer()
        return stdin

    def _answer(self) -> dict[str, Any]:
        assert self._child.stdout is not None
        line = self._child.stdout.readline()
        if not line:
            self._fail("the writer process ended unexpectedly")
        message = json.loads(line)
        if "error" in message:
            self._fail(message["error"])
        return message

    def _fail(self, detail: str) -> None:
        self._open = False
        self._child.kill()
        stderr = self._child.stderr.read().decode(errors="replace") if self._child.stderr else ""
        self._end()
        tail = " ".join(stderr.split())[-300:]
        raise BulkWriteError(f"Writing to {self._database} failed: {detail}"
                             + (f" ({tail})" if tail and tail not in detail else ""))

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        self._send({"op": "execute", "sql": sql}, params)
        return [tuple(row) for row in self._answer()["rows"]]

    def append(self, table: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        stdin = self._send({"op": "append", "table": table})
        try:
            with pa.ipc.new_stream(stdin, schema) as writer:
                for batch in batches:
                    writer.write_batch(batch)
            stdin.flush()
        except BrokenPipeError:
            pass  # the child stopped reading: its answer says why
        return int(self._answer()["count"])

    def commit(self) -> None:
        self._send({"op": "commit"})
        self._answer()
        self._open = False
        # The child now checkpoints the write-ahead log and exits; reap it in the background.
        threading.Thread(target=self._end, daemon=True).start()

    def rollback(self) -> None:
        if self._open:
            self._open = False
            if not self._begun:  # never used: no need to let it finish starting
                self._child.kill()
            self._end()  # end-of-file: the child rolls back

    def _end(self) -> None:
        """Close our ends of the pipes and wait for the child to exit."""
        for stream in (self._child.stdin, self._child.stdout, self._child.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._child.wait()


def _widen_pipe(stream: IO[bytes] | None) -> None:
    """Give the pipe to the child a 1 MiB buffer (Linux; 64 KiB by default): fewer switches."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass


def _noting_failure(batches: Iterable[pa.RecordBatch], failures: list[BaseException]
                    ) -> Iterator[pa.RecordBatch]:
    """The batches; an exception raised while producing them is noted before it propagates."""
    try:
        yield from batches
    except BaseException as error:
        failures.append(error)
        raise


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
