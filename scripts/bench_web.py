"""Benchmark: the city map and kelurahan pages served by gunicorn, with 1,000,000 measurements.

What it does, in one run:
  1. a fresh instance folder under ``bench-out/web/`` (SQLite by default; ``--database-url`` for an
     empty PostgreSQL + PostGIS database, ``--postgis`` for a throwaway server), the demo city
     (35 kelurahan, facilities, population) and ``--rows`` generated measurements loaded with
     ``flask --app webmap load-demo``, a planner and a lurah created with ``flask users create``;
  2. gunicorn (``-w 2 --threads 4``) serving ``webmap:create_app()``; users sign in through
     ``/login`` (CSRF token parsed from the form).  The first request of a page is timed as
     "cold" (analysis + map rendering); every gunicorn worker keeps its own analysis cache, so
     requests are repeated until gunicorn's access log shows that every worker answered it;
  3. warm latency, ``--requests`` sequential requests per page: city map ``/peta`` (planner),
     ``/kelurahan/<kode>`` (planner and the kelurahan's lurah); baselines in the same run: the
     ``/login`` form (a template without analysis) and a 147 KB static file (leaflet.js);
  4. bytes: the page plus every same-origin script, style sheet, CSS ``url()`` (fonts: the first
     ``src`` of each ``@font-face``, as a browser picks; images), ``<img>`` and data URL the page
     references, as transferred (encoded body sizes; the server's ``Content-Encoding`` is
     respected) - an upper bound - and, when Playwright and Debian's Chromium are installed, what
     Chromium actually downloads on a first visit (empty cache) and on a revisit.  No resource may
     come from another host, except the basemap tiles of ``TILE_URL`` (configurable, not counted);
  5. ``--clients`` concurrent clients (threads, each signed in), each fetching the city map and the
     kelurahan page ``--per-client`` times: errors, throughput, latency under load.

Targets (issue #4): city map warm p95 <= 300 ms and <= 2 MB in total; kelurahan page warm
p95 <= 150 ms and <= 500 KB; 20 concurrent clients without errors (MB = 10^6 bytes).

    .venv/bin/python scripts/bench_web.py [--rows 1000000] [--requests 50] [--clients 20]
        [--per-client 5] [--workers 2] [--threads 4] [--database-url URL | --postgis]
        [--kelurahan KODE] [--reuse] [--no-browser] [--json]
"""
from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench-out" / "web"
PASSWORD = "bench-web-kata-sandi-2024"
PLANNER, LURAH = "bench.perencana", "bench.lurah"
#: Targets of issue #4: warm p95 in ms and bytes per page (with everything it loads).
TARGETS = {"city": {"p95_ms": 300.0, "bytes": 2_000_000},
           "kelurahan": {"p95_ms": 150.0, "bytes": 500_000}}
#: A baseline file of the same run: served by the same gunicorn, no Python view.
STATIC_BASELINE = "/static/vendor/leaflet/leaflet.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def log(message: str) -> None:
    """Progress on standard error (standard output holds the report)."""
    print(message, file=sys.stderr, flush=True)


# --- HTTP client ----------------------------------------------------------------------------------

@dataclass
class Response:
    """An HTTP answer: status (0 when the connection failed), headers, body, seconds taken."""

    status: int
    headers: Any
    body: bytes  # as transferred (still encoded when the server compressed it)
    seconds: float

    def decoded(self) -> bytes:
        """The body with the server's ``Content-Encoding`` undone."""
        encoding = (self.headers.get("Content-Encoding") or "").lower() if self.headers else ""
        if encoding == "gzip":
            return gzip.decompress(self.body)
        if encoding == "deflate":
            return zlib.decompress(self.body)
        if encoding not in ("", "identity"):
            raise ValueError(f"cannot decode Content-Encoding {encoding}")
        return self.body

    def text(self) -> str:
        """The decoded body as text."""
        return self.decoded().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer of its own (e.g. to /login)


