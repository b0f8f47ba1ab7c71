"""Quick-win dashboard and trend charts: targets, kelurahan table, trend JSON, permissions."""
from __future__ import annotations

import json
import re

import pytest

from tests.webmap.conftest import KEL_A, KEL_B, make_app, signed_in
from tests.webmap.test_analysis_cli import MARCH, SEPTEMBER
from webmap import analysis
from webmap.db import dispose_engine, get_engine
from webmap.i18n import number
from webmap.overviews import cached_overview

TREND_JSON = re.compile(r'<script type="application/json" id="trend-data">(.*?)</script>', re.S)


@pytest.fixture
def app(db_url, city_file, tmp_path):
    """The two-square city: a blank spot in kelurahan A in March, resolved in September."""
    app = make_app(db_url, city_file, tmp_path, rows=[*MARCH, *SEPTEMBER])
    yield app
    dispose_engine(app)


@pytest.fixture
def with_target(app):
    result = app.test_cli_runner().invoke(args=[
        "targets", "add", "--deadline", "2024-12-31", "--baseline", "2024-03-31",
        "--name", "Tanpa blank spot 2024"])
    assert result.exit_code == 0, result.output
    return app


def trend_json(html: str) -> dict:
    found = TREND_JSON.findall(html)
    assert len(found) == 1, "exactly one trend per page"
    return json.loads(found[0])


def city_series(app, kode: str = "ALL"):
    data = analysis.load_city_data(get_engine(app), None)
    series = analysis.city_time_series(data, freq="M")
    return series[series["kode"] == kode]


def progress_figures(result: dict) -> list[str]:
    """Figures of a target as the page shows them (Indonesian number format)."""
    with_app = [number(result["progress_pct"], 1), number(result["blank_area_km2"], 2),
                number(result["baseline_blank_area_km2"], 2)]
    if result["blank_area_resolved_pct"] is not None:
        with_app.append(number(result["blank_area_resolved_pct"], 1))
    return with_app


# --- targets -----------------------------------------------------------------------------------

@pytest.mark.parametrize("as_of", ["2024-06-30", "2024-10-31"])
def test_target_progress_matches_the_analysis(with_target, client, as_of):
    html = client.get(f"/dasbor?as_of={as_of}").get_data(as_text=True)
    [expected] = analysis.target_progress(get_engine(with_target), None,
                                          as_of=analysis.parse_date(as_of))
    assert "Tanpa blank spot 2024" in html
    with with_target.test_request_context():
        figures = progress_figures(expected)
        days_left = number(expected["days_left"])
    for figure in figures:
        assert figure in html
    assert f"{days_left} hari lagi" in html
    assert f'<progress max="100" value="{expected["progress_pct"]}"' in html
    assert f"{expected['kelurahan_free']} dari {expected['kelurahan_total']} kelurahan" in html


def test_progress_from_the_overview_equals_target_progress(with_target):
    engine = get_engine(with_target)
    for as_of in (None, "2024-06-30"):
        with with_target.app_context():
            overview = cached_overview(None, None, as_of)
            targets = analysis.list_targets(engine, None)
            got = analysis.overview_progress(overview, targets)
        expected = analysis.target_progress(engine, None, as_of=analysis.parse_date(as_of))
        if as_of is None:  # the page counts days from today, target_progress does not
            assert all(isinstance(row.pop("days_left"), int) for row in got)
            assert all(row.pop("days_left") is None for row in expected)
        assert got == expected


def test_resolved_blank_area_is_shown(with_target, client):
    html = client.get("/dasbor").get_data(as_text=True)
    # March: one blank cell; September: covered, so the whole baseline blank area is resolved.
    assert "100,0 %" in html and "Tanpa blank spot 2024" in html


def test_no_target_shows_how_to_add_one(client):
    html = client.get("/dasbor").get_data(as_text=True)
    assert "Belum ada target quick win" in html
    assert "flask --app webmap targets add" in html and "--deadline" in html


# --- kelurahan table ---------------------------------------------------------------------------

def test_kelurahan_table_lists_every_kelurahan_with_sort_values(client):
    html = client.get("/dasbor").get_data(as_text=True)
    table = html[html.index('id="kelurahan-table"'):]
    table = table[:table.index("</table>")]
    assert re.findall(r'<tr data-kode="([^"]+)"', table) == [KEL_A, KEL_B]
    assert f'href="/kelurahan/{KEL_A}"' in table and f'href="/kelurahan/{KEL_B}"' in table
    assert 'class="data sortable"' in html and "data-sort-value=" in table
    assert 'aria-sort="ascending"' in table
    assert "/static/js/sortable-table.js" in html


