"""Single-facility writes of the facility form, each with an audit record.

Bulk imports go through :func:`webmap.ingest.import_facilities`; this module stores one facility
the same way an import stores one row (same columns, same de-duplication key), or changes one.
Every save is kept as an audit record: a small JSON document (who, when, the values before and
after) archived like any uploaded file, and an ``upload`` row of kind :data:`AUDIT_KIND` written
in the same transaction as the change.  That row also moves the city's data version, so cached
city overviews show the change in every worker.

Nothing here knows about Flask: the engine, archive folder and user name are passed in.
"""
from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import geopandas as gpd

from geo.errors import NotFoundError, PetakotaError
from webmap import store
from webmap.archive import archive_file
from webmap.ingest import facility_rows
from webmap.models import Facility

#: Upload kind of the audit record of a facility saved with the form.
AUDIT_KIND = "facility_edit"
#: Values kept in the audit record (and changed by :func:`update_facility`).
AUDITED_KEYS = ("type", "nama", "status", "operator", "capacity", "latitude", "longitude",
                "kelurahan_kode")


class DuplicateFacilityError(PetakotaError):
    """A facility with the same key (type, name and position, or external id) already exists."""

    def __init__(self, nama: str, city_kode: str) -> None:
        super().__init__(
            f"A facility of the same type named '{nama}' already exists at this position in "
            f"city {city_kode}. Edit that facility instead, or change the name or position.")
        self.nama = nama
        self.city_kode = city_kode


def get_facility(conn: Connection, facility_id: int) -> dict[str, Any]:
    """Return one facility row as a dict; raise :class:`NotFoundError` when there is none."""
    table = Facility.__table__
    row = conn.execute(sa.select(table).where(table.c.id == facility_id)).first()
    if row is None:
        raise NotFoundError(f"Facility {facility_id} does not exist.")
    return dict(row._mapping)


def audited_values(values: dict[str, Any]) -> dict[str, Any]:
    """Return the :data:`AUDITED_KEYS` of ``values`` (missing ones as ``None``)."""
    return {key: values.get(key) for key in AUDITED_KEYS}


def record_change(conn: Connection, archive_dir: Path, city: dict[str, Any], by: str,
                  action: str, before: dict[str, Any] | None, after: dict[str, Any]) -> int:
    """Archive a change as a JSON document and record it as an upload; return the upload id.

    ``action`` is ``"create"`` or ``"edit"``; ``before`` is ``None`` for a new facility.  The
    upload row is written on ``conn``, so it commits or rolls back with the change itself.
    """
    now = datetime.now(UTC)
    document = {"action": action, "by": by, "at": now.isoformat(), "city": city["kode"],
                "facility_id": after.get("id"), "before": before and audited_values(before),
                "after": audited_values(after)}
    name = f"fasilitas_{action}_{now:%Y%m%dT%H%M%S%f}.json"
    with tempfile.TemporaryDirectory(prefix="petakota-facility-") as folder:
        path = Path(folder) / name
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
        archived = archive_file(path, Path(archive_dir), uploaded_by=by)
    upload_id = store.insert_upload(
        conn, city_kode=city["kode"], kind=AUDIT_KIND, sha256=archived.sha256,
        original_name=archived.original_name, archive_path=str(archived.path),
        size_bytes=archived.size_bytes, uploaded_by=by, format="form")
    store.finish_upload(conn, upload_id, {**document, "rows": 1, "accepted": 1, "rejected": 0,
                                          "duplicates": 0})
    return upload_id


def create_facility(engine: Engine, archive_dir: Path, city: dict[str, Any],
                    values: dict[str, Any], kelurahan_kode: str, by: str) -> int:
    """Store a new facility the way an import stores one row, with an audit record.

    ``values`` holds ``type``, ``nama``, ``status``, ``operator``, ``capacity`` (or ``None``),
    ``latitude`` and ``longitude``.  Return the new facility's id; raise
    :class:`DuplicateFacilityError` (and store nothing) when the city already has it.
    """
    frame = gpd.GeoDataFrame(
        {"type": [values["type"]], "nama": [values["nama"]], "status": [values["status"]],
         "operator": [values["operator"]],
         "capacity": [np.nan if values["capacity"] is None else values["capacity"]],
         "source": [f"formulir ({by})"], "external_id": [None]},
        geometry=gpd.points_from_xy([values["longitude"]], [values["latitude"]]),
        crs="EPSG:4326")
    rows = facility_rows(frame, np.array([kelurahan_kode], dtype=object), city["kode"])
    rows["upload_id"] = pd.array([pd.NA], dtype="Int64")
    table = Facility.__table__
    with engine.begin() as conn:
        if store.insert_facilities(conn, rows[store.FACILITY_COLUMNS]) == 0:
            raise DuplicateFacilityError(values["nama"], city["kode"])
        facility_id = int(conn.execute(sa.select(table.c.id).where(
            table.c.city_kode == city["kode"],
            table.c.dedup_key == rows["dedup_key"].iloc[0])).scalar_one())
        upload_id = record_change(conn, archive_dir, city, by, "create", None,
                                  {**values, "id": facility_id, "kelurahan_kode": kelurahan_kode})
        conn.execute(sa.update(table).where(table.c.id == facility_id)
                     .values(upload_id=upload_id))
    return facility_id


def update_facility(engine: Engine, archive_dir: Path, city: dict[str, Any],
                    before: dict[str, Any], values: dict[str, Any], kelurahan_kode: str,
                    by: str) -> None:
    """Change a facility's values and kelurahan, with an audit record.

    ``before`` is the stored row (:func:`get_facility`), ``values`` as for
    :func:`create_facility`.  The de-duplication key stays, so importing the original file again
    does not bring the old version back.
    """
    table = Facility.__table__
    after = {**values, "id": before["id"], "kelurahan_kode": kelurahan_kode}
    with engine.begin() as conn:
        record_change(conn, archive_dir, city, by, "edit", before, after)
        conn.execute(sa.update(table).where(table.c.id == before["id"])
                     .values(**audited_values(after)))
