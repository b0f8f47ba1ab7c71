"""Tests for geo.exports: GeoJSON, GeoPackage, CSV and GeoTIFF files with their CRS declared."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import h3
import pyogrio
import pyproj
import rasterio
import shapely

from geo.errors import CRSError, InputFileError, PetakotaError
from geo.exports import CSV_GEOMETRY_COLUMNS, export_frame, h3_cells_to_geodataframe
from geo.surface import blank_spot_polygons, interpolate_signal

UTM = pyproj.CRS.from_epsg(32647)
X0, Y0 = 770_000.0, 170_000.0
TO_LONLAT = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)


@pytest.fixture
def spots() -> gpd.GeoDataFrame:
    """Two polygons (one with a hole) with the kinds of columns blank spots have, in UTM."""
    outer = shapely.box(X0, Y0, X0 + 1_000, Y0 + 700)
    holed = shapely.Polygon(outer.exterior.coords, [shapely.box(
        X0 + 200, Y0 + 200, X0 + 400, Y0 + 400).exterior.coords])
    return gpd.GeoDataFrame({
        "id": [1, 2], "area_km2": [0.66, 0.01], "kelurahan": ["99.71.01.1001,99.71.01.1002", ""],
        "kelurahan_kode_main": ["99.71.01.1001", None],
        "last_measured": pd.array([1_704_067_200, None], dtype="Int64"),
        "population": [12.5, np.nan]},
        geometry=[holed, shapely.box(X0 + 2_000, Y0, X0 + 2_100, Y0 + 100)], crs=UTM)


def test_geojson_is_rfc7946_in_wgs84(spots, tmp_path):
    path = export_frame(spots, tmp_path / "blank_spots.geojson")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in document  # RFC 7946: always WGS 84 longitude/latitude
    first = np.array(document["features"][0]["geometry"]["coordinates"][0])
    assert np.abs(first[:, 0] - 101.47).max() < 0.05 and np.abs(first[:, 1] - 1.54).max() < 0.05
    back = gpd.read_file(path, engine="pyogrio")
    assert back.crs.to_epsg() == 4326
    expected = spots.to_crs(4326)
    for got, want in zip(back.geometry, expected.geometry, strict=True):
        assert got.normalize().equals_exact(want.normalize(), tolerance=1e-7)
    assert back["kelurahan"].tolist() == ["99.71.01.1001,99.71.01.1002", ""]
    assert back["last_measured"].iloc[0] == 1_704_067_200 and pd.isna(back["last_measured"][1])


def test_geopackage_layer_is_named_after_the_file_and_keeps_the_crs(spots, tmp_path):
    path = export_frame(spots, tmp_path / "blank_spots.gpkg")
    assert [name for name, _ in pyogrio.list_layers(path)] == ["blank_spots"]
    back = gpd.read_file(path, layer="blank_spots", engine="pyogrio")
    assert back.crs.to_epsg() == 32647
    assert back.geometry.geom_equals_exact(spots.geometry, tolerance=1e-6).all()
    assert back["area_km2"].tolist() == [0.66, 0.01]
    export_frame(spots.iloc[:1], path)  # replaced, not appended
    assert len(gpd.read_file(path, engine="pyogrio")) == 1


def test_csv_states_the_crs_in_its_column_names(spots, tmp_path):
    path = export_frame(spots, tmp_path / "blank_spots.csv")
    table = pd.read_csv(path, encoding="utf-8", keep_default_na=False, na_values=[""])
    assert list(table.columns) == [*spots.columns.drop("geometry"), *CSV_GEOMETRY_COLUMNS]
    geometry = shapely.from_wkt(table["geometry_wkt_wgs84"].to_numpy())
    expected = np.asarray(spots.to_crs(4326).geometry.array)
    assert shapely.equals_exact(shapely.normalize(geometry), shapely.normalize(expected),
                                tolerance=1.1e-7).all()
    inside = shapely.contains_xy(expected, table["longitude_wgs84"], table["latitude_wgs84"])
    assert inside.all()  # a point inside each polygon, even the holed one
    assert path.read_bytes()[:3] != b"\xef\xbb\xbf"  # no byte-order mark
    gdal = pyogrio.read_dataframe(path, GEOM_POSSIBLE_NAMES="geometry_wkt_wgs84",
                                  KEEP_GEOM_COLUMNS="NO")
    assert gdal.geometry.geom_equals_exact(gpd.GeoSeries(expected), tolerance=1.1e-7).all()


def test_points_in_csv_have_their_own_coordinates(tmp_path):
    lon, lat = np.array([101.41234567, 101.5]), np.array([1.61234567, 1.7])
    points = gpd.GeoDataFrame({"id": [1, 2]}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    table = pd.read_csv(export_frame(points, tmp_path / "points.csv"))
    np.testing.assert_allclose(table["longitude_wgs84"], lon, atol=1e-7)
    np.testing.assert_allclose(table["latitude_wgs84"], lat, atol=1e-7)
    assert table["geometry_wkt_wgs84"][1] == "POINT (101.5 1.7)"


def test_a_table_with_lon_lat_columns_becomes_points(tmp_path):
    frame = pd.DataFrame({"kode": ["a", "b"], "longitude": [101.4, 101.5],
                          "latitude": [1.6, 1.7], "samples": [3, 4]})
    for suffix in (".geojson", ".gpkg"):
        back = gpd.read_file(export_frame(frame, tmp_path / f"stats{suffix}"), engine="pyogrio")
        assert back.crs.to_epsg() == 4326
        np.testing.assert_allclose(back.geometry.x, [101.4, 101.5])
        assert back["samples"].tolist() == [3, 4]
    table = pd.read_csv(export_frame(frame, tmp_path / "stats.csv"))
    assert table["longitude_wgs84"].tolist() == [101.4, 101.5]


def test_a_table_without_geometry_is_still_exported(tmp_path):
    frame = pd.DataFrame({"kode": ["99.71.01.1001", "99.71.01.1002"], "blank_km2": [1.5, 0.0]})
    document = json.loads(export_frame(frame, tmp_path / "stats.json").read_text())
    assert [f["geometry"] for f in document["features"]] == [None, None]
    assert document["features"][0]["properties"] == {"kode": "99.71.01.1001", "blank_km2": 1.5}
    back = pyogrio.read_dataframe(export_frame(frame, tmp_path / "stats.gpkg"),
                                  read_geometry=False)
    assert back["kode"].tolist() == frame["kode"].tolist()
    pd.testing.assert_frame_equal(pd.read_csv(export_frame(frame, tmp_path / "stats.csv")),
                                  frame, check_dtype=False)


def test_format_comes_from_the_suffix_or_the_argument(spots, tmp_path):
    with pytest.raises(InputFileError, match=r"'\.shp'"):
        export_frame(spots, tmp_path / "blank_spots.shp")
    with pytest.raises(InputFileError, match="kml"):
        export_frame(spots, tmp_path / "blank_spots.txt", format="kml")
    path = export_frame(spots, tmp_path / "blank_spots.txt", format="csv")
    assert "geometry_wkt_wgs84" in path.read_text().splitlines()[0]
    assert export_frame(spots, tmp_path / "UPPER.GeoJSON").exists()


def test_data_without_crs_is_refused(spots, tmp_path):
    with pytest.raises(CRSError):
        export_frame(spots.set_crs(None, allow_override=True), tmp_path / "x.geojson")
    with pytest.raises(InputFileError, match="GeoTIFF"):
        export_frame(spots, tmp_path / "x.tif")
    with pytest.raises(InputFileError):
        export_frame([1, 2, 3], tmp_path / "x.csv")


def test_surface_and_blank_spots_export_end_to_end(tmp_path):
    city = gpd.GeoDataFrame({"kode": ["99.71.01.1001"]}, geometry=[shapely.box(
        X0, Y0, X0 + 3_000, Y0 + 3_000)], crs=UTM).to_crs(4326)
    x, y = np.meshgrid(np.arange(X0 + 50, X0 + 3_000, 100), np.arange(Y0 + 50, Y0 + 3_000, 100))
    x, y = x.ravel(), y.ravel()
    blank = (np.abs(x - X0 - 1_500) < 400) & (np.abs(y - Y0 - 1_500) < 400)
    lon, lat = TO_LONLAT.transform(x, y)
    frame = pd.DataFrame({"measured_at": 1_704_067_200, "latitude": lat, "longitude": lon,
                          "operator": "XL", "technology": np.where(blank, "", "4G"),
                          "signal_dbm": np.where(blank, np.nan, -90.0), "no_service": blank})
    surface = interpolate_signal(frame, city)
    with rasterio.open(export_frame(surface, tmp_path / "surface.tiff")) as raster:
        assert raster.crs.to_epsg() == 32647 and raster.count == 1
    spots = blank_spot_polygons(surface, frame, city)
    assert len(spots) == 1 and spots["area_km2"].iloc[0] == pytest.approx(0.64)
    for suffix in (".geojson", ".gpkg"):
        back = gpd.read_file(export_frame(spots, tmp_path / f"blank{suffix}"), engine="pyogrio")
        assert back.crs.to_epsg() == 4326 and back["samples"].tolist() == [64]
        assert back["last_measured"].tolist() == [1_704_067_200]


# --- H3 cells ----------------------------------------------------------------------------------

def test_h3_cells_become_their_hexagons():
    cells = [h3.latlng_to_cell(1.6, 101.45, 9), h3.latlng_to_cell(1.61, 101.46, 9)]
    frame = pd.DataFrame({"h3_cell": np.array([h3.str_to_int(c) for c in cells] * 2,
                                              dtype=np.int64),
                          "samples": [1, 2, 3, 4]}, index=[10, 11, 12, 13])
    hexagons = h3_cells_to_geodataframe(frame)
    assert hexagons.crs.to_epsg() == 4326 and list(hexagons.index) == [10, 11, 12, 13]
    assert hexagons["samples"].tolist() == [1, 2, 3, 4]
    assert (hexagons.geom_type == "Polygon").all() and hexagons.is_valid.all()
    for cell, hexagon in zip(cells * 2, hexagons.geometry, strict=True):
        lat, lng = h3.cell_to_latlng(cell)
        assert hexagon.contains(shapely.Point(lng, lat))
        assert len(hexagon.exterior.coords) == 7
        area = gpd.GeoSeries([hexagon], crs=4326).to_crs(UTM).area.iloc[0]
        assert area == pytest.approx(h3.cell_area(cell, unit="m^2"), rel=0.01)


def test_h3_cells_as_strings_and_replacing_a_geometry():
    cell = h3.latlng_to_cell(1.6, 101.45, 8)
    frame = gpd.GeoDataFrame({"h3_cell": [cell]}, geometry=[shapely.Point(0, 0)], crs=4326)
    hexagons = h3_cells_to_geodataframe(frame)
    assert list(hexagons.columns) == ["h3_cell", "geometry"]
    assert hexagons.geometry.iloc[0].geom_type == "Polygon"


def test_invalid_h3_cells_are_all_reported():
    good = h3.str_to_int(h3.latlng_to_cell(1.6, 101.45, 9))
    frame = pd.DataFrame({"h3_cell": [good, 12345, -1, good]})
    with pytest.raises(PetakotaError) as caught:
        h3_cells_to_geodataframe(frame)
    assert [p.row for p in caught.value.problems] == [3, 4]
    assert caught.value.problems[0].value == 12345
    with pytest.raises(InputFileError, match="h3_cell"):
        h3_cells_to_geodataframe(pd.DataFrame({"cell": [good]}))


def test_h3_cells_export_with_their_crs(tmp_path):
    cells = [h3.str_to_int(h3.latlng_to_cell(1.6 + i / 100, 101.45, 9)) for i in range(3)]
    hexagons = h3_cells_to_geodataframe(pd.DataFrame({"h3_cell": cells, "status": "blank"}))
    back = gpd.read_file(export_frame(hexagons, tmp_path / "cells.gpkg"), engine="pyogrio")
    assert back.crs.to_epsg() == 4326 and back["h3_cell"].tolist() == cells
