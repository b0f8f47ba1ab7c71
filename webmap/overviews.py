"""The analysed state of a city, cached per data version and filter, for pages and the API.

A warm request does no analysis: the key includes the boundary version, the newest upload and
the facility count, so any new data gives a new key.  What pages draw from an overview (rendered
maps, the surface PNG) is kept in ``overview.rendered`` and goes with it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, request

from geo.settings import thresholds_from_config
from webmap import analysis, maps
from webmap.db import get_engine
from webmap.permissions import ForbiddenError, current_scope
from webmap.store import data_version, get_city

_CACHE_KEY = "petakota.overviews"
_CACHE_SIZE = 16
#: Values of ``?technology=`` meaning "every technology".
_ALL = ("", "semua", "all")
#: How many operators the filter of the city map and the dashboard lists when the app's
#: ``FILTER_MAX_OPERATORS`` is not set: the most measured ones.  Beyond that the filter is a text
#: field suggesting them, so that a city with thousands of operator names (typed by hand in a
#: field app) does not send thousands of options with every page.
FILTER_MAX_OPERATORS = 50


def cached_overview(city_kode: str | None, operator: str | None, as_of: str | None, *,
                    technology: str | None = None) -> analysis.CityOverview:
    """The city's overview for a filter, computed once per data version."""
    engine = get_engine()
    with engine.connect() as conn:
        city = get_city(conn, city_kode)
        version = data_version(conn, city["kode"])

    def compute() -> analysis.CityOverview:
        thresholds = thresholds_from_config(current_app.config.get("SIGNAL_THRESHOLDS"))
        return analysis.city_overview(engine, city["kode"], operator=operator,
                                      as_of=analysis.parse_date(as_of), technology=technology,
                                      thresholds=thresholds)

    return cached(_CACHE_KEY, (city["kode"], version, operator or "", as_of or "",
                               technology or ""), compute)


def cached(cache_name: str, key: tuple, compute: Callable[[], Any]) -> Any:
    """The value of ``key`` in the app's cache ``cache_name`` (least recently used dropped
    beyond :data:`_CACHE_SIZE`), computed once.  The key must change with the data (include
    :func:`webmap.store.data_version`)."""
    cache: OrderedDict = current_app.extensions.setdefault(cache_name, OrderedDict())
    value = cache.get(key)
    if value is None:
        # One thread computes, concurrent requests for the same key wait for its result
        # instead of repeating a many-second computation side by side.
        with _computing(key):
            value = cache.get(key)
            if value is None:
                value = compute()
                with _CACHE_LOCK:
                    cache[key] = value
                    while len(cache) > _CACHE_SIZE:
                        cache.popitem(last=False)
    with _CACHE_LOCK:
        if key in cache:
            cache.move_to_end(key)
    return value


_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple, threading.Lock] = {}


@contextmanager
def _computing(key: tuple) -> Iterator[None]:
    """Hold the lock of one cache key (created on first use, dropped when nobody waits)."""
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        yield
    with _CACHE_LOCK:
        if not lock.locked():
            _KEY_LOCKS.pop(key, None)


def cached_surface_image(overview: analysis.CityOverview) -> maps.SurfaceImage | None:
    """The overview's signal surface as a PNG with its bounds, rendered once; ``None`` without."""
    if overview.signal_surface is None:
        return None
    if ("surface.png",) not in overview.rendered:
        overview.rendered[("surface.png",)] = maps.surface_image(overview.signal_surface)
    return overview.rendered[("surface.png",)]


def operator_choices(overview: analysis.CityOverview) -> dict[str, Any]:
    """The operators the filter offers: ``listed`` (at most ``FILTER_MAX_OPERATORS``, the most
    measured first, in name order) and ``more`` (whether the city has other operators too, in
    which case the filter also takes any typed name)."""
    limit = int(current_app.config.get("FILTER_MAX_OPERATORS", FILTER_MAX_OPERATORS))
    key = ("operator choices", limit)
    if key not in overview.rendered:
        overview.rendered[key] = _most_measured(overview, limit)
    return overview.rendered[key]


def _most_measured(overview: analysis.CityOverview, limit: int) -> dict[str, Any]:
    if len(overview.operators) <= limit:
        return {"listed": list(overview.operators), "more": False}
    counts = overview.data.measurements["operator"].value_counts()
    counts = counts.reindex(list(overview.operators), fill_value=0)
    top = counts.sort_values(ascending=False, kind="stable").index[:limit]
    return {"listed": sorted(top), "more": True}


def request_overview() -> tuple[dict[str, str | None], analysis.CityOverview]:
    """The request's filters (:func:`request_filters`) and the cached overview they select."""
    filters = request_filters()
    return filters, cached_overview(filters["city"], filters["operator"], filters["as_of"],
                                    technology=filters["technology"])


def filter_args(*names: str) -> dict[str, str]:
    """The request's filters that are set (all, or only ``names``), to carry them into links."""
    names = names or ("city", "operator", "technology", "as_of")
    return {name: request.args[name] for name in names if request.args.get(name)}


def request_filters() -> dict[str, str | None]:
    """City, operator, technology and as-of date of the request.

    A user only ever sees their own city.  The technology is upper-cased ("4g" is "4G");
    "semua"/"all" mean every technology (``None``), like an empty value.
    """
    scope = current_scope()
    city = request.args.get("city") or None
    if scope and scope.city_kode and city and city != scope.city_kode:
        raise ForbiddenError(f"Your account belongs to city {scope.city_kode}, not {city}.")
    technology = (request.args.get("technology") or "").strip().upper()
    return {"city": city or (scope.city_kode if scope else None),
            "operator": request.args.get("operator") or None,
            "technology": None if technology.lower() in _ALL else technology,
            "as_of": request.args.get("as_of") or None}
