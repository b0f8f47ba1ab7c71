"""Analysis commands: ``coverage``, ``timeseries``, ``targets``, ``progress``, ``export``,
``import-population``.  Thin wrappers over :mod:`webmap.analysis`."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from geo.settings import SignalThresholds, thresholds_from_config
from webmap import analysis, db
from webmap.cli import _run, city_option, json_option, uploader_option

as_of_option = click.option("--as-of", help="State as of this date (YYYY-MM-DD); default now.")
operator_option = click.option("--operator", help="One operator (default: any operator).")


def _thresholds() -> SignalThresholds:
    """The deployment's signal thresholds (config ``SIGNAL_THRESHOLDS``) over the defaults."""
    try:
        return thresholds_from_config(current_app.config.get("SIGNAL_THRESHOLDS"))
    except ValueError as error:
        raise click.UsageError(f"SIGNAL_THRESHOLDS in the configuration: {error}") from error


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.command("coverage")
@with_appcontext
@city_option
@operator_option
@as_of_option
@json_option
def coverage_command(city: str | None, operator: str | None, as_of: str | None,
                     as_json: bool) -> None:
    """Blank spots per kelurahan: cells by status, areas, quick-win status, population."""
    db.migrate()

    def action() -> dict[str, Any]:
        when = analysis.parse_date(as_of)
        data = analysis.load_city_data(db.get_engine(), city, as_of=when)
        report = analysis.coverage_report(data, operator=operator, as_of=when,
                                          thresholds=_thresholds())
        report["message"] = _coverage_table(report)
        return report

    _run(as_json, action)


def _coverage_table(report: dict[str, Any]) -> str:
    lines = [f"{report['nama']} ({report['city']}), boundary version "
             f"{report['boundary_version']}, operator {report['operator']}, as of "
             f"{report['as_of'] or 'now'}",
             f"{'kode':15} {'nama':24} {'status':18} {'blank':>5} {'weak':>5} {'cov.':>5} "
             f"{'blank km2':>9} {'meas.%':>6} {'cov.%':>6}"]
    for row in report["kelurahan"]:
        lines.append(
            f"{row['kode']:15} {str(row['nama'])[:24]:24} {row['status']:18} "
            f"{row['blank_cells']:5d} {row['weak_cells']:5d} {row['covered_cells']:5d} "
            f"{row['blank_area_km2']:9.2f} {_pct(row['measured_area_pct']):>6} "
            f"{_pct(row['covered_area_pct']):>6}")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@click.command("timeseries")
@with_appcontext
@city_option
@operator_option
@click.option("--freq", type=click.Choice(["M", "Q"]), default="M", show_default=True,
              help="Monthly or quarterly.")
@click.option("--kelurahan", help="Only this kelurahan (kode); ALL is the city total.")
@json_option
def timeseries_command(city: str | None, operator: str | None, freq: str,
                       kelurahan: str | None, as_json: bool) -> None:
    """Blank cells, blank area and population in blank spots over time."""
    db.migrate()

    def action() -> dict[str, Any]:
        data = analysis.load_city_data(db.get_engine(), city)
        series = analysis.city_time_series(data, freq=freq, operator=operator,
                                           thresholds=_thresholds())
        if kelurahan:
            series = series[series["kode"] == kelurahan]
        rows = analysis.records(series)
        return {"city": data.city["kode"], "boundary_version": data.boundary_version,
                "freq": freq, "series": rows,
                "message": series.to_string(index=False) if len(series) else "No data."}

    _run(as_json, action)


@click.group("targets")
def targets_group() -> None:
    """Quick-win targets of a city ("no blank spot left by DATE")."""


