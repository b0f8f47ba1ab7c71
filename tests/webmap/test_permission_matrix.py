"""Every role against every page and API endpoint, in a database holding two cities.

The matrix of statuses (who may open what), then the two rules it cannot show: a user of one
city sees nothing of the other anywhere (pages, API, downloads, the home page included), and a
lurah or camat is never sent a geometry (blank spot, cell, facility, measurement) outside their
area.  The two-city database is built once per module on SQLite and on PostGIS.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

import shapely

from tests.webmap.conftest import KEL_A, KEL_B, signed_in
from tests.webmap.test_analysis_cli import HEADER
from webmap import create_app
from webmap.db import dispose_engine, get_engine
from webmap.models import ConstraintLayer, Facility, SitingScenario, Upload

CITY_1, CITY_2 = "99.01", "99.02"
KEL_C = "99.01.02.1003"
KEL_X, KEL_Y = "99.02.01.2001", "99.02.01.2002"
KECAMATAN_AB = "99.01.01"
#: Kelurahan of both cities: code -> (name, kecamatan code, kecamatan, city, box in degrees).
BOUNDARIES = {
    CITY_1: ("Kota Uji", {
        KEL_A: ("Sungai Uji", KECAMATAN_AB, "Uji Barat", (101.40, 1.60, 101.41, 1.61)),
        KEL_B: ("Bukit Uji", KECAMATAN_AB, "Uji Barat", (101.41, 1.60, 101.42, 1.61)),
        KEL_C: ("Pantai Uji", "99.01.02", "Uji Timur", (101.42, 1.60, 101.43, 1.61))}),
    CITY_2: ("Kota Zamrud", {
        KEL_X: ("Rawa Zamrud", "99.02.01", "Zamrud Timur", (101.60, 1.60, 101.61, 1.61)),
        KEL_Y: ("Tanjung Zamrud", "99.02.01", "Zamrud Timur", (101.61, 1.60, 101.62, 1.61))}),
}
#: Texts of city 2 only (lower case): its names, facility and uploaded file, and the code of a
#: kelurahan no test asks for (a refusal may repeat the code it was asked for).
CITY_2_MARKS = ("zamrud", KEL_Y)


def _spot(lat: float, lon: float, *, signal: str = "", no_service: str = "true",
          device: str = "hp") -> list[str]:
    return [f"{lat},{lon},2024-03-0{d}T10:00:00,Telkomsel,4G,{signal},{no_service},{device}-{d}"
            for d in range(1, 6)]


#: City 1: no service on both sides of the A|B and the B|C borders (blank spots straddling
#: them), good signal in A and C, and a row with a broken latitude (rejected).
CITY_1_ROWS = [*_spot(1.605, 101.4095), *_spot(1.605, 101.4105), *_spot(1.606, 101.4195),
               *_spot(1.606, 101.4205), *_spot(1.602, 101.402, signal="-80", no_service="false"),
               *_spot(1.607, 101.427, signal="-80", no_service="false"),
               "abc,101.405,2024-03-09T10:00:00,Telkomsel,4G,-90,false,rusak"]
CITY_2_ROWS = [*_spot(1.605, 101.6095), *_spot(1.605, 101.6105),
               "abc,101.605,2024-03-09T10:00:00,Telkomsel,4G,-90,false,rusak-zamrud"]
FACILITIES = {CITY_1: "nama,jenis,lintang,bujur,status\nTPS Sungai,TPS,1.605,101.405,ada\n"
                      "TPS Pantai,TPS,1.605,101.425,ada\n",
              CITY_2: "nama,jenis,lintang,bujur,status\nBank Sampah Zamrud,TPS,1.605,101.605,ada\n"}

#: City 1's accounts: role and area (every role of a city, and an admin).
ROLES = {
    "admin": ("admin", {}),
    "perencana": ("perencana", {"city_kode": CITY_1}),
    "tim": ("tim_lapangan", {"city_kode": CITY_1}),
    "lurah_a": ("lurah", {"city_kode": CITY_1, "kelurahan_kode": KEL_A}),
    "camat": ("camat", {"city_kode": CITY_1, "kecamatan_kode": KECAMATAN_AB}),
}
CITY_1_USERS = ("perencana", "tim", "lurah_a", "camat")
OK, FORBIDDEN = 200, 403
#: endpoint (asked for city 1) -> expected status for admin, perencana, tim, lurah_a, camat,
#: anonymous
MATRIX = {
    "/": (OK, OK, OK, OK, OK, 302),
    "/peta": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    "/peta/surface.png": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    f"/kelurahan/{KEL_A}": (OK, OK, OK, OK, OK, 302),
    f"/kelurahan/{KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 302),
    f"/kelurahan/{KEL_C}": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    "/unggah": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    "/template.csv": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 302),
    "/admin/users": (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/akun/kata-sandi": (OK, OK, OK, OK, OK, 302),
    "/lapisan": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/fasilitas": (OK, OK, OK, OK, OK, 302),
    "/fasilitas/baru": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/fasilitas/impor": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/dasbor": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/api/kelurahan": (OK, OK, OK, OK, OK, 401),
    f"/api/kelurahan/{KEL_A}": (OK, OK, OK, OK, OK, 401),
    f"/api/kelurahan/{KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 401),
    f"/api/kelurahan/{KEL_C}": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 401),
    f"/api/kelurahan/{KEL_B}/blankspots.geojson": (OK, OK, OK, FORBIDDEN, OK, 401),
    f"/api/cells?kelurahan={KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 401),
    "/api/cells": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 401),
    f"/api/facilities.geojson?kelurahan={KEL_B}": (OK, OK, OK, FORBIDDEN, OK, 401),
    "/api/progress": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 401),
    "/api/uploads": (OK, OK, OK, FORBIDDEN, FORBIDDEN, 401),
    "/api/me": (OK, OK, OK, OK, OK, 401),
    "/api/openapi.json": (OK, OK, OK, OK, OK, OK),
    # siting scenarios: 1 is city 1's saved tower plan (its sites reach every kelurahan)
    "/api/tapak/scenarios": (OK, OK, FORBIDDEN, OK, OK, 401),
    "/api/tapak/scenarios/1": (OK, OK, FORBIDDEN, OK, OK, 401),
    "/api/tapak/scenarios/1.geojson": (OK, OK, FORBIDDEN, OK, OK, 401),
    "/api/tapak/scenarios/1/export.csv": (OK, OK, FORBIDDEN, OK, OK, 401),
    "/tapak": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/tapak/skenario/1": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/tapak/banding?a=1&b=1": (OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    # a siting job nobody started: planners are told it does not exist
    "/tapak/tugas/0a1b2c": (404, 404, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
    "/tapak/tugas/0a1b2c.json": (404, 404, FORBIDDEN, FORBIDDEN, FORBIDDEN, 302),
}
#: Everything of city 2 a city-1 user could ask for; ``{upload}``, ``{facility}`` and ``{layer}``
#: are the ids of city 2's upload, facility and constraint layer.
CITY_2_ENDPOINTS = (
    "/", "/?city=99.02", "/peta?city=99.02", "/peta/surface.png?city=99.02",
    f"/kelurahan/{KEL_X}", f"/kelurahan/{KEL_X}?city=99.02", "/dasbor?city=99.02",
    "/unggah", "/unggah/{upload}", "/unggah/{upload}/ditolak.csv",
    "/fasilitas", "/fasilitas?city=99.02", "/fasilitas/{facility}/ubah", "/fasilitas/baru",
    "/lapisan", "/lapisan?city=99.02", "/lapisan/{layer}", "/lapisan/{layer}?city=99.02",
    "/api/kelurahan", "/api/kelurahan?city=99.02", f"/api/kelurahan/{KEL_X}",
    f"/api/kelurahan/{KEL_X}?city=99.02", f"/api/kelurahan/{KEL_X}/blankspots.geojson",
    f"/api/kelurahan/{KEL_X}/blankspots.geojson?city=99.02", "/api/cells?city=99.02",
    f"/api/cells?kelurahan={KEL_X}", f"/api/cells?kelurahan={KEL_X}&city=99.02",
    "/api/facilities.geojson", "/api/facilities.geojson?city=99.02",
    f"/api/facilities.geojson?kelurahan={KEL_X}", "/api/progress?city=99.02",
    "/api/uploads", "/api/me",
    # 2 is city 2's saved tower plan
    "/api/tapak/scenarios?city=99.02", "/api/tapak/scenarios/2",
    "/api/tapak/scenarios/2.geojson", "/api/tapak/scenarios/2/export.csv",
    "/api/tapak/scenarios/2?city=99.02",
    "/tapak?city=99.02", "/tapak/skenario/2", "/tapak/skenario/2?city=99.02",
    "/tapak/banding?a=2&b=2",
)
#: Rounding of the coordinates a map page carries (``maps.COORDINATE_DECIMALS`` = 5) and a
#: little more: a map point may lie this far (degrees) outside the area, not farther.
MAP_TOLERANCE = 2e-5
#: What an API geometry may stick out of the area (degrees, about a centimetre): the noise of
#: cutting in UTM metres and answering in degrees.
API_TOLERANCE = 1e-7


@dataclass
class World:
    """The two-city app, signed-in clients by name, and ids of city 2's upload, facility and
    constraint layer."""

    app: object
    clients: dict[str, object]
    upload: int
    facility: int
    layer: int


def _boundary_file(path: Path, city: str) -> Path:
    kota, kelurahan = BOUNDARIES[city]
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(shapely.box(*box)),
                 "properties": {"kode": kode, "nama": nama, "kecamatan_kode": kec_kode,
                                "kecamatan": kecamatan, "kota_kode": city, "kota": kota}}
                for kode, (nama, kec_kode, kecamatan, box) in kelurahan.items()]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _database_url(request, folder: Path) -> str:
    if request.param == "postgis":
        return request.getfixturevalue("postgis_server").create_database(
            template="petakota_template")
    from webmap.database import create_db_engine, sqlite_url, upgrade_database

    url = sqlite_url(folder / "two_cities.db")
    engine = create_db_engine(url)
    upgrade_database(engine)
    engine.dispose()
    return url


def _load_city(app, folder: Path, city: str, rows: list[str], uploader: str) -> None:
    runner = app.test_cli_runner()

    def flask(*args: str) -> None:
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output

    flask("import-boundaries", str(_boundary_file(folder / f"batas_{city}.geojson", city)))
    measurements = folder / ("zamrud.csv" if city == CITY_2 else "uji.csv")
    measurements.write_text("\n".join([HEADER, *rows]) + "\n")
    flask("ingest", str(measurements), "--city", city, "--uploader", uploader)
    facilities = folder / f"fasilitas_{city}.csv"
    facilities.write_text(FACILITIES[city])
    flask("import-facilities", str(facilities), "--city", city)
    kota, kelurahan = BOUNDARIES[city]
    west, south, *_ = next(iter(kelurahan.values()))[3]
    protected = {"type": "Feature", "properties": {"nama": f"Hutan {kota}"},
                 "geometry": shapely.geometry.mapping(
                     shapely.box(west + 0.001, south + 0.001, west + 0.003, south + 0.003))}
    layer = folder / f"lindung_{city}.geojson"
    layer.write_text(json.dumps({"type": "FeatureCollection", "features": [protected]}))
    flask("import-layer", str(layer), "--kind", "kawasan_lindung", "--city", city,
          "--name", f"Lindung {kota}")
    flask("siting", "towers", "--city", city, "--save", f"Menara {kota}")


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def world(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("two_cities")
    app = create_app({"TESTING": True, "DATABASE_URL": _database_url(request, folder),
                      "WTF_CSRF_ENABLED": False, "ARCHIVE_DIR": str(folder / "archive")})
    _load_city(app, folder, CITY_1, CITY_1_ROWS, "tim.1")
    _load_city(app, folder, CITY_2, CITY_2_ROWS, "tim.2")
    clients = {name: signed_in(app, name.replace("_", ".").replace("tim", "tim.1"), role,
                               **area) for name, (role, area) in ROLES.items()}
    clients["perencana_2"] = signed_in(app, "perencana.2", "perencana", city_kode=CITY_2)
    clients["anonymous"] = app.test_client()
    with get_engine(app).connect() as conn:
        upload = conn.execute(sa.select(Upload.id).where(Upload.city_kode == CITY_2,
                                                         Upload.kind == "measurements")
                              ).scalar_one()
        facility = conn.execute(sa.select(Facility.id).where(Facility.city_kode == CITY_2)
                                ).scalar_one()
        layer = conn.execute(sa.select(ConstraintLayer.id)
                             .where(ConstraintLayer.city_kode == CITY_2)).scalar_one()
    yield World(app, clients, upload, facility, layer)
    dispose_engine(app)


def _for_city_1(endpoint: str) -> str:
    return endpoint + ("&" if "?" in endpoint else "?") + f"city={CITY_1}"


# --- who may open what ---------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_matrix(world, endpoint):
    who = [*ROLES, "anonymous"]
    got = {name: world.clients[name].get(_for_city_1(endpoint)).status_code for name in who}
    assert got == dict(zip(who, MATRIX[endpoint], strict=True))


#: Pages the matrix does not open: static files, signing in and out, the language switch, and
#: pages of one object, which the two-city test below opens with city 2's ids.
NOT_IN_MATRIX = {"/static/<path:filename>", "/login", "/logout", "/bahasa/<kode>",
                 "/unggah/<int:upload_id>", "/unggah/<int:upload_id>/ditolak.csv",
                 "/fasilitas/<int:facility_id>/ubah", "/lapisan/<int:layer_id>"}


def test_every_page_is_in_the_matrix(world):
    """A new page or endpoint must be added to the matrix (or, when it shows one object, to
    the two-city test): no page escapes the permission check by being forgotten here."""
    opened = {re.sub(r"\?.*", "", endpoint) for endpoint in MATRIX}
    rules = {rule.rule for rule in world.app.url_map.iter_rules() if "GET" in rule.methods}
    missing = [rule for rule in sorted(rules - NOT_IN_MATRIX)
               if not any(re.fullmatch(re.sub(r"<[^>]+>", "[^/]+", rule), url)
                          for url in opened)]
    assert missing == []


def test_refusals_never_carry_the_other_kelurahan(world):
    for endpoint in (f"/kelurahan/{KEL_B}", f"/api/kelurahan/{KEL_B}"):
        response = world.clients["lurah_a"].get(endpoint)
        assert response.status_code == 403 and b"Bukit Uji" not in response.data


# --- a user of one city sees nothing of the other ------------------------------------------------

@pytest.mark.parametrize("user", CITY_1_USERS)
@pytest.mark.parametrize("endpoint", CITY_2_ENDPOINTS)
def test_city_one_sees_nothing_of_city_two(world, user, endpoint):
    response = world.clients[user].get(endpoint.format(upload=world.upload,
                                                       facility=world.facility,
                                                       layer=world.layer))
    text = response.get_data(as_text=True).lower()
    response.close()
    assert response.status_code in (200, 403, 404), (response.status_code, text[:300])
    assert [mark for mark in CITY_2_MARKS if mark in text] == []


def test_city_one_cannot_change_city_two(world):
    """Writes too: a city-1 planner can neither edit city 2's facility, nor add one there, nor
    import a layer into it, and nothing of city 2 changes."""
    planner = world.clients["perencana"]
    facility = {"type": "tps", "nama": "Diubah", "status": "existing", "latitude": "1.605",
                "longitude": "101.605"}

    edit = planner.post(f"/fasilitas/{world.facility}/ubah", data=facility)
    added = planner.post("/fasilitas/baru?city=99.02", data=facility)
    outside = planner.post("/fasilitas/baru", data=facility)  # city 2's ground, city 1's form
    layer = planner.post("/lapisan?city=99.02", data={"kind": "kawasan_lindung"})

    assert (edit.status_code, added.status_code, layer.status_code) == (404, 403, 403)
    assert outside.status_code == 422
    with get_engine(world.app).connect() as conn:
        names = conn.execute(sa.select(Facility.nama).order_by(Facility.nama)).scalars().all()
        layers = conn.execute(sa.select(sa.func.count()).select_from(ConstraintLayer)
                              ).scalar_one()
    assert names == ["Bank Sampah Zamrud", "TPS Pantai", "TPS Sungai"] and layers == 2


def test_city_one_cannot_run_or_adopt_siting_in_city_two(world):
    """The siting API's writes: no run for city 2, no adoption of city 2's scenario (2)."""
    planner = world.clients["perencana"]
    run = planner.post("/api/tapak/towers?city=99.02", json={"save": "Menara"})
    adopt = planner.post("/api/tapak/scenarios/2/adopt", json={})
    adopt_there = planner.post("/api/tapak/scenarios/2/adopt?city=99.02", json={})
    assert (run.status_code, adopt.status_code, adopt_there.status_code) == (403, 404, 403)
    with get_engine(world.app).connect() as conn:
        planned = conn.execute(sa.select(sa.func.count()).select_from(Facility)
                               .where(Facility.status == "planned")).scalar_one()
        saved = conn.execute(sa.select(sa.func.count()).select_from(SitingScenario)
                             ).scalar_one()
    assert (planned, saved) == (0, 2)


def test_home_page_lists_only_the_users_city(world):
    def cities(name: str) -> set[str]:
        html = world.clients[name].get("/").get_data(as_text=True)
        return {kota for kota in ("Kota Uji", "Kota Zamrud") if kota in html}

    assert cities("admin") == {"Kota Uji", "Kota Zamrud"}
    assert cities("perencana_2") == {"Kota Zamrud"}
    for user in CITY_1_USERS:
        assert cities(user) == {"Kota Uji"}, user


def test_city_two_reaches_its_own_data(world):
    """The marks the leak test looks for are there for city 2's own planner."""
    planner = world.clients["perencana_2"]
    for endpoint in ("/", f"/kelurahan/{KEL_X}", "/fasilitas", f"/unggah/{world.upload}",
                     f"/api/kelurahan/{KEL_X}", "/api/facilities.geojson", "/lapisan",
                     f"/lapisan/{world.layer}"):
        response = planner.get(endpoint)
        assert response.status_code == 200, endpoint
        assert any(mark in response.get_data(as_text=True).lower() for mark in CITY_2_MARKS)
    rejected = planner.get(f"/unggah/{world.upload}/ditolak.csv")
    text = rejected.get_data(as_text=True)
    rejected.close()
    assert rejected.status_code == 200 and "rusak-zamrud" in text


