"""Analysis defaults, documented with their sources.

These are constants read at call time (``settings.H3_RESOLUTION``), so a city deployment or a test can
override them by assigning to the module attribute, or per call through keyword arguments.
Deployment configuration (database URL, upload limits, secret key) does not live here: it is Flask
configuration in ``webmap``.
"""
from __future__ import annotations

#: Time zone assumed for timestamps written without a zone (WIB, UTC+7: Sumatra, Java, West and
#: Central Kalimantan).  Use ``Asia/Makassar`` (WITA) or ``Asia/Jayapura`` (WIT) for cities there.
DEFAULT_TIMEZONE = "Asia/Jakarta"

#: H3 resolution of the cell id stored with every measurement.  Resolution 9 cells are about
#: 0.1 km2 (edge ~174 m), fine enough for a kelurahan and coarse enough to collect several samples.
H3_RESOLUTION = 9

#: Points that fall in a gap between kelurahan polygons (the sliver gaps of simplified boundary
#: files) are given to the nearest kelurahan if it is at most this far away, in metres.
SLIVER_TOLERANCE_M = 50.0

#: Physically plausible signal ranges in dBm per technology (3GPP reporting ranges; see
#: shared DOMAIN notes).  Values outside are app sentinels ("unknown"), not measurements.
#: 4G/5G: RSRP, 3G: RSCP, 2G: RSSI.
SIGNAL_RANGE_DBM: dict[str, tuple[float, float]] = {
    "5G": (-140.0, -44.0),
    "4G": (-140.0, -44.0),
    "3G": (-120.0, -25.0),
    "2G": (-113.0, -51.0),
}

#: Sentinel values apps write for "unknown" (G-NetTrack: -24 for 3G, -200, -340, ...).  They are
#: rejected with this explicit reason even where they would fall inside a plausible range.
SIGNAL_SENTINELS_DBM: dict[str, frozenset[float]] = {
    "5G": frozenset({-200.0, -340.0, 0.0}),
    "4G": frozenset({-200.0, -340.0, 0.0}),
    "3G": frozenset({-24.0, -200.0, -340.0, 0.0}),
    "2G": frozenset({-200.0, -340.0, 0.0}),
}

#: A timestamp more than this many seconds after "now" is rejected as being in the future
#: (a small allowance for phone clocks that run ahead).
FUTURE_TOLERANCE_S = 300

#: Largest measurement file accepted, in bytes (the web layer may set a smaller limit).
MAX_UPLOAD_BYTES = 512 * 1024 * 1024

#: A file is rejected as "latitude and longitude swapped" when fewer than this share of its rows
#: fall inside the city but at least this share would fall inside with the two columns exchanged.
SWAPPED_COORDINATE_SHARE = 0.5

#: Rows per database chunk during ingest (progress is reported per chunk; the whole file is still
#: one transaction).
INGEST_CHUNK_ROWS = 100_000


# --- coverage analysis: signal classes, cell status, evidence rules (issue #3) ------------------
# Read at call time by ``geo.coverage`` and ``geo.population``; a city overrides the signal
# classes and status shares per deployment with :func:`thresholds_from_config`.

from collections.abc import Mapping  # noqa: E402  (kept with the section that uses it)
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

#: Names of the signal classes, best first; an observation with no service is "no_coverage".
SIGNAL_CLASS_NAMES: tuple[str, ...] = ("very_good", "good", "fair", "weak", "no_coverage")

#: Lower bounds (dBm, inclusive) of the classes very good, good, fair and weak per technology;
#: below the last bound there is no usable coverage.  4G/5G: RSRP (5G NR SS-RSRP uses the same
#: classes), 3G: RSCP, 2G: RSSI.  Source: the common industry drive-test classes quoted in the
#: shared DOMAIN notes (the same bands as operator and app "signal bars" guidance), within the
#: measurement reporting ranges of 3GPP TS 36.133 (RSRP -140..-44 dBm) and TS 25.133 (RSCP
#: -120..-25 dBm).  Example: RSRP -95 dBm is "fair", -120 dBm "weak", -121 dBm "no_coverage".
SIGNAL_CLASSES_DBM: dict[str, tuple[float, float, float, float]] = {
    "5G": (-80.0, -90.0, -100.0, -120.0),
    "4G": (-80.0, -90.0, -100.0, -120.0),
    "3G": (-75.0, -85.0, -95.0, -110.0),
    "2G": (-70.0, -85.0, -100.0, -110.0),
}

#: A cell (per operator) with fewer usable observations than this is "unmeasured": no claim is
#: made about it (the FCC map and the German dead-spot map likewise require several tests and
#: warn that an empty hexagon may just be unmeasured).
MIN_SAMPLES_PER_CELL = 3

