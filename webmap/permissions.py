"""Who may see and do what: roles, the scope of the signed-in user, and view decorators.

Roles (see :data:`webmap.accounts.ROLES`):

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
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, request
from flask_login import current_user

from geo.errors import PetakotaError
from webmap.accounts import User

F = TypeVar("F", bound=Callable[..., Any])

#: Roles that see a whole city.
CITY_ROLES = ("perencana", "tim_lapangan")


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
    user_id: int | None = None
    username: str | None = None


def scope_of(user: User) -> Scope:
    """The scope of a user account."""
    return Scope(role=user.role, city_kode=user.city_kode, kelurahan_kode=user.kelurahan_kode,
                 kecamatan_kode=user.kecamatan_kode, user_id=user.id, username=user.username)


def current_scope() -> Scope | None:
    """The scope of the signed-in user (session or API token), or None when anonymous."""
    if not current_user.is_authenticated:
        return None
    return scope_of(current_user.account)


def can_view_city(scope: Scope | None, city_kode: str) -> bool:
    """Tell whether the scope covers (some of) a city."""
    if scope is None:
        return False
    return scope.role == "admin" or scope.city_kode == city_kode


def can_view_kelurahan(scope: Scope | None, kode: str, kecamatan_kode: str | None, *,
                       city_kode: str | None = None) -> bool:
    """Tell whether the scope may see a kelurahan (of ``city_kode``, when given)."""
    if scope is None:
        return False
    if scope.role == "admin":
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

    A request counts as an API request when its path starts with ``/api/``, it carries an
    ``Authorization`` header, or it prefers JSON to HTML.
    """
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if _is_api_request():
                    raise UnauthorizedError("Sign in or send a valid API token.")
                return current_app.login_manager.unauthorized()
            if current_user.account.role not in roles:
                raise ForbiddenError(
                    f"Your account ({current_user.account.role}) may not do this; "
                    f"needed: {', '.join(roles)}.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def _is_api_request() -> bool:
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