# --- a lurah or camat gets no geometry outside their area ----------------------------------------

def _area(*codes: str) -> shapely.Geometry:
    boxes = BOUNDARIES[CITY_1][1]
    return shapely.union_all([shapely.box(*boxes[kode][3]) for kode in codes])


def _features(client, url: str) -> list[shapely.Geometry]:
    response = client.get(url)
    assert response.status_code == 200, url
    return [shapely.geometry.shape(f["geometry"]) for f in response.get_json()["features"]]


def _outside(geometries: list[shapely.Geometry], area: shapely.Geometry, tolerance: float
             ) -> list[str]:
    allowed = area.buffer(tolerance)
    return [geometry.wkt[:80] for geometry in geometries if not allowed.covers(geometry)]


@pytest.mark.parametrize(("user", "codes"), [("lurah_a", (KEL_A,)),
                                             ("camat", (KEL_A, KEL_B))])
def test_api_geometries_stay_inside_the_area(world, user, codes):
    client, area = world.clients[user], _area(*codes)
    blank = [g for kode in codes
             for g in _features(client, f"/api/kelurahan/{kode}/blankspots.geojson")]
    facilities = _features(client, "/api/facilities.geojson")

    assert blank and facilities  # a blank spot straddles each border; a TPS lies in A
    assert _outside(blank, area, API_TOLERANCE) == []
    assert _outside(facilities, area, API_TOLERANCE) == []
    sites = _features(client, "/api/tapak/scenarios/1.geojson")  # city 1's saved tower plan
    assert _outside(sites, area, API_TOLERANCE) == []
    for kode in codes:
        assert _outside(_features(client, f"/api/kelurahan/{kode}/blankspots.geojson"),
                        _area(kode), API_TOLERANCE) == []


