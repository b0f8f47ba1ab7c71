"""Coverage per cell and kelurahan on hand-built cases, cross-checked by brute force."""
from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import h3
import h3ronpy.vector as h3_vector
import pyproj
import rasterio
import shapely

from geo import settings, surface
from geo.coverage import (
    SPLIT_BLANK_SPOT_COLUMNS,
    aggregate_cells,
    blank_spot_totals,
    classify_signal,
    compare_dates,
    kelurahan_operator_stats,
    kelurahan_stats,
    split_blank_spots,
    target_progress,
    time_series,
)
from geo.demo import generate_blank_zones, generate_city, generate_measurements
from geo.errors import BoundaryError, CRSError
from geo.kelurahan_lookup import assign_kelurahan
from geo.population import population_in_cells

WIB = "Asia/Jakarta"
# three square kelurahan of 0.02 degrees (about 2.2 x 2.2 km) side by side near Dumai
LON0, LAT0, SIDE = 101.40, 1.60, 0.02
KODE = ["14.72.01.1001", "14.72.01.1002", "14.72.01.1003"]


def kelurahan_boxes() -> gpd.GeoDataFrame:
    boxes = [shapely.MultiPolygon([shapely.box(LON0 + i * SIDE, LAT0, LON0 + (i + 1) * SIDE,
                                               LAT0 + SIDE)]) for i in range(3)]
    return gpd.GeoDataFrame({"kode": KODE, "nama": ["Satu", "Dua", "Tiga"],
                             "kecamatan_kode": "14.72.01", "kecamatan": "Dumai Barat",
                             "area_km2": 999.0}, geometry=boxes, crs="EPSG:4326")


def epoch(text: str) -> int:
    """Epoch seconds of a local (WIB) time."""
    return int(pd.Timestamp(text).tz_localize(WIB).timestamp())


def centre_of(cell: str) -> tuple[float, float]:
    return h3.cell_to_latlng(cell)


def cell_at(lat: float, lon: float) -> str:
    return h3.latlng_to_cell(lat, lon, 9)


def readings(cell: str, *, n: int = 3, operator: str = "Telkomsel", technology: str = "4G",
             signal: float | None = -85.0, when: str = "2024-03-10 10:00",
             kode: str = KODE[0], device: str = "dev-1", upload: int = 1,
             accuracy: float = 5.0, download: float = np.nan) -> list[dict]:
    """``n`` readings at the centre of ``cell``, one minute apart; ``signal=None``: no service."""
    lat, lon = centre_of(cell)
    start = epoch(when)
    return [{"measured_at": start + 60 * i, "latitude": lat, "longitude": lon,
             "operator": operator, "technology": "" if signal is None else technology,
             "signal_dbm": np.nan if signal is None else float(signal),
             "no_service": signal is None, "download_mbps": download, "upload_mbps": np.nan,
             "latency_ms": np.nan, "accuracy_m": accuracy, "device_id": device,
             "upload_id": upload, "kelurahan_kode": kode, "h3_cell": h3.str_to_int(cell)}
            for i in range(n)]


def frame(*groups: list[dict]) -> pd.DataFrame:
    rows = [row for group in groups for row in group]
    table = pd.DataFrame(rows)
    return table.astype({"measured_at": np.int64, "upload_id": np.int64, "h3_cell": np.int64,
                         "operator": "str", "technology": "str", "kelurahan_kode": "str"})


def row(cells: pd.DataFrame, cell: str, operator: str = "any") -> pd.Series:
    found = cells[(cells["h3"] == cell) & (cells["operator"] == operator)]
    assert len(found) == 1, f"{cell}/{operator}: {len(found)} rows"
    return found.iloc[0]


# a few cells inside kelurahan 1 and 2
IN_1 = [cell_at(LAT0 + 0.005 + 0.004 * i, LON0 + 0.006) for i in range(3)]
IN_2 = [cell_at(LAT0 + 0.005 + 0.004 * i, LON0 + SIDE + 0.01) for i in range(3)]


# --- signal classes ----------------------------------------------------------------------------

def test_signal_classes_follow_the_documented_bounds():
    technology = ["4G", "4G", "4G", "4G", "5G", "3G", "3G", "2G", "2G", "", "6G", "4G"]
    signal = [-80, -80.5, -120, -121, -95, -110, -111, -70, -110.5, np.nan, -60, np.nan]
    no_service = [False] * 9 + [True, False, False]

    classes = classify_signal(technology, signal, no_service)

    assert classes.tolist() == ["very_good", "good", "weak", "no_coverage", "fair", "weak",
                                "no_coverage", "very_good", "no_coverage", "no_coverage",
                                "unknown", "unknown"]


def test_no_service_wins_over_a_signal_value():
    assert classify_signal(["4G"], [-70.0], [True]).tolist() == ["no_coverage"]


def test_a_city_can_override_the_classes():
    strict = {"signal_classes_dbm": {"4g": [-75, -85, -95, -105]}}
    assert classify_signal(["4G"], [-110.0], [False], thresholds=strict).tolist() == [
        "no_coverage"]
    assert classify_signal(["4G"], [-110.0], [False]).tolist() == ["weak"]


def test_thresholds_read_at_call_time(monkeypatch):
    monkeypatch.setitem(settings.SIGNAL_CLASSES_DBM, "2G", (-60.0, -70.0, -80.0, -90.0))
    assert classify_signal(["2G"], [-95.0], [False]).tolist() == ["no_coverage"]


def test_bad_threshold_config_lists_every_problem():
    with pytest.raises(ValueError) as error:
        settings.thresholds_from_config({"colour": "red", "blank_share": 1.5,
                                         "signal_classes_dbm": {"4G": [-80, -70, -90, -100],
                                                                "6G": [-1, -2, -3, -4]}})
    message = str(error.value)
    for part in ("colour", "blank_share", "4G", "6G"):
        assert part in message


