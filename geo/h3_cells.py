"""H3 cell ids of many points, fast: the cells of points that share a hexagon are looked up once.

``h3ronpy`` computes a cell per point (~0.4 s per million points, a fifth of an ingest).  Field
measurements crowd into few cells: a city of 2,000 km2 has ~20,000 cells at resolution 9.
:class:`CellIndexer` places each point in its hexagon with a few NumPy operations and asks
``h3ronpy`` only for the first point of each hexagon it has not met before; every other point
takes the cell already found.  The result is exactly ``h3ronpy``'s.

How a point is placed (the first steps of H3's own indexing; H3 docs, "Indexing"):

1. the icosahedron face whose centre is nearest to the point;
2. the gnomonic projection of the point on that face, in units of the resolution's hexagon
   spacing, with the face's axes (rotated by the aperture-7 angle at the odd, "Class III",
   resolutions);
3. the nearest point of the hexagonal lattice: the hexagon the point lies in.

Points in the same hexagon of the same face have the same cell.  The face centres and axes are
read off the library itself (its 12 resolution-0 pentagons sit on the icosahedron's vertices),
not copied from its source.  A point whose face or hexagon is uncertain within the floating
point error of either computation (one near a face border, a hexagon edge or a face centre) is
left to ``h3ronpy``, so rounding never decides a cell.
"""
from __future__ import annotations

import itertools
import math
from functools import lru_cache

import h3
import numpy as np
import pandas as pd
from h3ronpy.vector import coordinates_to_cells

__all__ = ["CellIndexer", "h3_cells"]

#: The gnomonic distance of a resolution-0 cell centre from its neighbours': (3 - sqrt 5) / 2.
_RES0_UNIT = (3.0 - math.sqrt(5.0)) / 2.0
#: Rotation of the axes of the Class III (odd) resolutions: atan(sqrt 3 / 5).
_CLASS_III_ROTATION = math.atan(math.sqrt(3.0) / 5.0)
_SQRT3_2 = math.sqrt(3.0) / 2.0
#: Lattice coordinates are offset by this and packed 28 bits each, after 5 bits of face.
_OFFSET = 1 << 27


def h3_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell ids (int64) of points given in degrees, one ``h3ronpy`` call per point."""
    if len(lat) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = coordinates_to_cells(np.ascontiguousarray(lat, dtype=np.float64),
                                 np.ascontiguousarray(lon, dtype=np.float64), resolution)
    return np.asarray(cells.to_numpy()).astype(np.int64)


class CellIndexer:
    """The H3 cells of points at one resolution, remembering the hexagons it has met.

    Use one indexer for the points of one job (a file, a city): the more points share hexagons,
    the fewer are indexed one by one.  ``cells(lat, lon)`` equals :func:`h3_cells`.
    """

    def __init__(self, resolution: int) -> None:
        if not 0 <= resolution <= 15:
            raise ValueError(f"H3 resolution must be 0-15, not {resolution}")
        self.resolution = resolution
        self._met = pd.Index(np.zeros(0, dtype=np.int64))  # hexagon keys met so far
        self._cells = np.zeros(0, dtype=np.int64)  # their cells
        self.looked_up = 0  # points that were given to h3ronpy (for tests and benchmarks)

    def cells(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """H3 cell ids (int64) of points given in degrees."""
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        if len(lat) == 0:
            return np.zeros(0, dtype=np.int64)
        with np.errstate(all="ignore"):  # non-finite coordinates: h3ronpy's to judge
            key = _hexagon_keys(lat, lon, self.resolution)  # -1: uncertain, ask h3ronpy
        out = np.empty(len(lat), dtype=np.int64)
        position = self._met.get_indexer(key)  # a hash lookup; -1 where not met (or uncertain)
        known = position >= 0
        out[known] = self._cells[position[known]]
        new = ~known & (key >= 0)
        if new.any():
            new_keys, first, inverse = np.unique(key[new], return_index=True,
                                                 return_inverse=True)
            new_cells = self._look_up(lat[new][first], lon[new][first])
            out[new] = new_cells[inverse]
            self._met = self._met.append(pd.Index(new_keys))
            self._cells = np.concatenate([self._cells, new_cells])
        uncertain = key < 0
        if uncertain.any():
            out[uncertain] = self._look_up(lat[uncertain], lon[uncertain])
        return out

    def _look_up(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        self.looked_up += len(lat)
        return h3_cells(lat, lon, self.resolution)


@lru_cache(maxsize=1)
def _faces() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per icosahedron face (0-19): centre as a unit vector, centre (lat, lng) in radians, and
    the azimuth from the centre of one of its lattice axes (towards a vertex of the face).

    Read off the library: the 12 resolution-0 pentagons sit on the icosahedron's vertices, a
    face's centre is the middle of its three vertices, and the face's number is that of the
    finest cell at its centre.
    """
    vertex = np.array([_unit_vector(*np.radians(h3.cell_to_latlng(cell)))
                       for cell in h3.get_pentagons(0)])
    adjacent = vertex @ vertex.T > 0.3  # neighbouring vertices: cos 63.4 deg = 0.447
    np.fill_diagonal(adjacent, False)
    vectors, centres, axes = np.full((20, 3), np.nan), np.full((20, 2), np.nan), np.full(20, np.nan)
    for i, j, k in itertools.combinations(range(len(vertex)), 3):
        if not (adjacent[i, j] and adjacent[j, k] and adjacent[i, k]):
            continue
        middle = vertex[i] + vertex[j] + vertex[k]
        middle /= np.linalg.norm(middle)
        lat, lng = math.asin(middle[2]), math.atan2(middle[1], middle[0])
        (face,) = h3.get_icosahedron_faces(h3.latlng_to_cell(*np.degrees([lat, lng]), 15))
        corner_lat, corner_lng = math.asin(vertex[i, 2]), math.atan2(vertex[i, 1], vertex[i, 0])
        vectors[face], centres[face] = middle, (lat, lng)
        axes[face] = _azimuth(lat, lng, corner_lat, corner_lng)
    if np.isnan(axes).any():
        raise RuntimeError("the H3 library's pentagons do not outline 20 icosahedron faces")
    return vectors, centres, axes


