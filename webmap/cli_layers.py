"""Constraint-layer commands: ``import-layer`` and ``layers``.  Thin wrappers over
:mod:`webmap.layers`; messages in Indonesian, in English with ``--lang en``."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from geo.errors import PetakotaError, Problem
from geo.layers import ALL_KINDS
from webmap import db, store
from webmap.cli import _options, _run, city_option, json_option, uploader_option
from webmap.layer_pages import localized_problems
from webmap.layers import import_layer, list_layers

lang_option = click.option("--lang", type=click.Choice(["id", "en"]), default="id",
                           show_default=True, help="Language of the messages.")


@click.command("import-layer")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True, metavar="KIND",
              help=f"Layer kind: {', '.join(ALL_KINDS)}.")
@click.option("--crs", help="CRS of the coordinates when the file declares none (EPSG:32647).")
@click.option("--name", help="Name of the layer (default: the file name).")
@city_option
@uploader_option
@lang_option
@json_option
def import_layer_command(path: Path, kind: str, crs: str | None, name: str | None,
                         city: str | None, uploader: str, lang: str, as_json: bool) -> None:
    """Import a constraint layer for siting (GeoJSON, GeoPackage, zipped Shapefile, FlatGeobuf;
    a GeoTIFF for --kind dem); a new import of a kind replaces it and keeps the old version."""
    db.migrate()

    def action() -> dict[str, Any]:
        report = import_layer(db.get_engine(), path, kind, _options(city, uploader), name=name,
                              crs=crs)
        report["errors"] = localized_problems(report["errors"])
        report["notes"] = localized_problems(report["notes"])
        report["message"] = _import_message(report)
        return report

    with force_locale(lang):
        _run(as_json, _localized_errors(action))


def _localized_errors(action: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """``action`` whose refusal lists its problems in the current language."""
    def run() -> dict[str, Any]:
        try:
            return action()
        except PetakotaError as error:
            error.problems = [_as_problem(p) for p in localized_problems(
                [p.as_dict() for p in error.problems])]
            raise
    return run


def _as_problem(data: dict[str, Any]) -> Problem:
    return Problem(data["reason"], file=data.get("file"), row=data.get("row"),
                   column=data.get("column"), value=data.get("value"))


def _import_message(report: dict[str, Any]) -> str:
    if report["already_imported"]:
        return _("File ini sudah menjadi versi aktif lapisan %(kind)s (versi %(version)s); tidak "
                 "ada yang diubah.", kind=report["kind"], version=report["version"])
    if report["kind"] == "dem":
        return _("DEM %(name)s disimpan sebagai versi %(version)s (%(crs)s, elevasi %(low)s-"
                 "%(high)s m).", name=report["name"], version=report["version"],
                 crs=report["source_crs"], low=f"{report['dem']['elevation_min_m']:.1f}",
                 high=f"{report['dem']['elevation_max_m']:.1f}")
    text = _("Lapisan %(kind)s \"%(name)s\" disimpan sebagai versi %(version)s: %(accepted)s "
             "dari %(rows)s fitur, %(rejected)s ditolak.", kind=report["kind"],
             name=report["name"], version=report["version"], accepted=report["accepted"],
             rows=report["rows"], rejected=report["rejected"])
    if report["previous_version"]:
        text += " " + _("Versi %(v)s tidak aktif lagi tetapi tetap disimpan.",
                        v=report["previous_version"])
    return text


@click.command("layers")
@with_appcontext
@city_option
@click.option("--all", "include_inactive", is_flag=True, help="Include earlier versions.")
@lang_option
@json_option
def layers_command(city: str | None, include_inactive: bool, lang: str, as_json: bool) -> None:
    """List the city's constraint layers (the active version of each kind)."""
    db.migrate()

    def action() -> dict[str, Any]:
        with db.get_engine().connect() as conn:
            kode = store.get_city(conn, city)["kode"]
            rows = list_layers(conn, kode, include_inactive=include_inactive)
        return {"city": kode, "layers": rows, "message": _layer_table(rows)}

    with force_locale(lang):
        _run(as_json, action)


def _layer_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return _("Belum ada lapisan; impor dengan: flask --app webmap import-layer FILE --kind "
                 "JENIS")
    head = f"{_('jenis'):16} {_('versi'):>5} {_('status'):10} {_('fitur'):>7}  {_('nama')}"
    lines = [head] + [
        f"{r['kind']:16} {r['version']:5d} {_('aktif') if r['active'] else _('versi lama'):10} "
        f"{r['feature_count']:7d}  {r['name']}" for r in rows]
    return "\n".join(lines)


COMMANDS = (import_layer_command, layers_command)