class Client:
    """One user agent: its own cookie jar, one connection per request, redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect)

    def get(self, path: str, data: bytes | None = None) -> Response:
        """GET ``path`` (POST when ``data`` is given), timed to the last byte of the body."""
        request = urllib.request.Request(urllib.parse.urljoin(self.base, path), data=data,
                                         headers={"Accept-Encoding": "gzip, deflate",
                                                  "User-Agent": "petakota-bench-web"})
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=300) as answer:
                status, headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, error.headers, error.read()
        except (urllib.error.URLError, OSError):
            status, headers, body = 0, None, b""
        return Response(status, headers, body, time.perf_counter() - started)

    def login(self, username: str, password: str) -> None:
        """Sign in through the ``/login`` form, with the CSRF token of its hidden field."""
        form = self.get("/login")
        match = re.search(r"<input[^>]*\bname=\"csrf_token\"[^>]*>", form.text())
        token = re.search(r"\bvalue=\"([^\"]*)\"", match.group(0)) if match else None
        if form.status != 200 or token is None:
            raise RuntimeError(f"/login answered {form.status} without a csrf_token field")
        fields = {"csrf_token": token.group(1), "username": username, "password": password}
        answer = self.get("/login", urllib.parse.urlencode(fields).encode())
        if answer.status != 302:
            raise RuntimeError(f"signing in as {username} failed: HTTP {answer.status}")

    def ok(self, path: str) -> Response:
        """GET ``path``; anything but 200 is an error."""
        answer = self.get(path)
        if answer.status != 200:
            raise RuntimeError(f"GET {path} answered HTTP {answer.status}")
        return answer


# --- set-up ---------------------------------------------------------------------------------------

def _flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    command = [sys.executable, "-m", "flask", "--app", "webmap", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, input=stdin, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout[-2000:]}"
                           f"{done.stderr[-3000:]}")
    return done.stdout


def create_user(env: dict[str, str], username: str, role: str, *extra: str) -> None:
    """``flask users create`` (or a new password for an account kept by ``--reuse``)."""
    try:
        _flask(env, "users", "create", "--username", username, "--role", role, *extra,
               "--password-stdin", stdin=PASSWORD + "\n")
    except RuntimeError as error:
        if "taken" not in str(error).lower() and "exist" not in str(error).lower():
            raise
        _flask(env, "users", "set-password", "--username", username, "--password-stdin",
               stdin=PASSWORD + "\n")


def prepare_instance(options: argparse.Namespace, database_url: str | None,
                     kelurahan: list[dict[str, Any]]) -> dict[str, Any]:
    """Instance folder, database with the demo city and ``--rows`` measurements, the planner.

    ``kelurahan`` are the properties of the demo city's kelurahan (:func:`_kelurahan`).
    """
    instance = OUT / "instance"
    if instance.exists() and not options.reuse:
        shutil.rmtree(instance)
    instance.mkdir(parents=True, exist_ok=True)
    # load-demo generates its files into instance/demo; keep them between runs (deterministic).
    cache = OUT / "demo-files"
    cache.mkdir(parents=True, exist_ok=True)
    if not (instance / "demo").exists():
        (instance / "demo").symlink_to(cache, target_is_directory=True)
    from webmap.database import sqlite_url
    env = os.environ | {"PETAKOTA_INSTANCE": str(instance),
                        "DATABASE_URL": database_url or sqlite_url(instance / "petakota.db")}
    env.pop("FLASK_TILE_URL", None)
    started = time.perf_counter()
    log(f"loading the demo city with {options.rows:,} measurements into "
        f"{_redacted(env['DATABASE_URL'])} ...")
    _flask(env, "load-demo", "--if-empty", "--measurements", str(options.rows))
    load_s = time.perf_counter() - started
    # Accounts are created before gunicorn starts: see "SQLite and ADBC" in docs/benchmarks.md.
    kode = options.kelurahan or _largest_kelurahan(kelurahan)
    create_user(env, PLANNER, "perencana")
    create_user(env, LURAH, "lurah", "--kelurahan", kode)
    return {"env": env, "load_s": load_s, "database": _redacted(env["DATABASE_URL"]),
            "kelurahan": kode,
            "measurements": _count_measurements(env["DATABASE_URL"])}


def _count_measurements(url: str) -> int:
    import sqlalchemy as sa

    from webmap.database import create_db_engine
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM measurement")).scalar_one())
    finally:
        engine.dispose()


def _redacted(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


# --- gunicorn -------------------------------------------------------------------------------------

class Gunicorn:
    """``gunicorn -w W --threads T 'webmap:create_app()'`` on a free loopback port."""

    def __init__(self, env: dict[str, str], workers: int, threads: int) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = OUT / "gunicorn.log"
        self.access_path = OUT / "access.log"
        # The access log names the worker (pid) and the server-side duration of every request.
        self.command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads",
                        str(threads), "-b", f"127.0.0.1:{self.port}",
                        "--access-logfile", str(self.access_path),
                        "--access-logformat", "%(p)s %(m)s %(U)s %(s)s %(D)s",
                        "webmap:create_app()"]
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log_file: Any = None  # gunicorn's output, open while it runs

    def start(self, timeout: float = 60.0) -> Gunicorn:
        """Start gunicorn and wait until ``/login`` answers."""
        self.access_path.unlink(missing_ok=True)
        self.log_file = self.log_path.open("w")
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
            if Client(self.base).get("/login").status == 200:
                return self
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not ready in {timeout} s:\n"
                           f"{self.log_path.read_text()[-3000:]}")

    def access_mark(self) -> int:
        """The access log's current end, for :meth:`access_since`."""
        return self.access_path.stat().st_size if self.access_path.exists() else 0

    def access_since(self, mark: int) -> list[tuple[int, str, int, float]]:
        """(worker pid, path, status, server milliseconds) of requests logged after ``mark``."""
        with self.access_path.open("rb") as log_file:
            log_file.seek(mark)
            lines = log_file.read().decode("utf-8", "replace").splitlines()
        rows = []
        for line in lines:
            fields = line.split()
            if len(fields) == 5 and fields[0].strip("<>").isdigit():
                rows.append((int(fields[0].strip("<>")), fields[2], int(fields[3]),
                             int(fields[4]) / 1000))
        return rows

    def worker_problems(self) -> list[str]:
        """Workers that crashed, were killed or timed out (from gunicorn's log)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text.splitlines()
                if re.search(r"SIGBUS|SIGSEGV|SIGKILL|SIGABRT|WORKER TIMEOUT|exited with code",
                             line)]

    def worker_pids(self) -> list[int]:
        """Process ids of the gunicorn workers (children of the master)."""
        if self.process is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker, MiB."""
        sizes = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            if match:
                sizes.append(int(match.group(1)) / 1024)
        return sizes

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL of the process group after 30 s; closes the log."""
        try:
            if self.process is None or self.process.poll() is not None:
                return
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        finally:
            if self.log_file is not None:
                self.log_file.close()
                self.log_file = None


# --- latency --------------------------------------------------------------------------------------

def summary(seconds: list[float]) -> dict[str, float]:
    """Count, p50, p95, max and mean in milliseconds."""
    ms = np.asarray(seconds) * 1000
    if not len(ms):
        return {"n": 0}
    p50, p95 = np.percentile(ms, [50, 95])
    return {"n": int(len(ms)), "p50_ms": float(p50), "p95_ms": float(p95),
            "max_ms": float(ms.max()), "mean_ms": float(ms.mean())}


def warm_up(server: Gunicorn, client: Client, path: str, *, max_requests: int = 100
            ) -> dict[str, Any]:
    """Sequential requests until every gunicorn worker has answered ``path`` at least once.

    Each worker process keeps its own analysis and map cache, and the kernel decides which worker
    accepts a connection; the access log names the worker of every request.  Requests are sent
    one at a time: concurrent cold requests in one worker crash it on SQLite (see
    docs/benchmarks.md).  The first request's time is the "cold" time.
    """
    workers = set(server.worker_pids())
    mark = server.access_mark()
    times = []
    served: set[int] = set()
    while len(times) < max_requests:
        times.append(client.ok(path).seconds)
        time.sleep(0.01)  # let the access log line land
        served = {pid for pid, logged, _, _ in server.access_since(mark)
                  if logged == urllib.parse.urlsplit(path).path}
        if workers <= served:
            break
    slow = [round(t, 2) for t in times if t > 0.25 * times[0]]
    return {"cold_s": times[0], "warm_up_requests": len(times),
            "workers_warm": len(workers & served), "workers": len(workers),
            "slow_requests_s": slow}


def sequential(server: Gunicorn, client: Client, path: str, n: int) -> dict[str, Any]:
    """``n`` requests one after the other: client-side latency, and the server's own time."""
    mark = server.access_mark()
    answers = [client.ok(path) for _ in range(n)]
    time.sleep(0.05)
    server_ms = [ms for _, logged, _, ms in server.access_since(mark)
                 if logged == urllib.parse.urlsplit(path).path]
    return summary([a.seconds for a in answers]) | {
        "bytes": len(answers[-1].body),
        "server_p50_ms": float(np.percentile(server_ms, 50)) if server_ms else None,
        "server_p95_ms": float(np.percentile(server_ms, 95)) if server_ms else None}


