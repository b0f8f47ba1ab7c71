"""Maps of ``webmap.maps``: built from the demo city, rendered, and checked to work offline."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import folium
import folium.plugins
import geopandas as gpd
import h3ronpy.vector as h3_vector
import shapely

from geo.coverage import aggregate_cells, kelurahan_stats
from geo.demo import FACILITY_TYPES, generate_city, generate_facilities, generate_measurements
from geo.kelurahan_lookup import assign_kelurahan
from webmap import maps

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "webmap" / "static"
PACKAGE_JSON = ROOT / "webmap" / "assets" / "package.json"
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "code.jquery.com",
             "maxcdn.bootstrapcdn.com", "netdna.bootstrapcdn.com", "stackpath.bootstrapcdn.com",
             "ajax.googleapis.com")
ASSET_URL = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""")
ANY_URL = re.compile(r"""(?:https?:)?//[^\s"'`<>)\\]+""")
TINY_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16  # content is not decoded by the builder


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo() -> dict:
    """Demo city, facilities, 5000 measurements, cells and kelurahan statistics with polygons."""
    city = generate_city()
    measurements = generate_measurements(city, 5000)
    lat = measurements["latitude"].to_numpy()
    lon = measurements["longitude"].to_numpy()
    rows = measurements.assign(
        measured_at=pd.to_datetime(measurements["timestamp"], utc=True).astype("int64") // 10**9,
        h3_cell=h3_vector.coordinates_to_cells(lat, lon, 9).to_numpy().astype("int64"),
        kelurahan_kode=assign_kelurahan(lon, lat, city))
    cells = aggregate_cells(rows)
    stats = city[["kode", "geometry"]].merge(kelurahan_stats(city, cells), on="kode")
    return {"city": city, "stats": stats, "cells": cells, "measurements": measurements,
            "facilities": generate_facilities(city), "blank_spots": _blank_spots(city)}


def _blank_spots(city: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One hand-made blank spot around the centre of the first kelurahan."""
    centre = city.geometry.iloc[0].representative_point()
    return gpd.GeoDataFrame(
        {"id": [1], "area_km2": [1.25], "kelurahan": [city["kode"].iloc[0]],
         "kelurahan_kode_main": [city["kode"].iloc[0]], "population": [1234.0],
         "samples": [12], "no_service_samples": [9], "last_measured": [1719792000],
         "centroid_lat": [centre.y], "centroid_lon": [centre.x]},
        geometry=[centre.buffer(0.005)], crs="EPSG:4326")


@pytest.fixture(scope="module")
def city_components(demo) -> dict[str, str]:
    """Rendered components of the full city map."""
    m = maps.city_map(demo["stats"], cells=demo["cells"], blank_spots=demo["blank_spots"],
                      facilities=demo["facilities"],
                      measurements_sample=demo["measurements"].sample(300, random_state=1),
                      surface_png=maps.SurfaceImage(TINY_PNG, ((1.3, 101.2), (1.8, 101.7))))
    return maps.map_components(m)


# ``vendored`` (webmap/static/vendor, vendored when missing) is in tests/webmap/conftest.py.


def _js(text: str) -> str:
    """Text as it appears inside a JSON string literal of the rendered script."""
    return json.dumps(text).replace("&", "\\u0026").replace("<", "\\u003c")[1:-1]


def _page(components: dict[str, str]) -> str:
    return "\n".join(components.values())


# --- offline -----------------------------------------------------------------------------------

def test_only_local_scripts_and_style_sheets(city_components):
    urls = ASSET_URL.findall(_page(city_components))
    assert urls, "the header loads no assets at all"
    assert [url for url in urls if not url.startswith("/static/vendor/")] == []


def test_only_remote_urls_are_tiles_and_their_attribution(city_components):
    remote = set(ANY_URL.findall(_page(city_components)))
    assert remote <= {maps.DEFAULT_TILE_URL, "https://www.openstreetmap.org/copyright"}
    assert maps.DEFAULT_TILE_URL in remote
    assert not [host for host in CDN_HOSTS if host in _page(city_components)]


def test_every_local_asset_exists_after_vendoring(city_components, vendored):
    urls = ASSET_URL.findall(_page(city_components))
    missing = [url for url in urls if not (STATIC / url.removeprefix("/static/")).is_file()]
    assert missing == []
    assert [path for path in maps.VENDOR_ASSETS.values() if not (STATIC / path).is_file()] == []


def test_vendored_css_references_resolve(vendored):
    for css in vendored.rglob("*.css"):
        for url in re.findall(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""", css.read_text()):
            if not url.startswith(("data:", "#")):
                assert (css.parent / url.split("?")[0]).is_file(), f"{css.name}: {url}"


