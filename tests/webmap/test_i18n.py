"""Interface language: Indonesian by default, English on request, catalog complete."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.webmap.conftest import KEL_A, signed_in
from webmap import create_app
from webmap.db import dispose_engine

WEBMAP = Path(__file__).resolve().parents[2] / "webmap"
CATALOG = WEBMAP / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "N_": None}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(WEBMAP), METHODS, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_interface_text_has_an_english_translation():
    with CATALOG.open("rb") as source:
        catalog = read_po(source)
    translated = {m.id: m.string for m in catalog if m.id and m.string and "fuzzy" not in m.flags}
    texts = _extracted()
    assert len(texts) > 50
    missing = sorted(texts - set(translated))
    assert missing == [], f"run `make translations` and translate: {missing[:20]}"
    for text in texts:
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(translated[text])), text


@pytest.fixture
def app(tmp_path):
    from webmap.database import create_db_engine, sqlite_url, upgrade_database

    url = sqlite_url(tmp_path / "i18n.db")
    engine = create_db_engine(url)
    upgrade_database(engine)
    engine.dispose()
    application = create_app({"TESTING": True, "DATABASE_URL": url, "WTF_CSRF_ENABLED": False,
                              "ARCHIVE_DIR": str(tmp_path / "archive")})
    yield application
    dispose_engine(application)


def test_indonesian_is_the_default_even_for_english_browsers(app):
    html = app.test_client().get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}
                                 ).get_data(as_text=True)
    assert '<html lang="id">' in html and "Nama pengguna" in html and "Username" not in html


def test_lang_parameter_and_switch_remember_english(app):
    client = app.test_client()
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Username" in html and "Sign in" in html
    # the switch keeps the choice in a cookie and goes back where the user was
    response = client.get("/bahasa/en?next=/login")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "petakota_lang=en" in response.headers["Set-Cookie"]
    assert "Username" in client.get("/login").get_data(as_text=True)
    client.get("/bahasa/id?next=/login")
    assert "Nama pengguna" in client.get("/login").get_data(as_text=True)


def test_switch_ignores_unknown_languages_and_foreign_redirects(app):
    client = app.test_client()
    response = client.get("/bahasa/fr?next=//evil.example/")
    assert response.status_code == 302 and "evil" not in response.headers["Location"]
    assert "Set-Cookie" not in response.headers


def test_numbers_and_dates_follow_the_locale(app):
    from datetime import date

    from webmap.i18n import date as format_date_filter
    from webmap.i18n import number

    with app.test_request_context("/"):
        assert number(1234567.891, 1) == "1.234.567,9"
        assert number(None) == "-" and number(float("nan"), 2) == "-"
        assert format_date_filter(date(2026, 8, 17)) == "17 Agu 2026"
    with app.test_request_context("/?lang=en"):
        assert number(1234567.891, 1) == "1,234,567.9"
        assert format_date_filter(date(2026, 8, 17)) == "Aug 17, 2026"


def test_messages_from_python_are_translated(app):
    client = app.test_client()
    wrong = client.post("/login?lang=en", data={"username": "x", "password": "y"})
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.get_data(True)
    wrong = client.post("/login", data={"username": "x", "password": "y"})
    assert "Nama pengguna atau kata sandi salah." in wrong.get_data(as_text=True)


def test_error_pages_speak_the_language_and_api_errors_stay_json(app):
    from tests.webmap.conftest import write_city

    runner = app.test_cli_runner()
    runner.invoke(args=["import-boundaries", str(write_city(Path(app.instance_path) / "k.json"))])
    lurah = signed_in(app, "lurah.a", "lurah", kelurahan_kode=KEL_A)
    page = lurah.get("/kelurahan/99.01.01.1002?lang=en")
    assert page.status_code == 403 and "Access denied" in page.get_data(as_text=True)
    assert page.mimetype == "text/html"
    api = lurah.get("/api/kelurahan/99.01.01.1002?lang=en")
    assert api.status_code == 403 and "99.01.01.1002" in api.get_json()["error"]
