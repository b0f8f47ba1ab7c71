"""The quick-win dashboard in a real headless Chromium: sortable table and trend chart."""
from __future__ import annotations

from tests.browser.conftest import login, screenshot
from tests.webmap.conftest import KEL_A, KEL_B


def _codes(page) -> list[str]:
    return page.locator("#kelurahan-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.kode)")


def test_dashboard_sorts_and_draws_the_trend(page):
    login(page, "rina")
    page.goto(page.base + "/dasbor")
    page.wait_for_selector("canvas.trend-chart")
    assert page.evaluate("() => Chart.getChart(document.querySelector('canvas.trend-chart'))"
                         " .data.datasets.length") == 2
    assert _codes(page) == [KEL_A, KEL_B]
    header = page.locator("#kelurahan-table th", has_text="Kode")
    header.locator("button.sort").click()  # served ascending: now descending
    assert header.get_attribute("aria-sort") == "descending"
    assert _codes(page) == [KEL_B, KEL_A]
    blank = page.locator("#kelurahan-table th", has_text="Sel blank")
    blank.locator("button.sort").click()  # A has the blank cell
    assert blank.get_attribute("aria-sort") == "ascending"
    assert header.get_attribute("aria-sort") is None
    assert _codes(page) == [KEL_B, KEL_A]
    blank.locator("button.sort").click()
    assert _codes(page) == [KEL_A, KEL_B]
    screenshot(page, "dashboard_perencana")
    assert page.console_errors == []


def test_kelurahan_page_draws_its_trend(page):
    login(page, "lurah.a")
    page.goto(page.base + f"/kelurahan/{KEL_A}")
    page.wait_for_selector("canvas.trend-chart")
    values = page.evaluate("() => Chart.getChart(document.querySelector('canvas.trend-chart'))"
                           ".data.datasets[1].data")
    assert values == [1]  # March: one blank cell
    assert page.console_errors == []
