"""Point-in-kelurahan assignment: exactly one kelurahan per point, deterministically."""
from __future__ import annotations

import numpy as np
import pytest

import geopandas as gpd
import pyproj
import shapely
from shapely.geometry import box

import geo.kelurahan_lookup as lookup
from geo import settings
from geo.boundaries import read_boundaries
from geo.errors import BoundaryError, CRSError
from geo.kelurahan_lookup import assign_kelurahan, build_kelurahan_index

UTM47N = "EPSG:32647"
TO_LONLAT = pyproj.Transformer.from_crs(UTM47N, "EPSG:4326", always_xy=True)


def _kelurahan(*squares: tuple[str, shapely.Geometry]) -> gpd.GeoDataFrame:
    """Kelurahan from (kode, polygon in UTM 47N metres), returned in EPSG:4326."""
    frame = gpd.GeoDataFrame({"kode": [k for k, _ in squares]},
                             geometry=[g for _, g in squares], crs=UTM47N)
    return frame.to_crs("EPSG:4326")


def _lonlat(x, y):
    return TO_LONLAT.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


# --- hand-built cases --------------------------------------------------------------------------

def test_point_in_an_overlap_goes_to_the_kelurahan_it_is_deepest_in():
    # A spans x 0-2000 m, B spans x 1500-3500 m: they overlap between 1500 and 2000
    kelurahan = _kelurahan(("02", box(761_500, 185_000, 763_500, 187_000)),
                           ("01", box(760_000, 185_000, 762_000, 187_000)))
    x = [760_500, 763_000, 761_600, 761_900]
    codes = assign_kelurahan(*_lonlat(x, [186_000] * 4), kelurahan)
    # 761_600 is 100 m inside B's edge but 400 m inside A's: deeper in A; 761_900 the reverse
    assert list(codes) == ["01", "02", "01", "02"]


def test_point_on_a_shared_boundary_goes_to_the_smallest_kode():
    shared = _kelurahan(("14.72.01.1002", box(761_000, 185_000, 762_000, 186_000)),
                        ("14.72.01.1001", box(760_000, 185_000, 761_000, 186_000)))
    west = shared.geometry.iloc[1]
    corner = shapely.get_coordinates(west)  # exact vertices of the shared edge
    on_edge = corner[np.isclose(corner[:, 0], corner[:, 0].max())]

    codes = assign_kelurahan(on_edge[:, 0], on_edge[:, 1], shared)

    assert set(codes) == {"14.72.01.1001"}


def test_points_in_a_gap_go_to_the_nearest_kelurahan_within_the_tolerance():
    # a 300 m wide gap between A (x < 761000) and B (x > 761300)
    kelurahan = _kelurahan(("A", box(760_000, 185_000, 761_000, 186_000)),
                           ("B", box(761_300, 185_000, 762_300, 186_000)))
    x = [761_010, 761_270, 761_140, 760_000 - 500, 762_300 + 550]
    lon, lat = _lonlat(x, [185_500] * 5)

    codes = assign_kelurahan(lon, lat, kelurahan)  # default tolerance: 50 m

    assert list(codes) == ["A", "B", None, None, None]
    wide = assign_kelurahan(lon, lat, kelurahan, tolerance_m=600)
    assert list(wide) == ["A", "B", "A", "A", "B"]


def test_default_tolerance_is_read_at_call_time(monkeypatch):
    kelurahan = _kelurahan(("A", box(760_000, 185_000, 761_000, 186_000)))
    index = build_kelurahan_index(kelurahan)
    lon, lat = _lonlat([761_010], [185_500])  # 10 m outside

    assert list(index.assign(lon, lat)) == ["A"]
    monkeypatch.setattr(settings, "SLIVER_TOLERANCE_M", 5.0)
    assert list(index.assign(lon, lat)) == [None]
    assert list(build_kelurahan_index(kelurahan, tolerance_m=20).assign(lon, lat)) == ["A"]


