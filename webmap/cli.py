"""Command line: ``flask --app webmap COMMAND``.  Thin wrappers over ``webmap.ingest``.

Every command prints a short human summary, or with ``--json`` the full machine-readable report.
Long work shows a progress bar on a terminal.  A rejected input exits with status 1 and says why.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from geo.errors import PetakotaError
from webmap import db, ingest, store


def init_app(app: Flask) -> None:
    """Register the commands on the app's CLI group."""
    from webmap.cli_analysis import COMMANDS
    from webmap.cli_siting import COMMANDS as SITING_COMMANDS

    for command in (init_db, import_boundaries, ingest_command, import_facilities, load_demo,
                    cities, template_csv, *COMMANDS, *SITING_COMMANDS):
        app.cli.add_command(command)


def _options(city: str | None, uploader: str, **extra: Any) -> ingest.IngestOptions:
    return ingest.IngestOptions(archive_dir=Path(current_app.config["ARCHIVE_DIR"]),
                                uploaded_by=uploader, city_kode=city, progress=_progress_bar(),
                                max_upload_bytes=current_app.config["MAX_UPLOAD_BYTES"],
                                extra={k: v for k, v in extra.items() if v is not None})


def _progress_bar() -> Callable[[int, str], Callable[[int], None]] | None:
    """A tqdm bar factory when stderr is a terminal, else None (quiet in pipes and CI)."""
    if not sys.stderr.isatty():
        return None

    def start(total: int, unit: str) -> Callable[[int], None]:
        bar = tqdm(total=total, unit=unit, unit_scale=True, file=sys.stderr, leave=False)
        return lambda n: (bar.update(n), bar.close() if bar.n >= total else None)

    return start


def _emit(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return
    click.echo(report.get("message", ""))
    errors = report.get("errors") or []
    for problem in errors[:20]:
        where = f"row {problem['row']}" if problem.get("row") else "file"
        click.echo(f"  {where}, {problem.get('column') or '-'} = {problem.get('value')!r}: "
                   f"{problem['reason']}")
    total = int(report.get("errors_total") or len(errors))
    if total > 20:
        click.echo(f"  ... {total - 20} more problems (every rejected row is in the CSV below)")
    for reason, count in (report.get("errors_by_reason") or {}).items():
        click.echo(f"  {count} x {reason}")
    if report.get("rejected_csv"):
        click.echo(f"Rejected rows: {report['rejected_csv']}")


def _run(as_json: bool, action: Callable[[], dict[str, Any]]) -> None:
    """Run an import; on a domain error print it (as JSON with --json) and exit 1."""
    try:
        _emit(action(), as_json)
    except PetakotaError as error:
        if as_json:
            click.echo(json.dumps({"error": error.message,
                                   "problems": [p.as_dict() for p in error.problems]},
                                  ensure_ascii=False, indent=2, default=str))
        else:
            click.echo(f"Error: {error}", err=True)
        sys.exit(1)


json_option = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
city_option = click.option("--city", help="City code (e.g. 14.72); optional with one city.")
uploader_option = click.option("--uploader", default="cli", show_default=True,
                               help="Who uploaded the file (kept with the archive).")


@click.command("init-db")
@with_appcontext
@json_option
def init_db(as_json: bool) -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    db.migrate()
    url = db.get_engine().url.render_as_string(hide_password=True)
    _emit({"database": url, "message": f"Database ready: {url}"}, as_json)


@click.command("template-csv")
@with_appcontext
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
def template_csv(output: Path | None) -> None:
    """Print the canonical coverage CSV template (header and example rows)."""
    from geo.measurements import template_csv as make_template

    if output:
        output.write_text(make_template(), encoding="utf-8")
    else:
        click.echo(make_template(), nl=False)


@click.command("import-boundaries")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code-field", help="Field holding the kelurahan code (auto-detected).")
@click.option("--name-field", help="Field holding the kelurahan name (auto-detected).")
@click.option("--kecamatan-field", help="Field holding the kecamatan name (auto-detected).")
@click.option("--kecamatan-code-field", help="Field holding the kecamatan code.")
@click.option("--city-code", help="City code when the file has none (e.g. 14.72).")
@click.option("--city-name", help="City name when the file has none (e.g. 'Kota Dumai').")
@click.option("--layer", help="Layer name in a GeoPackage.")
@click.option("--timezone", help="Time zone of a new city (default Asia/Jakarta, WIB).")
@uploader_option
@json_option
def import_boundaries(path: Path, code_field: str | None, name_field: str | None,
                      kecamatan_field: str | None, kecamatan_code_field: str | None,
                      city_code: str | None, city_name: str | None, layer: str | None,
                      timezone: str | None, uploader: str, as_json: bool) -> None:
    """Import kelurahan boundaries (GeoJSON, GeoPackage, zipped Shapefile; any CRS)."""
    db.migrate()
    options = _options(None, uploader, timezone=timezone)
    _run(as_json, lambda: ingest.import_boundaries(
        db.get_engine(), path, options, code_field=code_field, name_field=name_field,
        kecamatan_field=kecamatan_field, kecamatan_code_field=kecamatan_code_field,
        city_code=city_code, city_name=city_name, layer=layer))


@click.command("ingest")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "canonical", "gnettrack", "ookla"]))
@click.option("--timezone", help="Zone of timestamps without one (default: the city's).")
@click.option("--period", help="Ookla tiles: the quarter they describe, e.g. 2022Q3.")
@city_option
@uploader_option
@json_option
def ingest_command(path: Path, fmt: str, timezone: str | None, period: str | None,
                   city: str | None, uploader: str, as_json: bool) -> None:
    """Validate and store a coverage-measurement file (canonical CSV, G-NetTrack, Ookla)."""
    db.migrate()
    _run(as_json, lambda: ingest.ingest_measurements(
        db.get_engine(), path, _options(city, uploader), format=fmt, timezone=timezone,
        period=period))


