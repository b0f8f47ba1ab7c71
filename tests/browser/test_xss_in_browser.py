"""Stored XSS: hostile texts in every user-typed field that reaches a page or a map stay text.

The texts go in through the ways users have: kelurahan, kecamatan and city names in a boundary
file, operator names in a measurement file uploaded on the web under a hostile file name,
facilities imported from a hostile CSV (under a hostile file name) and typed into the facility
form, a constraint layer with a hostile name, file name and feature name.  Then every page an admin opens is read twice: as HTML (no text inside a ``<script>``
other than JSON data, no inline handler) and in Chromium, with every popup and tooltip of every
map opened (no dialog, no console error - a CSP violation is one - and no blank map).

Usernames cannot carry these texts (``webmap.accounts`` accepts ``[a-z0-9._-]`` only), which
:func:`test_usernames_refuse_hostile_texts` keeps true.
"""
from __future__ import annotations

import csv
import io
import json
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import _BLANK_PNG, TILE_URL, login
from tests.webmap.conftest import KEL_A, KEL_B, PASSWORD, make_app
from tests.webmap.test_auth_web import ScriptsAndHandlers

#: Texts that run as script, or break a script or a template, when not treated as data.
PAYLOADS = ["${alert(1)}", "`-alert(1)-`", "</script><script>alert(1)</script>",
            "<img src=x onerror=alert(1)>", "\"'><svg onload=alert(1)>", "{{7*7}}",
            "${\"'\"+alert(1)}", "${`${alert(1)}`}"]
#: Markup the payloads hold: it must never reach a page unescaped.
_MARKUP = ["<img src=x onerror", "<svg onload", "<script>alert(1)"]

HEADER = "latitude,longitude,timestamp,operator,technology,signal_dbm,no_service,device_id"
#: One point in each kelurahan of the test city (tests/webmap/conftest.py SQUARES).
_POINTS = {KEL_A: (1.6050, 101.4050), KEL_B: (1.6050, 101.4150)}


def _boundaries(path: Path) -> Path:
    """The two-square test city with hostile kelurahan, kecamatan and city names."""
    squares = {KEL_A: (101.40, 1.60, 101.41, 1.61), KEL_B: (101.41, 1.60, 101.42, 1.61)}
    features = [{"type": "Feature",
                 "geometry": {"type": "Polygon", "coordinates": [[
                     [x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]},
                 "properties": {"kode": kode, "nama": PAYLOADS[i], "kecamatan_kode": "99.01.01",
                                "kecamatan": PAYLOADS[i + 2], "kota_kode": "99.01",
                                "kota": "Kota " + PAYLOADS[4]}}
                for i, (kode, (x0, y0, x1, y1)) in enumerate(squares.items())]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _measurements() -> bytes:
    """No service in kelurahan A (a blank spot), a good signal in B; one operator per payload."""
    rows = []
    for day in range(1, 6):
        for i, operator in enumerate(PAYLOADS):
            for kode, no_service in ((KEL_A, True), (KEL_B, False)):
                lat, lon = _POINTS[kode]
                rows.append([lat, lon, f"2024-03-{day:02d}T10:{i:02d}:00", operator, "4G",
                             "" if no_service else -80, str(no_service).lower(),
                             f"dev-{day}-{i}"])
    return _csv(HEADER.split(","), rows)


def _facilities() -> bytes:
    """One facility per payload (name and operator hostile), half of them planned."""
    kinds = ["bts", "sekolah", "puskesmas", "tps"]
    rows = [[kinds[i % len(kinds)], text, PAYLOADS[-1 - i], "rencana" if i % 2 else "ada",
             1.6020 + 0.0008 * i, 101.4020 + 0.0020 * i]
            for i, text in enumerate(PAYLOADS)]
    return _csv(["jenis", "nama", "operator", "status", "latitude", "longitude"], rows)


def _layer() -> bytes:
    """A constraint layer (land that may be used) whose plot has a hostile name."""
    plot = [[101.401, 1.601], [101.403, 1.601], [101.403, 1.603], [101.401, 1.603],
            [101.401, 1.601]]
    return json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [plot]},
        "properties": {"nama": PAYLOADS[5]}}]}).encode()


