"""The upload page: form, CSRF, ingest report, rejected-rows download, history, permissions."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.webmap.conftest import (KEL_A, external_assets, figure, make_app, signed_in,
                                   signed_in_through_form)
from tests.webmap.test_ingest import HEADER, ROWS
from webmap.db import dispose_engine

CSV_BYTES = ("\n".join([HEADER, *ROWS]) + "\n").encode()


@pytest.fixture
def app(db_url, city_file, tmp_path):
    app = make_app(db_url, city_file, tmp_path)
    yield app
    dispose_engine(app)


@pytest.fixture
def field(app):
    return signed_in(app, "budi", "tim_lapangan")


def upload(client, data: bytes = CSV_BYTES, name: str = "hari1.csv", **form):
    return client.post("/unggah", data={"file": (io.BytesIO(data), name), "format": "auto",
                                        **form}, content_type="multipart/form-data")


def report_path(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert re.search(r"/unggah/\d+$", location)
    return location


def test_upload_page_has_form_template_link_and_no_external_assets(field):
    response = field.get("/unggah")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'type="file"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="csrf_token"' in html and "/template.csv" in html
    for key in ("auto", "canonical", "gnettrack", "ookla"):
        assert f'value="{key}"' in html
    assert "js/upload-form.js" in html and "<progress" in html  # the progress bar's script
    with field.get("/static/js/upload-form.js") as script:
        assert "xhr.upload.onprogress" in script.get_data(as_text=True)
    assert external_assets(html) == []
    assert 'lang="id"' in html and "Unggah" in html


def test_upload_report_shows_counts_and_every_error(field):
    location = report_path(upload(field))
    page = field.get(location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert (figure(html, "rows"), figure(html, "accepted"), figure(html, "rejected"),
            figure(html, "duplicates")) == ("8", "2", "5", "1")
    rows = re.findall(r"<tr><td class=\"n\">(\d+)</td><td>([^<]*)</td>\s*<td>([^<]*)</td>"
                      r"<td>([^<]*)</td></tr>", html)
    by_row = {int(r[0]): r[1:] for r in rows}
    assert sorted(by_row) == [4, 5, 6, 7, 8]
    assert by_row[4][0] == "signal_dbm" and "-200" in by_row[4][1] and "sentinel" in by_row[4][2]
    assert by_row[5][:2] == ("latitude", "abc")
    assert "outside" in by_row[6][2] and "Kota Uji" in by_row[6][2]
    assert by_row[7][0] == "timestamp" and "future" in by_row[7][2]
    assert by_row[8][:2] == ("technology", "6G")
    assert all(r[2] for r in by_row.values())
    assert f"{location}/ditolak.csv" in html


def test_rejected_rows_download(field):
    location = report_path(upload(field))
    response = field.get(f"{location}/ditolak.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    response.close()  # send_file streams from the open file
    rejected = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [int(r["row"]) for r in rejected] == [4, 5, 6, 7, 8]
    assert rejected[1]["latitude"] == "abc"


def test_no_rejected_rows_means_404(field):
    clean = ("\n".join([HEADER, ROWS[0]]) + "\n").encode()
    location = report_path(upload(field, clean, "bersih.csv"))
    html = field.get(location).get_data(as_text=True)
    assert figure(html, "accepted") == "1" and "ditolak.csv" not in html
    assert field.get(f"{location}/ditolak.csv").status_code == 404


def test_history_shows_upload_and_uploader(app, field):
    location = report_path(upload(field))
    upload_id = location.rsplit("/", 1)[1]
    html = field.get("/unggah").get_data(as_text=True)
    history = html.split('id="history"', 1)[1]
    assert "budi" in history and "hari1.csv" in history and f"/unggah/{upload_id}" in history
    planner = signed_in(app, "rina", "perencana")
    assert "budi" in planner.get("/unggah").get_data(as_text=True).split('id="history"', 1)[1]
    assert planner.get(location).status_code == 200
    other = signed_in(app, "sari", "tim_lapangan")
    assert 'id="history"' not in other.get("/unggah").get_data(as_text=True)


def test_other_field_user_gets_403(app, field):
    location = report_path(upload(field))
    other = signed_in(app, "sari", "tim_lapangan")
    assert other.get(location).status_code == 403
    assert other.get(f"{location}/ditolak.csv").status_code == 403


def test_unknown_upload_is_404(field):
    assert field.get("/unggah/9999").status_code == 404


def test_lurah_and_camat_are_refused(app):
    lurah = signed_in(app, "lurah.a", "lurah", kelurahan_kode=KEL_A)
    assert lurah.get("/unggah").status_code == 403
    assert upload(lurah).status_code == 403
    camat = signed_in(app, "camat.a", "camat", kecamatan_kode="99.01.01")
    assert camat.get("/unggah").status_code == 403


def test_anonymous_is_sent_to_login(app):
    response = app.test_client().get("/unggah")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_non_csv_file_is_422_with_message(field):
    response = upload(field, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" * 20, "foto.png")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "File tidak dapat diproses" in html and "foto.png" in html
    assert 'type="file"' in html


def test_missing_file_is_422(field):
    response = field.post("/unggah", data={"format": "auto"}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Pilih file" in response.get_data(as_text=True)


def test_same_file_again_says_already_ingested(app, field):
    first = report_path(upload(field))
    again = upload(field, name="hari1_lagi.csv")
    assert report_path(again) == first
    html = field.get(first).get_data(as_text=True)
    assert "sudah pernah diunggah" in html and figure(html, "accepted") == "2"
    # a colleague sending the same file is told too, without seeing the other upload
    other = signed_in(app, "sari", "tim_lapangan")
    response = upload(other)
    assert response.status_code == 200 and "sudah pernah diunggah" in response.get_data(as_text=True)


def test_post_without_csrf_token_is_rejected(db_url, city_file, tmp_path):
    app = make_app(db_url, city_file, tmp_path, WTF_CSRF_ENABLED=True)
    try:
        client = signed_in_through_form(app, "budi", "tim_lapangan")
        assert upload(client).status_code == 400
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          client.get("/unggah").get_data(as_text=True)).group(1)
        assert report_path(upload(client, csrf_token=token))
    finally:
        dispose_engine(app)


def test_upload_over_the_size_limit_is_413_with_a_clear_message(db_url, tmp_path, city_file):
    app = make_app(db_url, city_file, tmp_path, MAX_CONTENT_LENGTH=1024)
    try:
        client = signed_in(app, "tim.besar", "tim_lapangan")
        response = client.post("/unggah", data={"file": (io.BytesIO(b"x" * 4096), "besar.csv")},
                               content_type="multipart/form-data")
        assert response.status_code == 413
        assert "terlalu besar" in response.get_data(as_text=True)
    finally:
        dispose_engine(app)


def test_report_page_counts_rejections_per_reason(field):
    html = field.get(report_path(upload(field))).get_data(as_text=True)
    reasons = re.search(r'<table class="data" id="reasons">(.*?)</table>', html, re.S)
    assert reasons is not None
    counts = re.findall(r"<tr><td>([^<]+)</td><td class=\"n\">(\d+)</td></tr>", reasons.group(1))
    assert len(counts) == 5 and all(count == "1" for _, count in counts)
    assert any("outside" in reason and "Kota Uji" in reason for reason, _ in counts)


def test_database_failure_is_a_clear_message_without_driver_text(app, field):
    """Before: the page showed the database driver's error and the SQL it ran."""
    from webmap.db import get_engine

    with get_engine(app).begin() as conn:  # a database that cannot take measurements
        conn.exec_driver_sql("ALTER TABLE measurement RENAME TO measurement_moved")
    response = upload(field)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "tidak dapat disimpan karena basis data menolak penulisannya" in html
    for driver_text in ("measurement", "SQLSTATE", "no such table", "does not exist", "COPY",
                        "INSERT", "INVALID", "adbc"):
        assert driver_text not in html


