"""Saved siting scenarios: a run with its parameters, the data it used and its result.

No Flask here: the CLI (``flask --app webmap scenarios ...``), the API and the siting page call
these.  A scenario is written only after its run succeeded, in one transaction, so a refused run
(bad input, an infeasible model) leaves nothing behind.  Adopting a scenario turns its sites into
``planned`` facilities whose ``dedup_key`` names the scenario (``skenario:<id>:<site id>``), so
adopting twice adds nothing and the dashboard can count planned against built per quick win.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd
import shapely

from geo.csv_safety import neutralize_frame
from geo.errors import N_, InputFileError, NotFoundError
from geo.exports import export_frame
from geo.kominfo_export import FORMATS, write_proposals
from geo.projection import utm_crs_for
from geo.settings import SignalThresholds
from geo.tower_siting import SITE_COLUMNS, read_candidate_file
from webmap import siting, store
from webmap.models import Facility, SitingScenario, Upload

#: Kinds of scenario: the waste-processing building and towers for blank spots.
KINDS = ("waste", "towers")
#: Facility type each kind's sites become when adopted (waste: by rule set).
ADOPTED_TYPES = {"tpst": "tpst", "tpa": "tpa", "towers": "bts"}
#: Facility types a waste scenario may be adopted as.
WASTE_ADOPT_TYPES = ("tpst", "tps3r", "tpa")
#: What the dashboard counts per quick win.
QUICK_WIN_TYPES = {"waste": ("tpst", "tps3r"), "towers": ("bts",)}
_KEY_PREFIX = "skenario"
_TABLE = SitingScenario.__table__
_SUMMARY_KEYS = ("model", "status", "objective", "distance", "demand_total", "demand_covered")


# --- running and saving --------------------------------------------------------------------------

def plan(engine: Engine, city_kode: str | None, kind: str,
         request: siting.WasteRequest | siting.TowerRequest) -> dict[str, Any]:
    """Run one siting of ``kind`` (``waste`` or ``towers``) and return its answer."""
    _check_kind(kind)
    if kind == "waste":
        return siting.plan_waste(engine, city_kode, request)
    return siting.plan_towers(engine, city_kode, request)


def run_scenario(engine: Engine, city_kode: str | None, kind: str,
                 request: siting.WasteRequest | siting.TowerRequest, *, name: str,
                 created_by: str, parent_id: int | None = None) -> dict[str, Any]:
    """Run a siting and save it as a scenario; a refused run saves nothing.

    The data's provenance is read before the run (what the run used); the scenario is written
    after it, in one transaction.

    Returns
    -------
    dict
        The run's answer with ``scenario``: the saved scenario's summary.
    """
    name = _checked_name(name)
    with engine.connect() as conn:
        city = store.get_city(conn, city_kode)
        provenance = data_provenance(conn, city["kode"])
    answer = plan(engine, city["kode"], kind, request)
    saved = save_scenario(engine, city["kode"], kind=kind, name=name, request=request,
                          result=answer, provenance=provenance, created_by=created_by,
                          parent_id=parent_id)
    return answer | {"scenario": saved}


def save_scenario(engine: Engine, city_kode: str, *, kind: str, name: str,
                  request: siting.WasteRequest | siting.TowerRequest, result: dict[str, Any],
                  provenance: dict[str, Any], created_by: str,
                  parent_id: int | None = None) -> dict[str, Any]:
    """Store a finished run; returns the scenario's summary.

    An uploaded candidate file is stored with the parameters (as GeoJSON), so a re-run uses the
    same candidates after the file is gone.
    """
    _check_kind(kind)
    parameters = request.parameters() | {"candidates": _candidates_geojson(request)}
    stored = {key: value for key, value in result.items() if key != "message"}
    with engine.begin() as conn:
        kelurahan = store.load_kelurahan(conn, city_kode)
        values = {"city_kode": city_kode, "kind": kind, "name": _checked_name(name),
                  "created_by": created_by, "created_at": datetime.now(UTC),
                  "parameters": parameters, "provenance": provenance, "result": stored,
                  "area_codes": touched_area(kelurahan, result), "parent_id": parent_id}
        scenario_id = conn.execute(_TABLE.insert().values(**values)).inserted_primary_key[0]
        return _summary(_row(conn, city_kode, int(scenario_id)))


def data_provenance(conn: Connection, city_kode: str) -> dict[str, Any]:
    """The data a run uses now: boundary version, newest upload, layers, raster, facilities."""
    from webmap import layers

    boundary, upload, facilities = store.data_version(conn, city_kode)
    newest_facility = conn.execute(sa.select(sa.func.max(Facility.id))
                                   .where(Facility.city_kode == city_kode)).scalar()
    measurement_upload = conn.execute(
        sa.select(sa.func.max(Upload.id)).where(Upload.city_kode == city_kode,
                                                Upload.kind == "measurements")).scalar()
    city = store.get_city(conn, city_kode)
    return {"boundary_version": boundary, "last_upload_id": upload,
            "last_measurement_upload_id": measurement_upload,
            "layers": {kind: row["id"] for kind, row in
                       sorted(layers.layer_versions(conn, city_kode).items())},
            "population_raster": city.get("population_raster"),
            "facility_count": facilities, "max_facility_id": newest_facility}


def touched_area(kelurahan: gpd.GeoDataFrame, result: dict[str, Any]) -> list[str]:
    """Kelurahan and kecamatan codes a plan touches: a site in them, or within its reach.

    The reach is the service distance (waste) or the radius (towers) around each site, straight
    line: demand a site serves within that distance lies inside it (a road is never shorter).
    """
    sites = result.get("sites") or []
    if not sites or len(kelurahan) == 0:
        return []
    reach = float(result.get("service_m") or result.get("radius_m") or 0.0)
    crs = utm_crs_for(kelurahan)
    points = gpd.GeoSeries(gpd.points_from_xy([s["longitude"] for s in sites],
                                              [s["latitude"] for s in sites]),
                           crs="EPSG:4326").to_crs(crs)
    served = shapely.union_all(points.buffer(max(reach, 1.0)).array)
    polygons = kelurahan.to_crs(crs)
    hit = kelurahan[shapely.intersects(polygons.geometry.to_numpy(), served)]
    codes = set(hit["kode"].astype(str))
    if "kecamatan_kode" in hit.columns:
        codes |= {str(code) for code in hit["kecamatan_kode"].dropna()}
    return sorted(codes)


# --- reading -------------------------------------------------------------------------------------

def list_scenarios(conn: Connection, city_kode: str, *, kind: str | None = None,
                   area: str | None = None) -> list[dict[str, Any]]:
    """Summaries of the city's scenarios, newest first.

    Parameters
    ----------
    kind
        Only ``waste`` or ``towers`` scenarios.
    area
        A kelurahan or kecamatan code: only the scenarios that touch it (see
        :func:`touched_area`), what a lurah or camat may read.
    """
    if kind is not None:
        _check_kind(kind)
    query = sa.select(_TABLE).where(_TABLE.c.city_kode == city_kode)
    if kind is not None:
        query = query.where(_TABLE.c.kind == kind)
    rows = [dict(row) for row in conn.execute(query.order_by(_TABLE.c.id.desc())).mappings()]
    if area is not None:
        rows = [row for row in rows if area in (row["area_codes"] or [])]
    return [_summary(row) for row in rows]


def get_scenario(conn: Connection, city_kode: str, scenario_id: int) -> dict[str, Any]:
    """One scenario in full: summary, parameters, provenance and result.

    Raises
    ------
    NotFoundError
        When the city has no such scenario.
    """
    row = _row(conn, city_kode, scenario_id)
    return _summary(row) | {key: row[key] for key in ("parameters", "provenance", "result")}


def sites_geojson(scenario: dict[str, Any]) -> dict[str, Any]:
    """The scenario's sites as a GeoJSON FeatureCollection of points (EPSG:4326)."""
    features = [{"type": "Feature",
                 "geometry": {"type": "Point", "coordinates": [s["longitude"], s["latitude"]]},
                 "properties": {k: v for k, v in s.items() if k not in ("h3_cells",)}}
                for s in scenario["result"].get("sites") or []]
    return {"type": "FeatureCollection", "features": features}


