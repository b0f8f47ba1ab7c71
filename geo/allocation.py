"""Location-allocation models solved exactly: LSCP, MCLP and (capacitated) p-median.

Every model takes a cost matrix of demand rows x site columns in metres (straight-line or along
roads) and returns an :class:`Allocation` that says which new sites to open, which demand each
open site serves, and which demand stays unserved.  Pre-existing sites (``fixed`` columns) are
always open: the models place new sites around them.

Which code builds which model:

- **p-median** (with or without site capacities) is PySAL spopt's
  :meth:`spopt.locate.PMedian.from_cost_matrix`, fixed sites through its
  ``predefined_facilities_arr``.  Its ``p`` counts every open site, so we pass ``p + len(fixed)``.
- **LSCP** and **MCLP** are the same formulations as spopt's ``LSCP`` / ``MCLP`` (Toregas et al.
  1971; Church & ReVelle 1974) written here with PuLP from the sparse coverage sets.  spopt's
  builders add a term for every demand x site pair of the dense matrix (40 million terms for
  20,000 demand cells x 2,000 candidates, minutes before the solver starts); a covering model only
  needs the pairs within the service distance.  Demand rows already covered by a fixed site are
  left out (they are served whatever we open), and rows with the same set of covering candidates
  are merged (their weights added).  MCLP also leaves out candidates that provably cannot be in
  an optimal solution (a submodular bound below the greedy solution, :func:`_promising_columns`),
  and its coverage variables are continuous in [0, 1] (at integer sites they take 0 or 1 at the
  optimum), so the solver branches on sites only.  LSCP first applies the classic set-covering
  reductions (forced sites, dominated demand rows and candidates, :func:`_reduced_cover`).
  ``tests/geo/test_allocation.py`` checks these builders against spopt and against brute force
  over every subset of candidates.

Models are solved with HiGHS through PuLP (``pulp.HiGHS``, no network, no files), with CBC as the
fallback when highspy is missing, both to a relative MIP gap of 0 (proven optimality).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pulp
from scipy import sparse

from geo.errors import N_, SitingError

MODELS = ("lscp", "mclp", "pmedian")


@dataclass(frozen=True)
class Allocation:
    """The solved model.

    Attributes
    ----------
    model
        ``"lscp"``, ``"mclp"`` or ``"pmedian"``.
    status
        ``"optimal"`` when the solver proved the optimum; otherwise PuLP's status in lower case
        (``"not_solved"``, ``"infeasible"``, ``"unbounded"``, ``"undefined"``).
    objective
        LSCP: the number of new sites; MCLP: the demand weight within the service distance of an
        open site (fixed or new); p-median: the sum of weight x distance (weight-metres).
    selected
        The new sites opened (cost columns), ranked by the demand weight they serve, largest
        first (ties by column); fixed columns are never listed here.
    fixed
        The columns of pre-existing sites, all kept open.
    assignment
        Per demand row, the open site column serving it, ``-1`` if unserved.  LSCP/MCLP assign
        each row to its nearest open site within the service distance; p-median assigns every
        row as the model does (capacity may send a row past its nearest site).
    covered
        Per demand row, ``True`` when it is served within the service distance (p-median: when
        it is served at all; a row with no finite cost to any open site is unserved).
    gap
        With status ``"feasible"`` (a time limit stopped the solver with a solution it could
        not prove optimal): the relative MIP gap between that solution and the solver's bound.
    """

    model: str
    status: str
    objective: float
    selected: list[int]
    fixed: list[int]
    assignment: np.ndarray
    covered: np.ndarray
    gap: float | None = None


def solve_lscp(cost: np.ndarray, *, service: float, fixed: Sequence[int] = ()) -> Allocation:
    """Open the fewest new sites so that every demand row is within ``service`` metres of one.

    Parameters
    ----------
    cost
        Demand rows x site columns, metres.
    service
        Service distance in metres: a row is covered by a site at most this far away.
    fixed
        Columns of pre-existing sites, always open; rows they cover need no new site.

    Raises
    ------
    SitingError
        When some demand row has no site (new or fixed) within the service distance.
    """
    cost, fixed_cols = _validated(cost, fixed)
    reach = cost <= service
    _require_reachable(reach, service)
    open_fixed = _fixed_mask(cost.shape[1], fixed_cols)
    rows = ~(reach[:, open_fixed].any(axis=1))
    columns = np.flatnonzero(~open_fixed)
    cover, forced = _reduced_cover(sparse.csr_matrix(reach[rows][:, columns], dtype=np.int32))
    kept = np.flatnonzero(cover.getnnz(axis=0) > 0)
    problem = pulp.LpProblem("lscp", pulp.LpMinimize)
    y = _site_variables(len(kept))
    problem += pulp.lpSum(y)
    for row in range(cover.shape[0]):
        covering = np.searchsorted(kept, cover.indices[cover.indptr[row]:cover.indptr[row + 1]])
        problem += pulp.lpSum(y[j] for j in covering) >= 1
    status = _solve(problem)
    opened = (sorted(columns[forced].tolist() + _opened(y, columns[kept]))
              if status == "optimal" else [])
    return _described("lscp", status, float(len(opened)), cost, np.ones(len(cost)), opened,
                      fixed_cols, service)


def solve_mclp(cost: np.ndarray, weights: np.ndarray, *, service: float, p: int,
               fixed: Sequence[int] = ()) -> Allocation:
    """Open ``p`` new sites so that the most demand weight is within ``service`` metres of a site.

    Parameters
    ----------
    cost
        Demand rows x site columns, metres.
    weights
        Demand per row (tonnes/day, people, cells...), non-negative.
    service
        Service distance in metres.
    p
        Number of new sites to open (fixed sites come on top).
    fixed
        Columns of pre-existing sites, always open.

    Raises
    ------
    SitingError
        When ``p`` is below 1 or above the number of candidate (non-fixed) columns.
    """
    cost, fixed_cols = _validated(cost, fixed)
    weights = _validated_weights(weights, len(cost))
    open_fixed = _fixed_mask(cost.shape[1], fixed_cols)
    _require_p(p, int((~open_fixed).sum()))
    reach = cost <= service
    free = reach[:, open_fixed].any(axis=1)
    columns = np.flatnonzero(~open_fixed)
    cover = sparse.csc_matrix(reach[~free][:, columns])
    promising = _promising_columns(cover, weights[~free], p)
    columns, cover = columns[promising], cover[:, promising]
    rows = cover.getnnz(axis=1) > 0
    groups, group_weights = _merged_rows(cover[rows].toarray(), weights[~free][rows])
    problem = pulp.LpProblem("mclp", pulp.LpMaximize)
    y = _site_variables(len(columns))
    x = [pulp.LpVariable(f"x{i}", lowBound=0, upBound=1) for i in range(len(groups))]
    problem += pulp.lpSum(w * xi for w, xi in zip(group_weights, x, strict=True))
    problem += pulp.lpSum(y) == p
    for xi, covering in zip(x, groups, strict=True):
        problem += pulp.lpSum(y[j] for j in covering) >= xi
    status = _solve(problem)
    opened = _opened(y, columns) if status == "optimal" else []
    objective = float(weights[free].sum() + (pulp.value(problem.objective) or 0.0))
    return _described("mclp", status, objective, cost, weights, opened, fixed_cols, service)


def solve_pmedian(cost: np.ndarray, weights: np.ndarray, *, p: int,
                  capacities: np.ndarray | None = None, fixed: Sequence[int] = (),
                  unserved_cost: float | None = None,
                  time_limit_s: float | None = None) -> Allocation:
    """Open ``p`` new sites minimising the weighted distance of every row to its site.

    Built by spopt's ``PMedian.from_cost_matrix``: every row is served by exactly one open
    site (single sourcing); with ``capacities`` the weight a site serves may not exceed its
    capacity (same unit as ``weights``, e.g. tonnes/day).

    Parameters
    ----------
    cost
        Demand rows x site columns, metres.
    weights
        Demand per row, non-negative.
    p
        Number of new sites to open (fixed sites come on top).
    capacities
        Capacity of every column (new and fixed), or ``None`` for uncapacitated.
    fixed
        Columns of pre-existing sites, always open.
    unserved_cost
        When given, demand may stay unserved at this cost per unit of weight (a virtual site,
        always open, without capacity limit, at this distance from every row; given to spopt as
        one more predefined facility).  Set above every real distance, the sites take as much
        demand as their capacity allows, nearest first; rows left over are reported unserved.
        ``None``: every row must be served.
    time_limit_s
        Stop HiGHS after this many seconds; a solution found by then comes back with status
        ``"feasible"`` and its ``gap`` (never ``"optimal"``), none with ``"not_solved"``.
        ``None``: solve to proven optimality however long it takes.

    Raises
    ------
    SitingError
        When ``p`` is out of range, or (without ``unserved_cost``) the capacity of the fixed
        sites plus the ``p`` largest candidates cannot take the total demand.
    """
    from spopt.locate import PMedian

    cost, fixed_cols = _validated(cost, fixed)
    weights = _validated_weights(weights, len(cost))
    open_fixed = _fixed_mask(cost.shape[1], fixed_cols)
    _require_p(p, int((~open_fixed).sum()))
    caps = None if capacities is None else np.asarray(capacities, dtype=float)
    model_cost, model_fixed = cost, list(fixed_cols)
    if unserved_cost is not None:
        model_cost = np.column_stack([cost, np.full(len(cost), float(unserved_cost))])
        model_fixed.append(cost.shape[1])
        caps = None if caps is None else np.append(caps, weights.sum())
    elif caps is not None:
        _require_capacity(caps, open_fixed, weights, p)
    model = PMedian.from_cost_matrix(
        _finite(model_cost), weights, p_facilities=p + len(model_fixed),
        predefined_facilities_arr=np.array(model_fixed, dtype=int) if model_fixed else None,
        facility_capacities=caps)
    status, gap = _solve_within(model.problem, time_limit_s)
    if status not in ("optimal", "feasible"):
        return _described("pmedian", status, float("nan"), cost, weights, [], fixed_cols, None)
    values = np.array([[v.value() or 0.0 for v in row] for row in model.cli_assgn_vars])
    assignment = values.argmax(axis=1)
    assignment[assignment >= cost.shape[1]] = -1
    distance = np.where(assignment >= 0, cost[np.arange(len(cost)), assignment], np.inf)
    assignment[~np.isfinite(distance)] = -1
    opened = [j for j, v in enumerate(model.fac_vars[: cost.shape[1]])
              if (v.value() or 0) > 0.5 and j not in fixed_cols]
    served = assignment >= 0
    objective = float((weights[served] * distance[served]).sum())
    return _allocation("pmedian", status, objective, weights, opened, fixed_cols, assignment,
                       served, gap=gap)


def _finite(cost: np.ndarray) -> np.ndarray:
    """``cost`` with unroutable pairs (``inf``) priced above any real assignment.

    The model must assign every row; a row assigned at such a price has no route to any open
    site and is reported unserved.
    """
    finite = np.isfinite(cost)
    if finite.all():
        return cost
    penalty = (cost[finite].max(initial=0.0) + 1.0) * max(cost.shape) * 10.0
    return np.where(finite, cost, penalty)


def _validated(cost: np.ndarray, fixed: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2 or cost.shape[1] == 0:
        raise SitingError.translatable(N_("Tidak ada calon lokasi: tambahkan calon lokasi."))
    if np.isnan(cost).any() or (cost < 0).any():
        raise ValueError("cost must be non-negative metres without NaN (use inf for no route)")
    fixed_cols = sorted({int(j) for j in fixed})
    if any(j < 0 or j >= cost.shape[1] for j in fixed_cols):
        raise ValueError(f"fixed columns {fixed_cols} outside 0..{cost.shape[1] - 1}")
    return cost, fixed_cols


def _validated_weights(weights: np.ndarray, rows: int) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (rows,) or np.isnan(weights).any() or (weights < 0).any():
        raise ValueError(f"weights must be {rows} non-negative numbers")
    return weights


def _fixed_mask(columns: int, fixed: list[int]) -> np.ndarray:
    mask = np.zeros(columns, dtype=bool)
    mask[fixed] = True
    return mask


def _require_reachable(reach: np.ndarray, service: float) -> None:
    unreachable = int((~reach.any(axis=1)).sum())
    if unreachable:
        raise SitingError.translatable(
            N_("%(rows)d titik permintaan berjarak lebih dari %(service).0f m dari setiap calon "
               "lokasi: perbesar jarak layanan atau tambahkan calon lokasi di dekatnya."),
            rows=unreachable, service=service)


def _require_p(p: int, candidates: int) -> None:
    if candidates == 0:
        raise SitingError.translatable(
            N_("Tidak ada calon lokasi yang memenuhi syarat: tambahkan calon lokasi lain atau "
               "tinjau aturan pengecualian."))
    if not 1 <= p <= candidates:
        raise SitingError.translatable(
            N_("Jumlah lokasi baru harus 1 sampai %(candidates)d (jumlah calon lokasi yang "
               "memenuhi syarat), bukan %(p)d."), candidates=candidates, p=p)


def _require_capacity(caps: np.ndarray, open_fixed: np.ndarray, weights: np.ndarray,
                      p: int) -> None:
    best = caps[open_fixed].sum() + np.sort(caps[~open_fixed])[::-1][:p].sum()
    if best < weights.sum():
        need = _sites_needed(caps, open_fixed, weights.sum())
        raise SitingError.translatable(
            N_("Kapasitas tidak cukup: %(p)d lokasi baru menampung paling banyak %(best).1f dari "
               "%(demand).1f; perlu sedikitnya %(need)s lokasi baru, atau kapasitas per lokasi "
               "yang lebih besar."), p=p, best=float(best), demand=float(weights.sum()),
            need=need)


def _sites_needed(caps: np.ndarray, open_fixed: np.ndarray, demand: float) -> str:
    total = caps[open_fixed].sum() + np.cumsum(np.sort(caps[~open_fixed])[::-1])
    enough = np.flatnonzero(total >= demand)
    return str(int(enough[0]) + 1) if len(enough) else "> " + str(int((~open_fixed).sum()))


def _merged_rows(reach: np.ndarray, weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Rows with the same covering columns merged: (covering columns, summed weight) per group."""
    if len(reach) == 0:
        return [], np.zeros(0)
    packed = np.packbits(reach, axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=weights, minlength=len(first))
    return [np.flatnonzero(reach[i]) for i in first], summed