def test_invalid_coordinates_and_empty_input():
    kelurahan = _kelurahan(("A", box(760_000, 185_000, 761_000, 186_000)))
    index = build_kelurahan_index(kelurahan)
    lon, lat = _lonlat([760_500, 760_500], [185_500, 185_500])

    codes = index.assign([lon[0], np.nan, np.inf, np.inf], [lat[0], lat[0], lat[0], -np.inf])

    assert list(codes) == ["A", None, None, None]
    assert index.assign([], []).shape == (0,)
    assert index.assign(np.array([]), np.array([])).dtype == object
    with pytest.raises(ValueError, match="differ in length"):
        index.assign([1.0, 2.0], [1.0])


def test_kelurahan_in_a_metric_crs_are_accepted():
    frame = gpd.GeoDataFrame({"kode": ["A"]}, geometry=[box(760_000, 185_000, 761_000, 186_000)],
                             crs=UTM47N)
    assert list(assign_kelurahan(*_lonlat([760_500], [185_500]), frame)) == ["A"]


def test_tables_that_cannot_be_indexed_are_rejected():
    square = box(101.0, 1.0, 101.01, 1.01)
    with pytest.raises(CRSError):
        build_kelurahan_index(gpd.GeoDataFrame({"kode": ["A"]}, geometry=[square]))
    bad = gpd.GeoDataFrame({"kode": ["A", "A", None]},
                           geometry=[square, shapely.Point(101, 1), square], crs="EPSG:4326")
    with pytest.raises(BoundaryError) as caught:
        build_kelurahan_index(bad)
    reasons = [p.reason for p in caught.value.problems]
    assert "kelurahan 3: no code" in reasons
    assert sum("used more than once" in r for r in reasons) == 2
    assert any("geometry is Point" in r for r in reasons)


# --- against an independent brute force --------------------------------------------------------

def _brute_force(lon, lat, kelurahan, tolerance_m):
    """Per point, per polygon: the documented rule written the slow, obvious way."""
    kelurahan = kelurahan.sort_values("kode", ignore_index=True)
    metric_crs = kelurahan.estimate_utm_crs()
    metric = list(kelurahan.to_crs(metric_crs).geometry)
    polygons = list(kelurahan.geometry)
    codes = list(kelurahan["kode"])
    x, y = pyproj.Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True).transform(lon, lat)
    result = []
    for point, metric_point in zip(shapely.points(lon, lat), shapely.points(x, y), strict=True):
        inside = [i for i, polygon in enumerate(polygons) if polygon.intersects(point)]
        if inside:
            depth = {i: metric[i].boundary.distance(metric_point) for i in inside}
            best = max(depth.values())
            result.append(codes[min(i for i in inside if depth[i] == best)])
            continue
        distance = {i: polygon.boundary.distance(metric_point) for i, polygon in enumerate(metric)}
        nearest = min(distance.values())
        result.append(codes[min(i for i, d in distance.items() if d == nearest)]
                      if nearest <= tolerance_m else None)
    return np.array(result, dtype=object)


def _points_near_boundaries(kelurahan, n, rng, *, spread_m=60.0):
    """Random points within ``spread_m`` of kelurahan boundaries (where overlaps and gaps are)."""
    metric = kelurahan.to_crs(kelurahan.estimate_utm_crs())
    rings = shapely.get_rings(shapely.get_parts(np.asarray(metric.geometry.array)))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    start = rng.choice(np.flatnonzero(ring[1:] == ring[:-1]), n)  # a random boundary segment
    along = rng.uniform(0, 1, (n, 1))
    x, y = (coords[start] * (1 - along) + coords[start + 1] * along).T + rng.uniform(
        -spread_m, spread_m, (2, n))
    return pyproj.Transformer.from_crs(metric.crs, "EPSG:4326", always_xy=True).transform(x, y)