# --- exports -------------------------------------------------------------------------------------

#: Columns of a waste plan's export: key, Indonesian header, English header.
WASTE_EXPORT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("rank", "no", "no"), ("id", "id_lokasi", "site_id"), ("latitude", "lintang", "latitude"),
    ("longitude", "bujur", "longitude"), ("kode", "kode_kelurahan", "kelurahan_code"),
    ("kelurahan", "kelurahan", "kelurahan"), ("tonnes_day", "ton_per_hari", "tonnes_day"),
    ("population", "penduduk", "population"),
    ("mean_distance_m", "jarak_rata_rata_m", "mean_distance_m"),
    ("max_distance_m", "jarak_maksimum_m", "max_distance_m"))


@dataclass(frozen=True)
class _StoredTowerPlan:
    """A saved tower plan in the shape :func:`geo.kominfo_export.write_proposals` reads."""

    sites: pd.DataFrame
    operator: str
    technology: str
    radius_m: float


def export_plan(kind: str, result: dict[str, Any], path: Path, *, lang: str = "id") -> Path:
    """Write a plan's sites to ``path`` (``.csv``, ``.xlsx`` or ``.geojson``).

    Tower plans take the shape of Kominfo's blank-spot proposal channel
    (:mod:`geo.kominfo_export`); waste plans one row per site (:data:`WASTE_EXPORT_COLUMNS`).
    """
    _check_kind(kind)
    if kind == "towers":
        plan = _StoredTowerPlan(pd.DataFrame(result.get("sites") or [], columns=SITE_COLUMNS),
                                result.get("operator"), result.get("technology"),
                                result.get("radius_m"))
        return write_proposals(plan, path, lang=lang)  # type: ignore[arg-type]
    return _write_waste_sites(result, Path(path), lang=lang)