def test_same_file_sent_twice_at_once_is_stored_once(app, field, monkeypatch):
    """Two uploads of one file check for an earlier upload before either stores anything (the
    test holds the city's write lock meanwhile): both are sent to the one upload's report.
    Before: the second got HTTP 400 with "INTEGRITY: UNIQUE constraint failed" (SQLite) or the
    driver's error and its SQL (PostgreSQL)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tests.webmap.test_ingest_concurrency import city_write_lock
    from webmap import store
    from webmap.db import get_engine

    waiting = threading.Semaphore(0)
    measurement_write = store.measurement_write

    def counted_write(*args, **kwargs):
        waiting.release()  # this upload found no earlier one and now waits for the lock
        return measurement_write(*args, **kwargs)

    monkeypatch.setattr(store, "measurement_write", counted_write)
    other = signed_in(app, "sari", "tim_lapangan")
    pool = ThreadPoolExecutor(max_workers=2)
    with city_write_lock(get_engine(app)):
        sent = [pool.submit(upload, client) for client in (field, other)]
        for _ in sent:
            while not waiting.acquire(timeout=0.05):
                for response in sent:
                    if response.done():
                        response.result()  # an error in either upload fails the test now
    first, second = (response.result() for response in sent)
    pool.shutdown()
    answers = sorted([first, second], key=lambda response: response.status_code)
    assert [r.status_code for r in answers] == [200, 303]  # sari may not see budi's upload
    assert "sudah pernah diunggah" in answers[0].get_data(as_text=True)
    with get_engine(app).connect() as conn:
        uploads = conn.exec_driver_sql("SELECT count(*) FROM upload WHERE kind = "
                                       "'measurements'").scalar_one()
    assert uploads == 1