#: A measured cell is "blank" when at least this share of its evidence is "no coverage": no
#: service, or a signal below the technology's weak bound.
BLANK_SHARE = 0.5

#: A measured cell that is not blank is "weak" when at least this share of its evidence is in the
#: weak class or worse (weak, no coverage, no service); otherwise it is "covered".  With 0.5 this
#: reads "the median observation, counting no service as the worst, is weak or worse".  Each
#: observation is classed with its own technology's bounds, so a cell measured on 2G and 4G is
#: judged consistently (a median of dBm values over mixed technologies would not be).
WEAK_SHARE = 0.5

#: Evidence window in days: the status of a cell (per operator) as of a date rests on its
#: observations made in this many days up to its latest observation on or before that date,
#: extended further back only as far as needed to reach ``MIN_SAMPLES_PER_CELL`` observations.
#: A cell measured blank in March and covered (3 or more readings) in September is blank as of
#: April and covered as of October; one stray reading never overturns older, better supported
#: evidence.
EVIDENCE_WINDOW_DAYS = 90

#: Observations whose position is less accurate than this (metres) are not used as evidence, as in
#: the German dead-spot map (Breitbandmessung Funkloch-App).  A missing accuracy is kept.
MAX_ACCURACY_M = 50.0

#: A kelurahan is "bebas blank spot" only when it has no blank cell and at least this share of its
#: area lies in measured cells.  0.8: a claim reported to the Smart City council should rest on
#: most of the kelurahan, while allowing for swamp, forest and water nobody can measure; a city
#: with large uninhabited kelurahan may lower it.
MIN_MEASURED_SHARE_FOR_QUICK_WIN = 0.8

#: Each raster cell is split into this many x this many sub-cells when summing population over
#: polygons, so that a raster cell cut by a polygon boundary is shared by area (error below about
#: 1/SUPERSAMPLE of a boundary cell's population).
POPULATION_SUPERSAMPLE = 10


@dataclass(frozen=True)
class SignalThresholds:
    """Signal classes and the shares that turn them into a cell status, for one city.

    Build it with :meth:`from_settings` (the module defaults, read when called) or
    :func:`thresholds_from_config` (a city's overrides on top of them).

    Attributes
    ----------
    classes_dbm
        Per technology, the lower bounds in dBm of very good, good, fair and weak (descending).
    blank_share
        Share of no-coverage evidence from which a cell is blank (see ``BLANK_SHARE``).
    weak_share
        Share of weak-or-worse evidence from which a cell is weak (see ``WEAK_SHARE``).
    """

    classes_dbm: Mapping[str, tuple[float, float, float, float]]
    blank_share: float
    weak_share: float

    @classmethod
    def from_settings(cls) -> SignalThresholds:
        """Thresholds from the module constants as they are now."""
        return cls(classes_dbm=dict(SIGNAL_CLASSES_DBM), blank_share=float(BLANK_SHARE),
                   weak_share=float(WEAK_SHARE))


def thresholds_from_config(config: Mapping[str, Any] | None) -> SignalThresholds:
    """Return the defaults with a city's overrides applied.

    Parameters
    ----------
    config
        For example ``{"signal_classes_dbm": {"4G": [-85, -95, -105, -115]}, "blank_share":
        0.6}``.  Keys are case-insensitive (``SIGNAL_CLASSES_DBM`` works too); technologies not
        named keep their defaults.  ``None`` or ``{}`` gives the defaults.

    Returns
    -------
    SignalThresholds
        The thresholds to pass to ``geo.coverage`` functions.

    Raises
    ------
    ValueError
        Listing every problem at once: unknown keys or technologies, bounds that are not four
        numbers in descending order, shares outside (0, 1].
    """
    defaults = SignalThresholds.from_settings()
    config = {str(key).lower(): value for key, value in (config or {}).items()}
    problems = [f"unknown key {key!r} (use signal_classes_dbm, blank_share, weak_share)"
                for key in config if key not in {"signal_classes_dbm", "blank_share", "weak_share"}]
    classes = dict(defaults.classes_dbm)
    overrides = config.get("signal_classes_dbm") or {}
    if not isinstance(overrides, Mapping):
        problems.append(f"signal_classes_dbm must map technology to 4 bounds, not {overrides!r}")
        overrides = {}
    for technology, bounds in overrides.items():
        checked = _checked_bounds(str(technology).upper(), bounds, problems)
        if checked is not None:
            classes[str(technology).upper()] = checked
    shares = {name: _checked_share(name, config.get(name, getattr(defaults, name)), problems)
              for name in ("blank_share", "weak_share")}
    if problems:
        raise ValueError("invalid signal thresholds: " + "; ".join(problems))
    return SignalThresholds(classes_dbm=classes, **shares)


