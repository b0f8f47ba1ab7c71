"""geo.h3_cells: the grouped H3 indexing gives exactly the library's cell for every point."""
from __future__ import annotations

import itertools
import math

import h3
import numpy as np
import pytest

from geo.h3_cells import CellIndexer, h3_cells


def _icosahedron_spots() -> list[tuple[float, float]]:
    """Where the indexing is most delicate: face centres, vertices (pentagons), edge middles,
    the poles and the antimeridian."""
    vertices = [h3.cell_to_latlng(cell) for cell in h3.get_pentagons(0)]
    unit = np.array([[math.cos(math.radians(a)) * math.cos(math.radians(b)),
                      math.cos(math.radians(a)) * math.sin(math.radians(b)),
                      math.sin(math.radians(a))] for a, b in vertices])
    spots = list(vertices)
    for size in (2, 3):  # edge middles, face centres
        for group in itertools.combinations(range(12), size):
            if all(unit[a] @ unit[b] > 0.3 for a, b in itertools.combinations(group, 2)):
                middle = unit[list(group)].sum(axis=0)
                middle /= np.linalg.norm(middle)
                spots.append((math.degrees(math.asin(middle[2])),
                              math.degrees(math.atan2(middle[1], middle[0]))))
    return spots + [(89.999, 0.0), (-89.999, 10.0), (0.0, 179.9999), (1.7, 101.45)]


def _check(lat: np.ndarray, lon: np.ndarray, resolution: int, chunk: int = 40_000) -> CellIndexer:
    indexer = CellIndexer(resolution)
    got = np.concatenate([indexer.cells(lat[i:i + chunk], lon[i:i + chunk])
                          for i in range(0, len(lat), chunk)])
    expected = h3_cells(lat, lon, resolution)
    wrong = np.flatnonzero(got != expected)
    assert wrong.size == 0, (f"resolution {resolution}: {wrong.size} cells differ, e.g. at "
                             f"{lat[wrong[0]]!r}, {lon[wrong[0]]!r}")
    return indexer


@pytest.mark.parametrize("resolution", range(16))
def test_random_points_on_the_globe(resolution: int) -> None:
    rng = np.random.default_rng(resolution)
    n = 30_000
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    lon = rng.uniform(-180.0, 180.0, n)
    _check(lat, lon, resolution)


@pytest.mark.parametrize("resolution", [0, 1, 4, 7, 9, 12, 15])
def test_crowded_points_at_faces_vertices_edges_and_cell_corners(resolution: int) -> None:
    """Many points per hexagon (so most take a cell met before), around the icosahedron's
    special places, plus every corner of the cells met and points a hair beside them."""
    rng = np.random.default_rng(100 + resolution)
    spread = 30.0 * 0.38 ** resolution + 1e-6  # degrees: a few dozen cells wide
    spots = np.array(_icosahedron_spots())
    lat = np.clip((spots[:, 0:1] + rng.normal(0.0, spread, (len(spots), 800))).ravel(), -90, 90)
    lon = ((spots[:, 1:2] + rng.normal(0.0, spread, (len(spots), 800))).ravel() + 180) % 360 - 180
    corners = []
    for cell in np.unique(h3_cells(lat[::40], lon[::40], resolution))[:600]:
        for a, b in h3.cell_to_boundary(h3.int_to_str(int(cell))):
            corners += [(a + e, b - e) for e in (0.0, 1e-12, -1e-12, 1e-9, -1e-7)]
    corners = np.array(corners)
    indexer = _check(np.concatenate([lat, corners[:, 0]]), np.concatenate([lon, corners[:, 1]]),
                     resolution)
    assert indexer.looked_up < len(lat) + len(corners)


def test_a_city_needs_one_lookup_per_hexagon() -> None:
    """A dense city: after the first chunk nearly every point takes a cell already met."""
    rng = np.random.default_rng(3)
    lat, lon = 1.60 + rng.random(200_000) * 0.05, 101.40 + rng.random(200_000) * 0.05
    indexer = _check(lat, lon, 9)
    hexagons = len(np.unique(h3_cells(lat, lon, 9)))
    assert indexer.looked_up < 1.2 * hexagons  # plus points too near an edge to be grouped


def test_points_on_two_faces_in_one_call() -> None:
    """A chunk spanning a face border compares the faces point by point."""
    spots = np.array(_icosahedron_spots()[12:40])
    rng = np.random.default_rng(5)
    lat = (spots[:, 0:1] + rng.normal(0.0, 2.0, (len(spots), 500))).ravel()
    lon = (spots[:, 1:2] + rng.normal(0.0, 2.0, (len(spots), 500))).ravel()
    _check(np.clip(lat, -90, 90), (lon + 180) % 360 - 180, 6, chunk=len(lat))


def test_empty_input_and_bad_resolution() -> None:
    assert CellIndexer(9).cells(np.zeros(0), np.zeros(0)).dtype == np.int64
    assert len(CellIndexer(9).cells(np.zeros(0), np.zeros(0))) == 0
    with pytest.raises(ValueError, match="0-15"):
        CellIndexer(16)


def test_coordinates_that_are_not_finite_are_the_library_s_business() -> None:
    """No grouping is attempted for NaN or infinite coordinates: h3ronpy decides."""
    lat = np.array([1.6, np.nan, 1.6, np.inf])
    lon = np.array([101.4, 101.4, np.nan, 101.4])
    try:
        expected = h3_cells(lat, lon, 9)
    except Exception as error:  # noqa: BLE001 - whatever the library raises, we raise too
        with pytest.raises(type(error)):
            CellIndexer(9).cells(lat, lon)
    else:
        assert CellIndexer(9).cells(lat, lon).tolist() == expected.tolist()
