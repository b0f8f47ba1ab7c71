"""The landing page: which cities and how much data the database holds."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, render_template

from geo.measurements import template_csv

from webmap.db import get_engine
from webmap.permissions import can_view_city, require_role, signed_in_scope
from webmap.models import Facility, Kelurahan, Upload
from webmap.store import current_boundary_version, list_cities, measurement_count

bp = Blueprint("home", __name__)


@bp.get("/")
@require_role("admin", "perencana", "tim_lapangan", "lurah", "camat")
def index():
    """List the cities the user may see with their kelurahan, measurement, facility and upload
    counts: every city for an admin, the user's own city for everyone else."""
    scope = signed_in_scope()
    with get_engine().connect() as conn:
        cities = [city | _counts(conn, city["kode"]) for city in list_cities(conn)
                  if can_view_city(scope, city["kode"])]
    return render_template("home.html", cities=cities)


def _counts(conn: sa.Connection, kode: str) -> dict[str, int]:
    version = current_boundary_version(conn, kode)
    counts = {"boundary_version": version["id"] if version else None}
    for name, table in (("facilities", Facility), ("uploads", Upload)):
        counts[name] = conn.execute(sa.select(sa.func.count()).select_from(table)
                                    .where(table.city_kode == kode)).scalar_one()
    counts["measurements"] = measurement_count(conn, kode)
    counts["kelurahan"] = conn.execute(
        sa.select(sa.func.count()).select_from(Kelurahan)
        .where(Kelurahan.boundary_version_id == counts["boundary_version"])).scalar_one()
    return counts


@bp.get("/template.csv")
@require_role("admin", "perencana", "tim_lapangan")
def measurement_template():
    """The canonical coverage CSV template, as a download."""
    return Response(template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=petakota_template.csv"})
