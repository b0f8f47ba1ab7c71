"""Reading kelurahan boundary files: formats, CRS, field detection, repairs and rejections."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import geopandas as gpd
import shapely
from shapely.geometry import Point, Polygon, box, mapping

from geo.boundaries import KELURAHAN_COLUMNS, BoundaryCRSError, read_boundaries
from geo.errors import BoundaryError, CRSError, InputFileError

UTM47N = "EPSG:32647"
# two adjacent 1 km squares in UTM 47N near Dumai (x 760-762 km, y 185-186 km)
WEST_UTM = box(760_000, 185_000, 761_000, 186_000)
EAST_UTM = box(761_000, 185_000, 762_000, 186_000)


def _lonlat(*geoms: shapely.Geometry) -> list[shapely.Geometry]:
    return list(gpd.GeoSeries(list(geoms), crs=UTM47N).to_crs("EPSG:4326"))


def _write_geojson(path: Path, features: list[tuple[dict, shapely.Geometry | None]]) -> Path:
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": properties,
         "geometry": mapping(geometry) if geometry is not None else None}
        for properties, geometry in features]}
    path.write_text(json.dumps(collection))
    return path


def _zip_shapefile(frame: gpd.GeoDataFrame, path: Path, *, keep_prj: bool = True) -> Path:
    """Zip a Shapefile of ``frame``; without its .prj it declares no CRS."""
    folder = path.parent / (path.stem + "_shp")
    folder.mkdir()
    frame.to_file(folder / "kelurahan.shp")
    with zipfile.ZipFile(path, "w") as archive:
        for part in sorted(folder.iterdir()):
            if keep_prj or part.suffix != ".prj":
                archive.write(part, part.name)
    return path


def _two_kelurahan(crs: str = UTM47N) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"KDEPUM": ["14.72.01.1003", "14.72.01.1001"],
         "WADMKD": ["Pangkalan Sesai", "Rimba Sekampung"], "WADMKC": ["Dumai Barat"] * 2},
        geometry=[EAST_UTM, WEST_UTM], crs=UTM47N)
    return frame.to_crs(crs)


# --- formats and CRS ---------------------------------------------------------------------------

def test_geopackage_in_utm_is_read_into_lonlat(tmp_path):
    path = tmp_path / "dumai.gpkg"
    _two_kelurahan().to_file(path, layer="kelurahan")

    result = read_boundaries(path)

    kelurahan = result.kelurahan
    assert list(kelurahan.columns) == KELURAHAN_COLUMNS
    assert kelurahan.crs.to_epsg() == 4326
    assert result.source_crs == UTM47N
    assert result.source == "dumai.gpkg"
    assert [n for n in result.notes if n.column == "geometry"] == []  # no repairs, overlaps, gaps
    assert list(kelurahan["kode"]) == ["14.72.01.1001", "14.72.01.1003"]  # sorted by kode
    assert kelurahan["area_km2"].to_numpy() == pytest.approx([1.0, 1.0], rel=1e-3)
    west = kelurahan.geometry.iloc[0]
    assert west.geom_type == "MultiPolygon"
    assert west.equals_exact(shapely.multipolygons([_lonlat(WEST_UTM)[0]]), tolerance=1e-9)


def test_zipped_shapefile_in_utm_is_read_into_lonlat(tmp_path):
    path = _zip_shapefile(_two_kelurahan(), tmp_path / "dumai.zip")

    result = read_boundaries(path)

    assert result.kelurahan.crs.to_epsg() == 4326
    assert result.source_crs == UTM47N
    assert list(result.kelurahan["nama"]) == ["Rimba Sekampung", "Pangkalan Sesai"]
    bounds = result.kelurahan.total_bounds
    assert 101.3 < bounds[0] < bounds[2] < 101.4 and 1.6 < bounds[1] < bounds[3] < 1.7


def test_rbi_field_names_are_detected_and_codes_stay_text(tmp_path):
    path = _zip_shapefile(_two_kelurahan(), tmp_path / "rbi.zip")

    result = read_boundaries(path)

    assert result.field_map == {"kode": "KDEPUM", "nama": "WADMKD", "kecamatan": "WADMKC"}
    row = result.kelurahan.iloc[1]
    assert row["kode"] == "14.72.01.1003"
    assert isinstance(row["kode"], str)
    assert row["kecamatan"] == "Dumai Barat"
    # derived from the dotted code, and reported
    assert row["kecamatan_kode"] == "14.72.01"
    assert row["kota_kode"] == "14.72"
    assert any("kecamatan_kode taken from" in note.reason for note in result.notes)


def test_explicit_fields_and_city_override_detection(tmp_path):
    path = _write_geojson(tmp_path / "b.geojson", [
        ({"kode": "x", "id_resmi": " 14.72.01.1003 ", "label": "Pangkalan Sesai"},
         _lonlat(WEST_UTM)[0])])

    result = read_boundaries(path, code_field="ID_RESMI", name_field="label",
                             city_code="14.72", city_name="Kota Dumai")

    row = result.kelurahan.iloc[0]
    assert (row["kode"], row["nama"]) == ("14.72.01.1003", "Pangkalan Sesai")  # stripped
    assert (row["kota_kode"], row["kota"]) == ("14.72", "Kota Dumai")
    assert result.field_map["kode"] == "id_resmi"


def test_codes_of_another_city_are_rejected(tmp_path):
    path = _write_geojson(tmp_path / "b.geojson", [
        ({"kode": "14.72.01.1003", "nama": "A"}, _lonlat(WEST_UTM)[0]),
        ({"kode": "14.71.01.1001", "nama": "B"}, _lonlat(EAST_UTM)[0])])

    with pytest.raises(BoundaryError) as caught:
        read_boundaries(path, city_code="14.72")

    assert [p.value for p in caught.value.problems] == ["14.71.01.1001"]
    assert "feature 2" in caught.value.problems[0].reason


def test_numeric_codes_are_written_back_as_text_and_reported(tmp_path):
    path = _write_geojson(tmp_path / "b.geojson", [
        ({"kode": 1472010003, "nama": "Pangkalan Sesai"}, _lonlat(WEST_UTM)[0])])

    result = read_boundaries(path)

    assert result.kelurahan["kode"].iloc[0] == "1472010003"
    assert any("holds numbers" in note.reason for note in result.notes)


def test_lonlat_file_without_crs_is_taken_as_wgs84_with_a_note(tmp_path):
    path = _zip_shapefile(_two_kelurahan("EPSG:4326"), tmp_path / "noprj.zip", keep_prj=False)

    result = read_boundaries(path)

    assert result.kelurahan.crs.to_epsg() == 4326
    assert any("declares no CRS" in note.reason for note in result.notes)


def test_metric_file_without_crs_is_rejected(tmp_path):
    path = _zip_shapefile(_two_kelurahan(), tmp_path / "noprj.zip", keep_prj=False)

    with pytest.raises(BoundaryCRSError) as caught:
        read_boundaries(path)

    assert isinstance(caught.value, CRSError) and isinstance(caught.value, BoundaryError)
    assert "declare the CRS" in str(caught.value)
    assert "noprj.zip" in str(caught.value)


def test_geojson_holding_metres_is_rejected(tmp_path):
    path = _write_geojson(tmp_path / "metres.geojson", [
        ({"kode": "14.72.01.1003", "nama": "A"}, WEST_UTM)])

    with pytest.raises(BoundaryCRSError, match="look like metres"):
        read_boundaries(path)


def test_lonlat_coordinates_declared_as_utm_are_rejected(tmp_path):
    frame = _two_kelurahan("EPSG:4326").set_crs(UTM47N, allow_override=True)
    path = tmp_path / "wrong.gpkg"
    frame.to_file(path)

    with pytest.raises(BoundaryCRSError, match="look like longitude/latitude"):
        read_boundaries(path)


# --- repairs and rejections --------------------------------------------------------------------

def test_bow_tie_is_repaired_and_reported(tmp_path):
    bow_tie = Polygon([(101.0, 1.0), (101.02, 1.02), (101.02, 1.0), (101.0, 1.02), (101.0, 1.0)])
    path = _write_geojson(tmp_path / "b.geojson", [
        ({"kode": "14.72.01.1001", "nama": "A"}, box(101.1, 1.0, 101.12, 1.02)),
        ({"kode": "14.72.01.1002", "nama": "Dasi Kupu"}, bow_tie)])

    result = read_boundaries(path)

    repaired = result.kelurahan.set_index("kode").geometry["14.72.01.1002"]
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon"
    assert len(repaired.geoms) == 2
    assert repaired.area == pytest.approx(2 * 0.5 * 0.02 * 0.01)
    [note] = [n for n in result.notes if "make_valid" in n.reason]
    assert "feature 2" in note.reason and "14.72.01.1002" in note.reason
    assert "Self-intersection" in note.reason
    assert note.file == "b.geojson"


def test_all_feature_problems_are_reported_at_once(tmp_path):
    square = box(101.0, 1.0, 101.01, 1.01)
    path = _write_geojson(tmp_path / "bad.geojson", [
        ({"kode": "14.72.01.1001", "nama": "A"}, square),
        ({"kode": "14.72.01.1001", "nama": "B"}, box(101.01, 1.0, 101.02, 1.01)),
        ({"kode": "14.72.01.1003", "nama": "Titik"}, Point(101.0, 1.0)),
        ({"kode": "14.72.01.1004", "nama": "Kosong"}, None),
        ({"kode": "", "nama": "Tanpa Kode"}, box(101.03, 1.0, 101.04, 1.01)),
        ({"kode": "14.72.01.1006", "nama": None}, box(101.04, 1.0, 101.05, 1.01))])

    with pytest.raises(BoundaryError) as caught:
        read_boundaries(path)

    reasons = [p.reason for p in caught.value.problems]
    assert len(reasons) == 6, reasons
    assert sum("used by 2 features (1, 2)" in r for r in reasons) == 2
    assert any(r.startswith("feature 3 (kode 14.72.01.1003): is a Point") for r in reasons)
    assert any(r.startswith("feature 4 (kode 14.72.01.1004): empty geometry") for r in reasons)
    assert any(r == "feature 5: no kelurahan code" for r in reasons)
    assert any(r == "feature 6: no kelurahan name" for r in reasons)
    assert all(p.file == "bad.geojson" for p in caught.value.problems)
    assert "nothing was imported" in str(caught.value)


def test_empty_polygon_is_rejected(tmp_path):
    path = tmp_path / "b.geojson"
    _write_geojson(path, [({"kode": "14.72.01.1001", "nama": "A"}, box(101.0, 1.0, 101.01, 1.01))])
    collection = json.loads(path.read_text())
    collection["features"].append({"type": "Feature", "properties": {"kode": "14.72.01.1002",
                                                                       "nama": "B"},
                                   "geometry": {"type": "Polygon", "coordinates": []}})
    path.write_text(json.dumps(collection))

    with pytest.raises(BoundaryError) as caught:
        read_boundaries(path)

    assert [p.reason for p in caught.value.problems] == [
        "feature 2 (kode 14.72.01.1002): empty geometry"]


def test_missing_code_field_lists_the_available_fields(tmp_path):
    path = _write_geojson(tmp_path / "b.geojson", [
        ({"nomor": "1", "nama": "A", "luas": 3.0}, box(101.0, 1.0, 101.01, 1.01))])

    with pytest.raises(BoundaryError) as caught:
        read_boundaries(path)

    message = str(caught.value)
    assert "no code field" in message and "Available fields: nomor, nama, luas" in message


def test_unknown_explicit_field_is_reported(tmp_path):
    path = _write_geojson(tmp_path / "b.geojson", [
        ({"kode": "1", "nama": "A"}, box(101.0, 1.0, 101.01, 1.01))])

    with pytest.raises(BoundaryError, match="field 'KODE_BARU' does not exist"):
        read_boundaries(path, code_field="KODE_BARU")


def test_unsupported_or_missing_files_are_input_errors(tmp_path):
    (tmp_path / "b.csv").write_text("kode,nama\n")
    with pytest.raises(InputFileError, match="unsupported"):
        read_boundaries(tmp_path / "b.csv")
    with pytest.raises(InputFileError, match="not found"):
        read_boundaries(tmp_path / "absent.geojson")
    (tmp_path / "broken.geojson").write_text("{not json")
    with pytest.raises(InputFileError, match="cannot be read"):
        read_boundaries(tmp_path / "broken.geojson")


def test_geopackage_with_several_layers_needs_a_layer_name(tmp_path):
    path = tmp_path / "two.gpkg"
    _two_kelurahan().to_file(path, layer="kelurahan_2022")
    _two_kelurahan().iloc[:1].to_file(path, layer="kelurahan_2025")

    with pytest.raises(InputFileError, match="kelurahan_2022, kelurahan_2025"):
        read_boundaries(path)
    assert len(read_boundaries(path, layer="kelurahan_2025").kelurahan) == 1


# --- real files --------------------------------------------------------------------------------

@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "count", "city"), [
    ("payakumbuh_13.76_kelurahan.geojson", 47, "13.76"),
    ("singkawang_61.72_kelurahan.geojson", 26, "61.72"),
])
def test_real_boundary_files(shared_data, name, count, city):
    result = read_boundaries(shared_data / "boundaries" / name, city_code=city)

    kelurahan = result.kelurahan
    assert len(kelurahan) == count
    assert kelurahan["kecamatan_kode"].nunique() == 5
    assert kelurahan["kecamatan"].nunique() == 5
    assert (kelurahan["kota_kode"] == city).all()
    assert kelurahan["kode"].is_monotonic_increasing and kelurahan["kode"].is_unique
    assert kelurahan["kode"].str.fullmatch(rf"{city}\.\d\d\.\d{{4}}").all()
    assert (kelurahan.geometry.geom_type == "MultiPolygon").all()
    assert kelurahan.geometry.is_valid.all()
    assert (kelurahan["area_km2"] > 0).all()
    # the simplified real files overlap a little and leave sliver gaps: both are reported
    assert any("overlap" in note.reason for note in result.notes)
    assert any("gap(s)" in note.reason for note in result.notes)


@pytest.mark.shared_data
def test_real_file_areas_match_a_direct_computation(shared_data):
    path = shared_data / "boundaries" / "singkawang_61.72_kelurahan.geojson"
    direct = gpd.read_file(path).to_crs("EPSG:32649").set_index("kode").area / 1e6

    kelurahan = read_boundaries(path).kelurahan.set_index("kode")

    np.testing.assert_allclose(kelurahan["area_km2"], direct.loc[kelurahan.index], rtol=1e-9)