@pytest.mark.parametrize("grid_cells", [1, 64, lookup.GRID_CELLS])
def test_hand_built_squares_match_brute_force(monkeypatch, grid_cells):
    monkeypatch.setattr(lookup, "GRID_CELLS", grid_cells)
    kelurahan = _kelurahan(
        ("03", box(760_000, 185_000, 761_020, 186_000)),  # overlaps 02 by 20 m
        ("02", box(761_000, 185_000, 762_000, 186_000)),
        ("01", box(760_000, 186_030, 762_000, 187_000)))  # 30 m gap to both
    rng = np.random.default_rng(5)
    lon, lat = _points_near_boundaries(kelurahan, 3000, rng)

    got = build_kelurahan_index(kelurahan).assign(lon, lat)

    np.testing.assert_array_equal(got, _brute_force(lon, lat, kelurahan, 50.0))
    assert {"01", "02", "03", None} <= set(got)


# --- real files --------------------------------------------------------------------------------

REAL_FILES = ["payakumbuh_13.76_kelurahan.geojson", "singkawang_61.72_kelurahan.geojson"]


@pytest.fixture(scope="module", params=REAL_FILES)
def real_kelurahan(request, shared_data):
    return read_boundaries(shared_data / "boundaries" / request.param).kelurahan


@pytest.mark.shared_data
def test_every_real_kelurahan_contains_its_own_representative_point(real_kelurahan):
    point = real_kelurahan.representative_point()

    codes = assign_kelurahan(point.x.to_numpy(), point.y.to_numpy(), real_kelurahan)

    assert list(codes) == list(real_kelurahan["kode"])


@pytest.mark.shared_data
def test_real_boundaries_match_brute_force_near_overlaps_and_gaps(real_kelurahan):
    rng = np.random.default_rng(11)
    lon, lat = _points_near_boundaries(real_kelurahan, 1500, rng)

    got = build_kelurahan_index(real_kelurahan).assign(lon, lat)

    np.testing.assert_array_equal(got, _brute_force(lon, lat, real_kelurahan, 50.0))


@pytest.mark.shared_data
def test_points_in_real_overlaps_and_slivers_get_one_deterministic_kode(real_kelurahan):
    rng = np.random.default_rng(4)
    lon, lat = _points_near_boundaries(real_kelurahan, 20_000, rng, spread_m=15.0)
    polygons = np.asarray(real_kelurahan.geometry.array)
    inside = np.array([shapely.intersects_xy(polygon, lon, lat) for polygon in polygons]).sum(0)
    filled = shapely.polygons(shapely.get_exterior_ring(shapely.get_parts(
        shapely.union_all(polygons))))
    in_sliver = (inside == 0) & shapely.intersects_xy(shapely.union_all(filled), lon, lat)
    overlap, sliver = np.flatnonzero(inside >= 2)[:300], np.flatnonzero(in_sliver)[:300]
    lon, lat = lon[np.r_[overlap, sliver]], lat[np.r_[overlap, sliver]]

    codes = build_kelurahan_index(real_kelurahan).assign(lon, lat)
    shuffled = real_kelurahan.sample(frac=1, random_state=3)
    again = np.concatenate([build_kelurahan_index(shuffled).assign(lon[i:i + 100], lat[i:i + 100])
                            for i in range(0, len(lon), 100)])

    # both are common in the real files
    assert len(overlap) > 50 and len(sliver) > 50
    # the sliver gaps of the real files are narrower than the default 50 m tolerance
    assert all(code is not None for code in codes)
    np.testing.assert_array_equal(codes, again)
    np.testing.assert_array_equal(codes, _brute_force(lon, lat, real_kelurahan, 50.0))


def test_positions_match_codes():
    kelurahan = _kelurahan(("B", box(761_300, 185_000, 762_300, 186_000)),
                           ("A", box(760_000, 185_000, 761_000, 186_000)))
    index = build_kelurahan_index(kelurahan)
    lon, lat = _lonlat([760_500, 761_800, 761_150, 761_010], [185_500] * 4)

    positions = index.positions([*lon, np.nan], [*lat, lat[0]])

    assert positions.dtype == np.int64
    assert list(positions) == [0, 1, -1, 0, -1]  # kode is sorted: A is 0
    assert list(index.kode[positions[positions >= 0]]) == ["A", "B", "A"]
    assert list(index.assign(lon, lat)) == ["A", "B", None, "A"]
