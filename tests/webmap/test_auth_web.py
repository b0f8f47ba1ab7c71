"""Sign-in pages, API tokens, CSRF, security headers, permissions and the ``users`` commands."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from tests.webmap.conftest import KEL_A, KEL_B, write_city
from webmap import accounts, create_app
from webmap.permissions import (
    ForbiddenError,
    Scope,
    can_view_kelurahan,
    require_kelurahan_access,
    require_role,
)

PASSWORD = "kata-sandi-rahasia"


def _make_app(db_url, tmp_path, **config):
    from webmap.db import get_engine
    from webmap.ingest import IngestOptions, import_boundaries

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "WTF_CSRF_ENABLED": False,
                      "ARCHIVE_DIR": str(tmp_path / "archive"), **config})

    @app.get("/test/kelurahan/<kode>")
    def _kelurahan(kode):
        scope = require_kelurahan_access(kode)
        return {"kode": kode, "role": scope.role}

    @app.get("/test/perencana")
    @require_role("perencana", "admin")
    def _perencana():
        return "ok"

    engine = get_engine(app)
    import_boundaries(engine, write_city(tmp_path / "kota_uji.geojson"),
                      IngestOptions(archive_dir=tmp_path / "archive", uploaded_by="tester"))
    for name, role, extra in [("admin", "admin", {}), ("rina", "perencana", {}),
                              ("lurah.a", "lurah", {"kelurahan_kode": KEL_A}),
                              ("camat.barat", "camat", {"kecamatan_kode": "99.01.01"})]:
        accounts.create_user(engine, username=name, password=PASSWORD, role=role, **extra)
    return app


@pytest.fixture
def app(db_url, tmp_path):
    from webmap.db import dispose_engine

    app = _make_app(db_url, tmp_path)
    yield app
    dispose_engine(app)


@pytest.fixture
def csrf_app(db_url, tmp_path):
    from webmap.db import dispose_engine

    app = _make_app(db_url, tmp_path, WTF_CSRF_ENABLED=True)
    yield app
    dispose_engine(app)


def login(client, username, password=PASSWORD, **extra):
    return client.post("/login", data={"username": username, "password": password, **extra})


# --- sign-in ------------------------------------------------------------------------------------

def test_login_page_is_indonesian_and_has_no_external_assets(app):
    page = app.test_client().get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Nama pengguna" in html and "Kata sandi" in html and 'lang="id"' in html
    assert "http://" not in html and "https://" not in html


def test_login_sets_a_lax_httponly_session_cookie(app):
    client = app.test_client()
    response = login(client, "rina")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" in cookie  # a permanent session with the configured lifetime
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json["role"] == "perencana"


def test_secure_cookie_and_session_lifetime_follow_config(db_url, tmp_path):
    from datetime import timedelta

    from webmap.db import dispose_engine

    app = _make_app(db_url, tmp_path, SESSION_COOKIE_SECURE=True, LOGIN_SESSION_LIFETIME=3600)
    try:
        assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=1)
        response = login(app.test_client(), "rina")
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        dispose_engine(app)


def test_wrong_password_is_refused_and_next_must_be_local(app):
    client = app.test_client()
    wrong = login(client, "rina", "salah-sandi-123")
    assert wrong.status_code == 401 and "salah" in wrong.get_data(as_text=True)
    assert client.get("/api/me").status_code == 401
    evil = client.post("/login?next=//evil.example/x",
                       data={"username": "rina", "password": PASSWORD})
    assert evil.headers["Location"] == "/"
    local = client.post("/login?next=/admin/users", data={"username": "rina",
                                                           "password": PASSWORD})
    assert local.headers["Location"] == "/admin/users"


@pytest.mark.parametrize("target", [
    "/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example", "/%5C/evil.example",
    "/%5Cevil.example", "%5C%5Cevil.example", "///evil.example", "https://evil.example/",
    "https:/evil.example", "javascript:alert(1)", "evil.example", "/x%00y", "/x%7Fy",
    "/x%C2%85y"])
def test_next_refuses_foreign_and_ambiguous_targets(app, target):
    client = app.test_client()
    response = client.post(f"/login?next={target}",
                           data={"username": "rina", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    switched = client.get(f"/bahasa/en?next={target}")
    assert switched.status_code == 302 and switched.headers["Location"] == "/"


def test_next_keeps_local_paths_with_queries(app):
    client = app.test_client()
    response = client.post("/login?next=/fasilitas%3Fpage%3D2%26type%3Dtps",
                           data={"username": "rina", "password": PASSWORD})
    assert response.headers["Location"] == "/fasilitas?page=2&type=tps"
    assert client.get("/bahasa/en?next=/peta").headers["Location"] == "/peta"


def test_sixth_attempt_after_five_failures_is_throttled(app):
    client = app.test_client()
    for _ in range(5):
        assert login(client, "rina", "salah-sandi-123").status_code == 401
    throttled = login(client, "rina")
    assert throttled.status_code == 429
    assert "Terlalu banyak percobaan" in throttled.get_data(as_text=True)
    assert client.get("/api/me").status_code == 401


def test_logout_ends_the_session(app):
    client = app.test_client()
    login(client, "rina")
    assert client.post("/logout").headers["Location"] == "/login"
    assert client.get("/api/me").status_code == 401


def test_disabled_user_loses_the_session(app):
    from webmap.db import get_engine

    client = app.test_client()
    login(client, "rina")
    accounts.set_active(get_engine(app), "rina", False)
    assert client.get("/api/me").status_code == 401


# --- API tokens ---------------------------------------------------------------------------------

def test_token_authenticates_until_revoked(app):
    from webmap.db import get_engine

    token_id, token = accounts.create_token(get_engine(app), "lurah.a")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/me", headers=headers)
    assert me.status_code == 200 and me.json["kelurahan_kode"] == KEL_A
    assert "Set-Cookie" not in me.headers
    assert client.get(f"/test/kelurahan/{KEL_A}", headers=headers).status_code == 200
    assert client.get(f"/test/kelurahan/{KEL_B}", headers=headers).status_code == 403
    assert client.get("/test/perencana", headers=headers).status_code == 403
    accounts.revoke_token(get_engine(app), token_id)
    revoked = client.get("/api/me", headers=headers)
    assert revoked.status_code == 401 and "error" in revoked.json
    assert client.get("/test/perencana", headers=headers).status_code == 401


def test_bearer_header_overrides_the_session(app):
    client = app.test_client()
    login(client, "rina")
    assert client.get("/api/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_bearer_post_needs_no_csrf_token_but_a_valid_token(csrf_app):
    from webmap.db import get_engine

    _, token = accounts.create_token(get_engine(csrf_app), "rina")
    client = csrf_app.test_client()
    ok = client.post("/logout", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 302
    bad = client.post("/logout", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


# --- permissions --------------------------------------------------------------------------------

def test_lurah_of_a_is_refused_kelurahan_b(app):
    client = app.test_client()
    login(client, "lurah.a")
    assert client.get(f"/test/kelurahan/{KEL_A}").json == {"kode": KEL_A, "role": "lurah"}
    refused = client.get(f"/test/kelurahan/{KEL_B}")
    assert refused.status_code == 403 and KEL_B in refused.get_data(as_text=True)
    assert "Akses ditolak" in refused.get_data(as_text=True)  # an HTML page for a browser
    as_json = client.get(f"/test/kelurahan/{KEL_B}", headers={"Accept": "application/json"})
    assert as_json.status_code == 403 and KEL_B in as_json.json["error"]


def test_errors_of_requests_with_an_authorization_header_are_json(app):
    from webmap.db import get_engine

    _, token = accounts.create_token(get_engine(app), "lurah.a")
    refused = app.test_client().get(f"/test/kelurahan/{KEL_B}",
                                    headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.mimetype == "application/json"
    assert KEL_B in refused.json["error"]


def test_camat_sees_the_kelurahan_of_the_kecamatan(app):
    client = app.test_client()
    login(client, "camat.barat")
    assert client.get(f"/test/kelurahan/{KEL_B}").status_code == 200
    assert client.get("/test/kelurahan/99.01.02.2001").status_code == 403


def test_anonymous_gets_login_redirect_on_pages_and_401_on_api(app):
    client = app.test_client()
    page = client.get("/admin/users")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    assert client.get("/admin/users", headers={"Accept": "application/json"}).status_code == 401
    assert client.get(f"/test/kelurahan/{KEL_A}").status_code == 401


def test_can_view_kelurahan_by_role():
    lurah = Scope(role="lurah", city_kode="99.01", kelurahan_kode=KEL_A)
    camat = Scope(role="camat", city_kode="99.01", kecamatan_kode="99.01.01")
    planner = Scope(role="perencana", city_kode="99.01")
    assert can_view_kelurahan(lurah, KEL_A, "99.01.01")
    assert not can_view_kelurahan(lurah, KEL_B, "99.01.01")
    assert can_view_kelurahan(camat, KEL_B, "99.01.01")
    assert not can_view_kelurahan(camat, KEL_B, "99.01.02")
    assert can_view_kelurahan(planner, KEL_B, None)
    assert not can_view_kelurahan(planner, KEL_B, None, city_kode="14.72")
    assert can_view_kelurahan(Scope(role="admin"), KEL_B, None, city_kode="14.72")
    assert not can_view_kelurahan(None, KEL_A, None)
    with pytest.raises(ForbiddenError):
        require_kelurahan_access(KEL_B, "99.01.01", scope=lurah)


def test_visible_kelurahan_follows_the_scope():
    import pandas as pd

    from webmap.permissions import visible_kelurahan

    kelurahan = pd.DataFrame({"kode": [KEL_A, KEL_B, "99.01.02.2001"],
                              "kecamatan_kode": ["99.01.01", "99.01.01", "99.01.02"],
                              "nama": ["A", "B", "C"]})
    lurah = Scope(role="lurah", city_kode="99.01", kelurahan_kode=KEL_A)
    camat = Scope(role="camat", city_kode="99.01", kecamatan_kode="99.01.01")
    assert list(visible_kelurahan(lurah, kelurahan)["kode"]) == [KEL_A]
    assert list(visible_kelurahan(camat, kelurahan)["kode"]) == [KEL_A, KEL_B]
    for role in ("admin", "perencana", "tim_lapangan"):
        scope = Scope(role=role, city_kode=None if role == "admin" else "99.01")
        assert visible_kelurahan(scope, kelurahan).equals(kelurahan)
    none = visible_kelurahan(lurah, kelurahan.iloc[:0])
    assert none.empty and list(none.columns) == ["kode", "kecamatan_kode", "nama"]


def test_role_lists_are_defined_once_in_permissions():
    from webmap import permissions

    assert permissions.ALL_ROLES == accounts.ROLES
    assert set(permissions.CITY_ROLES) == {"admin", "perencana", "tim_lapangan"}
    assert set(permissions.UPLOAD_ROLES) == {"admin", "perencana", "tim_lapangan"}


# --- admin page and CSRF -------------------------------------------------------------------------

def test_admin_user_page_is_for_admins_only(app):
    client = app.test_client()
    login(client, "rina")
    assert client.get("/admin/users").status_code == 403
    client.post("/logout")
    login(client, "admin")
    page = client.get("/admin/users")
    assert page.status_code == 200 and "lurah.a" in page.get_data(as_text=True)


def test_admin_creates_a_user_and_sees_validation_problems(app):
    client = app.test_client()
    login(client, "admin")
    created = client.post("/admin/users", data={"username": "budi", "password": PASSWORD,
                                                "role": "tim_lapangan"})
    assert created.status_code == 302
    assert "budi" in client.get("/admin/users").get_data(as_text=True)
    refused = client.post("/admin/users", data={"username": "lurah.b", "password": PASSWORD,
                                                "role": "lurah"})
    assert refused.status_code == 422 and "needs a kelurahan" in refused.get_data(as_text=True)


def _token_in(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_posts_without_csrf_token_are_rejected(csrf_app):
    client = csrf_app.test_client()
    assert login(client, "admin").status_code == 400  # the login form is protected too
    token = _token_in(client.get("/login").get_data(as_text=True))
    assert login(client, "admin", csrf_token=token).status_code == 302
    data = {"username": "budi", "password": PASSWORD, "role": "tim_lapangan"}
    assert client.post("/admin/users", data=data).status_code == 400
    assert client.post("/logout").status_code == 400
    token = _token_in(client.get("/admin/users").get_data(as_text=True))
    assert client.post("/admin/users", data={**data, "csrf_token": token}).status_code == 302
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/me").status_code == 401


def test_csrf_failure_asks_to_reload_in_the_users_language(csrf_app):
    client = csrf_app.test_client()
    page = login(client, "admin")
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "kedaluwarsa" in html and "Muat ulang halaman" in html and "CSRF" not in html
    english = client.post("/login?lang=en", data={"username": "admin", "password": PASSWORD})
    assert english.status_code == 400 and "Reload the page" in english.get_data(as_text=True)
    api = client.post("/login", data={"username": "admin", "password": PASSWORD},
                      headers={"Accept": "application/json"})
    assert api.status_code == 400 and "Muat ulang halaman" in api.json["error"]


# --- security headers ---------------------------------------------------------------------------

def _directives(csp: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in csp.split(";") if d.strip())}


@pytest.mark.parametrize("path", ["/login", "/", "/api/me", "/nowhere"])
def test_security_headers_on_every_response(app, path):
    response = app.test_client().get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'", f"'nonce-{_nonce(response)}'"]
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]


def _nonce(response) -> str:
    """The script nonce the response's Content-Security-Policy allows."""
    match = re.search(r"'nonce-([A-Za-z0-9_-]{22,})'", response.headers["Content-Security-Policy"])
    assert match, response.headers["Content-Security-Policy"]
    return match.group(1)


