"""The analysed state of a city, cached per data version and filter, for pages and the API.

A warm request does no analysis: the key includes the boundary version, the newest upload and
the facility count, so any new data gives a new key.
"""
from __future__ import annotations

from collections import OrderedDict

from flask import current_app, request

from geo.settings import thresholds_from_config
from webmap import analysis
from webmap.db import get_engine
from webmap.permissions import ForbiddenError, current_scope
from webmap.store import data_version, get_city

_CACHE_KEY = "petakota.overviews"
_CACHE_SIZE = 16


def cached_overview(city_kode: str | None, operator: str | None, as_of: str | None
                    ) -> analysis.CityOverview:
    """The city's overview for a filter, computed once per data version."""
    engine = get_engine()
    with engine.connect() as conn:
        city = get_city(conn, city_kode)
        version = data_version(conn, city["kode"])
    key = (city["kode"], version, operator or "", as_of or "")
    cache: OrderedDict = current_app.extensions.setdefault(_CACHE_KEY, OrderedDict())
    if key not in cache:
        thresholds = thresholds_from_config(current_app.config.get("SIGNAL_THRESHOLDS"))
        cache[key] = analysis.city_overview(engine, city["kode"], operator=operator,
                                            as_of=analysis.parse_date(as_of),
                                            thresholds=thresholds)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


def request_filters() -> dict[str, str | None]:
    """City, operator and as-of date of the request; a user only ever sees their own city."""
    scope = current_scope()
    city = request.args.get("city") or None
    if scope and scope.city_kode and city and city != scope.city_kode:
        raise ForbiddenError(f"Your account belongs to city {scope.city_kode}, not {city}.")
    return {"city": city or (scope.city_kode if scope else None),
            "operator": request.args.get("operator") or None,
            "as_of": request.args.get("as_of") or None}