def _write_waste_sites(result: dict[str, Any], path: Path, *, lang: str) -> Path:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None or lang not in ("id", "en"):
        raise InputFileError.translatable(
            N_("%(file)s: tulis usulan sebagai file %(formats)s."), file=path.name,
            formats=", ".join(FORMATS))
    keys = [key for key, _, _ in WASTE_EXPORT_COLUMNS]
    headers = {key: (id_ if lang == "id" else en) for key, id_, en in WASTE_EXPORT_COLUMNS}
    table = pd.DataFrame(result.get("sites") or [], columns=keys)[keys]
    path.unlink(missing_ok=True)
    if kind == "geojson":
        points = gpd.GeoDataFrame(table.rename(columns=headers), crs="EPSG:4326",
                                  geometry=gpd.points_from_xy(table["longitude"],
                                                              table["latitude"]))
        return export_frame(points, path, format="geojson")
    safe = neutralize_frame(table.rename(columns=headers))
    if kind == "csv":
        safe.to_csv(path, index=False, encoding="utf-8")
    else:
        safe.to_excel(path, index=False, sheet_name="usulan_tpst" if lang == "id"
                      else "waste_site_proposals", engine="openpyxl")
    return path


# --- re-running and comparing --------------------------------------------------------------------

def rerun_scenario(engine: Engine, city_kode: str, scenario_id: int, *, created_by: str,
                   name: str | None = None, thresholds: SignalThresholds | None = None
                   ) -> dict[str, Any]:
    """Run a scenario's parameters again on today's data and save it, linked to the old one.

    ``thresholds`` are the deployment's signal thresholds today (towers).  The answer's
    ``data_changes`` lists what differs between the data the two runs used, ``note`` says it in
    words (the caller translates it), empty when nothing changed.
    """
    with engine.connect() as conn:
        old = get_scenario(conn, city_kode, scenario_id)
    with tempfile.TemporaryDirectory(prefix="petakota-skenario-") as folder:
        request = _request(old["kind"], old["parameters"], Path(folder), thresholds)
        answer = run_scenario(engine, city_kode, old["kind"], request,
                              name=name or old["name"], created_by=created_by,
                              parent_id=old["id"])
    with engine.connect() as conn:
        new = get_scenario(conn, city_kode, answer["scenario"]["id"])
    changes = _differences(old["provenance"], new["provenance"])
    return answer | {"rerun_of": old["id"], "data_changes": changes}


