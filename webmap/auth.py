"""Signing in and out: Flask-Login sessions, Bearer API tokens, CSRF and security headers.

Config keys (defaults set by :func:`init_app` unless already configured):

``LOGIN_MAX_FAILURES`` / ``LOGIN_MAX_FAILURES_PER_IP``
    failed sign-ins allowed per account (default 5, from any address) and per client address
    (default 50, for any account: a whole office behind one NAT address shares it) within
    ``LOGIN_WINDOW_SECONDS`` (default 900) of the first failure; past either limit, attempts
    are refused unchecked for ``LOGIN_LOCKOUT_SECONDS`` (default 900).  The count is atomic in
    the database (see :mod:`webmap.accounts`), so parallel attempts cannot pass it.
``LOGIN_SESSION_LIFETIME``
    how long a session lasts (timedelta or seconds; default 12 hours); copied into Flask's
    ``PERMANENT_SESSION_LIFETIME``.
``TILE_URL``
    the basemap tile URL template; its host is the one external image origin the CSP allows.
``SESSION_COOKIE_SECURE``
    True: the session cookie is always marked Secure (sent over HTTPS only).  Left False (the
    default), it is marked Secure whenever the request came over HTTPS or
    ``PREFERRED_URL_SCHEME`` is ``https``, and not on plain http://127.0.0.1 in development.
``BEHIND_PROXY``
    the number of reverse proxies in front of the app (default 0).  Set it (e.g. 1 behind one
    nginx that sets ``X-Forwarded-For`` and ``X-Forwarded-Proto``) so that the client's address
    (for throttling) and HTTPS (for the Secure cookie) are taken from those headers
    (werkzeug's ``ProxyFix``); never set it when clients reach the app directly, as they could
    then choose their own address.

Sessions are revocable: a session holds its user's ``session_version``; signing out, changing
the password (here, on the admin page or with ``flask users``) and disabling the user raise
it, which ends every session of that user (sign-out too ends them all, on every device).
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    has_request_context,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask.sessions import SecureCookieSessionInterface
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from webmap import accounts
from webmap.db import get_engine
from webmap.maps import DEFAULT_TILE_URL
from webmap.permissions import ForbiddenError, UnauthorizedError, current_scope

bp = Blueprint("auth", __name__)

_DEFAULTS: dict[str, Any] = {
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_IP": 50,
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    "LOGIN_LOCKOUT_SECONDS": 15 * 60,
    "LOGIN_SESSION_LIFETIME": timedelta(hours=12),
    "BEHIND_PROXY": 0,
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


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with a Secure cookie whenever HTTPS is in use."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """True when configured so, or when this request or the app's URL scheme is https."""
        return bool(app.config.get("SESSION_COOKIE_SECURE")
                    or app.config.get("PREFERRED_URL_SCHEME") == "https"
                    or (has_request_context() and request.is_secure))


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Nama pengguna"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Kata sandi"), validators=[DataRequired(), Length(max=1024)])


class PasswordChangeForm(FlaskForm):
    """The current password and the new one, twice."""

    current = PasswordField(_l("Kata sandi sekarang"),
                            validators=[DataRequired(), Length(max=1024)])
    new = PasswordField(_l("Kata sandi baru"), validators=[DataRequired(), Length(max=1024)])
    repeat = PasswordField(_l("Ulangi kata sandi baru"), validators=[
        DataRequired(), EqualTo("new", message=_l("Kedua kata sandi baru tidak sama."))])


def init_app(app: Flask) -> None:
    """Set up sessions (Flask-Login), API tokens, CSRF, security headers and the blueprint."""
    for key, value in _DEFAULTS.items():
        app.config.setdefault(key, value)
    lifetime = app.config["LOGIN_SESSION_LIFETIME"]
    app.config["PERMANENT_SESSION_LIFETIME"] = (
        lifetime if isinstance(lifetime, timedelta) else timedelta(seconds=int(lifetime)))
    _serve_behind_proxy(app)
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = _l("Silakan masuk untuk membuka halaman ini.")
    manager.localize_callback = str  # evaluate the lazy text in the request's language
    manager.user_loader(_load_session_user)
    manager.request_loader(_load_token_user)
    _CSRFProtect(app)
    tile_url = app.config.get("TILE_URL")
    app.after_request(lambda response: _security_headers(response, tile_url))
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.register_blueprint(bp)