def _checked_bounds(technology: str, bounds: Any, problems: list[str]
                    ) -> tuple[float, float, float, float] | None:
    if technology not in SIGNAL_CLASSES_DBM:
        problems.append(f"unknown technology {technology!r} (use {', '.join(SIGNAL_CLASSES_DBM)})")
        return None
    try:
        values = tuple(float(value) for value in bounds)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or any(a <= b for a, b in zip(values, values[1:], strict=False)):
        problems.append(f"{technology}: bounds {bounds!r} must be 4 numbers in dBm, descending "
                        "(very good, good, fair, weak)")
        return None
    return values  # type: ignore[return-value]


def _checked_share(name: str, value: Any, problems: list[str]) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0.0 < share <= 1.0:
        problems.append(f"{name} {value!r} must be a share in (0, 1]")
    return share


# --- coverage surface and blank-spot polygons (issue #3) -----------------------------------------

#: Blank-spot polygons smaller than this (m2) are not reported: two 100 m surface cells.  Single
#: isolated cells appear where interpolated signal hovers around the no-coverage bound at the
#: city's weak edges; the cell statistics still show them as blank or weak cells.
BLANK_SPOT_MIN_AREA_M2 = 20_000.0


# --- towers for blank spots (issue #15; read at call time by ``geo.tower_siting``) --------------

#: Service radius of a new tower in metres per technology: a blank cell whose centre lies within it
#: counts as resolved.  Planning figures for a macro site in flat, low-rise terrain like Dumai's
#: coast, not regulation: Okumura-Hata / COST-231 link budgets for a 30-40 m mast give a suburban
#: cell range of roughly 5 km on GSM 900, 2-3 km on UMTS 2100 and LTE 1800, and about 1 km on
#: 5G NR mid-band (n40 2300 MHz, the band Indonesian operators use).  4G uses 3 km: the middle of
#: the LTE 1800 range, and what BAKTI's 4G BTS programme builds.  A city with hills or dense
#: high-rise should lower them (``--radius-m`` overrides per run).
TOWER_RADIUS_M: dict[str, float] = {"2G": 5000.0, "3G": 2500.0, "4G": 3000.0, "5G": 1000.0}

#: Technology whose radius applies when a run names none (BAKTI's programme builds 4G BTS).
TOWER_DEFAULT_TECHNOLOGY = "4G"

#: Side of the square plot a new tower needs, in metres: BAKTI asks the local government for a
#: donated 20 x 20 m plot per 4G BTS (programme requirement quoted in the shared DOMAIN notes).
TOWER_PLOT_SIDE_M = 20.0

#: Spacing of the generated candidate grid in metres.  City policy, not regulation: a third of the
#: 4G radius keeps every point of the city within 707 m (half the diagonal) of a candidate, so the
#: grid optimum is close to that of free placement while a 2,000 km2 city still has only ~2,000
#: candidates.
TOWER_GRID_SPACING_M = 1000.0

#: Facility types (``geo.facilities.FACILITY_TYPES``) whose grounds can host a mast: the kelurahan
#: office and schools are public land a city can donate (BAKTI's plot requirement).
TOWER_HOST_FACILITY_TYPES: tuple[str, ...] = ("kantor_lurah", "sekolah")

#: Constraint-layer kinds a tower plot must keep clear of, with the clearance in metres between the
#: 20 x 20 m plot and the feature (0: the plot must not touch it).
#:
#: * ``badan_air`` 0 and ``kawasan_lindung`` 0: no building in water or in protected areas
#:   (UU 26/2007 spatial planning; protected-area rules of PP 28/2011).
#: * ``sungai`` 10: the narrowest river border (garis sempadan) for an unembanked urban river
#:   up to 3 m deep, Permen PUPR 28/2015 art. 6 (15 m and 30 m for deeper rivers: raise it where
#:   the river layer holds only large rivers).
#: * ``bandara`` 4000: the radius of the inner horizontal surface of ICAO Annex 14 (45 m above
#:   the aerodrome), which Indonesia's KKOP (aerodrome obstacle limitation area) rules adopt; a
#:   30-40 m mast inside it needs an aviation permit, so the default keeps out.  City policy: a
#:   permit can be sought, so a city may lower it.
TOWER_EXCLUSION_BUFFERS_M: dict[str, float] = {
    "badan_air": 0.0, "kawasan_lindung": 0.0, "sungai": 10.0, "bandara": 4000.0,
}
