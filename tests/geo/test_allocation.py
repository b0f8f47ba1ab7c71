"""Location-allocation models: optimum checked by brute force over every subset of candidates."""
from __future__ import annotations

import itertools

import numpy as np
import pulp
import pytest

from geo.allocation import solve_lscp, solve_mclp, solve_pmedian
from geo.errors import SitingError

SEEDS = range(6)


def _instance(seed: int, rows: int = 9, columns: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 2000, (rows, 2))
    sites = rng.uniform(0, 2000, (columns, 2))
    cost = np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    return cost, rng.integers(1, 10, rows).astype(float)


def _subsets(columns: int, fixed: list[int], size: int):
    free = [j for j in range(columns) if j not in fixed]
    for chosen in itertools.combinations(free, size):
        yield list(chosen) + fixed


def _median_cost(cost: np.ndarray, weights: np.ndarray, open_sites: list[int]) -> float:
    return float((weights * cost[:, open_sites].min(axis=1)).sum())


def _covered_weight(cost, weights, open_sites, service) -> float:
    return float(weights[(cost[:, open_sites] <= service).any(axis=1)].sum())


def _capacitated_cost(cost, weights, open_sites, capacity) -> float:
    """Best single-source assignment of every row to an open site within capacity."""
    best = np.inf
    for choice in itertools.product(open_sites, repeat=len(weights)):
        load = {j: 0.0 for j in open_sites}
        for i, j in enumerate(choice):
            load[j] += weights[i]
        if all(load[j] <= capacity[j] + 1e-9 for j in open_sites):
            best = min(best, sum(weights[i] * cost[i, j] for i, j in enumerate(choice)))
    return best


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fixed", [[], [2]])
def test_pmedian_matches_brute_force(seed, fixed):
    cost, weights = _instance(seed)
    result = solve_pmedian(cost, weights, p=2, fixed=fixed)
    best = min(_median_cost(cost, weights, s) for s in _subsets(cost.shape[1], fixed, 2))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best)
    assert len(result.selected) == 2 and not set(result.selected) & set(fixed)
    assert result.fixed == fixed
    opened = result.selected + fixed
    assert _median_cost(cost, weights, opened) == pytest.approx(best)
    assert set(result.assignment) <= set(opened) and result.covered.all()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fixed", [[], [0]])
def test_capacitated_pmedian_matches_brute_force(seed, fixed):
    cost, weights = _instance(seed, rows=6, columns=5)
    capacity = np.full(5, weights.sum() * 0.6)
    result = solve_pmedian(cost, weights, p=2, capacities=capacity, fixed=fixed)
    best = min(_capacitated_cost(cost, weights, s, capacity)
               for s in _subsets(5, fixed, 2))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best)
    loads = np.bincount(result.assignment, weights=weights, minlength=5)
    assert (loads <= capacity + 1e-9).all()
    assert result.objective == pytest.approx(
        float((weights * cost[np.arange(6), result.assignment]).sum()))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fixed", [[], [1]])
@pytest.mark.parametrize("p", [1, 2, 3])
def test_mclp_matches_brute_force_and_spopt(seed, fixed, p):
    from spopt.locate import MCLP

    cost, weights = _instance(seed, rows=14, columns=8)
    service = 700.0
    result = solve_mclp(cost, weights, service=service, p=p, fixed=fixed)
    best = max(_covered_weight(cost, weights, s, service)
               for s in _subsets(cost.shape[1], fixed, p))
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best)
    assert len(result.selected) == p
    assert _covered_weight(cost, weights, result.selected + fixed, service) == pytest.approx(best)
    assert weights[result.covered].sum() == pytest.approx(best)
    reference = MCLP.from_cost_matrix(
        cost, weights, service, p_facilities=p + len(fixed),
        predefined_facilities_arr=np.array(fixed, dtype=int) if fixed else None)
    reference.solve(pulp.PULP_CBC_CMD(msg=False))
    assert pulp.value(reference.problem.objective) == pytest.approx(best)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fixed", [[], [3]])
def test_lscp_matches_brute_force_and_spopt(seed, fixed):
    from spopt.locate import LSCP

    cost, _ = _instance(seed)
    service = float(cost.min(axis=1).max()) + 300.0
    result = solve_lscp(cost, service=service, fixed=fixed)
    fewest = next(size for size in range(cost.shape[1] + 1)
                  if any((cost[:, s] <= service).any(axis=1).all()
                         for s in _subsets(cost.shape[1], fixed, size)))
    assert result.status == "optimal"
    assert result.objective == len(result.selected) == fewest
    assert result.covered.all()
    assert (cost[np.arange(len(cost)), result.assignment] <= service).all()
    reference = LSCP.from_cost_matrix(
        cost, service, predefined_facilities_arr=np.array(fixed, dtype=int) if fixed else None)
    reference.solve(pulp.PULP_CBC_CMD(msg=False))
    assert pulp.value(reference.problem.objective) == fewest + len(fixed)