# --- bytes ----------------------------------------------------------------------------------------

_TAG = re.compile(r"<(script|link|img|source|iframe|embed|video|audio)\b([^>]*)>", re.I)
_ATTR = re.compile(r"""\b(src|href|rel|data)\s*=\s*(["'])(.*?)\2""", re.I | re.S)
_LOADED_RELS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload", "manifest",
                "apple-touch-icon"}
# URLs in inline scripts: quoted paths of loadable files, and whatever fetch()/imageOverlay() get.
_SCRIPT_URL = re.compile(
    r"""["']((?:https?://[^/"'\s]+)?/(?!/)[^"'\s<>]*?\.(?:png|jpe?g|gif|webp|svg|json|geojson|"""
    r"""pbf|mvt|js|css|woff2?|ttf)(?:\?[^"'\s<>]*)?)["']""", re.I)
_CALL_URL = re.compile(r"""\b(?:fetch|getJSON|imageOverlay|ImageOverlay|videoOverlay|ajax)"""
                       r"""\s*\(\s*["']([^"']+)["']""")
_CSS_URL = re.compile(r"""url\(\s*(["']?)(.*?)\1\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(["'])(.*?)\1""", re.I)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I)


def _html_resources(html: str) -> list[str]:
    """URLs the browser loads for an HTML page (not links the user may follow)."""
    urls = []
    for tag, attributes in _TAG.findall(html):
        attrs = {k.lower(): v for k, _, v in _ATTR.findall(attributes)}
        if tag.lower() == "link":
            rels = set(attrs.get("rel", "").lower().split())
            if rels & _LOADED_RELS and attrs.get("href"):
                urls.append(attrs["href"])
        elif attrs.get("src") or attrs.get("data"):
            urls.append(attrs.get("src") or attrs["data"])
    urls += _SCRIPT_URL.findall(html) + _CALL_URL.findall(html)
    urls += _css_resources(html)  # inline <style> and style="" attributes
    return urls