def test_blank_spot_across_a_border_is_split_with_figures_per_kelurahan(world):
    camat = world.clients["camat"]
    pieces = {kode: camat.get(f"/api/kelurahan/{kode}/blankspots.geojson").get_json()
              for kode in (KEL_A, KEL_B)}
    ids = {kode: {f["properties"]["blank_spot_id"] for f in body["features"]}
           for kode, body in pieces.items()}
    assert ids[KEL_A] & ids[KEL_B]  # one blank spot, a piece on each side
    for kode, body in pieces.items():
        properties = [f["properties"] for f in body["features"]]
        assert {p["kelurahan_kode"] for p in properties} == {kode}
        figures = camat.get(f"/api/kelurahan/{kode}").get_json()
        assert figures["kelurahan"]["blank_spots"] == len(properties)
        assert figures["kelurahan"]["blank_spot_area_km2"] == pytest.approx(
            sum(p["area_km2"] for p in properties))
        assert [b["kelurahan_kode"] for b in figures["blank_spots"]] == [kode] * len(properties)


_LON_LAT = re.compile(r"\[\s*(1\d\d\.\d+)\s*,\s*(-?\d{1,2}\.\d+)\s*\]")
_LAT_LON = re.compile(r"\[\s*(-?\d{1,2}\.\d+)\s*,\s*(1\d\d\.\d+)\s*\]")


