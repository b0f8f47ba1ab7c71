"""Signing in as each role, the field team's upload report and the language switch, in Chromium."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.browser.conftest import login, screenshot
from tests.browser.test_maps_in_browser import _external
from tests.webmap.test_ingest import HEADER, ROWS

#: Role -> (username, the page the role works on, a text that page must show, nav links).
ROLE_PAGES = {
    "admin": ("admin", "/peta", "Kota Uji", {"Peta kota", "Unggah", "Pengguna"}),
    "perencana": ("rina", "/peta", "Kota Uji", {"Peta kota", "Unggah"}),
    "tim_lapangan": ("budi", "/peta", "Kota Uji", {"Peta kota", "Unggah"}),
    "lurah": ("lurah.a", "/kelurahan/99.01.01.1001", "Sungai Uji", {"Kelurahan saya"}),
    "camat": ("camat", "/kelurahan/99.01.01.1002", "Bukit Uji", set()),
}


@pytest.mark.parametrize("role", list(ROLE_PAGES))
def test_each_role_signs_in_and_opens_its_map(page, role):
    username, path, text, links = ROLE_PAGES[role]
    login(page, username)
    assert "/login" not in page.url, f"{username} was not signed in"
    nav = set(page.locator("header.bar nav a").all_inner_texts())
    assert links <= nav
    if role in ("lurah", "camat"):
        assert not {"Peta kota", "Unggah", "Pengguna"} & nav
    page.goto(page.base + path)
    page.wait_for_selector(".leaflet-container")
    assert page.console_errors == []
    # layers drawn (canvas or SVG; an unfilled outline is "attached", not "visible")
    page.locator(".leaflet-map-pane canvas, .leaflet-map-pane path").first.wait_for(state="attached")
    assert text in page.content()
    screenshot(page, f"role_{role}")
    assert page.console_errors == []
    assert _external(page) == []


def test_field_team_upload_with_bad_rows_shows_the_exact_report(page, tmp_path):
    upload = tmp_path / "hari1.csv"
    upload.write_text("\n".join([HEADER, *ROWS]) + "\n")
    login(page, "budi")
    page.goto(page.base + "/unggah")
    page.set_input_files("#file", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/unggah/\d+$"))
    figures = {name: page.inner_text(f"#{name}")
               for name in ("rows", "accepted", "rejected", "duplicates")}
    assert figures == {"rows": "8", "accepted": "2", "rejected": "5", "duplicates": "1"}
    table = [[cell.strip() for cell in row.locator("td").all_inner_texts()]
             for row in page.locator("#errors tbody tr").all()]
    by_row = {int(cells[0]): cells[1:] for cells in table}
    assert sorted(by_row) == [4, 5, 6, 7, 8]
    assert by_row[4][:2] == ["signal_dbm", "-200"] and "sentinel" in by_row[4][2]
    assert by_row[5][:2] == ["latitude", "abc"]
    assert "outside" in by_row[6][2] and "Kota Uji" in by_row[6][2]
    assert by_row[7][0] == "timestamp" and "future" in by_row[7][2]
    assert by_row[8][:2] == ["technology", "6G"]
    screenshot(page, "upload_report_tim_lapangan")
    with page.expect_download() as download_info:
        page.click("text=Unduh baris yang ditolak (CSV)")
    rejected = list(csv.DictReader(io.StringIO(
        download_info.value.path().read_text(encoding="utf-8-sig"))))
    assert len(rejected) == 5
    # the history lists the upload with who sent it
    page.goto(page.base + "/unggah")
    history = page.inner_text("#history")
    assert "budi" in history and "hari1.csv" in history
    assert page.console_errors == [] and _external(page) == []


def test_language_switch_changes_and_remembers_the_language(page):
    login(page, "rina")
    page.goto(page.base + "/unggah")
    assert page.inner_text("h1") == "Unggah data cakupan"
    assert page.get_attribute("html", "lang") == "id"
    page.click("header .languages a[data-lang=en]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/unggah")
    assert page.inner_text("h1") == "Upload coverage data"
    assert page.get_attribute("html", "lang") == "en"
    assert "City map" in page.locator("header.bar nav").inner_text()
    page.goto(page.base + "/peta")  # the choice is remembered
    page.wait_for_selector(".leaflet-container")
    assert page.get_attribute("html", "lang") == "en"
    screenshot(page, "city_map_english")
    page.click("header .languages a[data-lang=id]")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "id"
    assert "Peta kota" in page.locator("header.bar nav").inner_text()
    assert page.console_errors == [] and _external(page) == []


def test_a_refused_upload_shows_why_and_the_form_keeps_working(page, tmp_path):
    """The page's script writes a refused upload's answer into the page: that page's own
    scripts must still run under the CSP (a nonce of the new response would not)."""
    refused = tmp_path / "kosong.csv"
    refused.write_text("")
    upload = tmp_path / "hari1.csv"
    upload.write_text("\n".join([HEADER, *ROWS]) + "\n")
    login(page, "budi")
    page.goto(page.base + "/unggah")
    page.set_input_files("#file", str(refused))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("p.error[role=alert]")
    page.set_input_files("#file", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/unggah/\d+$"))
    # the browser logs the refused request itself (422); nothing else may fail
    assert [e for e in page.console_errors if "status of 422" not in e] == []