def _css_resources(css: str) -> list[str]:
    """Files a style sheet loads: imports, images, and per @font-face the first src (woff2)."""
    urls = [u for _, u in _CSS_IMPORT.findall(css)]
    faces = _FONT_FACE.findall(css)
    for face in faces:
        found = _CSS_URL.findall(face)
        if found:
            urls.append(found[0][1])
    rest = _FONT_FACE.sub("", css)
    return urls + [u for _, u in _CSS_URL.findall(rest)]


def _is_tile_template(url: str) -> bool:
    return "{z}" in url or "{x}" in url


def page_bytes(client: Client, path: str, page: Response | None = None) -> dict[str, Any]:
    """The page and every same-origin resource it loads (recursively through CSS), as sent.

    ``page`` is the page's answer when already fetched (otherwise it is fetched here).
    """
    origin = urllib.parse.urlsplit(client.base).netloc
    if page is None:
        page = client.ok(path)
    assets: dict[str, int] = {}
    gzip_sizes: dict[str, int] = {}
    external: set[str] = set()
    broken: set[str] = set()
    tiles: set[str] = set()
    pending = [urllib.parse.urljoin(client.base + path, u) for u in _html_resources(page.text())]
    while pending:
        url = pending.pop(0)
        if url.startswith(("data:", "blob:", "#", "about:", "javascript:")):
            continue
        if _is_tile_template(url):
            tiles.add(urllib.parse.urlsplit(url).netloc)
            continue
        parts = urllib.parse.urlsplit(url)
        if parts.netloc and parts.netloc != origin:
            external.add(url)
            continue
        local = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        if local in assets:
            continue
        answer = client.get(local)
        if answer.status != 200:
            broken.add(f"{local} (HTTP {answer.status})")
            continue
        assets[local] = len(answer.body)
        gzip_sizes[local] = len(gzip.compress(answer.decoded(), 6))
        content_type = answer.headers.get("Content-Type", "")
        if "css" in content_type or parts.path.endswith(".css"):
            pending += [urllib.parse.urljoin(url, u) for u in _css_resources(answer.text())]
    html_gzip = len(gzip.compress(page.decoded(), 6))
    return {"path": path, "html_bytes": len(page.body), "html_gzip_bytes": html_gzip,
            "content_encoding": page.headers.get("Content-Encoding") or "identity",
            "assets": dict(sorted(assets.items(), key=lambda kv: -kv[1])),
            "assets_bytes": sum(assets.values()),
            "total_bytes": len(page.body) + sum(assets.values()),
            "total_gzip_bytes": html_gzip + sum(gzip_sizes.values()),
            "external": sorted(external), "broken": sorted(broken), "tile_hosts": sorted(tiles)}


# A property that only one layer has, in the order checked.
_LAYER_KINDS = {"nomor": "blank_spots", "status": "h3_cells", "kecamatan": "kelurahan_polygons"}


