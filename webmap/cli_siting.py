"""Siting commands: ``flask --app webmap siting towers``.

Thin wrappers over :mod:`webmap.siting`; messages in Indonesian, in English with ``--lang en``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from geo.errors import PetakotaError
from geo.tower_siting import MODELS
from webmap import db, siting
from webmap.cli import _run, city_option, json_option
from webmap.cli_analysis import _thresholds, as_of_option, operator_option
from webmap.errors import user_message


@click.group("siting")
def siting_group() -> None:
    """Where new facilities go: towers for blank spots."""


@siting_group.command("towers")
@with_appcontext
@city_option
@click.option("--model", type=click.Choice(MODELS), default="lscp", show_default=True,
              help="lscp: fewest new sites serving every blank cell; mclp: the best K sites.")
@click.option("--radius-m", type=float, help="Service radius in metres (default: per technology).")
@click.option("--max-sites", type=click.IntRange(min=1),
              help="MCLP: number of new sites; LSCP: the most sites allowed.")
@operator_option
@click.option("--technology", help="Technology whose default radius applies (default 4G).")
@as_of_option
@click.option("--candidates", type=click.Path(dir_okay=False),
              help="Candidate sites: CSV (latitude, longitude, id) or a vector file.")
@click.option("--include-weak", is_flag=True, help="Weak cells are demand too.")
@click.option("--include-unmeasured", is_flag=True,
              help="Cells with too few readings are demand too.")
@click.option("--export", "export_path", type=click.Path(dir_okay=False),
              help="Write the proposals (.csv, .xlsx or .geojson, Kominfo's shape).")
@click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
              help="Language of the messages and of the export's column headers.")
@json_option
def towers_command(city: str | None, model: str, radius_m: float | None, max_sites: int | None,
                   operator: str | None, technology: str | None, as_of: str | None,
                   candidates: str | None, include_weak: bool, include_unmeasured: bool,
                   export_path: str | None, lang: str, as_json: bool) -> None:
    """Which sites, and how few new towers, would remove the remaining blank spots."""
    db.migrate()

    def action() -> dict[str, Any]:
        request = siting.parse_request(
            model=model, radius_m=radius_m, max_sites=max_sites, operator=operator,
            technology=technology, as_of=as_of, candidates=candidates,
            include_weak=include_weak, include_unmeasured=include_unmeasured,
            thresholds=_thresholds())
        answer = siting.plan_towers(db.get_engine(), city, request,
                                    export=Path(export_path) if export_path else None,
                                    lang=lang)
        answer["message"] = _summary(answer)
        return answer

    with force_locale(lang):
        _run(as_json, _in_language(action))


def _in_language(action: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """``action`` whose refusal carries its message in the current language."""
    def run() -> dict[str, Any]:
        try:
            return action()
        except PetakotaError as error:
            error.message = user_message(error)
            raise
    return run


def _summary(answer: dict[str, Any]) -> str:
    """A short Indonesian (or English) account of a tower-siting answer."""
    lines = [_("Model %(model)s (%(status)s): %(sites)d lokasi menara baru; %(covered)d dari "
               "%(total)d sel terlayani (%(existing)d oleh menara terdaftar). Radius %(radius)s m "
               "(%(technology)s), jarak garis lurus, operator %(operator)s.",
               model=answer["model"].upper(), status=answer["status"],
               sites=len(answer["sites"]), covered=answer["demand_covered"],
               total=answer["demand_total"], existing=answer["served_by_existing"],
               radius=f"{answer['radius_m']:,.0f}", technology=answer["technology"],
               operator=answer["operator"])]
    lines += [_site_line(site) for site in answer["sites"]]
    if answer["unreachable"]:
        lines.append(_("Sel yang tidak terjangkau kandidat mana pun: %(count)d.",
                       count=len(answer["unreachable"])))
    if answer["registered_tower_measured_blank"]:
        lines.append(_("Sel terukur blank di dekat menara terdaftar (perlu dicek di lapangan): "
                       "%(count)d.", count=len(answer["registered_tower_measured_blank"])))
    refused = sum(not c["eligible"] for c in answer["candidates"])
    lines.append(_("Kandidat: %(total)d, tidak memenuhi syarat: %(refused)d.",
                   total=len(answer["candidates"]), refused=refused))
    if answer["export"]:
        lines.append(_("Usulan ditulis ke %(path)s.", path=answer["export"]))
    return "\n".join(lines)


def _site_line(site: dict[str, Any]) -> str:
    return _("%(rank)d. %(id)s (%(lat).6f, %(lon).6f) kel. %(kelurahan)s: %(cells)d sel, "
             "%(area).2f km2, %(measurements)d pengukuran",
             rank=site["rank"], id=site["id"], lat=site["latitude"], lon=site["longitude"],
             kelurahan=site["kelurahan"] or "-", cells=site["cells"], area=site["area_km2"],
             measurements=site["measurements"])


COMMANDS = (siting_group,)