@click.command("import-facilities")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "facility_type", help="Facility type for files without a type column.")
@click.option("--status", type=click.Choice(["existing", "planned"]),
              help="Status for files without a status column.")
@click.option("--crs", help="CRS of the coordinates when the file declares none (EPSG:32749).")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "csv", "vector", "opencellid"]))
@city_option
@uploader_option
@json_option
def import_facilities(path: Path, facility_type: str | None, status: str | None,
                      crs: str | None, fmt: str, city: str | None, uploader: str,
                      as_json: bool) -> None:
    """Import facility points: CSV with lat/lon, GeoJSON/GeoPackage, OpenCelliD cells."""
    db.migrate()
    _run(as_json, lambda: ingest.import_facilities(
        db.get_engine(), path, _options(city, uploader), facility_type=facility_type,
        status=status, crs=crs, format=fmt))


@click.command("load-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Only when the database has no city yet.")
@click.option("--measurements", type=int, default=None,
              help="Number of generated measurements (default 200000).")
@json_option
def load_demo(if_empty: bool, measurements: int | None, as_json: bool) -> None:
    """Load the generated demo city (boundaries, facilities, measurements, population)."""
    from webmap.demo import DEMO_MEASUREMENTS, load_demo_city

    db.migrate()
    login_note = Path(current_app.instance_path) / "demo-login.txt"
    with db.get_engine().connect() as conn:
        if if_empty and store.list_cities(conn):
            click.echo("Database already holds a city; demo not loaded.")
            if login_note.exists():
                click.echo(login_note.read_text().strip())
            return
    folder = Path(current_app.instance_path) / "demo"

    def action() -> dict:
        report = load_demo_city(db.get_engine(), _options(None, "demo"), folder=folder,
                                measurements=measurements or DEMO_MEASUREMENTS)
        report["login"] = _demo_login(login_note)
        report["message"] += "\n" + report["login"]
        return report

    _run(as_json, action)


def _demo_login(note: Path) -> str:
    """Create the demo planner account with a random password, noted in the instance folder."""
    import secrets

    from webmap.accounts import AccountError, create_user

    password = secrets.token_urlsafe(12)
    try:
        create_user(db.get_engine(), username="demo", password=password, role="perencana")
    except AccountError:
        return note.read_text().strip() if note.exists() else "Demo account exists already."
    text = f"Masuk (login) di /login sebagai 'demo' dengan kata sandi: {password}"
    note.write_text(text + "\n")
    note.chmod(0o600)
    return text


@click.command("cities")
@with_appcontext
@json_option
def cities(as_json: bool) -> None:
    """List the cities in the database."""
    db.migrate()
    with db.get_engine().connect() as conn:
        rows = store.list_cities(conn)
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
    for row in rows:
        if not as_json:
            click.echo(f"{row['kode']}\t{row['nama']}\tEPSG:{row['utm_epsg']}\t{row['timezone']}")
