"""Siting commands: ``flask --app webmap siting towers|waste`` and ``scenarios ...``.

Thin wrappers over :mod:`webmap.siting` and :mod:`webmap.scenarios`; messages in Indonesian, in
English with ``--lang en``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.engine import Engine

from geo.errors import PetakotaError
from geo.settings import SITING_RULE_SETS
from geo.tower_siting import MODELS
from webmap import db, scenarios, siting, store
from webmap.cli import _run, city_option, json_option
from webmap.cli_analysis import _thresholds, as_of_option, operator_option
from webmap.errors import user_message


@click.group("siting")
def siting_group() -> None:
    """Where new facilities go: towers for blank spots, the waste-processing building."""


save_option = click.option("--save", "save_name", metavar="NAME",
                           help="Save the run as a scenario under this name.")
by_option = click.option("--by", "by", default="cli", show_default=True,
                         help="Who saves the scenario (kept with it).")
lang_option = click.option("--lang", type=click.Choice(["id", "en"]), default="id",
                           show_default=True, help="Language of the messages.")


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
@save_option
@by_option
@json_option
def towers_command(city: str | None, model: str, radius_m: float | None, max_sites: int | None,
                   operator: str | None, technology: str | None, as_of: str | None,
                   candidates: str | None, include_weak: bool, include_unmeasured: bool,
                   export_path: str | None, lang: str, save_name: str | None, by: str,
                   as_json: bool) -> None:
    """Which sites, and how few new towers, would remove the remaining blank spots."""
    db.migrate()

    def action() -> dict[str, Any]:
        request = siting.parse_request(
            model=model, radius_m=radius_m, max_sites=max_sites, operator=operator,
            technology=technology, as_of=as_of, candidates=candidates,
            include_weak=include_weak, include_unmeasured=include_unmeasured,
            thresholds=_thresholds())
        if save_name is None:
            answer = siting.plan_towers(db.get_engine(), city, request,
                                        export=Path(export_path) if export_path else None,
                                        lang=lang)
        else:
            answer = scenarios.run_scenario(db.get_engine(), city, "towers", request,
                                            name=save_name, created_by=by)
            answer["export"] = (str(scenarios.export_plan("towers", answer, Path(export_path),
                                                    lang=lang))
                                if export_path else None)
        answer["message"] = _with_saved(_summary(answer), answer)
        return answer

    with force_locale(lang):
        _run(as_json, _in_language(action))


@siting_group.command("waste")
@with_appcontext
@city_option
@click.option("--rules", type=click.Choice(SITING_RULE_SETS), default="tpst", show_default=True,
              help="tpst: the processing building; tpa: a landfill (SNI 03-3241-1994).")
@click.option("--sites", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of new sites (LSCP: the most sites allowed).")
@click.option("--model", type=click.Choice(siting.WASTE_MODELS), default="pmedian",
              show_default=True,
              help="pmedian: least tonne-km with capacities; mclp: most tonnes within the "
                   "service distance; lscp: fewest sites serving all of it.")
@click.option("--service-m", type=float, help="Service distance in metres (default 5,000).")
@click.option("--capacity-t-day", type=float,
              help="Capacity of a new site in tonnes/day (default 30).")
@click.option("--candidates", type=click.Path(dir_okay=False),
              help="Candidate sites: CSV (latitude, longitude, id) or a vector file of points "
                   "or plots (default: plots generated over the suitable land).")
@lang_option
@save_option
@by_option
@json_option
def waste_command(city: str | None, rules: str, sites: int, model: str, service_m: float | None,
                  capacity_t_day: float | None, candidates: str | None, lang: str,
                  save_name: str | None, by: str, as_json: bool) -> None:
    """Where the waste-processing building (TPST/TPS3R class) goes, and why."""
    db.migrate()

    def action() -> dict[str, Any]:
        request = siting.parse_waste_request(
            rules=rules, model=model, sites=sites, service_m=service_m,
            capacity_t_day=capacity_t_day, candidates=candidates,
            rule_overrides=(current_app.config.get("SITING_RULES") or {}).get(rules))
        if save_name is None:
            answer = siting.plan_waste(db.get_engine(), city, request)
        else:
            answer = scenarios.run_scenario(db.get_engine(), city, "waste", request,
                                            name=save_name, created_by=by)
        answer["message"] = _with_saved(_waste_summary(answer), answer)
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


def _with_saved(summary: str, answer: dict[str, Any]) -> str:
    """``summary`` and, for a saved run, the scenario it was saved as."""
    if "scenario" not in answer:
        return summary
    return summary + "\n" + _("Disimpan sebagai skenario #%(id)d \"%(name)s\".",
                              id=answer["scenario"]["id"], name=answer["scenario"]["name"])


def _waste_summary(answer: dict[str, Any]) -> str:
    """A short Indonesian (or English) account of a waste-siting answer."""
    distance = _("jarak lewat jalan") if answer["distance"] == "road" else _("jarak garis lurus")
    lines = [_("Model %(model)s (%(status)s), aturan %(rules)s: %(sites)d lokasi baru; "
               "%(covered).1f dari %(total).1f ton/hari terlayani dalam %(service)s m "
               "(%(distance)s).",
               model=answer["model"].upper(), status=answer["status"],
               rules=answer["rules"]["name"].upper(),
               sites=len(answer["sites"]), covered=answer["demand_covered"],
               total=answer["demand_total"], service=f"{answer['service_m']:,.0f}",
               distance=distance)]
    lines += [_waste_site_line(site) for site in answer["sites"]]
    refused = sum(not c["eligible"] for c in answer["candidates"])
    lines.append(_("Kandidat: %(total)d, tidak memenuhi syarat: %(refused)d.",
                   total=len(answer["candidates"]), refused=refused))
    if answer["unserved"]:
        lines.append(_("Titik permintaan yang tidak terlayani: %(count)d.",
                       count=len(answer["unserved"])))
    return "\n".join(lines)


def _waste_site_line(site: dict[str, Any]) -> str:
    return _("%(rank)d. %(id)s (%(lat).6f, %(lon).6f) kel. %(kelurahan)s: %(tonnes).2f ton/hari, "
             "%(population).0f penduduk, jarak rata-rata %(mean)s m",
             rank=site["rank"], id=site["id"], lat=site["latitude"], lon=site["longitude"],
             kelurahan=site["kelurahan"] or "-", tonnes=site["tonnes_day"],
             population=site["population"],
             mean="-" if site["mean_distance_m"] is None else f"{site['mean_distance_m']:,.0f}")


def _site_line(site: dict[str, Any]) -> str:
    return _("%(rank)d. %(id)s (%(lat).6f, %(lon).6f) kel. %(kelurahan)s: %(cells)d sel, "
             "%(area).2f km2, %(measurements)d pengukuran",
             rank=site["rank"], id=site["id"], lat=site["latitude"], lon=site["longitude"],
             kelurahan=site["kelurahan"] or "-", cells=site["cells"], area=site["area_km2"],
             measurements=site["measurements"])


# --- saved scenarios -----------------------------------------------------------------------------

@click.group("scenarios")
def scenarios_group() -> None:
    """Saved siting runs: list, show, re-run, compare, adopt as planned facilities, delete."""


def _scenario_command(name: str, action: Callable[..., dict[str, Any]],
                      summary: Callable[[dict[str, Any]], str],
                      *extra: Callable[[Callable[..., Any]], Callable[..., Any]],
                      help_text: str) -> None:
    """Register ``scenarios NAME``: ``action(engine, city_kode, **options)`` then ``summary``."""
    def command(city: str | None, lang: str, as_json: bool, **options: Any) -> None:
        db.migrate()

        def run() -> dict[str, Any]:
            engine = db.get_engine()
            with engine.connect() as conn:
                kode = store.get_city(conn, city)["kode"]
            answer = action(engine, kode, **options)
            answer["message"] = summary(answer)
            return answer

        with force_locale(lang):
            _run(as_json, _in_language(run))

    command.__doc__ = help_text
    for decorator in (*reversed(extra), json_option, lang_option, city_option, with_appcontext):
        command = decorator(command)
    scenarios_group.command(name)(command)


def _listed(engine: Engine, kode: str, *, kind: str | None, area: str | None
            ) -> dict[str, Any]:
    with engine.connect() as conn:
        return {"scenarios": scenarios.list_scenarios(conn, kode, kind=kind, area=area)}


def _shown(engine: Engine, kode: str, *, scenario_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return scenarios.get_scenario(conn, kode, scenario_id)


def _rerun(engine: Engine, kode: str, *, scenario_id: int, name: str | None, by: str
           ) -> dict[str, Any]:
    return scenarios.rerun_scenario(engine, kode, scenario_id, created_by=by, name=name,
                                    thresholds=_thresholds())


def _compared(engine: Engine, kode: str, *, a: int, b: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return scenarios.compare_scenarios(conn, kode, a, b)


def _adopted(engine: Engine, kode: str, *, scenario_id: int, facility_type: str | None, by: str
             ) -> dict[str, Any]:
    return scenarios.adopt_scenario(engine, kode, scenario_id, adopted_by=by,
                                    facility_type=facility_type)


def _deleted(engine: Engine, kode: str, *, scenario_id: int) -> dict[str, Any]:
    return scenarios.delete_scenario(engine, kode, scenario_id)


def _list_summary(answer: dict[str, Any]) -> str:
    if not answer["scenarios"]:
        return _("Belum ada skenario tersimpan.")
    return "\n".join(_scenario_line(row) for row in answer["scenarios"])


def _scenario_line(row: dict[str, Any]) -> str:
    adopted = _(", diadopsi") if row["adopted_at"] else ""
    return _("#%(id)d %(name)s (%(kind)s, %(model)s, %(status)s): %(sites)d lokasi, "
             "%(covered)s dari %(total)s terlayani, %(created)s oleh %(by)s%(adopted)s",
             id=row["id"], name=row["name"], kind=_KIND_NAMES.get(row["kind"], row["kind"]),
             model=(row["model"] or "-").upper(), status=row["status"], sites=row["sites"],
             covered=_number(row["demand_covered"]), total=_number(row["demand_total"]),
             created=(row["created_at"] or "")[:16], by=row["created_by"], adopted=adopted)


def _show_summary(answer: dict[str, Any]) -> str:
    lines = [_scenario_line(answer)]
    if answer["kind"] == "waste":
        lines += [_waste_site_line(site) for site in answer["result"].get("sites") or []]
    else:
        lines += [_site_line(site) for site in answer["result"].get("sites") or []]
    return "\n".join(lines)


def _rerun_summary(answer: dict[str, Any]) -> str:
    lines = [_("Skenario #%(old)d dijalankan ulang dengan data hari ini sebagai #%(new)d.",
               old=answer["rerun_of"], new=answer["scenario"]["id"]),
             _scenario_line(answer["scenario"])]
    if answer["data_changes"]:
        lines.append(_("Data berubah sejak skenario lama: %(what)s.",
                       what="; ".join(f"{c['what']}: {c['before']} -> {c['after']}"
                                      for c in answer["data_changes"])))
    else:
        lines.append(_("Data tidak berubah sejak skenario lama."))
    return "\n".join(lines)


def _compare_summary(answer: dict[str, Any]) -> str:
    lines = [_scenario_line(answer[side] | {"sites": len(answer[side]["sites"])})
             for side in ("a", "b")]
    lines.append(_("Lokasi sama: %(both)d, hanya di #%(a)d: %(only_a)d, hanya di #%(b)d: "
                   "%(only_b)d.", both=len(answer["sites"]["both"]), a=answer["a"]["id"],
                   only_a=len(answer["sites"]["only_a"]), b=answer["b"]["id"],
                   only_b=len(answer["sites"]["only_b"])))
    for change in answer["parameters"] + answer["data"]:
        lines.append(_("Beda %(what)s: %(a)s / %(b)s", what=change["what"],
                       a=change["before"], b=change["after"]))
    return "\n".join(lines)


def _adopt_summary(answer: dict[str, Any]) -> str:
    return _("Skenario #%(id)d: %(created)d fasilitas %(type)s rencana baru (seluruhnya "
             "%(total)d).", id=answer["scenario"], created=answer["created"],
             type=answer["type"], total=len(answer["facilities"]))


def _delete_summary(answer: dict[str, Any]) -> str:
    return _("Skenario #%(id)d dihapus, beserta %(count)d fasilitas rencana.",
             id=answer["deleted"], count=answer["facilities_removed"])


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


_KIND_NAMES = {"waste": "sampah", "towers": "menara"}
_ID = click.argument("scenario_id", type=int)
_BY = by_option

_scenario_command("list", _listed, _list_summary,
                  click.option("--kind", type=click.Choice(scenarios.KINDS)),
                  click.option("--area", help="A kelurahan or kecamatan code: only the "
                                              "scenarios that touch it."),
                  help_text="The city's saved scenarios, newest first.")
_scenario_command("show", _shown, _show_summary, _ID, help_text="One scenario in full.")
_scenario_command("rerun", _rerun, _rerun_summary, _ID,
                  click.option("--name", help="Name of the new scenario (default: the old)."),
                  _BY, help_text="Run a scenario again on today's data (saved, linked).")
_scenario_command("compare", _compared, _compare_summary, click.argument("a", type=int),
                  click.argument("b", type=int), help_text="Two scenarios side by side.")
_scenario_command("adopt", _adopted, _adopt_summary, _ID,
                  click.option("--type", "facility_type",
                               type=click.Choice(scenarios.WASTE_ADOPT_TYPES),
                               help="Waste plans: the facility type (default by rule set)."),
                  _BY, help_text="Turn a scenario's sites into planned facilities.")
_scenario_command("delete", _deleted, _delete_summary, _ID,
                  help_text="Delete a scenario and the planned facilities it created.")

COMMANDS = (siting_group, scenarios_group)
