"""Constraint layers: geometry rules per kind, CRS handling, row-level reports, file formats."""
from __future__ import annotations

import json
import zipfile

import pytest

import geopandas as gpd
import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box

from geo.errors import CRSError, InputFileError
from geo.layers import ALL_KINDS, LAYER_KINDS, airport_class, check_kind, read_layer

#: The test city: 0.02 x 0.01 degrees (about 2.2 km x 1.1 km) near Dumai, UTM 47N.
CITY_BOX = (101.40, 1.60, 101.42, 1.61)
UTM = "EPSG:32647"

INSIDE = {
    "titik": Point(101.41, 1.605),
    "garis": LineString([(101.401, 1.601), (101.419, 1.609)]),
    "area": box(101.405, 1.602, 101.408, 1.604),
}


@pytest.fixture
def city():
    return gpd.GeoDataFrame({"kode": ["99.01.01.1001"]}, geometry=[box(*CITY_BOX)],
                            crs="EPSG:4326")


def write(path, geometries, crs="EPSG:4326", **columns):
    frame = gpd.GeoDataFrame(columns or {"nama": [f"f{i}" for i in range(len(geometries))]},
                             geometry=list(geometries), crs=crs)
    frame.to_file(path)
    return path


@pytest.mark.parametrize("kind", sorted(LAYER_KINDS))
def test_each_kind_takes_its_geometry_families_and_rejects_the_others(kind, city, tmp_path):
    path = write(tmp_path / f"{kind}.geojson", INSIDE.values())
    allowed = LAYER_KINDS[kind]
    if not any(family in allowed for family in INSIDE):
        pytest.fail("every kind takes one of the test families")
    result = read_layer(path, kind, city=city)
    expected = [i + 1 for i, family in enumerate(INSIDE) if family in allowed]
    assert result.frame["row"].tolist() == expected
    rejected = [p.row for p in result.problems]
    assert rejected == [i + 1 for i, family in enumerate(INSIDE) if family not in allowed]
    for problem in result.problems:
        assert problem.code == "wrong_type" and problem.column == "geometry"
        assert f"a {kind} layer takes" in problem.reason
        assert problem.value in ("Point", "LineString", "Polygon")


def test_rivers_may_be_lines_or_polygons_and_roads_only_lines(city, tmp_path):
    path = write(tmp_path / "mixed.geojson", [INSIDE["garis"], INSIDE["area"]])
    assert len(read_layer(path, "sungai", city=city).frame) == 2
    roads = read_layer(path, "jalan", city=city)
    assert roads.frame["row"].tolist() == [1]
    assert roads.problems[0].as_dict() | {"params": None} == {
        "reason": "is a Polygon; a jalan layer takes lines", "file": "mixed.geojson", "row": 2,
        "column": "geometry", "value": "Polygon", "code": "wrong_type", "params": None}


def test_empty_geometry_and_outside_the_city_are_reported_with_row_value_reason(city, tmp_path):
    far = LineString([(101.60, 1.60), (101.61, 1.60)])  # 0.18 degrees (~20 km) east of the city
    near = LineString([(101.43, 1.60), (101.44, 1.60)])  # ~1.1 km east: within the tolerance
    path = write(tmp_path / "jalan.geojson", [INSIDE["garis"], None, far, near])
    result = read_layer(path, "jalan", city=city)
    assert result.frame["row"].tolist() == [1, 4]
    empty, outside = result.problems
    assert (empty.row, empty.code, empty.reason) == (2, "empty", "empty geometry")
    assert (outside.row, outside.code) == (3, "outside")
    assert outside.reason.startswith("outside the city: 20.0 km from its boundary (more than 5 km)")
    assert outside.value == "LineString near POINT (101.605 1.6)"
    assert read_layer(path, "jalan", city=city, tolerance_m=500).frame["row"].tolist() == [1]


def test_without_a_city_nothing_is_outside(tmp_path):
    path = write(tmp_path / "jalan.geojson", [LineString([(120.0, -5.0), (120.1, -5.0)])])
    assert len(read_layer(path, "jalan").frame) == 1


def test_invalid_polygons_are_repaired_and_the_repair_reported(city, tmp_path):
    bowtie = Polygon([(101.401, 1.601), (101.405, 1.605), (101.405, 1.601), (101.401, 1.605)])
    path = write(tmp_path / "banjir.geojson", [bowtie, INSIDE["area"]])
    result = read_layer(path, "rawan_banjir", city=city)
    assert result.problems == []
    assert result.frame["row"].tolist() == [1, 2]
    repaired = result.frame.geometry.iloc[0]
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(bowtie.buffer(0).area + 0.002 * 0.002, rel=0.5)
    note = next(n for n in result.notes if n.code == "repaired")
    assert note.row == 1 and "Self-intersection" in note.reason and "make_valid" in note.reason