def html_breakdown(html: str) -> dict[str, dict[str, int]]:
    """Where the bytes of a Folium page are: GeoJSON layers, point data, markers, whitespace.

    Returns the bytes per part and the number of features of each GeoJSON layer.
    """
    parts: dict[str, int] = {}
    features_per_layer: dict[str, int] = {}
    for match in re.finditer(r"_add\((\{\"(?:type|bbox|features)\".*?\})\);", html, re.S):
        try:
            features = json.loads(match.group(1)).get("features") or []
        except ValueError:
            features = []
        keys = set(features[0].get("properties") or {}) if features else set()
        kind = next((v for k, v in _LAYER_KINDS.items() if k in keys), "other_geojson")
        parts[kind] = parts.get(kind, 0) + len(match.group(1).encode())
        features_per_layer[kind] = features_per_layer.get(kind, 0) + len(features)
    parts["measurement_points"] = sum(len(m.group(1).encode()) for m in re.finditer(
        r"var data = (\[\[.*?\]\]);", html, re.S))
    parts["facility_markers"] = sum(len(m.group(0).encode()) for m in re.finditer(
        r"var marker_\w+ = L\.marker\(.*?\.setIcon\(icon_\w+\);", html, re.S))
    parts["other"] = len(html.encode()) - sum(parts.values())
    parts["of_which_indentation"] = sum(len(m.group(0)) - 1
                                        for m in re.finditer(r"\s{2,}", html))
    return {"bytes": parts, "features": features_per_layer}


def browser_bytes(base: str, cookies: http.cookiejar.CookieJar, paths: dict[str, str]
                  ) -> dict[str, Any] | None:
    """What Chromium downloads for each page: first visit (empty cache) and revisit.

    External hosts are made unresolvable (``--host-resolver-rules``), so nothing leaves the
    machine; the hosts the page tried are reported.  None when Playwright or Chromium is missing.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    origin = urllib.parse.urlsplit(base).netloc
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            for name, path in paths.items():
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_cookies([{"name": c.name, "value": c.value, "url": base}
                                     for c in cookies])
                page = context.new_page()
                seen: list[tuple[Any, bool]] = []  # (request, finished)
                page.on("requestfinished", lambda request: seen.append((request, True)))
                page.on("requestfailed", lambda request: seen.append((request, False)))
                visits = {}
                for visit in ("first_visit", "revisit"):
                    seen.clear()
                    if visit == "first_visit":
                        page.goto(base + path, wait_until="networkidle")
                    else:
                        page.reload(wait_until="networkidle")
                    visits[visit] = _browser_visit(seen, origin)
                results[name] = visits
                context.close()
        finally:
            browser.close()
    return results


def _browser_visit(requests: list[tuple[Any, bool]], origin: str) -> dict[str, Any]:
    body = headers = 0
    same: dict[str, int] = {}
    external: set[str] = set()
    failed: list[str] = []
    for request, finished in requests:
        host = urllib.parse.urlsplit(request.url).netloc
        if request.url.startswith("data:"):
            continue
        if host != origin:
            external.add(host)
            continue
        if not finished:
            failed.append(f"{urllib.parse.urlsplit(request.url).path} ({request.failure})")
            continue
        sizes = request.sizes()
        body += max(sizes["responseBodySize"], 0)
        headers += max(sizes["responseHeadersSize"], 0)
        same[urllib.parse.urlsplit(request.url).path] = max(sizes["responseBodySize"], 0)
    return {"requests": len(same), "body_bytes": body, "header_bytes": headers,
            "total_bytes": body + headers, "external_hosts": sorted(external),
            "failed": failed,
            "files": dict(sorted(same.items(), key=lambda kv: -kv[1]))}


# --- concurrency ----------------------------------------------------------------------------------

def load_test(base: str, paths: dict[str, str], clients: int, per_client: int
              ) -> dict[str, Any]:
    """``clients`` signed-in users at once, each fetching every page ``per_client`` times."""
    users = [Client(base) for _ in range(clients)]
    for user in users:
        user.login(PLANNER, PASSWORD)
    start = threading.Barrier(clients)

    def one_client(user: Client) -> list[tuple[str, int, float, int]]:
        start.wait()
        return [(name, (a := user.get(path)).status, a.seconds, len(a.body))
                for _ in range(per_client) for name, path in paths.items()]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        rows = [row for rows in pool.map(one_client, users) for row in rows]
    wall = time.perf_counter() - started
    errors = [(name, status) for name, status, _, _ in rows if status != 200]
    return {"clients": clients, "requests": len(rows), "errors": len(errors),
            "error_statuses": sorted({f"{n}:{s}" for n, s in errors}),
            "wall_s": wall, "requests_per_s": len(rows) / wall,
            "mbytes_per_s": sum(r[3] for r in rows) / wall / 1e6,
            "pages": {name: summary([s for n, st, s, _ in rows if n == name and st == 200])
                      for name in paths}}


# --- main -----------------------------------------------------------------------------------------

def all_kelurahan_pages(client: Client, codes: list[str]) -> dict[str, Any]:
    """Fetch every kelurahan page once (a cold map rendering in whichever worker answers)."""
    sizes, cold = {}, {}
    for kode in codes:
        answer = client.ok(f"/kelurahan/{kode}")
        sizes[kode], cold[kode] = len(answer.body), answer.seconds
    largest = max(sizes, key=sizes.get)
    return {"pages": len(codes), "html_bytes_min": min(sizes.values()),
            "html_bytes_median": float(np.median(list(sizes.values()))),
            "html_bytes_max": sizes[largest], "largest": largest,
            "first_request": summary(list(cold.values()))}


def _kelurahan() -> list[dict[str, Any]]:
    from webmap.demo import BOUNDARIES
    return [f["properties"] for f in json.loads(BOUNDARIES.read_text())["features"]]


def _largest_kelurahan(kelurahan: list[dict[str, Any]]) -> str:
    """The kelurahan of largest area: the most H3 cells, so about the largest page."""
    return max(kelurahan, key=lambda k: k["area_km2"])["kode"]


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Set up the database, start gunicorn, measure; always stop the servers started here."""
    OUT.mkdir(parents=True, exist_ok=True)
    kelurahan = _kelurahan()  # the demo city's boundary file, parsed once
    postgis = None
    database_url = options.database_url
    if options.postgis:
        from tests.pgserver import PostgisServer
        postgis = PostgisServer().start()
        postgis.execute("CREATE DATABASE bench_web")
        postgis.execute("CREATE EXTENSION postgis", "bench_web")
        database_url = postgis.url("bench_web")
    server = None
    try:
        setup = prepare_instance(options, database_url, kelurahan)
        log(f"{setup['measurements']:,} measurements in the database "
            f"(set-up {setup['load_s']:.0f} s); starting gunicorn ...")
        server = Gunicorn(setup["env"], options.workers, options.threads)
        server.start()  # stopped below even when it never became ready
        return measure(options, setup, server, sorted(k["kode"] for k in kelurahan))
    finally:
        if server is not None:
            server.stop()
        if postgis is not None:
            postgis.stop()