def _unit_vector(lat: float, lng: float) -> np.ndarray:
    return np.array([math.cos(lat) * math.cos(lng), math.cos(lat) * math.sin(lng),
                     math.sin(lat)])


def _azimuth(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Azimuth (radians, from north) of point 2 seen from point 1 on the sphere."""
    return math.atan2(math.cos(lat2) * math.sin(lng2 - lng1),
                      math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2)
                      * math.cos(lng2 - lng1))


def _scale(resolution: int) -> float:
    """Hexagon spacings per unit of gnomonic distance at ``resolution``."""
    return math.sqrt(7.0) ** resolution / _RES0_UNIT


@lru_cache(maxsize=16)
def _planes(resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face, the vectors whose dot products with a point ``q`` (a unit vector), divided by
    ``q . centre``, give the point's lattice coordinates on the face's gnomonic plane: along
    the face's i axis and along the axis 60 degrees from it, in hexagon spacings at
    ``resolution``.  (Equivalently, H3's polar form: distance ``tan(r) / u0 * sqrt(7) ** res``
    at angle ``axis azimuth - point azimuth``, less ``atan(sqrt 3 / 5)`` at odd resolutions.)"""
    vectors, centres, axes = _faces()
    lat, lng = centres[:, 0], centres[:, 1]
    east = np.column_stack([-np.sin(lng), np.cos(lng), np.zeros(20)])
    north = np.column_stack([-np.sin(lat) * np.cos(lng), -np.sin(lat) * np.sin(lng), np.cos(lat)])
    angle = axes - (_CLASS_III_ROTATION if resolution % 2 else 0.0)
    cos_a, sin_a = np.cos(angle)[:, None], np.sin(angle)[:, None]
    along_x = cos_a * north + sin_a * east  # the plane's x axis (theta = 0)
    along_y = sin_a * north - cos_a * east
    scale = _scale(resolution)
    return vectors, scale * (along_x - along_y / math.sqrt(3.0)), scale * along_y / _SQRT3_2


def _hexagon_keys(lat_deg: np.ndarray, lon_deg: np.ndarray, resolution: int) -> np.ndarray:
    """A key per point naming its face and hexagon at ``resolution``; -1 where either is
    uncertain (or the coordinates are not finite)."""
    centre, along_p, along_b = _planes(resolution)
    lat, lng = np.radians(lat_deg), np.radians(lon_deg)
    cos_lat = np.cos(lat)
    px, py, pz = cos_lat * np.cos(lng), cos_lat * np.sin(lng), np.sin(lat)
    face, face_margin = _nearest_faces(px, py, pz, centre)
    if np.all(face == face[0]):  # the usual case: one face, its vectors as scalars
        centre, along_p, along_b = centre[face[0]], along_p[face[0]], along_b[face[0]]
    else:
        centre, along_p, along_b = centre[face].T, along_p[face].T, along_b[face].T
    cosine = px * centre[0] + py * centre[1] + pz * centre[2]  # cos r
    p = (px * along_p[0] + py * along_p[1] + pz * along_p[2]) / cosine
    b = (px * along_b[0] + py * along_b[1] + pz * along_b[2]) / cosine

    # Lattice coordinates along (1, 0) and (1/2, sqrt 3 / 2) are axial hexagon coordinates:
    # the nearest lattice point by cube rounding, then the offset from it.
    round_p, round_b, round_c = np.rint(p), np.rint(b), np.rint(-p - b)
    off_p, off_b, off_c = np.abs(round_p - p), np.abs(round_b - b), np.abs(round_c + p + b)
    fix_p = (off_p > off_b) & (off_p > off_c)
    fix_b = ~fix_p & (off_b > off_c)
    lattice_p = np.where(fix_p, -round_b - round_c, round_p)
    lattice_b = np.where(fix_b, -round_p - round_c, round_b)
    dp, db = p - lattice_p, b - lattice_b
    # Inside the hexagon, |offset . n| <= 1/2 along the three neighbour directions n.
    edge_margin = 0.5 - np.maximum(np.maximum(np.abs(dp + db / 2.0), np.abs(dp / 2.0 + db)),
                                   np.abs(dp - db) / 2.0)
    # The distance to the hexagon's edge must exceed the rounding of both computations:
    # relative to the distance from the face centre, and in H3's arccosine of that distance r,
    # ill-conditioned near the centre (~1e-16 / r radians).
    scale = _scale(resolution)
    radius = np.abs(p) + np.abs(b)  # within a factor 2 of the distance in hexagon spacings
    r = np.arccos(np.minimum(cosine, 1.0))
    error = 1e-9 + 2e-13 * radius + 1e-14 / np.maximum(r, 1e-300) * scale / cosine ** 2
    sure = ((face_margin > 1e-12) & (edge_margin > error) & (cosine > 0)
            & np.isfinite(p) & np.isfinite(b))
    key = ((face.astype(np.int64) << 56) | ((lattice_p.astype(np.int64) + _OFFSET) << 28)
           | (lattice_b.astype(np.int64) + _OFFSET))
    return np.where(sure, key, -1)


def _nearest_faces(px: np.ndarray, py: np.ndarray, pz: np.ndarray, vectors: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest face centre of each point (unit vectors), and by how much it is nearer than the
    next (difference of the cosines; infinite where no other face can be near).

    Only faces that can be nearest to some point are compared: those within the points' spread
    of the face nearest to their middle (for a city, one or two faces).
    """
    middle = np.array([px.sum(), py.sum(), pz.sum()])
    norm = np.linalg.norm(middle)
    candidates = np.arange(len(vectors))
    if np.isfinite(norm) and norm > 0:
        middle /= norm
        spread = math.acos(min(1.0, float(np.min(px * middle[0] + py * middle[1]
                                                  + pz * middle[2]))))
        angle = np.arccos(np.clip(vectors @ middle, -1.0, 1.0))
        candidates = np.flatnonzero(angle <= angle.min() + 2.0 * spread + 1e-6)
    if len(candidates) == 1:
        return np.full(len(px), candidates[0]), np.full(len(px), np.inf)
    dots = np.array([px * vectors[f, 0] + py * vectors[f, 1] + pz * vectors[f, 2]
                     for f in candidates])
    best = np.argmax(dots, axis=0)
    columns = np.arange(len(px))
    top = dots[best, columns]
    dots[best, columns] = -np.inf
    return candidates[best], top - dots.max(axis=0)