def _store_hostile_texts(app) -> dict[str, int]:
    """Upload, import and type the payloads as the admin; the upload's id."""
    client = app.test_client()
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}
                       ).status_code == 302
    upload = client.post("/unggah", data={"file": (io.BytesIO(_measurements()),
                                                   PAYLOADS[3] + PAYLOADS[0] + ".csv")},
                         content_type="multipart/form-data")
    assert upload.status_code == 303, upload.get_data(as_text=True)[:2000]
    imported = client.post("/fasilitas/impor",
                           data={"file": (io.BytesIO(_facilities()), PAYLOADS[1] + ".csv")},
                           content_type="multipart/form-data")
    assert imported.status_code in (200, 303), imported.get_data(as_text=True)[:2000]
    lat, lon = _POINTS[KEL_B]
    typed = client.post("/fasilitas/baru", data={
        "type": "kantor_lurah", "nama": PAYLOADS[6], "status": "planned",
        "operator": PAYLOADS[2], "capacity": "", "latitude": lat - 0.002,
        "longitude": lon + 0.002})
    assert typed.status_code in (302, 303), typed.get_data(as_text=True)[:2000]
    layer = client.post("/lapisan", data={
        "file": (io.BytesIO(_layer()), PAYLOADS[1] + PAYLOADS[3] + ".geojson"), "kind": "lahan",
        "name": PAYLOADS[7]}, content_type="multipart/form-data")
    assert layer.status_code == 200, layer.get_data(as_text=True)[:2000]
    return {"upload_id": int(upload.headers["Location"].rstrip("/").rsplit("/", 1)[1])}


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """The app on SQLite with every payload stored, and the admin's pages to open."""
    from webmap import accounts
    from webmap.database import sqlite_url
    from webmap.db import dispose_engine, get_engine

    folder = tmp_path_factory.mktemp("xss")
    app = make_app(sqlite_url(folder / "xss.db"), _boundaries(folder / "kota.geojson"), folder,
                   TILE_URL=TILE_URL)
    accounts.create_user(get_engine(app), username="admin", password=PASSWORD, role="admin")
    accounts.create_user(get_engine(app), username="lurah.a", password=PASSWORD, role="lurah",
                         kelurahan_kode=KEL_A)
    stored = _store_hostile_texts(app)
    app.hostile_pages = [
        "/", "/peta", "/peta?indicator=blank_area_km2", f"/peta?operator={PAYLOADS[0]}",
        f"/kelurahan/{KEL_A}", f"/kelurahan/{KEL_B}", "/fasilitas", "/dasbor",
        f"/dasbor?operator={PAYLOADS[4]}", "/unggah", f"/unggah/{stored['upload_id']}",
        "/admin/users", "/fasilitas/impor", "/fasilitas/baru", "/lapisan"]
    yield app
    dispose_engine(app)


# --- the HTML ------------------------------------------------------------------------------------

def _outside_json_strings(code: str) -> str:
    """Script code with every double-quoted (JSON) string literal emptied."""
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', code)


#: The pages of the kelurahan A's lurah (the same texts through the lurah's scope).
LURAH_PAGES = ["/", f"/kelurahan/{KEL_A}", "/fasilitas"]


def test_pages_hold_hostile_texts_only_as_text_and_json(hostile_app):
    shown = set()
    for username, paths in (("admin", hostile_app.hostile_pages), ("lurah.a", LURAH_PAGES)):
        client = hostile_app.test_client()
        assert client.post("/login", data={"username": username, "password": PASSWORD}
                           ).status_code == 302
        shown |= _shown_only_as_text(client, paths)
    assert "{{7*7}}" in shown and "${alert(1)}" in shown  # stored, shown as text


