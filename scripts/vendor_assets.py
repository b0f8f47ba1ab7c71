"""Copy the browser assets of maps and charts from npm into ``webmap/static/vendor`` (no CDN).

City intranets often have no internet, so every script, style sheet, image and font a map page
or chart loads is served by the app itself.  The versions are pinned in
``webmap/assets/package.json`` (those folium references, and Chart.js for the trend charts) and
locked in ``webmap/assets/package-lock.json``.  This script:

1. runs ``npm ci --no-audit --no-fund --ignore-scripts`` on a copy of those two files in
   ``build/vendor-npm`` (outside ``webmap/``, so ``node_modules`` never lands in the package);
2. copies the distribution files, the images and fonts their CSS references, and each licence
   into ``webmap/static/vendor/<package>/``;
3. writes the two files folium needs that are not on npm: ``folium/leaflet.awesome.rotate.css``
   (the ``fa-rotate-N`` classes of ``folium.Icon(angle=N)``) and the awesome-markers licence
   (its npm package ships none);
4. checks that every ``url(...)`` of the copied CSS resolves to a copied file, then writes
   ``webmap/static/vendor/.stamp``.

Usage::

    python scripts/vendor_assets.py               # install from the lock file and copy
    python scripts/vendor_assets.py --update-lock # re-resolve package.json into the lock first

``webmap/static/vendor`` is build output (git-ignored); the Makefile runs this script when the
stamp is missing.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "webmap" / "assets"
VENDOR = ROOT / "webmap" / "static" / "vendor"
BUILD = ROOT / "build" / "vendor-npm"
STAMP = VENDOR / ".stamp"

#: Per vendor folder: the npm package and (source glob in the package, destination folder).
COPIES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "leaflet": ("leaflet", [("dist/leaflet.js", ""), ("dist/leaflet.css", ""),
                            ("dist/images/*.png", "images"), ("LICENSE", "")]),
    "jquery": ("jquery", [("dist/jquery.min.js", ""), ("LICENSE.txt", "")]),
    "fontawesome-free": ("@fortawesome/fontawesome-free", [
        ("css/all.min.css", "css"), ("webfonts/*", "webfonts"), ("LICENSE.txt", "")]),
    "leaflet.awesome-markers": ("drmonty-leaflet-awesome-markers", [
        ("js/leaflet.awesome-markers.js", ""), ("css/leaflet.awesome-markers.css", ""),
        ("css/images/*.png", "images")]),
    "leaflet.markercluster": ("leaflet.markercluster", [
        ("dist/leaflet.markercluster.js", ""), ("dist/MarkerCluster.css", ""),
        ("dist/MarkerCluster.Default.css", ""), ("MIT-LICENCE.txt", "")]),
    # Trend charts (dashboard and kelurahan page); only pages that draw a chart load it.
    "chartjs": ("chart.js", [("dist/chart.umd.min.js", ""), ("LICENSE.md", "")]),
}

_AWESOME_MARKERS_LICENSE = """\
Leaflet.awesome-markers 2.0.2 - MIT License
Copyright (c) 2012-2013 Lennard Voogdt (https://github.com/lvoogdt/Leaflet.awesome-markers)
(npm package drmonty-leaflet-awesome-markers@2.0.2 ships no licence file; text restored here)

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""

_ROTATE_README = """\
leaflet.awesome.rotate.css: the fa-rotate-N classes (N = 0..359) that folium.Icon(angle=N) puts
on its icon.  folium publishes its own copy only on a CDN, so scripts/vendor_assets.py writes this
equivalent.  folium is MIT licensed (https://github.com/python-visualization/folium).
"""

_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")


def main(argv: list[str] | None = None) -> int:
    """Install the pinned packages, copy the assets, check them and write the stamp."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-lock", action="store_true",
                        help="re-resolve webmap/assets/package.json into package-lock.json first")
    args = parser.parse_args(argv)
    npm = shutil.which("npm")
    if npm is None:
        print("vendor_assets: npm is not installed (apt-get install npm)", file=sys.stderr)
        return 2
    if args.update_lock:
        _run([npm, "install", "--package-lock-only", "--no-audit", "--no-fund",
              "--ignore-scripts"], cwd=ASSETS)
    modules = _install(npm)
    STAMP.unlink(missing_ok=True)
    shutil.rmtree(VENDOR, ignore_errors=True)
    for folder, (package, patterns) in COPIES.items():
        _copy_package(modules / package, VENDOR / folder, patterns)
    _write_generated()
    problems = _broken_css_urls(VENDOR)
    if problems:
        print("vendor_assets: CSS references missing files:\n  " + "\n  ".join(problems),
              file=sys.stderr)
        return 1
    STAMP.write_text(json.dumps(_versions(modules), indent=2, sort_keys=True) + "\n")
    print(f"vendor_assets: {_count_files(VENDOR)} files, {_size(VENDOR) / 1e6:.2f} MB in "
          f"{VENDOR.relative_to(ROOT)}")
    return 0


def _run(command: list[str], *, cwd: Path) -> None:
    print("+", " ".join(command), f"(in {cwd.relative_to(ROOT)})", flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def _install(npm: str) -> Path:
    """Run ``npm ci`` on a copy of package.json and the lock file; return node_modules."""
    BUILD.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(ASSETS / name, BUILD / name)
    _run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=BUILD)
    return BUILD / "node_modules"


def _copy_package(source: Path, target: Path, patterns: list[tuple[str, str]]) -> None:
    for pattern, folder in patterns:
        matches = sorted(source.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"{source.name}: nothing matches {pattern!r} in {source}")
        (target / folder).mkdir(parents=True, exist_ok=True)
        for path in matches:
            shutil.copy2(path, target / folder / path.name)


def _write_generated() -> None:
    (VENDOR / "leaflet.awesome-markers" / "LICENSE.txt").write_text(_AWESOME_MARKERS_LICENSE)
    folium_dir = VENDOR / "folium"
    folium_dir.mkdir(parents=True, exist_ok=True)
    rules = "".join(f".fa-rotate-{angle}{{transform:rotate({angle}deg)}}"
                    for angle in range(360))
    (folium_dir / "leaflet.awesome.rotate.css").write_text(rules + "\n")
    (folium_dir / "README.txt").write_text(_ROTATE_README)


def _broken_css_urls(root: Path) -> list[str]:
    """Every ``url(...)`` of the copied CSS that points to no copied file."""
    problems = []
    for css in sorted(root.rglob("*.css")):
        for url in _CSS_URL.findall(css.read_text(encoding="utf-8")):
            if url.startswith(("data:", "#")):
                continue
            if not (css.parent / url.split("?")[0].split("#")[0]).is_file():
                problems.append(f"{css.relative_to(root)}: {url}")
    return problems


def _versions(modules: Path) -> dict[str, str]:
    return {package: json.loads((modules / package / "package.json").read_text())["version"]
            for package, _ in COPIES.values()}


def _count_files(root: Path) -> int:
    return sum(1 for path in root.rglob("*") if path.is_file())


def _size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


if __name__ == "__main__":
    sys.exit(main())
