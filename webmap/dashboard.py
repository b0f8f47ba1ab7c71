"""Quick-win dashboard for planners: progress per target, kelurahan table, blank-spot trend,
and per quick win the facilities planned in adopted siting scenarios against those built.

The view reads the cached city overview (:mod:`webmap.overviews`); the trend and the target
statistics are memoised in it, so a warm page does no analysis.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, url_for

from geo.coverage import CITY_TOTAL_CODE
from geo.settings import SIGNAL_CLASSES_DBM
from webmap import analysis, scenarios
from webmap.db import get_engine
from webmap.overviews import request_overview
from webmap.permissions import require_role

bp = Blueprint("dashboard", __name__)


@bp.get("/dasbor")
@require_role("admin", "perencana")
def dashboard():
    """Targets with their progress, every kelurahan, and the city's monthly trend."""
    filters, overview = request_overview()
    targets = analysis.list_targets(get_engine(), overview.data.city["kode"])
    return render_template("dashboard.html", overview=overview, filters=filters,
                           technologies=sorted(SIGNAL_CLASSES_DBM),
                           targets=analysis.overview_progress(overview, targets),
                           kelurahan=analysis.records(overview.stats),
                           trend=analysis.trend_records(analysis.overview_trend(overview),
                                                        CITY_TOTAL_CODE),
                           plans=_plans(overview.data.city["kode"]))


def _plans(city_kode: str) -> dict[str, dict[str, Any]]:
    """Planned against built per quick win, each scenario with the address to open it."""
    with get_engine().connect() as conn:
        plans = scenarios.planned_vs_built(conn, city_kode)
    for plan in plans.values():
        for scenario in plan["scenarios"]:
            scenario["url"] = _scenario_url(scenario["id"])
    return plans


def _scenario_url(scenario_id: int) -> str:
    """The siting page of a scenario (``/tapak/skenario/<id>``)."""
    return url_for("siting_pages.scenario_page", scenario_id=scenario_id)
