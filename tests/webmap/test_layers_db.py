"""Constraint layers in the database (SQLite and PostGIS): import, versions, loading."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Point, box

from geo.errors import CRSError, InputFileError, NotFoundError
from geo.terrain import plane_dem
from webmap.layers import (
    dem_layer,
    get_layer,
    import_layer,
    layer_versions,
    list_layers,
    load_layers,
)

RIVER = LineString([(101.401, 1.601), (101.419, 1.609)])
LAKE = box(101.405, 1.602, 101.408, 1.604)


def write(path, geometries, **columns):
    gpd.GeoDataFrame(columns, geometry=list(geometries), crs="EPSG:4326").to_file(path)
    return path


def test_import_stores_the_features_and_load_layers_gives_them_back(city_engine, options,
                                                                   tmp_path):
    path = write(tmp_path / "sungai.geojson", [RIVER, None, Point(101.41, 1.605)],
                 nama=["Sungai Dumai", "Kosong", "Titik"], lebar_m=[12.5, 3.0, 1.0])
    report = import_layer(city_engine, path, "sungai", options, name="Sungai BIG 2024")
    assert report | {"errors": None, "notes": None} == {
        "city": "99.01", "kind": "sungai", "name": "Sungai BIG 2024", "file": "sungai.geojson",
        "sha256": report["sha256"], "rows": 3, "accepted": 1, "rejected": 2,
        "errors": None, "notes": None, "source_crs": "EPSG:4326",
        "geometry_types": ["LineString"], "already_imported": False, "version": 1,
        "previous_version": None, "layer_id": report["layer_id"]}
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(2, "empty"), (3, "wrong_type")]
    json.dumps(report)
    with city_engine.connect() as conn:
        layers = load_layers(conn, "99.01")
    assert list(layers) == ["sungai"]
    river = layers["sungai"]
    assert list(river.columns) == ["layer_id", "row", "nama", "properties", "geometry"]
    assert river.crs.to_epsg() == 4326
    assert river["row"].tolist() == [1] and river["nama"].tolist() == ["Sungai Dumai"]
    assert river["properties"].iloc[0] == {"nama": "Sungai Dumai", "lebar_m": 12.5}
    assert river.geometry.iloc[0].equals_exact(RIVER, 1e-9)


def test_reimport_replaces_the_kind_and_keeps_the_previous_version(city_engine, options,
                                                                   tmp_path):
    first = import_layer(city_engine, write(tmp_path / "a.geojson", [LAKE], nama=["Danau A"]),
                         "badan_air", options)
    second = import_layer(city_engine, write(tmp_path / "b.geojson", [LAKE, LAKE.buffer(0.001)],
                                             nama=["Danau B", "Waduk"]), "badan_air", options)
    assert (second["version"], second["previous_version"]) == (2, 1)
    with city_engine.connect() as conn:
        listed = list_layers(conn, "99.01")
        current = load_layers(conn, "99.01")["badan_air"]
        old = load_layers(conn, "99.01", layer_ids={"badan_air": first["layer_id"]})["badan_air"]
        versions = layer_versions(conn, "99.01")
        stored = get_layer(conn, "99.01", first["layer_id"])
    assert [(r["version"], r["active"], r["feature_count"]) for r in listed] == [
        (2, True, 2), (1, False, 1)]
    assert current["nama"].tolist() == ["Danau B", "Waduk"]
    assert old["nama"].tolist() == ["Danau A"]
    assert versions == {"badan_air": {"id": second["layer_id"], "version": 2, "name": "b.geojson",
                                      "sha256": second["sha256"], "feature_count": 2}}
    assert stored["report"]["accepted"] == 1 and stored["active"] is False


def test_the_active_file_again_changes_nothing(city_engine, options, tmp_path):
    path = write(tmp_path / "jalan.geojson", [RIVER], nama=["Jl. Sudirman"])
    first = import_layer(city_engine, path, "jalan", options)
    again = import_layer(city_engine, path, "jalan", options)
    assert again["already_imported"] is True and again["layer_id"] == first["layer_id"]
    with city_engine.connect() as conn:
        assert len(list_layers(conn, "99.01")) == 1


def test_kinds_are_kept_apart_and_airports_get_their_class(city_engine, options, tmp_path):
    import_layer(city_engine, write(tmp_path / "j.geojson", [RIVER]), "jalan", options)
    import_layer(city_engine, write(tmp_path / "b.geojson", [Point(101.41, 1.605), LAKE],
                                    nama=["Pinang Kampai", "Lapangan"],
                                    jenis=["turbojet", None]), "bandara", options)
    with city_engine.connect() as conn:
        layers = load_layers(conn, "99.01")
        only_roads = load_layers(conn, "99.01", kinds=["jalan"])
    assert sorted(layers) == ["bandara", "jalan"] and list(only_roads) == ["jalan"]
    assert layers["bandara"]["jenis"].tolist() == ["turbojet", None]
    assert list(layers["bandara"].geom_type) == ["Point", "Polygon"]


def test_features_outside_the_city_are_not_stored(city_engine, options, tmp_path):
    far = Point(101.60, 1.60)
    report = import_layer(city_engine, write(tmp_path / "sumur.geojson", [far, Point(101.41,
                                                                                    1.605)]),
                          "sumber_air", options)
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(1, "outside")]
    with city_engine.connect() as conn:
        assert load_layers(conn, "99.01")["sumber_air"]["row"].tolist() == [2]


def test_nothing_is_stored_when_the_file_is_refused(city_engine, options, tmp_path):
    with pytest.raises(InputFileError, match="valid kinds"):
        import_layer(city_engine, write(tmp_path / "x.geojson", [RIVER]), "sampah", options)
    metric = gpd.GeoSeries([RIVER], crs="EPSG:4326").to_crs("EPSG:32647")
    path = tmp_path / "utm.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(metric[0])}]}))
    with pytest.raises(CRSError, match="EPSG:32647"):
        import_layer(city_engine, path, "jalan", options)
    with city_engine.connect() as conn:
        assert list_layers(conn, "99.01") == []
    assert import_layer(city_engine, path, "jalan", options, crs="EPSG:32647")["accepted"] == 1


def test_a_dem_is_archived_and_registered(city_engine, options, tmp_path):
    dem = plane_dem(tmp_path / "dem.tif", crs="EPSG:32647", origin=(766_000.0, 176_000.0),
                    size=120, resolution_m=30.0, rise_x=0.05)
    report = import_layer(city_engine, dem, "dem", options, name="DEMNAS")
    assert report["dem"]["crs"] == "EPSG:32647" and report["accepted"] == 0
    with city_engine.connect() as conn:
        layer = dem_layer(conn, "99.01")
        assert "dem" not in load_layers(conn, "99.01")
    assert layer["name"] == "DEMNAS" and layer["source_crs"] == "EPSG:32647"
    assert layer["path"] == Path(layer["archive_path"])
    assert Path(layer["archive_path"]).read_bytes() == dem.read_bytes()


def test_a_dem_without_crs_gets_a_copy_declaring_the_crs_given(city_engine, options, tmp_path):
    import numpy as np
    import rasterio

    from geo.terrain import slope_percent

    dem = plane_dem(tmp_path / "dem.tif", crs="EPSG:32647", origin=(766_000.0, 176_000.0),
                    size=60, resolution_m=30.0, rise_x=0.1)
    bare = tmp_path / "bare.tif"
    with rasterio.open(dem) as source:
        profile = source.profile | {"crs": None}
        with rasterio.open(bare, "w", **profile) as target:
            target.write(source.read())
    with pytest.raises(CRSError, match="declares no CRS"):
        import_layer(city_engine, bare, "dem", options)
    import_layer(city_engine, bare, "dem", options, crs="EPSG:32647")
    with city_engine.connect() as conn:
        layer = dem_layer(conn, "99.01")
    assert layer["path"] != Path(layer["archive_path"])
    slope, _ = slope_percent(layer["path"], crs="EPSG:32647",
                             bounds=(766_300.0, 176_300.0, 767_500.0, 177_500.0),
                             resolution_m=50.0)
    np.testing.assert_allclose(slope, 10.0, atol=1e-6)


def test_a_dem_elsewhere_is_refused(city_engine, options, tmp_path):
    dem = plane_dem(tmp_path / "dem.tif", crs="EPSG:32650", origin=(500_000.0, 100_000.0),
                    size=10, resolution_m=30.0)
    with pytest.raises(InputFileError, match="does not cover the city"):
        import_layer(city_engine, dem, "dem", options)


def test_another_citys_layer_is_not_found(city_engine, options, tmp_path):
    report = import_layer(city_engine, write(tmp_path / "j.geojson", [RIVER]), "jalan", options)
    with city_engine.connect() as conn:
        with pytest.raises(NotFoundError):
            get_layer(conn, "99.02", report["layer_id"])
        with pytest.raises(NotFoundError, match="is a jalan layer, not sungai"):
            load_layers(conn, "99.01", layer_ids={"sungai": report["layer_id"]})


def test_the_demo_city_has_a_layer_of_every_kind(engine, tmp_path):
    from geo.layers import ALL_KINDS
    from webmap.demo import load_demo_city
    from webmap.ingest import IngestOptions

    report = load_demo_city(engine, IngestOptions(archive_dir=tmp_path / "archive"),
                            folder=tmp_path / "demo", measurements=1000)
    assert report["message"].endswith(f"{len(ALL_KINDS)} constraint layers.")
    assert all(r["rejected"] == 0 for r in report["layers"].values())
    with engine.connect() as conn:
        layers = load_layers(conn, "99.71")
        versions = layer_versions(conn, "99.71")
        dem = dem_layer(conn, "99.71")
    assert sorted(versions) == sorted(ALL_KINDS)
    assert sorted(layers) == sorted(k for k in ALL_KINDS if k != "dem")
    assert len(layers["lahan"]) == 8 and layers["bandara"]["jenis"].tolist() == ["turbojet"]
    assert dem["source_crs"] == "EPSG:32647"


def test_migration_0009_downgrades_and_upgrades(engine):
    import sqlalchemy as sa

    from webmap.database import downgrade_database, upgrade_database

    tables = {"constraint_layer", "constraint_feature"}
    assert tables <= set(sa.inspect(engine).get_table_names())
    downgrade_database(engine, "0008")
    assert not tables & set(sa.inspect(engine).get_table_names())
    upgrade_database(engine)
    assert tables <= set(sa.inspect(engine).get_table_names())