def compare_scenarios(conn: Connection, city_kode: str, a: int, b: int) -> dict[str, Any]:
    """Two scenarios side by side: sites, objective, demand covered and what differs.

    Sites are matched by position (coordinates to 5 decimals, about a metre), since generated
    candidates are numbered afresh by each run.
    """
    first, second = get_scenario(conn, city_kode, a), get_scenario(conn, city_kode, b)
    keys_a, keys_b = _site_keys(first), _site_keys(second)
    return {
        "a": _side(first), "b": _side(second),
        "sites": {"both": [keys_a[k] | {"id_b": keys_b[k]["id"]} for k in keys_a if k in keys_b],
                  "only_a": [keys_a[k] for k in keys_a if k not in keys_b],
                  "only_b": [keys_b[k] for k in keys_b if k not in keys_a]},
        "figures": {key: {"a": first[key], "b": second[key],
                          "difference": _difference(first[key], second[key])}
                    for key in ("objective", "demand_total", "demand_covered", "sites")},
        "parameters": _differences(_plain_parameters(first), _plain_parameters(second)),
        "data": _differences(first["provenance"], second["provenance"])}


# --- adopting and deleting -----------------------------------------------------------------------

def adopt_scenario(engine: Engine, city_kode: str, scenario_id: int, *, adopted_by: str,
                   facility_type: str | None = None) -> dict[str, Any]:
    """Turn a scenario's sites into ``planned`` facilities (again: nothing new).

    Parameters
    ----------
    facility_type
        Waste scenarios: ``tpst`` (default for the tpst rules), ``tps3r`` or ``tpa`` (default
        for the tpa rules); tower scenarios are always ``bts``.

    Returns
    -------
    dict
        ``scenario``, ``type``, ``created`` (new facilities), ``facilities`` (all of the
        scenario's planned facilities).
    """
    with engine.begin() as conn:
        scenario = _row(conn, city_kode, scenario_id)
        kind = _adopted_type(scenario, facility_type)
        known = {row["dedup_key"] for row in _planned_rows(conn, city_kode, scenario_id)}
        rows = [row for row in _facility_rows(scenario, kind) if row["dedup_key"] not in known]
        if rows:
            conn.execute(Facility.__table__.insert(), rows)
        if scenario["adopted_at"] is None:
            conn.execute(_TABLE.update().where(_TABLE.c.id == scenario_id)
                         .values(adopted_at=datetime.now(UTC), adopted_by=adopted_by))
        facilities = _planned_rows(conn, city_kode, scenario_id)
    return {"scenario": scenario_id, "type": kind, "created": len(rows),
            "facilities": facilities}


def delete_scenario(engine: Engine, city_kode: str, scenario_id: int) -> dict[str, Any]:
    """Delete a scenario and the planned facilities it created (re-runs stay, unlinked)."""
    with engine.begin() as conn:
        _row(conn, city_kode, scenario_id)
        removed = conn.execute(sa.delete(Facility).where(
            Facility.city_kode == city_kode, Facility.status == "planned",
            Facility.dedup_key.like(f"{_KEY_PREFIX}:{scenario_id}:%"))).rowcount
        conn.execute(_TABLE.update().where(_TABLE.c.parent_id == scenario_id)
                     .values(parent_id=None))
        conn.execute(_TABLE.delete().where(_TABLE.c.id == scenario_id))
    return {"deleted": scenario_id, "facilities_removed": int(removed or 0)}


def planned_vs_built(conn: Connection, city_kode: str) -> dict[str, dict[str, Any]]:
    """Per quick win: planned facilities (from adopted scenarios) against existing ones.

    Returns ``{"waste": ..., "towers": ...}``, each with ``types``, ``built`` (existing
    facilities of those types), ``planned`` (planned ones from scenarios), ``planned_other``
    (planned ones entered otherwise) and ``scenarios`` (id, name, planned count).
    """
    facilities = store.load_facilities(conn, city_kode)
    keys = _dedup_keys(conn, city_kode)
    names = {row["id"]: row["name"] for row in list_scenarios(conn, city_kode)}
    return {win: _planned_vs_built(facilities, keys, names, types)
            for win, types in QUICK_WIN_TYPES.items()}


