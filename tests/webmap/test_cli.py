"""`flask --app webmap ...` commands: JSON reports and exit codes."""
from __future__ import annotations

import json

import pytest

from tests.webmap.test_ingest import HEADER, ROWS
from webmap import create_app


@pytest.fixture
def app(db_url, tmp_path):
    from webmap.db import dispose_engine

    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "WTF_CSRF_ENABLED": False,
                      "ARCHIVE_DIR": str(tmp_path / "archive")})
    yield app
    dispose_engine(app)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def run_json(runner, *args):
    result = runner.invoke(args=[*args, "--json"])
    return result, json.loads(result.output)


def test_import_then_ingest_prints_json_reports(runner, city_file, tmp_path):
    result, boundaries = run_json(runner, "import-boundaries", str(city_file))
    assert result.exit_code == 0 and boundaries["kelurahan"] == 2
    csv = tmp_path / "day1.csv"
    csv.write_text("\n".join([HEADER, *ROWS]) + "\n")
    result, report = run_json(runner, "ingest", str(csv), "--uploader", "budi")
    assert result.exit_code == 0
    assert {"format", "rows", "accepted", "rejected", "duplicates", "errors"} <= set(report)
    assert (report["rows"], report["accepted"], report["rejected"], report["duplicates"]) == \
        (8, 2, 5, 1)
    result, again = run_json(runner, "ingest", str(csv))
    assert again["already_ingested"] is True and again["accepted"] == 0


def test_rejected_file_exits_1_with_json_error(runner, city_file, tmp_path):
    run_json(runner, "import-boundaries", str(city_file))
    empty = tmp_path / "kosong.csv"
    empty.write_text("")
    result, report = run_json(runner, "ingest", str(empty))
    assert result.exit_code == 1
    assert "kosong.csv" in report["error"]


def test_human_output_lists_problems(runner, city_file, tmp_path):
    runner.invoke(args=["import-boundaries", str(city_file)])
    csv = tmp_path / "day1.csv"
    csv.write_text("\n".join([HEADER, *ROWS]) + "\n")
    result = runner.invoke(args=["ingest", str(csv)])
    assert result.exit_code == 0
    assert "8 rows read: 2 stored, 5 rejected, 1 already stored" in result.output
    assert "row 5, latitude = 'abc'" in result.output


def test_cities_lists_imported_city(runner, city_file):
    runner.invoke(args=["import-boundaries", str(city_file)])
    result = runner.invoke(args=["cities"])
    assert "99.01\tKota Uji\tEPSG:32647" in result.output


def test_template_csv_is_accepted_by_ingest(runner, app, city_file, tmp_path):
    template = tmp_path / "template.csv"
    assert runner.invoke(args=["template-csv", "--output", str(template)]).exit_code == 0
    assert template.read_text().startswith("latitude,longitude,timestamp")
    from tests.webmap.conftest import signed_in

    runner.invoke(args=["import-boundaries", str(city_file)])
    download = signed_in(app, "tim.a", "tim_lapangan").get("/template.csv")
    assert download.status_code == 200 and download.get_data(as_text=True) == template.read_text()
    result, init = run_json(runner, "init-db")
    assert result.exit_code == 0 and "database" in init
