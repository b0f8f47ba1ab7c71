"""Tests for geo.facilities.read_facilities on hand-built files and the real shared files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import pyproj
from shapely.geometry import LineString, Point

from geo.errors import CRSError, InputFileError
from geo.facilities import FACILITY_TYPES, FRAME_COLUMNS, read_facilities

# Approximate Dumai box (min lon, min lat, max lon, max lat); the points below lie inside it.
DUMAI = (101.35, 1.55, 101.75, 1.80)
OPENCELLID_HEADER = ("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,"
                     "updated,averageSignal")
GEOD = pyproj.Geod(ellps="WGS84")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _reasons(batch) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for p in batch.problems:
        out.setdefault(p.row, []).append(p.reason)
    return out


def _metres_apart(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# --- CSV: vocabulary and shape ----------------------------------------------------------------

INDONESIAN_CSV = """\
Nama,Jenis,Lintang,Bujur,Kondisi,Pengelola,Kapasitas (ton/hari)
Menara Bukit Datuk,Menara,1.6601,101.4412,ada,Telkomsel,
TPS 3R Ratu Sima,TPS 3R,1.6702,101.4501,Beroperasi,KSM Ratu Sima,2.5
TPS3R Bagan Besar,tps-3r,1.6805,101.4603,rencana,,3
MASARO,TPST,1.6903,101.4704,,DLH Dumai,10
TPA Dumai,Landfill,1.7004,101.4805,eksisting,DLH Dumai,150
Bank Sampah Melati,bank sampah,1.6305,101.4306,usulan,,0.2
SD Negeri 1,SD,1.6406,101.4407,,,
Pustu Mekar Sari,Pustu,1.6507,101.4508,,,
Kantor Lurah Jaya Mukti,Kantor Desa,1.6608,101.4609,,,
Gudang,lainnya,1.6709,101.4701,,,
"""


def test_csv_with_indonesian_headers_and_synonyms(tmp_path):
    batch = read_facilities(_write(tmp_path, "fasilitas.csv", INDONESIAN_CSV))

    assert (batch.format, batch.source, batch.rows, len(batch.rejected_rows)) == (
        "csv", "fasilitas.csv", 10, 0)
    frame = batch.frame
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert frame.crs.to_epsg() == 4326
    assert frame["row"].tolist() == list(range(2, 12))
    assert frame["type"].tolist() == ["bts", "tps3r", "tps3r", "tpst", "tpa", "bank_sampah",
                                      "sekolah", "puskesmas", "kantor_lurah", "other"]
    assert frame["status"].tolist() == ["existing", "existing", "planned", "existing",
                                        "existing", "planned"] + ["existing"] * 4
    assert frame["operator"].tolist()[:3] == ["Telkomsel", "KSM Ratu Sima", None]
    np.testing.assert_allclose(frame["capacity"], [np.nan, 2.5, 3, 10, 150, 0.2] + [np.nan] * 4)
    assert frame["nama"].iloc[0] == "Menara Bukit Datuk"
    assert (frame["source"] == "fasilitas.csv").all()
    assert frame["external_id"].isna().all()
    assert frame[["range_m", "samples"]].isna().all().all()
    assert (frame.geometry.x.iloc[0], frame.geometry.y.iloc[0]) == (101.4412, 1.6601)


def test_frame_dtypes(tmp_path):
    frame = read_facilities(_write(tmp_path, "f.csv", INDONESIAN_CSV)).frame
    assert frame["row"].dtype == np.int64
    assert frame["capacity"].dtype == np.float64
    assert frame["range_m"].dtype == np.float64
    assert all(isinstance(v, str) for v in frame["type"])


def test_english_aliases_semicolons_and_decimal_commas(tmp_path):
    text = "name;category;lat;lng;status;provider;capacity\nA;tower;1,66;101,44;planned;XL;\n"
    batch = read_facilities(_write(tmp_path, "excel.csv", text))
    row = batch.frame.iloc[0]
    assert (row["type"], row["status"], row["operator"]) == ("bts", "planned", "XL")
    assert (row.geometry.x, row.geometry.y) == (101.44, 1.66)


def test_facility_type_option_for_files_without_type_column(tmp_path):
    path = _write(tmp_path, "tps.csv", "nama,y,x\nTPS A,1.66,101.44\nTPS B,1.67,101.45\n")
    batch = read_facilities(path, facility_type="TPS", status="rencana")
    assert batch.frame["type"].tolist() == ["tps", "tps"]
    assert batch.frame["status"].tolist() == ["planned", "planned"]


def test_missing_type_column_without_option_is_a_file_error(tmp_path):
    path = _write(tmp_path, "tps.csv", "nama,lat,lon\nTPS A,1.66,101.44\n")
    with pytest.raises(InputFileError, match="no facility type column.*jenis.*--type"):
        read_facilities(path)


def test_blank_type_cell_is_a_row_problem_naming_the_column(tmp_path):
    path = _write(tmp_path, "f.csv", "nama,jenis,lat,lon\nA,TPA,1.66,101.44\nB,,1.67,101.45\n")
    batch = read_facilities(path)
    [problem] = batch.problems
    assert (problem.row, problem.column) == (3, "jenis")
    assert "missing facility type" in problem.reason
    assert read_facilities(path, facility_type="tps").frame["type"].tolist() == ["tpa", "tps"]


@pytest.mark.parametrize(("option", "value"), [("facility_type", "warung"), ("status", "rusak"),
                                               ("format", "xlsx")])
def test_unknown_options_are_rejected(tmp_path, option, value):
    path = _write(tmp_path, "f.csv", INDONESIAN_CSV)
    with pytest.raises(ValueError, match=value):
        read_facilities(path, **{option: value})


def test_tpst3r_is_read_as_tps3r_with_a_note(tmp_path):
    batch = read_facilities(_write(tmp_path, "f.csv", "jenis,lat,lon\nTPST3R,1.66,101.44\n"))
    assert batch.frame["type"].tolist() == ["tps3r"]
    assert any("TPST3R" in n.reason and "tpst" in n.reason for n in batch.notes)


def test_capacity_units(tmp_path):
    kg = read_facilities(_write(tmp_path, "kg.csv",
                                "jenis,lat,lon,kapasitas_kg\nTPS3R,1.66,101.44,2500\n"))
    assert kg.frame["capacity"].tolist() == [2.5]
    assert any("kg/day" in n.reason for n in kg.notes)
    plain = read_facilities(_write(tmp_path, "t.csv",
                                   "jenis,lat,lon,kapasitas\nTPS3R,1.66,101.44,2500\n"))
    assert plain.frame["capacity"].tolist() == [2500.0]
    assert any("exceed" in n.reason and "kapasitas_kg" in n.reason for n in plain.notes)


# --- CSV: row and file problems ---------------------------------------------------------------

def test_row_problems_are_collected_and_rows_rejected(tmp_path):
    text = ("nama,jenis,lat,lon,status,kapasitas\n"
            "ok,TPS,1.66,101.44,ada,1\n"          # row 2
            "no lat,TPS,,101.44,ada,1\n"          # row 3
            "bad lon,TPS,1.66,abc,ada,1\n"        # row 4
            "lat range,TPS,95.5,101.44,ada,1\n"   # row 5
            "warung,warung,1.66,101.44,ada,1\n"   # row 6
            "rusak,TPS,1.66,101.44,rusak,1\n"     # row 7
            "negative,TPS,1.66,101.44,ada,-4\n"   # row 8
            "two problems,gudang,1.66,101.44,ada,x\n")  # row 9
    batch = read_facilities(_write(tmp_path, "f.csv", text))

    assert batch.rows == 8 and len(batch.rejected_rows) == 7
    assert batch.frame["nama"].tolist() == ["ok"]
    reasons = _reasons(batch)
    assert reasons[3] == ["missing latitude"]
    assert reasons[4] == ["longitude is not a number"]
    assert reasons[5] == ["latitude must be between -90 and 90 degrees"]
    assert "unknown facility type" in reasons[6][0]
    assert all(t in reasons[6][0] for t in FACILITY_TYPES)
    assert "unknown status" in reasons[7][0]
    assert reasons[8] == ["capacity cannot be negative"]
    assert len(reasons[9]) == 2
    by_row = {p.row: p for p in batch.problems}
    assert (by_row[4].file, by_row[4].column, by_row[4].value) == ("f.csv", "lon", "abc")
    assert (by_row[6].column, by_row[6].value) == ("jenis", "warung")
    assert "row 6" in str(by_row[6]) and "'warung'" in str(by_row[6])


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    text = "jenis,lat,lon\nTPS,1.66,101.44\n\nTPS,,101.45\n"
    batch = read_facilities(_write(tmp_path, "f.csv", text))
    assert [p.row for p in batch.problems] == [4]
    assert batch.rows == 2
    assert any("blank" in n.reason for n in batch.notes)


def test_far_points_are_rejected_when_the_city_is_known(tmp_path):
    text = "jenis,lat,lon\nTPS,1.66,101.44\nTPS,-6.2,106.8\nTPS,1.30,101.44\n"
    batch = read_facilities(_write(tmp_path, "f.csv", text), near=DUMAI)
    assert batch.frame["row"].tolist() == [2, 4]  # 4 is 28 km south of the box: tolerated
    [far] = batch.problems
    assert far.row == 3 and "outside the city area" in far.reason
    assert "check coordinates" in far.reason
    assert read_facilities(_write(tmp_path, "g.csv", text)).rejected_rows.size == 0


def test_near_accepts_the_city_boundaries(tmp_path):
    city = gpd.GeoDataFrame(geometry=[Point(101.40, 1.60), Point(101.70, 1.78)],
                            crs=4326).to_crs(32647)
    text = "jenis,lat,lon\nTPS,1.66,101.44\nTPS,-6.2,106.8\n"
    assert read_facilities(_write(tmp_path, "f.csv", text), near=city).rejected_rows.size == 1


def test_every_row_rejected_is_a_file_error_listing_the_problems(tmp_path):
    path = _write(tmp_path, "f.csv", "jenis,lat,lon\nwarung,1.66,101.44\nTPS,,101.4\n")
    with pytest.raises(InputFileError, match="no facility could be read") as err:
        read_facilities(path)
    assert [p.row for p in err.value.problems] == [2, 3]


def test_swapped_latitude_and_longitude(tmp_path):
    text = "nama,jenis,lat,lon\nA,TPS,101.44,1.66\nB,TPS,101.45,1.67\n"
    with pytest.raises(InputFileError, match="swapped") as err:
        read_facilities(_write(tmp_path, "f.csv", text))
    assert "column 'lat'" in str(err.value) and "101.44" in str(err.value)


def test_swapped_near_the_city(tmp_path):
    text = "jenis,lintang,bujur\nTPS,101.44,1.66\nTPS,101.45,1.67\nTPS,1.66,101.44\n"
    with pytest.raises(InputFileError, match="swapped.*33% .*near the city.*67%") as err:
        read_facilities(_write(tmp_path, "f.csv", text), near=DUMAI)
    assert "column 'lintang'" in str(err.value)


def test_no_coordinate_columns_lists_the_columns_found(tmp_path):
    path = _write(tmp_path, "f.csv", "nama,jenis,alamat\nA,TPS,Jl. Sudirman\n")
    with pytest.raises(InputFileError, match="no coordinate columns") as err:
        read_facilities(path)
    assert "'alamat'" in str(err.value) and "lintang" in str(err.value)


def test_missing_empty_and_header_only_files(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_facilities(tmp_path / "absent.csv")
    with pytest.raises(InputFileError, match="empty"):
        read_facilities(_write(tmp_path, "empty.csv", ""))
    with pytest.raises(InputFileError, match="no data rows"):
        read_facilities(_write(tmp_path, "header.csv", "nama,jenis,lat,lon\n"))


def test_non_utf8_csv_is_read_with_a_note(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("nama,jenis,lat,lon\nTPS Caf\xe9,TPS,1.66,101.44\n".encode("cp1252"))
    batch = read_facilities(path)
    assert batch.frame["nama"].tolist() == ["TPS Caf\xe9"]
    assert any("Windows-1252" in n.reason for n in batch.notes)


def test_csv_in_utm_metres(tmp_path):
    x, y = pyproj.Transformer.from_crs(4326, 32647, always_xy=True).transform(101.44, 1.66)
    path = _write(tmp_path, "utm.csv", f"jenis,x,y\nTPS,{x:.2f},{y:.2f}\n")
    with pytest.raises(CRSError, match="EPSG:32647"):
        read_facilities(path, near=DUMAI)
    batch = read_facilities(path, crs="EPSG:32647")
    point = batch.frame.geometry.iloc[0]
    assert (point.x, point.y) == pytest.approx((101.44, 1.66), abs=1e-6)
    assert any("EPSG:32647 used as given" in n.reason for n in batch.notes)


def test_unknown_crs_option(tmp_path):
    with pytest.raises(CRSError, match="unknown CRS"):
        read_facilities(_write(tmp_path, "f.csv", INDONESIAN_CSV), crs="EPSG:99999999")


# --- vector files -----------------------------------------------------------------------------

def _geojson(tmp_path: Path, name: str, features: list[tuple[list[float] | None, dict]]) -> Path:
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props,
         "geometry": None if xy is None else {"type": "Point", "coordinates": xy}}
        for xy, props in features]}
    return _write(tmp_path, name, json.dumps(collection))


def test_geojson_with_indonesian_properties(tmp_path):
    path = _geojson(tmp_path, "f.geojson", [
        ([101.44, 1.66], {"nama": "TPS A", "tipe": "TPS", "kondisi": "ada", "kapasitas_": 2}),
        ([101.45, 1.67], {"nama": "TPS B", "tipe": "TPS-3R", "kondisi": "usulan",
                          "kapasitas_": None}),
    ])
    batch = read_facilities(path)
    assert batch.format == "vector"
    assert batch.frame["row"].tolist() == [1, 2]
    assert batch.frame["type"].tolist() == ["tps", "tps3r"]
    assert batch.frame["status"].tolist() == ["existing", "planned"]
    np.testing.assert_allclose(batch.frame["capacity"], [2.0, np.nan])


def test_geojson_feature_problems(tmp_path):
    path = tmp_path / "f.geojson"
    gpd.GeoDataFrame({"jenis": ["TPS", "TPS", "TPS", "TPS"]}, geometry=[
        Point(101.44, 1.66), None, LineString([(101.4, 1.6), (101.5, 1.7)]), Point(101.46, 95.0),
    ], crs=4326).to_file(path)
    batch = read_facilities(path)
    assert batch.frame["row"].tolist() == [1]
    reasons = _reasons(batch)
    assert reasons[2] == ["missing geometry"]
    assert reasons[3][0].startswith("not a point")
    assert reasons[4] == ["latitude must be between -90 and 90 degrees"]
    assert {p.column for p in batch.problems} == {"geometry"}


def test_geojson_in_metres_without_crs_raises_and_suggests_the_zone(tmp_path):
    lon, lat = [101.44, 101.50], [1.66, 1.70]
    x, y = pyproj.Transformer.from_crs(4326, 32647, always_xy=True).transform(lon, lat)
    path = _geojson(tmp_path, "bts.geojson", [([x[0], y[0]], {"jenis": "BTS"}),
                                              ([x[1], y[1]], {"jenis": "BTS"})])
    with pytest.raises(CRSError) as err:
        read_facilities(path, near=DUMAI)
    message = str(err.value)
    assert "bts.geojson" in message and "projected metres" in message
    assert f"({x[0]:.2f}, {y[0]:.2f})" in message
    assert "--crs EPSG:32647" in message

    with pytest.raises(CRSError, match="fit EPSG:32646 to EPSG:32653"):
        read_facilities(path)  # no hint: the zone cannot be told, the candidates are listed

    batch = read_facilities(path, crs="EPSG:32647", near=DUMAI)
    assert _metres_apart(batch.frame.geometry.x, batch.frame.geometry.y, lon, lat).max() < 0.01


def test_geopackage_with_declared_utm_crs_is_reprojected(tmp_path):
    lon, lat = [112.60, 112.70], [-7.95, -8.05]
    path = tmp_path / "tps.gpkg"
    gpd.GeoDataFrame(
        {"nama_fasilitas": ["TPS3R Maju", "TPST Jaya"], "jenis": ["tps3r", "TPST"],
         "pengelola": ["KSM Maju", "DLH"], "kapasitas_kg": [3000.0, 40000.0]},
        geometry=gpd.points_from_xy(lon, lat), crs=4326,
    ).to_crs(32749).to_file(path, layer="tps")
    batch = read_facilities(path)

    assert batch.format == "vector" and batch.frame.crs.to_epsg() == 4326
    assert _metres_apart(batch.frame.geometry.x, batch.frame.geometry.y, lon, lat).max() < 0.01
    assert batch.frame["capacity"].tolist() == [3.0, 40.0]
    assert batch.frame["operator"].tolist() == ["KSM Maju", "DLH"]
    assert any("reprojected from EPSG:32749" in n.reason for n in batch.notes)


def test_unreadable_vector_file(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"this is not a geopackage")
    with pytest.raises(InputFileError, match="broken.gpkg: cannot be read"):
        read_facilities(path)


def test_empty_feature_collection(tmp_path):
    with pytest.raises(InputFileError, match="no features"):
        read_facilities(_geojson(tmp_path, "none.geojson", []), facility_type="tps")


# --- OpenCelliD -------------------------------------------------------------------------------

CELLS = """\
LTE,510,10,2002,52494879,0,101.4412,1.6601,1474,14,1,1455779785,1751887145,0
GSM,510,1,11724,30155,-1,101.4563,1.6626,2197,4,1,1493875973,1727654462,0
LTE,510,89,23007,1234,-1,101.4601,1.6702,1000,1,1,1493875973,1727654462,0
UMTS,525,5,300,77,-1,101.4701,1.6802,1000,1,1,1493875973,1727654462,0
LTE,510,10,2002,52494879,0,101.4412,1.6601,1474,14,1,1455779785,1751887145,0
WIFI,510,10,1,1,0,101.44,1.66,10,1,1,1,1,0
"""


def test_opencellid_with_and_without_header_give_the_same_frame(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with_header = read_facilities(_write(tmp_path / "a", "510.csv",
                                         OPENCELLID_HEADER + "\n" + CELLS))
    without = read_facilities(_write(tmp_path / "b", "510.csv", CELLS))

    assert with_header.format == without.format == "opencellid"
    pd.testing.assert_frame_equal(with_header.frame.drop(columns="row"),
                                  without.frame.drop(columns="row"))
    # Row numbers are line numbers, so they shift with the header line.
    assert (with_header.frame["row"] - without.frame["row"] == 1).all()


def test_opencellid_fields(tmp_path):
    batch = read_facilities(_write(tmp_path, "510.csv", CELLS))
    frame = batch.frame
    assert frame["type"].eq("bts").all() and frame["status"].eq("existing").all()
    assert frame["nama"].tolist() == ["LTE 510-10 TAC 2002 cell 52494879",
                                      "GSM 510-01 LAC 11724 cell 30155",
                                      "LTE 510-89 TAC 23007 cell 1234",
                                      "UMTS 525-05 LAC 300 cell 77"]
    assert frame["operator"].tolist() == ["Telkomsel", "Indosat", "3 (Hutchison)", "525-05"]
    assert frame["external_id"].iloc[0] == "opencellid:LTE-510-10-2002-52494879"
    assert frame["range_m"].tolist() == [1474.0, 2197.0, 1000.0, 1000.0]
    assert frame["samples"].tolist() == [14.0, 4.0, 1.0, 1.0]
    assert any("estimated cell locations" in n.reason and "not surveyed" in n.reason
               for n in batch.notes)
    reasons = _reasons(batch)
    assert reasons[5] == ["same id as row 1; duplicate skipped"]
    assert reasons[6][0].startswith("unknown radio")


def test_opencellid_format_forced_on_another_csv(tmp_path):
    with pytest.raises(InputFileError, match="not an OpenCelliD cell export"):
        read_facilities(_write(tmp_path, "f.csv", INDONESIAN_CSV), format="opencellid")


# --- real files -------------------------------------------------------------------------------

@pytest.mark.shared_data
def test_real_malang_tpst3r(shared_data):
    path = shared_data / "facilities" / "malang_waste_tpst3r.geojson"
    batch = read_facilities(path, facility_type="TPST3R")
    raw = gpd.read_file(path)

    assert (batch.rows, len(batch.rejected_rows), batch.problems) == (42, 0, [])
    assert batch.frame["type"].eq("tps3r").all()
    assert batch.frame["nama"].iloc[0] == "Mulyoagung Bersatu"
    assert batch.frame["capacity"].max() == 27300.0
    # lat_1/long_1 repeat the geometry; the mangled DMS strings in lat_2/long_2 are ignored.
    np.testing.assert_allclose(batch.frame.geometry.x, raw["long_1"])
    np.testing.assert_allclose(batch.frame.geometry.y, raw["lat_1"])
    assert any("capacities exceed" in n.reason for n in batch.notes)


@pytest.mark.shared_data
def test_real_malang_tpa_needs_its_crs(shared_data):
    path = shared_data / "facilities" / "malang_waste_tpa.geojson"
    with pytest.raises(CRSError) as err:
        read_facilities(path, facility_type="tpa")
    message = str(err.value)
    assert "malang_waste_tpa.geojson" in message
    assert "(672232.95, 9102190.38)" in message
    assert "projected metres" in message
    assert "--crs EPSG:32749" in message

    batch = read_facilities(path, facility_type="tpa", crs="EPSG:32749")
    raw = gpd.read_file(path)
    assert len(batch.frame) == 3 and batch.frame["type"].eq("tpa").all()
    distance = _metres_apart(batch.frame.geometry.x, batch.frame.geometry.y,
                             raw["long_2"], raw["lat_2"])
    assert distance.max() < 50
    assert any("EPSG:32749 used as given" in n.reason for n in batch.notes)


@pytest.mark.shared_data
def test_real_opencellid_with_and_without_header(shared_data, tmp_path):
    path = shared_data / "towers" / "opencellid_510_riau_bbox_with_header.csv"
    batch = read_facilities(path)
    assert (batch.format, batch.rows, len(batch.frame)) == ("opencellid", 164, 164)
    assert batch.frame["external_id"].is_unique
    assert set(batch.frame["operator"]) <= {"Smartfren", "Telkomsel", "XL", "Indosat (IM3)"}

    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0].strip() == OPENCELLID_HEADER
    headerless = tmp_path / path.name
    headerless.write_text("".join(lines[1:]), encoding="utf-8")
    again = read_facilities(headerless)
    pd.testing.assert_frame_equal(batch.frame.drop(columns="row"),
                                  again.frame.drop(columns="row"))
    assert (batch.frame["row"] - again.frame["row"] == 1).all()


def test_degrees_given_a_projected_crs_are_refused(tmp_path):
    path = _write(tmp_path, "f.csv", "jenis,lat,lon\nTPS,1.66,101.44\n")
    with pytest.raises(CRSError, match="look like longitude/latitude.*EPSG:32647"):
        read_facilities(path, crs="EPSG:32647")


def test_geopackage_declaring_degrees_but_holding_metres(tmp_path):
    path = tmp_path / "tpa.gpkg"
    gpd.GeoDataFrame({"jenis": ["TPA"]}, geometry=[Point(672232.95, 9102190.38)],
                     crs=4326).to_file(path)
    with pytest.raises(CRSError, match="declares EPSG:4326.*--crs EPSG:32749"):
        read_facilities(path, near=(112.63, -7.98))


def test_vector_file_without_crs_in_degrees_is_read_with_a_note(tmp_path):
    path = tmp_path / "tps.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame({"jenis": ["TPS"]}, geometry=[Point(101.44, 1.66)]).to_file(path)
    batch = read_facilities(path)
    assert batch.frame.geometry.iloc[0].equals(Point(101.44, 1.66))
    assert any("declares no CRS" in n.reason for n in batch.notes)