def test_vendored_files_have_licences(vendored):
    for folder in (path for path in vendored.iterdir() if path.is_dir()):
        assert [p for p in folder.iterdir() if re.search(r"(LICEN[CS]E|README)", p.name)], folder


def test_package_json_pins_the_versions_folium_references():
    pins = json.loads(PACKAGE_JSON.read_text())["dependencies"]
    packages = {"leaflet": "leaflet", "jquery": "jquery",
                "awesome_markers": "drmonty-leaflet-awesome-markers",
                "awesome_markers_font_css": "@fortawesome/fontawesome-free",
                "markerclusterjs": "leaflet.markercluster"}
    assets = dict(folium.Map.default_js + folium.Map.default_css
                  + folium.plugins.MarkerCluster.default_js)
    for name, package in packages.items():
        version = re.search(r"[@/-](\d+\.\d+\.\d+)", assets[name]).group(1)
        assert pins[package] == version, f"{package}: folium uses {version}"
    lock = json.loads((PACKAGE_JSON.parent / "package-lock.json").read_text())
    for package, version in pins.items():
        assert lock["packages"][f"node_modules/{package}"]["version"] == version


def test_every_folium_asset_is_vendored_or_deliberately_omitted():
    names = {name for name, _ in folium.Map.default_js + folium.Map.default_css
             + folium.plugins.MarkerCluster.default_js + folium.plugins.MarkerCluster.default_css}
    assert names - set(maps.VENDOR_ASSETS) == set(maps.OMITTED_ASSETS)


def test_offline_assets_uses_the_static_url_function(demo):
    m = maps.city_map(demo["stats"], static_url=lambda path: f"/kota/static/{path}?v=1")
    header = maps.map_components(m)["header"]
    assert '<script src="/kota/static/vendor/leaflet/leaflet.js?v=1">' in header


def test_a_remote_asset_without_local_copy_is_refused():
    m = folium.Map(tiles=None)
    plugin = folium.MacroElement()
    plugin.default_js = [("mystery", "https://example.org/mystery.js")]
    m.add_child(plugin)
    with pytest.raises(ValueError, match="mystery"):
        maps.offline_assets(m)


def test_map_components_refuses_a_map_with_cdn_assets():
    with pytest.raises(ValueError, match="remote assets"):
        maps.map_components(folium.Map(tiles=None))


# --- layers, icons, legend ---------------------------------------------------------------------

def test_layers_present(city_components):
    script = city_components["script"]
    assert "L.control.layers" in script
    assert "L.markerClusterGroup" in script
    assert "Kelurahan: Luas tercakup sinyal" in script
    for name in ("Tanpa latar", "Sel H3 (status sinyal)", "Blank spot (perkiraan)",
                 "Titik pengukuran (sampel)", "Perkiraan kuat sinyal"):
        assert json.dumps(name) in script, name
    assert 'class="folium-map"' in city_components["html"]


def test_facility_icons_per_type(demo, city_components):
    script = city_components["script"]
    for kind in demo["facilities"]["type"].unique():
        style = maps.FACILITY_STYLES[kind]
        assert f'"icon": "{style.icon}"' in script, kind
        assert json.dumps(f"Fasilitas: {style.label}") in script
    assert '"prefix": "fa"' in script and "glyphicon" not in script


def test_facility_icons_exist_in_the_vendored_font(vendored):
    assert set(maps.FACILITY_STYLES) == set(FACILITY_TYPES)
    css = (vendored / "fontawesome-free" / "css" / "all.min.css").read_text()
    missing = [s.icon for s in maps.FACILITY_STYLES.values() if f".fa-{s.icon}:" not in css
               and f".fa-{s.icon}," not in css]
    assert missing == []