class ScriptsAndHandlers(HTMLParser):
    """The ``<script>`` elements of a page (attributes and text), its inline event handler
    attributes (``onclick=...``) and its ``javascript:`` URLs."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.handlers: list[str] = []
        self._open: dict[str, str | None] | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"<{tag} {name}>" for name, value in attrs if name.startswith("on")
                          or (value or "").strip().lower().startswith("javascript:")]
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None

    def inline_code(self) -> list[tuple[dict[str, str | None], str]]:
        """Scripts the browser runs from the page itself (no ``src``, a JavaScript type)."""
        return [(attrs, text) for attrs, text in self.scripts if "src" not in attrs
                and (attrs.get("type") or "text/javascript") in ("text/javascript", "module")]


#: Pages of the test city for an admin (each with what it shows: maps, filters, forms, tables).
PAGES = ["/", "/login", "/peta", f"/kelurahan/{KEL_A}", "/fasilitas", "/fasilitas/baru",
         "/fasilitas/impor", "/dasbor", "/unggah", "/admin/users", "/nowhere"]


def test_csp_nonce_differs_per_response(app):
    client = app.test_client()
    nonces = {_nonce(client.get("/login")) for _ in range(5)}
    assert len(nonces) == 5
    assert "unsafe-inline" not in _directives(
        client.get("/login").headers["Content-Security-Policy"])["script-src"]


def test_every_inline_script_carries_the_nonce_and_no_page_has_inline_handlers(app):
    client = app.test_client()
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}
                       ).status_code == 302
    inline_seen = 0
    for path in PAGES:
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        page = ScriptsAndHandlers(response.get_data(as_text=True))
        nonce = _nonce(response)
        for attrs, _code in page.inline_code():
            assert attrs.get("nonce") == nonce, (path, attrs)
            inline_seen += 1
        assert page.handlers == [], path
    assert inline_seen >= 4  # the three maps' scripts and the kelurahan search


def test_default_tile_url_is_the_maps_one(app):
    from webmap import maps

    assert app.config["TILE_URL"] == maps.DEFAULT_TILE_URL


def test_csp_image_host_follows_tile_url(db_url, tmp_path):
    from webmap.db import dispose_engine

    app = _make_app(db_url, tmp_path,
                    TILE_URL="https://tiles.example.go.id/{z}/{x}/{y}.png")
    try:
        csp = _directives(app.test_client().get("/login").headers["Content-Security-Policy"])
        assert csp["img-src"][-1] == "https://tiles.example.go.id"
    finally:
        dispose_engine(app)


# --- users commands -----------------------------------------------------------------------------

def test_cli_create_with_password_stdin_then_login(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--username", "Siti", "--role", "lurah",
                                 "--kelurahan", KEL_B, "--password-stdin", "--json"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["username"], report["kelurahan_kode"]) == ("siti", KEL_B)
    assert login(app.test_client(), "siti").status_code == 302
    listing = runner.invoke(args=["users", "list"])
    assert "siti\tlurah\t99.01\t" + KEL_B in listing.output


def test_cli_validation_errors_exit_1(app):
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["users", "create", "--username", "lurah.x", "--role", "lurah",
                                  "--password-stdin"], input=PASSWORD + "\n")
    assert missing.exit_code == 1 and "needs a kelurahan code (--kelurahan)" in missing.output
    unknown = runner.invoke(args=["users", "create", "--username", "lurah.x", "--role", "lurah",
                                  "--kelurahan", "99.01.01.9999", "--password-stdin", "--json"],
                            input=PASSWORD + "\n")
    assert unknown.exit_code == 1
    [problem] = json.loads(unknown.output)["problems"]
    assert problem["value"] == "99.01.01.9999" and "no kelurahan" in problem["reason"]
    camat = runner.invoke(args=["users", "create", "--username", "camat.x", "--role", "camat",
                                "--password-stdin"], input=PASSWORD + "\n")
    assert camat.exit_code == 1 and "--kecamatan" in camat.output


def test_cli_password_prompt_disable_set_password_and_tokens(app):
    runner = app.test_cli_runner()
    prompted = runner.invoke(args=["users", "create", "--username", "budi",
                                   "--role", "tim_lapangan"],
                             input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    changed = runner.invoke(args=["users", "set-password", "--username", "budi",
                                  "--password-stdin"], input="sandi-baru-panjang\n")
    assert changed.exit_code == 0
    assert login(app.test_client(), "budi", "sandi-baru-panjang").status_code == 302
    made = runner.invoke(args=["users", "token", "--username", "budi", "--name", "hp",
                               "--json"])
    token = json.loads(made.output)
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert app.test_client().get("/api/me", headers=headers).status_code == 200
    assert "budi\thp\tactive" in runner.invoke(args=["users", "tokens"]).output
    revoked = runner.invoke(args=["users", "revoke-token", "--id", str(token["id"])])
    assert revoked.exit_code == 0
    assert app.test_client().get("/api/me", headers=headers).status_code == 401
    assert runner.invoke(args=["users", "disable", "--username", "budi"]).exit_code == 0
    assert login(app.test_client(), "budi", "sandi-baru-panjang").status_code == 401
    assert runner.invoke(args=["users", "disable", "--username", "nobody"]).exit_code == 1
