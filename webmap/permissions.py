"""Who may see and do what: roles, the scope of the signed-in user, and view decorators.

Roles (:data:`ALL_ROLES`, the same tuple as :data:`webmap.accounts.ROLES`):

``admin``
    users, cities, settings; sees everything.
``perencana``
    planner of one city: reads all of it, runs analyses, manages facilities and targets.
``tim_lapangan``
    field team of one city: uploads measurements, sees own uploads and the city map.
``lurah`` / ``camat``
    one kelurahan (by kode) / one kecamatan (by kecamatan kode) of one city.

:func:`require_role` does not let ``admin`` through implicitly: list it where admins belong.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from flask import current_app, request
from flask_login import current_user

from geo.errors import PetakotaError
from webmap.accounts import ROLES, User

if TYPE_CHECKING:
    from pandas import DataFrame

F = TypeVar("F", bound=Callable[..., Any])

#: Every role, from widest to narrowest scope: views open to anyone signed in.
ALL_ROLES: tuple[str, ...] = ROLES
#: Roles that see whole cities: admin (every city), perencana and tim_lapangan (their own).
CITY_ROLES: tuple[str, ...] = ("admin", "perencana", "tim_lapangan")
#: Roles that may upload measurements (the field team, planners and admins).
UPLOAD_ROLES: tuple[str, ...] = ("tim_lapangan", "perencana", "admin")


class UnauthorizedError(PetakotaError):
    """The request is not signed in (or its API token is invalid or revoked)."""


class ForbiddenError(PetakotaError):
    """The signed-in user's role or area does not allow this."""


@dataclass(frozen=True)
class Scope:
    """What a user may see: a role, a city and, for lurah/camat, an area."""

    role: str
    city_kode: str | None = None
    kelurahan_kode: str | None = None
    kecamatan_kode: str | None = None
    username: str | None = None


def scope_of(user: User) -> Scope:
    """The scope of a user account."""
    return Scope(role=user.role, city_kode=user.city_kode, kelurahan_kode=user.kelurahan_kode,
                 kecamatan_kode=user.kecamatan_kode, username=user.username)


def current_scope() -> Scope | None:
    """The scope of the signed-in user (session or API token), or None when anonymous."""
    if not current_user.is_authenticated:
        return None
    return scope_of(current_user.account)


def signed_in_scope() -> Scope:
    """The signed-in user's scope, in a view behind :func:`require_role` (nobody else gets in)."""
    scope = current_scope()
    assert scope is not None, "signed_in_scope() outside a require_role view"
    return scope


def can_view_city(scope: Scope | None, kode: str) -> bool:
    """Tell whether the scope may see city ``kode`` at all: an admin every city, any other
    account only the city it belongs to (a lurah's or camat's city included)."""
    if scope is None:
        return False
    return scope.role == "admin" or scope.city_kode == kode


def can_view_kelurahan(scope: Scope | None, kode: str, kecamatan_kode: str | None, *,
                       city_kode: str | None = None) -> bool:
    """Tell whether the scope may see a kelurahan (of ``city_kode``, when given)."""
    if scope is None:
        return False
    if scope.role == "admin":  # before the city check: an admin has no city
        return True
    if city_kode is not None and scope.city_kode != city_kode:
        return False
    if scope.role in CITY_ROLES:
        return True
    if scope.role == "lurah":
        return kode == scope.kelurahan_kode
    if scope.role == "camat":
        return kecamatan_kode is not None and kecamatan_kode == scope.kecamatan_kode
    return False


def visible_kelurahan(scope: Scope, kelurahan: DataFrame) -> DataFrame:
    """The rows of ``kelurahan`` (columns ``kode``, ``kecamatan_kode``) the scope may see.

    That is all of them for admins and city roles, a lurah's own kelurahan or a camat's
    kecamatan; the frame keeps its type (a GeoDataFrame stays one) and columns, even empty.
    """
    keep = [can_view_kelurahan(scope, kode, kecamatan)
            for kode, kecamatan in zip(kelurahan["kode"], kelurahan["kecamatan_kode"],
                                       strict=True)]
    return kelurahan.loc[keep]


def require_kelurahan_access(kode: str, kecamatan_kode: str | None = None, *,
                             scope: Scope | None = None) -> Scope:
    """Return the current scope, or raise when it may not see kelurahan ``kode``.

    ``kecamatan_kode`` is looked up in the city's current boundaries when not given.

    Raises
    ------
    UnauthorizedError
        When nobody is signed in.
    ForbiddenError
        When the user's role or area does not cover the kelurahan.
    """
    scope = scope or current_scope()
    if scope is None:
        raise UnauthorizedError("Sign in first.")
    if kecamatan_kode is None and scope.role == "camat" and scope.city_kode:
        kecamatan_kode = _kecamatan_of(scope.city_kode, kode)
    if not can_view_kelurahan(scope, kode, kecamatan_kode):
        raise ForbiddenError(f"Your account ({scope.role}) has no access to kelurahan {kode}.")
    return scope


def require_role(*roles: str) -> Callable[[F], F]:
    """Decorate a view: anonymous requests get 401 (API) or the login page, others 403.

    Whether a request is an API request is decided by :func:`is_api_request`.
    """
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if is_api_request():
                    raise UnauthorizedError("Sign in or send a valid API token.")
                return current_app.login_manager.unauthorized()
            if current_user.account.role not in roles:
                raise ForbiddenError(
                    f"Your account ({current_user.account.role}) may not do this; "
                    f"needed: {', '.join(roles)}.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def is_api_request() -> bool:
    """True for ``/api/...`` paths, requests with an ``Authorization`` header (machine
    clients) and clients that prefer JSON to HTML: they get JSON errors, not pages."""
    if request.path.startswith("/api/") or "Authorization" in request.headers:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _kecamatan_of(city_kode: str, kode: str) -> str | None:
    """The kecamatan code of a kelurahan in the city's current boundaries."""
    from webmap.db import get_engine
    from webmap.models import Kelurahan
    from webmap.store import current_boundary_version

    with get_engine().connect() as conn:
        version = current_boundary_version(conn, city_kode)
        if version is None:
            return None
        return conn.execute(sa.select(Kelurahan.kecamatan_kode).where(
            Kelurahan.boundary_version_id == version["id"], Kelurahan.kode == kode)).scalar()