def test_legend_in_indonesian(city_components):
    script = city_components["script"]
    for text in ("Legenda", "Blank spot (tanpa sinyal)", "Sinyal lemah", "Tercakup",
                 "Belum cukup data", "Tidak ada data", "Fasilitas", "Kantor lurah"):
        assert text in script, text


def test_figures_use_indonesian_numbers(city_components):
    assert "1,25" in city_components["script"]  # the blank spot's area, 1.25 km2
    assert "1.234" in city_components["script"]  # its population


@pytest.mark.parametrize(("value", "decimals", "text"), [
    (1234.5, 1, "1.234,5"), (1234567, 0, "1.234.567"), (-0.25, 2, "-0,25"),
    (float("nan"), 1, "-"), (None, 0, "-")])
def test_format_number(value, decimals, text):
    assert maps.format_number(value, decimals) == text


def test_script_is_valid_javascript(city_components, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed, so the script cannot be syntax-checked")
    path = tmp_path / "map.js"
    path.write_text(city_components["script"])
    result = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_coordinates_rounded_to_six_decimals(city_components):
    decimals = re.findall(r"\[\d+\.(\d+), \d+\.(\d+)\]", city_components["script"])
    assert decimals and max(len(d) for pair in decimals for d in pair) <= 6


def test_other_indicator_and_unknown_ones(demo):
    script = maps.map_components(maps.city_map(demo["stats"], indicator="blank_area_km2"))
    assert _js("Luas blank spot (km²)") in script["script"]
    with pytest.raises(ValueError, match="population raster"):
        maps.city_map(demo["stats"], indicator="population_blank")
    with pytest.raises(ValueError, match="covered_area_pct"):
        maps.city_map(demo["stats"], indicator="jumlah_warung")


def test_without_tiles_the_blank_base_layer_is_shown(demo):
    script = maps.map_components(maps.city_map(demo["stats"], tile_url=None))["script"]
    assert "tile.openstreetmap.org" not in script and "L.tileLayer" not in script
    assert "Tanpa latar" in script


def test_names_are_escaped(demo):
    stats = demo["stats"].copy()
    stats.loc[0, "nama"] = "<script>alert(1)</script>"
    script = maps.map_components(maps.city_map(stats))["script"]
    assert "<script>alert(1)" not in script and _js("&lt;script&gt;alert(1)") in script


# --- one kelurahan -----------------------------------------------------------------------------

def test_kelurahan_map_is_zoomed_to_the_boundary(demo):
    row = demo["stats"].iloc[[0]]
    facilities = demo["facilities"]
    m = maps.kelurahan_map(row, cells=demo["cells"], blank_spots=demo["blank_spots"],
                           facilities=facilities, measurements_sample=demo["measurements"])
    script = maps.map_components(m)["script"]
    west, south, east, north = row.total_bounds
    bounds = re.search(r"fitBounds\(\s*\[\[([-\d.]+), ([-\d.]+)\], \[([-\d.]+), ([-\d.]+)\]\]",
                       script)
    assert np.allclose([float(v) for v in bounds.groups()], [south, west, north, east])
    assert "Batas kelurahan" in script and row["nama"].iloc[0] in script
    inside = facilities[facilities.within(row.geometry.iloc[0])]
    outside = facilities[~facilities.within(row.geometry.iloc[0])]
    assert all(name in script for name in inside["nama"])
    assert not [name for name in outside["nama"] if json.dumps(name)[1:-1] + " (" in script]


def test_kelurahan_map_needs_one_row(demo):
    with pytest.raises(ValueError, match="one kelurahan"):
        maps.kelurahan_map(demo["stats"].iloc[:2], cells=None, blank_spots=None,
                           facilities=None)


def test_missing_crs_is_refused(demo):
    frame = gpd.GeoDataFrame(demo["stats"].drop(columns="geometry"),
                             geometry=[shapely.box(0, 0, 1, 1)] * len(demo["stats"]))
    with pytest.raises(ValueError, match="CRS"):
        maps.city_map(frame)


# --- surface overlay ---------------------------------------------------------------------------

def _surface_result():
    """A 3 x 2 block surface (30 x 20 cells of 100 m) in UTM 47N, one signal class per block."""
    import pyproj
    from rasterio.transform import Affine

    from geo.settings import SIGNAL_CLASSES_DBM
    from geo.surface import EvidenceSelection, SurfaceResult

    blocks = np.array([[-70.0, -85.0], [-95.0, -110.0], [-130.0, np.nan]], dtype=np.float32)
    values = np.repeat(np.repeat(blocks, 10, axis=0), 10, axis=1)
    selection = EvidenceSelection(operator=None, technology=None, as_of=None, aggregation_m=50.0,
                                  evidence_window_days=90.0, min_samples=3, max_accuracy_m=50.0,
                                  classes_dbm=dict(SIGNAL_CLASSES_DBM))
    return SurfaceResult(values=values, transform=Affine(100.0, 0.0, 500_000.0, 0.0, -100.0,
                                                         200_000.0),
                         crs=pyproj.CRS("EPSG:32647"), resolution_m=100.0, method="idw",
                         samples=60, points=6, max_distance_m=500.0, selection=selection)


def _decoded(png: bytes) -> np.ndarray:
    """RGBA pixels (rows, cols, 4) of a PNG."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a bare PNG has no georeference
        with MemoryFile(png) as memory, memory.open() as image:
            return np.moveaxis(image.read(), 0, -1)


def test_surface_image_is_a_png_with_one_colour_per_class():
    image = maps.surface_image(_surface_result())
    assert isinstance(image.image, bytes) and image.image.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = _decoded(image.image)
    opaque = {"#{:02x}{:02x}{:02x}".format(*p[:3]) for p in pixels.reshape(-1, 4) if p[3] == 255}
    expected = {maps.SIGNAL_CLASS_STYLES[name][0]
                for name in ("very_good", "good", "fair", "weak", "no_coverage")}
    assert opaque == expected
    assert (pixels[..., 3] == 0).any()  # the NaN block (and the reprojection margin) is clear
    assert set(np.unique(pixels[..., 3])) <= {0, 255}


def test_surface_image_bounds_cover_the_grid():
    import pyproj

    (south, west), (north, east) = maps.surface_image(_surface_result()).bounds
    to_degrees = pyproj.Transformer.from_crs("EPSG:32647", "EPSG:4326", always_xy=True)
    lon, lat = to_degrees.transform([500_000, 502_000], [197_000, 200_000])
    assert west <= lon[0] + 1e-3 and east >= lon[1] - 1e-3
    assert south <= lat[0] + 1e-3 and north >= lat[1] - 1e-3
    assert np.allclose([west, south, east, north], [lon[0], lat[0], lon[1], lat[1]], atol=2e-3)


def test_surface_layer_from_a_url_starts_hidden_with_a_legend(demo):
    bounds = ((1.3, 101.2), (1.8, 101.7))
    m = maps.city_map(demo["stats"], surface_png=maps.SurfaceImage(
        "/peta/surface.png?city=99.71&technology=4G", bounds))
    script = maps.map_components(m)["script"]
    overlay = re.search(r"var (image_overlay_\w+) = L\.imageOverlay\(\s*\"([^\"]+)\"", script)
    assert overlay.group(2) == _js("/peta/surface.png?city=99.71&technology=4G")
    assert f"{overlay.group(1)}.addTo(" not in script  # in the layer control, not shown
    assert json.dumps("Perkiraan kuat sinyal") in script
    assert "Belum diukur (tanpa warna)" in script


# --- language ----------------------------------------------------------------------------------

def test_translate_is_applied_to_every_label(demo):
    m = maps.city_map(demo["stats"], cells=demo["cells"], blank_spots=demo["blank_spots"],
                      facilities=demo["facilities"],
                      measurements_sample=demo["measurements"].sample(50, random_state=1),
                      surface_png=maps.SurfaceImage(TINY_PNG, ((1.3, 101.2), (1.8, 101.7))),
                      translate=str.upper)
    script = maps.map_components(m)["script"]
    for text in ("LEGENDA", "TANPA LATAR", "SEL H3 (STATUS SINYAL)", "BLANK SPOT (PERKIRAAN)",
                 "TITIK PENGUKURAN (SAMPEL)", "PERKIRAAN KUAT SINYAL", "FASILITAS: SEKOLAH",
                 "KELURAHAN: LUAS TERCAKUP SINYAL", "TIDAK ADA DATA", "JUMLAH PENGUKURAN",
                 "LUAS (KM²)", "SANGAT BAIK", "PETA DASAR"):
        assert text in script or _js(text) in script, text
    for text in ("Legenda", "Tanpa latar", "Sel H3 (status sinyal)", "Tidak ada data",
                 "Jumlah pengukuran", "Sangat baik"):
        assert text not in script and _js(text) not in script, text


def test_english_numbers(demo):
    m = maps.city_map(demo["stats"], blank_spots=demo["blank_spots"], decimal_comma=False)
    script = maps.map_components(m)["script"]
    assert '"1.25"' in script and '"1,234"' in script  # the blank spot's area and population
    assert '"1,25"' not in script and '"1.234"' not in script


@pytest.mark.parametrize(("value", "decimals", "text"), [
    (1234.5, 1, "1,234.5"), (1234567, 0, "1,234,567"), (-0.25, 2, "-0.25"), (None, 0, "-")])
def test_format_number_in_english(value, decimals, text):
    assert maps.format_number(value, decimals, decimal_comma=False) == text


def test_kelurahan_statuses_are_those_of_the_analysis():
    from geo.coverage import FREE, HAS_BLANK, NOT_ENOUGH_DATA

    assert set(maps.KELURAHAN_STATUSES) == {FREE, HAS_BLANK, NOT_ENOUGH_DATA}


def test_map_name_is_the_leaflet_variable(city_components):
    assert f"var {city_components['name']} = L.map(" in city_components["script"]


# --- cells at city zoom and per operator -------------------------------------------------------

def _cell_layer(script: str) -> dict:
    """The GeoJSON of the cell layer (its features carry a ``sampel`` and a ``status``)."""
    collections = [json.loads(m.group(1)) for m in
                   re.finditer(r"geo_json_\w+_add\((\{\"features\".*?\})\);\n", script, re.S)]
    return next(c for c in collections if c["features"]
                and {"sampel", "status"} <= set(c["features"][0]["properties"]))


def test_city_map_merges_cells_per_kelurahan_and_status(demo):
    cells = demo["cells"]
    script = maps.map_components(maps.city_map(demo["stats"], cells=cells))["script"]
    features = _cell_layer(script)["features"]
    any_rows = cells[cells["operator"] == "any"]
    groups = any_rows.groupby(["kelurahan_kode", "status"]).size()
    assert len(features) == len(groups)
    counts = sorted(int(f["properties"]["sel"].replace(".", "")) for f in features)
    assert counts == sorted(groups.tolist())


def test_kelurahan_map_keeps_single_cells(demo):
    row = demo["stats"].iloc[[0]]
    cells = demo["cells"]
    m = maps.kelurahan_map(row, cells=cells, blank_spots=None, facilities=None)
    features = _cell_layer(maps.map_components(m)["script"])["features"]
    own = cells[(cells["operator"] == "any") & (cells["kelurahan_kode"] == row["kode"].iloc[0])]
    measured = (own["status"] != "unmeasured").sum()
    assert len(features) == measured + int((own["status"] == "unmeasured").any())


def test_cells_of_one_operator_are_drawn_with_its_name(demo):
    cells = demo["cells"]
    operator = sorted(set(cells["operator"]) - {"any"})[0]
    script = maps.map_components(maps.city_map(
        demo["stats"], cells=cells[cells["operator"] == operator]))["script"]
    assert f"Sel H3 ({operator})" in script
    with pytest.raises(ValueError, match="several operators"):
        maps.city_map(demo["stats"], cells=cells[cells["operator"] != "any"])


# --- user texts travel as data -----------------------------------------------------------------

#: Texts users type (facility names, operators, kelurahan names) that would run, or break the
#: script, if they were spliced into JavaScript source instead of passed as JSON.
XSS_TEXTS = ["${alert(1)}", "`-alert(1)-`", "</script><script>alert(1)</script>",
             "<img src=x onerror=alert(1)>", "\"'><svg onload=alert(1)>", "{{7*7}}",
             "${\"'\"+alert(1)}", "${`${alert(1)}`}", "\\`${alert(1)}\\`"]


def _outside_json_strings(script: str) -> str:
    """The script with every double-quoted (JSON) string literal emptied."""
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', script)


@pytest.fixture(scope="module")
def hostile(demo) -> dict:
    """The demo city with every user-typed text replaced by a hostile one."""
    def texts(n: int) -> list[str]:
        return [XSS_TEXTS[i % len(XSS_TEXTS)] for i in range(n)]

    stats = demo["stats"].assign(nama=texts(len(demo["stats"])),
                                 kecamatan=texts(len(demo["stats"]))[::-1])
    facilities = demo["facilities"].copy()
    facilities["nama"] = texts(len(facilities))
    facilities["operator"] = texts(len(facilities))[::-1]
    facilities["status"] = (texts(len(facilities)) + ["planned"])[1:]
    sample = demo["measurements"].sample(200, random_state=2)
    sample = sample.assign(operator=texts(len(sample)))
    blank_spots = demo["blank_spots"].assign(kelurahan=XSS_TEXTS[0])
    return {"stats": stats, "facilities": facilities, "sample": sample,
            "blank_spots": blank_spots}


def _hostile_scripts(demo, hostile) -> dict[str, str]:
    cells = demo["cells"].assign(kelurahan_kode=XSS_TEXTS[1])
    city = maps.city_map(hostile["stats"], cells=cells, blank_spots=hostile["blank_spots"],
                         facilities=hostile["facilities"],
                         measurements_sample=hostile["sample"])
    kelurahan = maps.kelurahan_map(hostile["stats"].iloc[[0]], cells=cells,
                                   blank_spots=hostile["blank_spots"],
                                   facilities=hostile["facilities"],
                                   measurements_sample=hostile["sample"])
    facility = maps.facility_map(hostile["stats"], hostile["facilities"])
    return {name: maps.map_components(m)["script"]
            for name, m in {"city": city, "kelurahan": kelurahan, "facility": facility}.items()}


def test_user_texts_reach_the_script_only_inside_json_strings(demo, hostile):
    for name, script in _hostile_scripts(demo, hostile).items():
        assert "alert(1)" in script, name  # the texts are on the map ...
        assert "alert(1)" not in _outside_json_strings(script), name  # ... only as data
        assert "</script" not in script.lower(), name


def test_maps_with_hostile_texts_are_valid_javascript(demo, hostile, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed, so the script cannot be syntax-checked")
    for name, script in _hostile_scripts(demo, hostile).items():
        path = tmp_path / f"{name}.js"
        path.write_text(script)
        result = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, (name, result.stderr)


def test_facility_texts_are_escaped_properties(demo):
    facilities = demo["facilities"].head(2).assign(
        nama=["<b>Puskesmas</b>", None], operator=["A & B", None],
        status=["planned", "dibangun 2026"])
    script = maps.map_components(maps.facility_map(demo["stats"], facilities))["script"]
    properties = [f["properties"] for c in re.findall(
        r"geo_json_\w+_add\((\{\"features\".*?\})\);\n", script, re.S)
        for f in json.loads(c)["features"] if "jenis" in f["properties"]]
    by_name = {p["nama"]: p for p in properties}
    assert by_name["&lt;b&gt;Puskesmas&lt;/b&gt;"]["operator"] == "A &amp; B"
    assert by_name["&lt;b&gt;Puskesmas&lt;/b&gt;"]["status"] == "rencana"
    label = maps.FACILITY_STYLES[facilities["type"].iloc[1]].label
    assert by_name[label]["operator"] == "-"  # no name: the type's label
    assert by_name[label]["status"] == "dibangun 2026"
    assert "folium.Popup" not in script and "bindPopup(popup_" not in script
