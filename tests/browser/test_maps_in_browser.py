"""The map pages in a real headless Chromium."""
from __future__ import annotations

from urllib.parse import urlparse

from tests.browser.conftest import login, screenshot


def _external(page) -> list[str]:
    local = urlparse(page.base).netloc
    return [u for u in page.requested
            if urlparse(u).scheme in ("http", "https")
            and urlparse(u).netloc not in (local, "tiles.petakota.invalid")]  # basemap tiles


def test_planner_city_map_renders_offline(page):
    login(page, "rina")
    page.goto(page.base + "/peta")
    page.wait_for_selector(".leaflet-container")
    page.wait_for_selector(".leaflet-control-layers")
    assert page.locator(".leaflet-interactive").count() > 0  # kelurahan and cells drawn
    assert "ada blank spot" in page.content()
    screenshot(page, "city_map_perencana")
    assert page.console_errors == []
    assert _external(page) == []


def test_lurah_sees_own_kelurahan_and_is_refused_another(page):
    login(page, "lurah.a")
    page.goto(page.base + "/kelurahan/99.01.01.1001")
    page.wait_for_selector(".leaflet-container")
    assert "Sungai Uji" in page.content()
    screenshot(page, "kelurahan_lurah")
    response = page.goto(page.base + "/kelurahan/99.01.01.1002")
    assert response.status == 403 and "Bukit Uji" not in page.content()
    assert _external(page) == []