# --- trend -------------------------------------------------------------------------------------

def test_trend_json_matches_the_time_series(app, client):
    html = client.get("/dasbor").get_data(as_text=True)
    chart = trend_json(html)
    series = city_series(app)
    area, cells = chart["series"]
    assert len(chart["labels"]) == len(series) == 7  # March to September 2024
    assert area["values"] == pytest.approx(series["blank_area_km2"].tolist())
    assert cells["values"] == series["blank_cells"].tolist()
    assert cells["values"][0] == 1 and cells["values"][-1] == 0
    assert [a["id"] for a in chart["axes"]] == [area["axis"], cells["axis"]]
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    assert "/static/js/trend-chart.js" in html and 'class="trend-chart"' in html
    assert "Maret 2024" in html  # the fallback table, with months in Indonesian


def test_warm_dashboard_does_no_analysis(app, client, monkeypatch):
    assert client.get("/dasbor").status_code == 200

    def refuse(*args, **kwargs):
        raise AssertionError("analysis ran on a warm page")

    monkeypatch.setattr(analysis, "city_time_series", refuse)
    monkeypatch.setattr(analysis, "coverage_tables", refuse)
    monkeypatch.setattr(analysis, "city_overview", refuse)
    assert client.get("/dasbor").status_code == 200


def test_kelurahan_page_has_its_own_trend_only(app, client):
    html = client.get(f"/kelurahan/{KEL_A}").get_data(as_text=True)
    assert "Tren luas blank spot" in html
    chart = trend_json(html)
    own, other = city_series(app, KEL_A), city_series(app, KEL_B)
    area, cells = chart["series"]
    assert cells["values"] == own["blank_cells"].tolist() != other["blank_cells"].tolist()
    assert area["values"] == pytest.approx(own["blank_area_km2"].tolist())
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    other_html = client.get(f"/kelurahan/{KEL_B}").get_data(as_text=True)
    assert trend_json(other_html)["series"][1]["values"] == other["blank_cells"].tolist()


def test_kelurahan_page_formats_numbers_for_the_locale(client):
    html = client.get(f"/kelurahan/{KEL_A}").get_data(as_text=True)
    assert re.search(r"<dd>\d+,\d\d km²</dd>", html)  # area with a decimal comma
    english = client.get(f"/kelurahan/{KEL_A}?lang=en").get_data(as_text=True)
    assert re.search(r"<dd>\d+\.\d\d km²</dd>", english)


def test_chart_script_only_on_pages_with_charts(client):
    for page in ("/", "/unggah"):
        response = client.get(page)
        assert response.status_code == 200, page
        assert "chartjs" not in response.get_data(as_text=True)


def test_vendored_chartjs_is_served(client, vendored):
    assert (vendored / "chartjs" / "chart.umd.min.js").is_file()
    assert (vendored / "chartjs" / "LICENSE.md").is_file()
    response = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert response.status_code == 200 and b"Chart.js v4." in response.data[:200]
    response.close()


# --- access and language -----------------------------------------------------------------------

@pytest.mark.parametrize(("role", "area"), [("lurah", {"kelurahan_kode": KEL_A}),
                                             ("camat", {"kecamatan_kode": "99.01.01"}),
                                             ("tim_lapangan", {})])
def test_other_roles_are_refused(app, role, area):
    response = signed_in(app, f"user.{role}", role, **area).get("/dasbor")
    assert response.status_code == 403 and b"Sungai Uji" not in response.data


def test_admin_sees_the_dashboard(app):
    assert signed_in(app, "boss", "admin").get("/dasbor").status_code == 200


def test_anonymous_is_sent_to_login(app):
    response = app.test_client().get("/dasbor")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_nav_links_the_dashboard_for_planners(client):
    assert 'href="/dasbor"' in client.get("/").get_data(as_text=True)


def test_english_page(client):
    html = client.get("/dasbor?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "<h2" in html and "trend-data" in html
    # the headings as translated in translations/en/LC_MESSAGES/messages.po
    assert "<h1>Quick-win dashboard: Kota Uji</h1>" in html
    assert '<h2 id="targets-heading">Quick-win targets</h2>' in html
    assert '<h2 id="trend-heading">City blank-spot trend</h2>' in html
    assert "Dasbor quick win" not in html and "Tren blank spot kota" not in html