@targets_group.command("add")
@with_appcontext
@city_option
@click.option("--deadline", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Target date, e.g. 2024-12-31.")
@click.option("--baseline", type=click.DateTime(["%Y-%m-%d"]),
              help="Date the progress is measured from (default: the first evidence).")
@click.option("--name", help="Name shown in reports.")
@uploader_option
@json_option
def targets_add(city: str | None, deadline, baseline, name: str | None, uploader: str,
                as_json: bool) -> None:
    """Add a "no blank spot" target."""
    db.migrate()
    _run(as_json, lambda: _with_message(analysis.add_target(
        db.get_engine(), city, deadline=deadline.date(), name=name,
        baseline_date=baseline.date() if baseline else None, created_by=uploader),
        "Target added."))


@targets_group.command("list")
@with_appcontext
@city_option
@json_option
def targets_list(city: str | None, as_json: bool) -> None:
    """List the targets."""
    db.migrate()
    targets = analysis.list_targets(db.get_engine(), city)
    if as_json:
        _dump(targets)
        return
    for target in targets:
        click.echo(f"{target['id']}\t{target['deadline']}\t{target['name']}")


@click.command("progress")
@with_appcontext
@city_option
@as_of_option
@json_option
def progress_command(city: str | None, as_of: str | None, as_json: bool) -> None:
    """Progress towards each quick-win target, with the kelurahan still failing."""
    db.migrate()

    def action() -> dict[str, Any]:
        results = analysis.target_progress(db.get_engine(), city,
                                           as_of=analysis.parse_date(as_of),
                                           thresholds=_thresholds())
        lines = [f"{r['name']} (deadline {r['deadline']}): {r['progress_pct']:.1f}% of "
                 f"kelurahan free of blank spots; {len(r['failing'])} still failing"
                 for r in results]
        return {"targets": results, "message": "\n".join(lines) or "No targets yet."}

    _run(as_json, action)


@click.command("export")
@with_appcontext
@click.argument("what", type=click.Choice(list(analysis.EXPORTS)))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@city_option
@operator_option
@as_of_option
@click.option("--resolution", type=float, help="Surface resolution in metres (default 100).")
@click.option("--method", type=click.Choice(["idw", "kriging"]), default="idw",
              show_default=True, help="Surface interpolation.")
@json_option
def export_command(what: str, path: Path, city: str | None, operator: str | None,
                   as_of: str | None, resolution: float | None, method: str,
                   as_json: bool) -> None:
    """Export cells, kelurahan stats, blank spots (GeoJSON/GPKG/CSV) or the surface (GeoTIFF)."""
    db.migrate()

    def action() -> dict[str, Any]:
        when = analysis.parse_date(as_of)
        data = analysis.load_city_data(db.get_engine(), city, as_of=when)
        return analysis.export(data, what, path, operator=operator, as_of=when,
                               resolution_m=resolution, method=method,
                               thresholds=_thresholds())

    _run(as_json, action)


@click.command("compare")
@with_appcontext
@city_option
@operator_option
@click.option("--from", "date_from", required=True, help="Earlier date (YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, help="Later date (YYYY-MM-DD).")
@json_option
def compare_command(city: str | None, operator: str | None, date_from: str, date_to: str,
                    as_json: bool) -> None:
    """Cells resolved, newly blank and still blank between two dates."""
    db.migrate()

    def action() -> dict[str, Any]:
        data = analysis.load_city_data(db.get_engine(), city)
        report = analysis.compare_periods(data, analysis.parse_date(date_from),
                                          analysis.parse_date(date_to), operator=operator,
                                          thresholds=_thresholds())
        report["message"] = ", ".join(f"{k}: {v}" for k, v in report["counts"].items())
        return report

    _run(as_json, action)


@click.command("import-population")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@city_option
@uploader_option
@json_option
def import_population(path: Path, city: str | None, uploader: str, as_json: bool) -> None:
    """Set a city's population raster (GeoTIFF, e.g. WorldPop 100 m)."""
    db.migrate()
    _run(as_json, lambda: analysis.import_population(
        db.get_engine(), path, city, archive_dir=Path(current_app.config["ARCHIVE_DIR"]),
        uploaded_by=uploader))


def _with_message(report: dict[str, Any], message: str) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in report.items()} | {
        "message": message}


COMMANDS = (coverage_command, timeseries_command, targets_group, progress_command,
            export_command, compare_command, import_population)
