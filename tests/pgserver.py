"""A throwaway PostgreSQL + PostGIS server for the test session.

``initdb`` into a temporary folder, start on a free loopback port, hand out fresh databases cloned
from a migrated template.  When run as root (as in CI), the server runs as the ``postgres`` user,
since PostgreSQL refuses to run as root.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/local/bin"), Path("/usr/bin")]


class PostgisUnavailable(RuntimeError):
    """PostgreSQL server binaries or the PostGIS extension are not installed."""


def _find(binary: str) -> str:
    for folder in PG_BIN_DIRS:
        if (folder / binary).exists():
            return str(folder / binary)
    found = shutil.which(binary)
    if not found:
        raise PostgisUnavailable(f"{binary} not found (install postgresql-15-postgis-3)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgisServer:
    """A PostgreSQL server in a temporary folder, stopped by :meth:`stop`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="petakota-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        self._counter = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> PostgisServer:
        """Initialise and start the server, then check that PostGIS is available."""
        extension = Path("/usr/share/postgresql/15/extension/postgis.control")
        if not extension.exists():
            raise PostgisUnavailable("PostGIS 3 for PostgreSQL 15 is not installed")
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_find("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._run(_find("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE DATABASE and the like)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, template: str | None = None) -> str:
        """Create a new empty database (or a clone of ``template``) and return its URL."""
        self._counter += 1
        name = f"petakota_test_{self._counter}"
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._run(_find("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except (subprocess.CalledProcessError, PostgisUnavailable):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