def measure(options: argparse.Namespace, setup: dict[str, Any], server: Gunicorn,
            codes: list[str]) -> dict[str, Any]:
    """All measurements against a running server; ``codes``: every kelurahan of the city."""
    base = server.base
    load_before = os.getloadavg()
    planner, lurah = Client(base), Client(base)
    planner.login(PLANNER, PASSWORD)
    lurah.login(LURAH, PASSWORD)
    pages = {"city": "/peta", "kelurahan": f"/kelurahan/{setup['kelurahan']}"}
    log("cold requests and warm-up of every worker ...")
    warm = {"city": warm_up(server, planner, pages["city"]),
            "kelurahan": warm_up(server, planner, pages["kelurahan"]),
            "kelurahan_lurah": warm_up(server, lurah, pages["kelurahan"])}
    log("every kelurahan page once ...")
    kelurahan_pages = all_kelurahan_pages(planner, codes)

    log(f"warm latency: {options.requests} sequential requests per page ...")
    latency = {"login_form_baseline": sequential(server, Client(base), "/login",
                                                 options.requests),
               "static_file_baseline": sequential(server, planner, STATIC_BASELINE,
                                                  options.requests),
               "city": sequential(server, planner, pages["city"], options.requests),
               "kelurahan": sequential(server, planner, pages["kelurahan"], options.requests),
               "kelurahan_lurah": sequential(server, lurah, pages["kelurahan"],
                                             options.requests)}
    log("bytes ...")
    fetched = {name: planner.ok(path) for name, path in pages.items()}  # each page once
    transfer = {name: page_bytes(planner, path, fetched[name]) for name, path in pages.items()}
    breakdown = {name: html_breakdown(fetched[name].text()) for name in pages}
    browser = None if options.no_browser else browser_bytes(base, planner.jar, pages)
    log(f"{options.clients} concurrent clients x {options.per_client} x {len(pages)} pages ...")
    concurrency = load_test(base, pages, options.clients, options.per_client)
    result = {
        "rows": setup["measurements"], "database": setup["database"], "set_up_s": setup["load_s"],
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "gunicorn": {"workers": options.workers, "threads": options.threads,
                     "worker_rss_mb": server.worker_rss_mb(),
                     "worker_problems": server.worker_problems()},
        "pages": pages, "kelurahan_pages": kelurahan_pages, "warm_up": warm,
        "latency": latency, "bytes": transfer, "html_breakdown": breakdown,
        "browser": browser, "concurrency": concurrency,
    }
    result["verdict"] = verdict(result)
    return result


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """Each target with the measured value and whether it is met."""
    checks = {}
    for name, target in TARGETS.items():
        p95 = result["latency"][name]["p95_ms"]
        checks[f"{name} warm p95 <= {target['p95_ms']:.0f} ms"] = (p95, p95 <= target["p95_ms"])
        if name == "kelurahan":
            p95 = result["latency"]["kelurahan_lurah"]["p95_ms"]
            checks[f"kelurahan (lurah) warm p95 <= {target['p95_ms']:.0f} ms"] = (
                p95, p95 <= target["p95_ms"])
        browser = (result["browser"] or {}).get(name)
        measured = (browser["first_visit"]["total_bytes"] if browser
                    else result["bytes"][name]["total_bytes"])
        checks[f"{name} bytes <= {target['bytes'] / 1e6:g} MB"] = (measured,
                                                                    measured <= target["bytes"])
        if name == "kelurahan":  # the largest of all kelurahan pages, with the same assets
            kp = result["kelurahan_pages"]
            measured += kp["html_bytes_max"] - result["bytes"]["kelurahan"]["html_bytes"]
            checks[f"largest kelurahan page bytes <= {target['bytes'] / 1e6:g} MB"] = (
                measured, measured <= target["bytes"])
    concurrency = result["concurrency"]
    checks[f"{concurrency['clients']} concurrent clients, errors = 0"] = (
        concurrency["errors"], concurrency["errors"] == 0)
    tiles = [re.compile(re.sub(r"\\\{[^}]*\\\}", "[^./]+", re.escape(h)) + "$")
             for b in result["bytes"].values() for h in b["tile_hosts"]]
    external = sorted(h for h in {u for b in result["bytes"].values() for u in b["external"]}
                      | {h for b in (result["browser"] or {}).values()
                         for v in b.values() for h in v["external_hosts"]}
                      if not any(t.match(h) for t in tiles))
    checks["no external resource (besides TILE_URL tiles)"] = (len(external), not external)
    broken = sorted({u for b in result["bytes"].values() for u in b["broken"]})
    checks["every referenced same-origin file answers 200"] = (len(broken), not broken)
    problems = result["gunicorn"]["worker_problems"]
    checks["no gunicorn worker crashed or timed out"] = (len(problems), not problems)
    return {"checks": {k: {"measured": v, "met": ok} for k, (v, ok) in checks.items()},
            "bytes_basis": "chromium first visit" if result["browser"] else
            "every referenced asset (static parse)", "external": external, "broken": broken}


