"""The siting page in a real headless Chromium: a small waste siting run from the form, the
job page polling until the result is there, the result map with its sites, and no console
error (a CSP violation is one) on the way."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.browser.conftest import TILE_URL, login, screenshot
from tests.webmap.conftest import PASSWORD, write_city
from tests.webmap.test_scenarios import make_siting_app

#: What the Leaflet map holds: candidate points, excluded parts and service circles.
DRAWN_LAYERS = """() => {
  const map = window[document.querySelector(".folium-map").id];
  const drawn = {candidates: 0, exclusions: 0, circles: 0};
  map.eachLayer(layer => {
    const properties = layer.feature ? layer.feature.properties : {};
    if (properties.alasan !== undefined) { drawn.candidates += 1; }
    if (properties.aturan !== undefined) { drawn.exclusions += 1; }
    if (layer instanceof L.Circle) { drawn.circles += 1; }
  });
  return drawn;
}"""


@pytest.fixture
def live_app(tmp_path):
    """The siting test city (population raster, a river, candidates in ``calon.csv``) served
    with CSRF on, and the planner ``rina``."""
    from webmap import accounts
    from webmap.database import sqlite_url
    from webmap.db import dispose_engine, get_engine

    app = make_siting_app(sqlite_url(tmp_path / "b.db"), write_city(tmp_path / "kota.geojson"),
                          tmp_path, WTF_CSRF_ENABLED=True, TILE_URL=TILE_URL)
    accounts.create_user(get_engine(app), username="rina", password=PASSWORD, role="perencana")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
    dispose_engine(app)


def test_a_waste_siting_runs_from_the_page_to_its_map(page, tmp_path):
    login(page, "rina")
    page.goto(page.base + "/tapak")
    page.set_input_files("#sampah-candidates", str(tmp_path / "calon.csv"))
    page.fill("#sampah-save", "Uji peramban")
    page.click("#waste-form button[type=submit]")
    page.wait_for_url("**/tapak/tugas/**")
    page.wait_for_selector("#sites", timeout=180_000)  # the job page reloads when it is done
    page.wait_for_selector(".leaflet-control-layers")
    assert page.console_errors == []
    sites = page.locator("#sites tbody tr")
    assert sites.count() == 1 and "TIMUR" in sites.first.inner_text()
    chosen = page.locator(".leaflet-marker-pane .awesome-marker .fa-star")
    assert chosen.count() == 1  # the chosen site's marker
    drawn = page.evaluate(DRAWN_LAYERS)
    assert (drawn["candidates"], drawn["circles"]) == (3, 1) and drawn["exclusions"] > 0
    assert "Uji peramban" in page.locator("#scenario-name").inner_text()
    screenshot(page, "tapak_result")
    assert page.console_errors == []