def _reduced_cover(cover: sparse.csr_matrix) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Apply the classic set-covering reductions until nothing changes.

    A row covered by a single column forces that column open (the rows it covers leave); a
    column whose rows are a subset of another column's leaves (the other serves as well); a row
    whose covering columns include all those of another row leaves (covering the other covers
    it).  Returns the remaining rows (columns keep their positions, emptied when removed) and
    the forced columns.  Every optimal cover of the remainder plus the forced columns is an
    optimal cover of the whole.
    """
    cover = _distinct_rows(cover)
    forced = np.zeros(cover.shape[1], dtype=bool)
    while cover.shape[0]:
        shape = (cover.shape[0], cover.nnz)
        single = cover.getnnz(axis=1) == 1
        now_forced = np.unique(cover[single].indices)
        forced[now_forced] = True
        hit = np.asarray(cover[:, now_forced].sum(axis=1)).ravel() > 0
        cover = cover[~hit]
        cover = _without_columns(cover, _contained(cover.T.tocsr(), within=True))
        cover = _distinct_rows(cover[~_contained(cover, within=False)])
        if (cover.shape[0], cover.nnz) == shape:
            break
    return cover, np.flatnonzero(forced)


def _contained(matrix: sparse.csr_matrix, *, within: bool) -> np.ndarray:
    """Rows whose set of columns lies within (``within``) or contains another row's set.

    Equal sets count once: the later row is the one marked.  For LSCP rows, containing another
    row's set means "covering the other covers this one"; for the transpose (columns), lying
    within another column's set means "the other column covers all this one does".
    """
    sizes = matrix.getnnz(axis=1)
    marked = np.zeros(matrix.shape[0], dtype=bool)
    for start in range(0, matrix.shape[0], _BOUND_BLOCK):
        block = (matrix[start:start + _BOUND_BLOCK] @ matrix.T).tocoo()
        i, k = block.row + start, block.col
        smaller = sizes[i] < sizes[k] if within else sizes[k] < sizes[i]
        inside = block.data == (sizes[i] if within else sizes[k])
        marked[i[inside & (i != k) & (smaller | ((sizes[i] == sizes[k]) & (k < i)))]] = True
    return marked


def _without_columns(matrix: sparse.csr_matrix, columns: np.ndarray) -> sparse.csr_matrix:
    result = matrix.copy()
    result.data[columns[result.indices]] = 0
    result.eliminate_zeros()
    return result


def _distinct_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """One row per distinct set of columns."""
    if matrix.shape[0] == 0:
        return matrix
    matrix.sort_indices()
    keys = [matrix.indices[a:b].tobytes() for a, b in zip(matrix.indptr[:-1], matrix.indptr[1:],
                                                          strict=True)]
    _, first = np.unique(np.array(keys, dtype=object), return_index=True)
    return matrix[np.sort(first)]


def _promising_columns(cover: sparse.csc_matrix, weights: np.ndarray, p: int) -> np.ndarray:
    """Columns that may belong to an optimal MCLP solution; the others provably cannot.

    Covered weight is submodular, so any ``p`` sites including ``j`` cover at most
    ``single[j]`` plus the ``p - 1`` largest ``single[k] - overlap[j, k]`` (``k != j``).  A column
    whose bound is below the weight the greedy solution covers cannot be in an optimal solution
    (the greedy's own columns always pass).  This keeps the exact model small: with 2,000
    candidates and p = 5 most candidates fall out before the solver starts.
    """
    weighted = sparse.csc_matrix(sparse.diags(weights) @ cover)
    single = np.asarray(weighted.sum(axis=0)).ravel()
    lower = _greedy_weight(cover, weights, p)
    bound = single.copy()
    if p > 1:
        for start in range(0, cover.shape[1], _BOUND_BLOCK):
            block = np.arange(start, min(start + _BOUND_BLOCK, cover.shape[1]))
            gains = single[None, :] - (cover[:, block].T @ weighted).toarray()
            gains[np.arange(len(block)), block] = -np.inf
            bound[block] += -np.partition(-gains, p - 2, axis=1)[:, : p - 1].sum(axis=1)
    return bound >= lower - 1e-9 * max(1.0, lower)


#: Columns per block when bounding MCLP columns (a block x columns dense array).
_BOUND_BLOCK = 500


def _greedy_weight(cover: sparse.csc_matrix, weights: np.ndarray, p: int) -> float:
    """Weight covered by ``p`` sites chosen greedily (largest new weight first)."""
    uncovered = weights.astype(float).copy()
    total = 0.0
    for _ in range(p):
        gains = cover.T @ uncovered
        best = int(np.argmax(gains))
        total += float(gains[best])
        uncovered[cover[:, best].indices] = 0.0
    return total


def _site_variables(count: int) -> list[pulp.LpVariable]:
    return [pulp.LpVariable(f"y{j}", cat=pulp.LpBinary) for j in range(count)]


def _solver(time_limit_s: float | None = None) -> pulp.LpSolver:
    """HiGHS in process when highspy is installed, else CBC; quiet, to a relative gap of 0."""
    highs = pulp.HiGHS(msg=False, gapRel=0.0, timeLimit=time_limit_s)
    if highs.available():
        return highs
    return pulp.PULP_CBC_CMD(msg=False, gapRel=0.0, timeLimit=time_limit_s)


def _solve(problem: pulp.LpProblem) -> str:
    problem.solve(_solver())
    status = pulp.LpStatus[problem.status].lower().replace(" ", "_")
    return status


def _solve_within(problem: pulp.LpProblem,
                  time_limit_s: float | None) -> tuple[str, float | None]:
    """Solve with an optional time limit; status and, when not proven optimal, the MIP gap.

    PuLP reports a solution stopped by the time limit as "Optimal" with an integer-feasible
    (not optimal) solution status; that is returned as ``"feasible"`` with HiGHS's relative
    gap (``None`` when the solver does not give one), never as ``"optimal"``.
    """
    problem.solve(_solver(time_limit_s))
    status = pulp.LpStatus[problem.status].lower().replace(" ", "_")
    if status != "optimal" or problem.sol_status == pulp.LpSolutionOptimal:
        return status, None
    model = getattr(problem, "solverModel", None)
    gap = float(model.getInfo().mip_gap) if hasattr(model, "getInfo") else None
    return "feasible", gap


def _opened(y: list[pulp.LpVariable], columns: np.ndarray) -> list[int]:
    return [int(columns[j]) for j, v in enumerate(y) if (v.value() or 0) > 0.5]


def _described(model: str, status: str, objective: float, cost: np.ndarray,
               weights: np.ndarray, opened: list[int], fixed: list[int],
               service: float | None) -> Allocation:
    """Assign every row to its nearest open site within ``service`` and build the result."""
    open_cols = np.array(sorted(set(opened) | set(fixed)), dtype=int)
    assignment = np.full(len(cost), -1, dtype=np.int64)
    if len(open_cols) and len(cost):
        nearest = cost[:, open_cols].argmin(axis=1)
        distance = cost[np.arange(len(cost)), open_cols[nearest]]
        within = distance <= (np.inf if service is None else service)
        assignment[within] = open_cols[nearest[within]]
    return _allocation(model, status, objective, weights, opened, fixed, assignment,
                       assignment >= 0)


def _allocation(model: str, status: str, objective: float, weights: np.ndarray,
                opened: list[int], fixed: list[int], assignment: np.ndarray,
                covered: np.ndarray, gap: float | None = None) -> Allocation:
    served = {j: float(weights[assignment == j].sum()) for j in opened}
    ranked = sorted(opened, key=lambda j: (-served[j], j))
    return Allocation(model=model, status=status, objective=objective, selected=ranked,
                      fixed=list(fixed), assignment=np.asarray(assignment, dtype=np.int64),
                      covered=np.asarray(covered, dtype=bool), gap=gap)
