"""Real-browser tests: the app served by a WSGI server in a thread, driven in Debian's Chromium.

Chromium comes from Debian (`/usr/bin/chromium`, installed by `make test`); Playwright never
downloads a browser.  Screenshots go to ``test-artifacts/``.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import ROOT
from tests.webmap.conftest import PASSWORD, make_app, write_city

CHROMIUM = "/usr/bin/chromium"
#: A basemap host that does not exist: the browser's requests to it are answered by the test
#: (a blank tile), standing in for the city's tile server; nothing leaves the machine.
TILE_URL = "http://tiles.petakota.invalid/{z}/{x}/{y}.png"
_BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4b20000000049454e44ae426082")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


#: Username, role and area of the users of the live app (one per role).
USERS = [("admin", "admin", {}), ("rina", "perencana", {}), ("budi", "tim_lapangan", {}),
         ("lurah.a", "lurah", {"kelurahan_kode": "99.01.01.1001"}),
         ("camat", "camat", {"kecamatan_kode": "99.01.01"})]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(tmp_path):
    """The app on SQLite with the two-square city, a blank spot and a user per role."""
    from tests.webmap.test_analysis_cli import MARCH
    from webmap import accounts
    from webmap.database import sqlite_url
    from webmap.db import dispose_engine, get_engine

    app = make_app(sqlite_url(tmp_path / "b.db"), write_city(tmp_path / "kota.geojson"),
                   tmp_path, rows=MARCH, WTF_CSRF_ENABLED=True, TILE_URL=TILE_URL)
    engine = get_engine(app)
    for name, role, area in USERS:
        accounts.create_user(engine, username=name, password=PASSWORD, role=role, **area)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()  # the listening socket
    thread.join(timeout=10)
    dispose_engine(app)


@pytest.fixture
def page(browser, live_app):
    """A fresh browser page that records console errors and every requested URL."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.requested = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.on("request", lambda r: page.requested.append(r.url))
    page.route("http://tiles.petakota.invalid/**",
               lambda route: route.fulfill(status=200, body=_BLANK_PNG, content_type="image/png"))
    page.base = live_app
    yield page
    context.close()


def login(page, username: str) -> None:
    page.goto(page.base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