@pytest.mark.parametrize("seed", range(8))
def test_lscp_reductions_keep_the_optimum_on_larger_instances(seed):
    """40 rows x 10 candidates: forced columns, dominated rows and columns all occur."""
    cost, _ = _instance(100 + seed, rows=40, columns=10)
    service = float(cost.min(axis=1).max()) + 150.0
    result = solve_lscp(cost, service=service)
    fewest = next(size for size in range(11)
                  if any((cost[:, s] <= service).any(axis=1).all()
                         for s in _subsets(10, [], size)))
    assert result.status == "optimal"
    assert len(result.selected) == fewest
    assert (cost[:, result.selected] <= service).any(axis=1).all()


def test_lscp_on_an_odd_cycle_no_reduction_applies():
    """Row i is covered by candidates i and i+1 (mod 7): the LP gives 3.5, the optimum is 4."""
    cost = np.full((7, 7), 5000.0)
    for i in range(7):
        cost[i, [i, (i + 1) % 7]] = 100.0
    result = solve_lscp(cost, service=200.0)
    assert result.status == "optimal" and result.objective == 4
    assert (cost[:, result.selected] <= 200.0).any(axis=1).all()


def test_selected_sites_are_ranked_by_demand_served():
    cost = np.array([[0.0, 900.0], [900.0, 0.0], [900.0, 10.0]])
    weights = np.array([5.0, 1.0, 1.0])
    result = solve_mclp(cost, weights, service=100.0, p=2)
    assert result.selected == [0, 1]
    result = solve_mclp(cost, np.array([1.0, 3.0, 3.0]), service=100.0, p=2)
    assert result.selected == [1, 0]


def test_mclp_counts_demand_a_fixed_site_covers():
    cost = np.array([[50.0, 900.0], [900.0, 50.0]])
    result = solve_mclp(cost, np.array([2.0, 3.0]), service=100.0, p=1, fixed=[0])
    assert result.objective == 5.0 and result.selected == [1]
    assert result.assignment.tolist() == [0, 1]


def test_lscp_unreachable_demand_says_what_to_change():
    cost = np.array([[100.0, 200.0], [5000.0, 6000.0]])
    with pytest.raises(SitingError, match="1 titik permintaan berjarak lebih dari 1000 m"):
        solve_lscp(cost, service=1000.0)


def test_p_out_of_range_is_refused():
    cost, weights = _instance(0, columns=3)
    with pytest.raises(SitingError, match="1 sampai 2"):
        solve_mclp(cost, weights, service=500.0, p=3, fixed=[0])
    with pytest.raises(SitingError, match="Tidak ada calon lokasi yang memenuhi syarat"):
        solve_pmedian(cost, weights, p=1, fixed=[0, 1, 2])


@pytest.mark.parametrize("seed", range(4))
def test_capacitated_pmedian_with_unserved_demand_matches_brute_force(seed):
    """Capacity for about half the demand: the virtual unserved site takes the rest."""
    cost, weights = _instance(seed, rows=6, columns=4)
    capacity = np.full(4, weights.sum() * 0.3)
    penalty = 10 * float(cost.max())
    result = solve_pmedian(cost, weights, p=2, capacities=capacity, fixed=[0],
                           unserved_cost=penalty)
    virtual = np.column_stack([cost, np.full(6, penalty)])
    limits = np.append(capacity, weights.sum())
    best = min(_capacitated_cost(virtual, weights, s + [4], limits)
               for s in _subsets(4, [0], 2))
    served = result.assignment >= 0
    assert result.status == "optimal"
    assert not served.all()
    paid = (weights[served] * cost[np.flatnonzero(served), result.assignment[served]]).sum()
    assert paid + penalty * weights[~served].sum() == pytest.approx(best)
    assert result.objective == pytest.approx(paid)
    loads = np.bincount(result.assignment[served], weights=weights[served], minlength=4)
    assert (loads <= capacity + 1e-9).all()
    assert result.covered.tolist() == served.tolist()


def test_capacity_too_small_names_the_sites_needed():
    cost, weights = _instance(1, rows=6, columns=5)
    capacity = np.full(5, weights.sum() / 3.5)
    with pytest.raises(SitingError, match="perlu sedikitnya 4 lokasi baru"):
        solve_pmedian(cost, weights, p=2, capacities=capacity)


def test_pmedian_reports_rows_without_route_as_unserved():
    cost = np.array([[10.0, np.inf], [np.inf, np.inf], [np.inf, 20.0]])
    result = solve_pmedian(cost, np.ones(3), p=2)
    assert result.assignment.tolist() == [0, -1, 1]
    assert result.covered.tolist() == [True, False, True]
    assert result.objective == pytest.approx(30.0)