# --- cell status -------------------------------------------------------------------------------

def test_status_rules_on_obvious_cells():
    a, b, c, d = IN_1 + IN_2[:1]
    e = IN_2[1]
    data = frame(
        readings(a, n=2),                                           # too few samples
        readings(b, n=3, signal=None),                              # all no service
        readings(c, n=2, signal=None) + readings(c, n=1, signal=-70),   # 2 of 3 no service
        readings(d, n=2, signal=-110) + readings(d, n=1, signal=-70),   # 2 of 3 weak
        readings(e, n=1, signal=None) + readings(e, n=2, signal=-85))   # mostly good

    cells = aggregate_cells(data)

    assert row(cells, a)["status"] == "unmeasured"
    assert row(cells, b)["status"] == "blank"
    assert row(cells, c)["status"] == "blank"
    assert row(cells, d)["status"] == "weak"
    assert row(cells, e)["status"] == "covered"
    assert row(cells, b)["no_service_share"] == 1.0
    assert np.isnan(row(cells, b)["median_dbm"])
    assert row(cells, b)["best_technology"] is None or pd.isna(row(cells, b)["best_technology"])


def test_min_samples_is_configurable():
    data = frame(readings(IN_1[0], n=2, signal=None))
    assert row(aggregate_cells(data), IN_1[0])["status"] == "unmeasured"
    assert row(aggregate_cells(data, min_samples=2), IN_1[0])["status"] == "blank"


def test_any_operator_is_covered_where_one_operator_covers():
    data = frame(readings(IN_1[0], operator="Smartfren", signal=None),
                 readings(IN_1[0], operator="Telkomsel", signal=-85))

    cells = aggregate_cells(data)

    assert row(cells, IN_1[0], "Smartfren")["status"] == "blank"
    assert row(cells, IN_1[0], "Telkomsel")["status"] == "covered"
    assert row(cells, IN_1[0])["status"] == "covered"
    assert row(cells, IN_1[0])["samples"] == 6


def test_any_operator_rules():
    weak_and_blank = frame(readings(IN_1[0], operator="XL", signal=None),
                           readings(IN_1[0], operator="Indosat", signal=-110))
    all_blank = frame(readings(IN_1[0], operator="XL", signal=None),
                      readings(IN_1[0], operator="Indosat", signal=-125))
    unmeasured_operator_ignored = frame(readings(IN_1[0], operator="XL", signal=None),
                                        readings(IN_1[0], n=2, operator="Indosat", signal=-70))
    pooled = frame(*(readings(IN_1[0], n=1, operator=name, signal=None)
                     for name in ("XL", "Indosat", "Telkomsel", "Smartfren")))

    assert row(aggregate_cells(weak_and_blank), IN_1[0])["status"] == "weak"
    assert row(aggregate_cells(all_blank), IN_1[0])["status"] == "blank"
    assert row(aggregate_cells(unmeasured_operator_ignored), IN_1[0])["status"] == "blank"
    cells = aggregate_cells(pooled)
    assert row(cells, IN_1[0], "XL")["status"] == "unmeasured"
    assert row(cells, IN_1[0])["status"] == "blank"  # four phones, four operators, no service


def test_operator_filter_keeps_only_those_operators():
    data = frame(readings(IN_1[0], operator="Smartfren", signal=None),
                 readings(IN_1[0], operator="Telkomsel", signal=-85))

    cells = aggregate_cells(data, operator="Smartfren")

    assert sorted(cells["operator"]) == ["Smartfren", "any"]
    assert row(cells, IN_1[0])["status"] == "blank"


def test_inaccurate_positions_are_not_evidence():
    data = frame(readings(IN_1[0], signal=None, accuracy=80.0),
                 readings(IN_1[1], signal=None, accuracy=np.nan),
                 readings(IN_1[2], signal=None, accuracy=50.0))

    cells = aggregate_cells(data)

    assert IN_1[0] not in set(cells["h3"])
    assert row(cells, IN_1[1])["status"] == "blank"
    assert row(cells, IN_1[2])["status"] == "blank"


def test_cell_columns_and_identities():
    data = frame(readings(IN_1[0], n=4, signal=-95, download=12.0, device="a", upload=7),
                 readings(IN_1[0], n=2, signal=-75, when="2024-03-11 08:00", device="b",
                          upload=8, kode=KODE[1]))

    cells = aggregate_cells(data)
    any_row = row(cells, IN_1[0])

    assert any_row["h3_cell"] == h3.str_to_int(IN_1[0])
    assert cells["h3_cell"].dtype == np.int64
    assert any_row["samples"] == 6 and any_row["devices"] == 2 and any_row["uploads"] == 2
    assert any_row["median_dbm"] == -95.0
    assert any_row["p10_dbm"] == pytest.approx(np.percentile([-95] * 4 + [-75] * 2, 10))
    assert any_row["median_download_mbps"] == 12.0
    assert any_row["best_technology"] == "4G"
    assert any_row["first_at"] == epoch("2024-03-10 10:00")
    assert any_row["last_at"] == epoch("2024-03-11 08:00") + 60
    assert any_row["kelurahan_kode"] == KODE[0]  # 4 of its 6 points
    assert any_row["area_km2"] == pytest.approx(h3.cell_area(IN_1[0], "km^2"))
    assert np.isnan(any_row["ookla_tests"])