def test_a_collapsed_polygon_is_rejected(city, tmp_path):
    flat = Polygon([(101.401, 1.601), (101.405, 1.601), (101.409, 1.601)])
    path = write(tmp_path / "lahan.geojson", [flat, INSIDE["area"]])
    result = read_layer(path, "lahan", city=city)
    assert [(p.row, p.code) for p in result.problems] == [(1, "lost")]
    assert result.frame["row"].tolist() == [2]


def test_names_and_attributes_are_kept_as_json(city, tmp_path):
    path = tmp_path / "sumur.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [101.41, 1.605]},
         "properties": {"NAME": "Sumur Bor 1", "kedalaman_m": 40, "dibangun": "2020-05-01",
                        "aktif": True}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [101.411, 1.606]},
         "properties": {"NAME": " ", "kedalaman_m": None, "dibangun": None, "aktif": False}},
    ]}))
    frame = read_layer(path, "sumber_air", city=city).frame
    assert frame.crs.to_epsg() == 4326
    assert frame["nama"].tolist() == ["Sumur Bor 1", None]
    first = frame["properties"].iloc[0]
    assert first == {"NAME": "Sumur Bor 1", "kedalaman_m": 40, "dibangun": "2020-05-01",
                     "aktif": True}
    json.dumps(frame["properties"].tolist())  # JSON-ready


def test_airport_class_is_read_from_jenis(city, tmp_path):
    path = write(tmp_path / "bandara.geojson", [Point(101.41, 1.605), Point(101.415, 1.605),
                                                box(101.40, 1.60, 101.402, 1.602)],
                 nama=["Pinang Kampai", "Lapangan Perintis", "Heliport"],
                 jenis=["Turbo-jet", "baling-baling", "helikopter"])
    result = read_layer(path, "bandara", city=city)
    assert [p["jenis"] for p in result.frame["properties"]] == ["turbojet", "lainnya", None]
    note = next(n for n in result.notes if n.code == "airport_class")
    assert (note.row, note.column, note.value) == (3, "jenis", "helikopter")
    assert airport_class(None) is None and airport_class("TURBOJET") == "turbojet"


# --- CRS ---------------------------------------------------------------------------------------

def test_a_projected_file_is_reprojected_to_lonlat(city, tmp_path):
    metric = gpd.GeoSeries([INSIDE["garis"]], crs="EPSG:4326").to_crs(UTM)
    path = write(tmp_path / "jalan.gpkg", metric, crs=UTM)
    result = read_layer(path, "jalan", city=city)
    assert result.source_crs == UTM
    assert result.frame.geometry.iloc[0].equals_exact(INSIDE["garis"], 1e-7)
    assert [n.code for n in result.notes] == ["reprojected"]


def test_metres_in_a_geojson_are_refused_with_the_utm_zone_suggested(city, tmp_path):
    metric = gpd.GeoSeries([INSIDE["garis"]], crs="EPSG:4326").to_crs(UTM)
    path = tmp_path / "jalan.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {},
        "geometry": shapely.geometry.mapping(metric.iloc[0])}]}))
    with pytest.raises(CRSError, match=r"look like projected metres.*Pass --crs EPSG:32647") as err:
        read_layer(path, "jalan", city=city)
    assert err.value.problems[0].column == "geometry"
    result = read_layer(path, "jalan", city=city, crs=UTM)
    assert result.frame.geometry.iloc[0].equals_exact(INSIDE["garis"], 1e-7)
    assert [n.code for n in result.notes] == ["crs_given"]


def test_degrees_said_to_be_metres_are_refused(city, tmp_path):
    path = write(tmp_path / "jalan.geojson", [INSIDE["garis"]])
    with pytest.raises(CRSError, match="look like longitude/latitude"):
        read_layer(path, "jalan", city=city, crs=UTM)
    with pytest.raises(CRSError, match="unknown CRS"):
        read_layer(path, "jalan", city=city, crs="EPSG:99999999")