# --- helpers -------------------------------------------------------------------------------------

def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputFileError.translatable(
            N_("Jenis skenario '%(kind)s' tidak dikenal: pilih %(known)s."), kind=kind,
            known=", ".join(KINDS))


def _checked_name(name: str | None) -> str:
    text = (name or "").strip()
    if not text:
        raise InputFileError.translatable(N_(
            "Beri nama skenario (mis. --save \"TPST 2025\") untuk menyimpannya."))
    if len(text) > 200:
        raise InputFileError.translatable(
            N_("Nama skenario terlalu panjang (%(length)d karakter): paling banyak 200."),
            length=len(text))
    return text


def _row(conn: Connection, city_kode: str, scenario_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(_TABLE).where(_TABLE.c.id == int(scenario_id),
                                               _TABLE.c.city_kode == city_kode)).mappings().first()
    if row is None:
        raise NotFoundError.translatable(
            N_("Skenario %(id)s tidak ada di kota %(city)s."), id=scenario_id, city=city_kode)
    return dict(row)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    result = row["result"] or {}
    return {"id": row["id"], "kind": row["kind"], "name": row["name"],
            "city": row["city_kode"], "created_by": row["created_by"],
            "created_at": _iso(row["created_at"]), "parent_id": row["parent_id"],
            "adopted_at": _iso(row["adopted_at"]), "adopted_by": row["adopted_by"],
            "area_codes": list(row["area_codes"] or []),
            **{key: result.get(key) for key in _SUMMARY_KEYS},
            "sites": len(result.get("sites") or [])}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _candidates_geojson(request: siting.WasteRequest | siting.TowerRequest
                        ) -> dict[str, Any] | None:
    if request.candidates_file is None:
        return None
    return json.loads(read_candidate_file(request.candidates_file).to_json(drop_id=True))