def test_finer_cells_are_counted_in_their_parent(monkeypatch):
    children = [child for cell in IN_1 for child in sorted(h3.cell_to_children(cell, 10))[:2]]
    data = frame(*(readings(child, n=2, signal=None) for child in children))

    cells = aggregate_cells(data)

    assert sorted(cells.loc[cells["operator"] == "any", "h3"]) == sorted(IN_1)
    assert (cells["samples"] == 4).all() and (cells["status"] == "blank").all()
    monkeypatch.setattr(settings, "H3_RESOLUTION", 11)
    with pytest.raises(ValueError, match="resolution 10"):
        aggregate_cells(data)


def test_missing_columns_are_named():
    data = frame(readings(IN_1[0])).drop(columns=["no_service", "h3_cell"])
    with pytest.raises(ValueError, match="no_service, h3_cell"):
        aggregate_cells(data)


def test_no_measurements_give_an_empty_table():
    data = frame(readings(IN_1[0])).iloc[:0]
    cells = aggregate_cells(data)
    assert len(cells) == 0
    assert {"h3_cell", "status", "operator", "area_km2"} <= set(cells.columns)


# --- as of a date ------------------------------------------------------------------------------

def flipping_cell() -> pd.DataFrame:
    """Blank in March, covered in September after a new tower."""
    return frame(readings(IN_1[0], n=4, signal=None, when="2024-03-05 09:00"),
                 readings(IN_1[0], n=3, signal=-82, when="2024-09-12 09:00"),
                 readings(IN_2[0], n=3, signal=-85, when="2024-02-01 09:00", kode=KODE[1]))


@pytest.mark.parametrize(("as_of", "status"), [
    ("2024-04-01", "blank"), (date(2024, 4, 30), "blank"), ("2024-10-01", "covered"),
    (datetime(2024, 10, 1, 12), "covered"), (epoch("2024-09-12 09:00"), "blank"),
    (None, "covered")])
def test_the_most_recent_evidence_decides(as_of, status):
    assert row(aggregate_cells(flipping_cell(), as_of=as_of), IN_1[0])["status"] == status


def test_before_the_first_reading_a_cell_does_not_exist():
    cells = aggregate_cells(flipping_cell(), as_of="2024-03-04")
    assert IN_1[0] not in set(cells["h3"])


def test_a_date_includes_its_whole_local_day():
    data = frame(readings(IN_1[0], n=3, signal=None, when="2024-04-30 23:50"))
    assert IN_1[0] in set(aggregate_cells(data, as_of="2024-04-30")["h3"])
    assert IN_1[0] not in set(aggregate_cells(data, as_of="2024-04-30T23:00:00")["h3"])
    assert IN_1[0] in set(aggregate_cells(data, as_of="2024-04-30T17:00:00Z")["h3"])


def test_one_stray_reading_does_not_overturn_older_evidence():
    data = frame(readings(IN_1[0], n=3, signal=None, when="2024-03-05 09:00"),
                 readings(IN_1[0], n=1, signal=-70, when="2024-09-12 09:00"))

    any_row = row(aggregate_cells(data), IN_1[0])

    assert any_row["status"] == "blank"
    assert any_row["samples"] == 3  # the newest reading and the two newest before it
    assert any_row["first_at"] == epoch("2024-03-05 09:01")


def test_evidence_window_is_configurable(monkeypatch):
    data = frame(readings(IN_1[0], n=3, signal=None, when="2024-06-01 09:00"),
                 readings(IN_1[0], n=3, signal=-80, when="2024-07-01 09:00"))
    assert row(aggregate_cells(data), IN_1[0])["status"] == "blank"  # 3 of 6 no service
    monkeypatch.setattr(settings, "EVIDENCE_WINDOW_DAYS", 10)
    assert row(aggregate_cells(data), IN_1[0])["status"] == "covered"


def test_compare_dates_lists_resolved_new_and_remaining_blank_cells():
    data = pd.concat([flipping_cell(), frame(
        readings(IN_1[1], n=3, signal=None, when="2024-02-01 10:00"),
        readings(IN_1[2], n=3, signal=None, when="2024-08-01 10:00"))], ignore_index=True)

    changes = compare_dates(data, "2024-04-30", "2024-10-31")

    found = dict(zip(changes["h3"], changes["change"], strict=True))
    assert found == {IN_1[0]: "resolved", IN_1[1]: "still_blank", IN_1[2]: "newly_blank"}
    resolved = changes[changes["change"] == "resolved"].iloc[0]
    assert (resolved["status_a"], resolved["status_b"]) == ("blank", "covered")
    with pytest.raises(ValueError, match="on or before"):
        compare_dates(data, "2024-10-31", "2024-04-30")


# --- brute force -------------------------------------------------------------------------------

