"""Language of the interface: Bahasa Indonesia by default, English by choice (Flask-Babel).

Texts in code and templates are written in Indonesian and marked with ``_()``; the English
catalog lives in ``webmap/translations/en/LC_MESSAGES/messages.po`` (compiled to ``.mo`` by the
Makefile).  The choice is explicit: ``?lang=en`` on any page, or the switch in the header, which
keeps it in a cookie for a year.  Browsers' Accept-Language is deliberately not followed: most
office machines in Indonesian city halls run English-language browsers, and users expect the
Indonesian interface unless they ask for another.

Numbers and dates are formatted for the active locale (``1.234,5`` in Indonesian, ``1,234.5`` in
English) with the Jinja filters :func:`number`, :func:`date` and :func:`datetime_`.
"""
from __future__ import annotations

from datetime import date as date_type, datetime
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, request
from jinja2 import Undefined
from flask_babel import Babel, format_date, format_datetime, format_decimal, get_locale

from webmap.auth import safe_next

#: Languages the interface speaks; the first one is the default.
LANGUAGES: dict[str, str] = {"id": "Bahasa Indonesia", "en": "English"}
DEFAULT_LANGUAGE = "id"
COOKIE = "petakota_lang"

bp = Blueprint("i18n", __name__)


def init_app(app: Flask) -> None:
    """Install Flask-Babel, the language switch route and the formatting filters."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Jakarta")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_language)
    app.register_blueprint(bp)
    app.jinja_env.filters.update(number=number, date=date, datetime=datetime_)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=current_language)


def select_language() -> str:
    """``?lang=`` of the request, else the remembered choice, else Indonesian."""
    for candidate in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """The language code of the current request ("id" or "en")."""
    return str(get_locale() or DEFAULT_LANGUAGE)


@bp.get("/bahasa/<kode>")
def switch_language(kode: str):
    """Remember the chosen language and go back to the page the user was on."""
    response = redirect(safe_next(request.args.get("next")))
    if kode in LANGUAGES:
        response.set_cookie(COOKIE, kode, max_age=365 * 24 * 3600, samesite="Lax",
                            httponly=True,
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def number(value: Any, decimals: int = 0, *, empty: str = "-") -> str:
    """A number in the locale's format with a fixed number of decimals; ``-`` for none/NaN."""
    if value is None or isinstance(value, Undefined) or value != value:  # noqa: PLR0124
        return empty
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(value, format=pattern)


def date(value: date_type | datetime | str | None, style: str = "medium") -> str:
    """A date in the locale's format ("23 Nov 2026")."""
    if value is None or isinstance(value, Undefined) or value == "":
        return "-"
    if isinstance(value, str):
        value = date_type.fromisoformat(value[:10])
    return format_date(value, format=style)


def datetime_(value: datetime | str | None, style: str = "medium") -> str:
    """A moment in the locale's format, in WIB (the app's time zone)."""
    if value is None or isinstance(value, Undefined) or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_datetime(value, format=style)
