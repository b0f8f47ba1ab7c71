"""Responses are compressed when the browser accepts it, static files included."""
from __future__ import annotations

import gzip

from webmap import create_app


def test_pages_and_static_files_are_compressed_for_browsers(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    client = app.test_client()
    plain = client.get("/static/css/petakota.css", buffered=True)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    packed = client.get("/static/css/petakota.css", buffered=True,
                        headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert "Accept-Encoding" in packed.headers.get("Vary", "")
    page = client.get("/login", buffered=True, headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"petakota" in gzip.decompress(page.get_data())
    etag = plain.headers.get("ETag")
    if etag:  # conditional requests still answer 304 without a body
        again = client.get("/static/css/petakota.css", buffered=True,
                           headers={"If-None-Match": etag})
        assert again.status_code == 304