def random_measurements(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cells = [cell_at(LAT0 + 0.002 + 0.0035 * (i % 5), LON0 + 0.002 + 0.0035 * (i // 5))
             for i in range(20)]
    cell = rng.integers(0, len(cells), n)
    technology = rng.choice(["2G", "3G", "4G", "5G"], n)
    no_service = rng.random(n) < 0.25
    signal = np.where(no_service, np.nan, rng.integers(-130, -60, n).astype(float))
    lat_lon = np.array([centre_of(c) for c in cells])
    return pd.DataFrame({
        "measured_at": (epoch("2024-01-01 00:00")
                        + rng.integers(0, 365 * 86400, n)).astype(np.int64),
        "latitude": lat_lon[cell, 0], "longitude": lat_lon[cell, 1],
        "operator": pd.Series(rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1]), dtype="str"),
        "technology": pd.Series(np.where(no_service, "", technology), dtype="str"),
        "signal_dbm": signal, "no_service": no_service,
        "download_mbps": np.where(rng.random(n) < 0.3, rng.uniform(0, 50, n), np.nan),
        "upload_mbps": np.nan, "latency_ms": np.nan,
        "accuracy_m": np.where(rng.random(n) < 0.1, 80.0, rng.uniform(1, 40, n)),
        "device_id": pd.Series(rng.choice(["d1", "d2", "d3", "d4", None], n), dtype=object),
        "upload_id": rng.integers(1, 6, n).astype(np.int64),
        "kelurahan_kode": pd.Series(rng.choice(KODE[:2], n), dtype="str"),
        "h3_cell": np.array([h3.str_to_int(c) for c in cells], dtype=np.int64)[cell]})


def brute_force_group(rows: pd.DataFrame) -> dict:
    """Statistics of one group of evidence rows, written the slow obvious way."""
    classes = classify_signal(rows["technology"], rows["signal_dbm"], rows["no_service"])
    signal = rows["signal_dbm"].dropna().to_numpy()
    download = rows["download_mbps"].dropna().to_numpy()
    with_service = rows.loc[~rows["no_service"], "technology"]
    samples = len(rows)
    no_coverage = np.mean(classes == "no_coverage")
    weak_or_worse = np.mean(np.isin(classes, ["weak", "no_coverage"]))
    if samples < settings.MIN_SAMPLES_PER_CELL:
        status = "unmeasured"
    elif no_coverage >= settings.BLANK_SHARE:
        status = "blank"
    elif weak_or_worse >= settings.WEAK_SHARE:
        status = "weak"
    else:
        status = "covered"
    return {"samples": samples, "devices": rows["device_id"].dropna().nunique(),
            "uploads": rows["upload_id"].nunique(),
            "median_dbm": np.median(signal) if len(signal) else np.nan,
            "p10_dbm": np.percentile(signal, 10) if len(signal) else np.nan,
            "no_service_share": rows["no_service"].mean(), "no_coverage_share": no_coverage,
            "weak_or_worse_share": weak_or_worse,
            "best_technology": max(with_service, default=None),
            "first_at": rows["measured_at"].min(), "last_at": rows["measured_at"].max(),
            "median_download_mbps": np.median(download) if len(download) else np.nan,
            "status": status}


def brute_force(data: pd.DataFrame, cutoff: int) -> dict[tuple[int, str], dict]:
    usable = data[~(data["accuracy_m"] > settings.MAX_ACCURACY_M)
                  & (data["measured_at"] <= cutoff)]
    window = settings.EVIDENCE_WINDOW_DAYS * 86400
    result, evidence = {}, {}
    for (cell, operator), rows in usable.groupby(["h3_cell", "operator"]):
        newest_first = rows.sort_values("measured_at", ascending=False)
        latest = newest_first["measured_at"].iloc[0]
        chosen = [i for rank, (i, when) in enumerate(newest_first["measured_at"].items())
                  if rank < settings.MIN_SAMPLES_PER_CELL or when >= latest - window]
        evidence.setdefault(cell, []).append(newest_first.loc[chosen])
        result[(cell, operator)] = brute_force_group(newest_first.loc[chosen])
    order = ["unmeasured", "blank", "weak", "covered"]
    for cell, parts in evidence.items():
        pooled = brute_force_group(pd.concat(parts))
        best = max((result[(cell, op)]["status"] for op in usable.loc[
            usable["h3_cell"] == cell, "operator"].unique()), key=order.index)
        if best != "unmeasured":
            pooled["status"] = best
        result[(cell, "any")] = pooled
    return result


@pytest.mark.parametrize(("seed", "as_of"), [(1, "2024-12-31"), (2, "2024-07-15"),
                                             (3, "2024-03-01")])
def test_cell_statistics_match_brute_force(seed, as_of):
    data = random_measurements(seed)
    expected = brute_force(data, epoch(f"{as_of} 23:59:59"))

    cells = aggregate_cells(data, as_of=as_of)

    assert len(cells) == len(expected)
    for _, got in cells.iterrows():
        want = expected[(got["h3_cell"], got["operator"])]
        for name, value in want.items():
            if isinstance(value, str) or value is None:
                assert (None if pd.isna(got[name]) else got[name]) == value, name
            else:
                assert got[name] == pytest.approx(value, nan_ok=True), name


def test_any_rows_pool_every_operator():
    cells = aggregate_cells(random_measurements(4))
    per_operator = cells[cells["operator"] != "any"].groupby("h3_cell")["samples"].sum()
    pooled = cells[cells["operator"] == "any"].set_index("h3_cell")["samples"]
    pd.testing.assert_series_equal(per_operator, pooled, check_names=False)


# --- kelurahan ---------------------------------------------------------------------------------

def cells_filling(index: int) -> list[str]:
    """Every resolution-9 cell whose centre lies in kelurahan ``index``."""
    x0 = LON0 + index * SIDE
    polygon = h3.LatLngPoly([(LAT0, x0), (LAT0, x0 + SIDE), (LAT0 + SIDE, x0 + SIDE),
                             (LAT0 + SIDE, x0)])
    return sorted(h3.polygon_to_cells(polygon, 9))


def geodesic_km2(polygon: shapely.Geometry) -> float:
    area, _ = pyproj.Geod(ellps="WGS84").geometry_area_perimeter(polygon)
    return abs(area) / 1e6


@pytest.fixture
def three_kelurahan() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Kelurahan 1: only blank readings; 2: fully measured and covered; 3: never measured."""
    blank = [readings(c, signal=None, kode=KODE[0]) for c in IN_1]
    covered = [readings(c, signal=-80, kode=KODE[1]) for c in cells_filling(1)]
    return kelurahan_boxes(), frame(*blank, *covered)


def test_kelurahan_quick_win_status(three_kelurahan):
    kelurahan, data = three_kelurahan

    stats = kelurahan_stats(kelurahan, aggregate_cells(data)).set_index("kode")

    assert stats["status"].tolist() == ["ada blank spot", "bebas blank spot", "belum cukup data"]
    one, two, three = (stats.loc[k] for k in KODE)
    assert one["blank_cells"] == 3 and one["covered_cells"] == 0
    assert one["blank_area_km2"] == pytest.approx(sum(h3.cell_area(c, "km^2") for c in IN_1))
    assert one["covered_area_pct"] == 0.0
    assert two["blank_cells"] == 0 and two["covered_cells"] == len(cells_filling(1))
    assert two["measured_area_pct"] == pytest.approx(100.0, abs=5.0)
    assert two["covered_area_pct"] == 100.0
    assert three["measured_area_km2"] == 0.0
    assert three["unmeasured_area_km2"] == pytest.approx(three["area_km2"])
    assert three["blank_cells"] + three["weak_cells"] + three["covered_cells"] == 0
    assert np.isnan(three["covered_area_pct"])


def test_kelurahan_area_is_computed_not_trusted(three_kelurahan):
    kelurahan, data = three_kelurahan

    stats = kelurahan_stats(kelurahan, aggregate_cells(data))

    expected = [geodesic_km2(g) for g in kelurahan.geometry]
    # 2.4 degrees from the UTM 47N central meridian the scale factor enlarges areas by 0.1%
    np.testing.assert_allclose(stats["area_km2"], expected, rtol=2e-3)
    assert (stats["measured_area_km2"] <= stats["area_km2"] + 1e-9).all()


def test_measured_share_threshold(three_kelurahan):
    kelurahan, data = three_kelurahan
    half = set(cells_filling(1)[::2])
    data = data[data["h3_cell"].isin([h3.str_to_int(c) for c in half])
                | (data["kelurahan_kode"] != KODE[1])]
    cells = aggregate_cells(data)

    default = kelurahan_stats(kelurahan, cells).set_index("kode")
    lenient = kelurahan_stats(kelurahan, cells, min_measured_share=0.3).set_index("kode")

    assert default.loc[KODE[1], "measured_area_pct"] == pytest.approx(50, abs=8)
    assert default.loc[KODE[1], "status"] == "belum cukup data"
    assert lenient.loc[KODE[1], "status"] == "bebas blank spot"


def test_per_operator_breakdown_says_who_must_build(three_kelurahan):
    kelurahan, data = three_kelurahan
    other = frame(*(readings(c, operator="Indosat", signal=-80, kode=KODE[0]) for c in IN_1))
    cells = aggregate_cells(pd.concat([data, other], ignore_index=True))

    stats = kelurahan_operator_stats(kelurahan, cells)
    first = stats[stats["kode"] == KODE[0]].set_index("operator")

    assert len(stats) == 3 * 3  # every kelurahan x (any, Indosat, Telkomsel)
    assert first.loc["Telkomsel", "status"] == "ada blank spot"
    assert first.loc["Telkomsel", "blank_cells"] == 3
    assert first.loc["Indosat", "blank_cells"] == 0
    assert first.loc["any", "blank_cells"] == 0
    assert first.loc["any", "covered_cells"] == 3


def test_kelurahan_table_is_validated(three_kelurahan):
    kelurahan, data = three_kelurahan
    cells = aggregate_cells(data)
    with pytest.raises(CRSError):
        kelurahan_stats(kelurahan.set_crs(None, allow_override=True), cells)
    doubled = pd.concat([kelurahan, kelurahan.iloc[:1]], ignore_index=True)
    with pytest.raises(BoundaryError) as error:
        kelurahan_stats(doubled, cells)
    assert error.value.problems[0].value == KODE[0]


def uniform_population(path, kelurahan: gpd.GeoDataFrame, per_cell: float = 10.0):
    """Write a 100 m UTM raster over the kelurahan with ``per_cell`` people in every cell."""
    metric = kelurahan.to_crs("EPSG:32647")
    x0, y0, x1, y1 = np.floor(metric.total_bounds / 100) * 100 + [-500, -500, 600, 600]
    width, height = int((x1 - x0) / 100), int((y1 - y0) / 100)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs="EPSG:32647", nodata=np.nan,
                       transform=rasterio.Affine(100, 0, x0, 0, -100, y1)) as out:
        out.write(np.full((height, width), per_cell, dtype=np.float32), 1)
    return path


def test_population_columns(three_kelurahan, tmp_path):
    kelurahan, data = three_kelurahan
    raster = uniform_population(tmp_path / "people.tif", kelurahan)
    cells = aggregate_cells(data)

    stats = kelurahan_stats(kelurahan, cells, population=raster).set_index("kode")

    # 10 people per hectare: 1,000 per km2; sub-cells of 10 m along a boundary almost parallel
    # to the raster's rows can all fall on one side, by at most half a sub-cell (perimeter 8.8
    # km x 5 m = 0.044 km2, about 0.9% of the area)
    np.testing.assert_allclose(stats["population"], 1000 * stats["area_km2"], rtol=0.01)
    blank_people = population_in_cells([h3.str_to_int(c) for c in IN_1], raster).sum()
    assert stats.loc[KODE[0], "population_blank"] == pytest.approx(blank_people)
    assert stats.loc[KODE[0], "population_covered_pct"] == 0.0
    assert stats.loc[KODE[1], "population_covered_pct"] == 100.0
    assert stats.loc[KODE[1], "population_covered"] <= stats.loc[KODE[1], "population"] + 1e-6
    assert stats.loc[KODE[2], "population_blank"] == 0.0
    assert np.isnan(stats.loc[KODE[2], "population_covered_pct"])


# --- Ookla -------------------------------------------------------------------------------------

def ookla_tiles(cells: list[str], periods: list[str], tests: list[int], speed: list[float]
                ) -> gpd.GeoDataFrame:
    """Small square tiles around the centres of ``cells``."""
    boxes = [shapely.box(lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001)
             for lat, lon in (centre_of(c) for c in cells)]
    return gpd.GeoDataFrame({"quadkey": [f"q{i}" for i in range(len(cells))], "period": periods,
                             "avg_d_mbps": speed, "avg_u_mbps": 1.0, "avg_lat_ms": 40.0,
                             "tests": tests, "devices": 1, "kelurahan_kode": KODE[1]},
                            geometry=boxes, crs="EPSG:4326")


def test_ookla_tiles_are_separate_evidence():
    data = frame(readings(IN_1[0], signal=None))
    tiles = ookla_tiles([IN_1[0], IN_1[0], IN_2[2]], ["2024-Q1", "2024-Q2", "2024-Q2"],
                        [4, 9, 2], [10.0, 30.0, 5.0])

    cells = aggregate_cells(data, ookla_tiles=tiles)
    measured, ookla_only = row(cells, IN_1[0]), row(cells, IN_2[2])

    assert measured["status"] == "blank"  # the tiles never change a status
    assert (measured["ookla_tests"], measured["ookla_avg_d_mbps"]) == (9, 30.0)
    assert measured["ookla_period"] == "2024-Q2"
    assert np.isnan(row(cells, IN_1[0], "Telkomsel")["ookla_tests"])
    assert ookla_only["samples"] == 0 and ookla_only["status"] == "unmeasured"
    assert ookla_only["kelurahan_kode"] == KODE[1]
    assert ookla_only["ookla_tests"] == 2
    stats = kelurahan_stats(kelurahan_boxes(), cells).set_index("kode")
    assert stats.loc[KODE[1], "ookla_tests"] == 2 and stats.loc[KODE[1], "unmeasured_cells"] == 0


def test_ookla_periods_respect_as_of():
    data = frame(readings(IN_1[0], signal=None, when="2024-01-05 09:00"))
    tiles = ookla_tiles([IN_1[0], IN_1[0]], ["2024-Q1", "2024-Q2"], [4, 9], [10.0, 30.0])

    in_may = row(aggregate_cells(data, as_of="2024-05-15", ookla_tiles=tiles), IN_1[0])
    in_february = row(aggregate_cells(data, as_of="2024-02-15", ookla_tiles=tiles), IN_1[0])

    assert (in_may["ookla_tests"], in_may["ookla_period"]) == (4, "2024-Q1")
    assert np.isnan(in_february["ookla_tests"])


# --- time series and targets -------------------------------------------------------------------

def test_monthly_series_follows_a_flipping_cell():
    series = time_series(flipping_cell(), kelurahan_boxes(), freq="M", start="2024-02-10",
                         end="2024-10-20")
    city = series[series["kode"] == "ALL"].set_index("period")
    first = series[series["kode"] == KODE[0]].set_index("period")

    assert list(city.index) == [f"2024-{m:02d}" for m in range(2, 11)]
    assert city["blank_cells"].tolist() == [0] + [1] * 6 + [0, 0]
    assert city.loc["2024-03", "newly_blank_cells"] == 1
    assert city.loc["2024-09", "resolved_cells"] == 1
    assert city.loc["2024-05", "still_blank_cells"] == 1
    assert first.loc["2024-09", "resolved_cells"] == 1
    assert first.loc["2024-03", "blank_area_km2"] == pytest.approx(h3.cell_area(IN_1[0], "km^2"))
    assert city.loc["2024-03", "period_end"] == "2024-03-31"
    assert (series[series["kode"] == KODE[2]]["status"] == "belum cukup data").all()


def test_quarterly_series_with_population(tmp_path):
    kelurahan = kelurahan_boxes()
    raster = uniform_population(tmp_path / "people.tif", kelurahan)

    series = time_series(flipping_cell(), kelurahan, freq="Q", population=raster)
    city = series[series["kode"] == "ALL"].set_index("period")

    people = population_in_cells([h3.str_to_int(IN_1[0])], raster)[0]
    assert list(city.index) == ["2024Q1", "2024Q2", "2024Q3"]
    assert city["population_blank"].tolist() == pytest.approx([people, people, 0.0])
    assert city.loc["2024Q1", "population"] == pytest.approx(
        series.loc[series["kode"] != "ALL"].query("period == '2024Q1'")["population"].sum())
    with pytest.raises(ValueError, match="freq"):
        time_series(flipping_cell(), kelurahan, freq="W")


def test_target_progress(three_kelurahan):
    kelurahan, data = three_kelurahan
    fixed = frame(*(readings(c, signal=-80, when="2024-11-01 09:00") for c in IN_1))
    later = pd.concat([data, fixed], ignore_index=True)
    baseline = kelurahan_stats(kelurahan, aggregate_cells(later, as_of="2024-06-30"))
    now = kelurahan_stats(kelurahan, aggregate_cells(later, as_of="2024-12-31"))
    target = {"kind": "no_blank_spot", "deadline": "2024-12-31", "baseline_date": "2024-06-30"}

    progress = target_progress(baseline, now, target=target, as_of="2024-12-01")

    assert progress["met"] is False
    assert progress["kelurahan_free"] == 1 and progress["kelurahan_total"] == 3
    assert progress["progress_pct"] == pytest.approx(100 / 3)
    assert progress["blank_area_resolved_pct"] == pytest.approx(100.0)
    assert progress["days_left"] == 30
    assert [k["kode"] for k in progress["failing"]] == [KODE[0], KODE[2]]
    assert progress["failing"][1]["status"] == "belum cukup data"
    scoped = target_progress(baseline, now, target={**target, "kelurahan": KODE[1:2]})
    assert scoped["met"] is True and scoped["progress_pct"] == 100.0
    with pytest.raises(ValueError, match="unknown target kind"):
        target_progress(baseline, now, target={"kind": "waste"})


# --- the demo city -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    city = generate_city()
    data = generate_measurements(city, 150_000, seed=4)
    return city, measurements_table(data, city)


def measurements_table(data: pd.DataFrame, city: gpd.GeoDataFrame) -> pd.DataFrame:
    """Turn the demo CSV layout into what the database layer hands over."""
    lat, lon = data["latitude"].to_numpy(), data["longitude"].to_numpy()
    return data.drop(columns="timestamp").assign(
        measured_at=pd.to_datetime(data["timestamp"], format="ISO8601", utc=True)
        .astype("datetime64[s, UTC]").astype(np.int64),
        signal_dbm=data["signal_dbm"].astype(float), latency_ms=data["latency_ms"].astype(float),
        technology=data["technology"].where(~data["no_service"], ""),
        upload_id=np.arange(len(data), dtype=np.int64) // 1000,
        h3_cell=h3_vector.coordinates_to_cells(lat, lon, 9).to_numpy().astype(np.int64),
        kelurahan_kode=pd.Series(assign_kelurahan(lon, lat, city), dtype="str"))


def test_demo_city_invariants(demo):
    city, data = demo
    cells = aggregate_cells(data)
    stats = kelurahan_stats(city, cells)

    assert len(stats) == len(city)
    assert set(stats["status"]) <= {"ada blank spot", "bebas blank spot", "belum cukup data"}
    assert (stats["measured_area_km2"] <= stats["area_km2"] + 1e-9).all()
    assert stats["area_km2"].sum() == pytest.approx(2000, rel=0.01)
    any_rows = cells[cells["operator"] == "any"].set_index("h3_cell")
    best = (cells[cells["operator"] != "any"]
            .assign(rank=lambda f: f["status"].map({"unmeasured": 0, "blank": 1, "weak": 2,
                                                    "covered": 3}))
            .groupby("h3_cell")["rank"].max())
    measured = best > 0
    expected = best[measured].map({1: "blank", 2: "weak", 3: "covered"})
    pd.testing.assert_series_equal(any_rows.loc[expected.index, "status"], expected,
                                   check_names=False)


def test_demo_blank_zone_fixed_by_the_new_tower_is_resolved(demo):
    city, data = demo
    zone = generate_blank_zones(city).to_crs("EPSG:32647")
    fixed = zone.loc[zone["fixed_on"].notna(), "geometry"].iloc[0]
    others = shapely.union_all(zone.loc[zone["fixed_on"].isna(), "geometry"].to_numpy())

    changes = compare_dates(data, "2024-06-30", "2024-12-31")

    def inside(rows: pd.DataFrame, area: shapely.Geometry) -> np.ndarray:
        centres = gpd.GeoSeries(gpd.points_from_xy(*np.array(
            [centre_of(c)[::-1] for c in rows["h3"]]).T), crs="EPSG:4326").to_crs("EPSG:32647")
        return shapely.contains(area, centres.to_numpy())

    def resolved_share(area: shapely.Geometry) -> float:
        was_blank = changes[changes["change"].isin(["resolved", "still_blank"])]
        here = was_blank[inside(was_blank, area)]
        assert len(here) > 20
        return float((here["change"] == "resolved").mean())

    # cells with few readings flip by chance everywhere; the new tower's zone stands out
    assert resolved_share(fixed) > 0.4
    assert resolved_share(fixed) > 3 * resolved_share(others)


# --- blank spots split along kelurahan borders -------------------------------------------------

UTM47N = "EPSG:32647"
# two 1 km squares side by side near Dumai, in UTM metres (areas below are exact)
SQUARE_A, SQUARE_B = shapely.box(600_000, 180_000, 601_000, 181_000), \
    shapely.box(601_000, 180_000, 602_000, 181_000)


def two_squares() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kode": ["99.01.01.1001", "99.01.01.1002"]},
                            geometry=[SQUARE_A, SQUARE_B], crs=UTM47N)


def straddling_blank_spots() -> gpd.GeoDataFrame:
    """Blank spot 1 straddles the border (400 m x 500 m in A, 300 m x 500 m in B); blank spot 2
    lies 200 m x 200 m in B and 400 m x 200 m outside the city."""
    return gpd.GeoDataFrame({"id": [1, 2], "population": [70.0, 12.0]},
                            geometry=[shapely.box(600_600, 180_200, 601_300, 180_700),
                                      shapely.box(601_800, 180_800, 602_400, 181_000)],
                            crs=UTM47N)


def test_blank_spot_across_a_border_is_split_with_exact_areas():
    pieces = split_blank_spots(straddling_blank_spots().to_crs("EPSG:4326"), two_squares())

    assert list(pieces.columns) == list(SPLIT_BLANK_SPOT_COLUMNS)
    assert pieces.crs == "EPSG:4326"
    assert pieces["id"].tolist() == [1, 2, 3]
    assert pieces["blank_spot_id"].tolist() == [1, 1, 2]
    assert pieces["kelurahan_kode"].tolist() == ["99.01.01.1001", "99.01.01.1002",
                                                 "99.01.01.1002"]
    assert (pieces["kelurahan"] == pieces["kelurahan_kode"]).all()
    # the polygons went to degrees and back: the areas hold to a square centimetre
    assert pieces["area_km2"].tolist() == pytest.approx([0.2, 0.15, 0.04], abs=1e-8)
    # without a raster a blank spot's people are shared by area: 70 as 40 + 30, 12 as 4
    assert pieces["population"].tolist() == pytest.approx([40.0, 30.0, 4.0])
    metric = pieces.to_crs(UTM47N)
    for square, piece in zip([SQUARE_A, SQUARE_B, SQUARE_B], metric.geometry, strict=True):
        assert piece.difference(square).area < 1e-3
    assert pieces["samples"].isna().all()


def test_split_blank_spots_count_people_and_evidence_per_piece(tmp_path):
    kelurahan = two_squares()
    # 10 people in every 100 m cell: 1,000 per km2, cells aligned with every edge above
    raster = tmp_path / "people.tif"
    with rasterio.open(raster, "w", driver="GTiff", width=30, height=20, count=1,
                       dtype="float32", crs=UTM47N, nodata=np.nan,
                       transform=rasterio.Affine(100, 0, 599_500, 0, -100, 181_500)) as out:
        out.write(np.full((20, 30), 10.0, dtype=np.float32), 1)
    evidence = gpd.GeoDataFrame(
        {"no_service": [True, False, True, False, False],
         "measured_at": [100, 300, 200, 999, 50]},
        geometry=gpd.points_from_xy([600_700, 600_800, 601_100, 600_100, 601_900],
                                    [180_300, 180_400, 180_500, 180_100, 180_900]),
        crs=UTM47N)

    pieces = split_blank_spots(straddling_blank_spots(), kelurahan, evidence=evidence,
                               population_raster=raster)

    assert pieces["population"].tolist() == pytest.approx([200.0, 150.0, 40.0])
    assert pieces["samples"].tolist() == [2, 1, 1]
    assert pieces["no_service_samples"].tolist() == [1, 1, 0]
    assert pieces["last_measured"].tolist() == [300, 200, 50]
    totals = blank_spot_totals(pieces).set_index("kode")
    assert totals["blank_spots"].to_dict() == {"99.01.01.1001": 1, "99.01.01.1002": 2}
    assert totals["blank_spot_area_km2"].tolist() == pytest.approx([0.2, 0.19])
    assert totals["blank_spot_population"].tolist() == pytest.approx([200.0, 190.0])


def test_split_blank_spots_without_any_blank_spot():
    empty = gpd.GeoDataFrame({"id": [], "population": []}, geometry=[], crs=UTM47N)

    pieces = split_blank_spots(empty, two_squares())

    assert pieces.empty and list(pieces.columns) == list(SPLIT_BLANK_SPOT_COLUMNS)
    assert blank_spot_totals(pieces).empty


def test_split_of_a_real_surface_keeps_every_sample_and_the_area_inside_the_city():
    """No service on both sides of the border of kelurahan 1 and 2: the surface's blank spot
    is cut in two, the pieces tile the part of it inside the city, and every reading the
    whole blank spot rests on is counted in exactly one piece."""
    kelurahan = kelurahan_boxes()
    border = LON0 + SIDE
    measurements = pd.DataFrame({
        "latitude": LAT0 + SIDE / 2, "longitude": np.repeat([border - 0.0005, border + 0.0005], 5),
        "measured_at": epoch("2024-03-01 10:00") + 3600 * np.arange(10),
        "signal_dbm": np.nan, "no_service": True, "technology": "4G", "operator": "Telkomsel"})
    result = surface.interpolate_signal(measurements, kelurahan)
    whole = surface.blank_spot_polygons(result, measurements, kelurahan)

    pieces = split_blank_spots(whole, kelurahan,
                               evidence=surface.evidence_points(result, measurements))

    assert len(whole) == 1 and set(whole["kelurahan"].iloc[0].split(",")) == set(KODE[:2])
    assert sorted(pieces["kelurahan_kode"]) == KODE[:2]
    assert pieces["samples"].sum() == whole["samples"].iloc[0] == 10
    assert pieces["samples"].tolist() == [5, 5]
    metric = pieces.to_crs(result.crs)
    city = shapely.union_all(kelurahan.to_crs(result.crs).geometry.to_numpy())
    inside = whole.to_crs(result.crs).geometry.iloc[0].intersection(city).area
    assert metric.area.sum() == pytest.approx(inside, rel=1e-9)
    boxes = kelurahan.to_crs(result.crs).set_index("kode").geometry
    for kode, piece in zip(pieces["kelurahan_kode"], metric.geometry, strict=True):
        assert piece.difference(boxes[kode]).area < 1e-3


@pytest.mark.shared_data
def test_split_blank_spots_on_real_boundaries_counts_nothing_twice(shared_data):
    """Payakumbuh's real kelurahan overlap a little: a 1.5 km blank spot over the middle of the
    city is cut into pieces that never overlap, each inside its kelurahan, together exactly the
    blank spot's part inside the city, its people shared by area."""
    from geo.boundaries import read_boundaries
    from geo.projection import utm_crs_for

    kelurahan = read_boundaries(shared_data / "boundaries" / "payakumbuh_13.76_kelurahan.geojson",
                                city_code="13.76").kelurahan
    metric = kelurahan.to_crs(utm_crs_for(kelurahan))
    city = shapely.union_all(metric.geometry.to_numpy())
    spot = city.centroid.buffer(1500)
    blank = gpd.GeoDataFrame({"id": [1], "population": [1000.0]}, geometry=[spot],
                             crs=metric.crs)

    pieces = split_blank_spots(blank, kelurahan).to_crs(metric.crs)

    inside = spot.intersection(city).area
    assert pieces["kelurahan_kode"].is_unique and len(pieces) > 2
    assert pieces.area.sum() == pytest.approx(inside, rel=1e-9)
    assert shapely.union_all(pieces.geometry.to_numpy()).area == pytest.approx(inside, rel=1e-9)
    assert pieces["area_km2"].sum() == pytest.approx(inside / 1e6, rel=1e-9)
    assert pieces["population"].sum() == pytest.approx(1000.0 * inside / spot.area)
    boundaries = metric.set_index("kode").geometry
    for kode, piece in zip(pieces["kelurahan_kode"], pieces.geometry, strict=True):
        assert piece.difference(boundaries[kode]).area < 1e-3