def _serve_behind_proxy(app: Flask) -> None:
    """Trust ``BEHIND_PROXY`` proxies' forwarded headers; Secure session cookies over HTTPS."""
    app.session_interface = _SessionInterface()
    proxies = int(app.config["BEHIND_PROXY"] or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_port=proxies)


def throttle_policy(config: Any) -> accounts.ThrottlePolicy:
    """The login throttling policy of an app's config."""
    return accounts.ThrottlePolicy(
        max_failures=int(config["LOGIN_MAX_FAILURES"]),
        max_failures_per_ip=int(config["LOGIN_MAX_FAILURES_PER_IP"]),
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
        return render_template("login.html", form=form, error=_throttled_message(error)), 429
    if user is None:
        return render_template("login.html", form=form,
                               error=_("Nama pengguna atau kata sandi salah.")), 401
    start_session(user)
    return redirect(safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    """End the session and every other session of the user (POST with the CSRF token)."""
    if current_user.is_authenticated and not current_user.via_token:
        accounts.end_sessions(get_engine(), current_user.account.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/akun/kata-sandi", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (the current one is checked, throttled like a sign-in).

    Every other session of the user ends; this one goes on.
    """
    if current_user.via_token:
        raise ForbiddenError("An API token cannot change its user's password.")
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return _password_page(form, problems=form_problems(form)), status
    username = current_user.account.username
    try:
        checked = accounts.authenticate(get_engine(), username, form.current.data,
                                        ip=request.remote_addr,
                                        policy=throttle_policy(current_app.config))
    except accounts.LoginThrottledError as error:
        return _password_page(form, problems=[_throttled_message(error)]), 429
    if checked is None:
        return _password_page(form, problems=[_("Kata sandi sekarang salah.")]), 422
    try:
        user = accounts.set_password(get_engine(), username, form.new.data)
    except accounts.AccountError as error:
        return _password_page(form, problems=problem_texts(error.problems)), 422
    start_session(user)
    flash(_("Kata sandi diganti. Sesi lain akun ini sudah diakhiri."))
    return redirect(url_for("auth.change_password"))


def problem_texts(problems: list[Any]) -> list[str]:
    """Problems of an AccountError as shown on a page: a password's reasons translated."""
    return [_("Kata sandi: %(reason)s", reason=_(accounts.WEAK_PASSWORD_REASONS[p.code],
                                                 min=accounts.MIN_PASSWORD_LENGTH))
            if isinstance(p, accounts.PasswordProblem) else str(p) for p in problems]


def _password_page(form: PasswordChangeForm, *, problems: list[str]) -> str:
    return render_template("account_password.html", form=form, problems=problems,
                           min_password=accounts.MIN_PASSWORD_LENGTH)


def form_problems(form: FlaskForm) -> list[str]:
    """A form's validation errors, one line per field: "label: errors"."""
    return [f"{form[name].label.text}: {', '.join(map(str, errors))}"
            for name, errors in form.errors.items()]


def _throttled_message(error: accounts.LoginThrottledError) -> str:
    return _("Terlalu banyak percobaan masuk yang gagal. "
             "Coba lagi dalam %(minutes)s menit.", minutes=error.minutes)


def start_session(user: accounts.User) -> None:
    """A fresh session for ``user``, holding the user's current session version."""
    session.clear()
    login_user(LoginUser(user))
    session["session_version"] = user.session_version
    session.permanent = True


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
    if not accounts.session_is_current(account, session.get("session_version")):
        return None  # signed out, password changed or user disabled since this session began
    return LoginUser(account)


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


def csp_nonce() -> str:
    """The request's script nonce: templates put it on every inline ``<script>`` they serve.

    Random per response (128 bits), so a script injected into a page cannot carry it; the
    Content-Security-Policy header of the same response names it (:func:`content_security_policy`).
    """
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _security_headers(response: Response, tile_url: str | None) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(tile_url, csp_nonce()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    return response


def content_security_policy(tile_url: str | None, nonce: str) -> str:
    """The CSP: scripts only from ourselves or inline with the response's ``nonce`` (no inline
    event handlers, no ``javascript:`` URLs); images from ourselves, data: URIs and the tile
    host.  Inline styles stay allowed (Leaflet and folium set them)."""
    images = " ".join(["'self'", "data:", *([_tile_origin(tile_url)] if tile_url else [])])
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
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
