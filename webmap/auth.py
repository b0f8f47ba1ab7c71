"""Signing in and out: Flask-Login sessions, Bearer API tokens, CSRF and security headers.

Config keys (defaults set by :func:`init_app` unless already configured):

``LOGIN_MAX_FAILURES`` / ``LOGIN_WINDOW_SECONDS`` / ``LOGIN_LOCKOUT_SECONDS``
    after 5 failed sign-ins for a username or from an address within 900 s, refuse further
    attempts for 900 s.
``LOGIN_SESSION_LIFETIME``
    how long a session lasts (timedelta or seconds; default 12 hours); copied into Flask's
    ``PERMANENT_SESSION_LIFETIME``.
``TILE_URL``
    the basemap tile URL template; its host is the one external image origin the CSP allows.
``SESSION_COOKIE_SECURE``
    set it to True behind HTTPS (False by default for http://127.0.0.1 development).
"""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from webmap import accounts
from webmap.db import get_engine
from webmap.maps import DEFAULT_TILE_URL
from webmap.permissions import UnauthorizedError, current_scope

bp = Blueprint("auth", __name__)

_DEFAULTS: dict[str, Any] = {
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    "LOGIN_LOCKOUT_SECONDS": 15 * 60,
    "LOGIN_SESSION_LIFETIME": timedelta(hours=12),
    "TILE_URL": DEFAULT_TILE_URL,
}


class LoginUser(UserMixin):
    """The Flask-Login face of an :class:`webmap.accounts.User`."""

    def __init__(self, account: accounts.User, *, via_token: bool = False) -> None:
        self.account = account
        self.id = account.id
        self.via_token = via_token

    @property
    def is_active(self) -> bool:
        """Disabled accounts cannot sign in."""
        return self.account.active


class _CSRFProtect(CSRFProtect):
    """CSRF on every form, except requests authenticated by a Bearer token.

    A browser cannot be made to send an ``Authorization`` header cross-site, so such requests
    need no CSRF token; a Bearer header that does not authenticate is answered with 401.
    """

    def protect(self, apply_exemptions: bool = False) -> None:
        unsafe = request.method in current_app.config["WTF_CSRF_METHODS"]
        if unsafe and _bearer_token() is not None:
            if current_user.is_authenticated and current_user.via_token:
                return
            raise UnauthorizedError("Invalid or revoked API token.")
        super().protect(apply_exemptions=apply_exemptions)


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Nama pengguna"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Kata sandi"), validators=[DataRequired(), Length(max=1024)])


def init_app(app: Flask) -> None:
    """Set up sessions (Flask-Login), API tokens, CSRF, security headers and the blueprint."""
    for key, value in _DEFAULTS.items():
        app.config.setdefault(key, value)
    lifetime = app.config["LOGIN_SESSION_LIFETIME"]
    app.config["PERMANENT_SESSION_LIFETIME"] = (
        lifetime if isinstance(lifetime, timedelta) else timedelta(seconds=int(lifetime)))
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = _l("Silakan masuk untuk membuka halaman ini.")
    manager.localize_callback = str  # evaluate the lazy text in the request's language
    manager.user_loader(_load_session_user)
    manager.request_loader(_load_token_user)
    _CSRFProtect(app)
    csp = content_security_policy(app.config.get("TILE_URL"))  # built once, not per response
    app.after_request(lambda response: _security_headers(response, csp))
    app.register_blueprint(bp)


def throttle_policy(config: Any) -> accounts.ThrottlePolicy:
    """The login throttling policy of an app's config."""
    return accounts.ThrottlePolicy(
        max_failures=int(config["LOGIN_MAX_FAILURES"]),
        window=timedelta(seconds=int(config["LOGIN_WINDOW_SECONDS"])),
        lockout=timedelta(seconds=int(config["LOGIN_LOCKOUT_SECONDS"])))


# --- views ----------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; on POST check the password (throttled) and start a session."""
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("login.html", form=form, error=None), status
    try:
        user = accounts.authenticate(get_engine(), form.username.data, form.password.data,
                                     ip=request.remote_addr,
                                     policy=throttle_policy(current_app.config))
    except accounts.LoginThrottledError as error:
        message = _("Terlalu banyak percobaan masuk yang gagal. "
                    "Coba lagi dalam %(minutes)s menit.", minutes=error.minutes)
        return render_template("login.html", form=form, error=message), 429
    if user is None:
        return render_template("login.html", form=form,
                               error=_("Nama pengguna atau kata sandi salah.")), 401
    session.clear()
    login_user(LoginUser(user))
    session.permanent = True
    return redirect(safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    """End the session (POST with the CSRF token)."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/api/me")
def me():
    """The signed-in user's scope: a way for machine clients to check their token."""
    scope = current_scope()
    if scope is None:
        raise UnauthorizedError("Sign in or send a valid API token.")
    return jsonify({"username": scope.username, "role": scope.role,
                    "city_kode": scope.city_kode, "kelurahan_kode": scope.kelurahan_kode,
                    "kecamatan_kode": scope.kecamatan_kode})


# --- loaders and hooks ----------------------------------------------------------------------------

def _load_session_user(user_id: str) -> LoginUser | None:
    if _bearer_token() is not None:  # a Bearer request is authenticated by its token only
        return None
    account = accounts.get_user(get_engine(), int(user_id))
    return LoginUser(account) if account and account.active else None


def _load_token_user(_request: Any) -> LoginUser | None:
    token = _bearer_token()
    if not token:
        return None
    account = accounts.find_user_by_token(get_engine(), token)
    if account is None:
        return None
    return LoginUser(account, via_token=True)


def _bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer ...`` header ("" when empty), else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _security_headers(response: Response, csp: str) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    return response


def content_security_policy(tile_url: str | None) -> str:
    """The CSP: no external scripts; images from ourselves, data: URIs and the tile host."""
    images = " ".join(["'self'", "data:", *([_tile_origin(tile_url)] if tile_url else [])])
    return ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; connect-src 'self'; frame-ancestors 'none'")


def _tile_origin(tile_url: str) -> str:
    """``https://{s}.tile.openstreetmap.org/{z}/...`` -> ``https://*.tile.openstreetmap.org``."""
    match = re.match(r"^(?:(https?):)?//([^/?#]+)", tile_url.strip())
    if match is None:  # a relative URL: tiles served by ourselves
        return "'self'"
    host = re.sub(r"\{[^}]*\}", "*", match.group(2))
    return f"{match.group(1) or 'https'}://{host}"


def safe_next(target: str | None) -> str:
    r"""``target`` when it is a same-site path, else the home page (no open redirects).

    Only paths starting with a single ``/`` pass: not ``//evil`` nor ``https://evil``, and
    nothing with a backslash or a control character, which browsers drop or turn into ``/``
    (``/\t/evil`` is followed as ``//evil``).
    """
    if target and _is_local_path(target):
        return target
    return url_for("home.index")


def _is_local_path(target: str) -> bool:
    if "\\" in target or any(unicodedata.category(c) == "Cc" for c in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
