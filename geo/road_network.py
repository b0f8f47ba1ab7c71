"""Distances along roads: a graph of road segments and shortest paths between snapped points.

The road lines (the ``jalan`` layer, in a metric CRS) are noded where they cross
(:func:`shapely.node`), cut into straight segments between consecutive vertices, and turned
into a sparse undirected graph whose edge weights are segment lengths.  Each origin and
destination point is snapped to the nearest point of the nearest segment; the distance between
two points is the straight walk to the road at each end plus the shortest path between the
snapped points (scipy.sparse.csgraph Dijkstra from the ends of the snapped segments).  Points in
road pieces that do not connect get ``inf``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

import shapely

#: Vertices closer than this (metres) are the same graph node.
NODE_TOLERANCE_M = 0.01


@dataclass(frozen=True)
class RoadGraph:
    """Segments (start node, end node, length) and the sparse graph over their nodes."""

    starts: np.ndarray
    ends: np.ndarray
    lengths: np.ndarray
    segments: np.ndarray
    node_count: int

    @classmethod
    def from_lines(cls, lines: np.ndarray) -> RoadGraph:
        """Build the graph from road lines in a metric CRS (noded where they cross)."""
        noded = shapely.get_parts(shapely.node(shapely.union_all(np.asarray(lines, dtype=object))))
        coords = [shapely.get_coordinates(line) for line in noded]
        a = np.concatenate([c[:-1] for c in coords])
        b = np.concatenate([c[1:] for c in coords])
        keys = np.round(np.concatenate([a, b]) / NODE_TOLERANCE_M).astype(np.int64)
        _, nodes = np.unique(keys, axis=0, return_inverse=True)
        nodes = nodes.ravel()
        lengths = np.hypot(*(b - a).T)
        keep = lengths > 0
        segments = shapely.linestrings(np.stack([a, b], axis=1))
        return cls(starts=nodes[: len(a)][keep], ends=nodes[len(a):][keep],
                   lengths=lengths[keep], segments=segments[keep],
                   node_count=int(nodes.max()) + 1)

    def snapped(self, points: np.ndarray) -> _Snap:
        """Nearest segment of every point, the offset along it and the distance to it."""
        tree = shapely.STRtree(self.segments)
        (index, segment), distance = tree.query_nearest(points, return_distance=True,
                                                        all_matches=False)
        order = np.argsort(index)
        segment, distance = segment[order], distance[order]
        offset = shapely.line_locate_point(self.segments[segment], points)
        return _Snap(segment=segment, offset=offset, access=distance)

    def shortest(self, sources: np.ndarray) -> np.ndarray:
        """Shortest road distance from each source node to every node (``inf`` if cut off)."""
        graph = coo_matrix((self.lengths, (self.starts, self.ends)),
                           shape=(self.node_count, self.node_count)).tocsr()
        return dijkstra(graph, directed=False, indices=sources)


@dataclass(frozen=True)
class _Snap:
    segment: np.ndarray
    offset: np.ndarray
    access: np.ndarray


def road_distances(lines: np.ndarray, origins: np.ndarray, destinations: np.ndarray
                   ) -> np.ndarray:
    """Distance in metres along the roads from every origin to every destination.

    Parameters
    ----------
    lines
        Road lines (shapely), metric CRS.
    origins, destinations
        Points (shapely), same CRS.

    Returns
    -------
    numpy.ndarray
        origins x destinations: the walk from each point to its nearest road point, plus the
        shortest path between those road points; ``inf`` where the road pieces do not connect.
    """
    graph = RoadGraph.from_lines(lines)
    here, there = graph.snapped(np.asarray(origins)), graph.snapped(np.asarray(destinations))
    here_ends = _ends(graph, here)
    there_ends = _ends(graph, there)
    sources = np.unique(here_ends[0])
    table = graph.shortest(sources)
    row_of = np.searchsorted(sources, here_ends[0])
    best = np.full((len(origins), len(destinations)), np.inf)
    for k in range(2):
        for m in range(2):
            path = table[row_of[:, k][:, None], there_ends[0][:, m][None, :]]
            total = here_ends[1][:, k][:, None] + path + there_ends[1][:, m][None, :]
            np.minimum(best, total, out=best)
    same = here.segment[:, None] == there.segment[None, :]
    along = np.abs(here.offset[:, None] - there.offset[None, :])
    best = np.where(same, np.minimum(best, along), best)
    return best + here.access[:, None] + there.access[None, :]


def _ends(graph: RoadGraph, snap: _Snap) -> tuple[np.ndarray, np.ndarray]:
    """Per point, the two end nodes of its segment and the distance along it to each."""
    nodes = np.stack([graph.starts[snap.segment], graph.ends[snap.segment]], axis=1)
    offsets = np.stack([snap.offset, graph.lengths[snap.segment] - snap.offset], axis=1)
    return nodes, offsets
