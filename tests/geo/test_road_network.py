"""Road distances on a toy network whose shortest paths are computed by hand."""
from __future__ import annotations

import numpy as np
import pytest

import shapely

from geo.road_network import road_distances

# An L-shaped road (0,0)-(1000,0)-(1000,1000), a road crossing it at (500,0) without a shared
# vertex, and a separate road far away.
ROADS = np.array([shapely.LineString([(0, 0), (1000, 0), (1000, 1000)]),
                  shapely.LineString([(500, -500), (500, 500)]),
                  shapely.LineString([(5000, 5000), (6000, 5000)])], dtype=object)


def test_distances_follow_the_roads_and_add_the_walk_to_them():
    origins = shapely.points([(0, 10), (500, 400)])
    destinations = shapely.points([(1000, 990), (100, 0), (520, -300)])
    cost = road_distances(ROADS, origins, destinations)
    assert cost == pytest.approx(np.array([
        [10 + 1000 + 990, 10 + 100, 10 + 500 + 300 + 20],
        [400 + 500 + 990, 400 + 400, 400 + 300 + 20],
    ]))


def test_points_on_the_same_segment_go_straight_along_it():
    cost = road_distances(ROADS, shapely.points([(100, 5)]), shapely.points([(300, -5)]))
    assert cost[0, 0] == pytest.approx(5 + 200 + 5)


def test_unconnected_road_pieces_give_infinite_distance():
    cost = road_distances(ROADS, shapely.points([(0, 0)]), shapely.points([(5500, 5000)]))
    assert np.isinf(cost[0, 0])
