"""Quick-win dashboard for planners: progress per target, kelurahan table, blank-spot trend.

The view reads the cached city overview (:mod:`webmap.overviews`); the trend and the target
statistics are memoised in it, so a warm page does no analysis.
"""
from __future__ import annotations

from flask import Blueprint, render_template

from geo.coverage import CITY_TOTAL_CODE
from geo.settings import SIGNAL_CLASSES_DBM
from webmap import analysis
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
                                                        CITY_TOTAL_CODE))