def report(result: dict[str, Any]) -> None:
    """Print the figures as tables."""
    lat, warm = result["latency"], result["warm_up"]
    g = result["gunicorn"]
    print(f"{result['rows']:,} measurements, {result['database']}; gunicorn -w {g['workers']} "
          f"--threads {g['threads']}, worker RSS "
          f"{', '.join(f'{r:,.0f}' for r in g['worker_rss_mb'])} MB; set-up "
          f"{result['set_up_s']:.0f} s")
    m = result["machine"]
    print(f"{m['cpus']} CPUs; load average (1 min) {m['load_average_before'][0]:.1f} before, "
          f"{m['load_average_after'][0]:.1f} after the measurements")
    kp = result["kelurahan_pages"]
    print(f"pages: city {result['pages']['city']}, kelurahan {result['pages']['kelurahan']} "
          f"(largest area; largest page of all {kp['pages']}: {kp['largest']})\n")
    print(f"{'warm latency (sequential)':34s} {'n':>4s} {'p50 ms':>8s} {'p95 ms':>8s} "
          f"{'max ms':>8s} {'server p95':>10s} {'p50/login':>10s} {'target p95':>13s}")
    base = lat["login_form_baseline"]["p50_ms"]
    for name, label, target in [
            ("login_form_baseline", "/login form (baseline)", None),
            ("static_file_baseline", "147 KB static file (baseline)", None),
            ("city", "city map, planner", "city"), ("kelurahan", "kelurahan, planner", "kelurahan"),
            ("kelurahan_lurah", "kelurahan, its lurah", "kelurahan")]:
        s = lat[name]
        goal = ""
        if target:
            limit = TARGETS[target]["p95_ms"]
            goal = f"<= {limit:.0f} {'ok' if s['p95_ms'] <= limit else 'MISSED'}"
        print(f"{label:34s} {s['n']:4d} {s['p50_ms']:8.1f} {s['p95_ms']:8.1f} {s['max_ms']:8.1f} "
              f"{s['server_p95_ms'] or float('nan'):10.1f} {s['p50_ms'] / base:10.1f} "
              f"{goal:>13s}")
    print("\ncold (first request; analysis + map rendering), then warm-up until every worker "
          "answered:")
    for name, w in warm.items():
        print(f"  {name:18s} {w['cold_s']:7.2f} s   {w['warm_up_requests']} requests, "
              f"{w['workers_warm']}/{w['workers']} workers warm, slow ones "
              f"{w['slow_requests_s']} s")
    print(f"  all {kp['pages']} kelurahan pages once: p50 {kp['first_request']['p50_ms']:.0f} ms, "
          f"max {kp['first_request']['max_ms']:.0f} ms; HTML {kp['html_bytes_min'] / 1e3:.0f}-"
          f"{kp['html_bytes_max'] / 1e3:.0f} KB (median {kp['html_bytes_median'] / 1e3:.0f} KB)")
    print(f"\n{'bytes (kB = 1000 B)':34s} {'HTML':>8s} {'assets':>8s} {'total':>8s} "
          f"{'gzip':>8s} {'chromium 1st':>12s} {'revisit':>8s} {'target':>8s}")
    for name, b in result["bytes"].items():
        browser = (result["browser"] or {}).get(name)
        first = f"{browser['first_visit']['total_bytes'] / 1e3:12.0f}" if browser else f"{'-':>12s}"
        again = f"{browser['revisit']['total_bytes'] / 1e3:8.0f}" if browser else f"{'-':>8s}"
        print(f"{name + ' (' + b['content_encoding'] + ')':34s} {b['html_bytes'] / 1e3:8.0f} "
              f"{b['assets_bytes'] / 1e3:8.0f} {b['total_bytes'] / 1e3:8.0f} "
              f"{b['total_gzip_bytes'] / 1e3:8.0f} {first} {again} "
              f"{TARGETS[name]['bytes'] / 1e3:8.0f}")
    for name, parts in result["html_breakdown"].items():
        counts = parts["features"]
        print(f"  {name} HTML: " + ", ".join(
            f"{k} {v / 1e3:.0f} kB" + (f" ({counts[k]:,} features)" if k in counts else "")
            for k, v in parts["bytes"].items()))
    c = result["concurrency"]
    print(f"\nconcurrency: {c['clients']} clients, {c['requests']} requests in {c['wall_s']:.1f} s "
          f"({c['requests_per_s']:.1f} req/s, {c['mbytes_per_s']:.1f} MB/s), errors {c['errors']}"
          f" {c['error_statuses'] or ''}")
    for name, s in c["pages"].items():
        if s["n"]:
            print(f"  {name:10s} p50 {s['p50_ms']:7.0f} ms  p95 {s['p95_ms']:7.0f} ms  "
                  f"max {s['max_ms']:7.0f} ms")
    v = result["verdict"]
    print(f"\ntargets (bytes: {v['bytes_basis']}):")
    for name, check in v["checks"].items():
        value = check["measured"]
        shown = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
        print(f"  [{'x' if check['met'] else ' '}] {name:48s} measured {shown}")
    if v["external"]:
        print("  external resources: " + ", ".join(v["external"]))
    if v["broken"]:
        print("  broken references: " + ", ".join(v["broken"]))
    for line in result["gunicorn"]["worker_problems"]:
        print(f"  gunicorn: {line}")
    tiles = sorted({h for b in result["bytes"].values() for h in b["tile_hosts"]})
    if tiles:
        print(f"  basemap tiles from TILE_URL ({', '.join(tiles)}), not counted")


def main() -> None:
    """Parse the options, run, write ``bench-out/web/result.json`` and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated measurements")
    parser.add_argument("--requests", type=int, default=50, help="sequential requests per page")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--per-client", type=int, default=5,
                        help="times each concurrent client fetches each page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--database-url", help="an empty PostgreSQL + PostGIS database "
                                                 "(default: SQLite in bench-out/web/instance)")
    database.add_argument("--postgis", action="store_true",
                          help="start a throwaway PostgreSQL + PostGIS server (tests.pgserver)")
    parser.add_argument("--kelurahan",
                        help="kelurahan page to bench (default: the largest by area)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep bench-out/web/instance from an earlier run (no re-ingest)")
    parser.add_argument("--no-browser", action="store_true",
                        help="skip the Chromium (Playwright) measurement of transferred bytes")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    options = parser.parse_args()
    result = run(options)
    (OUT / "result.json").write_text(json.dumps(result, indent=2))
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)


if __name__ == "__main__":
    main()