def _map_points(html: str) -> list[shapely.Point]:
    """Every coordinate pair of a map page: GeoJSON [lon, lat] and Leaflet [lat, lon]."""
    pairs = [(float(x), float(y)) for x, y in _LON_LAT.findall(html)]
    pairs += [(float(x), float(y)) for y, x in _LAT_LON.findall(html)]
    return [shapely.Point(x, y) for x, y in pairs]


@pytest.mark.parametrize(("user", "page", "codes"), [
    ("lurah_a", f"/kelurahan/{KEL_A}", (KEL_A,)), ("camat", f"/kelurahan/{KEL_B}", (KEL_B,)),
    ("lurah_a", "/fasilitas", (KEL_A,)), ("camat", "/fasilitas", (KEL_A, KEL_B))])
def test_maps_draw_nothing_outside_the_area(world, user, page, codes):
    """Every coordinate on a lurah's or camat's map (the kelurahan page: its own kelurahan)."""
    response = world.clients[user].get(page)
    points = _map_points(response.get_data(as_text=True))

    assert response.status_code == 200 and len(points) > 4
    assert _outside(points, _area(*codes), MAP_TOLERANCE) == []


def test_kelurahan_layers_are_cut_to_the_kelurahan(world):
    from webmap import analysis
    from webmap.overviews import cached_overview

    with world.app.app_context():
        overview = cached_overview(CITY_1, None, None)
        for kode in (KEL_A, KEL_B):
            layers = analysis.kelurahan_layers(overview, kode)
            shapes = [*layers["cells"].geometry, *layers["blank_spots"].geometry,
                      *layers["facilities"].geometry,
                      *shapely.points(layers["measurements_sample"][["longitude", "latitude"]]
                                      .to_numpy())]
            assert len(layers["blank_spots"]) and len(layers["cells"])
            assert _outside(shapes, _area(kode), API_TOLERANCE) == []
