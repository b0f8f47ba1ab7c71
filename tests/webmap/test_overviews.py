"""The overview cache: one analysis per data version and filter, even under concurrent requests."""
from __future__ import annotations

import threading
import time

from tests.webmap.conftest import write_city
from webmap import analysis, create_app
from webmap.db import dispose_engine


def test_concurrent_cold_requests_share_one_analysis(tmp_path, monkeypatch):
    from webmap.database import create_db_engine, sqlite_url, upgrade_database
    from webmap.overviews import cached_overview

    url = sqlite_url(tmp_path / "o.db")
    engine = create_db_engine(url)
    upgrade_database(engine)
    engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url,
                      "ARCHIVE_DIR": str(tmp_path / "archive")})
    app.test_cli_runner().invoke(args=["import-boundaries", str(write_city(tmp_path / "k.json"))])
    calls = []
    real = analysis.city_overview

    def slow_overview(*args, **kwargs):
        calls.append(threading.get_ident())
        time.sleep(0.3)  # a long analysis: the other threads arrive while it runs
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "city_overview", slow_overview)
    results = []

    def request() -> None:
        with app.app_context():
            results.append(cached_overview(None, None, None))

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 6
    assert all(result is results[0] for result in results)
    with app.app_context():  # another filter is another analysis
        cached_overview(None, None, "2024-01-31")
    assert len(calls) == 2
    dispose_engine(app)