def _shown_only_as_text(client, paths: list[str]) -> set[str]:
    """Check each page; the payloads shown on them (HTML-escaped)."""
    shown = set()
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        page = ScriptsAndHandlers(html)
        assert page.handlers == [], path
        assert [m for m in _MARKUP if m in html] == [], path
        for attrs, code in page.scripts:
            if attrs.get("type") == "application/json":
                json.loads(code)  # a data block: JSON, markup escaped (checked above)
            elif "src" not in attrs:
                assert "alert(1)" not in _outside_json_strings(code), (path, attrs)
        shown |= {p for p in PAYLOADS if p.replace("&", "&amp;").replace("<", "&lt;")
                  .replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;") in html}
    return shown


def test_usernames_refuse_hostile_texts(hostile_app):
    from webmap import accounts
    from webmap.db import get_engine

    for text in PAYLOADS:
        with pytest.raises(accounts.AccountError, match="username"):
            accounts.create_user(get_engine(hostile_app), username=text, password=PASSWORD,
                                 role="perencana")


# --- in Chromium ---------------------------------------------------------------------------------

#: Opens every tooltip and popup of the page's folium map (markers in clusters are put on the
#: map first) and returns how many features the map has and the texts shown.
_OPEN_EVERYTHING = """
() => {
  const element = document.querySelector('.folium-map');
  const map = element && window[element.id];  // the div itself when the script failed
  if (!map || !window.L || !(map instanceof L.Map)) { return null; }
  const layers = [];
  map.eachLayer(layer => layers.push(layer));
  for (const layer of [...layers]) {
    if (layer.getLayers) { layer.getLayers().forEach(child => layers.push(child)); }
  }
  const texts = [];
  let features = 0;
  for (const layer of new Set(layers)) {
    const at = layer.getLatLng ? layer.getLatLng()
             : (layer.getBounds && layer.getBounds().isValid() ? layer.getBounds().getCenter()
                                                               : null);
    if (layer.feature) { features += 1; }
    const own = (layer.getTooltip && layer.getTooltip()) || (layer.getPopup && layer.getPopup());
    if (!at || !(layer.feature || own)) { continue; }
    if (!map.hasLayer(layer)) { map.addLayer(layer); }
    for (const type of ['mouseover', 'click']) {
      layer.fire(type, {latlng: at}, true);
      document.querySelectorAll('.leaflet-tooltip, .leaflet-popup-content')
        .forEach(node => texts.push(node.textContent));
      layer.fire('mouseout', {latlng: at}, true);
    }
  }
  return {features: features, texts: texts};
}
"""


@pytest.fixture(scope="module")
def hostile_site(hostile_app):
    server = make_server("127.0.0.1", 0, hostile_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def watched_page(browser, hostile_site):
    """A page recording dialogs (dismissed) and console errors, signed in as the admin."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs, page.console_errors = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.route("http://tiles.petakota.invalid/**",
               lambda route: route.fulfill(status=200, body=_BLANK_PNG,
                                           content_type="image/png"))
    page.base = hostile_site
    login(page, "admin")
    yield page
    context.close()


def test_no_payload_runs_in_chromium(watched_page, hostile_app):
    page = watched_page
    assert "/login" not in page.url
    shown: list[str] = []
    problems = []
    for path in hostile_app.hostile_pages:
        response = page.goto(page.base + path)
        page.wait_for_load_state("networkidle")  # an injected <img onerror> would have fired
        assert response.status == 200, path
        if page.locator(".folium-map").count():
            opened = page.evaluate(_OPEN_EVERYTHING)
            if opened is None or opened["features"] == 0:
                problems.append((path, "blank map", opened))
            elif not opened["texts"]:
                problems.append((path, "no tooltip or popup opened", opened))
            else:
                shown += opened["texts"]
        problems += [(path, "dialog", message) for message in page.dialogs]
        problems += [(path, "console error", message) for message in page.console_errors]
        page.dialogs.clear()
        page.console_errors.clear()
    assert problems == []
    seen = {p for p in PAYLOADS if any(p in text for text in shown)}
    assert {"${alert(1)}", "`-alert(1)-`", "<img src=x onerror=alert(1)>"} <= seen, seen