def test_a_shapefile_without_prj_in_lonlat_is_read_with_a_note(city, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    write(folder / "sungai.shp", [INSIDE["garis"]])
    (folder / "sungai.prj").unlink()
    archive = tmp_path / "sungai.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in folder.iterdir():
            zipped.write(part, part.name)
    result = read_layer(archive, "sungai", city=city)
    assert len(result.frame) == 1 and result.source_crs == "EPSG:4326"
    assert [n.code for n in result.notes] == ["no_crs"]


# --- formats -----------------------------------------------------------------------------------

def test_zipped_shapefile_in_utm(city, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    metric = gpd.GeoSeries([INSIDE["area"], INSIDE["area"].buffer(0.001)],
                           crs="EPSG:4326").to_crs(UTM)
    write(folder / "lindung.shp", metric, crs=UTM, NAMOBJ=["Hutan A", "Hutan B"])
    archive = tmp_path / "lindung.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in folder.iterdir():
            zipped.write(part, part.name)
    result = read_layer(archive, "kawasan_lindung", city=city)
    assert result.frame["nama"].tolist() == ["Hutan A", "Hutan B"]
    assert result.frame.geometry.iloc[0].normalize().equals_exact(INSIDE["area"].normalize(),
                                                                  1e-7)


def test_flatgeobuf(city, tmp_path):
    path = write(tmp_path / "permukiman.fgb", [INSIDE["area"], INSIDE["titik"]])
    result = read_layer(path, "permukiman", city=city)
    assert result.frame["row"].tolist() == [1, 2] and result.problems == []


def test_multilines_and_geopackage(city, tmp_path):
    road = MultiLineString([[(101.401, 1.601), (101.41, 1.601)], [(101.41, 1.601),
                                                                  (101.41, 1.609)]])
    path = write(tmp_path / "jalan.gpkg", [road])
    assert read_layer(path, "jalan", city=city).frame.geometry.iloc[0].equals(road)


# --- refusals ----------------------------------------------------------------------------------

def test_unknown_kind_lists_the_valid_kinds(tmp_path):
    path = write(tmp_path / "x.geojson", [INSIDE["titik"]])
    with pytest.raises(InputFileError, match="unknown layer kind 'sampah'; valid kinds: sungai, "
                       "badan_air"):
        read_layer(path, "sampah")
    with pytest.raises(InputFileError, match="valid kinds: .*dem"):
        check_kind("")
    assert check_kind("dem") == "dem" and "dem" in ALL_KINDS


def test_an_empty_layer_is_refused_with_the_kinds(tmp_path):
    path = tmp_path / "kosong.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputFileError, match="holds no features; valid kinds"):
        read_layer(path, "sungai")


def test_a_layer_whose_every_feature_is_wrong_is_refused_with_all_problems(city, tmp_path):
    path = write(tmp_path / "lahan.geojson", [INSIDE["titik"], INSIDE["garis"]])
    with pytest.raises(InputFileError, match="no feature of the lahan layer") as err:
        read_layer(path, "lahan", city=city)
    assert [p.row for p in err.value.problems] == [1, 2]


def test_unsupported_and_unreadable_files(tmp_path):
    with pytest.raises(InputFileError, match="unsupported layer file type"):
        read_layer(tmp_path / "x.csv", "sungai")
    broken = tmp_path / "x.geojson"
    broken.write_text("{not json")
    with pytest.raises(InputFileError, match="cannot be read as a vector layer"):
        read_layer(broken, "sungai")


# --- real files (../shared/data) ---------------------------------------------------------------

def test_real_file_in_utm_metres_declaring_nothing_is_caught(shared_data):
    """Malang's TPA file: UTM 49S metres in a GeoJSON, which implies longitude/latitude."""
    path = shared_data / "facilities" / "malang_waste_tpa.geojson"
    with pytest.raises(CRSError, match="look like projected metres.*EPSG:32746 to EPSG:32753"):
        read_layer(path, "sumber_air")
    result = read_layer(path, "sumber_air", crs="EPSG:32749")
    assert result.frame["nama"].tolist() == ["TPA Talangagung", "TPA Paras Poncokusumo",
                                             "TPA Randu Agung Singosari"]
    lon, lat = result.frame.geometry.x, result.frame.geometry.y
    assert lon.between(112.4, 112.9).all() and lat.between(-8.2, -7.8).all()  # around Malang


def test_real_polygons_of_another_city_are_all_outside(shared_data):
    payakumbuh = gpd.read_file(shared_data / "boundaries" / "payakumbuh_13.76_kelurahan.geojson")
    own = read_layer(shared_data / "boundaries" / "payakumbuh_13.76_kelurahan.geojson", "lahan",
                     city=payakumbuh)
    assert len(own.frame) == 47 and own.problems == []
    with pytest.raises(InputFileError, match="no feature of the lahan layer") as err:
        read_layer(shared_data / "boundaries" / "singkawang_61.72_kelurahan.geojson", "lahan",
                   city=payakumbuh)
    assert {p.code for p in err.value.problems} == {"outside"}
    assert len(err.value.problems) == 26


def test_a_crs_given_for_a_file_without_one_is_noted(city, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    metric = gpd.GeoSeries([INSIDE["garis"]], crs="EPSG:4326").to_crs(UTM)
    write(folder / "jalan.shp", metric, crs=UTM)
    (folder / "jalan.prj").unlink()
    with pytest.raises(CRSError, match="declares no CRS. Pass --crs EPSG:32647"):
        read_layer(folder / "jalan.shp", "jalan", city=city)
    result = read_layer(folder / "jalan.shp", "jalan", city=city, crs=UTM)
    assert [(n.code, n.reason) for n in result.notes] == [
        ("crs_set", "CRS EPSG:32647 used as given (the file declares none)")]
    assert result.frame.geometry.iloc[0].equals_exact(INSIDE["garis"], 1e-7)