def _request(kind: str, parameters: dict[str, Any], folder: Path,
             thresholds: SignalThresholds | None
             ) -> siting.WasteRequest | siting.TowerRequest:
    """The saved parameters as a request again; stored candidates written into ``folder``."""
    candidates = None
    if parameters.get("candidates"):
        candidates = folder / "calon.geojson"
        candidates.write_text(json.dumps(parameters["candidates"]))
    if kind == "waste":
        return siting.parse_waste_request(
            rules=parameters["rules"], model=parameters["model"], sites=parameters["sites"],
            service_m=parameters["service_m"], capacity_t_day=parameters["capacity_t_day"],
            candidates=str(candidates) if candidates else None,
            rule_overrides=parameters.get("rule_overrides"))
    return siting.parse_request(
        model=parameters["model"], radius_m=parameters["radius_m"],
        max_sites=parameters["max_sites"], operator=parameters["operator"],
        technology=parameters["technology"], as_of=parameters["as_of"],
        candidates=str(candidates) if candidates else None,
        include_weak=parameters["include_weak"],
        include_unmeasured=parameters["include_unmeasured"], thresholds=thresholds)


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"what", "before", "after"}`` for every key whose value differs (nested dicts flat)."""
    flat_a, flat_b = _flat(before), _flat(after)
    return [{"what": key, "before": flat_a.get(key), "after": flat_b.get(key)}
            for key in sorted(set(flat_a) | set(flat_b)) if flat_a.get(key) != flat_b.get(key)]


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _plain_parameters(scenario: dict[str, Any]) -> dict[str, Any]:
    """Parameters without the stored candidate features (compared by file name instead)."""
    return {k: v for k, v in scenario["parameters"].items() if k != "candidates"}


def _side(scenario: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "kind", "name", "created_by", "created_at", "parent_id", "adopted_at",
            *_SUMMARY_KEYS)
    return {key: scenario[key] for key in keys} | {
        "sites": [_site_brief(site) for site in scenario["result"].get("sites") or []]}


def _site_brief(site: dict[str, Any]) -> dict[str, Any]:
    keys = ("rank", "id", "latitude", "longitude", "kode", "kelurahan", "tonnes_day",
            "population", "cells", "blank_cells", "area_km2")
    return {key: site[key] for key in keys if key in site}


def _site_keys(scenario: dict[str, Any]) -> dict[tuple[float, float], dict[str, Any]]:
    return {(round(s["latitude"], 5), round(s["longitude"], 5)): _site_brief(s)
            for s in scenario["result"].get("sites") or []}


def _difference(a: Any, b: Any) -> float | None:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(b) - float(a)
    return None


def _adopted_type(scenario: dict[str, Any], facility_type: str | None) -> str:
    if scenario["kind"] == "towers":
        return ADOPTED_TYPES["towers"]
    chosen = facility_type or ADOPTED_TYPES[scenario["parameters"].get("rules", "tpst")]
    if chosen not in WASTE_ADOPT_TYPES:
        raise InputFileError.translatable(
            N_("Jenis fasilitas '%(type)s' tidak bisa dipakai untuk rencana pengolahan sampah: "
               "pilih %(known)s."), type=chosen, known=", ".join(WASTE_ADOPT_TYPES))
    return chosen


def _facility_rows(scenario: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    result = scenario["result"]
    rows = []
    for site in result.get("sites") or []:
        rows.append({
            "city_kode": scenario["city_kode"], "upload_id": None,
            "dedup_key": f"{_KEY_PREFIX}:{scenario['id']}:{site['id']}"[:160], "type": kind,
            "nama": f"{kind.upper()} rencana {site['rank']} ({scenario['name']})"[:200],
            "status": "planned",
            "operator": result.get("operator") if kind == "bts" else None,
            "capacity": result.get("capacity_t_day") if kind != "bts" else None,
            "range_m": result.get("radius_m") if kind == "bts" else None, "samples": None,
            "source": f"{_KEY_PREFIX} #{scenario['id']}: {scenario['name']}"[:255],
            "external_id": str(site["id"])[:120], "latitude": float(site["latitude"]),
            "longitude": float(site["longitude"]), "kelurahan_kode": site.get("kode")})
    return rows


def _planned_rows(conn: Connection, city_kode: str, scenario_id: int) -> list[dict[str, Any]]:
    table = Facility.__table__
    columns = ("id", "dedup_key", "type", "nama", "status", "latitude", "longitude",
               "kelurahan_kode", "external_id")
    query = (sa.select(*(table.c[c] for c in columns))
             .where(table.c.city_kode == city_kode, table.c.status == "planned",
                    table.c.dedup_key.like(f"{_KEY_PREFIX}:{scenario_id}:%"))
             .order_by(table.c.id))
    return [dict(row) for row in conn.execute(query).mappings()]


def _dedup_keys(conn: Connection, city_kode: str) -> dict[int, str]:
    rows = conn.execute(sa.select(Facility.id, Facility.dedup_key)
                        .where(Facility.city_kode == city_kode))
    return {int(row.id): row.dedup_key for row in rows}


def _scenario_of(key: str | None) -> int | None:
    parts = (key or "").split(":")
    if len(parts) >= 3 and parts[0] == _KEY_PREFIX and parts[1].isdigit():
        return int(parts[1])
    return None


def _planned_vs_built(facilities: pd.DataFrame, keys: dict[int, str], names: dict[int, str],
                      types: tuple[str, ...]) -> dict[str, Any]:
    chosen = facilities[facilities["type"].isin(types)]
    planned = chosen[chosen["status"] == "planned"]
    origin = pd.Series([_scenario_of(keys.get(int(i))) for i in planned["id"]], dtype=object)
    from_scenarios = origin.dropna().astype(int).value_counts().sort_index()
    return {"types": list(types), "built": int((chosen["status"] == "existing").sum()),
            "planned": int(from_scenarios.sum()),
            "planned_other": int(origin.isna().sum()),
            "scenarios": [{"id": int(sid), "name": names.get(int(sid), "?"),
                           "planned": int(count)} for sid, count in from_scenarios.items()]}

